//! Private networking end to end (a real kube-apiserver, kubectl, the operator binary and the
//! Cloud API simulator): spec.privateEndpoints (created once, listed per region in status, refused
//! off at apply, put back after support removed them, left alone when unset, refused by the cloud,
//! deleted with the cluster), and the
//! PrivateEndpointConnection and PrivateEndpointTrustedOwner kinds (create, drift put back,
//! delete, retain, adoption, a lost create answer, a bad input, and a rejected connection).

use std::time::Duration;

use crdb_cloud::Operation;
use crdb_cloud::models::{AddPrivateEndpointTrustedOwnerRequest, PrivateEndpointConnectionStatus, PrivateEndpointTrustedOwnerType};
use crdb_cloud_operator::api::{CockroachCluster, PrivateEndpointConnection, PrivateEndpointTrustedOwner};
use crdb_cloud_simulator::admin_api::FaultSpec;
use crdb_test_support::*;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A dedicated AWS cluster in two regions with `extra` spec lines (indented by two).
fn dedicated(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: crdbcloud.io/v1alpha1\nkind: CockroachCluster\nmetadata:\n  name: {name}\nspec:\n  provider: AWS\n  dedicated:\n    regionNodes: {{us-east-1: 3, us-west-2: 3}}\n    hardware: {{numVirtualCpus: 4, storageGib: 150}}\n{extra}"
    )
}

fn connection(name: &str, cluster: &str, endpoint: &str, extra: &str) -> String {
    child("PrivateEndpointConnection", name, cluster, &format!("  endpointId: {endpoint}\n{extra}"))
}

fn trusted_owner(name: &str, cluster: &str, account: &str, extra: &str) -> String {
    child("PrivateEndpointTrustedOwner", name, cluster, &format!("  type: AWS_ACCOUNT_ID\n  externalOwnerId: \"{account}\"\n{extra}"))
}

async fn has_event(w: &World, name: &str, prefix: &str) -> bool {
    events_for(w.ns(), name).await.iter().any(|e| e.starts_with(prefix))
}

/// A world whose simulator takes `operation_secs` for the cloud's asynchronous work (services
/// CREATING, connections STATUS_PENDING), with a 3 s resync.
async fn world(prefix: &str, operation_secs: u64) -> World {
    let sim = start_simulator_with(&[], |c| c.operation_delay = Duration::from_secs(operation_secs)).await;
    let mut w = World::with_simulator(prefix, sim).await;
    w.start_operator(|o| o.resync_seconds = 3);
    w
}

