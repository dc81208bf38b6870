//! Typed models of the CockroachDB Cloud API (official description, API version 2024-09-16).
//!
//! Field names are the wire names. Two encodings need care:
//! - int64 values travel as JSON strings (`"provisioned_virtual_cpus": "2"`); see [`int64_string`].
//! - enums are proto-backed and grow over time, so every enum keeps unknown values instead of failing
//!   deserialisation; see [`cloud_enum!`].
//!
//! The simulator serves these same types, so client and simulator cannot drift apart silently; the
//! conformance test checks both against the official description.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Declares a string enum of the Cloud API that tolerates values added after this build:
/// unknown values deserialise to `Unknown(String)` and serialise back unchanged.
macro_rules! cloud_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant,)+
            /// A value this build does not know yet.
            Unknown(String),
        }

        impl $name {
            /// Every value the official description lists.
            pub const KNOWN: &'static [&'static str] = &[$($wire),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Unknown(other) => other.as_str(),
                }
            }

            /// Parses a wire value; `None` for values the description does not list.
            pub fn parse_known(value: &str) -> Option<Self> {
                match value {
                    $($wire => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::parse_known(value).unwrap_or_else(|| Self::Unknown(value.to_string()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Ok(Self::from(value.as_str()))
            }
        }
    };
}

cloud_enum!(
    /// `CloudProvider.Type`
    CloudProvider { Gcp => "GCP", Aws => "AWS", Azure => "AZURE" }
);
cloud_enum!(
    /// `Plan.Type`: BASIC and STANDARD are serverless, ADVANCED is dedicated.
    Plan { Basic => "BASIC", Standard => "STANDARD", Advanced => "ADVANCED" }
);
cloud_enum!(
    /// `ClusterState.Type`
    ClusterState {
        Creating => "CREATING",
        Created => "CREATED",
        CreationFailed => "CREATION_FAILED",
        Deleted => "DELETED",
        Locked => "LOCKED",
    }
);
cloud_enum!(
    /// `ClusterStatus.Type`: the operation running on a cluster, `UNSPECIFIED` when none.
    OperationStatus {
        Unspecified => "UNSPECIFIED",
        MajorUpgradeRunning => "CRDB_MAJOR_UPGRADE_RUNNING",
        MajorUpgradeFailed => "CRDB_MAJOR_UPGRADE_FAILED",
        MajorRollbackRunning => "CRDB_MAJOR_ROLLBACK_RUNNING",
        MajorRollbackFailed => "CRDB_MAJOR_ROLLBACK_FAILED",
        PatchRunning => "CRDB_PATCH_RUNNING",
        PatchFailed => "CRDB_PATCH_FAILED",
        ScaleRunning => "CRDB_SCALE_RUNNING",
        ScaleFailed => "CRDB_SCALE_FAILED",
        MaintenanceRunning => "MAINTENANCE_RUNNING",
        InstanceUpdateRunning => "CRDB_INSTANCE_UPDATE_RUNNING",
        InstanceUpdateFailed => "CRDB_INSTANCE_UPDATE_FAILED",
        EditClusterRunning => "CRDB_EDIT_CLUSTER_RUNNING",
        EditClusterFailed => "CRDB_EDIT_CLUSTER_FAILED",
        CmekOperationRunning => "CRDB_CMEK_OPERATION_RUNNING",
        CmekOperationFailed => "CRDB_CMEK_OPERATION_FAILED",
        TenantRestoreRunning => "TENANT_RESTORE_RUNNING",
        TenantRestoreFailed => "TENANT_RESTORE_FAILED",
        LogExportOperationRunning => "CRDB_LOG_EXPORT_OPERATION_RUNNING",
        LogExportOperationFailed => "CRDB_LOG_EXPORT_OPERATION_FAILED",
        ClusterDisruptionRunning => "CRDB_CLUSTER_DISRUPTION_RUNNING",
        ClusterDisruptionFailed => "CRDB_CLUSTER_DISRUPTION_FAILED",
        RepaveRunning => "CRDB_REPAVE_RUNNING",
        RepaveFailed => "CRDB_REPAVE_FAILED",
        CustomClientCaRunning => "CRDB_CUSTOM_CLIENT_CA_RUNNING",
        CustomClientCaFailed => "CRDB_CUSTOM_CLIENT_CA_FAILED",
        DedicatedFullClusterRestoreRunning => "DEDICATED_FULL_CLUSTER_RESTORE_RUNNING",
        DedicatedFullClusterRestoreFailed => "DEDICATED_FULL_CLUSTER_RESTORE_FAILED",
    }
);

impl OperationStatus {
    /// True while an operation is in progress (the wire names end in `_RUNNING`).
    pub fn is_running(&self) -> bool {
        self.as_str().ends_with("_RUNNING")
    }
    /// True when the last operation failed (the wire names end in `_FAILED`).
    pub fn is_failed(&self) -> bool {
        self.as_str().ends_with("_FAILED")
    }
}

cloud_enum!(
    /// `ClusterUpgradeStatus.Type`
    UpgradeStatus {
        Finalized => "FINALIZED",
        MajorUpgradeRunning => "MAJOR_UPGRADE_RUNNING",
        UpgradeAvailable => "UPGRADE_AVAILABLE",
        PendingFinalization => "PENDING_FINALIZATION",
        RollbackRunning => "ROLLBACK_RUNNING",
    }
);
cloud_enum!(
    /// `DeleteProtectionState.Type`
    DeleteProtection { Enabled => "ENABLED", Disabled => "DISABLED" }
);
cloud_enum!(
    /// `NetworkVisibility.Type`
    NetworkVisibility { Public => "PUBLIC", Private => "PRIVATE" }
);
cloud_enum!(
    /// `EgressTrafficPolicy.Type`
    EgressTrafficPolicy {
        Unspecified => "UNSPECIFIED",
        Error => "ERROR",
        AllowAll => "ALLOW_ALL",
        DefaultDeny => "DEFAULT_DENY",
        Updating => "UPDATING",
    }
);
cloud_enum!(
    /// `UpgradeType.Type`
    UpgradeType { Manual => "MANUAL", Automatic => "AUTOMATIC" }
);
cloud_enum!(
    /// `ClusterMajorVersionSupportStatus.Type`
    SupportStatus { Unsupported => "UNSUPPORTED", Supported => "SUPPORTED", Preview => "PREVIEW" }
);
cloud_enum!(
    /// `ReleaseType.Type`
    ReleaseType { Regular => "REGULAR", Innovation => "INNOVATION" }
);

impl From<bool> for DeleteProtection {
    fn from(enabled: bool) -> Self {
        if enabled { Self::Enabled } else { Self::Disabled }
    }
}

/// int64 values travel as JSON strings. Serialises as a string; accepts a string or a number.
pub mod int64_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Text(String),
        Number(i64),
    }

    pub fn serialize<S: Serializer>(value: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.serialize_str(&v.to_string()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        match Option::<Wire>::deserialize(deserializer)? {
            None => Ok(None),
            Some(Wire::Number(n)) => Ok(Some(n)),
            Some(Wire::Text(s)) if s.is_empty() => Ok(None),
            Some(Wire::Text(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("expected an int64 encoded as a string, got {s:?}"))),
        }
    }
}

