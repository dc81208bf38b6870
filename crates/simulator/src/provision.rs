//! Building a cluster from a validated create request and applying a PATCH to one: the fields the
//! service fills in (DNS names, hardware, routing id) and which changes start an operation.

use std::collections::BTreeMap;

use crdb_cloud::models::{
    AllowlistEntry, BackupConfiguration, ClientCaCertInfo, ClientCaCertStatus, CloudProvider, Cluster, ClusterConfig,
    ClusterState, CmekClusterInfo, CmekStatus, Database,
    DedicatedHardwareConfig, DedicatedUpdateSpec, EgressTrafficPolicy, MachineSpec, NetworkVisibility, OperationStatus,
    Plan, Region,
    ServerlessClusterConfig, UpdateClusterSpec, UpgradeStatus, UpgradeType,
};

use super::catalog;
use super::errors::{ApiError, ApiResult};
use super::state::{CidrKey, ClusterRecord, Now, Outcome, Timing, rfc3339};
use super::validation::{self, ValidCreate, ValidKind};

/// Host names of one region of a cluster, e.g. `my-cluster-7f3a.gcp-us-central1.crdb.io`.
struct Dns<'a> {
    name: &'a str,
    short_id: &'a str,
    provider: &'a CloudProvider,
}

impl Dns<'_> {
    fn host(&self, prefix: &str, region: &str) -> String {
        format!("{prefix}{}-{}.{}-{region}.crdb.io", self.name, self.short_id, self.provider.as_str().to_lowercase())
    }

    fn region(&self, region: &str, dedicated: bool, node_count: i32, primary: Option<bool>) -> Region {
        Region {
            name: region.to_string(),
            sql_dns: self.host("", region),
            ui_dns: if dedicated { self.host("admin-", region) } else { String::new() },
            internal_dns: self.host("internal-", region),
            private_endpoint_dns: self.host("private-", region),
            node_count,
            primary,
            machine_type: None,
            num_virtual_cpus: None,
        }
    }
}

fn short_id(cluster_id: &str) -> String {
    cluster_id.chars().filter(|c| c.is_ascii_hexdigit()).take(4).collect()
}

fn dns(cluster: &Cluster) -> (String, String, CloudProvider) {
    (cluster.name.clone(), short_id(&cluster.id), cluster.cloud_provider.clone())
}

fn serverless_regions(d: &Dns<'_>, regions: &[String], primary: &str) -> Vec<Region> {
    regions.iter().map(|r| d.region(r, false, 0, Some(r == primary))).collect()
}

/// Dedicated regions with these node counts. A region already in `previous` keeps the machine it
/// runs on (regions can be sized one by one); a new one runs on the cluster-wide `hardware`.
fn dedicated_regions(
    d: &Dns<'_>,
    nodes: &BTreeMap<String, i32>,
    previous: &[Region],
    hardware: &DedicatedHardwareConfig,
) -> Vec<Region> {
    nodes
        .iter()
        .map(|(name, count)| {
            let kept = previous.iter().find(|p| p.name == *name).and_then(|p| p.num_virtual_cpus);
            let mut region = d.region(name, true, *count, None);
            set_machine(&mut region, d.provider, kept.unwrap_or(hardware.num_virtual_cpus));
            region
        })
        .collect()
}

/// The machine a dedicated region reports (SDK v8's `Region.machine_type` and `num_virtual_cpus`).
fn set_machine(region: &mut Region, provider: &CloudProvider, vcpus: i32) {
    region.machine_type = Some(catalog::machine_type(provider, vcpus));
    region.num_virtual_cpus = Some(vcpus);
}

/// The cluster-wide SQL host: the primary region's for serverless, the first region's otherwise.
fn top_level_sql_dns(regions: &[Region]) -> Option<String> {
    regions.iter().find(|r| r.primary == Some(true)).or(regions.first()).map(|r| r.sql_dns.clone())
}

