//! Running the operator: leader election between real operator processes (one reconciler at a time,
//! hand-over on SIGTERM, take-over after a crash), the /metrics, /healthz and /readyz endpoints, and
//! `kubectl wait` on every kind. A real kube-apiserver, the real operator binary and the Cloud API
//! simulator.


use std::collections::BTreeMap;

use std::time::{Duration, Instant};

use crdb_cloud_operator::api::{AllowlistEntry, CockroachCluster, Database, SQLUser};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use crdb_test_support::*;
use crdb_test_support::{kubectl, shared, test_namespace};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A Prometheus series selector of one Cloud API operation (and status), e.g.
/// `crdb_operator_cloud_api_requests_total{operation="CreateCluster",status="200"}`.
fn series(metric: &str, operation: Operation, status: Option<u16>) -> String {
    match status {
        Some(status) => format!("{metric}{{operation=\"{operation}\",status=\"{status}\"}}"),
        None => format!("{metric}{{operation=\"{operation}\"}}"),
    }
}

/// Lease duration of the leader-election test's operators.
const LEASE_SECONDS: u64 = 5;


async fn apply(namespace: &str, manifest: &str) {
    kubectl(&["apply", "-n", namespace, "-f", "-"], Some(manifest)).await.ok();
}

// ---------------------------------------------------------------------------------------------
// Operator processes with leader election

/// An operator taking part in leader election, as a pod named `pod_name` would.
fn elector(namespace: &str, api_url: &str, pod_name: &str) -> Operator {
    let mut options = OperatorOptions::new(namespace, api_url);
    options.lease_namespace = Some(namespace);
    options.pod_name = Some(pod_name);
    options.lease_seconds = Some(LEASE_SECONDS);
    Operator::start(options)
}

/// Scrapes an operator's /metrics.
async fn metrics_of(operator: &Operator) -> Metrics {
    scrape(&operator.health_addr().await).await
}

async fn lease_holder(leases: &Api<Lease>, name: &str) -> Option<String> {
    leases.get_opt(name).await.unwrap().and_then(|l| l.spec).and_then(|s| s.holder_identity).filter(|h| !h.is_empty())
}

