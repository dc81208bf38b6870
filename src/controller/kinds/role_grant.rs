//! RoleGrant: one organisation role of one principal on one resource. A member of its
//! principal's list of roles: `GET /roles/{user_id}` is read once per principal and key through
//! the shared list cache, whatever the number of grants; a grant is added and revoked one at a
//! time. Granting is idempotent in the cloud and a grant's identity (principal, role, resource)
//! is its key, so a create whose answer was lost is found in the next list.

use kube::ResourceExt;
use kube::runtime::controller::Controller;

use crate::controller::Wiring;

use crate::api::child::ChildStatusFields;
use crate::api::role_grant::{GrantedRole, RoleGrantStatus};
use crate::api::{CockroachCluster, Folder, RoleGrant, ServiceAccount};
use crate::cloud::cache::ListKey;
use crate::cloud::models::{BuiltInRole, Organization, OrganizationUserRole, ResourceType, RoleResource};
use crate::cloud::{CloudClient, CloudError, Listing};
use crate::controller::context::Context;
use crate::controller::driver::Kind;
use crate::controller::error::ReconcileError;
use crate::controller::member::{Done, Member, MemberShape, Target, Waiting};
use crate::controller::peers;
use crate::controller::reason::Reason;
use crate::controller::reconciler::priority_of;

crate::impl_status_fields!(RoleGrantStatus, common.base);

impl Kind for RoleGrant {
    type Shape = MemberShape;
    const ORG_LEVEL: bool = true;
}

/// The one write a grant may need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleGrantChange {
    Grant(BuiltInRole),
}

/// The grant as the cloud names it, once the scope's cloud ID is known.
pub struct GrantInputs {
    grant: BuiltInRole,
}

fn wire_role(role: GrantedRole) -> OrganizationUserRole {
    let text = serde_json::to_value(role).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    OrganizationUserRole::from(text.as_str())
}

/// A grant's key, `TYPE/ID/ROLE`, back into the grant (for the revoke of a recorded key).
fn grant_from_key(key: &str) -> Option<BuiltInRole> {
    let mut parts = key.splitn(3, '/');
    let (resource_type, id, role) = (parts.next()?, parts.next()?, parts.next()?);
    Some(BuiltInRole {
        name: OrganizationUserRole::from(role),
        resource: RoleResource { resource_type: ResourceType::from(resource_type), id: (!id.is_empty()).then(|| id.to_string()) },
    })
}

impl RoleGrant {
    fn resource_type(&self) -> ResourceType {
        let scope = &self.spec.scope;
        if scope.organization == Some(true) {
            ResourceType::Organization
        } else if scope.folder_ref.is_some() || scope.folder_id.is_some() {
            ResourceType::Folder
        } else {
            ResourceType::Cluster
        }
    }

    /// The principal's cloud ID, or what it waits for.
    async fn principal(&self, ctx: &Context) -> Result<Result<String, Waiting>, ReconcileError> {
        match (&self.spec.user_id, &self.spec.service_account_ref) {
            (Some(id), _) => Ok(Ok(id.clone())),
            (None, Some(reference)) => {
                let namespace = self.namespace().unwrap_or_default();
                let id = peers::cloud_id_of::<ServiceAccount>(ctx, &namespace, &reference.name, |a| a.status.as_ref()?.service_account_id.clone()).await?;
                Ok(id.ok_or_else(|| {
                    Waiting::new(Reason::WaitingForServiceAccount, format!("spec.serviceAccountRef: ServiceAccount {namespace}/{} has no cloud service account yet", reference.name))
                }))
            }
            (None, None) => Err(ReconcileError::stalled(Reason::InvalidSpec, "exactly one of spec.serviceAccountRef or spec.userId must be set")),
        }
    }

