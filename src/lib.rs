//! crdb-cloud-operator: a Kubernetes operator that makes CockroachDB Cloud declarative.
//!
//! - [`api`]: the custom resource types (group `crdbcloud.io`, version `v1alpha1`).
//! - [`cloud`]: the CockroachDB Cloud client, its typed models and its request budget (the
//!   `crdb-cloud` crate, which knows nothing of Kubernetes).
//! - [`controller`]: one reconciler per kind, sharing one pipeline.
//!
//! The simulated Cloud API (`crdb-cloud-simulator`) is a crate of its own, used by the binary's
//! `simulator` sub-command only.

pub mod api;
pub use crdb_cloud as cloud;
pub mod controller;
pub mod health;
pub mod leader;
pub mod metrics;
pub mod operator;
pub mod review;
pub mod telemetry;

/// Installs ring as the process-wide rustls crypto provider. Both the Kubernetes client and the
/// Cloud client use rustls; naming one provider avoids a run-time ambiguity panic. The composition
/// root (`main`) calls it before anything builds a client.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
