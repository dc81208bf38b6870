//! The in-process Cloud API simulator each test starts, and the helpers tests use to read and
//! change what it holds.

use std::time::Duration;

use serde_json::Value;

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

/// The names in one collection of the simulator's record of a cluster (`sql_users`, `databases`).
pub fn names(record: &Value, collection: &str) -> Vec<String> {
    record[collection].as_array().map(|items| items.iter().map(|i| i["name"].as_str().unwrap_or("").to_string()).collect()).unwrap_or_default()
}

/// Simulator admin helpers.
pub struct SimAdmin {
    base: String,
    http: reqwest::Client,
}

impl SimAdmin {
    pub fn new(sim: &RunningSimulator) -> Self {
        Self { base: sim.base_url(), http: reqwest::Client::new() }
    }

    pub async fn get(&self, path: &str) -> Value {
        self.http.get(format!("{}/_simulator/{path}", self.base)).send().await.unwrap().json().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(format!("{}/_simulator/{path}", self.base)).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "admin POST {path} failed: {}", response.status());
        response.json().await.unwrap()
    }

    /// Every cluster (with its children) the simulator holds for all organisations.
    pub async fn clusters(&self) -> Vec<Value> {
        let state = self.get("state").await;
        state["orgs"].as_array().unwrap().iter().flat_map(|o| o["clusters"].as_array().unwrap().clone()).collect()
    }

    /// Non-deleted clusters with this name.
    pub async fn live_clusters_named(&self, name: &str) -> Vec<Value> {
        self.clusters()
            .await
            .into_iter()
            .filter(|c| c["cluster"]["name"] == name && c["cluster"]["state"] != "DELETED")
            .collect()
    }

    /// Requests of one operation, from the request log.
    pub async fn count(&self, operation: &str) -> usize {
        let log = self.get(&format!("requests?operation={operation}")).await;
        log.as_array().map(Vec::len).unwrap_or(0)
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

