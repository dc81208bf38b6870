//! `make bench`: the Cloud API budget at scale, measured. A real control plane (etcd,
//! kube-apiserver, kube-controller-manager), the Cloud API simulator limiting each key to 10
//! requests/second, and the operator's release binary. Prints figures and writes them, with the
//! machine they came from, to tests/benchmark/RESULTS.md.
//!
//! Scenarios (select with `--scenarios 1,2,...`; default all; `baseline` is scenario 1 with the list
//! cache and priority switched off):
//! 1. cold convergence of 1 cluster, 500 SQLUsers, 500 Databases and 200 AllowlistEntries applied at
//!    once: seconds until all Ready, requests by operation, 429s, ratio to the physical limit;
//! 3. reaction: time from applying one new SQLUser to its CreateSQLUser request, 20 tries;
//! 4. restart with the fleet in sync: Cloud requests in the first 5 minutes;
//! 2. steady state: Cloud requests per hour at rest, for 1,200 and for 10 children;
//! 5. memory: peak RSS of the operator with 5,000 resources;
//! 6. settings: 20 ADVANCED clusters with every setting block set (deploy/examples/
//!    cluster-production.yaml), applied at once: seconds until all Ready with every block synced,
//!    as a ratio to the physical limit; then at rest, requests per hour against (1 + blocks read
//!    with a request) per cluster per resync.
//!
//! Scenario 2 runs the operator with a 30 s resync and scales to the default 300 s (requests per
//! hour are proportional to the resync rate), so it takes minutes instead of hours. Scenario 5
//! raises the rate limit (simulator and operator alike) to 100/s: it measures memory, not the
//! budget, and 5,000 creates at 10/s would take ten minutes.


use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crdb_cloud_operator::api::{AllowlistEntry, CockroachCluster, Database, SQLUser};
use crdb_cloud_simulator::{self as simulator, RunningSimulator, SimulatorConfig};
use crdb_test_support::{Operation, Operator, OperatorOptions, SimAdmin, TEST_API_KEY, install_crds, is_ready, serverless_cluster};
use crdb_test_support::shared;

/// The service's limit, and the operator's default budget.
const RATE: f64 = 10.0;
const FLEET_USERS: usize = 500;
const FLEET_DATABASES: usize = 500;
const FLEET_ALLOWLIST: usize = 200;
/// How many resources are created at the same time (as `kubectl apply` of a large directory, or a
/// GitOps sync, would).
const APPLY_CONCURRENCY: usize = 32;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let chosen = args.iter().position(|a| a == "--scenarios").and_then(|i| args.get(i + 1)).cloned();
    let wants = |name: &str| chosen.as_deref().is_none_or(|list| list.split(',').any(|s| s.trim() == name));
    let results_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/benchmark/RESULTS.md");

    // The commit the binary was built from: taken now, as the tree may move on during the run.
    let commit = source_commit();
    crdb_cloud_operator::install_crypto_provider();
    let cp = shared();
    install_crds().await;
    println!("control plane ready in {:.1}s; operator binary: {}", cp.startup_duration().as_secs_f64(), crdb_test_support::operator_binary().display());
    let mut report = Report::default();

    let mut fleet = None;
    if wants("1") || wants("2") || wants("3") || wants("4") {
        let run = cold_convergence("optimised", &[]).await;
        report.cold(&run);
        fleet = Some(run);
    }
    if wants("baseline") {
        let run = cold_convergence("baseline", &["--disable-list-cache", "--disable-priority"]).await;
        report.cold(&run);
        run.operator_stop().await;
    }
    if let Some(mut run) = fleet {
        if wants("3") {
            let reaction = reaction(&run).await;
            report.reaction(&reaction);
        }
        if wants("4") {
            let restart = restart(&mut run).await;
            report.restart(&restart);
        }
        if wants("2") {
            let big = steady_state(&mut run).await;
            run.operator_stop().await;
            let mut small_fleet = cold_convergence_of("small", &[], Fleet { users: 4, databases: 3, allowlist: 3, clusters: 1 }, RATE).await;
            let small = steady_state(&mut small_fleet).await;
            small_fleet.operator_stop().await;
            report.steady(&big, &small);
        } else {
            run.operator_stop().await;
        }
    }
    if wants("5") {
        let run = cold_convergence_of("memory", &[], Fleet { clusters: 5, users: 400, databases: 400, allowlist: 199 }, 100.0).await;
        // A minute at rest after convergence: the resident set a long-running operator settles at.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let memory = Memory { resources: run.fleet.total(), peak_mib: run.peak_rss_mib(), now_mib: run.rss_mib(), seconds: run.seconds };
        report.memory(&memory);
        run.operator_stop().await;
    }

    if wants("6") {
        let settings = settings_scenario().await;
        report.settings(&settings);
    }

    let text = report.render(&machine(&commit));
    println!("\n{text}");
    std::fs::create_dir_all(results_path.parent().unwrap()).unwrap();
    std::fs::write(&results_path, text).unwrap();
    println!("written to {}", results_path.display());
}

