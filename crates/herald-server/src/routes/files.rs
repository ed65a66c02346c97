//! `/files`: the files service (seed 01) — upload (multipart), list, metadata, download and
//! delete a tenant's files, which emails then carry as attachments by id or name.
//!
//! Seed 01 links the files service without its paths, and that service's own (`POST /`,
//! `GET /download/:file`, `DELETE /:file`) would take Herald's root, so its routes live under
//! `/files` here; its shapes are kept: the upload answers `{_id, name, file, size, location}`
//! (plus `contentType`, `sha256`, `createdAt`, `creatorId`), where `file` is the reference
//! templates' `emailAttachments[].file` and sends' `emailAttachments` use, and the list takes
//! `limit` (25 by default), `page` (from 1) and `dateFrom`.
//!
//! Files are message content, so they sit under the templates' permissions: reading and
//! downloading need `notifications.templates.read`, uploading and deleting
//! `notifications.templates.write`. Uploads and deletes are recorded in the audit trail
//! (`files.upload`, `files.delete`, target `files/<id>`, with the name, type and size).

use crate::auth::require;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{QueryPairs, RequestSource};
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_core::access::Permission;
use herald_core::document::format_timestamp;
use herald_engine::access::ServiceCaller;
use herald_engine::audit::AuditEntry;
use herald_engine::files::UploadError;
use herald_store::FileRecord;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Room for the multipart form around the file, in bytes.
const FORM_OVERHEAD: usize = 64 * 1024;

/// Files listed per page unless `limit` says.
const DEFAULT_LIMIT: u32 = 25;

/// A stored file's metadata.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FileInfo {
    /// The file's id.
    #[serde(rename = "_id")]
    id: String,
    /// The reference attachments use (the id, as the files service's `file`).
    file: String,
    /// The name recipients see; unique in the tenant.
    name: String,
    /// Its length in bytes.
    size: u64,
    /// Its checked MIME type.
    content_type: String,
    /// SHA-256 of its bytes, hex.
    sha256: String,
    /// Where to download it.
    location: String,
    /// When it was uploaded.
    created_at: String,
    /// Who uploaded it.
    creator_id: String,
}

impl From<FileRecord> for FileInfo {
    fn from(record: FileRecord) -> Self {
        Self {
            location: format!("/files/{}/download", record.id),
            file: record.id.clone(),
            id: record.id,
            name: record.name,
            size: record.size,
            content_type: record.content_type,
            sha256: record.sha256,
            created_at: format_timestamp(record.created_at),
            creator_id: record.creator_id,
        }
    }
}

/// The upload form: one file part, whose `filename` becomes the file's name and whose
/// `Content-Type` its declared type. Other parts are ignored.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the multipart form for the OpenAPI document only")]
struct UploadForm {
    /// The file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads a file (the first file part of a `multipart/form-data` body). Its type must be on
/// the allow-list (PDF, images, text, CSV, calendars, RTF, Office and OpenDocument files,
/// DICOM) and agree with the content's signature; its name must be free in the tenant.
#[utoipa::path(post, path = "/files", tag = "files", request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("apiKey" = [])), responses(
    (status = 200, description = "Stored", body = FileInfo),
    (status = 400, description = "No file part, an empty file or a bad name", body = ErrorBody),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 409, description = "The tenant has a file of this name", body = ErrorBody),
    (status = 413, description = "Larger than `files.max_file_bytes`", body = ErrorBody),
    (status = 415, description = "A type off the allow-list, or content that is not of the declared type", body = ErrorBody)))]
async fn upload(
    State(state): State<AppState>,
    caller: ServiceCaller,
    RequestSource(source): RequestSource,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<FileInfo>, ApiError> {
    require(&caller, Permission::TemplatesWrite)?;
    let mut form = form.map_err(|_| ApiError::bad_request("body: a multipart/form-data body with a file part is required"))?;
    let limit = state.files().max_file_bytes();
    while let Some(mut part) = form.next_field().await.map_err(unreadable)? {
        let Some(name) = part.file_name().map(str::to_string) else { continue };
        let declared = part.content_type().map(str::to_string);
        // A file over the limit is read to its end (the body limit bounds it) but not kept, so
        // the client, still sending, hears the answer instead of a closed connection.
        let (mut content, mut over) = (Vec::new(), false);
        while let Some(chunk) = part.chunk().await.map_err(unreadable)? {
            over = over || (content.len() + chunk.len()) as u64 > limit;
            if !over {
                content.extend_from_slice(&chunk);
            }
        }
        if over {
            return Err(too_large(limit));
        }
        let record = state.files().upload(&caller.actor(), &name, declared.as_deref(), content).await.map_err(|error| match error {
            UploadError::Invalid(invalid) => ApiError::bad_request(invalid.to_string()),
            UploadError::TooLarge(limit) => too_large(limit),
            UploadError::Refused(refused) => ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, refused.to_string()),
            UploadError::Engine(engine) => engine.into(),
        })?;
        audit(&state, &caller, "upload", &record, source).await?;
        return Ok(Json(record.into()));
    }
    Err(ApiError::bad_request("file: the form has no file part (a part with a filename)"))
}

