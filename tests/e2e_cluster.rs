//! CockroachCluster end to end: a real kube-apiserver, kubectl, the real operator binary and the
//! Cloud API simulator.


use std::time::Duration;

use crdb_cloud_operator::api::CockroachCluster;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use crdb_cloud::models::{ClusterState, UpdateClusterSpec};
use serde_json::json;
use crdb_test_support::*;
use crdb_test_support::{kubectl, test_namespace};

const READY_TIMEOUT: Duration = Duration::from_secs(60);


async fn apply(namespace: &str, manifest: &str) {
    kubectl(&["apply", "-n", namespace, "-f", "-"], Some(manifest)).await.ok();
}

#[tokio::test]
async fn serverless_and_dedicated_clusters_become_ready_with_status() {
    install_crds().await;
    let ns = test_namespace("cluster-ready").await;
    let sim = start_simulator(&[]).await;
    let admin = SimAdmin::new(&sim);
    let _operator = Operator::start(OperatorOptions::new(ns.name(), &sim.base_url()));

    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    for file in ["cluster-serverless.yaml", "cluster-dedicated.yaml"] {
        kubectl(&["apply", "-n", ns.name(), "-f", examples.join(file).to_str().unwrap()], None).await.ok();
    }
    // `kubectl wait` is how people (and CI pipelines) wait for readiness.
    kubectl(&["wait", "-n", ns.name(), "--for=condition=Ready", "--timeout=60s", "crdbcluster/orders-db", "crdbcluster/ledger-db"], None)
        .await
        .ok();

    let api: Api<CockroachCluster> = ns.api();
    let orders = api.get("orders-db").await.unwrap();
    let status = orders.status.clone().unwrap();
    assert!(is_ready(&orders));
    assert_eq!(status.state.as_deref(), Some("CREATED"));
    assert_eq!(status.plan.as_deref(), Some("STANDARD"));
    assert_eq!(status.regions[0].name, "us-central1");
    assert!(!status.regions[0].sql_dns.is_empty());
    assert!(status.cockroach_version.as_deref().unwrap().starts_with('v'));
    assert!(status.create_requested_at.is_none());
    let ledger = api.get("ledger-db").await.unwrap();
    let ledger_status = ledger.status.clone().unwrap();
    assert_eq!(ledger_status.plan.as_deref(), Some("ADVANCED"));
    assert_eq!(ledger_status.regions[0].node_count, 3);
    assert!(ledger_status.cockroach_version.as_deref().unwrap().starts_with("v25.2"));

    // The cloud holds exactly one cluster per resource, tagged with the resource's UID.
    for cr in [&orders, &ledger] {
        let live = admin.live_clusters_named(&cr.cloud_name()).await;
        assert_eq!(live.len(), 1, "{live:?}");
        assert_eq!(live[0].label("crdb-operator-uid"), cr.metadata.uid.as_deref());
        assert_eq!(Some(&live[0].cluster.id), cr.status.as_ref().unwrap().cluster_id.as_ref());
    }
    let cloud = admin.live_clusters_named("orders-db").await.remove(0);
    assert_eq!(cloud.label("team"), Some("payments"));
    let limits = cloud.cluster.config.serverless.as_ref().and_then(|s| s.usage_limits.as_ref());
    assert_eq!(limits.and_then(|l| l.provisioned_virtual_cpus), Some(2));

    // Printer columns show state, plan, version and readiness; the category lists everything.
    let table = kubectl(&["get", "crdbcloud", "-n", ns.name()], None).await.ok().stdout;
    assert!(table.contains("STATE") && table.contains("PLAN") && table.contains("READY"), "{table}");
    assert!(table.contains("CREATED") && table.contains("STANDARD") && table.contains("ADVANCED") && table.contains("True"), "{table}");

    // Settled: a Ready event was published, and no status write happens without a change.
    assert!(events_for(ns.name(), "orders-db").await.iter().any(|e| e.starts_with("Normal Ready")));
    let before = api.get("orders-db").await.unwrap().metadata.resource_version;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(api.get("orders-db").await.unwrap().metadata.resource_version, before, "status rewritten without a change");
}

