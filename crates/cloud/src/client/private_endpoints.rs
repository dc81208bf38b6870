//! Private endpoints: the cluster's endpoint services, the connections of customer endpoints to
//! them and the trusted owners. None of the three lists is paginated in the official
//! description: each is one request.

use super::{Call, CloudClient, CloudError, Listing, Operation};
use crate::models::{
    AddPrivateEndpointConnectionRequest, AddPrivateEndpointTrustedOwnerRequest, Empty, ListPrivateEndpointTrustedOwnersResponse,
    PrivateEndpointConnection, PrivateEndpointConnections, PrivateEndpointServices, PrivateEndpointTrustedOwner, TrustedOwnerResponse,
};

impl CloudClient {
    pub async fn list_private_endpoint_services(&self, cluster_id: &str) -> Result<PrivateEndpointServices, CloudError> {
        self.send(Call::new(Operation::ListPrivateEndpointServices, &[cluster_id])).await
    }

    /// Creates the endpoint service of every region of the cluster (the cloud then works on them:
    /// CREATING). They cannot be deleted afterwards.
    pub async fn create_private_endpoint_services(&self, cluster_id: &str) -> Result<PrivateEndpointServices, CloudError> {
        self.send(Call::new(Operation::CreatePrivateEndpointServices, &[cluster_id])).await
    }

    pub async fn list_private_endpoint_connections(&self, cluster_id: &str) -> Result<Listing<PrivateEndpointConnection>, CloudError> {
        let answer: PrivateEndpointConnections = self.send(Call::new(Operation::ListPrivateEndpointConnections, &[cluster_id])).await?;
        Ok(Listing { items: answer.connections, pages: 1 })
    }

    /// Accepts the customer's endpoint `endpoint_id` on the cluster's endpoint service.
    pub async fn add_private_endpoint_connection(&self, cluster_id: &str, endpoint_id: &str) -> Result<PrivateEndpointConnection, CloudError> {
        let body = AddPrivateEndpointConnectionRequest { endpoint_id: endpoint_id.to_string() };
        self.send(Call::new(Operation::AddPrivateEndpointConnection, &[cluster_id]).body(&body)?).await
    }

    /// The endpoint id travels URL-encoded in the path (an Azure endpoint id holds slashes).
    pub async fn delete_private_endpoint_connection(&self, cluster_id: &str, endpoint_id: &str) -> Result<(), CloudError> {
        self.send::<Empty>(Call::new(Operation::DeletePrivateEndpointConnection, &[cluster_id, endpoint_id])).await.map(|_| ())
    }

    pub async fn list_private_endpoint_trusted_owners(&self, cluster_id: &str) -> Result<Listing<PrivateEndpointTrustedOwner>, CloudError> {
        let answer: ListPrivateEndpointTrustedOwnersResponse = self.send(Call::new(Operation::ListPrivateEndpointTrustedOwners, &[cluster_id])).await?;
        Ok(Listing { items: answer.trusted_owners, pages: 1 })
    }

    pub async fn add_private_endpoint_trusted_owner(
        &self,
        cluster_id: &str,
        request: &AddPrivateEndpointTrustedOwnerRequest,
    ) -> Result<PrivateEndpointTrustedOwner, CloudError> {
        let answer: TrustedOwnerResponse = self.send(Call::new(Operation::AddPrivateEndpointTrustedOwner, &[cluster_id]).body(request)?).await?;
        Ok(answer.trusted_owner)
    }

    pub async fn get_private_endpoint_trusted_owner(&self, cluster_id: &str, owner_id: &str) -> Result<PrivateEndpointTrustedOwner, CloudError> {
        let answer: TrustedOwnerResponse = self.send(Call::new(Operation::GetPrivateEndpointTrustedOwner, &[cluster_id, owner_id])).await?;
        Ok(answer.trusted_owner)
    }

    pub async fn remove_private_endpoint_trusted_owner(&self, cluster_id: &str, owner_id: &str) -> Result<PrivateEndpointTrustedOwner, CloudError> {
        let answer: TrustedOwnerResponse = self.send(Call::new(Operation::RemovePrivateEndpointTrustedOwner, &[cluster_id, owner_id])).await?;
        Ok(answer.trusted_owner)
    }
}
