//! RoleGrant end to end (a real kube-apiserver, kubectl, the operator binary and the Cloud API
//! simulator): a role granted on a cluster and on the organisation, one role list per principal
//! shared by its grants, drift put back, an existing grant adopted without a write, a grant whose
//! answer was lost found rather than sent twice, deletion revoking unless retained, bad input
//! refused at apply, a cloud refusal, and a namespace not trusted for organisation-level kinds.

use std::time::Duration;

use crdb_cloud::Operation;
use crdb_cloud::models::{BuiltInRole, OrganizationUserRole, ResourceType, RoleResource};
use crdb_cloud_operator::api::RoleGrant;
use crdb_cloud_simulator::admin_api::FaultSpec;
use crdb_cloud_simulator::state::creator_id_for_key;
use crdb_test_support::*;
use kube::api::{Api, DeleteParams};

const TIMEOUT: Duration = Duration::from_secs(60);

fn grant(name: &str, role: &str, scope: &str, extra: &str) -> String {
    let principal = creator_id_for_key(TEST_API_KEY);
    format!("apiVersion: crdbcloud.io/v1alpha1\nkind: RoleGrant\nmetadata:\n  name: {name}\nspec:\n  userId: {principal}\n  role: {role}\n  scope: {scope}\n{extra}")
}

fn cluster_role(cluster_id: &str, role: OrganizationUserRole) -> BuiltInRole {
    BuiltInRole { name: role, resource: RoleResource { resource_type: ResourceType::Cluster, id: Some(cluster_id.to_string()) } }
}

/// Polls `check` until it holds.
async fn wait_until<F: std::future::Future<Output = bool>>(what: &str, timeout: Duration, check: impl Fn() -> F) {
    let deadline = std::time::Instant::now() + timeout;
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn held(world: &World) -> Vec<BuiltInRole> {
    world.admin.cloud().get_roles_for_user(&creator_id_for_key(TEST_API_KEY)).await.unwrap().roles
}

#[tokio::test]
async fn grants_are_made_shared_put_back_adopted_and_revoked() {
    let world = World::start_with("grants", |o| o.resync_seconds = 4).await;
    let cluster_id = world.ready_cluster("team-db").await;
    let grants: Api<RoleGrant> = world.api();

    // Adoption: a grant the principal already holds is taken over without a write.
    world.admin.cloud().add_user_to_role(&creator_id_for_key(TEST_API_KEY), &cluster_role(&cluster_id, OrganizationUserRole::ClusterMonitor)).await.unwrap();
    let adds_before = world.admin.count(Operation::AddUserToRole).await;

    world.apply(&grant("dev", "CLUSTER_DEVELOPER", "{clusterRef: {name: team-db}}", "")).await;
    world.apply(&grant("monitor", "CLUSTER_MONITOR", &format!("{{clusterId: {cluster_id}}}"), "")).await;
    world.apply(&grant("creator", "CLUSTER_CREATOR", "{organization: true}", "")).await;
    world.apply(&grant("kept", "METRICS_VIEWER", "{organization: true}", "  deletionPolicy: Retain\n")).await;
    for name in ["dev", "monitor", "creator", "kept"] {
        let ready = wait_for(&grants, name, TIMEOUT, "Ready", is_ready).await;
        assert_eq!(ready.status.unwrap().principal_id.as_deref(), Some(creator_id_for_key(TEST_API_KEY).as_str()));
    }
    let roles = held(&world).await;
    assert!(roles.contains(&cluster_role(&cluster_id, OrganizationUserRole::ClusterDeveloper)), "{roles:?}");
    assert!(roles.iter().any(|r| r.name == OrganizationUserRole::ClusterCreator && r.resource.resource_type == ResourceType::Organization), "{roles:?}");
    assert_eq!(world.admin.count(Operation::AddUserToRole).await - adds_before, 3, "the held CLUSTER_MONITOR was adopted, the others granted once each");

    // Four grants of one principal share its role list: far fewer reads than grants times passes.
    let lists = world.admin.count(Operation::GetAllRolesForUser).await;
    tokio::time::sleep(Duration::from_secs(9)).await;
    let per_resync = (world.admin.count(Operation::GetAllRolesForUser).await - lists) as f64 / 2.0;
    assert!(per_resync <= 2.0, "{per_resync} role lists per resync for four grants");

    // Drift: revoked behind the operator's back, granted again with a DriftCorrected event.
    world.admin.cloud().remove_user_from_role(&creator_id_for_key(TEST_API_KEY), &cluster_role(&cluster_id, OrganizationUserRole::ClusterDeveloper)).await.unwrap();
    wait_until("the revoked grant is put back", TIMEOUT, || async { held(&world).await.contains(&cluster_role(&cluster_id, OrganizationUserRole::ClusterDeveloper)) }).await;
    wait_until("a DriftCorrected event", TIMEOUT, || async { events_for(world.ns(), "dev").await.iter().any(|e| e.contains("DriftCorrected")) }).await;

    // Deletion revokes; Retain keeps the role.
    for name in ["dev", "kept"] {
        grants.delete(name, &DeleteParams::default()).await.unwrap();
        wait_gone(&grants, name, TIMEOUT).await;
    }
    let roles = held(&world).await;
    assert!(!roles.contains(&cluster_role(&cluster_id, OrganizationUserRole::ClusterDeveloper)), "revoked: {roles:?}");
    assert!(roles.iter().any(|r| r.name == OrganizationUserRole::MetricsViewer), "retained: {roles:?}");
}

#[tokio::test]
async fn a_lost_answer_is_found_bad_input_is_refused_and_the_cloud_refusal_is_shown() {
    let world = World::start("grants-faults").await;
    let cluster_id = world.ready_cluster("faulty-db").await;
    let grants: Api<RoleGrant> = world.api();

    // The grant is made, its answer lost: the next list shows it, and nothing is sent twice.
    world.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::AddUserToRole) }).await;
    world.apply(&grant("lost", "CLUSTER_ADMIN", "{clusterRef: {name: faulty-db}}", "")).await;
    wait_for(&grants, "lost", TIMEOUT, "Ready", is_ready).await;
    let adds = world.admin.requests_of(Operation::AddUserToRole).await;
    assert_eq!(adds.len(), 1, "one grant request, its answer lost: {adds:#?}");
    assert!(held(&world).await.contains(&cluster_role(&cluster_id, OrganizationUserRole::ClusterAdmin)));

    // Refused at apply, naming the field.
    let cases = [
        (grant("org-on-cluster", "ORG_ADMIN", "{clusterRef: {name: faulty-db}}", ""), "spec.role"),
        (grant("folder-on-cluster", "FOLDER_ADMIN", &format!("{{clusterId: {cluster_id}}}"), ""), "spec.role"),
        (grant("two-scopes", "CLUSTER_ADMIN", "{organization: true, clusterRef: {name: faulty-db}}", ""), "spec.scope"),
        (grant("no-role", "MAKE_COFFEE", "{organization: true}", ""), "spec.role"),
    ];
    for (manifest, field) in &cases {
        let err = world.apply_refused(manifest).await;
        assert!(err.contains(field), "expected {field:?} in:\n{err}\nfor:\n{manifest}");
    }
    let err = world.apply_refused(&grant("lost", "CLUSTER_DEVELOPER", "{clusterRef: {name: faulty-db}}", "")).await;
    assert!(err.contains("immutable"), "{err}");

    // A cluster the cloud does not know: the cloud's refusal, shown and not retried in a loop.
    world.apply(&grant("nowhere", "CLUSTER_ADMIN", "{clusterId: 0a1b2c3d-0000-4000-8000-00000000dead}", "")).await;
    let refused = wait_for(&grants, "nowhere", TIMEOUT, "Stalled", |g| condition(g, "Stalled").is_some_and(|(s, _, _)| s == "True")).await;
    let (_, _, message) = condition(&refused, "Stalled").unwrap();
    assert!(message.contains("not found"), "{message}");
    let sent = world.admin.count(Operation::AddUserToRole).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(world.admin.count(Operation::AddUserToRole).await <= sent + 1, "a refused grant is not re-sent in a loop");
    // Deleting it revokes nothing.
    let removes = world.admin.count(Operation::RemoveUserFromRole).await;
    grants.delete("nowhere", &DeleteParams::default()).await.unwrap();
    wait_gone(&grants, "nowhere", TIMEOUT).await;
    assert_eq!(world.admin.count(Operation::RemoveUserFromRole).await, removes);
}

