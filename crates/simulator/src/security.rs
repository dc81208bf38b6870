//! A dedicated cluster's nodes and its security settings: the egress traffic policy, CMEK, the
//! client CA certificate, and the cluster's own CA certificate served at the site root.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use crdb_cloud::models::{
    ClientCaCertInfo, ClientCaCertRequest, ClientCaCertStatus, CloudProvider, CmekClusterInfo, CmekClusterSpec,
    CmekKeyInfo, CmekKeyType, CmekRegionInfo, CmekStatus, Empty, EgressTrafficPolicy, ListClusterNodesResponse, Node,
    NodeStatus, Plan, SetEgressTrafficPolicyRequest,
};

use super::SimState;
use super::children::with_cluster;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx, QueryParams};
use super::pagination::paginate;
use super::state::{Access, ClusterRecord, rfc3339};

/// Egress policies, CMEK and the client CA are features of ADVANCED clusters.
pub(super) fn advanced_only(record: &ClusterRecord, feature: &str) -> ApiResult<()> {
    if record.cluster.plan == Plan::Advanced {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("{feature} is only available on ADVANCED clusters; cluster {} is {}", record.cluster.id, record.cluster.plan)))
    }
}

/// Sorted by region name, then node name; every region's nodes are LIVE once the cluster is.
pub(super) async fn list_nodes(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    query: QueryParams,
) -> ApiResult<Json<ListClusterNodesResponse>> {
    let params = query.page(sim.max_page_size)?;
    let region_filter = query.get("region_name").map(str::to_string);
    let mut store = sim.store();
    let record = store.org(&ctx.org_id, Utc::now())?.live_cluster(&cluster_id)?;
    let status = if record.cluster.is_settled() || record.cluster.state == crdb_cloud::models::ClusterState::Locked {
        NodeStatus::Live
    } else {
        NodeStatus::NotReady
    };
    let short = &record.cluster.id[..8.min(record.cluster.id.len())];
    let mut nodes: Vec<(String, Node)> = Vec::new();
    for region in record.cluster.regions.iter().filter(|r| region_filter.as_ref().is_none_or(|f| *f == r.name)) {
        for i in 0..region.node_count {
            let name = format!("cockroachdb-{short}-{}-{i}", region.name);
            nodes.push((format!("{}\u{0}{name}", region.name), Node { name, region_name: region.name.clone(), status: status.clone() }));
        }
    }
    nodes.sort_by(|a, b| a.0.cmp(&b.0));
    let (nodes, pagination) = paginate(nodes, &params);
    Ok(Json(ListClusterNodesResponse { nodes, pagination: Some(pagination) }))
}

/// The answer is an empty object; the policy shows in `Cluster.egress_traffic_policy`.
pub(super) async fn set_egress_policy(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<SetEgressTrafficPolicyRequest>,
) -> ApiResult<Json<Empty>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        advanced_only(record, "egress traffic management")?;
        let policy = if req.allow_all { EgressTrafficPolicy::AllowAll } else { EgressTrafficPolicy::DefaultDeny };
        if record.cluster.egress_traffic_policy.as_ref() != Some(&policy) {
            record.cluster.egress_traffic_policy = Some(policy);
            record.cluster.updated_at = Some(rfc3339(Utc::now()));
        }
        Ok(Json(Empty {}))
    })
}

pub(super) async fn get_cmek(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
) -> ApiResult<Json<CmekClusterInfo>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        advanced_only(record, "CMEK")?;
        Ok(Json(record.cmek.clone()))
    })
}

/// POST: enables CMEK on a cluster without it.
pub(super) async fn enable_cmek(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(spec): JsonBody<CmekClusterSpec>,
) -> ApiResult<Json<CmekClusterInfo>> {
    let delay = sim.timing.operation_delay;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        advanced_only(record, "CMEK")?;
        if record.cmek.status != Some(CmekStatus::Disabled) {
            return Err(ApiError::failed_precondition(format!(
                "CMEK is already enabled on cluster {cluster_id}; update its spec with PUT instead"
            )));
        }
        apply_cmek(record, &spec, true)?;
        record.cmek_ready_at = Some(Utc::now() + delay);
        Ok(Json(record.cmek.clone()))
    })
}

