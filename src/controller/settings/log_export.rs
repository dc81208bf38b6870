//! `spec.logExport` <-> GET/POST/DELETE /clusters/{id}/logexport.
//!
//! The POST creates or replaces the whole configuration, so the block is compared with what the
//! cloud holds as one request: the cloud's defaults (no redaction, UNSPECIFIED level, no region)
//! read the same as an unset field. The cloud then works on it asynchronously (ENABLING, ENABLED);
//! an export it cannot run (CREDENTIALS_ERROR, ENABLE_FAILED) stalls the block with the cloud's
//! message until the configuration changes.
//!
//! AZURE_LOG_ANALYTICS also sends the workspace's shared key, read from the Secret the block
//! names exactly as the Datadog API key is (see [`secret_key`](super::secret_key)): the cloud
//! never shows it back, so a changed Secret is noticed by a salted fingerprint of the key last
//! sent, kept in status, and sends the whole configuration again.

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::log_export::{self as api, LogExportSpec};
use crate::cloud::models::{
    AzureSharedKey, EnableLogExportRequest, LogExportClusterInfo, LogExportClusterSpecification, LogExportGroup, LogExportStatus, LogExportType,
    LogLevel,
};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::error::ReconcileError;
use crate::controller::reason::Reason;
use crate::controller::setting::{Pass, Setting};

use super::secret_key;

pub struct LogExport;

/// The log export as the cloud reports it (`None`: it has none), with the shared key the Secret
/// holds now and the fingerprint of the one last sent (AZURE_LOG_ANALYTICS only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogExportObserved {
    pub info: Option<LogExportClusterInfo>,
    /// The key in the referenced Secret (read only while an Azure export is wanted).
    pub shared_key: Option<AzureSharedKey>,
    pub key_fingerprint: Option<String>,
    /// The fingerprint of the key last sent, from status.
    pub sent_fingerprint: Option<String>,
}

impl From<Option<LogExportClusterInfo>> for LogExportObserved {
    fn from(info: Option<LogExportClusterInfo>) -> Self {
        Self { info, ..Default::default() }
    }
}

/// The one write that brings the cloud in line (the whole request, boxed: it dwarfs `Disable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogExportChange {
    Enable(Box<LogExportEnable>),
    Disable,
}

/// Enabling: the whole request (an Azure shared key masked in `Debug`) and, for Azure, where the
/// key came from and its fingerprint for status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogExportEnable {
    pub request: EnableLogExportRequest,
    pub shared_key: Option<SentKey>,
}

/// The Secret a sent key came from and the key's fingerprint (never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentKey {
    pub secret: String,
    pub fingerprint: String,
}

/// What the cloud shows when it has no configuration.
pub const NOT_CONFIGURED: &str = "NOT_CONFIGURED";

impl Setting for LogExport {
    type Desired = LogExportSpec;
    type Observed = LogExportObserved;
    type Change = LogExportChange;
    const BLOCK: &'static str = "spec.logExport";
    const CONDITION: &'static str = "LogExportSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&LogExportSpec> {
        spec.settings.log_export.as_ref()
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<LogExportObserved, CloudError> {
        cloud.get_log_export(cluster_id).await.map(Into::into)
    }

    /// Reads the Azure shared key from its Secret (never cached: only the Secret's metadata is
    /// watched).
    async fn read_references(pass: &Pass<'_>, desired: &LogExportSpec, observed: &mut LogExportObserved) -> Result<(), ReconcileError> {
        let recorded = pass.cluster.status.as_ref().and_then(|s| s.settings.log_export.as_ref());
        observed.sent_fingerprint = recorded.and_then(|l| l.azure_shared_key_fingerprint.clone());
        let Some(reference) = azure_key_ref(desired) else {
            return Ok(());
        };
        let (key, fingerprint) = secret_key::read(pass, reference, "azureSharedKeySecretRef", AzureSharedKey::new).await?;
        observed.key_fingerprint = Some(fingerprint);
        observed.shared_key = Some(key);
        Ok(())
    }

