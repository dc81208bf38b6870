//! The admin surface under `/_simulator/` (not part of the Cloud API; no authentication, no rate
//! limit). Tests use it, through [`AdminClient`](crate::admin_client::AdminClient), to read what
//! the simulator served and stored, and to inject trouble; its bodies are in [`admin_api`](crate::admin_api).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use crdb_cloud::models::{Cluster, LogExportClusterInfo};

use super::Sim;
use super::admin_api::{
    AzureSharedKeyDump, Cleared, ClusterDump, DatadogApiKeyDump, Fault, ForceLogExportStatus, FaultSpec, ForceState, Health, OrgDump, RequestRecord, Reset, SqlUserPassword, StateDump,
    Stats, UserDump, paths,
};
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, QueryParams};
use super::validation;

pub(super) fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route(paths::HEALTH, get(|| async { Json(Health { status: "ok".into() }) }))
        .route(paths::STATS, get(stats))
        .route(paths::REQUESTS, get(requests))
        .route(paths::RESET, post(reset))
        .route(paths::FAULTS, get(list_faults).post(add_fault).delete(clear_faults))
        .route(paths::STATE, get(state))
        .route(paths::CLUSTER_STATE, post(force_state))
        .route(paths::SQL_USER_PASSWORD, get(sql_user_password))
        .route(paths::LOG_EXPORT_STATUS, post(force_log_export_status))
        .route(paths::DATADOG_API_KEY, get(datadog_api_key))
        .route(paths::AZURE_SHARED_KEY, get(azure_shared_key))
        .route(paths::REJECT_PRIVATE_ENDPOINT_CONNECTION, post(reject_private_endpoint_connection))
        .route(paths::PRIVATE_ENDPOINT_SERVICES, axum::routing::delete(remove_private_endpoint_services))
}

async fn stats(State(sim): State<Arc<Sim>>) -> Json<Stats> {
    Json(sim.journal().stats())
}

/// `?since=SEQ` returns entries after that sequence number; `?operation=Name` filters.
async fn requests(State(sim): State<Arc<Sim>>, query: QueryParams) -> ApiResult<Json<Vec<RequestRecord>>> {
    let since = match query.get("since") {
        None => 0,
        Some(s) => s.parse().map_err(|_| ApiError::invalid(format!("invalid value {s:?} for `since`")))?,
    };
    Ok(Json(sim.journal().requests(since, query.get("operation"))))
}

/// Clears clusters, stats, the request log, faults and rate-limit buckets; keys stay.
async fn reset(State(sim): State<Arc<Sim>>) -> Json<Reset> {
    sim.store().reset();
    sim.journal().clear();
    sim.faults().clear();
    sim.limiter().clear();
    Json(Reset { reset: true })
}

async fn list_faults(State(sim): State<Arc<Sim>>) -> Json<Vec<Fault>> {
    Json(sim.faults().list())
}

