//! A local webhook receiver for tests: records each request's headers and body and answers
//! with the statuses it was given, in turn (200 once they run out), optionally with a
//! `Retry-After`.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

/// One received request.
#[derive(Clone, Debug)]
pub struct ReceivedHook {
    /// Its path.
    pub path: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: String,
    /// When it arrived.
    pub arrived_at: Instant,
}

/// The running receiver.
pub struct WebhookSink {
    /// Where it listens: `http://127.0.0.1:<port>/hook` (any path is received).
    pub url: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
    received: Arc<Mutex<Vec<ReceivedHook>>>,
    arrival: Arc<Notify>,
}

impl WebhookSink {
    /// Starts a receiver answering `statuses` in turn; `retry_after` (seconds) goes with every
    /// non-2xx answer.
    pub async fn start(statuses: Vec<u16>, retry_after: Option<u64>) -> Self {
        let received: Arc<Mutex<Vec<ReceivedHook>>> = Arc::default();
        let arrival = Arc::new(Notify::new());
        let answers = Arc::new(Mutex::new(statuses));
        let (log, arrived) = (received.clone(), arrival.clone());
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
            let (log, answers, arrived) = (log.clone(), answers.clone(), arrived.clone());
            async move {
                log.lock().expect("never poisoned").push(ReceivedHook {
                    path: uri.path().to_string(),
                    headers,
                    body,
                    arrived_at: Instant::now(),
                });
                arrived.notify_waiters();
                let status = {
                    let mut answers = answers.lock().expect("never poisoned");
                    if answers.is_empty() { 200 } else { answers.remove(0) }
                };
                let status = StatusCode::from_u16(status).expect("a valid status");
                let mut response = status.into_response();
                if let (false, Some(seconds)) = (status.is_success(), retry_after) {
                    response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
                }
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("a bound address").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url: format!("http://127.0.0.1:{port}/hook"), port, received, arrival }
    }

    /// Waits until at least `count` requests have arrived.
    pub async fn wait_for(&self, count: usize) {
        loop {
            let arrival = self.arrival.notified();
            if self.received.lock().expect("never poisoned").len() >= count {
                return;
            }
            arrival.await;
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<ReceivedHook> {
        self.received.lock().expect("never poisoned").clone()
    }
}
