//! Pure validation of request bodies and parameters. Every error is a 400 INVALID_ARGUMENT whose
//! message names the offending field, the way the real service's messages do. Checks that depend
//! on stored state (duplicates, current plan, cluster state) live with the state, not here.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crdb_cloud::models::{
    DatadogSite, LogExportStatus, LogExportType, LogLevel,
    CloudProvider, ClusterState, CreateClusterRequest, DedicatedHardwareConfig, DedicatedUpdateSpec, DeleteProtection, HardwareSpec,
    DeferralPolicy, MachineSpec, NetworkVisibility, OperationStatus, Plan, ReleaseType, SupportStatus, UpdateClusterSpec, UpgradeStatus,
    UpgradeType, UsageLimits,
};

use super::catalog;
use super::errors::{ApiError, ApiResult};

/// Access to the `Unknown(..)` variant every Cloud API enum has, so one function can reject values
/// the official description does not list.
pub trait WireEnum {
    fn unknown_value(&self) -> Option<&str>;
    fn known_values() -> &'static [&'static str];
}

macro_rules! wire_enum {
    ($($t:ident),+) => {$(
        impl WireEnum for $t {
            fn unknown_value(&self) -> Option<&str> {
                match self { $t::Unknown(v) => Some(v.as_str()), _ => None }
            }
            fn known_values() -> &'static [&'static str] { $t::KNOWN }
        }
    )+};
}

wire_enum!(CloudProvider, ClusterState, OperationStatus, Plan, DeleteProtection, NetworkVisibility, UpgradeType, UpgradeStatus, SupportStatus, ReleaseType, DeferralPolicy);
wire_enum!(LogExportType, LogExportStatus, LogLevel, DatadogSite);
use crdb_cloud::models::PrivateEndpointTrustedOwnerType;
wire_enum!(PrivateEndpointTrustedOwnerType);

/// Rejects a value outside the enum's documented set, naming the field.
pub fn known<E: WireEnum>(field: &str, value: &E) -> ApiResult<()> {
    match value.unknown_value() {
        None => Ok(()),
        Some(v) => Err(ApiError::invalid(format!(
            "invalid value {v:?} for field `{field}`; expected one of {}",
            E::known_values().join(", ")
        ))),
    }
}

/// Optional-field form of [`known`].
pub fn known_opt<E: WireEnum>(field: &str, value: Option<&E>) -> ApiResult<()> {
    value.map_or(Ok(()), |v| known(field, v))
}

pub fn cluster_name(name: &str) -> ApiResult<()> {
    let ok_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let len = name.chars().count();
    if !(6..=20).contains(&len) || !ok_chars || name.starts_with('-') || name.ends_with('-') {
        return Err(ApiError::invalid(format!(
            "invalid value {name:?} for field `name`: a cluster name must be 6-20 characters of lowercase \
             letters, numbers and dashes, and cannot start or end with a dash"
        )));
    }
    Ok(())
}

pub const MAX_LABELS: usize = 50;

pub fn labels(field: &str, labels: &BTreeMap<String, String>) -> ApiResult<()> {
    if labels.len() > MAX_LABELS {
        return Err(ApiError::invalid(format!(
            "field `{field}` has {} labels; at most {MAX_LABELS} are allowed",
            labels.len()
        )));
    }
    for (key, value) in labels {
        let key_ok = (1..=63).contains(&key.len())
            && key.starts_with(|c: char| c.is_ascii_lowercase())
            && key.chars().all(label_char);
        if !key_ok {
            return Err(ApiError::invalid(format!(
                "invalid label key {key:?} in field `{field}`: keys are 1-63 characters, start with a lowercase \
                 letter and contain only lowercase letters, numbers, '_' and '-'"
            )));
        }
        if value.len() > 63 || !value.chars().all(label_char) {
            return Err(ApiError::invalid(format!(
                "invalid value {value:?} for label {key:?} in field `{field}`: values are at most 63 characters \
                 of lowercase letters, numbers, '_' and '-'"
            )));
        }
    }
    Ok(())
}

fn label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
}

/// `""` and `"root"` both mean the organisation root; anything else must be a folder id.
pub fn parent_id(field: &str, value: Option<&str>) -> ApiResult<String> {
    match value {
        None | Some("") | Some("root") => Ok("root".to_string()),
        Some(id) if uuid::Uuid::parse_str(id).is_ok() => Ok(id.to_string()),
        Some(other) => Err(ApiError::invalid(format!(
            "invalid value {other:?} for field `{field}`: expected \"root\" or a folder id"
        ))),
    }
}

