//! Role grants: `GET /roles/{user_id}`, and one grant at a time with `POST`/`DELETE
//! /roles/{user_id}/{resource_type}/{resource_id}/{role_name}`. Every answer is the user's roles
//! after the call (`GetAllRolesForUserResponse`). The rules a client meets: the role and resource
//! type are the description's enums; the principal must exist in the organisation (the API key's
//! own service account, or one created through the API; its grants go when it is deleted); the
//! resource must exist (the
//! organisation itself, a folder, a live cluster); organisation roles are granted on the organisation only,
//! folder roles on a folder or the organisation; granting a role held already changes nothing;
//! revoking one not held is NotFound. What the grants allow a key of the principal is enforced in
//! [`permissions`](super::permissions).

use axum::Json;
use axum::extract::Extension;
use chrono::Utc;

use crdb_cloud::models::{BuiltInRole, GetAllRolesForUserResponse, OrganizationUserRole, ResourceType, RoleResource};

use super::SimState;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, OrgCtx};
use super::state::Org;

fn answer(org: &Org, user_id: &str) -> Json<GetAllRolesForUserResponse> {
    Json(GetAllRolesForUserResponse { roles: org.roles.get(user_id).cloned().unwrap_or_default(), group_roles: Vec::new() })
}

/// Whether `user_id` names a principal of the organisation: the API key's own service account or
/// one created through the API (the simulator has no person users).
fn principal_known(org: &Org, user_id: &str) -> bool {
    user_id == org.creator_id || org.accounts.service_accounts.contains_key(user_id)
}

fn check_principal(org: &Org, user_id: &str) -> ApiResult<()> {
    if principal_known(org, user_id) { Ok(()) } else { Err(ApiError::not_found(format!("user {user_id} not found in the organization"))) }
}

/// The grant the path names, checked against the enums, the resource and the role's scope.
fn grant_of(org: &Org, resource_type: &str, resource_id: &str, role_name: &str) -> ApiResult<BuiltInRole> {
    let resource_type = ResourceType::parse_known(resource_type)
        .ok_or_else(|| ApiError::invalid(format!("invalid value {resource_type:?} for field `resource_type`: one of {:?}", ResourceType::KNOWN)))?;
    let role = OrganizationUserRole::parse_known(role_name)
        .ok_or_else(|| ApiError::invalid(format!("invalid value {role_name:?} for field `role_name`: one of {:?}", OrganizationUserRole::KNOWN)))?;
    let exists = match resource_type {
        ResourceType::Organization => resource_id == org.info.id,
        ResourceType::Cluster => org.clusters.get(resource_id).is_some_and(|record| !record.is_deleted()),
        ResourceType::Folder => org.folders.contains_key(resource_id),
        ResourceType::Unknown(_) => false,
    };
    if !exists {
        return Err(ApiError::not_found(format!("{} {resource_id} not found", resource_type.as_str().to_lowercase())));
    }
    use OrganizationUserRole::*;
    let allowed: &[ResourceType] = match role {
        BillingCoordinator | OrgAdmin | OrgMember | ClusterCreator | BillingViewer => &[ResourceType::Organization],
        FolderAdmin | FolderMover => &[ResourceType::Organization, ResourceType::Folder],
        _ => &[ResourceType::Organization, ResourceType::Folder, ResourceType::Cluster],
    };
    if !allowed.contains(&resource_type) {
        return Err(ApiError::invalid(format!("role {} cannot be granted on a {} resource", role.as_str(), resource_type.as_str())));
    }
    Ok(BuiltInRole { name: role, resource: RoleResource { resource_type, id: Some(resource_id.to_string()) } })
}

pub(super) async fn get_for_user(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(user_id): ApiPath<String>) -> ApiResult<Json<GetAllRolesForUserResponse>> {
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    check_principal(org, &user_id)?;
    Ok(answer(org, &user_id))
}

pub(super) async fn add(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((user_id, resource_type, resource_id, role_name)): ApiPath<(String, String, String, String)>,
) -> ApiResult<Json<GetAllRolesForUserResponse>> {
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    check_principal(org, &user_id)?;
    let grant = grant_of(org, &resource_type, &resource_id, &role_name)?;
    let roles = org.roles.entry(user_id.clone()).or_default();
    if !roles.contains(&grant) {
        roles.push(grant);
    }
    Ok(answer(org, &user_id))
}

pub(super) async fn remove(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((user_id, resource_type, resource_id, role_name)): ApiPath<(String, String, String, String)>,
) -> ApiResult<Json<GetAllRolesForUserResponse>> {
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    check_principal(org, &user_id)?;
    let roles = org.roles.entry(user_id.clone()).or_default();
    let before = roles.len();
    roles.retain(|r| !(r.resource.resource_type.as_str() == resource_type && r.resource.id.as_deref() == Some(resource_id.as_str()) && r.name.as_str() == role_name));
    if roles.len() == before {
        return Err(ApiError::not_found(format!("user {user_id} does not hold {role_name} on {resource_type} {resource_id}")));
    }
    Ok(answer(org, &user_id))
}
