//! `Database`: a database in a cluster.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::child::ChildStatus;

crate::child_spec! {
    noun = "database";
    /// A database in a CockroachDB Cloud cluster.
    #[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[kube(
        group = "crdbcloud.io",
        version = "v1alpha1",
        kind = "Database",
        plural = "databases",
        namespaced,
        status = "DatabaseStatus",
        shortname = "crdbdb",
        category = "crdbcloud",
        printcolumn = r#"{"name":"Database","type":"string","jsonPath":".status.cloudName"}"#,
        printcolumn = r#"{"name":"Tables","type":"integer","jsonPath":".status.tableCount"}"#,
        printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".status.clusterId","priority":1}"#,
        validation = Rule::new("has(self.spec.name) || self.metadata.name.matches('^[a-z_][a-z0-9_-]{0,62}$')").message("metadata.name is used as the database name when spec.name is unset and must then be a valid database name; set spec.name"),
    )]
    pub struct DatabaseSpec {
        /// Database name (1-63 characters: lowercase letters, digits, `_` and `-`, not starting with a
        /// digit or `-`). Defaults to metadata.name. Changing it renames the database in place.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z_][a-z0-9_-]*$"))]
        pub name: Option<String>,
    }
}

/// What the operator observed of a database.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    #[serde(flatten)]
    pub common: ChildStatus,
    /// The table count the cloud reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_count: Option<i64>,
}
crate::impl_child_status!(DatabaseStatus);

impl Database {
    pub fn db_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
}
