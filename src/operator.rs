//! The `run` sub-command: the operator process.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use kube_lease_manager::LeaseManagerBuilder;

use crate::api::CockroachCluster;
use crate::health::{self, Readiness};
use crate::metrics::Metrics;
use crate::cloud::{ApiKey, BudgetConfig, BudgetRegistry, ClientConfig, CloudClients};
use crate::controller::{self, Context, DefaultCredentials, Economies, Timing, WatchScope};
use crate::telemetry::{self, LogFormat};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Base URL of the CockroachDB Cloud API.
    #[arg(long, env = "CRDB_CLOUD_API_URL", default_value = crate::cloud::client::DEFAULT_BASE_URL)]
    pub api_url: url::Url,
    /// Operator-wide API key, used by resources without spec.credentialsRef. Read from the
    /// environment only, so it never appears on a command line.
    #[arg(skip)]
    pub api_key: Option<String>,
    /// Cloud API requests per second per API key (the service allows 10).
    #[arg(long, env = "CRDB_CLOUD_RATE_LIMIT", default_value_t = 10.0)]
    pub rate_limit: f64,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// Seconds between drift checks of settled resources. A cluster's list that takes N pages
    /// (SQL users, databases or allowlist beyond 500 items) is refreshed every N periods.
    #[arg(long, env = "CRDB_RESYNC_SECONDS", default_value_t = 300)]
    pub resync_seconds: u64,
    /// Seconds between polls while the cloud is working.
    #[arg(long, env = "CRDB_POLL_SECONDS", default_value_t = 5)]
    pub poll_seconds: u64,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log level or filter directive (RUST_LOG wins when set).
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "CRDB_HEALTH_ADDR", default_value = "0.0.0.0:8080")]
    pub health_addr: std::net::SocketAddr,
    /// Elect a leader through a Lease so that only one replica reconciles at a time.
    #[arg(long, env = "CRDB_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Namespace of the leader-election Lease (defaults to the pod's namespace, else the watched
    /// namespace, else `default`).
    #[arg(long, env = "POD_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// Seconds a leader holds the Lease without renewing it; a standby takes over after this.
    #[arg(long, env = "CRDB_LEASE_SECONDS", default_value_t = 15)]
    pub lease_seconds: u64,
    /// For measuring only: list a cluster's content for every resource instead of sharing one
    /// cached list per cluster (the benchmark's baseline).
    #[arg(long, hide = true)]
    pub disable_list_cache: bool,
    /// For measuring only: treat periodic drift checks like work a person is waiting for.
    #[arg(long, hide = true)]
    pub disable_priority: bool,
}

/// Name of the leader-election Lease. Operators scoped to different namespaces do not compete.
pub fn lease_name(watch_namespace: Option<&str>) -> String {
    match watch_namespace {
        Some(ns) => format!("crdb-cloud-operator-{ns}"),
        None => "crdb-cloud-operator".to_string(),
    }
}

/// Name of the environment variable holding the operator-wide API key.
pub const API_KEY_ENV: &str = "COCKROACH_API_KEY";

