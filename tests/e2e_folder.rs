//! Folder end to end: a real kube-apiserver, kubectl, the real operator binary and the Cloud API
//! simulator. Create, rename, drift put back, delete, retain, adoption, a lost create answer, a
//! non-empty folder's deletion, clusters created and moved in folders, bad input, and the
//! namespace trust of organisation-level kinds.

use std::time::{Duration, Instant};

use crdb_cloud::models::{FolderResource, UpdateFolderSpec};
use crdb_cloud_operator::api::{CockroachCluster, Folder};
use crdb_test_support::*;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A Folder manifest; `spec` holds its spec lines, indented by two (empty: an empty spec).
fn folder(name: &str, spec: &str) -> String {
    let spec = if spec.is_empty() { " {}\n".to_string() } else { format!("\n{spec}") };
    format!("---\napiVersion: crdbcloud.io/v1alpha1\nkind: Folder\nmetadata:\n  name: {name}\nspec:{spec}")
}

/// `serverless_cluster(name)` in the Folder resource `folder`.
fn cluster_in(name: &str, folder: &str) -> String {
    format!("---\n{}  folderRef:\n    name: {folder}\n", serverless_cluster(name))
}

fn folder_id(f: &Folder) -> String {
    f.status.as_ref().and_then(|s| s.folder_id.clone()).expect("a Ready folder has status.folderId")
}

async fn cloud_folders(world: &World) -> Vec<FolderResource> {
    world.admin.cloud().list_folders().await.unwrap().items
}

/// Requests of any folder operation the simulator served.
async fn folder_requests(world: &World) -> Vec<RequestRecord> {
    world.admin.requests(0, None).await.into_iter().filter(|r| r.operation.contains("Folder")).collect()
}

