//! The command lines of `plan`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use futures::StreamExt;

use super::export::{self, ExportSession};
use super::manifests;
use super::plan::{self, ResourcePlan, Session};
use crate::cloud::budget::{BudgetConfig, BudgetRegistry};
use crate::cloud::{ApiKey, ClientConfig, CloudClients};
use crate::controller::registry;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    /// A table, with each field's before and after.
    Text,
    /// One JSON document, for bots.
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Manifest files or directories (searched recursively for .yaml, .yml and .json).
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    /// Namespace of the manifests that name none (default: the kubeconfig's namespace, else
    /// `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
    /// Base URL of the CockroachDB Cloud API.
    #[arg(long, env = "CRDB_CLOUD_API_URL", default_value = crate::cloud::client::DEFAULT_BASE_URL)]
    pub api_url: url::Url,
    /// Plan without Kubernetes, even when a kubeconfig is found: every resource is then new (a
    /// create, or an adoption by natural key).
    #[arg(long)]
    pub no_kubernetes: bool,
    /// Also plan the deletion of live resources of the manifests' namespaces that the manifests no
    /// longer declare, as a GitOps tool that prunes (Argo CD, Flux) would delete them.
    #[arg(long)]
    pub prune: bool,
}

/// Runs `plan`; the exit code is 0 (no change), 2 (changes) or 1 (an error or a refusal).
pub async fn plan(args: PlanArgs) -> Result<u8, String> {
    let kube = if args.no_kubernetes { None } else { kube::Client::try_default().await.ok() };
    let namespace = match (&args.namespace, &kube) {
        (Some(ns), _) => ns.clone(),
        (None, Some(client)) => client.default_namespace().to_string(),
        (None, None) => "default".to_string(),
    };
    let manifests = manifests::read(&args.files, &namespace)?;
    // The same pacing as the operator: the service allows 10 requests per second per key.
    let clouds = CloudClients::new(ClientConfig { base_url: args.api_url.clone(), ..Default::default() }, BudgetRegistry::new(BudgetConfig::default()))
        .map_err(|e| e.to_string())?;
    let key = std::env::var(crate::operator::API_KEY_ENV).ok().filter(|k| !k.trim().is_empty()).map(|k| ApiKey::new(k.trim()));
    let session = Session::new(manifests, kube, clouds, key);
    let kinds = registry::kinds();
    // A few at once: lists are shared through the session, so the order does not change the cost.
    let mut plans: Vec<ResourcePlan> = futures::stream::iter(session.manifests.iter())
        .map(|manifest| {
            let kinds = &kinds;
            let session = &session;
            async move {
                match kinds.iter().find(|k| k.kind() == manifest.kind) {
                    Some(kind) => kind.plan(manifest, session).await,
                    None => ResourcePlan::new(manifest, plan::Action::Refused, format!("{}: {} is not a kind of this operator", manifest.source, manifest.kind)),
                }
            }
        })
        .buffered(8)
        .collect()
        .await;
    if args.prune {
        plans.extend(super::prune::plan(&session, &kinds).await?);
    }
    match args.output {
        Output::Text => print!("{}", plan::render_text(&plans)),
        Output::Json => {
            let document = serde_json::json!({"resources": plans, "exitCode": plan::exit_code(&plans)});
            println!("{}", serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?);
        }
    }
    Ok(plan::exit_code(&plans))
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A cluster to export with everything in it (repeatable).
    #[arg(long = "cluster", value_name = "ID")]
    pub clusters: Vec<String>,
    /// Export the whole organisation the key sees: every cluster with its contents, folders,
    /// service accounts with their role grants, API keys and JWT issuers.
    #[arg(long)]
    pub all: bool,
    /// Namespace written into every manifest (default: none, so `kubectl apply -n` decides).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Directory to write one file per resource into (default: one YAML stream on stdout).
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Write `managementPolicy: Manage` instead of `Observe`: applied, the operator takes the
    /// objects over at once.
    #[arg(long)]
    pub manage: bool,
    /// Base URL of the CockroachDB Cloud API.
    #[arg(long, env = "CRDB_CLOUD_API_URL", default_value = crate::cloud::client::DEFAULT_BASE_URL)]
    pub api_url: url::Url,
}

/// Runs `export` with the key in `COCKROACH_API_KEY`.
pub async fn export(args: ExportArgs) -> Result<(), String> {
    if args.clusters.is_empty() && !args.all {
        return Err("name the clusters to export with --cluster ID, or export everything with --all".into());
    }
    let key = std::env::var(crate::operator::API_KEY_ENV).ok().filter(|k| !k.trim().is_empty()).ok_or("set COCKROACH_API_KEY to the API key to read the organisation with")?;
    let clouds = CloudClients::new(ClientConfig { base_url: args.api_url.clone(), ..Default::default() }, BudgetRegistry::new(BudgetConfig::default()))
        .map_err(|e| e.to_string())?;
    let session = ExportSession::new(clouds.client(ApiKey::new(key.trim())), args.clusters, args.all, args.manage);
    let mut kinds = registry::kinds();
    // Owners first: members are exported for the owners exported before them.
    kinds.sort_by_key(|k| k.export_pass());
    let mut exported = Vec::new();
    for kind in &kinds {
        exported.extend(kind.export(&session).await?);
    }
    export::draw_references(&mut exported);
    export::write(&exported, args.namespace.as_deref(), args.output_dir.as_deref())?;
    eprintln!("exported {}", export::tally(&exported));
    Ok(())
}
