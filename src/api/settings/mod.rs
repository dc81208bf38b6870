//! The setting blocks of `CockroachCluster.spec`: one file per block with its spec and status
//! types, gathered here into the two structs the cluster flattens into its spec and status. Unset
//! means "left alone".

pub mod backup;
pub mod maintenance;
pub mod upgrade;

use serde::{Deserialize, Serialize};

/// The setting blocks of a cluster's spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, kube::KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsSpec {
    /// Managed backups (the cloud's backups-config). Unset: left as the cloud has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<backup::BackupSpec>,
    /// Maintenance scheduling: the weekly window, blackout windows, patch-upgrade deferral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<maintenance::MaintenanceSpec>,
    /// How major version upgrades are finalized. Unset: the cloud finalizes after 72 hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<upgrade::UpgradeSpec>,
}

/// What the cloud reports of each setting block the spec sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsStatus {
    /// The backup configuration, while spec.backup is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<backup::BackupStatus>,
    /// The maintenance settings, for the spec.maintenance fields that are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<maintenance::MaintenanceStatus>,
    /// The upgrade awaiting finalization, while spec.upgrade is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<upgrade::UpgradeStatus>,
}