/// A new cluster, CREATING until `now + create_delay`, with the children a fresh cluster has.
pub fn new_cluster(valid: &ValidCreate, id: String, creator_id: String, now: Now, timing: &Timing) -> ClusterRecord {
    let short = short_id(&id);
    let d = Dns { name: &valid.name, short_id: &short, provider: &valid.provider };
    let stamp = rfc3339(now);
    let mut allowlist = BTreeMap::new();
    let (config, regions, version, cidr_range, visibility) = match &valid.kind {
        ValidKind::Serverless { regions, primary_region, usage_limits, upgrade_type, empty_allowlist } => {
            if !empty_allowlist {
                allowlist.insert(CidrKey(0, 0), AllowlistEntry {
                    cidr_ip: "0.0.0.0".into(),
                    cidr_mask: 0,
                    name: Some("Allow all".into()),
                    sql: true,
                    ui: true,
                });
            }
            let config = ClusterConfig {
                serverless: Some(ServerlessClusterConfig {
                    routing_id: format!("{}-{short}", valid.name),
                    upgrade_type: upgrade_type.clone(),
                    usage_limits: usage_limits.clone(),
                }),
                dedicated: None,
            };
            let version = catalog::version(catalog::LATEST_MAJOR).map(|v| v.full.to_string()).unwrap_or_default();
            (config, serverless_regions(&d, regions, primary_region), version, String::new(), NetworkVisibility::Public)
        }
        ValidKind::Dedicated { region_nodes, hardware, cockroach_version, network_visibility, cidr_range } => {
            let config = ClusterConfig { serverless: None, dedicated: Some(hardware.clone()) };
            let regions = dedicated_regions(&d, region_nodes, &[], hardware);
            (config, regions, cockroach_version.clone(), cidr_range.clone(), network_visibility.clone())
        }
    };
    let account_id = matches!(valid.kind, ValidKind::Dedicated { .. }).then(|| dedicated_account_id(&valid.provider, &id));
    let cluster = Cluster {
        sql_dns: top_level_sql_dns(&regions),
        id,
        name: valid.name.clone(),
        cockroach_version: version,
        upgrade_status: UpgradeStatus::Finalized,
        plan: valid.plan.clone(),
        cloud_provider: valid.provider.clone(),
        state: ClusterState::Creating,
        creator_id,
        operation_status: OperationStatus::Unspecified,
        config,
        regions,
        cidr_range,
        labels: valid.labels.clone(),
        is_customer_cloud_account: Some(false),
        account_id,
        created_at: Some(stamp.clone()),
        updated_at: Some(stamp),
        deleted_at: None,
        delete_protection: Some(valid.delete_protection.clone()),
        network_visibility: Some(visibility),
        egress_traffic_policy: Some(EgressTrafficPolicy::AllowAll),
        parent_id: Some(valid.parent_id.clone()),
    };
    let databases =
        BTreeMap::from([("defaultdb".to_string(), Database { name: "defaultdb".into(), table_count: Some(0) })]);
    ClusterRecord {
        cluster,
        ready_at: Some(now + timing.create_delay),
        operation: None,
        purge_at: None,
        previous_version: None,
        sql_users: BTreeMap::new(),
        databases,
        allowlist,
        backup: BackupConfiguration { enabled: true, retention_days: 30, frequency_minutes: 60 },
        retention_changed: false,
        maintenance: Default::default(),
        finalization_stuck: false,
        exports: Default::default(),
        cmek: CmekClusterInfo { status: Some(CmekStatus::Disabled), region_infos: Vec::new() },
        cmek_ready_at: None,
        client_ca: ClientCaCertInfo { status: Some(ClientCaCertStatus::NotSet), x509_pem_cert: None },
        ca_cert: None,
        egress_rules: Default::default(),
        private_endpoints: Default::default(),
    }
}

