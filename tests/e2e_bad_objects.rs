//! A stored object the operator cannot read (an older or hand-edited schema) never stops a watch:
//! it is reported once (a Warning `InvalidObject` event on it, a log line and the
//! `crdb_operator_invalid_objects{kind}` gauge) and skipped, while every other object, of its kind
//! and of the others, keeps converging, both on a running watch and on the first list after a
//! restart. Fixed, it is reconciled like any other.
//!
//! The test loosens the Database CRD's schema (`spec.deletionPolicy` becomes an integer) so the
//! apiserver stores what the operator's types refuse. The control plane belongs to this test
//! binary alone, so nothing is restored.

use std::time::{Duration, Instant};

use crdb_cloud_operator::api::{AllowlistEntry, Database, SQLUser};
use crdb_test_support::*;
use kube::api::Api;

const TIMEOUT: Duration = Duration::from_secs(60);
const LOG_LINE: &str = "skipping an object that cannot be read";

/// Replaces the schema of `spec.deletionPolicy` (a string enum) of one CRD with an integer, and
/// waits until the apiserver accepts `manifest`, an object written that way.
async fn loosen_schema(crd: &str, ns: &str, manifest: &str) {
    let patch = r#"[{"op": "replace", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/deletionPolicy", "value": {"type": "integer"}}]"#;
    kubectl(&["patch", "crd", crd, "--type=json", "-p", patch], None).await.ok();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let out = kubectl(&["apply", "-n", ns, "-f", "-"], Some(manifest)).await;
        if out.success() {
            return;
        }
        assert!(Instant::now() < deadline, "the loosened schema was never served: {}", out.stderr);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The value of one series of the operator's /metrics, if exposed.
async fn metric(operator: &Operator, series: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://{}/metrics", operator.health_addr().await)).await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn wait_metric(operator: &Operator, series: &str, want: f64) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let value = metric(operator, series).await;
        if value == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{series} is {value:?}, expected {want}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_ready<K>(world: &World, name: &str)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let api: Api<K> = world.api();
    wait_for(&api, name, TIMEOUT, "Ready", is_ready).await;
}

fn invalid_object_events(events: &[String]) -> usize {
    events.iter().filter(|e| e.starts_with("Warning InvalidObject:")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_object_is_reported_once_and_skipped_while_the_others_converge() {
    let mut world = World::start("bad-objects").await;
    let ns = world.ns().to_string();
    world.ready_cluster("orders-db").await;
    world.apply(&child("Database", "before", "orders-db", "")).await;
    wait_ready::<Database>(&world, "before").await;

    // On a running watch: the unreadable Database arrives, and new objects of its kind and of the
    // others still converge.
    loosen_schema("databases.crdbcloud.io", &ns, &child("Database", "broken", "orders-db", "  deletionPolicy: 7\n")).await;
    world
        .apply(
            &[
                child("Database", "after", "orders-db", ""),
                child("SQLUser", "app", "orders-db", ""),
                child("AllowlistEntry", "office", "orders-db", "  cidr: \"203.0.113.0/24\"\n"),
            ]
            .concat(),
        )
        .await;
    wait_ready::<Database>(&world, "after").await;
    wait_ready::<SQLUser>(&world, "app").await;
    wait_ready::<AllowlistEntry>(&world, "office").await;
    let series = r#"crdb_operator_invalid_objects{kind="Database"}"#;
    wait_metric(world.operator(), series, 1.0).await;

    // Reported once, not in a loop: give a loop time to show, and let other work wake the watch.
    world.apply(&child("Database", "later", "orders-db", "")).await;
    wait_ready::<Database>(&world, "later").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let logs = world.operator().logs();
    assert_eq!(logs.matches(LOG_LINE).count(), 1, "expected one report of the unreadable Database:\n{logs}");
    let line = logs.lines().find(|l| l.contains(LOG_LINE)).unwrap();
    assert!(line.contains("broken") && line.contains("Database"), "{line}");
    let events = events_for(&ns, "broken").await;
    assert_eq!(invalid_object_events(&events), 1, "{events:?}");
    assert!(events.iter().any(|e| e.contains("cannot read this Database")), "{events:?}");
    // Never reconciled: no finalizer, no status.
    let broken = kubectl(&["get", "database", "broken", "-n", &ns, "-o", "json"], None).await.ok().stdout;
    let broken: serde_json::Value = serde_json::from_str(&broken).unwrap();
    assert!(broken["metadata"]["finalizers"].is_null() && broken["status"].is_null(), "{broken:#}");

    // An unreadable CockroachCluster: reported on its own kind; its child waits and says why,
    // while the readable cluster's children are untouched.
    let bad_cluster = serverless_cluster("broken-cluster").replace("spec:\n", "spec:\n  deletionPolicy: 7\n");
    loosen_schema("cockroachclusters.crdbcloud.io", &ns, &bad_cluster).await;
    world.apply(&child("SQLUser", "orphan", "broken-cluster", "")).await;
    let users: Api<SQLUser> = world.api();
    wait_for(&users, "orphan", TIMEOUT, "waiting for its unreadable cluster", |u| {
        condition(u, "Reconciling").is_some_and(|(s, r, m)| s == "True" && r == "WaitingForCluster" && m.contains("cannot be read"))
    })
    .await;
    wait_metric(world.operator(), r#"crdb_operator_invalid_objects{kind="CockroachCluster"}"#, 1.0).await;
    assert_eq!(invalid_object_events(&events_for(&ns, "broken-cluster").await), 1);
    wait_ready::<SQLUser>(&world, "app").await;

    // After a restart the first list holds the unreadable object: the operator still becomes
    // ready, reports it once, and reconciles the rest.
    world.start_operator(|_| {});
    world.operator().wait_for_log("first watch sync done; ready").await;
    world.apply(&child("Database", "restarted", "orders-db", "")).await;
    wait_ready::<Database>(&world, "restarted").await;
    wait_metric(world.operator(), series, 1.0).await;
    // One report of each unreadable object (the Database and the CockroachCluster).
    assert_eq!(world.operator().logs().matches(LOG_LINE).count(), 2, "{}", world.operator().logs());

    // Fixed, it is reconciled like any other and no longer counted.
    kubectl(&["patch", "database", "broken", "-n", &ns, "--type=merge", "-p", r#"{"spec":{"deletionPolicy":null}}"#], None).await.ok();
    wait_ready::<Database>(&world, "broken").await;
    wait_metric(world.operator(), series, 0.0).await;
    let cluster_id = world.api::<crdb_cloud_operator::api::CockroachCluster>().get("orders-db").await.unwrap().status.unwrap().cluster_id.unwrap();
    let held = world.held(&cluster_id).await;
    for name in ["before", "after", "later", "restarted", "broken"] {
        assert!(held.databases.iter().any(|d| d.name == name), "database {name} missing in the cloud: {held:#?}");
    }
}
