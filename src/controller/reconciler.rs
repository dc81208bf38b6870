//! The part of every reconcile that is the same for all kinds: turning the pipeline's result into
//! conditions, a status write (skipped when nothing changed), events and the next requeue.

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::core::object::HasStatus;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::conditions::{self, Outcome};
use super::context::{Context, jitter};
use super::error::ReconcileError;
use super::reason::Reason;
use super::status::apply_status;
use crate::api::common::StatusBase;
use crate::cloud::Priority;

/// Access to the fields every status has (its [`StatusBase`]).
pub trait StatusFields: Clone + Default + PartialEq + Serialize + Send + Sync {
    fn base(&self) -> &StatusBase;
    fn base_mut(&mut self) -> &mut StatusBase;

    fn conditions(&self) -> &[Condition] {
        &self.base().conditions
    }
    fn set_conditions(&mut self, conditions: Vec<Condition>) {
        self.base_mut().conditions = conditions;
    }
    fn observed_generation(&self) -> Option<i64> {
        self.base().observed_generation
    }
    fn set_observed_generation(&mut self, generation: Option<i64>) {
        self.base_mut().observed_generation = generation;
    }
}

/// Implements [`StatusFields`] for a status type whose [`StatusBase`] is at `field.path`.
#[macro_export]
macro_rules! impl_status_fields {
    ($status:ty, $($field:ident).+) => {
        impl $crate::controller::reconciler::StatusFields for $status {
            fn base(&self) -> &$crate::api::common::StatusBase {
                &self.$($field).+
            }
            fn base_mut(&mut self) -> &mut $crate::api::common::StatusBase {
                &mut self.$($field).+
            }
        }
    };
}

/// A kind the operator manages: a custom resource whose status has a [`StatusBase`]. Every
/// custom resource type of this crate is one (through kube's `HasStatus`).
pub trait Managed: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static {
    type Status: StatusFields;
    fn status(&self) -> Option<&Self::Status>;
    fn set_status(&mut self, status: Self::Status);
}

impl<K> Managed for K
where
    K: Resource<DynamicType = ()> + HasStatus + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static,
    <K as HasStatus>::Status: StatusFields,
{
    type Status = <K as HasStatus>::Status;
    fn status(&self) -> Option<&Self::Status> {
        HasStatus::status(self)
    }
    fn set_status(&mut self, status: Self::Status) {
        *self.status_mut() = Some(status);
    }
}

/// How a reconcile pass ended when it did not fail.
#[derive(Debug)]
pub struct Step {
    pub outcome: Outcome,
    pub requeue: Duration,
}

impl Step {
    pub fn new(outcome: Outcome, requeue: Duration) -> Self {
        Self { outcome, requeue }
    }
}

/// Work a person is waiting for goes first: new, changed or deleted resources, and those not Ready.
pub fn priority_of<K: Managed>(obj: &K) -> Priority {
    let status = obj.status();
    let settled = obj.meta().deletion_timestamp.is_none()
        && status.is_some_and(|s| s.observed_generation() == obj.meta().generation && conditions::is_ready(s.conditions()));
    if settled { Priority::Background } else { Priority::Interactive }
}

fn object_key<K: Managed>(obj: &K) -> String {
    format!("{}/{}/{}", K::kind(&()), obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Whether `type_` is a condition the operator reports besides the three summary ones: a setting
/// block's (`BackupSynced`, ...), `Paused` and observe-only's `InSync`, as opposed to one another
/// writer put in its status.
fn is_part_condition(type_: &str) -> bool {
    static PARTS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut parts: Vec<&'static str> = super::settings::all().iter().map(|s| s.condition()).collect();
        parts.extend([super::pause::PAUSED, super::observe::IN_SYNC]);
        parts
    });
    PARTS.contains(&type_)
}

/// Whether the operator writes the condition `type_` (a summary condition or a part's).
pub fn is_operator_condition(type_: &str) -> bool {
    conditions::is_summary(type_) || is_part_condition(type_)
}