#[tokio::test]
async fn private_endpoint_services_are_created_once_shown_per_region_and_never_turned_off() {
    let w = world("pe-services", 2).await;
    let api: Api<CockroachCluster> = w.api();

    // Off is refused at apply, with the reason.
    let refused = w.apply_refused(&dedicated("link-db", "  privateEndpoints: {enabled: false}\n")).await;
    assert!(refused.contains("spec.privateEndpoints.enabled cannot be false") && refused.contains("cannot remove"), "{refused}");
    // And so is a BASIC cluster.
    let basic = "apiVersion: crdbcloud.io/v1alpha1\nkind: CockroachCluster\nmetadata:\n  name: basic-db\nspec:\n  provider: GCP\n  serverless: {regions: [us-central1]}\n  privateEndpoints: {enabled: true}\n";
    assert!(w.apply_refused(basic).await.contains("not available on BASIC clusters"));

    // Set: one create; the cloud works (CREATING), then status lists each region's service.
    w.apply(&dedicated("link-db", "  privateEndpoints: {enabled: true}\n")).await;
    let creating = wait_for(&api, "link-db", TIMEOUT, "services CREATING", |c| {
        condition(c, "PrivateEndpointsSynced").is_some_and(|(s, r, _)| s == "False" && r == "Creating")
    })
    .await;
    assert!(condition(&creating, "Ready").is_some_and(|(s, _, _)| s == "True"), "the cluster stays Ready while the cloud creates: {creating:?}");
    let cr = wait_for(&api, "link-db", TIMEOUT, "PrivateEndpointsSynced", |c| is_ready(c) && condition_is(c, "PrivateEndpointsSynced", "True")).await;
    let status = cr.status.clone().unwrap();
    let id = status.cluster_id.clone().unwrap();
    let services = status.settings.private_endpoints.clone().unwrap().services;
    assert_eq!(services.iter().map(|s| (s.region.as_str(), s.state.as_str())).collect::<Vec<_>>(), [("us-east-1", "AVAILABLE"), ("us-west-2", "AVAILABLE")]);
    assert!(services[0].name.starts_with("com.amazonaws.vpce.us-east-1.vpce-svc-") && services[0].endpoint_service_id.starts_with("vpce-svc-"), "{services:?}");
    assert_eq!(services[0].availability_zone_ids, ["use1-az1", "use1-az2", "use1-az3"]);
    assert_eq!(w.admin.count(Operation::CreatePrivateEndpointServices).await, 1);
    assert!(has_event(&w, "link-db", "Normal Updated").await, "{:?}", events_for(w.ns(), "link-db").await);

    // Turning it off later is refused too.
    let off = w.apply_refused(&dedicated("link-db", "  privateEndpoints: {enabled: false}\n")).await;
    assert!(off.contains("spec.privateEndpoints.enabled cannot be false"), "{off}");

    // At rest: one read per resync, never a second create.
    let reads = w.admin.count(Operation::ListPrivateEndpointServices).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let more = w.admin.count(Operation::ListPrivateEndpointServices).await - reads;
    assert!((1..=5).contains(&more), "{more} reads in 8 s at a 3 s resync");
    assert_eq!(w.admin.count(Operation::CreatePrivateEndpointServices).await, 1);

    // Drift: the API cannot delete endpoint services, but support can; gone behind the
    // operator's back, they are created again, with DriftCorrected.
    assert_eq!(w.admin.remove_private_endpoint_services(&id).await, 2);
    eventually("the services created again", TIMEOUT, || w.admin.count(Operation::CreatePrivateEndpointServices), |n| *n == 2).await;
    let cr = wait_for(&api, "link-db", TIMEOUT, "services back", |c| {
        condition_is(c, "PrivateEndpointsSynced", "True")
            && c.status.as_ref().and_then(|s| s.settings.private_endpoints.as_ref()).is_some_and(|p| p.services.len() == 2 && p.services.iter().all(|s| s.state == "AVAILABLE"))
    })
    .await;
    eventually("a DriftCorrected event", TIMEOUT, || has_event(&w, "link-db", "Warning DriftCorrected"), |seen| *seen).await;
    assert!(cr.status.unwrap().settings.private_endpoints.unwrap().services.iter().all(|s| s.state == "AVAILABLE"));

    // Unset: the block stops being managed; status and condition go, no request is spent on it.
    api.patch("link-db", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"privateEndpoints": null}}))).await.unwrap();
    let cr = wait_for(&api, "link-db", TIMEOUT, "Ready without the block", |c| is_ready(c) && condition(c, "PrivateEndpointsSynced").is_none()).await;
    assert!(cr.status.unwrap().settings.private_endpoints.is_none());
    let reads = w.admin.count(Operation::ListPrivateEndpointServices).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(w.admin.count(Operation::ListPrivateEndpointServices).await, reads, "no read while unset");
    assert_eq!(w.admin.cloud().list_private_endpoint_services(&id).await.unwrap().services.len(), 2, "the services stay in the cloud");

    // Refused by the cloud: that block stalls with the cloud's message; the cluster is unaffected.
    w.admin.add_fault(&FaultSpec { status: Some(400), ..FaultSpec::on(Operation::CreatePrivateEndpointServices) }).await;
    w.apply(&serverless_cluster("std-db").replace("  labels:", "  privateEndpoints: {enabled: true}\n  labels:")).await;
    let std = wait_for(&api, "std-db", TIMEOUT, "PrivateEndpointsSynced False", |c| condition_is(c, "PrivateEndpointsSynced", "False")).await;
    let (_, reason, message) = condition(&std, "PrivateEndpointsSynced").unwrap();
    assert_eq!(reason, "CloudRejectedSpec");
    assert!(message.contains("spec.privateEndpoints"), "{message}");
    assert!(is_stalled_with(&std, "CloudRejectedSpec"));
    assert_eq!(std.status.unwrap().state.as_deref(), Some("CREATED"));

    // Deleted with the block set.
    api.patch("link-db", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"privateEndpoints": {"enabled": true}}}))).await.unwrap();
    wait_for(&api, "link-db", TIMEOUT, "synced again", |c| condition_is(c, "PrivateEndpointsSynced", "True")).await;
    let creates = w.admin.requests_of(Operation::CreatePrivateEndpointServices).await;
    assert_eq!(creates.iter().filter(|r| r.path.contains(&id)).count(), 2, "services created for link-db once, and once after the drift: {creates:?}");
    api.delete("link-db", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "link-db", TIMEOUT).await;
    assert!(w.admin.cluster(&id).await.is_none_or(|c| c.is_deleted()), "the cloud cluster was deleted");
}