/// The cloud account a dedicated cluster runs in (for trust relationships with the customer's
/// cloud resources): an AWS account number, a GCP project, an Azure subscription. Serverless
/// clusters have none.
fn dedicated_account_id(provider: &CloudProvider, cluster_id: &str) -> String {
    let digits: String = cluster_id.bytes().filter(u8::is_ascii_hexdigit).map(|b| char::from(b'0' + b % 10)).take(12).collect();
    let short = &cluster_id[..8.min(cluster_id.len())];
    match provider {
        CloudProvider::Aws => digits,
        CloudProvider::Gcp => format!("crl-prod-{short}"),
        _ => format!("{short}-0000-4000-8000-{digits}"),
    }
}

/// Applies a PATCH (already checked by [`validation::update_spec`]) and returns the updated record;
/// the original is untouched when the update is refused. Changes that need work start an operation.
pub fn update_cluster(
    record: &ClusterRecord,
    spec: &UpdateClusterSpec,
    now: Now,
    timing: &Timing,
) -> ApiResult<ClusterRecord> {
    record.ensure_updatable()?;
    let mut next = record.clone();
    if spec.is_empty() {
        return Ok(next);
    }
    let operation = if spec.cockroach_version.is_some() || spec.upgrade_status.is_some() {
        version_change(&mut next, spec)?
    } else {
        settings_change(&mut next, spec)?
    };
    if let Some((status, outcome)) = operation {
        next.start_operation(status, outcome, now, timing.operation_delay);
    }
    next.cluster.updated_at = Some(rfc3339(now));
    Ok(next)
}

type Operation = Option<(OperationStatus, Outcome)>;

fn version_change(record: &mut ClusterRecord, spec: &UpdateClusterSpec) -> ApiResult<Operation> {
    let c = &mut record.cluster;
    if let Some(target) = &spec.upgrade_status {
        return match (target, &c.upgrade_status) {
            (UpgradeStatus::Finalized, UpgradeStatus::Finalized) => Ok(None),
            (UpgradeStatus::Finalized, UpgradeStatus::PendingFinalization) if record.finalization_stuck => {
                Err(ApiError::failed_precondition(format!(
                    "finalizing the upgrade of cluster {} to {} failed and it remains PENDING_FINALIZATION; contact support",
                    c.id, c.cockroach_version
                )))
            }
            (UpgradeStatus::Finalized, UpgradeStatus::PendingFinalization) => {
                c.upgrade_status = UpgradeStatus::Finalized;
                record.previous_version = None;
                Ok(None)
            }
            (UpgradeStatus::RollbackRunning, UpgradeStatus::PendingFinalization) => Ok(Some(rollback(record))),
            (UpgradeStatus::Finalized | UpgradeStatus::RollbackRunning, current) => Err(ApiError::failed_precondition(
                format!("there is no upgrade pending finalization on cluster {} (upgrade_status is {current})", c.id),
            )),
            (other, _) => Err(ApiError::invalid(format!(
                "invalid value {other} for field `upgrade_status`; only FINALIZED and ROLLBACK_RUNNING can be requested"
            ))),
        };
    }
    let requested = spec.cockroach_version.as_deref().unwrap_or_default();
    let target = catalog::major_of(requested);
    let Some(info) = catalog::version(&target) else {
        return Err(ApiError::invalid(format!(
            "invalid value {requested:?} for field `cockroach_version`; see /api/v1/cluster-versions"
        )));
    };
    if c.plan == Plan::Basic {
        return Err(ApiError::invalid("version changes are not supported on the BASIC plan"));
    }
    if let Some(s) = &c.config.serverless
        && s.upgrade_type != UpgradeType::Manual
    {
        return Err(ApiError::failed_precondition(
            "set serverless.upgrade_type to MANUAL before changing the version of a STANDARD cluster",
        ));
    }
    let current = catalog::major_of(&c.cockroach_version);
    if target == current {
        return Ok(None); // Already there: a retried PATCH is a no-op.
    }
    let previous = record.previous_version.as_deref().map(catalog::major_of);
    if c.upgrade_status == UpgradeStatus::PendingFinalization {
        if previous.as_deref() == Some(target.as_str()) {
            return Ok(Some(rollback(record)));
        }
        return Err(ApiError::failed_precondition(format!(
            "cluster {} has an upgrade to {current} pending finalization; finalize or roll it back first",
            c.id
        )));
    }
    let allowed = catalog::version(&current).map(|v| v.allowed_upgrades).unwrap_or_default();
    if !allowed.contains(&target.as_str()) {
        return Err(ApiError::invalid(format!(
            "cannot change cluster {} from {current} to {target}; allowed upgrades: {allowed:?}",
            c.id
        )));
    }
    c.upgrade_status = UpgradeStatus::MajorUpgradeRunning;
    let outcome = Outcome::Upgrade { to: info.full.to_string(), from: c.cockroach_version.clone() };
    Ok(Some((OperationStatus::MajorUpgradeRunning, outcome)))
}

