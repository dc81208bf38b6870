//! What every `/api/v1` request goes through before and after its handler: authentication,
//! the rate limit, injected faults, then the request log and stats.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Sim;
use super::errors::ApiError;
use super::extract::OrgCtx;
use super::journal::RequestRecord;
use super::operations::{self, UNKNOWN};
use super::state::rfc3339;

/// The organisation of the request's bearer key. The key is neither logged nor echoed.
fn authenticate(sim: &Sim, headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthenticated("missing API key: send the header `Authorization: Bearer <API key>`"))?;
    let key = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .filter(|key| !key.is_empty())
        .ok_or_else(|| ApiError::unauthenticated("the Authorization header must be `Bearer <API key>`"))?;
    sim.store()
        .org_id_for_key(key)
        .map(str::to_string)
        .ok_or_else(|| ApiError::unauthenticated("the API key is not valid"))
}

pub(super) async fn api_pipeline(State(sim): State<Arc<Sim>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let at = rfc3339(chrono::Utc::now());
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let operation = operations::operation_for(&method, &path);
    let mut org = None;
    let mut rate_limited = false;
    let mut fault = None;

    let response = 'serve: {
        let org_id = match authenticate(&sim, req.headers()) {
            Ok(id) => id,
            Err(e) => break 'serve e.into_response(),
        };
        org = Some(org_id.clone());
        if let Err(retry_after) = sim.limiter().check(&org_id, Instant::now()) {
            rate_limited = true;
            break 'serve ApiError::rate_limited(retry_after).into_response();
        }
        let injection = if operation == UNKNOWN { Default::default() } else { sim.faults().take(operation) };
        fault = injection.label();
        if let Some(ms) = injection.latency_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(status) = injection.status {
            break 'serve ApiError::from_http_status(status, format!("injected fault: HTTP {status}")).into_response();
        }
        req.extensions_mut().insert(OrgCtx { org_id });
        let response = next.run(req).await;
        if injection.drop_response {
            // The operation ran and its effects stay; only the answer is lost.
            break 'serve ApiError::from_http_status(503, "upstream connection reset before the response was sent")
                .into_response();
        }
        response
    };

    let status = response.status().as_u16();
    tracing::info!(%method, %path, operation, status, org = org.as_deref().unwrap_or("-"), fault, "request");
    let record = RequestRecord {
        seq: 0,
        at,
        method,
        path,
        operation: operation.to_string(),
        status,
        org,
        duration_ms: started.elapsed().as_millis() as u64,
        fault,
    };
    sim.journal().record(record, rate_limited);
    response
}
