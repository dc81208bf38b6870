//! `CockroachCluster`: a CockroachDB Cloud cluster (serverless BASIC/STANDARD or dedicated ADVANCED).

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CredentialsRef, DeletionPolicy, StatusBase};
use super::settings::{SettingsSpec, SettingsStatus};

/// Desired state of a CockroachDB Cloud cluster.
#[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "crdbcloud.io",
    version = "v1alpha1",
    kind = "CockroachCluster",
    namespaced,
    status = "CockroachClusterStatus",
    shortname = "crdbcluster",
    shortname = "crdbclusters",
    category = "crdbcloud",
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Plan","type":"string","jsonPath":".status.plan"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.cockroachVersion"}"#,
    printcolumn = r#"{"name":"Cluster ID","type":"string","priority":1,"jsonPath":".status.clusterId"}"#,
    validation = Rule::new("has(self.spec.name) || self.metadata.name.matches('^[a-z0-9][a-z0-9-]{4,18}[a-z0-9]$')").message("metadata.name is used as the cloud cluster name when spec.name is unset, and a cloud cluster name must be 6-20 characters of lowercase letters, digits and dashes, without a leading or trailing dash; set spec.name"),
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.serverless) != has(self.dedicated)").message("exactly one of spec.serverless or spec.dedicated must be set"))]
#[x_kube(validation = Rule::new("!has(self.plan) || (self.plan == 'ADVANCED') == has(self.dedicated)").message("spec.plan ADVANCED requires spec.dedicated, and BASIC/STANDARD require spec.serverless"))]
#[x_kube(validation = Rule::new("has(self.serverless) == has(oldSelf.serverless)").message("a cluster cannot move between spec.serverless and spec.dedicated; create a new CockroachCluster instead"))]
#[x_kube(validation = Rule::new("has(self.name) == has(oldSelf.name) && (!has(self.name) || self.name == oldSelf.name)").message("spec.name is immutable"))]
#[x_kube(validation = Rule::new("has(self.adoptClusterId) == has(oldSelf.adoptClusterId) && (!has(self.adoptClusterId) || self.adoptClusterId == oldSelf.adoptClusterId)").message("spec.adoptClusterId is immutable"))]
#[x_kube(validation = Rule::new("!has(self.plan) || !has(oldSelf.plan) || self.plan == oldSelf.plan || (oldSelf.plan == 'BASIC' && self.plan == 'STANDARD')").message("spec.plan can only change from BASIC to STANDARD"))]
#[x_kube(validation = Rule::new("!has(self.logExport) || !has(self.logExport.awsExternalId) || has(self.dedicated)").message("spec.logExport.awsExternalId is only supported on ADVANCED (spec.dedicated) clusters"))]
#[x_kube(validation = Rule::new("!has(self.metricExport) || !has(self.metricExport.cloudwatch) || !has(self.metricExport.cloudwatch.externalId) || has(self.dedicated)").message("spec.metricExport.cloudwatch.externalId is only supported on ADVANCED (spec.dedicated) clusters"))]
#[x_kube(validation = Rule::new("!has(self.cockroachVersion) || !has(self.plan) || self.plan != 'BASIC'").message("spec.cockroachVersion cannot be set on a BASIC cluster (its version is managed by CockroachDB Cloud)"))]
#[x_kube(validation = Rule::new("!has(self.maintenance) || (!has(self.maintenance.window) && !has(self.maintenance.blackoutWindows)) || has(self.dedicated)").message("spec.maintenance.window and spec.maintenance.blackoutWindows are for ADVANCED clusters (spec.dedicated) only"))]
#[x_kube(validation = Rule::new("!has(self.egressTrafficPolicy) || has(self.dedicated)").message("spec.egressTrafficPolicy is only available on ADVANCED (spec.dedicated) clusters"))]
#[x_kube(validation = Rule::new("!has(self.cmek) || has(self.dedicated)").message("spec.cmek is only available on ADVANCED (spec.dedicated) clusters"))]
#[x_kube(validation = Rule::new("!has(self.cmek) || !has(self.dedicated) || self.cmek.regions.all(r, r.region in self.dedicated.regionNodes)").message("spec.cmek.regions must each be one of spec.dedicated.regionNodes"))]
#[x_kube(validation = Rule::new("!has(self.clientCACert) || has(self.dedicated)").message("spec.clientCACert is only available on ADVANCED (spec.dedicated) clusters"))]
#[x_kube(validation = Rule::new("!(has(self.folderRef) && has(self.parentId))").message("at most one of spec.folderRef or spec.parentId may be set"))]
#[x_kube(validation = Rule::new("!has(self.privateEndpoints) || has(self.dedicated) || (has(self.plan) ? self.plan == 'STANDARD' : (has(self.serverless) && has(self.serverless.usageLimits) && has(self.serverless.usageLimits.provisionedVirtualCpus)))").message("spec.privateEndpoints is not available on BASIC clusters: use STANDARD (spec.plan, or spec.serverless.usageLimits.provisionedVirtualCpus) or ADVANCED (spec.dedicated)"))]
pub struct CockroachClusterSpec {
    /// Name of the cluster in CockroachDB Cloud: 6-20 characters of lowercase letters, digits and
    /// dashes, without a leading or trailing dash. Defaults to metadata.name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20), regex(pattern = r"^[a-z0-9][a-z0-9-]{4,18}[a-z0-9]$"))]
    pub name: Option<String>,

