//! Shape 2: a member of a per-cluster list (SQLUser, Database, AllowlistEntry), observed through
//! the list cache every member of that cluster shares.
//!
//! The driver owns, once for every such kind: resolving the cluster (waiting while it is not
//! Ready) and the credentials; listing through the shared cache at the age the work's priority
//! allows; calling the kind's pure [`Member::plan`] and executing the one change it asks for;
//! keeping the shared list in step with what was written (or dropping it when the write's outcome
//! is unknown); drift events; and cleanup honouring `deletionPolicy`. A kind supplies its key, its
//! list call, what else its plan reads ([`Member::inputs`]), the plan, how a change is executed and
//! how an object is deleted.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kube::core::DeserializeGuard;
use kube::core::object::HasSpec;
use kube::runtime::controller::Controller;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::conditions::{self, Outcome};
use super::Wiring;
use super::context::{Context, jitter};
use super::driver::Shape;
use super::error::ReconcileError;
use super::reason::Reason;
use super::reconciler::{Managed, StatusFields, Step, priority_of};
use super::top_level::standing_refusal;
use k8s_openapi::jiff::Timestamp;
use crate::api::child::{ChildSpec, ChildStatusFields};
use crate::api::common::{CommonSpec, CredentialsRef, DeletionPolicy};
use crate::api::CockroachCluster;
use crate::review::manifests::Manifest;
use crate::review::export::{ExportSession, Exported};
use crate::review::plan::{ResourcePlan, Session};
use crate::cloud::cache::{Cached, ListCache, ListKey};
use crate::cloud::models::ClusterState;
use crate::cloud::{CloudClient, CloudError, Listing, Priority};

crate::impl_status_fields!(crate::api::ChildStatus, base);

/// Where a member lives in the cloud, and how to talk to it.
pub struct Target {
    pub cluster_id: String,
    pub cloud: CloudClient,
    pub list_key: ListKey,
}

/// What executing a change did.
pub struct Done<C> {
    /// For the event and the condition (`Created`, `Updated`, `Renamed`, ...).
    pub reason: Reason,
    pub message: String,
    /// The object as the cloud holds it after the write, when the answer says so: it goes into the
    /// shared list and the resource is Ready at once. `None` (e.g. after adopting an object of
    /// unknown shape) drops the list and confirms on the next pass from a fresh one.
    pub now: Option<C>,
}

impl<C> Done<C> {
    pub fn changed(reason: Reason, message: String, now: C) -> Self {
        Self { reason, message, now: Some(now) }
    }
    pub fn to_confirm(reason: Reason, message: String) -> Self {
        Self { reason, message, now: None }
    }
}

/// How an object in line with the spec is doing, for kinds the cloud keeps working on after it
/// accepted them (a private endpoint connection is PENDING before it is AVAILABLE).
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    Ready,
    /// The cloud moves it on by itself: Progressing, and looked at again from a fresh list.
    Pending { reason: Reason, message: String },
}

/// A kind of cluster content: one member of a list the cloud keeps per cluster.
pub trait Member: Managed<Status: ChildStatusFields> + HasSpec<Spec: ChildSpec> + kube::Resource<Scope = kube::core::NamespaceResourceScope> {
    /// The cloud object as listed.
    type Cloud: Clone + Send + Sync + 'static;
    /// What the plan reads besides the spec, the status and the list, gathered from Kubernetes
    /// (a password, other resources); `()` for most kinds.
    type Inputs: Send + Sync;
    /// One write to the cloud.
    type Change: Debug + Send + Sync;
    /// "SQL user", "database", "allowlist entry".
    const NOUN: &'static str;
    /// What owns the list, for messages: "cluster" (default), "principal".
    const OWNER_NOUN: &'static str = "cluster";

    /// The object's key in the cloud, from the spec; an invalid spec is a Stalled error naming the field.
    fn desired_key(&self) -> Result<String, ReconcileError>;
    /// The key of a listed object, comparable with `desired_key`.
    fn key_of(item: &Self::Cloud) -> String;
    fn list(cloud: &CloudClient, cluster_id: &str) -> impl Future<Output = Result<Listing<Self::Cloud>, CloudError>> + Send;

