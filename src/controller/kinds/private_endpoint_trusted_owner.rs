//! PrivateEndpointTrustedOwner: an account trusted to connect endpoints to a cluster. Its key is
//! natural (type and external owner id), so a create whose answer was lost shows up in the next
//! list and is adopted. Nothing about an owner can change in place (both fields are immutable);
//! the cloud's id of the entry is only needed to delete it, and is read from the list then.

use crate::api::{PrivateEndpointTrustedOwner, PrivateEndpointTrustedOwnerStatus};
use crate::cloud::models::{self, AddPrivateEndpointTrustedOwnerRequest, PrivateEndpointTrustedOwnerType};
use crate::cloud::{CloudClient, CloudError, Listing};

use crate::controller::context::Context;
use crate::controller::driver::Kind;
use crate::controller::error::ReconcileError;
use crate::controller::member::{Done, Member, MemberShape, Target};
use crate::controller::reason::Reason;

crate::impl_status_fields!(PrivateEndpointTrustedOwnerStatus, common.base);

impl Kind for PrivateEndpointTrustedOwner {
    type Shape = MemberShape;
}

/// The key of an owner: `TYPE/external id`, e.g. `AWS_ACCOUNT_ID/123456789012`.
fn key(owner_type: &str, external_owner_id: &str) -> String {
    format!("{owner_type}/{external_owner_id}")
}

/// The one write an owner may need: add it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOwner(pub AddPrivateEndpointTrustedOwnerRequest);

impl PrivateEndpointTrustedOwner {
    fn request(&self) -> AddPrivateEndpointTrustedOwnerRequest {
        AddPrivateEndpointTrustedOwnerRequest {
            external_owner_id: self.spec.external_owner_id.clone(),
            owner_type: PrivateEndpointTrustedOwnerType::from(self.spec.owner_type.as_str()),
        }
    }
}

impl Member for PrivateEndpointTrustedOwner {
    type Cloud = models::PrivateEndpointTrustedOwner;
    type Inputs = ();
    type Change = AddOwner;
    const NOUN: &'static str = "trusted owner";

    fn desired_key(&self) -> Result<String, ReconcileError> {
        Ok(key(self.spec.owner_type.as_str(), &self.spec.external_owner_id))
    }

    fn spec_of(item: &models::PrivateEndpointTrustedOwner) -> serde_json::Value {
        serde_json::json!({"externalOwnerId": item.external_owner_id, "type": item.owner_type})
    }

    fn key_of(item: &models::PrivateEndpointTrustedOwner) -> String {
        key(item.owner_type.as_str(), &item.external_owner_id)
    }

    async fn list(cloud: &CloudClient, cluster_id: &str) -> Result<Listing<models::PrivateEndpointTrustedOwner>, CloudError> {
        cloud.list_private_endpoint_trusted_owners(cluster_id).await
    }

    async fn inputs(&self, _ctx: &Context, _target: &Target, _listed: &[models::PrivateEndpointTrustedOwner]) -> Result<(), ReconcileError> {
        Ok(())
    }

    fn plan(&self, _inputs: &(), listed: &[models::PrivateEndpointTrustedOwner], _status: &PrivateEndpointTrustedOwnerStatus) -> Result<Option<AddOwner>, ReconcileError> {
        let wanted = self.desired_key()?;
        Ok((!Self::contains(listed, &wanted)).then(|| AddOwner(self.request())))
    }

    async fn execute(&self, _ctx: &Context, target: &Target, _inputs: &(), change: AddOwner) -> Result<Done<models::PrivateEndpointTrustedOwner>, ReconcileError> {
        let AddOwner(request) = change;
        let shown = key(request.owner_type.as_str(), &request.external_owner_id);
        match target.cloud.add_private_endpoint_trusted_owner(&target.cluster_id, &request).await {
            Ok(added) => Ok(Done::changed(Reason::Created, format!("added trusted owner {shown}"), added)),
            // Added meanwhile (or by our own request whose answer was lost): adopt it.
            Err(CloudError::AlreadyExists(_)) => Ok(Done::to_confirm(Reason::Adopted, format!("adopted existing trusted owner {shown}"))),
            Err(e) => Err(ReconcileError::cloud("adding the trusted owner", e)),
        }
    }

    fn record(&self, status: &mut PrivateEndpointTrustedOwnerStatus, _inputs: &(), item: Option<&models::PrivateEndpointTrustedOwner>) {
        if let Some(owner) = item {
            status.owner_id = Some(owner.id.clone());
            status.created_at = Some(owner.created_at.clone());
        }
    }

    /// The DELETE names the entry by the cloud's id: found in the list by the natural key. An
    /// owner no longer listed is already gone.
    async fn delete(cloud: &CloudClient, cluster_id: &str, key: &str) -> Result<(), CloudError> {
        let listed = cloud.list_private_endpoint_trusted_owners(cluster_id).await?;
        match Self::find(&listed.items, key) {
            Some(owner) => cloud.remove_private_endpoint_trusted_owner(cluster_id, &owner.id).await.map(|_| ()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::private_endpoint_trusted_owner::{PrivateEndpointTrustedOwnerSpec, TrustedOwnerType};

    fn resource(account: &str) -> PrivateEndpointTrustedOwner {
        let spec = PrivateEndpointTrustedOwnerSpec {
            cluster_ref: None,
            cluster_id: Some("c".into()),
            external_owner_id: account.into(),
            owner_type: TrustedOwnerType::AwsAccountId,
            deletion_policy: Default::default(), management_policy: Default::default(),
            credentials_ref: None,
        };
        PrivateEndpointTrustedOwner::new("team-account", spec)
    }

    fn owner(account: &str) -> models::PrivateEndpointTrustedOwner {
        models::PrivateEndpointTrustedOwner {
            id: "3f0c0000-0000-4000-8000-000000000001".into(),
            cluster_id: "c".into(),
            owner_type: PrivateEndpointTrustedOwnerType::AwsAccountId,
            external_owner_id: account.into(),
            created_at: "2026-11-29T00:00:00Z".into(),
        }
    }

    #[test]
    fn an_owner_is_added_unless_listed_under_its_natural_key() {
        let status = PrivateEndpointTrustedOwnerStatus::default();
        assert_eq!(resource("123456789012").desired_key().unwrap(), "AWS_ACCOUNT_ID/123456789012");
        assert_eq!(PrivateEndpointTrustedOwner::key_of(&owner("123456789012")), "AWS_ACCOUNT_ID/123456789012");
        assert_eq!(resource("123456789012").plan(&(), &[owner("123456789012")], &status).unwrap(), None);
        let Some(AddOwner(request)) = resource("123456789012").plan(&(), &[owner("210987654321")], &status).unwrap() else { panic!("expected an add") };
        assert_eq!((request.owner_type, request.external_owner_id.as_str()), (PrivateEndpointTrustedOwnerType::AwsAccountId, "123456789012"));
        assert!(resource("*").plan(&(), &[], &status).unwrap().is_some());
    }

    #[test]
    fn status_keeps_the_cloud_id() {
        let mut status = PrivateEndpointTrustedOwnerStatus::default();
        resource("123456789012").record(&mut status, &(), Some(&owner("123456789012")));
        assert_eq!(status.owner_id.as_deref(), Some("3f0c0000-0000-4000-8000-000000000001"));
    }
}
