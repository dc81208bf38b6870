//! Shape 3: a per-cluster singleton setting, a block of `CockroachCluster.spec` (backups today;
//! maintenance windows, version deferral, exports and the others next).
//!
//! The driver owns, once for every setting: an unset block is left alone (no request is spent on
//! it, its condition and status go); a set block is observed with one GET and converged with at
//! most one write; what the cloud holds goes to the block's status; the block has its own
//! condition (`BackupSynced`, ...), and a block that fails makes the cluster's Ready False with a
//! message naming the block while the other blocks keep converging; changes made behind the
//! operator's back are put back with a `DriftCorrected` event. Settings run only once the cluster
//! itself is settled (not CREATING, LOCKED or busy), so they never spend requests on a cluster
//! the cloud would refuse writes to.
//!
//! A setting supplies its block, how it is read, a pure [`Setting::plan`], how a change is written
//! and where the observed value goes in status.

use std::fmt::Debug;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::EventType;

use super::conditions;
use super::context::Context;
use super::error::ReconcileError;
use super::reason::Reason;
use crate::api::common::DriftEntry;
use crate::api::cluster::{CockroachCluster, CockroachClusterSpec, CockroachClusterStatus};
use crate::cloud::models::Cluster;
use crate::cloud::{CloudClient, CloudError};

/// A per-cluster singleton setting.
pub trait Setting: Send + Sync + 'static {
    /// The spec block.
    type Desired: Send + Sync;
    /// The setting as the cloud reports it.
    type Observed: Send + Sync;
    /// The one write that brings it in line.
    type Change: Debug + Send + Sync;
    /// The block's path in the spec (`spec.backup`), named in conditions, events and messages.
    const BLOCK: &'static str;
    /// The block's own condition type (`BackupSynced`).
    const CONDITION: &'static str;

    /// The block, when the spec manages this setting.
    fn desired(spec: &CockroachClusterSpec) -> Option<&Self::Desired>;
    fn get(cloud: &CloudClient, cluster_id: &str) -> impl Future<Output = Result<Self::Observed, CloudError>> + Send;
    /// How the driver reads the setting: with [`Setting::get`], unless the setting lives in the
    /// cluster object the pass has just read (the upgrade's finalization), which costs no request.
    fn observe<'a>(pass: &'a Pass<'a>) -> impl Future<Output = Result<Self::Observed, CloudError>> + Send + 'a {
        Self::get(pass.cloud, pass.cluster_id)
    }
    /// The write that makes the cloud match the block, or `None` when it does. Pure (unit-tested
    /// per setting).
    fn plan(desired: &Self::Desired, observed: &Self::Observed) -> Option<Self::Change>;
    /// Text the block names outside the spec (the PEM in a Secret or ConfigMap), read and
    /// checked before the cloud is read, so a bad reference costs no request; `plan_with` gets it.
    /// Default: none.
    fn referenced(_pass: &Pass<'_>, _desired: &Self::Desired) -> impl Future<Output = Result<Option<String>, ReconcileError>> + Send {
        async { Ok(None) }
    }
    /// [`Setting::plan`] of a block that references text outside the spec. Default: `plan`.
    fn plan_with(desired: &Self::Desired, _referenced: Option<&str>, observed: &Self::Observed) -> Option<Self::Change> {
        Self::plan(desired, observed)
    }
    /// Whether a write needed on an unchanged spec puts back drift: the cloud's value moved since
    /// the status last recorded it. Default: yes (the spec is the only input, so an unchanged spec
    /// means the cloud moved); a block with a referenced input says no when only that input
    /// changed, and one that follows the cloud's own progress (finalizing an upgrade once it has
    /// soaked) says no.
    fn moved_in_cloud(_status: &CockroachClusterStatus, _observed: &Self::Observed) -> bool {
        true
    }
    /// Sends `change`; answers with the setting as the cloud holds it after.
    fn execute(cloud: &CloudClient, cluster_id: &str, change: &Self::Change) -> impl Future<Output = Result<Self::Observed, CloudError>> + Send;
    /// How a failed write is reported: by default as any Cloud error (a refusal of the spec
    /// stalls, an outage is retried); a setting whose refusals are final says so here.
    fn classify(err: CloudError) -> ReconcileError {
        ReconcileError::cloud("writing the setting", err)
    }
    /// In line as far as the operator may take it, but waiting for a person or a timer (an upgrade
    /// pending finalization): the block's condition is then False with this reason and message,
    /// without failing the cluster. Default: never waits.
    fn waiting(_desired: &Self::Desired, _observed: &Self::Observed) -> Option<Waiting> {
        None
    }
    /// Adds to what `get` observed what the block refers to in Kubernetes (the value of a Secret),
    /// before [`Setting::plan`]; most blocks refer to nothing. Values read here are secrets at
    /// most in memory: the observation never reaches a log, event or status except through
    /// [`Setting::record`].
    fn read_references<'a>(_pass: &'a Pass<'a>, _desired: &'a Self::Desired, _observed: &'a mut Self::Observed) -> impl Future<Output = Result<(), ReconcileError>> + Send + 'a {
        async { Ok(()) }
    }
    /// A setting in line with the block that the cloud reports as failing (an export whose
    /// credentials it cannot use): the block's failure, its status still recorded.
    fn health(_observed: &Self::Observed) -> Result<(), ReconcileError> {
        Ok(())
    }
    /// Describes `change` for events ("frequencyMinutes 60 -> 15").
    fn describe(change: &Self::Change) -> String;
    /// Puts what the cloud holds (or nothing, once the block is unset) into the cluster's status.
    fn record(status: &mut CockroachClusterStatus, observed: Option<&Self::Observed>);
}

