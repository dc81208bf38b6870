//! Support for the operator's end-to-end tests, the demo and the benchmark: a real control plane
//! (etcd, kube-apiserver and kube-controller-manager, built from their Go modules by
//! `tests/controlplane/build.sh`), one per test binary, per-test namespaces, the built `kubectl` and
//! `helm`, the operator binary and the Cloud API simulator, and a typed simulator admin client.
//!
//! - [`processes`]: child processes that die with the test binary, and waiting for them.
//! - [`pki`]: certificates and kubeconfigs.
//! - [`controlplane`]: the shared control plane.
//! - [`kubectl`], [`namespace`]: running kubectl, helm and promtool; a namespace per test.
//! - [`chart`]: the Helm chart under test and what `helm template` renders from it.
//! - [`operator`]: the operator binary as a child process, the CRDs it needs.
//! - [`simulator`]: the in-process simulator of a test and its admin client.
//! - [`resources`]: manifests, waiting for resources and reading their conditions and events.
//! - [`world`]: one test's namespace, simulator and operator together.
//! - [`node`]: a real node (kubelet, containerd, kube-proxy and its own control plane in a network
//!   namespace) for the tests that run the chart's pods.
//!
//! Environment variables:
//! - `CRDB_TESTENV_BIN`: directory holding `etcd`, `kube-apiserver`, `kube-controller-manager`,
//!   `kubectl` and `helm`; when unset, `tests/controlplane/build.sh` builds (or finds) them.
//! - `CRDB_TESTENV_CACHE`: cache root used by `build.sh` (see the script).
//! - `CRDB_TESTENV_KEEP=1`: keep the control plane's temporary directory (certificates, logs, etcd
//!   data) after the test binary exits; its path is printed at start-up.
//! - `CRDB_TESTENV_CONTROLLER_MANAGER=0`: do not start kube-controller-manager (no garbage
//!   collection, namespaces stay Terminating, no default ServiceAccounts).
//! - `CRDB_OPERATOR_BIN`: the operator binary to run (default: the one built beside the test); the
//!   node's operator image is written from it too.
//! - With `CRDB_TESTENV_KEEP=1` the node copies its components' logs to `/tmp/crdb-node-<pid>-logs`
//!   before it is torn down (the node itself is always torn down).

use std::path::Path;

pub mod chart;
pub mod controlplane;
pub mod kubectl;
pub mod namespace;
pub mod node;
pub mod operator;
pub mod pki;
pub mod processes;
pub mod resources;
pub mod simulator;
pub mod world;

pub use controlplane::{ControlPlane, client_for_kubeconfig, shared};
pub use kubectl::{CmdOutput, helm, kubectl, kubectl_as, kubectl_blocking, promtool};
pub use namespace::{TestNamespace, test_namespace};
pub use operator::{Operator, OperatorOptions, apply_crds, install_crds, operator_binary};
pub use resources::*;
pub use simulator::*;
pub use world::World;

// What tests name of the simulator: operations, the admin bodies and the typed admin client.
pub use crdb_cloud::Operation;
pub use crdb_cloud_simulator::admin_api::{ClusterDump, Fault, FaultKind, FaultSpec, ForceState, RequestRecord, Stats};
pub use crdb_cloud_simulator::admin_client::{AdminClient, AdminError};

/// The repository's root directory (this crate lives in `crates/test-support`).
pub fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Installs ring as the process-wide rustls crypto provider, as the operator's `main` does: the
/// kube client, the Cloud client and the admin client all use rustls.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
