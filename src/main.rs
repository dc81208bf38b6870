//! `crdb-cloud-operator`: `run` (the operator), `crds` (print the CRD YAML), `simulator` (a local
//! CockroachDB Cloud API for tests and demos), `plan` (what applying manifests would do), `export` (manifests of an existing organisation).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use crdb_cloud_operator::{controller, operator, review};
use crdb_cloud_simulator as simulator;

#[derive(Parser)]
#[command(name = "crdb-cloud-operator", version, about = "Makes CockroachDB Cloud declarative from Kubernetes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator.
    Run(Box<operator::RunArgs>),
    /// Print the CustomResourceDefinitions as YAML.
    Crds,
    /// Serve a simulated CockroachDB Cloud API (for tests and demos).
    Simulator(simulator::cli::SimulatorArgs),
    /// Print what applying manifests would make the operator do to the cloud, without writing
    /// anything. Exit code: 0 no change, 2 changes, 1 an error or a refusal.
    Plan(review::cli::PlanArgs),
    /// Write manifests for an existing organisation (clusters with their contents, and with --all
    /// every organisation-level object), adopting each object by ID.
    Export(review::cli::ExportArgs),
}

/// Tokio's default is one worker per CPU. The operator waits on the network far more than it
/// computes (each API key allows 10 requests/s), so a few workers serve it on any node, while each
/// extra one costs memory (see `limit_malloc_arenas`). With 5,000 resources, peak RSS was 88 MiB
/// with 2 workers, 91 MiB with 4 and 95 MiB with 16, before the arena limit.
const MAX_DEFAULT_WORKERS: usize = 4;

/// glibc gives threads that allocate at the same time their own malloc arenas, up to 8 per CPU,
/// and memory freed in one arena is not reused by another: the resident set grows with the
/// worker count. Two arenas cost no measurable speed here and cut the peak with 5,000 resources
/// from 91 to 78 MiB (4 workers). `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES`, when set, win.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    const ARENAS: libc::c_int = 2;
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() && std::env::var_os("GLIBC_TUNABLES").is_none() {
        // SAFETY: called first thing in main, before any other thread exists; mallopt only
        // changes the allocator's configuration.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    // TOKIO_WORKER_THREADS, when set, wins (Tokio reads it when no count is given).
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        runtime.worker_threads(cpus.min(MAX_DEFAULT_WORKERS));
    }
    match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> ExitCode {
    crdb_cloud_operator::install_crypto_provider();
    let result = match cli.command {
        // Logs its own failures, in the configured log format.
        Command::Run(args) => return operator::run(*args).await,
        Command::Crds => {
            print!("{}", controller::registry::crds_yaml());
            Ok(())
        }
        Command::Simulator(args) => simulator::cli::run(args).await.map_err(|e| e.to_string()),
        Command::Export(args) => review::cli::export(args).await,
        Command::Plan(args) => {
            return match review::cli::plan(args).await {
                Ok(code) => ExitCode::from(code),
                Err(message) => {
                    eprintln!("error: {message}");
                    ExitCode::FAILURE
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
