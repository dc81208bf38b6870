//! Kubernetes-side faults under the real operator binary: kube-apiserver killed and restarted
//! under it, its connections (watch streams included) cut again and again and then partitioned
//! away for a while by a TCP proxy between the operator and the apiserver, and other writers
//! changing the objects (metadata, finalizers, spec and status) between the operator's reads and
//! writes. The operator must recover without a restart (the same process throughout) and lose no
//! work: changes made during an outage converge afterwards.
//!
//! This binary has its own control plane. The apiserver restart takes it away from every test of
//! the binary, so that test holds [`OUTAGE`] exclusively and the others share it.


use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crdb_cloud_operator::api::{AllowlistEntry, CockroachCluster, Database, SQLUser};
use crdb_cloud_operator::controller::registry;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use kube::ResourceExt;
use serde_json::{Value, json};
use crdb_test_support::*;
use crdb_test_support::World as Env;
use crdb_test_support::{kubectl, shared};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::RwLock;
use tokio::task::AbortHandle;

/// Generous, for shared CI machines: after an outage the watches retry within 4 s, but the work
/// that failed meanwhile waits out its own per-object backoff.
const TIMEOUT: Duration = Duration::from_secs(150);

/// The operator's lease here outlasts every outage these tests make (up to 12 s). A leader that
/// cannot renew for 2/3 of its lease steps down and exits, to be restarted as a candidate (that
/// rule is tested in e2e_operations); these tests are about one process riding out the outage.
fn outlasting_outages(options: &mut OperatorOptions<'_>) {
    options.lease_seconds = Some(60);
}

/// Held for writing by the test that stops the apiserver, for reading by every other test.
static OUTAGE: RwLock<()> = RwLock::const_new(());


/// Waiting for resources, checking the operator.
trait Checks {
    async fn ready<K>(&self, name: &str, generation: i64) -> K
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + serde::Serialize,
        <K as kube::Resource>::DynamicType: Default;
    fn assert_same_operator(&mut self);
}

impl Checks for Env {
    async fn ready<K>(&self, name: &str, generation: i64) -> K
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + serde::Serialize,
        <K as kube::Resource>::DynamicType: Default,
    {
        wait_for(&self.api::<K>(), name, TIMEOUT, &format!("Ready at generation {generation}"), |o| {
            is_ready(o) && o.meta().generation == Some(generation)
        })
        .await
    }

    /// The operator must still be the process started at the beginning (it never exited, started
    /// its controllers once) and must not have panicked.
    fn assert_same_operator(&mut self) {
        assert!(self.operator.as_mut().expect("an operator was started").is_running(), "the operator exited");
        let logs = self.operator().logs();
        assert_eq!(logs.matches("starting controllers").count(), 1, "the operator started its controllers more than once");
        assert!(!logs.contains("panicked"), "the operator panicked");
    }
}

fn has_entry(record: &ClusterDump, ip: &str) -> bool {
    record.allowlist.iter().any(|e| e.cidr_ip == ip)
}

