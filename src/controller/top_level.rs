//! Shape 1: a top-level cloud object, created exactly once (CockroachCluster; Folder,
//! ServiceAccount, APIKey and JWTIssuer next).
//!
//! The driver owns, once for every such kind:
//! - **exactly-once create**: the intent is recorded in status before the create is sent; after a
//!   crash or a lost answer the next pass looks for an object carrying this resource's ownership
//!   marker before creating again, and waits a confirmation window for a create that may still
//!   surface. A spec the cloud refused is not sent again until it changes or the slow stalled retry;
//! - **adoption** of an existing object named in the spec, checked against the spec;
//! - an object **deleted outside** the operator is reported and created again;
//! - **deletion** honouring `deletionPolicy`, finding an object whose create answer was lost, and
//!   waiting for the cloud to confirm before the finalizer goes;
//! - polling while the cloud works, drift events, and the per-cluster settings
//!   ([`setting`](super::setting)) once the object is settled.
//!
//! A kind supplies how the object is read, listed, created, adopted, observed into status, its pure
//! [`TopLevel::plan`], how a change is executed, and how it is deleted.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Controller;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::Wiring;
use super::conditions::{self, Outcome};
use super::context::Context;
use super::driver::Shape;
use super::error::ReconcileError;
use super::reason::Reason;
use super::reconciler::{Managed, StatusFields, Step, priority_of};
use super::status::apply_status;
use kube::core::object::HasSpec;

use crate::api::common::{CommonSpec, DeletionPolicy, DriftEntry};
use crate::cloud::cache::ListKey;
use crate::review::manifests::Manifest;
use crate::review::export::{ExportSession, Exported};
use crate::review::plan::{ResourcePlan, Session};
use crate::cloud::{CloudClient, CloudError, Listing, Priority};

/// The status fields the exactly-once create keeps.
pub trait TopLevelStatus: StatusFields {
    /// The cloud object's ID, once known.
    fn cloud_id(&self) -> Option<&str>;
    fn set_cloud_id(&mut self, id: Option<String>);
    /// When a create was sent whose answer has not been recorded yet.
    fn create_requested_at(&self) -> Option<&str>;
    fn set_create_requested_at(&mut self, at: Option<String>);
}

/// How often to look while the cloud works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// The plain poll interval.
    Steady,
    /// Quick at first, growing to the poll interval: the cloud started this long ago (if known).
    Working(Option<Duration>),
}

/// What a top-level kind's plan decides from the spec and the observed object.
#[derive(Debug, PartialEq)]
pub enum Plan<C> {
    /// The cloud is busy with the object (creating, locked, an operation running): wait.
    Wait { reason: Reason, message: String, poll: Poll },
    /// The object matches the spec.
    InSync,
    /// One change brings it in line; `summary` names the fields for events and conditions.
    Change { change: C, summary: String },
}

/// What a resource's references to other resources (a folder named by `folderRef`) resolve to,
/// before anything is sent.
#[derive(Debug)]
pub enum Resolved<K> {
    /// The spec names no other resource: use it as it is.
    AsIs,
    /// The spec with every reference replaced by the cloud ID it names (e.g. `folderRef` by
    /// `parentId`): plan, create and execute read this copy.
    With(Box<K>),
    /// A referenced resource has no cloud ID yet: nothing is sent, and the resource waits, woken by
    /// the watch of the referenced kind (see [`TopLevel::watches`]), with a slow poll as the safety
    /// net.
    Wait { reason: Reason, message: String },
}

/// A top-level cloud object kind.
pub trait TopLevel: Managed<Status: TopLevelStatus> + kube::Resource<Scope = kube::core::NamespaceResourceScope> + HasSpec<Spec: CommonSpec> {
    /// The cloud object.
    type Cloud: Clone + Send + Sync + 'static;
    /// One write to the cloud object.
    type Change: Debug + Send + Sync;
    /// "cluster".
    const NOUN: &'static str;
    /// The spec field [`cloud_name`](Self::cloud_name) comes from, for messages.
    const NAME_FIELD: &'static str = "spec.name";

    /// The ID of an existing cloud object the spec asks to adopt.
    fn adopt_id(&self) -> Option<&str>;
    /// The name the cloud object has (or gets); the search before a create looks for it.
    fn cloud_name(&self) -> String;

