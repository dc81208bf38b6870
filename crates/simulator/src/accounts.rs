//! Service accounts and their API keys (organisation level).
//!
//! The rules a user meets: a key's secret is in the create's answer and nowhere else (GET and
//! list show the key without it); a key created here authenticates requests for its organisation
//! until it is deleted; names need not be unique; deleting a service account deletes its keys.
//! Lists are keyset-paginated in creation order.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Extension;
use chrono::Utc;

use crdb_cloud::models::{
    ApiKeyInfo, ApiKeySecret, CreateApiKeyRequest, CreateApiKeyResponse, CreateServiceAccountRequest, ListApiKeysResponse,
    ListServiceAccountsResponse, ServiceAccount, UpdateApiKeySpecification, UpdateServiceAccountSpecification,
};

use super::SimState;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx, QueryParams};
use super::pagination::paginate;
use super::state::{Org, rfc3339};

/// The longest name or description the simulator takes (the description gives none; the console
/// caps names well below this).
const MAX_TEXT: usize = 256;

/// An organisation's service accounts and API keys, by id.
#[derive(Debug, Default)]
pub struct Accounts {
    pub service_accounts: BTreeMap<String, ServiceAccount>,
    pub api_keys: BTreeMap<String, ApiKeyInfo>,
}

/// Creation order first, then the id, so pages follow creation and every key is unique.
fn sort_key(created_at: &str, id: &str) -> String {
    format!("{created_at}|{id}")
}

fn text(field: &str, value: &str, required: bool) -> ApiResult<()> {
    if required && value.trim().is_empty() {
        return Err(ApiError::invalid(format!("`{field}` is required")));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(format!("`{field}` must be at most {MAX_TEXT} characters")));
    }
    Ok(())
}

fn account_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("service account {id} not found"))
}

fn key_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("api key {id} not found"))
}

fn account<'a>(org: &'a mut Org, id: &str) -> ApiResult<&'a mut ServiceAccount> {
    org.accounts.service_accounts.get_mut(id).ok_or_else(|| account_not_found(id))
}

pub(super) async fn list_service_accounts(sim: SimState, Extension(ctx): Extension<OrgCtx>, query: QueryParams) -> ApiResult<Json<ListServiceAccountsResponse>> {
    let params = query.page(sim.max_page_size)?;
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    let items = org.accounts.service_accounts.values().map(|a| (sort_key(&a.created_at, &a.id), a.clone()));
    let (service_accounts, pagination) = paginate(sorted(items), &params);
    Ok(Json(ListServiceAccountsResponse { service_accounts, pagination: Some(pagination) }))
}

pub(super) async fn create_service_account(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    JsonBody(req): JsonBody<CreateServiceAccountRequest>,
) -> ApiResult<Json<ServiceAccount>> {
    text("name", &req.name, true)?;
    text("description", &req.description, false)?;
    let now = Utc::now();
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, now)?;
    let creator_name = format!("admin@{}", org.info.label);
    let created = ServiceAccount {
        id: uuid::Uuid::new_v4().to_string(),
        name: req.name,
        description: req.description,
        creator_name,
        created_at: rfc3339(now),
        roles: req.roles,
        group_roles: Vec::new(),
    };
    org.accounts.service_accounts.insert(created.id.clone(), created.clone());
    Ok(Json(created))
}

pub(super) async fn get_service_account(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<ServiceAccount>> {
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    Ok(Json(account(org, &id)?.clone()))
}

pub(super) async fn update_service_account(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<UpdateServiceAccountSpecification>,
) -> ApiResult<Json<ServiceAccount>> {
    if let Some(name) = &req.name {
        text("name", name, true)?;
    }
    if let Some(description) = &req.description {
        text("description", description, false)?;
    }
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    let stored = account(org, &id)?;
    if let Some(name) = req.name {
        stored.name = name;
    }
    if let Some(description) = req.description {
        stored.description = description;
    }
    Ok(Json(stored.clone()))
}

/// Deletes the account and every API key of it (those stop authenticating at once).
pub(super) async fn delete_service_account(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<ServiceAccount>> {
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    let removed = org.accounts.service_accounts.remove(&id).ok_or_else(|| account_not_found(&id))?;
    // Its role grants go with it.
    org.roles.remove(&id);
    let keys: Vec<String> = org.accounts.api_keys.values().filter(|k| k.service_account_id == id).map(|k| k.id.clone()).collect();
    for key in &keys {
        org.accounts.api_keys.remove(key);
    }
    for key in &keys {
        store.revoke_key(key);
    }
    Ok(Json(removed))
}

pub(super) async fn list_api_keys(sim: SimState, Extension(ctx): Extension<OrgCtx>, query: QueryParams) -> ApiResult<Json<ListApiKeysResponse>> {
    let params = query.page(sim.max_page_size)?;
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    let only = query.get("service_account_id");
    if let Some(id) = only {
        account(org, id)?;
    }
    let items = org
        .accounts
        .api_keys
        .values()
        .filter(|k| only.is_none_or(|id| k.service_account_id == id))
        .map(|k| (sort_key(&k.created_at, &k.id), k.clone()));
    let (api_keys, pagination) = paginate(sorted(items), &params);
    Ok(Json(ListApiKeysResponse { api_keys, pagination: Some(pagination) }))
}

/// The one answer that carries the key's secret; the simulator keeps only its hash after.
pub(super) async fn create_api_key(sim: SimState, Extension(ctx): Extension<OrgCtx>, JsonBody(req): JsonBody<CreateApiKeyRequest>) -> ApiResult<Json<CreateApiKeyResponse>> {
    text("name", &req.name, true)?;
    if req.service_account_id.trim().is_empty() {
        return Err(ApiError::invalid("`service_account_id` is required"));
    }
    let now = Utc::now();
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, now)?;
    account(org, &req.service_account_id)?;
    let id = format!("CCDB1_{}", &uuid::Uuid::new_v4().simple().to_string()[..22]);
    let secret = format!("{id}_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let key = ApiKeyInfo { id: id.clone(), name: req.name, service_account_id: req.service_account_id, created_at: rfc3339(now) };
    org.accounts.api_keys.insert(id.clone(), key.clone());
    store.issue_key(&secret, &ctx.org_id, &id);
    Ok(Json(CreateApiKeyResponse { api_key: key, secret: ApiKeySecret::new(secret) }))
}

pub(super) async fn get_api_key(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<ApiKeyInfo>> {
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    org.accounts.api_keys.get(&id).cloned().map(Json).ok_or_else(|| key_not_found(&id))
}

pub(super) async fn update_api_key(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<UpdateApiKeySpecification>,
) -> ApiResult<Json<ApiKeyInfo>> {
    if let Some(name) = &req.name {
        text("name", name, true)?;
    }
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    let stored = org.accounts.api_keys.get_mut(&id).ok_or_else(|| key_not_found(&id))?;
    if let Some(name) = req.name {
        stored.name = name;
    }
    Ok(Json(stored.clone()))
}

/// The key stops authenticating at once.
pub(super) async fn delete_api_key(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<ApiKeyInfo>> {
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    let removed = org.accounts.api_keys.remove(&id).ok_or_else(|| key_not_found(&id))?;
    store.revoke_key(&id);
    Ok(Json(removed))
}

fn sorted<T>(items: impl Iterator<Item = (String, T)>) -> Vec<(String, T)> {
    let mut items: Vec<(String, T)> = items.collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items
}