/// Waits until the requests the simulator served equal those the operators counted (in flight
/// ones finish first); returns the first operator's metrics.
async fn requests_match(admin: &SimAdmin, operators: &[&Operator]) -> Metrics {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let served = admin.stats().await.total as f64;
        let mut scrapes = Vec::new();
        for operator in operators {
            scrapes.push(metrics_of(operator).await);
        }
        let counted: f64 = scrapes.iter().map(|m| m.total("crdb_operator_cloud_api_requests_total")).sum();
        if served == counted {
            return scrapes.swap_remove(0);
        }
        assert!(Instant::now() < deadline, "the simulator served {served} requests, the operators counted {counted}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `who` holds the Lease; returns how long that took.
async fn wait_for_holder(leases: &Api<Lease>, name: &str, who: &str, timeout: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let holder = lease_holder(leases, name).await;
        if holder.as_deref() == Some(who) {
            return started.elapsed();
        }
        assert!(started.elapsed() < timeout, "{who} did not get the Lease within {timeout:?}; holder: {holder:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// One scrape: series (name with labels, as exposed) -> value.
struct Metrics {
    text: String,
    series: BTreeMap<String, f64>,
}

impl Metrics {
    fn get(&self, series: &str) -> Option<f64> {
        self.series.get(series).copied()
    }

    #[track_caller]
    fn value(&self, series: &str) -> f64 {
        self.get(series).unwrap_or_else(|| panic!("no series {series} in /metrics:\n{}", self.text))
    }

    /// The sum over every series of a metric (any labels).
    fn total(&self, metric: &str) -> f64 {
        self.series.iter().filter(|(k, _)| k.as_str() == metric || k.starts_with(&format!("{metric}{{"))).map(|(_, v)| v).sum()
    }
}

async fn get(addr: &str, path: &str) -> (u16, String, String) {
    let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

async fn scrape(addr: &str) -> Metrics {
    let (status, _, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let series = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad metrics line {l:?}"));
            (name.to_string(), value.parse::<f64>().unwrap_or_else(|_| panic!("bad value in {l:?}")))
        })
        .collect();
    Metrics { text, series }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn one_leader_reconciles_and_a_standby_takes_over_on_sigterm_and_on_a_crash() {
    install_crds().await;
    let ns = test_namespace("leader").await;
    let sim = start_simulator(&[]).await;
    let admin = SimAdmin::new(&sim);
    let url = sim.base_url();
    let leases: Api<Lease> = ns.api();
    let lease = format!("crdb-cloud-operator-{}", ns.name());
    let clusters: Api<CockroachCluster> = ns.api();
    let lease_period = Duration::from_secs(LEASE_SECONDS);

    // The Lease as the chart creates it, empty and owned by the release (so that an uninstall
    // removes it): the operator must find it under the name it uses and take it over.
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/crdb-cloud-operator");
    let watch = format!("watchNamespace={}", ns.name());
    let args = ["template", "leader", chart, "-n", ns.name(), "--set", &watch, "--show-only", "templates/lease.yaml"];
    let chart_lease = kubectl::helm(&args, None).await.ok().stdout;
    kubectl::kubectl(&["apply", "-n", ns.name(), "-f", "-"], Some(&chart_lease)).await.ok();
    let created = leases.get(&lease).await.expect("the chart names the Lease as the operator does");
    assert!(created.spec.and_then(|s| s.holder_identity).is_none(), "the chart's Lease has no holder");

    // a leads; b stands by: alive and ready, but it neither reconciles nor calls the Cloud API.
    let mut a = elector(ns.name(), &url, "op-a");
    wait_for_holder(&leases, &lease, "op-a", TIMEOUT).await;
    let b = elector(ns.name(), &url, "op-b");
    b.wait_for_log("waiting to become the leader").await;
    let b_addr = b.health_addr().await;
    assert_eq!(get(&b_addr, "/healthz").await.0, 200);
    assert_eq!(get(&b_addr, "/readyz").await.0, 200, "a standby is ready (it can take over at once)");

    apply(ns.name(), &serverless_cluster("first-db")).await;
    wait_for(&clusters, "first-db", TIMEOUT, "Ready", is_ready).await;
    let a_metrics = metrics_of(&a).await;
    let b_metrics = metrics_of(&b).await;
    assert_eq!(a_metrics.value(&series("crdb_operator_cloud_api_requests_total", Operation::CreateCluster, Some(200))), 1.0);
    assert!(a_metrics.total("crdb_operator_reconciles_total") >= 1.0);
    assert_eq!(b_metrics.total("crdb_operator_cloud_api_requests_total"), 0.0, "the standby called the Cloud API:\n{}", b_metrics.text);
    assert_eq!(b_metrics.total("crdb_operator_reconciles_total"), 0.0, "the standby reconciled:\n{}", b_metrics.text);
    // Every request the simulator served came from the leader (counted once the last reconcile
    // after Ready has finished).
    requests_match(&admin, &[&a]).await;
    assert_eq!(lease_holder(&leases, &lease).await.as_deref(), Some("op-a"));
    assert!(!b.logs().contains("became the leader"));

    // SIGTERM: a stops cleanly and hands over; b leads within a lease period.
    let status = a.terminate().await;
    assert!(status.success(), "a SIGTERM'd leader exits 0, got {status}:\n{}", a.logs());
    let handover = wait_for_holder(&leases, &lease, "op-b", lease_period * 3).await;
    assert!(handover <= lease_period + Duration::from_secs(3), "hand-over after SIGTERM took {handover:?}");
    b.wait_for_log("became the leader").await;
    apply(ns.name(), &serverless_cluster("second-db")).await;
    wait_for(&clusters, "second-db", TIMEOUT, "Ready", is_ready).await;
    let b_metrics = metrics_of(&b).await;
    assert_eq!(b_metrics.value(&series("crdb_operator_cloud_api_requests_total", Operation::CreateCluster, Some(200))), 1.0);
    // a is gone, so from now on every request the simulator serves must be one of b's: the two
    // counters move together. (a's own total cannot be read after it exits, and it may have sent
    // a request after its metrics were last read.)
    let (served_then, b_then) = consistent_counts(&admin, &b).await;
    apply(ns.name(), &serverless_cluster("interim-db")).await;
    wait_for(&clusters, "interim-db", TIMEOUT, "Ready", is_ready).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (served, b_total) = consistent_counts(&admin, &b).await;
        assert!(served > served_then, "the new leader made no requests");
        if served - served_then == b_total - b_then {
            break;
        }
        assert!(Instant::now() < deadline, "the simulator served {} requests since a left, b made {}", served - served_then, b_total - b_then);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // SIGKILL: b dies holding the Lease; c takes over once it expires.
    let mut b = b;
    let c = elector(ns.name(), &url, "op-c");
    c.wait_for_log("waiting to become the leader").await;
    b.kill().await;
    let takeover = wait_for_holder(&leases, &lease, "op-c", lease_period * 4).await;
    assert!(takeover <= lease_period + Duration::from_secs(4), "take-over after a crash took {takeover:?}");
    apply(ns.name(), &serverless_cluster("third-db")).await;
    wait_for(&clusters, "third-db", TIMEOUT, "Ready", is_ready).await;
    assert_eq!(metrics_of(&c).await.value(&series("crdb_operator_cloud_api_requests_total", Operation::CreateCluster, Some(200))), 1.0);

    // Nothing was created twice across the three leaders, and the old resources stay Ready.
    for name in ["first-db", "second-db", "third-db"] {
        assert_eq!(admin.live_clusters_named(name).await.len(), 1, "{name}");
        assert!(is_ready(&clusters.get(name).await.unwrap()), "{name}");
    }
    eprintln!("hand-over after SIGTERM: {handover:?}; take-over after SIGKILL: {takeover:?} (lease {lease_period:?})");
}

#[tokio::test]
async fn metrics_and_probes_tell_the_truth() {
    install_crds().await;
    let ns = test_namespace("metrics").await;
    let sim = start_simulator(&[]).await;
    let admin = SimAdmin::new(&sim);
    let url = sim.base_url();
    // An identity without permissions yet: the operator cannot see its CRDs, so it must not be ready.
    let user = format!("operator-{}", ns.name());
    let kubeconfig = shared().kubeconfig_for_user(&user, &[]);
    let mut options = OperatorOptions::new(ns.name(), &url);
    options.kubeconfig = Some(&kubeconfig);
    let operator = Operator::start(options);
    let addr = operator.health_addr().await;

    let (status, _, body) = get(&addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    for _ in 0..10 {
        assert_eq!(get(&addr, "/readyz").await.0, 503, "ready before the CRDs are visible");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, content_type, _) = get(&addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");

    // Permissions arrive: ready after the CRDs are found and the first sync is done.
    let rbac = format!(
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: operator
rules:
  - apiGroups: ["crdbcloud.io"]
    resources: ["*"]
    verbs: ["*"]
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["*"]
  - apiGroups: ["", "events.k8s.io"]
    resources: ["events"]
    verbs: ["*"]
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: operator
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: operator
subjects:
  - kind: User
    apiGroup: rbac.authorization.k8s.io
    name: {user}
"#
    );
    apply(ns.name(), &rbac).await;
    let deadline = Instant::now() + TIMEOUT;
    while get(&addr, "/readyz").await.0 != 200 {
        // A leader that never logs "first watch sync done" stays unready here. (kube-runtime's
        // Store::wait_until_ready wakes only its latest waiter, and every Controller waits on its own
        // store, so a second waiter on a Controller's store is never woken.)
        assert!(Instant::now() < deadline, "not ready after the CRDs became visible:\n{}", operator.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&addr, "/healthz").await.0, 200);

    // A lifecycle of every kind, with one 429 from the Cloud API on the way.
    admin.add_fault(&FaultSpec { status: Some(429), ..FaultSpec::on(Operation::CreateCluster) }).await;
    apply(ns.name(), &cluster_with_one_child_of_each_kind("metrics-db")).await;
    wait_for(&ns.api::<CockroachCluster>(), "metrics-db", TIMEOUT, "Ready", is_ready).await;
    wait_for(&ns.api::<SQLUser>(), "app", TIMEOUT, "Ready", is_ready).await;
    wait_for(&ns.api::<Database>(), "orders", TIMEOUT, "Ready", is_ready).await;
    wait_for(&ns.api::<AllowlistEntry>(), "office", TIMEOUT, "Ready", is_ready).await;

    let m = scrape(&addr).await;
    for metric in [
        "crdb_operator_reconciles",
        "crdb_operator_reconcile_duration_seconds",
        "crdb_operator_cloud_api_requests",
        "crdb_operator_cloud_api_request_duration_seconds",
        "crdb_operator_cloud_api_budget_wait_seconds",
        "crdb_operator_cloud_api_rate_limited",
        "crdb_operator_resources",
    ] {
        assert!(m.text.contains(&format!("# TYPE {metric} ")), "{metric} is not exposed:\n{}", m.text);
    }
    for kind in ["CockroachCluster", "SQLUser", "Database", "AllowlistEntry"] {
        assert_eq!(m.value(&format!(r#"crdb_operator_resources{{kind="{kind}",condition="Ready"}}"#)), 1.0, "{kind}");
        assert!(m.value(&format!(r#"crdb_operator_reconciles_total{{kind="{kind}",result="ready"}}"#)) >= 1.0, "{kind}");
        let count = m.value(&format!(r#"crdb_operator_reconcile_duration_seconds_count{{kind="{kind}"}}"#));
        assert!(count >= 1.0, "{kind}");
        let sum = m.value(&format!(r#"crdb_operator_reconcile_duration_seconds_sum{{kind="{kind}"}}"#));
        assert!(sum > 0.0 && sum < 60.0 * count, "{kind}: implausible reconcile durations (sum {sum} s over {count})");
        let reconciles: f64 = m.series.iter().filter(|(k, _)| k.starts_with(&format!(r#"crdb_operator_reconciles_total{{kind="{kind}","#))).map(|(_, v)| v).sum();
        assert!(count >= reconciles, "{kind}: every reconcile is timed ({count} timed, {reconciles} counted)");
    }
    // The cluster was created once, after one 429 that the budget absorbed.
    assert_eq!(m.value(&series("crdb_operator_cloud_api_requests_total", Operation::CreateCluster, Some(200))), 1.0);
    assert_eq!(m.value(&series("crdb_operator_cloud_api_requests_total", Operation::CreateCluster, Some(429))), 1.0);
    assert_eq!(m.value(&series("crdb_operator_cloud_api_rate_limited_total", Operation::CreateCluster, None)), 1.0);
    assert_eq!(m.value(&series("crdb_operator_cloud_api_request_duration_seconds_count", Operation::CreateCluster, None)), 2.0);
    assert_eq!(m.value(&series("crdb_operator_cloud_api_budget_wait_seconds_count", Operation::CreateCluster, None)), 2.0);
    let waited = m.value(&series("crdb_operator_cloud_api_budget_wait_seconds_sum", Operation::CreateCluster, None));
    assert!((0.0..30.0).contains(&waited), "implausible budget wait {waited}");
    assert!(m.total("crdb_operator_cloud_api_budget_wait_seconds_count") >= m.total("crdb_operator_cloud_api_requests_total"));
    // Every request the simulator served is counted once (once in-flight ones have finished).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let served = admin.stats().await.total as f64;
        let counted = scrape(&addr).await.total("crdb_operator_cloud_api_requests_total");
        if served == counted {
            break;
        }
        assert!(Instant::now() < deadline, "the simulator served {served} requests, the operator counted {counted}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // No label carries a secret.
    assert!(!m.text.contains(TEST_API_KEY));

    // Deleted resources leave the gauge.
    kubectl(
        &["delete", "-n", ns.name(), "cockroachclusters.crdbcloud.io/metrics-db", "sqlusers.crdbcloud.io/app", "databases.crdbcloud.io/orders", "allowlistentries.crdbcloud.io/office", "--wait=true", "--timeout=60s"],
        None,
    )
    .await
    .ok();
    let m = scrape(&addr).await;
    for kind in ["CockroachCluster", "SQLUser", "Database", "AllowlistEntry"] {
        assert_eq!(m.value(&format!(r#"crdb_operator_resources{{kind="{kind}",condition="Ready"}}"#)), 0.0, "{kind}");
    }
    assert!(m.value(&series("crdb_operator_cloud_api_requests_total", Operation::DeleteCluster, Some(200))) >= 1.0);
}

#[tokio::test]
async fn kubectl_wait_for_ready_works_on_every_kind() {
    install_crds().await;
    let ns = test_namespace("kubectl-wait").await;
    let sim = start_simulator(&[]).await;
    let _operator = Operator::start(OperatorOptions::new(ns.name(), &sim.base_url()));
    apply(ns.name(), &cluster_with_one_child_of_each_kind("wait-db")).await;
    let resources = [
        "cockroachcluster/wait-db",
        "sqluser/app",
        "databases.crdbcloud.io/orders",
        "allowlistentry/office",
    ];
    for resource in resources {
        let out = kubectl(&["wait", "-n", ns.name(), "--for=condition=Ready", "--timeout=60s", resource], None).await.ok();
        assert!(out.stdout.contains("condition met"), "{out}");
    }
    // Short names and the category work too, and the printer columns say Ready.
    kubectl(&["wait", "-n", ns.name(), "--for=condition=Ready", "--timeout=10s", "crdbcluster/wait-db", "crdbsqluser/app"], None).await.ok();
    kubectl(&["wait", "-n", ns.name(), "--for=jsonpath={.status.state}=CREATED", "--timeout=10s", "crdbcluster/wait-db"], None).await.ok();
    let table = kubectl(&["get", "crdbcloud", "-n", ns.name()], None).await.ok().stdout;
    assert_eq!(table.lines().filter(|l| l.contains("True")).count(), 4, "{table}");

    // And waiting for deletion.
    kubectl(&[&["delete", "-n", ns.name(), "--wait=false"][..], &resources[..]].concat(), None).await.ok();
    kubectl(&[&["wait", "-n", ns.name(), "--for=delete", "--timeout=60s"][..], &resources[..]].concat(), None).await.ok();
}

/// The simulator's total and b's own count, read while b's count stays the same (so no request
/// of b's is in flight between the two readings).
async fn consistent_counts(admin: &SimAdmin, b: &Operator) -> (f64, f64) {
    loop {
        let before = metrics_of(b).await.total("crdb_operator_cloud_api_requests_total");
        let served = admin.stats().await.total as f64;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after = metrics_of(b).await.total("crdb_operator_cloud_api_requests_total");
        let served_after = admin.stats().await.total as f64;
        if before == after && served == served_after {
            return (served, after);
        }
    }
}
