//! The setting blocks of `CockroachCluster.spec`: one file per block with its spec and status
//! types, gathered here into the two structs the cluster flattens into its spec and status. Unset
//! means "left alone".

pub mod backup;
pub mod client_ca;
pub mod cmek;
pub mod egress;

use serde::{Deserialize, Serialize};

/// The setting blocks of a cluster's spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, kube::KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsSpec {
    /// Managed backups (the cloud's backups-config). Unset: left as the cloud has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<backup::BackupSpec>,
    /// AllowAll or DefaultDeny outbound traffic (ADVANCED only). Unset: left as the cloud has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_traffic_policy: Option<egress::EgressTrafficPolicy>,
    /// Customer-managed encryption keys per region (ADVANCED only). Unset: left as the cloud has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmek: Option<cmek::CmekSpec>,
    /// The client CA certificate, from a Secret or ConfigMap (ADVANCED only). Unset: left as the cloud has it.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "clientCACert")]
    pub client_ca_cert: Option<client_ca::ClientCaCertSpec>,
}

/// What the cloud reports of each setting block the spec sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsStatus {
    /// The backup configuration, while spec.backup is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<backup::BackupStatus>,
    /// The egress traffic policy the cloud reports (ALLOW_ALL, DEFAULT_DENY, UPDATING, ...), while
    /// spec.egressTrafficPolicy is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_traffic_policy: Option<String>,
    /// CMEK as the cloud reports it, while spec.cmek is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmek: Option<cmek::CmekStatus>,
    /// The client CA as the cloud reports it, while spec.clientCACert is set.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "clientCACert")]
    pub client_ca_cert: Option<client_ca::ClientCaCertStatus>,
}
