//! Private endpoints of a cluster: its endpoint services (`networking/private-endpoint-services`),
//! the connections of customer endpoints to them (`private-endpoint-connections`) and the cloud
//! accounts trusted to connect (`private-endpoint-trusted-owners`), typed per the official
//! schemas of the same names.

use serde::{Deserialize, Serialize};

use super::CloudProvider;

cloud_enum!(
    /// `PrivateEndpointServiceStatus.Type`
    PrivateEndpointServiceStatus {
        Creating => "CREATING",
        Available => "AVAILABLE",
        CreateFailed => "CREATE_FAILED",
        Deleting => "DELETING",
        DeleteFailed => "DELETE_FAILED",
    }
);
cloud_enum!(
    /// `PrivateEndpointConnectionStatus`
    PrivateEndpointConnectionStatus {
        Pending => "STATUS_PENDING",
        PendingAcceptance => "STATUS_PENDING_ACCEPTANCE",
        Available => "STATUS_AVAILABLE",
        Deleting => "STATUS_DELETING",
        Deleted => "STATUS_DELETED",
        Rejected => "STATUS_REJECTED",
        Failed => "STATUS_FAILED",
        Expired => "STATUS_EXPIRED",
    }
);
cloud_enum!(
    /// `PrivateEndpointTrustedOwnerType.Type`
    PrivateEndpointTrustedOwnerType { AwsAccountId => "AWS_ACCOUNT_ID" }
);

/// `AWSPrivateLinkServiceDetail`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsPrivateLinkServiceDetail {
    pub service_name: String,
    pub service_id: String,
    #[serde(default)]
    pub availability_zone_ids: Vec<String>,
}

/// `PrivateEndpointService`: the cluster's endpoint service in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateEndpointService {
    pub region_name: String,
    pub cloud_provider: CloudProvider,
    pub status: PrivateEndpointServiceStatus,
    pub name: String,
    pub endpoint_service_id: String,
    #[serde(default)]
    pub availability_zone_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsPrivateLinkServiceDetail>,
}

/// `PrivateEndpointServices`: the answer of both the list and the create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateEndpointServices {
    #[serde(default)]
    pub services: Vec<PrivateEndpointService>,
}

/// `PrivateEndpointConnection`. The description's `required` list names `region` (as does its
/// example) beside the `region_name` property: the simulator sends both, the client reads either.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateEndpointConnection {
    pub endpoint_id: String,
    pub endpoint_service_id: String,
    pub service_name: String,
    pub cloud_provider: CloudProvider,
    pub status: PrivateEndpointConnectionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_owner_id: Option<String>,
}

impl PrivateEndpointConnection {
    /// The region, under whichever name the answer carried it.
    pub fn region(&self) -> Option<&str> {
        self.region_name.as_deref().or(self.region.as_deref())
    }
}

/// `PrivateEndpointConnections`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateEndpointConnections {
    #[serde(default)]
    pub connections: Vec<PrivateEndpointConnection>,
}

/// `AddPrivateEndpointConnectionRequest`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddPrivateEndpointConnectionRequest {
    pub endpoint_id: String,
}

/// `PrivateEndpointTrustedOwner`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateEndpointTrustedOwner {
    pub id: String,
    pub cluster_id: String,
    #[serde(rename = "type")]
    pub owner_type: PrivateEndpointTrustedOwnerType,
    pub external_owner_id: String,
    pub created_at: String,
}

/// `AddPrivateEndpointTrustedOwnerRequest`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddPrivateEndpointTrustedOwnerRequest {
    pub external_owner_id: String,
    #[serde(rename = "type")]
    pub owner_type: PrivateEndpointTrustedOwnerType,
}

/// `AddPrivateEndpointTrustedOwnerResponse`, `GetPrivateEndpointTrustedOwnerResponse` and
/// `RemovePrivateEndpointTrustedOwnerResponse`: one trusted owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedOwnerResponse {
    pub trusted_owner: PrivateEndpointTrustedOwner,
}

/// `ListPrivateEndpointTrustedOwnersResponse`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPrivateEndpointTrustedOwnersResponse {
    #[serde(default)]
    pub trusted_owners: Vec<PrivateEndpointTrustedOwner>,
}