    fn plan(desired: &LogExportSpec, observed: &LogExportObserved) -> Option<LogExportChange> {
        let running = observed.info.as_ref().is_some_and(|info| !matches!(info.status, Some(LogExportStatus::Disabled | LogExportStatus::Disabling)));
        if desired.enabled == Some(false) {
            return running.then_some(LogExportChange::Disable);
        }
        let mut want = request(desired)?;
        let shared_key = match azure_key_ref(desired) {
            Some(reference) => {
                want.azure_shared_key = Some(observed.shared_key.clone()?);
                Some(SentKey { secret: reference.name.clone(), fingerprint: observed.key_fingerprint.clone()? })
            }
            None => None,
        };
        let have = observed.info.as_ref().and_then(|info| info.spec.as_ref()).and_then(from_cloud);
        let same = have.is_some_and(|have| normalised(&have) == normalised(&want));
        // The cloud never shows the key: the one it holds is the one last sent.
        let key_sent = shared_key.as_ref().is_none_or(|k| observed.sent_fingerprint.as_ref() == Some(&k.fingerprint));
        (!running || !same || !key_sent).then(|| LogExportChange::Enable(Box::new(LogExportEnable { request: want, shared_key })))
    }

    /// A changed shared-key Secret leaves the spec as it was: only a configuration the cloud
    /// changed (or dropped) since the status recorded it is drift.
    fn moved_in_cloud(status: &CockroachClusterStatus, observed: &LogExportObserved) -> bool {
        let recorded = status.settings.log_export.as_ref().and_then(|l| l.updated_at.as_ref());
        recorded.is_none() || recorded != observed.info.as_ref().and_then(|i| i.updated_at.as_ref())
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, change: &LogExportChange) -> Result<LogExportObserved, CloudError> {
        match change {
            LogExportChange::Enable(enable) => {
                let info = cloud.enable_log_export(cluster_id, &enable.request).await?;
                let sent_fingerprint = enable.shared_key.as_ref().map(|k| k.fingerprint.clone());
                Ok(LogExportObserved { info: Some(info), sent_fingerprint, ..Default::default() })
            }
            LogExportChange::Disable => cloud.delete_log_export(cluster_id).await.map(|info| Some(info).into()),
        }
    }

    fn health(observed: &LogExportObserved) -> Result<(), ReconcileError> {
        let Some(info) = &observed.info else { return Ok(()) };
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
            LogExportChange::Enable(enable) => {
                let key = enable.shared_key.as_ref().map(|k| format!(" with the shared key from Secret {}", k.secret)).unwrap_or_default();
                format!("enabled export of logs to {} as {}{key}", enable.request.type_, enable.request.log_name)
            }
            LogExportChange::Disable => "turned log export off".to_string(),
        }
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&LogExportObserved>) {
        status.settings.log_export = observed.map(|observed| match &observed.info {
            None => api::LogExportStatus { status: NOT_CONFIGURED.to_string(), ..Default::default() },
            Some(info) => {
                let azure = info.spec.as_ref().and_then(|s| s.type_.as_ref()) == Some(&LogExportType::AzureLogAnalytics);
                api::LogExportStatus {
                    status: info.status.as_ref().map_or(NOT_CONFIGURED.to_string(), |s| s.to_string()),
                    user_message: info.user_message.clone().filter(|m| !m.is_empty()),
                    type_: info.spec.as_ref().and_then(|s| s.type_.as_ref()).map(|t| t.to_string()),
                    log_name: info.spec.as_ref().and_then(|s| s.log_name.clone()),
                    updated_at: info.updated_at.clone(),
                    azure_shared_key_fingerprint: observed.sent_fingerprint.clone().filter(|_| azure),
                }
            }
        });
    }
}

/// The shared-key Secret of a wanted Azure export.
fn azure_key_ref(spec: &LogExportSpec) -> Option<&crate::api::common::SecretKeyRef> {
    let azure = spec.type_ == Some(api::LogExportType::AzureLogAnalytics) && spec.enabled != Some(false);
    spec.azure_shared_key_secret_ref.as_ref().filter(|_| azure)
}

/// The request the block asks for, without the Azure shared key; `None` without its required
/// fields (the CRD requires them unless the block turns the export off).
fn request(spec: &LogExportSpec) -> Option<EnableLogExportRequest> {
    let type_ = match spec.type_? {
        api::LogExportType::AwsCloudwatch => LogExportType::AwsCloudwatch,
        api::LogExportType::GcpCloudLogging => LogExportType::GcpCloudLogging,
        api::LogExportType::AzureLogAnalytics => LogExportType::AzureLogAnalytics,
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
        azure_shared_key: None,
        groups,
        omitted_channels: spec.omitted_channels.clone(),
        redact: spec.redact,
        region: spec.region.clone(),
    })
}

