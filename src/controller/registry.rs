//! The registry of kinds the operator serves (the list itself is `kinds::all()`, next to the
//! kinds' modules). Everything that exists once per kind follows from it: the controllers and their watches, first-sync tracking for readiness, the watch caches the
//! reconcilers read, the CRDs (and so the committed CRD YAML), and the check for missing CRDs at
//! start. Tests hold the chart's and deploy/'s RBAC, the "one of each kind" helpers and the crash
//! test's kind map to it. Adding a kind here is the only wiring a new kind needs.

use std::marker::PhantomData;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::runtime::controller::{Action, Config as ControllerConfig, Error as ControllerError};
use kube::runtime::reflector::ObjectRef;

use super::context::Context;
use crate::review::manifests::Manifest;
use crate::review::export::{ExportSession, Exported};
use crate::review::plan::{self, ResourcePlan, Session};
use super::driver::{Kind, Shape, reconcile};
use super::error::ReconcileError;
use super::{SyncTracker, Wiring, backoff, controller_for, reconciler};

/// Every kind, in a stable order (the order of the CRD YAML): the list in
/// [`kinds::all`](super::kinds::all), next to the kinds' modules.
pub fn kinds() -> Vec<Box<dyn Registered>> {
    super::kinds::all()
}

/// What the operator does with every kind, whatever its type.
pub trait Registered: Send + Sync {
    /// `CockroachCluster`.
    fn kind(&self) -> String;
    /// `cockroachclusters`: the resource name RBAC rules grant.
    fn plural(&self) -> String;
    fn crd(&self) -> CustomResourceDefinition;
    /// Why this kind's CRD cannot be served (usually "not installed"), if it cannot.
    fn crd_problem(&self, wiring: Wiring) -> BoxFuture<'static, Option<String>>;
    /// Builds this kind's controller (its watch cache is published in `ctx.stores` at once) and
    /// returns it running until `wiring`'s stop signal.
    fn controller(&self, ctx: Arc<Context>, wiring: Wiring, synced: SyncTracker) -> BoxFuture<'static, ()>;
    /// What applying a manifest of this kind would do (`crdb-cloud-operator plan`).
    fn plan<'a>(&'a self, manifest: &'a Manifest, session: &'a Session) -> BoxFuture<'a, ResourcePlan>;
    /// When this kind is exported: 0 before 1 (owners before their members).
    fn export_pass(&self) -> u8;
    /// Manifests of this kind's existing cloud objects (`crdb-cloud-operator export`).
    fn export<'a>(&'a self, session: &'a ExportSession) -> BoxFuture<'a, Result<Vec<Exported>, String>>;
}

struct Entry<K>(PhantomData<fn() -> K>);

/// `K` as an entry of the registry.
pub fn entry<K: Kind + CustomResourceExt>() -> Box<dyn Registered> {
    Box::new(Entry::<K>(PhantomData))
}

impl<K: Kind + CustomResourceExt> Registered for Entry<K> {
    fn kind(&self) -> String {
        K::kind(&()).to_string()
    }

    fn plural(&self) -> String {
        K::plural(&()).to_string()
    }

    fn crd(&self) -> CustomResourceDefinition {
        K::crd()
    }

    fn plan<'a>(&'a self, manifest: &'a Manifest, session: &'a Session) -> BoxFuture<'a, ResourcePlan> {
        async move {
            let obj: K = match serde_json::from_value(manifest.document.clone()) {
                Ok(obj) => obj,
                Err(e) => return ResourcePlan::new(manifest, plan::Action::Refused, format!("{}: not a valid {}: {e}", manifest.source, manifest.kind)),
            };
            // What `kubectl apply` would meet first: the schema and CEL rules, immutable fields.
            if let Some(refusal) = session.refusal(manifest).await {
                let action = if refusal.contains("immutable") { plan::Action::ReplaceImpossible } else { plan::Action::Refused };
                return ResourcePlan::new(manifest, action, refusal);
            }
            let live = session.live::<K>(&manifest.namespace, &manifest.name).await;
            K::Shape::plan(manifest, obj, live, session).await
        }
        .boxed()
    }

    fn export_pass(&self) -> u8 {
        K::Shape::EXPORT_PASS
    }

    fn export<'a>(&'a self, session: &'a ExportSession) -> BoxFuture<'a, Result<Vec<Exported>, String>> {
        K::Shape::export(session).boxed()
    }

    fn crd_problem(&self, wiring: Wiring) -> BoxFuture<'static, Option<String>> {
        async move {
            let crd = <K as CustomResourceExt>::crd_name();
            match wiring.api::<K>().list_metadata(&kube::api::ListParams::default().limit(1)).await {
                Ok(_) => None,
                Err(kube::Error::Api(status)) if status.code == 404 => Some(format!("{crd} (not installed)")),
                Err(err) => Some(format!("{crd} ({err})")),
            }
        }
        .boxed()
    }

    fn controller(&self, ctx: Arc<Context>, wiring: Wiring, synced: SyncTracker) -> BoxFuture<'static, ()> {
        let controller = controller_for::<K>(wiring.api(), wiring.watcher_config(), synced, ctx.clone());
        ctx.stores.set(controller.store());
        let controller = K::Shape::watches(controller, &wiring);
        controller
            .with_config(ControllerConfig::default().concurrency(32))
            .trigger_backoff(backoff::WatchBackoff::default())
            .graceful_shutdown_on(wiring.stopped())
            .run(|obj, ctx| reconciler::timed::<K, _>(ctx.clone(), reconcile(obj, ctx)), reconciler::error_policy, ctx)
            .for_each(log_result::<K>)
            .boxed()
    }
}