async fn wait_cloud<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_folder_is_created_once_renamed_put_back_after_drift_and_deleted() {
    let world = World::start_with("folder-life", |o| o.resync_seconds = 3).await;
    let api: Api<Folder> = world.api();
    world.apply(&folder("platform", "  labels:\n    team: platform\n")).await;
    let ready = wait_for(&api, "platform", TIMEOUT, "Ready", is_ready).await;
    let id = folder_id(&ready);
    assert_eq!(ready.status.as_ref().unwrap().path.as_deref(), Some("/platform"));

    // One folder, at the root, carrying the resource's UID and the spec's labels.
    let folders = cloud_folders(&world).await;
    assert_eq!(folders.len(), 1, "{folders:?}");
    assert_eq!(folders[0].resource_id, id);
    assert_eq!(folders[0].parent_id, "root");
    assert_eq!(folders[0].labels.get("crdb-operator-uid").map(String::as_str), ready.metadata.uid.as_deref());
    assert_eq!(folders[0].labels.get("team").map(String::as_str), Some("platform"));
    assert_eq!(world.admin.count(Operation::CreateFolder).await, 1);

    // A rename through the spec is an update in place.
    let patch = json!({"spec": {"name": "Platform Team"}});
    api.patch("platform", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let renamed = wait_for(&api, "platform", TIMEOUT, "Ready at generation 2", |f| is_ready(f) && f.metadata.generation == Some(2) && generation_observed(f)).await;
    assert_eq!(folder_id(&renamed), id);
    assert_eq!(renamed.status.as_ref().unwrap().path.as_deref(), Some("/Platform Team"));
    assert_eq!(world.admin.cloud().get_folder(&id).await.unwrap().name, "Platform Team");
    assert!(events_for(world.ns(), "platform").await.iter().any(|e| e.starts_with("Normal Updating") && e.contains("spec.name")));

    // Renamed in the console: put back at the next resync, with a DriftCorrected event.
    let hijack = UpdateFolderSpec { name: Some("hijacked".into()), ..Default::default() };
    world.admin.cloud().update_folder(&id, &hijack).await.unwrap();
    wait_cloud("the rename to be put back", async || {
        (world.admin.cloud().get_folder(&id).await.unwrap().name == "Platform Team").then_some(())
    })
    .await;
    let events = events_for(world.ns(), "platform").await;
    assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected") && e.contains("spec.name")), "{events:?}");
    assert_eq!(world.admin.count(Operation::CreateFolder).await, 1, "drift is corrected in place, never by a second create");

    // Deleted with the resource (deletionPolicy Delete is the default).
    api.delete("platform", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "platform", TIMEOUT).await;
    assert!(matches!(world.admin.cloud().get_folder(&id).await, Err(crdb_cloud::CloudError::NotFound(_))));
    assert!(cloud_folders(&world).await.is_empty());
}

#[tokio::test]
async fn a_retained_folder_stays_and_can_be_adopted() {
    let world = World::start("folder-retain").await;
    let api: Api<Folder> = world.api();
    world.apply(&folder("kept", "  deletionPolicy: Retain\n")).await;
    let id = folder_id(&wait_for(&api, "kept", TIMEOUT, "Ready", is_ready).await);
    api.delete("kept", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "kept", TIMEOUT).await;
    assert!(events_for(world.ns(), "kept").await.iter().any(|e| e.starts_with("Normal Retained")));
    assert_eq!(world.admin.cloud().get_folder(&id).await.unwrap().name, "kept");
    assert_eq!(world.admin.count(Operation::DeleteFolder).await, 0);

    // Adopted by a new resource: same folder, renamed and relabelled as that spec says.
    world.apply(&folder("adopter", &format!("  adoptFolderId: {id}\n  name: adopted\n  labels:\n    env: prod\n"))).await;
    let adopted = wait_for(&api, "adopter", TIMEOUT, "Ready", is_ready).await;
    assert_eq!(folder_id(&adopted), id);
    let cloud = world.admin.cloud().get_folder(&id).await.unwrap();
    assert_eq!(cloud.name, "adopted");
    assert_eq!(cloud.labels.get("env").map(String::as_str), Some("prod"));
    assert!(events_for(world.ns(), "adopter").await.iter().any(|e| e.starts_with("Normal Adopted")));
    assert_eq!(world.admin.count(Operation::CreateFolder).await, 1);
}

#[tokio::test]
async fn a_lost_create_answer_leaves_exactly_one_folder() {
    let world = World::without_operator("folder-lost").await;
    // The cloud creates the folder, then the answer is lost (a 503 after the work).
    world.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::CreateFolder) }).await;
    let mut world = world;
    world.start_operator(|_| {});
    let api: Api<Folder> = world.api();
    world.apply(&folder("once", "  labels:\n    env: dev\n")).await;
    let ready = wait_for(&api, "once", TIMEOUT, "Ready", is_ready).await;
    let folders = cloud_folders(&world).await;
    assert_eq!(folders.len(), 1, "{folders:?}");
    assert_eq!(folders[0].resource_id, folder_id(&ready));
    // The lost create is found by its ownership label, never sent again.
    assert_eq!(world.admin.count(Operation::CreateFolder).await, 1);
}