/// `KeysetPaginationResponse`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pagination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_page: Option<String>,
}

impl Pagination {
    /// The token of the next page, if there is one (absent and empty both mean "last page").
    pub fn next(&self) -> Option<&str> {
        self.next_page.as_deref().filter(|t| !t.is_empty())
    }
}

/// `Status`: the error body. `code` is a gRPC status code, not an HTTP status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorStatus {
    #[serde(default)]
    pub code: i32,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: Vec<serde_json::Value>,
}

/// gRPC status codes used in error bodies.
pub mod grpc_code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const NOT_FOUND: i32 = 5;
    pub const ALREADY_EXISTS: i32 = 6;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// `Organization`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: String,
    pub label: String,
    pub name: String,
    pub created_at: String,
}

/// `UsageLimits` (serverless). All three are int64 on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageLimits {
    #[serde(default, with = "int64_string", skip_serializing_if = "Option::is_none")]
    pub provisioned_virtual_cpus: Option<i64>,
    #[serde(default, with = "int64_string", skip_serializing_if = "Option::is_none")]
    pub request_unit_limit: Option<i64>,
    #[serde(default, with = "int64_string", skip_serializing_if = "Option::is_none")]
    pub storage_mib_limit: Option<i64>,
}

/// `ServerlessClusterConfig`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerlessClusterConfig {
    pub routing_id: String,
    pub upgrade_type: UpgradeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limits: Option<UsageLimits>,
}

