//! Types shared by every kind: deletion policy, credential and cluster references, conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// API group of every kind.
pub const GROUP: &str = "crdbcloud.io";
/// Finalizer that guards cloud cleanup.
pub const FINALIZER: &str = "crdbcloud.io/cleanup";
/// Default key of the API key in a credentials Secret.
pub const DEFAULT_API_KEY_KEY: &str = "apiKey";

/// What happens to the cloud object when the resource is deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the cloud object, then release the resource.
    #[default]
    Delete,
    /// Leave the cloud object in place and only release the resource.
    Retain,
}

/// Whether the operator may write to the cloud for this resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ManagementPolicy {
    /// Create, update and (per `deletionPolicy`) delete the cloud object so that it matches the spec.
    #[default]
    Manage,
    /// Never write to the cloud: find the object (by ID, adoption field or natural key), report what
    /// it holds in status and list every difference from the spec in `status.drift`. Deleting the
    /// resource never deletes anything in the cloud.
    Observe,
}

/// The fields every kind's spec carries, for the drivers that honour them.
pub trait CommonSpec {
    fn management_policy(&self) -> ManagementPolicy;
    /// `managementPolicy: Observe`: nothing may be written to the cloud for this resource.
    fn observes(&self) -> bool {
        self.management_policy() == ManagementPolicy::Observe
    }
    fn deletion_policy(&self) -> DeletionPolicy;
    /// The Secret with the API key to use, when the spec names one.
    fn credentials_ref(&self) -> Option<&CredentialsRef>;
}

/// Implements [`CommonSpec`] for spec structs with `management_policy`, `deletion_policy` and
/// `credentials_ref` fields.
#[macro_export]
macro_rules! impl_common_spec {
    ($($spec:ty),+ $(,)?) => {
        $(impl $crate::api::common::CommonSpec for $spec {
            fn management_policy(&self) -> $crate::api::common::ManagementPolicy {
                self.management_policy
            }
            fn deletion_policy(&self) -> $crate::api::common::DeletionPolicy {
                self.deletion_policy
            }
            fn credentials_ref(&self) -> Option<&$crate::api::common::CredentialsRef> {
                self.credentials_ref.as_ref()
            }
        })+
    };
}

/// One difference between the spec and the cloud object, as an observe-only resource reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftEntry {
    /// The spec field that differs (`spec.sql`, `spec.dedicated.hardware.storageGib`, or a whole
    /// setting block such as `spec.backup`).
    pub field: String,
    /// The spec's value, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<String>,
    /// The cloud's value, as JSON; absent when the cloud object has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// What would change, for a difference not shown value by value (a setting block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
}

/// A Secret in the resource's own namespace holding a CockroachDB Cloud API key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsRef {
    /// Name of the Secret, in the resource's namespace.
    #[x_kube(validation = Rule::new("self.size() > 0").message("credentialsRef.name must not be empty"))]
    pub name: String,
    /// Key in the Secret's data holding the API key. Defaults to `apiKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl CredentialsRef {
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or(DEFAULT_API_KEY_KEY)
    }
}

/// A key of a Secret in the resource's own namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret, in the resource's namespace.
    #[x_kube(validation = Rule::new("self.size() > 0").message("name must not be empty"))]
    pub name: String,
    /// Key in the Secret's data.
    #[x_kube(validation = Rule::new("self.size() > 0").message("key must not be empty"))]
    pub key: String,
}

/// A CockroachCluster in the same namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
pub struct LocalClusterRef {
    /// Name of the CockroachCluster resource.
    #[x_kube(validation = Rule::new("self.size() > 0").message("clusterRef.name must not be empty"))]
    pub name: String,
}

/// The condition list every status carries, with the schema markers server-side apply needs to
/// merge conditions by type.
pub type Conditions = Vec<Condition>;

/// Schema for a condition list: a map-list keyed by `type`.
pub fn conditions_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = generator.subschema_for::<Vec<Condition>>();
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert("x-kubernetes-list-map-keys".into(), serde_json::json!(["type"]));
    schema
}

/// What every status has: the generation it describes and the conditions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusBase {
    /// The `metadata.generation` this status describes, written when a reconcile has finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling and Stalled; a CockroachCluster also has one per setting block it sets
    /// (e.g. BackupSynced).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Conditions,
    /// With `managementPolicy: Observe`: every difference between the spec and the cloud object
    /// (empty when they match). Not written in `Manage`, where differences are put right.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftEntry>,
}
