//! Cloud faults end to end: the real operator binary against the simulator with injected trouble
//! (crates/simulator/src/faults.rs): lost create responses, a fifth of all requests failing with 5xx,
//! latency spikes of seconds, a 429 storm with Retry-After, connection resets, a cluster LOCKED
//! during an update and a cluster whose creation fails.
//!
//! For each fault the operator keeps working, says what is happening in a condition (reason and
//! message), backs off per object, and converges when the fault clears. Requests are counted from
//! the simulator's request log over each fault window and held to an upper bound far below what a
//! hot loop would send (the operator's own budget allows 10 requests/second, so a loop retrying
//! without backoff shows up as ~10/s). Every window's figures are printed.


use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crdb_cloud_operator::api::{AllowlistEntry, CockroachCluster, Database, SQLUser};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use crdb_cloud::models::{ClusterState, OperationStatus};
use crdb_test_support::*;
use crdb_test_support::World as Env;
use crdb_test_support::kubectl;

const TIMEOUT: Duration = Duration::from_secs(60);
/// Convergence under faults: includes the operator's 30 s wait to confirm a create whose answer
/// was an error before it sends another.
const FAULT_TIMEOUT: Duration = Duration::from_secs(120);


/// Faults and request windows of the test simulator, children of the test namespace.
trait FaultsOf {
    async fn seq(&self) -> u64;
    async fn window(&self, name: &str, since: u64, started: Instant) -> Window;
    async fn wait_children_ready(&self, users: &[&str], dbs: &[&str], entries: &[&str], timeout: Duration);
}

impl FaultsOf for Env {
    /// The sequence number of the last request served (the start of a window).
    async fn seq(&self) -> u64 {
        self.admin.stats().await.total
    }

    /// The requests served after `since`.
    async fn window(&self, name: &str, since: u64, started: Instant) -> Window {
        let requests = self.admin.requests(since, None).await;
        Window { name: name.to_string(), requests, seconds: started.elapsed().as_secs_f64() }
    }

    async fn wait_children_ready(&self, users: &[&str], dbs: &[&str], entries: &[&str], timeout: Duration) {
        for name in users {
            wait_for(&self.api::<SQLUser>(), name, timeout, "Ready", is_ready).await;
        }
        for name in dbs {
            wait_for(&self.api::<Database>(), name, timeout, "Ready", is_ready).await;
        }
        for name in entries {
            wait_for(&self.api::<AllowlistEntry>(), name, timeout, "Ready", is_ready).await;
        }
    }
}

/// What the simulator served during a fault window.
struct Window {
    name: String,
    requests: Vec<RequestRecord>,
    seconds: f64,
}

impl Window {
    fn total(&self) -> usize {
        self.requests.len()
    }

    /// Requests an injected fault answered (or slowed down).
    fn injected(&self) -> usize {
        self.requests.iter().filter(|r| r.fault.is_some()).count()
    }

    fn of(&self, operation: Operation) -> usize {
        self.requests.iter().filter(|r| r.operation == operation.name()).count()
    }

    fn rate(&self) -> f64 {
        self.total() as f64 / self.seconds.max(0.001)
    }

    fn by_operation(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in &self.requests {
            *counts.entry(r.operation.clone()).or_default() += 1;
        }
        counts
    }

    /// Prints the window's figures and checks the hot-loop bound.
    #[track_caller]
    fn report(&self, max_requests: usize) {
        println!(
            "fault window {}: {:.1} s, {} requests ({:.2}/s), {} injected, bound {}; by operation {:?}",
            self.name,
            self.seconds,
            self.total(),
            self.rate(),
            self.injected(),
            max_requests,
            self.by_operation()
        );
        assert!(
            self.total() <= max_requests,
            "{}: {} requests in {:.1} s exceed the bound of {max_requests}: no backoff? {:?}",
            self.name,
            self.total(),
            self.seconds,
            self.by_operation()
        );
    }
}

fn reconciling_with(obj: &impl serde::Serialize, reason: &str) -> bool {
    condition(obj, "Reconciling").is_some_and(|(s, r, _)| s == "True" && r == reason)
}

/// Sleeps until `started + length` (the end of a measured window; the checks are on what happened).
async fn until(started: Instant, length: Duration) {
    let left = length.saturating_sub(started.elapsed());
    tokio::time::sleep(left).await;
}

