//! The operator's own HTTP endpoints: `/healthz` (liveness: the process serves requests),
//! `/readyz` (readiness: CRDs found and, when leading, the first watch sync done) and `/metrics`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

/// Readiness, flipped by the operator as it starts, with what it waits for while not ready.
#[derive(Clone)]
pub struct Readiness(Arc<Mutex<Result<(), String>>>);

impl Default for Readiness {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Err("starting".into()))))
    }
}

impl Readiness {
    pub fn set_ready(&self) {
        *self.0.lock().expect("readiness lock") = Ok(());
    }
    /// Not ready; `/readyz` answers 503 with `waiting_for` in its body.
    pub fn set_waiting(&self, waiting_for: impl Into<String>) {
        *self.0.lock().expect("readiness lock") = Err(waiting_for.into());
    }
    pub fn is_ready(&self) -> bool {
        self.0.lock().expect("readiness lock").is_ok()
    }
    fn state(&self) -> Result<(), String> {
        self.0.lock().expect("readiness lock").clone()
    }
}

#[derive(Clone)]
struct Shared {
    metrics: Arc<Metrics>,
    readiness: Readiness,
}

/// Binds `addr` and serves until the process ends. Returns the bound address.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>, readiness: Readiness) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(Shared { metrics, readiness });
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(%err, "health and metrics server stopped");
        }
    });
    Ok(bound)
}

async fn readyz(State(shared): State<Shared>) -> impl IntoResponse {
    match shared.readiness.state() {
        Ok(()) => (StatusCode::OK, "ready".to_string()),
        Err(waiting_for) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {waiting_for}")),
    }
}

async fn metrics_text(State(shared): State<Shared>) -> impl IntoResponse {
    // Every replica, leader or standby, says whether it is ready (see Metrics::set_leader too).
    shared.metrics.set_ready(shared.readiness.is_ready());
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], shared.metrics.encode())
}
