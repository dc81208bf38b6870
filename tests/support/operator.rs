//! Operator-specific end-to-end helpers: the CRDs installed once per control plane, an in-process
//! Cloud API simulator per test, and the real operator binary watching the test's namespace.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use kube::api::Api;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;

use crdb_cloud_operator::simulator::{self, RunningSimulator, SimulatorConfig};

use super::controlplane::{die_with_parent_tokio, shared};
use super::kubectl::kubectl;

/// The API key tests use. Distinctive, so leak checks can search for it.
pub const TEST_API_KEY: &str = "ccdb1_e2e_SECRETKEY_4f9a2b";

static CRDS: OnceCell<()> = OnceCell::const_new();

/// Applies crds/ with kubectl once per test binary and waits until they are served.
pub async fn install_crds() {
    CRDS.get_or_init(|| async {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
        kubectl(&["apply", "--server-side", "--force-conflicts", "-f", dir.to_str().unwrap()], None).await.ok();
        kubectl(&["wait", "--for=condition=Established", "--timeout=60s", "crd", "-l", "app.kubernetes.io/part-of=crdb-cloud-operator"], None)
            .await
            .ok();
    })
    .await;
}

/// The serverless cluster most tests use (as deploy/examples/cluster-serverless.yaml): STANDARD on
/// GCP us-central1 with 2 vCPUs and the label `team: payments`.
pub fn serverless_cluster(name: &str) -> String {
    format!(
        r#"apiVersion: crdbcloud.io/v1alpha1
kind: CockroachCluster
metadata:
  name: {name}
spec:
  provider: GCP
  serverless:
    regions: [us-central1]
    usageLimits:
      provisionedVirtualCpus: 2
  labels:
    team: payments
"#
    )
}

/// A SQLUser, Database or AllowlistEntry manifest referring to `cluster`; `spec` holds further
/// spec lines, indented by two. Starts with `---`, so manifests can be concatenated.
pub fn child(kind: &str, name: &str, cluster: &str, spec: &str) -> String {
    format!("---\napiVersion: crdbcloud.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n  clusterRef:\n    name: {cluster}\n{spec}")
}

/// `serverless_cluster(cluster)` with one child of every kind: SQLUser `app`, Database `orders`
/// and AllowlistEntry `office` (203.0.113.0/24).
pub fn cluster_with_one_child_of_each_kind(cluster: &str) -> String {
    [
        serverless_cluster(cluster),
        child("SQLUser", "app", cluster, ""),
        child("Database", "orders", cluster, ""),
        child("AllowlistEntry", "office", cluster, "  cidr: \"203.0.113.0/24\"\n"),
    ]
    .concat()
}

/// The names in one collection of the simulator's record of a cluster (`sql_users`, `databases`).
pub fn names(record: &Value, collection: &str) -> Vec<String> {
    record[collection].as_array().map(|items| items.iter().map(|i| i["name"].as_str().unwrap_or("").to_string()).collect()).unwrap_or_default()
}

/// A simulator with test-friendly delays.
pub async fn start_simulator(extra_keys: &[&str]) -> RunningSimulator {
    start_simulator_with(extra_keys, |_| {}).await
}

/// A simulator with test-friendly delays and whatever else `configure` changes.
pub async fn start_simulator_with(extra_keys: &[&str], configure: impl FnOnce(&mut SimulatorConfig)) -> RunningSimulator {
    crdb_cloud_operator::install_crypto_provider();
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

/// The operator binary: Cargo's path for integration tests, `CRDB_OPERATOR_BIN` or the debug build
/// otherwise (the demo builds it first).
pub fn operator_binary() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_crdb-cloud-operator") {
        return PathBuf::from(path);
    }
    std::env::var_os("CRDB_OPERATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/crdb-cloud-operator"))
}

/// The real operator binary, watching one namespace. Killed when dropped.
pub struct Operator {
    child: tokio::process::Child,
    log: PathBuf,
    name: String,
}