    /// The cloud ID of the resource the role is granted on, or what it waits for.
    async fn resource_id(&self, ctx: &Context, target: &Target) -> Result<Result<String, Waiting>, ReconcileError> {
        let scope = &self.spec.scope;
        let namespace = self.namespace().unwrap_or_default();
        if scope.organization == Some(true) {
            return organization_id(ctx, &target.cloud).await.map(Ok);
        }
        if let Some(id) = scope.cluster_id.as_ref().or(scope.folder_id.as_ref()) {
            return Ok(Ok(id.clone()));
        }
        if let Some(reference) = &scope.cluster_ref {
            let id = peers::cloud_id_of::<CockroachCluster>(ctx, &namespace, &reference.name, |c| c.status.as_ref()?.cluster_id.clone()).await?;
            return Ok(id.ok_or_else(|| {
                Waiting::new(Reason::WaitingForCluster, format!("spec.scope.clusterRef: CockroachCluster {namespace}/{} has no cloud cluster yet", reference.name))
            }));
        }
        if let Some(reference) = &scope.folder_ref {
            let id = peers::cloud_id_of::<Folder>(ctx, &namespace, &reference.name, |f| f.status.as_ref()?.folder_id.clone()).await?;
            return Ok(id.ok_or_else(|| Waiting::new(Reason::WaitingForFolder, format!("spec.scope.folderRef: Folder {namespace}/{} has no cloud folder yet", reference.name))));
        }
        Err(ReconcileError::stalled(Reason::InvalidSpec, "spec.scope: exactly one of organization, folderRef, folderId, clusterRef or clusterId must be set"))
    }

    async fn grant(&self, ctx: &Context, target: &Target) -> Result<Result<BuiltInRole, Waiting>, ReconcileError> {
        Ok(self.resource_id(ctx, target).await?.map(|id| BuiltInRole {
            name: wire_role(self.spec.role),
            resource: RoleResource { resource_type: self.resource_type(), id: Some(id) },
        }))
    }
}

/// The organisation's ID, read once per API key and kept (it never changes).
async fn organization_id(ctx: &Context, cloud: &CloudClient) -> Result<String, ReconcileError> {
    let key = ListKey { key_fingerprint: cloud.key_fingerprint(), cluster_id: String::new() };
    let loaded = ctx
        .caches
        .list::<Organization>()
        .get_or_load_by(&key, |_| ctx.timing.resync * 12, || async { cloud.get_organization().await.map(|org| Listing { items: vec![org], pages: 1 }) })
        .await
        .map_err(|e| ReconcileError::cloud("reading the organization", e))?;
    Ok(loaded.value.items.first().map(|org| org.id.clone()).unwrap_or_default())
}

impl Member for RoleGrant {
    type Cloud = BuiltInRole;
    type Inputs = GrantInputs;
    type Change = RoleGrantChange;
    const NOUN: &'static str = "role grant";
    const OWNER_NOUN: &'static str = "principal";

    /// The key with the scope's ID as far as the spec names it; the full key comes from
    /// [`resolve_key`](Member::resolve_key).
    fn desired_key(&self) -> Result<String, ReconcileError> {
        let scope = &self.spec.scope;
        let id = scope.cluster_id.as_deref().or(scope.folder_id.as_deref()).unwrap_or_default();
        Ok(format!("{}/{id}/{}", self.resource_type().as_str(), wire_role(self.spec.role).as_str()))
    }

    /// The role; its scope and principal are how the grant was found.
    fn spec_of(item: &BuiltInRole) -> serde_json::Value {
        serde_json::json!({"role": item.name})
    }

    /// A grant waiting for the account, folder or cluster it names proceeds as soon as that one
    /// changes (gets its cloud ID), instead of polling.
    fn watches(controller: Controller<RoleGrant>, wiring: &Wiring) -> Controller<RoleGrant> {
        let controller = peers::wake_on::<ServiceAccount, _>(controller, wiring, |g| g.spec.service_account_ref.as_ref().map(|r| r.name.clone()));
        let controller = peers::wake_on::<Folder, _>(controller, wiring, |g| g.spec.scope.folder_ref.as_ref().map(|r| r.name.clone()));
        peers::wake_on::<CockroachCluster, _>(controller, wiring, |g| g.spec.scope.cluster_ref.as_ref().map(|r| r.name.clone()))
    }