fn rollback(record: &mut ClusterRecord) -> (OperationStatus, Outcome) {
    record.cluster.upgrade_status = UpgradeStatus::RollbackRunning;
    let to = record.previous_version.clone().unwrap_or_else(|| record.cluster.cockroach_version.clone());
    (OperationStatus::MajorRollbackRunning, Outcome::Rollback { to })
}

fn settings_change(record: &mut ClusterRecord, spec: &UpdateClusterSpec) -> ApiResult<Operation> {
    let c = &mut record.cluster;
    let serverless = c.config.serverless.is_some();
    if let Some(plan) = &spec.plan {
        let target_serverless = *plan != Plan::Advanced;
        if target_serverless != serverless {
            return Err(ApiError::invalid(format!(
                "field `plan`: cannot change a {} cluster to {plan}; moving between serverless (BASIC, STANDARD) and \
                 ADVANCED requires a new cluster",
                c.plan
            )));
        }
        c.plan = plan.clone();
    }
    if spec.serverless.is_some() && !serverless {
        return Err(ApiError::invalid("field `serverless` cannot be set on an ADVANCED (dedicated) cluster"));
    }
    if spec.dedicated.is_some() && serverless {
        return Err(ApiError::invalid(format!("field `dedicated` cannot be set on a {} (serverless) cluster", c.plan)));
    }
    let (name, short, provider) = dns(c);
    let d = Dns { name: &name, short_id: &short, provider: &provider };
    let mut operation: Operation = None;

    if let Some(config) = c.config.serverless.as_mut() {
        if let Some(s) = &spec.serverless {
            if let Some(limits) = &s.usage_limits {
                // An empty object clears the limits (unlimited), as in the real service.
                config.usage_limits = (*limits != Default::default()).then(|| limits.clone());
            }
            if let Some(t) = &s.upgrade_type {
                config.upgrade_type = t.clone();
            }
            let current: Vec<String> = c.regions.iter().map(|r| r.name.clone()).collect();
            let current_primary =
                c.regions.iter().find(|r| r.primary == Some(true)).map(|r| r.name.clone()).unwrap_or_default();
            let wanted = s.regions.clone().unwrap_or_else(|| current.clone());
            let primary = s.primary_region.clone().or_else(|| Some(current_primary).filter(|p| wanted.contains(p)));
            if s.regions.is_some() || s.primary_region.is_some() {
                let (regions, primary) =
                    validation::serverless_regions(&provider, "serverless", &wanted, primary.as_deref())?;
                if let Some(missing) = current.iter().find(|r| !regions.contains(r)) {
                    return Err(ApiError::invalid(format!(
                        "field `serverless.regions`: regions cannot currently be removed (missing {missing:?})"
                    )));
                }
                if regions != current {
                    operation = Some((OperationStatus::EditClusterRunning, Outcome::Nothing));
                }
                c.regions = serverless_regions(&d, &regions, &primary);
                c.sql_dns = top_level_sql_dns(&c.regions);
            }
        }
        validation::serverless_plan(&c.plan, config.usage_limits.as_ref(), &config.upgrade_type)?;
    }

    if let Some(update) = &spec.dedicated {
        operation = dedicated_change(c, &d, update)?;
    }

    if let Some(p) = &spec.delete_protection {
        c.delete_protection = Some(p.clone());
    }
    if let Some(labels) = &spec.labels {
        c.labels = labels.clone();
    }
    if let Some(parent) = &spec.parent_id {
        c.parent_id = Some(validation::parent_id("parent_id", Some(parent))?);
    }
    Ok(operation)
}