/// Writes what a reconcile found and decides when to look again.
pub async fn finish<K: Managed>(
    ctx: &Context,
    api: &Api<K>,
    obj: &K,
    mut draft: K::Status,
    result: Result<Step, ReconcileError>,
) -> Result<Action, ReconcileError> {
    let key = object_key(obj);
    let previous = obj.status().cloned().unwrap_or_default();
    let (outcome, requeue) = match result {
        Ok(step) => {
            ctx.failures.clear(&key);
            (step.outcome, step.requeue)
        }
        Err(err) if err.is_stalled() => {
            ctx.failures.clear(&key);
            // No hot loop: a stalled resource is looked at again when it changes, or rarely.
            (Outcome::stalled(err.reason, err.message), jitter(ctx.timing.resync.min(ctx.timing.stalled_retry), 0.2))
        }
        Err(err) => {
            let failures = ctx.failures.record(&key);
            let backoff = ctx.timing.retry_base.saturating_mul(1 << failures.min(10).saturating_sub(1)).min(ctx.timing.retry_max);
            tracing::info!(reason = %err.reason, error = %err.message, ?backoff, "reconcile will retry");
            (Outcome::retrying(err.reason, err.message), jitter(backoff, 0.2))
        }
    };
    let kind = K::kind(&());
    let (result_label, condition, stalled_reason) = match &outcome {
        Outcome::Ready { .. } => ("ready", conditions::READY, None),
        // A transient failure that will be retried: its condition is Reconciling, but the reconcile
        // counts as an error, so a rise in failures shows in the metrics (and alerts).
        Outcome::Progressing { retrying: true, .. } => ("error", conditions::RECONCILING, None),
        Outcome::Progressing { .. } => ("progressing", conditions::RECONCILING, None),
        Outcome::Stalled { reason, .. } => ("stalled", conditions::STALLED, Some(reason.as_str())),
    };
    ctx.metrics.reconciled(&kind, result_label);
    ctx.metrics.resource_state(&kind, &object_key(obj), Some(condition), stalled_reason);
    let generation = obj.meta().generation;
    draft.set_observed_generation(generation);
    // The three summary conditions follow from the outcome; the others (a setting block's own
    // condition) are what the pass set in the draft. Another writer's conditions, read with the
    // object, are left out: applied with the value read, they would undo that writer's later
    // updates (server-side apply keeps them for their own field manager).
    let parts: Vec<Condition> = draft.conditions().iter().filter(|c| !conditions::is_summary(&c.type_) && is_part_condition(&c.type_)).cloned().collect();
    let mut all = conditions::conditions_for(&outcome, generation, previous.conditions(), Timestamp::now());
    all.extend(parts);
    draft.set_conditions(all);
    let previous_own: Vec<Condition> = previous.conditions().iter().filter(|c| is_operator_condition(&c.type_)).cloned().collect();
    let changed = draft.observed_generation() != previous.observed_generation()
        || !conditions::same_ignoring_time(draft.conditions(), &previous_own)
        || {
            // Compare everything else with the conditions taken out.
            let mut a = draft.clone();
            let mut b = previous.clone();
            a.set_conditions(Vec::new());
            b.set_conditions(Vec::new());
            a != b
        };
    if changed {
        apply_status(api, &ctx.own_writes, obj, &draft).await?;
        announce_transition(ctx, obj, &previous, &outcome).await;
    }
    Ok(Action::requeue(requeue))
}

/// Events for condition changes: becoming Ready, becoming Stalled, starting to fail.
async fn announce_transition<K: Managed>(ctx: &Context, obj: &K, previous: &K::Status, outcome: &Outcome) {
    if let Some((type_, reason)) = transition_event(previous.conditions(), outcome) {
        ctx.event(obj, type_, reason, "Reconcile", outcome.message().to_string()).await;
    }
}

/// The event a new outcome is worth, given the conditions before it: one on becoming Ready, one
/// on becoming Stalled (or Stalled for another reason), one when a pass starts failing for a
/// reason. Plain progress is visible in the conditions and gets none.
fn transition_event(previous: &[Condition], outcome: &Outcome) -> Option<(EventType, Reason)> {
    let was = |type_: &str, reason: Reason| {
        conditions::find(previous, type_).is_some_and(|c| c.status == "True" && conditions::reason_of(c) == Some(reason))
    };
    let was_true = |type_: &str| conditions::find(previous, type_).is_some_and(|c| c.status == "True");
    match outcome {
        Outcome::Ready { .. } if !was_true(conditions::READY) => Some((EventType::Normal, Reason::Ready)),
        Outcome::Stalled { reason, .. } if !was(conditions::STALLED, *reason) => Some((EventType::Warning, *reason)),
        Outcome::Progressing { reason, retrying: true, .. } if !was(conditions::RECONCILING, *reason) => Some((EventType::Warning, *reason)),
        _ => None,
    }
}

