//! Private endpoints of a cluster: its endpoint services (one per region, created together by one
//! POST, CREATING until an operation's time has passed, then AVAILABLE; the API offers no way to
//! delete them), the connections of customer endpoints to them (STATUS_PENDING after the POST,
//! STATUS_AVAILABLE once an operation's time has passed, or STATUS_REJECTED through the admin
//! hook), and the accounts trusted to connect. Not available on BASIC clusters. States are
//! computed from timestamps when read, like the exports'.

use axum::Json;
use axum::extract::Extension;
use chrono::Utc;
use sha2::{Digest, Sha256};

use crdb_cloud::models::{
    AddPrivateEndpointConnectionRequest, AddPrivateEndpointTrustedOwnerRequest, AwsPrivateLinkServiceDetail, CloudProvider, Empty,
    ListPrivateEndpointTrustedOwnersResponse, Plan, PrivateEndpointConnection, PrivateEndpointConnectionStatus, PrivateEndpointConnections,
    PrivateEndpointService, PrivateEndpointServiceStatus, PrivateEndpointServices, PrivateEndpointTrustedOwner,
    TrustedOwnerResponse,
};

use super::SimState;
use super::children::with_cluster;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx};
use super::state::{Access, ClusterRecord, Now, rfc3339};
use super::validation;

/// What one cluster holds of private endpoints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrivateEndpoints {
    /// The services, once created, and when they turn AVAILABLE.
    pub services: Option<(Vec<PrivateEndpointService>, Now)>,
    /// In the order they were added.
    pub connections: Vec<Connection>,
    /// In the order they were added.
    pub trusted_owners: Vec<PrivateEndpointTrustedOwner>,
}

/// An accepted customer endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// As answered, with the status it was added with.
    pub connection: PrivateEndpointConnection,
    /// When STATUS_PENDING turns STATUS_AVAILABLE.
    pub available_at: Now,
    /// Rejected through the admin hook: stays STATUS_REJECTED.
    pub rejected: bool,
}

impl Connection {
    pub fn at(&self, now: Now) -> PrivateEndpointConnection {
        let status = if self.rejected {
            PrivateEndpointConnectionStatus::Rejected
        } else if now < self.available_at {
            PrivateEndpointConnectionStatus::Pending
        } else {
            PrivateEndpointConnectionStatus::Available
        };
        PrivateEndpointConnection { status, ..self.connection.clone() }
    }
}

impl PrivateEndpoints {
    pub fn services_at(&self, now: Now) -> Vec<PrivateEndpointService> {
        let Some((services, available_at)) = &self.services else { return Vec::new() };
        let status = if now < *available_at { PrivateEndpointServiceStatus::Creating } else { PrivateEndpointServiceStatus::Available };
        services.iter().map(|s| PrivateEndpointService { status: status.clone(), ..s.clone() }).collect()
    }

    /// The admin hook: the cloud provider rejects the endpoint's connection.
    pub fn reject(&mut self, endpoint_id: &str, now: Now) -> Option<PrivateEndpointConnection> {
        let connection = self.connections.iter_mut().find(|c| c.connection.endpoint_id == endpoint_id)?;
        connection.rejected = true;
        Some(connection.at(now))
    }
}

/// Private connectivity is a feature of STANDARD and ADVANCED clusters.
fn not_basic(record: &ClusterRecord) -> ApiResult<()> {
    if record.cluster.plan == Plan::Basic {
        return Err(ApiError::invalid(format!(
            "private endpoints are not available on BASIC clusters; cluster {} must be STANDARD or ADVANCED",
            record.cluster.id
        )));
    }
    Ok(())
}

/// Hex digits derived from `seed`, so ids are stable for a cluster and region.
fn hex(seed: &str, len: usize) -> String {
    Sha256::digest(seed.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>()[..len].to_string()
}

/// AWS availability zone ids of a region: `us-east-1` -> `use1-az1`, `use1-az2`, `use1-az3`.
fn aws_zone_ids(region: &str) -> Vec<String> {
    let parts: Vec<&str> = region.split('-').collect();
    let prefix = match parts.as_slice() {
        [area, direction, number] => format!("{area}{}{number}", direction.chars().next().unwrap_or('x')),
        _ => region.replace('-', ""),
    };
    (1..=3).map(|n| format!("{prefix}-az{n}")).collect()
}

/// The endpoint service of one region, named as each provider names them.
fn service(record: &ClusterRecord, region: &str) -> PrivateEndpointService {
    let id = &record.cluster.id;
    let short = &id[..8.min(id.len())];
    let provider = record.cluster.cloud_provider.clone();
    let (name, endpoint_service_id, zones, aws) = match provider {
        CloudProvider::Aws => {
            let service_id = format!("vpce-svc-{}", hex(&format!("{id}/{region}"), 17));
            let name = format!("com.amazonaws.vpce.{region}.{service_id}");
            let zones = aws_zone_ids(region);
            let aws = AwsPrivateLinkServiceDetail { service_name: name.clone(), service_id: service_id.clone(), availability_zone_ids: zones.clone() };
            (name, service_id, zones, Some(aws))
        }
        CloudProvider::Gcp => {
            let attachment = format!("projects/crl-prod-{short}/regions/{region}/serviceAttachments/crdb-{short}-{region}");
            (attachment.clone(), attachment, Vec::new(), None)
        }
        _ => {
            let name = format!("crdb-{short}-{region}-pls");
            let service_id = format!("/subscriptions/{}/resourceGroups/crdb-{short}/providers/Microsoft.Network/privateLinkServices/{name}", hex(id, 8));
            (name, service_id, vec!["1".into(), "2".into(), "3".into()], None)
        }
    };
    PrivateEndpointService {
        region_name: region.to_string(),
        cloud_provider: provider,
        status: PrivateEndpointServiceStatus::Creating,
        name,
        endpoint_service_id,
        availability_zone_ids: zones,
        aws,
    }
}

pub(super) async fn list_services(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<PrivateEndpointServices>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        not_basic(record)?;
        Ok(Json(PrivateEndpointServices { services: record.private_endpoints.services_at(Utc::now()) }))
    })
}

