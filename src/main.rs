//! `crdb-cloud-operator`: `run` (the operator), `crds` (print the CRD YAML), `simulator` (a local
//! CockroachDB Cloud API for tests and demos).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use crdb_cloud_operator::{api, operator, simulator};

#[derive(Parser)]
#[command(name = "crdb-cloud-operator", version, about = "Makes CockroachDB Cloud declarative from Kubernetes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator.
    Run(operator::RunArgs),
    /// Print the CustomResourceDefinitions as YAML.
    Crds,
    /// Serve a simulated CockroachDB Cloud API (for tests and demos).
    Simulator(simulator::cli::SimulatorArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    crdb_cloud_operator::install_crypto_provider();
    let result = match Cli::parse().command {
        Command::Run(args) => operator::run(args).await,
        Command::Crds => {
            print!("{}", api::crds_yaml());
            Ok(())
        }
        Command::Simulator(args) => simulator::cli::run(args).await.map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