/// Each limit, when given, must be a positive number ("it is an error for this to be zero").
pub fn usage_limits(field: &str, limits: &UsageLimits) -> ApiResult<()> {
    for (name, value) in [
        ("provisioned_virtual_cpus", limits.provisioned_virtual_cpus),
        ("request_unit_limit", limits.request_unit_limit),
        ("storage_mib_limit", limits.storage_mib_limit),
    ] {
        if let Some(v) = value.filter(|v| *v <= 0) {
            return Err(ApiError::invalid(format!("field `{field}.{name}` must be greater than zero, got {v}")));
        }
    }
    Ok(())
}

/// The serverless plan and its limits must agree: STANDARD is provisioned capacity
/// (`provisioned_virtual_cpus`), BASIC is consumption-limited (request units and storage); BASIC
/// clusters are always upgraded automatically.
pub fn serverless_plan(plan: &Plan, limits: Option<&UsageLimits>, upgrade_type: &UpgradeType) -> ApiResult<()> {
    let limits = limits.cloned().unwrap_or_default();
    match plan {
        Plan::Basic if limits.provisioned_virtual_cpus.is_some() => Err(ApiError::invalid(
            "usage_limits.provisioned_virtual_cpus requires the STANDARD plan; the BASIC plan takes request_unit_limit and storage_mib_limit",
        )),
        Plan::Standard if limits.request_unit_limit.is_some() || limits.storage_mib_limit.is_some() => {
            Err(ApiError::invalid(
                "usage_limits.request_unit_limit and usage_limits.storage_mib_limit apply to the BASIC plan only; the STANDARD plan takes provisioned_virtual_cpus",
            ))
        }
        Plan::Basic if *upgrade_type == UpgradeType::Manual => {
            Err(ApiError::invalid("upgrade_type MANUAL is not supported on the BASIC plan"))
        }
        Plan::Advanced => Err(ApiError::invalid("plan ADVANCED requires a dedicated cluster (spec.dedicated)")),
        _ => Ok(()),
    }
}

/// Serverless regions: known, serverless-capable, no duplicates, and a primary region among them
/// when there is more than one. Returns the regions sorted by name and the primary region.
pub fn serverless_regions(
    provider: &CloudProvider,
    field: &str,
    regions: &[String],
    primary: Option<&str>,
) -> ApiResult<(Vec<String>, String)> {
    if regions.is_empty() {
        return Err(ApiError::invalid(format!("field `{field}.regions` must name at least one region")));
    }
    let mut seen = BTreeSet::new();
    for name in regions {
        match catalog::region(provider, name) {
            None => return Err(unknown_region(provider, &format!("{field}.regions"), name)),
            Some(r) if !r.serverless => {
                return Err(ApiError::invalid(format!(
                    "region {name:?} in field `{field}.regions` does not offer serverless clusters on {provider}"
                )));
            }
            Some(_) => {}
        }
        if !seen.insert(name.clone()) {
            return Err(ApiError::invalid(format!("region {name:?} appears twice in field `{field}.regions`")));
        }
    }
    let primary = match primary.filter(|p| !p.is_empty()) {
        Some(p) if seen.contains(p) => p.to_string(),
        Some(p) => {
            return Err(ApiError::invalid(format!(
                "field `{field}.primary_region` ({p:?}) must be one of the cluster's regions"
            )));
        }
        None if regions.len() == 1 => regions[0].clone(),
        None => {
            return Err(ApiError::invalid(format!(
                "field `{field}.primary_region` is required when a cluster has more than one region"
            )));
        }
    };
    Ok((seen.into_iter().collect(), primary))
}

/// Dedicated node counts per region: known regions, at least one node each.
pub fn region_nodes(provider: &CloudProvider, field: &str, nodes: &BTreeMap<String, i32>) -> ApiResult<()> {
    if nodes.is_empty() {
        return Err(ApiError::invalid(format!("field `{field}` must name at least one region")));
    }
    for (name, count) in nodes {
        if catalog::region(provider, name).is_none() {
            return Err(unknown_region(provider, field, name));
        }
        if *count < 1 {
            return Err(ApiError::invalid(format!(
                "field `{field}[{name:?}]` must be at least 1 node, got {count}"
            )));
        }
    }
    Ok(())
}

fn unknown_region(provider: &CloudProvider, field: &str, name: &str) -> ApiError {
    ApiError::invalid(format!(
        "unknown region {name:?} in field `{field}` for provider {provider}; see /api/v1/clusters/available-regions"
    ))
}

