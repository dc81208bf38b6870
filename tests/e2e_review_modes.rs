//! Observe-only and pause, for every kind, on the real control plane with the real operator
//! binary and the Cloud API simulator. Every request the operator sends is in the simulator's
//! request log, so "nothing written" and "no call at all" are counted, not assumed.
//!
//! - Pause: with `crdbcloud.io/paused: "true"` on every resource, spec changes and a deletion
//!   send no request at all (reads included); the resources say so in a `Paused` condition and in
//!   `kubectl get`; the deletion waits with its finalizer. Removing the annotation resumes.
//! - Observe: every resource switched to `managementPolicy: Observe` reports its object in sync;
//!   changes in the spec and in the cloud are listed in `status.drift` and nothing is written;
//!   deleting an observed resource deletes nothing; switching back to Manage converges.
//! - Observe of an object that does not exist is Stalled and creates nothing.

use std::time::Duration;

use crdb_cloud_operator::api::{AllowlistEntry, Database, ServiceAccount};
use crdb_cloud_operator::controller::registry;
use crdb_cloud::models::AllowlistEntryUpdate;
use crdb_cloud::Operation;
use crdb_test_support::World;
use crdb_test_support::kubectl;
use crdb_test_support::*;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(90);
/// Long enough for several resyncs and polls of the operator under test.
const QUIET: Duration = Duration::from_secs(8);

/// Every registered kind, as kubectl names it (`databases.crdbcloud.io`).
fn every_kind() -> String {
    registry::kinds().iter().map(|k| format!("{}.{}", k.plural(), k.crd().spec.group)).collect::<Vec<_>>().join(",")
}

/// Every resource of the namespace (`kind.group/name`), as JSON.
async fn every_resource(ns: &str) -> Vec<Value> {
    let out = kubectl(&["get", "-n", ns, &every_kind(), "-o", "json"], None).await.ok();
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    list["items"].as_array().cloned().unwrap_or_default()
}

fn name_of(obj: &Value) -> String {
    format!("{}/{}", obj["kind"].as_str().unwrap(), obj["metadata"]["name"].as_str().unwrap())
}

fn condition_of<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

