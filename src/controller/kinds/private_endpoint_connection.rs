//! PrivateEndpointConnection: accepts a customer's endpoint on the cluster's endpoint service
//! (POST), observes it in the cluster's list of connections, removes it with DELETE. The endpoint
//! id is the key, so a create whose answer was lost shows up in the next list and is adopted.
//! The cloud then sets the link up: the resource is Progressing while the connection is pending,
//! Ready once it is available, and Stalled when the provider rejected it (or it failed or expired).

use crate::api::{PrivateEndpointConnection, PrivateEndpointConnectionStatus};
use crate::cloud::models::{self, PrivateEndpointConnectionStatus as State};
use crate::cloud::{CloudClient, CloudError, Listing};

use crate::controller::context::Context;
use crate::controller::driver::Kind;
use crate::controller::error::ReconcileError;
use crate::controller::member::{Done, Member, MemberShape, Settled, Target};
use crate::controller::reason::Reason;

crate::impl_status_fields!(PrivateEndpointConnectionStatus, common.base);

impl Kind for PrivateEndpointConnection {
    type Shape = MemberShape;
}

/// The one write a connection may need: accept the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddConnection(pub String);

impl Member for PrivateEndpointConnection {
    type Cloud = models::PrivateEndpointConnection;
    type Inputs = ();
    type Change = AddConnection;
    const NOUN: &'static str = "private endpoint connection";

    fn desired_key(&self) -> Result<String, ReconcileError> {
        Ok(self.spec.endpoint_id.clone())
    }

    fn spec_of(item: &models::PrivateEndpointConnection) -> serde_json::Value {
        serde_json::json!({"endpointId": item.endpoint_id})
    }

    fn key_of(item: &models::PrivateEndpointConnection) -> String {
        item.endpoint_id.clone()
    }

    async fn list(cloud: &CloudClient, cluster_id: &str) -> Result<Listing<models::PrivateEndpointConnection>, CloudError> {
        cloud.list_private_endpoint_connections(cluster_id).await
    }

    async fn inputs(&self, _ctx: &Context, _target: &Target, _listed: &[models::PrivateEndpointConnection]) -> Result<(), ReconcileError> {
        Ok(())
    }

    /// Accepted unless the list shows it: an endpoint waiting for acceptance
    /// (STATUS_PENDING_ACCEPTANCE) or one the cloud reports deleted is accepted (again).
    fn plan(&self, _inputs: &(), listed: &[models::PrivateEndpointConnection], _status: &PrivateEndpointConnectionStatus) -> Result<Option<AddConnection>, ReconcileError> {
        Ok(match Self::find(listed, &self.spec.endpoint_id) {
            Some(c) if !matches!(c.status, State::PendingAcceptance | State::Deleted) => None,
            _ => Some(AddConnection(self.spec.endpoint_id.clone())),
        })
    }

    async fn execute(&self, _ctx: &Context, target: &Target, _inputs: &(), change: AddConnection) -> Result<Done<models::PrivateEndpointConnection>, ReconcileError> {
        let AddConnection(endpoint) = change;
        match target.cloud.add_private_endpoint_connection(&target.cluster_id, &endpoint).await {
            Ok(added) => Ok(Done::changed(Reason::Created, format!("connected endpoint {endpoint} to the cluster's private endpoint service"), added)),
            // Added meanwhile (or by our own request whose answer was lost): adopt it.
            Err(CloudError::AlreadyExists(_)) => Ok(Done::to_confirm(Reason::Adopted, format!("adopted the existing connection of endpoint {endpoint}"))),
            Err(e) => Err(ReconcileError::cloud("adding the private endpoint connection (the cluster needs spec.privateEndpoints)", e)),
        }
    }

    fn record(&self, status: &mut PrivateEndpointConnectionStatus, _inputs: &(), item: Option<&models::PrivateEndpointConnection>) {
        if let Some(c) = item {
            status.connection_status = Some(c.status.to_string());
            status.region = c.region().map(str::to_string);
            status.service_name = Some(c.service_name.clone());
            status.endpoint_service_id = Some(c.endpoint_service_id.clone());
        }
    }

