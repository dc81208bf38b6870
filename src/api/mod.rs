//! Custom resource types of the `crdbcloud.io/v1alpha1` API: one file per kind, plus shared types.

pub mod allowlist_entry;
pub mod child;
pub mod cluster;
pub mod common;
pub mod database;
pub mod prose;
pub mod role_grant;
pub mod settings;
pub mod sql_user;
pub mod egress_rule;
pub mod connection_secret;
pub mod service_account;
pub mod api_key;
pub mod folder;
pub mod jwt_issuer;
pub mod private_endpoint_connection;
pub mod private_endpoint_trusted_owner;

pub use allowlist_entry::AllowlistEntry;
pub use child::{ChildSpec, ChildStatus, ChildStatusFields};
pub use database::DatabaseStatus;
pub use sql_user::SQLUserStatus;
pub use database::Database;
pub use sql_user::SQLUser;
pub use role_grant::RoleGrant;
pub use cluster::{CockroachCluster, CockroachClusterSpec, CockroachClusterStatus};
pub use common::{CredentialsRef, DeletionPolicy, CommonSpec, DriftEntry, ManagementPolicy, FINALIZER, GROUP, LocalClusterRef, SecretKeyRef};
pub use egress_rule::{EgressRule, EgressRuleStatus};
pub use service_account::ServiceAccount;
pub use api_key::APIKey;
pub use folder::{Folder, FolderSpec, FolderStatus, LocalFolderRef};
pub use jwt_issuer::{JWTIssuer, JWTIssuerSpec, JWTIssuerStatus};
pub use private_endpoint_connection::{PrivateEndpointConnection, PrivateEndpointConnectionStatus};
pub use private_endpoint_trusted_owner::{PrivateEndpointTrustedOwner, PrivateEndpointTrustedOwnerStatus};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{CustomResourceColumnDefinition, CustomResourceDefinition};

/// The `kubectl get` columns every kind ends with: Ready and its reason from the conditions every
/// status has, and the age.
fn shared_printer_columns() -> Vec<CustomResourceColumnDefinition> {
    let column = |name: &str, type_: &str, json_path: &str, priority: Option<i32>| CustomResourceColumnDefinition {
        name: name.into(),
        type_: type_.into(),
        json_path: json_path.into(),
        priority,
        ..Default::default()
    };
    vec![
        column("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status", None),
        column("Reason", "string", ".status.conditions[?(@.type==\"Ready\")].reason", Some(1)),
        // Empty unless the crdbcloud.io/paused annotation holds the resource.
        column("Paused", "string", ".status.conditions[?(@.type==\"Paused\")].status", None),
        column("Policy", "string", ".spec.managementPolicy", Some(1)),
        column("In Sync", "string", ".status.conditions[?(@.type==\"InSync\")].status", Some(1)),
        column("Age", "date", ".metadata.creationTimestamp", None),
    ]
}

/// A CRD as installed: labelled as this operator's, with its descriptions reflowed into prose
/// (see [`prose`]) so `kubectl explain` does not print the source's line breaks.
pub fn prepare_crd(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    // Lets tooling (and the tests) select this operator's CRDs.
    crd.metadata.labels = Some([("app.kubernetes.io/part-of".to_string(), "crdb-cloud-operator".to_string())].into());
    for version in &mut crd.spec.versions {
        version.additional_printer_columns.get_or_insert_with(Vec::new).extend(shared_printer_columns());
    }
    let mut value = serde_json::to_value(&crd).expect("a CRD serialises to JSON");
    prose::reflow_descriptions(&mut value);
    serde_json::from_value(value).expect("reflowing descriptions keeps a valid CRD")
}

crate::impl_common_spec!(
    cluster::CockroachClusterSpec,
    folder::FolderSpec,
    service_account::ServiceAccountSpec,
    api_key::APIKeySpec,
    jwt_issuer::JWTIssuerSpec,
    role_grant::RoleGrantSpec,
);