/// PUT: enables CMEK or updates its spec: regions may be added and keys rotated; a region with
/// CMEK cannot be left out (the API offers no way to disable CMEK in a region).
pub(super) async fn update_cmek(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(spec): JsonBody<CmekClusterSpec>,
) -> ApiResult<Json<CmekClusterInfo>> {
    let delay = sim.timing.operation_delay;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        advanced_only(record, "CMEK")?;
        if matches!(record.cmek.status, Some(CmekStatus::Enabling | CmekStatus::Rotating)) {
            return Err(ApiError::failed_precondition(format!(
                "CMEK of cluster {cluster_id} is {}; retry once it is ENABLED",
                record.cmek.status.as_ref().map(|s| s.as_str()).unwrap_or_default()
            )));
        }
        let enabling = record.cmek.status == Some(CmekStatus::Disabled);
        apply_cmek(record, &spec, enabling)?;
        record.cmek_ready_at = Some(Utc::now() + delay);
        Ok(Json(record.cmek.clone()))
    })
}

/// Checks `spec` against the cluster and records it: every key ENABLING (a new region, or all
/// of them when enabling) or the cluster ROTATING (a new key for a region that had one).
fn apply_cmek(record: &mut ClusterRecord, spec: &CmekClusterSpec, enabling: bool) -> ApiResult<()> {
    if spec.region_specs.is_empty() {
        return Err(ApiError::invalid("field `region_specs` must list at least one region"));
    }
    let provider = record.cluster.cloud_provider.clone();
    for (i, region_spec) in spec.region_specs.iter().enumerate() {
        let field = format!("region_specs[{i}]");
        if !record.cluster.regions.iter().any(|r| r.name == region_spec.region) {
            return Err(ApiError::invalid(format!("invalid value {:?} for field `{field}.region`: the cluster has no such region", region_spec.region)));
        }
        if spec.region_specs.iter().filter(|r| r.region == region_spec.region).count() > 1 {
            return Err(ApiError::invalid(format!("field `{field}.region`: region {:?} is listed twice", region_spec.region)));
        }
        let key = &region_spec.key_spec;
        let (expected, prefix) = match provider {
            CloudProvider::Aws => (CmekKeyType::AwsKms, "arn:aws:kms:"),
            CloudProvider::Gcp => (CmekKeyType::GcpCloudKms, "projects/"),
            _ => (CmekKeyType::AzureKeyVault, "https://"),
        };
        if key.key_type != expected {
            return Err(ApiError::invalid(format!("invalid value {} for field `{field}.key_spec.type`: a {provider} cluster needs {expected}", key.key_type)));
        }
        if !key.uri.starts_with(prefix) {
            return Err(ApiError::invalid(format!("invalid value {:?} for field `{field}.key_spec.uri`: a {expected} key URI starts with {prefix:?}", key.uri)));
        }
        if key.auth_principal.is_empty() {
            return Err(ApiError::invalid(format!("field `{field}.key_spec.auth_principal` is required")));
        }
    }
    if let Some(missing) = record.cmek.region_infos.iter().find(|r| !spec.region_specs.iter().any(|s| s.region == r.region)) {
        return Err(ApiError::invalid(format!(
            "region {:?} has CMEK enabled and must stay in `region_specs`; CMEK cannot be disabled in a region",
            missing.region
        )));
    }
    let now = rfc3339(Utc::now());
    let mut rotating = false;
    for region_spec in &spec.region_specs {
        let key = CmekKeyInfo {
            spec: Some(region_spec.key_spec.clone()),
            status: Some(CmekStatus::Enabling),
            user_message: None,
            created_at: Some(now.clone()),
            updated_at: Some(now.clone()),
        };
        match record.cmek.region_infos.iter_mut().find(|r| r.region == region_spec.region) {
            Some(info) if info.current_key() == Some(&region_spec.key_spec) => {}
            Some(info) => {
                rotating = true;
                for old in &mut info.key_infos {
                    old.status = Some(CmekStatus::Disabled);
                }
                info.status = Some(CmekStatus::Rotating);
                info.key_infos.push(key);
            }
            None => record.cmek.region_infos.push(CmekRegionInfo {
                region: region_spec.region.clone(),
                status: Some(CmekStatus::Enabling),
                key_infos: vec![key],
            }),
        }
    }
    record.cmek.status = Some(if enabling || !rotating { CmekStatus::Enabling } else { CmekStatus::Rotating });
    Ok(())
}

