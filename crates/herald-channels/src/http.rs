//! How an HTTP answer is read, the same for every HTTP provider and for the timer service's
//! `rest` output: 2xx is accepted; 408, 425, 429 and 5xx are worth retrying, with the
//! `Retry-After` seconds when given; any other status fails for good. The answer's body is
//! kept, truncated, for the attempt's record.

use crate::{Receipt, SendError, truncate};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// Reads `response` as a provider's answer; `what` names the other side in the reason
/// (`the webhook answered 503`).
pub async fn answer(response: reqwest::Response, what: &str) -> Result<Receipt, SendError> {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let text = response.text().await.unwrap_or_default();
    outcome(status, retry_after, &text, what)
}

/// The answer of a provider that looked into it first (push services name invalid tokens in
/// their bodies): status, `Retry-After` and body read as [`answer`] reads them.
pub fn outcome(status: u16, retry_after: Option<Duration>, text: &str, what: &str) -> Result<Receipt, SendError> {
    let text = truncate(text);
    let body = (!text.is_empty()).then_some(text);
    if (200..300).contains(&status) {
        return Ok(Receipt { response_code: Some(status), response: body, ..Receipt::default() });
    }
    Err(SendError {
        transient: matches!(status, 408 | 425 | 429) || status >= 500,
        retry_after,
        response_code: Some(status),
        response: body,
        reason: format!("{what} answered {status}"),
        ..SendError::default()
    })
}

/// The `Retry-After` of an answer, in seconds.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs)
}

/// The failure of a request that got no answer.
pub fn unanswered(error: &reqwest::Error, what: &str) -> SendError {
    SendError::transient(if error.is_timeout() { format!("{what} did not answer in time") } else { format!("{what} could not be reached") })
}
