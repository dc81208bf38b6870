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
use crdb_test_support::{chart, kubectl, shared, test_namespace};

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

/// An operator taking part in leader election on `lease`, as a pod named `pod_name` would.
fn elector(namespace: &str, api_url: &str, pod_name: &str, lease: &str) -> Operator {
    elector_with(namespace, api_url, pod_name, lease, |_| {})
}

/// As [`elector`], with the options adjusted by `configure`.
fn elector_with<'a>(namespace: &'a str, api_url: &'a str, pod_name: &'a str, lease: &str, configure: impl FnOnce(&mut OperatorOptions<'a>)) -> Operator {
    let mut options = OperatorOptions::new(namespace, api_url);
    options.lease_namespace = Some(namespace);
    options.pod_name = Some(pod_name);
    options.lease_seconds = Some(LEASE_SECONDS);
    options.extra_args = vec!["--lease-name".into(), lease.into()];
    configure(&mut options);
    Operator::start(options)
}

/// The chart's Lease for a release watching `watched`, applied in `namespace` as `helm install`
/// would create it; returns its name (the one the chart gives the operator in CRDB_LEASE_NAME).
async fn chart_lease(release: &str, namespace: &str, watched: &str) -> String {
    let objects = chart::render(release, namespace, &["--set", &format!("watchNamespace={watched}")]).await;
    let lease = chart::one(&objects, "Lease");
    kubectl::kubectl(&["apply", "-n", namespace, "-f", "-"], Some(&lease.to_string())).await.ok();
    let env = &chart::one(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"];
    let name = env.as_array().into_iter().flatten().find(|e| e["name"] == "CRDB_LEASE_NAME").map(|e| e["value"].clone());
    let name = name.unwrap_or_else(|| panic!("the chart's Deployment sets no CRDB_LEASE_NAME: {env}"));
    assert_eq!(name, lease["metadata"]["name"], "the operator is told the name of the chart's Lease");
    name.as_str().unwrap().to_string()
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
    let clusters: Api<CockroachCluster> = ns.api();
    let lease_period = Duration::from_secs(LEASE_SECONDS);

    // The Lease as the chart creates it, empty and owned by the release (so that an uninstall
    // removes it): the operator must find it under the name the chart gives it and take it over.
    let lease = chart_lease("leader", ns.name(), ns.name()).await;
    let created = leases.get(&lease).await.expect("the chart names the Lease as the operator does");
    assert!(created.spec.and_then(|s| s.holder_identity).is_none(), "the chart's Lease has no holder");

    // a leads; b stands by: alive and ready, but it neither reconciles nor calls the Cloud API.
    let mut a = elector(ns.name(), &url, "op-a", &lease);
    wait_for_holder(&leases, &lease, "op-a", TIMEOUT).await;
    let b = elector(ns.name(), &url, "op-b", &lease);
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
    let c = elector(ns.name(), &url, "op-c", &lease);
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
        "crdb_operator_leader",
        "crdb_operator_ready",
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
    assert_eq!((m.value("crdb_operator_leader"), m.value("crdb_operator_ready")), (1.0, 1.0), "a ready leader");

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
        "egressrule/backups",
        "folder/team",
        "serviceaccounts.crdbcloud.io/deployer",
        "apikey/deployer-key",
        "rolegrant/deployer-dev",
        "jwtissuer/ci",
        "privateendpointconnection/app-endpoint",
        "privateendpointtrustedowner/trusted-account",
    ];
    for resource in resources {
        let out = kubectl(&["wait", "-n", ns.name(), "--for=condition=Ready", "--timeout=60s", resource], None).await.ok();
        assert!(out.stdout.contains("condition met"), "{out}");
    }
    // Short names and the category work too, and the printer columns say Ready.
    kubectl(&["wait", "-n", ns.name(), "--for=condition=Ready", "--timeout=10s", "crdbcluster/wait-db", "crdbsqluser/app"], None).await.ok();
    kubectl(&["wait", "-n", ns.name(), "--for=jsonpath={.status.state}=CREATED", "--timeout=10s", "crdbcluster/wait-db"], None).await.ok();
    let table = kubectl(&["get", "crdbcloud", "-n", ns.name()], None).await.ok().stdout;
    assert_eq!(table.lines().filter(|l| l.contains("True")).count(), resources.len(), "{table}");

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

// ---------------------------------------------------------------------------------------------
// Leadership: a deposed leader, a prompt hand-over

/// A TCP proxy that counts the bytes its clients send upstream: attributes Cloud API traffic to
/// one operator process when several share a simulator.
struct CountingProxy {
    addr: std::net::SocketAddr,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    accept: tokio::task::AbortHandle,
}

impl CountingProxy {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { return };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let up = async {
                        let mut buffer = vec![0u8; 16 * 1024];
                        while let Ok(n @ 1..) = client_read.read(&mut buffer).await {
                            counter.fetch_add(n as u64, Ordering::SeqCst);
                            if server_write.write_all(&buffer[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = server_write.shutdown().await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                        let _ = client_write.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        })
        .abort_handle();
        Self { addr, sent, accept }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn bytes_sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// When `who` took the Lease (its acquireTime), as the apiserver's audit timestamps are written.
async fn acquired_at(leases: &Api<Lease>, name: &str, who: &str) -> k8s_openapi::jiff::Timestamp {
    let spec = leases.get(name).await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(who));
    spec.acquire_time.expect("a taken Lease has an acquireTime").0
}

#[tokio::test]
async fn a_frozen_leader_writes_nothing_once_a_standby_has_taken_over() {
    install_crds().await;
    let ns = test_namespace("frozen").await;
    let sim = start_simulator(&[]).await;
    let url = sim.base_url();
    let leases: Api<Lease> = ns.api();
    let lease = "frozen-lease";
    let lease_seconds = 3;
    // a's Cloud API traffic goes through a counting proxy, and a talks to Kubernetes as its own
    // user, so the apiserver's audit log attributes its writes.
    let upstream = url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
    let proxy = CountingProxy::start(upstream).await;
    let a_user = format!("{}-op-a", ns.name());
    let a_kubeconfig = shared().kubeconfig_for_user(&a_user, &["system:masters"]);
    let mut a = elector_with(ns.name(), &proxy.url(), "op-a", lease, |options| {
        options.lease_seconds = Some(lease_seconds);
        options.kubeconfig = Some(&a_kubeconfig);
        options.extra_args.extend(["--log-format".to_string(), "json".to_string()]);
    });
    wait_for_holder(&leases, lease, "op-a", TIMEOUT).await;
    let b = elector_with(ns.name(), &url, "op-b", lease, |options| options.lease_seconds = Some(lease_seconds));
    b.wait_for_log("waiting to become the leader").await;
    apply(ns.name(), &serverless_cluster("frozen-db")).await;
    wait_for(&ns.api::<CockroachCluster>(), "frozen-db", TIMEOUT, "Ready", is_ready).await;
    assert!(proxy.bytes_sent() > 0, "a's requests go through the proxy");

    // a freezes (as a frozen node or a long pause would) for longer than the lease, in the middle
    // of a reconcile: its CreateDatabase is on the wire and answered while it is frozen.
    let admin = SimAdmin::new(&sim);
    admin.add_fault(&FaultSpec { latency_ms: Some(4000), ..FaultSpec::on(Operation::CreateDatabase) }).await;
    apply(ns.name(), &child("Database", "orders", "frozen-db", "")).await;
    let deadline = Instant::now() + TIMEOUT;
    // The simulator takes the one-shot fault (and starts delaying the answer) when the request arrives.
    while !admin.faults().await.is_empty() {
        assert!(Instant::now() < deadline, "a never sent its CreateDatabase:\n{}", a.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.signal(libc::SIGSTOP);
    let frozen_at = proxy.bytes_sent();
    wait_for_holder(&leases, lease, "op-b", Duration::from_secs(30)).await;
    let takeover = acquired_at(&leases, lease, "op-b").await;
    b.wait_for_log("became the leader").await;
    // b finishes that work, and more arrives while a is still frozen.
    wait_for(&ns.api::<Database>(), "orders", TIMEOUT, "Ready", is_ready).await;
    kubectl::kubectl(&["label", "-n", ns.name(), "cockroachcluster/frozen-db", "touched=after-takeover"], None).await.ok();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // a wakes with that work queued: it must notice on its own clock that its mandate lapsed and
    // send nothing, then exit for a fresh start.
    a.signal(libc::SIGCONT);
    let status = a.wait_exit(Duration::from_secs(30)).await;
    assert!(!status.success(), "a deposed leader exits non-zero (to be restarted as a standby), got {status}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(proxy.bytes_sent(), frozen_at, "a sent Cloud API requests after it woke:\n{}", a.logs());
    let writes_by_a: Vec<_> = shared().audited_writes().into_iter().filter(|w| w.user.username == a_user).collect();
    assert!(writes_by_a.iter().any(|w| w.request_uri.contains("/status")), "the audit log shows a's status writes while it led");
    let late_writes: Vec<_> = writes_by_a
        .into_iter()
        .filter(|w| w.request_received_timestamp.parse::<k8s_openapi::jiff::Timestamp>().unwrap() >= takeover)
        .map(|w| format!("{} {}", w.verb, w.request_uri))
        .collect();
    assert!(late_writes.is_empty(), "a wrote to Kubernetes after b took over at {takeover}: {late_writes:#?}\n{}", a.logs());
    let events = kubectl::kubectl(&["get", "events.events.k8s.io", "-n", ns.name(), "-o", "json"], None).await.ok().stdout;
    let events: serde_json::Value = serde_json::from_str(&events).unwrap();
    let by_a: Vec<_> = events["items"].as_array().unwrap().iter().filter(|e| e["reportingInstance"] == "op-a").map(|e| e["note"].clone()).collect();
    let late_by_a: Vec<_> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reportingInstance"] == "op-a")
        .filter(|e| e["eventTime"].as_str().and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok()).is_some_and(|t| t >= takeover))
        .collect();
    assert!(!by_a.is_empty(), "a reported events while it led");
    assert!(late_by_a.is_empty(), "a reported events after the take-over: {late_by_a:#?}");
    // One database in the cloud, created once (b adopted what a's request made, if it came first).
    let cluster_id = ns.api::<CockroachCluster>().get("frozen-db").await.unwrap().status.unwrap().cluster_id.unwrap();
    let record = admin.cluster(&cluster_id).await.unwrap();
    assert_eq!(record.database_names().iter().filter(|n| *n == "orders").count(), 1);

    // Every line a wrote follows its log format, the last words included.
    let logs = a.logs();
    for line in logs.lines() {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "not a JSON log line: {line:?}");
    }
    let last: serde_json::Value = serde_json::from_str(logs.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "ERROR", "{last}");
    assert!(last["error"].as_str().unwrap_or_default().contains("lost leadership"), "{last}");
}

/// A 30 s lease in `lease_namespace`.
fn long_lease<'a>(options: &mut OperatorOptions<'a>, lease_namespace: &'a str) {
    options.lease_seconds = Some(30);
    options.lease_namespace = Some(lease_namespace);
}

#[tokio::test]
async fn a_standby_leads_at_once_when_the_leader_stops_even_across_a_change_of_watched_namespace() {
    install_crds().await;
    // An upgrade that changes watchNamespace: the old replica watches one namespace, the new one
    // another, and both use the release's one Lease.
    let old_scope = test_namespace("scope-old").await;
    let new_scope = test_namespace("scope-new").await;
    let sim = start_simulator(&[]).await;
    let url = sim.base_url();
    let release_ns = old_scope.name();
    let lease = chart_lease("upgrade", release_ns, old_scope.name()).await;
    let leases: Api<Lease> = old_scope.api();
    let lease_after_upgrade = chart_lease("upgrade", release_ns, new_scope.name()).await;
    assert_eq!(lease, lease_after_upgrade, "changing watchNamespace renames the Lease");
    // A long lease: a standby that waited for it to expire would take 30 s.
    let mut old = elector_with(old_scope.name(), &url, "old-0", &lease, |options| long_lease(options, release_ns));
    wait_for_holder(&leases, &lease, "old-0", TIMEOUT).await;
    let new = elector_with(new_scope.name(), &url, "new-0", &lease, |options| long_lease(options, release_ns));
    new.wait_for_log("waiting to become the leader").await;
    // Holding the Lease comes before the leader's first watch sync (its readiness).
    old.wait_for_log("first watch sync done; ready").await;

    // Both expose what they have: leadership and readiness.
    let old_metrics = metrics_of(&old).await;
    let new_metrics = metrics_of(&new).await;
    assert_eq!((old_metrics.value("crdb_operator_leader"), old_metrics.value("crdb_operator_ready")), (1.0, 1.0));
    assert_eq!((new_metrics.value("crdb_operator_leader"), new_metrics.value("crdb_operator_ready")), (0.0, 1.0));

    // The old replica works; the new one, in its other scope, does not touch its resources.
    apply(new_scope.name(), &serverless_cluster("waiting-db")).await;
    apply(old_scope.name(), &serverless_cluster("old-db")).await;
    wait_for(&old_scope.api::<CockroachCluster>(), "old-db", TIMEOUT, "Ready", is_ready).await;
    assert!(new_scope.api::<CockroachCluster>().get("waiting-db").await.unwrap().status.is_none(), "two leaders at once");
    assert!(!new.logs().contains("became the leader"));

    // The rollout stops the old replica: the new one leads within moments, not a lease period.
    let stopped = Instant::now();
    assert!(old.terminate().await.success(), "{}", old.logs());
    let exited = stopped.elapsed();
    let handover = wait_for_holder(&leases, &lease, "new-0", Duration::from_secs(30)).await;
    assert!(handover <= Duration::from_secs(2), "the standby took {handover:?} after the leader exited");
    wait_for(&new_scope.api::<CockroachCluster>(), "waiting-db", TIMEOUT, "Ready", is_ready).await;
    assert_eq!(metrics_of(&new).await.value("crdb_operator_leader"), 1.0);
    eprintln!("SIGTERM to exit: {exited:?}; exit to the standby holding the Lease: {handover:?} (lease 30 s)");
}

// ---------------------------------------------------------------------------------------------
// A Cloud API behind TLS whose certificate is not trusted

/// A TLS server on 127.0.0.1 with a self-signed certificate nobody trusts; counts handshakes tried.
fn untrusted_tls_server() -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    crdb_cloud_operator::install_crypto_provider();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![certified.cert.der().clone()], key).unwrap();
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handshakes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = handshakes.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            if let Ok(mut connection) = rustls::ServerConnection::new(config.clone()) {
                while connection.is_handshaking() && connection.complete_io(&mut stream).is_ok() {}
            }
        }
    });
    (addr, handshakes)
}

