//! The one error type of every HTTP face, rendered in the seeds' shape
//! `{"statusCode": "400", "error": "Bad Request", "message": "…"}`. Server-side failures are
//! logged with their detail and answered with a generic message.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_engine::EngineError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

/// The error body, as the seeds specify it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The HTTP status code, as a string.
    #[schema(example = "400")]
    pub status_code: String,
    /// The status's reason phrase.
    #[schema(example = "Bad Request")]
    pub error: String,
    /// What went wrong; names the offending field.
    #[schema(example = "phoneNumber: must be in E.164 format (start with +)")]
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401 Unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 500, with a message that reveals nothing; log the detail before calling.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "An error occurred while processing the request")
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body this error answers with.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            status_code: self.status.as_u16().to_string(),
            error: self.status.canonical_reason().unwrap_or("Error").to_string(),
            message: self.message.clone(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Invalid(invalid) => ApiError::bad_request(invalid.to_string()),
            EngineError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            conflict @ (EngineError::Conflict { .. } | EngineError::Contended(_)) => {
                ApiError::new(StatusCode::CONFLICT, conflict.to_string())
            }
            EngineError::Unauthenticated(message) => ApiError::unauthorized(message),
            EngineError::Forbidden(message) => ApiError::forbidden(message),
            EngineError::Unprocessable(message) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message),
            EngineError::Busy(message) => ApiError::new(StatusCode::CONFLICT, message),
            EngineError::Store(store) => {
                tracing::error!(error = %store, "storage failed");
                ApiError::internal()
            }
            EngineError::Files(files) => {
                tracing::error!(error = %files, "file storage failed");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
