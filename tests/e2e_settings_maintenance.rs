//! The maintenance and upgrade setting blocks end to end (a real kube-apiserver, the operator
//! binary and the simulator): spec.maintenance.window, .blackoutWindows and .versionDeferral, and
//! spec.upgrade's finalization of major upgrades. Each block is set, changed, put back after drift
//! made through the Cloud API behind the operator's back, left alone once unset (no request spent,
//! counted in the simulator's journal), refused by the cloud without stopping the others, and
//! deleted with its cluster.

use std::time::Duration;

use crdb_cloud::models::{ClusterState, ClusterVersionDeferralUpdate, CreateBlackoutWindowRequest, DeferralPolicy, MaintenanceWindow, UpgradeStatus};
use crdb_cloud::{CloudError, Operation};
use crdb_cloud_operator::api::CockroachCluster;
use crdb_cloud_simulator::admin_api::ForceState;
use crdb_test_support::World as Env;
use crdb_test_support::*;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);
const MAINTENANCE_OPERATIONS: [Operation; 5] = [
    Operation::GetMaintenanceWindow,
    Operation::SetMaintenanceWindow,
    Operation::DeleteMaintenanceWindow,
    Operation::ListBlackoutWindows,
    Operation::GetClusterVersionDeferral,
];

async fn start(prefix: &str) -> Env {
    Env::start_with(prefix, |o| o.resync_seconds = 3).await
}

/// An ADVANCED cluster on AWS with `extra` spec lines (indented by two).
fn dedicated(name: &str, version: &str, extra: &str) -> String {
    format!(
        "apiVersion: crdbcloud.io/v1alpha1\nkind: CockroachCluster\nmetadata:\n  name: {name}\nspec:\n  provider: AWS\n  cockroachVersion: {version}\n  dedicated:\n    regionNodes: {{us-east-1: 3}}\n    hardware: {{numVirtualCpus: 4, storageGib: 150}}\n{extra}"
    )
}

/// An instant `days` from now, RFC 3339 to the second.
fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn json_of(cr: &CockroachCluster) -> Value {
    serde_json::to_value(cr).unwrap()
}

fn condition_is(cr: &CockroachCluster, type_: &str, status: &str, reason: &str) -> bool {
    condition(cr, type_).is_some_and(|(s, r, _)| s == status && r == reason) && generation_observed(cr)
}

fn synced(cr: &CockroachCluster, types: &[&str]) -> bool {
    is_ready(cr) && types.iter().all(|t| condition_is(cr, t, "True", "Synced"))
}

async fn patch(api: &Api<CockroachCluster>, name: &str, body: Value) {
    api.patch(name, &PatchParams::default(), &Patch::Merge(&body)).await.unwrap();
}

/// The cloud's upcoming blackout windows as (start, end) instants, sorted.
async fn blackouts(env: &Env, id: &str) -> Vec<(String, String)> {
    let norm = |t: &str| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut windows: Vec<_> = env.admin.cloud().list_blackout_windows(id).await.unwrap().iter().map(|w| (norm(&w.start_time), norm(&w.end_time))).collect();
    windows.sort();
    windows
}

async fn window_of(env: &Env, id: &str) -> Option<(String, String)> {
    match env.admin.cloud().get_maintenance_window(id).await {
        Ok(w) => Some((w.offset_duration, w.window_duration)),
        Err(CloudError::NotFound(_)) => None,
        Err(e) => panic!("reading the maintenance window: {e}"),
    }
}

async fn deferral_of(env: &Env, id: &str) -> DeferralPolicy {
    env.admin.cloud().get_version_deferral(id).await.unwrap().deferral_policy
}

