//! `PrivateEndpointConnection`: a customer's private endpoint connected to a cluster's private
//! endpoint service.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::child::ChildStatus;

crate::child_spec! {
    noun = "private endpoint connection";
    /// A connection of a customer's private endpoint (an AWS VPC endpoint, a GCP Private Service
    /// Connect endpoint, an Azure private endpoint) to the private endpoint service of a
    /// CockroachDB Cloud cluster. The cluster needs spec.privateEndpoints (its services, listed in
    /// its status.privateEndpoints, are what the endpoint is created against). Ready once the
    /// cloud reports the connection AVAILABLE.
    #[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[kube(
        group = "crdbcloud.io",
        version = "v1alpha1",
        kind = "PrivateEndpointConnection",
        plural = "privateendpointconnections",
        namespaced,
        status = "PrivateEndpointConnectionStatus",
        shortname = "crdbpec",
        category = "crdbcloud",
        printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".spec.endpointId"}"#,
        printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.connectionStatus"}"#,
        printcolumn = r#"{"name":"Region","type":"string","jsonPath":".status.region","priority":1}"#,
    )]
    pub struct PrivateEndpointConnectionSpec {
        /// The id of the customer's private endpoint, as its cloud provider generated it: on AWS
        /// the VPC endpoint id (`vpce-` and 8 or 17 hex digits), on GCP the Private Service Connect
        /// connection id (digits), on Azure the private endpoint's resource id
        /// (`/subscriptions/.../privateEndpoints/...`). Immutable.
        #[schemars(length(min = 1, max = 512))]
        #[x_kube(validation = Rule::new("self.matches('^(vpce-[0-9a-f]{8,17}|[0-9]{1,20}|/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Network/privateEndpoints/[^/]+)$')").message("spec.endpointId must be an AWS VPC endpoint id (vpce-0a1b2c3d4e5f67890), a GCP Private Service Connect connection id (digits) or an Azure private endpoint resource id"))]
        #[x_kube(validation = Rule::new("self == oldSelf").message("spec.endpointId is immutable"))]
        pub endpoint_id: String,
    }
}

/// What the operator observed of a private endpoint connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointConnectionStatus {
    #[serde(flatten)]
    pub common: ChildStatus,
    /// The connection's state as the cloud reports it: STATUS_PENDING, STATUS_PENDING_ACCEPTANCE,
    /// STATUS_AVAILABLE, STATUS_DELETING, STATUS_DELETED, STATUS_REJECTED, STATUS_FAILED or
    /// STATUS_EXPIRED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_status: Option<String>,
    /// The cloud provider region of the endpoint service the endpoint connects to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The name of that endpoint service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// The cloud provider's id of that endpoint service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_service_id: Option<String>,
}
crate::impl_child_status!(PrivateEndpointConnectionStatus);
