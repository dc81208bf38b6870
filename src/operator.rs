//! The `run` sub-command: the operator process.

use std::sync::Arc;
use std::time::Duration;

use std::process::ExitCode;

use clap::Args;

use crate::health::{self, Readiness};
use crate::leader::{self, Election, ElectionConfig, Mandate, Timings};
use crate::metrics::Metrics;
use crate::cloud::{ApiKey, BudgetConfig, BudgetRegistry, ClientConfig, CloudClients};
use crate::controller::{self, Context, DefaultCredentials, Economies, Timing, WatchScope};
use crate::controller::trust::OrgNamespaces;
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
    /// Name of the leader-election Lease (default: `crdb-cloud-operator`, with `-NAMESPACE` when
    /// one namespace is watched). Replicas naming the same Lease never reconcile at the same time.
    #[arg(long, env = "CRDB_LEASE_NAME")]
    pub lease_name: Option<String>,
    /// Seconds a leader's record stays valid without a renew. A standby takes over a Lease released
    /// on shutdown at once, and one left by a frozen or crashed leader after this long. A leader
    /// that could not renew stops writing after 2/3 of it, before any standby can take over.
    #[arg(long, env = "CRDB_LEASE_SECONDS", default_value_t = 15)]
    pub lease_seconds: u64,
    /// Namespaces trusted with organisation-level kinds (Folder, ServiceAccount, APIKey, RoleGrant,
    /// JWTIssuer), comma-separated. Default: the operator's own namespace (POD_NAMESPACE). Those
    /// kinds anywhere else report Stalled (NamespaceNotAllowed) and nothing is sent.
    #[arg(long, env = "CRDB_ORG_NAMESPACES", value_delimiter = ',')]
    pub org_namespaces: Vec<String>,
    /// For measuring only: list a cluster's content for every resource instead of sharing one
    /// cached list per cluster (the benchmark's baseline).
    #[arg(long, hide = true)]
    pub disable_list_cache: bool,
    /// For measuring only: treat periodic drift checks like work a person is waiting for.
    #[arg(long, hide = true)]
    pub disable_priority: bool,
}

/// Default name of the leader-election Lease when none is given (the chart always gives one,
/// so that changing the watched namespace on an upgrade keeps a single Lease per release).
pub fn lease_name(watch_namespace: Option<&str>) -> String {
    match watch_namespace {
        Some(ns) => format!("crdb-cloud-operator-{ns}"),
        None => "crdb-cloud-operator".to_string(),
    }
}

/// Name of the environment variable holding the operator-wide API key.
pub const API_KEY_ENV: &str = "COCKROACH_API_KEY";

/// Runs the operator until SIGTERM/Ctrl-C. A start-up failure or a lost leadership is logged (in
/// the configured format) and ends the process non-zero, so that Kubernetes restarts it.
pub async fn run(args: RunArgs) -> ExitCode {
    telemetry::init(args.log_format, &args.log_level);
    match operate(args).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(message) => {
            tracing::error!(error = %message, "exiting");
            ExitCode::FAILURE
        }
    }
}