#[tokio::test]
async fn a_refused_tls_certificate_is_logged_once_in_the_operators_words() {
    install_crds().await;
    let ns = test_namespace("tls").await;
    let (addr, handshakes) = untrusted_tls_server();
    let url = format!("https://{addr}");
    let operator = Operator::start(OperatorOptions::new(ns.name(), &url));
    apply(ns.name(), &serverless_cluster("tls-db")).await;
    // Several retries, each a refused handshake.
    let deadline = Instant::now() + TIMEOUT;
    while handshakes.load(std::sync::atomic::Ordering::SeqCst) < 4 {
        assert!(Instant::now() < deadline, "the operator stopped trying:\n{}", operator.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs = operator.logs();
    let reports: Vec<_> = logs.lines().filter(|l| l.contains("cannot establish a TLS connection to the Cloud API")).collect();
    assert_eq!(reports.len(), 1, "one report for one condition, however many retries:\n{logs}");
    assert!(reports[0].contains("UnknownIssuer") && reports[0].contains(&addr.to_string()), "{}", reports[0]);
    for noise in ["rustls", "failed to verify TLS certificate", ".rs:", "/.cargo/", "ERROR"] {
        assert!(!logs.contains(noise), "the log shows {noise:?}:\n{logs}");
    }
    // The cluster says what is wrong, too.
    wait_for(&ns.api::<CockroachCluster>(), "tls-db", TIMEOUT, "the refused certificate in its condition", |c| {
        condition(c, "Reconciling").is_some_and(|(_, _, message)| message.contains("certificate"))
    })
    .await;
}
