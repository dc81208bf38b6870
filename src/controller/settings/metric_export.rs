//! `spec.metricExport.{datadog,cloudwatch,prometheus}` <-> GET/POST/DELETE
//! /clusters/{id}/metricexport/{kind}: three settings, one per sub-block, each managed only while
//! its sub-block is set.
//!
//! The Datadog API key comes from a Secret and is a secret everywhere: it is read when the block
//! is converged, sent in the enable request and nowhere else. The cloud shows only its last four
//! characters, so a changed Secret is noticed by a salted fingerprint of the key last sent, kept
//! in status (and a key changed in the cloud by its last four characters).

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::metric_export::{
    self as api, CloudWatchExportSpec, DatadogExportSpec, DatadogExportStatus, ExportState, PrometheusExportSpec, PrometheusExportStatus,
};
use crate::cloud::models::{
    CloudWatchMetricExportInfo, DatadogApiKey, DatadogMetricExportInfo, DatadogSite, EnableCloudWatchMetricExportRequest,
    EnableDatadogMetricExportRequest, MetricExportStatus, PrometheusMetricExportInfo,
};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::error::ReconcileError;
use crate::controller::reason::Reason;
use crate::controller::setting::{Pass, Setting};

use super::log_export::NOT_CONFIGURED;
use super::secret_key;

/// The one write a metric export may need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportChange<R> {
    Enable(R),
    Disable,
}

/// Configured and not on its way out.
fn running(status: Option<&MetricExportStatus>) -> bool {
    !matches!(status, Some(MetricExportStatus::NotDeployed | MetricExportStatus::Disabling))
}

/// The cloud reports the export as failing: the block stalls with the cloud's message.
fn failing(what: &str, status: Option<&MetricExportStatus>, message: Option<&str>) -> Result<(), ReconcileError> {
    if status != Some(&MetricExportStatus::Error) {
        return Ok(());
    }
    let message = message.filter(|m| !m.is_empty()).unwrap_or("no message");
    Err(ReconcileError::stalled(Reason::ExportFailed, format!("the cloud reports the {what} export in ERROR: {message}")))
}

fn state(status: Option<&MetricExportStatus>, message: Option<&String>) -> ExportState {
    ExportState {
        status: status.map_or(NOT_CONFIGURED.to_string(), |s| s.to_string()),
        user_message: message.filter(|m| !m.is_empty()).cloned(),
    }
}

/// Puts one sub-block's status in place; the block's status goes once no sub-block has one.
fn record_metric(status: &mut CockroachClusterStatus, set: impl FnOnce(&mut api::MetricExportStatus)) {
    let mut metric = status.settings.metric_export.take().unwrap_or_default();
    set(&mut metric);
    status.settings.metric_export = metric.or_none();
}

fn sub_block<'a, T>(spec: &'a CockroachClusterSpec, pick: impl FnOnce(&'a api::MetricExportSpec) -> Option<&'a T>) -> Option<&'a T> {
    spec.settings.metric_export.as_ref().and_then(pick)
}

// ---- Datadog ----

pub struct Datadog;

/// The Datadog export as the cloud reports it, with the key the Secret holds now and the
/// fingerprint of the key last sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatadogObserved {
    pub info: Option<DatadogMetricExportInfo>,
    /// The key in the referenced Secret (read only while the export is wanted).
    pub key: Option<DatadogApiKey>,
    pub key_fingerprint: Option<String>,
    /// The fingerprint of the key last sent, from status.
    pub sent_fingerprint: Option<String>,
}

/// Enabling Datadog: the request (its key masked in `Debug`), the Secret it came from and the
/// key's fingerprint for status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatadogEnable {
    pub request: EnableDatadogMetricExportRequest,
    pub secret: String,
    pub fingerprint: String,
}

fn site(site: api::DatadogSite) -> DatadogSite {
    match site {
        api::DatadogSite::Us1 => DatadogSite::Us1,
        api::DatadogSite::Us3 => DatadogSite::Us3,
        api::DatadogSite::Us5 => DatadogSite::Us5,
        api::DatadogSite::Us1Gov => DatadogSite::Us1Gov,
        api::DatadogSite::Eu1 => DatadogSite::Eu1,
    }
}

impl Setting for Datadog {
    type Desired = DatadogExportSpec;
    type Observed = DatadogObserved;
    type Change = ExportChange<DatadogEnable>;
    const BLOCK: &'static str = "spec.metricExport.datadog";
    const CONDITION: &'static str = "DatadogMetricExportSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&DatadogExportSpec> {
        sub_block(spec, |m| m.datadog.as_ref())
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<DatadogObserved, CloudError> {
        Ok(DatadogObserved { info: cloud.get_datadog_metric_export(cluster_id).await?, ..Default::default() })
    }