    /// Cloud provider hosting the cluster. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.provider is immutable"))]
    pub provider: Provider,

    /// Service plan. BASIC and STANDARD are serverless, ADVANCED is dedicated. Defaults to
    /// ADVANCED for dedicated clusters, STANDARD for serverless clusters with provisioned vCPUs and
    /// BASIC otherwise. May change from BASIC to STANDARD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,

    /// Serverless (BASIC or STANDARD) configuration. Exactly one of serverless or dedicated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless: Option<ServerlessSpec>,

    /// Dedicated (ADVANCED) configuration. Exactly one of serverless or dedicated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated: Option<DedicatedSpec>,

    /// CockroachDB major version, e.g. `v25.2`. Unset means the cloud's default (latest) at
    /// creation and no managed upgrades. Changing it upgrades (or, before finalisation, rolls back)
    /// the cluster in its own operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16), regex(pattern = r"^v[0-9]+\.[0-9]+$"))]
    pub cockroach_version: Option<String>,

    /// Cloud-side delete protection. While true the cloud refuses to delete the cluster and the
    /// operator reports why instead of deleting it. Defaults to false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_protection: Option<bool>,

    /// Labels on the cloud cluster. When set, the operator keeps the cloud labels equal to these
    /// (plus its own ownership label); when unset, cloud labels are left alone. At most 50; keys
    /// match `^[a-z][a-z0-9_-]*$` (1-63 characters), values `^[a-z0-9_-]*$` (at most 63).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Values and the count are plain schema (no CEL cost); keys need CEL, bounded by the count.
    #[schemars(extend("maxProperties" = 50, "additionalProperties" = {"type": "string", "maxLength": 63, "pattern": "^[a-z0-9_-]*$"}))]
    #[x_kube(validation = Rule::new("self.all(k, k.matches('^[a-z][a-z0-9_-]{0,62}$'))").message("spec.labels keys must match ^[a-z][a-z0-9_-]*$ and be 1-63 characters"))]
    pub labels: Option<BTreeMap<String, String>>,

    /// Folder holding the cluster: a folder ID, or `root`. Unset leaves the folder alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(root|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"))]
    pub parent_id: Option<String>,

    /// Folder holding the cluster: a Folder resource in this namespace. The cluster is created (or
    /// moved) once that Folder has its cloud folder. At most one of folderRef and parentId; neither
    /// leaves the folder alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_ref: Option<super::folder::LocalFolderRef>,

    /// ID of an existing cloud cluster to adopt instead of creating one. Its provider and
    /// serverless/dedicated shape must match this spec; the operator then manages it like any other.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 36), regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
    pub adopt_cluster_id: Option<String>,

    /// What happens to the cloud cluster when this resource is deleted: `Delete` (default) deletes
    /// it, `Retain` leaves it running in the cloud.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Manage` (default) makes the cloud match the spec; `Observe` never writes to the cloud and
    /// lists the differences in `status.drift`.
    #[serde(default)]
    pub management_policy: crate::api::common::ManagementPolicy,

    /// Secret with the CockroachDB Cloud API key to use for this cluster, in this namespace.
    /// Defaults to the operator-wide key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<CredentialsRef>,

    /// The setting blocks (backup, ...), each left alone while unset.
    #[serde(flatten)]
    pub settings: SettingsSpec,
}

/// Cloud provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Provider {
    #[serde(rename = "GCP")]
    Gcp,
    #[serde(rename = "AWS")]
    Aws,
    #[serde(rename = "AZURE")]
    Azure,
}

/// Service plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Plan {
    #[serde(rename = "BASIC")]
    Basic,
    #[serde(rename = "STANDARD")]
    Standard,
    #[serde(rename = "ADVANCED")]
    Advanced,
}

/// How CockroachDB upgrades are applied to a serverless cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum UpgradeType {
    #[serde(rename = "AUTOMATIC")]
    Automatic,
    #[serde(rename = "MANUAL")]
    Manual,
}

/// Network visibility of a dedicated cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum NetworkVisibility {
    #[serde(rename = "PUBLIC")]
    Public,
    #[serde(rename = "PRIVATE")]
    Private,
}

