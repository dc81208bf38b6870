//! `spec.privateEndpoints`: the cluster's private endpoint services.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Private connectivity (AWS PrivateLink, GCP Private Service Connect, Azure Private Link) of a
/// STANDARD or ADVANCED cluster: `enabled: true` creates the cluster's private endpoint service in
/// each of its regions. status.privateEndpoints then lists, per region, what the customer's side
/// of the link needs (the service name or id and its availability zones); connections are
/// PrivateEndpointConnection resources. The cloud cannot remove endpoint services once created,
/// so the block cannot turn them off; removing the block only stops managing them. Unset: left as
/// the cloud has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointsSpec {
    /// Must be true: creates the private endpoint services. false is refused, because the cloud
    /// cannot remove them once created (remove the block to stop managing them).
    #[x_kube(validation = Rule::new("self == true").message("spec.privateEndpoints.enabled cannot be false: CockroachDB Cloud cannot remove a cluster's private endpoint services once created (remove the block to stop managing them)"))]
    pub enabled: bool,
}

/// The private endpoint services as the cloud reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointsStatus {
    /// One service per region of the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<PrivateEndpointServiceStatus>,
}

/// The endpoint service of one region: what the customer's side of the link is created with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointServiceStatus {
    /// The cloud provider's region name (e.g. us-east-1).
    pub region: String,
    /// The service's name: on AWS the service name a VPC endpoint is created with
    /// (com.amazonaws.vpce...), on GCP the service attachment, on Azure the Private Link service.
    pub name: String,
    /// The cloud provider's id of the service (on AWS vpce-svc-...).
    pub endpoint_service_id: String,
    /// The availability zones the service is offered in (on AWS e.g. use1-az1); an endpoint must
    /// have subnets in some of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability_zone_ids: Vec<String>,
    /// CREATING, AVAILABLE, CREATE_FAILED, DELETING or DELETE_FAILED.
    pub state: String,
}
