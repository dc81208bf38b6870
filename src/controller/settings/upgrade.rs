//! `spec.upgrade` <-> the cluster's `upgrade_status`, finalized with PATCH /clusters/{id}.
//!
//! A Setting although it has no endpoint of its own: it gets its own condition, status, events and
//! failure isolation from the driver like any block, and it reads the cluster object the pass has
//! just fetched ([`Setting::observe`]), so it spends no request until it finalizes. The version
//! change itself stays with the cluster (spec.cockroachVersion, sent alone by its plan), and so
//! does a rollback: setting spec.cockroachVersion back while the upgrade is pending.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::upgrade::{Finalize, UpgradeSpec, UpgradeStatus as UpgradeBlockStatus};
use crate::cloud::models::{Cluster, UpdateClusterSpec, UpgradeStatus};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::error::ReconcileError;
use crate::controller::kinds::cluster_plan::major_version;
use crate::controller::reason::Reason;
use crate::controller::setting::{Pass, Setting, Waiting};

use super::parse_duration;

pub struct Upgrade;

/// The cluster's upgrade, as of `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The full version the cluster runs (`v25.3.1`).
    pub version: String,
    pub status: UpgradeStatus,
    /// The cloud's last change of the cluster: when a pending upgrade finished running.
    pub since: Option<Timestamp>,
    pub at: Timestamp,
}

impl Observed {
    fn of(cluster: &Cluster) -> Self {
        Observed {
            version: cluster.cockroach_version.clone(),
            status: cluster.upgrade_status.clone(),
            since: cluster.updated_at.as_deref().and_then(|t| t.parse().ok()),
            at: Timestamp::now(),
        }
    }

    fn pending(&self) -> bool {
        self.status == UpgradeStatus::PendingFinalization
    }

    /// How long the pending upgrade has run (unknown: long enough).
    fn soaked(&self) -> Duration {
        self.since.and_then(|since| Duration::try_from(self.at.duration_since(since)).ok()).unwrap_or(Duration::MAX)
    }
}

/// The one write: finalize the upgrade to this version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalizeUpgrade {
    pub version: String,
}

fn soak(spec: &UpgradeSpec) -> Duration {
    Duration::from_secs(spec.soak.as_deref().and_then(parse_duration).unwrap_or(0))
}

impl Setting for Upgrade {
    type Desired = UpgradeSpec;
    type Observed = Observed;
    type Change = FinalizeUpgrade;
    const BLOCK: &'static str = "spec.upgrade";
    const CONDITION: &'static str = "UpgradeSynced";

    /// Finalizing follows the cloud's own progress (the soak is over, or a person named the
    /// version): never drift.
    fn moved_in_cloud(_status: &CockroachClusterStatus, _observed: &Observed) -> bool {
        false
    }

    fn desired(spec: &CockroachClusterSpec) -> Option<&UpgradeSpec> {
        spec.settings.upgrade.as_ref()
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<Observed, CloudError> {
        cloud.get_cluster(cluster_id).await.map(|c| Observed::of(&c))
    }

    async fn observe<'a>(pass: &'a Pass<'a>) -> Result<Observed, CloudError> {
        Ok(Observed::of(pass.item))
    }

    fn plan(desired: &UpgradeSpec, observed: &Observed) -> Option<FinalizeUpgrade> {
        if !observed.pending() {
            return None;
        }
        let due = match desired.finalize {
            Finalize::Automatic => observed.soaked() >= soak(desired),
            Finalize::Manual => desired.finalize_version.as_deref() == Some(major_version(&observed.version)),
        };
        due.then(|| FinalizeUpgrade { version: observed.version.clone() })
    }

    fn waiting(desired: &UpgradeSpec, observed: &Observed) -> Option<Waiting> {
        if !observed.pending() {
            return None;
        }
        let version = &observed.version;
        let major = major_version(version);
        let (message, recheck) = match desired.finalize {
            Finalize::Automatic => {
                let left = soak(desired).saturating_sub(observed.soaked());
                // An absolute time, so the message (and the status) stays the same while it soaks.
                let at = observed.at.checked_add(left).map(|t| t.round(k8s_openapi::jiff::Unit::Second).unwrap_or(t).to_string()).unwrap_or_default();
                let soak = desired.soak.as_deref().unwrap_or("0s");
                (format!("the upgrade to {version} is pending finalization; it is finalized once it has soaked for {soak}, at {at}"), Some(left))
            }
            Finalize::Manual => {
                let asked = match desired.finalize_version.as_deref() {
                    Some(other) => format!(" (spec.upgrade.finalizeVersion is {other}, not {major})"),
                    None => String::new(),
                };
                (
                    format!("the upgrade to {version} is pending finalization{asked}: set spec.upgrade.finalizeVersion: {major} to finalize it, or set spec.cockroachVersion back to the previous version to roll it back"),
                    None,
                )
            }
        };
        Some(Waiting { reason: Reason::FinalizationPending, message, recheck })
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, _change: &FinalizeUpgrade) -> Result<Observed, CloudError> {
        let finalize = UpdateClusterSpec { upgrade_status: Some(UpgradeStatus::Finalized), ..Default::default() };
        cloud.update_cluster(cluster_id, &finalize).await.map(|c| Observed::of(&c))
    }