/// Serverless cluster configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("size(self.regions) <= 1 || has(self.primaryRegion)").message("spec.serverless.primaryRegion is required when more than one region is listed"))]
#[x_kube(validation = Rule::new("!has(self.primaryRegion) || self.primaryRegion in self.regions").message("spec.serverless.primaryRegion must be one of spec.serverless.regions"))]
#[x_kube(validation = Rule::new("oldSelf.regions.all(r, r in self.regions)").message("spec.serverless.regions cannot be removed from a serverless cluster, only added"))]
pub struct ServerlessSpec {
    /// Regions, in the provider's region names (e.g. `us-central1` on GCP, `us-east-1` on AWS).
    #[schemars(length(min = 1, max = 10))]
    #[schemars(extend("items" = {"type": "string", "minLength": 2, "maxLength": 64, "pattern": "^[a-z0-9-]+$"}))]
    pub regions: Vec<String>,
    /// Primary region; required with more than one region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub primary_region: Option<String>,
    /// Resource limits. STANDARD clusters set provisionedVirtualCpus; BASIC clusters may set
    /// requestUnitLimit and storageMibLimit. Unset means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limits: Option<UsageLimitsSpec>,
    /// AUTOMATIC (default) or MANUAL upgrades. MANUAL is not available on BASIC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_type: Option<UpgradeType>,
}

/// Serverless resource limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.provisionedVirtualCpus) || (!has(self.requestUnitLimit) && !has(self.storageMibLimit))").message("spec.serverless.usageLimits.provisionedVirtualCpus (STANDARD) cannot be combined with requestUnitLimit or storageMibLimit (BASIC)"))]
pub struct UsageLimitsSpec {
    /// Maximum request units per month (BASIC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub request_unit_limit: Option<i64>,
    /// Maximum storage in MiB (BASIC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub storage_mib_limit: Option<i64>,
    /// Provisioned vCPUs (STANDARD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub provisioned_virtual_cpus: Option<i64>,
}

/// Dedicated (ADVANCED) cluster configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.networkVisibility) == has(oldSelf.networkVisibility) && (!has(self.networkVisibility) || self.networkVisibility == oldSelf.networkVisibility)").message("spec.dedicated.networkVisibility is immutable"))]
#[x_kube(validation = Rule::new("has(self.cidrRange) == has(oldSelf.cidrRange) && (!has(self.cidrRange) || self.cidrRange == oldSelf.cidrRange)").message("spec.dedicated.cidrRange is immutable"))]
pub struct DedicatedSpec {
    /// Node count per region, keyed by the provider's region name. Adding a key adds a region,
    /// removing one removes it.
    #[schemars(extend("minProperties" = 1, "maxProperties" = 20, "additionalProperties" = {"type": "integer", "format": "int32", "minimum": 1}))]
    pub region_nodes: BTreeMap<String, i32>,
    /// Per-node hardware.
    pub hardware: HardwareSpec,
    /// PUBLIC (default) or PRIVATE. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_visibility: Option<NetworkVisibility>,
    /// IPv4 range for the cluster's network (GCP only, at most /19). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 18))]
    #[x_kube(validation = Rule::new("isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self).prefixLength() <= 19").message("spec.dedicated.cidrRange must be an IPv4 CIDR no smaller than /19"))]
    pub cidr_range: Option<String>,
}

/// Per-node hardware of a dedicated cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.machineType) != has(self.numVirtualCpus)").message("exactly one of spec.dedicated.hardware.machineType or numVirtualCpus must be set"))]
pub struct HardwareSpec {
    /// Provider machine type, e.g. `n2-standard-4` or `m6i.xlarge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub machine_type: Option<String>,
    /// vCPUs per node; the cloud picks a matching machine type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub num_virtual_cpus: Option<i32>,
    /// Storage per node in GiB.
    #[schemars(range(min = 1))]
    pub storage_gib: i32,
    /// Provisioned disk IOPS per node (AWS only). Unset uses the provider default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub disk_iops: Option<i32>,
}

/// Observed state of a CockroachDB Cloud cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CockroachClusterStatus {
    #[serde(flatten)]
    pub base: StatusBase,
    /// ID of the cloud cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Cloud state: CREATING, CREATED, CREATION_FAILED, DELETED or LOCKED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Operation running in the cloud, e.g. CRDB_SCALE_RUNNING; UNSPECIFIED when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_status: Option<String>,
    /// Plan the cloud reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Full CockroachDB version the cloud reports, e.g. v25.2.4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cockroach_version: Option<String>,
    /// Upgrade status the cloud reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_status: Option<String>,
    /// SQL DNS name of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_dns: Option<String>,
    /// The cloud account the cluster runs in (ADVANCED): an AWS account ID or a GCP project, for
    /// trust relationships with your cloud resources (e.g. the CMEK key's policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Regions with their endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionStatus>,
    /// Set just before the create request is sent, cleared once the cluster ID is recorded. After
    /// a crash it tells the operator to look for a cluster it may already have created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<String>,
    /// What the cloud reports of each setting block the spec sets.
    #[serde(flatten)]
    pub settings: SettingsStatus,
}

/// A region of the cluster as the cloud reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegionStatus {
    /// The region, e.g. us-east-1.
    pub name: String,
    /// The region's SQL endpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sql_dns: String,
    /// The region's DB Console endpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ui_dns: String,
    /// Nodes in the region (dedicated clusters).
    #[serde(default)]
    pub node_count: i32,
}

impl CockroachCluster {
    /// The cloud cluster name: spec.name, defaulting to metadata.name.
    pub fn cloud_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
}