#[tokio::test]
async fn a_namespace_not_trusted_for_organisation_kinds_sends_nothing() {
    let world = World::start_with("grants-untrusted", |o| o.org_namespaces = vec!["crdb-admin".into()]).await;
    world.apply(&grant("sneaky", "ORG_ADMIN", "{organization: true}", "")).await;
    let grants: Api<RoleGrant> = world.api();
    let refused = wait_for(&grants, "sneaky", TIMEOUT, "Stalled", |g| is_stalled_with(g, "NamespaceNotAllowed")).await;
    let (_, _, message) = condition(&refused, "Stalled").unwrap();
    assert!(message.contains("crdb-admin") && message.contains("--org-namespaces"), "{message}");
    assert!(refused.metadata.finalizers.unwrap_or_default().is_empty(), "no finalizer in an untrusted namespace");
    for op in [Operation::GetAllRolesForUser, Operation::AddUserToRole, Operation::GetOrganizationInfo] {
        assert_eq!(world.admin.count(op).await, 0, "{op} was sent");
    }
    grants.delete("sneaky", &DeleteParams::default()).await.unwrap();
    wait_gone(&grants, "sneaky", TIMEOUT).await;
}

#[tokio::test]
async fn the_example_grants_a_declared_service_account_its_roles() {
    let world = World::start("grants-example").await;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    for file in ["serviceaccount.yaml", "cluster-serverless.yaml", "role-grant.yaml"] {
        kubectl(&["apply", "-n", world.ns(), "-f", examples.join(file).to_str().unwrap()], None).await.ok();
    }
    let grants: Api<RoleGrant> = world.api();
    let mut principals = Vec::new();
    for name in ["ci-deployer-orders", "ci-deployer-creator"] {
        principals.push(wait_for(&grants, name, TIMEOUT, "Ready", is_ready).await.status.unwrap().principal_id.unwrap());
    }
    let accounts: Api<crdb_cloud_operator::api::ServiceAccount> = world.api();
    let account = accounts.get("ci-deployer").await.unwrap().status.unwrap().service_account_id.unwrap();
    assert_eq!(principals, [account.clone(), account.clone()], "the grants name the declared service account");
    let roles = world.admin.cloud().get_roles_for_user(&account).await.unwrap().roles;
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert!(names.contains(&"CLUSTER_DEVELOPER") && names.contains(&"CLUSTER_CREATOR"), "{roles:?}");
}
