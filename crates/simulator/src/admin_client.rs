//! A typed client of the admin surface (`/_simulator/`), for tests, the demo and benchmarks. Its
//! methods panic on an unexpected answer (a test failure), except the `try_` ones, which return
//! the refusal for tests of the admin surface itself.

use std::fmt;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crdb_cloud::Operation;
use crdb_cloud::models::{Cluster, LogExportClusterInfo};

use crate::admin_api::{
    AzureSharedKeyDump, DatadogApiKeyDump, ForceLogExportStatus,
    Cleared, ClusterDump, Fault, FaultSpec, ForceState, Health, RequestRecord, Reset, SqlUserPassword, StateDump, Stats,
    paths,
};

/// An answer other than 2xx.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminError {
    pub status: u16,
    pub body: String,
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.body)
    }
}

impl std::error::Error for AdminError {}

/// The admin surface of one simulator. Needs a process-wide rustls crypto provider, like every
/// reqwest client here (tests install ring).
#[derive(Clone)]
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

/// `template` with its `{param}`s replaced by `params`, in order.
fn fill(template: &str, params: &[&str]) -> String {
    let mut params = params.iter();
    let path = template
        .split('/')
        .map(|segment| if segment.starts_with('{') { params.next().expect("a value for each parameter") } else { segment })
        .collect::<Vec<_>>()
        .join("/");
    assert!(params.next().is_none(), "more values than parameters in {template}");
    path
}

