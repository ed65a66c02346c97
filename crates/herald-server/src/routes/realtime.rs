//! Real-time delivery of the notification center (seed 04), over WebSocket and SSE.
//!
//! - **WebSocket**: `GET /patient-notifications/ws/{patient_id}`. The user token comes in
//!   `Authorization: Bearer …` or, for browsers (which cannot set headers on a WebSocket), in
//!   the `token` query parameter (request logs record the route, never the query). A user may
//!   open only their own id (another is refused with 403 before the upgrade). A request with
//!   an `Origin` header must come from one of `realtime.allowed_origins` (403 otherwise);
//!   one without (a native app, a server) is allowed, since only browsers send it and a
//!   non-browser client can forge it anyway — the token is what protects the stream.
//! - **SSE**: `GET /patient-notifications/stream`, same token rules, no origin check (a
//!   cross-origin `EventSource` is already subject to CORS, which Herald does not grant).
//!
//! Every change to the user's inbox is one message: `{"event": "created" | "updated", "seq",
//! "notification": {…as the list shows it}}` on the WebSocket; on SSE an event named
//! `created` or `updated` whose `id` is `seq` and whose data is the notification. `seq` is
//! the user's change sequence: a client that reconnects passes the last one it saw —
//! `?since=N` on the WebSocket, `Last-Event-ID` (what browsers send by themselves) or
//! `?since=N` on SSE — and first gets every change after it, in order (an entry created and
//! changed meanwhile comes once, as `updated`, as it is now). Without it the connection
//! carries only what happens from now on (load the list with `GET /patient-notifications`).
//!
//! A connection never stalls others: the hub only wakes it, and it reads its changes from the
//! database itself (`herald_engine::inbox::hub`). A WebSocket client that does not take a
//! message within `realtime.send_timeout_seconds` is dropped (it resumes on reconnect); an SSE
//! client that reads slowly is simply not fed faster than it reads. Both get a keep-alive every
//! `realtime.keep_alive_seconds` (a ping, an SSE comment), which also finds dead clients.

use crate::auth::EndUser;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use herald_engine::inbox::entry_json;
use herald_engine::inbox::follow::Follower;
use herald_store::InboxEntry;
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The query of both streams.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamParams {
    /// The user token, for clients that cannot send headers.
    token: Option<String>,
    /// The last change sequence the client saw.
    since: Option<i64>,
}

/// The user of the token in the header or in the query.
fn authenticate(state: &AppState, headers: &HeaderMap, token: Option<&str>) -> Result<EndUser, ApiError> {
    match token {
        Some(token) => {
            let mut with_token = HeaderMap::new();
            let value =
                HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| ApiError::unauthorized("the user token is not valid"))?;
            with_token.insert(header::AUTHORIZATION, value);
            state.end_users().authenticate(&with_token, state.clock().now())
        }
        None => state.end_users().authenticate(headers, state.clock().now()),
    }
}

fn params(query: Result<Query<StreamParams>, axum::extract::rejection::QueryRejection>) -> Result<StreamParams, ApiError> {
    query.map(|Query(p)| p).map_err(|e| ApiError::bad_request(format!("query: {}", e.body_text())))
}

/// Where a connection starts: after `since` when given, else after the current sequence.
async fn follower(state: &AppState, user: &EndUser, since: Option<i64>) -> Result<Follower, ApiError> {
    let after = match since {
        Some(since) if since < 0 => return Err(ApiError::bad_request("since: must be a change sequence (0 or more)")),
        Some(since) => since,
        None => state.inbox().latest_seq(&user.tenant, &user.id).await?,
    };
    Ok(state.inbox().follow(&user.tenant, &user.id, after))
}

fn kind(entry: &InboxEntry) -> &'static str {
    if entry.is_new() { "created" } else { "updated" }
}

/// Your notifications as they arrive and change, over a WebSocket (see the module docs).
#[utoipa::path(get, path = "/patient-notifications/ws/{patient_id}", tag = "notification center",
    params(("patient_id" = String, Path, description = "Your own user id"), ("token" = Option<String>, Query, description = "The user token, for browsers"),
        ("since" = Option<i64>, Query, description = "The last seq you saw")),
    security(("userToken" = [])), responses((status = 101, description = "The WebSocket"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "Another user's id, or an origin not allowed", body = ErrorBody)))]