#[tokio::test]
async fn spec_changes_reach_the_cloud_and_drift_is_reverted() {
    install_crds().await;
    let ns = test_namespace("cluster-update").await;
    let sim = start_simulator(&[]).await;
    let admin = SimAdmin::new(&sim);
    let url = sim.base_url();
    let mut options = OperatorOptions::new(ns.name(), &url);
    options.resync_seconds = 3;
    let _operator = Operator::start(options);
    let api: Api<CockroachCluster> = ns.api();

    apply(ns.name(), &serverless_cluster("scale-db")).await;
    let cr = wait_for(&api, "scale-db", READY_TIMEOUT, "Ready", is_ready).await;
    let id = cr.status.unwrap().cluster_id.unwrap();

    // Scale and relabel through the spec.
    let patch = json!({"spec": {"serverless": {"usageLimits": {"provisionedVirtualCpus": 4}}, "labels": {"team": "payments", "tier": "gold"}}});
    api.patch("scale-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let updated = wait_for(&api, "scale-db", READY_TIMEOUT, "Ready at generation 2", |c| {
        is_ready(c) && c.metadata.generation == Some(2)
    })
    .await;
    assert_eq!(updated.status.unwrap().cluster_id.unwrap(), id);
    let cloud = admin.cloud().get_cluster(&id).await.unwrap();
    let limits = cloud.config.serverless.as_ref().and_then(|s| s.usage_limits.as_ref());
    assert_eq!(limits.and_then(|l| l.provisioned_virtual_cpus), Some(4));
    assert_eq!(cloud.labels.get("tier").map(String::as_str), Some("gold"));
    assert!(events_for(ns.name(), "scale-db").await.iter().any(|e| e.starts_with("Normal Updating")));

    // Someone changes the cluster in the cloud console: the operator puts it back.
    let hijack = UpdateClusterSpec { labels: Some([("team".to_string(), "hijacked".to_string())].into()), ..Default::default() };
    admin.cloud().update_cluster(&id, &hijack).await.unwrap();
    let deadline = std::time::Instant::now() + READY_TIMEOUT;
    loop {
        let cloud = admin.cloud().get_cluster(&id).await.unwrap();
        let label = |key: &str| cloud.labels.get(key).map(String::as_str);
        if label("team") == Some("payments") && label("tier") == Some("gold") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "drift was not reverted: {:?}", cloud.labels);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let events = events_for(ns.name(), "scale-db").await;
    assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected") && e.contains("spec.labels")), "{events:?}");
}

