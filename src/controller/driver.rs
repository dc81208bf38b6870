//! The reconcile every kind shares, whatever its shape: the finalizer goes on before anything can
//! be created in the cloud; deletion runs the shape's cleanup and then releases the finalizer; a
//! pass's result becomes conditions, a status write (skipped when unchanged), events and the next
//! requeue (see [`reconciler::finish`](super::reconciler::finish)). It also honours, for every
//! kind, the `crdbcloud.io/paused` annotation ([`pause`](super::pause): no cloud call at all) and
//! `managementPolicy: Observe` ([`observe`](super::observe): read and report, never write).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::{Action, Controller};
use kube::core::object::HasSpec;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::Wiring;
use super::context::Context;
use super::error::ReconcileError;
use super::finalizer;
use super::{observe, pause};
use crate::api::common::CommonSpec;
use crate::review::manifests::Manifest;
use crate::review::export::{ExportSession, Exported};
use crate::review::plan::{ResourcePlan, Session};
use super::reason::Reason;
use super::reconciler::{Managed, Step, finish, release};

/// How the kinds of one shape converge and clean up. Implemented once per shape
/// ([`TopLevelShape`](super::top_level::TopLevelShape), [`MemberShape`](super::member::MemberShape)),
/// for every kind of that shape.
pub trait Shape<K: Managed>: Send + Sync + 'static {
    /// One pass over a live resource. `written` is set when the pass had to write status before its
    /// end (the exactly-once create records its intent first), so the final write compares with
    /// what is really stored.
    fn apply(
        obj: &K,
        ctx: &Context,
        api: &Api<K>,
        draft: &mut K::Status,
        written: &mut Option<K::Status>,
    ) -> impl Future<Output = Result<Step, ReconcileError>> + Send;

    /// Removes (or, with `deletionPolicy: Retain`, releases) the cloud object of a resource being
    /// deleted. `Ok(None)`: done, the finalizer may go; `Ok(Some(step))`: look again.
    fn cleanup(obj: &K, ctx: &Context, draft: &mut K::Status) -> impl Future<Output = Result<Option<Step>, ReconcileError>> + Send;

    /// One pass over a live resource with `managementPolicy: Observe`: finds the cloud object
    /// without writing anything, records what it holds and the differences from the spec
    /// ([`observe`](super::observe)). A missing object is Stalled; nothing is created.
    fn observe(obj: &K, ctx: &Context, draft: &mut K::Status) -> impl Future<Output = Result<Step, ReconcileError>> + Send;

    /// What applying `obj` (read from `manifest`; `live` is the resource as it exists in the
    /// cluster, if it does) would do, for `crdb-cloud-operator plan`. Reads only.
    fn plan(manifest: &Manifest, obj: K, live: Option<K>, session: &Session) -> impl Future<Output = ResourcePlan> + Send;

    /// When this shape's kinds are exported: top-level objects (0) before the members of the
    /// owners they export (1).
    const EXPORT_PASS: u8;
    /// Manifests of this kind's existing cloud objects (`crdb-cloud-operator export`).
    fn export(session: &ExportSession) -> impl Future<Output = Result<Vec<Exported>, String>> + Send;

    /// Other watches that wake a resource of this shape, besides its own.
    fn watches(controller: Controller<K>, _wiring: &Wiring) -> Controller<K> {
        controller
    }
}

/// A kind the operator reconciles, and the shape that drives it.
pub trait Kind: Managed + kube::Resource<Scope = kube::core::NamespaceResourceScope> + HasSpec<Spec: CommonSpec> {
    type Shape: Shape<Self>;
    /// Organisation-level kinds (folders, service accounts, API keys, role grants, JWT issuers)
    /// are honoured only in namespaces trusted for them ([`trust`](super::trust)).
    const ORG_LEVEL: bool = false;
}

/// How soon a pass that found the watch cache behind looks again, should the watch event that
/// normally wakes it be lost.
const CACHE_CATCH_UP: Duration = Duration::from_secs(1);

