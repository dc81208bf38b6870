//! The organisation's JWT issuers. The issuer URL is unique in an organisation (a second add of
//! the same URL is refused with ALREADY_EXISTS), which makes it the natural key of a create.

use super::{Call, CloudClient, CloudError, Listing, Operation};
use crate::models::{AddJwtIssuerRequest, JwtIssuer, ListJwtIssuersResponse, UpdateJwtIssuerRequest};

impl CloudClient {
    /// Every JWT issuer of the organisation, following every page.
    pub async fn list_jwt_issuers(&self) -> Result<Listing<JwtIssuer>, CloudError> {
        self.list_all(Operation::ListJWTIssuers, &[], &[], |r: ListJwtIssuersResponse| (r.jwt_issuers, r.pagination)).await
    }

    /// Sent once (a POST); see the client's module documentation.
    pub async fn add_jwt_issuer(&self, request: &AddJwtIssuerRequest) -> Result<JwtIssuer, CloudError> {
        self.send(Call::new(Operation::AddJWTIssuer, &[]).body(request)?).await
    }

    pub async fn get_jwt_issuer(&self, id: &str) -> Result<JwtIssuer, CloudError> {
        self.send(Call::new(Operation::GetJWTIssuer, &[id])).await
    }

    pub async fn update_jwt_issuer(&self, id: &str, request: &UpdateJwtIssuerRequest) -> Result<JwtIssuer, CloudError> {
        self.send(Call::new(Operation::UpdateJWTIssuer, &[id]).body(request)?).await
    }

    pub async fn delete_jwt_issuer(&self, id: &str) -> Result<JwtIssuer, CloudError> {
        self.send(Call::new(Operation::DeleteJWTIssuer, &[id])).await
    }
}