pub struct OperatorOptions<'a> {
    pub namespace: &'a str,
    pub api_url: &'a str,
    /// `None` starts the operator without a default key.
    pub api_key: Option<&'a str>,
    pub resync_seconds: u64,
    pub log_level: &'a str,
    /// Run under another identity than the admin (e.g. the chart's ServiceAccount).
    pub kubeconfig: Option<&'a Path>,
    /// Leader election: the Lease's namespace (default: the watched namespace), the identity
    /// (POD_NAME) and the lease duration.
    pub lease_namespace: Option<&'a str>,
    pub pod_name: Option<&'a str>,
    pub lease_seconds: Option<u64>,
    /// Seconds between polls while the cloud works (tests poll every second).
    pub poll_seconds: u64,
    /// Further command-line arguments.
    pub extra_args: Vec<String>,
}

impl<'a> OperatorOptions<'a> {
    pub fn new(namespace: &'a str, api_url: &'a str) -> Self {
        Self {
            namespace,
            api_url,
            api_key: Some(TEST_API_KEY),
            resync_seconds: 300,
            log_level: "info",
            kubeconfig: None,
            lease_namespace: None,
            pod_name: None,
            lease_seconds: None,
            poll_seconds: 1,
            extra_args: Vec::new(),
        }
    }
}

impl Operator {
    pub fn start(options: OperatorOptions<'_>) -> Self {
        let cp = shared();
        let log = cp.dir().join(format!("operator-{}-{}.log", options.namespace, rand::random::<u32>()));
        let file = std::fs::File::create(&log).expect("operator log file");
        let mut cmd = tokio::process::Command::new(operator_binary());
        cmd.args([
            "run",
            "--api-url",
            options.api_url,
            "--watch-namespace",
            options.namespace,
            "--poll-seconds",
            &options.poll_seconds.to_string(),
            "--resync-seconds",
            &options.resync_seconds.to_string(),
            "--log-level",
            options.log_level,
            // Many operators share the machine in tests: bind a free port (logged at start-up).
            "--health-addr",
            "127.0.0.1:0",
        ]);
        cmd.args(&options.extra_args);
        if let Some(namespace) = options.lease_namespace {
            cmd.args(["--leader-election-namespace", namespace]);
        }
        if let Some(seconds) = options.lease_seconds {
            cmd.args(["--lease-seconds", &seconds.to_string()]);
        }
        for (k, v) in cp.env() {
            cmd.env(k, v);
        }
        if let Some(kubeconfig) = options.kubeconfig {
            cmd.env("KUBECONFIG", kubeconfig);
        }
        let name = options.pod_name.unwrap_or("operator").to_string();
        if let Some(pod_name) = options.pod_name {
            cmd.env("POD_NAME", pod_name);
        }
        cmd.env_remove("RUST_LOG").env_remove("COCKROACH_API_KEY").env_remove("POD_NAMESPACE").env_remove("WATCH_NAMESPACE");
        if let Some(key) = options.api_key {
            cmd.env("COCKROACH_API_KEY", key);
        }
        cmd.stdout(Stdio::from(file.try_clone().unwrap())).stderr(Stdio::from(file)).kill_on_drop(true);
        die_with_parent_tokio(&mut cmd);
        let child = cmd.spawn().expect("operator binary starts");
        Self { child, log, name }
    }

