//! A faithful in-process CockroachDB Cloud API, served by `crdb-cloud-operator simulator` and used
//! in-process by tests, the demo and benchmarks.
//!
//! It serves the real paths and bodies of the official description (API version 2024-09-16) with the
//! service's behaviour: bearer API keys each owning one organisation, a per-key rate limit answered
//! with 429 + `Retry-After`, keyset pagination, gRPC-coded error bodies, and clusters that take time
//! to create, scale, upgrade and disappear. `/_simulator/` adds an unauthenticated admin surface for
//! tests: stats, a request log, fault injection, a state dump and forced states.

mod admin;
mod allowlist;
pub mod catalog;
pub mod cli;
mod children;
mod clusters;
pub mod connection;
mod databases;
pub mod errors;
mod extract;
pub mod faults;
pub mod journal;
mod misc;
pub mod operations;
pub mod pagination;
mod pipeline;
pub mod provision;
pub mod ratelimit;
mod sql_users;
pub mod state;
pub mod validation;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, patch, put};
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

const CLUSTER: &str = "/api/v1/clusters/{cluster_id}";

fn router(sim: Arc<Sim>) -> Router {
    let c = |suffix: &str| format!("{CLUSTER}{suffix}");
    let api = Router::new()
        .route("/api/v1/organization", get(misc::get_organization))
        .route("/api/v1/clusters", get(clusters::list).post(clusters::create))
        .route("/api/v1/cluster-versions", get(misc::list_versions))
        .route("/api/v1/clusters/available-regions", get(misc::list_regions))
        .route(CLUSTER, get(clusters::get).patch(clusters::update).delete(clusters::delete))
        .route(&c("/connection-string"), get(clusters::connection_string))
        .route(&c("/sql-users"), get(sql_users::list).post(sql_users::create))
        .route(&c("/sql-users/{name}"), delete(sql_users::delete))
        .route(&c("/sql-users/{name}/password"), put(sql_users::update_password))
        .route(&c("/databases"), get(databases::list).post(databases::create).patch(databases::rename_by_body))
        .route(&c("/databases/{name}"), patch(databases::rename).delete(databases::delete))
        .route(&c("/networking/allowlist"), get(allowlist::list).post(allowlist::add))
        .route(
            &c("/networking/allowlist/{cidr_ip}/{cidr_mask}"),
            patch(allowlist::update).put(allowlist::put).delete(allowlist::delete),
        )
        .route(&c("/backups-config"), get(misc::get_backups).patch(misc::update_backups))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(sim.clone(), pipeline::api_pipeline))
        .with_state(sim.clone());
    admin::router().with_state(sim).merge(api)
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