async fn merge<K>(api: &Api<K>, name: &str, patch: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

/// One cluster with a user, a database and an allowlist entry; returns the cloud cluster id.
async fn ready_world(env: &Env, cluster: &str) -> String {
    env.apply(&cluster_with_one_child_of_each_kind(cluster)).await;
    let id = env.ready::<CockroachCluster>(cluster, 1).await.status.unwrap().cluster_id.unwrap();
    env.ready::<SQLUser>("app", 1).await;
    env.ready::<Database>("orders", 1).await;
    env.ready::<AllowlistEntry>("office", 1).await;
    id
}

// ---------------------------------------------------------------------------------------------
// kube-apiserver restarted under the operator

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_survives_an_apiserver_restart_and_loses_no_work() {
    let _outage = OUTAGE.write().await;
    let mut env = Env::start_with("kube-restart", outlasting_outages).await;
    let id = ready_world(&env, "steady-db").await;
    let clusters: Api<CockroachCluster> = env.api();

    // Work in flight when the apiserver goes: a new cluster and a change to the old one.
    env.apply(&serverless_cluster("inflight-db")).await;
    merge(&clusters, "steady-db", json!({"spec": {"labels": {"team": "payments", "phase": "before-outage"}}})).await;
    let cp = shared();
    cp.stop_apiserver();
    let outage = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    cp.start_apiserver().await;
    let downtime = outage.elapsed();

    // Changes made right after it is back, before the operator's watches have necessarily
    // reconnected: a new database, a rotated password, a deleted allowlist entry, another label.
    env.apply(&child("Database", "after-outage", "steady-db", "")).await;
    let rotated = "Rotated-after-outage-42";
    merge(&env.api::<Secret>(), "app-password", json!({"stringData": {"password": rotated}})).await;
    kubectl(&["delete", "crdballow/office", "-n", env.ns(), "--wait=false"], None).await.ok();
    merge(&clusters, "steady-db", json!({"spec": {"labels": {"team": "payments", "phase": "after-outage"}}})).await;
    let back = Instant::now();

    let inflight = env.ready::<CockroachCluster>("inflight-db", 1).await.status.unwrap().cluster_id.unwrap();
    env.ready::<CockroachCluster>("steady-db", 3).await;
    env.ready::<Database>("after-outage", 1).await;
    wait_gone(&env.api::<AllowlistEntry>(), "office", TIMEOUT).await;
    let record = env.wait_cloud(&id, "the changes made after the outage", TIMEOUT, |r| {
        r.label("phase") == Some("after-outage") && r.database_names().contains(&"after-outage".to_string()) && !has_entry(r, "203.0.113.0")
    })
    .await;
    assert_eq!(record.label("team"), Some("payments"));
    let deadline = Instant::now() + TIMEOUT;
    while env.cloud_password(&id, "app").await.as_deref() != Some(rotated) {
        assert!(Instant::now() < deadline, "the password rotated after the outage never reached the cloud");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(env.admin.live_clusters_named("inflight-db").await.len(), 1, "the in-flight create was duplicated");
    assert_eq!(env.admin.live_clusters_named("steady-db").await.len(), 1);
    assert_eq!(env.admin.count(Operation::CreateCluster).await, 2);
    assert!(!inflight.is_empty());
    env.assert_same_operator();
    println!(
        "apiserver restart: down {:.1} s; everything converged {:.1} s after it was back; operator pid unchanged",
        downtime.as_secs_f64(),
        back.elapsed().as_secs_f64()
    );
}

/// How long after an apiserver outage a change may take to be acted on. The watches and
/// reconciles may back off during the outage, but not for much longer than it lasted.
/// (Before the watches' backoff was bounded this took 50-110 s.)
const PROMPT_RECOVERY: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_after_an_apiserver_outage_are_acted_on_promptly() {
    let _outage = OUTAGE.write().await;
    let mut env = Env::start_with("kube-prompt", outlasting_outages).await;
    let id = ready_world(&env, "prompt-db").await;
    let cp = shared();
    cp.stop_apiserver();
    tokio::time::sleep(Duration::from_secs(10)).await;
    cp.start_apiserver().await;
    let back = Instant::now();
    env.apply(&child("Database", "after-outage", "prompt-db", "")).await;
    merge(&env.api::<CockroachCluster>(), "prompt-db", json!({"spec": {"labels": {"team": "payments", "phase": "after"}}})).await;
    loop {
        let record = env.held(&id).await;
        if record.label("phase") == Some("after") && record.database_names().contains(&"after-outage".to_string()) {
            break;
        }
        assert!(
            back.elapsed() < PROMPT_RECOVERY,
            "changes made after a 10 s apiserver outage were not acted on within {PROMPT_RECOVERY:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!("prompt recovery: changes acted on {:.1} s after the apiserver was back", back.elapsed().as_secs_f64());
    env.assert_same_operator();
}

// ---------------------------------------------------------------------------------------------
// Connections cut and partitioned by a proxy

/// A TCP proxy to the apiserver whose connections the test can cut at will (the operator's watch
/// streams among them), or refuse altogether for a partition.
struct Proxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    accept: AbortHandle,
}

#[derive(Default)]
struct ProxyState {
    connections: Mutex<Vec<(Instant, AbortHandle)>>,
    refusing: AtomicBool,
    accepted: AtomicU64,
    refused: AtomicU64,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState::default());
        let shared_state = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { continue };
                if shared_state.refusing.load(Ordering::SeqCst) {
                    shared_state.refused.fetch_add(1, Ordering::SeqCst);
                    let _ = client.set_zero_linger();
                    drop(client);
                    continue;
                }
                shared_state.accepted.fetch_add(1, Ordering::SeqCst);
                // Cut connections end with an RST, as a dead peer or a dropped NAT entry would.
                let _ = client.set_zero_linger();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = server.set_zero_linger();
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut connections = shared_state.connections.lock().unwrap();
                connections.retain(|(_, handle)| !handle.is_finished());
                connections.push((Instant::now(), task.abort_handle()));
            }
        })
        .abort_handle();
        Self { addr, state, accept }
    }

    /// Cuts every open connection; returns (all cut, those open for more than `long`).
    fn cut(&self, long: Duration) -> (usize, usize) {
        let mut connections = self.state.connections.lock().unwrap();
        let open: Vec<_> = connections.drain(..).filter(|(_, handle)| !handle.is_finished()).collect();
        let long_lived = open.iter().filter(|(since, _)| since.elapsed() > long).count();
        for (_, handle) in &open {
            handle.abort();
        }
        (open.len(), long_lived)
    }

    fn refuse(&self, refusing: bool) {
        self.state.refusing.store(refusing, Ordering::SeqCst);
    }

    /// A copy of the admin kubeconfig that reaches the apiserver through this proxy.
    fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let cp = shared();
        let text = std::fs::read_to_string(cp.kubeconfig_path()).unwrap();
        let replaced = text.replace(cp.server_url(), &format!("https://{}", self.addr));
        assert_ne!(text, replaced, "the admin kubeconfig does not name {}", cp.server_url());
        let path = dir.join(format!("proxied-{}.kubeconfig", self.addr.port()));
        std::fs::write(&path, replaced).unwrap();
        path
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut(Duration::ZERO);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_watch_streams_and_a_partition_lose_no_work() {
    let _shared = OUTAGE.read().await;
    let cp = shared();
    let upstream: SocketAddr = cp.server_url().trim_start_matches("https://").parse().unwrap();
    let proxy = Proxy::start(upstream).await;
    // The operator outlives this borrow only in the type system: the test holds it to the end.
    let kubeconfig: &'static std::path::Path = Box::leak(proxy.kubeconfig(cp.dir()).into_boxed_path());
    let mut env = Env::start_with("kube-cuts", |options| {
        outlasting_outages(options);
        options.kubeconfig = Some(kubeconfig);
    })
    .await;
    let id = ready_world(&env, "cut-db").await;
    let clusters: Api<CockroachCluster> = env.api();

    // Phase 1: every connection of the operator (its watches included) is cut every 2 s for 12 s,
    // while changes keep coming.
    let started = Instant::now();
    let (mut cuts, mut cut_connections, mut cut_long) = (0, 0, 0);
    // (second of the phase, change)
    let changes = [(1, "label"), (3, "database"), (5, "password"), (7, "allowlist"), (9, "label2")];
    let rotated = "Rotated-between-cuts-17";
    let mut next_change = 0;
    while started.elapsed() < Duration::from_secs(12) {
        let second = started.elapsed().as_secs();
        if next_change < changes.len() && second >= changes[next_change].0 {
            match changes[next_change].1 {
                "label" => merge(&clusters, "cut-db", json!({"spec": {"labels": {"team": "payments", "cuts": "one"}}})).await,
                "database" => env.apply(&child("Database", "between-cuts", "cut-db", "")).await,
                "password" => merge(&env.api::<Secret>(), "app-password", json!({"stringData": {"password": rotated}})).await,
                "allowlist" => merge(&env.api::<AllowlistEntry>(), "office", json!({"spec": {"ui": true}})).await,
                _ => merge(&clusters, "cut-db", json!({"spec": {"labels": {"team": "payments", "cuts": "two"}}})).await,
            }
            next_change += 1;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (all, long) = proxy.cut(Duration::from_millis(1500));
        cuts += 1;
        cut_connections += all;
        cut_long += long;
    }
    assert_eq!(next_change, changes.len());
    let cutting = started.elapsed();
    assert!(cut_long >= 3, "hardly any long-lived (watch) connection was cut: {cut_long} of {cut_connections}");
    env.ready::<CockroachCluster>("cut-db", 3).await;
    env.ready::<Database>("between-cuts", 1).await;
    env.ready::<AllowlistEntry>("office", 2).await;
    env.wait_cloud(&id, "the changes made between cuts", TIMEOUT, |r| {
        r.label("cuts") == Some("two")
            && r.database_names().contains(&"between-cuts".to_string())
            && r.allowlist.iter().any(|e| e.cidr_ip == "203.0.113.0" && e.ui)
    })
    .await;
    let deadline = Instant::now() + TIMEOUT;
    while env.cloud_password(&id, "app").await.as_deref() != Some(rotated) {
        assert!(Instant::now() < deadline, "the password rotated between cuts never reached the cloud");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "watch cuts: {cuts} cuts in {:.0} s, {cut_connections} connections cut ({cut_long} open > 1.5 s, i.e. watches); 5 changes made between cuts all converged {:.1} s after the last cut",
        cutting.as_secs_f64(),
        (started.elapsed() - cutting).as_secs_f64()
    );

    // Phase 2: a partition. The operator cannot reach the apiserver for 12 s; meanwhile a new
    // user, a renamed database, a deleted database and a relabelled cluster.
    let accepted_before = proxy.state.accepted.load(Ordering::SeqCst);
    proxy.refuse(true);
    proxy.cut(Duration::ZERO);
    let partition = Instant::now();
    env.apply(&child("SQLUser", "partitioned", "cut-db", "")).await;
    merge(&env.api::<Database>(), "orders", json!({"spec": {"name": "orders_v2"}})).await;
    kubectl(&["delete", "crdbdb/between-cuts", "-n", env.ns(), "--wait=false"], None).await.ok();
    merge(&clusters, "cut-db", json!({"spec": {"labels": {"team": "payments", "cuts": "partition"}}})).await;
    tokio::time::sleep(Duration::from_secs(12).saturating_sub(partition.elapsed())).await;
    let refused = proxy.state.refused.load(Ordering::SeqCst);
    assert!(refused > 0, "the operator never tried to reach the apiserver during the partition");
    assert_eq!(proxy.state.accepted.load(Ordering::SeqCst), accepted_before);
    proxy.refuse(false);
    let healed = Instant::now();

    env.ready::<SQLUser>("partitioned", 1).await;
    env.ready::<Database>("orders", 2).await;
    wait_gone(&env.api::<Database>(), "between-cuts", TIMEOUT).await;
    env.ready::<CockroachCluster>("cut-db", 4).await;
    env.wait_cloud(&id, "the changes made during the partition", TIMEOUT, |r| {
        let dbs = r.database_names();
        r.label("cuts") == Some("partition")
            && r.sql_user_names().contains(&"partitioned".to_string())
            && dbs.contains(&"orders_v2".to_string())
            && !dbs.contains(&"orders".to_string())
            && !dbs.contains(&"between-cuts".to_string())
    })
    .await;
    let password = env.secret_text("partitioned-password", "password").await;
    assert_eq!(env.cloud_password(&id, "partitioned").await, Some(password));
    assert_eq!(env.admin.live_clusters_named("cut-db").await.len(), 1);
    env.assert_same_operator();
    println!(
        "partition: 12 s, {refused} connection attempts refused; 4 changes made during it converged {:.1} s after it healed; operator pid unchanged",
        healed.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// Other writers between the operator's reads and writes

/// The crdbcloud kinds, for a writer that touches all of them: every registered kind.
fn kinds() -> Vec<ApiResource> {
    registry::kinds()
        .iter()
        .map(|kind| {
            let crd = kind.crd();
            let version = crd.spec.versions.iter().find(|v| v.storage).expect("a storage version").name.clone();
            ApiResource {
                api_version: format!("{}/{version}", crd.spec.group),
                group: crd.spec.group,
                version,
                kind: kind.kind(),
                plural: kind.plural(),
            }
        })
        .collect()
}

const MEDDLER_FINALIZER: &str = "example.com/meddler";

/// Another controller: in a loop it reads every object, holds it a moment and writes it back changed
/// (an annotation, its own finalizer added or removed, with the resourceVersion it read), and writes
/// its own condition into status with server-side apply under its own field manager.
/// Returns per-kind counts of writes that landed and of conflicts.
async fn meddle(client: kube::Client, namespace: String, stop: Arc<AtomicBool>) -> (u64, u64, BTreeMap<String, u64>) {
    let mut tick = 0u64;
    let (mut writes, mut conflicts) = (0, 0);
    let mut last_audit = BTreeMap::new();
    while !stop.load(Ordering::SeqCst) {
        tick += 1;
        for resource in kinds() {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
            let Ok(list) = api.list(&Default::default()).await else { continue };
            for mut obj in list.items {
                let name = obj.name_any();
                if obj.metadata.deletion_timestamp.is_some() {
                    // Let deletions finish: take our finalizer off.
                    if obj.finalizers().iter().any(|f| f == MEDDLER_FINALIZER) {
                        obj.metadata.finalizers.as_mut().unwrap().retain(|f| f != MEDDLER_FINALIZER);
                        let _ = api.replace(&name, &PostParams::default(), &obj).await;
                    }
                    continue;
                }
                // Hold the copy a moment, so that the operator's writes land between our read and write.
                tokio::time::sleep(Duration::from_millis(20 + (tick * 37 % 80))).await;
                obj.annotations_mut().insert("example.com/meddled".into(), tick.to_string());
                let finalizers = obj.metadata.finalizers.get_or_insert_with(Vec::new);
                if tick.is_multiple_of(2) {
                    finalizers.retain(|f| f != MEDDLER_FINALIZER);
                } else if !finalizers.iter().any(|f| f == MEDDLER_FINALIZER) {
                    finalizers.push(MEDDLER_FINALIZER.into());
                }
                match api.replace(&name, &PostParams::default(), &obj).await {
                    Ok(_) => writes += 1,
                    Err(kube::Error::Api(e)) if e.code == 409 => conflicts += 1,
                    Err(_) => {}
                }
                let audit = json!({
                    "apiVersion": "crdbcloud.io/v1alpha1",
                    "kind": resource.kind,
                    "status": {"conditions": [{
                        "type": "MeddlerAudit",
                        "status": "True",
                        "reason": "Audited",
                        "message": format!("audit {tick}"),
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }]},
                });
                if api.patch_status(&name, &PatchParams::apply("meddler").force(), &Patch::Apply(&audit)).await.is_ok() {
                    last_audit.insert(format!("{}/{name}", resource.kind), tick);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (writes, conflicts, last_audit)
}

/// Removes the meddler's finalizer from every object.
async fn unmeddle(client: kube::Client, namespace: &str) {
    for resource in kinds() {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        for obj in api.list(&Default::default()).await.unwrap().items {
            if let Some(index) = obj.finalizers().iter().position(|f| f == MEDDLER_FINALIZER) {
                let patch = json!([
                    {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": MEDDLER_FINALIZER},
                    {"op": "remove", "path": format!("/metadata/finalizers/{index}")},
                ]);
                let patch: json_patch::Patch = serde_json::from_value(patch).unwrap();
                api.patch(&obj.name_any(), &PatchParams::default(), &Patch::Json::<()>(patch)).await.unwrap();
            }
        }
    }
}

/// name -> resourceVersion of every crdbcloud object of the namespace.
async fn resource_versions(env: &Env) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    for resource in kinds() {
        let api: Api<DynamicObject> = Api::namespaced_with(env.ns.client(), env.ns(), &resource);
        for obj in api.list(&Default::default()).await.unwrap().items {
            all.insert(format!("{}/{}", resource.kind, obj.name_any()), obj.metadata.resource_version.clone().unwrap_or_default());
        }
    }
    all
}

fn audit_message(obj: &impl serde::Serialize) -> Option<String> {
    condition(obj, "MeddlerAudit").map(|(_, _, message)| message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_writers_between_reads_and_writes_cause_no_lost_update_and_no_write_loop() {
    let _shared = OUTAGE.read().await;
    let mut env = Env::start_with("kube-conflicts", outlasting_outages).await;
    let stop = Arc::new(AtomicBool::new(false));
    let meddler = tokio::spawn(meddle(env.ns.client(), env.ns().to_string(), stop.clone()));

    // The whole lifecycle under the meddler: create, several quick spec changes, a rotation.
    let id = ready_world(&env, "busy-db").await;
    let clusters: Api<CockroachCluster> = env.api();
    for (generation, tier) in [(2, "silver"), (3, "gold"), (4, "platinum")] {
        merge(&clusters, "busy-db", json!({"spec": {"labels": {"team": "payments", "tier": tier}}})).await;
        assert_eq!(clusters.get("busy-db").await.unwrap().metadata.generation, Some(generation));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    merge(&env.api::<Database>(), "orders", json!({"spec": {"name": "orders_v2"}})).await;
    merge(&env.api::<Secret>(), "app-password", json!({"stringData": {"password": "Rotated-under-meddling-9"}})).await;
    env.ready::<CockroachCluster>("busy-db", 4).await;
    env.ready::<Database>("orders", 2).await;
    let record = env.wait_cloud(&id, "the last spec", TIMEOUT, |r| {
        r.label("tier") == Some("platinum") && r.database_names().contains(&"orders_v2".to_string())
    })
    .await;
    assert!(!record.database_names().contains(&"orders".to_string()));
    let deadline = Instant::now() + TIMEOUT;
    while env.cloud_password(&id, "app").await.as_deref() != Some("Rotated-under-meddling-9") {
        assert!(Instant::now() < deadline, "the rotation made under meddling never reached the cloud");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let (writes, conflicts, last_audit) = meddler.await.unwrap();
    unmeddle(env.ns.client(), env.ns()).await;
    assert!(writes >= 10 && conflicts >= 1, "the meddler did not interleave with the operator: {writes} writes, {conflicts} conflicts");

    // Nothing of the other writer's is lost: its condition keeps its last value.
    let cluster = env.ready::<CockroachCluster>("busy-db", 4).await;
    let expected = format!("audit {}", last_audit["CockroachCluster/busy-db"]);
    assert_eq!(audit_message(&cluster).as_deref(), Some(expected.as_str()), "the operator overwrote another writer's condition");
    let user = env.ready::<SQLUser>("app", 1).await;
    let expected = format!("audit {}", last_audit["SQLUser/app"]);
    assert_eq!(audit_message(&user).as_deref(), Some(expected.as_str()));

    // Settled, with a foreign condition in status: no write loop (resourceVersions stay put).
    // Let the last reconciles triggered by the meddler's final writes finish.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = resource_versions(&env).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(resource_versions(&env).await, before, "objects keep being rewritten after everything settled");

    // And deletion still works, leaving nothing behind.
    kubectl(&["delete", "crdbcloud", "--all", "-n", env.ns(), "--wait=false"], None).await.ok();
    wait_gone(&clusters, "busy-db", TIMEOUT).await;
    for name in ["app"] {
        wait_gone(&env.api::<SQLUser>(), name, TIMEOUT).await;
    }
    assert!(env.admin.live_clusters_named("busy-db").await.is_empty());
    env.assert_same_operator();
    println!("other writers: {writes} interleaved writes, {conflicts} of their own conflicts; the last spec, rotation and the other writer's condition all kept");
}
