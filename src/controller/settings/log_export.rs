//! `spec.logExport` <-> GET/POST/DELETE /clusters/{id}/logexport.
//!
//! The POST creates or replaces the whole configuration, so the block is compared with what the
//! cloud holds as one request: the cloud's defaults (no redaction, UNSPECIFIED level, no region)
//! read the same as an unset field. The cloud then works on it asynchronously (ENABLING, ENABLED);
//! an export it cannot run (CREDENTIALS_ERROR, ENABLE_FAILED) stalls the block with the cloud's
//! message until the configuration changes.

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::log_export::{self as api, LogExportSpec};
use crate::cloud::models::{
    EnableLogExportRequest, LogExportClusterInfo, LogExportClusterSpecification, LogExportGroup, LogExportStatus, LogExportType, LogLevel,
};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::error::ReconcileError;
use crate::controller::reason::Reason;
use crate::controller::setting::Setting;

pub struct LogExport;

/// The one write that brings the cloud in line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogExportChange {
    Enable(EnableLogExportRequest),
    Disable,
}

/// What the cloud shows when it has no configuration.
pub const NOT_CONFIGURED: &str = "NOT_CONFIGURED";

impl Setting for LogExport {
    type Desired = LogExportSpec;
    /// `None`: the cloud has no log export.
    type Observed = Option<LogExportClusterInfo>;
    type Change = LogExportChange;
    const BLOCK: &'static str = "spec.logExport";
    const CONDITION: &'static str = "LogExportSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&LogExportSpec> {
        spec.settings.log_export.as_ref()
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<Option<LogExportClusterInfo>, CloudError> {
        cloud.get_log_export(cluster_id).await
    }

    fn plan(desired: &LogExportSpec, observed: &Option<LogExportClusterInfo>) -> Option<LogExportChange> {
        let running = observed.as_ref().is_some_and(|info| !matches!(info.status, Some(LogExportStatus::Disabled | LogExportStatus::Disabling)));
        if desired.enabled == Some(false) {
            return running.then_some(LogExportChange::Disable);
        }
        let want = request(desired)?;
        let have = observed.as_ref().and_then(|info| info.spec.as_ref()).and_then(from_cloud);
        let same = have.is_some_and(|have| normalised(&have) == normalised(&want));
        (!running || !same).then_some(LogExportChange::Enable(want))
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, change: &LogExportChange) -> Result<Option<LogExportClusterInfo>, CloudError> {
        match change {
            LogExportChange::Enable(request) => cloud.enable_log_export(cluster_id, request).await.map(Some),
            LogExportChange::Disable => cloud.delete_log_export(cluster_id).await.map(Some),
        }
    }

    fn health(observed: &Option<LogExportClusterInfo>) -> Result<(), ReconcileError> {
        let Some(info) = observed else { return Ok(()) };
        let failing = matches!(info.status, Some(LogExportStatus::CredentialsError | LogExportStatus::EnableFailed | LogExportStatus::DisableFailed));
        if !failing {
            return Ok(());
        }
        let status = info.status.as_ref().map(LogExportStatus::as_str).unwrap_or_default();
        let message = info.user_message.as_deref().filter(|m| !m.is_empty()).unwrap_or("no message");
        Err(ReconcileError::stalled(
            Reason::ExportFailed,
            format!("the cloud reports {status}: {message}; fix the sink's credentials or permissions, then change spec.logExport to send the configuration again"),
        ))
    }

    fn describe(change: &LogExportChange) -> String {
        match change {
            LogExportChange::Enable(request) => format!("enabled export of logs to {} as {}", request.type_, request.log_name),
            LogExportChange::Disable => "turned log export off".to_string(),
        }
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&Option<LogExportClusterInfo>>) {
        status.settings.log_export = observed.map(|info| match info {
            None => api::LogExportStatus { status: NOT_CONFIGURED.to_string(), ..Default::default() },
            Some(info) => api::LogExportStatus {
                status: info.status.as_ref().map_or(NOT_CONFIGURED.to_string(), |s| s.to_string()),
                user_message: info.user_message.clone().filter(|m| !m.is_empty()),
                type_: info.spec.as_ref().and_then(|s| s.type_.as_ref()).map(|t| t.to_string()),
                log_name: info.spec.as_ref().and_then(|s| s.log_name.clone()),
                updated_at: info.updated_at.clone(),
            },
        });
    }
}

/// The request the block asks for; `None` without its required fields (the CRD requires them
/// unless the block turns the export off).
fn request(spec: &LogExportSpec) -> Option<EnableLogExportRequest> {
    let type_ = match spec.type_? {
        api::LogExportType::AwsCloudwatch => LogExportType::AwsCloudwatch,
        api::LogExportType::GcpCloudLogging => LogExportType::GcpCloudLogging,
    };
    let groups = spec
        .groups
        .iter()
        .map(|g| LogExportGroup {
            log_name: g.log_name.clone(),
            channels: g.channels.clone(),
            min_level: g.min_level.map(|level| match level {
                api::LogLevel::Unspecified => LogLevel::Unspecified,
                api::LogLevel::Warning => LogLevel::Warning,
                api::LogLevel::Error => LogLevel::Error,
                api::LogLevel::Fatal => LogLevel::Fatal,
            }),
            redact: g.redact,
        })
        .collect();
    Some(EnableLogExportRequest {
        type_,
        log_name: spec.log_name.clone()?,
        auth_principal: spec.auth_principal.clone()?,
        aws_external_id: spec.aws_external_id.clone(),
        groups,
        omitted_channels: spec.omitted_channels.clone(),
        redact: spec.redact,
        region: spec.region.clone(),
    })
}

