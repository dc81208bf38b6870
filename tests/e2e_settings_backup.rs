//! `spec.backup` end to end (the first per-cluster setting block, shape 3 of the kind framework):
//! set, changed, drift put back, unset left alone without a request, a change the cloud refuses
//! (Stalled on the block while the cluster keeps converging), held back while the cluster is
//! LOCKED, and a cluster deleted with the block set.

use std::time::{Duration, Instant};

use crdb_cloud::models::{ClusterState, OperationStatus, UpdateBackupConfiguration};
use crdb_cloud::operations::Operation;
use crdb_cloud_operator::api::CockroachCluster;
use crdb_cloud_simulator::admin_api::ForceState;
use crdb_test_support::World as Env;
use crdb_test_support::*;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);
/// Drift checks every few seconds, so drift is found within a test's patience.
const RESYNC_SECONDS: u64 = 3;

fn cluster_with_backup(name: &str, backup: &str) -> String {
    format!("{}  backup: {backup}\n", serverless_cluster(name))
}

fn backup_status(cluster: &CockroachCluster) -> Option<(bool, i32, i32)> {
    let backup = cluster.status.as_ref()?.settings.backup.as_ref()?;
    Some((backup.enabled, backup.frequency_minutes, backup.retention_days))
}

fn synced(cluster: &CockroachCluster) -> bool {
    condition(cluster, "BackupSynced").is_some_and(|(status, _, _)| status == "True")
}

/// How many requests of `operation` the simulator served after request number `since`.
async fn served(env: &Env, since: u64, operation: Operation) -> usize {
    env.admin.requests(since, Some(operation)).await.len()
}

async fn start(prefix: &str) -> Env {
    Env::start_with(prefix, |options| options.resync_seconds = RESYNC_SECONDS).await
}

