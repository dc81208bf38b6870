//! A faithful in-process CockroachDB Cloud API, served by `crdb-cloud-operator simulator` and used
//! in-process by tests, the demo and benchmarks.
//!
//! It serves the real paths and bodies of the official description (API version 2024-09-16) with the
//! service's behaviour: bearer API keys each owning one organisation, a per-key rate limit answered
//! with 429 + `Retry-After`, keyset pagination, gRPC-coded error bodies, and clusters that take time
//! to create, scale, upgrade and disappear. `/_simulator/` adds an unauthenticated admin surface for
//! tests: stats, a request log, fault injection, a state dump and forced states, with its bodies in
//! [`admin_api`] and a typed client in [`admin_client`].

mod admin;
pub mod admin_api;
pub mod admin_client;
mod allowlist;
pub mod catalog;
pub mod cli;
mod children;
mod clusters;
pub mod connection;
mod databases;
mod egress_rules;
pub mod exports;
pub mod errors;
mod extract;
pub mod faults;
pub mod journal;
mod maintenance;
mod misc;
pub mod pagination;
pub mod permissions;
mod pipeline;
pub mod private_endpoints;
pub mod provision;
pub mod ratelimit;
mod roles;
pub mod security;
mod sql_users;
pub mod state;
pub mod validation;
mod accounts;
pub mod folders;
mod jwt_issuers;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodFilter, MethodRouter, on};
use crdb_cloud::Operation;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use errors::ApiError;
use faults::FaultRegistry;
use journal::Journal;
use ratelimit::RateLimiter;
use state::{Store, Timing};

/// How a simulator behaves.
#[derive(Clone)]
pub struct SimulatorConfig {
    /// Accepted API keys; each is its own organisation.
    pub api_keys: Vec<String>,
    /// How long a new cluster stays CREATING.
    pub cluster_create_delay: Duration,
    /// How long a scale, edit or version operation runs.
    pub operation_delay: Duration,
    /// How long a deleted cluster stays visible as DELETED before GET answers 404.
    pub deleted_retention: Duration,
    /// Requests per second per API key, with a burst of the same size; 0 turns limiting off.
    pub rate_limit_per_second: u32,
    /// The most items a list page holds, whatever `pagination.limit` asks for: a smaller value
    /// makes a server that pages sooner, to exercise clients that follow pages.
    pub max_page_size: usize,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            api_keys: vec!["test-key".to_string()],
            cluster_create_delay: Duration::from_secs(3),
            operation_delay: Duration::from_secs(2),
            deleted_retention: Duration::from_secs(5),
            rate_limit_per_second: 10,
            max_page_size: pagination::MAX_LIMIT,
        }
    }
}

/// Keys are secrets: Debug shows how many there are, not what they are.
impl std::fmt::Debug for SimulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("api_keys", &format_args!("<{} redacted>", self.api_keys.len()))
            .field("cluster_create_delay", &self.cluster_create_delay)
            .field("operation_delay", &self.operation_delay)
            .field("deleted_retention", &self.deleted_retention)
            .field("rate_limit_per_second", &self.rate_limit_per_second)
            .field("max_page_size", &self.max_page_size)
            .finish()
    }
}

/// The shared state behind every handler. Locks are never held across an await.
pub(crate) struct Sim {
    timing: Timing,
    max_page_size: usize,
    store: Mutex<Store>,
    limiter: Mutex<RateLimiter>,
    faults: Mutex<FaultRegistry>,
    journal: Mutex<Journal>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in one handler must not wedge the whole simulator.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Sim {
    fn new(config: &SimulatorConfig) -> Self {
        Self {
            timing: Timing::from_std(config.cluster_create_delay, config.operation_delay, config.deleted_retention),
            max_page_size: config.max_page_size.max(1),
            store: Mutex::new(Store::new(&config.api_keys, chrono::Utc::now())),
            limiter: Mutex::new(RateLimiter::new(config.rate_limit_per_second)),
            faults: Mutex::new(FaultRegistry::default()),
            journal: Mutex::new(Journal::default()),
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
    fn limiter(&self) -> MutexGuard<'_, RateLimiter> {
        lock(&self.limiter)
    }
    fn faults(&self) -> MutexGuard<'_, FaultRegistry> {
        lock(&self.faults)
    }
    fn journal(&self) -> MutexGuard<'_, Journal> {
        lock(&self.journal)
    }
}

