//! Pure functions of the CockroachCluster reconciler: the create request, the diff between spec and
//! the cloud, and the status the cloud implies. No I/O here, so every rule unit-tests directly.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::cluster::{
    CockroachCluster, CockroachClusterSpec, CockroachClusterStatus, DedicatedSpec, NetworkVisibility as SpecVisibility,
    Plan as SpecPlan, Provider, RegionStatus, ServerlessSpec, UpgradeType as SpecUpgradeType, UsageLimitsSpec,
};
use crate::cloud::models::{
    CloudProvider, Cluster, CreateClusterRequest, CreateClusterSpec, DedicatedCreateSpec, DedicatedUpdateSpec,
    DeleteProtection, HardwareSpec, MachineSpec, NetworkVisibility, Plan, ServerlessCreateSpec, ServerlessUpdateSpec,
    UpdateClusterSpec, UpgradeType, UsageLimits,
};

/// Cloud label carrying the UID of the resource that created (or adopted) the cluster. It makes a
/// cluster provably ours when recovering from a create whose response was lost.
pub const OWNER_LABEL: &str = "crdb-operator-uid";

pub fn provider(p: Provider) -> CloudProvider {
    match p {
        Provider::Gcp => CloudProvider::Gcp,
        Provider::Aws => CloudProvider::Aws,
        Provider::Azure => CloudProvider::Azure,
    }
}

/// The plan the spec asks for, derived the way the cloud derives it when unset.
pub fn effective_plan(spec: &CockroachClusterSpec) -> Plan {
    match spec.plan {
        Some(SpecPlan::Basic) => Plan::Basic,
        Some(SpecPlan::Standard) => Plan::Standard,
        Some(SpecPlan::Advanced) => Plan::Advanced,
        None if spec.dedicated.is_some() => Plan::Advanced,
        None => {
            let provisioned = spec
                .serverless
                .as_ref()
                .and_then(|s| s.usage_limits.as_ref())
                .is_some_and(|l| l.provisioned_virtual_cpus.is_some());
            if provisioned { Plan::Standard } else { Plan::Basic }
        }
    }
}

fn usage_limits(spec: &UsageLimitsSpec) -> UsageLimits {
    UsageLimits {
        provisioned_virtual_cpus: spec.provisioned_virtual_cpus,
        request_unit_limit: spec.request_unit_limit,
        storage_mib_limit: spec.storage_mib_limit,
    }
}

fn upgrade_type(t: SpecUpgradeType) -> UpgradeType {
    match t {
        SpecUpgradeType::Automatic => UpgradeType::Automatic,
        SpecUpgradeType::Manual => UpgradeType::Manual,
    }
}

fn machine_spec(d: &DedicatedSpec) -> MachineSpec {
    MachineSpec { machine_type: d.hardware.machine_type.clone(), num_virtual_cpus: d.hardware.num_virtual_cpus }
}

/// Labels the cloud cluster should carry: the spec's (or, when unmanaged, the current ones) plus
/// the ownership label.
pub fn desired_labels(spec_labels: Option<&BTreeMap<String, String>>, current: &BTreeMap<String, String>, uid: &str) -> BTreeMap<String, String> {
    let mut labels = spec_labels.cloned().unwrap_or_else(|| current.clone());
    labels.insert(OWNER_LABEL.to_string(), uid.to_string());
    labels
}

/// The create request for a resource. `uid` tags the cluster as ours.
pub fn create_request(cr: &CockroachCluster, uid: &str) -> CreateClusterRequest {
    let spec = &cr.spec;
    let serverless = spec.serverless.as_ref().map(|s| ServerlessCreateSpec {
        regions: s.regions.clone(),
        primary_region: s.primary_region.clone(),
        usage_limits: s.usage_limits.as_ref().map(usage_limits),
        upgrade_type: s.upgrade_type.map(upgrade_type),
        with_empty_ip_allowlist: None,
    });
    let dedicated = spec.dedicated.as_ref().map(|d| DedicatedCreateSpec {
        region_nodes: d.region_nodes.clone(),
        hardware: HardwareSpec {
            machine_spec: Some(machine_spec(d)),
            storage_gib: Some(d.hardware.storage_gib),
            disk_iops: d.hardware.disk_iops,
        },
        cockroach_version: spec.cockroach_version.clone(),
        network_visibility: d.network_visibility.map(|v| match v {
            SpecVisibility::Public => NetworkVisibility::Public,
            SpecVisibility::Private => NetworkVisibility::Private,
        }),
        cidr_range: d.cidr_range.clone(),
    });
    CreateClusterRequest {
        name: cr.cloud_name(),
        provider: provider(spec.provider),
        spec: CreateClusterSpec {
            plan: Some(effective_plan(spec)),
            serverless,
            dedicated,
            delete_protection: Some(DeleteProtection::from(spec.delete_protection.unwrap_or(false))),
            labels: Some(desired_labels(spec.labels.as_ref(), &BTreeMap::new(), uid)),
            parent_id: spec.parent_id.clone(),
        },
    }
}

