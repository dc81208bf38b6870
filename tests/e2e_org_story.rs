//! The organisation story end to end (a real kube-apiserver, kubectl, two operator processes and
//! the Cloud API simulator): a platform team's admin namespace declares a Folder, a ServiceAccount
//! with a RoleGrant on that folder, and an APIKey of that account. A team namespace, trusted with no
//! organisation-level kind, runs on that key (its Secret handed over, as a secret-sync tool would)
//! and creates a cluster in the folder with a SQL user, a database and an allowlist entry. The key's
//! role is on the folder only: a cluster it declares outside the folder is refused by the cloud
//! (Stalled with the cloud's message, one create sent). A RoleGrant declared in the team namespace
//! is refused and sends nothing.
//!
//! Each namespace has its own operator here (each watches one namespace); both trust only the admin
//! namespace with organisation-level kinds, as `--org-namespaces` would configure a single one.

use std::time::Duration;

use crdb_cloud::Operation;
use crdb_cloud::models::{OrganizationUserRole, ResourceType};
use crdb_cloud_operator::api::{APIKey, AllowlistEntry, CockroachCluster, Database, Folder, RoleGrant, SQLUser, ServiceAccount};
use crdb_test_support::*;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;

const TIMEOUT: Duration = Duration::from_secs(90);

const ADMIN_DECLARES: &str = r#"apiVersion: crdbcloud.io/v1alpha1
kind: Folder
metadata: {name: payments}
spec: {}
---
apiVersion: crdbcloud.io/v1alpha1
kind: ServiceAccount
metadata: {name: payments-deployer}
spec:
  description: deploys the payments team's clusters
---
apiVersion: crdbcloud.io/v1alpha1
kind: RoleGrant
metadata: {name: payments-deployer-admin}
spec:
  serviceAccountRef: {name: payments-deployer}
  role: CLUSTER_ADMIN
  scope:
    folderRef: {name: payments}
---
apiVersion: crdbcloud.io/v1alpha1
kind: APIKey
metadata: {name: payments-deployer-key}
spec:
  serviceAccountRef: {name: payments-deployer}
  secretName: payments-key
"#;

#[tokio::test]
async fn a_team_runs_on_a_key_its_admins_declared_in_their_folder_and_cannot_grant_itself_roles() {
    let admin = World::start("story-admin").await;
    let team = test_namespace("story-team").await;
    let url = admin.sim.base_url();
    let _team_operator = Operator::start(OperatorOptions::new(team.name(), &url).trusting_org_namespaces(&[admin.ns()]));

    // The admin namespace: folder, account, its grant on the folder, its key.
    admin.apply(ADMIN_DECLARES).await;
    let folder = wait_for(&admin.api::<Folder>(), "payments", TIMEOUT, "Ready", is_ready).await;
    let folder_id = folder.status.and_then(|s| s.folder_id).unwrap();
    let account = wait_for(&admin.api::<ServiceAccount>(), "payments-deployer", TIMEOUT, "Ready", is_ready).await;
    let account_id = account.status.and_then(|s| s.service_account_id).unwrap();
    wait_for(&admin.api::<RoleGrant>(), "payments-deployer-admin", TIMEOUT, "Ready", is_ready).await;
    wait_for(&admin.api::<APIKey>(), "payments-deployer-key", TIMEOUT, "Ready", is_ready).await;
    let roles = admin.admin.cloud().get_roles_for_user(&account_id).await.unwrap().roles;
    assert!(
        roles.iter().any(|r| r.name == OrganizationUserRole::ClusterAdmin && r.resource.resource_type == ResourceType::Folder && r.resource.id.as_deref() == Some(folder_id.as_str())),
        "{roles:?}"
    );

    // The key's Secret is handed to the team namespace.
    let issued = admin.api::<Secret>().get("payments-key").await.unwrap().data.unwrap()["apiKey"].clone();
    let mut handed = Secret::default();
    handed.metadata.name = Some("cloud-key".into());
    handed.data = Some([("apiKey".to_string(), ByteString(issued.0))].into());
    team.api::<Secret>().create(&PostParams::default(), &handed).await.unwrap();

    // The team namespace: a cluster in the folder on that key, with its contents.
    let cluster = serverless_cluster("payments-db").replace("  labels:\n", &format!("  credentialsRef:\n    name: cloud-key\n  parentId: {folder_id}\n  labels:\n"));
    let contents = [
        cluster,
        child("SQLUser", "payments-app", "payments-db", ""),
        child("Database", "payments", "payments-db", ""),
        child("AllowlistEntry", "payments-office", "payments-db", "  cidr: \"198.51.100.0/24\"\n"),
    ]
    .concat();
    kubectl(&["apply", "-n", team.name(), "-f", "-"], Some(&contents)).await.ok();
    let ready = wait_for(&team.api::<CockroachCluster>(), "payments-db", TIMEOUT, "Ready", is_ready).await;
    let cluster_id = ready.status.and_then(|s| s.cluster_id).unwrap();
    wait_for(&team.api::<SQLUser>(), "payments-app", TIMEOUT, "Ready", is_ready).await;
    wait_for(&team.api::<Database>(), "payments", TIMEOUT, "Ready", is_ready).await;
    wait_for(&team.api::<AllowlistEntry>(), "payments-office", TIMEOUT, "Ready", is_ready).await;
    let held = admin.admin.cluster(&cluster_id).await.unwrap();
    assert_eq!(held.cluster.parent_id.as_deref(), Some(folder_id.as_str()), "the cluster is in the admins' folder");

    // The key's role is on the folder only: a cluster outside it (no parent) is refused by the
    // cloud. The cluster is Stalled with the cloud's permission message, and the refused create is
    // not sent again and again.
    let creates_before = admin.admin.count(Operation::CreateCluster).await;
    let stray = serverless_cluster("payments-stray").replace("  labels:\n", "  credentialsRef:\n    name: cloud-key\n  labels:\n");
    kubectl(&["apply", "-n", team.name(), "-f", "-"], Some(&stray)).await.ok();
    let stalled = wait_for(&team.api::<CockroachCluster>(), "payments-stray", TIMEOUT, "Stalled", |c| is_stalled_with(c, "PermissionDenied")).await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains("CLUSTER_ADMIN or CLUSTER_CREATOR on the organization") && message.contains(&account_id), "{message}");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let refused_creates = admin.admin.requests_of(Operation::CreateCluster).await.into_iter().skip(creates_before).collect::<Vec<_>>();
    assert_eq!(refused_creates.iter().map(|r| r.status).collect::<Vec<_>>(), [403], "one refused create, no loop: {refused_creates:?}");
    assert!(admin.admin.clusters().await.iter().all(|c| c.cluster.name != "payments-stray"), "nothing was created outside the folder");
    let still = wait_for(&team.api::<CockroachCluster>(), "payments-db", TIMEOUT, "Ready", is_ready).await;
    assert!(is_ready(&still), "the cluster in the folder stays Ready");

    // The team cannot grant itself a role: Stalled, no finalizer, nothing sent.
    let grants_before = admin.admin.count(Operation::AddUserToRole).await;
    let sneaky = format!(
        "apiVersion: crdbcloud.io/v1alpha1\nkind: RoleGrant\nmetadata: {{name: payments-org-admin}}\nspec:\n  userId: {account_id}\n  role: ORG_ADMIN\n  scope: {{organization: true}}\n  credentialsRef: {{name: cloud-key}}\n"
    );
    kubectl(&["apply", "-n", team.name(), "-f", "-"], Some(&sneaky)).await.ok();
    let refused = wait_for(&team.api::<RoleGrant>(), "payments-org-admin", TIMEOUT, "Stalled", |g| is_stalled_with(g, "NamespaceNotAllowed")).await;
    assert!(refused.metadata.finalizers.unwrap_or_default().is_empty());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(admin.admin.count(Operation::AddUserToRole).await, grants_before, "no grant was sent for the team");
    let roles = admin.admin.cloud().get_roles_for_user(&account_id).await.unwrap().roles;
    assert!(!roles.iter().any(|r| r.name == OrganizationUserRole::OrgAdmin), "{roles:?}");
}