async fn add_fault(State(sim): State<Arc<Sim>>, JsonBody(spec): JsonBody<FaultSpec>) -> ApiResult<Json<Fault>> {
    sim.faults().add(spec).map(Json)
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> Json<Cleared> {
    Json(Cleared { cleared: sim.faults().clear() })
}

/// Everything stored, per organisation (never the API keys).
async fn state(State(sim): State<Arc<Sim>>) -> Json<StateDump> {
    let mut store = sim.store();
    let orgs = store
        .orgs(Utc::now())
        .map(|org| OrgDump {
            id: org.info.id.clone(),
            name: org.info.name.clone(),
            clusters: org
                .clusters
                .values()
                .map(|r| ClusterDump {
                    cluster: r.cluster.clone(),
                    sql_users: r
                        .sql_users
                        .iter()
                        .map(|(name, password)| UserDump { name: name.clone(), password: password.clone() })
                        .collect(),
                    databases: r.databases.values().cloned().collect(),
                    allowlist: r.allowlist.values().cloned().collect(),
                    backup_configuration: r.backup.clone(),
                })
                .collect(),
        })
        .collect();
    Json(StateDump { orgs })
}

async fn force_state(
    State(sim): State<Arc<Sim>>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(body): JsonBody<ForceState>,
) -> ApiResult<Json<Cluster>> {
    if body.state.is_none() && body.operation_status.is_none() && body.upgrade_status.is_none() && body.finalization_stuck.is_none() {
        return Err(ApiError::invalid("give at least one of `state`, `operation_status`, `upgrade_status`, `finalization_stuck`"));
    }
    validation::known_opt("state", body.state.as_ref())?;
    validation::known_opt("operation_status", body.operation_status.as_ref())?;
    validation::known_opt("upgrade_status", body.upgrade_status.as_ref())?;
    let now = Utc::now();
    let retention = sim.timing.deleted_retention;
    let mut store = sim.store();
    let record = store.find_cluster(&cluster_id, now)?;
    if let Some(stuck) = body.finalization_stuck {
        record.finalization_stuck = stuck;
    }
    if body.state.is_some() || body.operation_status.is_some() || body.upgrade_status.is_some() {
        record.force(body.state, body.operation_status, body.upgrade_status, now, retention);
    }
    Ok(Json(record.cluster.clone()))
}

async fn sql_user_password(
    State(sim): State<Arc<Sim>>,
    ApiPath((cluster_id, name)): ApiPath<(String, String)>,
) -> ApiResult<Json<SqlUserPassword>> {
    let mut store = sim.store();
    let record = store.find_cluster(&cluster_id, Utc::now())?;
    let password = record
        .sql_users
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("SQL user {name:?} not found on cluster {cluster_id}")))?;
    Ok(Json(SqlUserPassword { password: password.clone() }))
}

async fn force_log_export_status(
    State(sim): State<Arc<Sim>>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(body): JsonBody<ForceLogExportStatus>,
) -> ApiResult<Json<LogExportClusterInfo>> {
    validation::known("status", &body.status)?;
    let now = Utc::now();
    let mut store = sim.store();
    let record = store.find_cluster(&cluster_id, now)?;
    let log = record.exports.log.as_mut().ok_or_else(|| ApiError::not_found(format!("log export is not configured for cluster {cluster_id}")))?;
    log.forced = Some((body.status, body.user_message));
    Ok(Json(log.info(&cluster_id, now)))
}

async fn datadog_api_key(State(sim): State<Arc<Sim>>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<DatadogApiKeyDump>> {
    let mut store = sim.store();
    let record = store.find_cluster(&cluster_id, Utc::now())?;
    let export = record.exports.datadog.as_ref().ok_or_else(|| ApiError::not_found(format!("Datadog metric export is not configured for cluster {cluster_id}")))?;
    Ok(Json(DatadogApiKeyDump { api_key: export.config.api_key.expose().to_string() }))
}

async fn azure_shared_key(State(sim): State<Arc<Sim>>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<AzureSharedKeyDump>> {
    let mut store = sim.store();
    let record = store.find_cluster(&cluster_id, Utc::now())?;
    let key = record.exports.log.as_ref().and_then(|l| l.azure_shared_key.as_ref());
    let key = key.ok_or_else(|| ApiError::not_found(format!("no Azure Log Analytics export is configured for cluster {cluster_id}")))?;
    Ok(Json(AzureSharedKeyDump { azure_shared_key: key.expose().to_string() }))
}

async fn reject_private_endpoint_connection(
    State(sim): State<Arc<Sim>>,
    ApiPath((cluster_id, endpoint_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<crdb_cloud::models::PrivateEndpointConnection>> {
    let now = Utc::now();
    let mut store = sim.store();
    let record = store.find_cluster(&cluster_id, now)?;
    let rejected = record.private_endpoints.reject(&endpoint_id, now);
    rejected.map(Json).ok_or_else(|| ApiError::not_found(format!("private endpoint connection {endpoint_id} not found on cluster {cluster_id}")))
}

/// The services removed behind the API's back (support can; the API cannot).
async fn remove_private_endpoint_services(State(sim): State<Arc<Sim>>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<Cleared>> {
    let now = Utc::now();
    let mut store = sim.store();
    let record = store.find_cluster(&cluster_id, now)?;
    let cleared = record.private_endpoints.services.take().map_or(0, |(services, _)| services.len());
    Ok(Json(Cleared { cleared }))
}
