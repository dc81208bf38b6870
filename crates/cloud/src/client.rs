//! HTTP client for the CockroachDB Cloud API.
//!
//! Every request goes through the key's [`Budget`]; idempotent requests are retried on 429, 5xx and
//! connection errors with jittered exponential backoff. A create (POST) is sent once: after a
//! failure the caller must first confirm the object does not exist. The only exception is a 429,
//! which the service answers before doing any work.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::{Method, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use url::Url;

use super::budget::{Budget, BudgetRegistry, Priority};
use super::operations::CLUSTER_CERT_OPERATION;
use super::error::CloudError;
use super::models::*;
use super::observer::{CloudObserver, NoopObserver};
use super::tls::{self, TlsConditions};
use super::operations::Operation;

/// The API version this client speaks (`Cc-Version` header).
pub const API_VERSION: &str = "2024-09-16";
pub const DEFAULT_BASE_URL: &str = "https://cockroachlabs.cloud";
/// Page size for list calls; the largest the service documents in practice.
const PAGE_LIMIT: i32 = 500;

/// A whole collection and the number of requests (pages) it took to read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub pages: u32,
}

/// An API key. Its `Debug` never shows the value and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().trim().to_string())
    }
    /// A short, stable, non-reversible identifier for budgets, caches and logs.
    pub fn fingerprint(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..6])
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({})", self.fingerprint())
    }
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 4, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// Full-jitter exponential backoff for the given retry (0-based).
    fn backoff(&self, retry: u32) -> Duration {
        let cap = self.base_delay.saturating_mul(1 << retry.min(16)).min(self.max_delay);
        let millis = rand::rng().random_range(cap.as_millis() as u64 / 2..=cap.as_millis().max(1) as u64);
        Duration::from_millis(millis)
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: Url,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("default URL"),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

/// Asked just before each request is sent (after any wait for the budget): `Err(reason)` stops
/// the request unsent. The operator uses it to stop a replica whose leadership lapsed.
pub type SendPermit = Arc<dyn Fn() -> Result<(), &'static str> + Send + Sync>;

/// Builds clients that share one HTTP connection pool and one budget per API key.
#[derive(Clone)]
pub struct CloudClients {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    budgets: Arc<BudgetRegistry>,
    observer: Arc<dyn CloudObserver>,
    permit: Option<SendPermit>,
    tls: Arc<TlsConditions>,
}

impl CloudClients {
    /// Needs a process-wide rustls crypto provider: the program installs one (the operator's
    /// `main` installs ring) before building clients.
    pub fn new(config: ClientConfig, budgets: BudgetRegistry) -> Result<Self, CloudError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("crdb-cloud-operator/", env!("CARGO_PKG_VERSION")))
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| CloudError::Transient(format!("cannot build HTTP client: {e}")))?;
        Ok(Self { http, config: Arc::new(config), budgets: Arc::new(budgets), observer: Arc::new(NoopObserver), permit: None, tls: Arc::default() })
    }

    /// Asks `permit` before every request.
    pub fn with_send_permit(mut self, permit: SendPermit) -> Self {
        self.permit = Some(permit);
        self
    }

    /// Reports every request to `observer` (metrics).
    pub fn with_observer(mut self, observer: Arc<dyn CloudObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// A client for `key`, sharing the key's budget with every other client of that key.
    pub fn client(&self, key: ApiKey) -> CloudClient {
        CloudClient {
            http: self.http.clone(),
            config: self.config.clone(),
            budget: self.budgets.for_key(&key.fingerprint()),
            observer: self.observer.clone(),
            permit: self.permit.clone(),
            tls: self.tls.clone(),
            key,
            priority: Priority::Interactive,
        }
    }
}

/// A client bound to one API key and one priority.
#[derive(Clone)]
pub struct CloudClient {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    budget: Arc<Budget>,
    observer: Arc<dyn CloudObserver>,
    permit: Option<SendPermit>,
    tls: Arc<TlsConditions>,
    key: ApiKey,
    priority: Priority,
}

impl std::fmt::Debug for CloudClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudClient").field("base_url", &self.config.base_url.as_str()).field("key", &self.key).finish()
    }
}

/// One API request, described for the HTTP layer: the operation (its method and path template)
/// and the values of the template's parameters, in order.
struct Call<'a> {
    operation: Operation,
    params: &'a [&'a str],
    query: Vec<(&'static str, String)>,
    body: Option<serde_json::Value>,
}