/// Polls `probe` until it answers `want`.
async fn wait_cloud_value<T: PartialEq + std::fmt::Debug, F: std::future::Future<Output = T>>(what: &str, want: T, probe: impl Fn() -> F) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let have = probe().await;
        if have == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: still {have:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn maintenance_blocks_are_set_changed_put_back_and_left_alone_once_unset() {
    let env = start("maint-life").await;
    let api = env.api::<CockroachCluster>();
    let (b1, b2, b3) = ((in_days(10), in_days(11)), (in_days(20), in_days(22)), (in_days(30), in_days(31)));
    let block = format!(
        "  maintenance:\n    window: {{day: Tuesday, startTime: \"02:00\", duration: 8h}}\n    blackoutWindows:\n    - {{start: \"{}\", end: \"{}\"}}\n    - {{start: \"{}\", end: \"{}\"}}\n    versionDeferral: Deferral60Days\n",
        b1.0, b1.1, b2.0, b2.1
    );
    env.apply(&dedicated("maint-db", "v25.2", &block)).await;
    let all = ["MaintenanceWindowSynced", "BlackoutWindowsSynced", "VersionDeferralSynced"];
    let cr = wait_for(&api, "maint-db", TIMEOUT, "maintenance blocks synced", |c| synced(c, &all)).await;
    let id = cr.status.as_ref().unwrap().cluster_id.clone().unwrap();

    // Set: Tuesday 02:00 is 26 h after Monday 00:00; status says it both ways.
    assert_eq!(window_of(&env, &id).await, Some(("93600s".into(), "28800s".into())));
    assert_eq!(blackouts(&env, &id).await, vec![b1.clone(), b2.clone()]);
    assert_eq!(deferral_of(&env, &id).await, DeferralPolicy::Deferral60Days);
    let status = &json_of(&cr)["status"]["maintenance"];
    assert_eq!((status["window"]["day"].as_str(), status["window"]["startTime"].as_str()), (Some("Tuesday"), Some("02:00")), "{status}");
    assert_eq!(status["window"]["windowDuration"], "28800s");
    assert_eq!(status["blackoutWindows"].as_array().map(Vec::len), Some(2), "{status}");
    assert_eq!(status["versionDeferral"]["policy"], "DEFERRAL_60_DAYS");
    assert!(status["versionDeferral"]["deferredUntil"].as_str().is_some(), "{status}");

    // Change: a new window, one blackout window swapped for another, a longer deferral.
    let change = json!({"spec": {"maintenance": {
        "window": {"day": "Sunday", "startTime": "23:30", "duration": "6h30m"},
        "blackoutWindows": [{"start": b2.0, "end": b2.1}, {"start": b3.0, "end": b3.1}],
        "versionDeferral": "Deferral90Days"}}});
    patch(&api, "maint-db", change).await;
    wait_for(&api, "maint-db", TIMEOUT, "changed blocks synced", |c| c.metadata.generation == Some(2) && synced(c, &all)).await;
    // Sunday 23:30 is six days, 23.5 hours after Monday 00:00.
    let sunday = Some((format!("{}s", 6 * 86400 + 23 * 3600 + 1800), "23400s".to_string()));
    assert_eq!(window_of(&env, &id).await, sunday);
    assert_eq!(blackouts(&env, &id).await, vec![b2.clone(), b3.clone()]);
    assert_eq!(deferral_of(&env, &id).await, DeferralPolicy::Deferral90Days);
    // Changes the spec asked for are updates, even the ones a later pass makes (one blackout
    // window per write): never drift. (Events of one reason share one series: notes are not
    // compared.)
    let events = events_for(env.ns(), "maint-db").await;
    assert!(events.iter().any(|e| e.starts_with("Normal Updated") && e.contains("spec.maintenance")), "{events:?}");
    assert!(!events.iter().any(|e| e.contains("DriftCorrected")), "{events:?}");

    // Drift through the Cloud API, behind the operator's back: all three are put back.
    let cloud = env.admin.cloud();
    cloud.set_maintenance_window(&id, &MaintenanceWindow { offset_duration: "0s".into(), window_duration: "21600s".into() }).await.unwrap();
    let stray = cloud.create_blackout_window(&id, &CreateBlackoutWindowRequest { start_time: in_days(40), end_time: in_days(41) }).await.unwrap();
    cloud.set_version_deferral(&id, &ClusterVersionDeferralUpdate { deferral_policy: DeferralPolicy::NotDeferred }).await.unwrap();
    wait_cloud_value("window restored", sunday.clone(), || window_of(&env, &id)).await;
    wait_cloud_value("blackout windows restored", vec![b2.clone(), b3.clone()], || blackouts(&env, &id)).await;
    wait_cloud_value("deferral restored", DeferralPolicy::Deferral90Days, || deferral_of(&env, &id)).await;
    assert!(env.admin.cloud().get_blackout_window(&id, &stray.id).await.is_err(), "the stray window is gone");
    let events = events_for(env.ns(), "maint-db").await;
    assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected") && e.contains("spec.maintenance")), "{events:?}");

    // enabled: false removes the window, once.
    patch(&api, "maint-db", json!({"spec": {"maintenance": {"window": {"enabled": false, "day": null, "startTime": null, "duration": null}}}})).await;
    let cr = wait_for(&api, "maint-db", TIMEOUT, "window removed", |c| c.metadata.generation == Some(3) && synced(c, &all)).await;
    assert_eq!(window_of(&env, &id).await, None);
    assert_eq!(json_of(&cr)["status"]["maintenance"]["window"], json!({"enabled": false}));

    // Unset: conditions and status go, and nothing is read or written for maintenance again,
    // while the cloud keeps what someone else set there.
    patch(&api, "maint-db", json!({"spec": {"maintenance": null}})).await;
    let cr = wait_for(&api, "maint-db", TIMEOUT, "maintenance unmanaged", |c| {
        c.metadata.generation == Some(4) && is_ready(c) && all.iter().all(|t| condition(c, t).is_none())
    })
    .await;
    assert!(json_of(&cr)["status"]["maintenance"].is_null(), "{}", json_of(&cr)["status"]);
    cloud.set_maintenance_window(&id, &MaintenanceWindow { offset_duration: "3600s".into(), window_duration: "21600s".into() }).await.unwrap();
    let since = env.admin.stats().await.total;
    tokio::time::sleep(Duration::from_secs(8)).await; // more than two resyncs
    let spent: Vec<_> = env.admin.requests(since, None).await.into_iter().filter(|r| MAINTENANCE_OPERATIONS.iter().any(|op| op.name() == r.operation)).collect();
    assert!(spent.is_empty(), "requests spent on unset blocks: {spent:?}");
    let resynced = env.admin.requests(since, Some(Operation::GetCluster)).await;
    assert!(resynced.len() >= 2, "the cluster itself was resynced meanwhile: {resynced:?}");
    assert_eq!(window_of(&env, &id).await, Some(("3600s".into(), "21600s".into())));
}

#[tokio::test]
async fn a_refused_block_stalls_alone_and_the_cluster_is_deleted_with_its_blocks_set() {
    let env = start("maint-refused").await;
    let api = env.api::<CockroachCluster>();
    // The cloud only takes blackout windows that start at least 7 days ahead.
    let block = format!(
        "  maintenance:\n    window: {{day: Friday, startTime: \"22:00\", duration: 6h}}\n    blackoutWindows:\n    - {{start: \"{}\", end: \"{}\"}}\n    versionDeferral: Deferral30Days\n",
        in_days(2),
        in_days(3)
    );
    env.apply(&dedicated("refused-db", "v25.2", &block)).await;
    let cr = wait_for(&api, "refused-db", TIMEOUT, "blackout windows refused", |c| {
        condition_is(c, "BlackoutWindowsSynced", "False", "CloudRejectedSpec")
            && condition_is(c, "MaintenanceWindowSynced", "True", "Synced")
            && condition_is(c, "VersionDeferralSynced", "True", "Synced")
    })
    .await;
    let (_, _, message) = condition(&cr, "BlackoutWindowsSynced").unwrap();
    assert!(message.contains("spec.maintenance.blackoutWindows") && message.contains("7 days"), "{message}");
    let (ready, _, ready_message) = condition(&cr, "Ready").unwrap();
    assert!(ready == "False" && ready_message.contains("spec.maintenance.blackoutWindows"), "{ready}: {ready_message}");
    assert!(is_stalled_with(&cr, "CloudRejectedSpec"), "{:?}", condition(&cr, "Stalled"));
    // The other blocks and the cluster itself are unaffected.
    let id = cr.status.as_ref().unwrap().cluster_id.clone().unwrap();
    assert_eq!(window_of(&env, &id).await, Some(((4 * 86400 + 22 * 3600).to_string() + "s", "21600s".into())));
    assert_eq!(deferral_of(&env, &id).await, DeferralPolicy::Deferral30Days);
    assert_eq!(env.held(&id).await.cluster.state, ClusterState::Created);
    assert!(blackouts(&env, &id).await.is_empty());

    // Deleted with every block set: the cloud cluster goes, and so does the resource.
    api.delete("refused-db", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "refused-db", TIMEOUT).await;
    assert!(env.record(&id).await.is_none_or(|r| r.is_deleted()), "the cloud cluster was deleted");
}

#[tokio::test]
async fn upgrades_finalize_after_the_soak_or_when_a_person_says_so_and_roll_back_before() {
    let env = start("upgrade").await;
    let api = env.api::<CockroachCluster>();
    env.apply(&dedicated("auto-db", "v25.1", "  upgrade: {finalize: Automatic, soak: 8s}\n")).await;
    env.apply(&dedicated("manual-db", "v25.1", "  upgrade: {finalize: Manual}\n")).await;
    env.apply(&dedicated("stuck-db", "v25.1", "  upgrade: {finalize: Automatic}\n")).await;
    env.apply(&dedicated("cloud-db", "v25.1", "")).await;
    let mut ids = std::collections::HashMap::new();
    for name in ["auto-db", "manual-db", "stuck-db", "cloud-db"] {
        let cr = wait_for(&api, name, TIMEOUT, "Ready", is_ready).await;
        ids.insert(name, cr.status.unwrap().cluster_id.unwrap());
    }
    // stuck-db's upgrade will hang in PENDING_FINALIZATION: the cloud refuses to finalize it.
    env.admin.force_state(&ids["stuck-db"], &ForceState { finalization_stuck: Some(true), ..Default::default() }).await;
    for name in ["auto-db", "manual-db", "stuck-db", "cloud-db"] {
        patch(&api, name, json!({"spec": {"cockroachVersion": "v25.2"}})).await;
    }
    let upgrade_status = |name: &'static str| {
        let (env, ids) = (&env, &ids);
        async move { env.held(&ids[name]).await.cluster.upgrade_status }
    };

    // Automatic: pending for the soak, reported, then finalized without a drift warning.
    let pending = wait_for(&api, "auto-db", TIMEOUT, "soaking", |c| condition_is(c, "UpgradeSynced", "False", "FinalizationPending")).await;
    let soak_started = std::time::Instant::now();
    assert!(is_ready(&pending), "a soaking upgrade keeps the cluster Ready");
    assert!(json_of(&pending)["status"]["upgrade"]["pendingVersion"].as_str().is_some_and(|v| v.starts_with("v25.2")), "{}", json_of(&pending)["status"]);
    wait_cloud_value("auto-db finalized", UpgradeStatus::Finalized, || upgrade_status("auto-db")).await;
    assert!(soak_started.elapsed() >= Duration::from_secs(4), "finalized before the soak: {:?}", soak_started.elapsed());
    wait_for(&api, "auto-db", TIMEOUT, "UpgradeSynced", |c| condition_is(c, "UpgradeSynced", "True", "Synced")).await;
    let events = events_for(env.ns(), "auto-db").await;
    assert!(events.iter().any(|e| e.starts_with("Normal Updated") && e.contains("finalized the upgrade")), "{events:?}");
    assert!(!events.iter().any(|e| e.contains("DriftCorrected")), "{events:?}");

    // Manual: the condition says how; nothing happens until the person says so.
    let waiting = wait_for(&api, "manual-db", TIMEOUT, "awaiting a person", |c| condition_is(c, "UpgradeSynced", "False", "FinalizationPending")).await;
    let (_, _, message) = condition(&waiting, "UpgradeSynced").unwrap();
    assert!(message.contains("spec.upgrade.finalizeVersion: v25.2") && message.contains("roll it back"), "{message}");
    assert!(is_ready(&waiting));

    // Rolling back before finalization: spec.cockroachVersion goes back.
    patch(&api, "manual-db", json!({"spec": {"cockroachVersion": "v25.1"}})).await;
    let rolled = env
        .wait_cloud(&ids["manual-db"], "rolled back to v25.1", TIMEOUT, |r| {
            r.cluster.upgrade_status == UpgradeStatus::Finalized && r.cluster.cockroach_version.starts_with("v25.1")
        })
        .await;
    assert_eq!(rolled.cluster.state, ClusterState::Created);
    wait_for(&api, "manual-db", TIMEOUT, "in line after the rollback", |c| c.metadata.generation == Some(3) && synced(c, &["UpgradeSynced"])).await;
    // Again, and this time finalized by the person.
    patch(&api, "manual-db", json!({"spec": {"cockroachVersion": "v25.2"}})).await;
    wait_for(&api, "manual-db", TIMEOUT, "pending again", |c| c.metadata.generation == Some(4) && condition_is(c, "UpgradeSynced", "False", "FinalizationPending")).await;
    assert_eq!(upgrade_status("manual-db").await, UpgradeStatus::PendingFinalization);
    patch(&api, "manual-db", json!({"spec": {"upgrade": {"finalizeVersion": "v25.2"}}})).await;
    wait_cloud_value("manual-db finalized", UpgradeStatus::Finalized, || upgrade_status("manual-db")).await;
    wait_for(&api, "manual-db", TIMEOUT, "UpgradeSynced", |c| synced(c, &["UpgradeSynced"])).await;

    // Stuck: the refusal stalls the block with the cloud's reason; the cluster is otherwise fine.
    let stuck = wait_for(&api, "stuck-db", TIMEOUT, "refused", |c| condition_is(c, "UpgradeSynced", "False", "CloudRejectedSpec")).await;
    let (_, _, message) = condition(&stuck, "UpgradeSynced").unwrap();
    assert!(message.contains("spec.upgrade") && message.contains("PENDING_FINALIZATION"), "{message}");
    assert_eq!(env.held(&ids["stuck-db"]).await.cluster.state, ClusterState::Created);

    // Unset: the cloud's own finalization (after 72 hours) is left to it; no finalization is sent.
    wait_cloud_value("cloud-db pending", UpgradeStatus::PendingFinalization, || upgrade_status("cloud-db")).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(upgrade_status("cloud-db").await, UpgradeStatus::PendingFinalization);
    let cloud_db = api.get("cloud-db").await.unwrap();
    assert!(condition(&cloud_db, "UpgradeSynced").is_none() && is_ready(&cloud_db));
    let finalizations = env.admin.requests(0, Some(Operation::UpdateCluster)).await;
    let cloud_db_patches = finalizations.iter().filter(|r| r.path.ends_with(&ids["cloud-db"])).count();
    assert_eq!(cloud_db_patches, 1, "only the version change was sent for cloud-db: {finalizations:?}");
}
