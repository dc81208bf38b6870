//! The setting blocks of `CockroachCluster.spec`: one file per block with its spec and status
//! types, gathered here into the two structs the cluster flattens into its spec and status. Unset
//! means "left alone".

pub mod backup;
pub mod log_export;
pub mod maintenance;
pub mod metric_export;
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
    /// Log export to the customer's cloud log sink. Unset: left as the cloud has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_export: Option<log_export::LogExportSpec>,
    /// Metric export to Datadog, CloudWatch and Prometheus. Unset: left as the cloud has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_export: Option<metric_export::MetricExportSpec>,
}

impl SettingsSpec {
    /// The Secrets the blocks refer to (their names, in the cluster's namespace): a change of one
    /// wakes the cluster.
    pub fn referenced_secrets(&self) -> Vec<&str> {
        let datadog = self.metric_export.as_ref().and_then(|m| m.datadog.as_ref()).and_then(|d| d.api_key_secret_ref.as_ref());
        datadog.map(|r| r.name.as_str()).into_iter().collect()
    }
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
    /// The log export, while spec.logExport is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_export: Option<log_export::LogExportStatus>,
    /// The metric exports, while spec.metricExport sets them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_export: Option<metric_export::MetricExportStatus>,
}
