//! Reconcile errors, split by what they need: a person (Stalled) or time (Transient).

use super::reason::Reason;
use crate::cloud::CloudError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Severity {
    /// Retrying will not help until someone changes something: shown as Stalled, retried slowly.
    Stalled,
    /// Worth retrying with per-object backoff: shown as Reconciling with the reason.
    Transient,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct ReconcileError {
    pub severity: Severity,
    pub reason: Reason,
    pub message: String,
}

impl ReconcileError {
    pub fn stalled(reason: Reason, message: impl Into<String>) -> Self {
        Self { severity: Severity::Stalled, reason, message: message.into() }
    }
    pub fn transient(reason: Reason, message: impl Into<String>) -> Self {
        Self { severity: Severity::Transient, reason, message: message.into() }
    }
    pub fn is_stalled(&self) -> bool {
        self.severity == Severity::Stalled
    }

    /// Classifies a Cloud error met while doing `what` (e.g. "creating the cluster").
    pub fn cloud(what: &str, err: CloudError) -> Self {
        let message = format!("{what}: {err}");
        match err {
            CloudError::Unauthenticated(_) => Self::stalled(Reason::CredentialsRejected, message),
            CloudError::PermissionDenied(_) => Self::stalled(Reason::PermissionDenied, message),
            CloudError::InvalidArgument(_) => Self::stalled(Reason::CloudRejectedSpec, message),
            other => Self::transient(Reason::from(&other), message),
        }
    }
}

impl From<kube::Error> for ReconcileError {
    fn from(err: kube::Error) -> Self {
        Self::transient(Reason::KubernetesError, err.to_string())
    }
}
