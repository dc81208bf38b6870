//! `crdb-cloud-operator simulator`: serves the simulated Cloud API until SIGINT or SIGTERM.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::time::Duration;

use super::{SimulatorConfig, start};

/// Arguments of the `simulator` sub-command. Not `Debug`: it holds API keys.
#[derive(clap::Args)]
pub struct SimulatorArgs {
    /// Address to listen on; port 0 picks a free port (the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// An accepted API key; repeat for more organisations. Prefer the environment variable, which
    /// keeps keys off the command line (comma-separated).
    #[arg(long = "api-key", env = "CRDB_SIMULATOR_API_KEYS", value_delimiter = ',', hide_env_values = true)]
    pub api_keys: Vec<String>,
    /// Seconds a new cluster stays CREATING (fractions allowed).
    #[arg(long, default_value_t = 3.0, value_parser = seconds)]
    pub cluster_create_seconds: f64,
    /// Seconds a scale, edit or version operation runs.
    #[arg(long, default_value_t = 2.0, value_parser = seconds)]
    pub operation_seconds: f64,
    /// Seconds a deleted cluster stays visible as DELETED.
    #[arg(long, default_value_t = 5.0, value_parser = seconds)]
    pub deleted_retention_seconds: f64,
    /// Requests per second per API key (burst of the same size); 0 disables the limit.
    #[arg(long, default_value_t = 10)]
    pub rate_limit: u32,
    /// The most items a list page holds, whatever the client asks for.
    #[arg(long, default_value_t = super::pagination::MAX_LIMIT as u32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_page_size: u32,
}

fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{text:?} is not a non-negative number of seconds")),
    }
}

impl SimulatorArgs {
    pub fn config(&self) -> Result<SimulatorConfig, String> {
        let api_keys: Vec<String> =
            self.api_keys.iter().map(|k| k.trim().to_string()).filter(|k| !k.is_empty()).collect();
        if api_keys.is_empty() {
            return Err("no API key configured: pass --api-key or set CRDB_SIMULATOR_API_KEYS".into());
        }
        Ok(SimulatorConfig {
            api_keys,
            cluster_create_delay: Duration::from_secs_f64(self.cluster_create_seconds),
            operation_delay: Duration::from_secs_f64(self.operation_seconds),
            deleted_retention: Duration::from_secs_f64(self.deleted_retention_seconds),
            rate_limit_per_second: self.rate_limit,
            max_page_size: self.max_page_size as usize,
        })
    }
}

/// Runs the simulator. Prints exactly one line to stdout, `listening on http://ADDR`, which
/// scripts and tests parse; logs go to stderr.
pub async fn run(args: SimulatorArgs) -> Result<(), Box<dyn std::error::Error>> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let config = args.config()?;
    let simulator = start(config, args.listen).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", simulator.base_url())?;
        out.flush()?;
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    simulator.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: SimulatorArgs,
    }

    #[test]
    fn parses_flags_and_builds_config() {
        let w = Wrapper::try_parse_from([
            "x",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "a",
            "--api-key",
            "b",
            "--cluster-create-seconds",
            "0.5",
            "--rate-limit",
            "0",
            "--max-page-size",
            "2",
        ])
        .unwrap();
        let config = w.args.config().unwrap();
        assert_eq!(config.api_keys, ["a", "b"]);
        assert_eq!(config.cluster_create_delay, Duration::from_millis(500));
        assert_eq!(config.operation_delay, Duration::from_secs(2));
        assert_eq!(config.rate_limit_per_second, 0);
        assert_eq!(config.max_page_size, 2);
        assert!(Wrapper::try_parse_from(["x", "--max-page-size", "0"]).is_err());
        assert!(!format!("{config:?}").contains("\"a\""));
        assert!(Wrapper::try_parse_from(["x", "--operation-seconds", "-1"]).is_err());
    }
}
