//! Reconcilers, one per kind, sharing one pipeline: resolve references -> observe the cloud ->
//! diff (pure) -> act -> write status (server-side apply, skipped when unchanged).

pub mod backoff;
pub mod conditions;
pub mod context;
pub mod driver;
pub mod error;
pub mod finalizer;
pub mod guard;
pub mod kinds;
pub mod member;
pub mod observe;
pub mod own_writes;
pub mod pause;
pub mod peers;
pub mod reason;
pub mod reconciler;
pub mod references;
pub mod registry;
pub mod setting;
pub mod settings;
pub mod status;
pub mod top_level;
pub mod trust;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Controller;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::Api;

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
    let wiring = Wiring::new(client.clone(), scope.clone(), tokio::sync::watch::channel(false).1);
    let checks = registry::kinds().iter().map(|kind| kind.crd_problem(wiring.clone())).collect::<Vec<_>>();
    futures::future::join_all(checks).await.into_iter().flatten().collect()
}

/// What every controller is built with: where it watches, and the signal that stops it.
#[derive(Clone)]
pub struct Wiring {
    pub client: kube::Client,
    pub scope: WatchScope,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Wiring {
    fn new(client: kube::Client, scope: WatchScope, stop: tokio::sync::watch::Receiver<bool>) -> Self {
        Self { client, scope, stop }
    }

    /// `K` in the watched namespaces.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
    {
        self.scope.api(self.client.clone())
    }

    /// Every watch: any resourceVersion is good enough to start from.
    pub fn watcher_config(&self) -> watcher::Config {
        watcher::Config::default().any_semantic()
    }

    /// Resolves when the operator shuts down.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stop = self.stop.clone();
        async move {
            let _ = stop.wait_for(|stop| *stop).await;
        }
    }
}

/// Runs every registered kind's controller until `shutdown` resolves. `on_synced` is called once,
/// when every controller's first watch sync is done (the operator then reports itself ready).
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
    let wiring = Wiring::new(ctx.client.clone(), scope, stop_rx);
    let kinds = registry::kinds();
    // Ready once every controller's watch has delivered its first complete list.
    let synced = SyncTracker::new(kinds.len(), Arc::new(on_synced));
    // Every controller is built (and its watch cache published) before any of them runs, so a
    // reconciler always finds the caches of the other kinds.
    let controllers: Vec<_> = kinds.iter().map(|kind| kind.controller(ctx.clone(), wiring.clone(), synced.clone())).collect();
    // Once stopped, running reconciles get a grace period to finish; one still waiting for the
    // Cloud API budget after that (a cluster's pass reads each of its setting blocks, and twenty
    // of them at 10 requests/s take longer than a pod's termination grace) is dropped. Dropping a
    // reconcile is what a crash does, and every kind resumes from its status (the exactly-once
    // create records its intent first).
    let grace = async {
        wiring.stopped().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        _ = futures::future::join_all(controllers) => {}
        _ = grace => tracing::warn!(grace = ?SHUTDOWN_GRACE, "reconciles still running after the shutdown grace period were dropped; they resume from status on the next start"),
    }
}

/// How long running reconciles may take to finish once the operator is asked to stop: well inside
/// Kubernetes' default termination grace (30 s), leaving time to release the Lease.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A controller over our own reflector, so the first `InitDone` of its watch can be observed.
/// (`Store::wait_until_ready` wakes only one waiter, and the controller is already one.) Objects
/// that cannot be read are reported and kept out of it (see [`guard`]).
pub(crate) fn controller_for<K>(api: Api<DeserializeGuard<K>>, wc: watcher::Config, synced: SyncTracker, ctx: Arc<Context>) -> Controller<K>
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
pub struct SyncTracker {
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
