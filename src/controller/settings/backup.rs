//! `spec.backup` <-> GET/PATCH /clusters/{id}/backups-config.

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::backup::{BackupSpec, BackupStatus};
use crate::cloud::models::{BackupConfiguration, UpdateBackupConfiguration};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::error::ReconcileError;
use crate::controller::reason::Reason;
use crate::controller::setting::Setting;

pub struct Backup;

impl Setting for Backup {
    type Desired = BackupSpec;
    type Observed = BackupConfiguration;
    type Change = UpdateBackupConfiguration;
    const BLOCK: &'static str = "spec.backup";
    const CONDITION: &'static str = "BackupSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&BackupSpec> {
        spec.settings.backup.as_ref()
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<BackupConfiguration, CloudError> {
        cloud.get_backup_configuration(cluster_id).await
    }

    /// Only the fields the block sets and the cloud differs on are sent: retention, which the
    /// cloud lets change once, is never sent when it already matches.
    fn plan(desired: &BackupSpec, observed: &BackupConfiguration) -> Option<UpdateBackupConfiguration> {
        let differs = |want: Option<i32>, have: i32| want.filter(|w| *w != have);
        let change = UpdateBackupConfiguration {
            enabled: desired.enabled.filter(|e| *e != observed.enabled),
            frequency_minutes: differs(desired.frequency_minutes, observed.frequency_minutes),
            retention_days: differs(desired.retention_days, observed.retention_days),
        };
        (change != UpdateBackupConfiguration::default()).then_some(change)
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, change: &UpdateBackupConfiguration) -> Result<BackupConfiguration, CloudError> {
        cloud.update_backup_configuration(cluster_id, change).await
    }

    /// The cloud refuses a second retention change for good: that needs a person, not retries.
    fn classify(err: CloudError) -> ReconcileError {
        match err {
            CloudError::FailedPrecondition(message) => ReconcileError::stalled(Reason::CloudRejectedSpec, format!("the cloud refused the change: {message}")),
            other => ReconcileError::cloud("writing the backup configuration", other),
        }
    }

    fn describe(change: &UpdateBackupConfiguration) -> String {
        let mut parts = Vec::new();
        if let Some(enabled) = change.enabled {
            parts.push(format!("enabled={enabled}"));
        }
        if let Some(minutes) = change.frequency_minutes {
            parts.push(format!("frequencyMinutes={minutes}"));
        }
        if let Some(days) = change.retention_days {
            parts.push(format!("retentionDays={days}"));
        }
        parts.join(", ")
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&BackupConfiguration>) {
        status.settings.backup = observed.map(|b| BackupStatus { enabled: b.enabled, frequency_minutes: b.frequency_minutes, retention_days: b.retention_days });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(enabled: bool, frequency_minutes: i32, retention_days: i32) -> BackupConfiguration {
        BackupConfiguration { enabled, frequency_minutes, retention_days }
    }

    #[test]
    fn only_what_the_block_sets_and_the_cloud_differs_on_is_sent() {
        let block = BackupSpec { enabled: None, frequency_minutes: Some(15), retention_days: None };
        let change = Backup::plan(&block, &cloud(true, 60, 30)).unwrap();
        assert_eq!(change, UpdateBackupConfiguration { frequency_minutes: Some(15), ..Default::default() });
        assert_eq!(Backup::describe(&change), "frequencyMinutes=15");
        assert_eq!(Backup::plan(&block, &cloud(false, 15, 2)), None);
    }

    #[test]
    fn a_matching_retention_is_never_sent_again() {
        let block = BackupSpec { enabled: Some(true), frequency_minutes: Some(60), retention_days: Some(30) };
        assert_eq!(Backup::plan(&block, &cloud(true, 60, 30)), None);
        let change = Backup::plan(&block, &cloud(false, 60, 30)).unwrap();
        assert_eq!(change.retention_days, None);
        assert_eq!(change.enabled, Some(true));
    }

    #[test]
    fn a_refused_second_retention_change_stalls() {
        let err = Backup::classify(CloudError::FailedPrecondition("retention_days has already been changed once".into()));
        assert!(err.is_stalled() && err.reason == Reason::CloudRejectedSpec, "{err:?}");
        assert!(!Backup::classify(CloudError::Transient("HTTP 503".into())).is_stalled());
    }
}