/// `DedicatedHardwareConfig`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DedicatedHardwareConfig {
    pub machine_type: String,
    pub num_virtual_cpus: i32,
    pub storage_gib: i32,
    pub memory_gib: f32,
    pub disk_iops: i32,
}

/// `ClusterConfig`: exactly one of the two is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless: Option<ServerlessClusterConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated: Option<DedicatedHardwareConfig>,
}

/// `Region`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub name: String,
    #[serde(default)]
    pub sql_dns: String,
    #[serde(default)]
    pub ui_dns: String,
    #[serde(default)]
    pub internal_dns: String,
    #[serde(default)]
    pub private_endpoint_dns: String,
    #[serde(default)]
    pub node_count: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    /// The machine this region's nodes run on. Not in the 2024-09-16 description but served to
    /// clients of the official SDK v8, for ADVANCED regions only: a cluster resized per region
    /// (`DedicatedUpdateSpec::region_machine_specs`) has regions that differ from
    /// `config.dedicated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_type: Option<String>,
    /// The vCPUs per node of `machine_type` (SDK v8, ADVANCED regions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_virtual_cpus: Option<i32>,
}

/// `Cluster`. Fields the operator does not act on are kept loosely typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub cockroach_version: String,
    pub upgrade_status: UpgradeStatus,
    pub plan: Plan,
    pub cloud_provider: CloudProvider,
    pub state: ClusterState,
    #[serde(default)]
    pub creator_id: String,
    pub operation_status: OperationStatus,
    #[serde(default)]
    pub config: ClusterConfig,
    #[serde(default)]
    pub regions: Vec<Region>,
    #[serde(default)]
    pub cidr_range: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Listed as required by the description but not defined there; kept when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_customer_cloud_account: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_protection: Option<DeleteProtection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_visibility: Option<NetworkVisibility>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_traffic_policy: Option<EgressTrafficPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_dns: Option<String>,
}

impl Cluster {
    /// True once the cloud reports the cluster usable and no operation is running on it.
    pub fn is_settled(&self) -> bool {
        self.state == ClusterState::Created && !self.operation_status.is_running()
    }
    pub fn delete_protection_enabled(&self) -> bool {
        self.delete_protection == Some(DeleteProtection::Enabled)
    }
}

/// `ListClustersResponse`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListClustersResponse {
    pub clusters: Vec<Cluster>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `ServerlessClusterCreateSpecification`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerlessCreateSpec {
    pub regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limits: Option<UsageLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_type: Option<UpgradeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_empty_ip_allowlist: Option<bool>,
}

/// `DedicatedMachineTypeSpecification`: `machine_type` or `num_virtual_cpus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_virtual_cpus: Option<i32>,
}

/// `DedicatedHardwareCreateSpecification` and `DedicatedHardwareUpdateSpecification` (the update form
/// makes `machine_spec` and `storage_gib` optional, which this shape allows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_spec: Option<MachineSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_gib: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_iops: Option<i32>,
}