    /// Reads what [`plan`](Member::plan) needs besides the spec, the status and the list.
    fn inputs(&self, ctx: &Context, target: &Target, listed: &[Self::Cloud]) -> impl Future<Output = Result<Self::Inputs, ReconcileError>> + Send;
    /// The one change that makes the cloud match the spec, or `None` when it does. Pure: decided
    /// from its arguments only (unit-tested per kind). A spec the cloud cannot take is a Stalled
    /// error naming the field.
    fn plan(&self, inputs: &Self::Inputs, listed: &[Self::Cloud], status: &Self::Status) -> Result<Option<Self::Change>, ReconcileError>;
    /// Sends `change`. Answers that mean "it exists already" are adoption, not failure.
    fn execute(&self, ctx: &Context, target: &Target, inputs: &Self::Inputs, change: Self::Change) -> impl Future<Output = Result<Done<Self::Cloud>, ReconcileError>> + Send;
    /// Copies the kind's own observed fields into status. `item` is the object as the cloud holds it
    /// now, when known.
    fn record(&self, _status: &mut Self::Status, _inputs: &Self::Inputs, _item: Option<&Self::Cloud>) {}
    /// What observe-only records of the object it found: by default what
    /// [`record`](Member::record) does. A kind that records what the operator itself set (the SQL
    /// user's password fingerprint) records nothing here: observing sets nothing.
    fn record_observed(&self, status: &mut Self::Status, inputs: &Self::Inputs, item: &Self::Cloud) {
        self.record(status, inputs, Some(item));
    }
    /// Work after the cloud object matches (the SQL user's connection Secret).
    fn after(&self, _ctx: &Context, _target: &Target, _inputs: &Self::Inputs, _status: &mut Self::Status) -> impl Future<Output = Result<(), ReconcileError>> + Send {
        async { Ok(()) }
    }
    /// Removes the object named `key` (as recorded in status) from the cloud.
    fn delete(cloud: &CloudClient, cluster_id: &str, key: &str) -> impl Future<Output = Result<(), CloudError>> + Send;
    /// Called when the resource is deleted with `deletionPolicy: Retain`, before it is released:
    /// keep whatever the retained cloud object still needs.
    fn retain(&self, _ctx: &Context) -> impl Future<Output = Result<(), ReconcileError>> + Send {
        async { Ok(()) }
    }

