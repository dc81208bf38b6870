//! `crdb-cloud-operator plan` against a live fleet: the real binary, the real apiserver (for the
//! live resources and the server-side dry run of CEL) and the Cloud API simulator, whose request
//! log shows that a plan only reads.

use std::path::Path;
use std::time::Duration;

use crdb_cloud_operator::api::{AllowlistEntry, Database};
use crdb_test_support::operator::operator_binary;
use crdb_test_support::*;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(90);

/// Runs `plan` with the test's API key and kubeconfig; the exit code and the JSON document.
async fn plan(world: &World, dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut cmd = shared().command(operator_binary().to_str().unwrap());
    cmd.args(["plan", "-f", dir.to_str().unwrap(), "-n", world.ns(), "-o", "json"]).args(extra);
    cmd.env("COCKROACH_API_KEY", TEST_API_KEY).env("CRDB_CLOUD_API_URL", world.sim.base_url());
    let out = tokio::process::Command::from(cmd).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let document: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("plan printed no JSON ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(!stdout.contains(TEST_API_KEY), "the API key never appears in the output");
    (out.status.code().unwrap(), document)
}

fn resource<'a>(document: &'a Value, kind: &str, name: &str) -> &'a Value {
    document["resources"].as_array().unwrap().iter().find(|r| r["kind"] == kind && r["name"] == name).unwrap_or_else(|| panic!("no {kind}/{name} in {document:#}"))
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

#[tokio::test]
async fn plan_reports_creates_updates_immutable_changes_and_deletions_and_only_reads() {
    let world = World::start("plan").await;
    let cluster = serverless_cluster("shop-db");
    let database = child("Database", "orders", "shop-db", "");
    let entry = child("AllowlistEntry", "office", "shop-db", "  cidr: \"203.0.113.0/24\"\n");
    let old_entry = child("AllowlistEntry", "old-office", "shop-db", "  cidr: \"198.51.100.0/24\"\n");
    world.apply(&[cluster.clone(), database.clone(), entry.clone(), old_entry].concat()).await;
    world.ready_cluster("shop-db").await;
    wait_for(&world.api::<Database>(), "orders", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<AllowlistEntry>(), "office", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<AllowlistEntry>(), "old-office", TIMEOUT, "Ready", is_ready).await;
    // The operator stops: what the plan reads must be the plan's own.
    let mut world = world;
    world.operator.take().unwrap().terminate().await;
    let dir = tempfile::tempdir().unwrap();

    // Unchanged manifests: no change, exit code 0.
    write(dir.path(), "fleet.yaml", &[cluster.clone(), database.clone(), entry.clone()].concat());
    let since = world.admin.last_seq().await;
    let (code, document) = plan(&world, dir.path(), &[]).await;
    assert_eq!(code, 0, "{document:#}");
    for (kind, name) in [("CockroachCluster", "shop-db"), ("Database", "orders"), ("AllowlistEntry", "office")] {
        assert_eq!(resource(&document, kind, name)["action"], "no-change", "{document:#}");
    }

    // A pull request: one field changed, new resources, one left out (pruned).
    let changed_entry = child("AllowlistEntry", "office", "shop-db", "  cidr: \"203.0.113.0/24\"\n  ui: true\n");
    let user = child("SQLUser", "app", "shop-db", "");
    let folder = org_level("Folder", "team", "  name: team\n");
    let cluster_with_backup = format!("{cluster}  backup: {{frequencyMinutes: 15}}\n");
    write(dir.path(), "fleet.yaml", &[cluster_with_backup, database.clone(), changed_entry, user, folder].concat());
    let (code, document) = plan(&world, dir.path(), &["--prune"]).await;
    assert_eq!(code, 2, "{document:#}");
    let update = resource(&document, "AllowlistEntry", "office");
    assert_eq!(update["action"], "update");
    assert_eq!(update["changes"][0]["field"], "spec.ui");
    assert_eq!(update["changes"][0]["before"], "false");
    assert_eq!(update["changes"][0]["after"], "true");
    // A setting block is compared as the controllers observe it.
    let cluster_update = resource(&document, "CockroachCluster", "shop-db");
    assert_eq!(cluster_update["action"], "update", "{cluster_update:#}");
    assert_eq!(cluster_update["changes"][0]["field"], "spec.backup");
    assert!(cluster_update["changes"][0]["change"].as_str().unwrap().contains("15"), "{cluster_update:#}");
    assert_eq!(resource(&document, "SQLUser", "app")["action"], "create");
    assert_eq!(resource(&document, "Folder", "team")["action"], "create");
    let pruned = resource(&document, "AllowlistEntry", "old-office");
    assert_eq!(pruned["action"], "delete", "{pruned:#}");

    // An immutable field changed: the apiserver's own refusal, and exit code 1.
    write(dir.path(), "fleet.yaml", &cluster.replace("provider: GCP", "provider: AWS"));
    let (code, document) = plan(&world, dir.path(), &[]).await;
    assert_eq!(code, 1, "{document:#}");
    let refused = resource(&document, "CockroachCluster", "shop-db");
    assert_eq!(refused["action"], "replace-impossible", "{refused:#}");
    assert!(refused["message"].as_str().unwrap().contains("spec.provider is immutable"), "{refused:#}");

    // Only reads reached the cloud, and nothing changed in Kubernetes.
    let sent = world.admin.requests_after(since).await;
    assert!(!sent.is_empty() && sent.iter().all(|r| r.starts_with("GET ")), "a plan only reads: {sent:#?}");
    assert!(world.api::<crdb_cloud_operator::api::SQLUser>().get_opt("app").await.unwrap().is_none(), "nothing is created in Kubernetes");
    let office = world.api::<AllowlistEntry>().get("office").await.unwrap();
    assert!(!office.spec.ui, "the live resource is unchanged");

    // The readable form.
    let mut cmd = shared().command(operator_binary().to_str().unwrap());
    write(dir.path(), "fleet.yaml", &[cluster, database, child("AllowlistEntry", "office", "shop-db", "  cidr: \"203.0.113.0/24\"\n  ui: true\n")].concat());
    cmd.args(["plan", "-f", dir.path().to_str().unwrap(), "-n", world.ns()]);
    cmd.env("COCKROACH_API_KEY", TEST_API_KEY).env("CRDB_CLOUD_API_URL", world.sim.base_url());
    let out = tokio::process::Command::from(cmd).output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("~ spec.ui: false -> true"), "{text}");
    assert!(text.contains("Plan: 2 no-change, 1 update."), "{text}");
}