/// What a block in line waits for (see [`Setting::waiting`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub reason: Reason,
    pub message: String,
    /// When to look again; `None`: at the next resync.
    pub recheck: Option<Duration>,
}

/// A block to look at again sooner than the resync.
#[derive(Debug, Clone, PartialEq)]
pub struct Recheck {
    pub after: Duration,
    /// One write did not bring the block all in line (a set of blackout windows changes one
    /// window per write): the cluster is still being updated, so the next pass's writes are not
    /// drift. `None`: the block only waits on a timer.
    pub updating: Option<String>,
}

impl Recheck {
    /// The sooner of two, still updating if either is.
    fn merge(self, other: Recheck) -> Recheck {
        Recheck { after: self.after.min(other.after), updating: self.updating.or(other.updating) }
    }
}

/// How soon a block that wrote but is not yet in line is looked at again.
const CONTINUE_AFTER: Duration = Duration::from_secs(1);

/// A setting with its type erased, so that a cluster's settings form one list.
pub trait AnySetting: Send + Sync {
    /// The block's path in the spec (`spec.backup`).
    fn block(&self) -> &'static str;
    /// The block's condition type (`BackupSynced`).
    fn condition(&self) -> &'static str;
    /// Observe-only: reads the setting of a block the spec sets and records it; the difference from
    /// the block, if any (`None`: unset, or in line). Nothing is written.
    fn observe_only<'a>(&'a self, pass: &'a Pass<'a>, status: &'a mut CockroachClusterStatus) -> BoxFuture<'a, Result<Option<DriftEntry>, ReconcileError>>;
    /// Converges the setting of one cluster. `Err`: the block's failure, its message naming the block.
    fn converge<'a>(&'a self, pass: &'a Pass<'a>, status: &'a mut CockroachClusterStatus) -> BoxFuture<'a, Result<Option<Recheck>, ReconcileError>>;
}

/// What every setting of one cluster is converged with.
pub struct Pass<'a> {
    pub cluster: &'a CockroachCluster,
    pub ctx: &'a Context,
    pub cloud: &'a CloudClient,
    pub cluster_id: &'a str,
    /// The cloud cluster as this pass read it.
    pub item: &'a Cluster,
    /// The spec has not changed since the last Ready pass: a difference is drift.
    pub drift: bool,
}

