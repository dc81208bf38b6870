//! `spec.backup`: the cluster's managed backups.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Managed backups of the cluster. Unset: the cloud's backup configuration is left as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.enabled) || has(self.frequencyMinutes) || has(self.retentionDays)").message("spec.backup must set at least one of enabled, frequencyMinutes or retentionDays (remove the block to leave backups alone)"))]
pub struct BackupSpec {
    /// Whether the cloud takes backups. Unset: left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// How often a backup is taken, in minutes: 5, 10, 15, 30, 60, 240 or 1440. Unset: left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self in [5, 10, 15, 30, 60, 240, 1440]").message("spec.backup.frequencyMinutes must be one of 5, 10, 15, 30, 60, 240 or 1440"))]
    pub frequency_minutes: Option<i32>,
    /// How many days backups are kept: 2, 7, 30, 90 or 365. The cloud lets this change once per
    /// cluster; a second change is refused and reported as Stalled (it then needs CockroachDB
    /// support). Unset: left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self in [2, 7, 30, 90, 365]").message("spec.backup.retentionDays must be one of 2, 7, 30, 90 or 365"))]
    pub retention_days: Option<i32>,
}

/// The backup configuration the cloud reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// Whether the cloud takes backups.
    pub enabled: bool,
    /// How often a backup is taken, in minutes.
    pub frequency_minutes: i32,
    /// How many days backups are kept.
    pub retention_days: i32,
}
