//! `Database`: a database in a cluster.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::child::ChildStatus;
use super::common::{CredentialsRef, DeletionPolicy, LocalClusterRef};

/// A database in a CockroachDB Cloud cluster.
#[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "crdbcloud.io",
    version = "v1alpha1",
    kind = "Database",
    plural = "databases",
    namespaced,
    status = "ChildStatus",
    shortname = "crdbdb",
    category = "crdbcloud",
    printcolumn = r#"{"name":"Database","type":"string","jsonPath":".status.cloudName"}"#,
    printcolumn = r#"{"name":"Tables","type":"integer","jsonPath":".status.tableCount"}"#,
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".status.clusterId","priority":1}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("has(self.spec.name) || self.metadata.name.matches('^[a-z_][a-z0-9_-]{0,62}$')").message("metadata.name is used as the database name when spec.name is unset and must then be a valid database name; set spec.name"),
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.clusterRef) != has(self.clusterId)").message("exactly one of spec.clusterRef or spec.clusterId must be set"))]
#[x_kube(validation = Rule::new("has(self.clusterId) == has(oldSelf.clusterId) && (!has(self.clusterId) || self.clusterId == oldSelf.clusterId) && has(self.clusterRef) == has(oldSelf.clusterRef) && (!has(self.clusterRef) || self.clusterRef.name == oldSelf.clusterRef.name)").message("the cluster reference (spec.clusterRef / spec.clusterId) is immutable"))]
pub struct DatabaseSpec {
    /// A CockroachCluster in this namespace. Exactly one of clusterRef or clusterId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_ref: Option<LocalClusterRef>,
    /// ID of a cloud cluster not managed by this operator. Exactly one of clusterRef or clusterId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 36), regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
    pub cluster_id: Option<String>,
    /// Database name (1-63 characters: lowercase letters, digits, `_` and `-`, not starting with a
    /// digit or `-`). Defaults to metadata.name. Changing it renames the database in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z_][a-z0-9_-]*$"))]
    pub name: Option<String>,
    /// `Delete` (default) drops the database when this resource is deleted; `Retain` keeps it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Secret with the API key, in this namespace. Defaults to the cluster's credentialsRef (with
    /// clusterRef) or the operator-wide key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<CredentialsRef>,
}
crate::impl_child_spec!(DatabaseSpec);

impl Database {
    pub fn db_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
}