type SimState = axum::extract::State<Arc<Sim>>;

/// The simulator's one route table: the handler of each operation. Paths and methods come from
/// the cloud crate's operation table, so the client and the simulator cannot disagree on them,
/// and the match makes a new operation without a handler a compile error.
fn handler(operation: Operation) -> MethodRouter<Arc<Sim>> {
    use Operation::*;
    let method = MethodFilter::try_from(operation.method()).expect("operations use standard methods");
    match operation {
        GetOrganizationInfo => on(method, misc::get_organization),
        ListClusters => on(method, clusters::list),
        CreateCluster => on(method, clusters::create),
        ListMajorClusterVersions => on(method, misc::list_versions),
        ListAvailableRegions => on(method, misc::list_regions),
        GetCluster => on(method, clusters::get),
        UpdateCluster => on(method, clusters::update),
        DeleteCluster => on(method, clusters::delete),
        GetConnectionString => on(method, clusters::connection_string),
        ListSQLUsers => on(method, sql_users::list),
        CreateSQLUser => on(method, sql_users::create),
        DeleteSQLUser => on(method, sql_users::delete),
        UpdateSQLUserPassword => on(method, sql_users::update_password),
        ListDatabases => on(method, databases::list),
        CreateDatabase => on(method, databases::create),
        EditDatabase2 => on(method, databases::rename_by_body),
        EditDatabase => on(method, databases::rename),
        DeleteDatabase => on(method, databases::delete),
        ListAllowlistEntries => on(method, allowlist::list),
        AddAllowlistEntry => on(method, allowlist::add),
        UpdateAllowlistEntry => on(method, allowlist::update),
        AddAllowlistEntry2 => on(method, allowlist::put),
        DeleteAllowlistEntry => on(method, allowlist::delete),
        GetBackupConfiguration => on(method, misc::get_backups),
        UpdateBackupConfiguration => on(method, misc::update_backups),
        GetMaintenanceWindow => on(method, maintenance::get_window),
        SetMaintenanceWindow => on(method, maintenance::set_window),
        DeleteMaintenanceWindow => on(method, maintenance::delete_window),
        ListBlackoutWindows => on(method, maintenance::list_blackouts),
        CreateBlackoutWindow => on(method, maintenance::create_blackout),
        GetBlackoutWindow => on(method, maintenance::get_blackout),
        UpdateBlackoutWindow => on(method, maintenance::update_blackout),
        DeleteBlackoutWindow => on(method, maintenance::delete_blackout),
        GetClusterVersionDeferral => on(method, maintenance::get_deferral),
        SetClusterVersionDeferral => on(method, maintenance::set_deferral),
        GetLogExportInfo => on(method, exports::get_log),
        EnableLogExport => on(method, exports::enable_log),
        DeleteLogExport => on(method, exports::delete_log),
        GetDatadogMetricExportInfo => on(method, exports::get_datadog),
        EnableDatadogMetricExport => on(method, exports::enable_datadog),
        DeleteDatadogMetricExport => on(method, exports::delete_datadog),
        GetCloudWatchMetricExportInfo => on(method, exports::get_cloudwatch),
        EnableCloudWatchMetricExport => on(method, exports::enable_cloudwatch),
        DeleteCloudWatchMetricExport => on(method, exports::delete_cloudwatch),
        GetPrometheusMetricExportInfo => on(method, exports::get_prometheus),
        EnablePrometheusMetricExport => on(method, exports::enable_prometheus),
        DeletePrometheusMetricExport => on(method, exports::delete_prometheus),
        ListClusterNodes => on(method, security::list_nodes),
        SetEgressTrafficPolicy => on(method, security::set_egress_policy),
        GetCMEKClusterInfo => on(method, security::get_cmek),
        EnableCMEKSpec => on(method, security::enable_cmek),
        UpdateCMEKSpec => on(method, security::update_cmek),
        GetClientCACert => on(method, security::get_client_ca),
        SetClientCACert => on(method, security::set_client_ca),
        UpdateClientCACert => on(method, security::update_client_ca),
        DeleteClientCACert => on(method, security::delete_client_ca),
        GetAllRolesForUser => on(method, roles::get_for_user),
        AddUserToRole => on(method, roles::add),
        RemoveUserFromRole => on(method, roles::remove),
        ListEgressRules => on(method, egress_rules::list),
        AddEgressRule => on(method, egress_rules::add),
        GetEgressRule => on(method, egress_rules::get),
        EditEgressRule => on(method, egress_rules::edit),
        DeleteEgressRule => on(method, egress_rules::delete),
        ListServiceAccounts => on(method, accounts::list_service_accounts),
        CreateServiceAccount => on(method, accounts::create_service_account),
        GetServiceAccount => on(method, accounts::get_service_account),
        UpdateServiceAccount => on(method, accounts::update_service_account),
        DeleteServiceAccount => on(method, accounts::delete_service_account),
        ListApiKeys => on(method, accounts::list_api_keys),
        CreateApiKey => on(method, accounts::create_api_key),
        GetApiKey => on(method, accounts::get_api_key),
        UpdateApiKey => on(method, accounts::update_api_key),
        DeleteApiKey => on(method, accounts::delete_api_key),
        ListFolders => on(method, folders::list),
        CreateFolder => on(method, folders::create),
        GetFolder => on(method, folders::get),
        UpdateFolder => on(method, folders::update),
        DeleteFolder => on(method, folders::delete),
        ListFolderContents => on(method, folders::list_contents),
        ListJWTIssuers => on(method, jwt_issuers::list),
        AddJWTIssuer => on(method, jwt_issuers::add),
        GetJWTIssuer => on(method, jwt_issuers::get),
        UpdateJWTIssuer => on(method, jwt_issuers::update),
        DeleteJWTIssuer => on(method, jwt_issuers::delete),
        ListPrivateEndpointServices => on(method, private_endpoints::list_services),
        CreatePrivateEndpointServices => on(method, private_endpoints::create_services),
        ListPrivateEndpointConnections => on(method, private_endpoints::list_connections),
        AddPrivateEndpointConnection => on(method, private_endpoints::add_connection),
        DeletePrivateEndpointConnection => on(method, private_endpoints::delete_connection),
        ListPrivateEndpointTrustedOwners => on(method, private_endpoints::list_trusted_owners),
        AddPrivateEndpointTrustedOwner => on(method, private_endpoints::add_trusted_owner),
        GetPrivateEndpointTrustedOwner => on(method, private_endpoints::get_trusted_owner),
        RemovePrivateEndpointTrustedOwner => on(method, private_endpoints::remove_trusted_owner),
    }
}