#[tokio::test]
async fn a_cluster_waits_for_its_folder_without_polling_and_is_created_in_it() {
    // The default resync (300 s): only the Folder watch can wake the waiting cluster in time.
    let world = World::start("folder-wait").await;
    let clusters: Api<CockroachCluster> = world.api();
    let folders: Api<Folder> = world.api();
    world.apply(&cluster_in("filed-db", "apps")).await;
    wait_for(&clusters, "filed-db", TIMEOUT, "waiting for its folder", |c| {
        condition(c, "Reconciling").is_some_and(|(status, reason, _)| status == "True" && reason == "WaitingForFolder")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(world.admin.count(Operation::CreateCluster).await, 0, "nothing is created before the folder exists");
    let cluster_requests = world.admin.requests(0, None).await.into_iter().filter(|r| r.operation.contains("Cluster")).count();
    assert_eq!(cluster_requests, 0, "a waiting cluster sends nothing and does not poll the cloud");

    world.apply(&folder("apps", "")).await;
    let apps = folder_id(&wait_for(&folders, "apps", TIMEOUT, "Ready", is_ready).await);
    let cluster = wait_for(&clusters, "filed-db", TIMEOUT, "Ready", is_ready).await;
    let cloud = world.admin.cloud().get_cluster(cluster.status.unwrap().cluster_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(cloud.parent_id.as_deref(), Some(apps.as_str()));
}

#[tokio::test]
async fn a_non_empty_folder_is_stalled_until_emptied_and_clusters_move_between_folders() {
    // The default resync (300 s) and stalled retry (120 s): only the watches of what a folder holds
    // can wake its refused deletion within the test's timeouts.
    let world = World::start("folder-full").await;
    let clusters: Api<CockroachCluster> = world.api();
    let folders: Api<Folder> = world.api();
    world.apply(&[folder("apps", ""), folder("inner", "  parentRef:\n    name: apps\n"), cluster_in("moved-db", "apps")].concat()).await;
    let apps = folder_id(&wait_for(&folders, "apps", TIMEOUT, "Ready", is_ready).await);
    let inner = wait_for(&folders, "inner", TIMEOUT, "Ready", is_ready).await;
    let inner_id = folder_id(&inner);
    assert_eq!(inner.status.as_ref().unwrap().parent_id.as_deref(), Some(apps.as_str()));
    assert_eq!(inner.status.as_ref().unwrap().path.as_deref(), Some("/apps/inner"));
    let cluster_id = wait_for(&clusters, "moved-db", TIMEOUT, "Ready", is_ready).await.status.unwrap().cluster_id.unwrap();
    assert_eq!(world.admin.cloud().get_cluster(&cluster_id).await.unwrap().parent_id.as_deref(), Some(apps.as_str()));

    // Moving the cluster is an update in place (UpdateCluster takes parent_id).
    let patch = json!({"spec": {"folderRef": {"name": "inner"}}});
    clusters.patch("moved-db", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_cloud("the cluster to move", async || {
        let cloud = world.admin.cloud().get_cluster(&cluster_id).await.unwrap();
        (cloud.parent_id.as_deref() == Some(inner_id.as_str())).then_some(())
    })
    .await;
    assert_eq!(world.admin.count(Operation::CreateCluster).await, 1);

    // The cloud refuses to delete a folder that holds a cluster: Stalled with its reason.
    folders.delete("inner", &DeleteParams::default()).await.unwrap();
    let stalled = wait_for(&folders, "inner", TIMEOUT, "Stalled FolderNotEmpty", |f| is_stalled_with(f, "FolderNotEmpty")).await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains("not empty") && message.contains("1 cluster(s)"), "{message}");
    assert!(world.admin.cloud().get_folder(&inner_id).await.is_ok());

    // Emptied: the deletion completes.
    clusters.delete("moved-db", &DeleteParams::default()).await.unwrap();
    wait_gone(&clusters, "moved-db", TIMEOUT).await;
    wait_gone(&folders, "inner", TIMEOUT).await;
    folders.delete("apps", &DeleteParams::default()).await.unwrap();
    wait_gone(&folders, "apps", TIMEOUT).await;
    assert!(cloud_folders(&world).await.is_empty());
}

#[tokio::test]
async fn bad_folder_references_are_refused_at_apply() {
    let world = World::without_operator("folder-bad").await;
    let both = world.apply_refused(&folder("both", "  parentRef:\n    name: apps\n  parentId: root\n")).await;
    assert!(both.contains("spec.parentRef or spec.parentId"), "{both}");
    let cluster = world.apply_refused(&format!("{}  parentId: root\n", cluster_in("both-db", "apps"))).await;
    assert!(cluster.contains("spec.folderRef or spec.parentId"), "{cluster}");
}

#[tokio::test]
async fn a_folder_in_an_untrusted_namespace_is_stalled_and_nothing_is_sent() {
    // The operator of the team namespace trusts only the admin namespace with org-level kinds.
    let world = World::without_operator("folder-admin").await;
    let team = test_namespace("folder-team").await;
    let url = world.sim.base_url();
    let _operator = Operator::start(OperatorOptions::new(team.name(), &url).trusting_org_namespaces(&[world.ns()]));
    kubectl(&["apply", "-n", team.name(), "-f", "-"], Some(&folder("sneaky", ""))).await.ok();
    let api: Api<Folder> = team.api();
    let stalled = wait_for(&api, "sneaky", TIMEOUT, "Stalled NamespaceNotAllowed", |f| is_stalled_with(f, "NamespaceNotAllowed")).await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains(team.name()) && message.contains(world.ns()), "{message}");
    assert!(stalled.metadata.finalizers.unwrap_or_default().is_empty(), "no finalizer on an untrusted org-level resource");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(folder_requests(&world).await.is_empty(), "no folder request reaches the cloud");
    // Deleting it needs nothing from the operator.
    api.delete("sneaky", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "sneaky", TIMEOUT).await;
}

#[tokio::test]
async fn folders_at_rest_share_one_list_per_resync() {
    let world = World::start_with("folder-rest", |o| o.resync_seconds = 3).await;
    let api: Api<Folder> = world.api();
    let names = ["rest-a", "rest-b", "rest-c", "rest-d"];
    world.apply(&names.iter().map(|n| folder(n, "")).collect::<String>()).await;
    for name in names {
        wait_for(&api, name, TIMEOUT, "Ready", is_ready).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (gets, lists) = (world.admin.count(Operation::GetFolder).await, world.admin.count(Operation::ListFolders).await);
    let window = Duration::from_secs(15);
    tokio::time::sleep(window).await;
    let gets = world.admin.count(Operation::GetFolder).await - gets;
    let lists = world.admin.count(Operation::ListFolders).await - lists;
    println!("folders at rest: {lists} ListFolders and {gets} GetFolder in {window:?}, four folders at a 3 s resync");
    // Four folders drift-checked every 3 s for 15 s: one shared list per resync (about five, a
    // few more with the resync's jitter), not one read per folder (twenty).
    assert_eq!(gets, 0, "settled folders are read from the shared list");
    assert!((3..=8).contains(&lists), "{lists} folder lists in {window:?} at a 3 s resync");
}

#[tokio::test]
async fn a_strangers_folder_with_the_same_name_in_the_same_parent_is_not_taken_over() {
    let world = World::start("folder-stranger").await;
    let api: Api<Folder> = world.api();
    // Made in the console: no ownership label.
    let request = crdb_cloud::models::CreateFolderRequest { name: "shared".into(), ..Default::default() };
    let stranger = world.admin.cloud().create_folder(&request).await.unwrap();
    world.apply(&folder("shared", "")).await;
    let stalled = wait_for(&api, "shared", TIMEOUT, "Stalled NameInUse", |f| is_stalled_with(f, "NameInUse")).await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains(&stranger.resource_id) && message.contains("spec.adoptFolderId"), "{message}");
    assert_eq!(world.admin.count(Operation::CreateFolder).await, 1, "only the console's create");
    assert_eq!(world.admin.count(Operation::UpdateFolder).await, 0, "the stranger's folder is left as it is");

    // The same name under another parent is another key: created there.
    world.apply(&[folder("home", ""), folder("shared-inside", "  name: shared\n  parentRef:\n    name: home\n")].concat()).await;
    let inside = wait_for(&api, "shared-inside", TIMEOUT, "Ready", is_ready).await;
    assert_eq!(inside.status.as_ref().unwrap().path.as_deref(), Some("/home/shared"));
    assert_ne!(folder_id(&inside), stranger.resource_id);
}
