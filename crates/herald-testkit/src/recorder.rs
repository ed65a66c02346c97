//! A local HTTP service for tests of providers whose service is simple to fake (APNs, Web Push
//! push services): it records each request whole — method, HTTP version, path, headers and
//! body bytes — and answers with the answers queued, in turn, then with its default answer. It
//! speaks HTTP/1.1 and, with prior knowledge, HTTP/2 (h2c) on the same port.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One request received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Its method.
    pub method: Method,
    /// Its HTTP version.
    pub version: Version,
    /// Its path.
    pub path: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// One answer to give.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// Headers to send.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// An answer with `status`, `headers` and `body`.
    pub fn new(status: u16, headers: &[(&'static str, &str)], body: impl Into<String>) -> Self {
        Self { status, headers: headers.iter().map(|(name, value)| (*name, value.to_string())).collect(), body: body.into() }
    }
}

#[derive(Default)]
struct State {
    received: Vec<Recorded>,
    queued: VecDeque<Answer>,
}

/// The running service.
pub struct Recorder {
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Recorder {
    /// Starts a service that answers `default` whenever nothing is queued.
    pub async fn start(default: Answer) -> Self {
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |method: Method, version: Version, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = shared.clone();
            async move {
                let mut state = state.lock().expect("never poisoned");
                state.received.push(Recorded { method, version, path: uri.path().to_string(), headers, body });
                let answer = state.queued.pop_front().unwrap_or_else(|| default.clone());
                respond(answer)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("a bound address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    /// Queues an answer for the next request.
    pub fn answer(&self, answer: Answer) {
        self.state.lock().expect("never poisoned").queued.push_back(answer);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Recorded> {
        self.state.lock().expect("never poisoned").received.clone()
    }
}

fn respond(answer: Answer) -> Response {
    let mut response = (StatusCode::from_u16(answer.status).expect("a valid status"), answer.body).into_response();
    for (name, value) in answer.headers {
        response.headers_mut().insert(HeaderName::from_static(name), HeaderValue::from_str(&value).expect("a valid header value"));
    }
    response
}