    /// Whether the object in line with the spec (`item`, as the cloud holds it, when known) is
    /// in force: Ready by default. A kind whose objects go through states of their own says
    /// Pending while the cloud works (an egress rule PENDING_CREATION, a private endpoint
    /// connection PENDING), and returns the failure (usually Stalled) for a final state a person
    /// has to act on.
    fn settled(&self, _item: Option<&Self::Cloud>) -> Result<Settled, ReconcileError> {
        Ok(Settled::Ready)
    }
    /// The listed object this resource manages, when the pass changed nothing (what
    /// [`record`](Member::record) and [`settled`](Member::settled) see): by default the one with
    /// its key. A kind whose keys need not be unique in the cloud finds it as its plan did.
    fn observed<'a>(&self, _inputs: &Self::Inputs, listed: &'a [Self::Cloud], key: &str, _status: &Self::Status) -> Option<&'a Self::Cloud> {
        Self::find(listed, key)
    }
    /// What [`delete`](Member::delete) is given: by default the key recorded in `status.cloudName`.
    /// A kind whose objects the cloud addresses by an id it assigned (an egress rule) records that
    /// id in [`record`](Member::record) and returns it here. `None`: nothing was created.
    /// A create whose answer was never recorded may have created the object: its intended key
    /// counts too.
    fn delete_key(status: &Self::Status) -> Option<String> {
        let common = status.common();
        common.cloud_name.clone().or_else(|| common.create_requested_for.clone())
    }

    /// The listed object in the spec's own terms: a JSON value shaped like the spec, holding the
    /// fields the cloud shows. Observe-only compares it with the spec ([`observe`](super::observe)).
    fn spec_of(item: &Self::Cloud) -> serde_json::Value;

    /// The kind of resource that owns this member's list, and the spec field naming the owner's
    /// cloud ID, for `export` (a cluster's `clusterId`; a role grant's service account `userId`).
    const OWNER_KIND: &'static str = "CockroachCluster";
    const OWNER_FIELD: &'static str = "clusterId";
    /// The spec `export` writes for a listed object: by default [`spec_of`](Member::spec_of),
    /// which observing it then finds equal. A kind whose key is not in `spec_of` adds it.
    fn export_spec(item: &Self::Cloud) -> serde_json::Value {
        Self::spec_of(item)
    }
    /// A note for the person applying an exported resource (what the cloud cannot show).
    fn export_note(_item: &Self::Cloud) -> Option<String> {
        None
    }
    /// What observe-only reads besides the list: by default what [`inputs`](Member::inputs)
    /// reads. A kind whose inputs are only for writing (the SQL user's password) reads nothing.
    fn observe_inputs(&self, ctx: &Context, target: &Target, listed: &[Self::Cloud]) -> impl Future<Output = Result<Self::Inputs, ReconcileError>> + Send {
        self.inputs(ctx, target, listed)
    }

    /// Watches besides its own and its cluster's that wake a resource of this kind.
    fn watches(controller: Controller<Self>, _wiring: &Wiring) -> Controller<Self> {
        controller
    }

    /// The owner of the list this member is in, and how to reach it. Default: the cluster named
    /// by `clusterRef`/`clusterId`, waiting while it is not Ready. A member of another owner's
    /// list (a principal's role grants) resolves its own.
    fn resolve(&self, ctx: &Context) -> impl Future<Output = Result<Result<Target, Waiting>, ReconcileError>> + Send {
        resolve_cluster(self, ctx)
    }
    /// The object's key once the owner is known. Default: [`desired_key`](Member::desired_key);
    /// a key naming other resources' cloud IDs (a role grant's scope) waits for them here.
    fn resolve_key(&self, _ctx: &Context, _target: &Target) -> impl Future<Output = Result<Result<String, Waiting>, ReconcileError>> + Send {
        async { self.desired_key().map(Ok) }
    }
    /// Records in status whose list the object is in. Default: `status.clusterId`.
    fn record_owner(status: &mut Self::Status, owner_id: &str) {
        status.common_mut().cluster_id = Some(owner_id.to_string());
    }
    /// The owner's cloud ID when the spec names it directly (`clusterId`; a role grant's `userId`),
    /// for `plan`, which resolves nothing through the operator.
    fn spec_owner(&self) -> Option<String> {
        self.spec().cluster_id().map(str::to_string)
    }
    /// The owner recorded by [`record_owner`](Member::record_owner).
    fn recorded_owner(status: &Self::Status) -> Option<&str> {
        status.common().cluster_id.as_deref()
    }

    /// The listed object a resource's manifest means, for `plan` (no Kubernetes inputs): by
    /// default the one with its key. A kind found by other means than its key (an egress rule, by
    /// its recorded id or its name) says how.
    fn located<'a>(&self, listed: &'a [Self::Cloud], key: &str, _status: Option<&Self::Status>) -> Option<&'a Self::Cloud> {
        Self::find(listed, key)
    }
    /// The listed object with this key.
    fn find<'a>(listed: &'a [Self::Cloud], key: &str) -> Option<&'a Self::Cloud> {
        listed.iter().find(|item| Self::key_of(item) == key)
    }
    /// True when `key` is present in the list.
    fn contains(listed: &[Self::Cloud], key: &str) -> bool {
        Self::find(listed, key).is_some()
    }
}

/// The driver of every [`Member`] kind.
pub struct MemberShape;

impl<K: Member> Shape<K> for MemberShape {
    async fn apply(obj: &K, ctx: &Context, api: &Api<K>, draft: &mut K::Status, written: &mut Option<K::Status>) -> Result<Step, ReconcileError> {
        apply(obj, ctx, Intent { api, written }, draft).await
    }

