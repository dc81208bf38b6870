//! Reconcilers, one per kind, sharing one pipeline: resolve references -> observe the cloud ->
//! diff (pure) -> act -> write status (server-side apply, skipped when unchanged).

pub mod allowlist;
pub mod backoff;
pub mod child;
pub mod cluster;
pub mod cluster_plan;
pub mod conditions;
pub mod context;
pub mod database;
pub mod error;
pub mod finalizer;
pub mod guard;
pub mod reason;
pub mod reconciler;
pub mod sql_user;
pub mod status;

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller, Error as ControllerError};
use kube::runtime::reflector::ObjectRef;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};

use crate::api::{AllowlistEntry, CockroachCluster, Database, SQLUser};
use error::ReconcileError;
pub use context::{Context, DefaultCredentials, Economies, Timing};

/// Which namespaces the operator watches.
#[derive(Debug, Clone, Default)]
pub enum WatchScope {
    #[default]
    AllNamespaces,
    Namespace(String),
}

impl WatchScope {
    pub fn api<K>(&self, client: kube::Client) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
    {
        match self {
            Self::AllNamespaces => Api::all(client),
            Self::Namespace(ns) => Api::namespaced(client, ns),
        }
    }
}

/// The CRDs of the kinds this operator serves that the apiserver does not serve, each with why
/// (usually "not installed"). Empty when every controller can start.
pub async fn missing_crds(client: &kube::Client, scope: &WatchScope) -> Vec<String> {
    let (clusters, users, databases, allowlist) = tokio::join!(
        crd_problem::<CockroachCluster>(client, scope),
        crd_problem::<SQLUser>(client, scope),
        crd_problem::<Database>(client, scope),
        crd_problem::<AllowlistEntry>(client, scope),
    );
    [clusters, users, databases, allowlist].into_iter().flatten().collect()
}

/// Lists one object of `K`: a 404 means its CRD is not installed (or not yet established).
async fn crd_problem<K>(client: &kube::Client, scope: &WatchScope) -> Option<String>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let crd = format!("{}.{}", K::plural(&()), K::group(&()));
    match scope.api::<K>(client.clone()).list_metadata(&kube::api::ListParams::default().limit(1)).await {
        Ok(_) => None,
        Err(kube::Error::Api(status)) if status.code == 404 => Some(format!("{crd} (not installed)")),
        Err(err) => Some(format!("{crd} ({err})")),
    }
}

/// Runs every controller until `shutdown` resolves. `on_synced` is called once, when every
/// controller's first watch sync is done (the operator then reports itself ready).
pub async fn run(
    ctx: Arc<Context>,
    scope: WatchScope,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_synced: impl Fn() + Send + Sync + 'static,
) {
    // One shutdown signal, fanned out to every controller.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let config = || ControllerConfig::default().concurrency(32);
    let quick = backoff::WatchBackoff::default;
    let wc = || watcher::Config::default().any_semantic();
    let client = ctx.client.clone();

    // Ready once every controller's watch has delivered its first complete list.
    let synced = SyncTracker::new(4, Arc::new(on_synced));
    let clusters = controller_for::<CockroachCluster>(scope.api(client.clone()), wc(), synced.clone(), ctx.clone());
    let users = controller_for::<SQLUser>(scope.api(client.clone()), wc(), synced.clone(), ctx.clone());
    let databases = controller_for::<Database>(scope.api(client.clone()), wc(), synced.clone(), ctx.clone());
    let allowlist = controller_for::<AllowlistEntry>(scope.api(client.clone()), wc(), synced, ctx.clone());
    // Reconcilers read these watch caches instead of asking the apiserver on every pass.
    let _ = ctx.stores.clusters.set(clusters.store());
    let _ = ctx.stores.allowlist.set(allowlist.store());

    let clusters = clusters
        .with_config(config())
        .trigger_backoff(quick())
        .graceful_shutdown_on(stopped())
        .run(|obj, ctx| reconciler::timed::<CockroachCluster, _>(ctx.clone(), cluster::reconcile(obj, ctx)), reconciler::error_policy, ctx.clone())
        .for_each(log_result::<CockroachCluster>);

    // SQL users also follow their Secrets (metadata only: the operator never caches Secret data).
    let users_store = users.store();
    let secrets = scope.api::<PartialObjectMeta<Secret>>(client.clone());
    let users = with_cluster_watch(users, scope.api(client.clone()), wc())
        .watches(secrets, wc(), move |secret| {
            let namespace = secret.namespace();
            let name = secret.name_any();
            let owners: Vec<String> = secret.owner_references().iter().filter(|o| o.kind == "SQLUser").map(|o| o.uid.clone()).collect();
            users_store
                .state()
                .into_iter()
                .filter(|u| u.namespace() == namespace)
                .filter(|u| {
                    u.spec.password_secret_ref.as_ref().is_some_and(|r| r.name == name)
                        || u.uid().is_some_and(|uid| owners.contains(&uid))
                })
                .map(|u| ObjectRef::from_obj(u.as_ref()))
                .collect::<Vec<_>>()
        })
        .with_config(config())
        .trigger_backoff(quick())
        .graceful_shutdown_on(stopped())
        .run(|obj, ctx| reconciler::timed::<SQLUser, _>(ctx.clone(), child::reconcile(obj, ctx)), reconciler::error_policy, ctx.clone())
        .for_each(log_result::<SQLUser>);

    let databases = with_cluster_watch(databases, scope.api(client.clone()), wc())
        .with_config(config())
        .trigger_backoff(quick())
        .graceful_shutdown_on(stopped())
        .run(|obj, ctx| reconciler::timed::<Database, _>(ctx.clone(), child::reconcile(obj, ctx)), reconciler::error_policy, ctx.clone())
        .for_each(log_result::<Database>);

    let allowlist = with_cluster_watch(allowlist, scope.api(client.clone()), wc())
        .with_config(config())
        .trigger_backoff(quick())
        .graceful_shutdown_on(stopped())
        .run(|obj, ctx| reconciler::timed::<AllowlistEntry, _>(ctx.clone(), child::reconcile(obj, ctx)), reconciler::error_policy, ctx.clone())
        .for_each(log_result::<AllowlistEntry>);

    tokio::join!(clusters, users, databases, allowlist);
}

