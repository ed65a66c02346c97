//! How an HTTP answer is read, the same for every HTTP provider and for the timer service's
//! `rest` output: 2xx is accepted; 408, 425, 429 and 5xx are worth retrying, with the
//! `Retry-After` seconds when given; any other status fails for good. The answer's body is
//! kept, truncated, for the attempt's record.

use crate::{Receipt, SendError, truncate};
use std::time::Duration;

/// Reads `response` as a provider's answer; `what` names the other side in the reason
/// (`the webhook answered 503`).
pub async fn answer(response: reqwest::Response, what: &str) -> Result<Receipt, SendError> {
    let status = response.status().as_u16();
    let retry_after =
        response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    let text = truncate(&response.text().await.unwrap_or_default());
    let body = (!text.is_empty()).then_some(text);
    if (200..300).contains(&status) {
        return Ok(Receipt { provider_message_id: None, response_code: Some(status), response: body });
    }
    Err(SendError {
        transient: matches!(status, 408 | 425 | 429) || status >= 500,
        retry_after: retry_after.map(Duration::from_secs),
        response_code: Some(status),
        response: body,
        reason: format!("{what} answered {status}"),
    })
}

/// The failure of a request that got no answer.
pub fn unanswered(error: &reqwest::Error, what: &str) -> SendError {
    SendError::transient(if error.is_timeout() { format!("{what} did not answer in time") } else { format!("{what} could not be reached") })
}