/// The vCPU count a machine spec asks for: exactly one of `machine_type` and `num_virtual_cpus`.
pub fn machine_spec(provider: &CloudProvider, field: &str, spec: &MachineSpec) -> ApiResult<i32> {
    match (spec.machine_type.as_deref().filter(|m| !m.is_empty()), spec.num_virtual_cpus) {
        (Some(_), Some(_)) => Err(ApiError::invalid(format!(
            "field `{field}` must set only one of machine_type and num_virtual_cpus"
        ))),
        (None, None) => Err(ApiError::invalid(format!(
            "field `{field}` must set one of machine_type and num_virtual_cpus"
        ))),
        (None, Some(v)) if catalog::VCPU_OPTIONS.contains(&v) => Ok(v),
        (None, Some(v)) => Err(ApiError::invalid(format!(
            "invalid value {v} for field `{field}.num_virtual_cpus`; expected one of {:?}",
            catalog::VCPU_OPTIONS
        ))),
        (Some(m), None) => catalog::vcpus_of_machine_type(provider, m).ok_or_else(|| {
            ApiError::invalid(format!(
                "unknown machine type {m:?} in field `{field}.machine_type` for provider {provider}, e.g. {:?}",
                catalog::machine_type(provider, 4)
            ))
        }),
    }
}

/// Resolves dedicated hardware from a create spec (`current` = None: machine_spec and storage_gib
/// required) or an update spec (`current` = the cluster's hardware: omitted fields are kept).
pub fn hardware(
    provider: &CloudProvider,
    field: &str,
    spec: &HardwareSpec,
    current: Option<&DedicatedHardwareConfig>,
) -> ApiResult<DedicatedHardwareConfig> {
    let vcpus = match (&spec.machine_spec, current) {
        (Some(m), _) => machine_spec(provider, &format!("{field}.machine_spec"), m)?,
        (None, Some(c)) => c.num_virtual_cpus,
        (None, None) => return Err(ApiError::invalid(format!("field `{field}.machine_spec` is required"))),
    };
    let storage_gib = match (spec.storage_gib, current) {
        (Some(s), _) if s < 0 => {
            return Err(ApiError::invalid(format!("field `{field}.storage_gib` cannot be negative, got {s}")));
        }
        // Zero is the proto default: "lowest available" on create, "unchanged" on update.
        (Some(0) | None, Some(c)) => c.storage_gib,
        (Some(0), None) => catalog::MIN_STORAGE_GIB,
        (Some(s), Some(c)) if s < c.storage_gib => {
            return Err(ApiError::invalid(format!(
                "field `{field}.storage_gib` cannot decrease storage (from {} to {s} GiB)",
                c.storage_gib
            )));
        }
        (Some(s), _) => s.max(catalog::MIN_STORAGE_GIB),
        (None, None) => return Err(ApiError::invalid(format!("field `{field}.storage_gib` is required"))),
    };
    let disk_iops = match spec.disk_iops {
        Some(i) if i < 0 => {
            return Err(ApiError::invalid(format!("field `{field}.disk_iops` cannot be negative, got {i}")));
        }
        // Provisioned IOPS are an AWS feature; elsewhere IOPS follow the disk size.
        Some(i) if i > 0 && *provider == CloudProvider::Aws => i,
        _ => match current {
            Some(c) if *provider == CloudProvider::Aws && c.storage_gib == storage_gib => c.disk_iops,
            _ => storage_gib * 3,
        },
    };
    Ok(DedicatedHardwareConfig {
        machine_type: catalog::machine_type(provider, vcpus),
        num_virtual_cpus: vcpus,
        storage_gib,
        memory_gib: (vcpus * catalog::MEMORY_GIB_PER_VCPU) as f32,
        disk_iops,
    })
}

/// A validated create request, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCreate {
    pub name: String,
    pub provider: CloudProvider,
    pub plan: Plan,
    pub delete_protection: DeleteProtection,
    pub labels: BTreeMap<String, String>,
    pub parent_id: String,
    pub kind: ValidKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValidKind {
    Serverless {
        /// Sorted by name, as the service reports them.
        regions: Vec<String>,
        primary_region: String,
        usage_limits: Option<UsageLimits>,
        upgrade_type: UpgradeType,
        empty_allowlist: bool,
    },
    Dedicated {
        region_nodes: BTreeMap<String, i32>,
        hardware: DedicatedHardwareConfig,
        /// The full version to run, e.g. "v24.3.14".
        cockroach_version: String,
        network_visibility: NetworkVisibility,
        cidr_range: String,
    },
}

pub const DEFAULT_GCP_CIDR_RANGE: &str = "172.28.0.0/14";

