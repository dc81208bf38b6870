//! `spec.egressTrafficPolicy`: whether the cluster may open outbound connections anywhere.

use serde::{Deserialize, Serialize};

/// The egress traffic policy of an ADVANCED cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum EgressTrafficPolicy {
    /// Every outbound connection from CockroachDB is allowed.
    AllowAll,
    /// CockroachDB may only connect to destinations explicitly allowed (egress rules).
    DefaultDeny,
}