    const OWNER_KIND: &'static str = "ServiceAccount";
    const OWNER_FIELD: &'static str = "userId";

    fn export_spec(item: &BuiltInRole) -> serde_json::Value {
        let id = item.resource.id.clone();
        let scope = match item.resource.resource_type {
            ResourceType::Organization => serde_json::json!({"organization": true}),
            ResourceType::Folder => serde_json::json!({"folderId": id}),
            _ => serde_json::json!({"clusterId": id}),
        };
        serde_json::json!({"role": item.name, "scope": scope})
    }

    fn spec_owner(&self) -> Option<String> {
        self.spec.user_id.clone()
    }

    fn key_of(item: &BuiltInRole) -> String {
        item.key()
    }

    async fn list(cloud: &CloudClient, user_id: &str) -> Result<Listing<BuiltInRole>, CloudError> {
        match cloud.get_roles_for_user(user_id).await {
            Ok(roles) => Ok(Listing { items: roles.roles, pages: 1 }),
            // Unlike a cluster that is still being created, a principal the cloud does not know
            // is the spec's mistake (reported Stalled, not waited for).
            Err(CloudError::NotFound(message)) => Err(CloudError::InvalidArgument(format!("the principal (spec.userId or spec.serviceAccountRef) is not in the organization: {message}"))),
            Err(other) => Err(other),
        }
    }

    async fn resolve(&self, ctx: &Context) -> Result<Result<Target, Waiting>, ReconcileError> {
        let principal = match self.principal(ctx).await? {
            Ok(principal) => principal,
            Err(waiting) => return Ok(Err(waiting)),
        };
        let namespace = self.namespace().unwrap_or_default();
        let cloud = ctx.cloud_for(&namespace, self.spec.credentials_ref.as_ref(), priority_of(self)).await?;
        let list_key = ListKey { key_fingerprint: cloud.key_fingerprint(), cluster_id: principal.clone() };
        Ok(Ok(Target { cluster_id: principal, cloud, list_key }))
    }

    async fn resolve_key(&self, ctx: &Context, target: &Target) -> Result<Result<String, Waiting>, ReconcileError> {
        Ok(self.grant(ctx, target).await?.map(|grant| grant.key()))
    }

    fn record_owner(status: &mut RoleGrantStatus, owner_id: &str) {
        status.principal_id = Some(owner_id.to_string());
    }

    fn recorded_owner(status: &RoleGrantStatus) -> Option<&str> {
        status.principal_id.as_deref()
    }

    async fn inputs(&self, ctx: &Context, target: &Target, _listed: &[BuiltInRole]) -> Result<GrantInputs, ReconcileError> {
        match self.grant(ctx, target).await? {
            Ok(grant) => Ok(GrantInputs { grant }),
            // resolve_key found it a moment ago; gone since: look again.
            Err(_) => Err(ReconcileError::transient(Reason::WaitingForCluster, "the scope's cloud ID is not known any more")),
        }
    }

    fn plan(&self, inputs: &GrantInputs, listed: &[BuiltInRole], _status: &RoleGrantStatus) -> Result<Option<RoleGrantChange>, ReconcileError> {
        Ok((!listed.contains(&inputs.grant)).then(|| RoleGrantChange::Grant(inputs.grant.clone())))
    }

