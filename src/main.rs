use std::process::ExitCode;

use clap::{Parser, Subcommand};
use crdb_cloud_operator::simulator;

/// A Kubernetes operator that makes CockroachDB Cloud declarative.
#[derive(Parser)]
#[command(name = "crdb-cloud-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a simulated CockroachDB Cloud API (for tests and demos).
    Simulator(simulator::cli::SimulatorArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    crdb_cloud_operator::install_crypto_provider();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulator(args) => simulator::cli::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
