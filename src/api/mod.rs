//! Custom resource types of the `crdbcloud.io/v1alpha1` API: one file per kind, plus shared types.

pub mod children;
pub mod cluster;
pub mod common;

pub use children::{AllowlistEntry, ChildStatus, Database, SQLUser};
pub use cluster::{CockroachCluster, CockroachClusterSpec, CockroachClusterStatus};
pub use common::{CredentialsRef, DeletionPolicy, FINALIZER, GROUP, LocalClusterRef, SecretKeyRef};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD this operator serves, in a stable order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![CockroachCluster::crd(), SQLUser::crd(), Database::crd(), AllowlistEntry::crd()];
    for crd in &mut crds {
        // Lets tooling (and the tests) select this operator's CRDs.
        crd.metadata.labels = Some([("app.kubernetes.io/part-of".to_string(), "crdb-cloud-operator".to_string())].into());
    }
    crds
}

/// Every CRD as one multi-document YAML stream, as committed under crds/.
pub fn crds_yaml() -> String {
    crds()
        .iter()
        .map(|crd| serde_norway::to_string(crd).expect("CRDs serialise to YAML"))
        .map(|doc| format!("---\n{doc}"))
        .collect()
}