// ---------- the fleet ----------

#[derive(Debug, Clone, Copy)]
struct Fleet {
    clusters: usize,
    users: usize,
    databases: usize,
    allowlist: usize,
}

impl Fleet {
    fn standard() -> Self {
        Self { clusters: 1, users: FLEET_USERS, databases: FLEET_DATABASES, allowlist: FLEET_ALLOWLIST }
    }
    fn children(&self) -> usize {
        self.clusters * (self.users + self.databases + self.allowlist)
    }
    fn total(&self) -> usize {
        self.clusters + self.children()
    }
    /// Requests no operator can avoid: per cluster, the search that makes the create exactly-once,
    /// the create, one read that sees it running, one list of each kind and one connection endpoint;
    /// then one create per child.
    fn mandatory_requests(&self) -> usize {
        self.clusters * 7 + self.children()
    }
}

fn cluster_name(index: usize) -> String {
    format!("bench-{index}")
}

fn child(kind: &str, name: &str, cluster: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["clusterRef"] = json!({ "name": cluster });
    json!({ "apiVersion": "crdbcloud.io/v1alpha1", "kind": kind, "metadata": { "name": name }, "spec": spec })
}

fn sql_user(cluster: &str, i: usize) -> Value {
    child("SQLUser", &format!("{cluster}-user-{i:04}"), cluster, json!({ "name": format!("app_user_{i:04}") }))
}

fn database(cluster: &str, i: usize) -> Value {
    child("Database", &format!("{cluster}-db-{i:04}"), cluster, json!({ "name": format!("db_{i:04}") }))
}

fn allowlist_entry(cluster: &str, i: usize) -> Value {
    child("AllowlistEntry", &format!("{cluster}-net-{i:04}"), cluster, json!({ "cidr": format!("10.{}.{}.0/24", i / 256, i % 256), "sql": true, "ui": false }))
}

async fn create<K>(ns: &str, manifest: Value)
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(manifest).expect("manifest matches the CRD types");
    let api: Api<K> = Api::namespaced(shared().client(), ns);
    api.create(&PostParams::default(), &obj).await.unwrap_or_else(|e| panic!("creating {}: {e}", obj.name_any()));
}

/// Creates the clusters, then every child, `APPLY_CONCURRENCY` at a time.
async fn apply_fleet(ns: &str, fleet: Fleet) {
    for c in 0..fleet.clusters {
        let cluster: Value = serde_norway::from_str(&serverless_cluster(&cluster_name(c))).unwrap();
        create::<CockroachCluster>(ns, cluster).await;
    }
    let mut children: Vec<(usize, usize, usize)> = Vec::new();
    for c in 0..fleet.clusters {
        children.extend((0..fleet.users).map(|i| (c, 0, i)));
        children.extend((0..fleet.databases).map(|i| (c, 1, i)));
        children.extend((0..fleet.allowlist).map(|i| (c, 2, i)));
    }
    stream::iter(children)
        .for_each_concurrent(APPLY_CONCURRENCY, |(c, kind, i)| async move {
            let cluster = cluster_name(c);
            match kind {
                0 => create::<SQLUser>(ns, sql_user(&cluster, i)).await,
                1 => create::<Database>(ns, database(&cluster, i)).await,
                _ => create::<AllowlistEntry>(ns, allowlist_entry(&cluster, i)).await,
            }
        })
        .await;
}