/// The dedicated part of a PATCH: node counts per region, then the cluster-wide hardware (whose
/// `machine_spec` sizes every region alike), then `region_machine_specs` (sizes the named regions
/// only). Adding or removing regions is an edit; any other change of nodes, hardware or a
/// region's machine is a scale.
fn dedicated_change(c: &mut Cluster, d: &Dns<'_>, update: &DedicatedUpdateSpec) -> ApiResult<Operation> {
    let Some(hardware) = c.config.dedicated.as_mut() else {
        return Ok(None); // A serverless cluster: `settings_change` has refused the field already.
    };
    let mut operation: Operation = None;
    if let Some(nodes) = &update.region_nodes {
        validation::region_nodes(d.provider, "dedicated.region_nodes", nodes)?;
        let current: BTreeMap<String, i32> = c.regions.iter().map(|r| (r.name.clone(), r.node_count)).collect();
        if nodes.keys().ne(current.keys()) {
            operation = Some((OperationStatus::EditClusterRunning, Outcome::Nothing));
        } else if *nodes != current {
            operation = Some((OperationStatus::ScaleRunning, Outcome::Nothing));
        }
        c.regions = dedicated_regions(d, nodes, &c.regions, hardware);
        c.sql_dns = top_level_sql_dns(&c.regions);
    }
    let machines_before: Vec<Option<i32>> = c.regions.iter().map(|r| r.num_virtual_cpus).collect();
    let hardware_before = hardware.clone();
    if let Some(h) = &update.hardware {
        *hardware = validation::hardware(d.provider, "dedicated.hardware", h, Some(hardware))?;
        if h.machine_spec.is_some() {
            c.regions.iter_mut().for_each(|r| set_machine(r, d.provider, hardware.num_virtual_cpus));
        }
    }
    if let Some(specs) = &update.region_machine_specs {
        region_machines(&mut c.regions, d.provider, specs)?;
    }
    let machines_after: Vec<Option<i32>> = c.regions.iter().map(|r| r.num_virtual_cpus).collect();
    if *hardware != hardware_before || machines_after != machines_before {
        operation.get_or_insert((OperationStatus::ScaleRunning, Outcome::Nothing));
    }
    Ok(operation)
}