    fn id_of(item: &Self::Cloud) -> &str;
    fn name_of(item: &Self::Cloud) -> &str;
    /// The UID of the resource that created the object, from the marker the create request sets.
    fn created_by(item: &Self::Cloud) -> Option<&str>;
    /// Deleted, though still readable.
    fn is_gone(item: &Self::Cloud) -> bool;
    fn get(cloud: &CloudClient, id: &str) -> impl Future<Output = Result<Self::Cloud, CloudError>> + Send;
    /// Every object the key can see (the search before a create).
    fn list(cloud: &CloudClient) -> impl Future<Output = Result<Vec<Self::Cloud>, CloudError>> + Send;
    /// Why an object named by the adopt ID cannot be adopted for this spec, if it cannot.
    fn adoption_mismatch(&self, item: &Self::Cloud) -> Option<String>;
    /// Sends the create request, carrying this resource's UID as the ownership marker.
    fn create(&self, cloud: &CloudClient) -> impl Future<Output = Result<Self::Cloud, CloudError>> + Send;
    /// Copies what the cloud reports into status (keeping conditions and the generation).
    fn observe(status: &mut Self::Status, item: &Self::Cloud);

    /// What to do, given the object as observed. Pure (unit-tested per kind).
    fn plan(&self, item: &Self::Cloud, now: Timestamp) -> Result<Plan<Self::Change>, ReconcileError>;
    /// Sends `change`; answers with the object as the cloud holds it after.
    fn execute(&self, cloud: &CloudClient, item: &Self::Cloud, change: Self::Change) -> impl Future<Output = Result<Self::Cloud, ReconcileError>> + Send;
    /// Sends the delete of `item` (after checks such as delete protection).
    fn delete(&self, cloud: &CloudClient, item: &Self::Cloud) -> impl Future<Output = Result<(), ReconcileError>> + Send;

    /// Whether `item` (not gone) is the object an earlier create request of this resource made;
    /// `intent` is when that request was sent (`status.createRequestedAt`). Default: its ownership
    /// marker carries this resource's UID, wherever the object is now. A kind whose objects carry
    /// no marker decides from what the cloud reports (its name, created after the intent).
    fn made_by_this(&self, item: &Self::Cloud, _intent: Option<Timestamp>) -> bool {
        Self::created_by(item) == self.meta().uid.as_deref()
    }

    /// What becomes of an object an earlier create made whose answer was lost: `Some` manages it
    /// (default); `None` once the kind has deleted it, so it is created again (an API key, whose
    /// secret was only in the lost answer).
    fn reclaim(&self, _cloud: &CloudClient, item: Self::Cloud) -> impl Future<Output = Result<Option<Self::Cloud>, ReconcileError>> + Send {
        async { Ok(Some(item)) }
    }

    /// Runs once a create succeeded, before its ID is recorded: what must be kept from the
    /// create's answer alone (an API key's secret). An error leaves the ID unrecorded, so the next
    /// pass finds the object through [`TopLevel::made_by_this`] and [`TopLevel::reclaim`]s it.
    fn created(&self, _ctx: &Context, _item: &Self::Cloud) -> impl Future<Output = Result<(), ReconcileError>> + Send {
        async { Ok(()) }
    }

    /// Whether the objects are read from one list of the kind per API key, shared by all its
    /// resources (as cluster contents are), instead of one GET per resource and pass: what
    /// organisation-level kinds do, so a resync costs one list however many resources there are.
    const SHARED_LIST: bool = false;

    /// Reads the object with this ID for one pass: from the shared list when the kind has one
    /// (`priority` saying how old it may be; an object missing from it is read with a GET, which
    /// is authoritative), else with one GET.
    fn read(ctx: &Context, cloud: &CloudClient, id: &str, priority: Priority) -> impl Future<Output = Result<Self::Cloud, CloudError>> + Send {
        async move {
            if !Self::SHARED_LIST {
                return Self::get(cloud, id).await;
            }
            let max_age = |listing: &Listing<Self::Cloud>| ctx.timing.list_max_age(priority, listing.pages);
            let load = || async { Self::list(cloud).await.map(|items| Listing { items, pages: 1 }) };
            let listed = ctx.caches.list::<Self::Cloud>().get_or_load_by(&shared_list_key(cloud), max_age, load).await?;
            match listed.value.items.iter().find(|item| Self::id_of(item) == id) {
                Some(item) => Ok(item.clone()),
                None => Self::get(cloud, id).await,
            }
        }
    }