/// `DedicatedClusterCreateSpecification`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DedicatedCreateSpec {
    pub region_nodes: BTreeMap<String, i32>,
    pub hardware: HardwareSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cockroach_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_visibility: Option<NetworkVisibility>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_range: Option<String>,
}

/// `CreateClusterSpecification`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateClusterSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless: Option<ServerlessCreateSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated: Option<DedicatedCreateSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_protection: Option<DeleteProtection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
}

/// `CreateClusterRequest`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateClusterRequest {
    pub name: String,
    pub provider: CloudProvider,
    pub spec: CreateClusterSpec,
}

/// `ServerlessClusterUpdateSpecification`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerlessUpdateSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limits: Option<UsageLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_type: Option<UpgradeType>,
}

/// `DedicatedClusterUpdateSpecification` (CMEK specs are not managed by this operator).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DedicatedUpdateSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_nodes: Option<BTreeMap<String, i32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<HardwareSpec>,
    /// A machine per region name; only the named regions change. Not in the 2024-09-16
    /// description but sent by clients of the official SDK v8, so the simulator accepts it; the
    /// operator never sets it (it sizes every region alike through `hardware.machine_spec`, with
    /// which this field is mutually exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_machine_specs: Option<BTreeMap<String, MachineSpec>>,
}

/// `UpdateClusterSpecification`. Version changes (`cockroach_version`, `upgrade_status`) must travel
/// alone in their own PATCH.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateClusterSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cockroach_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_status: Option<UpgradeStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless: Option<ServerlessUpdateSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated: Option<DedicatedUpdateSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_protection: Option<DeleteProtection>,
    /// When present, replaces the whole label set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

impl UpdateClusterSpec {
    /// True when the PATCH would change nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `ClusterMajorVersion`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterMajorVersion {
    pub version: String,
    pub support_status: SupportStatus,
    pub support_end: String,
    pub release_type: ReleaseType,
    #[serde(default)]
    pub allowed_upgrades: Vec<String>,
}

/// `ListMajorClusterVersionsResponse`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListClusterVersionsResponse {
    pub versions: Vec<ClusterMajorVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `CloudProviderRegion`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudProviderRegion {
    pub name: String,
    pub location: String,
    pub provider: CloudProvider,
    pub serverless: bool,
    pub distance: f32,
}

/// `ListAvailableRegionsResponse`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListAvailableRegionsResponse {
    pub regions: Vec<CloudProviderRegion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `ConnectionStringParameters`: note the capitalised wire names and the string port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionStringParameters {
    #[serde(rename = "Host")]
    pub host: String,
    #[serde(rename = "Port")]
    pub port: String,
    #[serde(rename = "Database")]
    pub database: String,
    #[serde(rename = "Username", default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// `GetConnectionStringResponse`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionString {
    pub connection_string: String,
    pub params: ConnectionStringParameters,
}

/// `SQLUser`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlUser {
    pub name: String,
}

/// `ListSQLUsersResponse`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListSqlUsersResponse {
    pub users: Vec<SqlUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `CreateSQLUserRequest`. Deliberately not `Debug`: it carries a password.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreateSqlUserRequest {
    pub name: String,
    pub password: String,
}

/// `UpdateSQLUserPasswordRequest`. Deliberately not `Debug`: it carries a password.
#[derive(Clone, Serialize, Deserialize)]
pub struct UpdateSqlUserPasswordRequest {
    pub password: String,
}

/// `Database`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    pub name: String,
    #[serde(default, with = "int64_string", skip_serializing_if = "Option::is_none")]
    pub table_count: Option<i64>,
}

/// `ListDatabasesResponse`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListDatabasesResponse {
    pub databases: Vec<Database>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `CreateDatabaseRequest`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateDatabaseRequest {
    pub name: String,
}

/// `UpdateDatabaseRequest` (the path-addressed rename).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateDatabaseRequest {
    pub new_name: String,
}

/// `AllowlistEntry`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistEntry {
    pub cidr_ip: String,
    pub cidr_mask: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub sql: bool,
    pub ui: bool,
}

