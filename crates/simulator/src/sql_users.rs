//! SQL users: list, create, delete, change password. Sorted by name.

use axum::Json;
use axum::extract::Extension;

use crdb_cloud::models::{CreateSqlUserRequest, ListSqlUsersResponse, SqlUser, UpdateSqlUserPasswordRequest};

use super::SimState;
use super::children::{page_of, with_cluster};
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx, QueryParams};
use super::state::Access;
use super::validation;

fn user_not_found(name: &str, cluster_id: &str) -> ApiError {
    ApiError::not_found(format!("SQL user {name:?} not found on cluster {cluster_id}"))
}

pub(super) async fn list(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    query: QueryParams,
) -> ApiResult<Json<ListSqlUsersResponse>> {
    let params = query.page(sim.max_page_size)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        let (users, pagination) =
            page_of(&record.sql_users, &params, String::clone, |name, _| SqlUser { name: name.clone() });
        Ok(Json(ListSqlUsersResponse { users, pagination: Some(pagination) }))
    })
}

pub(super) async fn create(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<CreateSqlUserRequest>,
) -> ApiResult<Json<SqlUser>> {
    validation::sql_user_name(&req.name)?;
    validation::password(&req.password)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        if record.sql_users.contains_key(&req.name) {
            return Err(ApiError::already_exists(format!(
                "SQL user {:?} already exists on cluster {cluster_id}",
                req.name
            )));
        }
        record.sql_users.insert(req.name.clone(), req.password);
        Ok(Json(SqlUser { name: req.name }))
    })
}

pub(super) async fn delete(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, name)): ApiPath<(String, String)>,
) -> ApiResult<Json<SqlUser>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        record.sql_users.remove(&name).ok_or_else(|| user_not_found(&name, &cluster_id))?;
        Ok(Json(SqlUser { name }))
    })
}

pub(super) async fn update_password(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, name)): ApiPath<(String, String)>,
    JsonBody(req): JsonBody<UpdateSqlUserPasswordRequest>,
) -> ApiResult<Json<SqlUser>> {
    validation::password(&req.password)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        let stored = record.sql_users.get_mut(&name).ok_or_else(|| user_not_found(&name, &cluster_id))?;
        *stored = req.password;
        Ok(Json(SqlUser { name }))
    })
}