    /// A refused finalization (the cloud says the upgrade cannot be finalized) needs a person:
    /// the cluster was settled when it was sent, so the refusal is not a passing lock.
    fn classify(err: CloudError) -> ReconcileError {
        match err {
            CloudError::FailedPrecondition(message) => ReconcileError::stalled(Reason::CloudRejectedSpec, format!("the cloud refused to finalize the upgrade: {message}")),
            other => ReconcileError::cloud("finalizing the upgrade", other),
        }
    }

    fn describe(change: &FinalizeUpgrade) -> String {
        format!("finalized the upgrade to {}", change.version)
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&Observed>) {
        status.settings.upgrade = observed.map(|o| match o.pending() {
            true => UpgradeBlockStatus { pending_version: Some(o.version.clone()), pending_since: o.since.map(|t| t.to_string()) },
            false => UpgradeBlockStatus::default(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(status: UpgradeStatus, pending_for_secs: i64) -> Observed {
        let at: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
        let since = at.checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(pending_for_secs)).unwrap();
        Observed { version: "v25.3.1".into(), status, since: Some(since), at }
    }

    fn block(finalize: Finalize, soak: Option<&str>, version: Option<&str>) -> UpgradeSpec {
        UpgradeSpec { finalize, soak: soak.map(Into::into), finalize_version: version.map(Into::into) }
    }

    #[test]
    fn automatic_finalizes_once_the_soak_is_over() {
        let auto = block(Finalize::Automatic, Some("10m"), None);
        assert_eq!(Upgrade::plan(&auto, &cloud(UpgradeStatus::PendingFinalization, 60)), None);
        let waiting = Upgrade::waiting(&auto, &cloud(UpgradeStatus::PendingFinalization, 60)).unwrap();
        assert_eq!(waiting.recheck, Some(Duration::from_secs(540)));
        assert_eq!(waiting.reason, Reason::FinalizationPending);
        let change = Upgrade::plan(&auto, &cloud(UpgradeStatus::PendingFinalization, 600)).unwrap();
        assert_eq!(Upgrade::describe(&change), "finalized the upgrade to v25.3.1");
        // Without a soak, at once; nothing to do when nothing is pending.
        assert!(Upgrade::plan(&block(Finalize::Automatic, None, None), &cloud(UpgradeStatus::PendingFinalization, 0)).is_some());
        assert_eq!(Upgrade::plan(&auto, &cloud(UpgradeStatus::Finalized, 6000)), None);
        assert_eq!(Upgrade::waiting(&auto, &cloud(UpgradeStatus::MajorUpgradeRunning, 0)), None);
    }

    #[test]
    fn manual_says_how_to_finalize_and_finalizes_the_named_version() {
        let manual = block(Finalize::Manual, None, None);
        let pending = cloud(UpgradeStatus::PendingFinalization, 6000);
        assert_eq!(Upgrade::plan(&manual, &pending), None);
        let waiting = Upgrade::waiting(&manual, &pending).unwrap();
        assert!(waiting.message.contains("spec.upgrade.finalizeVersion: v25.3") && waiting.message.contains("roll it back"), "{}", waiting.message);
        assert_eq!(waiting.recheck, None);
        assert_eq!(Upgrade::plan(&block(Finalize::Manual, None, Some("v25.2")), &pending), None);
        assert!(Upgrade::plan(&block(Finalize::Manual, None, Some("v25.3")), &pending).is_some());
    }

    #[test]
    fn a_refused_finalization_stalls() {
        let err = Upgrade::classify(CloudError::FailedPrecondition("stuck".into()));
        assert!(err.is_stalled() && err.reason == Reason::CloudRejectedSpec && err.message.contains("stuck"), "{err:?}");
    }
}
