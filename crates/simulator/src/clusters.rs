//! Cluster operations: list, create, get, update, delete, and the connection string.

use axum::Json;
use axum::extract::Extension;
use chrono::Utc;

use crdb_cloud::models::{
    Cluster, ConnectionString, ConnectionStringParameters, CreateClusterRequest, ListClustersResponse,
    UpdateClusterSpec,
};

use super::SimState;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx, QueryParams};
use super::pagination::paginate;
use super::state::Access;
use super::{provision, validation};

/// The sort key of a cluster for `pagination.sort_by`; the id breaks ties (deleted clusters can
/// share a name with a live one).
fn sort_key(c: &Cluster, sort_by: &str) -> String {
    let field = match sort_by {
        "CREATED_AT" => c.created_at.as_deref().unwrap_or_default(),
        "DELETED_AT" => c.deleted_at.as_deref().unwrap_or_default(),
        _ => c.name.as_str(),
    };
    format!("{field}\u{0}{}", c.id)
}

pub(super) async fn list(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    query: QueryParams,
) -> ApiResult<Json<ListClustersResponse>> {
    let show_inactive = query.bool("show_inactive", false)?;
    let params = query.page(sim.max_page_size)?;
    let sort_by = query.get("pagination.sort_by").unwrap_or("NAME");
    if !matches!(sort_by, "NAME" | "CREATED_AT" | "DELETED_AT") {
        return Err(ApiError::invalid(format!(
            "invalid value {sort_by:?} for `pagination.sort_by`; expected one of NAME, CREATED_AT, DELETED_AT"
        )));
    }
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    let forgotten = org.forgotten.values().filter(|_| show_inactive);
    let mut items: Vec<(String, &Cluster)> = org
        .clusters
        .values()
        .filter(|r| show_inactive || !r.is_deleted())
        .map(|r| &r.cluster)
        .chain(forgotten)
        .map(|c| (sort_key(c, sort_by), c))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let (clusters, pagination) = paginate(items, &params);
    Ok(Json(ListClustersResponse { clusters: clusters.into_iter().cloned().collect(), pagination: Some(pagination) }))
}

pub(super) async fn create(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    JsonBody(req): JsonBody<CreateClusterRequest>,
) -> ApiResult<Json<Cluster>> {
    let valid = validation::create_request(&req)?;
    let now = Utc::now();
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, now)?;
    super::folders::existing_parent(&org.folders, "spec.parent_id", Some(&valid.parent_id))?;
    if org.name_in_use(&valid.name) {
        return Err(ApiError::invalid(format!(
            "invalid value {:?} for field `name`: a cluster with this name already exists in the organization",
            valid.name
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let record = provision::new_cluster(&valid, id.clone(), org.creator_id.clone(), now, &sim.timing);
    let cluster = record.cluster.clone();
    org.clusters.insert(id, record);
    Ok(Json(cluster))
}

pub(super) async fn get(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
) -> ApiResult<Json<Cluster>> {
    let mut store = sim.store();
    let record = store.org(&ctx.org_id, Utc::now())?.cluster(&cluster_id)?;
    Ok(Json(record.cluster.clone()))
}

pub(super) async fn update(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(spec): JsonBody<UpdateClusterSpec>,
) -> ApiResult<Json<Cluster>> {
    validation::update_spec(&spec)?;
    let now = Utc::now();
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, now)?;
    if let Some(parent) = &spec.parent_id {
        super::folders::existing_parent(&org.folders, "parent_id", Some(parent))?;
    }
    let record = org.live_cluster(&cluster_id)?;
    *record = provision::update_cluster(record, &spec, now, &sim.timing)?;
    Ok(Json(record.cluster.clone()))
}

pub(super) async fn delete(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
) -> ApiResult<Json<Cluster>> {
    let now = Utc::now();
    let mut store = sim.store();
    let record = store.org(&ctx.org_id, now)?.live_cluster(&cluster_id)?;
    record.delete(now, sim.timing.deleted_retention)?;
    Ok(Json(record.cluster.clone()))
}

/// `postgresql://<user>@<host>:26257/<database>?sslmode=verify-full`; never carries a password.
pub(super) async fn connection_string(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    query: QueryParams,
) -> ApiResult<Json<ConnectionString>> {
    let os = query.get("os");
    validation::connection_os(os)?;
    let database = query.get("database").unwrap_or("defaultdb").to_string();
    let user = query.get("sql_user").map(str::to_string);
    let mut store = sim.store();
    let record = store.org(&ctx.org_id, Utc::now())?.child_cluster(&cluster_id, Access::Read)?;
    // The description: `os` is "required only for dedicated clusters".
    if os.is_none() && record.cluster.config.dedicated.is_some() {
        return Err(ApiError::invalid(
            "query parameter `os` is required for dedicated clusters; expected one of MAC, LINUX, WINDOWS",
        ));
    }
    let host = record.cluster.sql_dns.clone().unwrap_or_default();
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let user_part = user.as_deref().map(|u| format!("{}@", encode(u))).unwrap_or_default();
    let connection_string =
        format!("postgresql://{user_part}{host}:26257/{}?sslmode=verify-full", encode(&database));
    Ok(Json(ConnectionString {
        connection_string,
        params: ConnectionStringParameters { host, port: "26257".into(), database, username: user },
    }))
}