    /// The operator's process id (for reading its memory use from /proc).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Everything the operator logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the operator logged `needle`.
    pub async fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.logs().contains(needle) {
            assert!(Instant::now() < deadline, "{} never logged {needle:?}:\n{}", self.name, self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The address of /healthz, /readyz and /metrics, read from the start-up log line.
    pub async fn health_addr(&self) -> String {
        self.wait_for_log("serving /healthz").await;
        let logs = self.logs();
        let line = logs.lines().find(|l| l.contains("serving /healthz")).expect("the line just seen");
        let addr = line.split("health=").nth(1).and_then(|rest| rest.split_whitespace().next());
        addr.unwrap_or_else(|| panic!("no health address in {line:?}")).trim_matches('"').to_string()
    }

    /// SIGTERM, as Kubernetes stops a pod; returns how the process exited.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("the operator is running") as libc::pid_t;
        // SAFETY: a plain kill(2) on our own child process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not stop within 20 s of SIGTERM:\n{}", self.name, self.logs()))
            .expect("wait for the operator")
    }

    /// Sends `signal` (e.g. SIGSTOP and SIGCONT, as a frozen node or a long pause would).
    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id().expect("the operator is running") as libc::pid_t;
        // SAFETY: a plain kill(2) on our own child process.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// Waits until the process exits by itself; returns how.
    pub async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit within {timeout:?}:\n{}", self.name, self.logs()))
            .expect("wait for the operator")
    }

    /// Stops the process at once (SIGKILL), as a crash would.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// The file the operator logs to (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Whether the process is still running (it has not exited or been killed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!("---- {} log ({}) ----\n{}", self.name, self.log.display(), tail(&self.logs(), 80));
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Polls `get` until `done` holds, panicking with the last value after `timeout`.
pub async fn wait_for<K, F>(api: &Api<K>, name: &str, timeout: Duration, what: &str, done: F) -> K
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + serde::Serialize,
    F: Fn(&K) -> bool,
{
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        if let Ok(Some(obj)) = api.get_opt(name).await {
            if done(&obj) {
                return obj;
            }
            last = Some(obj);
        }
        if Instant::now() > deadline {
            let shown = last.map(|o| serde_json::to_string_pretty(&o).unwrap()).unwrap_or_else(|| "<absent>".into());
            panic!("timed out after {timeout:?} waiting for {name} to be {what}; last seen:\n{shown}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the object is gone.
pub async fn wait_gone<K>(api: &Api<K>, name: &str, timeout: Duration)
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + serde::Serialize,
{
    let deadline = Instant::now() + timeout;
    loop {
        match api.get_opt(name).await.unwrap() {
            None => return,
            Some(obj) if Instant::now() > deadline => {
                panic!("timed out waiting for {name} to be deleted; still:\n{}", serde_json::to_string_pretty(&obj).unwrap())
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// The status of condition `type_` ("True"/"False") in a resource's JSON.
pub fn condition(obj: &impl serde::Serialize, type_: &str) -> Option<(String, String, String)> {
    let value = serde_json::to_value(obj).ok()?;
    value["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_).map(|c| {
        (
            c["status"].as_str().unwrap_or_default().to_string(),
            c["reason"].as_str().unwrap_or_default().to_string(),
            c["message"].as_str().unwrap_or_default().to_string(),
        )
    })
}

pub fn is_ready(obj: &impl serde::Serialize) -> bool {
    condition(obj, "Ready").is_some_and(|(s, _, _)| s == "True") && generation_observed(obj)
}

pub fn is_stalled_with(obj: &impl serde::Serialize, reason: &str) -> bool {
    condition(obj, "Stalled").is_some_and(|(s, r, _)| s == "True" && r == reason)
}

pub fn generation_observed(obj: &impl serde::Serialize) -> bool {
    let value = serde_json::to_value(obj).unwrap();
    value["metadata"]["generation"] == value["status"]["observedGeneration"]
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

/// Events about one object, as "Type Reason: message" lines.
pub async fn events_for(namespace: &str, name: &str) -> Vec<String> {
    let out = kubectl(&["get", "events", "-n", namespace, "-o", "json"], None).await.ok();
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["involvedObject"]["name"] == name || e["regarding"]["name"] == name)
        .map(|e| format!("{} {}: {}", e["type"].as_str().unwrap_or(""), e["reason"].as_str().unwrap_or(""), e["message"].as_str().or(e["note"].as_str()).unwrap_or("")))
        .collect()
}

pub fn name_of(obj: &impl ResourceExt) -> String {
    obj.name_any()
}
