//! Connections the simulator can cut: every accepted TCP stream carries a handle that a request
//! (through `ConnectInfo<ConnectionHandle>`) can use to reset its own connection, so the client
//! sees the connection die without an HTTP response, as after a network failure or a proxy crash.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections can be reset by the requests they carry.
pub struct ResettableListener(pub TcpListener);

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        (ResettableStream { inner: stream, reset: ConnectionHandle::default() }, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Resets one connection. Cheap to clone; shared by the stream and every request on it.
#[derive(Debug, Clone, Default)]
pub struct ConnectionHandle(Arc<AtomicBool>);

impl ConnectionHandle {
    /// From now on every read and write of the connection fails, so the server drops it without
    /// answering; linger zero makes the close an RST rather than a FIN.
    pub fn reset(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_reset(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, ResettableListener>> for ConnectionHandle {
    fn connect_info(stream: IncomingStream<'_, ResettableListener>) -> Self {
        stream.io().reset.clone()
    }
}

pub struct ResettableStream {
    inner: TcpStream,
    reset: ConnectionHandle,
}

impl ResettableStream {
    fn check(&self) -> io::Result<()> {
        if self.reset.is_reset() {
            let _ = self.inner.set_zero_linger();
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by fault injection"));
        }
        Ok(())
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Err(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Err(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::admin_api::{FaultKind, FaultSpec};
    use crate::admin_client::AdminClient;
    use crate::{SimulatorConfig, start};
    use crdb_cloud::{ApiKey, BudgetConfig, BudgetRegistry, ClientConfig, CloudClients, CloudError, Operation, RetryPolicy};

    const KEY: &str = "connection-test-key";

    async fn simulator() -> (crate::RunningSimulator, reqwest::Client, AdminClient) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = SimulatorConfig { api_keys: vec![KEY.into()], rate_limit_per_second: 0, ..Default::default() };
        let sim = start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let admin = AdminClient::new(sim.base_url());
        (sim, reqwest::Client::new(), admin)
    }

    #[tokio::test]
    async fn a_reset_connection_gets_no_http_response_and_the_client_retries_it() {
        let (sim, http, admin) = simulator().await;
        let base = sim.base_url();
        admin.add_fault(&FaultSpec { reset_connection: true, count: 2, ..FaultSpec::on(Operation::GetOrganizationInfo) }).await;

        // A plain HTTP client sees a transport error, not a status.
        let url = format!("{base}/api/v1/organization");
        let err = http.get(&url).bearer_auth(KEY).send().await.expect_err("no HTTP response after a reset");
        assert!(err.status().is_none(), "{err:?}");

        // The Cloud client calls it transient and retries an idempotent request through it.
        let config = ClientConfig {
            base_url: base.parse().unwrap(),
            retry: RetryPolicy { max_retries: 3, base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(50) },
            ..Default::default()
        };
        let clouds = CloudClients::new(config, BudgetRegistry::new(BudgetConfig { rate_per_second: 1000.0, burst: 20, ..Default::default() })).unwrap();
        let client = clouds.client(ApiKey::new(KEY));
        client.get_organization().await.expect("retried past the reset");
        let log = admin.requests_of(Operation::GetOrganizationInfo).await;
        let faults: Vec<Option<FaultKind>> = log.iter().map(|r| r.fault).collect();
        assert_eq!(faults, [Some(FaultKind::ResetConnection), Some(FaultKind::ResetConnection), None]);

        // With no retries left, the failure is classified as transient.
        admin.add_fault(&FaultSpec { reset_connection: true, ..FaultSpec::on(Operation::ListClusters) }).await;
        let once = ClientConfig { base_url: base.parse().unwrap(), retry: RetryPolicy { max_retries: 0, ..RetryPolicy::default() }, ..Default::default() };
        let clouds = CloudClients::new(once, BudgetRegistry::new(BudgetConfig { rate_per_second: 1000.0, burst: 20, ..Default::default() })).unwrap();
        let err = clouds.client(ApiKey::new(KEY)).list_clusters(false).await.expect_err("the reset reaches the caller");
        assert!(matches!(err, CloudError::Transient(_)), "{err:?}");
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn an_injected_429_carries_the_retry_after_asked_for() {
        let (sim, http, admin) = simulator().await;
        let base = sim.base_url();
        admin.add_fault(&FaultSpec { status: Some(429), retry_after_secs: Some(7), ..FaultSpec::on(Operation::ListClusters) }).await;
        let response = http.get(format!("{base}/api/v1/clusters")).bearer_auth(KEY).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
        let response = http.get(format!("{base}/api/v1/clusters")).bearer_auth(KEY).send().await.unwrap();
        assert!(response.status().is_success(), "the fault applied once");
    }

    #[tokio::test]
    async fn a_reset_after_the_write_keeps_its_effect() {
        let (sim, http, admin) = simulator().await;
        let base = sim.base_url();
        admin.add_fault(&FaultSpec { reset_connection: true, drop_response: true, ..FaultSpec::on(Operation::CreateCluster) }).await;
        let body = json!({"name": "lost-answer", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}});
        let err = http.post(format!("{base}/api/v1/clusters")).bearer_auth(KEY).json(&body).send().await.expect_err("reset");
        assert!(err.status().is_none(), "{err:?}");
        let names: Vec<String> = admin.clusters().await.into_iter().map(|c| c.cluster.name).collect();
        assert_eq!(names, ["lost-answer"], "the create ran although its answer was lost");
    }
}
