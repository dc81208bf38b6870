//! One file per kind: how it is observed, its pure plan, how a change is executed and how it is
//! deleted. The shapes' drivers ([`top_level`](super::top_level), [`member`](super::member)) do
//! the rest; [`all`] is the one list of kinds, and the [`registry`](super::registry) wires them.

pub mod allowlist_entry;
pub mod cluster;
pub mod cluster_plan;
pub mod database;
pub mod role_grant;
pub mod sql_user;
pub mod egress_rule;
pub mod service_account;
pub mod api_key;
pub mod folder;
pub mod jwt_issuer;

pub mod private_endpoint_connection;
pub mod private_endpoint_trusted_owner;

use super::registry::{Registered, entry};
use crate::api::{APIKey, AllowlistEntry, CockroachCluster, Database, EgressRule, Folder, JWTIssuer, RoleGrant, SQLUser, ServiceAccount};
use crate::api::{PrivateEndpointConnection, PrivateEndpointTrustedOwner};

/// Every kind, in a stable order (the order of the CRD YAML). Adding a kind here is its wiring.
pub fn all() -> Vec<Box<dyn Registered>> {
    vec![
        entry::<CockroachCluster>(),
        entry::<SQLUser>(),
        entry::<Database>(),
        entry::<AllowlistEntry>(),
        entry::<EgressRule>(),
        entry::<Folder>(),
        entry::<ServiceAccount>(),
        entry::<APIKey>(),
        entry::<RoleGrant>(),
        entry::<JWTIssuer>(),
        entry::<PrivateEndpointConnection>(),
        entry::<PrivateEndpointTrustedOwner>(),
    ]
}