/// Waits until `check` holds for every resource of the namespace (there are `count` of them).
async fn wait_all(ns: &str, count: usize, what: &str, check: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let all = every_resource(ns).await;
        let pending: Vec<String> = all.iter().filter(|o| !check(o)).map(name_of).collect();
        if all.len() == count && pending.is_empty() {
            return all;
        }
        if std::time::Instant::now() > deadline {
            let shown: Vec<String> = all.iter().filter(|o| !check(o)).map(|o| format!("{:#}", o["status"])).collect();
            panic!("timed out waiting for every resource to be {what}; not yet: {pending:?}\n{}", shown.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn is_true(obj: &Value, type_: &str) -> bool {
    condition_of(obj, type_).is_some_and(|c| c["status"] == "True")
}

/// A world holding one resource of every kind, all Ready.
async fn ready_world(prefix: &str) -> (World, usize) {
    // A short resync, so that changes made in the cloud are seen within the test.
    let world = World::start_with(prefix, |o| o.resync_seconds = 3).await;
    world.apply(&cluster_with_one_child_of_each_kind("shop-db")).await;
    let count = registry::kinds().len();
    wait_all(world.ns(), count, "Ready", |o| is_true(o, "Ready")).await;
    (world, count)
}

/// Sets `field` of every resource's spec to `value` (a merge patch per resource).
async fn patch_all(ns: &str, patch: &str) {
    for obj in every_resource(ns).await {
        let kind = obj["kind"].as_str().unwrap().to_lowercase();
        let name = obj["metadata"]["name"].as_str().unwrap();
        kubectl(&["patch", "-n", ns, &format!("{kind}.crdbcloud.io"), name, "--type", "merge", "-p", patch], None).await.ok();
    }
}

/// The cloud ID of the world's CockroachCluster `shop-db` (Ready).
async fn cluster_id(world: &World) -> String {
    let cluster = world.api::<crdb_cloud_operator::api::CockroachCluster>().get("shop-db").await.unwrap();
    cluster.status.and_then(|s| s.cluster_id).expect("shop-db is Ready with a cloud ID")
}

#[tokio::test]
async fn pause_stops_every_cloud_call_for_every_kind_and_removing_it_resumes() {
    let (world, count) = ready_world("paused").await;
    let ns = world.ns().to_string();
    kubectl(&["annotate", "-n", &ns, &every_kind(), "--all", "crdbcloud.io/paused=true"], None).await.ok();
    wait_all(&ns, count, "Paused", |o| is_true(o, "Paused")).await;
    let since = world.admin.last_seq().await;

    // A spec change and a deletion while paused: neither is acted on, and nothing is read either.
    let entries = world.api::<AllowlistEntry>();
    kubectl(&["patch", "-n", &ns, "allowlistentries.crdbcloud.io", "office", "--type", "merge", "-p", r#"{"spec":{"ui":true}}"#], None).await.ok();
    kubectl(&["delete", "-n", &ns, "databases.crdbcloud.io", "orders", "--wait=false"], None).await.ok();
    let databases = world.api::<Database>();
    wait_for(&databases, "orders", TIMEOUT, "waiting to be deleted", |d| {
        condition(d, "Paused").is_some_and(|(status, _, message)| status == "True" && message.contains("deletion is waiting"))
    })
    .await;
    tokio::time::sleep(QUIET).await;
    let sent = world.admin.requests_after(since).await;
    assert!(sent.is_empty(), "a paused resource makes no cloud call; sent: {sent:#?}");
    let held = databases.get("orders").await.unwrap();
    assert!(held.metadata.finalizers.unwrap_or_default().iter().any(|f| f == "crdbcloud.io/cleanup"), "the deletion waits with its finalizer");
    let cluster_id = cluster_id(&world).await;
    assert!(world.held(&cluster_id).await.databases.iter().any(|d| d.name == "orders"), "the cloud database stays while paused");
    assert!(!world.held(&cluster_id).await.allowlist.iter().any(|e| e.ui), "the paused change is not sent");

    // `kubectl get` shows it.
    let table = kubectl(&["get", "-n", &ns, "allowlistentries.crdbcloud.io"], None).await.ok().stdout;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    let column = header.iter().position(|h| *h == "PAUSED").unwrap_or_else(|| panic!("a PAUSED column: {table}"));
    assert_eq!(row[column], "True", "{table}");

    // Resuming: the change is made, the deletion goes ahead, the condition goes.
    kubectl(&["annotate", "-n", &ns, &every_kind(), "--all", "crdbcloud.io/paused-"], None).await.ok();
    wait_gone(&databases, "orders", TIMEOUT).await;
    wait_for(&entries, "office", TIMEOUT, "Ready and resumed", |e| is_ready(e) && condition(e, "Paused").is_none()).await;
    world.wait_cloud(&cluster_id, "the allowlist change made and the database dropped", TIMEOUT, |c| {
        c.allowlist.iter().any(|e| e.ui) && !c.databases.iter().any(|d| d.name == "orders")
    })
    .await;
    wait_all(&ns, count - 1, "resumed", |o| condition_of(o, "Paused").is_none() && is_true(o, "Ready")).await;
}

#[tokio::test]
async fn observe_lists_drift_without_writing_and_manage_converges_again() {
    let (world, count) = ready_world("observed").await;
    let ns = world.ns().to_string();
    let cluster_id = cluster_id(&world).await;
    patch_all(&ns, r#"{"spec":{"managementPolicy":"Observe"}}"#).await;
    // Every kind describes its object in the spec's terms well enough to find no difference in
    // what the operator itself made.
    let observed = wait_all(&ns, count, "observed in sync", |o| is_true(o, "InSync") && is_true(o, "Ready")).await;
    for obj in &observed {
        assert_eq!(condition_of(obj, "Ready").unwrap()["reason"], "Observed", "{}", name_of(obj));
        assert!(obj["status"]["drift"].as_array().is_none_or(Vec::is_empty), "{}: {:#}", name_of(obj), obj["status"]);
    }
    let since = world.admin.last_seq().await;

    // Differences from both sides: the spec changes (an account's description, an entry's ui),
    // and the cloud changes behind the operator's back (the entry's sql).
    kubectl(&["patch", "-n", &ns, "serviceaccounts.crdbcloud.io", "deployer", "--type", "merge", "-p", r#"{"spec":{"description":"new words"}}"#], None).await.ok();
    kubectl(&["patch", "-n", &ns, "allowlistentries.crdbcloud.io", "office", "--type", "merge", "-p", r#"{"spec":{"ui":true}}"#], None).await.ok();
    let change = AllowlistEntryUpdate { name: None, sql: false, ui: false };
    world.admin.cloud().update_allowlist_entry(&cluster_id, "203.0.113.0", 24, &change).await.unwrap();
    let accounts = world.api::<ServiceAccount>();
    let account = wait_for(&accounts, "deployer", TIMEOUT, "drifted", |a| condition(a, "InSync").is_some_and(|c| c.0 == "False")).await;
    let drift = &account.status.as_ref().unwrap().base.drift;
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0].field, "spec.description");
    assert_eq!(drift[0].desired.as_deref(), Some("\"new words\""));
    assert_eq!(drift[0].observed.as_deref(), Some("\"deploys the shop\""));
    let entries = world.api::<AllowlistEntry>();
    // The cloud's change is seen at the next resync of the list (the spec change wakes it at once).
    let entry = wait_for(&entries, "office", TIMEOUT, "drifted in both fields", |e| {
        e.status.as_ref().is_some_and(|s| s.base.drift.len() == 2)
    })
    .await;
    let fields: Vec<&str> = entry.status.as_ref().unwrap().base.drift.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["spec.sql", "spec.ui"]);
    assert!(is_ready(&entry), "an observed resource with drift is still Ready (it reports)");

    // Deleting an observed resource deletes nothing in the cloud.
    kubectl(&["delete", "-n", &ns, "databases.crdbcloud.io", "orders", "--timeout=60s"], None).await.ok();
    tokio::time::sleep(QUIET).await;
    assert!(world.held(&cluster_id).await.databases.iter().any(|d| d.name == "orders"), "an observed database is never dropped");
    let writes: Vec<String> = world.admin.requests_after(since).await.into_iter().filter(|r| !r.starts_with("GET ")).collect();
    // The one write is the test's own change of the entry, through the API.
    assert_eq!(writes.len(), 1, "observe sends no write: {writes:#?}");
    assert!(writes[0].contains("UpdateAllowlistEntry"), "{writes:#?}");

    // Manage again: everything converges, the observe-only status goes.
    patch_all(&ns, r#"{"spec":{"managementPolicy":"Manage"}}"#).await;
    wait_all(&ns, count - 1, "managed and Ready", |o| {
        is_true(o, "Ready") && condition_of(o, "InSync").is_none() && o["status"]["drift"].is_null() && o["metadata"]["generation"] == o["status"]["observedGeneration"]
    })
    .await;
    world.wait_cloud(&cluster_id, "the allowlist entry put back to the spec", TIMEOUT, |c| c.allowlist.iter().any(|e| e.sql && e.ui)).await;
    let account_id = accounts.get("deployer").await.unwrap().status.unwrap().service_account_id.unwrap();
    let description = world.admin.cloud().get_service_account(&account_id).await.unwrap().description;
    assert_eq!(description, "new words");
}

#[tokio::test]
async fn observing_an_object_that_does_not_exist_is_stalled_and_creates_nothing() {
    let world = World::start("observe-missing").await;
    world.apply(&serverless_cluster("shop-db")).await;
    world.ready_cluster("shop-db").await;
    world.apply(&child("Database", "ghost", "shop-db", "  managementPolicy: Observe\n")).await;
    world.apply(&org_level("Folder", "nowhere", "  managementPolicy: Observe\n")).await;
    let ghost = wait_for(&world.api::<Database>(), "ghost", TIMEOUT, "Stalled", |d| is_stalled_with(d, "NotInCloud")).await;
    let message = condition(&ghost, "Stalled").unwrap().2;
    assert!(message.contains("managementPolicy is Observe") && message.contains("\"ghost\""), "{message}");
    wait_for(&world.api::<crdb_cloud_operator::api::Folder>(), "nowhere", TIMEOUT, "Stalled", |f| is_stalled_with(f, "NotInCloud")).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(world.admin.count(Operation::CreateDatabase).await, 0);
    assert_eq!(world.admin.count(Operation::CreateFolder).await, 0);
    assert!(ghost.metadata.finalizers.is_none_or(|f| f.is_empty()), "an observed resource gets no finalizer");
}
