//! `EgressRule`: a destination an ADVANCED cluster may connect to while its egress traffic policy is
//! DEFAULT_DENY.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::child::ChildStatus;

/// How `spec.destination` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum EgressRuleType {
    /// A fully-qualified domain name, e.g. `storage.googleapis.com`.
    #[serde(rename = "FQDN")]
    Fqdn,
    /// A range of addresses in CIDR notation, e.g. `123.34.62.0/24`.
    #[serde(rename = "CIDR")]
    Cidr,
}

crate::child_spec! {
    noun = "egress rule";
    /// An egress rule of a CockroachDB Cloud ADVANCED cluster: one destination it may connect to
    /// while its egress traffic policy is DEFAULT_DENY.
    #[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[kube(
        group = "crdbcloud.io",
        version = "v1alpha1",
        kind = "EgressRule",
        plural = "egressrules",
        namespaced,
        status = "EgressRuleStatus",
        shortname = "crdbegress",
        category = "crdbcloud",
        printcolumn = r#"{"name":"Rule","type":"string","jsonPath":".status.cloudName"}"#,
        printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.type"}"#,
        printcolumn = r#"{"name":"Destination","type":"string","jsonPath":".spec.destination"}"#,
        printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.state"}"#,
        validation = Rule::new("has(self.spec.name) || self.metadata.name.size() <= 63").message("metadata.name is used as the rule name when spec.name is unset and must then be at most 63 characters; set spec.name"),
    )]
    #[x_kube(validation = Rule::new("has(self.name) == has(oldSelf.name) && (!has(self.name) || self.name == oldSelf.name)").message("spec.name is immutable (the cloud cannot rename an egress rule)"))]
    #[x_kube(validation = Rule::new("self.type != 'CIDR' || isCIDR(self.destination)").message("spec.destination must be a CIDR range such as 10.0.0.0/8 when spec.type is CIDR"))]
    #[x_kube(validation = Rule::new("self.type != 'FQDN' || self.destination.matches('^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?[.])+[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$')").message("spec.destination must be a fully-qualified domain name such as storage.googleapis.com when spec.type is FQDN"))]
    pub struct EgressRuleSpec {
        /// Rule name in the cloud (1-63 characters). Defaults to metadata.name. Immutable: the cloud
        /// cannot rename a rule.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 63))]
        pub name: Option<String>,
        /// `FQDN` (a domain name) or `CIDR` (a range of addresses): how spec.destination is written.
        #[serde(rename = "type")]
        pub rule_type: EgressRuleType,
        /// Where traffic is allowed: a fully-qualified domain name for `FQDN`, a CIDR range for `CIDR`.
        #[schemars(length(min = 1, max = 253))]
        pub destination: String,
        /// Allowed TCP ports (1-65535). Empty or unset: every port.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schemars(length(max = 64))]
        #[x_kube(validation = Rule::new("self.all(p, p >= 1 && p <= 65535)").message("spec.ports must be TCP ports from 1 to 65535"))]
        pub ports: Vec<i32>,
        /// What the rule is for, shown in the cloud console.
        #[serde(default)]
        #[schemars(length(max = 256))]
        pub description: String,
    }
}

/// What the operator observed of an egress rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EgressRuleStatus {
    #[serde(flatten)]
    pub common: ChildStatus,
    /// The id the cloud gave the rule (rules are addressed by id; names need not be unique).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// The rule's state in the cloud: PENDING_CREATION, ACTIVE, PENDING_UPDATE, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}
crate::impl_child_status!(EgressRuleStatus);

impl EgressRule {
    /// The rule's name in the cloud.
    pub fn rule_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
}