/// Why an existing cloud cluster cannot be managed by this resource.
pub fn adoption_mismatch(spec: &CockroachClusterSpec, cluster: &Cluster) -> Option<String> {
    if cluster.cloud_provider != provider(spec.provider) {
        return Some(format!(
            "cloud cluster {} runs on {}, but spec.provider is {}",
            cluster.id,
            cluster.cloud_provider,
            provider(spec.provider)
        ));
    }
    let cloud_dedicated = cluster.plan == Plan::Advanced;
    if cloud_dedicated != spec.dedicated.is_some() {
        let (has, wants) = if cloud_dedicated { ("dedicated", "serverless") } else { ("serverless", "dedicated") };
        return Some(format!("cloud cluster {} is {has}, but the spec describes a {wants} cluster", cluster.id));
    }
    None
}

/// The major version of a full version string: `v25.2.4` -> `v25.2`.
pub fn major_version(full: &str) -> &str {
    let mut dots = full.match_indices('.');
    match (dots.next(), dots.next()) {
        (Some(_), Some((second, _))) => &full[..second],
        _ => full,
    }
}

/// What must change in the cloud to match the spec.
#[derive(Debug, Default, PartialEq)]
pub struct ClusterChanges {
    /// A version upgrade or rollback: sent alone, before anything else.
    pub version: Option<String>,
    /// Everything else, in one PATCH.
    pub update: UpdateClusterSpec,
    /// Names of the spec fields that differ, for events and messages.
    pub fields: Vec<&'static str>,
}

impl ClusterChanges {
    pub fn is_empty(&self) -> bool {
        self.version.is_none() && self.update.is_empty()
    }
}

/// Compares the spec with the observed cloud cluster.
pub fn diff(spec: &CockroachClusterSpec, uid: &str, cloud: &Cluster) -> ClusterChanges {
    let mut changes = ClusterChanges::default();

    if let Some(version) = &spec.cockroach_version
        && major_version(&cloud.cockroach_version) != version
    {
        changes.version = Some(version.clone());
        changes.fields.push("spec.cockroachVersion");
    }

    let plan = effective_plan(spec);
    if plan != cloud.plan && (spec.plan.is_some() || !matches!((&plan, &cloud.plan), (Plan::Basic, Plan::Standard))) {
        changes.update.plan = Some(plan);
        changes.fields.push("spec.plan");
    }

    if let Some(serverless) = &spec.serverless {
        diff_serverless(serverless, cloud, &mut changes);
    }
    if let Some(dedicated) = &spec.dedicated {
        diff_dedicated(dedicated, cloud, &mut changes);
    }

    let protection = DeleteProtection::from(spec.delete_protection.unwrap_or(false));
    if cloud.delete_protection.as_ref().unwrap_or(&DeleteProtection::Disabled) != &protection {
        changes.update.delete_protection = Some(protection);
        changes.fields.push("spec.deleteProtection");
    }

    let labels = desired_labels(spec.labels.as_ref(), &cloud.labels, uid);
    if labels != cloud.labels {
        changes.update.labels = Some(labels);
        changes.fields.push("spec.labels");
    }

    if let Some(parent) = &spec.parent_id
        && cloud.parent_id.as_deref().unwrap_or("root") != parent
    {
        changes.update.parent_id = Some(parent.clone());
        changes.fields.push("spec.parentId");
    }
    changes
}

