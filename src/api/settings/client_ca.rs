//! `spec.clientCACert`: the CA that signs client certificates for SQL authentication.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// The client CA certificate of an ADVANCED cluster: SQL clients may then authenticate with
/// certificates it signs. The PEM comes from a Secret or a ConfigMap in the cluster's namespace;
/// it is parsed before it is sent (a bad PEM stalls the block, naming the field, and nothing is
/// sent), and a change of the object updates the cloud. `enabled: false` removes the CA from the
/// cluster. Unset: the cluster's client CA is left as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.enabled) && !self.enabled ? !has(self.secretRef) && !has(self.configMapRef) : has(self.secretRef) != has(self.configMapRef)").message("spec.clientCACert must set exactly one of secretRef or configMapRef (or only enabled: false to remove the client CA)"))]
pub struct ClientCaCertSpec {
    /// false removes the client CA from the cluster. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// A Secret holding the PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<PemRef>,
    /// A ConfigMap holding the PEM (a CA certificate is not secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<PemRef>,
}

impl ClientCaCertSpec {
    pub fn enabled(&self) -> bool {
        self.enabled != Some(false)
    }
}

/// An object in the cluster's namespace and the key holding the PEM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PemRef {
    /// The object's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key holding the PEM. Defaults to `ca.crt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub key: Option<String>,
}

impl PemRef {
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or("ca.crt")
    }
}

/// The client CA as the cloud reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientCaCertStatus {
    /// NOT_SET, IS_SET, PENDING or FAILED.
    pub state: String,
    /// SHA-256 of the PEM the cloud holds (its first 16 hex digits), to compare without the PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}