#[tokio::test]
async fn backup_is_set_changed_put_back_after_drift_and_left_alone_once_unset() {
    let env = start("backup-lifecycle").await;
    let clusters: Api<CockroachCluster> = env.api();
    env.apply(&cluster_with_backup("backup-db", "{frequencyMinutes: 15}")).await;
    let ready = wait_for(&clusters, "backup-db", TIMEOUT, "Ready with backups every 15 min", |c| is_ready(c) && synced(c)).await;
    let id = ready.status.as_ref().unwrap().cluster_id.clone().unwrap();
    // Only the field the block sets is managed: enabled and retention keep the cloud's defaults.
    assert_eq!(backup_status(&ready), Some((true, 15, 30)));
    assert_eq!(env.held(&id).await.backup_configuration.frequency_minutes, 15);

    // Changed in the spec: the cloud follows, reported as an update, not drift.
    let patch = json!({"spec": {"backup": {"frequencyMinutes": 30, "enabled": false}}});
    clusters.patch("backup-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_for(&clusters, "backup-db", TIMEOUT, "backups off, every 30 min", |c| is_ready(c) && backup_status(c) == Some((false, 30, 30))).await;
    let events = events_for(env.ns(), "backup-db").await;
    // (Events of one reason are one series, which keeps the first note.)
    assert!(events.iter().any(|e| e.starts_with("Normal Updated") && e.contains("spec.backup")), "{events:#?}");

    // Changed behind the operator's back: put back at the next drift check, with a Warning.
    let behind = UpdateBackupConfiguration { frequency_minutes: Some(240), ..Default::default() };
    env.admin.cloud().update_backup_configuration(&id, &behind).await.unwrap();
    env.wait_cloud(&id, "drift put back", TIMEOUT, |r| r.backup_configuration.frequency_minutes == 30).await;
    let events = events_for(env.ns(), "backup-db").await;
    assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected") && e.contains("spec.backup")), "{events:#?}");

    // Unset: no longer managed. Its condition and status go, and no request is spent on it:
    // a change in the cloud stays through several drift checks.
    let patch = json!({"spec": {"backup": null}});
    clusters.patch("backup-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_for(&clusters, "backup-db", TIMEOUT, "backup unmanaged", |c| is_ready(c) && backup_status(c).is_none() && condition(c, "BackupSynced").is_none()).await;
    let since = env.admin.stats().await.total;
    let behind = UpdateBackupConfiguration { frequency_minutes: Some(60), ..Default::default() };
    env.admin.cloud().update_backup_configuration(&id, &behind).await.unwrap();
    let started = Instant::now();
    let drift_checks_before = served(&env, since, Operation::GetCluster).await;
    tokio::time::sleep(Duration::from_secs(RESYNC_SECONDS * 4)).await;
    let drift_checks = served(&env, since, Operation::GetCluster).await - drift_checks_before;
    assert!(drift_checks >= 2, "the cluster was checked {drift_checks} times in {:?}", started.elapsed());
    assert_eq!(served(&env, since, Operation::GetBackupConfiguration).await, 0, "a request was spent on an unset block");
    assert_eq!(served(&env, since, Operation::UpdateBackupConfiguration).await, 1, "only the change made behind the operator's back");
    assert_eq!(env.held(&id).await.backup_configuration.frequency_minutes, 60);
    println!("unset block: {drift_checks} drift checks, 0 backup requests");
}

#[tokio::test]
async fn a_retention_change_the_cloud_refuses_stalls_the_block_and_the_cluster_keeps_converging() {
    let env = start("backup-refused").await;
    let clusters: Api<CockroachCluster> = env.api();
    // The cloud lets retention change once per cluster: 30 (its default) -> 7 is that once.
    env.apply(&cluster_with_backup("retain-db", "{retentionDays: 7}")).await;
    let ready = wait_for(&clusters, "retain-db", TIMEOUT, "Ready, 7 days", |c| is_ready(c) && backup_status(c).is_some_and(|b| b.2 == 7)).await;
    let id = ready.status.unwrap().cluster_id.unwrap();

    // A second change is refused for good: the block says so, the resource is Stalled naming it.
    let patch = json!({"spec": {"backup": {"retentionDays": 90}}});
    clusters.patch("retain-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let refused = wait_for(&clusters, "retain-db", TIMEOUT, "BackupSynced=False", |c| {
        condition(c, "BackupSynced").is_some_and(|(s, r, _)| s == "False" && r == "CloudRejectedSpec") && is_stalled_with(c, "CloudRejectedSpec")
    })
    .await;
    let (_, _, message) = condition(&refused, "Ready").unwrap();
    assert!(message.starts_with("spec.backup:") && message.contains("retention"), "{message}");
    assert_eq!(env.held(&id).await.backup_configuration.retention_days, 7);

    // The cluster itself keeps converging while the block is refused.
    let patch = json!({"spec": {"labels": {"team": "payments", "tier": "gold"}}});
    clusters.patch("retain-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let record = env.wait_cloud(&id, "label applied", TIMEOUT, |r| r.cluster.labels.get("tier").map(String::as_str) == Some("gold")).await;
    assert_eq!(record.backup_configuration.retention_days, 7);
    let events = events_for(env.ns(), "retain-db").await;
    assert!(events.iter().any(|e| e.starts_with("Warning CloudRejectedSpec") && e.contains("spec.backup")), "{events:#?}");

    // Back to what the cloud holds: the block is in sync again and the resource Ready.
    let patch = json!({"spec": {"backup": {"retentionDays": 7}}});
    clusters.patch("retain-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_for(&clusters, "retain-db", TIMEOUT, "Ready again", |c| is_ready(c) && synced(c)).await;
}

#[tokio::test]
async fn backup_waits_while_the_cluster_is_locked_and_a_cluster_with_it_set_is_deleted() {
    let env = start("backup-locked").await;
    let clusters: Api<CockroachCluster> = env.api();
    let id = env.ready_cluster("locked-db").await;
    let locked = ForceState { state: Some(ClusterState::Locked), operation_status: Some(OperationStatus::EditClusterRunning), ..Default::default() };
    env.admin.force_state(&id, &locked).await;
    // Seen locked by the operator before the block arrives.
    let patch = json!({"spec": {"labels": {"team": "payments", "lock": "seen"}}});
    clusters.patch("locked-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_for(&clusters, "locked-db", TIMEOUT, "Reconciling (Locked)", |c| condition(c, "Reconciling").is_some_and(|(s, r, _)| s == "True" && r == "Locked")).await;

    let since = env.admin.stats().await.total;
    let patch = json!({"spec": {"backup": {"frequencyMinutes": 5}}});
    clusters.patch("locked-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(served(&env, since, Operation::GetBackupConfiguration).await, 0, "the block was read while the cluster was LOCKED");
    assert_eq!(served(&env, since, Operation::UpdateBackupConfiguration).await, 0, "the block was written while the cluster was LOCKED");

    let settled = ForceState { state: Some(ClusterState::Created), operation_status: Some(OperationStatus::Unspecified), ..Default::default() };
    env.admin.force_state(&id, &settled).await;
    wait_for(&clusters, "locked-db", TIMEOUT, "Ready with backups every 5 min", |c| is_ready(c) && backup_status(c).is_some_and(|b| b.1 == 5)).await;
    assert_eq!(served(&env, since, Operation::UpdateBackupConfiguration).await, 1);

    // Deleting the cluster with the block set deletes the cluster; the block needs nothing more.
    clusters.delete("locked-db", &DeleteParams::default()).await.unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while clusters.get_opt("locked-db").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the cluster resource was not released");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let gone = env.record(&id).await.is_none_or(|r| r.cluster.state == ClusterState::Deleted);
    assert!(gone, "the cloud cluster was not deleted");
}

/// deploy/examples/cluster-production.yaml sets every setting block the operator has: applied as a
/// user would, the cluster becomes Ready with every block's condition True, and a block added later
/// without being added to the example fails here.
#[tokio::test]
async fn the_production_example_converges_with_every_block_synced() {
    let env = start("backup-example").await;
    let clusters: Api<CockroachCluster> = env.api();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples/cluster-production.yaml");
    kubectl(&["apply", "-n", env.ns(), "-f", example.to_str().unwrap()], None).await.ok();
    let blocks = crdb_cloud_operator::controller::settings::all();
    let synced = |c: &CockroachCluster| blocks.iter().all(|b| condition(c, b.condition()).is_some_and(|(s, _, _)| s == "True"));
    let ready = wait_for(&clusters, "ledger-prod", Duration::from_secs(120), "Ready with every block synced", |c| is_ready(c) && synced(c)).await;
    let missing: Vec<_> = blocks.iter().filter(|b| condition(&ready, b.condition()).is_none()).map(|b| b.block()).collect();
    assert!(missing.is_empty(), "the example leaves out {missing:?}");
    println!("production example: Ready with {} setting blocks synced", blocks.len());
    // The example keeps its cluster on deletion (deleteProtection and Retain): release it here.
    let patch = json!({"spec": {"deleteProtection": false}});
    clusters.patch("ledger-prod", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    // With every block converging, the operator still stops promptly when asked to.
    let mut env = env;
    let stopped = Instant::now();
    env.operator.as_mut().expect("running").terminate().await;
    println!("stopped {:.1}s after SIGTERM", stopped.elapsed().as_secs_f64());
}