fn router(sim: Arc<Sim>) -> Router {
    // Routes of one path merge into one method router.
    let api = Operation::ALL
        .iter()
        .fold(Router::new(), |router, operation| router.route(operation.path(), handler(*operation)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(sim.clone(), pipeline::api_pipeline))
        .with_state(sim.clone());
    // The cluster CA certificate is served at the site root, outside the API and its key.
    let public = Router::new()
        .route(security::CLUSTER_CERT_PATH, axum::routing::get(security::cluster_cert))
        .layer(from_fn_with_state(sim.clone(), pipeline::public_pipeline))
        .with_state(sim.clone());
    admin::router().with_state(sim).merge(public).merge(api)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such API path")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, 12, "method not allowed on this path")
}

/// A simulator serving on a local address. Dropping it stops the server.
pub struct RunningSimulator {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningSimulator {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests and waits (briefly) for in-flight ones.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts a simulator on `listen` (port 0 picks a free port; see [`RunningSimulator::addr`]).
pub async fn start(config: SimulatorConfig, listen: SocketAddr) -> std::io::Result<RunningSimulator> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = router(Arc::new(Sim::new(&config))).into_make_service_with_connect_info::<connection::ConnectionHandle>();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(connection::ResettableListener(listener), app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%addr, ?config, "CockroachDB Cloud simulator started");
    Ok(RunningSimulator { addr, shutdown: Some(tx), task: Some(task) })
}