    async fn cleanup(obj: &K, ctx: &Context, draft: &mut K::Status) -> Result<Option<Step>, ReconcileError> {
        cleanup(obj, ctx, draft).await
    }

    async fn observe(obj: &K, ctx: &Context, draft: &mut K::Status) -> Result<Step, ReconcileError> {
        observe_only(obj, ctx, draft).await
    }

    async fn plan(manifest: &Manifest, obj: K, live: Option<K>, session: &Session) -> ResourcePlan {
        crate::review::shapes::member(manifest, obj, live, session).await
    }

    const EXPORT_PASS: u8 = 1;

    async fn export(session: &ExportSession) -> Result<Vec<Exported>, String> {
        crate::review::shapes::export_member::<K>(session).await
    }

    /// A member waiting for its cluster proceeds as soon as the cluster changes (e.g. becomes
    /// Ready) instead of polling; the kind may add watches of its own.
    fn watches(controller: Controller<K>, wiring: &Wiring) -> Controller<K> {
        K::watches(with_cluster_watch(controller, wiring), wiring)
    }
}

/// Wakes the members of a CockroachCluster when it changes. A cluster that cannot be read wakes
/// nobody (its own controller reports it).
fn with_cluster_watch<K: Member>(controller: Controller<K>, wiring: &Wiring) -> Controller<K> {
    super::peers::wake_on::<CockroachCluster, K>(controller, wiring, |member| member.spec().cluster_ref().map(|r| r.name.clone()))
}

/// The shared list cache of a member kind (one per kind of cloud object, made on first use).
fn cache<K: Member>(ctx: &Context) -> Arc<ListCache<K::Cloud>> {
    ctx.caches.list::<K::Cloud>()
}

/// Why a member cannot proceed yet (not an error: it proceeds by itself when what it waits for,
/// its cluster Ready for example, is there).
pub struct Waiting {
    reason: Reason,
    message: String,
    /// The credentialsRef of the cluster resource, when it exists (cleanup still needs it).
    cluster_credentials: Option<CredentialsRef>,
}

impl Waiting {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self { reason, message: message.into(), cluster_credentials: None }
    }
}

/// Resolves the cluster and the credentials. `Err(Waiting)` while the cluster is not usable yet.
async fn resolve_cluster<K: Member>(obj: &K, ctx: &Context) -> Result<Result<Target, Waiting>, ReconcileError> {
    let spec = obj.spec();
    let namespace = obj.namespace().unwrap_or_default();
    let (cluster_id, inherited_credentials) = match (spec.cluster_ref(), spec.cluster_id()) {
        (_, Some(id)) => (id.to_string(), None),
        (Some(reference), None) => {
            let cluster = match find_cluster(ctx, &namespace, &reference.name).await? {
                Some(Ok(cluster)) => cluster,
                Some(Err(error)) => {
                    return Ok(Err(Waiting {
                        reason: Reason::WaitingForCluster,
                        message: format!(
                            "spec.clusterRef: CockroachCluster {namespace}/{} cannot be read by the operator ({error}); it waits until that is fixed",
                            reference.name
                        ),
                        cluster_credentials: None,
                    }));
                }
                None => {
                    return Ok(Err(Waiting {
                        reason: Reason::WaitingForCluster,
                        message: format!("spec.clusterRef: CockroachCluster {namespace}/{} does not exist yet", reference.name),
                        cluster_credentials: None,
                    }));
                }
            };
            let status = cluster.status.clone().unwrap_or_default();
            match status.cluster_id {
                Some(id) if holds_content(&status) => (id, cluster.spec.credentials_ref.clone()),
                _ => {
                    let state = status.state.as_deref().unwrap_or("not created yet");
                    return Ok(Err(Waiting {
                        reason: Reason::WaitingForCluster,
                        message: format!("spec.clusterRef: CockroachCluster {} is not Ready yet (cloud state: {state})", reference.name),
                        cluster_credentials: cluster.spec.credentials_ref.clone(),
                    }));
                }
            }
        }
        (None, None) => {
            return Err(ReconcileError::stalled(Reason::InvalidSpec, "exactly one of spec.clusterRef or spec.clusterId must be set"));
        }
    };
    let credentials = spec.credentials_ref().cloned().or(inherited_credentials);
    let cloud = ctx.cloud_for(&namespace, credentials.as_ref(), priority_of(obj)).await?;
    let list_key = ListKey { key_fingerprint: cloud.key_fingerprint(), cluster_id: cluster_id.clone() };
    Ok(Ok(Target { cluster_id, cloud, list_key }))
}

