//! The in-process Cloud API simulator each test starts, and the helpers tests use to read and
//! change what it holds.

use std::time::Duration;

use crdb_cloud::models::{CloudProvider, CreateClusterRequest, CreateClusterSpec, ServerlessCreateSpec};
use crdb_cloud::{ApiKey, BudgetRegistry, ClientConfig, CloudClient, CloudClients};
use crdb_cloud_simulator::admin_client::AdminClient;
use crdb_cloud_simulator::{self as simulator, RunningSimulator, SimulatorConfig};

/// The API key tests use. Distinctive, so leak checks can search for it.
pub const TEST_API_KEY: &str = "ccdb1_e2e_SECRETKEY_4f9a2b";

/// A simulator with test-friendly delays.
pub async fn start_simulator(extra_keys: &[&str]) -> RunningSimulator {
    start_simulator_with(extra_keys, |_| {}).await
}

/// A simulator with test-friendly delays and whatever else `configure` changes.
pub async fn start_simulator_with(extra_keys: &[&str], configure: impl FnOnce(&mut SimulatorConfig)) -> RunningSimulator {
    crate::install_crypto_provider();
    let mut keys = vec![TEST_API_KEY.to_string()];
    keys.extend(extra_keys.iter().map(|k| k.to_string()));
    let mut config = SimulatorConfig {
        api_keys: keys,
        cluster_create_delay: Duration::from_secs(2),
        operation_delay: Duration::from_secs(1),
        deleted_retention: Duration::from_secs(2),
        rate_limit_per_second: 10,
        ..Default::default()
    };
    configure(&mut config);
    simulator::start(config, "127.0.0.1:0".parse().unwrap()).await.expect("simulator starts")
}

/// A serverless cluster on GCP us-central1 as a person would create it in the console (no
/// operator labels): the request for [`CloudClient::create_cluster`].
pub fn console_cluster(name: &str) -> CreateClusterRequest {
    CreateClusterRequest {
        name: name.to_string(),
        provider: CloudProvider::Gcp,
        spec: CreateClusterSpec {
            serverless: Some(ServerlessCreateSpec { regions: vec!["us-central1".into()], ..Default::default() }),
            ..Default::default()
        },
    }
}

/// A test simulator's admin client ([`AdminClient`], typed), and a Cloud API client with the test
/// key to change things behind the operator's back (as a person in the console would).
pub struct SimAdmin {
    client: AdminClient,
    clouds: CloudClients,
}

impl SimAdmin {
    pub fn new(sim: &RunningSimulator) -> Self {
        Self::for_url(&sim.base_url())
    }

    /// For a simulator at `base_url` (e.g. one started as a process, reached through a forward).
    pub fn for_url(base_url: &str) -> Self {
        crate::install_crypto_provider();
        let config = ClientConfig { base_url: base_url.parse().expect("the simulator's URL"), ..Default::default() };
        let clouds = CloudClients::new(config, BudgetRegistry::default()).expect("a Cloud API client");
        Self { client: AdminClient::new(base_url), clouds }
    }

    /// The Cloud API with the test key (needs a Tokio runtime).
    pub fn cloud(&self) -> CloudClient {
        self.clouds.client(ApiKey::new(TEST_API_KEY))
    }

    /// The sequence number of the last request the simulator logged (0 before any).
    pub async fn last_seq(&self) -> u64 {
        self.client.requests(0, None).await.last().map(|r| r.seq).unwrap_or(0)
    }

    /// Every request the simulator answered after `since` (a [`SimAdmin::last_seq`]), as
    /// `METHOD operation`, oldest first.
    pub async fn requests_after(&self, since: u64) -> Vec<String> {
        self.client.requests(since, None).await.into_iter().map(|r| format!("{} {}", r.method, r.operation)).collect()
    }
}

impl std::ops::Deref for SimAdmin {
    type Target = AdminClient;

    fn deref(&self) -> &AdminClient {
        &self.client
    }
}
