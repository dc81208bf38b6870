//! IP allowlist: list, add (POST with the CIDR in the body, or PUT with it in the path), update,
//! delete. The CIDR travels in the path as two segments, `{cidr_ip}/{cidr_mask}`. Sorted by
//! network address.

use axum::Json;
use axum::extract::Extension;

use crdb_cloud::models::{AllowlistEntry, AllowlistEntryUpdate, ListAllowlistResponse};

use super::SimState;
use super::children::{page_of, with_cluster};
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx, QueryParams};
use super::state::{Access, CidrKey, ClusterRecord};
use super::validation;

fn key_of(field: &str, ip: &str, mask: i32) -> ApiResult<CidrKey> {
    let (addr, mask) = validation::cidr(field, ip, mask)?;
    Ok(CidrKey(u32::from(addr), mask))
}

fn path_key(ip: &str, mask: &str) -> ApiResult<CidrKey> {
    key_of("cidr_ip", ip, validation::cidr_mask_segment(mask)?)
}

fn not_found(key: &CidrKey, cluster_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "allowlist entry {}/{} not found on cluster {cluster_id}",
        std::net::Ipv4Addr::from(key.0),
        key.1
    ))
}

fn insert_new(record: &mut ClusterRecord, key: CidrKey, entry: AllowlistEntry) -> ApiResult<AllowlistEntry> {
    if record.allowlist.contains_key(&key) {
        return Err(ApiError::already_exists(format!(
            "allowlist entry {}/{} already exists on cluster {}",
            entry.cidr_ip, entry.cidr_mask, record.cluster.id
        )));
    }
    record.allowlist.insert(key, entry.clone());
    Ok(entry)
}

/// An entry as stored: the address normalised, an absent name reported as "" like the service.
fn entry(key: CidrKey, name: Option<String>, sql: bool, ui: bool) -> AllowlistEntry {
    AllowlistEntry {
        cidr_ip: std::net::Ipv4Addr::from(key.0).to_string(),
        cidr_mask: i32::from(key.1),
        name: Some(name.unwrap_or_default()),
        sql,
        ui,
    }
}

pub(super) async fn list(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    query: QueryParams,
) -> ApiResult<Json<ListAllowlistResponse>> {
    let params = query.page(sim.max_page_size)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        let (allowlist, pagination) = page_of(&record.allowlist, &params, CidrKey::sort_key, |_, e| e.clone());
        Ok(Json(ListAllowlistResponse { allowlist, propagating: false, pagination: Some(pagination) }))
    })
}

pub(super) async fn add(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<AllowlistEntry>,
) -> ApiResult<Json<AllowlistEntry>> {
    let key = key_of("cidr_ip", &req.cidr_ip, req.cidr_mask)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        insert_new(record, key, entry(key, req.name, req.sql, req.ui)).map(Json)
    })
}

/// AddAllowlistEntry2: the same creation with the CIDR in the path.
pub(super) async fn put(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, ip, mask)): ApiPath<(String, String, String)>,
    JsonBody(req): JsonBody<AllowlistEntryUpdate>,
) -> ApiResult<Json<AllowlistEntry>> {
    let key = path_key(&ip, &mask)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        insert_new(record, key, entry(key, req.name, req.sql, req.ui)).map(Json)
    })
}

pub(super) async fn update(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, ip, mask)): ApiPath<(String, String, String)>,
    JsonBody(req): JsonBody<AllowlistEntryUpdate>,
) -> ApiResult<Json<AllowlistEntry>> {
    let key = path_key(&ip, &mask)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        let stored = record.allowlist.get_mut(&key).ok_or_else(|| not_found(&key, &cluster_id))?;
        stored.sql = req.sql;
        stored.ui = req.ui;
        if let Some(name) = req.name {
            stored.name = Some(name);
        }
        Ok(Json(stored.clone()))
    })
}

pub(super) async fn delete(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, ip, mask)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<AllowlistEntry>> {
    let key = path_key(&ip, &mask)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        record.allowlist.remove(&key).map(Json).ok_or_else(|| not_found(&key, &cluster_id))
    })
}