    /// Reads the API key from its Secret (never cached: only the Secret's metadata is watched).
    async fn read_references(pass: &Pass<'_>, desired: &DatadogExportSpec, observed: &mut DatadogObserved) -> Result<(), ReconcileError> {
        let cluster = pass.cluster;
        observed.sent_fingerprint = cluster.status.as_ref().and_then(|s| s.settings.metric_export.as_ref()).and_then(|m| m.datadog.as_ref()).and_then(|d| d.api_key_fingerprint.clone());
        let Some(reference) = desired.api_key_secret_ref.as_ref().filter(|_| desired.enabled != Some(false)) else {
            return Ok(());
        };
        let (key, fingerprint) = secret_key::read(pass, reference, "apiKeySecretRef", DatadogApiKey::new).await?;
        observed.key_fingerprint = Some(fingerprint);
        observed.key = Some(key);
        Ok(())
    }

    fn plan(desired: &DatadogExportSpec, observed: &DatadogObserved) -> Option<ExportChange<DatadogEnable>> {
        let info = observed.info.as_ref().filter(|i| running(i.status.as_ref()));
        if desired.enabled == Some(false) {
            return info.map(|_| ExportChange::Disable);
        }
        let (key, fingerprint, want_site) = (observed.key.clone()?, observed.key_fingerprint.clone()?, site(desired.site?));
        let in_line = info.is_some_and(|i| {
            i.site == want_site && i.api_key.as_deref() == Some(key.last_four().as_str()) && observed.sent_fingerprint.as_ref() == Some(&fingerprint)
        });
        let secret = desired.api_key_secret_ref.as_ref()?.name.clone();
        (!in_line).then_some(ExportChange::Enable(DatadogEnable { request: EnableDatadogMetricExportRequest { site: want_site, api_key: key }, secret, fingerprint }))
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, change: &ExportChange<DatadogEnable>) -> Result<DatadogObserved, CloudError> {
        match change {
            ExportChange::Enable(enable) => {
                let info = cloud.enable_datadog_metric_export(cluster_id, &enable.request).await?;
                Ok(DatadogObserved { info: Some(info), sent_fingerprint: Some(enable.fingerprint.clone()), ..Default::default() })
            }
            ExportChange::Disable => cloud.delete_datadog_metric_export(cluster_id).await.map(|_| DatadogObserved::default()),
        }
    }

    fn health(observed: &DatadogObserved) -> Result<(), ReconcileError> {
        let info = observed.info.as_ref();
        failing("Datadog", info.and_then(|i| i.status.as_ref()), info.and_then(|i| i.user_message.as_deref()))
    }

    fn describe(change: &ExportChange<DatadogEnable>) -> String {
        match change {
            ExportChange::Enable(enable) => format!("sent the API key from Secret {} for Datadog site {}", enable.secret, enable.request.site),
            ExportChange::Disable => "turned Datadog metric export off".to_string(),
        }
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&DatadogObserved>) {
        let datadog = observed.map(|o| {
            let info = o.info.as_ref();
            DatadogExportStatus {
                state: state(info.and_then(|i| i.status.as_ref()), info.and_then(|i| i.user_message.as_ref())),
                site: info.map(|i| i.site.to_string()),
                api_key_fingerprint: info.and(o.sent_fingerprint.clone()),
            }
        });
        record_metric(status, |m| m.datadog = datadog);
    }
}

// ---- CloudWatch ----

pub struct CloudWatch;

fn cloudwatch_request(spec: &CloudWatchExportSpec) -> Option<EnableCloudWatchMetricExportRequest> {
    Some(EnableCloudWatchMetricExportRequest {
        role_arn: spec.role_arn.clone()?,
        target_region: spec.target_region.clone(),
        log_group_name: spec.log_group_name.clone(),
        external_id: spec.external_id.clone(),
    })
}

impl Setting for CloudWatch {
    type Desired = CloudWatchExportSpec;
    type Observed = Option<CloudWatchMetricExportInfo>;
    type Change = ExportChange<EnableCloudWatchMetricExportRequest>;
    const BLOCK: &'static str = "spec.metricExport.cloudwatch";
    const CONDITION: &'static str = "CloudWatchMetricExportSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&CloudWatchExportSpec> {
        sub_block(spec, |m| m.cloudwatch.as_ref())
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<Option<CloudWatchMetricExportInfo>, CloudError> {
        cloud.get_cloudwatch_metric_export(cluster_id).await
    }

