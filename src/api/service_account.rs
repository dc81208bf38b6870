//! `ServiceAccount`: a CockroachDB Cloud service account (an organisation-level, non-human
//! identity). Its roles are granted by RoleGrant resources; its API keys are APIKey resources.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CredentialsRef, DeletionPolicy, StatusBase};

/// A CockroachDB Cloud service account. Organisation-level: honoured only in namespaces the
/// operator trusts for organisation-level kinds (`--org-namespaces`).
#[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "crdbcloud.io",
    version = "v1alpha1",
    kind = "ServiceAccount",
    plural = "serviceaccounts",
    namespaced,
    status = "ServiceAccountStatus",
    shortname = "crdbsa",
    category = "crdbcloud",
    printcolumn = r#"{"name":"Name","type":"string","jsonPath":".status.name"}"#,
    printcolumn = r#"{"name":"Service Account ID","type":"string","priority":1,"jsonPath":".status.serviceAccountId"}"#,
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.adoptServiceAccountId) == has(oldSelf.adoptServiceAccountId) && (!has(self.adoptServiceAccountId) || self.adoptServiceAccountId == oldSelf.adoptServiceAccountId)").message("spec.adoptServiceAccountId is immutable"))]
pub struct ServiceAccountSpec {
    /// Name of the service account in CockroachDB Cloud (1-256 characters; names need not be
    /// unique in the organisation). Defaults to metadata.name. Changing it renames the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    #[x_kube(validation = Rule::new("self.trim().size() > 0").message("spec.name must not be blank"))]
    pub name: Option<String>,

    /// Description of the service account (at most 256 characters). Defaults to empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub description: Option<String>,

    /// ID of an existing cloud service account to manage instead of creating one; its name and
    /// description are then brought in line with this spec. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 36), regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
    pub adopt_service_account_id: Option<String>,

    /// What happens to the cloud service account when this resource is deleted: `Delete`
    /// (default) deletes it (and with it its API keys), `Retain` leaves it in place.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Manage` (default) makes the cloud match the spec; `Observe` never writes to the cloud and
    /// lists the differences in `status.drift`.
    #[serde(default)]
    pub management_policy: crate::api::common::ManagementPolicy,

    /// Secret with the CockroachDB Cloud API key to use, in this namespace. Defaults to the
    /// operator-wide key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<CredentialsRef>,
}

/// What the operator observed of the service account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountStatus {
    #[serde(flatten)]
    pub base: StatusBase,
    /// ID of the cloud service account (what APIKey and RoleGrant resources use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<String>,
    /// When a create request was sent whose answer has not been recorded yet. Until then, the
    /// operator looks for a service account of this name created after this time before creating
    /// one (see the README: a lost create answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<String>,
    /// Name of the service account, as the cloud reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description, as the cloud reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Creation time, as the cloud reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl ServiceAccount {
    pub fn cloud_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
    pub fn description(&self) -> String {
        self.spec.description.clone().unwrap_or_default()
    }
}
