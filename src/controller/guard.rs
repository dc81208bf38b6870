//! A stored object that cannot be read never stops a watch.
//!
//! Watches decode objects as [`DeserializeGuard`]: one that does not fit the operator's types (an
//! older or hand-edited schema) arrives as an `InvalidObject` with its metadata instead of failing
//! the whole list or watch, which would stop every object of its kind from reconciling. The
//! [`Screen`] between each watch and its reflector passes the readable objects on, keeps the
//! unreadable ones out of the watch cache (and so out of the reconcilers, including requeues
//! already scheduled for them) and reports each version of an unreadable object once: a Warning
//! event on it, a log line and the `crdb_operator_invalid_objects{kind}` gauge.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use kube::core::DeserializeGuard;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::Resource;

use super::context::Context;
use super::reason::Reason;

/// Tells readable objects from unreadable ones in one watch of one kind, remembering which
/// unreadable versions were already reported.
#[derive(Default)]
pub struct Screen {
    /// Unreadable objects (namespace/name) and the resourceVersion reported for each.
    invalid: HashMap<String, String>,
    /// Unreadable objects seen since the last `Init`, while the watch re-lists.
    relisted: Option<HashSet<String>>,
}

/// What a [`Screen`] made of one watch event.
#[derive(Debug)]
pub struct Screened<K> {
    /// The event for the reflector and the controller, if any.
    pub event: Option<Event<K>>,
    /// An unreadable object not reported at this version yet.
    pub report: Option<InvalidObject>,
}

fn key_of(meta: &kube::api::ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or_default(), meta.name.as_deref().unwrap_or_default())
}

fn cached_ref<K: Resource<DynamicType = ()>>(meta: &kube::api::ObjectMeta) -> ObjectRef<K> {
    let reference = ObjectRef::new(meta.name.as_deref().unwrap_or_default());
    match meta.namespace.as_deref() {
        Some(namespace) => reference.within(namespace),
        None => reference,
    }
}

impl Screen {
    /// How many objects of this watch are unreadable now.
    pub fn invalid_count(&self) -> usize {
        self.invalid.len()
    }

    /// Screens one event. `cached` finds the readable version the watch cache still holds, so an
    /// object that became unreadable is dropped from it.
    pub fn screen<K: Resource<DynamicType = ()> + Clone>(
        &mut self,
        event: Event<DeserializeGuard<K>>,
        cached: impl Fn(&ObjectRef<K>) -> Option<Arc<K>>,
    ) -> Screened<K> {
        let forget = |bad: &InvalidObject| cached(&cached_ref::<K>(&bad.metadata)).map(|old| Event::Delete((*old).clone()));
        match event {
            Event::Init => {
                self.relisted = Some(HashSet::new());
                Screened { event: Some(Event::Init), report: None }
            }
            Event::InitDone => {
                // Unreadable objects not listed again are gone (deleted while the watch was down).
                if let Some(seen) = self.relisted.take() {
                    self.invalid.retain(|key, _| seen.contains(key));
                }
                Screened { event: Some(Event::InitDone), report: None }
            }
            Event::InitApply(DeserializeGuard(Ok(obj))) => {
                self.invalid.remove(&key_of(obj.meta()));
                Screened { event: Some(Event::InitApply(obj)), report: None }
            }
            Event::Apply(DeserializeGuard(Ok(obj))) => {
                self.invalid.remove(&key_of(obj.meta()));
                Screened { event: Some(Event::Apply(obj)), report: None }
            }
            Event::Delete(DeserializeGuard(Ok(obj))) => {
                self.invalid.remove(&key_of(obj.meta()));
                Screened { event: Some(Event::Delete(obj)), report: None }
            }
            // A re-list rebuilds the cache from what it lists: leaving the object out is enough.
            Event::InitApply(DeserializeGuard(Err(bad))) => {
                if let Some(seen) = self.relisted.as_mut() {
                    seen.insert(key_of(&bad.metadata));
                }
                let report = self.note(bad);
                Screened { event: None, report }
            }
            Event::Apply(DeserializeGuard(Err(bad))) => {
                let event = forget(&bad);
                Screened { event, report: self.note(bad) }
            }
            Event::Delete(DeserializeGuard(Err(bad))) => {
                self.invalid.remove(&key_of(&bad.metadata));
                Screened { event: forget(&bad), report: None }
            }
        }
    }

    /// Records an unreadable object; returns it when this version was not reported yet.
    fn note(&mut self, bad: InvalidObject) -> Option<InvalidObject> {
        let version = bad.metadata.resource_version.clone().unwrap_or_default();
        let previous = self.invalid.insert(key_of(&bad.metadata), version.clone());
        (previous.as_deref() != Some(version.as_str())).then_some(bad)
    }
}

/// The watch events of `K` with unreadable objects screened out and reported (see the module).
pub fn screened<K>(
    events: impl Stream<Item = Result<Event<DeserializeGuard<K>>, watcher::Error>> + Send + 'static,
    cache: Store<K>,
    ctx: Arc<Context>,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    let screen = Arc::new(Mutex::new(Screen::default()));
    let kind = K::kind(&()).to_string();
    events.filter_map(move |event| {
        let result = event.map(|event| {
            let mut screen = screen.lock().expect("screen lock");
            let screened = screen.screen(event, |reference| cache.get(reference));
            ctx.metrics.invalid_objects(&kind, screen.invalid_count());
            screened
        });
        let out = match result {
            Ok(Screened { event, report }) => {
                if let Some(bad) = report {
                    report_invalid::<K>(&ctx, &kind, bad);
                }
                event.map(Ok)
            }
            Err(err) => Some(Err(err)),
        };
        std::future::ready(out)
    })
}

