//! Log and metric export: `logexport` and `metricexport/{datadog,cloudwatch,prometheus}`, typed
//! per the official schemas (`LogExportClusterInfo`, `EnableLogExportRequest`,
//! `*MetricExportInfo`, `Enable*MetricExportRequest`, `DeleteMetricExportResponse`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

cloud_enum!(
    /// `LogExportType`
    LogExportType { AwsCloudwatch => "AWS_CLOUDWATCH", GcpCloudLogging => "GCP_CLOUD_LOGGING", AzureLogAnalytics => "AZURE_LOG_ANALYTICS" }
);
cloud_enum!(
    /// `LogExportStatus`
    LogExportStatus {
        Disabled => "DISABLED",
        Disabling => "DISABLING",
        DisableFailed => "DISABLE_FAILED",
        Enabled => "ENABLED",
        Enabling => "ENABLING",
        EnableFailed => "ENABLE_FAILED",
        CredentialsError => "CREDENTIALS_ERROR",
    }
);
cloud_enum!(
    /// `LogLevel.Type`
    LogLevel { Unspecified => "UNSPECIFIED", Warning => "WARNING", Error => "ERROR", Fatal => "FATAL" }
);
cloud_enum!(
    /// `MetricExportStatus.Type`
    MetricExportStatus { NotDeployed => "NOT_DEPLOYED", Disabling => "DISABLING", Enabling => "ENABLING", Enabled => "ENABLED", Error => "ERROR" }
);
cloud_enum!(
    /// `DatadogSite.Type`
    DatadogSite { Us1 => "US1", Us3 => "US3", Us5 => "US5", Us1Gov => "US1_GOV", Eu1 => "EU1" }
);

/// `LogExportGroup`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogExportGroup {
    pub log_name: String,
    pub channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_level: Option<LogLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact: Option<bool>,
}

/// `LogExportClusterSpecification` (as the cloud reports it). `azure_shared_key` is deliberately
/// absent: a shared key the cloud might echo is dropped when the answer is parsed, so it can reach
/// nothing the operator keeps or shows (the simulator never returns it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogExportClusterSpecification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<LogExportGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted_channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
    pub type_: Option<LogExportType>,
}

/// `LogExportClusterInfo`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogExportClusterInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<LogExportClusterSpecification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<LogExportStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_message: Option<String>,
}

/// `EnableLogExportRequest`. For AZURE_LOG_ANALYTICS, `auth_principal` is the workspace (customer)
/// ID and `azure_shared_key` the workspace's shared key (masked in `Debug`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnableLogExportRequest {
    #[serde(rename = "type")]
    pub type_: LogExportType,
    pub log_name: String,
    pub auth_principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_shared_key: Option<AzureSharedKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<LogExportGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted_channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// A credential the operator sends to the cloud and never shows: `Debug` masks it, there is no
/// `Display`, and only [`expose`](DatadogApiKey::expose) gives the value (to serialise it into a
/// request, or to the simulator that must store it).
macro_rules! sent_secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The value itself, for whoever must compare or store it (the simulator).
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

sent_secret!(
    /// A Datadog API key: sent to the cloud, never shown.
    DatadogApiKey
);
sent_secret!(
    /// The shared key of an Azure Log Analytics workspace (`azure_shared_key`): sent to the cloud,
    /// never shown.
    AzureSharedKey
);

impl DatadogApiKey {
    /// The last four characters, which is all the cloud ever shows of a key.
    pub fn last_four(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    }
}

/// `EnableDatadogMetricExportRequest`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnableDatadogMetricExportRequest {
    pub site: DatadogSite,
    pub api_key: DatadogApiKey,
}

/// `DatadogMetricExportInfo`: `api_key` is the last four characters of the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatadogMetricExportInfo {
    pub cluster_id: String,
    pub site: DatadogSite,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MetricExportStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_message: Option<String>,
}

/// `EnableCloudWatchMetricExportRequest`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnableCloudWatchMetricExportRequest {
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// `CloudWatchMetricExportInfo`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudWatchMetricExportInfo {
    pub cluster_id: String,
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MetricExportStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_message: Option<String>,
}

/// `PrometheusMetricExportInfo`: `targets` maps each region to the URL scraping it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrometheusMetricExportInfo {
    pub cluster_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MetricExportStatus>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_message: Option<String>,
}

/// `DeleteMetricExportResponse`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMetricExportResponse {
    pub cluster_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MetricExportStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datadog_key_is_masked_and_shows_only_its_last_four_characters() {
        let key = DatadogApiKey::new("0123456789abcdef0123456789abcdef");
        let request = EnableDatadogMetricExportRequest { site: DatadogSite::Us1, api_key: key.clone() };
        assert!(!format!("{request:?}").contains("0123"), "{request:?}");
        assert_eq!(key.last_four(), "cdef");
        assert_eq!(serde_json::to_value(&request).unwrap(), serde_json::json!({"site": "US1", "api_key": "0123456789abcdef0123456789abcdef"}));
    }

    #[test]
    fn an_azure_shared_key_is_sent_but_never_shown_nor_read_back() {
        let request = EnableLogExportRequest {
            type_: LogExportType::AzureLogAnalytics,
            log_name: "crdb".into(),
            auth_principal: "workspace-id".into(),
            aws_external_id: None,
            azure_shared_key: Some(AzureSharedKey::new("c2hhcmVkLWtleQ==")),
            groups: vec![],
            omitted_channels: vec![],
            redact: None,
            region: None,
        };
        assert!(!format!("{request:?}").contains("c2hhcmVk"), "{request:?}");
        assert_eq!(serde_json::to_value(&request).unwrap()["azure_shared_key"], "c2hhcmVkLWtleQ==");
        let echoed = serde_json::json!({"type": "AZURE_LOG_ANALYTICS", "log_name": "crdb", "azure_shared_key": "c2hhcmVkLWtleQ=="});
        let spec: LogExportClusterSpecification = serde_json::from_value(echoed).unwrap();
        assert!(!format!("{spec:?}").contains("c2hhcmVk") && !serde_json::to_string(&spec).unwrap().contains("c2hhcmVk"));
    }
}