/// Creates the service of every region; a second POST answers with the services already there.
pub(super) async fn create_services(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<PrivateEndpointServices>> {
    let delay = sim.timing.operation_delay;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        not_basic(record)?;
        let now = Utc::now();
        if record.private_endpoints.services.is_none() {
            let mut regions: Vec<String> = record.cluster.regions.iter().map(|r| r.name.clone()).collect();
            regions.sort();
            let services = regions.iter().map(|r| service(record, r)).collect();
            record.private_endpoints.services = Some((services, now + delay));
        }
        Ok(Json(PrivateEndpointServices { services: record.private_endpoints.services_at(now) }))
    })
}

pub(super) async fn list_connections(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<PrivateEndpointConnections>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        not_basic(record)?;
        let now = Utc::now();
        Ok(Json(PrivateEndpointConnections { connections: record.private_endpoints.connections.iter().map(|c| c.at(now)).collect() }))
    })
}

/// The shape of an endpoint id on each provider: an AWS VPC endpoint, a GCP Private Service
/// Connect connection id, an Azure private endpoint resource id.
fn endpoint_id(provider: &CloudProvider, id: &str) -> ApiResult<()> {
    let valid = match provider {
        CloudProvider::Aws => id.strip_prefix("vpce-").is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())),
        CloudProvider::Gcp => !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()),
        _ => id.starts_with("/subscriptions/") && id.contains("/privateEndpoints/"),
    };
    if valid {
        return Ok(());
    }
    let expected = match provider {
        CloudProvider::Aws => "an AWS VPC endpoint id such as vpce-0a1b2c3d4e5f67890",
        CloudProvider::Gcp => "a Private Service Connect connection id (digits)",
        _ => "an Azure private endpoint resource id (/subscriptions/.../privateEndpoints/...)",
    };
    Err(ApiError::invalid(format!("invalid value {id:?} for field `endpoint_id`: expected {expected}")))
}

/// Accepts an endpoint on the cluster's endpoint service; it is STATUS_PENDING until the
/// provider has set up the link.
pub(super) async fn add_connection(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<AddPrivateEndpointConnectionRequest>,
) -> ApiResult<Json<PrivateEndpointConnection>> {
    let delay = sim.timing.operation_delay;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        not_basic(record)?;
        endpoint_id(&record.cluster.cloud_provider, &req.endpoint_id)?;
        let now = Utc::now();
        let services = record.private_endpoints.services_at(now);
        let Some(service) = services.first() else {
            return Err(ApiError::failed_precondition(format!(
                "cluster {cluster_id} has no private endpoint services; create them (POST .../networking/private-endpoint-services) first"
            )));
        };
        if services.iter().any(|s| s.status != PrivateEndpointServiceStatus::Available) {
            return Err(ApiError::failed_precondition(format!("the private endpoint services of cluster {cluster_id} are still being created; retry once they are AVAILABLE")));
        }
        if record.private_endpoints.connections.iter().any(|c| c.connection.endpoint_id == req.endpoint_id) {
            return Err(ApiError::already_exists(format!("endpoint {} is already connected to cluster {cluster_id}", req.endpoint_id)));
        }
        let owner = (service.cloud_provider == CloudProvider::Aws).then(|| hex(&req.endpoint_id, 12).bytes().map(|b| char::from(b'0' + b % 10)).collect());
        let connection = PrivateEndpointConnection {
            endpoint_id: req.endpoint_id.clone(),
            endpoint_service_id: service.endpoint_service_id.clone(),
            service_name: service.name.clone(),
            cloud_provider: service.cloud_provider.clone(),
            status: PrivateEndpointConnectionStatus::Pending,
            region_name: Some(service.region_name.clone()),
            region: Some(service.region_name.clone()),
            external_owner_id: owner,
        };
        let added = Connection { connection, available_at: now + delay, rejected: false };
        let answer = added.at(now);
        record.private_endpoints.connections.push(added);
        Ok(Json(answer))
    })
}

