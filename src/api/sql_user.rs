//! `SQLUser`: a SQL user of a cluster, with its password and a connection Secret for applications.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::child::ChildStatus;
use super::common::{CredentialsRef, DeletionPolicy, LocalClusterRef, SecretKeyRef};

/// A SQL user of a CockroachDB Cloud cluster, with its password and a connection Secret.
#[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "crdbcloud.io",
    version = "v1alpha1",
    kind = "SQLUser",
    plural = "sqlusers",
    namespaced,
    status = "ChildStatus",
    shortname = "crdbsqluser",
    category = "crdbcloud",
    printcolumn = r#"{"name":"User","type":"string","jsonPath":".status.cloudName"}"#,
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".status.clusterId","priority":1}"#,
    printcolumn = r#"{"name":"Connection Secret","type":"string","jsonPath":".status.connectionSecret"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("has(self.spec.name) || self.metadata.name.matches('^[a-z0-9_][a-z0-9._-]{0,62}$')").message("metadata.name is used as the SQL user name when spec.name is unset and must then be a valid SQL user name; set spec.name"),
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.clusterRef) != has(self.clusterId)").message("exactly one of spec.clusterRef or spec.clusterId must be set"))]
#[x_kube(validation = Rule::new("has(self.name) == has(oldSelf.name) && (!has(self.name) || self.name == oldSelf.name)").message("spec.name is immutable"))]
#[x_kube(validation = Rule::new("has(self.clusterId) == has(oldSelf.clusterId) && (!has(self.clusterId) || self.clusterId == oldSelf.clusterId) && has(self.clusterRef) == has(oldSelf.clusterRef) && (!has(self.clusterRef) || self.clusterRef.name == oldSelf.clusterRef.name)").message("the cluster reference (spec.clusterRef / spec.clusterId) is immutable"))]
pub struct SQLUserSpec {
    /// A CockroachCluster in this namespace. Exactly one of clusterRef or clusterId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_ref: Option<LocalClusterRef>,
    /// ID of a cloud cluster not managed by this operator. Exactly one of clusterRef or clusterId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 36), regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
    pub cluster_id: Option<String>,
    /// SQL user name (1-63 characters: lowercase letters, digits, `_`, `.`, `-`; not starting with
    /// `.` or `-`). Defaults to metadata.name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9_][a-z0-9._-]*$"))]
    pub name: Option<String>,
    /// Secret key holding the password, in this namespace. Changing the Secret's value rotates the
    /// password. When unset, the operator generates a strong password and keeps it in a Secret it
    /// owns, named `<metadata.name>-password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
    /// Name of the Secret the operator writes for applications (host, port, user, password,
    /// database, sslmode, url). Defaults to `<metadata.name>-connection`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub connection_secret_name: Option<String>,
    /// Database named in the connection Secret. Defaults to `defaultdb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub connection_database: Option<String>,
    /// `Delete` (default) drops the SQL user when this resource is deleted; `Retain` keeps it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Secret with the API key, in this namespace. Defaults to the cluster's credentialsRef (with
    /// clusterRef) or the operator-wide key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<CredentialsRef>,
}
crate::impl_child_spec!(SQLUserSpec);

impl SQLUser {
    pub fn sql_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
    pub fn generated_password_secret(&self) -> String {
        format!("{}-password", self.metadata.name.as_deref().unwrap_or_default())
    }
    pub fn connection_secret(&self) -> String {
        self.spec
            .connection_secret_name
            .clone()
            .unwrap_or_else(|| format!("{}-connection", self.metadata.name.as_deref().unwrap_or_default()))
    }
}
