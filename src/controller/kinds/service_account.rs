//! ServiceAccount, a top-level cloud object (see [`top_level`](crate::controller::top_level)),
//! organisation-level: honoured only in namespaces trusted for such kinds.
//!
//! Exactly-once create without a marker: a cloud service account has no labels, and its name
//! need not be unique (two accounts may share one), so the UID cannot ride along with the create
//! and a same-named account is no proof of anything. The driver records the intent
//! (`status.createRequestedAt`) before the create is sent; only while an intent stands is the
//! organisation searched, and only an account of the spec's name created at or after the intent
//! (less [`CLOCK_SKEW`]) is taken as the one the lost request made. Without an intent nothing is
//! searched and an account of the same name is left alone.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api::service_account::{ServiceAccount, ServiceAccountStatus};
use crate::cloud::models::{CreateServiceAccountRequest, ServiceAccount as CloudServiceAccount, UpdateServiceAccountSpecification};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::driver::Kind;
use crate::controller::error::ReconcileError;
use crate::controller::top_level::{Plan, TopLevel, TopLevelShape, TopLevelStatus};

/// How far the cloud's clock may lag the operator's when comparing a creation time with the
/// recorded intent (the intent is written before the request leaves, so the object is normally
/// later still).
pub const CLOCK_SKEW: Duration = Duration::from_secs(10);

/// Whether an object the cloud says was created at `created_at` may be the answer to a create
/// request sent at `intent`. Shared by every kind whose objects carry no ownership marker.
pub fn created_since(created_at: &str, intent: Option<Timestamp>) -> bool {
    let (Some(intent), Ok(created)) = (intent, created_at.parse::<Timestamp>()) else {
        return false;
    };
    let skew = k8s_openapi::jiff::SignedDuration::try_from(CLOCK_SKEW).unwrap_or_default();
    created >= intent - skew
}

crate::impl_status_fields!(ServiceAccountStatus, base);

impl Kind for ServiceAccount {
    type Shape = TopLevelShape;
    const ORG_LEVEL: bool = true;
}

impl TopLevelStatus for ServiceAccountStatus {
    fn cloud_id(&self) -> Option<&str> {
        self.service_account_id.as_deref()
    }
    fn set_cloud_id(&mut self, id: Option<String>) {
        self.service_account_id = id;
    }
    fn create_requested_at(&self) -> Option<&str> {
        self.create_requested_at.as_deref()
    }
    fn set_create_requested_at(&mut self, at: Option<String>) {
        self.create_requested_at = at;
    }
}

/// The update that brings `item` in line with the spec's name and description, and the fields it
/// changes; `None` when in line.
pub fn diff(name: &str, description: &str, item: &CloudServiceAccount) -> Option<(UpdateServiceAccountSpecification, Vec<&'static str>)> {
    let mut update = UpdateServiceAccountSpecification::default();
    let mut fields = Vec::new();
    if item.name != name {
        update.name = Some(name.to_string());
        fields.push("name");
    }
    if item.description != description {
        update.description = Some(description.to_string());
        fields.push("description");
    }
    (!fields.is_empty()).then_some((update, fields))
}

/// The create request for `sa`. Roles are granted by RoleGrant resources, never at creation.
pub fn create_request(sa: &ServiceAccount) -> CreateServiceAccountRequest {
    CreateServiceAccountRequest { name: sa.cloud_name(), description: sa.description(), roles: Vec::new() }
}

impl TopLevel for ServiceAccount {
    type Cloud = CloudServiceAccount;
    type Change = UpdateServiceAccountSpecification;
    const NOUN: &'static str = "serviceAccount";
    const SHARED_LIST: bool = true;
    const ADOPT_FIELD: &'static str = "adoptServiceAccountId";

    fn adopt_id(&self) -> Option<&str> {
        self.spec.adopt_service_account_id.as_deref()
    }
    fn cloud_name(&self) -> String {
        ServiceAccount::cloud_name(self)
    }

    fn spec_of(item: &CloudServiceAccount) -> serde_json::Value {
        serde_json::json!({"name": item.name, "description": item.description})
    }

    fn id_of(item: &CloudServiceAccount) -> &str {
        &item.id
    }
    fn name_of(item: &CloudServiceAccount) -> &str {
        &item.name
    }
    /// Service accounts carry no marker (see the module comment).
    fn created_by(_item: &CloudServiceAccount) -> Option<&str> {
        None
    }
    fn is_gone(_item: &CloudServiceAccount) -> bool {
        false
    }
    fn made_by_this(&self, item: &CloudServiceAccount, intent: Option<Timestamp>) -> bool {
        item.name == self.cloud_name() && created_since(&item.created_at, intent)
    }
    /// Names may repeat: another account of the same name is no obstacle to a create.
    fn same_key(&self, _item: &CloudServiceAccount) -> bool {
        false
    }