pub fn create_request(req: &CreateClusterRequest) -> ApiResult<ValidCreate> {
    cluster_name(&req.name)?;
    known("provider", &req.provider)?;
    let spec = &req.spec;
    known_opt("spec.plan", spec.plan.as_ref())?;
    known_opt("spec.delete_protection", spec.delete_protection.as_ref())?;
    if let Some(l) = &spec.labels {
        labels("spec.labels", l)?;
    }
    let parent_id = parent_id("spec.parent_id", spec.parent_id.as_deref())?;
    let provider = req.provider.clone();
    let (plan, kind) = match (&spec.serverless, &spec.dedicated) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::invalid("exactly one of `spec.serverless` and `spec.dedicated` must be set"));
        }
        (Some(s), None) => {
            known_opt("spec.serverless.upgrade_type", s.upgrade_type.as_ref())?;
            if let Some(l) = &s.usage_limits {
                usage_limits("spec.serverless.usage_limits", l)?;
            }
            let derived = if s.usage_limits.as_ref().is_some_and(|l| l.provisioned_virtual_cpus.is_some()) {
                Plan::Standard
            } else {
                Plan::Basic
            };
            let plan = spec.plan.clone().unwrap_or(derived);
            if plan == Plan::Advanced {
                return Err(ApiError::invalid(
                    "field `spec.plan` is ADVANCED but `spec.serverless` is set; ADVANCED clusters take `spec.dedicated`",
                ));
            }
            let upgrade_type = s.upgrade_type.clone().unwrap_or(UpgradeType::Automatic);
            serverless_plan(&plan, s.usage_limits.as_ref(), &upgrade_type)
                .map_err(|e| ApiError::invalid(format!("spec.serverless: {}", e.message)))?;
            let (regions, primary_region) =
                serverless_regions(&provider, "spec.serverless", &s.regions, s.primary_region.as_deref())?;
            let kind = ValidKind::Serverless {
                regions,
                primary_region,
                usage_limits: s.usage_limits.clone(),
                upgrade_type,
                empty_allowlist: s.with_empty_ip_allowlist.unwrap_or(false),
            };
            (plan, kind)
        }
        (None, Some(d)) => {
            let plan = spec.plan.clone().unwrap_or(Plan::Advanced);
            if plan != Plan::Advanced {
                return Err(ApiError::invalid(format!(
                    "field `spec.plan` is {plan} but `spec.dedicated` is set; {plan} clusters take `spec.serverless`"
                )));
            }
            known_opt("spec.dedicated.network_visibility", d.network_visibility.as_ref())?;
            region_nodes(&provider, "spec.dedicated.region_nodes", &d.region_nodes)?;
            let hardware = hardware(&provider, "spec.dedicated.hardware", &d.hardware, None)?;
            let cockroach_version = create_version(d.cockroach_version.as_deref())?;
            let cidr_range = match (d.cidr_range.as_deref().filter(|c| !c.is_empty()), &provider) {
                (None, CloudProvider::Gcp) => DEFAULT_GCP_CIDR_RANGE.to_string(),
                (None, _) => String::new(),
                (Some(c), CloudProvider::Gcp) => dedicated_cidr_range(c)?,
                (Some(_), _) => {
                    return Err(ApiError::invalid("field `spec.dedicated.cidr_range` is only supported on GCP"));
                }
            };
            let kind = ValidKind::Dedicated {
                region_nodes: d.region_nodes.clone(),
                hardware,
                cockroach_version,
                network_visibility: d.network_visibility.clone().unwrap_or(NetworkVisibility::Public),
                cidr_range,
            };
            (plan, kind)
        }
    };
    Ok(ValidCreate {
        name: req.name.clone(),
        provider,
        plan,
        delete_protection: spec.delete_protection.clone().unwrap_or(DeleteProtection::Disabled),
        labels: spec.labels.clone().unwrap_or_default(),
        parent_id,
        kind,
    })
}

/// The full version a new dedicated cluster runs: the requested supported major, or the latest.
fn create_version(requested: Option<&str>) -> ApiResult<String> {
    let major = requested.filter(|v| !v.is_empty()).unwrap_or(catalog::LATEST_MAJOR);
    match catalog::version(&catalog::major_of(major)) {
        Some(v) if v.support != SupportStatus::Unsupported => Ok(v.full.to_string()),
        Some(_) => Err(ApiError::invalid(format!(
            "field `spec.dedicated.cockroach_version`: {major} is no longer supported for new clusters"
        ))),
        None => Err(ApiError::invalid(format!(
            "invalid value {major:?} for field `spec.dedicated.cockroach_version`; see /api/v1/cluster-versions"
        ))),
    }
}

/// A GCP dedicated cluster's private range: a network CIDR no smaller than /19.
fn dedicated_cidr_range(text: &str) -> ApiResult<String> {
    let field = "spec.dedicated.cidr_range";
    let (ip, mask) = text
        .split_once('/')
        .ok_or_else(|| ApiError::invalid(format!("invalid value {text:?} for field `{field}`; expected a.b.c.d/n")))?;
    let mask: i32 = mask
        .parse()
        .map_err(|_| ApiError::invalid(format!("invalid value {text:?} for field `{field}`; expected a.b.c.d/n")))?;
    let (ip, mask) = cidr(field, ip, mask)?;
    if mask > 19 {
        return Err(ApiError::invalid(format!("field `{field}` must be a /19 or larger range, got /{mask}")));
    }
    Ok(format!("{ip}/{mask}"))
}