    /// After the operator's own write: the object as the cloud now holds it (`None`: deleted).
    /// Keeps the shared list in step (it is no fresher for the write).
    fn wrote(ctx: &Context, cloud: &CloudClient, id: &str, now: Option<&Self::Cloud>) -> impl Future<Output = ()> + Send {
        async move {
            if Self::SHARED_LIST {
                let edit = |listing: &mut Listing<Self::Cloud>| {
                    listing.items.retain(|item| Self::id_of(item) != id);
                    listing.items.extend(now.cloned());
                };
                ctx.caches.list::<Self::Cloud>().edit(&shared_list_key(cloud), edit).await;
            }
        }
    }

    /// Whether a listed object holds the key this resource's object takes (another object there
    /// blocks the create). Default: the same name; a kind whose names are unique only within a
    /// parent (folders) compares the parent too.
    fn same_key(&self, item: &Self::Cloud) -> bool {
        Self::name_of(item) == self.cloud_name()
    }

    /// Resolves the spec's references to other resources of the namespace. Default: none.
    fn resolve(&self, _ctx: &Context) -> impl Future<Output = Result<Resolved<Self>, ReconcileError>> + Send {
        async { Ok(Resolved::AsIs) }
    }

    /// Other watches that wake a resource of this kind, besides its own (objects its spec
    /// references). Default: none.
    fn watches(controller: Controller<Self>, _wiring: &Wiring) -> Controller<Self> {
        controller
    }

    /// Whether a change the plan finds on an object whose spec has not changed comes from the
    /// cloud (drift, reported as DriftCorrected) rather than from a value outside the spec that
    /// changed (a ConfigMap's document: an ordinary update). `recorded` is the status as the last
    /// pass left it. Default: it does.
    fn moved_in_cloud(&self, _recorded: &Self::Status, _item: &Self::Cloud) -> bool {
        true
    }

    /// The object in the spec's own terms: a JSON value shaped like the spec, holding the fields
    /// the cloud shows (references resolved to IDs, as [`TopLevel::resolve`] gives them).
    /// Observe-only compares it with the spec ([`observe`](super::observe)).
    fn spec_of(item: &Self::Cloud) -> serde_json::Value;

    /// The spec field that adopts an existing object (`adoptClusterId`), which `export` sets.
    const ADOPT_FIELD: &'static str;
    /// The spec `export` writes for a listed object: by default [`spec_of`](TopLevel::spec_of).
    fn export_spec(item: &Self::Cloud) -> serde_json::Value {
        Self::spec_of(item)
    }

    /// Observe-only's read of what hangs off the object (per-cluster settings): the differences
    /// from the spec, with what the cloud holds recorded in status. Nothing is written. Default:
    /// nothing hangs off it.
    fn observe_parts(&self, _ctx: &Context, _cloud: &CloudClient, _item: &Self::Cloud, _status: &mut Self::Status) -> impl Future<Output = Result<Vec<DriftEntry>, ReconcileError>> + Send {
        async { Ok(Vec::new()) }
    }

    /// Converges what hangs off a settled object (per-cluster settings). `Ok(None)`: all in line.
    fn settle(&self, _ctx: &Context, _cloud: &CloudClient, _item: &Self::Cloud, _status: &mut Self::Status, _drift: bool) -> impl Future<Output = Result<Option<Step>, ReconcileError>> + Send {
        async { Ok(None) }
    }
}

/// The key of a kind's shared list: one per API key (the organisation it acts for).
fn shared_list_key(cloud: &CloudClient) -> ListKey {
    ListKey { key_fingerprint: cloud.key_fingerprint(), cluster_id: "organisation".into() }
}

/// The driver of every [`TopLevel`] kind.
pub struct TopLevelShape;

impl<K: TopLevel> Shape<K> for TopLevelShape {
    async fn apply(obj: &K, ctx: &Context, api: &Api<K>, draft: &mut K::Status, written: &mut Option<K::Status>) -> Result<Step, ReconcileError> {
        apply(obj, ctx, api, draft, written).await
    }

