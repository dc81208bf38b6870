//! Errors of the Cloud client, classified so a controller can act on them.
//!
//! Messages carry the server's own message and never a credential: request headers are never
//! formatted into an error, and reqwest errors are reduced to their kind without the URL's query.

use std::time::Duration;

use super::models::{ErrorStatus, grpc_code};

#[derive(Debug, Clone, thiserror::Error)]
pub enum CloudError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The request is valid but the object's state forbids it (e.g. delete protection, LOCKED).
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    #[error("unauthenticated: the API key was rejected ({0})")]
    Unauthenticated(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("rate limited by the Cloud API (retry after {retry_after:?}): {message}")]
    RateLimited { retry_after: Option<Duration>, message: String },
    /// 5xx, timeouts and connection failures: worth retrying later.
    #[error("transient Cloud API failure: {0}")]
    Transient(String),
    /// The response could not be understood.
    #[error("unexpected response from the Cloud API: {0}")]
    Decode(String),
    #[error("Cloud API returned HTTP {status}: {message}")]
    Other { status: u16, message: String },
    /// Stopped before it was sent (see `client::SendPermit`): the service saw nothing.
    #[error("request not sent: {0}")]
    NotSent(String),
}

impl CloudError {
    /// Classifies an HTTP error response. The gRPC code in the body refines the HTTP status:
    /// the service answers "already exists" and "failed precondition" with 400/409.
    pub fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let parsed: Option<ErrorStatus> = serde_json::from_slice(body).ok();
        let code = parsed.as_ref().map(|s| s.code).unwrap_or_default();
        let message = parsed
            .map(|s| s.message)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| summarize_body(body));
        match (status, code) {
            (429, _) | (_, grpc_code::RESOURCE_EXHAUSTED) => Self::RateLimited { retry_after, message },
            (401, _) | (_, grpc_code::UNAUTHENTICATED) => Self::Unauthenticated(message),
            (403, _) | (_, grpc_code::PERMISSION_DENIED) => Self::PermissionDenied(message),
            (409, _) | (_, grpc_code::ALREADY_EXISTS) => Self::AlreadyExists(message),
            (404, _) | (_, grpc_code::NOT_FOUND) => Self::NotFound(message),
            (_, grpc_code::FAILED_PRECONDITION) => Self::FailedPrecondition(message),
            (400, _) | (_, grpc_code::INVALID_ARGUMENT) => Self::InvalidArgument(message),
            (500..=599, _) => Self::Transient(format!("HTTP {status}: {message}")),
            _ => Self::Other { status, message },
        }
    }

    /// Describes a transport failure without the URL (a URL never holds a secret here, but the
    /// error's Display can include internals that make logs noisy).
    pub fn from_transport(err: &reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "connection failed"
        } else if err.is_decode() {
            return Self::Decode("response body could not be read".into());
        } else {
            "request failed"
        };
        let mut source = std::error::Error::source(err);
        let mut detail = String::new();
        while let Some(s) = source {
            detail = s.to_string();
            source = s.source();
        }
        if detail.is_empty() { Self::Transient(kind.to_string()) } else { Self::Transient(format!("{kind}: {detail}")) }
    }

    /// Worth retrying for an idempotent request.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient(_))
    }

    /// Needs a person (credentials or permissions): retrying will not help.
    pub fn is_credentials_problem(&self) -> bool {
        matches!(self, Self::Unauthenticated(_) | Self::PermissionDenied(_))
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }
}

/// The first line of a non-JSON error body, bounded, for messages.
fn summarize_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        "no message".to_string()
    } else {
        line.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_http_status_and_grpc_code() {
        let body = br#"{"code":6,"message":"user app already exists"}"#;
        assert!(matches!(CloudError::from_response(409, body, None), CloudError::AlreadyExists(m) if m.contains("app")));
        let body = br#"{"code":6,"message":"dup"}"#;
        assert!(matches!(CloudError::from_response(400, body, None), CloudError::AlreadyExists(_)));
        let body = br#"{"code":5,"message":"cluster not found"}"#;
        assert!(CloudError::from_response(404, body, None).is_not_found());
        let err = CloudError::from_response(429, b"rate limit exceeded", Some(Duration::from_secs(2)));
        assert!(matches!(err, CloudError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(2)));
        assert!(CloudError::from_response(503, b"", None).is_retryable());
        assert!(CloudError::from_response(401, b"{}", None).is_credentials_problem());
        assert!(matches!(CloudError::from_response(400, br#"{"code":9,"message":"locked"}"#, None), CloudError::FailedPrecondition(_)));
    }
}