/// Structural checks of a PATCH body; what the cluster's current state allows is checked later.
pub fn update_spec(spec: &UpdateClusterSpec) -> ApiResult<()> {
    known_opt("upgrade_status", spec.upgrade_status.as_ref())?;
    known_opt("delete_protection", spec.delete_protection.as_ref())?;
    known_opt("plan", spec.plan.as_ref())?;
    let version_fields =
        usize::from(spec.cockroach_version.is_some()) + usize::from(spec.upgrade_status.is_some());
    if version_fields == 2 {
        return Err(ApiError::invalid("only one of `upgrade_status` and `cockroach_version` is allowed in a request"));
    }
    if version_fields == 1 {
        let only_version = UpdateClusterSpec {
            cockroach_version: spec.cockroach_version.clone(),
            upgrade_status: spec.upgrade_status.clone(),
            ..Default::default()
        };
        if *spec != only_version {
            return Err(ApiError::invalid(
                "version upgrade operations (`cockroach_version`, `upgrade_status`) cannot be combined with other \
                 updates; send them in a request of their own",
            ));
        }
    }
    if let Some(l) = &spec.labels {
        labels("labels", l)?;
    }
    if let Some(p) = &spec.parent_id {
        parent_id("parent_id", Some(p))?;
    }
    if let Some(s) = &spec.serverless {
        known_opt("serverless.upgrade_type", s.upgrade_type.as_ref())?;
        if let Some(l) = &s.usage_limits {
            usage_limits("serverless.usage_limits", l)?;
        }
    }
    if let Some(d) = &spec.dedicated {
        for (name, count) in d.region_nodes.iter().flatten() {
            if *count < 1 {
                return Err(ApiError::invalid(format!(
                    "field `dedicated.region_nodes[{name:?}]` must be at least 1 node, got {count}; omit a region to remove it"
                )));
            }
        }
        one_way_to_size_machines(d)?;
    }
    Ok(())
}

/// The SDK v8 documents `region_machine_specs` as "mutually exclusive with hardware.machine_spec":
/// a request sizes regions one by one or all alike, never both. An empty map is no map (proto3
/// maps have no presence), so it excludes nothing.
fn one_way_to_size_machines(spec: &DedicatedUpdateSpec) -> ApiResult<()> {
    let per_region = spec.region_machine_specs.as_ref().is_some_and(|m| !m.is_empty());
    let cluster_wide = spec.hardware.as_ref().is_some_and(|h| h.machine_spec.is_some());
    if per_region && cluster_wide {
        return Err(ApiError::invalid(
            "fields `dedicated.region_machine_specs` and `dedicated.hardware.machine_spec` are mutually exclusive; \
             size the regions one by one or all alike, in separate requests",
        ));
    }
    Ok(())
}

/// An IPv4 network in CIDR form: valid address, mask 0-32, no host bits set.
pub fn cidr(field: &str, ip: &str, mask: i32) -> ApiResult<(Ipv4Addr, u8)> {
    let addr: Ipv4Addr = ip.parse().map_err(|_| {
        ApiError::invalid(format!("invalid value {ip:?} for field `{field}`: expected an IPv4 address such as 192.168.1.0"))
    })?;
    if !(0..=32).contains(&mask) {
        return Err(ApiError::invalid(format!("invalid value {mask} for the CIDR mask of `{field}`: expected 0-32")));
    }
    let bits = u32::from(addr);
    let netmask = if mask == 0 { 0 } else { u32::MAX << (32 - mask) };
    if bits & !netmask != 0 {
        let network = Ipv4Addr::from(bits & netmask);
        return Err(ApiError::invalid(format!(
            "invalid CIDR {ip}/{mask} in field `{field}`: host bits are set; did you mean {network}/{mask}?"
        )));
    }
    Ok((addr, mask as u8))
}

/// The mask segment of an allowlist path.
pub fn cidr_mask_segment(text: &str) -> ApiResult<i32> {
    text.parse()
        .map_err(|_| ApiError::invalid(format!("invalid value {text:?} for path parameter `cidr_mask`: expected an integer 0-32")))
}

const RESERVED_ROLES: &[&str] = &["root", "admin", "public", "none", "node"];

pub fn sql_user_name(name: &str) -> ApiResult<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if name.len() > 63 || !first_ok || !rest_ok {
        return Err(ApiError::invalid(format!(
            "invalid value {name:?} for field `name`: a SQL user name is 1-63 characters of letters, numbers, \
             '_', '.' and '-', starting with a letter, number or '_'"
        )));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_ROLES.contains(&lower.as_str()) || lower.starts_with("pg_") || lower.starts_with("crdb_internal") {
        return Err(ApiError::invalid(format!("field `name`: {name:?} is a reserved role name")));
    }
    Ok(())
}

pub const MIN_PASSWORD_LEN: usize = 8;

