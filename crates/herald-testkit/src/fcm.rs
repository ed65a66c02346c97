//! A local fake of Firebase Cloud Messaging's HTTP v1 API for tests: its OAuth token endpoint
//! (`POST /token`, a service account's signed assertion exchanged for an access token) and its
//! send endpoint (`POST /v1/projects/{project}/messages:send`). It records every request, refuses
//! access tokens it did not issue (or that were revoked) with FCM's 401 body, and answers each
//! device token with the answers queued for it, in turn — `200 {"name": …}` once they run out.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The private key of the test service account (PKCS#8 PEM): made for these tests only, it
/// signs nothing anywhere else.
pub const SERVICE_ACCOUNT_KEY: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCEpPYt8KwFOnko
tGIj6N0VGYpzwxJSbJzdbe/TtgOukQeVfoZsDEeTBVlGboAh3lYEHO8Frw9Ukvx0
KXg1dSBneqD5W5Yzd2JRek/sk5/2z4CJrQVECFtQ7oSGDlhunVKI82pkRX1yP56y
bm5bQbLjH3BSWAw61vy2IRAYgjNY7xRpwtHfpF8MndJEZcpYIAGQsizGgKBrQfRC
ceS8cCy7DBb47N+V0Ep50q7PAs2EomyeVrYQIYEHILLdPJ83vcg7Gcb6uZl++wnE
wRu6BEFFofsfvyjvALvbvmNg/IsqtbDPReH2h4Rw79i9vOFFEe5K1e2+805WwWhx
b93svCgRAgMBAAECgf9Kl4Z/e/UNVT456Om6zk84d/Rz+CI4vi6e47cXLcDd5vdT
PXBtfzpNlmRt4K+nKPDi8m83zKPb9T+8OaKjIHEbv/1mPMRqjM6tVkSiNYiif6E4
/iN7Id5R1M/E00X61MQYX7C+UpWik3eBWYViePLjTK3nBu/AGixizC6dzOb//omr
DPqohc6EOSoe7C9HHfePIHV/TA2JaWhMAOFcfQ2f4XdXU/8q1xDacTEF8SUI2kVc
SMtPbIaLEEZAVioBoKCGs7pe3JTgr+RnJKgxeJZ5he6XtWOuvBV4XdbAoLGcBcr4
Q8wuKDvB2jrGmf4mPSLEUg2iP96ggvFdVR3dsCECgYEAuFTFFwsR7RpmnUvxog+e
hFgsp+9Hc4j8d6XJo6BMqXVoLLMYVkse5+pPDRNP0MFOnd+T1iTcTfPHA9lu3jFW
RLFqi1MvtjBQoC6BN+H19faP0ONuIv0AAJFTOuaXKb7jrSgvNR7EKzNw/12V7zI+
GjlDgKRXMrSc1wR7Vkh/LrECgYEAuDeZMoMgGYrYtHVrlwAPx6NcQPr0iPVzTx46
LWPEtO2wvCe+X9KHiY9u7K5TODKsHBNI8hxzb9EE3+mIa3AAoKwbviMZrVtNcRh3
CtVzIcW0X4Kj9zlVi/VlS8luen61DAvP795x/eyWomCyamRkfg7wFNngf1h340oZ
4k/2p2ECgYEAhNWx4lU76d3orNoZm2weE8lnBO5OU1gYeDClCqFuHYBaPjwiAa3I
69/Sb93G2u0zNln0M5IEoLhYZtG+L6jmPkKMQTMFYwmWUJiyzg6sLUAti58Zs2UX
J1GS5RNfQ9ooQJSA0IsHWwqLF7vdXK6cSlGR75Z+sC+wBtNX/mnoHUECgYEAj2uB
0wixYhFuO7i7Jdl/b48okNKQtVxbBLrk0le9Wps/II3UsmeG7DsGQjBKTBNvWYBO
J2itGt3hbK41bmfJpU25X6OWJxhRR36jl4Ss2RtCHaXpH928U3WfAoz1fVrOe21q
2zYVC3s5n3unDBvS/S2GDsW9+YcX95XGZyKYRqECgYAZv4K8iEi7aouZ504Nvade
lzOgViILzFe49C6yiG2Pe2cXTmSfxZTrtV3vcX+xYPweC68FV8o+3MFB0yNM8vXo
9yT5bxI+45Jvv0v4kLv6marRz0B1O6NJfqT5BeCPFd6HrnzXmaaYx5jg7wIDb/80
ebggPrBpVLYQ875YoBibBQ==
-----END PRIVATE KEY-----
";

/// The public half of [`SERVICE_ACCOUNT_KEY`], to verify the assertions Herald signs.
pub const SERVICE_ACCOUNT_PUBLIC_KEY: &str = r"-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAhKT2LfCsBTp5KLRiI+jd
FRmKc8MSUmyc3W3v07YDrpEHlX6GbAxHkwVZRm6AId5WBBzvBa8PVJL8dCl4NXUg
Z3qg+VuWM3diUXpP7JOf9s+Aia0FRAhbUO6Ehg5Ybp1SiPNqZEV9cj+esm5uW0Gy
4x9wUlgMOtb8tiEQGIIzWO8UacLR36RfDJ3SRGXKWCABkLIsxoCga0H0QnHkvHAs
uwwW+OzfldBKedKuzwLNhKJsnla2ECGBByCy3TyfN73IOxnG+rmZfvsJxMEbugRB
RaH7H78o7wC7275jYPyLKrWwz0Xh9oeEcO/YvbzhRRHuStXtvvNOVsFocW/d7Lwo
EQIDAQAB
-----END PUBLIC KEY-----
";

