//! Observe-only (`spec.managementPolicy: Observe`): the pure part every shape shares.
//!
//! An observed resource finds its cloud object the way a managed one would (recorded ID, adoption
//! field, natural key) but never writes to the cloud. What the cloud holds goes to status as
//! usual; every difference between the spec and the object goes to `status.drift`, and the
//! `InSync` condition says whether there is any. The comparison is generic: each kind describes its
//! cloud object in the spec's own terms (`spec_of`, a JSON value shaped like the spec), and only
//! the fields that description holds are compared, so references, policies and other fields the
//! cloud knows nothing of are never reported as drift. A spec field left unset is unmanaged and
//! never differs.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::conditions::{self, Outcome};
use super::error::ReconcileError;
use super::reason::Reason;
use super::reconciler::StatusFields;
use crate::api::common::DriftEntry;

/// The condition an observed resource carries: True when the cloud object matches the spec.
pub const IN_SYNC: &str = "InSync";

/// A resource's spec as JSON, as it is compared.
pub fn spec_json<K: serde::Serialize>(obj: &K) -> Value {
    serde_json::to_value(obj).ok().and_then(|mut v| v.get_mut("spec").map(Value::take)).unwrap_or_default()
}

/// Every difference between `desired` (the spec as JSON) and `observed` (the cloud object in the
/// spec's terms), by spec field path.
pub fn differences(desired: &Value, observed: &Value) -> Vec<DriftEntry> {
    let mut found = Vec::new();
    walk("spec", desired, observed, &mut found);
    found
}

fn walk(path: &str, desired: &Value, observed: &Value, found: &mut Vec<DriftEntry>) {
    match (desired, observed) {
        // Unset in the spec: unmanaged.
        (Value::Null, _) => {}
        (Value::Object(want), Value::Object(have)) => {
            for (field, value) in want {
                // A field the description leaves out is one the cloud does not show.
                if let Some(seen) = have.get(field) {
                    walk(&format!("{path}.{field}"), value, seen, found);
                }
            }
        }
        (want, have) if same(want, have) => {}
        (want, have) => found.push(DriftEntry {
            field: path.to_string(),
            desired: Some(want.to_string()),
            observed: (!have.is_null()).then(|| have.to_string()),
            change: None,
        }),
    }
}

/// Equal as the spec means it: numbers by value (`1` and `1.0`), lists of plain values as sets
/// (the cloud does not keep the spec's order of regions or ports).
fn same(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) if a.iter().chain(b).all(|v| !v.is_object() && !v.is_array()) => {
            let mut a: Vec<String> = a.iter().map(Value::to_string).collect();
            let mut b: Vec<String> = b.iter().map(Value::to_string).collect();
            a.sort();
            b.sort();
            a == b
        }
        (a, b) => a == b,
    }
}

/// Records `drift` and the `InSync` condition, and says how the pass ended: Ready (the object is
/// there and reported), whatever the differences.
pub fn report<S: StatusFields>(status: &mut S, drift: Vec<DriftEntry>, noun: &str, generation: Option<i64>) -> Outcome {
    let (in_sync, reason, message) = match drift.len() {
        0 => (true, Reason::MatchesSpec, format!("the cloud {noun} matches the spec")),
        n => {
            let fields: Vec<&str> = drift.iter().map(|d| d.field.as_str()).collect();
            (false, Reason::Drifted, format!("{n} difference(s) between the spec and the cloud {noun} (see status.drift): {}", fields.join(", ")))
        }
    };
    let mut all = status.conditions().to_vec();
    conditions::set(&mut all, IN_SYNC, in_sync, reason, &message, generation, Timestamp::now());
    status.set_conditions(all);
    status.base_mut().drift = drift;
    Outcome::Ready { reason: Reason::Observed, message: format!("managementPolicy is Observe: nothing is written to the cloud; {message}") }
}

/// An observed resource whose cloud object cannot be found. Nothing is created in Observe.
pub fn missing(noun: &str, which: &str) -> ReconcileError {
    ReconcileError::stalled(
        Reason::NotInCloud,
        format!("managementPolicy is Observe and there is no cloud {noun} {which}; nothing is created while observing (set managementPolicy: Manage to create it)"),
    )
}

/// Takes what observing wrote out of a status once the resource is managed again.
pub fn clear<S: StatusFields>(status: &mut S) {
    status.base_mut().drift.clear();
    let mut all = status.conditions().to_vec();
    all.retain(|c| c.type_ != IN_SYNC);
    status.set_conditions(all);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_fields_both_sides_hold_are_compared() {
        let spec = json!({"name": "app", "sql": true, "ui": false, "clusterRef": {"name": "c"}, "deletionPolicy": "Delete"});
        let cloud = json!({"name": "app", "sql": false, "ui": false});
        let drift = differences(&spec, &cloud);
        assert_eq!(drift.len(), 1, "{drift:?}");
        assert_eq!(drift[0].field, "spec.sql");
        assert_eq!(drift[0].desired.as_deref(), Some("true"));
        assert_eq!(drift[0].observed.as_deref(), Some("false"));
    }

    #[test]
    fn nested_fields_are_named_by_path_and_unset_ones_are_unmanaged() {
        let spec = json!({"dedicated": {"hardware": {"storageGib": 35, "machineType": null}}, "labels": {"team": "a"}});
        let cloud = json!({"dedicated": {"hardware": {"storageGib": 15, "machineType": "m6i.xlarge"}}, "labels": {"team": "a", "other": "x"}});
        let drift = differences(&spec, &cloud);
        assert_eq!(drift.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(), ["spec.dedicated.hardware.storageGib"]);
    }

    #[test]
    fn numbers_compare_by_value_and_plain_lists_as_sets() {
        assert!(differences(&json!({"n": 1}), &json!({"n": 1.0})).is_empty());
        assert!(differences(&json!({"r": ["b", "a"]}), &json!({"r": ["a", "b"]})).is_empty());
        assert_eq!(differences(&json!({"r": ["a"]}), &json!({"r": ["a", "b"]})).len(), 1);
    }

    #[test]
    fn a_value_the_cloud_lacks_is_shown_as_absent() {
        let drift = differences(&json!({"description": "x"}), &json!({"description": null}));
        assert_eq!(drift.len(), 1);
        assert_eq!(drift[0].observed, None);
    }

    #[test]
    fn the_report_sets_in_sync_and_the_drift_list() {
        let mut status = crate::api::ChildStatus::default();
        let drift = differences(&json!({"sql": true}), &json!({"sql": false}));
        let outcome = report(&mut status, drift, "allowlist entry", Some(3));
        assert!(outcome.is_ready() && outcome.reason() == Reason::Observed);
        assert!(outcome.message().contains("spec.sql"), "{}", outcome.message());
        let in_sync = conditions::find(&status.base.conditions, IN_SYNC).unwrap();
        assert_eq!((in_sync.status.as_str(), in_sync.reason.as_str()), ("False", "Drifted"));
        assert_eq!(status.base.drift.len(), 1);
        report(&mut status, Vec::new(), "allowlist entry", Some(3));
        assert_eq!(conditions::find(&status.base.conditions, IN_SYNC).unwrap().status, "True");
        assert!(status.base.drift.is_empty());
        clear(&mut status);
        assert!(conditions::find(&status.base.conditions, IN_SYNC).is_none());
    }
}