pub fn password(password: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid(format!(
            "field `password` must be at least {MIN_PASSWORD_LEN} characters long"
        )));
    }
    Ok(())
}

const RESERVED_DATABASES: &[&str] = &["system", "crdb_internal", "information_schema", "pg_catalog", "pg_extension"];

pub fn database_name(field: &str, name: &str) -> ApiResult<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if name.len() > 63 || !first_ok || !rest_ok {
        return Err(ApiError::invalid(format!(
            "invalid value {name:?} for field `{field}`: a database name is 1-63 characters of letters, numbers, \
             '_' and '-', starting with a letter or '_'"
        )));
    }
    if RESERVED_DATABASES.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(ApiError::invalid(format!("field `{field}`: {name:?} is a reserved database name")));
    }
    Ok(())
}

pub const BACKUP_FREQUENCIES: &[i32] = &[5, 10, 15, 30, 60, 240, 1440];
pub const BACKUP_RETENTIONS: &[i32] = &[2, 7, 30, 90, 365];

pub fn backup_values(frequency_minutes: Option<i32>, retention_days: Option<i32>) -> ApiResult<()> {
    if let Some(f) = frequency_minutes.filter(|f| !BACKUP_FREQUENCIES.contains(f)) {
        return Err(ApiError::invalid(format!(
            "invalid value {f} for field `frequency_minutes`; expected one of {BACKUP_FREQUENCIES:?}"
        )));
    }
    if let Some(r) = retention_days.filter(|r| !BACKUP_RETENTIONS.contains(r)) {
        return Err(ApiError::invalid(format!(
            "invalid value {r} for field `retention_days`; expected one of {BACKUP_RETENTIONS:?}"
        )));
    }
    Ok(())
}