/// Whether a cluster, as its resource's status shows it, can take content (users, databases,
/// allowlist entries): Ready, or created in the cloud and not busy (state CREATED; LOCKED, CREATING
/// and CREATION_FAILED are other states). A cluster whose only trouble is one of its setting blocks
/// (a refused backup change, a log export's credentials) is not Ready but still holds content, and
/// its children keep converging.
fn holds_content(status: &crate::api::CockroachClusterStatus) -> bool {
    conditions::is_ready(&status.base.conditions) || status.state.as_deref() == Some(ClusterState::Created.as_str())
}

/// The CockroachCluster a child refers to. The watch cache answers when it already shows the
/// cluster Ready (the common case, and the one a thousand children ask at once); otherwise the
/// apiserver does, because the cache may lag the event that woke this child. `Some(Err(why))`: the
/// stored cluster cannot be read (its own controller reports it).
async fn find_cluster(ctx: &Context, namespace: &str, name: &str) -> Result<Option<Result<Arc<CockroachCluster>, String>>, ReconcileError> {
    if let Some(store) = ctx.stores.get::<CockroachCluster>() {
        let cached = store.get(&ObjectRef::new(name).within(namespace));
        if let Some(cluster) = cached.filter(|c| c.status.as_ref().is_some_and(|s| s.cluster_id.is_some() && holds_content(s))) {
            return Ok(Some(Ok(cluster)));
        }
    }
    let clusters: Api<DeserializeGuard<CockroachCluster>> = Api::namespaced(ctx.client.clone(), namespace);
    Ok(clusters.get_opt(name).await?.map(|DeserializeGuard(cluster)| cluster.map(Arc::new).map_err(|bad| bad.error)))
}

/// Lists through the shared cache, accepting a list as old as work of this priority allows. A
/// cluster that is missing or not usable means "wait".
async fn list<K: Member>(ctx: &Context, target: &Target, priority: Priority) -> Result<Result<Cached<Listing<K::Cloud>>, Waiting>, ReconcileError> {
    let max_age = |listing: &Listing<K::Cloud>| ctx.timing.list_max_age(priority, listing.pages);
    let loaded = cache::<K>(ctx).get_or_load_by(&target.list_key, max_age, || K::list(&target.cloud, &target.cluster_id)).await;
    match loaded {
        Ok(items) => Ok(Ok(items)),
        Err(CloudError::NotFound(message)) | Err(CloudError::FailedPrecondition(message)) => Ok(Err(Waiting {
            reason: Reason::WaitingForCluster,
            message: format!("cloud {} {} cannot hold {}s yet: {message}", K::OWNER_NOUN, target.cluster_id, K::NOUN),
            cluster_credentials: None,
        })),
        Err(e) => Err(ReconcileError::cloud(&format!("listing {}s", K::NOUN), e)),
    }
}

fn waiting_step(ctx: &Context, waiting: Waiting) -> Step {
    // Cluster changes wake children through the watch; this is only a fallback.
    Step::new(Outcome::progressing(waiting.reason, waiting.message), jitter(ctx.timing.poll_fast * 6, 0.2))
}

/// Where a pass records, before its first write to the cloud, the key it is about to create.
struct Intent<'a, K: Member> {
    api: &'a Api<K>,
    written: &'a mut Option<K::Status>,
}

impl<K: Member> Intent<'_, K> {
    /// A resource with no object recorded yet stores the key before the request goes out, so a
    /// stop between the request and the status write cannot leave an object its deletion misses.
    /// Once per key: a retried create does not write again.
    async fn record(&mut self, ctx: &Context, obj: &K, key: &str, draft: &mut K::Status) -> Result<(), ReconcileError> {
        let common = draft.common_mut();
        if common.cloud_name.is_some() || common.create_requested_for.as_deref() == Some(key) {
            return Ok(());
        }
        common.create_requested_for = Some(key.to_string());
        super::status::apply_status(self.api, &ctx.own_writes, obj, &*draft).await?;
        *self.written = Some(draft.clone());
        Ok(())
    }
}