/// Body of the allowlist PATCH/PUT: the CIDR lives in the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistEntryUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub sql: bool,
    pub ui: bool,
}

/// `ListAllowlistEntriesResponse`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListAllowlistResponse {
    pub allowlist: Vec<AllowlistEntry>,
    #[serde(default)]
    pub propagating: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `BackupConfiguration`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupConfiguration {
    pub enabled: bool,
    pub retention_days: i32,
    pub frequency_minutes: i32,
}

/// `UpdateBackupConfigurationSpec`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateBackupConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_minutes: Option<i32>,
}

/// `MaintenanceWindow`: a weekly window of an ADVANCED cluster. Both durations are protobuf
/// durations on the wire (`"172800s"`): the offset from Monday 00:00 UTC, under a week, and the
/// length, at least 6 hours and under a week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub offset_duration: String,
    pub window_duration: String,
}

/// `BlackoutWindow`: up to 14 days in which an ADVANCED cluster runs no disruptive operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlackoutWindow {
    pub id: String,
    pub cluster_id: String,
    /// RFC 3339, UTC.
    pub start_time: String,
    pub end_time: String,
}

/// `ListBlackoutWindowsResponse`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListBlackoutWindowsResponse {
    #[serde(default)]
    pub blackout_windows: Vec<BlackoutWindow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `CreateBlackoutWindowRequest`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateBlackoutWindowRequest {
    pub start_time: String,
    pub end_time: String,
}

/// `UpdateBlackoutWindowRequest`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateBlackoutWindowRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

cloud_enum!(
    /// `ClusterVersionDeferralPolicy.Type` (FIXED_DEFERRAL is the deprecated spelling of 60 days).
    DeferralPolicy {
        NotDeferred => "NOT_DEFERRED",
        Deferral60Days => "DEFERRAL_60_DAYS",
        FixedDeferral => "FIXED_DEFERRAL",
        Deferral30Days => "DEFERRAL_30_DAYS",
        Deferral90Days => "DEFERRAL_90_DAYS",
    }
);

/// `ClusterVersionDeferral`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterVersionDeferral {
    pub deferral_policy: DeferralPolicy,
    /// When the next patch upgrade may be applied; absent when nothing is deferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred_until: Option<String>,
}

/// `ClusterVersionDeferralUpdate` (its `deferred_until` is deprecated and ignored, so never sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterVersionDeferralUpdate {
    pub deferral_policy: DeferralPolicy,
}
mod exports;
pub use exports::*;
mod roles;
pub use roles::*;
mod egress_rules;
pub use egress_rules::*;
mod accounts;
pub use accounts::*;
mod jwt_issuers;
pub use jwt_issuers::*;
mod private_endpoints;
pub use private_endpoints::*;
/// `SetEgressTrafficPolicyRequest`. The answer is an empty object; the policy is read back from
/// `Cluster.egress_traffic_policy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetEgressTrafficPolicyRequest {
    pub allow_all: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// The empty object some operations answer with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

cloud_enum!(
    /// `CMEKKeyType`
    CmekKeyType { AwsKms => "AWS_KMS", GcpCloudKms => "GCP_CLOUD_KMS", NullKms => "NULL_KMS", AzureKeyVault => "AZURE_KEY_VAULT" }
);
cloud_enum!(
    /// `CMEKStatus`
    CmekStatus {
        Disabled => "DISABLED",
        Disabling => "DISABLING",
        DisableFailed => "DISABLE_FAILED",
        Enabled => "ENABLED",
        Enabling => "ENABLING",
        EnableFailed => "ENABLE_FAILED",
        Rotating => "ROTATING",
        RotateFailed => "ROTATE_FAILED",
        Revoked => "REVOKED",
        Revoking => "REVOKING",
        RevokeFailed => "REVOKE_FAILED",
    }
);