/// One reconcile of `obj`, for any kind.
pub async fn reconcile<K: Kind>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    // The cache has not caught up with this operator's last write of the object (see
    // `own_writes`): that write's watch event wakes it again; the requeue only covers a lost one.
    if ctx.own_writes.behind(obj.as_ref()) {
        tracing::debug!("the watch cache is behind the operator's last write; waiting for it");
        return Ok(Action::requeue(CACHE_CATCH_UP));
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let mut draft = obj.status().cloned().unwrap_or_default();
    // Paused: no cloud call at all, whatever else the resource asks for.
    if pause::is_paused(obj.as_ref()) {
        return pause::hold(obj.as_ref(), &ctx, &api, draft).await;
    }
    pause::resume(obj.as_ref(), &ctx, &mut draft).await;
    let namespace = obj.namespace().unwrap_or_default();
    if K::ORG_LEVEL && !ctx.org_namespaces.allows(&namespace) {
        return untrusted(obj.as_ref(), &ctx, &api, draft, &namespace).await;
    }
    let observing = obj.spec().observes();
    if obj.meta().deletion_timestamp.is_some() {
        if !finalizer::has_finalizer(obj.as_ref()) {
            return Ok(Action::await_change());
        }
        if observing {
            // Set to Observe after it was managed (and got the finalizer): an observed object is
            // never deleted.
            let note = format!("managementPolicy is Observe: the cloud object of this {} was left as it is", K::kind(&()));
            ctx.event(obj.as_ref(), EventType::Normal, Reason::Retained, "Delete", note).await;
            return release(&ctx, &api, obj.as_ref()).await;
        }
        return match K::Shape::cleanup(obj.as_ref(), &ctx, &mut draft).await {
            Ok(None) => release(&ctx, &api, obj.as_ref()).await,
            Ok(Some(step)) => finish(&ctx, &api, obj.as_ref(), draft, Ok(step)).await,
            Err(err) => finish(&ctx, &api, obj.as_ref(), draft, Err(err)).await,
        };
    }
    if observing {
        // No finalizer: deleting an observed resource has nothing to clean up.
        let result = K::Shape::observe(obj.as_ref(), &ctx, &mut draft).await;
        return finish(&ctx, &api, obj.as_ref(), draft, result).await;
    }
    observe::clear(&mut draft);
    // The finalizer goes on before anything can be created in the cloud.
    let obj = match finalizer::add(&api, obj.as_ref()).await? {
        Some(updated) => {
            ctx.own_writes.wrote(obj.as_ref(), &updated);
            Arc::new(updated)
        }
        None => obj,
    };
    let mut written = None;
    let result = K::Shape::apply(obj.as_ref(), &ctx, &api, &mut draft, &mut written).await;
    // A status written mid-pass is what is stored now: compare the final status with it, or an
    // unchanged-looking status would skip the write and leave the intermediate one behind.
    let baseline = match written {
        Some(status) => {
            let mut stored = (*obj).clone();
            K::set_status(&mut stored, status);
            Arc::new(stored)
        }
        None => obj,
    };
    finish(&ctx, &api, baseline.as_ref(), draft, result).await
}

/// An organisation-level resource in a namespace not trusted for it: nothing is sent to the cloud.
/// It reports Stalled and gets no finalizer. One that got a finalizer while its namespace was
/// trusted is released on deletion without cleanup (the cloud object stays; an event says so),
/// since acting on it would be acting for an untrusted namespace.
async fn untrusted<K: Kind>(obj: &K, ctx: &Context, api: &Api<K>, draft: K::Status, namespace: &str) -> Result<Action, ReconcileError> {
    let kind = K::kind(&());
    if obj.meta().deletion_timestamp.is_some() {
        if !finalizer::has_finalizer(obj) {
            return Ok(Action::await_change());
        }
        let note = format!("namespace {namespace:?} is no longer trusted for organisation-level kinds; the cloud object of this {kind} was left as it is");
        ctx.event(obj, EventType::Warning, Reason::CleanupSkipped, "Delete", note).await;
        return release(ctx, api, obj).await;
    }
    let refusal = ReconcileError::stalled(Reason::NamespaceNotAllowed, ctx.org_namespaces.refusal(&kind, namespace));
    finish(ctx, api, obj, draft, Err(refusal)).await
}
