//! The in-process Cloud API simulator each test starts, and the helpers tests use to read and
//! change what it holds.

use std::time::Duration;

use serde_json::Value;

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

/// A test simulator's admin client ([`AdminClient`], typed), plus raw Cloud API calls with the test
/// key to change things behind the operator's back.
pub struct SimAdmin {
    client: AdminClient,
    base: String,
    http: reqwest::Client,
}

impl SimAdmin {
    pub fn new(sim: &RunningSimulator) -> Self {
        Self { client: AdminClient::new(sim.base_url()), base: sim.base_url(), http: reqwest::Client::new() }
    }

    /// A raw Cloud API call with the test key (to change things behind the operator's back).
    pub async fn cloud(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}/api/v1/{path}", self.base)).bearer_auth(TEST_API_KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "cloud call {path} failed with {status}: {value}");
        value
    }
}

impl std::ops::Deref for SimAdmin {
    type Target = AdminClient;

    fn deref(&self) -> &AdminClient {
        &self.client
    }
}
