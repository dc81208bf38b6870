//! Shared support for the end-to-end tests: a real control plane (etcd, kube-apiserver and
//! kube-controller-manager, built from their Go modules by `tests/controlplane/build.sh`), one per
//! test binary, plus per-test namespaces and helpers that run the built `kubectl` and `helm`.
//!
//! Include it from an integration test with `mod support;`. Every test binary compiles all of it,
//! so helpers a given binary does not use are expected (hence the `dead_code` allowance).
//!
//! Environment variables:
//! - `CRDB_TESTENV_BIN`: directory holding `etcd`, `kube-apiserver`, `kube-controller-manager`,
//!   `kubectl`, `helm` and `promtool`; when unset, `tests/controlplane/build.sh` builds (or finds) them.
//! - `CRDB_TESTENV_CACHE`: cache root used by `build.sh` (see the script).
//! - `CRDB_TESTENV_KEEP=1`: keep the control plane's temporary directory (certificates, logs, etcd
//!   data) after the test binary exits; its path is printed at start-up.
//! - `CRDB_TESTENV_CONTROLLER_MANAGER=0`: do not start kube-controller-manager (no garbage
//!   collection, namespaces stay Terminating, no default ServiceAccounts).
#![allow(dead_code, unused_imports)]

pub mod chart;
pub mod controlplane;
pub mod kubectl;
pub mod namespace;
pub mod operator;
pub mod world;

pub use controlplane::{ControlPlane, shared};
pub use kubectl::{CmdOutput, helm, kubectl, kubectl_as, kubectl_blocking, promtool};
pub use namespace::{TestNamespace, test_namespace};
pub use world::World;