#[tokio::test]
async fn without_kubernetes_members_are_matched_by_their_natural_key() {
    let mut world = World::start("plan-offline").await;
    let cluster_id = world.ready_cluster("shop-db").await;
    world.apply(&child("Database", "orders", "shop-db", "")).await;
    wait_for(&world.api::<Database>(), "orders", TIMEOUT, "Ready", is_ready).await;
    // Only the plan's own requests are counted.
    world.operator.take().unwrap().terminate().await;
    let dir = tempfile::tempdir().unwrap();
    let by_id = |kind: &str, name: &str, spec: &str| {
        format!("---\napiVersion: crdbcloud.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n  clusterId: {cluster_id}\n{spec}")
    };
    write(dir.path(), "a.yaml", &[by_id("Database", "orders", ""), by_id("Database", "invoices", "")].concat());
    let since = world.admin.last_seq().await;
    let (code, document) = plan(&world, dir.path(), &["--no-kubernetes"]).await;
    assert_eq!(code, 2, "{document:#}");
    assert_eq!(resource(&document, "Database", "orders")["action"], "no-change");
    assert_eq!(resource(&document, "Database", "invoices")["action"], "create");
    let sent = world.admin.requests_after(since).await;
    assert_eq!(sent, ["GET ListDatabases"], "one list for both databases, nothing else");
}

/// The plan of a fleet: 1,200 resources on one cluster (400 SQL users, databases and allowlist
/// entries) cost one list per kind, whatever their number. Prints the requests and seconds.
#[tokio::test]
async fn a_plan_of_1200_resources_on_one_cluster_reads_one_list_per_kind() {
    let mut world = World::start("plan-fleet").await;
    world.ready_cluster("shop-db").await;
    // Only the plan's own requests are counted.
    world.operator.take().unwrap().terminate().await;
    let dir = tempfile::tempdir().unwrap();
    let mut manifests = String::new();
    for i in 0..400 {
        manifests.push_str(&child("SQLUser", &format!("user-{i}"), "shop-db", ""));
        manifests.push_str(&child("Database", &format!("db-{i}"), "shop-db", ""));
        manifests.push_str(&child("AllowlistEntry", &format!("net-{i}"), "shop-db", &format!("  cidr: \"10.{}.{}.0/24\"\n", i / 256, i % 256)));
    }
    write(dir.path(), "fleet.yaml", &manifests);
    let since = world.admin.last_seq().await;
    let started = std::time::Instant::now();
    let (code, document) = plan(&world, dir.path(), &[]).await;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(code, 2);
    let resources = document["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1200);
    assert!(resources.iter().all(|r| r["action"] == "create"), "{:#}", resources.iter().find(|r| r["action"] != "create").unwrap());
    let sent = world.admin.requests_after(since).await;
    println!("plan of 1200 resources on one cluster: {} cloud requests ({sent:?}) in {seconds:.1} s", sent.len());
    let mut kinds = sent.clone();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, ["GET ListAllowlistEntries", "GET ListDatabases", "GET ListSQLUsers"], "one list per kind");
    assert_eq!(sent.len(), 3, "each list read once: {sent:?}");
}