/// `CMEKKeySpecification`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmekKeySpec {
    #[serde(rename = "type")]
    pub key_type: CmekKeyType,
    pub uri: String,
    pub auth_principal: String,
}

/// `CMEKRegionSpecification`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmekRegionSpec {
    pub region: String,
    pub key_spec: CmekKeySpec,
}

/// `CMEKClusterSpecification`: the body of EnableCMEKSpec and UpdateCMEKSpec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmekClusterSpec {
    pub region_specs: Vec<CmekRegionSpec>,
}

/// `CMEKKeyInfo`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmekKeyInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<CmekKeySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CmekStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// `CMEKRegionInfo`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmekRegionInfo {
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CmekStatus>,
    #[serde(default)]
    pub key_infos: Vec<CmekKeyInfo>,
}

impl CmekRegionInfo {
    /// The key in use: the newest one not disabled (a rotation keeps the old key listed).
    pub fn current_key(&self) -> Option<&CmekKeySpec> {
        self.key_infos.iter().rev().filter(|k| k.status != Some(CmekStatus::Disabled)).find_map(|k| k.spec.as_ref())
    }
}

/// `CMEKClusterInfo`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmekClusterInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CmekStatus>,
    #[serde(default)]
    pub region_infos: Vec<CmekRegionInfo>,
}

cloud_enum!(
    /// `ClientCACertStatus`
    ClientCaCertStatus { NotSet => "NOT_SET", IsSet => "IS_SET", Pending => "PENDING", Failed => "FAILED" }
);

/// `ClientCACertInfo`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCaCertInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ClientCaCertStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_pem_cert: Option<String>,
}

/// `SetClientCACertRequest` and `UpdateClientCACertRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCaCertRequest {
    pub x509_pem_cert: String,
}

cloud_enum!(
    /// `NodeStatus.Type`
    NodeStatus { Live => "LIVE", NotReady => "NOT_READY" }
);

/// `Node`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub region_name: String,
    pub status: NodeStatus,
}

/// `ListClusterNodesResponse`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListClusterNodesResponse {
    pub nodes: Vec<Node>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// Query parameters of every keyset-paginated list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageRequest {
    #[serde(rename = "pagination.page", default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(rename = "pagination.limit", default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_values_survive_a_round_trip() {
        let state: ClusterState = serde_json::from_str("\"HIBERNATING\"").unwrap();
        assert_eq!(state, ClusterState::Unknown("HIBERNATING".into()));
        assert_eq!(serde_json::to_string(&state).unwrap(), "\"HIBERNATING\"");
        let plan: Plan = serde_json::from_str("\"STANDARD\"").unwrap();
        assert_eq!(plan, Plan::Standard);
    }

    #[test]
    fn int64_values_are_strings_on_the_wire() {
        let limits = UsageLimits { provisioned_virtual_cpus: Some(2), ..Default::default() };
        assert_eq!(serde_json::to_string(&limits).unwrap(), r#"{"provisioned_virtual_cpus":"2"}"#);
        let parsed: UsageLimits = serde_json::from_str(r#"{"request_unit_limit":"5000","storage_mib_limit":7}"#).unwrap();
        assert_eq!(parsed.request_unit_limit, Some(5000));
        assert_eq!(parsed.storage_mib_limit, Some(7));
        assert!(serde_json::from_str::<UsageLimits>(r#"{"request_unit_limit":"many"}"#).is_err());
    }

    #[test]
    fn operation_status_classifies_running_and_failed() {
        assert!(OperationStatus::ScaleRunning.is_running());
        assert!(OperationStatus::from("CRDB_SOMETHING_NEW_RUNNING").is_running());
        assert!(OperationStatus::EditClusterFailed.is_failed());
        assert!(!OperationStatus::Unspecified.is_running());
    }

    #[test]
    fn pagination_treats_empty_token_as_last_page() {
        let p = Pagination { next_page: Some(String::new()), previous_page: None };
        assert_eq!(p.next(), None);
    }
}

mod folders;
pub use folders::*;
