//! The admin surface under `/_simulator/` (not part of the Cloud API; no authentication, no rate
//! limit). Tests use it to read what the simulator served and stored, and to inject trouble.
//!
//! - `GET stats`, `GET requests?since=SEQ&operation=Name`: counts and the request log (method,
//!   path, operation, status, organisation, duration, injected fault; never bodies or keys).
//! - `POST reset`, `GET state`, `POST clusters/{id}/state` (force `state`, `operation_status`,
//!   `upgrade_status`), `GET clusters/{id}/sql-users/{name}/password`.
//! - `GET|POST|DELETE faults`: the body of a POST (see [`FaultSpec`]) names an `operation` (or `*`)
//!   and one or more of `status` (with `retry_after_secs` for 429), `latency_ms`, `drop_response`
//!   (the operation runs, the answer is a 503) and `reset_connection` (the connection is reset
//!   without an answer; with `drop_response`, after the operation ran). `count` bounds the uses;
//!   `probability` (with an optional `seed`) applies the fault to a seeded pseudo-random share of
//!   the matching calls instead of to every one, e.g.
//!   `{"operation": "*", "status": 503, "probability": 0.2, "seed": 7, "count": 100000}`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crdb_cloud::models::{
    AllowlistEntry, BackupConfiguration, Cluster, ClusterState, Database, OperationStatus, UpgradeStatus,
};

use super::Sim;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, QueryParams};
use super::faults::{Fault, FaultSpec};
use super::journal::{RequestRecord, Stats};
use super::validation;

pub(super) fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_simulator/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/_simulator/stats", get(stats))
        .route("/_simulator/requests", get(requests))
        .route("/_simulator/reset", post(reset))
        .route("/_simulator/faults", get(list_faults).post(add_fault).delete(clear_faults))
        .route("/_simulator/state", get(state))
        .route("/_simulator/clusters/{cluster_id}/state", post(force_state))
        .route("/_simulator/clusters/{cluster_id}/sql-users/{name}/password", get(sql_user_password))
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
async fn reset(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.store().reset();
    sim.journal().clear();
    sim.faults().clear();
    sim.limiter().clear();
    Json(json!({"reset": true}))
}

async fn list_faults(State(sim): State<Arc<Sim>>) -> Json<Vec<Fault>> {
    Json(sim.faults().list())
}

async fn add_fault(State(sim): State<Arc<Sim>>, JsonBody(spec): JsonBody<FaultSpec>) -> ApiResult<Json<Fault>> {
    sim.faults().add(spec).map(Json)
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"cleared": sim.faults().clear()}))
}

#[derive(Serialize)]
struct StateDump {
    orgs: Vec<OrgDump>,
}

#[derive(Serialize)]
struct OrgDump {
    id: String,
    name: String,
    clusters: Vec<ClusterDump>,
}

#[derive(Serialize)]
struct ClusterDump {
    cluster: Cluster,
    sql_users: Vec<UserDump>,
    databases: Vec<Database>,
    allowlist: Vec<AllowlistEntry>,
    backup_configuration: BackupConfiguration,
}

#[derive(Serialize)]
struct UserDump {
    name: String,
    password: String,
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

/// Body of `POST /_simulator/clusters/{id}/state`; at least one field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForceState {
    #[serde(default)]
    state: Option<ClusterState>,
    #[serde(default)]
    operation_status: Option<OperationStatus>,
    #[serde(default)]
    upgrade_status: Option<UpgradeStatus>,
}

async fn force_state(
    State(sim): State<Arc<Sim>>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(body): JsonBody<ForceState>,
) -> ApiResult<Json<Cluster>> {
    if body.state.is_none() && body.operation_status.is_none() && body.upgrade_status.is_none() {
        return Err(ApiError::invalid("give at least one of `state`, `operation_status`, `upgrade_status`"));
    }
    validation::known_opt("state", body.state.as_ref())?;
    validation::known_opt("operation_status", body.operation_status.as_ref())?;
    validation::known_opt("upgrade_status", body.upgrade_status.as_ref())?;
    let now = Utc::now();
    let retention = sim.timing.deleted_retention;
    let mut store = sim.store();
    let record = store.find_cluster(&cluster_id, now)?;
    record.force(body.state, body.operation_status, body.upgrade_status, now, retention);
    Ok(Json(record.cluster.clone()))
}

async fn sql_user_password(
    State(sim): State<Arc<Sim>>,
    ApiPath((cluster_id, name)): ApiPath<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut store = sim.store();
    let record = store.find_cluster(&cluster_id, Utc::now())?;
    let password = record
        .sql_users
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("SQL user {name:?} not found on cluster {cluster_id}")))?;
    Ok(Json(json!({"password": password})))
}
