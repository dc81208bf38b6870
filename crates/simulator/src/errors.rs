//! Error responses in the Cloud API's shape: `ErrorStatus {code, message, details}` where `code` is a
//! gRPC status code, so the operator's client classifies simulator errors exactly as real ones.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crdb_cloud::models::{ErrorStatus, grpc_code};

/// An error answer: HTTP status, gRPC code, message and (for 429) the Retry-After seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: i32,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: i32, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after_secs: None }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, grpc_code::INVALID_ARGUMENT, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, grpc_code::NOT_FOUND, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, grpc_code::ALREADY_EXISTS, message)
    }

    /// The request is well formed but the object's state forbids it. The real service answers these
    /// with HTTP 400; the gRPC code tells them apart from invalid arguments.
    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, grpc_code::FAILED_PRECONDITION, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, grpc_code::UNAUTHENTICATED, message)
    }

    /// The key is valid but its roles do not allow the request (see [`permissions`](super::permissions)).
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, grpc_code::PERMISSION_DENIED, message)
    }

    /// The documented rate-limit answer: 429, `Retry-After`, "rate limit exceeded".
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, grpc_code::RESOURCE_EXHAUSTED, "rate limit exceeded")
        }
    }

    /// An error with an arbitrary HTTP status (fault injection), with the gRPC code a gRPC gateway
    /// would pair with it.
    pub fn from_http_status(status: u16, message: impl Into<String>) -> Self {
        if status == 429 {
            return Self::rate_limited(1);
        }
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = match status.as_u16() {
            400 => grpc_code::INVALID_ARGUMENT,
            401 => grpc_code::UNAUTHENTICATED,
            403 => grpc_code::PERMISSION_DENIED,
            404 => grpc_code::NOT_FOUND,
            409 => grpc_code::ALREADY_EXISTS,
            503 => grpc_code::UNAVAILABLE,
            504 => 4, // DEADLINE_EXCEEDED
            _ => grpc_code::INTERNAL,
        };
        Self::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorStatus { code: self.code, message: self.message, details: Vec::new() };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} (code {}): {}", self.status.as_u16(), self.code, self.message)
    }
}