struct Erased<S>(PhantomData<fn() -> S>);

/// `S` as an entry of a cluster's list of settings.
pub fn setting<S: Setting>() -> Box<dyn AnySetting> {
    Box::new(Erased::<S>(PhantomData))
}

impl<S: Setting> AnySetting for Erased<S> {
    fn block(&self) -> &'static str {
        S::BLOCK
    }
    fn condition(&self) -> &'static str {
        S::CONDITION
    }
    fn observe_only<'a>(&'a self, pass: &'a Pass<'a>, status: &'a mut CockroachClusterStatus) -> BoxFuture<'a, Result<Option<DriftEntry>, ReconcileError>> {
        async move {
            status.base.conditions.retain(|c| c.type_ != S::CONDITION);
            let Some(desired) = S::desired(&pass.cluster.spec) else {
                S::record(status, None);
                return Ok(None);
            };
            let block = |err: ReconcileError| ReconcileError { message: format!("{}: {}", S::BLOCK, err.message), ..err };
            let referenced = S::referenced(pass, desired).await.map_err(block)?;
            let mut observed = S::observe(pass).await.map_err(|e| block(ReconcileError::cloud("reading the setting", e)))?;
            S::read_references(pass, desired, &mut observed).await.map_err(block)?;
            S::record(status, Some(&observed));
            Ok(S::plan_with(desired, referenced.as_deref(), &observed).map(|change| DriftEntry {
                field: S::BLOCK.to_string(),
                change: Some(S::describe(&change)),
                ..Default::default()
            }))
        }
        .boxed()
    }

    fn converge<'a>(&'a self, pass: &'a Pass<'a>, status: &'a mut CockroachClusterStatus) -> BoxFuture<'a, Result<Option<Recheck>, ReconcileError>> {
        async move {
            let generation = pass.cluster.metadata.generation;
            let Some(desired) = S::desired(&pass.cluster.spec) else {
                // Unmanaged: nothing is read or written, and nothing about it is reported.
                status.base.conditions.retain(|c| c.type_ != S::CONDITION);
                S::record(status, None);
                return Ok(None);
            };
            match converge::<S>(pass, desired, status).await {
                Ok(observed) => {
                    S::record(status, Some(&observed));
                    if let Err(err) = S::health(&observed) {
                        return Err(failed::<S>(status, err, generation));
                    }
                    let (synced, reason, message, recheck) = match (S::plan(desired, &observed), S::waiting(desired, &observed)) {
                        (Some(next), _) => {
                            let message = format!("{} is being updated in the cloud (next: {})", S::BLOCK, S::describe(&next));
                            (false, Reason::Updating, message.clone(), Some(Recheck { after: CONTINUE_AFTER, updating: Some(message) }))
                        }
                        (None, Some(w)) => {
                            (false, w.reason, format!("{}: {}", S::BLOCK, w.message), w.recheck.map(|after| Recheck { after, updating: None }))
                        }
                        (None, None) => (true, Reason::Synced, format!("{} matches the cloud", S::BLOCK), None),
                    };
                    conditions::set(&mut status.base.conditions, S::CONDITION, synced, reason, &message, generation, Timestamp::now());
                    Ok(recheck)
                }
                Err(err) => Err(failed::<S>(status, err, generation)),
            }
        }
        .boxed()
    }
}

/// A block's failure: its message names the block, and its condition says so.
fn failed<S: Setting>(status: &mut CockroachClusterStatus, err: ReconcileError, generation: Option<i64>) -> ReconcileError {
    let err = ReconcileError { message: format!("{}: {}", S::BLOCK, err.message), ..err };
    conditions::set(&mut status.base.conditions, S::CONDITION, false, err.reason, &err.message, generation, Timestamp::now());
    err
}

