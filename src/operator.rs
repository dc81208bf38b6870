//! The `run` sub-command: the operator process.

use std::time::Duration;

use clap::Args;

use crate::cloud::{ApiKey, BudgetConfig, BudgetRegistry, ClientConfig, CloudClients};
use crate::controller::{self, Context, DefaultCredentials, Timing, WatchScope};
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
    /// Seconds between drift checks of settled resources.
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
}

/// Name of the environment variable holding the operator-wide API key.
pub const API_KEY_ENV: &str = "COCKROACH_API_KEY";

/// Runs the operator until SIGTERM/Ctrl-C. Errors are start-up failures, as one printable message.
pub async fn run(args: RunArgs) -> Result<(), String> {
    telemetry::init(args.log_format, &args.log_level);
    let api_key = std::env::var(API_KEY_ENV).ok().filter(|k| !k.trim().is_empty()).map(ApiKey::new);
    if api_key.is_none() {
        tracing::warn!("{API_KEY_ENV} is not set: only resources with spec.credentialsRef can be reconciled");
    }
    let client = kube::Client::try_default().await.map_err(|e| format!("cannot reach Kubernetes: {e}"))?;
    let clouds = CloudClients::new(
        ClientConfig { base_url: args.api_url.clone(), ..Default::default() },
        BudgetRegistry::new(BudgetConfig { rate_per_second: args.rate_limit, ..Default::default() }),
    )
    .map_err(|e| e.to_string())?;
    let timing = Timing {
        poll_fast: Duration::from_secs(args.poll_seconds.max(1)),
        resync: Duration::from_secs(args.resync_seconds.max(1)),
        ..Default::default()
    };
    let ctx = Context::new(client, clouds, DefaultCredentials::new(api_key), timing);
    let scope = args.watch_namespace.clone().map(WatchScope::Namespace).unwrap_or_default();
    tracing::info!(api_url = %args.api_url, ?scope, rate_limit = args.rate_limit, "starting crdb-cloud-operator");
    controller::run(ctx, scope, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
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