pub(super) async fn delete_connection(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, endpoint_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<Empty>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        not_basic(record)?;
        let connections = &mut record.private_endpoints.connections;
        let before = connections.len();
        connections.retain(|c| c.connection.endpoint_id != endpoint_id);
        if connections.len() == before {
            return Err(ApiError::not_found(format!("private endpoint connection {endpoint_id} not found on cluster {cluster_id}")));
        }
        Ok(Json(Empty {}))
    })
}

pub(super) async fn list_trusted_owners(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
) -> ApiResult<Json<ListPrivateEndpointTrustedOwnersResponse>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        not_basic(record)?;
        Ok(Json(ListPrivateEndpointTrustedOwnersResponse { trusted_owners: record.private_endpoints.trusted_owners.clone() }))
    })
}

/// An AWS account (12 digits) or `*` for every account (AWS_ACCOUNT_ID is the type's only value).
pub(super) async fn add_trusted_owner(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<AddPrivateEndpointTrustedOwnerRequest>,
) -> ApiResult<Json<TrustedOwnerResponse>> {
    validation::known("type", &req.owner_type)?;
    let id = &req.external_owner_id;
    if id != "*" && !(id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())) {
        return Err(ApiError::invalid(format!("invalid value {id:?} for field `external_owner_id`: an AWS_ACCOUNT_ID is a 12-digit AWS account number, or \"*\" for all")));
    }
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        not_basic(record)?;
        let owners = &mut record.private_endpoints.trusted_owners;
        if owners.iter().any(|o| o.owner_type == req.owner_type && o.external_owner_id == *id) {
            return Err(ApiError::already_exists(format!("{} {id} is already a trusted owner of cluster {cluster_id}", req.owner_type)));
        }
        let owner = PrivateEndpointTrustedOwner {
            id: uuid::Uuid::new_v4().to_string(),
            cluster_id: cluster_id.clone(),
            owner_type: req.owner_type.clone(),
            external_owner_id: id.clone(),
            created_at: rfc3339(Utc::now()),
        };
        owners.push(owner.clone());
        Ok(Json(TrustedOwnerResponse { trusted_owner: owner }))
    })
}

fn owner_not_found(owner_id: &str, cluster_id: &str) -> ApiError {
    ApiError::not_found(format!("private endpoint trusted owner {owner_id} not found on cluster {cluster_id}"))
}

pub(super) async fn get_trusted_owner(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, owner_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<TrustedOwnerResponse>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        not_basic(record)?;
        let owner = record.private_endpoints.trusted_owners.iter().find(|o| o.id == owner_id).ok_or_else(|| owner_not_found(&owner_id, &cluster_id))?;
        Ok(Json(TrustedOwnerResponse { trusted_owner: owner.clone() }))
    })
}

pub(super) async fn remove_trusted_owner(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, owner_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<TrustedOwnerResponse>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        not_basic(record)?;
        let owners = &mut record.private_endpoints.trusted_owners;
        let index = owners.iter().position(|o| o.id == owner_id).ok_or_else(|| owner_not_found(&owner_id, &cluster_id))?;
        Ok(Json(TrustedOwnerResponse { trusted_owner: owners.remove(index) }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_zone_ids_follow_the_region() {
        assert_eq!(aws_zone_ids("us-east-1"), ["use1-az1", "use1-az2", "use1-az3"]);
        assert_eq!(aws_zone_ids("eu-central-1")[0], "euc1-az1");
    }

    #[test]
    fn endpoint_ids_are_checked_per_provider() {
        assert!(endpoint_id(&CloudProvider::Aws, "vpce-0a1b2c3d4e5f67890").is_ok());
        assert!(endpoint_id(&CloudProvider::Aws, "vpce-XYZ").is_err());
        assert!(endpoint_id(&CloudProvider::Aws, "0a1b2c3d").is_err());
        assert!(endpoint_id(&CloudProvider::Gcp, "1234567890").is_ok());
        assert!(endpoint_id(&CloudProvider::Gcp, "vpce-0a1b2c3d").is_err());
        assert!(endpoint_id(&CloudProvider::Azure, "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/privateEndpoints/e").is_ok());
    }

    #[test]
    fn connections_turn_available_unless_rejected() {
        let t0 = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let connection = PrivateEndpointConnection {
            endpoint_id: "vpce-0a1b2c3d".into(),
            endpoint_service_id: "vpce-svc-1".into(),
            service_name: "svc".into(),
            cloud_provider: CloudProvider::Aws,
            status: PrivateEndpointConnectionStatus::Pending,
            region_name: None,
            region: None,
            external_owner_id: None,
        };
        let mut endpoints = PrivateEndpoints { connections: vec![Connection { connection, available_at: t0 + chrono::Duration::seconds(1), rejected: false }], ..Default::default() };
        assert_eq!(endpoints.connections[0].at(t0).status, PrivateEndpointConnectionStatus::Pending);
        assert_eq!(endpoints.connections[0].at(t0 + chrono::Duration::seconds(1)).status, PrivateEndpointConnectionStatus::Available);
        assert_eq!(endpoints.reject("vpce-0a1b2c3d", t0).unwrap().status, PrivateEndpointConnectionStatus::Rejected);
        assert!(endpoints.reject("vpce-unknown", t0).is_none());
    }
}