impl<'a> Call<'a> {
    fn new(operation: Operation, params: &'a [&'a str]) -> Self {
        Self { operation, params, query: Vec::new(), body: None }
    }
    fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }
    fn body(mut self, body: &impl Serialize) -> Result<Self, CloudError> {
        self.body = Some(serde_json::to_value(body).map_err(|e| CloudError::Decode(e.to_string()))?);
        Ok(self)
    }
}

impl CloudClient {
    /// The same client at another priority (shares key, budget and connections).
    pub fn with_priority(&self, priority: Priority) -> Self {
        Self { priority, ..self.clone() }
    }

    pub fn key_fingerprint(&self) -> String {
        self.key.fingerprint()
    }

    fn url(&self, operation: Operation, params: &[&str], query: &[(&'static str, String)]) -> Url {
        let mut url = self.config.base_url.clone();
        {
            let mut segments = url.path_segments_mut().expect("base URL is a valid base");
            segments.pop_if_empty();
            segments.extend(operation.segments(params));
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    async fn send<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, CloudError> {
        let idempotent = call.operation.method() != Method::POST;
        let url = self.url(call.operation, call.params, &call.query);
        let mut retry = 0;
        loop {
            let waited = self.budget.acquire(self.priority).await;
            self.observer.budget_wait(call.operation.name(), waited);
            if let Some(permit) = &self.permit {
                permit().map_err(|reason| CloudError::NotSent(reason.to_string()))?;
            }
            let started = std::time::Instant::now();
            let result = self.attempt::<T>(&call, url.clone()).await;
            let status = match &result {
                Ok(_) => "200".to_string(),
                Err((status, _)) => status.map(|s| s.as_u16().to_string()).unwrap_or_else(|| "error".into()),
            };
            self.observer.request(call.operation.name(), &status, started.elapsed());
            let err = match result {
                Ok(value) => return Ok(value),
                Err((_, err)) => err,
            };
            if let CloudError::RateLimited { retry_after, .. } = &err {
                self.observer.rate_limited(call.operation.name());
                self.budget.pause_for(retry_after.unwrap_or(Duration::from_secs(1)));
            }
            // A 429 means the service did no work, so even a create may go again.
            let may_retry = err.is_retryable() && (idempotent || matches!(err, CloudError::RateLimited { .. }));
            if !may_retry || retry >= self.config.retry.max_retries {
                return Err(err);
            }
            let delay = match &err {
                CloudError::RateLimited { retry_after: Some(after), .. } => *after,
                _ => self.config.retry.backoff(retry),
            };
            tracing::debug!(operation = call.operation.name(), retry = retry + 1, ?delay, error = %err, "retrying Cloud API request");
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    async fn attempt<T: DeserializeOwned>(&self, call: &Call<'_>, url: Url) -> Result<T, (Option<StatusCode>, CloudError)> {
        let mut request = self
            .http
            .request(call.operation.method(), url)
            .bearer_auth(self.key.expose())
            .header("Cc-Version", API_VERSION)
            .header(header::ACCEPT, "application/json");
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => {
                self.tls.succeeded(&self.config.base_url);
                response
            }
            Err(err) => {
                if let Some(condition) = tls::failure_in(&err) {
                    self.tls.failed(&self.config.base_url, condition);
                }
                return Err((None, CloudError::from_transport(&err)));
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| (Some(status), CloudError::from_transport(&e)))?;
        if !status.is_success() {
            return Err((Some(status), CloudError::from_response(status.as_u16(), &bytes, retry_after)));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| (Some(status), CloudError::Decode(format!("{}: {e}", call.operation))))
    }

    /// Follows every page of a keyset-paginated list; says how many pages (requests) it took.
    async fn list_all<R, T>(
        &self,
        operation: Operation,
        params: &[&str],
        extra_query: &[(&'static str, String)],
        split: impl Fn(R) -> (Vec<T>, Option<Pagination>),
    ) -> Result<Listing<T>, CloudError>
    where
        R: DeserializeOwned,
    {
        let mut listing = Listing { items: Vec::new(), pages: 0 };
        let mut page: Option<String> = None;
        loop {
            let mut call = Call::new(operation, params).query("pagination.limit", PAGE_LIMIT);
            call.query.extend(extra_query.iter().cloned());
            if let Some(token) = &page {
                call = call.query("pagination.page", token);
            }
            let (mut batch, pagination) = split(self.send::<R>(call).await?);
            listing.items.append(&mut batch);
            listing.pages += 1;
            match pagination.as_ref().and_then(Pagination::next) {
                // A server that repeats its token would loop forever; treat it as the last page.
                Some(next) if page.as_deref() != Some(next) => page = Some(next.to_string()),
                _ => return Ok(listing),
            }
        }
    }

    // ---- organization, versions, regions ----

    pub async fn get_organization(&self) -> Result<Organization, CloudError> {
        self.send(Call::new(Operation::GetOrganizationInfo, &[])).await
    }

    pub async fn list_cluster_versions(&self) -> Result<Vec<ClusterMajorVersion>, CloudError> {
        self.list_all(Operation::ListMajorClusterVersions, &[], &[], |r: ListClusterVersionsResponse| (r.versions, r.pagination))
            .await
            .map(|listing| listing.items)
    }

    pub async fn list_available_regions(
        &self,
        provider: &CloudProvider,
        serverless: bool,
    ) -> Result<Vec<CloudProviderRegion>, CloudError> {
        let query = [("provider", provider.to_string()), ("serverless", serverless.to_string())];
        self.list_all(Operation::ListAvailableRegions, &[], &query, |r: ListAvailableRegionsResponse| (r.regions, r.pagination))
            .await
            .map(|listing| listing.items)
    }

    // ---- clusters ----

    /// Every cluster of the organisation; `show_inactive` includes DELETED ones.
    pub async fn list_clusters(&self, show_inactive: bool) -> Result<Vec<Cluster>, CloudError> {
        let query = [("show_inactive", show_inactive.to_string())];
        self.list_all(Operation::ListClusters, &[], &query, |r: ListClustersResponse| (r.clusters, r.pagination))
            .await
            .map(|listing| listing.items)
    }

    /// Sent once; see the module documentation.
    pub async fn create_cluster(&self, request: &CreateClusterRequest) -> Result<Cluster, CloudError> {
        self.send(Call::new(Operation::CreateCluster, &[]).body(request)?).await
    }

    pub async fn get_cluster(&self, id: &str) -> Result<Cluster, CloudError> {
        self.send(Call::new(Operation::GetCluster, &[id])).await
    }

    pub async fn update_cluster(&self, id: &str, spec: &UpdateClusterSpec) -> Result<Cluster, CloudError> {
        self.send(Call::new(Operation::UpdateCluster, &[id]).body(spec)?).await
    }

    pub async fn delete_cluster(&self, id: &str) -> Result<Cluster, CloudError> {
        self.send(Call::new(Operation::DeleteCluster, &[id])).await
    }

    pub async fn get_connection_string(
        &self,
        id: &str,
        database: Option<&str>,
        sql_user: Option<&str>,
    ) -> Result<ConnectionString, CloudError> {
        let params = [id];
        // `os` only shapes the certificate path in the string, and is required for dedicated
        // clusters; applications using the connection Secret run in Linux pods.
        let mut call = Call::new(Operation::GetConnectionString, &params).query("os", "LINUX");
        if let Some(db) = database {
            call = call.query("database", db);
        }
        if let Some(user) = sql_user {
            call = call.query("sql_user", user);
        }
        self.send(call).await
    }

    pub async fn get_backup_configuration(&self, id: &str) -> Result<BackupConfiguration, CloudError> {
        self.send(Call::new(Operation::GetBackupConfiguration, &[id])).await
    }

    pub async fn update_backup_configuration(
        &self,
        id: &str,
        spec: &UpdateBackupConfiguration,
    ) -> Result<BackupConfiguration, CloudError> {
        self.send(Call::new(Operation::UpdateBackupConfiguration, &[id]).body(spec)?).await
    }

    // ---- maintenance: window, blackout windows, version deferral ----

    pub async fn get_maintenance_window(&self, id: &str) -> Result<MaintenanceWindow, CloudError> {
        self.send(Call::new(Operation::GetMaintenanceWindow, &[id])).await
    }

    pub async fn set_maintenance_window(&self, id: &str, window: &MaintenanceWindow) -> Result<MaintenanceWindow, CloudError> {
        self.send(Call::new(Operation::SetMaintenanceWindow, &[id]).body(window)?).await
    }

    pub async fn delete_maintenance_window(&self, id: &str) -> Result<MaintenanceWindow, CloudError> {
        self.send(Call::new(Operation::DeleteMaintenanceWindow, &[id])).await
    }

    pub async fn list_blackout_windows(&self, id: &str) -> Result<Vec<BlackoutWindow>, CloudError> {
        self.list_all(Operation::ListBlackoutWindows, &[id], &[], |r: ListBlackoutWindowsResponse| (r.blackout_windows, r.pagination))
            .await
            .map(|listing| listing.items)
    }

    pub async fn create_blackout_window(&self, id: &str, request: &CreateBlackoutWindowRequest) -> Result<BlackoutWindow, CloudError> {
        self.send(Call::new(Operation::CreateBlackoutWindow, &[id]).body(request)?).await
    }

    pub async fn get_blackout_window(&self, id: &str, window_id: &str) -> Result<BlackoutWindow, CloudError> {
        self.send(Call::new(Operation::GetBlackoutWindow, &[id, window_id])).await
    }

    pub async fn update_blackout_window(
        &self,
        id: &str,
        window_id: &str,
        request: &UpdateBlackoutWindowRequest,
    ) -> Result<BlackoutWindow, CloudError> {
        self.send(Call::new(Operation::UpdateBlackoutWindow, &[id, window_id]).body(request)?).await
    }

    pub async fn delete_blackout_window(&self, id: &str, window_id: &str) -> Result<BlackoutWindow, CloudError> {
        self.send(Call::new(Operation::DeleteBlackoutWindow, &[id, window_id])).await
    }

    pub async fn get_version_deferral(&self, id: &str) -> Result<ClusterVersionDeferral, CloudError> {
        self.send(Call::new(Operation::GetClusterVersionDeferral, &[id])).await
    }

    pub async fn set_version_deferral(&self, id: &str, update: &ClusterVersionDeferralUpdate) -> Result<ClusterVersionDeferral, CloudError> {
        self.send(Call::new(Operation::SetClusterVersionDeferral, &[id]).body(update)?).await
    }

    // ---- nodes, egress, CMEK, client CA, the cluster's CA certificate ----

    pub async fn list_cluster_nodes(&self, cluster_id: &str) -> Result<Listing<Node>, CloudError> {
        self.list_all(Operation::ListClusterNodes, &[cluster_id], &[], |r: ListClusterNodesResponse| (r.nodes, r.pagination)).await
    }

    /// Sets the policy; the cloud answers with an empty object and reports the policy (possibly
    /// UPDATING first) in `Cluster.egress_traffic_policy`.
    pub async fn set_egress_traffic_policy(&self, cluster_id: &str, allow_all: bool) -> Result<(), CloudError> {
        let body = SetEgressTrafficPolicyRequest { allow_all, idempotency_key: None };
        self.send::<Empty>(Call::new(Operation::SetEgressTrafficPolicy, &[cluster_id]).body(&body)?).await.map(|_| ())
    }

    pub async fn get_cmek(&self, cluster_id: &str) -> Result<CmekClusterInfo, CloudError> {
        self.send(Call::new(Operation::GetCMEKClusterInfo, &[cluster_id])).await
    }

    /// Enables CMEK on a cluster that has none.
    pub async fn enable_cmek(&self, cluster_id: &str, spec: &CmekClusterSpec) -> Result<CmekClusterInfo, CloudError> {
        self.send(Call::new(Operation::EnableCMEKSpec, &[cluster_id]).body(spec)?).await
    }

    /// Replaces the CMEK spec (adds regions, rotates keys).
    pub async fn update_cmek(&self, cluster_id: &str, spec: &CmekClusterSpec) -> Result<CmekClusterInfo, CloudError> {
        self.send(Call::new(Operation::UpdateCMEKSpec, &[cluster_id]).body(spec)?).await
    }

    pub async fn get_client_ca_cert(&self, cluster_id: &str) -> Result<ClientCaCertInfo, CloudError> {
        self.send(Call::new(Operation::GetClientCACert, &[cluster_id])).await
    }

    /// Sets the client CA on a cluster that has none.
    pub async fn set_client_ca_cert(&self, cluster_id: &str, pem: &str) -> Result<ClientCaCertInfo, CloudError> {
        let body = ClientCaCertRequest { x509_pem_cert: pem.to_string() };
        self.send(Call::new(Operation::SetClientCACert, &[cluster_id]).body(&body)?).await
    }

    /// Replaces the client CA of a cluster that has one.
    pub async fn update_client_ca_cert(&self, cluster_id: &str, pem: &str) -> Result<ClientCaCertInfo, CloudError> {
        let body = ClientCaCertRequest { x509_pem_cert: pem.to_string() };
        self.send(Call::new(Operation::UpdateClientCACert, &[cluster_id]).body(&body)?).await
    }

    pub async fn delete_client_ca_cert(&self, cluster_id: &str) -> Result<ClientCaCertInfo, CloudError> {
        self.send(Call::new(Operation::DeleteClientCACert, &[cluster_id])).await
    }

    /// Every role the user (a person or a service account) holds directly, and through groups.
    pub async fn get_roles_for_user(&self, user_id: &str) -> Result<GetAllRolesForUserResponse, CloudError> {
        self.send(Call::new(Operation::GetAllRolesForUser, &[user_id])).await
    }

    /// Grants one role; granting a role the user holds already changes nothing.
    pub async fn add_user_to_role(&self, user_id: &str, role: &BuiltInRole) -> Result<GetAllRolesForUserResponse, CloudError> {
        let (resource_type, resource_id) = (role.resource.resource_type.as_str(), role.resource.id.as_deref().unwrap_or_default());
        self.send(Call::new(Operation::AddUserToRole, &[user_id, resource_type, resource_id, role.name.as_str()])).await
    }

    /// Revokes one role.
    pub async fn remove_user_from_role(&self, user_id: &str, role: &BuiltInRole) -> Result<GetAllRolesForUserResponse, CloudError> {
        let (resource_type, resource_id) = (role.resource.resource_type.as_str(), role.resource.id.as_deref().unwrap_or_default());
        self.send(Call::new(Operation::RemoveUserFromRole, &[user_id, resource_type, resource_id, role.name.as_str()])).await
    }

    /// The cluster's CA certificate (PEM), which clients need for `sslmode=verify-full`. It is
    /// public: served at the site root (`/clusters/{id}/cert`, not under `/api/v1`), outside the
    /// API's operations, and sent without the API key. It still goes through the key's budget and
    /// the send permit like every request, so the accounting (and a deposed leader's silence)
    /// holds for it too.
    pub async fn get_cluster_ca_cert(&self, cluster_id: &str) -> Result<String, CloudError> {
        let mut url = self.config.base_url.clone();
        url.path_segments_mut().expect("base URL is a valid base").pop_if_empty().extend(["clusters", cluster_id, "cert"]);
        let waited = self.budget.acquire(self.priority).await;
        self.observer.budget_wait(CLUSTER_CERT_OPERATION, waited);
        if let Some(permit) = &self.permit {
            permit().map_err(|reason| CloudError::NotSent(reason.to_string()))?;
        }
        let started = std::time::Instant::now();
        let response = self.http.get(url).send().await.map_err(|e| CloudError::from_transport(&e))?;
        let status = response.status();
        self.observer.request(CLUSTER_CERT_OPERATION, status.as_str(), started.elapsed());
        let bytes = response.bytes().await.map_err(|e| CloudError::from_transport(&e))?;
        if !status.is_success() {
            return Err(CloudError::from_response(status.as_u16(), &bytes, None));
        }
        let pem = String::from_utf8(bytes.to_vec()).map_err(|e| CloudError::Decode(format!("cluster CA certificate: {e}")))?;
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(CloudError::Decode("cluster CA certificate: the answer is not a PEM certificate".into()));
        }
        Ok(pem)
    }

    // ---- SQL users ----

    pub async fn list_sql_users(&self, cluster_id: &str) -> Result<Listing<SqlUser>, CloudError> {
        self.list_all(Operation::ListSQLUsers, &[cluster_id], &[], |r: ListSqlUsersResponse| (r.users, r.pagination)).await
    }

    pub async fn create_sql_user(&self, cluster_id: &str, name: &str, password: &str) -> Result<SqlUser, CloudError> {
        let body = CreateSqlUserRequest { name: name.to_string(), password: password.to_string() };
        self.send(Call::new(Operation::CreateSQLUser, &[cluster_id]).body(&body)?).await
    }

    pub async fn delete_sql_user(&self, cluster_id: &str, name: &str) -> Result<SqlUser, CloudError> {
        self.send(Call::new(Operation::DeleteSQLUser, &[cluster_id, name])).await
    }

    pub async fn update_sql_user_password(&self, cluster_id: &str, name: &str, password: &str) -> Result<SqlUser, CloudError> {
        let body = UpdateSqlUserPasswordRequest { password: password.to_string() };
        self.send(Call::new(Operation::UpdateSQLUserPassword, &[cluster_id, name]).body(&body)?).await
    }

    // ---- databases ----

    pub async fn list_databases(&self, cluster_id: &str) -> Result<Listing<Database>, CloudError> {
        self.list_all(Operation::ListDatabases, &[cluster_id], &[], |r: ListDatabasesResponse| (r.databases, r.pagination)).await
    }

    pub async fn create_database(&self, cluster_id: &str, name: &str) -> Result<Database, CloudError> {
        let body = CreateDatabaseRequest { name: name.to_string() };
        self.send(Call::new(Operation::CreateDatabase, &[cluster_id]).body(&body)?).await
    }

    pub async fn rename_database(&self, cluster_id: &str, name: &str, new_name: &str) -> Result<Database, CloudError> {
        let body = UpdateDatabaseRequest { new_name: new_name.to_string() };
        self.send(Call::new(Operation::EditDatabase, &[cluster_id, name]).body(&body)?).await
    }

    pub async fn delete_database(&self, cluster_id: &str, name: &str) -> Result<Database, CloudError> {
        self.send(Call::new(Operation::DeleteDatabase, &[cluster_id, name])).await
    }

    // ---- IP allowlist ----

    pub async fn list_allowlist(&self, cluster_id: &str) -> Result<Listing<AllowlistEntry>, CloudError> {
        self.list_all(Operation::ListAllowlistEntries, &[cluster_id], &[], |r: ListAllowlistResponse| (r.allowlist, r.pagination))
            .await
    }

    pub async fn add_allowlist_entry(&self, cluster_id: &str, entry: &AllowlistEntry) -> Result<AllowlistEntry, CloudError> {
        self.send(Call::new(Operation::AddAllowlistEntry, &[cluster_id]).body(entry)?).await
    }

    /// The CIDR travels in two path segments.
    pub async fn update_allowlist_entry(
        &self,
        cluster_id: &str,
        cidr_ip: &str,
        cidr_mask: i32,
        update: &AllowlistEntryUpdate,
    ) -> Result<AllowlistEntry, CloudError> {
        let mask = cidr_mask.to_string();
        self.send(Call::new(Operation::UpdateAllowlistEntry, &[cluster_id, cidr_ip, mask.as_str()]).body(update)?).await
    }

    pub async fn delete_allowlist_entry(&self, cluster_id: &str, cidr_ip: &str, cidr_mask: i32) -> Result<AllowlistEntry, CloudError> {
        let mask = cidr_mask.to_string();
        self.send(Call::new(Operation::DeleteAllowlistEntry, &[cluster_id, cidr_ip, mask.as_str()])).await
    }
}

mod exports;
mod egress_rules;
mod accounts;
mod folders;
mod jwt_issuers;
mod private_endpoints;

/// Reads `Retry-After` as delta-seconds (the service's form); HTTP dates are not used by it.
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(|s| Duration::from_secs_f64(s.min(300.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_debug_shows_only_a_fingerprint() {
        let key = ApiKey::new("CCDB1_supersecretvalue");
        let shown = format!("{key:?}");
        assert!(!shown.contains("supersecret"), "{shown}");
        assert_eq!(key.fingerprint().len(), 12);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy { max_retries: 10, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1) };
        for retry in 0..10 {
            let d = policy.backoff(retry);
            let cap = Duration::from_millis(100).saturating_mul(1 << retry).min(Duration::from_secs(1));
            assert!(d <= cap && d >= cap / 2, "retry {retry}: {d:?} not within [{:?}, {cap:?}]", cap / 2);
        }
    }

    #[test]
    fn path_segments_are_escaped() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let clients = CloudClients::new(
            ClientConfig { base_url: Url::parse("http://127.0.0.1:1/").unwrap(), ..Default::default() },
            BudgetRegistry::default(),
        );
        // Building clients needs a runtime for the budget dispatcher.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let client = clients.unwrap().client(ApiKey::new("k"));
            let url = client.url(Operation::DeleteSQLUser, &["c1", "a/b c"], &[]);
            assert_eq!(url.as_str(), "http://127.0.0.1:1/api/v1/clusters/c1/sql-users/a%2Fb%20c");
        });
    }

    #[test]
    fn retry_after_parses_seconds() {
        let mut headers = header::HeaderMap::new();
        headers.insert(header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
