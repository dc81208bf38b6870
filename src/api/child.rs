//! What the kinds that live inside a cluster (`SQLUser`, `Database`, `AllowlistEntry`) share: how
//! they name their cluster, their deletion policy, their credentials and their status.

use serde::{Deserialize, Serialize};

use super::common::{Conditions, CredentialsRef, DeletionPolicy, LocalClusterRef, conditions_schema};

/// How a child names its cluster, its deletion policy and its credentials; shared by the three kinds.
pub trait ChildSpec: Sync {
    fn cluster_ref(&self) -> Option<&LocalClusterRef>;
    fn cluster_id(&self) -> Option<&str>;
    fn deletion_policy(&self) -> DeletionPolicy;
    fn credentials_ref(&self) -> Option<&CredentialsRef>;
}

/// Implements [`ChildSpec`] for a spec with the shared fields.
#[macro_export]
macro_rules! impl_child_spec {
    ($spec:ty) => {
        impl $crate::api::child::ChildSpec for $spec {
            fn cluster_ref(&self) -> Option<&$crate::api::LocalClusterRef> {
                self.cluster_ref.as_ref()
            }
            fn cluster_id(&self) -> Option<&str> {
                self.cluster_id.as_deref()
            }
            fn deletion_policy(&self) -> $crate::api::DeletionPolicy {
                self.deletion_policy
            }
            fn credentials_ref(&self) -> Option<&$crate::api::CredentialsRef> {
                self.credentials_ref.as_ref()
            }
        }
    };
}

/// Status shared by the three kinds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChildStatus {
    /// The `metadata.generation` this status describes, written when a reconcile has finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling and Stalled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Conditions,
    /// ID of the cloud cluster the object lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// The object's key in the cloud as last seen: the SQL user or database name, or the CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_name: Option<String>,
    /// Database only: the table count the cloud reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_count: Option<i64>,
    /// SQLUser only: a salted fingerprint of the password last set in the cloud (never the password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_fingerprint: Option<String>,
    /// SQLUser only: the Secret holding the connection details for applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_secret: Option<String>,
}