    async fn cleanup(obj: &K, ctx: &Context, draft: &mut K::Status) -> Result<Option<Step>, ReconcileError> {
        cleanup(obj, ctx, draft).await
    }

    async fn observe(obj: &K, ctx: &Context, draft: &mut K::Status) -> Result<Step, ReconcileError> {
        observe_only(obj, ctx, draft).await
    }

    async fn plan(manifest: &Manifest, obj: K, live: Option<K>, session: &Session) -> ResourcePlan {
        crate::review::shapes::top_level(manifest, obj, live, session).await
    }

    const EXPORT_PASS: u8 = 0;

    async fn export(session: &ExportSession) -> Result<Vec<Exported>, String> {
        crate::review::shapes::export_top_level::<K>(session).await
    }

    fn watches(controller: Controller<K>, wiring: &Wiring) -> Controller<K> {
        K::watches(controller, wiring)
    }
}

/// A pass with `managementPolicy: Observe`: reads only. The object is the one recorded in status,
/// else the one `adopt<Kind>Id` names, else the one this resource created, else the only one with
/// its name (an ambiguous name is Stalled, asking for the ID).
async fn observe_only<K: TopLevel>(obj: &K, ctx: &Context, draft: &mut K::Status) -> Result<Step, ReconcileError> {
    let resolved = match resolve_or_wait(obj, ctx).await? {
        Ok(resolved) => resolved,
        Err(waiting) => return Ok(waiting),
    };
    let obj = resolved.as_deref().unwrap_or(obj);
    let cloud = cloud_client(obj, ctx).await?;
    let item = find_to_observe(obj, ctx, &cloud, draft).await?;
    draft.set_cloud_id(Some(K::id_of(&item).to_string()));
    K::observe(draft, &item);
    let mut drift = super::observe::differences(&super::observe::spec_json(obj), &K::spec_of(&item));
    drift.extend(obj.observe_parts(ctx, &cloud, &item, draft).await?);
    let outcome = super::observe::report(draft, drift, K::NOUN, obj.meta().generation);
    Ok(Step::new(outcome, ctx.timing.jittered_resync()))
}

/// The object an observed resource reports on (see [`observe_only`]).
async fn find_to_observe<K: TopLevel>(obj: &K, ctx: &Context, cloud: &CloudClient, draft: &K::Status) -> Result<K::Cloud, ReconcileError> {
    let noun = K::NOUN;
    let by_id = draft.cloud_id().map(str::to_string).or_else(|| obj.adopt_id().map(str::to_string));
    if let Some(id) = by_id {
        return match K::read(ctx, cloud, &id, priority_of(obj)).await {
            Ok(item) if !K::is_gone(&item) => Ok(item),
            Ok(_) | Err(CloudError::NotFound(_)) => Err(super::observe::missing(noun, &format!("with ID {id}"))),
            Err(e) => Err(ReconcileError::cloud(&format!("reading the {noun}"), e)),
        };
    }
    let items = K::list(cloud).await.map_err(|e| ReconcileError::cloud(&format!("listing {noun}s"), e))?;
    let live: Vec<K::Cloud> = items.into_iter().filter(|item| !K::is_gone(item)).collect();
    if let Some(own) = live.iter().find(|item| obj.made_by_this(item, None)) {
        return Ok(own.clone());
    }
    let name = obj.cloud_name();
    let mut named = live.into_iter().filter(|item| obj.same_key(item) || K::name_of(item) == name);
    match (named.next(), named.next()) {
        (Some(item), None) => Ok(item),
        (None, _) => Err(super::observe::missing(noun, &format!("named {name:?}"))),
        (Some(a), Some(b)) => Err(ReconcileError::stalled(
            Reason::Conflict,
            format!(
                "managementPolicy is Observe and several cloud {noun}s are named {name:?} ({}, {}, ...); set spec.{} to the one to observe",
                K::id_of(&a),
                K::id_of(&b),
                K::ADOPT_FIELD
            ),
        )),
    }
}

async fn cloud_client<K: TopLevel>(obj: &K, ctx: &Context) -> Result<CloudClient, ReconcileError> {
    ctx.cloud_for(&obj.namespace().unwrap_or_default(), obj.spec().credentials_ref(), priority_of(obj)).await
}

