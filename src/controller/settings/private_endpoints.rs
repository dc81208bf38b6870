//! `spec.privateEndpoints` <-> GET/POST /clusters/{id}/networking/private-endpoint-services. One
//! POST creates the service of every region; the cloud then works on them (CREATING) and they
//! turn AVAILABLE. They cannot be removed, so the only write is that one create.

use std::time::Duration;

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::private_endpoints::{PrivateEndpointServiceStatus as ServiceStatus, PrivateEndpointsSpec, PrivateEndpointsStatus};
use crate::cloud::models::{PrivateEndpointServiceStatus, PrivateEndpointServices};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::error::ReconcileError;
use crate::controller::reason::Reason;
use crate::controller::setting::{Setting, Waiting};

pub struct PrivateEndpoints;

/// How soon services the cloud is creating are looked at again.
const WHILE_CREATING: Duration = Duration::from_secs(2);

/// The only write: create the services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateServices;

/// The regions whose service is in `status`, for messages.
fn regions_in(observed: &PrivateEndpointServices, status: &PrivateEndpointServiceStatus) -> Vec<String> {
    observed.services.iter().filter(|s| s.status == *status).map(|s| s.region_name.clone()).collect()
}

impl Setting for PrivateEndpoints {
    type Desired = PrivateEndpointsSpec;
    type Observed = PrivateEndpointServices;
    type Change = CreateServices;
    const BLOCK: &'static str = "spec.privateEndpoints";
    const CONDITION: &'static str = "PrivateEndpointsSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&PrivateEndpointsSpec> {
        spec.settings.private_endpoints.as_ref()
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<PrivateEndpointServices, CloudError> {
        cloud.list_private_endpoint_services(cluster_id).await
    }

    /// Created once: a cluster without services gets them; one with services (in any state) is
    /// never written to again. `enabled` is always true (the CRD refuses false).
    fn plan(_desired: &PrivateEndpointsSpec, observed: &PrivateEndpointServices) -> Option<CreateServices> {
        observed.services.is_empty().then_some(CreateServices)
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, _change: &CreateServices) -> Result<PrivateEndpointServices, CloudError> {
        cloud.create_private_endpoint_services(cluster_id).await
    }

    fn waiting(_desired: &PrivateEndpointsSpec, observed: &PrivateEndpointServices) -> Option<Waiting> {
        let creating = regions_in(observed, &PrivateEndpointServiceStatus::Creating);
        (!creating.is_empty()).then(|| Waiting {
            reason: Reason::Creating,
            message: format!("the cloud is creating the private endpoint services ({})", creating.join(", ")),
            recheck: Some(WHILE_CREATING),
        })
    }

    /// A service the cloud failed to create cannot be created again through the API.
    fn health(observed: &PrivateEndpointServices) -> Result<(), ReconcileError> {
        let failed = regions_in(observed, &PrivateEndpointServiceStatus::CreateFailed);
        if failed.is_empty() {
            return Ok(());
        }
        Err(ReconcileError::stalled(
            Reason::OperationFailed,
            format!("the cloud reports CREATE_FAILED for the private endpoint services of {}; this needs CockroachDB support", failed.join(", ")),
        ))
    }

    fn describe(_change: &CreateServices) -> String {
        "created the private endpoint services".into()
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&PrivateEndpointServices>) {
        status.settings.private_endpoints = observed.map(|o| PrivateEndpointsStatus {
            services: o
                .services
                .iter()
                .map(|s| ServiceStatus {
                    region: s.region_name.clone(),
                    name: s.name.clone(),
                    endpoint_service_id: s.endpoint_service_id.clone(),
                    availability_zone_ids: s.availability_zone_ids.clone(),
                    state: s.status.to_string(),
                })
                .collect(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::models::{CloudProvider, PrivateEndpointService};

    fn services(states: &[(&str, PrivateEndpointServiceStatus)]) -> PrivateEndpointServices {
        let services = states
            .iter()
            .map(|(region, status)| PrivateEndpointService {
                region_name: region.to_string(),
                cloud_provider: CloudProvider::Aws,
                status: status.clone(),
                name: format!("com.amazonaws.vpce.{region}.vpce-svc-1"),
                endpoint_service_id: "vpce-svc-1".into(),
                availability_zone_ids: vec!["use1-az1".into()],
                aws: None,
            })
            .collect();
        PrivateEndpointServices { services }
    }

    const ON: PrivateEndpointsSpec = PrivateEndpointsSpec { enabled: true };

    #[test]
    fn services_are_created_once_and_never_written_again() {
        assert_eq!(PrivateEndpoints::plan(&ON, &services(&[])), Some(CreateServices));
        for state in [PrivateEndpointServiceStatus::Creating, PrivateEndpointServiceStatus::Available, PrivateEndpointServiceStatus::CreateFailed] {
            assert_eq!(PrivateEndpoints::plan(&ON, &services(&[("us-east-1", state)])), None);
        }
    }

    #[test]
    fn creating_services_wait_and_failed_ones_stall() {
        let creating = services(&[("us-east-1", PrivateEndpointServiceStatus::Creating), ("us-west-2", PrivateEndpointServiceStatus::Available)]);
        let waiting = PrivateEndpoints::waiting(&ON, &creating).unwrap();
        assert!(waiting.reason == Reason::Creating && waiting.message.contains("us-east-1") && !waiting.message.contains("us-west-2"), "{waiting:?}");
        assert!(PrivateEndpoints::health(&creating).is_ok());
        let available = services(&[("us-east-1", PrivateEndpointServiceStatus::Available)]);
        assert_eq!(PrivateEndpoints::waiting(&ON, &available), None);
        let failed = PrivateEndpoints::health(&services(&[("us-east-1", PrivateEndpointServiceStatus::CreateFailed)])).unwrap_err();
        assert!(failed.is_stalled() && failed.message.contains("us-east-1"), "{failed:?}");
    }

    #[test]
    fn status_lists_what_the_customer_side_needs() {
        let mut status = CockroachClusterStatus::default();
        PrivateEndpoints::record(&mut status, Some(&services(&[("us-east-1", PrivateEndpointServiceStatus::Available)])));
        let recorded = status.settings.private_endpoints.clone().unwrap().services;
        assert_eq!(recorded[0].name, "com.amazonaws.vpce.us-east-1.vpce-svc-1");
        assert_eq!((recorded[0].state.as_str(), recorded[0].availability_zone_ids.len()), ("AVAILABLE", 1));
        PrivateEndpoints::record(&mut status, None);
        assert!(status.settings.private_endpoints.is_none());
    }
}
