//! `SQLUser`: a SQL user of a cluster, with its password and a connection Secret for applications.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::child::ChildStatus;
use super::common::SecretKeyRef;

crate::child_spec! {
    noun = "SQL user";
    /// A SQL user of a CockroachDB Cloud cluster, with its password and a connection Secret.
    #[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[kube(
        group = "crdbcloud.io",
        version = "v1alpha1",
        kind = "SQLUser",
        plural = "sqlusers",
        namespaced,
        status = "SQLUserStatus",
        shortname = "crdbsqluser",
        category = "crdbcloud",
        printcolumn = r#"{"name":"User","type":"string","jsonPath":".status.cloudName"}"#,
        printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".status.clusterId","priority":1}"#,
        printcolumn = r#"{"name":"Connection Secret","type":"string","jsonPath":".status.connectionSecret"}"#,
        validation = Rule::new("has(self.spec.name) || self.metadata.name.matches('^[a-z0-9_][a-z0-9._-]{0,62}$')").message("metadata.name is used as the SQL user name when spec.name is unset and must then be a valid SQL user name; set spec.name"),
    )]
    #[x_kube(validation = Rule::new("has(self.name) == has(oldSelf.name) && (!has(self.name) || self.name == oldSelf.name)").message("spec.name is immutable"))]
    #[x_kube(validation = Rule::new("!has(self.connectionSecretName) || !has(self.connectionSecret) || !has(self.connectionSecret.name)").message("name the connection Secret in spec.connectionSecret.name or in spec.connectionSecretName, not both"))]
    pub struct SQLUserSpec {
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
        /// Shape of the connection Secret: its name, other names for its keys, and extra keys made
        /// from templates. Unset: the keys above under their standard names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub connection_secret: Option<super::connection_secret::ConnectionSecretSpec>,
    }
}

/// What the operator observed of a SQL user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SQLUserStatus {
    #[serde(flatten)]
    pub common: ChildStatus,
    /// A salted fingerprint of the password last set in the cloud (never the password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_fingerprint: Option<String>,
    /// The Secret holding the connection details for applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_secret: Option<String>,
}
crate::impl_child_status!(SQLUserStatus);

impl SQLUser {
    pub fn sql_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
    pub fn generated_password_secret(&self) -> String {
        format!("{}-password", self.metadata.name.as_deref().unwrap_or_default())
    }
    pub fn connection_secret(&self) -> String {
        self.spec
            .connection_secret
            .as_ref()
            .and_then(|c| c.name.clone())
            .or_else(|| self.spec.connection_secret_name.clone())
            .unwrap_or_else(|| format!("{}-connection", self.metadata.name.as_deref().unwrap_or_default()))
    }
}