#[tokio::test]
async fn connections_and_trusted_owners_are_kept_exactly_once() {
    // Pending connections last 4 s, long enough to be seen.
    let w = world("pe-members", 4).await;
    let clusters: Api<CockroachCluster> = w.api();
    let connections: Api<PrivateEndpointConnection> = w.api();
    let owners: Api<PrivateEndpointTrustedOwner> = w.api();
    let cloud = w.admin.cloud();

    w.apply(&dedicated("vpc-db", "  privateEndpoints: {enabled: true}\n")).await;
    // A connection applied with the cluster waits for the services, then goes through.
    w.apply(&connection("app-vpc", "vpc-db", "vpce-0a1b2c3d4e5f67890", "")).await;
    w.apply(&trusted_owner("team-account", "vpc-db", "111122223333", "")).await;
    let cr = wait_for(&clusters, "vpc-db", TIMEOUT, "services AVAILABLE", |c| is_ready(c) && condition_is(c, "PrivateEndpointsSynced", "True")).await;
    let id = cr.status.unwrap().cluster_id.unwrap();

    // Trusted owner: created, its cloud id in status.
    let owner = wait_for(&owners, "team-account", TIMEOUT, "Ready", is_ready).await;
    let owner_id = owner.status.clone().unwrap().owner_id.unwrap();
    let listed = cloud.list_private_endpoint_trusted_owners(&id).await.unwrap().items;
    assert_eq!(listed.iter().map(|o| (o.id.as_str(), o.external_owner_id.as_str())).collect::<Vec<_>>(), [(owner_id.as_str(), "111122223333")]);
    assert!(has_event(&w, "team-account", "Normal Created").await);

    // Connection: Progressing while pending (polled, not hammered), Ready once available.
    let pending = wait_for(&connections, "app-vpc", TIMEOUT, "pending", |c| condition(c, "Ready").is_some_and(|(s, r, _)| s == "False" && r == "EndpointPending")).await;
    assert_eq!(pending.status.clone().unwrap().connection_status.as_deref(), Some("STATUS_PENDING"));
    let lists_before = w.admin.count(Operation::ListPrivateEndpointConnections).await;
    let ready = wait_for(&connections, "app-vpc", TIMEOUT, "Ready", is_ready).await;
    let lists_while_pending = w.admin.count(Operation::ListPrivateEndpointConnections).await - lists_before;
    assert!(lists_while_pending <= 8, "{lists_while_pending} lists while one connection was pending for 4 s");
    let status = ready.status.unwrap();
    assert_eq!(status.connection_status.as_deref(), Some("STATUS_AVAILABLE"));
    assert_eq!(status.region.as_deref(), Some("us-east-1"));
    assert!(status.service_name.as_deref().is_some_and(|s| s.starts_with("com.amazonaws.vpce.")), "{status:?}");
    println!("connection pending -> available: {lists_while_pending} connection lists");

    // Bad input: refused at apply, naming the field; nothing reaches the cloud.
    let refused = w.apply_refused(&connection("typo-vpc", "vpc-db", "vpc-0a1b2c3d", "")).await;
    assert!(refused.contains("spec.endpointId"), "{refused}");
    let refused = w.apply_refused(&trusted_owner("typo-account", "vpc-db", "1111", "")).await;
    assert!(refused.contains("spec.externalOwnerId"), "{refused}");

    // Drift: both removed behind the operator's back are put back, with DriftCorrected.
    cloud.delete_private_endpoint_connection(&id, "vpce-0a1b2c3d4e5f67890").await.unwrap();
    cloud.remove_private_endpoint_trusted_owner(&id, &owner_id).await.unwrap();
    eventually("both put back", TIMEOUT, || async { (cloud.list_private_endpoint_connections(&id).await.unwrap().items, cloud.list_private_endpoint_trusted_owners(&id).await.unwrap().items) }, |(c, o)| {
        c.iter().any(|c| c.endpoint_id == "vpce-0a1b2c3d4e5f67890") && o.iter().any(|o| o.external_owner_id == "111122223333")
    })
    .await;
    wait_for(&connections, "app-vpc", TIMEOUT, "Ready again", is_ready).await;
    assert!(has_event(&w, "app-vpc", "Warning DriftCorrected").await, "{:?}", events_for(w.ns(), "app-vpc").await);
    assert!(has_event(&w, "team-account", "Warning DriftCorrected").await, "{:?}", events_for(w.ns(), "team-account").await);

    // A lost create answer: the work is done, the answer dropped; the next list shows it, and
    // no second create is sent.
    for op in [Operation::AddPrivateEndpointConnection, Operation::AddPrivateEndpointTrustedOwner] {
        w.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(op) }).await;
    }
    let (adds, owner_adds) = (w.admin.count(Operation::AddPrivateEndpointConnection).await, w.admin.count(Operation::AddPrivateEndpointTrustedOwner).await);
    w.apply(&connection("lost-vpc", "vpc-db", "vpce-1a2b3c4d5e6f78901", "")).await;
    w.apply(&trusted_owner("lost-account", "vpc-db", "222233334444", "")).await;
    wait_for(&connections, "lost-vpc", TIMEOUT, "Ready", is_ready).await;
    wait_for(&owners, "lost-account", TIMEOUT, "Ready", is_ready).await;
    assert_eq!(w.admin.count(Operation::AddPrivateEndpointConnection).await, adds + 1, "one create for the connection");
    assert_eq!(w.admin.count(Operation::AddPrivateEndpointTrustedOwner).await, owner_adds + 1, "one create for the owner");
    let listed = cloud.list_private_endpoint_trusted_owners(&id).await.unwrap().items;
    assert_eq!(listed.iter().filter(|o| o.external_owner_id == "222233334444").count(), 1);

    // Adoption: objects made outside the operator are taken over, not duplicated.
    let outside = "vpce-2b3c4d5e6f7a89012";
    cloud.add_private_endpoint_connection(&id, outside).await.unwrap();
    let request = AddPrivateEndpointTrustedOwnerRequest { external_owner_id: "333344445555".into(), owner_type: PrivateEndpointTrustedOwnerType::AwsAccountId };
    let made = cloud.add_private_endpoint_trusted_owner(&id, &request).await.unwrap();
    w.apply(&connection("adopted-vpc", "vpc-db", outside, "")).await;
    w.apply(&trusted_owner("adopted-account", "vpc-db", "333344445555", "")).await;
    wait_for(&connections, "adopted-vpc", TIMEOUT, "Ready", is_ready).await;
    let adopted = wait_for(&owners, "adopted-account", TIMEOUT, "Ready", is_ready).await;
    assert_eq!(adopted.status.unwrap().owner_id.as_deref(), Some(made.id.as_str()), "the existing entry, not a new one");
    let listed = cloud.list_private_endpoint_connections(&id).await.unwrap().items;
    assert_eq!(listed.iter().filter(|c| c.endpoint_id == outside).count(), 1);

    // Rejected by the cloud provider: Stalled with the reason, until a person acts.
    w.apply(&connection("rogue-vpc", "vpc-db", "vpce-3c4d5e6f7a8b90123", "")).await;
    eventually("the rogue endpoint in the cloud", TIMEOUT, || cloud.list_private_endpoint_connections(&id), |l| {
        l.as_ref().is_ok_and(|l| l.items.iter().any(|c| c.endpoint_id == "vpce-3c4d5e6f7a8b90123"))
    })
    .await
    .unwrap();
    assert_eq!(w.admin.reject_private_endpoint_connection(&id, "vpce-3c4d5e6f7a8b90123").await.status, PrivateEndpointConnectionStatus::Rejected);
    let rogue = wait_for(&connections, "rogue-vpc", TIMEOUT, "Stalled", |c| is_stalled_with(c, "EndpointRejected")).await;
    let (_, _, message) = condition(&rogue, "Stalled").unwrap();
    assert!(message.contains("STATUS_REJECTED") && message.contains("vpce-3c4d5e6f7a8b90123"), "{message}");
    assert_eq!(rogue.status.unwrap().connection_status.as_deref(), Some("STATUS_REJECTED"));
    assert!(has_event(&w, "rogue-vpc", "Warning EndpointRejected").await, "{:?}", events_for(w.ns(), "rogue-vpc").await);

    // Change: the deletion policy (the only field the API lets change) turned to Retain, then
    // deleted: the cloud keeps the connection.
    connections.patch("adopted-vpc", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"deletionPolicy": "Retain"}}))).await.unwrap();
    wait_for(&connections, "adopted-vpc", TIMEOUT, "Ready with Retain", is_ready).await;
    connections.delete("adopted-vpc", &DeleteParams::default()).await.unwrap();
    wait_gone(&connections, "adopted-vpc", TIMEOUT).await;
    owners.patch("adopted-account", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"deletionPolicy": "Retain"}}))).await.unwrap();
    wait_for(&owners, "adopted-account", TIMEOUT, "Ready with Retain", is_ready).await;
    owners.delete("adopted-account", &DeleteParams::default()).await.unwrap();
    wait_gone(&owners, "adopted-account", TIMEOUT).await;

    // Delete: the others leave the cloud (the rejected one too).
    for name in ["app-vpc", "lost-vpc", "rogue-vpc"] {
        connections.delete(name, &DeleteParams::default()).await.unwrap();
    }
    for name in ["team-account", "lost-account"] {
        owners.delete(name, &DeleteParams::default()).await.unwrap();
    }
    for name in ["app-vpc", "lost-vpc", "rogue-vpc"] {
        wait_gone(&connections, name, TIMEOUT).await;
    }
    for name in ["team-account", "lost-account"] {
        wait_gone(&owners, name, TIMEOUT).await;
    }
    let left: Vec<String> = cloud.list_private_endpoint_connections(&id).await.unwrap().items.into_iter().map(|c| c.endpoint_id).collect();
    assert_eq!(left, [outside], "only the retained connection stays");
    let left: Vec<String> = cloud.list_private_endpoint_trusted_owners(&id).await.unwrap().items.into_iter().map(|o| o.external_owner_id).collect();
    assert_eq!(left, ["333344445555"], "only the retained owner stays");
}