#[tokio::test]
async fn deletion_honours_delete_retain_and_delete_protection() {
    install_crds().await;
    let ns = test_namespace("cluster-delete").await;
    let sim = start_simulator(&[]).await;
    let admin = SimAdmin::new(&sim);
    let _operator = Operator::start(OperatorOptions::new(ns.name(), &sim.base_url()));
    let api: Api<CockroachCluster> = ns.api();

    apply(ns.name(), &serverless_cluster("gone-db")).await;
    apply(ns.name(), &serverless_cluster("kept-db").replace("  labels:", "  deletionPolicy: Retain\n  labels:")).await;
    apply(ns.name(), &serverless_cluster("guarded-db").replace("  labels:", "  deleteProtection: true\n  labels:")).await;
    let mut ids = std::collections::HashMap::new();
    for name in ["gone-db", "kept-db", "guarded-db"] {
        let cr = wait_for(&api, name, READY_TIMEOUT, "Ready", is_ready).await;
        ids.insert(name, cr.status.unwrap().cluster_id.unwrap());
    }
    assert!(admin.cloud().get_cluster(&ids["guarded-db"]).await.unwrap().delete_protection_enabled());

    for name in ["gone-db", "kept-db", "guarded-db"] {
        api.delete(name, &DeleteParams::default()).await.unwrap();
    }
    wait_gone(&api, "gone-db", READY_TIMEOUT).await;
    wait_gone(&api, "kept-db", READY_TIMEOUT).await;
    let gone = admin.cluster(&ids["gone-db"]).await;
    assert!(gone.as_ref().is_none_or(ClusterDump::is_deleted), "Delete policy left the cluster: {gone:?}");
    let kept = admin.cloud().get_cluster(&ids["kept-db"]).await.unwrap();
    assert_eq!(kept.state, ClusterState::Created, "Retain must leave the cloud cluster");

    // Delete protection: the resource stays, says why, and proceeds once protection is lifted.
    let guarded = wait_for(&api, "guarded-db", READY_TIMEOUT, "Stalled by delete protection", |c| is_stalled_with(c, "DeleteProtected")).await;
    let (_, _, message) = condition(&guarded, "Stalled").unwrap();
    assert!(message.contains("spec.deleteProtection"), "{message}");
    let events = events_for(ns.name(), "guarded-db").await;
    assert!(events.iter().any(|e| e.starts_with("Warning DeleteProtected")), "{events:?}");
    assert_eq!(admin.cloud().get_cluster(&ids["guarded-db"]).await.unwrap().state, ClusterState::Created);
    api.patch("guarded-db", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"deleteProtection": false}}))).await.unwrap();
    wait_gone(&api, "guarded-db", READY_TIMEOUT).await;
    let guarded_cloud = admin.cluster(&ids["guarded-db"]).await;
    assert!(guarded_cloud.as_ref().is_none_or(ClusterDump::is_deleted));
}

#[tokio::test]
async fn delete_protection_asked_for_while_the_operator_was_away_is_honoured() {
    install_crds().await;
    let ns = test_namespace("cluster-protect-late").await;
    let sim = start_simulator(&[]).await;
    let admin = SimAdmin::new(&sim);
    let url = sim.base_url();
    let mut operator = Operator::start(OperatorOptions::new(ns.name(), &url));
    let api: Api<CockroachCluster> = ns.api();
    apply(ns.name(), &serverless_cluster("late-guard-db")).await;
    let id = wait_for(&api, "late-guard-db", READY_TIMEOUT, "Ready", is_ready).await.status.unwrap().cluster_id.unwrap();

    // Protection is asked for and the resource deleted while no operator runs: the cloud never
    // heard of the protection, and the spec is all there is to go by.
    operator.kill().await;
    api.patch("late-guard-db", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"deleteProtection": true}}))).await.unwrap();
    api.delete("late-guard-db", &DeleteParams::default()).await.unwrap();
    let _operator = Operator::start(OperatorOptions::new(ns.name(), &url));
    wait_for(&api, "late-guard-db", READY_TIMEOUT, "Stalled by delete protection", |c| is_stalled_with(c, "DeleteProtected")).await;
    assert_eq!(admin.count(Operation::DeleteCluster).await, 0, "a cluster whose spec asks for protection was deleted");
    assert_eq!(admin.cloud().get_cluster(&id).await.unwrap().state, ClusterState::Created);

    api.patch("late-guard-db", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"deleteProtection": false}}))).await.unwrap();
    wait_gone(&api, "late-guard-db", READY_TIMEOUT).await;
    assert!(admin.cluster(&id).await.as_ref().is_none_or(ClusterDump::is_deleted));
}

