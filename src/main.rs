//! `crdb-cloud-operator`: `run` (the operator), `crds` (print the CRD YAML), `simulator` (a local
//! CockroachDB Cloud API for tests and demos).

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "crdb-cloud-operator", version, about = "Makes CockroachDB Cloud declarative from Kubernetes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the operator.
    Run(crdb_cloud_operator::operator::RunArgs),
    /// Print the CustomResourceDefinitions as YAML.
    Crds,
}

#[tokio::main]
async fn main() {
    crdb_cloud_operator::install_crypto_provider();
    let result = match Cli::parse().command {
        Command::Run(args) => crdb_cloud_operator::operator::run(args).await,
        Command::Crds => {
            print!("{}", crdb_cloud_operator::api::crds_yaml());
            Ok(())
        }
    };
    if let Err(message) = result {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