async fn converge<S: Setting>(pass: &Pass<'_>, desired: &S::Desired, status: &CockroachClusterStatus) -> Result<S::Observed, ReconcileError> {
    let referenced = S::referenced(pass, desired).await?;
    let mut observed = S::observe(pass).await.map_err(|e| ReconcileError::cloud("reading the setting", e))?;
    S::read_references(pass, desired, &mut observed).await?;
    let Some(change) = S::plan_with(desired, referenced.as_deref(), &observed) else {
        return Ok(observed);
    };
    let written = S::execute(pass.cloud, pass.cluster_id, &change).await.map_err(S::classify)?;
    let what = S::describe(&change);
    let (event_type, reason, note) = if pass.drift && S::moved_in_cloud(status, &observed) {
        (EventType::Warning, Reason::DriftCorrected, format!("{} had drifted in the cloud ({what}); restored it", S::BLOCK))
    } else {
        (EventType::Normal, Reason::Updated, format!("updated {} in the cloud: {what}", S::BLOCK))
    };
    // One action per block: events of the same reason and action are merged into one series
    // keeping the first note, which would hide a second block's change behind the first's.
    let action = format!("Update{}", S::CONDITION.trim_end_matches("Synced"));
    pass.ctx.event(pass.cluster, event_type, reason, &action, note).await;
    Ok(written)
}

/// Converges every setting of a cluster, each on its own: one failing does not stop the others.
/// `Ok`: the soonest recheck a block asked for. `Err`: the failures, as one error whose message
/// names each failed block; Stalled only when every failure needs a person, so a transient one is
/// retried with backoff.
pub async fn converge_all(settings: &[Box<dyn AnySetting>], pass: &Pass<'_>, status: &mut CockroachClusterStatus) -> Result<Option<Recheck>, ReconcileError> {
    let mut failures = Vec::new();
    let mut recheck: Option<Recheck> = None;
    for setting in settings {
        match setting.converge(pass, status).await {
            Ok(next) => {
                recheck = match (recheck, next) {
                    (Some(a), Some(b)) => Some(a.merge(b)),
                    (a, b) => a.or(b),
                }
            }
            Err(err) => failures.push(err),
        }
    }
    combine(failures).map(|()| recheck)
}

/// Observe-only over every setting of a cluster: the differences of the blocks the spec sets.
/// Blocks that cannot be read fail together, as in [`converge_all`].
pub async fn observe_all(settings: &[Box<dyn AnySetting>], pass: &Pass<'_>, status: &mut CockroachClusterStatus) -> Result<Vec<DriftEntry>, ReconcileError> {
    let mut drift = Vec::new();
    let mut failures = Vec::new();
    for setting in settings {
        match setting.observe_only(pass, status).await {
            Ok(difference) => drift.extend(difference),
            Err(err) => failures.push(err),
        }
    }
    combine(failures).map(|()| drift)
}

/// One error for the failed blocks (none: `Ok`).
fn combine(failures: Vec<ReconcileError>) -> Result<(), ReconcileError> {
    let Some(first) = failures.first() else {
        return Ok(());
    };
    let message = failures.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; ");
    let reason = first.reason;
    Err(match failures.iter().find(|f| !f.is_stalled()) {
        Some(transient) => ReconcileError::transient(transient.reason, message),
        None => ReconcileError::stalled(reason, message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_blocks_are_named_together_and_stall_only_if_none_is_transient() {
        assert!(combine(Vec::new()).is_ok());
        let refused = ReconcileError::stalled(Reason::CloudRejectedSpec, "spec.backup: retention was changed before");
        let down = ReconcileError::transient(Reason::CloudUnavailable, "spec.maintenance: HTTP 503");
        let both = combine(vec![refused.clone(), down.clone()]).unwrap_err();
        assert!(!both.is_stalled() && both.reason == Reason::CloudUnavailable, "{both:?}");
        assert!(both.message.contains("spec.backup") && both.message.contains("spec.maintenance"), "{}", both.message);
        let stalled = combine(vec![refused]).unwrap_err();
        assert!(stalled.is_stalled() && stalled.reason == Reason::CloudRejectedSpec);
    }
}