/// The owner, the object's key and the owner's list, as every pass over a member starts; or what it
/// waits for first.
async fn reach<K: Member>(obj: &K, ctx: &Context) -> Result<Result<(Target, String, Cached<Listing<K::Cloud>>), Waiting>, ReconcileError> {
    let target = match obj.resolve(ctx).await? {
        Ok(target) => target,
        Err(waiting) => return Ok(Err(waiting)),
    };
    let key = match obj.resolve_key(ctx, &target).await? {
        Ok(key) => key,
        Err(waiting) => return Ok(Err(waiting)),
    };
    Ok(list::<K>(ctx, &target, priority_of(obj)).await?.map(|listed| (target, key, listed)))
}

async fn apply<K: Member>(obj: &K, ctx: &Context, intent: Intent<'_, K>, draft: &mut K::Status) -> Result<Step, ReconcileError> {
    // An invalid spec is reported at once, whatever the owner's state.
    obj.desired_key()?;
    let (target, key, listed) = match reach(obj, ctx).await? {
        Ok(reached) => reached,
        Err(waiting) => return Ok(waiting_step(ctx, waiting)),
    };
    K::record_owner(draft, &target.cluster_id);
    let drift = draft.observed_generation() == obj.meta().generation && conditions::is_ready(draft.conditions());
    let cache = cache::<K>(ctx);
    match converge(obj, ctx, &target, &listed.value.items, key, intent, draft).await {
        // In line with the spec, but the cloud is still putting it into force: look again from a
        // fresh list (the cached one shows it pending).
        Ok((done, Settled::Pending { reason: pending, message: why })) => {
            if let Some(Done { reason, message, .. }) = done {
                let (event_type, reason) = change_event(drift, reason);
                ctx.event(obj, event_type, reason, "Converge", message).await;
            }
            cache.invalidate(&target.list_key);
            Ok(Step::new(Outcome::progressing(pending, why), ctx.timing.poll_while_working(None)))
        }
        Ok((None, Settled::Ready)) => Ok(in_sync::<K>(ctx, &listed)),
        Ok((Some(Done { reason, message, now }), Settled::Ready)) => {
            let (event_type, reason) = change_event(drift, reason);
            ctx.event(obj, event_type, reason, "Converge", message.clone()).await;
            match now {
                // The cloud's answer shows the object as the spec wants it: keep the shared list
                // in step instead of listing again, and report Ready now.
                Some(item) => {
                    let written = K::key_of(&item);
                    cache
                        .edit(&target.list_key, |listing| {
                            listing.items.retain(|i| K::key_of(i) != written);
                            listing.items.push(item);
                        })
                        .await;
                    Ok(in_sync::<K>(ctx, &listed))
                }
                // Confirm on the next pass from a fresh list.
                None => {
                    cache.invalidate(&target.list_key);
                    Ok(Step::new(Outcome::progressing(reason, message), Duration::from_millis(500)))
                }
            }
        }
        Err(err) => {
            // The write may or may not have happened: never act on this list again.
            cache.invalidate(&target.list_key);
            Err(err)
        }
    }
}

/// A pass with `managementPolicy: Observe`: the owner resolved and the shared list read as for a
/// managed member, the object found by its key, recorded and compared; nothing is written (not
/// even the SQL user's connection Secret, whose password the operator does not set).
async fn observe_only<K: Member>(obj: &K, ctx: &Context, draft: &mut K::Status) -> Result<Step, ReconcileError> {
    obj.desired_key()?;
    let (target, key, listed) = match reach(obj, ctx).await? {
        Ok(reached) => reached,
        Err(waiting) => return Ok(waiting_step(ctx, waiting)),
    };
    K::record_owner(draft, &target.cluster_id);
    let items = &listed.value.items;
    let inputs = obj.observe_inputs(ctx, &target, items).await?;
    let Some(item) = obj.observed(&inputs, items, &key, draft) else {
        let which = format!("{key:?} in {} {}", K::OWNER_NOUN, target.cluster_id);
        return Err(super::observe::missing(K::NOUN, &which));
    };
    obj.record_observed(draft, &inputs, item);
    draft.common_mut().cloud_name = Some(key);
    let drift = super::observe::differences(&super::observe::spec_json(obj), &K::spec_of(item));
    let outcome = super::observe::report(draft, drift, K::NOUN, obj.meta().generation);
    Ok(Step::new(outcome, ctx.timing.jittered_resync()))
}