fn vcpus(record: &ClusterDump) -> Option<i64> {
    record.cluster.config.serverless.as_ref()?.usage_limits.as_ref()?.provisioned_virtual_cpus
}

// ---------------------------------------------------------------------------------------------
// Lost responses

#[tokio::test]
async fn lost_create_responses_are_adopted_and_nothing_is_created_twice() {
    let env = Env::start("fault-lost-create").await;
    // Every create runs in the cloud, but its answer is lost (503 after the write).
    for operation in [Operation::CreateCluster, Operation::CreateSQLUser, Operation::CreateDatabase, Operation::AddAllowlistEntry] {
        env.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(operation) }).await;
    }
    let since = env.seq().await;
    let started = Instant::now();
    env.apply(&serverless_cluster("lost-db")).await;
    let cr = wait_for(&env.api::<CockroachCluster>(), "lost-db", TIMEOUT, "Ready", is_ready).await;
    let id = cr.status.clone().unwrap().cluster_id.unwrap();
    let live = env.admin.live_clusters_named("lost-db").await;
    assert_eq!(live.len(), 1, "one cloud cluster after a lost create answer: {live:#?}");
    assert_eq!(live[0].cluster.id, id);
    assert_eq!(live[0].label("crdb-operator-uid"), cr.metadata.uid.as_deref());
    assert_eq!(env.admin.count(Operation::CreateCluster).await, 1, "the create was sent again although the cluster existed");

    kubectl(&["create", "secret", "generic", "reporting-pw", "-n", env.ns(), "--from-literal=password=Reporting-pass-1a2b3c"], None).await.ok();
    let mut manifest = child("SQLUser", "app", "lost-db", "");
    manifest.push_str(&child("SQLUser", "reporting", "lost-db", "  passwordSecretRef:\n    name: reporting-pw\n    key: password\n"));
    manifest.push_str(&child("Database", "orders", "lost-db", ""));
    manifest.push_str(&child("AllowlistEntry", "office", "lost-db", "  cidr: \"203.0.113.0/24\"\n"));
    env.apply(&manifest).await;
    env.wait_children_ready(&["app", "reporting"], &["orders"], &["office"], TIMEOUT).await;
    let window = env.window("lost create responses", since, started).await;
    window.report(120);
    assert_eq!(window.injected(), 4, "every lost-response fault was hit");

    // Exactly one of each in the cloud, with the passwords the Secrets hold.
    let record = env.held(&id).await;
    let mut users = record.sql_user_names();
    users.sort();
    assert_eq!(users, ["app", "reporting"]);
    assert_eq!(record.database_names().iter().filter(|n| *n == "orders").count(), 1);
    let entries = record.allowlist.iter().filter(|e| e.cidr_ip == "203.0.113.0").count();
    assert_eq!(entries, 1);
    let app_password = env.secret_text("app-password", "password").await;
    assert_eq!(env.cloud_password(&id, "app").await.as_deref(), Some(app_password.as_str()), "app's cloud password is not its Secret's");
    assert_eq!(env.cloud_password(&id, "reporting").await.as_deref(), Some("Reporting-pass-1a2b3c"));
    assert_eq!(env.secret_text("app-connection", "password").await, app_password);

    // A create whose answer was lost is not blindly repeated: either the next list finds the object
    // (no second create) or a second create is answered "already exists" and the object adopted.
    let creates = [
        (Operation::CreateSQLUser, window.of(Operation::CreateSQLUser)),
        (Operation::CreateDatabase, window.of(Operation::CreateDatabase)),
        (Operation::AddAllowlistEntry, window.of(Operation::AddAllowlistEntry)),
    ];
    println!("lost responses: creates sent per kind {creates:?} (cluster: 1)");
    assert!(window.of(Operation::CreateSQLUser) <= 3, "two users, at most one repeat: {creates:?}");
    assert!(window.of(Operation::CreateDatabase) <= 2 && window.of(Operation::AddAllowlistEntry) <= 2, "{creates:?}");
}

