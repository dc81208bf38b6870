//! `spec.clientCACert` <-> GET/POST/PATCH/DELETE /clusters/{id}/client-ca-cert. The PEM lives in
//! a Secret or ConfigMap: it is read and parsed before the cloud is asked anything, and the
//! cluster's controller watches those objects (see the CockroachCluster kind's `watches`) so a
//! changed PEM reaches the cloud without waiting for a resync.

use kube::ResourceExt;
use sha2::{Digest, Sha256};

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::client_ca::{ClientCaCertSpec, ClientCaCertStatus as StatusBlock};
use crate::cloud::certificate;
use crate::cloud::models::{ClientCaCertInfo, ClientCaCertStatus};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::error::ReconcileError;
use crate::controller::reason::Reason;
use crate::controller::references::{Holder, KeyRef};
use crate::controller::setting::{Pass, Setting};

pub struct ClientCa;

/// The one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCaChange {
    /// POST: the cluster has no client CA.
    Set(String),
    /// PATCH: replace the one it has.
    Update(String),
    /// DELETE (`enabled: false`).
    Delete,
}

/// First 16 hex digits of the PEM's SHA-256 (surrounding whitespace ignored).
pub fn fingerprint(pem: &str) -> String {
    hex::encode(&Sha256::digest(pem.trim().as_bytes())[..8])
}

/// Reads the PEM the block names. `Err`: Stalled, naming the field; the object's watch retries.
async fn read_pem(pass: &Pass<'_>, block: &ClientCaCertSpec) -> Result<Option<String>, ReconcileError> {
    let namespace = pass.cluster.namespace().unwrap_or_default();
    let reference = match (&block.secret_ref, &block.config_map_ref) {
        (Some(r), _) => KeyRef { field: "secretRef", holder: Holder::Secret, name: &r.name, key: r.key() },
        (None, Some(r)) => KeyRef { field: "configMapRef", holder: Holder::ConfigMap, name: &r.name, key: r.key() },
        (None, None) => return Ok(None),
    };
    let pem = reference.read(&pass.ctx.client, &namespace, Reason::CaCertNotFound).await?;
    certificate::check_pem(&pem).map_err(|why| {
        ReconcileError::stalled(
            Reason::CaCertInvalid,
            format!(
                "{}: key {:?} of {} {namespace}/{} is not a valid PEM certificate: {why}; nothing was sent",
                reference.field,
                reference.key,
                reference.holder.kind(),
                reference.name
            ),
        )
    })?;
    Ok(Some(pem))
}