async fn websocket(
    State(state): State<AppState>,
    Path(patient_id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<StreamParams>, axum::extract::rejection::QueryRejection>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = &state.realtime().allowed_origins;
        let origin = origin.to_str().unwrap_or_default();
        if !allowed.iter().any(|a| a == "*" || a == origin) {
            return Err(ApiError::forbidden("origin: this origin may not open the notification stream"));
        }
    }
    let params = params(query)?;
    let user = authenticate(&state, &headers, params.token.as_deref())?;
    if user.id != patient_id {
        return Err(ApiError::forbidden("patient_id: you may only follow your own notifications"));
    }
    let follower = follower(&state, &user, params.since).await?;
    let config = state.realtime().clone();
    let send_timeout = Duration::from_secs(config.send_timeout_seconds.max(1));
    let keep_alive = Duration::from_secs(config.keep_alive_seconds.max(1));
    Ok(upgrade.on_upgrade(move |socket| serve(socket, follower, send_timeout, keep_alive)).into_response())
}

/// Feeds one WebSocket until the client leaves, errs or is too slow.
async fn serve(mut socket: WebSocket, mut follower: Follower, send_timeout: Duration, keep_alive: Duration) {
    let mut ticker = tokio::time::interval(keep_alive);
    ticker.tick().await;
    loop {
        let outgoing = tokio::select! {
            batch = follower.next() => match batch {
                Ok(batch) => batch
                    .iter()
                    .map(|entry| Message::Text(json!({"event": kind(entry), "seq": entry.seq, "notification": entry_json(entry)}).to_string().into()))
                    .collect(),
                Err(error) => {
                    tracing::warn!(%error, "reading inbox changes failed; closing the WebSocket");
                    return;
                }
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            _ = ticker.tick() => vec![Message::Ping(Vec::new().into())],
        };
        for message in outgoing {
            match tokio::time::timeout(send_timeout, socket.send(message)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    tracing::info!("a WebSocket client took too long to take a message; dropping it (it resumes on reconnect)");
                    return;
                }
            }
        }
    }
}

/// Your notifications as they arrive and change, as server-sent events (see the module docs).
#[utoipa::path(get, path = "/patient-notifications/stream", tag = "notification center",
    params(("token" = Option<String>, Query, description = "The user token, for EventSource"), ("since" = Option<i64>, Query, description = "The last seq you saw"),
        ("Last-Event-ID" = Option<i64>, Header, description = "The last seq you saw (sent by browsers on reconnect)")),
    security(("userToken" = [])), responses((status = 200, description = "The event stream", content_type = "text/event-stream"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<StreamParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let params = params(query)?;
    let user = authenticate(&state, &headers, params.token.as_deref())?;
    let last_event_id = match headers.get("last-event-id") {
        Some(value) => Some(
            value.to_str().ok().and_then(|v| v.trim().parse().ok()).ok_or_else(|| ApiError::bad_request("Last-Event-ID: must be a seq"))?,
        ),
        None => None,
    };
    let follower = follower(&state, &user, last_event_id.or(params.since)).await?;
    let keep_alive = Duration::from_secs(state.realtime().keep_alive_seconds.max(1));
    let changes = stream::unfold(follower, |mut follower| async move {
        match follower.next().await {
            Ok(batch) => Some((batch, follower)),
            Err(error) => {
                tracing::warn!(%error, "reading inbox changes failed; ending the event stream");
                None
            }
        }
    })
    .flat_map(|batch| {
        stream::iter(
            batch
                .into_iter()
                .map(|entry| Ok(Event::default().event(kind(&entry)).id(entry.seq.to_string()).data(entry_json(&entry).to_string()))),
        )
    });
    Ok(Sse::new(changes).keep_alive(KeepAlive::new().interval(keep_alive)))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(websocket)).routes(routes!(events))
}
