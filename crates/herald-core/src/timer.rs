//! Timer-service timers (the seeds' timer service): a payload delivered at `startDate` plus
//! `expirationIntervalMs`, by an HTTP call or an AMQP message.

use crate::Invalid;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A `POST /schedule` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimerRequest {
    /// What is delivered when the timer expires (the HTTP body, or the message).
    pub payload: Map<String, Value>,
    /// From when the interval counts.
    #[serde(with = "crate::document::timestamp_format")]
    pub start_date: Timestamp,
    /// Milliseconds after `startDate` at which the timer expires.
    pub expiration_interval_ms: u64,
    /// Who set the timer.
    pub applicant_service: String,
    /// How the payload is delivered.
    pub output_mode: OutputMode,
}

/// How an expired timer delivers its payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum OutputMode {
    /// An HTTP call to an allowed host.
    Rest {
        /// `post`, `put` or `patch`.
        method: RestMethod,
        /// `http` or `https`.
        protocol: Protocol,
        /// The host to call.
        hostname: String,
        /// The port, when not the protocol's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// The path to call, from `/`.
        path: String,
        /// Extra headers.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
    },
    /// A message on an AMQP exchange (Herald's broker).
    Amqp {
        /// The exchange.
        exchange: String,
        /// The routing key.
        #[serde(rename = "routingKey")]
        routing_key: String,
        /// Message headers.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
    },
}

/// An HTTP method a timer may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestMethod {
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
}

/// A protocol a timer may call with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Plain HTTP.
    Http,
    /// HTTPS.
    Https,
}

impl TimerRequest {
    /// Reads and checks a `POST /schedule` body.
    pub fn parse(body: Value) -> Result<Self, Invalid> {
        let request: TimerRequest = Invalid::deserialize(body)?;
        if request.applicant_service.trim().is_empty() {
            return Err(Invalid::new("applicantService", "must not be empty"));
        }
        let crlf = |s: &str| s.contains(['\r', '\n']);
        match &request.output_mode {
            OutputMode::Rest { hostname, path, headers, .. } => {
                if hostname.is_empty() || hostname.contains(['/', '@', ' ', ':']) {
                    return Err(Invalid::new("outputMode.hostname", "must be a host name"));
                }
                if !path.starts_with('/') || crlf(path) {
                    return Err(Invalid::new("outputMode.path", "must start with /"));
                }
                if headers.iter().any(|(k, v)| crlf(k) || crlf(v) || k.is_empty()) {
                    return Err(Invalid::new("outputMode.headers", "must be single-line names and values"));
                }
            }
            OutputMode::Amqp { exchange, routing_key, .. } => {
                if exchange.is_empty() || routing_key.is_empty() {
                    return Err(Invalid::new("outputMode.exchange", "exchange and routingKey must not be empty"));
                }
            }
        }
        Ok(request)
    }

    /// When the timer expires.
    pub fn expiration_date(&self) -> Result<Timestamp, Invalid> {
        let interval = i64::try_from(self.expiration_interval_ms).map_err(|_| Invalid::new("expirationIntervalMs", "is too large"))?;
        self.start_date
            .checked_add(jiff::SignedDuration::from_millis(interval))
            .map_err(|_| Invalid::new("expirationIntervalMs", "is too large"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Value {
        json!({"payload": {"orderId": "o-1"}, "startDate": "2020-04-06T08:57:04.650Z", "expirationIntervalMs": 600000, "applicantService": "orders",
            "outputMode": {"type": "rest", "method": "post", "protocol": "https", "hostname": "user-orders", "port": 3000, "path": "/order-expired"}})
    }

    #[test]
    fn reads_the_seed_example() {
        let request = TimerRequest::parse(body()).unwrap();
        assert_eq!(request.expiration_date().unwrap().to_string(), "2020-04-06T09:07:04.65Z");
    }

    #[test]
    fn names_what_is_wrong() {
        let with = |pointer: &str, value: Value| {
            let mut b = body();
            *b.pointer_mut(pointer).unwrap() = value;
            b
        };
        let cases = [
            (with("/startDate", json!("yesterday")), "startDate"),
            (with("/expirationIntervalMs", json!(-5)), "expirationIntervalMs"),
            (with("/outputMode/type", json!("kafka")), "outputMode.type"),
            (with("/outputMode/method", json!("delete")), "outputMode"),
            (with("/outputMode/hostname", json!("evil.com/x")), "outputMode.hostname"),
            (with("/outputMode/path", json!("no-slash")), "outputMode.path"),
            (with("/applicantService", json!("")), "applicantService"),
        ];
        for (body, field) in cases {
            assert_eq!(TimerRequest::parse(body.clone()).unwrap_err().field, field, "{body}");
        }
    }
}
