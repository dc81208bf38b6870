//! `RoleGrant`: one organisation role held by one principal (a service account or a person) on
//! one resource (the organisation, a folder or a cluster).

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::child::ChildStatus;
use super::common::{CredentialsRef, DeletionPolicy, LocalClusterRef};

/// Another resource of this operator in the same namespace, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
pub struct LocalObjectRef {
    /// Name of the resource, in this namespace.
    #[x_kube(validation = Rule::new("self.size() > 0").message("name must not be empty"))]
    pub name: String,
}

/// The organisation roles of the Cloud API (`OrganizationUserRole.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GrantedRole {
    BillingCoordinator,
    OrgAdmin,
    OrgMember,
    ClusterAdmin,
    ClusterOperatorWriter,
    ClusterDeveloper,
    ClusterCreator,
    FolderAdmin,
    FolderMover,
    MetricsViewer,
    ClusterMonitor,
    BillingViewer,
}

/// What the role is granted on: exactly one of these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.organization) ? 1 : 0) + (has(self.folderRef) ? 1 : 0) + (has(self.folderId) ? 1 : 0) + (has(self.clusterRef) ? 1 : 0) + (has(self.clusterId) ? 1 : 0) == 1").message("spec.scope: exactly one of organization, folderRef, folderId, clusterRef or clusterId must be set"))]
#[x_kube(validation = Rule::new("!has(self.organization) || self.organization").message("spec.scope.organization: set it to true to grant on the organisation, or set another scope"))]
pub struct GrantScope {
    /// `true`: the role is granted on the whole organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<bool>,
    /// A Folder resource in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_ref: Option<LocalObjectRef>,
    /// ID of a cloud folder not managed by this operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
    pub folder_id: Option<String>,
    /// A CockroachCluster resource in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_ref: Option<LocalClusterRef>,
    /// ID of a cloud cluster not managed by this operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
    pub cluster_id: Option<String>,
}

/// One organisation role for one principal on one resource. The principal, the role and the
/// scope are the grant's identity and cannot change: declare another RoleGrant instead.
#[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "crdbcloud.io",
    version = "v1alpha1",
    kind = "RoleGrant",
    plural = "rolegrants",
    namespaced,
    status = "RoleGrantStatus",
    shortname = "crdbgrant",
    category = "crdbcloud",
    printcolumn = r#"{"name":"Role","type":"string","jsonPath":".spec.role"}"#,
    printcolumn = r#"{"name":"Principal","type":"string","jsonPath":".status.principalId","priority":1}"#,
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.serviceAccountRef) != has(self.userId)").message("exactly one of spec.serviceAccountRef or spec.userId must be set"))]
#[x_kube(validation = Rule::new("!(self.role in ['BILLING_COORDINATOR', 'ORG_ADMIN', 'ORG_MEMBER', 'CLUSTER_CREATOR', 'BILLING_VIEWER']) || has(self.scope.organization)").message("spec.role: this role is granted on the organisation only; set spec.scope.organization: true"))]
#[x_kube(validation = Rule::new("!(self.role in ['FOLDER_ADMIN', 'FOLDER_MOVER']) || !(has(self.scope.clusterRef) || has(self.scope.clusterId))").message("spec.role: a folder role is granted on a folder or the organisation, not on a cluster"))]
#[x_kube(validation = Rule::new("self.role == oldSelf.role && self.scope == oldSelf.scope && has(self.serviceAccountRef) == has(oldSelf.serviceAccountRef) && (!has(self.serviceAccountRef) || self.serviceAccountRef == oldSelf.serviceAccountRef) && has(self.userId) == has(oldSelf.userId) && (!has(self.userId) || self.userId == oldSelf.userId)").message("spec.serviceAccountRef, spec.userId, spec.role and spec.scope are the grant's identity and are immutable: declare another RoleGrant"))]
pub struct RoleGrantSpec {
    /// The principal: a ServiceAccount resource in this namespace. Exactly one of
    /// serviceAccountRef or userId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<LocalObjectRef>,
    /// The principal: the ID of a person or service account not managed by this operator.
    /// Exactly one of serviceAccountRef or userId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
    pub user_id: Option<String>,
    /// The role. Organisation roles (ORG_ADMIN, ORG_MEMBER, BILLING_*, CLUSTER_CREATOR) take
    /// `scope.organization`; folder roles a folder or the organisation; cluster roles any scope.
    pub role: GrantedRole,
    /// What the role is granted on.
    pub scope: GrantScope,
    /// `Delete` (default) revokes the role when this resource is deleted; `Retain` keeps it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Manage` (default) makes the cloud match the spec; `Observe` never writes to the cloud and
    /// lists the differences in `status.drift`.
    #[serde(default)]
    pub management_policy: crate::api::common::ManagementPolicy,
    /// Secret with the API key, in this namespace. Defaults to the operator-wide key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<CredentialsRef>,
}

/// What the operator observed of a role grant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleGrantStatus {
    #[serde(flatten)]
    pub common: ChildStatus,
    /// The cloud ID of the principal holding the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
}
crate::impl_child_status!(RoleGrantStatus);

/// A role grant's principal and scope are not a cluster: it lives in its principal's list.
impl super::child::ChildSpec for RoleGrantSpec {
    fn cluster_ref(&self) -> Option<&LocalClusterRef> {
        None
    }
    fn cluster_id(&self) -> Option<&str> {
        None
    }
}