impl AdminClient {
    /// `base_url` is the simulator's, e.g. `http://127.0.0.1:8080`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self { base: base_url.into().trim_end_matches('/').to_string(), http: reqwest::Client::new() }
    }

    async fn try_call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, AdminError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("admin request {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_else(|e| panic!("admin answer {path}: {e}"));
        if !status.is_success() {
            return Err(AdminError { status: status.as_u16(), body: text });
        }
        Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("admin answer {path} does not parse ({e}): {text}")))
    }

    async fn call<T: DeserializeOwned>(&self, method: Method, path: &str, query: &[(&str, String)], body: Option<&(impl Serialize + ?Sized)>) -> T {
        let shown = format!("{method} {path}");
        self.try_call(method, path, query, body).await.unwrap_or_else(|e| panic!("admin {shown} failed: {e}"))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> T {
        self.call(Method::GET, path, query, None::<&()>).await
    }

    pub async fn health(&self) -> Health {
        self.get(paths::HEALTH, &[]).await
    }

    pub async fn stats(&self) -> Stats {
        self.get(paths::STATS, &[]).await
    }

    /// The request log after sequence number `since` (0: all of it), optionally of one operation.
    pub async fn requests(&self, since: u64, operation: Option<Operation>) -> Vec<RequestRecord> {
        let mut query = vec![("since", since.to_string())];
        query.extend(operation.map(|op| ("operation", op.name().to_string())));
        self.get(paths::REQUESTS, &query).await
    }

    /// The logged requests of one operation, oldest first.
    pub async fn requests_of(&self, operation: Operation) -> Vec<RequestRecord> {
        self.requests(0, Some(operation)).await
    }

    /// How many requests of one operation the log holds.
    pub async fn count(&self, operation: Operation) -> usize {
        self.requests_of(operation).await.len()
    }

    /// Clears clusters, stats, the request log, faults and rate-limit buckets; keys stay.
    pub async fn reset(&self) -> Reset {
        self.call(Method::POST, paths::RESET, &[], None::<&()>).await
    }

    pub async fn add_fault(&self, spec: &FaultSpec) -> Fault {
        self.call(Method::POST, paths::FAULTS, &[], Some(spec)).await
    }

    /// Sends any body as a fault (for tests of the refusals).
    pub async fn try_add_fault(&self, spec: &(impl Serialize + ?Sized)) -> Result<Fault, AdminError> {
        self.try_call(Method::POST, paths::FAULTS, &[], Some(spec)).await
    }

    pub async fn faults(&self) -> Vec<Fault> {
        self.get(paths::FAULTS, &[]).await
    }

    /// Removes every fault; says how many there were.
    pub async fn clear_faults(&self) -> usize {
        self.call::<Cleared>(Method::DELETE, paths::FAULTS, &[], None::<&()>).await.cleared
    }

    pub async fn state(&self) -> StateDump {
        self.get(paths::STATE, &[]).await
    }

    /// Every cluster (with what it holds) of every organisation.
    pub async fn clusters(&self) -> Vec<ClusterDump> {
        self.state().await.orgs.into_iter().flat_map(|org| org.clusters).collect()
    }

    /// One cluster with what it holds, if the simulator has it.
    pub async fn cluster(&self, cluster_id: &str) -> Option<ClusterDump> {
        self.clusters().await.into_iter().find(|c| c.cluster.id == cluster_id)
    }

    /// Clusters with this name that are not DELETED.
    pub async fn live_clusters_named(&self, name: &str) -> Vec<ClusterDump> {
        self.clusters().await.into_iter().filter(|c| c.cluster.name == name && !c.is_deleted()).collect()
    }

    /// Forces a cluster's state, operation status or upgrade status.
    pub async fn force_state(&self, cluster_id: &str, force: &ForceState) -> Cluster {
        self.call(Method::POST, &fill(paths::CLUSTER_STATE, &[cluster_id]), &[], Some(force)).await
    }

    pub async fn try_force_state(&self, cluster_id: &str, force: &(impl Serialize + ?Sized)) -> Result<Cluster, AdminError> {
        self.try_call(Method::POST, &fill(paths::CLUSTER_STATE, &[cluster_id]), &[], Some(force)).await
    }

    /// The password stored for a SQL user; `None` when the cluster or the user is unknown.
    pub async fn sql_user_password(&self, cluster_id: &str, name: &str) -> Option<String> {
        let path = fill(paths::SQL_USER_PASSWORD, &[cluster_id, name]);
        match self.try_call::<SqlUserPassword>(Method::GET, &path, &[], None::<&()>).await {
            Ok(answer) => Some(answer.password),
            Err(e) if e.status == 404 => None,
            Err(e) => panic!("admin GET {path} failed: {e}"),
        }
    }

    /// The fault hook of log export: puts it into `force.status` (e.g. CREDENTIALS_ERROR) with the
    /// cloud's message, until the next enable.
    pub async fn force_log_export_status(&self, cluster_id: &str, force: &ForceLogExportStatus) -> LogExportClusterInfo {
        self.call(Method::POST, &fill(paths::LOG_EXPORT_STATUS, &[cluster_id]), &[], Some(force)).await
    }

    /// The Datadog API key the cluster's metric export was given; `None` when not configured.
    pub async fn datadog_api_key(&self, cluster_id: &str) -> Option<String> {
        let path = fill(paths::DATADOG_API_KEY, &[cluster_id]);
        match self.try_call::<DatadogApiKeyDump>(Method::GET, &path, &[], None::<&()>).await {
            Ok(answer) => Some(answer.api_key),
            Err(e) if e.status == 404 => None,
            Err(e) => panic!("admin GET {path} failed: {e}"),
        }
    }

    /// The Azure Log Analytics shared key the cluster's log export was given; `None` when no Azure
    /// export is configured.
    pub async fn azure_shared_key(&self, cluster_id: &str) -> Option<String> {
        let path = fill(paths::AZURE_SHARED_KEY, &[cluster_id]);
        match self.try_call::<AzureSharedKeyDump>(Method::GET, &path, &[], None::<&()>).await {
            Ok(answer) => Some(answer.azure_shared_key),
            Err(e) if e.status == 404 => None,
            Err(e) => panic!("admin GET {path} failed: {e}"),
        }
    }
}

impl AdminClient {
    /// The cloud provider rejects a private endpoint connection (STATUS_REJECTED from then on).
    pub async fn reject_private_endpoint_connection(&self, cluster_id: &str, endpoint_id: &str) -> crdb_cloud::models::PrivateEndpointConnection {
        self.call(Method::POST, &fill(paths::REJECT_PRIVATE_ENDPOINT_CONNECTION, &[cluster_id, endpoint_id]), &[], None::<&()>).await
    }

    /// Removes a cluster's private endpoint services (as support can; the API cannot); says how many.
    pub async fn remove_private_endpoint_services(&self, cluster_id: &str) -> usize {
        self.call::<Cleared>(Method::DELETE, &fill(paths::PRIVATE_ENDPOINT_SERVICES, &[cluster_id]), &[], None::<&()>).await.cleared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_templates() {
        assert_eq!(fill(paths::SQL_USER_PASSWORD, &["c1", "app"]), "/_simulator/clusters/c1/sql-users/app/password");
        assert_eq!(fill(paths::STATS, &[]), "/_simulator/stats");
    }
}
