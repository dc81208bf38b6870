//! Reconcilers, one per kind, sharing one pipeline: resolve references -> observe the cloud ->
//! diff (pure) -> act -> write status (server-side apply, skipped when unchanged).

pub mod cluster;
pub mod cluster_plan;
pub mod conditions;
pub mod context;
pub mod error;
pub mod finalizer;
pub mod reconciler;
pub mod status;

use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::watcher;
use kube::Api;

use crate::api::CockroachCluster;
pub use context::{Context, DefaultCredentials, Timing};

/// Which namespaces the operator watches.
#[derive(Debug, Clone, Default)]
pub enum WatchScope {
    #[default]
    AllNamespaces,
    Namespace(String),
}

impl WatchScope {
    fn api<K>(&self, client: kube::Client) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
    {
        match self {
            Self::AllNamespaces => Api::all(client),
            Self::Namespace(ns) => Api::namespaced(client, ns),
        }
    }
}

/// Runs every controller until `shutdown` resolves.
pub async fn run(ctx: Arc<Context>, scope: WatchScope, shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static) {
    let clusters: Api<CockroachCluster> = scope.api(ctx.client.clone());
    Controller::new(clusters, watcher::Config::default().any_semantic())
        .with_config(ControllerConfig::default().concurrency(32))
        .graceful_shutdown_on(shutdown)
        .run(cluster::reconcile, reconciler::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "CockroachCluster reconcile did not complete");
            }
        })
        .await;
}
