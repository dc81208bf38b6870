//! `PrivateEndpointTrustedOwner`: a cloud account trusted to connect private endpoints to a
//! cluster.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::child::ChildStatus;

crate::child_spec! {
    noun = "trusted owner";
    /// A cloud account whose private endpoints may connect to the private endpoint services of a
    /// CockroachDB Cloud cluster (STANDARD or ADVANCED). Once a cluster has trusted owners, only
    /// their endpoints are meant to connect.
    #[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[kube(
        group = "crdbcloud.io",
        version = "v1alpha1",
        kind = "PrivateEndpointTrustedOwner",
        plural = "privateendpointtrustedowners",
        namespaced,
        status = "PrivateEndpointTrustedOwnerStatus",
        shortname = "crdbpeto",
        category = "crdbcloud",
        printcolumn = r#"{"name":"Owner","type":"string","jsonPath":".spec.externalOwnerId"}"#,
        printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.type","priority":1}"#,
    )]
    pub struct PrivateEndpointTrustedOwnerSpec {
        /// The owner's id in the cloud provider: for AWS_ACCOUNT_ID the 12-digit AWS account
        /// number, or `*` for every account. Immutable.
        #[schemars(length(min = 1, max = 12))]
        #[x_kube(validation = Rule::new("self == '*' || self.matches('^[0-9]{12}$')").message("spec.externalOwnerId must be a 12-digit AWS account number, or * for every account"))]
        #[x_kube(validation = Rule::new("self == oldSelf").message("spec.externalOwnerId is immutable"))]
        pub external_owner_id: String,
        /// The kind of owner: AWS_ACCOUNT_ID (the only kind the API knows). Immutable.
        #[serde(rename = "type", default)]
        #[x_kube(validation = Rule::new("self == oldSelf").message("spec.type is immutable"))]
        pub owner_type: TrustedOwnerType,
    }
}

/// The kind of a trusted owner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum TrustedOwnerType {
    /// A 12-digit AWS account number.
    #[default]
    #[serde(rename = "AWS_ACCOUNT_ID")]
    AwsAccountId,
}

impl TrustedOwnerType {
    /// The API's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AwsAccountId => "AWS_ACCOUNT_ID",
        }
    }
}

/// What the operator observed of a trusted owner.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointTrustedOwnerStatus {
    #[serde(flatten)]
    pub common: ChildStatus,
    /// The cloud's id (a UUID) of the trusted owner entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// When the cloud created the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}
crate::impl_child_status!(PrivateEndpointTrustedOwnerStatus);
