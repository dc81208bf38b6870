//! `APIKey`: an API key of a CockroachDB Cloud service account. The cloud shows a key's secret
//! once, in the create's answer: the operator writes it into a Secret it owns, in the resource's
//! namespace, under the key `credentialsRef` reads by default (`apiKey`), so that Secret can be
//! the `credentialsRef` of other resources.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CredentialsRef, DeletionPolicy, StatusBase};

/// Default `spec.rotationGracePeriodSeconds`.
pub const DEFAULT_ROTATION_GRACE_SECONDS: i32 = 60;

/// An API key of a CockroachDB Cloud service account, its secret kept in a Secret.
/// Organisation-level: honoured only in namespaces the operator trusts for organisation-level
/// kinds (`--org-namespaces`).
#[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "crdbcloud.io",
    version = "v1alpha1",
    kind = "APIKey",
    plural = "apikeys",
    namespaced,
    status = "APIKeyStatus",
    shortname = "crdbapikey",
    category = "crdbcloud",
    printcolumn = r#"{"name":"Name","type":"string","jsonPath":".status.name"}"#,
    printcolumn = r#"{"name":"Secret","type":"string","jsonPath":".status.secretName"}"#,
    printcolumn = r#"{"name":"API Key ID","type":"string","priority":1,"jsonPath":".status.apiKeyId"}"#,
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.serviceAccountRef) != has(self.serviceAccountId)").message("exactly one of spec.serviceAccountRef or spec.serviceAccountId must be set"))]
#[x_kube(validation = Rule::new("has(self.serviceAccountRef) == has(oldSelf.serviceAccountRef) && (!has(self.serviceAccountRef) || self.serviceAccountRef == oldSelf.serviceAccountRef)").message("spec.serviceAccountRef is immutable (a key belongs to one service account); create a new APIKey instead"))]
#[x_kube(validation = Rule::new("has(self.serviceAccountId) == has(oldSelf.serviceAccountId) && (!has(self.serviceAccountId) || self.serviceAccountId == oldSelf.serviceAccountId)").message("spec.serviceAccountId is immutable (a key belongs to one service account); create a new APIKey instead"))]
#[x_kube(validation = Rule::new("has(self.secretName) == has(oldSelf.secretName) && (!has(self.secretName) || self.secretName == oldSelf.secretName)").message("spec.secretName is immutable"))]
#[x_kube(validation = Rule::new("has(self.adoptApiKeyId) == has(oldSelf.adoptApiKeyId) && (!has(self.adoptApiKeyId) || self.adoptApiKeyId == oldSelf.adoptApiKeyId)").message("spec.adoptApiKeyId is immutable"))]
#[x_kube(validation = Rule::new("!has(oldSelf.rotationGeneration) || (has(self.rotationGeneration) && self.rotationGeneration >= oldSelf.rotationGeneration)").message("spec.rotationGeneration can only increase"))]
pub struct APIKeySpec {
    /// A ServiceAccount resource in this namespace whose cloud service account the key belongs
    /// to. Exactly one of serviceAccountRef or serviceAccountId. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountRef>,

    /// ID of the cloud service account the key belongs to. Exactly one of serviceAccountRef or
    /// serviceAccountId. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 36), regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
    pub service_account_id: Option<String>,

    /// Name of the key in CockroachDB Cloud (1-256 characters). Defaults to metadata.name.
    /// Changing it renames the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    #[x_kube(validation = Rule::new("self.trim().size() > 0").message("spec.name must not be blank"))]
    pub name: Option<String>,

    /// Name of the Secret, in this namespace, that holds the key under `apiKey` (owned by this
    /// resource and deleted with it). Defaults to `<metadata.name>-api-key`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub secret_name: Option<String>,

    /// Increase to rotate the key: the operator creates a new key, writes it into the Secret, and
    /// deletes the old key after spec.rotationGracePeriodSeconds. It can only increase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub rotation_generation: Option<i64>,

    /// How long the previous key keeps working after a rotation, so that workloads reading the
    /// Secret pick up the new one: 0-86400 seconds, default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub rotation_grace_period_seconds: Option<i32>,

    /// ID of an existing cloud API key to manage instead of creating one. The cloud never shows a
    /// key's secret again, so the Secret named by spec.secretName must already hold it under
    /// `apiKey` (the operator checks it belongs to this key); otherwise adoption is refused.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_]+$"))]
    pub adopt_api_key_id: Option<String>,

    /// What happens to the cloud key when this resource is deleted: `Delete` (default) deletes
    /// it, `Retain` leaves it working. The Secret goes with this resource either way.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Manage` (default) makes the cloud match the spec; `Observe` never writes to the cloud and
    /// lists the differences in `status.drift`.
    #[serde(default)]
    pub management_policy: crate::api::common::ManagementPolicy,

    /// Secret with the CockroachDB Cloud API key the operator uses to manage this key, in this
    /// namespace. Defaults to the operator-wide key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<CredentialsRef>,
}

/// A ServiceAccount resource in the same namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
pub struct ServiceAccountRef {
    /// Name of the ServiceAccount resource.
    #[x_kube(validation = Rule::new("self.size() > 0").message("serviceAccountRef.name must not be empty"))]
    pub name: String,
}

/// A previous key kept working until its grace period ends, then deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetiringKey {
    /// ID of the cloud API key.
    pub id: String,
    /// When the operator deletes it.
    pub delete_after: String,
}

/// What the operator observed of the key. Never its secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct APIKeyStatus {
    #[serde(flatten)]
    pub base: StatusBase,
    /// ID of the cloud API key the Secret holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    /// When a create request was sent whose answer has not been recorded yet (see the README:
    /// a lost create answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<String>,
    /// Name of the key, as the cloud reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ID of the service account the key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<String>,
    /// Creation time of the key, as the cloud reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The Secret holding the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The spec.rotationGeneration the current key answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_generation: Option<i64>,
    /// When a replacement key's create request was sent (rotation, or a Secret that lost the
    /// key) whose answer has not been recorded yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement_requested_at: Option<String>,
    /// Previous keys still working during their grace period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retiring: Vec<RetiringKey>,
}

impl APIKey {
    pub fn cloud_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
    pub fn secret_name(&self) -> String {
        self.spec.secret_name.clone().unwrap_or_else(|| format!("{}-api-key", self.metadata.name.as_deref().unwrap_or_default()))
    }
    pub fn rotation_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.spec.rotation_grace_period_seconds.unwrap_or(DEFAULT_ROTATION_GRACE_SECONDS).max(0) as u64)
    }
}