impl Setting for ClientCa {
    type Desired = ClientCaCertSpec;
    type Observed = ClientCaCertInfo;
    type Change = ClientCaChange;
    const BLOCK: &'static str = "spec.clientCACert";
    const CONDITION: &'static str = "ClientCACertSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&ClientCaCertSpec> {
        spec.settings.client_ca_cert.as_ref()
    }

    async fn referenced(pass: &Pass<'_>, desired: &ClientCaCertSpec) -> Result<Option<String>, ReconcileError> {
        if !desired.enabled() {
            return Ok(None);
        }
        read_pem(pass, desired).await
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<ClientCaCertInfo, CloudError> {
        cloud.get_client_ca_cert(cluster_id).await
    }

    /// Without the referenced PEM there is nothing to compare (see `plan_with`).
    fn plan(desired: &ClientCaCertSpec, observed: &ClientCaCertInfo) -> Option<ClientCaChange> {
        Self::plan_with(desired, None, observed)
    }

    /// Nothing is sent while an update is PENDING in the cloud.
    fn plan_with(desired: &ClientCaCertSpec, pem: Option<&str>, observed: &ClientCaCertInfo) -> Option<ClientCaChange> {
        let held = observed.x509_pem_cert.as_deref().filter(|p| !p.trim().is_empty());
        match observed.status {
            Some(ClientCaCertStatus::Pending) => return None,
            Some(ClientCaCertStatus::NotSet) | None if held.is_none() => {
                return pem.filter(|_| desired.enabled()).map(|pem| ClientCaChange::Set(pem.to_string()));
            }
            _ => {}
        }
        if !desired.enabled() {
            return Some(ClientCaChange::Delete);
        }
        let pem = pem?;
        let in_line = observed.status == Some(ClientCaCertStatus::IsSet) && held.is_some_and(|h| h.trim() == pem.trim());
        (!in_line).then(|| ClientCaChange::Update(pem.to_string()))
    }

    /// A changed Secret or ConfigMap leaves the spec as it was: only a PEM in the cloud other
    /// than the one last recorded is drift.
    fn moved_in_cloud(status: &CockroachClusterStatus, observed: &ClientCaCertInfo) -> bool {
        let recorded = status.settings.client_ca_cert.as_ref().and_then(|s| s.sha256.clone());
        recorded != observed.x509_pem_cert.as_deref().filter(|p| !p.trim().is_empty()).map(fingerprint)
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, change: &ClientCaChange) -> Result<ClientCaCertInfo, CloudError> {
        match change {
            ClientCaChange::Set(pem) => cloud.set_client_ca_cert(cluster_id, pem).await,
            ClientCaChange::Update(pem) => cloud.update_client_ca_cert(cluster_id, pem).await,
            ClientCaChange::Delete => cloud.delete_client_ca_cert(cluster_id).await,
        }
    }

    fn describe(change: &ClientCaChange) -> String {
        match change {
            ClientCaChange::Set(pem) => format!("set the client CA (sha256 {})", fingerprint(pem)),
            ClientCaChange::Update(pem) => format!("replaced the client CA (now sha256 {})", fingerprint(pem)),
            ClientCaChange::Delete => "removed the client CA".into(),
        }
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&ClientCaCertInfo>) {
        status.settings.client_ca_cert = observed.map(|info| StatusBlock {
            state: info.status.as_ref().map_or_else(|| "NOT_SET".to_string(), ToString::to_string),
            sha256: info.x509_pem_cert.as_deref().filter(|p| !p.trim().is_empty()).map(fingerprint),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::settings::client_ca::PemRef;

    fn block(enabled: Option<bool>) -> ClientCaCertSpec {
        let secret_ref = (enabled != Some(false)).then(|| PemRef { name: "ca".into(), key: None });
        ClientCaCertSpec { enabled, secret_ref, config_map_ref: None }
    }

    fn cloud(status: ClientCaCertStatus, pem: Option<&str>) -> ClientCaCertInfo {
        ClientCaCertInfo { status: Some(status), x509_pem_cert: pem.map(str::to_string) }
    }

    #[test]
    fn a_missing_ca_is_set_a_different_one_replaced_a_matching_one_left() {
        let none = cloud(ClientCaCertStatus::NotSet, None);
        assert_eq!(ClientCa::plan_with(&block(None), Some("A"), &none), Some(ClientCaChange::Set("A".into())));
        let held = cloud(ClientCaCertStatus::IsSet, Some("A\n"));
        assert_eq!(ClientCa::plan_with(&block(None), Some("A"), &held), None);
        assert_eq!(ClientCa::plan_with(&block(Some(true)), Some("B"), &held), Some(ClientCaChange::Update("B".into())));
        let failed = cloud(ClientCaCertStatus::Failed, Some("A"));
        assert_eq!(ClientCa::plan_with(&block(None), Some("A"), &failed), Some(ClientCaChange::Update("A".into())));
    }

    #[test]
    fn disabled_deletes_only_what_is_there_and_pending_waits() {
        assert_eq!(ClientCa::plan_with(&block(Some(false)), None, &cloud(ClientCaCertStatus::IsSet, Some("A"))), Some(ClientCaChange::Delete));
        assert_eq!(ClientCa::plan_with(&block(Some(false)), None, &cloud(ClientCaCertStatus::NotSet, None)), None);
        assert_eq!(ClientCa::plan_with(&block(None), Some("B"), &cloud(ClientCaCertStatus::Pending, Some("A"))), None);
        assert_eq!(ClientCa::plan(&block(None), &cloud(ClientCaCertStatus::NotSet, None)), None);
    }

    #[test]
    fn only_a_pem_other_than_the_recorded_one_is_drift() {
        let mut status = CockroachClusterStatus::default();
        ClientCa::record(&mut status, Some(&cloud(ClientCaCertStatus::IsSet, Some("A"))));
        assert!(!ClientCa::moved_in_cloud(&status, &cloud(ClientCaCertStatus::IsSet, Some("A\n"))), "the referenced object changed, not the cloud");
        assert!(ClientCa::moved_in_cloud(&status, &cloud(ClientCaCertStatus::IsSet, Some("C"))));
        assert!(ClientCa::moved_in_cloud(&status, &cloud(ClientCaCertStatus::NotSet, None)));
    }

    #[test]
    fn events_show_a_fingerprint_not_the_pem() {
        let described = ClientCa::describe(&ClientCaChange::Set("-----BEGIN CERTIFICATE-----".into()));
        assert!(described.starts_with("set the client CA (sha256 ") && !described.contains("BEGIN"), "{described}");
    }
}