/// `dedicated.region_machine_specs` (SDK v8): each named region gets the machine its spec asks
/// for, validated like `hardware.machine_spec`; the region must be one of the cluster's (after this
/// PATCH's `region_nodes`, so a region can be added with its own machine). `config.dedicated`
/// stays the cluster-wide machine that regions added later run on.
fn region_machines(
    regions: &mut [Region],
    provider: &CloudProvider,
    specs: &BTreeMap<String, MachineSpec>,
) -> ApiResult<()> {
    for (name, spec) in specs {
        let field = format!("dedicated.region_machine_specs[{name:?}]");
        let Some(region) = regions.iter_mut().find(|r| r.name == *name) else {
            return Err(ApiError::invalid(format!(
                "field `{field}`: {name:?} is not a region of this cluster; add it with `dedicated.region_nodes`"
            )));
        };
        let vcpus = validation::machine_spec(provider, &field, spec)?;
        set_machine(region, provider, vcpus);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crdb_cloud::models::{
        CreateClusterRequest, CreateClusterSpec, DedicatedCreateSpec, HardwareSpec, ServerlessCreateSpec,
        ServerlessUpdateSpec, UsageLimits,
    };
    use chrono::DateTime;

    fn t(secs: i64) -> Now {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn timing() -> Timing {
        Timing::from_std(
            std::time::Duration::from_secs(3),
            std::time::Duration::from_secs(2),
            std::time::Duration::from_secs(5),
        )
    }

    fn created(req: CreateClusterRequest) -> ClusterRecord {
        let valid = validation::create_request(&req).unwrap();
        let mut r = new_cluster(&valid, "7f3a9c2e-0000-4000-8000-000000000001".into(), "creator".into(), t(0), &timing());
        r.advance(t(3));
        r
    }

    fn serverless() -> ClusterRecord {
        created(CreateClusterRequest {
            name: "serverless-one".into(),
            provider: CloudProvider::Gcp,
            spec: CreateClusterSpec {
                serverless: Some(ServerlessCreateSpec {
                    regions: vec!["us-east1".into(), "us-central1".into()],
                    primary_region: Some("us-east1".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        })
    }

    fn dedicated() -> ClusterRecord {
        created(CreateClusterRequest {
            name: "dedicated-one".into(),
            provider: CloudProvider::Aws,
            spec: CreateClusterSpec {
                dedicated: Some(DedicatedCreateSpec {
                    region_nodes: BTreeMap::from([("us-east-1".into(), 3)]),
                    hardware: HardwareSpec {
                        machine_spec: Some(MachineSpec { num_virtual_cpus: Some(4), machine_type: None }),
                        storage_gib: Some(150),
                        disk_iops: None,
                    },
                    cockroach_version: Some("v24.3".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        })
    }

    #[test]
    fn new_serverless_cluster_is_filled_like_the_service() {
        let r = serverless();
        let c = &r.cluster;
        assert_eq!(c.state, ClusterState::Created);
        assert_eq!(c.plan, Plan::Basic);
        assert_eq!(c.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["us-central1", "us-east1"]);
        let primary = c.regions.iter().find(|r| r.primary == Some(true)).unwrap();
        assert_eq!(primary.name, "us-east1");
        assert_eq!(primary.sql_dns, "serverless-one-7f3a.gcp-us-east1.crdb.io");
        assert_eq!(c.sql_dns.as_deref(), Some(primary.sql_dns.as_str()));
        assert!(c.regions.iter().all(|r| r.node_count == 0 && r.ui_dns.is_empty()));
        assert!(c.regions.iter().all(|r| r.machine_type.is_none() && r.num_virtual_cpus.is_none()), "{:?}", c.regions);
        assert_eq!(c.config.serverless.as_ref().unwrap().routing_id, "serverless-one-7f3a");
        assert_eq!(c.cidr_range, "");
        assert_eq!(r.allowlist.len(), 1);
        assert!(r.databases.contains_key("defaultdb"));
    }

    #[test]
    fn new_dedicated_cluster_has_hardware_and_requested_version() {
        let r = dedicated();
        let c = &r.cluster;
        assert_eq!(c.plan, Plan::Advanced);
        let hw = c.config.dedicated.as_ref().unwrap();
        assert_eq!((hw.machine_type.as_str(), hw.memory_gib), ("m6i.xlarge", 16.0));
        assert!(c.cockroach_version.starts_with("v24.3."));
        assert_eq!(c.regions[0].node_count, 3);
        assert!(c.regions[0].ui_dns.starts_with("admin-dedicated-one-"));
        assert!(r.allowlist.is_empty());
        assert_eq!(c.cidr_range, "");
    }

    #[test]
    fn scaling_locks_a_dedicated_cluster_then_settles() {
        let r = dedicated();
        let spec = UpdateClusterSpec {
            dedicated: Some(DedicatedUpdateSpec {
                region_nodes: Some(BTreeMap::from([("us-east-1".into(), 5)])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut next = update_cluster(&r, &spec, t(10), &timing()).unwrap();
        assert_eq!(next.cluster.state, ClusterState::Locked);
        assert_eq!(next.cluster.operation_status, OperationStatus::ScaleRunning);
        assert_eq!(next.cluster.regions[0].node_count, 5);
        let again = update_cluster(&next, &UpdateClusterSpec { labels: Some(BTreeMap::new()), ..Default::default() }, t(11), &timing());
        assert_eq!(again.unwrap_err().code, crdb_cloud::models::grpc_code::FAILED_PRECONDITION);
        next.advance(t(12));
        assert_eq!(next.cluster.state, ClusterState::Created);
        assert_eq!(next.cluster.operation_status, OperationStatus::Unspecified);
    }

    /// Each region's (name, machine type, vCPUs).
    fn machines(r: &ClusterRecord) -> Vec<(&str, &str, i32)> {
        r.cluster
            .regions
            .iter()
            .map(|r| (r.name.as_str(), r.machine_type.as_deref().unwrap(), r.num_virtual_cpus.unwrap()))
            .collect()
    }

    fn per_region(nodes: &[(&str, i32)], specs: &[(&str, MachineSpec)]) -> UpdateClusterSpec {
        UpdateClusterSpec {
            dedicated: Some(DedicatedUpdateSpec {
                region_nodes: (!nodes.is_empty()).then(|| nodes.iter().map(|(r, n)| (r.to_string(), *n)).collect()),
                region_machine_specs: Some(specs.iter().map(|(r, m)| (r.to_string(), m.clone())).collect()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn vcpus(n: i32) -> MachineSpec {
        MachineSpec { num_virtual_cpus: Some(n), machine_type: None }
    }

    #[test]
    fn regions_are_sized_one_by_one_or_all_alike() {
        let r = dedicated();
        assert_eq!(machines(&r), [("us-east-1", "m6i.xlarge", 4)]);

        // A region added with a machine of its own; the cluster-wide machine stays.
        let added = per_region(&[("us-east-1", 3), ("us-west-2", 3)], &[("us-west-2", vcpus(8))]);
        let mut next = update_cluster(&r, &added, t(10), &timing()).unwrap();
        assert_eq!(machines(&next), [("us-east-1", "m6i.xlarge", 4), ("us-west-2", "m6i.2xlarge", 8)]);
        assert_eq!(next.cluster.operation_status, OperationStatus::EditClusterRunning);
        assert_eq!(next.cluster.config.dedicated.as_ref().unwrap().num_virtual_cpus, 4);
        next.advance(t(12));

        // One region resized by machine type is a scale; asking again changes nothing.
        let by_type = MachineSpec { machine_type: Some("m6i.4xlarge".into()), num_virtual_cpus: None };
        let mut resized = update_cluster(&next, &per_region(&[], &[("us-east-1", by_type.clone())]), t(13), &timing()).unwrap();
        assert_eq!(machines(&resized), [("us-east-1", "m6i.4xlarge", 16), ("us-west-2", "m6i.2xlarge", 8)]);
        assert_eq!(resized.cluster.operation_status, OperationStatus::ScaleRunning);
        resized.advance(t(15));
        let again = update_cluster(&resized, &per_region(&[], &[("us-east-1", by_type)]), t(16), &timing()).unwrap();
        assert_eq!(again.cluster.operation_status, OperationStatus::Unspecified);

        // `hardware.machine_spec` sizes every region alike.
        let alike = UpdateClusterSpec {
            dedicated: Some(DedicatedUpdateSpec {
                hardware: Some(HardwareSpec { machine_spec: Some(vcpus(8)), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let all = update_cluster(&again, &alike, t(17), &timing()).unwrap();
        assert_eq!(machines(&all), [("us-east-1", "m6i.2xlarge", 8), ("us-west-2", "m6i.2xlarge", 8)]);
        assert_eq!(all.cluster.operation_status, OperationStatus::ScaleRunning);
    }

    #[test]
    fn region_machine_specs_name_a_region_of_the_cluster_and_a_valid_machine() {
        let r = dedicated();
        let err = update_cluster(&r, &per_region(&[], &[("us-west-2", vcpus(8))]), t(10), &timing()).unwrap_err();
        assert!(err.message.contains(r#"`dedicated.region_machine_specs["us-west-2"]`"#), "{}", err.message);
        let err = update_cluster(&r, &per_region(&[], &[("us-east-1", vcpus(3))]), t(10), &timing()).unwrap_err();
        assert!(err.message.contains(r#"dedicated.region_machine_specs["us-east-1"].num_virtual_cpus"#), "{}", err.message);
        let gcp_machine = MachineSpec { machine_type: Some("n2-standard-8".into()), num_virtual_cpus: None };
        let err = update_cluster(&r, &per_region(&[], &[("us-east-1", gcp_machine)]), t(10), &timing()).unwrap_err();
        assert!(err.message.contains(r#"dedicated.region_machine_specs["us-east-1"].machine_type"#), "{}", err.message);
        let serverless_err = update_cluster(&serverless(), &per_region(&[], &[("us-east1", vcpus(8))]), t(10), &timing());
        assert!(serverless_err.unwrap_err().message.contains("`dedicated`"));
    }

    #[test]
    fn plan_changes_within_serverless_only() {
        let r = serverless();
        let to_standard = UpdateClusterSpec {
            plan: Some(Plan::Standard),
            serverless: Some(ServerlessUpdateSpec {
                usage_limits: Some(UsageLimits { provisioned_virtual_cpus: Some(2), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let next = update_cluster(&r, &to_standard, t(10), &timing()).unwrap();
        assert_eq!(next.cluster.plan, Plan::Standard);
        assert_eq!(next.cluster.operation_status, OperationStatus::Unspecified);
        let to_advanced = UpdateClusterSpec { plan: Some(Plan::Advanced), ..Default::default() };
        let err = update_cluster(&r, &to_advanced, t(10), &timing()).unwrap_err();
        assert!(err.message.contains("plan"), "{}", err.message);
        let dedicated_on_serverless = UpdateClusterSpec { dedicated: Some(Default::default()), ..Default::default() };
        assert!(update_cluster(&r, &dedicated_on_serverless, t(10), &timing()).is_err());
    }

    #[test]
    fn serverless_regions_can_grow_but_not_shrink() {
        let r = serverless();
        let grow = UpdateClusterSpec {
            serverless: Some(ServerlessUpdateSpec {
                regions: Some(vec!["us-central1".into(), "us-east1".into(), "us-west2".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let next = update_cluster(&r, &grow, t(10), &timing()).unwrap();
        assert_eq!(next.cluster.regions.len(), 3);
        assert_eq!(next.cluster.operation_status, OperationStatus::EditClusterRunning);
        assert_eq!(next.cluster.state, ClusterState::Created, "serverless clusters are not locked");
        let shrink = UpdateClusterSpec {
            serverless: Some(ServerlessUpdateSpec { regions: Some(vec!["us-east1".into()]), ..Default::default() }),
            ..Default::default()
        };
        assert!(update_cluster(&r, &shrink, t(10), &timing()).unwrap_err().message.contains("removed"));
    }

    #[test]
    fn major_upgrade_then_finalize() {
        let r = dedicated();
        let up = UpdateClusterSpec { cockroach_version: Some("v25.1".into()), ..Default::default() };
        let mut next = update_cluster(&r, &up, t(10), &timing()).unwrap();
        assert_eq!(next.cluster.operation_status, OperationStatus::MajorUpgradeRunning);
        assert_eq!(next.cluster.state, ClusterState::Locked);
        next.advance(t(12));
        assert!(next.cluster.cockroach_version.starts_with("v25.1."));
        assert_eq!(next.cluster.upgrade_status, UpgradeStatus::PendingFinalization);
        let fin = UpdateClusterSpec { upgrade_status: Some(UpgradeStatus::Finalized), ..Default::default() };
        let done = update_cluster(&next, &fin, t(13), &timing()).unwrap();
        assert_eq!(done.cluster.upgrade_status, UpgradeStatus::Finalized);
        let skip = UpdateClusterSpec { cockroach_version: Some("v23.2".into()), ..Default::default() };
        assert!(update_cluster(&done, &skip, t(14), &timing()).unwrap_err().message.contains("allowed upgrades"));
        // Basic clusters cannot change version.
        assert!(update_cluster(&serverless(), &up, t(10), &timing()).is_err());
    }
}
