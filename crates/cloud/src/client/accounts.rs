//! Service accounts and API keys: organisation-level, listed with keyset pagination.

use super::{Call, CloudClient, CloudError, Listing, Operation};
use crate::models::{
    ApiKeyInfo, CreateApiKeyRequest, CreateApiKeyResponse, CreateServiceAccountRequest, ListApiKeysResponse, ListServiceAccountsResponse,
    ServiceAccount, UpdateApiKeySpecification, UpdateServiceAccountSpecification,
};

impl CloudClient {
    pub async fn list_service_accounts(&self) -> Result<Listing<ServiceAccount>, CloudError> {
        self.list_all(Operation::ListServiceAccounts, &[], &[], |r: ListServiceAccountsResponse| (r.service_accounts, r.pagination)).await
    }

    pub async fn create_service_account(&self, request: &CreateServiceAccountRequest) -> Result<ServiceAccount, CloudError> {
        self.send(Call::new(Operation::CreateServiceAccount, &[]).body(request)?).await
    }

    pub async fn get_service_account(&self, id: &str) -> Result<ServiceAccount, CloudError> {
        self.send(Call::new(Operation::GetServiceAccount, &[id])).await
    }

    pub async fn update_service_account(&self, id: &str, update: &UpdateServiceAccountSpecification) -> Result<ServiceAccount, CloudError> {
        self.send(Call::new(Operation::UpdateServiceAccount, &[id]).body(update)?).await
    }

    pub async fn delete_service_account(&self, id: &str) -> Result<ServiceAccount, CloudError> {
        self.send(Call::new(Operation::DeleteServiceAccount, &[id])).await
    }

    /// The organisation's API keys, or those of one service account.
    pub async fn list_api_keys(&self, service_account_id: Option<&str>) -> Result<Listing<ApiKeyInfo>, CloudError> {
        let query: Vec<(&'static str, String)> = service_account_id.map(|id| ("service_account_id", id.to_string())).into_iter().collect();
        self.list_all(Operation::ListApiKeys, &[], &query, |r: ListApiKeysResponse| (r.api_keys, r.pagination)).await
    }

    /// The answer is the only time the cloud shows the key's secret.
    pub async fn create_api_key(&self, request: &CreateApiKeyRequest) -> Result<CreateApiKeyResponse, CloudError> {
        self.send(Call::new(Operation::CreateApiKey, &[]).body(request)?).await
    }

    pub async fn get_api_key(&self, id: &str) -> Result<ApiKeyInfo, CloudError> {
        self.send(Call::new(Operation::GetApiKey, &[id])).await
    }

    pub async fn update_api_key(&self, id: &str, update: &UpdateApiKeySpecification) -> Result<ApiKeyInfo, CloudError> {
        self.send(Call::new(Operation::UpdateApiKey, &[id]).body(update)?).await
    }

    pub async fn delete_api_key(&self, id: &str) -> Result<ApiKeyInfo, CloudError> {
        self.send(Call::new(Operation::DeleteApiKey, &[id])).await
    }
}