#[tokio::test]
async fn invalid_manifests_are_rejected_at_apply_naming_the_field() {
    install_crds().await;
    let ns = test_namespace("cluster-invalid").await;
    let both = r#"apiVersion: crdbcloud.io/v1alpha1
kind: CockroachCluster
metadata: {name: both-db}
spec:
  provider: GCP
  serverless: {regions: [us-central1]}
  dedicated: {regionNodes: {us-central1: 3}, hardware: {numVirtualCpus: 4, storageGib: 15}}
"#;
    let err = kubectl(&["apply", "-n", ns.name(), "-f", "-"], Some(both)).await.err().stderr;
    assert!(err.contains("exactly one of spec.serverless or spec.dedicated"), "{err}");

    let bad_plan = serverless_cluster("plan-db").replace("  provider: GCP", "  provider: GCP\n  plan: SERVERLESS");
    let err = kubectl(&["apply", "-n", ns.name(), "-f", "-"], Some(&bad_plan)).await.err().stderr;
    assert!(err.contains("spec.plan") && err.contains("SERVERLESS"), "{err}");

    let bad_labels = serverless_cluster("label-db").replace("team: payments", "Team: payments");
    let err = kubectl(&["apply", "-n", ns.name(), "-f", "-"], Some(&bad_labels)).await.err().stderr;
    assert!(err.contains("spec.labels keys"), "{err}");

    let bad_name = serverless_cluster("Bad_Name");
    let err = kubectl(&["apply", "-n", ns.name(), "-f", "-"], Some(&bad_name)).await.err().stderr;
    assert!(!err.is_empty(), "an invalid name must be refused");

    // Immutable fields: provider cannot change once applied.
    apply(ns.name(), &serverless_cluster("moving-db")).await;
    let moved = serverless_cluster("moving-db").replace("provider: GCP", "provider: AWS");
    let err = kubectl(&["apply", "-n", ns.name(), "-f", "-"], Some(&moved)).await.err().stderr;
    assert!(err.contains("spec.provider is immutable"), "{err}");
    let reshaped = serverless_cluster("moving-db").replace(
        "  serverless:\n    regions: [us-central1]\n    usageLimits:\n      provisionedVirtualCpus: 2\n",
        "  dedicated:\n    regionNodes: {us-central1: 3}\n    hardware: {numVirtualCpus: 4, storageGib: 15}\n",
    );
    let err = kubectl(&["apply", "-n", ns.name(), "-f", "-"], Some(&reshaped)).await.err().stderr;
    assert!(err.contains("cannot move between spec.serverless and spec.dedicated"), "{err}");
}