    fn settled(&self, item: Option<&models::PrivateEndpointConnection>) -> Result<Settled, ReconcileError> {
        let Some(c) = item else { return Ok(Settled::Ready) };
        settled(&c.endpoint_id, &c.status)
    }

    async fn delete(cloud: &CloudClient, cluster_id: &str, key: &str) -> Result<(), CloudError> {
        cloud.delete_private_endpoint_connection(cluster_id, key).await
    }
}

/// Ready when available; the cloud's own progress is Pending; a final failure is Stalled.
fn settled(endpoint: &str, state: &State) -> Result<Settled, ReconcileError> {
    match state {
        State::Available => Ok(Settled::Ready),
        State::Rejected | State::Failed | State::Expired => Err(ReconcileError::stalled(
            Reason::EndpointRejected,
            format!(
                "the cloud reports {state} for endpoint {endpoint}: it will not connect; check the endpoint (and the cluster's trusted owners) in your cloud account, then delete this resource and create the endpoint again"
            ),
        )),
        other => Ok(Settled::Pending { reason: Reason::EndpointPending, message: format!("the connection of endpoint {endpoint} is {other}; waiting for the cloud to make it available") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::private_endpoint_connection::PrivateEndpointConnectionSpec;
    use crate::cloud::models::CloudProvider;

    const ENDPOINT: &str = "vpce-0a1b2c3d4e5f67890";

    fn resource() -> PrivateEndpointConnection {
        let spec = PrivateEndpointConnectionSpec { cluster_ref: None, cluster_id: Some("c".into()), endpoint_id: ENDPOINT.into(), deletion_policy: Default::default(), management_policy: Default::default(), credentials_ref: None };
        PrivateEndpointConnection::new("app-vpc", spec)
    }

    fn listed(status: State) -> Vec<models::PrivateEndpointConnection> {
        vec![models::PrivateEndpointConnection {
            endpoint_id: ENDPOINT.into(),
            endpoint_service_id: "vpce-svc-1".into(),
            service_name: "com.amazonaws.vpce.us-east-1.vpce-svc-1".into(),
            cloud_provider: CloudProvider::Aws,
            status,
            region_name: Some("us-east-1".into()),
            region: None,
            external_owner_id: None,
        }]
    }

    #[test]
    fn an_endpoint_is_added_unless_listed() {
        let status = PrivateEndpointConnectionStatus::default();
        let add = Some(AddConnection(ENDPOINT.into()));
        assert_eq!(resource().plan(&(), &[], &status).unwrap(), add);
        assert_eq!(resource().plan(&(), &listed(State::PendingAcceptance), &status).unwrap(), add);
        assert_eq!(resource().plan(&(), &listed(State::Deleted), &status).unwrap(), add);
        for state in [State::Pending, State::Available, State::Rejected, State::Deleting] {
            assert_eq!(resource().plan(&(), &listed(state), &status).unwrap(), None);
        }
    }

    #[test]
    fn ready_only_when_available_and_stalled_when_rejected() {
        assert_eq!(settled(ENDPOINT, &State::Available).unwrap(), Settled::Ready);
        for pending in [State::Pending, State::PendingAcceptance, State::Deleting, State::Unknown("STATUS_NEW".into())] {
            assert!(matches!(settled(ENDPOINT, &pending).unwrap(), Settled::Pending { reason: Reason::EndpointPending, .. }), "{pending}");
        }
        for failed in [State::Rejected, State::Failed, State::Expired] {
            let err = settled(ENDPOINT, &failed).unwrap_err();
            assert!(err.is_stalled() && err.reason == Reason::EndpointRejected && err.message.contains(failed.as_str()), "{err:?}");
        }
    }

    #[test]
    fn status_shows_the_cloud_state_and_service() {
        let mut status = PrivateEndpointConnectionStatus::default();
        resource().record(&mut status, &(), listed(State::Pending).first());
        assert_eq!(status.connection_status.as_deref(), Some("STATUS_PENDING"));
        assert_eq!((status.region.as_deref(), status.endpoint_service_id.as_deref()), (Some("us-east-1"), Some("vpce-svc-1")));
    }
}