/// deploy/examples/private-endpoints.yaml on the cluster of deploy/examples/cluster-production.yaml:
/// applied as a user would, the trusted owner and the connection become Ready.
#[tokio::test]
async fn the_examples_become_ready() {
    let w = world("pe-examples", 1).await;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    for file in ["cluster-production.yaml", "private-endpoints.yaml"] {
        kubectl(&["apply", "-n", w.ns(), "-f", examples.join(file).to_str().unwrap()], None).await.ok();
    }
    let connection = wait_for(&w.api::<PrivateEndpointConnection>(), "ledger-app-vpc", Duration::from_secs(120), "Ready", is_ready).await;
    wait_for(&w.api::<PrivateEndpointTrustedOwner>(), "ledger-app-account", TIMEOUT, "Ready", is_ready).await;
    let cluster = w.api::<CockroachCluster>().get("ledger-prod").await.unwrap();
    let services = cluster.status.unwrap().settings.private_endpoints.unwrap().services;
    assert_eq!(connection.status.unwrap().endpoint_service_id.as_deref(), Some(services[0].endpoint_service_id.as_str()));
    // The example keeps its cluster on deletion (deleteProtection and Retain): release it here.
    w.api::<CockroachCluster>().patch("ledger-prod", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"deleteProtection": false}}))).await.unwrap();
}