    /// The fields the block leaves unset are the cloud's to choose, so only set ones are compared.
    fn plan(desired: &CloudWatchExportSpec, observed: &Option<CloudWatchMetricExportInfo>) -> Option<ExportChange<EnableCloudWatchMetricExportRequest>> {
        let info = observed.as_ref().filter(|i| running(i.status.as_ref()));
        if desired.enabled == Some(false) {
            return info.map(|_| ExportChange::Disable);
        }
        let want = cloudwatch_request(desired)?;
        let matches = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        let in_line = info.is_some_and(|i| {
            i.role_arn == want.role_arn
                && matches(&want.target_region, &i.target_region)
                && matches(&want.log_group_name, &i.log_group_name)
                && matches(&want.external_id, &i.external_id)
        });
        (!in_line).then_some(ExportChange::Enable(want))
    }

    async fn execute(
        cloud: &CloudClient,
        cluster_id: &str,
        change: &ExportChange<EnableCloudWatchMetricExportRequest>,
    ) -> Result<Option<CloudWatchMetricExportInfo>, CloudError> {
        match change {
            ExportChange::Enable(request) => cloud.enable_cloudwatch_metric_export(cluster_id, request).await.map(Some),
            ExportChange::Disable => cloud.delete_cloudwatch_metric_export(cluster_id).await.map(|_| None),
        }
    }

    fn health(observed: &Option<CloudWatchMetricExportInfo>) -> Result<(), ReconcileError> {
        let info = observed.as_ref();
        failing("CloudWatch", info.and_then(|i| i.status.as_ref()), info.and_then(|i| i.user_message.as_deref()))
    }

    fn describe(change: &ExportChange<EnableCloudWatchMetricExportRequest>) -> String {
        match change {
            ExportChange::Enable(request) => format!("enabled export of metrics to CloudWatch with role {}", request.role_arn),
            ExportChange::Disable => "turned CloudWatch metric export off".to_string(),
        }
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&Option<CloudWatchMetricExportInfo>>) {
        let cloudwatch = observed.map(|info| {
            let info = info.as_ref();
            state(info.and_then(|i| i.status.as_ref()), info.and_then(|i| i.user_message.as_ref()))
        });
        record_metric(status, |m| m.cloudwatch = cloudwatch);
    }
}

// ---- Prometheus ----

pub struct Prometheus;

impl Setting for Prometheus {
    type Desired = PrometheusExportSpec;
    type Observed = Option<PrometheusMetricExportInfo>;
    type Change = ExportChange<()>;
    const BLOCK: &'static str = "spec.metricExport.prometheus";
    const CONDITION: &'static str = "PrometheusMetricExportSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&PrometheusExportSpec> {
        sub_block(spec, |m| m.prometheus.as_ref())
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<Option<PrometheusMetricExportInfo>, CloudError> {
        cloud.get_prometheus_metric_export(cluster_id).await
    }

    fn plan(desired: &PrometheusExportSpec, observed: &Option<PrometheusMetricExportInfo>) -> Option<ExportChange<()>> {
        let on = observed.as_ref().is_some_and(|i| running(i.status.as_ref()));
        match (desired.enabled, on) {
            (true, false) => Some(ExportChange::Enable(())),
            (false, true) => Some(ExportChange::Disable),
            _ => None,
        }
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, change: &ExportChange<()>) -> Result<Option<PrometheusMetricExportInfo>, CloudError> {
        match change {
            ExportChange::Enable(()) => cloud.enable_prometheus_metric_export(cluster_id).await.map(Some),
            ExportChange::Disable => cloud.delete_prometheus_metric_export(cluster_id).await.map(|_| None),
        }
    }

    fn health(observed: &Option<PrometheusMetricExportInfo>) -> Result<(), ReconcileError> {
        let info = observed.as_ref();
        failing("Prometheus", info.and_then(|i| i.status.as_ref()), info.and_then(|i| i.user_message.as_deref()))
    }

