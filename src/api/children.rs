//! The three kinds that live inside a cluster: `SQLUser`, `Database` and `AllowlistEntry`.
//! They share how they name their cluster, their deletion policy and their credentials.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{Conditions, CredentialsRef, DeletionPolicy, LocalClusterRef, SecretKeyRef, conditions_schema};

/// How a child names its cluster, its deletion policy and its credentials; shared by the three kinds.
pub trait ChildSpec: Sync {
    fn cluster_ref(&self) -> Option<&LocalClusterRef>;
    fn cluster_id(&self) -> Option<&str>;
    fn deletion_policy(&self) -> DeletionPolicy;
    fn credentials_ref(&self) -> Option<&CredentialsRef>;
}

macro_rules! impl_child_spec {
    ($spec:ty) => {
        impl ChildSpec for $spec {
            fn cluster_ref(&self) -> Option<&LocalClusterRef> {
                self.cluster_ref.as_ref()
            }
            fn cluster_id(&self) -> Option<&str> {
                self.cluster_id.as_deref()
            }
            fn deletion_policy(&self) -> DeletionPolicy {
                self.deletion_policy
            }
            fn credentials_ref(&self) -> Option<&CredentialsRef> {
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

// ---------------------------------------------------------------- SQLUser

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
impl_child_spec!(SQLUserSpec);

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

// ---------------------------------------------------------------- Database

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
impl_child_spec!(DatabaseSpec);

impl Database {
    pub fn db_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
}

// ---------------------------------------------------------------- AllowlistEntry

/// An IP allowlist entry of a CockroachDB Cloud cluster.
#[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "crdbcloud.io",
    version = "v1alpha1",
    kind = "AllowlistEntry",
    plural = "allowlistentries",
    namespaced,
    status = "ChildStatus",
    shortname = "crdballow",
    category = "crdbcloud",
    printcolumn = r#"{"name":"CIDR","type":"string","jsonPath":".status.cloudName"}"#,
    printcolumn = r#"{"name":"SQL","type":"boolean","jsonPath":".spec.sql"}"#,
    printcolumn = r#"{"name":"UI","type":"boolean","jsonPath":".spec.ui"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.clusterRef) != has(self.clusterId)").message("exactly one of spec.clusterRef or spec.clusterId must be set"))]
#[x_kube(validation = Rule::new("has(self.clusterId) == has(oldSelf.clusterId) && (!has(self.clusterId) || self.clusterId == oldSelf.clusterId) && has(self.clusterRef) == has(oldSelf.clusterRef) && (!has(self.clusterRef) || self.clusterRef.name == oldSelf.clusterRef.name)").message("the cluster reference (spec.clusterRef / spec.clusterId) is immutable"))]
pub struct AllowlistEntrySpec {
    /// A CockroachCluster in this namespace. Exactly one of clusterRef or clusterId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_ref: Option<LocalClusterRef>,
    /// ID of a cloud cluster not managed by this operator. Exactly one of clusterRef or clusterId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 36), regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
    pub cluster_id: Option<String>,
    /// IPv4 network allowed to connect, e.g. `10.0.0.0/8`; a bare address means `/32`. Host bits
    /// must be zero. Immutable.
    #[schemars(length(min = 7, max = 18))]
    #[x_kube(validation = Rule::new("(isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self).masked() == cidr(self)) || (!self.contains('/') && isIP(self) && ip(self).family() == 4)").message("spec.cidr must be an IPv4 address or CIDR with no host bits set, e.g. 10.0.0.0/8 or 192.0.2.7"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.cidr is immutable"))]
    pub cidr: String,
    /// Allow SQL connections from the network. Defaults to true.
    #[serde(default = "default_true")]
    pub sql: bool,
    /// Allow DB Console access from the network. Defaults to false.
    #[serde(default)]
    pub ui: bool,
    /// Description shown in the cloud console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub name: Option<String>,
    /// `Delete` (default) removes the entry when this resource is deleted; `Retain` keeps it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Secret with the API key, in this namespace. Defaults to the cluster's credentialsRef (with
    /// clusterRef) or the operator-wide key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<CredentialsRef>,
}
impl_child_spec!(AllowlistEntrySpec);

fn default_true() -> bool {
    true
}