/// The configuration the cloud holds, as the request that would set it (it never shows a
/// shared key).
fn from_cloud(spec: &LogExportClusterSpecification) -> Option<EnableLogExportRequest> {
    Some(EnableLogExportRequest {
        type_: spec.type_.clone()?,
        log_name: spec.log_name.clone()?,
        auth_principal: spec.auth_principal.clone()?,
        aws_external_id: spec.aws_external_id.clone(),
        azure_shared_key: None,
        groups: spec.groups.clone(),
        omitted_channels: spec.omitted_channels.clone(),
        redact: spec.redact,
        region: spec.region.clone(),
    })
}

/// The cloud's defaults spelled one way: no redaction, every level, no region, no external ID;
/// the shared key is compared by fingerprint, not here.
fn normalised(request: &EnableLogExportRequest) -> EnableLogExportRequest {
    let set = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    EnableLogExportRequest {
        aws_external_id: set(&request.aws_external_id),
        azure_shared_key: None,
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
    use crate::api::common::SecretKeyRef;
    use crate::api::settings::log_export::LogExportGroupSpec;

    fn block() -> LogExportSpec {
        LogExportSpec {
            enabled: None,
            type_: Some(api::LogExportType::GcpCloudLogging),
            log_name: Some("default".into()),
            auth_principal: Some("my-project".into()),
            aws_external_id: None,
            azure_shared_key_secret_ref: None,
            region: None,
            redact: Some(false),
            groups: vec![LogExportGroupSpec { log_name: "devops".into(), channels: vec!["OPS".into()], min_level: None, redact: None }],
            omitted_channels: vec!["SESSIONS".into()],
        }
    }

    fn cloud(spec: &LogExportSpec, status: LogExportStatus) -> LogExportObserved {
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
        Some(LogExportClusterInfo { spec: Some(spec), status: Some(status), updated_at: Some("2026-11-29T10:00:00Z".into()), ..Default::default() }).into()
    }

    #[test]
    fn the_cloud_defaults_read_as_unset_fields() {
        assert_eq!(LogExport::plan(&block(), &cloud(&block(), LogExportStatus::Enabled)), None);
        assert_eq!(LogExport::plan(&block(), &cloud(&block(), LogExportStatus::Enabling)), None);
    }

    #[test]
    fn a_missing_or_different_configuration_is_sent_whole() {
        let Some(LogExportChange::Enable(sent)) = LogExport::plan(&block(), &LogExportObserved::default()) else { panic!("expected an enable") };
        assert_eq!(sent.request.log_name, "default");
        let mut changed = block();
        changed.omitted_channels.push("SQL_PERF".into());
        let Some(LogExportChange::Enable(sent)) = LogExport::plan(&changed, &cloud(&block(), LogExportStatus::Enabled)) else { panic!() };
        assert_eq!(sent.request.omitted_channels, ["SESSIONS", "SQL_PERF"]);
        assert_eq!(LogExport::describe(&LogExportChange::Enable(sent)), "enabled export of logs to GCP_CLOUD_LOGGING as default");
        assert!(matches!(LogExport::plan(&block(), &cloud(&block(), LogExportStatus::Disabled)), Some(LogExportChange::Enable(_))));
    }

    #[test]
    fn turning_off_is_explicit_and_happens_once() {
        let off = LogExportSpec { enabled: Some(false), ..block() };
        assert_eq!(LogExport::plan(&off, &cloud(&block(), LogExportStatus::Enabled)), Some(LogExportChange::Disable));
        assert_eq!(LogExport::plan(&off, &LogExportObserved::default()), None);
        assert_eq!(LogExport::plan(&off, &cloud(&block(), LogExportStatus::Disabling)), None);
    }

    #[test]
    fn a_credentials_error_stalls_with_the_clouds_message() {
        let mut info = cloud(&block(), LogExportStatus::CredentialsError);
        info.info.as_mut().unwrap().user_message = Some("cannot assume role".into());
        let err = LogExport::health(&info).unwrap_err();
        assert!(err.is_stalled() && err.reason == Reason::ExportFailed, "{err:?}");
        assert!(err.message.contains("CREDENTIALS_ERROR") && err.message.contains("cannot assume role"), "{}", err.message);
        assert!(LogExport::health(&cloud(&block(), LogExportStatus::Enabling)).is_ok());
        assert!(LogExport::health(&LogExportObserved::default()).is_ok());
    }

    const SHARED_KEY: &str = "QXp1cmUtc2hhcmVkLWtleS1mb3ItdGVzdHM=";

    fn azure_block() -> LogExportSpec {
        LogExportSpec {
            type_: Some(api::LogExportType::AzureLogAnalytics),
            log_name: Some("crdb_logs".into()),
            auth_principal: Some("0f8fad5b-d9cb-469f-a165-70867728950e".into()),
            azure_shared_key_secret_ref: Some(SecretKeyRef { name: "azure-logs".into(), key: "shared-key".into() }),
            ..block()
        }
    }

    /// The Azure export in the cloud, the Secret holding the key of fingerprint `now`, and the
    /// key last sent of fingerprint `sent`.
    fn azure(status: LogExportStatus, now: &str, sent: Option<&str>) -> LogExportObserved {
        LogExportObserved {
            shared_key: Some(AzureSharedKey::new(SHARED_KEY)),
            key_fingerprint: Some(now.into()),
            sent_fingerprint: sent.map(str::to_string),
            ..cloud(&azure_block(), status)
        }
    }

    #[test]
    fn an_azure_export_sends_the_shared_key_and_again_only_when_its_secret_changed() {
        assert_eq!(LogExport::plan(&azure_block(), &azure(LogExportStatus::Enabled, "fp-now", Some("fp-now"))), None);
        let Some(LogExportChange::Enable(sent)) = LogExport::plan(&azure_block(), &azure(LogExportStatus::Enabled, "fp-now", Some("fp-old"))) else {
            panic!("a changed Secret must send the key again")
        };
        assert_eq!(sent.request.type_, LogExportType::AzureLogAnalytics);
        assert_eq!(sent.request.auth_principal, "0f8fad5b-d9cb-469f-a165-70867728950e", "the workspace ID is the auth principal");
        assert_eq!(sent.request.azure_shared_key.as_ref().map(AzureSharedKey::expose), Some(SHARED_KEY));
        assert_eq!(sent.shared_key, Some(SentKey { secret: "azure-logs".into(), fingerprint: "fp-now".into() }));
        // Never sent (a status from before the block managed the key): sent once.
        assert!(LogExport::plan(&azure_block(), &azure(LogExportStatus::Enabled, "fp-now", None)).is_some());
        // Without the key read, nothing is planned (the Secret's absence stalls the block first).
        let unread = LogExportObserved { shared_key: None, ..azure(LogExportStatus::Enabled, "fp-now", Some("fp-old")) };
        assert_eq!(LogExport::plan(&azure_block(), &unread), None);
        // Other types carry no key, and the key of an Azure block is never compared as text.
        let Some(LogExportChange::Enable(gcp)) = LogExport::plan(&block(), &LogExportObserved::default()) else { panic!() };
        assert!(gcp.request.azure_shared_key.is_none() && gcp.shared_key.is_none());
    }

    #[test]
    fn the_shared_key_never_reaches_descriptions_debug_output_or_status() {
        let Some(change) = LogExport::plan(&azure_block(), &azure(LogExportStatus::Enabled, "fp-now", Some("fp-old"))) else { panic!() };
        let shown = format!("{} {change:?}", LogExport::describe(&change));
        assert!(!shown.contains(SHARED_KEY) && !shown.contains("QXp1cmU"), "{shown}");
        assert_eq!(LogExport::describe(&change), "enabled export of logs to AZURE_LOG_ANALYTICS as crdb_logs with the shared key from Secret azure-logs");
        let mut status = CockroachClusterStatus::default();
        LogExport::record(&mut status, Some(&azure(LogExportStatus::Enabled, "fp-now", Some("fp-now"))));
        let recorded = serde_json::to_string(&status).unwrap();
        assert!(!recorded.contains("QXp1cmU"), "{recorded}");
        assert_eq!(status.settings.log_export.unwrap().azure_shared_key_fingerprint.as_deref(), Some("fp-now"));
    }

    #[test]
    fn a_rotated_secret_is_an_update_and_a_configuration_changed_in_the_cloud_is_drift() {
        let mut status = CockroachClusterStatus::default();
        let held = azure(LogExportStatus::Enabled, "fp-now", Some("fp-old"));
        LogExport::record(&mut status, Some(&held));
        assert!(!LogExport::moved_in_cloud(&status, &held), "only the Secret changed");
        let mut rewritten = held.clone();
        rewritten.info.as_mut().unwrap().updated_at = Some("2026-11-29T11:00:00Z".into());
        assert!(LogExport::moved_in_cloud(&status, &rewritten));
        assert!(LogExport::moved_in_cloud(&status, &LogExportObserved::default()), "deleted in the cloud");
    }
}