/// A controller over our own reflector, so the first `InitDone` of its watch can be observed.
/// (`Store::wait_until_ready` wakes only one waiter, and the controller is already one.) Objects
/// that cannot be read are reported and kept out of it (see [`guard`]).
fn controller_for<K>(api: Api<DeserializeGuard<K>>, wc: watcher::Config, synced: SyncTracker, ctx: Arc<Context>) -> Controller<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let kind = K::kind(&()).to_string();
    let watched = watcher(api, wc).backoff(backoff::WatchBackoff::default()).modify(prune);
    let events = guard::screened(watched, reader.clone(), ctx)
        .reflect(writer)
        .inspect(move |event| {
            if let Ok(watcher::Event::InitDone) = event {
                synced.done(&kind);
            }
        })
        .applied_objects();
    Controller::for_stream(events, reader)
}

/// Drops what no reconciler reads before an object is cached: the managed-fields bookkeeping and
/// kubectl's last-applied copy are often most of an object's size, and the operator keeps every
/// resource it watches in memory.
fn prune<K: kube::Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Calls `on_synced` once every controller has synced.
#[derive(Clone)]
struct SyncTracker {
    expected: usize,
    done: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    on_synced: Arc<dyn Fn() + Send + Sync>,
}

impl SyncTracker {
    fn new(expected: usize, on_synced: Arc<dyn Fn() + Send + Sync>) -> Self {
        Self { expected, done: Arc::default(), on_synced }
    }

    fn done(&self, kind: &str) {
        let mut done = self.done.lock().expect("sync tracker lock");
        if done.insert(kind.to_string()) && done.len() == self.expected {
            tracing::info!("first watch sync done; ready");
            (self.on_synced)();
        }
    }
}

/// Wakes the children of a CockroachCluster when it changes (e.g. becomes Ready), so a child
/// waiting for its cluster proceeds at once instead of polling.
/// A cluster that cannot be read wakes nobody (its own controller reports it).
fn with_cluster_watch<K>(controller: Controller<K>, clusters: Api<DeserializeGuard<CockroachCluster>>, wc: watcher::Config) -> Controller<K>
where
    K: child::ChildKind + kube::Resource<DynamicType = ()>,
{
    let store = controller.store();
    let readable = watcher(clusters, wc).touched_objects().try_filter_map(|cluster| std::future::ready(Ok(cluster.0.ok())));
    controller.watches_stream(readable, move |cluster| {
        let namespace = cluster.namespace();
        let name = cluster.name_any();
        store
            .state()
            .into_iter()
            .filter(|c| c.namespace() == namespace && c.child_spec().cluster_ref().is_some_and(|r| r.name == name))
            .map(|c| ObjectRef::from_obj(c.as_ref()))
            .collect::<Vec<_>>()
    })
}

async fn log_result<K: kube::Resource>(result: Result<(ObjectRef<K>, Action), ControllerError<ReconcileError, kube::runtime::watcher::Error>>) {
    if let Err(err) = result {
        tracing::debug!(%err, kind = std::any::type_name::<K>(), "reconcile did not complete");
    }
}
