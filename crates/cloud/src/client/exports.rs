//! Log and metric export. Each is a singleton of the cluster that answers 404 while it is not
//! configured: the reads say so with `None`.

use super::{Call, CloudClient, CloudError, Operation};
use crate::models::{
    CloudWatchMetricExportInfo, DatadogMetricExportInfo, DeleteMetricExportResponse, EnableCloudWatchMetricExportRequest,
    EnableDatadogMetricExportRequest, EnableLogExportRequest, LogExportClusterInfo, PrometheusMetricExportInfo,
};

/// `None` for a 404: the export is not configured.
fn configured<T>(result: Result<T, CloudError>) -> Result<Option<T>, CloudError> {
    match result {
        Ok(info) => Ok(Some(info)),
        Err(CloudError::NotFound(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

impl CloudClient {
    pub async fn get_log_export(&self, cluster_id: &str) -> Result<Option<LogExportClusterInfo>, CloudError> {
        configured(self.send(Call::new(Operation::GetLogExportInfo, &[cluster_id])).await)
    }

    /// Creates or replaces the configuration (the cloud then works on it: ENABLING).
    pub async fn enable_log_export(&self, cluster_id: &str, request: &EnableLogExportRequest) -> Result<LogExportClusterInfo, CloudError> {
        self.send(Call::new(Operation::EnableLogExport, &[cluster_id]).body(request)?).await
    }

    pub async fn delete_log_export(&self, cluster_id: &str) -> Result<LogExportClusterInfo, CloudError> {
        self.send(Call::new(Operation::DeleteLogExport, &[cluster_id])).await
    }

    pub async fn get_datadog_metric_export(&self, cluster_id: &str) -> Result<Option<DatadogMetricExportInfo>, CloudError> {
        configured(self.send(Call::new(Operation::GetDatadogMetricExportInfo, &[cluster_id])).await)
    }

    pub async fn enable_datadog_metric_export(
        &self,
        cluster_id: &str,
        request: &EnableDatadogMetricExportRequest,
    ) -> Result<DatadogMetricExportInfo, CloudError> {
        self.send(Call::new(Operation::EnableDatadogMetricExport, &[cluster_id]).body(request)?).await
    }

    pub async fn delete_datadog_metric_export(&self, cluster_id: &str) -> Result<DeleteMetricExportResponse, CloudError> {
        self.send(Call::new(Operation::DeleteDatadogMetricExport, &[cluster_id])).await
    }

    pub async fn get_cloudwatch_metric_export(&self, cluster_id: &str) -> Result<Option<CloudWatchMetricExportInfo>, CloudError> {
        configured(self.send(Call::new(Operation::GetCloudWatchMetricExportInfo, &[cluster_id])).await)
    }

    pub async fn enable_cloudwatch_metric_export(
        &self,
        cluster_id: &str,
        request: &EnableCloudWatchMetricExportRequest,
    ) -> Result<CloudWatchMetricExportInfo, CloudError> {
        self.send(Call::new(Operation::EnableCloudWatchMetricExport, &[cluster_id]).body(request)?).await
    }

    pub async fn delete_cloudwatch_metric_export(&self, cluster_id: &str) -> Result<DeleteMetricExportResponse, CloudError> {
        self.send(Call::new(Operation::DeleteCloudWatchMetricExport, &[cluster_id])).await
    }

    pub async fn get_prometheus_metric_export(&self, cluster_id: &str) -> Result<Option<PrometheusMetricExportInfo>, CloudError> {
        configured(self.send(Call::new(Operation::GetPrometheusMetricExportInfo, &[cluster_id])).await)
    }

    /// The POST has no body in the official description.
    pub async fn enable_prometheus_metric_export(&self, cluster_id: &str) -> Result<PrometheusMetricExportInfo, CloudError> {
        self.send(Call::new(Operation::EnablePrometheusMetricExport, &[cluster_id])).await
    }

    pub async fn delete_prometheus_metric_export(&self, cluster_id: &str) -> Result<DeleteMetricExportResponse, CloudError> {
        self.send(Call::new(Operation::DeletePrometheusMetricExport, &[cluster_id])).await
    }
}