/// Lists the tenant's files, oldest first: `limit` per page (25 by default, at most 200),
/// page `page` (from 1), uploaded at or after `dateFrom` (an ISO 8601 date or date-time).
#[utoipa::path(get, path = "/files", tag = "files", params(
        ("limit" = Option<u32>, Query, description = "Files per page (1 to 200, 25 by default)"),
        ("page" = Option<u32>, Query, description = "The page, from 1"),
        ("dateFrom" = Option<String>, Query, description = "Only files uploaded at or after this date or date-time")),
    security(("apiKey" = [])), responses(
    (status = 200, description = "A page of files", body = Vec<FileInfo>),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(State(state): State<AppState>, caller: ServiceCaller, query: QueryPairs) -> Result<Json<Vec<FileInfo>>, ApiError> {
    require(&caller, Permission::TemplatesRead)?;
    let (mut limit, mut page, mut since) = (DEFAULT_LIMIT, 1, None);
    for (key, value) in query.iter() {
        let number = |field: &str| value.parse::<u32>().map_err(|_| ApiError::bad_request(format!("{field}: must be a whole number")));
        match key {
            "limit" => limit = number("limit")?,
            "page" => page = number("page")?,
            "dateFrom" => since = Some(date_from(value)?),
            other => return Err(ApiError::bad_request(format!("{other}: is not a parameter of this list (limit, page, dateFrom)"))),
        }
    }
    let files = state.files().list(&caller.tenant, since, limit, page).await?;
    Ok(Json(files.into_iter().map(FileInfo::from).collect()))
}

/// One file's metadata.
#[utoipa::path(get, path = "/files/{id}", tag = "files", params(("id" = String, Path, description = "The file's id")),
    security(("apiKey" = [])), responses(
    (status = 200, description = "The file's metadata", body = FileInfo),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_one(State(state): State<AppState>, caller: ServiceCaller, Path(id): Path<String>) -> Result<Json<FileInfo>, ApiError> {
    require(&caller, Permission::TemplatesRead)?;
    Ok(Json(state.files().get(&caller.tenant, &id).await?.into()))
}

/// Deletes a file. Messages accepted with it and not yet sent then fail with that reason.
#[utoipa::path(delete, path = "/files/{id}", tag = "files", params(("id" = String, Path, description = "The file's id")),
    security(("apiKey" = [])), responses(
    (status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    caller: ServiceCaller,
    RequestSource(source): RequestSource,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require(&caller, Permission::TemplatesWrite)?;
    let record = state.files().get(&caller.tenant, &id).await?;
    state.files().delete(&caller.tenant, &id).await?;
    audit(&state, &caller, "delete", &record, source).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records an upload or a delete in the tenant's audit trail.
async fn audit(state: &AppState, caller: &ServiceCaller, verb: &str, file: &FileRecord, source: Option<String>) -> Result<(), ApiError> {
    let entry = AuditEntry {
        tenant: caller.tenant.clone(),
        actor: caller.actor().id,
        action: format!("files.{verb}"),
        target: format!("files/{}", file.id),
        changes: json!({"name": file.name, "contentType": file.content_type, "size": file.size}),
        source,
    };
    Ok(herald_engine::audit::record(state.store(), state.clock(), entry).await?)
}

/// Downloads a file's bytes, always as an attachment (never rendered by a browser) and never
/// cached.
#[utoipa::path(get, path = "/files/{id}/download", tag = "files", params(("id" = String, Path, description = "The file's id")),
    security(("apiKey" = [])), responses(
    (status = 200, description = "The file's bytes, with its content type and name"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn download(State(state): State<AppState>, caller: ServiceCaller, Path(id): Path<String>) -> Result<Response, ApiError> {
    require(&caller, Permission::TemplatesRead)?;
    let (record, content) = state.files().download(&caller.tenant, &id).await?;
    let content_type = HeaderValue::from_str(&record.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&record.name)).unwrap_or(HeaderValue::from_static("attachment"));
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, disposition),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    Ok((headers, Body::from(content)).into_response())
}

/// `Content-Disposition: attachment` with the name twice: an ASCII fallback and the exact
/// UTF-8 name (RFC 6266, RFC 8187).
fn content_disposition(name: &str) -> String {
    let fallback: String = name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// `dateFrom`: a date-time, or a date (its midnight UTC).
fn date_from(value: &str) -> Result<Timestamp, ApiError> {
    let bad = || ApiError::bad_request("dateFrom: must be an ISO 8601 date or date-time");
    if let Ok(at) = value.parse::<Timestamp>() {
        return Ok(at);
    }
    let date: jiff::civil::Date = value.parse().map_err(|_| bad())?;
    date.to_zoned(jiff::tz::TimeZone::UTC).map(|zoned| zoned.timestamp()).map_err(|_| bad())
}

fn unreadable(error: MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body: the request body is larger than the configured limit")
    } else {
        ApiError::bad_request("body: the multipart form could not be read")
    }
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("file: larger than the {limit} bytes a file may have"))
}

pub(crate) fn router(max_file_bytes: u64) -> OpenApiRouter<AppState> {
    let body_limit = usize::try_from(max_file_bytes).unwrap_or(usize::MAX).saturating_add(FORM_OVERHEAD);
    OpenApiRouter::new()
        .routes(routes!(list, upload))
        .routes(routes!(get_one, delete))
        .routes(routes!(download))
        .layer(DefaultBodyLimit::max(body_limit))
}
