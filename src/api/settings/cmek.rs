//! `spec.cmek`: customer-managed encryption keys, per region.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Customer-managed encryption keys (CMEK) of an ADVANCED cluster: the key each region's data is
/// encrypted with. Enabling and adding regions (and rotating a region's key) are managed.
/// Revoking is not offered: the API's only other action, REVOKE, makes the cluster's data
/// unreadable until the key access is restored by CockroachDB support, and there is no way to
/// disable CMEK in a region; neither fits a declarative spec, so a region, once listed, stays and
/// removing the block only stops managing CMEK. Unset: CMEK is left as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.regions.all(r, self.regions.exists_one(o, o.region == r.region))").message("spec.cmek.regions must name each region once"))]
#[x_kube(validation = Rule::new("oldSelf.regions.all(o, self.regions.exists(r, r.region == o.region))").message("spec.cmek.regions cannot be removed: CMEK cannot be disabled in a region (remove the whole block to stop managing CMEK)"))]
pub struct CmekSpec {
    /// The key of each region. Every listed region must be one of spec.dedicated.regionNodes.
    #[schemars(length(min = 1, max = 20))]
    pub regions: Vec<CmekRegion>,
}

/// The key of one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CmekRegion {
    /// The region, as in spec.dedicated.regionNodes.
    #[schemars(length(min = 1, max = 64))]
    pub region: String,
    /// The key, and who the cloud authenticates as to use it.
    pub key_spec: CmekKeySpec,
}

/// A customer-managed key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CmekKeySpec {
    /// The key's kind: AWS_KMS (AWS clusters), GCP_CLOUD_KMS (GCP) or AZURE_KEY_VAULT (Azure).
    #[serde(rename = "type")]
    pub key_type: CmekKeyType,
    /// The key: an AWS KMS key ARN (`arn:aws:kms:...`), a GCP key resource name
    /// (`projects/.../cryptoKeys/...`) or an Azure Key Vault key URL.
    #[schemars(length(min = 1, max = 1024))]
    pub uri: String,
    /// Who the cloud authenticates as to use the key: an IAM role ARN (AWS) or a service
    /// account (GCP) trusted by the cluster's status.accountId.
    #[schemars(length(min = 1, max = 1024))]
    pub auth_principal: String,
}

/// The kind of a customer-managed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum CmekKeyType {
    #[serde(rename = "AWS_KMS")]
    AwsKms,
    #[serde(rename = "GCP_CLOUD_KMS")]
    GcpCloudKms,
    #[serde(rename = "AZURE_KEY_VAULT")]
    AzureKeyVault,
}

/// CMEK as the cloud reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CmekStatus {
    /// The cluster-wide CMEK state: DISABLED, ENABLING (the cloud works on it), ENABLED, ROTATING, ...
    pub state: String,
    /// Each region with CMEK.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<CmekRegionStatus>,
}

/// CMEK of one region as the cloud reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CmekRegionStatus {
    /// The region.
    pub region: String,
    /// The key's state in the region as the cloud reports it (ENABLING, ENABLED, ROTATING, ...).
    pub state: String,
    /// The key in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}
