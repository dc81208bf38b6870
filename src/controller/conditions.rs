//! Ready / Reconciling / Stalled conditions, computed purely from a reconcile's outcome.
//!
//! kstatus reads `Reconciling=True` as "in progress" and `Stalled=True` as "failed"; `Ready=True` is
//! what `kubectl wait --for=condition=Ready` waits for. All three are always present so a reader
//! never has to guess what an absent condition means. `lastTransitionTime` only changes when a
//! condition's status flips.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::reason::Reason;

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// What a reconcile concluded about a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Cloud matches spec.
    Ready { reason: Reason, message: String },
    /// Work is under way (creating, updating, waiting for the cloud or for a dependency).
    /// `retrying`: the pass failed and will be retried with backoff (worth a Warning event),
    /// as opposed to progress that needs nothing but time.
    Progressing { reason: Reason, message: String, retrying: bool },
    /// Needs a person: invalid spec, bad credentials, delete protection, conflicts.
    Stalled { reason: Reason, message: String },
}

impl Outcome {
    pub fn ready(message: impl Into<String>) -> Self {
        Self::Ready { reason: Reason::Ready, message: message.into() }
    }
    pub fn progressing(reason: Reason, message: impl Into<String>) -> Self {
        Self::Progressing { reason, message: message.into(), retrying: false }
    }
    /// A failed pass that is retried; the message says so.
    pub fn retrying(reason: Reason, message: impl std::fmt::Display) -> Self {
        Self::Progressing { reason, message: format!("{message} (retrying)"), retrying: true }
    }
    pub fn stalled(reason: Reason, message: impl Into<String>) -> Self {
        Self::Stalled { reason, message: message.into() }
    }
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready { .. })
    }
    pub fn reason(&self) -> Reason {
        match self {
            Self::Ready { reason, .. } | Self::Progressing { reason, .. } | Self::Stalled { reason, .. } => *reason,
        }
    }
    pub fn message(&self) -> &str {
        match self {
            Self::Ready { message, .. } | Self::Progressing { message, .. } | Self::Stalled { message, .. } => message,
        }
    }
}

/// The three conditions for `outcome`, keeping `lastTransitionTime` from `previous` where the status
/// did not change.
pub fn conditions_for(outcome: &Outcome, generation: Option<i64>, previous: &[Condition], now: Timestamp) -> Vec<Condition> {
    let (ready, reconciling, stalled) = match outcome {
        Outcome::Ready { .. } => (true, false, false),
        Outcome::Progressing { .. } => (false, true, false),
        Outcome::Stalled { .. } => (false, false, true),
    };
    let reason = outcome.reason();
    let message = outcome.message();
    // Built on `previous`, so each keeps its lastTransitionTime while its status holds.
    let mut conditions: Vec<Condition> = previous.iter().filter(|c| is_summary(&c.type_)).cloned().collect();
    set(&mut conditions, READY, ready, reason, message, generation, now);
    set(&mut conditions, RECONCILING, reconciling, if reconciling { reason } else { Reason::Idle }, if reconciling { message } else { "" }, generation, now);
    set(&mut conditions, STALLED, stalled, if stalled { reason } else { Reason::NotStalled }, if stalled { message } else { "" }, generation, now);
    conditions
}

/// Whether `type_` is one of the three conditions every resource has (the others belong to parts of
/// a resource, such as a setting block's `BackupSynced`).
pub fn is_summary(type_: &str) -> bool {
    [READY, RECONCILING, STALLED].contains(&type_)
}

/// Sets the condition `type_` in `conditions`, keeping its `lastTransitionTime` when its status does
/// not change.
pub fn set(conditions: &mut Vec<Condition>, type_: &str, status: bool, reason: Reason, message: &str, generation: Option<i64>, now: Timestamp) {
    let status = if status { "True" } else { "False" }.to_string();
    let last_transition_time = find(conditions, type_).filter(|c| c.status == status).map(|c| c.last_transition_time.clone()).unwrap_or(Time(now));
    conditions.retain(|c| c.type_ != type_);
    conditions.push(Condition {
        type_: type_.to_string(),
        status,
        reason: reason.as_str().to_string(),
        message: message.to_string(),
        observed_generation: generation,
        last_transition_time,
    });
}