/// Runs the operator until SIGTERM/Ctrl-C. Errors are start-up failures (or a lost leadership),
/// as one printable message; the process then exits non-zero and Kubernetes restarts it.
pub async fn run(args: RunArgs) -> Result<(), String> {
    telemetry::init(args.log_format, &args.log_level);
    let api_key = std::env::var(API_KEY_ENV).ok().filter(|k| !k.trim().is_empty()).map(ApiKey::new);
    if api_key.is_none() {
        tracing::warn!("{API_KEY_ENV} is not set: only resources with spec.credentialsRef can be reconciled");
    }
    let metrics = Arc::new(Metrics::new());
    let readiness = Readiness::default();
    let health = health::serve(args.health_addr, metrics.clone(), readiness.clone())
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.health_addr))?;
    tracing::info!(%health, "serving /healthz, /readyz and /metrics");

    let client = kube::Client::try_default().await.map_err(|e| format!("cannot reach Kubernetes: {e}"))?;
    let scope = args.watch_namespace.clone().map(WatchScope::Namespace).unwrap_or_default();
    let mut shutdown = Box::pin(shutdown_signal());
    tokio::select! {
        _ = wait_for_crds(&client, &scope) => {}
        _ = &mut shutdown => return Ok(()),
    }

    // Leadership: only the holder of the Lease reconciles; a standby stays ready and waits.
    let mut leadership = if args.leader_election {
        let identity = std::env::var("POD_NAME").unwrap_or_else(|_| format!("crdb-cloud-operator-{}", uuid::Uuid::new_v4()));
        let lease = lease_name(args.watch_namespace.as_deref());
        let lease_namespace = args
            .leader_election_namespace
            .clone()
            .or_else(|| args.watch_namespace.clone())
            .unwrap_or_else(|| "default".to_string());
        let manager = LeaseManagerBuilder::new(client.clone(), lease.clone())
            .with_namespace(lease_namespace.clone())
            .with_identity(identity.clone())
            .with_duration(args.lease_seconds.max(2))
            .with_grace((args.lease_seconds / 3).max(1))
            .build()
            .await
            .map_err(|e| format!("cannot set up leader election: {e}"))?;
        let (channel, task) = manager.watch().await;
        readiness.set(true);
        tracing::info!(%identity, %lease, namespace = %lease_namespace, "waiting to become the leader");
        let mut waiting = channel.clone();
        let elected = tokio::select! {
            result = waiting.wait_for(|leader| *leader) => result.is_ok(),
            _ = &mut shutdown => false,
        };
        drop(waiting);
        if !elected {
            drop(channel);
            let _ = task.await;
            return Ok(());
        }
        tracing::info!(%identity, "became the leader");
        Some((channel, task))
    } else {
        None
    };

    let clouds = CloudClients::new(
        ClientConfig { base_url: args.api_url.clone(), ..Default::default() },
        BudgetRegistry::new(BudgetConfig { rate_per_second: args.rate_limit, ..Default::default() }),
    )
    .map_err(|e| e.to_string())?
    .with_observer(metrics.clone());
    let timing = Timing {
        poll_fast: Duration::from_secs(args.poll_seconds.max(1)),
        resync: Duration::from_secs(args.resync_seconds.max(1)),
        ..Default::default()
    };
    let economies = Economies { list_cache: !args.disable_list_cache, priority: !args.disable_priority };
    let ctx = Context::new(client, clouds, DefaultCredentials::new(api_key), timing, economies, metrics);
    tracing::info!(api_url = %args.api_url, ?scope, rate_limit = args.rate_limit, ?economies, "starting controllers");

    // Stop on a signal, or as soon as leadership is lost (another replica may be taking over).
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = {
        let lost = lost.clone();
        let mut channel = leadership.as_ref().map(|(channel, _)| channel.clone());
        async move {
            let leadership_lost = async {
                match channel.as_mut() {
                    Some(channel) => {
                        let _ = channel.wait_for(|leader| !*leader).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown => {}
                _ = leadership_lost => lost.store(true, std::sync::atomic::Ordering::SeqCst),
            }
        }
    };
    readiness.set(false);
    controller::run(ctx, scope, stop, { let readiness = readiness.clone(); move || readiness.set(true) }).await;
    if let Some((channel, task)) = leadership.take() {
        drop(channel);
        // Closing the channel releases the Lease, so a standby takes over at once.
        let _ = task.await;
    }
    if lost.load(std::sync::atomic::Ordering::SeqCst) {
        return Err("lost leadership; exiting so that a fresh process can campaign again".into());
    }
    tracing::info!("stopped");
    Ok(())
}

/// Waits until the CRDs are installed (the operator is not ready before).
async fn wait_for_crds(client: &kube::Client, scope: &WatchScope) {
    let api: kube::Api<CockroachCluster> = scope.api(client.clone());
    loop {
        match api.list(&kube::api::ListParams::default().limit(1)).await {
            Ok(_) => return,
            Err(err) => {
                tracing::warn!(%err, "the crdbcloud.io CRDs are not available yet (kubectl apply -f crds/); retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
