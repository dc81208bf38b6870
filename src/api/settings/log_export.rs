//! `spec.logExport`: the cluster's log export to the customer's cloud log sink.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::api::common::SecretKeyRef;

/// Where logs go (the cloud's `LogExportType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum LogExportType {
    #[serde(rename = "AWS_CLOUDWATCH")]
    AwsCloudwatch,
    #[serde(rename = "GCP_CLOUD_LOGGING")]
    GcpCloudLogging,
    #[serde(rename = "AZURE_LOG_ANALYTICS")]
    AzureLogAnalytics,
}

/// The least severe level a group exports (the cloud's `LogLevel.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum LogLevel {
    #[serde(rename = "UNSPECIFIED")]
    Unspecified,
    #[serde(rename = "WARNING")]
    Warning,
    #[serde(rename = "ERROR")]
    Error,
    #[serde(rename = "FATAL")]
    Fatal,
}

/// Log export of the cluster. Unset: the cloud's log export is left as it is. Removing the block
/// stops managing it (the export keeps running); `enabled: false` turns it off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.enabled) && !self.enabled) || (has(self.type) && has(self.logName) && has(self.authPrincipal))").message("spec.logExport needs type, logName and authPrincipal (or enabled: false to turn log export off)"))]
#[x_kube(validation = Rule::new("!has(self.awsExternalId) || (has(self.type) && self.type == 'AWS_CLOUDWATCH')").message("spec.logExport.awsExternalId is only for type AWS_CLOUDWATCH"))]
#[x_kube(validation = Rule::new("(has(self.enabled) && !self.enabled) || !has(self.type) || self.type != 'AZURE_LOG_ANALYTICS' || has(self.azureSharedKeySecretRef)").message("spec.logExport.azureSharedKeySecretRef is required for type AZURE_LOG_ANALYTICS (the Secret key holding the workspace's shared key)"))]
#[x_kube(validation = Rule::new("!has(self.azureSharedKeySecretRef) || (has(self.type) && self.type == 'AZURE_LOG_ANALYTICS')").message("spec.logExport.azureSharedKeySecretRef is only for type AZURE_LOG_ANALYTICS"))]
#[x_kube(validation = Rule::new("!has(self.type) || self.type != 'AZURE_LOG_ANALYTICS' || !has(self.authPrincipal) || self.authPrincipal.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')").message("spec.logExport.authPrincipal must be the Log Analytics workspace ID (a GUID) for type AZURE_LOG_ANALYTICS"))]
pub struct LogExportSpec {
    /// Whether logs are exported. `false` turns the cloud's log export off. Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The sink: AWS_CLOUDWATCH, GCP_CLOUD_LOGGING or AZURE_LOG_ANALYTICS (which also needs
    /// `azureSharedKeySecretRef`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<LogExportType>,
    /// Name of the logs in the sink (the CloudWatch log group, the GCP log name; for Azure Log
    /// Analytics, the name the logs carry in the workspace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^[A-Za-z0-9._/#-]+$"))]
    pub log_name: Option<String>,
    /// CloudWatch: the ARN of the IAM role the cluster assumes to write logs; GCP Cloud Logging:
    /// the project ID the cluster's service account writes to; Azure Log Analytics: the
    /// workspace ID (also called customer ID, a GUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub auth_principal: Option<String>,
    /// External ID sent when assuming the CloudWatch role, if its trust policy requires one.
    /// ADVANCED clusters only (the cloud refuses it on BASIC/STANDARD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224))]
    pub aws_external_id: Option<String>,
    /// AZURE_LOG_ANALYTICS only (and required there): the Secret key, in this namespace, holding
    /// the workspace's primary or secondary shared key. The key is sent to the cloud and never
    /// shown anywhere; changing the Secret's value sends the configuration again with the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_shared_key_secret_ref: Option<SecretKeyRef>,
    /// Sends every log to this region of the sink instead of each node's own region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 64), regex(pattern = r"^[a-z0-9-]+$"))]
    pub region: Option<String>,
    /// Redacts sensitive information from the exported logs (groups may override). Defaults to false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact: Option<bool>,
    /// Groups of CockroachDB log channels exported under their own name; channels in no group go
    /// to `logName`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub groups: Vec<LogExportGroupSpec>,
    /// CockroachDB log channels not exported at all (e.g. `SESSIONS`, `SQL_PERF`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), extend("items" = {"type": "string", "minLength": 2, "maxLength": 64, "pattern": "^[A-Z][A-Z_]*$"}))]
    pub omitted_channels: Vec<String>,
}

/// A group of log channels exported under its own log name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogExportGroupSpec {
    /// Name of the group in the sink.
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^[A-Za-z0-9._/#-]+$"))]
    pub log_name: String,
    /// CockroachDB log channels in the group (e.g. `OPS`, `HEALTH`, `SQL_SCHEMA`).
    #[schemars(length(min = 1, max = 32), extend("items" = {"type": "string", "minLength": 2, "maxLength": 64, "pattern": "^[A-Z][A-Z_]*$"}))]
    pub channels: Vec<String>,
    /// The least severe level exported: UNSPECIFIED (all), WARNING, ERROR or FATAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_level: Option<LogLevel>,
    /// Redacts this group's logs; unset inherits `spec.logExport.redact`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact: Option<bool>,
}

/// The log export the cloud reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogExportStatus {
    /// The cloud's state of the export: ENABLING, ENABLED, ENABLE_FAILED, CREDENTIALS_ERROR,
    /// DISABLING, DISABLED, DISABLE_FAILED; NOT_CONFIGURED when the cloud has none.
    pub status: String,
    /// The cloud's explanation of a failing export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_message: Option<String>,
    /// The log sink: AWS_CLOUDWATCH, GCP_CLOUD_LOGGING or AZURE_LOG_ANALYTICS.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The log name (or prefix) in the sink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_name: Option<String>,
    /// When the cloud last changed the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// AZURE_LOG_ANALYTICS: a salted fingerprint of the shared key last sent, so a changed Secret
    /// is noticed (never the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_shared_key_fingerprint: Option<String>,
}