pub(super) async fn get_client_ca(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
) -> ApiResult<Json<ClientCaCertInfo>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        advanced_only(record, "a client CA certificate")?;
        Ok(Json(record.client_ca.clone()))
    })
}

/// POST: sets the client CA of a cluster that has none.
pub(super) async fn set_client_ca(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<ClientCaCertRequest>,
) -> ApiResult<Json<ClientCaCertInfo>> {
    write_client_ca(&sim, &ctx, &cluster_id, &req.x509_pem_cert, false)
}

/// PATCH: replaces the client CA of a cluster that has one.
pub(super) async fn update_client_ca(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<ClientCaCertRequest>,
) -> ApiResult<Json<ClientCaCertInfo>> {
    write_client_ca(&sim, &ctx, &cluster_id, &req.x509_pem_cert, true)
}

fn write_client_ca(sim: &super::Sim, ctx: &OrgCtx, cluster_id: &str, pem: &str, replace: bool) -> ApiResult<Json<ClientCaCertInfo>> {
    if let Err(why) = crdb_cloud::certificate::check_pem(pem) {
        return Err(ApiError::invalid(format!("invalid value for field `x509_pem_cert`: {why}")));
    }
    with_cluster(sim, ctx, cluster_id, Access::Write, |record| {
        advanced_only(record, "a client CA certificate")?;
        let is_set = record.client_ca.status == Some(ClientCaCertStatus::IsSet);
        match (replace, is_set) {
            (false, true) => return Err(ApiError::already_exists(format!("cluster {cluster_id} already has a client CA certificate; update it with PATCH"))),
            (true, false) => return Err(ApiError::failed_precondition(format!("cluster {cluster_id} has no client CA certificate; set one with POST"))),
            _ => {}
        }
        record.client_ca = ClientCaCertInfo { status: Some(ClientCaCertStatus::IsSet), x509_pem_cert: Some(pem.to_string()) };
        Ok(Json(record.client_ca.clone()))
    })
}

pub(super) async fn delete_client_ca(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
) -> ApiResult<Json<ClientCaCertInfo>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        advanced_only(record, "a client CA certificate")?;
        record.client_ca = ClientCaCertInfo { status: Some(ClientCaCertStatus::NotSet), x509_pem_cert: None };
        Ok(Json(record.client_ca.clone()))
    })
}

/// Where the cluster CA certificate is served.
pub const CLUSTER_CERT_PATH: &str = "/clusters/{cluster_id}/cert";

/// `GET /clusters/{id}/cert` at the site root: the cluster's CA certificate, which clients need
/// for `sslmode=verify-full`. Public, like the real one: no API key, no rate limit.
pub(super) async fn cluster_cert(State(sim): State<std::sync::Arc<super::Sim>>, ApiPath(cluster_id): ApiPath<String>) -> Response {
    let mut store = sim.store();
    let record = match store.find_cluster(&cluster_id, Utc::now()) {
        Ok(record) if !record.is_deleted() => record,
        _ => return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain")], "cluster not found\n").into_response(),
    };
    let pem = record.ca_cert.get_or_insert_with(|| cluster_ca_pem(&record.cluster.name)).clone();
    ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
}

/// A self-signed CA certificate for the simulated cluster.
fn cluster_ca_pem(cluster_name: &str) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("no names to check");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("Cockroach CA ({cluster_name})"));
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Cockroach");
    let key = rcgen::KeyPair::generate().expect("a key pair");
    params.self_signed(&key).expect("a self-signed certificate").pem()
}