async fn ready_count<K>(ns: &str) -> (usize, usize)
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(shared().client(), ns);
    match api.list(&Default::default()).await {
        Ok(list) => (list.items.iter().filter(|o| is_ready(*o)).count(), list.items.len()),
        Err(_) => (0, usize::MAX),
    }
}

/// Waits until `expected` resources in `ns` are Ready; returns when that was first seen.
async fn wait_all_ready(ns: &str, expected: usize, started: Instant, timeout: Duration) -> Duration {
    let mut last_print = Instant::now();
    loop {
        let counts = [
            ready_count::<CockroachCluster>(ns).await,
            ready_count::<SQLUser>(ns).await,
            ready_count::<Database>(ns).await,
            ready_count::<AllowlistEntry>(ns).await,
        ];
        let ready: usize = counts.iter().map(|c| c.0).sum();
        let elapsed = started.elapsed();
        if ready == expected {
            return elapsed;
        }
        if last_print.elapsed() > Duration::from_secs(15) {
            println!("    [{:>6.1}s] {ready}/{expected} Ready", elapsed.as_secs_f64());
            last_print = Instant::now();
        }
        assert!(elapsed < timeout, "only {ready}/{expected} resources Ready after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

// ---------- the Cloud side ----------

async fn start_simulator(rate: u32) -> RunningSimulator {
    let config = SimulatorConfig {
        api_keys: vec![TEST_API_KEY.to_string()],
        // The cloud's own provisioning time is not what is measured here.
        cluster_create_delay: Duration::ZERO,
        operation_delay: Duration::from_secs(1),
        deleted_retention: Duration::from_secs(2),
        rate_limit_per_second: rate,
        ..Default::default()
    };
    simulator::start(config, "127.0.0.1:0".parse().unwrap()).await.expect("simulator starts")
}

/// What the simulator served: requests by operation, and the 429s among them.
#[derive(Debug, Clone, Default)]
struct Requests {
    by_operation: BTreeMap<String, u64>,
    throttled: u64,
}

impl Requests {
    async fn read(admin: &SimAdmin) -> Self {
        let stats = admin.stats().await;
        let mut by_operation = BTreeMap::new();
        let mut throttled = 0;
        for (operation, statuses) in stats.by_operation {
            for (status, count) in statuses {
                *by_operation.entry(operation.clone()).or_default() += count;
                if status == "429" {
                    throttled += count;
                }
            }
        }
        Self { by_operation, throttled }
    }
    fn total(&self) -> u64 {
        self.by_operation.values().sum()
    }
    fn since(&self, earlier: &Requests) -> Requests {
        let by_operation = self
            .by_operation
            .iter()
            .map(|(op, n)| (op.clone(), n - earlier.by_operation.get(op).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        Requests { by_operation, throttled: self.throttled - earlier.throttled }
    }
    fn breakdown(&self) -> String {
        self.by_operation.iter().map(|(op, n)| format!("{op} {n}")).collect::<Vec<_>>().join(", ")
    }
}

// ---------- one operator over one fleet ----------

struct Run {
    label: String,
    ns: String,
    fleet: Fleet,
    rate: f64,
    extra_args: Vec<String>,
    sim: RunningSimulator,
    admin: SimAdmin,
    operator: Option<Operator>,
    seconds: f64,
    requests: Requests,
}

impl Run {
    /// A fresh namespace, simulator and operator (default resync) for one fleet, the operator's
    /// first watch sync done.
    async fn start(label: &str, extra_args: &[&str], fleet: Fleet, rate: f64) -> Run {
        let ns = format!("bench-{label}-{}", rand::random::<u16>());
        crdb_test_support::kubectl(&["create", "namespace", &ns], None).await.ok();
        let sim = start_simulator(rate as u32).await;
        let admin = SimAdmin::new(&sim);
        let mut run = Run {
            label: label.to_string(),
            ns,
            fleet,
            rate,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            sim,
            admin,
            operator: None,
            seconds: 0.0,
            requests: Requests::default(),
        };
        run.start_operator(300);
        run.wait_operator_ready().await;
        run
    }

    fn start_operator(&mut self, resync_seconds: u64) {
        let url = self.sim.base_url();
        let mut options = OperatorOptions::new(&self.ns, &url);
        options.resync_seconds = resync_seconds;
        options.poll_seconds = 5;
        options.extra_args = self.extra_args.clone();
        options.extra_args.extend(["--rate-limit".to_string(), self.rate.to_string()]);
        self.operator = Some(Operator::start(options));
    }
    async fn wait_operator_ready(&self) {
        self.operator.as_ref().expect("running").wait_for_log("first watch sync done").await;
    }
    async fn operator_stop(mut self) {
        if let Some(mut operator) = self.operator.take() {
            operator.terminate().await;
        }
    }
    fn proc_status_kib(&self, field: &str) -> f64 {
        let pid = self.operator.as_ref().and_then(Operator::pid).expect("operator running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    }
    /// Peak resident set of the operator process so far (VmHWM).
    fn peak_rss_mib(&self) -> f64 {
        self.proc_status_kib("VmHWM:") / 1024.0
    }
    fn rss_mib(&self) -> f64 {
        self.proc_status_kib("VmRSS:") / 1024.0
    }
    fn physical_limit_seconds(&self) -> f64 {
        self.fleet.mandatory_requests() as f64 / self.rate
    }
}

async fn cold_convergence(label: &str, extra_args: &[&str]) -> Run {
    cold_convergence_of(label, extra_args, Fleet::standard(), RATE).await
}

/// Applies a fleet at once to a fresh namespace, simulator and operator; waits for all Ready.
async fn cold_convergence_of(label: &str, extra_args: &[&str], fleet: Fleet, rate: f64) -> Run {
    println!("\n== cold convergence ({label}): {} clusters, {} children, {} requests/s ==", fleet.clusters, fleet.children(), rate);
    let mut run = Run::start(label, extra_args, fleet, rate).await;
    let started = Instant::now();
    apply_fleet(&run.ns, fleet).await;
    println!("    applied {} resources in {:.1}s", fleet.total(), started.elapsed().as_secs_f64());
    let elapsed = wait_all_ready(&run.ns, fleet.total(), started, Duration::from_secs(3600)).await;
    run.seconds = elapsed.as_secs_f64();
    run.requests = Requests::read(&run.admin).await;
    println!(
        "    all Ready in {:.1}s; {} Cloud requests ({}); 429s: {}; physical limit {:.1}s; ratio {:.3}; peak RSS {:.1} MiB",
        run.seconds,
        run.requests.total(),
        run.requests.breakdown(),
        run.requests.throttled,
        run.physical_limit_seconds(),
        run.seconds / run.physical_limit_seconds(),
        run.peak_rss_mib()
    );
    run
}

// ---------- scenario 3: reaction ----------

struct Reaction {
    samples_ms: Vec<f64>,
}

/// The simulator's records of CreateSQLUser after sequence number `since`: (sequence, arrival).
async fn create_user_requests(admin: &SimAdmin, since: u64) -> Vec<(u64, chrono::DateTime<chrono::Utc>)> {
    let log = admin.requests(since, Some(Operation::CreateSQLUser)).await;
    log.iter().filter_map(|r| Some((r.seq, r.at.parse().ok()?))).collect()
}

async fn reaction(run: &Run) -> Reaction {
    println!("\n== reaction: one new SQLUser with the fleet at rest, 20 tries ==");
    let api: Api<SQLUser> = Api::namespaced(shared().client(), &run.ns);
    let mut seen = create_user_requests(&run.admin, 0).await.iter().map(|(seq, _)| *seq).max().unwrap_or(0);
    let mut samples_ms = Vec::new();
    for i in 0..20 {
        // At rest: nothing in flight.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let user = sql_user(&cluster_name(0), 9000 + i);
        let name = user["metadata"]["name"].as_str().unwrap().to_string();
        let applied_at = chrono::Utc::now();
        create::<SQLUser>(&run.ns, user).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let (seq, arrived) = loop {
            if let Some(first) = create_user_requests(&run.admin, seen).await.into_iter().min_by_key(|(seq, _)| *seq) {
                break first;
            }
            assert!(Instant::now() < deadline, "no CreateSQLUser for {name} within 30 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        seen = seq;
        let ms = (arrived - applied_at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0;
        println!("    try {:>2}: {ms:>7.1} ms", i + 1);
        samples_ms.push(ms);
        crdb_test_support::wait_for(&api, &name, Duration::from_secs(60), "Ready", |u: &SQLUser| is_ready(u)).await;
    }
    // Back to the fleet as it was (the deletes are part of this scenario, not of the next).
    for i in 0..20 {
        let name = format!("{}-user-{:04}", cluster_name(0), 9000 + i);
        api.delete(&name, &Default::default()).await.expect("delete");
        crdb_test_support::wait_gone(&api, &name, Duration::from_secs(60)).await;
    }
    Reaction { samples_ms }
}

/// Nearest-rank percentile.
fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

// ---------- scenario 4: restart ----------

struct Restart {
    requests: Requests,
    clusters: usize,
    window: Duration,
}

async fn restart(run: &mut Run) -> Restart {
    println!("\n== restart with the fleet in sync: Cloud requests in the first 5 minutes ==");
    let operator = run.operator.take();
    if let Some(mut operator) = operator {
        operator.terminate().await;
    }
    let before = Requests::read(&run.admin).await;
    run.start_operator(300);
    let window = Duration::from_secs(300);
    let started = Instant::now();
    let mut checked = false;
    while started.elapsed() < window {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let so_far = Requests::read(&run.admin).await.since(&before);
        if !checked && started.elapsed() > Duration::from_secs(60) {
            // Still in sync: the restart must not have disturbed anything.
            wait_all_ready(&run.ns, run.fleet.total(), Instant::now(), Duration::from_secs(1)).await;
            checked = true;
        }
        println!("    [{:>5.0}s] {} requests ({})", started.elapsed().as_secs_f64(), so_far.total(), so_far.breakdown());
    }
    let requests = Requests::read(&run.admin).await.since(&before);
    Restart { requests, clusters: run.fleet.clusters, window }
}

// ---------- scenario 2: steady state ----------

const STEADY_RESYNC_SECONDS: u64 = 30;
const STEADY_WINDOW: Duration = Duration::from_secs(240);

struct Steady {
    children: usize,
    per_resync: usize,
    requests: Requests,
    window: Duration,
}

impl Fleet {
    /// Requests drift checks cost per resync period: a read of each cluster and, on average, one
    /// request per list (a list of N pages of 500 is refreshed every N resyncs), whatever the lists
    /// hold.
    fn requests_per_resync(&self) -> usize {
        self.clusters * (1 + 3)
    }
}

impl Steady {
    /// Requests per hour at the default 300 s resync: the cost is proportional to the resync rate.
    fn per_hour_at_default_resync(&self) -> f64 {
        self.requests.total() as f64 * 3600.0 / self.window.as_secs_f64() * STEADY_RESYNC_SECONDS as f64 / 300.0
    }
}

/// Restarts the operator with a short resync, lets the restart settle, then counts requests.
async fn steady_state(run: &mut Run) -> Steady {
    println!("\n== steady state ({}): {} children at rest, resync {STEADY_RESYNC_SECONDS}s, {}s window ==", run.label, run.fleet.children(), STEADY_WINDOW.as_secs());
    if let Some(mut operator) = run.operator.take() {
        operator.terminate().await;
    }
    run.start_operator(STEADY_RESYNC_SECONDS);
    run.wait_operator_ready().await;
    // Two resync periods for the restart's own reads to pass.
    tokio::time::sleep(Duration::from_secs(2 * STEADY_RESYNC_SECONDS)).await;
    let before = Requests::read(&run.admin).await;
    tokio::time::sleep(STEADY_WINDOW).await;
    let requests = Requests::read(&run.admin).await.since(&before);
    wait_all_ready(&run.ns, run.fleet.total(), Instant::now(), Duration::from_secs(1)).await;
    let steady = Steady { children: run.fleet.children(), per_resync: run.fleet.requests_per_resync(), requests, window: STEADY_WINDOW };
    println!(
        "    {} requests in {}s ({}); {:.0}/hour at the default 300 s resync",
        steady.requests.total(),
        STEADY_WINDOW.as_secs(),
        steady.requests.breakdown(),
        steady.per_hour_at_default_resync()
    );
    steady
}

// ---------- scenario 5: memory ----------

struct Memory {
    resources: usize,
    peak_mib: f64,
    now_mib: f64,
    seconds: f64,
}

// ---------- scenario 6: setting blocks ----------

const SETTINGS_CLUSTERS: usize = 20;
/// The example's blocks observed with a request of their own (the upgrade and the egress policy are
/// read from the cluster object the operator reads anyway).
const BLOCK_READS: [Operation; 10] = [
    Operation::GetBackupConfiguration,
    Operation::GetMaintenanceWindow,
    Operation::ListBlackoutWindows,
    Operation::GetClusterVersionDeferral,
    Operation::GetLogExportInfo,
    Operation::GetDatadogMetricExportInfo,
    Operation::GetCloudWatchMetricExportInfo,
    Operation::GetPrometheusMetricExportInfo,
    Operation::GetCMEKClusterInfo,
    Operation::GetClientCACert,
];

struct Settings {
    clusters: usize,
    blocks: usize,
    seconds: f64,
    cold: Requests,
    /// Requests no operator can avoid: per cluster the search, the create, one read of it and one
    /// read of each block observed by a request; plus every write the blocks needed.
    mandatory: u64,
    steady: Steady,
}

impl Settings {
    fn physical_limit_seconds(&self) -> f64 {
        self.mandatory as f64 / RATE
    }
    fn expected_per_resync(&self) -> usize {
        self.clusters * (1 + BLOCK_READS.len())
    }
}

/// The example's objects (the Datadog key Secret, the CA ConfigMap, the cluster), the cluster
/// renamed `index` times.
fn production_example(index: usize) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples/cluster-production.yaml");
    let text = std::fs::read_to_string(path).expect("the production example");
    let mut docs: Vec<Value> = crdb_test_support::chart::yaml_docs(&text);
    for doc in &mut docs {
        if doc["kind"] == "CockroachCluster" {
            doc["metadata"]["name"] = json!(format!("ledger-{index:02}"));
            // Released at the end of the scenario.
            doc["spec"]["deleteProtection"] = json!(false);
        }
    }
    docs
}

/// Twenty clusters with every block, cold and then at rest.
async fn settings_scenario() -> Settings {
    println!("\n== setting blocks: {SETTINGS_CLUSTERS} ADVANCED clusters with every block, {RATE} requests/s ==");
    let fleet = Fleet { clusters: SETTINGS_CLUSTERS, users: 0, databases: 0, allowlist: 0 };
    let mut run = Run::start("settings", &[], fleet, RATE).await;
    let ns = run.ns.clone();
    let blocks = crdb_cloud_operator::controller::settings::all();
    let started = Instant::now();
    let mut manifests = String::new();
    for index in 0..SETTINGS_CLUSTERS {
        for (i, doc) in production_example(index).into_iter().enumerate() {
            // The Secret and the ConfigMap once; every cluster names the same two.
            if index == 0 || i == 2 || doc["kind"] == "CockroachCluster" {
                manifests.push_str("---\n");
                manifests.push_str(&serde_norway::to_string(&doc).unwrap());
            }
        }
    }
    crdb_test_support::kubectl(&["apply", "-n", &ns, "-f", "-"], Some(&manifests)).await.ok();
    let api: Api<CockroachCluster> = Api::namespaced(shared().client(), &ns);
    loop {
        let list = api.list(&Default::default()).await.expect("list clusters");
        let synced = list
            .items
            .iter()
            .filter(|c| is_ready(*c) && blocks.iter().all(|b| crdb_test_support::condition(*c, b.condition()).is_some_and(|(s, _, _)| s == "True")))
            .count();
        if synced == SETTINGS_CLUSTERS {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1800), "only {synced}/{SETTINGS_CLUSTERS} clusters synced");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    run.seconds = started.elapsed().as_secs_f64();
    let cold = Requests::read(&run.admin).await;
    let writes: u64 = cold
        .by_operation
        .iter()
        .filter(|(op, _)| op.parse::<Operation>().is_ok_and(|o| o.method() != reqwest::Method::GET && o != Operation::CreateCluster))
        .map(|(_, n)| n)
        .sum();
    let mandatory = (SETTINGS_CLUSTERS * (3 + BLOCK_READS.len())) as u64 + writes;
    println!(
        "    all {SETTINGS_CLUSTERS} clusters Ready with {} blocks synced in {:.1}s; {} requests ({}); 429s: {}; physical limit {:.1}s; ratio {:.3}",
        blocks.len(),
        run.seconds,
        cold.total(),
        cold.breakdown(),
        cold.throttled,
        mandatory as f64 / RATE,
        run.seconds / (mandatory as f64 / RATE)
    );
    let steady = steady_state(&mut run).await;
    let settings = Settings { clusters: SETTINGS_CLUSTERS, blocks: blocks.len(), seconds: run.seconds, cold, mandatory, steady };
    run.operator_stop().await;
    settings
}

// ---------- the report ----------

#[derive(Default)]
struct Report {
    sections: Vec<String>,
    cold: Vec<(String, f64, u64, u64, f64)>,
}

impl Report {
    fn cold(&mut self, run: &Run) {
        let limit = run.physical_limit_seconds();
        let mut s = format!("### 1. Cold convergence ({})\n\n", run.label);
        let _ = writeln!(s, "- fleet: {} cluster, {} SQLUsers, {} Databases, {} AllowlistEntries, applied at once", run.fleet.clusters, run.fleet.users, run.fleet.databases, run.fleet.allowlist);
        if !run.extra_args.is_empty() {
            let _ = writeln!(s, "- operator flags: `{}`", run.extra_args.join(" "));
        }
        let _ = writeln!(s, "- all Ready after **{:.1} s**", run.seconds);
        let _ = writeln!(s, "- Cloud requests: **{}** ({})", run.requests.total(), run.requests.breakdown());
        let _ = writeln!(s, "- 429s received: **{}**", run.requests.throttled);
        let _ = writeln!(s, "- physical limit: {} mandatory requests / {} per s = {:.1} s", run.fleet.mandatory_requests(), run.rate, limit);
        let _ = writeln!(s, "- ratio to the physical limit: **{:.3}** (target ≤ 1.15)", run.seconds / limit);
        let _ = writeln!(s, "- operator peak RSS: {:.1} MiB", run.peak_rss_mib());
        self.cold.push((run.label.clone(), run.seconds, run.requests.total(), run.requests.throttled, run.seconds / limit));
        if self.cold.len() == 2 {
            let (a, b) = (&self.cold[0], &self.cold[1]);
            let _ = writeln!(
                s,
                "\n**{} vs {}**: {:.2}x the time, {:.2}x the requests, {} vs {} 429s",
                b.0,
                a.0,
                b.1 / a.1,
                b.2 as f64 / a.2 as f64,
                b.3,
                a.3
            );
        }
        self.sections.push(s);
    }

    fn reaction(&mut self, r: &Reaction) {
        let samples: Vec<String> = r.samples_ms.iter().map(|m| format!("{m:.0}")).collect();
        self.sections.push(format!(
            "### 3. Reaction\n\n- apply one new SQLUser with the fleet at rest -> its CreateSQLUser reaches the cloud: p50 **{:.0} ms**, p99 **{:.0} ms** over {} tries (targets: 250 ms, 1 s)\n- samples (ms): {}\n",
            percentile(&r.samples_ms, 50.0),
            percentile(&r.samples_ms, 99.0),
            r.samples_ms.len(),
            samples.join(", ")
        ));
    }

    fn restart(&mut self, r: &Restart) {
        self.sections.push(format!(
            "### 4. Restart\n\n- operator stopped and started with the fleet in sync ({} cluster(s), 1,200 children): **{}** Cloud requests in the first {} s ({}), **{:.1} per cluster**\n",
            r.clusters,
            r.requests.total(),
            r.window.as_secs(),
            r.requests.breakdown(),
            r.requests.total() as f64 / r.clusters as f64
        ));
    }

    fn steady(&mut self, big: &Steady, small: &Steady) {
        let line = |s: &Steady| {
            format!(
                "- {} children: {} requests in {} s at a {STEADY_RESYNC_SECONDS} s resync ({}) = **{:.0} requests/hour** at the default 300 s resync",
                s.children,
                s.requests.total(),
                s.window.as_secs(),
                s.requests.breakdown(),
                s.per_hour_at_default_resync()
            )
        };
        self.sections.push(format!(
            "### 2. Steady state\n\n{}\n{}\n- ratio: **{:.2}** (target: within 10%)\n- drift checks of a cluster cost one read of the cluster and, on average, one request per list per resync, whatever the lists hold (a list of N pages of 500 is refreshed every N resyncs; the 501 databases with `defaultdb` take 2 pages): {} requests per resync for the {} children, {} for the {}\n",
            line(big),
            line(small),
            big.per_hour_at_default_resync() / small.per_hour_at_default_resync(),
            big.per_resync,
            big.children,
            small.per_resync,
            small.children,
        ));
    }

    fn memory(&mut self, m: &Memory) {
        self.sections.push(format!(
            "### 5. Memory\n\n- {} resources (5 clusters of 400 SQLUsers, 400 Databases, 199 AllowlistEntries), converged in {:.0} s at 100 requests/s\n- operator peak RSS: **{:.1} MiB** (target < 100 MiB); {:.1} MiB after a minute at rest\n",
            m.resources, m.seconds, m.peak_mib, m.now_mib
        ));
    }

    fn settings(&mut self, s: &Settings) {
        let per_resync = s.steady.requests.total() as f64 * STEADY_RESYNC_SECONDS as f64 / s.steady.window.as_secs_f64();
        self.sections.push(format!(
            "### 6. Setting blocks\n\n- fleet: {} ADVANCED clusters, each with every setting block ({} blocks: deploy/examples/cluster-production.yaml), applied at once\n- all Ready with every block synced after **{:.1} s**\n- Cloud requests: **{}** ({})\n- 429s received: **{}**\n- physical limit: {} mandatory requests (per cluster the search, the create, one read and {} block reads; plus {} block writes) / {} per s = {:.1} s\n- ratio to the physical limit: **{:.3}** (target ≤ 1.15)\n- at rest: {} requests in {} s at a {STEADY_RESYNC_SECONDS} s resync ({}) = **{:.1} per resync** against (1 + {} block reads) x {} clusters = {} expected; **{:.0} requests/hour** at the default 300 s resync, 429s: {}\n",
            s.clusters,
            s.blocks,
            s.seconds,
            s.cold.total(),
            s.cold.breakdown(),
            s.cold.throttled,
            s.mandatory,
            BLOCK_READS.len(),
            s.mandatory as usize - s.clusters * (3 + BLOCK_READS.len()),
            RATE,
            s.physical_limit_seconds(),
            s.seconds / s.physical_limit_seconds(),
            s.steady.requests.total(),
            s.steady.window.as_secs(),
            s.steady.requests.breakdown(),
            per_resync,
            BLOCK_READS.len(),
            s.clusters,
            s.expected_per_resync(),
            s.steady.per_hour_at_default_resync(),
            s.steady.requests.throttled,
        ));
    }

    fn render(&self, machine: &str) -> String {
        let mut text = String::from(
            "# Benchmark results\n\nProduced by `make bench` (examples/bench.rs): a real kube-apiserver and etcd, the Cloud API simulator at 10 requests/second per key (scenario 5: 100), and the operator's release binary. Scenarios are printed in the order they run.\n\n",
        );
        let _ = writeln!(text, "## Machine\n\n{machine}\n\n## Figures\n");
        for section in &self.sections {
            text.push_str(section);
            text.push('\n');
        }
        text
    }
}

/// `git describe`-like: the short commit, with `-dirty` when tracked files differ from it.
fn source_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git").args(args).output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    if git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() { commit } else { format!("{commit}-dirty") }
}

fn machine(commit: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "- date: {}\n- CPU: {cpu}, {cores} cores available\n- memory: {memory}\n- kernel: Linux {}\n- commit (at the start of the run): {commit}\n- note: a shared machine; figures vary from run to run",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        kernel.trim()
    )
}