    async fn get(cloud: &CloudClient, id: &str) -> Result<CloudServiceAccount, CloudError> {
        cloud.get_service_account(id).await
    }
    async fn list(cloud: &CloudClient) -> Result<Vec<CloudServiceAccount>, CloudError> {
        Ok(cloud.list_service_accounts().await?.items)
    }
    /// Any service account can be managed: its name and description are then brought in line.
    fn adoption_mismatch(&self, _item: &CloudServiceAccount) -> Option<String> {
        None
    }
    async fn create(&self, cloud: &CloudClient) -> Result<CloudServiceAccount, CloudError> {
        cloud.create_service_account(&create_request(self)).await
    }

    fn observe(status: &mut ServiceAccountStatus, item: &CloudServiceAccount) {
        status.service_account_id = Some(item.id.clone());
        status.create_requested_at = None;
        status.name = Some(item.name.clone());
        status.description = Some(item.description.clone());
        status.created_at = Some(item.created_at.clone());
    }

    fn plan(&self, item: &CloudServiceAccount, _now: Timestamp) -> Result<Plan<UpdateServiceAccountSpecification>, ReconcileError> {
        Ok(match diff(&self.cloud_name(), &self.description(), item) {
            Some((change, fields)) => Plan::Change { change, summary: fields.join(", ") },
            None => Plan::InSync,
        })
    }

    async fn execute(&self, cloud: &CloudClient, item: &CloudServiceAccount, change: UpdateServiceAccountSpecification) -> Result<CloudServiceAccount, ReconcileError> {
        cloud.update_service_account(&item.id, &change).await.map_err(|e| ReconcileError::cloud("updating the service account", e))
    }

    async fn delete(&self, cloud: &CloudClient, item: &CloudServiceAccount) -> Result<(), ReconcileError> {
        match cloud.delete_service_account(&item.id).await {
            Ok(_) | Err(CloudError::NotFound(_)) => Ok(()),
            Err(e) => Err(ReconcileError::cloud("deleting the service account", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str, description: &str, created_at: &str) -> CloudServiceAccount {
        CloudServiceAccount {
            id: "11111111-1111-4111-8111-111111111111".into(),
            name: name.into(),
            description: description.into(),
            creator_name: "admin".into(),
            created_at: created_at.into(),
            roles: vec![],
            group_roles: vec![],
        }
    }

    fn sa(name: Option<&str>, description: Option<&str>) -> ServiceAccount {
        let mut sa = ServiceAccount::new("ci-deployer", serde_json::from_value(serde_json::json!({})).unwrap());
        sa.spec.name = name.map(str::to_string);
        sa.spec.description = description.map(str::to_string);
        sa
    }

    #[test]
    fn in_line_is_in_sync() {
        let plan = sa(None, Some("deploys")).plan(&account("ci-deployer", "deploys", "2026-01-01T00:00:00Z"), Timestamp::now()).unwrap();
        assert_eq!(plan, Plan::InSync);
    }

    #[test]
    fn a_changed_name_or_description_is_one_update_of_just_those_fields() {
        let plan = sa(Some("deployer"), None).plan(&account("ci-deployer", "old", "2026-01-01T00:00:00Z"), Timestamp::now()).unwrap();
        let Plan::Change { change, summary } = plan else { panic!("expected a change, got {plan:?}") };
        assert_eq!(change, UpdateServiceAccountSpecification { name: Some("deployer".into()), description: Some(String::new()) });
        assert_eq!(summary, "name, description");
        let (only_description, fields) = diff("ci-deployer", "new", &account("ci-deployer", "old", "t")).unwrap();
        assert_eq!((only_description.name, fields), (None, vec!["description"]));
    }

    #[test]
    fn only_an_account_created_after_the_intent_is_taken_as_ours() {
        let intent: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        assert!(created_since("2026-01-01T00:01:02.5Z", Some(intent)));
        // The cloud's clock may lag a little.
        assert!(created_since("2026-01-01T00:00:55Z", Some(intent)));
        assert!(!created_since("2026-01-01T00:00:30Z", Some(intent)));
        // Without an intent no create was sent, so nothing is ours; an unreadable time is not ours.
        assert!(!created_since("2026-01-01T00:01:02Z", None));
        assert!(!created_since("yesterday", Some(intent)));
        let ours = sa(None, None);
        assert!(ours.made_by_this(&account("ci-deployer", "", "2026-01-01T00:01:01Z"), Some(intent)));
        assert!(!ours.made_by_this(&account("ci-deployer", "", "2025-12-31T00:00:00Z"), Some(intent)));
    }
}