    fn describe(change: &ExportChange<()>) -> String {
        match change {
            ExportChange::Enable(()) => "enabled the Prometheus scrape endpoints".to_string(),
            ExportChange::Disable => "turned the Prometheus scrape endpoints off".to_string(),
        }
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&Option<PrometheusMetricExportInfo>>) {
        let prometheus = observed.map(|info| {
            let i = info.as_ref();
            PrometheusExportStatus {
                state: state(i.and_then(|i| i.status.as_ref()), i.and_then(|i| i.user_message.as_ref())),
                targets: i.map(|i| i.targets.clone()).unwrap_or_default(),
            }
        });
        record_metric(status, |m| m.prometheus = prometheus);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::SecretKeyRef;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn datadog_block() -> DatadogExportSpec {
        DatadogExportSpec { enabled: None, site: Some(api::DatadogSite::Us1), api_key_secret_ref: Some(SecretKeyRef { name: "dd".into(), key: "api-key".into() }) }
    }

    fn datadog(status: MetricExportStatus, last_four: &str, sent: &str) -> DatadogObserved {
        DatadogObserved {
            info: Some(DatadogMetricExportInfo { cluster_id: "c".into(), site: DatadogSite::Us1, api_key: Some(last_four.into()), status: Some(status), user_message: None }),
            key: Some(DatadogApiKey::new(KEY)),
            key_fingerprint: Some("fp-now".into()),
            sent_fingerprint: Some(sent.into()),
        }
    }

    #[test]
    fn datadog_is_sent_again_when_the_secret_or_the_cloud_key_changes() {
        assert_eq!(Datadog::plan(&datadog_block(), &datadog(MetricExportStatus::Enabled, "cdef", "fp-now")), None);
        // The Secret changed since the last send.
        let Some(ExportChange::Enable(enable)) = Datadog::plan(&datadog_block(), &datadog(MetricExportStatus::Enabled, "cdef", "fp-old")) else { panic!() };
        assert_eq!(enable.fingerprint, "fp-now");
        // Someone put another key in the cloud.
        assert!(Datadog::plan(&datadog_block(), &datadog(MetricExportStatus::Enabling, "zzzz", "fp-now")).is_some());
        let missing = DatadogObserved { info: None, ..datadog(MetricExportStatus::Enabled, "cdef", "fp-now") };
        assert!(Datadog::plan(&datadog_block(), &missing).is_some());
    }

    #[test]
    fn the_datadog_key_never_reaches_descriptions_or_debug_output() {
        let Some(change) = Datadog::plan(&datadog_block(), &datadog(MetricExportStatus::Enabled, "cdef", "fp-old")) else { panic!() };
        let shown = format!("{} {change:?}", Datadog::describe(&change));
        assert!(!shown.contains(KEY) && !shown.contains("0123456789"), "{shown}");
        assert_eq!(Datadog::describe(&change), "sent the API key from Secret dd for Datadog site US1");
    }

    #[test]
    fn turning_an_export_off_is_explicit() {
        let off = DatadogExportSpec { enabled: Some(false), ..datadog_block() };
        assert_eq!(Datadog::plan(&off, &datadog(MetricExportStatus::Enabled, "cdef", "fp-now")), Some(ExportChange::Disable));
        assert_eq!(Datadog::plan(&off, &DatadogObserved::default()), None);
        assert_eq!(Prometheus::plan(&PrometheusExportSpec { enabled: false }, &None), None);
        assert_eq!(Prometheus::plan(&PrometheusExportSpec { enabled: true }, &None), Some(ExportChange::Enable(())));
    }

    #[test]
    fn cloudwatch_compares_only_the_fields_the_block_sets() {
        let block = CloudWatchExportSpec { enabled: None, role_arn: Some("arn:aws:iam::123456789012:role/m".into()), target_region: None, log_group_name: Some("crdb".into()), external_id: None };
        let info = CloudWatchMetricExportInfo {
            cluster_id: "c".into(),
            role_arn: "arn:aws:iam::123456789012:role/m".into(),
            target_region: Some("us-east-1".into()),
            log_group_name: Some("crdb".into()),
            external_id: None,
            status: Some(MetricExportStatus::Enabled),
            user_message: None,
        };
        assert_eq!(CloudWatch::plan(&block, &Some(info.clone())), None);
        let drifted = CloudWatchMetricExportInfo { log_group_name: Some("other".into()), ..info };
        assert!(matches!(CloudWatch::plan(&block, &Some(drifted)), Some(ExportChange::Enable(r)) if r.log_group_name.as_deref() == Some("crdb")));
    }

    #[test]
    fn an_export_in_error_stalls_with_the_clouds_message() {
        let info = PrometheusMetricExportInfo { cluster_id: "c".into(), status: Some(MetricExportStatus::Error), targets: Default::default(), user_message: Some("quota".into()) };
        let err = Prometheus::health(&Some(info)).unwrap_err();
        assert!(err.is_stalled() && err.message.contains("quota"), "{err:?}");
    }
}