/// The spec with its references resolved (`None`: it has none), or the step that waits for them.
async fn resolve_or_wait<K: TopLevel>(obj: &K, ctx: &Context) -> Result<Result<Option<Box<K>>, Step>, ReconcileError> {
    Ok(match obj.resolve(ctx).await? {
        Resolved::AsIs => Ok(None),
        Resolved::With(resolved) => Ok(Some(resolved)),
        // The referenced resource's watch wakes this one. That event can arrive before the watch
        // cache the reference is read from shows the change, so a slow poll stays as the safety
        // net (as for a member waiting for its cluster), not the resync.
        Resolved::Wait { reason, message } => Err(Step::new(Outcome::progressing(reason, message), super::context::jitter(ctx.timing.poll_fast * 6, 0.2))),
    })
}

async fn apply<K: TopLevel>(obj: &K, ctx: &Context, api: &Api<K>, draft: &mut K::Status, written: &mut Option<K::Status>) -> Result<Step, ReconcileError> {
    let resolved = match resolve_or_wait(obj, ctx).await? {
        Ok(resolved) => resolved,
        Err(waiting) => return Ok(waiting),
    };
    let obj = resolved.as_deref().unwrap_or(obj);
    let cloud = cloud_client(obj, ctx).await?;
    let Some(item) = observe_or_create(obj, ctx, api, &cloud, draft, written).await? else {
        return Ok(Step::new(
            Outcome::progressing(Reason::ConfirmingCreate, "waiting to confirm whether an earlier create request reached the cloud"),
            ctx.timing.jittered_poll(),
        ));
    };
    let recorded = draft.clone();
    K::observe(draft, &item);
    // A change while the spec is unchanged since the last finished reconcile is drift.
    let drift = draft.observed_generation() == obj.meta().generation && conditions::is_ready(draft.conditions()) && obj.moved_in_cloud(&recorded, &item);
    let (change, summary) = match obj.plan(&item, Timestamp::now())? {
        Plan::Wait { reason, message, poll } => {
            let next = match poll {
                Poll::Steady => ctx.timing.jittered_poll(),
                Poll::Working(age) => ctx.timing.poll_while_working(age),
            };
            return Ok(Step::new(Outcome::progressing(reason, message), next));
        }
        Plan::InSync => {
            if let Some(step) = obj.settle(ctx, &cloud, &item, draft, drift).await? {
                return Ok(step);
            }
            return Ok(Step::new(Outcome::ready(format!("the cloud {} matches the spec", K::NOUN)), ctx.timing.jittered_resync()));
        }
        Plan::Change { change, summary } => (change, summary),
    };
    let updated = obj.execute(&cloud, &item, change).await?;
    K::wrote(ctx, &cloud, K::id_of(&updated), Some(&updated)).await;
    let (reason, note) = if drift {
        (Reason::DriftCorrected, format!("the cloud {} had drifted from the spec ({summary}); restored it", K::NOUN))
    } else {
        (Reason::Updating, format!("updating the cloud {}: {summary}", K::NOUN))
    };
    ctx.event(obj, if drift { EventType::Warning } else { EventType::Normal }, reason, "Update", note.clone()).await;
    K::observe(draft, &updated);
    Ok(Step::new(Outcome::progressing(reason, note), ctx.timing.poll_while_working(Some(Duration::ZERO))))
}