/// The `os` query parameter of the connection-string operation.
pub fn connection_os(os: Option<&str>) -> ApiResult<()> {
    match os {
        None | Some("MAC" | "LINUX" | "WINDOWS") => Ok(()),
        Some(other) => Err(ApiError::invalid(format!(
            "invalid value {other:?} for query parameter `os`; expected one of MAC, LINUX, WINDOWS"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crdb_cloud::models::{CreateClusterSpec, DedicatedCreateSpec, ServerlessCreateSpec, ServerlessUpdateSpec};

    fn serverless(regions: &[&str]) -> CreateClusterRequest {
        CreateClusterRequest {
            name: "my-cluster".into(),
            provider: CloudProvider::Gcp,
            spec: CreateClusterSpec {
                serverless: Some(ServerlessCreateSpec {
                    regions: regions.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }

    fn dedicated(nodes: &[(&str, i32)], vcpus: i32) -> CreateClusterRequest {
        CreateClusterRequest {
            name: "my-dedicated".into(),
            provider: CloudProvider::Gcp,
            spec: CreateClusterSpec {
                dedicated: Some(DedicatedCreateSpec {
                    region_nodes: nodes.iter().map(|(r, n)| (r.to_string(), *n)).collect(),
                    hardware: HardwareSpec {
                        machine_spec: Some(MachineSpec { num_virtual_cpus: Some(vcpus), machine_type: None }),
                        storage_gib: Some(150),
                        disk_iops: None,
                    },
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }

    fn message(result: ApiResult<impl std::fmt::Debug>) -> String {
        let err = result.unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        assert_eq!(err.code, crdb_cloud::models::grpc_code::INVALID_ARGUMENT);
        err.message
    }

    #[test]
    fn cluster_names() {
        for ok in ["abcdef", "my-cluster-01", "a1234567890123456789"] {
            cluster_name(ok).unwrap();
        }
        for bad in ["abc", "a12345678901234567890", "-abcdef", "abcdef-", "My-Cluster", "my_cluster"] {
            assert!(message(cluster_name(bad)).contains("`name`"), "{bad}");
        }
    }

    #[test]
    fn label_rules() {
        let ok: BTreeMap<_, _> = [("env".to_string(), "prod".to_string()), ("a-b_c".into(), "".into())].into();
        labels("labels", &ok).unwrap();
        let bad_key: BTreeMap<_, _> = [("Env".to_string(), "x".to_string())].into();
        assert!(message(labels("spec.labels", &bad_key)).contains("spec.labels"));
        let bad_value: BTreeMap<_, _> = [("env".to_string(), "Prod".to_string())].into();
        assert!(message(labels("labels", &bad_value)).contains("Prod"));
        let long_key: BTreeMap<_, _> = [("k".repeat(64), "x".to_string())].into();
        assert!(labels("labels", &long_key).is_err());
        let too_many: BTreeMap<_, _> = (0..51).map(|i| (format!("k{i}"), "v".to_string())).collect();
        assert!(message(labels("labels", &too_many)).contains("at most 50"));
    }

    #[test]
    fn serverless_defaults_and_plan_derivation() {
        let v = create_request(&serverless(&["us-central1"])).unwrap();
        assert_eq!(v.plan, Plan::Basic);
        assert_eq!(v.parent_id, "root");
        assert_eq!(v.delete_protection, DeleteProtection::Disabled);
        let ValidKind::Serverless { primary_region, upgrade_type, .. } = &v.kind else { panic!() };
        assert_eq!((primary_region.as_str(), upgrade_type), ("us-central1", &UpgradeType::Automatic));

        let mut req = serverless(&["us-central1"]);
        req.spec.serverless.as_mut().unwrap().usage_limits =
            Some(UsageLimits { provisioned_virtual_cpus: Some(2), ..Default::default() });
        assert_eq!(create_request(&req).unwrap().plan, Plan::Standard);
    }

    #[test]
    fn serverless_rejections_name_the_field() {
        let mut req = serverless(&["us-central1"]);
        req.spec.plan = Some(Plan::Advanced);
        assert!(message(create_request(&req)).contains("spec.plan"));

        let mut req = serverless(&["us-central1"]);
        req.spec.serverless.as_mut().unwrap().usage_limits =
            Some(UsageLimits { request_unit_limit: Some(0), ..Default::default() });
        assert!(message(create_request(&req)).contains("request_unit_limit"));

        let req = serverless(&["us-central1", "us-east1"]);
        assert!(message(create_request(&req)).contains("primary_region"));

        assert!(message(create_request(&serverless(&["mars-1"]))).contains("mars-1"));
        assert!(message(create_request(&serverless(&[]))).contains("regions"));

        let mut req = serverless(&["us-central1"]);
        req.spec.plan = Some(Plan::Unknown("PREMIUM".into()));
        let msg = message(create_request(&req));
        assert!(msg.contains("spec.plan") && msg.contains("PREMIUM"), "{msg}");

        let mut req = serverless(&["us-central1"]);
        req.spec.dedicated = dedicated(&[("us-central1", 3)], 4).spec.dedicated;
        assert!(message(create_request(&req)).contains("exactly one"));

        let mut req = serverless(&["us-central1"]);
        req.spec.serverless = None;
        assert!(message(create_request(&req)).contains("exactly one"));

        let mut req = serverless(&["us-central1"]);
        req.provider = CloudProvider::Unknown("IBM".into());
        assert!(message(create_request(&req)).contains("`provider`"));
    }

    #[test]
    fn dedicated_hardware_and_defaults() {
        let v = create_request(&dedicated(&[("us-central1", 3)], 4)).unwrap();
        assert_eq!(v.plan, Plan::Advanced);
        let ValidKind::Dedicated { hardware, cockroach_version, cidr_range, .. } = &v.kind else { panic!() };
        assert_eq!(hardware.machine_type, "n2-standard-4");
        assert_eq!(hardware.memory_gib, 16.0);
        assert_eq!(cockroach_version, catalog::version(catalog::LATEST_MAJOR).unwrap().full);
        assert_eq!(cidr_range, DEFAULT_GCP_CIDR_RANGE);

        let mut req = dedicated(&[("us-central1", 3)], 4);
        req.spec.dedicated.as_mut().unwrap().cockroach_version = Some("v24.3".into());
        let ValidKind::Dedicated { cockroach_version, .. } = create_request(&req).unwrap().kind else { panic!() };
        assert!(cockroach_version.starts_with("v24.3."));

        assert!(message(create_request(&dedicated(&[("us-central1", -1)], 4))).contains("region_nodes"));
        assert!(message(create_request(&dedicated(&[("us-central1", 0)], 4))).contains("at least 1"));
        assert!(message(create_request(&dedicated(&[("us-central1", 3)], 3))).contains("num_virtual_cpus"));
        let mut req = dedicated(&[("us-central1", 3)], 4);
        req.spec.plan = Some(Plan::Standard);
        assert!(message(create_request(&req)).contains("spec.plan"));
        let mut req = dedicated(&[("us-central1", 3)], 4);
        req.spec.dedicated.as_mut().unwrap().cockroach_version = Some("v23.2".into());
        assert!(message(create_request(&req)).contains("no longer supported"));
    }

    #[test]
    fn hardware_updates_keep_omitted_fields_and_refuse_shrinking_storage() {
        let current = hardware(&CloudProvider::Aws, "h", &HardwareSpec {
            machine_spec: Some(MachineSpec { machine_type: Some("m6i.xlarge".into()), num_virtual_cpus: None }),
            storage_gib: Some(100),
            disk_iops: Some(3000),
        }, None)
        .unwrap();
        assert_eq!((current.num_virtual_cpus, current.disk_iops), (4, 3000));
        let grown = hardware(&CloudProvider::Aws, "h", &HardwareSpec {
            machine_spec: Some(MachineSpec { num_virtual_cpus: Some(8), machine_type: None }),
            ..Default::default()
        }, Some(&current))
        .unwrap();
        assert_eq!((grown.machine_type.as_str(), grown.storage_gib, grown.disk_iops), ("m6i.2xlarge", 100, 3000));
        let shrink = HardwareSpec { storage_gib: Some(50), ..Default::default() };
        assert!(message(hardware(&CloudProvider::Aws, "dedicated.hardware", &shrink, Some(&current))).contains("storage_gib"));
        let both = HardwareSpec {
            machine_spec: Some(MachineSpec { num_virtual_cpus: Some(8), machine_type: Some("m6i.2xlarge".into()) }),
            ..Default::default()
        };
        assert!(message(hardware(&CloudProvider::Aws, "h", &both, Some(&current))).contains("only one"));
    }

    #[test]
    fn version_changes_travel_alone() {
        update_spec(&UpdateClusterSpec { cockroach_version: Some("v25.2".into()), ..Default::default() }).unwrap();
        let mixed = UpdateClusterSpec {
            cockroach_version: Some("v25.2".into()),
            labels: Some(BTreeMap::new()),
            ..Default::default()
        };
        assert!(message(update_spec(&mixed)).contains("cannot be combined"));
        let both = UpdateClusterSpec {
            cockroach_version: Some("v25.2".into()),
            upgrade_status: Some(UpgradeStatus::Finalized),
            ..Default::default()
        };
        assert!(message(update_spec(&both)).contains("only one"));
        let zero = UpdateClusterSpec {
            serverless: Some(ServerlessUpdateSpec {
                usage_limits: Some(UsageLimits { provisioned_virtual_cpus: Some(0), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(message(update_spec(&zero)).contains("serverless.usage_limits.provisioned_virtual_cpus"));
    }

    #[test]
    fn machines_are_sized_per_region_or_cluster_wide_not_both() {
        let spec = |regions: BTreeMap<String, MachineSpec>, machine: Option<MachineSpec>| UpdateClusterSpec {
            dedicated: Some(DedicatedUpdateSpec {
                region_machine_specs: Some(regions),
                hardware: Some(HardwareSpec { machine_spec: machine, storage_gib: Some(200), disk_iops: None }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let eight = MachineSpec { num_virtual_cpus: Some(8), machine_type: None };
        let one_region = BTreeMap::from([("us-east-1".to_string(), eight.clone())]);
        let msg = message(update_spec(&spec(one_region.clone(), Some(eight.clone()))));
        assert!(msg.contains("`dedicated.region_machine_specs`") && msg.contains("`dedicated.hardware.machine_spec`"), "{msg}");
        // Per-region machines with cluster-wide storage, or an empty map, are fine.
        update_spec(&spec(one_region, None)).unwrap();
        update_spec(&spec(BTreeMap::new(), Some(eight))).unwrap();
    }

    #[test]
    fn cidrs() {
        assert_eq!(cidr("cidr_ip", "10.0.0.0", 8).unwrap(), (Ipv4Addr::new(10, 0, 0, 0), 8));
        assert_eq!(cidr("cidr_ip", "0.0.0.0", 0).unwrap().1, 0);
        assert_eq!(cidr("cidr_ip", "192.168.1.7", 32).unwrap().1, 32);
        assert!(message(cidr("cidr_ip", "10.0.0.1", 8)).contains("did you mean 10.0.0.0/8"));
        assert!(message(cidr("cidr_ip", "10.0.0.0", 33)).contains("0-32"));
        assert!(message(cidr("cidr_ip", "10.0.0", 8)).contains("cidr_ip"));
        assert!(cidr("cidr_ip", "::1", 128).is_err());
        assert!(cidr_mask_segment("x").is_err());
    }

    #[test]
    fn sql_users_passwords_and_databases() {
        sql_user_name("app_user.v2-x").unwrap();
        sql_user_name("_svc").unwrap();
        assert!(message(sql_user_name("")).contains("`name`"));
        assert!(sql_user_name("-bad").is_err());
        assert!(sql_user_name("has space").is_err());
        assert!(sql_user_name(&"u".repeat(64)).is_err());
        assert!(message(sql_user_name("root")).contains("reserved"));
        password("12345678").unwrap();
        assert!(message(password("short")).contains("`password`"));
        database_name("name", "app_db").unwrap();
        assert!(message(database_name("new_name", "1db")).contains("new_name"));
        assert!(database_name("name", "system").is_err());
    }

    #[test]
    fn backup_values_are_from_the_fixed_sets() {
        backup_values(Some(60), Some(30)).unwrap();
        assert!(message(backup_values(Some(45), None)).contains("frequency_minutes"));
        assert!(message(backup_values(None, Some(3))).contains("retention_days"));
    }
}