/// The configuration the cloud holds, as the request that would set it.
fn from_cloud(spec: &LogExportClusterSpecification) -> Option<EnableLogExportRequest> {
    Some(EnableLogExportRequest {
        type_: spec.type_.clone()?,
        log_name: spec.log_name.clone()?,
        auth_principal: spec.auth_principal.clone()?,
        aws_external_id: spec.aws_external_id.clone(),
        groups: spec.groups.clone(),
        omitted_channels: spec.omitted_channels.clone(),
        redact: spec.redact,
        region: spec.region.clone(),
    })
}

/// The cloud's defaults spelled one way: no redaction, every level, no region, no external ID.
fn normalised(request: &EnableLogExportRequest) -> EnableLogExportRequest {
    let set = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    EnableLogExportRequest {
        aws_external_id: set(&request.aws_external_id),
        region: set(&request.region),
        redact: request.redact.filter(|r| *r),
        groups: request
            .groups
            .iter()
            .map(|g| LogExportGroup { min_level: g.min_level.clone().filter(|l| *l != LogLevel::Unspecified), ..g.clone() })
            .collect(),
        ..request.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::settings::log_export::LogExportGroupSpec;

    fn block() -> LogExportSpec {
        LogExportSpec {
            enabled: None,
            type_: Some(api::LogExportType::GcpCloudLogging),
            log_name: Some("default".into()),
            auth_principal: Some("my-project".into()),
            aws_external_id: None,
            region: None,
            redact: Some(false),
            groups: vec![LogExportGroupSpec { log_name: "devops".into(), channels: vec!["OPS".into()], min_level: None, redact: None }],
            omitted_channels: vec!["SESSIONS".into()],
        }
    }

    fn cloud(spec: &LogExportSpec, status: LogExportStatus) -> Option<LogExportClusterInfo> {
        let r = request(spec).unwrap();
        let spec = LogExportClusterSpecification {
            auth_principal: Some(r.auth_principal),
            aws_external_id: None,
            groups: r.groups.into_iter().map(|g| LogExportGroup { min_level: Some(LogLevel::Unspecified), ..g }).collect(),
            log_name: Some(r.log_name),
            omitted_channels: r.omitted_channels,
            redact: None,
            region: Some(String::new()),
            type_: Some(r.type_),
        };
        Some(LogExportClusterInfo { spec: Some(spec), status: Some(status), ..Default::default() })
    }

    #[test]
    fn the_cloud_defaults_read_as_unset_fields() {
        assert_eq!(LogExport::plan(&block(), &cloud(&block(), LogExportStatus::Enabled)), None);
        assert_eq!(LogExport::plan(&block(), &cloud(&block(), LogExportStatus::Enabling)), None);
    }

    #[test]
    fn a_missing_or_different_configuration_is_sent_whole() {
        let Some(LogExportChange::Enable(sent)) = LogExport::plan(&block(), &None) else { panic!("expected an enable") };
        assert_eq!(sent.log_name, "default");
        let mut changed = block();
        changed.omitted_channels.push("SQL_PERF".into());
        let Some(LogExportChange::Enable(sent)) = LogExport::plan(&changed, &cloud(&block(), LogExportStatus::Enabled)) else { panic!() };
        assert_eq!(sent.omitted_channels, ["SESSIONS", "SQL_PERF"]);
        assert_eq!(LogExport::describe(&LogExportChange::Enable(sent)), "enabled export of logs to GCP_CLOUD_LOGGING as default");
        assert!(matches!(LogExport::plan(&block(), &cloud(&block(), LogExportStatus::Disabled)), Some(LogExportChange::Enable(_))));
    }

    #[test]
    fn turning_off_is_explicit_and_happens_once() {
        let off = LogExportSpec { enabled: Some(false), ..block() };
        assert_eq!(LogExport::plan(&off, &cloud(&block(), LogExportStatus::Enabled)), Some(LogExportChange::Disable));
        assert_eq!(LogExport::plan(&off, &None), None);
        assert_eq!(LogExport::plan(&off, &cloud(&block(), LogExportStatus::Disabling)), None);
    }

    #[test]
    fn a_credentials_error_stalls_with_the_clouds_message() {
        let mut info = cloud(&block(), LogExportStatus::CredentialsError);
        info.as_mut().unwrap().user_message = Some("cannot assume role".into());
        let err = LogExport::health(&info).unwrap_err();
        assert!(err.is_stalled() && err.reason == Reason::ExportFailed, "{err:?}");
        assert!(err.message.contains("CREDENTIALS_ERROR") && err.message.contains("cannot assume role"), "{}", err.message);
        assert!(LogExport::health(&cloud(&block(), LogExportStatus::Enabling)).is_ok());
        assert!(LogExport::health(&None).is_ok());
    }
}