#[tokio::test]
async fn a_crash_after_the_create_request_does_not_create_a_second_cluster() {
    install_crds().await;
    let ns = test_namespace("cluster-crash").await;
    let sim = start_simulator(&[]).await;
    let admin = SimAdmin::new(&sim);
    // The cloud performs the create but the response never arrives.
    admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::CreateCluster) }).await;
    let mut operator = Operator::start(OperatorOptions::new(ns.name(), &sim.base_url()));
    let api: Api<CockroachCluster> = ns.api();
    apply(ns.name(), &serverless_cluster("once-db")).await;

    // Crash right after the lost response, then start again.
    let deadline = std::time::Instant::now() + READY_TIMEOUT;
    while admin.count(Operation::CreateCluster).await == 0 {
        assert!(std::time::Instant::now() < deadline, "no create request was sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    operator.kill().await;
    let cr = api.get("once-db").await.unwrap();
    assert!(cr.status.as_ref().and_then(|s| s.cluster_id.clone()).is_none(), "the ID was never returned to the operator");
    let _restarted = Operator::start(OperatorOptions::new(ns.name(), &sim.base_url()));

    let cr = wait_for(&api, "once-db", READY_TIMEOUT, "Ready", is_ready).await;
    let live = admin.live_clusters_named("once-db").await;
    assert_eq!(live.len(), 1, "exactly one cloud cluster: {live:?}");
    assert_eq!(Some(&live[0].cluster.id), cr.status.unwrap().cluster_id.as_ref());
    assert_eq!(admin.count(Operation::CreateCluster).await, 1, "the create must not be sent twice");
}

#[tokio::test]
async fn adoption_and_name_collisions() {
    install_crds().await;
    let ns = test_namespace("cluster-adopt").await;
    let sim = start_simulator(&[]).await;
    let admin = SimAdmin::new(&sim);
    let id = admin.cloud().create_cluster(&console_cluster("legacy-db")).await.unwrap().id;
    let _operator = Operator::start(OperatorOptions::new(ns.name(), &sim.base_url()));
    let api: Api<CockroachCluster> = ns.api();

    // Same name, not ours: never taken over silently.
    let clash = serverless_cluster("legacy-db").replace("    usageLimits:\n      provisionedVirtualCpus: 2\n", "");
    apply(ns.name(), &clash).await;
    let stalled = wait_for(&api, "legacy-db", READY_TIMEOUT, "Stalled NameInUse", |c| is_stalled_with(c, "NameInUse")).await;
    assert!(condition(&stalled, "Stalled").unwrap().2.contains(&id));
    api.delete("legacy-db", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "legacy-db", READY_TIMEOUT).await;
    assert_eq!(admin.live_clusters_named("legacy-db").await.len(), 1, "deleting the stalled resource must not touch the cluster");

    // Asked explicitly: adopted, managed, and not duplicated.
    let adopt = clash.replace("metadata:\n  name: legacy-db", "metadata:\n  name: adopted").replace("  provider: GCP", &format!("  name: legacy-db\n  adoptClusterId: {id}\n  provider: GCP"));
    apply(ns.name(), &adopt).await;
    let adopted = wait_for(&api, "adopted", READY_TIMEOUT, "Ready", is_ready).await;
    assert_eq!(adopted.status.unwrap().cluster_id.unwrap(), id);
    assert_eq!(admin.live_clusters_named("legacy-db").await.len(), 1);
    let cloud = admin.cloud().get_cluster(&id).await.unwrap();
    assert_eq!(cloud.labels.get("team").map(String::as_str), Some("payments"), "the adopted cluster is managed from the spec");
}

#[tokio::test]
async fn a_wrong_api_key_is_stalled_without_leaking_the_key() {
    install_crds().await;
    let ns = test_namespace("cluster-creds").await;
    let sim = start_simulator(&[]).await;
    let wrong_key = "ccdb1_WRONG_but_secret_9d8c7b";
    let url = sim.base_url();
    let mut options = OperatorOptions::new(ns.name(), &url);
    options.api_key = Some(wrong_key);
    options.log_level = "debug";
    let operator = Operator::start(options);
    let api: Api<CockroachCluster> = ns.api();

    apply(ns.name(), &serverless_cluster("creds-db")).await;
    let stalled = wait_for(&api, "creds-db", READY_TIMEOUT, "Stalled CredentialsRejected", |c| is_stalled_with(c, "CredentialsRejected")).await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains("API key"), "{message}");

    // A per-resource Secret with the right key fixes it without restarting the operator.
    kubectl(&["create", "secret", "generic", "cloud-key", "-n", ns.name(), &format!("--from-literal=apiKey={TEST_API_KEY}")], None).await.ok();
    api.patch("creds-db", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"credentialsRef": {"name": "cloud-key"}}}))).await.unwrap();
    let ready = wait_for(&api, "creds-db", READY_TIMEOUT, "Ready", is_ready).await;

    // Neither key appears in logs (at debug level), events or status.
    let logs = operator.logs();
    assert!(logs.contains("creds-db") || logs.contains("CockroachCluster"), "the operator logged nothing useful:\n{logs}");
    let events = events_for(ns.name(), "creds-db").await.join("\n");
    let status = serde_json::to_string(&ready.status).unwrap();
    for secret in [wrong_key, TEST_API_KEY] {
        assert!(!logs.contains(secret), "API key in operator logs");
        assert!(!events.contains(secret), "API key in events");
        assert!(!status.contains(secret), "API key in status");
    }
}
