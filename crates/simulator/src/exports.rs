//! Log export and the three metric exports of a cluster: singletons that answer 404 until
//! configured, are created or replaced by POST, work asynchronously (ENABLING, then ENABLED once
//! a cloud operation's time has passed) and are removed by DELETE. The Datadog API key is kept
//! only to show its last four characters, as the service does, and the Azure Log Analytics shared
//! key is kept but never answered (the admin surface reads both, for tests).

use axum::Json;
use axum::extract::Extension;
use chrono::Utc;

use crdb_cloud::models::{
    AzureSharedKey, CloudWatchMetricExportInfo, DatadogApiKey, DatadogMetricExportInfo, DatadogSite, DeleteMetricExportResponse,
    EnableCloudWatchMetricExportRequest, EnableDatadogMetricExportRequest, EnableLogExportRequest, LogExportClusterInfo,
    LogExportClusterSpecification, LogExportStatus, LogExportType, MetricExportStatus, PrometheusMetricExportInfo,
};

use super::SimState;
use super::children::with_cluster;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx};
use super::state::{Access, ClusterRecord, Now, rfc3339};
use super::validation;

/// The exports configured on one cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exports {
    pub log: Option<LogExport>,
    pub datadog: Option<Export<Datadog>>,
    pub cloudwatch: Option<Export<EnableCloudWatchMetricExportRequest>>,
    pub prometheus: Option<Export<()>>,
}

/// A log export configuration and where the cloud is with it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogExport {
    /// What the cloud answers: never the shared key.
    pub spec: LogExportClusterSpecification,
    /// The Azure Log Analytics shared key of an AZURE_LOG_ANALYTICS export, kept apart from
    /// `spec` so no answer can carry it.
    pub azure_shared_key: Option<AzureSharedKey>,
    pub created_at: Now,
    pub updated_at: Now,
    /// When ENABLING turns ENABLED.
    pub enabled_at: Now,
    /// A status forced through the admin surface (a credentials error), with its message.
    pub forced: Option<(LogExportStatus, String)>,
}

impl LogExport {
    pub fn info(&self, cluster_id: &str, now: Now) -> LogExportClusterInfo {
        let (status, user_message) = match &self.forced {
            Some((status, message)) => (status.clone(), Some(message.clone())),
            None if now < self.enabled_at => (LogExportStatus::Enabling, None),
            None => (LogExportStatus::Enabled, None),
        };
        LogExportClusterInfo {
            cluster_id: Some(cluster_id.to_string()),
            created_at: Some(rfc3339(self.created_at)),
            spec: Some(self.spec.clone()),
            status: Some(status),
            updated_at: Some(rfc3339(self.updated_at)),
            user_message,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Datadog {
    pub site: DatadogSite,
    pub api_key: DatadogApiKey,
}

/// A metric export configuration and when it turns ENABLED.
#[derive(Debug, Clone, PartialEq)]
pub struct Export<T> {
    pub config: T,
    pub enabled_at: Now,
}

impl<T> Export<T> {
    fn status(&self, now: Now) -> MetricExportStatus {
        if now < self.enabled_at { MetricExportStatus::Enabling } else { MetricExportStatus::Enabled }
    }
}

fn not_configured(what: &str, cluster_id: &str) -> ApiError {
    ApiError::not_found(format!("{what} is not configured for cluster {cluster_id}"))
}

/// The service refuses external IDs on serverless clusters (official description).
fn advanced_only(record: &ClusterRecord, field: &str, value: Option<&String>) -> ApiResult<()> {
    if value.is_some() && record.cluster.config.dedicated.is_none() {
        return Err(ApiError::invalid(format!("`{field}` is only supported for ADVANCED clusters")));
    }
    Ok(())
}

fn required(field: &str, value: &str) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(format!("`{field}` is required")));
    }
    Ok(())
}

