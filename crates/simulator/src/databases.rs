//! Databases: list, create, rename (two routes), delete. Sorted by name.

use axum::Json;
use axum::extract::Extension;
use serde::Deserialize;

use crdb_cloud::models::{CreateDatabaseRequest, Database, ListDatabasesResponse, UpdateDatabaseRequest};

use super::SimState;
use super::children::{page_of, with_cluster};
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx, QueryParams};
use super::state::{Access, ClusterRecord};
use super::validation;

/// Body of `PATCH /clusters/{id}/databases` (EditDatabase2): the database is named in the body.
/// Simulator-local because the shared models only carry the path-addressed form.
#[derive(Debug, Deserialize)]
pub(super) struct EditDatabaseBody {
    pub name: String,
    pub new_name: String,
}

pub(super) async fn list(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    query: QueryParams,
) -> ApiResult<Json<ListDatabasesResponse>> {
    let params = query.page(sim.max_page_size)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        let (databases, pagination) = page_of(&record.databases, &params, String::clone, |_, db| db.clone());
        Ok(Json(ListDatabasesResponse { databases, pagination: Some(pagination) }))
    })
}

pub(super) async fn create(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<CreateDatabaseRequest>,
) -> ApiResult<Json<Database>> {
    validation::database_name("name", &req.name)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        if record.databases.contains_key(&req.name) {
            return Err(ApiError::already_exists(format!(
                "database {:?} already exists on cluster {cluster_id}",
                req.name
            )));
        }
        let db = Database { name: req.name.clone(), table_count: Some(0) };
        record.databases.insert(req.name, db.clone());
        Ok(Json(db))
    })
}

/// Renames `name` to `new_name`; renaming to the current name is a no-op (safe to retry).
fn rename_in(record: &mut ClusterRecord, name: &str, new_name: &str) -> ApiResult<Database> {
    let id = record.cluster.id.clone();
    let Some(db) = record.databases.get(name).cloned() else {
        return Err(ApiError::not_found(format!("database {name:?} not found on cluster {id}")));
    };
    if name == new_name {
        return Ok(db);
    }
    if record.databases.contains_key(new_name) {
        return Err(ApiError::already_exists(format!("database {new_name:?} already exists on cluster {id}")));
    }
    record.databases.remove(name);
    let renamed = Database { name: new_name.to_string(), ..db };
    record.databases.insert(new_name.to_string(), renamed.clone());
    Ok(renamed)
}

pub(super) async fn rename(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, name)): ApiPath<(String, String)>,
    JsonBody(req): JsonBody<UpdateDatabaseRequest>,
) -> ApiResult<Json<Database>> {
    validation::database_name("new_name", &req.new_name)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| rename_in(record, &name, &req.new_name).map(Json))
}

pub(super) async fn rename_by_body(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<EditDatabaseBody>,
) -> ApiResult<Json<Database>> {
    if req.name.is_empty() {
        return Err(ApiError::invalid("field `name` is required"));
    }
    validation::database_name("new_name", &req.new_name)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| rename_in(record, &req.name, &req.new_name).map(Json))
}

pub(super) async fn delete(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, name)): ApiPath<(String, String)>,
) -> ApiResult<Json<Database>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        record
            .databases
            .remove(&name)
            .map(Json)
            .ok_or_else(|| ApiError::not_found(format!("database {name:?} not found on cluster {cluster_id}")))
    })
}