/// Finds the cloud object, adopting or creating it as needed. `None` means "not known yet, look
/// again shortly" (an earlier create may still surface).
async fn observe_or_create<K: TopLevel>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    cloud: &CloudClient,
    draft: &mut K::Status,
    written: &mut Option<K::Status>,
) -> Result<Option<K::Cloud>, ReconcileError> {
    let noun = K::NOUN;
    if let Some(id) = draft.cloud_id().map(str::to_string) {
        match K::read(ctx, cloud, &id, priority_of(obj)).await {
            Ok(item) if !K::is_gone(&item) => return Ok(Some(item)),
            Ok(_) | Err(CloudError::NotFound(_)) => {
                let note = format!("cloud {noun} {id} no longer exists (deleted outside the operator); creating it again");
                ctx.event(obj, EventType::Warning, Reason::ClusterMissing, "Observe", note).await;
                draft.set_cloud_id(None);
            }
            Err(e) => return Err(ReconcileError::cloud(&format!("reading the {noun}"), e)),
        }
    }

    if let Some(id) = obj.adopt_id() {
        let item = K::get(cloud, id).await.map_err(|e| match e {
            CloudError::NotFound(_) => ReconcileError::stalled(Reason::AdoptionFailed, format!("spec.{}: no cloud {noun} {id}", K::ADOPT_FIELD)),
            other => ReconcileError::cloud(&format!("reading the {noun} to adopt"), other),
        })?;
        if K::is_gone(&item) {
            return Err(ReconcileError::stalled(Reason::AdoptionFailed, format!("spec.{}: cloud {noun} {id} is deleted", K::ADOPT_FIELD)));
        }
        if let Some(why) = obj.adoption_mismatch(&item) {
            return Err(ReconcileError::stalled(Reason::AdoptionFailed, format!("spec.{}: {why}", K::ADOPT_FIELD)));
        }
        ctx.event(obj, EventType::Normal, Reason::Adopted, "Adopt", format!("adopted existing cloud {noun} {id}")).await;
        return Ok(Some(item));
    }

    // Exactly once: before creating, look for an object created earlier (the response may have
    // been lost, or the operator may have crashed before recording the ID).
    let name = obj.cloud_name();
    let intent = draft.create_requested_at().and_then(|t| t.parse::<Timestamp>().ok());
    let (own, taken) = search(obj, cloud, intent).await?;
    let mut reclaimed = false;
    if let Some(existing) = own {
        let id = K::id_of(&existing).to_string();
        match obj.reclaim(cloud, existing).await? {
            Some(item) => {
                tracing::info!(%id, "found the {noun} created by an earlier create request");
                return Ok(Some(item));
            }
            None => reclaimed = true,
        }
    }
    if let Some(existing) = taken {
        let id = K::id_of(&existing);
        return Err(ReconcileError::stalled(
            Reason::NameInUse,
            format!(
                "a cloud {noun} named {name:?} already exists (id {id}) and was not created by this resource; set spec.{} to {id} to manage it, or choose another {}",
                K::ADOPT_FIELD,
                K::NAME_FIELD
            ),
        ));
    }
    if let Some(requested) = intent.filter(|_| !reclaimed) {
        let since = Timestamp::now().duration_since(requested);
        if since.as_secs() >= 0 && (since.as_secs() as u64) < ctx.timing.create_confirm_window.as_secs() {
            return Ok(None);
        }
    }

    // A create the cloud refused (the spec, or the key's roles) is not sent again until the spec
    // changes, or until the slow stalled retry comes due: our own status writes wake the
    // controller, and each would otherwise re-POST.
    if let Some(refusal) = standing_refusal(draft.conditions(), obj.meta().generation, Timestamp::now(), ctx.timing.stalled_retry) {
        return Err(refusal);
    }

    // Record the intent first: after a crash this tells the next reconcile to search before creating.
    draft.set_create_requested_at(Some(Timestamp::now().to_string()));
    let mut intent = draft.clone();
    intent.set_conditions(conditions::conditions_for(
        &Outcome::progressing(Reason::Creating, "sending the create request"),
        obj.meta().generation,
        draft.conditions(),
        Timestamp::now(),
    ));
    apply_status(api, &ctx.own_writes, obj, &intent).await?;
    *written = Some(intent.clone());

    match obj.create(cloud).await {
        Ok(item) => {
            K::wrote(ctx, cloud, K::id_of(&item), Some(&item)).await;
            let note = format!("created cloud {noun} {} ({})", K::name_of(&item), K::id_of(&item));
            ctx.event(obj, EventType::Normal, Reason::Created, "Create", note).await;
            obj.created(ctx, &item).await?;
            // Record the ID at once; everything else follows in the final status write.
            let mut recorded = intent.clone();
            recorded.set_cloud_id(Some(K::id_of(&item).to_string()));
            recorded.set_create_requested_at(None);
            apply_status(api, &ctx.own_writes, obj, &recorded).await?;
            *written = Some(recorded);
            Ok(Some(item))
        }
        Err(e) => {
            // A definite refusal means nothing was created: drop the intent so the resource shows
            // the refusal (Stalled for a bad spec) instead of waiting to confirm a create that never
            // happened. After a transient failure the request may have been performed, so the
            // intent stays and the next pass searches before creating again.
            if definitely_not_performed(&e) {
                draft.set_create_requested_at(None);
            }
            Err(ReconcileError::cloud(&format!("creating the {noun}"), e))
        }
    }
}

