//! The setting blocks of `CockroachCluster.spec`: one file per block with its spec and status
//! types, gathered here into the two structs the cluster flattens into its spec and status. Unset
//! means "left alone".

pub mod backup;
pub mod client_ca;
pub mod cmek;
pub mod egress;
pub mod log_export;
pub mod maintenance;
pub mod metric_export;
pub mod upgrade;
pub mod private_endpoints;

use serde::{Deserialize, Serialize};

/// The setting blocks of a cluster's spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, kube::KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsSpec {
    /// Managed backups (the cloud's backups-config). Unset: left as the cloud has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<backup::BackupSpec>,
    /// Maintenance scheduling: the weekly window, blackout windows, patch-upgrade deferral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<maintenance::MaintenanceSpec>,
    /// How major version upgrades are finalized. Unset: the cloud finalizes after 72 hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<upgrade::UpgradeSpec>,
    /// Log export to the customer's cloud log sink. Unset: left as the cloud has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_export: Option<log_export::LogExportSpec>,
    /// Metric export to Datadog, CloudWatch and Prometheus. Unset: left as the cloud has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_export: Option<metric_export::MetricExportSpec>,
    /// AllowAll or DefaultDeny outbound traffic (ADVANCED only). Unset: left as the cloud has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_traffic_policy: Option<egress::EgressTrafficPolicy>,
    /// Customer-managed encryption keys per region (ADVANCED only). Unset: left as the cloud has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmek: Option<cmek::CmekSpec>,
    /// The client CA certificate, from a Secret or ConfigMap (ADVANCED only). Unset: left as the cloud has it.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "clientCACert")]
    pub client_ca_cert: Option<client_ca::ClientCaCertSpec>,
    /// The private endpoint services (STANDARD and ADVANCED only); cannot be turned off once
    /// created. Unset: left as the cloud has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_endpoints: Option<private_endpoints::PrivateEndpointsSpec>,
}

impl SettingsSpec {
    /// The Secrets the blocks refer to (their names, in the cluster's namespace): a change of one
    /// wakes the cluster.
    pub fn referenced_secrets(&self) -> Vec<&str> {
        let datadog = self.metric_export.as_ref().and_then(|m| m.datadog.as_ref()).and_then(|d| d.api_key_secret_ref.as_ref()).map(|r| r.name.as_str());
        let azure = self.log_export.as_ref().and_then(|l| l.azure_shared_key_secret_ref.as_ref()).map(|r| r.name.as_str());
        let client_ca = self.client_ca_cert.as_ref().and_then(|c| c.secret_ref.as_ref()).map(|r| r.name.as_str());
        datadog.into_iter().chain(azure).chain(client_ca).collect()
    }

    /// The ConfigMaps the blocks refer to: a change of one wakes the cluster.
    pub fn referenced_config_maps(&self) -> Vec<&str> {
        self.client_ca_cert.as_ref().and_then(|c| c.config_map_ref.as_ref()).map(|r| r.name.as_str()).into_iter().collect()
    }
}

/// What the cloud reports of each setting block the spec sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsStatus {
    /// The backup configuration, while spec.backup is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<backup::BackupStatus>,
    /// The maintenance settings, for the spec.maintenance fields that are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<maintenance::MaintenanceStatus>,
    /// The upgrade awaiting finalization, while spec.upgrade is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<upgrade::UpgradeStatus>,
    /// The log export, while spec.logExport is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_export: Option<log_export::LogExportStatus>,
    /// The metric exports, while spec.metricExport sets them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_export: Option<metric_export::MetricExportStatus>,
    /// The egress traffic policy the cloud reports (ALLOW_ALL, DEFAULT_DENY, UPDATING, ...), while
    /// spec.egressTrafficPolicy is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_traffic_policy: Option<String>,
    /// CMEK as the cloud reports it, while spec.cmek is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmek: Option<cmek::CmekStatus>,
    /// The client CA as the cloud reports it, while spec.clientCACert is set.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "clientCACert")]
    pub client_ca_cert: Option<client_ca::ClientCaCertStatus>,
    /// The private endpoint services per region, while spec.privateEndpoints is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_endpoints: Option<private_endpoints::PrivateEndpointsStatus>,
}