async fn operate(args: RunArgs) -> Result<(), String> {
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

    let kube_config = kube::Config::infer().await.map_err(|e| format!("cannot reach Kubernetes: {e}"))?;
    // The election's own client: the Lease is how the right to write is earned.
    let election_client = kube::Client::try_from(kube_config.clone()).map_err(|e| format!("cannot reach Kubernetes: {e}"))?;
    let scope = args.watch_namespace.clone().map(WatchScope::Namespace).unwrap_or_default();
    let mut shutdown = Box::pin(shutdown_signal());
    tokio::select! {
        _ = wait_for_crds(&election_client, &scope, &readiness) => {}
        _ = &mut shutdown => return Ok(()),
    }

    // Leadership: only the holder of the Lease reconciles; a standby stays ready and waits.
    let election = args.leader_election.then(|| {
        let config = election_config(&args);
        tracing::info!(identity = %config.identity, lease = %config.lease_name, namespace = %config.namespace, "waiting to become the leader");
        Election::start(election_client, config)
    });
    let mandate = election.as_ref().map(Election::mandate).unwrap_or_else(Mandate::unconditional);
    metrics.set_leader(false);
    readiness.set_ready();
    if let Some(mut leading) = election.as_ref().map(Election::leading) {
        let elected = tokio::select! {
            result = leading.wait_for(|leader| *leader) => result.is_ok(),
            _ = &mut shutdown => false,
        };
        if !elected {
            if let Some(election) = election {
                election.resign().await;
            }
            return Ok(());
        }
        tracing::info!("became the leader");
    }
    metrics.set_leader(true);

    // Every write to Kubernetes and to the cloud asks the mandate first, so a replica whose
    // leadership lapsed (frozen, partitioned) sends nothing more, whatever work it has queued.
    let client = kube::client::ClientBuilder::try_from(kube_config)
        .map_err(|e| format!("cannot reach Kubernetes: {e}"))?
        .with_layer(&leader::guard_kubernetes_writes(mandate.clone()))
        .build();
    let permit = {
        let mandate = mandate.clone();
        Arc::new(move || if mandate.holds() { Ok(()) } else { Err(Mandate::refusal()) })
    };
    let clouds = CloudClients::new(
        ClientConfig { base_url: args.api_url.clone(), ..Default::default() },
        BudgetRegistry::new(BudgetConfig { rate_per_second: args.rate_limit, ..Default::default() }),
    )
    .map_err(|e| e.to_string())?
    .with_observer(metrics.clone())
    .with_send_permit(permit);
    let timing = Timing {
        poll_fast: Duration::from_secs(args.poll_seconds.max(1)),
        resync: Duration::from_secs(args.resync_seconds.max(1)),
        ..Default::default()
    };
    let economies = Economies { list_cache: !args.disable_list_cache, priority: !args.disable_priority };
    let org_namespaces = OrgNamespaces::new(&args.org_namespaces, std::env::var("POD_NAMESPACE").ok().as_deref());
    let trusted = org_namespaces.describe();
    let ctx = Context::new(client, clouds, DefaultCredentials::new(api_key), timing, economies, metrics.clone(), org_namespaces);
    tracing::info!(api_url = %args.api_url, ?scope, rate_limit = args.rate_limit, ?economies, org_namespaces = %trusted, "starting controllers");

    // Stop on a signal, or as soon as leadership is lost (another replica may be taking over).
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = {
        let lost = lost.clone();
        let mut leading = election.as_ref().map(Election::leading);
        async move {
            let leadership_lost = async {
                match leading.as_mut() {
                    Some(leading) => {
                        let _ = leading.wait_for(|leader| !*leader).await;
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
    readiness.set_waiting("the first watch sync");
    controller::run(ctx, scope, stop, {
        let readiness = readiness.clone();
        move || readiness.set_ready()
    })
    .await;
    metrics.set_leader(false);
    if let Some(election) = election {
        // Releases the Lease if it is still ours, so a standby takes over at once.
        election.resign().await;
    }
    if lost.load(std::sync::atomic::Ordering::SeqCst) {
        return Err("lost leadership; exiting so that a fresh process can campaign again".into());
    }
    Ok(())
}

/// Where the Lease is, who this replica is, and the election's timing.
fn election_config(args: &RunArgs) -> ElectionConfig {
    ElectionConfig {
        lease_name: args.lease_name.clone().unwrap_or_else(|| lease_name(args.watch_namespace.as_deref())),
        namespace: args
            .leader_election_namespace
            .clone()
            .or_else(|| args.watch_namespace.clone())
            .unwrap_or_else(|| "default".to_string()),
        identity: std::env::var("POD_NAME").unwrap_or_else(|_| format!("crdb-cloud-operator-{}", uuid::Uuid::new_v4())),
        timings: Timings::for_lease(Duration::from_secs(args.lease_seconds.max(2))),
    }
}

/// Waits until the CRD of every kind the operator serves is installed. Until then `/readyz`
/// names the missing ones, and a line is logged whenever that list changes.
async fn wait_for_crds(client: &kube::Client, scope: &WatchScope, readiness: &Readiness) {
    let mut reported = String::new();
    loop {
        let missing = controller::missing_crds(client, scope).await;
        if missing.is_empty() {
            if !reported.is_empty() {
                tracing::info!("every CRD is installed");
            }
            return;
        }
        let waiting_for = format!("CRDs not served: {} (install them: kubectl apply -f crds/)", missing.join(", "));
        if waiting_for != reported {
            tracing::warn!(missing = %missing.join(", "), "waiting for the operator's CRDs; not ready until every one is served");
            readiness.set_waiting(&waiting_for);
            reported = waiting_for;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
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