/// Whether a failed request certainly did not happen (the cloud refused it), as opposed to a
/// failure after which it may have.
fn definitely_not_performed(err: &CloudError) -> bool {
    matches!(
        err,
        CloudError::InvalidArgument(_)
            | CloudError::FailedPrecondition(_)
            | CloudError::AlreadyExists(_)
            | CloudError::NotFound(_)
            | CloudError::Unauthenticated(_)
            | CloudError::PermissionDenied(_)
            | CloudError::RateLimited { .. }
    )
}

/// Lists the objects the key can see: the one an earlier create of this resource made
/// ([`TopLevel::made_by_this`]: its marker, wherever it is now), else another one holding the key
/// this resource's object would take ([`TopLevel::same_key`]). The list is read even when no
/// create was sent: it proves the key before the intent is written, so a rejected key stalls the
/// resource without a status write and a create per pass.
async fn search<K: TopLevel>(obj: &K, cloud: &CloudClient, intent: Option<Timestamp>) -> Result<(Option<K::Cloud>, Option<K::Cloud>), ReconcileError> {
    let items = K::list(cloud).await.map_err(|e| ReconcileError::cloud(&format!("listing {}s", K::NOUN), e))?;
    let (own, others): (Vec<_>, Vec<_>) = items.into_iter().filter(|item| !K::is_gone(item)).partition(|item| obj.made_by_this(item, intent));
    Ok((own.into_iter().next(), others.into_iter().find(|item| obj.same_key(item))))
}

/// Deletes (or releases) the cloud object. `Ok(None)` means done: the finalizer may go.
async fn cleanup<K: TopLevel>(obj: &K, ctx: &Context, draft: &mut K::Status) -> Result<Option<Step>, ReconcileError> {
    let noun = K::NOUN;
    // A deletion does not wait for references: what resolves now helps find the object.
    let resolved = match obj.spec().deletion_policy() {
        DeletionPolicy::Retain => None,
        DeletionPolicy::Delete => match obj.resolve(ctx).await? {
            Resolved::With(resolved) => Some(resolved),
            Resolved::AsIs | Resolved::Wait { .. } => None,
        },
    };
    let obj = resolved.as_deref().unwrap_or(obj);
    if obj.spec().deletion_policy() == DeletionPolicy::Retain {
        if let Some(id) = draft.cloud_id() {
            let note = format!("deletionPolicy is Retain: left cloud {noun} {id} in place");
            ctx.event(obj, EventType::Normal, Reason::Retained, "Delete", note).await;
        }
        return Ok(None);
    }
    let cloud = cloud_client(obj, ctx).await?;
    let item = match draft.cloud_id().map(str::to_string) {
        Some(id) => match K::get(&cloud, &id).await {
            Ok(item) => Some(item),
            Err(CloudError::NotFound(_)) => None,
            Err(e) => return Err(ReconcileError::cloud(&format!("reading the {noun} before deleting it"), e)),
        },
        // No ID recorded: a create may still have happened (crash or lost response).
        None if draft.create_requested_at().is_some() => {
            let intent = draft.create_requested_at().and_then(|t| t.parse::<Timestamp>().ok());
            search(obj, &cloud, intent).await?.0
        }
        None => None,
    };
    let Some(item) = item.filter(|item| !K::is_gone(item)) else {
        return Ok(None);
    };
    K::observe(draft, &item);
    obj.delete(&cloud, &item).await?;
    K::wrote(ctx, &cloud, K::id_of(&item), None).await;
    let id = K::id_of(&item);
    ctx.event(obj, EventType::Normal, Reason::Deleting, "Delete", format!("deleting cloud {noun} {id}")).await;
    // Wait for the cloud to confirm (gone or 404) before releasing the resource.
    match K::get(&cloud, id).await {
        Ok(now) if !K::is_gone(&now) => {
            K::observe(draft, &now);
            Ok(Some(Step::new(Outcome::progressing(Reason::Deleting, format!("waiting for the cloud to delete the {noun}")), Duration::from_secs(2))))
        }
        Ok(_) | Err(CloudError::NotFound(_)) => Ok(None),
        Err(e) => Err(ReconcileError::cloud("confirming the deletion", e)),
    }
}