fn log_request(req: &EnableLogExportRequest) -> ApiResult<()> {
    validation::known("type", &req.type_)?;
    required("log_name", &req.log_name)?;
    required("auth_principal", &req.auth_principal)?;
    // The official description: for AZURE_LOG_ANALYTICS `auth_principal` is the workspace
    // (customer) ID and `azure_shared_key` the workspace key the export authenticates with.
    if req.type_ == LogExportType::AzureLogAnalytics {
        required("azure_shared_key", req.azure_shared_key.as_ref().map_or("", AzureSharedKey::expose))?;
    }
    for (i, group) in req.groups.iter().enumerate() {
        required(&format!("groups[{i}].log_name"), &group.log_name)?;
        if group.channels.is_empty() {
            return Err(ApiError::invalid(format!("`groups[{i}].channels` must list at least one channel")));
        }
        validation::known_opt(&format!("groups[{i}].min_level"), group.min_level.as_ref())?;
    }
    Ok(())
}

pub(super) async fn get_log(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<LogExportClusterInfo>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        let log = record.exports.log.as_ref().ok_or_else(|| not_configured("log export", &cluster_id))?;
        Ok(Json(log.info(&cluster_id, Utc::now())))
    })
}

pub(super) async fn enable_log(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<EnableLogExportRequest>,
) -> ApiResult<Json<LogExportClusterInfo>> {
    log_request(&req)?;
    let delay = sim.timing.operation_delay;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        advanced_only(record, "aws_external_id", req.aws_external_id.as_ref())?;
        let now = Utc::now();
        // A key sent with another type is used by nothing (the description ties it to Azure).
        let azure_shared_key = req.azure_shared_key.filter(|_| req.type_ == LogExportType::AzureLogAnalytics);
        let spec = LogExportClusterSpecification {
            auth_principal: Some(req.auth_principal),
            aws_external_id: req.aws_external_id,
            groups: req.groups,
            log_name: Some(req.log_name),
            omitted_channels: req.omitted_channels,
            redact: req.redact,
            region: req.region,
            type_: Some(req.type_),
        };
        let created_at = record.exports.log.as_ref().map_or(now, |l| l.created_at);
        let log = LogExport { spec, azure_shared_key, created_at, updated_at: now, enabled_at: now + delay, forced: None };
        let info = log.info(&cluster_id, now);
        record.exports.log = Some(log);
        Ok(Json(info))
    })
}

pub(super) async fn delete_log(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<LogExportClusterInfo>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        let log = record.exports.log.take().ok_or_else(|| not_configured("log export", &cluster_id))?;
        Ok(Json(LogExportClusterInfo { status: Some(LogExportStatus::Disabling), user_message: None, ..log.info(&cluster_id, Utc::now()) }))
    })
}

fn datadog_info(cluster_id: &str, export: &Export<Datadog>, now: Now) -> DatadogMetricExportInfo {
    DatadogMetricExportInfo {
        cluster_id: cluster_id.to_string(),
        site: export.config.site.clone(),
        api_key: Some(export.config.api_key.last_four()),
        status: Some(export.status(now)),
        user_message: None,
    }
}

pub(super) async fn get_datadog(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<DatadogMetricExportInfo>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        let export = record.exports.datadog.as_ref().ok_or_else(|| not_configured("Datadog metric export", &cluster_id))?;
        Ok(Json(datadog_info(&cluster_id, export, Utc::now())))
    })
}

pub(super) async fn enable_datadog(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<EnableDatadogMetricExportRequest>,
) -> ApiResult<Json<DatadogMetricExportInfo>> {
    validation::known("site", &req.site)?;
    required("api_key", req.api_key.expose())?;
    let delay = sim.timing.operation_delay;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        let now = Utc::now();
        let export = Export { config: Datadog { site: req.site, api_key: req.api_key }, enabled_at: now + delay };
        let info = datadog_info(&cluster_id, &export, now);
        record.exports.datadog = Some(export);
        Ok(Json(info))
    })
}

