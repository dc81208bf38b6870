//! Request extractors whose rejections are Cloud-API error bodies. axum's own `Json`, `Path` and
//! `Query` reject with plain text, which a client of the real API would never see.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::errors::{ApiError, ApiResult};
use super::pagination::PageParams;

/// The organisation the request's API key belongs to, set by the API pipeline after authentication.
#[derive(Debug, Clone)]
pub struct OrgCtx {
    pub org_id: String,
}

/// A JSON request body decoded with serde; errors name the failing field (`spec.plan: ...`).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid(format!("could not read the request body: {e}")))?;
        decode_json(&bytes).map(JsonBody)
    }
}

/// Decodes a JSON body, mapping every serde failure to 400 INVALID_ARGUMENT with the field path.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("the request body is empty; a JSON object is required"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." || path.is_empty() {
            ApiError::invalid(format!("invalid request body: {inner}"))
        } else {
            ApiError::invalid(format!("invalid request body: field `{path}`: {inner}"))
        }
    })?;
    de.end().map_err(|e| ApiError::invalid(format!("invalid request body: {e}")))?;
    Ok(value)
}

/// Path parameters; a path that does not decode is reported as a Cloud-API 400.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e| ApiError::invalid(format!("invalid path parameter: {}", e.body_text())))
    }
}

/// Decoded query parameters (`pagination.page` and friends contain dots, so a map is simplest).
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::parse(parts.uri.query().unwrap_or("")))
    }
}

impl QueryParams {
    pub fn parse(query: &str) -> Self {
        Self(url::form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    /// A present, non-empty parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn bool(&self, name: &str, default: bool) -> ApiResult<bool> {
        match self.get(name) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(ApiError::invalid(format!(
                "invalid value {other:?} for query parameter `{name}`; expected true or false"
            ))),
        }
    }

    /// The keyset pagination parameters shared by every list operation; pages hold at most
    /// `max_size` items.
    pub fn page(&self, max_size: usize) -> ApiResult<PageParams> {
        let params = PageParams::parse(self.get("pagination.page"), self.get("pagination.limit"), self.get("pagination.sort_order"))?;
        Ok(PageParams { limit: params.limit.min(max_size), ..params })
    }
}
