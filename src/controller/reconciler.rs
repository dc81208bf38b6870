//! The part of every reconcile that is the same for all kinds: turning the pipeline's result into
//! conditions, a status write (skipped when nothing changed), events and the next requeue.

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::conditions::{self, Outcome};
use super::context::{Context, jitter};
use super::error::ReconcileError;
use super::status::apply_status;
use crate::cloud::Priority;

/// Access to the fields every status has.
pub trait StatusFields: Clone + Default + PartialEq + Serialize + Send + Sync {
    fn conditions(&self) -> &[Condition];
    fn set_conditions(&mut self, conditions: Vec<Condition>);
    fn observed_generation(&self) -> Option<i64>;
    fn set_observed_generation(&mut self, generation: Option<i64>);
}

/// Implements [`StatusFields`] for a status struct with `conditions` and `observed_generation`.
#[macro_export]
macro_rules! impl_status_fields {
    ($status:ty) => {
        impl $crate::controller::reconciler::StatusFields for $status {
            fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
                &self.conditions
            }
            fn set_conditions(&mut self, conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>) {
                self.conditions = conditions;
            }
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
        }
    };
}

/// A kind the operator manages.
pub trait Managed: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static {
    type Status: StatusFields;
    fn status(&self) -> Option<&Self::Status>;
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
    // `failed`: a transient failure that will be retried. Its condition is Reconciling, but the
    // reconcile counts as an error, so a rise in failures shows in the metrics (and alerts).
    let (outcome, requeue, failed) = match result {
        Ok(step) => {
            ctx.failures.clear(&key);
            (step.outcome, step.requeue, false)
        }
        Err(err) if err.is_stalled() => {
            ctx.failures.clear(&key);
            // No hot loop: a stalled resource is looked at again when it changes, or rarely.
            (Outcome::stalled(err.reason, err.message), jitter(ctx.timing.resync.min(ctx.timing.stalled_retry), 0.2), false)
        }
        Err(err) => {
            let failures = ctx.failures.record(&key);
            let backoff = ctx.timing.retry_base.saturating_mul(1 << failures.min(10).saturating_sub(1)).min(ctx.timing.retry_max);
            tracing::info!(reason = err.reason, error = %err.message, ?backoff, "reconcile will retry");
            (Outcome::progressing(err.reason, format!("{} (retrying)", err.message)), jitter(backoff, 0.2), true)
        }
    };
    let kind = K::kind(&());
    let (result_label, condition, stalled_reason) = match &outcome {
        Outcome::Ready { .. } => ("ready", conditions::READY, None),
        Outcome::Progressing { .. } if failed => ("error", conditions::RECONCILING, None),
        Outcome::Progressing { .. } => ("progressing", conditions::RECONCILING, None),
        Outcome::Stalled { reason, .. } => ("stalled", conditions::STALLED, Some(*reason)),
    };
    ctx.metrics.reconciled(&kind, result_label);
    ctx.metrics.resource_state(&kind, &object_key(obj), Some(condition), stalled_reason);
    let generation = obj.meta().generation;
    draft.set_observed_generation(generation);
    draft.set_conditions(conditions::conditions_for(&outcome, generation, previous.conditions(), Timestamp::now()));
    let changed = draft.observed_generation() != previous.observed_generation()
        || !conditions::same_ignoring_time(draft.conditions(), previous.conditions())
        || {
            // Compare everything else with the conditions taken out.
            let mut a = draft.clone();
            let mut b = previous.clone();
            a.set_conditions(Vec::new());
            b.set_conditions(Vec::new());
            a != b
        };
    if changed {
        apply_status(api, obj, &draft).await?;
        announce_transition(ctx, obj, &previous, &outcome).await;
    }
    Ok(Action::requeue(requeue))
}

/// Events for condition changes: becoming Ready, becoming Stalled, starting to fail.
async fn announce_transition<K: Managed>(ctx: &Context, obj: &K, previous: &K::Status, outcome: &Outcome) {
    let before = |t: &str| conditions::find(previous.conditions(), t).map(|c| (c.status.clone(), c.reason.clone()));
    match outcome {
        Outcome::Ready { message, .. } => {
            if before(conditions::READY).map(|(s, _)| s) != Some("True".into()) {
                ctx.event(obj, EventType::Normal, "Ready", "Reconcile", message.clone()).await;
            }
        }
        Outcome::Stalled { reason, message } => {
            if before(conditions::STALLED) != Some(("True".into(), reason.to_string())) {
                ctx.event(obj, EventType::Warning, reason, "Reconcile", message.clone()).await;
            }
        }
        Outcome::Progressing { reason, message } => {
            // Only failures are worth an event here; progress is visible in the conditions.
            if message.ends_with("(retrying)") && before(conditions::RECONCILING) != Some(("True".into(), reason.to_string())) {
                ctx.event(obj, EventType::Warning, reason, "Reconcile", message.clone()).await;
            }
        }
    }
}

/// Removes the finalizer once cleanup is done; the resource no longer counts in the metrics.
pub async fn release<K: Managed>(ctx: &Context, api: &Api<K>, obj: &K) -> Result<Action, ReconcileError> {
    super::finalizer::remove(api, obj).await?;
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
    tracing::warn!(reason = err.reason, error = %err.message, "reconcile failed");
    Action::requeue(jitter(ctx.timing.retry_base * 2, 0.5))
}