async fn log_result<K: kube::Resource>(result: Result<(ObjectRef<K>, Action), ControllerError<ReconcileError, kube::runtime::watcher::Error>>) {
    if let Err(err) = result {
        tracing::debug!(%err, kind = std::any::type_name::<K>(), "reconcile did not complete");
    }
}

/// Every CRD this operator serves, in the registry's order, ready to install (see
/// [`api::prepare_crd`](crate::api::prepare_crd)).
pub fn crds() -> Vec<CustomResourceDefinition> {
    kinds().iter().map(|kind| crate::api::prepare_crd(kind.crd())).collect()
}

/// Every CRD as one multi-document YAML stream, as committed under crds/.
pub fn crds_yaml() -> String {
    crds()
        .iter()
        .map(|crd| serde_norway::to_string(crd).expect("CRDs serialise to YAML"))
        .map(|doc| format!("---\n{doc}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once_with_its_crd() {
        let kinds = kinds();
        let mut names: Vec<String> = kinds.iter().map(|k| k.kind()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), kinds.len(), "a kind is registered twice");
        for kind in &kinds {
            let crd = kind.crd();
            assert_eq!(crd.spec.names.kind, kind.kind());
            assert_eq!(crd.spec.names.plural, kind.plural());
        }
    }

    #[test]
    fn every_crd_description_reads_as_prose() {
        let mut all = Vec::new();
        for crd in crds() {
            crate::api::prose::for_each_description(&mut serde_json::to_value(&crd).unwrap(), &mut |text| all.push(text.clone()));
        }
        assert!(all.len() > 50, "the schemas are documented: {} descriptions", all.len());
        for text in &all {
            assert_eq!(&crate::api::prose::reflow(text), text, "not reflowed");
            // The doc comments have no lists or code today, so no line break is left at all.
            assert!(!text.contains('\n'), "a hard line break is left in {text:?}");
        }
        // The source's wrapped comment is one line in the CRD.
        assert!(all.iter().any(|d| d.contains("Its provider and serverless/dedicated shape must match this spec")));
    }

    /// `kubectl explain` describes every field: each property of every CRD has a description.
    #[test]
    fn every_field_of_every_crd_is_described() {
        fn undescribed(node: &serde_json::Value, path: &str, out: &mut Vec<String>) {
            if let Some(properties) = node["properties"].as_object() {
                for (name, property) in properties {
                    let path = format!("{path}.{name}");
                    if property["description"].as_str().is_none_or(str::is_empty) {
                        out.push(path.clone());
                    }
                    undescribed(property, &path, out);
                }
            }
            if node["items"].is_object() {
                undescribed(&node["items"], &format!("{path}[]"), out);
            }
        }
        let mut missing = Vec::new();
        for crd in crds() {
            let value = serde_json::to_value(&crd).unwrap();
            for version in value["spec"]["versions"].as_array().unwrap() {
                let root = &version["schema"]["openAPIV3Schema"];
                // metadata is Kubernetes' own; apiVersion and kind are described by the apiserver.
                for part in ["spec", "status"] {
                    undescribed(&root["properties"][part], &format!("{}.{part}", crd.spec.names.kind), &mut missing);
                }
            }
        }
        assert!(missing.is_empty(), "fields without a description (they show blank in kubectl explain): {missing:#?}");
    }
}