fn deleted(cluster_id: &str) -> Json<DeleteMetricExportResponse> {
    Json(DeleteMetricExportResponse { cluster_id: cluster_id.to_string(), status: Some(MetricExportStatus::Disabling) })
}

pub(super) async fn delete_datadog(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<DeleteMetricExportResponse>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        record.exports.datadog.take().ok_or_else(|| not_configured("Datadog metric export", &cluster_id))?;
        Ok(deleted(&cluster_id))
    })
}

fn cloudwatch_info(cluster_id: &str, export: &Export<EnableCloudWatchMetricExportRequest>, now: Now) -> CloudWatchMetricExportInfo {
    let config = export.config.clone();
    CloudWatchMetricExportInfo {
        cluster_id: cluster_id.to_string(),
        role_arn: config.role_arn,
        target_region: config.target_region,
        log_group_name: config.log_group_name,
        external_id: config.external_id,
        status: Some(export.status(now)),
        user_message: None,
    }
}

pub(super) async fn get_cloudwatch(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<CloudWatchMetricExportInfo>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        let export = record.exports.cloudwatch.as_ref().ok_or_else(|| not_configured("CloudWatch metric export", &cluster_id))?;
        Ok(Json(cloudwatch_info(&cluster_id, export, Utc::now())))
    })
}

pub(super) async fn enable_cloudwatch(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<EnableCloudWatchMetricExportRequest>,
) -> ApiResult<Json<CloudWatchMetricExportInfo>> {
    required("role_arn", &req.role_arn)?;
    if !req.role_arn.starts_with("arn:") {
        return Err(ApiError::invalid(format!("`role_arn` {:?} is not an IAM role ARN", req.role_arn)));
    }
    let delay = sim.timing.operation_delay;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        advanced_only(record, "external_id", req.external_id.as_ref())?;
        let now = Utc::now();
        let export = Export { config: req, enabled_at: now + delay };
        let info = cloudwatch_info(&cluster_id, &export, now);
        record.exports.cloudwatch = Some(export);
        Ok(Json(info))
    })
}

pub(super) async fn delete_cloudwatch(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<DeleteMetricExportResponse>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        record.exports.cloudwatch.take().ok_or_else(|| not_configured("CloudWatch metric export", &cluster_id))?;
        Ok(deleted(&cluster_id))
    })
}

/// One scrape target per region of the cluster.
fn prometheus_info(record: &ClusterRecord, export: &Export<()>, now: Now) -> PrometheusMetricExportInfo {
    let id = &record.cluster.id;
    let targets = record
        .cluster
        .regions
        .iter()
        .map(|r| (r.name.clone(), format!("https://cockroachlabs.cloud/api/v1/clusters/{id}/metricexport/prometheus/{}/scrape", r.name)))
        .collect();
    PrometheusMetricExportInfo { cluster_id: id.clone(), status: Some(export.status(now)), targets, user_message: None }
}

pub(super) async fn get_prometheus(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<PrometheusMetricExportInfo>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        let export = record.exports.prometheus.as_ref().ok_or_else(|| not_configured("Prometheus metric export", &cluster_id))?;
        Ok(Json(prometheus_info(record, export, Utc::now())))
    })
}

pub(super) async fn enable_prometheus(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<PrometheusMetricExportInfo>> {
    let delay = sim.timing.operation_delay;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        let now = Utc::now();
        let export = record.exports.prometheus.take().unwrap_or(Export { config: (), enabled_at: now + delay });
        let info = prometheus_info(record, &export, now);
        record.exports.prometheus = Some(export);
        Ok(Json(info))
    })
}

pub(super) async fn delete_prometheus(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<DeleteMetricExportResponse>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        record.exports.prometheus.take().ok_or_else(|| not_configured("Prometheus metric export", &cluster_id))?;
        Ok(deleted(&cluster_id))
    })
}
