//! `AllowlistEntry`: an IP allowlist entry of a cluster.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::child::ChildStatus;

crate::child_spec! {
    noun = "allowlist entry";
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
    )]
    pub struct AllowlistEntrySpec {
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
    }
}

fn default_true() -> bool {
    true
}