/// Organisation-level objects at rest: every kind is read from one list per API key per resync,
/// shared by all its resources, never one GET per resource.
#[tokio::test]
async fn organisation_objects_at_rest_cost_one_list_per_kind_per_resync() {
    let world = World::start_with("org-rest", |o| o.resync_seconds = 3).await;
    let mut manifests = String::new();
    for n in ["a", "b", "c"] {
        manifests.push_str(&org_level("ServiceAccount", &format!("rest-{n}"), "  description: at rest\n"));
        manifests.push_str(&org_level("APIKey", &format!("rest-key-{n}"), "  serviceAccountRef: {name: rest-a}\n"));
        manifests.push_str(&jwt_issuer(&format!("rest-jwt-{n}"), &format!("https://rest-{n}.issuer.example.com")));
        manifests.push_str(&format!("---\napiVersion: crdbcloud.io/v1alpha1\nkind: Folder\nmetadata:\n  name: rest-folder-{n}\nspec: {{}}\n"));
    }
    world.apply(&manifests).await;
    for n in ["a", "b", "c"] {
        wait_for(&world.api::<ServiceAccount>(), &format!("rest-{n}"), TIMEOUT, "Ready", is_ready).await;
        wait_for(&world.api::<APIKey>(), &format!("rest-key-{n}"), TIMEOUT, "Ready", is_ready).await;
        wait_for(&world.api::<crdb_cloud_operator::api::JWTIssuer>(), &format!("rest-jwt-{n}"), TIMEOUT, "Ready", is_ready).await;
        wait_for(&world.api::<Folder>(), &format!("rest-folder-{n}"), TIMEOUT, "Ready", is_ready).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let kinds = [
        ("service accounts", Operation::GetServiceAccount, Operation::ListServiceAccounts),
        ("API keys", Operation::GetApiKey, Operation::ListApiKeys),
        ("JWT issuers", Operation::GetJWTIssuer, Operation::ListJWTIssuers),
        ("folders", Operation::GetFolder, Operation::ListFolders),
    ];
    let mut before = Vec::new();
    for (_, get, list) in kinds {
        before.push((world.admin.count(get).await, world.admin.count(list).await));
    }
    let window = Duration::from_secs(15);
    tokio::time::sleep(window).await;
    for ((what, get, list), (gets, lists)) in kinds.into_iter().zip(before) {
        let (gets, lists) = (world.admin.count(get).await - gets, world.admin.count(list).await - lists);
        println!("{what} at rest: {lists} lists and {gets} single reads in {window:?}, three resources at a 3 s resync");
        // Three resources drift-checked every 3 s for 15 s: one shared list per resync (about five,
        // a few more with the resync's jitter), not one read per resource (fifteen).
        assert_eq!(gets, 0, "settled {what} are read from the shared list");
        assert!((3..=8).contains(&lists), "{lists} lists of {what} in {window:?} at a 3 s resync");
    }
}