/// The test service account's email.
pub const CLIENT_EMAIL: &str = "herald-test@herald-test.iam.gserviceaccount.com";

/// FCM's answer for a token that is no longer registered.
pub fn unregistered() -> (u16, Value) {
    (
        404,
        json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}}),
    )
}

/// FCM's answer for a string that is not a registration token.
pub fn invalid_token() -> (u16, Value) {
    (
        400,
        json!({"error": {"code": 400, "message": "The registration token is not a valid FCM registration token", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"}]}}),
    )
}

/// FCM's answer when the project's quota is used up.
pub fn quota_exceeded() -> (u16, Value) {
    (
        429,
        json!({"error": {"code": 429, "message": "Quota exceeded for quota metric 'Send requests'", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "QUOTA_EXCEEDED"}]}}),
    )
}

/// One token exchange received.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Its `content-type`.
    pub content_type: String,
    /// Its form fields.
    pub form: HashMap<String, String>,
}

/// One send request received.
#[derive(Clone, Debug)]
pub struct Send {
    /// Its path.
    pub path: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its JSON body.
    pub body: Value,
}

struct Queued {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
}

#[derive(Default)]
struct State {
    exchanges: Vec<Exchange>,
    sends: Vec<Send>,
    valid: Vec<String>,
    issued: usize,
    answers: HashMap<String, VecDeque<Queued>>,
}

/// The running fake.
pub struct FcmFake {
    /// Its base URL (`http://127.0.0.1:<port>`), Herald's `send_url`.
    pub url: String,
    /// Its token endpoint, the service account's `token_uri`.
    pub token_url: String,
    state: Arc<Mutex<State>>,
}

impl FcmFake {
    /// Starts the fake; access tokens it issues are valid for an hour.
    pub async fn start() -> Self {
        let state: Arc<Mutex<State>> = Arc::default();
        let (exchange_state, send_state) = (state.clone(), state.clone());
        let app = axum::Router::new()
            .route(
                "/token",
                axum::routing::post(move |headers: HeaderMap, body: String| {
                    let state = exchange_state.clone();
                    async move { exchange(&state, &headers, &body) }
                }),
            )
            .fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
                let state = send_state.clone();
                async move { send(&state, uri.path(), headers, &body) }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("a bound address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { token_url: format!("{url}/token"), url, state }
    }

    /// A service account JSON file's content for `project`, whose `token_uri` is this fake.
    pub fn service_account(&self, project: &str) -> String {
        json!({
            "type": "service_account",
            "project_id": project,
            "private_key_id": "test-key-1",
            "private_key": SERVICE_ACCOUNT_KEY,
            "client_email": CLIENT_EMAIL,
            "token_uri": self.token_url,
        })
        .to_string()
    }

    /// Queues an answer for the next send to `token`; `retry_after` (seconds) goes with it.
    pub fn answer(&self, token: &str, (status, body): (u16, Value), retry_after: Option<u64>) {
        let mut state = self.state.lock().expect("never poisoned");
        state.answers.entry(token.to_string()).or_default().push_back(Queued { status, body, retry_after });
    }

    /// Every access token issued so far stops working, as when Google revokes them.
    pub fn revoke_access_tokens(&self) {
        self.state.lock().expect("never poisoned").valid.clear();
    }

    /// The token exchanges received so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state.lock().expect("never poisoned").exchanges.clone()
    }

    /// The send requests received so far.
    pub fn sends(&self) -> Vec<Send> {
        self.state.lock().expect("never poisoned").sends.clone()
    }
}

fn exchange(state: &Mutex<State>, headers: &HeaderMap, body: &str) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_str(body).unwrap_or_default();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut state = state.lock().expect("never poisoned");
    state.exchanges.push(Exchange { content_type, form: form.clone() });
    if form.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") || !form.contains_key("assertion")
    {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant", "error_description": "Invalid grant"})))
            .into_response();
    }
    state.issued += 1;
    let token = format!("ya29.test-access-token-{}", state.issued);
    state.valid.push(token.clone());
    axum::Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})).into_response()
}

fn send(state: &Mutex<State>, path: &str, headers: HeaderMap, body: &str) -> Response {
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let mut state = state.lock().expect("never poisoned");
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::to_string);
    state.sends.push(Send { path: path.to_string(), headers, body: body.clone() });
    if !bearer.is_some_and(|token| state.valid.contains(&token)) {
        let unauthenticated = json!({"error": {"code": 401, "status": "UNAUTHENTICATED",
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."}});
        return (StatusCode::UNAUTHORIZED, axum::Json(unauthenticated)).into_response();
    }
    let token = body["message"]["token"].as_str().unwrap_or_default().to_string();
    let queued = state.answers.get_mut(&token).and_then(VecDeque::pop_front);
    let sent = state.sends.len();
    let project = path.strip_prefix("/v1/projects/").and_then(|rest| rest.split('/').next()).unwrap_or("unknown").to_string();
    let Queued { status, body, retry_after } =
        queued.unwrap_or(Queued { status: 200, body: json!({"name": format!("projects/{project}/messages/0:{sent}")}), retry_after: None });
    let mut response = (StatusCode::from_u16(status).expect("a valid status"), axum::Json(body)).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
    }
    response
}
