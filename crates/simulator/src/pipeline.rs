//! What every `/api/v1` request goes through before and after its handler: authentication,
//! the rate limit, the roles of a key created through the API, injected faults, then the request
//! log and stats (and the log alone for the site-root routes outside the API).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::RequestExt;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Sim;
use super::connection::ConnectionHandle;
use super::errors::ApiError;
use super::extract::OrgCtx;
use super::permissions;
use super::admin_api::{CLUSTER_CERT_OPERATION, FaultKind, RequestRecord, UNKNOWN_OPERATION};
use crdb_cloud::Operation;
use super::state::rfc3339;

/// Who the request's bearer key is: its organisation, and the ID of a key created through the API
/// (whose roles limit what it may do). The key is neither logged nor echoed.
fn authenticate(sim: &Sim, headers: &HeaderMap) -> Result<(String, Option<String>), ApiError> {
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
        .identity(key)
        .map(|identity| (identity.org_id.to_string(), identity.key_id.map(str::to_string)))
        .ok_or_else(|| ApiError::unauthenticated("the API key is not valid"))
}

/// Whether the service account of the API-created key `key_id` may perform `operation` (see
/// [`permissions`](super::permissions)): the one place roles are enforced, before any handler.
async fn authorize(sim: &Sim, org_id: &str, key_id: &str, operation: Operation, req: &mut Request) -> Result<(), ApiError> {
    let parent_id = match permissions::parent_pointer(operation) {
        Some(pointer) => buffered_json(req).await.and_then(|body| body.pointer(pointer)?.as_str().map(str::to_string)),
        None => None,
    };
    let params = req.extract_parts::<RawPathParams>().await.ok();
    let param = |name: &str| params.as_ref()?.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string());
    let (cluster_id, folder_id) = (param("cluster_id"), param("folder_id"));
    let mut store = sim.store();
    let org = store.org(org_id, chrono::Utc::now())?;
    // Deleting a key or its account revokes the key (accounts.rs), so a key that authenticated has
    // its record; should one ever lack it, the key is refused rather than let through unjudged.
    let principal = org
        .accounts
        .api_keys
        .get(key_id)
        .map(|key| key.service_account_id.clone())
        .ok_or_else(|| ApiError::unauthenticated("the API key's service account no longer exists"))?;
    let request = permissions::Request { cluster_id: cluster_id.as_deref(), folder_id: folder_id.as_deref(), parent_id: parent_id.as_deref() };
    permissions::check(org, &principal, operation, &request)
}

/// The request's body as JSON (`None` when it is not), put back for the handler, which reports a
/// body it cannot decode in its own words.
async fn buffered_json(req: &mut Request) -> Option<serde_json::Value> {
    let body = std::mem::take(req.body_mut());
    let bytes = axum::body::to_bytes(body, usize::MAX).await.ok()?;
    *req.body_mut() = Body::from(bytes.clone());
    serde_json::from_slice(&bytes).ok()
}

pub(super) async fn api_pipeline(State(sim): State<Arc<Sim>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let at = rfc3339(chrono::Utc::now());
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    // The route the request matched names its operation; a path of no route, or a method the
    // path does not serve, is of no operation.
    let operation = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|route| Operation::for_route(req.method(), route.as_str()));
    let mut org = None;
    let mut rate_limited = false;
    let mut fault = None;

    let response = 'serve: {
        let (org_id, key_id) = match authenticate(&sim, req.headers()) {
            Ok(identity) => identity,
            Err(e) => break 'serve e.into_response(),
        };
        org = Some(org_id.clone());
        if let Err(retry_after) = sim.limiter().check(&org_id, Instant::now()) {
            rate_limited = true;
            break 'serve ApiError::rate_limited(retry_after).into_response();
        }
        if let (Some(key_id), Some(operation)) = (key_id.as_deref(), operation)
            && let Err(refusal) = authorize(&sim, &org_id, key_id, operation, &mut req).await
        {
            break 'serve refusal.into_response();
        }
        let injection = operation.map(|op| sim.faults().take(op)).unwrap_or_default();
        fault = injection.label();
        if let Some(ms) = injection.latency_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(status) = injection.status {
            let error = match injection.retry_after_secs {
                Some(secs) if status == 429 => ApiError::rate_limited(secs),
                _ => ApiError::from_http_status(status, format!("injected fault: HTTP {status}")),
            };
            break 'serve error.into_response();
        }
        let connection = req.extensions().get::<ConnectInfo<ConnectionHandle>>().map(|c| c.0.clone());
        if injection.reset_connection && !injection.drop_response {
            // The request is lost on the way in: nothing runs, the connection dies unanswered.
            break 'serve reset(connection);
        }
        req.extensions_mut().insert(OrgCtx { org_id });
        let response = next.run(req).await;
        if injection.reset_connection {
            // The operation ran and its effects stay; the connection dies before the answer.
            break 'serve reset(connection);
        }
        if injection.drop_response {
            // The operation ran and its effects stay; only the answer is lost.
            break 'serve ApiError::from_http_status(503, "upstream connection reset before the response was sent")
                .into_response();
        }
        response
    };

    let status = response.status().as_u16();
    let operation = operation.map_or(UNKNOWN_OPERATION, Operation::name);
    tracing::info!(%method, %path, operation, status, org = org.as_deref().unwrap_or("-"), fault = fault.map(FaultKind::as_str), "request");
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

/// The request log for the site-root routes outside the API (the cluster CA certificate): no key,
/// no rate limit and no faults, but logged and counted like every request, under `operation`.
pub(super) async fn public_pipeline(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let at = rfc3339(chrono::Utc::now());
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    tracing::info!(%method, %path, operation = CLUSTER_CERT_OPERATION, status, "request");
    let record = RequestRecord {
        seq: 0,
        at,
        method,
        path,
        operation: CLUSTER_CERT_OPERATION.to_string(),
        status,
        org: None,
        duration_ms: started.elapsed().as_millis() as u64,
        fault: None,
    };
    sim.journal().record(record, false);
    response
}

/// Resets the request's connection, so the response built here is never delivered. Served without
/// the simulator's listener (no connection handle), a 503 stands in for the reset.
fn reset(connection: Option<ConnectionHandle>) -> Response {
    match connection {
        Some(handle) => {
            handle.reset();
            // Never delivered; the log records it with the status a client would have waited for.
            ApiError::from_http_status(503, "connection reset").into_response()
        }
        None => ApiError::from_http_status(503, "connection reset (no connection to reset)").into_response(),
    }
}
