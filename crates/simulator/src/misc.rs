//! The organisation, the version and region catalogues, and backup configuration.

use axum::Json;
use axum::extract::Extension;
use chrono::Utc;

use crdb_cloud::models::{
    BackupConfiguration, CloudProvider, ListAvailableRegionsResponse, ListClusterVersionsResponse, Organization,
    UpdateBackupConfiguration,
};

use super::SimState;
use super::catalog;
use super::children::with_cluster;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx, QueryParams};
use super::pagination::paginate;
use super::state::Access;
use super::validation;

pub(super) async fn get_organization(sim: SimState, Extension(ctx): Extension<OrgCtx>) -> ApiResult<Json<Organization>> {
    let mut store = sim.store();
    Ok(Json(store.org(&ctx.org_id, Utc::now())?.info.clone()))
}

/// Newest first. The catalogue is fixed, so its position is a stable keyset key.
pub(super) async fn list_versions(sim: SimState, query: QueryParams) -> ApiResult<Json<ListClusterVersionsResponse>> {
    let params = query.page(sim.max_page_size)?;
    let items = catalog::versions().into_iter().enumerate().map(|(i, v)| (format!("{i:04}"), v));
    let (versions, pagination) = paginate(items, &params);
    Ok(Json(ListClusterVersionsResponse { versions, pagination: Some(pagination) }))
}

/// Sorted by distance; the key is the zero-padded distance then the name, which orders the same.
pub(super) async fn list_regions(sim: SimState, query: QueryParams) -> ApiResult<Json<ListAvailableRegionsResponse>> {
    let params = query.page(sim.max_page_size)?;
    let provider = query.get("provider").map(CloudProvider::from);
    validation::known_opt("provider", provider.as_ref())?;
    let serverless = query.bool("serverless", false)?;
    let items = catalog::available_regions(provider.as_ref(), serverless)
        .into_iter()
        .map(|r| (format!("{:012.3}\u{0}{}\u{0}{}", r.distance, r.name, r.provider), r));
    let (regions, pagination) = paginate(items, &params);
    Ok(Json(ListAvailableRegionsResponse { regions, pagination: Some(pagination) }))
}

pub(super) async fn get_backups(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
) -> ApiResult<Json<BackupConfiguration>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| Ok(Json(record.backup.clone())))
}

pub(super) async fn update_backups(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<UpdateBackupConfiguration>,
) -> ApiResult<Json<BackupConfiguration>> {
    validation::backup_values(req.frequency_minutes, req.retention_days)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        if let Some(days) = req.retention_days.filter(|d| *d != record.backup.retention_days) {
            if record.retention_changed {
                return Err(ApiError::failed_precondition(format!(
                    "retention_days of cluster {cluster_id} has already been changed once; contact support to change it again"
                )));
            }
            record.backup.retention_days = days;
            record.retention_changed = true;
        }
        if let Some(enabled) = req.enabled {
            record.backup.enabled = enabled;
        }
        if let Some(minutes) = req.frequency_minutes {
            record.backup.frequency_minutes = minutes;
        }
        Ok(Json(record.backup.clone()))
    })
}