fn diff_serverless(spec: &ServerlessSpec, cloud: &Cluster, changes: &mut ClusterChanges) {
    let mut update = ServerlessUpdateSpec::default();
    let cloud_regions: BTreeSet<&str> = cloud.regions.iter().map(|r| r.name.as_str()).collect();
    let spec_regions: BTreeSet<&str> = spec.regions.iter().map(String::as_str).collect();
    let cloud_primary = cloud.regions.iter().find(|r| r.primary == Some(true)).map(|r| r.name.as_str());
    let primary_differs = spec.primary_region.as_deref().is_some_and(|p| Some(p) != cloud_primary);
    if cloud_regions != spec_regions || primary_differs {
        update.regions = Some(spec.regions.clone());
        update.primary_region = spec.primary_region.clone();
        changes.fields.push("spec.serverless.regions");
    }
    let config = cloud.config.serverless.as_ref();
    let desired_limits = spec.usage_limits.as_ref().map(usage_limits).unwrap_or_default();
    let cloud_limits = config.and_then(|c| c.usage_limits.clone()).unwrap_or_default();
    if desired_limits != cloud_limits {
        // An empty object clears the limits (unlimited).
        update.usage_limits = Some(desired_limits);
        changes.fields.push("spec.serverless.usageLimits");
    }
    if let Some(wanted) = spec.upgrade_type.map(upgrade_type)
        && config.map(|c| &c.upgrade_type) != Some(&wanted)
    {
        update.upgrade_type = Some(wanted);
        changes.fields.push("spec.serverless.upgradeType");
    }
    if update != ServerlessUpdateSpec::default() {
        changes.update.serverless = Some(update);
    }
}

fn diff_dedicated(spec: &DedicatedSpec, cloud: &Cluster, changes: &mut ClusterChanges) {
    let mut update = DedicatedUpdateSpec::default();
    let cloud_nodes: BTreeMap<String, i32> = cloud.regions.iter().map(|r| (r.name.clone(), r.node_count)).collect();
    if cloud_nodes != spec.region_nodes {
        update.region_nodes = Some(spec.region_nodes.clone());
        changes.fields.push("spec.dedicated.regionNodes");
    }
    if let Some(hw) = cloud.config.dedicated.as_ref() {
        let wanted = &spec.hardware;
        let machine_differs = match (&wanted.machine_type, wanted.num_virtual_cpus) {
            (Some(machine), _) => *machine != hw.machine_type,
            (None, Some(vcpus)) => vcpus != hw.num_virtual_cpus,
            (None, None) => false,
        };
        let storage_differs = wanted.storage_gib != hw.storage_gib;
        let iops_differs = wanted.disk_iops.is_some_and(|iops| iops != hw.disk_iops);
        if machine_differs || storage_differs || iops_differs {
            update.hardware = Some(HardwareSpec {
                machine_spec: machine_differs.then(|| machine_spec(spec)),
                storage_gib: storage_differs.then_some(wanted.storage_gib),
                disk_iops: if iops_differs { wanted.disk_iops } else { None },
            });
            changes.fields.push("spec.dedicated.hardware");
        }
    }
    if update != DedicatedUpdateSpec::default() {
        changes.update.dedicated = Some(update);
    }
}

/// The cloud cluster in the spec's terms (observe-only compares it with the spec): the version as
/// its major release, the folder as `parentId` (`root` at the top), the shape's block only for the
/// shape the cluster has.
pub fn spec_of(cloud: &Cluster) -> serde_json::Value {
    use serde_json::json;
    let serverless = cloud.config.serverless.as_ref().map(|config| {
        let limits = config.usage_limits.clone().unwrap_or_default();
        json!({
            "regions": cloud.regions.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "primaryRegion": cloud.regions.iter().find(|r| r.primary == Some(true)).map(|r| r.name.clone()),
            "usageLimits": {
                "requestUnitLimit": limits.request_unit_limit,
                "storageMibLimit": limits.storage_mib_limit,
                "provisionedVirtualCpus": limits.provisioned_virtual_cpus,
            },
            "upgradeType": config.upgrade_type,
        })
    });
    let dedicated = cloud.config.dedicated.as_ref().map(|hw| {
        json!({
            "regionNodes": cloud.regions.iter().map(|r| (r.name.clone(), r.node_count)).collect::<BTreeMap<_, _>>(),
            "hardware": {
                "machineType": hw.machine_type,
                "numVirtualCpus": hw.num_virtual_cpus,
                "storageGib": hw.storage_gib,
                "diskIops": hw.disk_iops,
            },
            "networkVisibility": cloud.network_visibility,
            "cidrRange": (!cloud.cidr_range.is_empty()).then_some(&cloud.cidr_range),
        })
    });
    json!({
        "name": cloud.name,
        "provider": cloud.cloud_provider,
        "plan": cloud.plan,
        "cockroachVersion": major_version(&cloud.cockroach_version),
        "deleteProtection": cloud.delete_protection_enabled(),
        "labels": cloud.labels,
        "parentId": cloud.parent_id.as_deref().unwrap_or("root"),
        "serverless": serverless,
        "dedicated": dedicated,
    })
}

