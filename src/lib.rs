//! crdb-cloud-operator: a Kubernetes operator that makes CockroachDB Cloud declarative.
//!
//! - [`api`]: the custom resource types (group `crdbcloud.io`, version `v1alpha1`).
//! - [`cloud`]: the CockroachDB Cloud client, its typed models and its request budget.
//! - [`controller`]: one reconciler per kind, sharing one pipeline.
//! - [`simulator`]: an in-process CockroachDB Cloud API for tests, the demo and benchmarks.

pub mod api;
pub mod cloud;
pub mod controller;
pub mod simulator;
pub mod health;
pub mod leader;
pub mod metrics;
pub mod operator;
pub mod telemetry;

/// Installs ring as the process-wide rustls crypto provider. Both the Kubernetes client and the
/// Cloud client use rustls; naming one provider avoids a run-time ambiguity panic.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