/// A log line and a Warning event on the object (published in the background: the watch does
/// not wait for the apiserver).
fn report_invalid<K>(ctx: &Arc<Context>, kind: &str, bad: InvalidObject)
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    let namespace = bad.metadata.namespace.clone().unwrap_or_default();
    let name = bad.metadata.name.clone().unwrap_or_default();
    tracing::warn!(kind, namespace, name, error = %bad.error, "skipping an object that cannot be read; it is not reconciled until it is fixed");
    let note = format!(
        "the operator cannot read this {kind} ({}); it is not reconciled (nor, while it has the finalizer, deleted) until it is fixed to match the installed CRD",
        bad.error
    );
    let guard = DeserializeGuard::<K>(Err(bad));
    let ctx = ctx.clone();
    tokio::spawn(async move {
        ctx.event(&guard, EventType::Warning, Reason::InvalidObject, "Read", note).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Database;
    use kube::ResourceExt;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> DeserializeGuard<Database> {
        serde_json::from_value(value).unwrap()
    }

    fn good(name: &str, version: &str) -> DeserializeGuard<Database> {
        parse(json!({
            "apiVersion": "crdbcloud.io/v1alpha1", "kind": "Database",
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": version},
            "spec": {"clusterId": "c1"}
        }))
    }

    fn bad(name: &str, version: &str) -> DeserializeGuard<Database> {
        parse(json!({
            "apiVersion": "crdbcloud.io/v1alpha1", "kind": "Database",
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": version},
            "spec": {"clusterId": "c1", "deletionPolicy": ["not", "a", "policy"]}
        }))
    }

    fn none(_: &ObjectRef<Database>) -> Option<Arc<Database>> {
        None
    }

    #[test]
    fn an_unreadable_object_is_reported_once_per_version_and_never_passed_on() {
        assert!(bad("x", "1").0.is_err(), "the fixture must not deserialise");
        let mut screen = Screen::default();
        let first = screen.screen(Event::Apply(bad("x", "1")), none);
        assert!(first.event.is_none());
        assert_eq!(first.report.map(|b| b.metadata.name), Some(Some("x".to_string())));
        // The same version again (a re-list, a watch restart): not reported again.
        assert!(screen.screen(Event::Init, none).report.is_none());
        let again = screen.screen(Event::InitApply(bad("x", "1")), none);
        assert!(again.event.is_none() && again.report.is_none());
        assert!(matches!(screen.screen(Event::InitDone, none).event, Some(Event::InitDone)));
        assert_eq!(screen.invalid_count(), 1);
        // A new unreadable version is news.
        assert!(screen.screen(Event::Apply(bad("x", "2")), none).report.is_some());
        // Fixed: passed on, no longer counted.
        assert!(matches!(screen.screen(Event::Apply(good("x", "3")), none).event, Some(Event::Apply(_))));
        assert_eq!(screen.invalid_count(), 0);
    }

    #[test]
    fn readable_objects_pass_unchanged_beside_unreadable_ones() {
        let mut screen = Screen::default();
        assert!(matches!(screen.screen(Event::Init, none).event, Some(Event::Init)));
        let ok = screen.screen(Event::InitApply(good("a", "1")), none);
        assert!(matches!(&ok.event, Some(Event::InitApply(db)) if db.name_any() == "a") && ok.report.is_none());
        assert!(screen.screen(Event::InitApply(bad("b", "1")), none).event.is_none());
        let ok = screen.screen(Event::InitApply(good("c", "1")), none);
        assert!(matches!(&ok.event, Some(Event::InitApply(db)) if db.name_any() == "c"));
    }

    #[test]
    fn an_object_that_becomes_unreadable_leaves_the_cache() {
        let mut screen = Screen::default();
        let DeserializeGuard(Ok(old)) = good("x", "1") else { panic!() };
        let old = Arc::new(old);
        let cached = |r: &ObjectRef<Database>| (r.name == "x" && r.namespace.as_deref() == Some("ns")).then(|| old.clone());
        let out = screen.screen(Event::Apply(bad("x", "2")), cached);
        assert!(matches!(&out.event, Some(Event::Delete(db)) if db.name_any() == "x"), "{:?}", out.event);
        assert!(out.report.is_some());
        // Its deletion is not counted any more.
        assert!(screen.screen(Event::Delete(bad("x", "3")), none).event.is_none());
        assert_eq!(screen.invalid_count(), 0);
    }

    #[test]
    fn unreadable_objects_gone_during_a_relist_are_no_longer_counted() {
        let mut screen = Screen::default();
        screen.screen(Event::Apply(bad("x", "1")), none);
        screen.screen(Event::Apply(bad("y", "1")), none);
        assert_eq!(screen.invalid_count(), 2);
        screen.screen(Event::Init, none);
        screen.screen(Event::InitApply(bad("y", "1")), none);
        screen.screen(Event::InitDone, none);
        assert_eq!(screen.invalid_count(), 1);
    }
}