/// Plans against the list, executes the change if there is one, and records what the cloud holds.
/// The change made (`None`: nothing needed changing), and whether the object is in force yet
/// ([`Member::settled`]).
async fn converge<K: Member>(
    obj: &K,
    ctx: &Context,
    target: &Target,
    listed: &[K::Cloud],
    key: String,
    mut intent: Intent<'_, K>,
    draft: &mut K::Status,
) -> Result<(Option<Done<K::Cloud>>, Settled), ReconcileError> {
    let inputs = obj.inputs(ctx, target, listed).await?;
    let done = match obj.plan(&inputs, listed, draft)? {
        None => None,
        Some(change) => {
            if draft.common().cloud_name.is_none() {
                // A create the cloud refused (the spec, or the key's roles) is not sent again until
                // the spec changes or the slow stalled retry: the pass's own status writes wake the
                // resource.
                let generation = obj.meta().generation;
                if let Some(refusal) = standing_refusal(draft.conditions(), generation, Timestamp::now(), ctx.timing.stalled_retry) {
                    return Err(refusal);
                }
            }
            intent.record(ctx, obj, &key, draft).await?;
            match obj.execute(ctx, target, &inputs, change).await {
                Ok(done) => Some(done),
                Err(err) => {
                    // A refusal (Stalled) means nothing was created: forget the intent, or deleting
                    // the resource would delete an object of that name it never made (a reserved
                    // user, another team's database). After a transient failure the create may have
                    // happened, so the intent stays.
                    if err.is_stalled() {
                        draft.common_mut().create_requested_for = None;
                    }
                    return Err(err);
                }
            }
        }
    };
    let item = match &done {
        Some(done) => done.now.as_ref(),
        None => obj.observed(&inputs, listed, &key, draft),
    };
    let settled = obj.settled(item);
    obj.record(draft, &inputs, item);
    // The object exists now: record it before the kind's last step, which can still fail, so that
    // deleting the resource removes it.
    draft.common_mut().cloud_name = Some(key);
    draft.common_mut().create_requested_for = None;
    obj.after(ctx, target, &inputs, draft).await?;
    Ok((done, settled?))
}

/// The event for a change a pass made. A change while the spec is unchanged since the last Ready
/// pass corrects drift, except a password rotation: that follows the password Secret, an input the
/// resource's generation does not count.
fn change_event(drift: bool, reason: Reason) -> (EventType, Reason) {
    if drift && reason != Reason::PasswordRotated { (EventType::Warning, Reason::DriftCorrected) } else { (EventType::Normal, reason) }
}

/// Whether a failure to get a Cloud client at deletion means the cloud cluster can no longer be
/// reached at all: no credentials of its own and no operator-wide key. The deletion then goes
/// ahead without cleanup instead of blocking forever.
fn unreachable_for_cleanup(err: &ReconcileError, credentials: Option<&CredentialsRef>) -> bool {
    credentials.is_none() && err.reason == Reason::MissingCredentials
}

/// Ready, and when to look again: just after the shared list this pass used is due for refresh
/// (or a plain jittered resync when lists are not shared).
fn in_sync<K: Member>(ctx: &Context, listed: &Cached<Listing<K::Cloud>>) -> Step {
    let next = if ctx.economies.list_cache {
        ctx.timing.after_list_refresh(listed.loaded_at, listed.value.pages)
    } else {
        ctx.timing.jittered_resync()
    };
    Step::new(Outcome::ready(format!("the {} matches the spec", K::NOUN)), next)
}