#[tokio::test]
async fn a_lost_sql_user_create_with_a_rotated_password_ends_with_the_secrets_password() {
    // The create's answer is lost and the password changes before the operator sees the user:
    // the user exists in the cloud with the old password, and the operator must set the new one.
    let env = Env::start("fault-lost-user").await;
    let id = env.ready_cluster("users-db").await;
    kubectl(&["create", "secret", "generic", "svc-pw", "-n", env.ns(), "--from-literal=password=First-pass-77aa01"], None).await.ok();
    // The create runs but its answer is lost; the listing that would reveal the user fails for a
    // while, so the rotation below lands while the operator has not seen the user yet.
    env.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::CreateSQLUser) }).await;
    env.admin.add_fault(&FaultSpec { status: Some(503), count: 6, ..FaultSpec::on(Operation::ListSQLUsers) }).await;
    env.apply(&child("SQLUser", "svc", "users-db", "  passwordSecretRef:\n    name: svc-pw\n    key: password\n")).await;
    let deadline = Instant::now() + TIMEOUT;
    while env.cloud_password(&id, "svc").await.is_none() {
        assert!(Instant::now() < deadline, "the SQL user was never created");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let patch = json!({"stringData": {"password": "Second-pass-88bb02"}});
    env.api::<Secret>().patch("svc-pw", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_for(&env.api::<SQLUser>(), "svc", TIMEOUT, "Ready", is_ready).await;
    let deadline = Instant::now() + TIMEOUT;
    while env.cloud_password(&id, "svc").await.as_deref() != Some("Second-pass-88bb02") {
        assert!(Instant::now() < deadline, "the cloud kept the password of the lost create");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(env.secret_text("svc-connection", "password").await, "Second-pass-88bb02");
    let creates = env.admin.count(Operation::CreateSQLUser).await;
    let updates = env.admin.count(Operation::UpdateSQLUserPassword).await;
    println!("lost SQL user create: {creates} creates, {updates} password updates");
    assert!(creates <= 2, "{creates} creates");
    assert!(updates >= 1, "the password was never set after the lost create");
}

// ---------------------------------------------------------------------------------------------
// Failing, slow, rate-limited and reset requests

#[tokio::test]
async fn a_fifth_of_all_requests_failing_slows_the_operator_but_it_converges() {
    let env = Env::start("fault-5xx").await;
    // 20% of every Cloud request (seeded, so the hit pattern is the same on every run for the
    // same sequence of calls) answers 503 or 500 without doing anything.
    env.admin.add_fault(&FaultSpec { status: Some(503), probability: Some(0.1), seed: Some(20), count: 100000, ..FaultSpec::on_every_operation() }).await;
    env.admin.add_fault(&FaultSpec { status: Some(500), probability: Some(0.1111), seed: Some(21), count: 100000, ..FaultSpec::on_every_operation() }).await;
    let since = env.seq().await;
    let started = Instant::now();
    let mut manifest = serverless_cluster("flaky-db");
    manifest.push_str(&child("SQLUser", "app", "flaky-db", ""));
    manifest.push_str(&child("Database", "orders", "flaky-db", ""));
    manifest.push_str(&child("AllowlistEntry", "office", "flaky-db", "  cidr: \"203.0.113.0/24\"\n"));
    manifest.push_str(&child("AllowlistEntry", "vpn", "flaky-db", "  cidr: \"198.51.100.0/24\"\n"));
    env.apply(&manifest).await;
    let clusters: Api<CockroachCluster> = env.api();
    let id = wait_for(&clusters, "flaky-db", FAULT_TIMEOUT, "Ready", is_ready).await.status.unwrap().cluster_id.unwrap();
    env.wait_children_ready(&["app"], &["orders"], &["office", "vpn"], FAULT_TIMEOUT).await;

    // Updates and a delete, still under the fault.
    let patch = json!({"spec": {"labels": {"team": "payments", "tier": "gold"}, "serverless": {"usageLimits": {"provisionedVirtualCpus": 4}}}});
    clusters.patch("flaky-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    env.api::<Database>().patch("orders", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"name": "orders_v2"}}))).await.unwrap();
    kubectl(&["delete", "crdballow/vpn", "-n", env.ns(), "--wait=false"], None).await.ok();
    wait_for(&clusters, "flaky-db", FAULT_TIMEOUT, "Ready at generation 2", |c| is_ready(c) && c.metadata.generation == Some(2)).await;
    wait_for(&env.api::<Database>(), "orders", FAULT_TIMEOUT, "renamed", |d| is_ready(d) && d.metadata.generation == Some(2)).await;
    wait_gone(&env.api::<AllowlistEntry>(), "vpn", FAULT_TIMEOUT).await;
    let window = env.window("20% 5xx", since, started).await;
    env.admin.clear_faults().await;

    let record = env.held(&id).await;
    assert_eq!(record.label("tier"), Some("gold"));
    assert_eq!(vcpus(&record), Some(4));
    assert!(record.database_names().contains(&"orders_v2".to_string()) && !record.database_names().contains(&"orders".to_string()));
    assert!(record.allowlist.iter().all(|e| e.cidr_ip != "198.51.100.0"), "the deleted entry is still there");
    assert_eq!(env.admin.live_clusters_named("flaky-db").await.len(), 1, "a failed create was repeated into a duplicate");
    let password = env.secret_text("app-password", "password").await;
    assert_eq!(env.cloud_password(&id, "app").await, Some(password));
    // Roughly a fifth failed; the operator's traffic stayed far from a hot loop.
    let share = window.injected() as f64 / window.total() as f64;
    println!("20% 5xx: {} of {} requests failed ({:.0}%)", window.injected(), window.total(), share * 100.0);
    assert!(window.injected() >= 3, "too few faults injected to mean anything: {}", window.injected());
    assert!((0.05..=0.45).contains(&share), "injected share {share:.2} is far from 20%");
    window.report((window.seconds * 3.0) as usize + 60);
}

#[tokio::test]
async fn latency_spikes_of_seconds_cause_no_duplicate_and_no_retry_storm() {
    let env = Env::start("fault-latency").await;
    // Half of all requests take 2.5 s (well within the client's 30 s timeout).
    env.admin.add_fault(&FaultSpec { latency_ms: Some(2500), probability: Some(0.5), seed: Some(3), count: 100000, ..FaultSpec::on_every_operation() }).await;
    let since = env.seq().await;
    let started = Instant::now();
    let mut manifest = serverless_cluster("slow-db");
    manifest.push_str(&child("SQLUser", "app", "slow-db", ""));
    manifest.push_str(&child("Database", "orders", "slow-db", ""));
    manifest.push_str(&child("AllowlistEntry", "office", "slow-db", "  cidr: \"203.0.113.0/24\"\n"));
    env.apply(&manifest).await;
    let clusters: Api<CockroachCluster> = env.api();
    let id = wait_for(&clusters, "slow-db", FAULT_TIMEOUT, "Ready", is_ready).await.status.unwrap().cluster_id.unwrap();
    env.wait_children_ready(&["app"], &["orders"], &["office"], FAULT_TIMEOUT).await;
    let window = env.window("latency 2.5 s on 50%", since, started).await;
    env.admin.clear_faults().await;
    assert!(window.injected() >= 3, "too few slow requests to mean anything: {}", window.injected());
    // Slow answers are answers: nothing is sent twice.
    for operation in [Operation::CreateCluster, Operation::CreateSQLUser, Operation::CreateDatabase, Operation::AddAllowlistEntry] {
        assert_eq!(window.of(operation), 1, "{operation} sent {} times under latency", window.of(operation));
    }
    assert_eq!(env.admin.live_clusters_named("slow-db").await.len(), 1);
    let record = env.held(&id).await;
    assert!(record.sql_user_names().contains(&"app".to_string()));
    window.report((window.seconds * 2.0) as usize + 40);
}

#[tokio::test]
async fn a_429_storm_pauses_the_operator_and_it_converges_after() {
    let env = Env::start("fault-429").await;
    let id = env.ready_cluster("busy-db").await;
    // Every request answers 429 with Retry-After: 3 for 12 s.
    env.admin.add_fault(&FaultSpec { status: Some(429), retry_after_secs: Some(3), count: 100000, ..FaultSpec::on_every_operation() }).await;
    let since = env.seq().await;
    let started = Instant::now();
    let clusters: Api<CockroachCluster> = env.api();
    let patch = json!({"spec": {"labels": {"team": "payments", "storm": "yes"}}});
    clusters.patch("busy-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    env.apply(&child("Database", "orders", "busy-db", "")).await;
    // The condition comes once a reconcile has spent its retries, each after the Retry-After pause
    // that every request of the key shares: tens of seconds in a storm.
    let limited = wait_for(&clusters, "busy-db", FAULT_TIMEOUT, "Reconciling (RateLimited)", |c| reconciling_with(c, "RateLimited")).await;
    println!("429 storm: the cluster reported RateLimited {:.1} s into the storm", started.elapsed().as_secs_f64());
    let (_, _, message) = condition(&limited, "Reconciling").unwrap();
    assert!(message.contains("rate limit"), "the condition does not say what is happening: {message}");
    until(started, Duration::from_secs(12)).await;
    let window = env.window("429 storm (Retry-After 3 s)", since, started).await;
    env.admin.clear_faults().await;
    // Retry-After is honoured by the whole operator: at most one request per busy object (the
    // cluster and the database) per 3 s pause.
    assert_eq!(window.injected(), window.total(), "a request got through during the storm");
    window.report(((window.seconds / 3.0).ceil() as usize + 2) * 2);
    let events = events_for(env.ns(), "busy-db").await;
    assert!(events.iter().any(|e| e.starts_with("Warning RateLimited")), "{events:?}");

    wait_for(&clusters, "busy-db", TIMEOUT, "Ready after the storm", |c| is_ready(c) && c.metadata.generation == Some(2)).await;
    wait_for(&env.api::<Database>(), "orders", TIMEOUT, "Ready", is_ready).await;
    assert_eq!(env.held(&id).await.label("storm"), Some("yes"));
}

#[tokio::test]
async fn connection_resets_are_transient_and_retried_with_backoff() {
    let env = Env::start("fault-reset").await;
    let id = env.ready_cluster("reset-db").await;
    let clusters: Api<CockroachCluster> = env.api();

    // A third of the requests lose their connection (creates only before they run), while
    // children are created and the cluster is updated.
    env.admin.add_fault(&FaultSpec { reset_connection: true, probability: Some(0.33), seed: Some(11), count: 100000, ..FaultSpec::on_every_operation() }).await;
    let since = env.seq().await;
    let started = Instant::now();
    let mut manifest = child("SQLUser", "app", "reset-db", "");
    manifest.push_str(&child("Database", "orders", "reset-db", ""));
    manifest.push_str(&child("AllowlistEntry", "office", "reset-db", "  cidr: \"203.0.113.0/24\"\n"));
    env.apply(&manifest).await;
    let patch = json!({"spec": {"labels": {"team": "payments", "net": "flaky"}}});
    clusters.patch("reset-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    env.wait_children_ready(&["app"], &["orders"], &["office"], FAULT_TIMEOUT).await;
    wait_for(&clusters, "reset-db", FAULT_TIMEOUT, "Ready at generation 2", |c| is_ready(c) && c.metadata.generation == Some(2)).await;
    let window = env.window("33% connection resets", since, started).await;
    env.admin.clear_faults().await;
    assert!(window.injected() >= 2, "too few resets to mean anything: {}", window.injected());
    window.report((window.seconds * 3.0) as usize + 40);
    let password = env.secret_text("app-password", "password").await;
    assert_eq!(env.cloud_password(&id, "app").await, Some(password));

    // Every connection reset for 15 s while the cluster has work to do: the condition says the
    // cloud is unavailable, and the retries back off.
    env.admin.add_fault(&FaultSpec { reset_connection: true, count: 100000, ..FaultSpec::on_every_operation() }).await;
    let since = env.seq().await;
    let started = Instant::now();
    let patch = json!({"spec": {"labels": {"team": "payments", "net": "down"}}});
    clusters.patch("reset-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let down = wait_for(&clusters, "reset-db", TIMEOUT, "Reconciling (CloudUnavailable)", |c| reconciling_with(c, "CloudUnavailable")).await;
    let (_, _, message) = condition(&down, "Reconciling").unwrap();
    assert!(message.contains("retrying"), "{message}");
    until(started, Duration::from_secs(15)).await;
    let window = env.window("100% connection resets", since, started).await;
    env.admin.clear_faults().await;
    assert_eq!(window.injected(), window.total());
    // One object failing: at most 5 attempts per reconcile, reconciles 2 s, 4 s, 8 s apart.
    window.report(30);
    wait_for(&clusters, "reset-db", TIMEOUT, "Ready after the resets", |c| is_ready(c) && c.metadata.generation == Some(3)).await;
    assert_eq!(env.held(&id).await.label("net"), Some("down"));
}

// ---------------------------------------------------------------------------------------------
// Cluster states

#[tokio::test]
async fn a_cluster_locked_during_an_update_is_waited_for_then_updated() {
    let env = Env::start("fault-locked").await;
    let id = env.ready_cluster("locked-db").await;
    let clusters: Api<CockroachCluster> = env.api();
    let locked = ForceState { state: Some(ClusterState::Locked), operation_status: Some(OperationStatus::EditClusterRunning), ..Default::default() };
    env.admin.force_state(&id, &locked).await;
    let since = env.seq().await;
    let started = Instant::now();
    let patch = json!({"spec": {"serverless": {"usageLimits": {"provisionedVirtualCpus": 4}}}});
    clusters.patch("locked-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let locked = wait_for(&clusters, "locked-db", TIMEOUT, "Reconciling (Locked)", |c| reconciling_with(c, "Locked")).await;
    let (_, _, message) = condition(&locked, "Reconciling").unwrap();
    assert!(message.contains("locked"), "{message}");
    assert_eq!(locked.status.as_ref().unwrap().state.as_deref(), Some("LOCKED"));
    // Applied once the operator has seen the lock: a child of a cluster whose status says LOCKED
    // waits for it. (Applied before that, its create may be sent and refused by the cloud with
    // FailedPrecondition, which is retried too, but that is not what this test is about.)
    env.apply(&child("Database", "orders", "locked-db", "")).await;
    wait_for(&env.api::<Database>(), "orders", TIMEOUT, "waiting for its cluster", |d| reconciling_with(d, "WaitingForCluster")).await;
    until(started, Duration::from_secs(10)).await;
    let window = env.window("LOCKED for 10 s", since, started).await;
    assert_eq!(window.of(Operation::UpdateCluster), 0, "an update was sent to a LOCKED cluster");
    assert_eq!(window.of(Operation::CreateDatabase), 0, "a database was created on a LOCKED cluster");
    // Polled at the operator's poll interval (1 s here), not in a loop.
    window.report(25);

    let settled = ForceState { state: Some(ClusterState::Created), operation_status: Some(OperationStatus::Unspecified), ..Default::default() };
    env.admin.force_state(&id, &settled).await;
    wait_for(&clusters, "locked-db", TIMEOUT, "Ready after the lock", |c| is_ready(c) && c.metadata.generation == Some(2)).await;
    wait_for(&env.api::<Database>(), "orders", TIMEOUT, "Ready", is_ready).await;
    let record = env.wait_cloud(&id, "4 vCPUs", TIMEOUT, |r| vcpus(r) == Some(4)).await;
    assert!(record.database_names().contains(&"orders".to_string()));
}

#[tokio::test]
async fn a_failed_creation_stalls_without_polling_and_a_new_resource_recovers() {
    let env = Env::start("fault-creation-failed").await;
    let clusters: Api<CockroachCluster> = env.api();
    env.apply(&serverless_cluster("doomed-db")).await;
    let creating = wait_for(&clusters, "doomed-db", TIMEOUT, "CREATING", |c| {
        c.status.as_ref().is_some_and(|s| s.cluster_id.is_some() && s.state.as_deref() == Some("CREATING"))
    })
    .await;
    let id = creating.status.unwrap().cluster_id.unwrap();
    env.admin.force_state(&id, &ForceState { state: Some(ClusterState::CreationFailed), ..Default::default() }).await;
    let since = env.seq().await;
    let started = Instant::now();
    let failed = wait_for(&clusters, "doomed-db", TIMEOUT, "Stalled (CreationFailed)", |c| is_stalled_with(c, "CreationFailed")).await;
    let (_, _, message) = condition(&failed, "Stalled").unwrap();
    assert!(message.contains(&id) && message.contains("delete this resource"), "{message}");
    assert!(events_for(env.ns(), "doomed-db").await.iter().any(|e| e.starts_with("Warning CreationFailed")));
    until(started, Duration::from_secs(10)).await;
    let window = env.window("CREATION_FAILED for 10 s", since, started).await;
    // Stalled means "needs a person": looked at again only rarely.
    window.report(6);
    assert_eq!(window.of(Operation::CreateCluster), 0, "a failed cluster was replaced behind the user's back");

    // The fix a person applies: delete the resource (the failed cluster goes) and create it again.
    kubectl(&["delete", "crdbcluster/doomed-db", "-n", env.ns(), "--timeout=60s"], None).await.ok();
    let record = env.record(&id).await;
    assert!(record.as_ref().is_none_or(ClusterDump::is_deleted), "the failed cluster was left behind: {record:#?}");
    env.apply(&serverless_cluster("doomed-db")).await;
    let ready = wait_for(&clusters, "doomed-db", TIMEOUT, "Ready", is_ready).await;
    assert_ne!(ready.status.unwrap().cluster_id.unwrap(), id);
    assert_eq!(env.admin.live_clusters_named("doomed-db").await.len(), 1);
}