/// The cloud's refusals of a create that stand until someone acts: the spec (invalid argument) or
/// the key's roles (permission denied). Sending the same create again sooner gets the same answer.
const STANDING_REFUSALS: [Reason; 2] = [Reason::CloudRejectedSpec, Reason::PermissionDenied];

/// The cloud's refusal of this generation's create, while it stands: the create is not sent
/// again until the spec changes or the slow stalled retry comes due (by which time the key may
/// have been granted the role). Members use it for their creates too.
pub(super) fn standing_refusal(conditions: &[Condition], generation: Option<i64>, now: Timestamp, stalled_retry: Duration) -> Option<ReconcileError> {
    let refused = conditions::find(conditions, conditions::STALLED).filter(|c| c.status == "True" && c.observed_generation == generation)?;
    let reason = conditions::reason_of(refused).filter(|r| STANDING_REFUSALS.contains(r))?;
    let since = now.duration_since(refused.last_transition_time.0);
    (since.as_secs() >= 0 && (since.as_secs() as u64) < stalled_retry.as_secs()).then(|| ReconcileError::stalled(reason, refused.message.clone()))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::super::conditions::{STALLED, conditions_for};
    use super::*;

    const RETRY: Duration = Duration::from_secs(120);

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }


    #[test]
    fn a_refused_spec_stands_for_its_generation_until_the_stalled_retry() {
        let refused = conditions_for(&Outcome::stalled(Reason::CloudRejectedSpec, "invalid argument: bad region"), Some(2), &[], at(1000));
        assert_eq!(standing_refusal(&refused, Some(2), at(1010), RETRY).map(|e| e.message).as_deref(), Some("invalid argument: bad region"));
        // A new generation is sent again at once; so is the same one once the retry is due.
        assert!(standing_refusal(&refused, Some(3), at(1010), RETRY).is_none());
        assert!(standing_refusal(&refused, Some(2), at(1000 + 120), RETRY).is_none());
    }

    #[test]
    fn a_permission_refusal_stands_like_a_refused_spec_and_keeps_its_reason() {
        let refused = conditions_for(&Outcome::stalled(Reason::PermissionDenied, "permission denied: needs CLUSTER_CREATOR"), Some(2), &[], at(1000));
        let standing = standing_refusal(&refused, Some(2), at(1010), RETRY).expect("the refusal stands");
        assert_eq!((standing.reason, standing.message.as_str()), (Reason::PermissionDenied, "permission denied: needs CLUSTER_CREATOR"));
        assert!(standing.is_stalled());
        assert!(standing_refusal(&refused, Some(2), at(1000 + 120), RETRY).is_none(), "tried again at the stalled retry");
    }

    #[test]
    fn only_a_stalled_cloud_refusal_holds_the_create_back() {
        let other = conditions_for(&Outcome::stalled(Reason::NameInUse, "CloudRejectedSpec"), Some(2), &[], at(1000));
        assert!(standing_refusal(&other, Some(2), at(1010), RETRY).is_none());
        let progressing = conditions_for(&Outcome::progressing(Reason::Creating, "sending"), Some(2), &[], at(1000));
        assert!(standing_refusal(&progressing, Some(2), at(1010), RETRY).is_none());
        // Written by an earlier version: the same spelling reads as the same reason.
        let mut earlier = vec![Condition {
            type_: STALLED.into(),
            status: "True".into(),
            reason: "CloudRejectedSpec".into(),
            message: "refused".into(),
            observed_generation: Some(2),
            last_transition_time: Time(at(1000)),
        }];
        assert_eq!(standing_refusal(&earlier, Some(2), at(1010), RETRY).map(|e| e.message).as_deref(), Some("refused"));
        earlier[0].reason = "cloudRejectedSpec".into();
        assert!(standing_refusal(&earlier, Some(2), at(1010), RETRY).is_none());
    }
}