/// Removes the cloud object unless the policy is Retain. `Ok(None)`: done, release the finalizer.
async fn cleanup<K: Member>(obj: &K, ctx: &Context, full_status: &K::Status) -> Result<Option<Step>, ReconcileError> {
    let spec = obj.spec();
    let owner = K::recorded_owner(full_status).map(str::to_string);
    if spec.deletion_policy() == DeletionPolicy::Retain {
        obj.retain(ctx).await?;
        return Ok(None);
    }
    // Never created anything: nothing to remove (a create whose answer was never recorded may
    // have created the object: see `delete_key`).
    let Some(key) = K::delete_key(full_status) else {
        return Ok(None);
    };
    let owner_noun = K::OWNER_NOUN;
    let target = match obj.resolve(ctx).await {
        Ok(Ok(target)) => target,
        // The owner resource is gone or not usable, and no owner was ever recorded: a cloud
        // cluster (if any) takes the object with it.
        Ok(Err(_)) if owner.is_none() => return Ok(None),
        Ok(Err(waiting)) => {
            let id = owner.unwrap_or_default();
            let namespace = obj.namespace().unwrap_or_default();
            let credentials = spec.credentials_ref().cloned().or(waiting.cluster_credentials);
            let cloud = match ctx.cloud_for(&namespace, credentials.as_ref(), priority_of(obj)).await {
                Ok(cloud) => cloud,
                // The cluster resource that named the credentials is gone and there is no other key:
                // nothing can reach the cloud cluster any more; do not block the deletion forever.
                Err(err) if unreachable_for_cleanup(&err, credentials.as_ref()) => {
                    let note = format!("no credentials left to reach cloud {owner_noun} {id}; {} {key} was not removed by the operator", K::NOUN);
                    ctx.event(obj, EventType::Warning, Reason::CleanupSkipped, "Delete", note).await;
                    return Ok(None);
                }
                Err(err) => return Err(err),
            };
            Target { list_key: ListKey { key_fingerprint: cloud.key_fingerprint(), cluster_id: id.clone() }, cluster_id: id, cloud }
        }
        Err(err) => return Err(err),
    };
    let result = K::delete(&target.cloud, &target.cluster_id, &key).await;
    cache::<K>(ctx).invalidate(&target.list_key);
    match result {
        // Already gone, or the cluster itself is gone: done.
        Ok(()) | Err(CloudError::NotFound(_)) => {
            ctx.event(obj, EventType::Normal, Reason::Deleted, "Delete", format!("removed {} {key} from {owner_noun} {}", K::NOUN, target.cluster_id)).await;
            Ok(None)
        }
        Err(e) => Err(ReconcileError::cloud(&format!("deleting the {}", K::NOUN), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_to_a_settled_resource_is_drift_unless_it_rotates_the_password() {
        assert_eq!(change_event(true, Reason::Created), (EventType::Warning, Reason::DriftCorrected));
        assert_eq!(change_event(true, Reason::Updated), (EventType::Warning, Reason::DriftCorrected));
        assert_eq!(change_event(true, Reason::PasswordRotated), (EventType::Normal, Reason::PasswordRotated));
        assert_eq!(change_event(false, Reason::PasswordRotated), (EventType::Normal, Reason::PasswordRotated));
        assert_eq!(change_event(false, Reason::Renamed), (EventType::Normal, Reason::Renamed));
    }

    #[test]
    fn cleanup_is_skipped_only_when_no_key_is_left_at_all() {
        let missing = ReconcileError::stalled(Reason::MissingCredentials, "no default API key");
        assert!(unreachable_for_cleanup(&missing, None));
        // The resource names credentials: their problem is for a person to fix, not to skip.
        let named = CredentialsRef { name: "key".into(), key: None };
        assert!(!unreachable_for_cleanup(&missing, Some(&named)));
        // Another failure, even with a message that names the reason, is not "no key".
        let other = ReconcileError::stalled(Reason::CredentialsNotFound, "MissingCredentials");
        assert!(!unreachable_for_cleanup(&other, None));
    }
}
