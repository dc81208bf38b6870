//! Pause: the annotation `crdbcloud.io/paused: "true"` stops every cloud call for one object,
//! reads included (during an incident, or while someone works on the object by hand). The
//! resource shows it in a `Paused` condition (and the `Paused` column of `kubectl get`); its other
//! conditions stay as the last pass left them. A paused resource being deleted keeps its finalizer
//! and says why: deleting it would need the cloud. Removing the annotation resumes at once (the
//! watch event of the change wakes it).

use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource};

use super::conditions;
use super::context::Context;
use super::error::ReconcileError;
use super::finalizer;
use super::reason::Reason;
use super::reconciler::{Managed, StatusFields, is_operator_condition};
use super::status::apply_status;

/// The annotation that pauses a resource, when its value is `"true"`.
pub const PAUSED_ANNOTATION: &str = "crdbcloud.io/paused";
/// The condition a paused resource carries (True while paused; absent otherwise).
pub const PAUSED: &str = "Paused";

/// Whether the resource asks not to be touched.
pub fn is_paused<K: Resource>(obj: &K) -> bool {
    obj.meta().annotations.as_ref().and_then(|a| a.get(PAUSED_ANNOTATION)).is_some_and(|v| v == "true")
}

/// Why a paused resource is not acted on: plain, or with a deletion waiting for it.
fn explanation(deleting: bool) -> String {
    if deleting {
        format!("deletion is waiting: {PAUSED_ANNOTATION} is \"true\", so the operator makes no cloud call and cannot delete the cloud object; remove the annotation to let the deletion go ahead (or set deletionPolicy: Retain first to keep the cloud object)")
    } else {
        format!("{PAUSED_ANNOTATION} is \"true\": the operator makes no cloud call for this resource until the annotation is removed")
    }
}

/// A pass over a paused resource: records the `Paused` condition (once; no write when it is
/// already there), announces it, and waits for the resource to change.
pub async fn hold<K: Managed>(obj: &K, ctx: &Context, api: &Api<K>, mut draft: K::Status) -> Result<Action, ReconcileError> {
    let deleting = obj.meta().deletion_timestamp.is_some();
    if deleting && !finalizer::has_finalizer(obj) {
        return Ok(Action::await_change());
    }
    let message = explanation(deleting);
    let previous = conditions::find(draft.conditions(), PAUSED).map(|c| c.message.clone());
    if previous.as_deref() == Some(message.as_str()) {
        return Ok(Action::await_change());
    }
    // Only the operator's own conditions are written back (as `finish` does): another writer's,
    // applied with the value read, would undo that writer's later updates.
    let mut own: Vec<_> = draft.conditions().iter().filter(|c| is_operator_condition(&c.type_)).cloned().collect();
    conditions::set(&mut own, PAUSED, true, Reason::Paused, &message, obj.meta().generation, Timestamp::now());
    draft.set_conditions(own);
    apply_status(api, &ctx.own_writes, obj, &draft).await?;
    let event_type = if deleting { EventType::Warning } else { EventType::Normal };
    ctx.event(obj, event_type, Reason::Paused, if deleting { "Delete" } else { "Pause" }, message).await;
    Ok(Action::await_change())
}

/// Takes the `Paused` condition out of the status of a resource no longer paused, announcing that
/// it resumed. The pass that follows writes the status without it.
pub async fn resume<K: Managed>(obj: &K, ctx: &Context, draft: &mut K::Status) {
    if conditions::find(draft.conditions(), PAUSED).is_none() {
        return;
    }
    let mut all = draft.conditions().to_vec();
    all.retain(|c| c.type_ != PAUSED);
    draft.set_conditions(all);
    let note = format!("{PAUSED_ANNOTATION} was removed: reconciling again");
    ctx.event(obj, EventType::Normal, Reason::Resumed, "Resume", note).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Database;

    fn with_annotation(value: Option<&str>) -> Database {
        let mut db = Database::new("app", serde_json::from_value(serde_json::json!({"clusterId": "00000000-0000-0000-0000-000000000000", "name": "app"})).unwrap());
        if let Some(value) = value {
            db.metadata.annotations = Some([(PAUSED_ANNOTATION.to_string(), value.to_string())].into());
        }
        db
    }

    #[test]
    fn only_the_value_true_pauses() {
        assert!(is_paused(&with_annotation(Some("true"))));
        assert!(!is_paused(&with_annotation(Some("false"))));
        assert!(!is_paused(&with_annotation(Some("yes"))));
        assert!(!is_paused(&with_annotation(None)));
    }

    #[test]
    fn a_waiting_deletion_says_how_to_let_it_go_ahead() {
        assert!(explanation(true).contains("remove the annotation") && explanation(true).contains("deletion is waiting"));
        assert!(!explanation(false).contains("deletion"));
    }
}