/// Equal ignoring `lastTransitionTime`, so a status write can be skipped when nothing changed.
pub fn same_ignoring_time(a: &[Condition], b: &[Condition]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.type_ == y.type_
                && x.status == y.status
                && x.reason == y.reason
                && x.message == y.message
                && x.observed_generation == y.observed_generation
        })
}

/// The condition of `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// The condition's reason, when it is one of the operator's (conditions written by someone else
/// may carry any text).
pub fn reason_of(condition: &Condition) -> Option<Reason> {
    condition.reason.parse().ok()
}

/// True when `Ready=True` for the current generation.
pub fn is_ready(conditions: &[Condition]) -> bool {
    find(conditions, READY).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn ready_sets_one_true_condition() {
        let c = conditions_for(&Outcome::ready("ok"), Some(3), &[], at(10));
        assert_eq!(c.iter().filter(|c| c.status == "True").count(), 1);
        assert_eq!(find(&c, READY).unwrap().status, "True");
        assert_eq!(find(&c, READY).unwrap().observed_generation, Some(3));
        assert!(is_ready(&c));
    }

    #[test]
    fn transition_time_changes_only_on_status_flip() {
        let first = conditions_for(&Outcome::progressing(Reason::Creating, "a"), Some(1), &[], at(10));
        let same = conditions_for(&Outcome::progressing(Reason::Creating, "b"), Some(1), &first, at(20));
        assert_eq!(find(&same, RECONCILING).unwrap().last_transition_time, Time(at(10)));
        let flipped = conditions_for(&Outcome::ready("done"), Some(1), &same, at(30));
        assert_eq!(find(&flipped, READY).unwrap().last_transition_time, Time(at(30)));
        assert_eq!(find(&flipped, RECONCILING).unwrap().last_transition_time, Time(at(30)));
        // Stalled stayed False throughout.
        assert_eq!(find(&flipped, STALLED).unwrap().last_transition_time, Time(at(10)));
    }

    #[test]
    fn reasons_are_written_as_their_names_and_read_back() {
        let c = conditions_for(&Outcome::stalled(Reason::DeleteProtected, "protected"), Some(1), &[], at(10));
        assert_eq!(find(&c, STALLED).unwrap().reason, "DeleteProtected");
        assert_eq!(reason_of(find(&c, STALLED).unwrap()), Some(Reason::DeleteProtected));
        assert_eq!(find(&c, READY).unwrap().reason, "DeleteProtected");
        assert_eq!(reason_of(find(&c, RECONCILING).unwrap()), Some(Reason::Idle));
        let mut foreign = find(&c, STALLED).unwrap().clone();
        foreign.reason = "SomethingElse".into();
        assert_eq!(reason_of(&foreign), None);
    }

    #[test]
    fn only_a_retried_failure_is_marked_retrying() {
        let failed = Outcome::retrying(Reason::CloudUnavailable, "listing databases: HTTP 503");
        assert!(matches!(failed, Outcome::Progressing { retrying: true, .. }));
        assert_eq!(failed.message(), "listing databases: HTTP 503 (retrying)");
        // A message that happens to end like a retried one is still plain progress.
        let waiting = Outcome::progressing(Reason::WaitingForCluster, "the cloud said: (retrying)");
        assert!(matches!(waiting, Outcome::Progressing { retrying: false, .. }));
    }

    #[test]
    fn comparison_ignores_timestamps_only() {
        let a = conditions_for(&Outcome::ready("ok"), Some(1), &[], at(10));
        let b = conditions_for(&Outcome::ready("ok"), Some(1), &[], at(99));
        assert!(same_ignoring_time(&a, &b));
        let c = conditions_for(&Outcome::ready("ok"), Some(2), &[], at(10));
        assert!(!same_ignoring_time(&a, &c));
    }
}
