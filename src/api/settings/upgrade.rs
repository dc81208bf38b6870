//! `spec.upgrade`: how a major version upgrade (a change of spec.cockroachVersion) is finalized.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Finalization of major upgrades. After spec.cockroachVersion changes, CockroachDB Cloud upgrades
/// the cluster and then waits in PENDING_FINALIZATION, where the upgrade can still be rolled back
/// by setting spec.cockroachVersion back. Finalizing makes the upgrade permanent. Unset: the cloud
/// finalizes on its own after 72 hours.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.finalizeVersion) || self.finalize == 'Manual'").message("spec.upgrade.finalizeVersion is only used with finalize: Manual"))]
#[x_kube(validation = Rule::new("!has(self.soak) || self.finalize == 'Automatic'").message("spec.upgrade.soak is only used with finalize: Automatic"))]
pub struct UpgradeSpec {
    /// Automatic: the operator finalizes once the upgrade has soaked for `soak`. Manual: the
    /// operator reports the pending upgrade in the UpgradeSynced condition and finalizes when
    /// `finalizeVersion` names the new version.
    pub finalize: Finalize,
    /// With Automatic: how long the upgraded cluster runs before it is finalized, e.g. "30m" or
    /// "24h" (at most 72h, when the cloud finalizes by itself), counted from the cloud's last
    /// change of the cluster (the end of the upgrade, unless the cluster was changed since).
    /// Default: at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = Rule::new("self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+s)?$') && self != '' && duration(self) <= duration('72h')").message("spec.upgrade.soak must be a duration such as 30m or 24h, at most 72h"))]
    pub soak: Option<String>,
    /// With Manual: the version to finalize (as in spec.cockroachVersion, e.g. "v25.3"). Set it
    /// once the upgraded cluster has proven itself; the operator then finalizes that upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^v[0-9]+\\\\.[0-9]+$')").message("spec.upgrade.finalizeVersion must be a major version like v25.3"))]
    pub finalize_version: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Finalize {
    #[default]
    Automatic,
    Manual,
}

/// The upgrade awaiting finalization, while spec.upgrade is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStatus {
    /// The version the cluster runs, pending finalization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_version: Option<String>,
    /// Since when it has been pending (the cloud's last change of the cluster, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_since: Option<String>,
}
