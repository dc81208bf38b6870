//! `spec.metricExport`: the cluster's metric export to Datadog, Amazon CloudWatch and Prometheus,
//! three independent sub-blocks.

use std::collections::BTreeMap;

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::api::common::SecretKeyRef;

/// Metric export of the cluster. Each sub-block is managed only while set; removing one stops
/// managing it (the export keeps running); `enabled: false` turns it off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.datadog) || has(self.cloudwatch) || has(self.prometheus)").message("spec.metricExport must set at least one of datadog, cloudwatch or prometheus (remove the block to leave metric export alone)"))]
pub struct MetricExportSpec {
    /// Export to Datadog. Unset: left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datadog: Option<DatadogExportSpec>,
    /// Export to Amazon CloudWatch. Unset: left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch: Option<CloudWatchExportSpec>,
    /// Prometheus scrape endpoints. Unset: left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusExportSpec>,
}

/// The Datadog site (the cloud's `DatadogSite.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum DatadogSite {
    #[serde(rename = "US1")]
    Us1,
    #[serde(rename = "US3")]
    Us3,
    #[serde(rename = "US5")]
    Us5,
    #[serde(rename = "US1_GOV")]
    Us1Gov,
    #[serde(rename = "EU1")]
    Eu1,
}

/// Metric export to Datadog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.enabled) && !self.enabled) || (has(self.site) && has(self.apiKeySecretRef))").message("spec.metricExport.datadog needs site and apiKeySecretRef (or enabled: false to turn it off)"))]
pub struct DatadogExportSpec {
    /// Whether metrics go to Datadog. `false` turns the export off. Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The Datadog site: US1, US3, US5, US1_GOV or EU1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<DatadogSite>,
    /// The Secret key, in this namespace, holding the Datadog API key. The key is sent to the
    /// cloud and never shown anywhere; changing the Secret's value sends the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeyRef>,
}

/// Metric export to Amazon CloudWatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.enabled) && !self.enabled) || has(self.roleArn)").message("spec.metricExport.cloudwatch needs roleArn (or enabled: false to turn it off)"))]
pub struct CloudWatchExportSpec {
    /// Whether metrics go to CloudWatch. `false` turns the export off. Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// ARN of the IAM role the cluster assumes to upload metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"))]
    pub role_arn: Option<String>,
    /// AWS region the metrics go to. Unset: the cloud's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 64), regex(pattern = r"^[a-z0-9-]+$"))]
    pub target_region: Option<String>,
    /// CloudWatch log group name. Unset: the cloud's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), regex(pattern = r"^[A-Za-z0-9._/#-]+$"))]
    pub log_group_name: Option<String>,
    /// External ID sent when assuming the role, if its trust policy requires one. ADVANCED
    /// clusters only (the cloud refuses it on BASIC/STANDARD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224))]
    pub external_id: Option<String>,
}

/// Prometheus scrape endpoints for the cluster's metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusExportSpec {
    /// `true` enables the scrape endpoints, `false` turns them off.
    pub enabled: bool,
}

/// What the cloud reports of each metric export the spec sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricExportStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datadog: Option<DatadogExportStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch: Option<ExportState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusExportStatus>,
}

impl MetricExportStatus {
    /// `None` once no sub-block is reported.
    pub fn or_none(self) -> Option<Self> {
        (self != Self::default()).then_some(self)
    }
}

/// The cloud's state of a metric export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportState {
    /// NOT_DEPLOYED, ENABLING, ENABLED, DISABLING or ERROR; NOT_CONFIGURED when the cloud has none.
    pub status: String,
    /// The cloud's explanation of a failing export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_message: Option<String>,
}

/// The Datadog export the cloud reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatadogExportStatus {
    #[serde(flatten)]
    pub state: ExportState,
    /// The Datadog site metrics go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// A salted fingerprint of the API key last sent, so a changed Secret is noticed (never the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_fingerprint: Option<String>,
}

/// The Prometheus export the cloud reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusExportStatus {
    #[serde(flatten)]
    pub state: ExportState,
    /// The scrape target of each region.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, String>,
}