    async fn execute(&self, _ctx: &Context, target: &Target, _inputs: &GrantInputs, change: RoleGrantChange) -> Result<Done<BuiltInRole>, ReconcileError> {
        let RoleGrantChange::Grant(grant) = change;
        let roles = target.cloud.add_user_to_role(&target.cluster_id, &grant).await.map_err(|e| match e {
            // The principal or the resource named in the spec does not exist: a person has to act.
            CloudError::NotFound(message) => ReconcileError::stalled(Reason::CloudRejectedSpec, format!("granting the role: spec.userId or spec.scope names nothing the cloud knows: {message}")),
            other => ReconcileError::cloud("granting the role", other),
        })?;
        let message = format!("granted {} on {} to principal {}", grant.name.as_str(), grant.resource.resource_type.as_str().to_lowercase(), target.cluster_id);
        Ok(match roles.roles.into_iter().find(|r| *r == grant) {
            Some(now) => Done::changed(Reason::Created, message, now),
            None => Done::to_confirm(Reason::Created, message),
        })
    }

    fn record(&self, status: &mut RoleGrantStatus, _inputs: &GrantInputs, _item: Option<&BuiltInRole>) {
        // The principal is recorded by record_owner; nothing else is observed of a grant.
        let _ = status.common();
    }

    async fn delete(cloud: &CloudClient, user_id: &str, key: &str) -> Result<(), CloudError> {
        let Some(grant) = grant_from_key(key) else { return Ok(()) };
        cloud.remove_user_from_role(user_id, &grant).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(resource_type: ResourceType, id: &str, role: OrganizationUserRole) -> BuiltInRole {
        BuiltInRole { name: role, resource: RoleResource { resource_type, id: Some(id.into()) } }
    }

    fn spec(yaml: &str) -> RoleGrant {
        let spec = serde_norway::from_str(yaml).unwrap();
        RoleGrant::new("g", spec)
    }

    #[test]
    fn a_grant_is_sent_only_when_the_principal_does_not_hold_it() {
        let wanted = grant(ResourceType::Cluster, "c1", OrganizationUserRole::ClusterAdmin);
        let inputs = GrantInputs { grant: wanted.clone() };
        let g = spec("userId: 0a1b2c3d-0000-4000-8000-000000000001\nrole: CLUSTER_ADMIN\nscope: {clusterId: 0a1b2c3d-0000-4000-8000-000000000002}\n");
        let status = RoleGrantStatus::default();
        assert_eq!(g.plan(&inputs, &[], &status).unwrap(), Some(RoleGrantChange::Grant(wanted.clone())));
        let other = grant(ResourceType::Cluster, "c1", OrganizationUserRole::ClusterDeveloper);
        assert_eq!(g.plan(&inputs, std::slice::from_ref(&other), &status).unwrap(), Some(RoleGrantChange::Grant(wanted.clone())), "another role on the same cluster is not this grant");
        assert_eq!(g.plan(&inputs, &[other, wanted], &status).unwrap(), None);
    }

    #[test]
    fn keys_name_the_scope_and_the_role_and_read_back() {
        let g = spec("userId: 0a1b2c3d-0000-4000-8000-000000000001\nrole: FOLDER_ADMIN\nscope: {folderId: 0a1b2c3d-0000-4000-8000-000000000003}\n");
        assert_eq!(g.desired_key().unwrap(), "FOLDER/0a1b2c3d-0000-4000-8000-000000000003/FOLDER_ADMIN");
        let org = spec("userId: 0a1b2c3d-0000-4000-8000-000000000001\nrole: ORG_MEMBER\nscope: {organization: true}\n");
        assert_eq!(org.resource_type(), ResourceType::Organization);
        let parsed = grant_from_key("ORGANIZATION/org-1/ORG_MEMBER").unwrap();
        assert_eq!(parsed, grant(ResourceType::Organization, "org-1", OrganizationUserRole::OrgMember));
        assert_eq!(parsed.key(), "ORGANIZATION/org-1/ORG_MEMBER");
        assert_eq!(grant_from_key("nonsense"), None);
    }

    #[test]
    fn every_role_of_the_crd_is_a_role_of_the_api() {
        for role in [GrantedRole::BillingCoordinator, GrantedRole::ClusterOperatorWriter, GrantedRole::MetricsViewer, GrantedRole::FolderMover] {
            assert!(!matches!(wire_role(role), OrganizationUserRole::Unknown(_)), "{role:?}");
        }
    }
}
