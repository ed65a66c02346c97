//! A local stand-in for a provider's HTTP API: records every request (method, path, query,
//! headers, body) and answers the scripted responses in turn — status, headers and body, so a
//! test can answer with the provider's documented success and error bodies — then a default
//! answer once the script runs out.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, Mutex};

/// One answer of the fake.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// Extra headers (`retry-after`).
    pub headers: Vec<(String, String)>,
    /// The body, sent as `application/json` when it parses as JSON.
    pub body: String,
}

impl Answer {
    /// An answer with a JSON body.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self { status, headers: Vec::new(), body: body.to_string() }
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// One received request.
#[derive(Clone, Debug)]
pub struct Request {
    /// Its method.
    pub method: Method,
    /// Its path.
    pub path: String,
    /// Its query string, if any.
    pub query: Option<String>,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: String,
}

impl Request {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

struct Script {
    answers: Vec<Answer>,
    default: Answer,
}

/// The running fake.
pub struct FakeApi {
    /// Its base URL: `http://127.0.0.1:<port>` (any path is answered).
    pub url: String,
    received: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<Script>>,
}

impl FakeApi {
    /// Starts a fake answering `default` to every request beyond the scripted ones.
    pub async fn start(default: Answer) -> Self {
        let received: Arc<Mutex<Vec<Request>>> = Arc::default();
        let script = Arc::new(Mutex::new(Script { answers: Vec::new(), default }));
        let (log, answers) = (received.clone(), script.clone());
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: String| {
            let (log, answers) = (log.clone(), answers.clone());
            async move {
                let path = uri.path().to_string();
                let query = uri.query().map(str::to_string);
                log.lock().expect("never poisoned").push(Request { method, path, query, headers, body });
                let answer = {
                    let mut script = answers.lock().expect("never poisoned");
                    if script.answers.is_empty() { script.default.clone() } else { script.answers.remove(0) }
                };
                respond(answer)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("a bound address").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url: format!("http://127.0.0.1:{port}"), received, script }
    }

    /// Queues answers for the next requests, before the default one.
    pub fn then(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().expect("never poisoned").answers.extend(answers);
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Request> {
        self.received.lock().expect("never poisoned").clone()
    }
}

fn respond(answer: Answer) -> Response {
    let mut response = (StatusCode::from_u16(answer.status).expect("a valid status"), answer.body.clone()).into_response();
    let headers = response.headers_mut();
    if serde_json::from_str::<serde_json::Value>(&answer.body).is_ok() {
        headers.insert("content-type", HeaderValue::from_static("application/json"));
    }
    for (name, value) in &answer.headers {
        headers
            .insert(HeaderName::try_from(name.as_str()).expect("a header name"), HeaderValue::try_from(value.as_str()).expect("a value"));
    }
    response
}