/// Removes the finalizer once cleanup is done; the resource no longer counts in the metrics.
pub async fn release<K: Managed>(ctx: &Context, api: &Api<K>, obj: &K) -> Result<Action, ReconcileError> {
    super::finalizer::remove(api, obj).await?;
    ctx.own_writes.forget(obj);
    ctx.metrics.resource_state(&K::kind(&()), &object_key(obj), None, None);
    Ok(Action::await_change())
}

/// Runs one reconcile and records its duration.
pub async fn timed<K, F>(ctx: std::sync::Arc<Context>, reconcile: F) -> Result<Action, ReconcileError>
where
    K: Managed,
    F: std::future::Future<Output = Result<Action, ReconcileError>>,
{
    let started = std::time::Instant::now();
    let result = reconcile.await;
    ctx.metrics.reconcile_duration(&K::kind(&()), started.elapsed());
    if result.is_err() {
        ctx.metrics.reconciled(&K::kind(&()), "error");
    }
    result
}

/// For `Controller::run`: only failures of the final status write end up here.
pub fn error_policy<K: Managed>(_obj: std::sync::Arc<K>, err: &ReconcileError, ctx: std::sync::Arc<Context>) -> Action {
    tracing::warn!(reason = %err.reason, error = %err.message, "reconcile failed");
    Action::requeue(jitter(ctx.timing.retry_base * 2, 0.5))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn after(outcome: &Outcome) -> Vec<Condition> {
        conditions::conditions_for(outcome, Some(1), &[], Timestamp::from_second(10).unwrap())
    }

    #[test]
    fn only_the_operators_own_conditions_are_parts() {
        assert!(is_part_condition("BackupSynced") && is_part_condition("PrivateEndpointsSynced"));
        assert!(is_part_condition("Paused") && is_part_condition("InSync"));
        assert!(!is_part_condition("MeddlerAudit") && !is_part_condition("Ready"));
    }

    #[test]
    fn a_retried_failure_is_announced_once_per_reason() {
        let failing = Outcome::retrying(Reason::CloudUnavailable, "listing SQL users: HTTP 503");
        assert_eq!(transition_event(&[], &failing), Some((EventType::Warning, Reason::CloudUnavailable)));
        // Still failing for the same reason: no second event.
        assert_eq!(transition_event(&after(&failing), &failing), None);
        // Failing for another reason: a new event.
        let other = Outcome::retrying(Reason::KubernetesError, "apiserver unavailable");
        assert_eq!(transition_event(&after(&failing), &other), Some((EventType::Warning, Reason::KubernetesError)));
    }

    #[test]
    fn plain_progress_is_not_announced_whatever_its_message() {
        // The decision is the outcome's `retrying` flag, not the wording of the message.
        let waiting = Outcome::progressing(Reason::WaitingForCluster, "cloud says: try again (retrying)");
        assert_eq!(transition_event(&[], &waiting), None);
        let creating = Outcome::progressing(Reason::Creating, "the cloud is creating the cluster");
        assert_eq!(transition_event(&after(&waiting), &creating), None);
    }

    #[test]
    fn ready_and_stalled_are_announced_on_transition_only() {
        let ready = Outcome::ready("ok");
        assert_eq!(transition_event(&[], &ready), Some((EventType::Normal, Reason::Ready)));
        assert_eq!(transition_event(&after(&ready), &ready), None);
        let stalled = Outcome::stalled(Reason::DeleteProtected, "protected");
        assert_eq!(transition_event(&after(&ready), &stalled), Some((EventType::Warning, Reason::DeleteProtected)));
        assert_eq!(transition_event(&after(&stalled), &stalled), None);
        let other = Outcome::stalled(Reason::CloudRejectedSpec, "refused");
        assert_eq!(transition_event(&after(&stalled), &other), Some((EventType::Warning, Reason::CloudRejectedSpec)));
    }
}