/// The status fields the cloud cluster implies (conditions are added by the caller).
pub fn observed_status(cloud: &Cluster) -> CockroachClusterStatus {
    CockroachClusterStatus {
        cluster_id: Some(cloud.id.clone()),
        state: Some(cloud.state.to_string()),
        operation_status: Some(cloud.operation_status.to_string()),
        plan: Some(cloud.plan.to_string()),
        cockroach_version: Some(cloud.cockroach_version.clone()).filter(|v| !v.is_empty()),
        upgrade_status: Some(cloud.upgrade_status.to_string()),
        sql_dns: cloud.sql_dns.clone().or_else(|| cloud.regions.first().map(|r| r.sql_dns.clone())).filter(|d| !d.is_empty()),
        account_id: cloud.account_id.clone().filter(|a| !a.is_empty()),
        regions: cloud
            .regions
            .iter()
            .map(|r| RegionStatus { name: r.name.clone(), sql_dns: r.sql_dns.clone(), ui_dns: r.ui_dns.clone(), node_count: r.node_count })
            .collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::cluster::HardwareSpec as SpecHardware;
    use crate::cloud::models::*;

    fn serverless_spec() -> CockroachClusterSpec {
        serde_json::from_value(serde_json::json!({
            "provider": "GCP",
            "serverless": {"regions": ["us-central1"], "usageLimits": {"provisionedVirtualCpus": 2}},
            "labels": {"env": "dev"}
        }))
        .unwrap()
    }

    fn cloud_from(request: &CreateClusterRequest) -> Cluster {
        let spec = &request.spec;
        let serverless = spec.serverless.as_ref();
        Cluster {
            id: "c1".into(),
            name: request.name.clone(),
            cockroach_version: "v25.2.4".into(),
            upgrade_status: UpgradeStatus::Finalized,
            plan: spec.plan.clone().unwrap(),
            cloud_provider: request.provider.clone(),
            state: ClusterState::Created,
            creator_id: "u".into(),
            operation_status: OperationStatus::Unspecified,
            config: ClusterConfig {
                serverless: serverless.map(|s| ServerlessClusterConfig {
                    routing_id: "r".into(),
                    upgrade_type: UpgradeType::Automatic,
                    usage_limits: s.usage_limits.clone(),
                }),
                dedicated: spec.dedicated.as_ref().map(|d| DedicatedHardwareConfig {
                    machine_type: "n2-standard-4".into(),
                    num_virtual_cpus: d.hardware.machine_spec.as_ref().unwrap().num_virtual_cpus.unwrap_or(4),
                    storage_gib: d.hardware.storage_gib.unwrap(),
                    memory_gib: 16.0,
                    disk_iops: 0,
                }),
            },
            regions: match (serverless, &spec.dedicated) {
                (Some(s), _) => s.regions.iter().map(|r| Region { name: r.clone(), ..Default::default() }).collect(),
                (None, Some(d)) => d
                    .region_nodes
                    .iter()
                    .map(|(r, n)| Region { name: r.clone(), node_count: *n, ..Default::default() })
                    .collect(),
                _ => vec![],
            },
            cidr_range: String::new(),
            labels: spec.labels.clone().unwrap_or_default(),
            is_customer_cloud_account: None,
            account_id: None,
            created_at: None,
            updated_at: None,
            deleted_at: None,
            delete_protection: spec.delete_protection.clone(),
            network_visibility: None,
            egress_traffic_policy: None,
            parent_id: Some("root".into()),
            sql_dns: None,
        }
    }

    fn resource(spec: CockroachClusterSpec) -> CockroachCluster {
        let mut cr = CockroachCluster::new("orders-db", spec);
        cr.metadata.uid = Some("uid-1".into());
        cr
    }

    #[test]
    fn plan_is_derived_like_the_cloud_derives_it() {
        assert_eq!(effective_plan(&serverless_spec()), Plan::Standard);
        let mut basic = serverless_spec();
        basic.serverless.as_mut().unwrap().usage_limits = None;
        assert_eq!(effective_plan(&basic), Plan::Basic);
    }

    #[test]
    fn create_request_tags_the_cluster_and_uses_wire_shapes() {
        let request = create_request(&resource(serverless_spec()), "uid-1");
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["name"], "orders-db");
        assert_eq!(json["spec"]["plan"], "STANDARD");
        assert_eq!(json["spec"]["serverless"]["usage_limits"]["provisioned_virtual_cpus"], "2");
        assert_eq!(json["spec"]["labels"][OWNER_LABEL], "uid-1");
        assert_eq!(json["spec"]["labels"]["env"], "dev");
        assert_eq!(json["spec"]["delete_protection"], "DISABLED");
    }

    #[test]
    fn a_freshly_created_cluster_has_no_diff() {
        let spec = serverless_spec();
        let cloud = cloud_from(&create_request(&resource(spec.clone()), "uid-1"));
        let changes = diff(&spec, "uid-1", &cloud);
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn scaling_and_labels_become_one_patch() {
        let spec = serverless_spec();
        let cloud = cloud_from(&create_request(&resource(spec.clone()), "uid-1"));
        let mut wanted = spec.clone();
        wanted.serverless.as_mut().unwrap().usage_limits.as_mut().unwrap().provisioned_virtual_cpus = Some(4);
        wanted.labels.as_mut().unwrap().insert("team".into(), "payments".into());
        let changes = diff(&wanted, "uid-1", &cloud);
        assert_eq!(changes.fields, vec!["spec.serverless.usageLimits", "spec.labels"]);
        let update = serde_json::to_value(&changes.update).unwrap();
        assert_eq!(update["serverless"]["usage_limits"]["provisioned_virtual_cpus"], "4");
        assert_eq!(update["labels"]["team"], "payments");
        assert_eq!(update["labels"][OWNER_LABEL], "uid-1");
        assert!(changes.version.is_none());
    }

    #[test]
    fn unmanaged_labels_keep_cloud_labels_but_restore_the_owner_tag() {
        let mut spec = serverless_spec();
        spec.labels = None;
        let mut cloud = cloud_from(&create_request(&resource(spec.clone()), "uid-1"));
        cloud.labels = BTreeMap::from([("someone".to_string(), "else".to_string())]);
        let changes = diff(&spec, "uid-1", &cloud);
        let labels = changes.update.labels.unwrap();
        assert_eq!(labels.get("someone").map(String::as_str), Some("else"));
        assert_eq!(labels.get(OWNER_LABEL).map(String::as_str), Some("uid-1"));
    }

    #[test]
    fn version_changes_travel_alone() {
        let mut spec = serverless_spec();
        spec.cockroach_version = Some("v25.3".into());
        let cloud = cloud_from(&create_request(&resource(serverless_spec()), "uid-1"));
        let changes = diff(&spec, "uid-1", &cloud);
        assert_eq!(changes.version.as_deref(), Some("v25.3"));
        assert!(changes.update.is_empty());
        assert_eq!(major_version("v25.2.4"), "v25.2");
        assert_eq!(major_version("v25.2"), "v25.2");
    }

    #[test]
    fn dedicated_scale_and_hardware_changes() {
        let spec: CockroachClusterSpec = serde_json::from_value(serde_json::json!({
            "provider": "AWS",
            "dedicated": {"regionNodes": {"us-east-1": 3}, "hardware": {"numVirtualCpus": 4, "storageGib": 150}}
        }))
        .unwrap();
        let cloud = cloud_from(&create_request(&resource(spec.clone()), "uid-1"));
        assert!(diff(&spec, "uid-1", &cloud).is_empty());
        let mut wanted = spec.clone();
        let dedicated = wanted.dedicated.as_mut().unwrap();
        dedicated.region_nodes.insert("us-west-2".into(), 3);
        dedicated.hardware = SpecHardware { num_virtual_cpus: Some(8), storage_gib: 150, ..Default::default() };
        let changes = diff(&wanted, "uid-1", &cloud);
        let update = changes.update.dedicated.unwrap();
        assert_eq!(update.region_nodes.unwrap().len(), 2);
        let hardware = update.hardware.unwrap();
        assert_eq!(hardware.machine_spec.unwrap().num_virtual_cpus, Some(8));
        assert_eq!(hardware.storage_gib, None, "unchanged storage is not sent");
    }

    #[test]
    fn delete_protection_drift_is_detected() {
        let spec = serverless_spec();
        let mut cloud = cloud_from(&create_request(&resource(spec.clone()), "uid-1"));
        cloud.delete_protection = Some(DeleteProtection::Enabled);
        let changes = diff(&spec, "uid-1", &cloud);
        assert_eq!(changes.update.delete_protection, Some(DeleteProtection::Disabled));
    }

    #[test]
    fn adoption_requires_matching_provider_and_shape() {
        let spec = serverless_spec();
        let mut cloud = cloud_from(&create_request(&resource(spec.clone()), "uid-1"));
        assert!(adoption_mismatch(&spec, &cloud).is_none());
        cloud.cloud_provider = CloudProvider::Aws;
        assert!(adoption_mismatch(&spec, &cloud).unwrap().contains("spec.provider"));
        cloud.cloud_provider = CloudProvider::Gcp;
        cloud.plan = Plan::Advanced;
        assert!(adoption_mismatch(&spec, &cloud).unwrap().contains("dedicated"));
    }
}
