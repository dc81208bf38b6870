//! `crdb-cloud-operator export`, round trip: an organisation built through the Cloud API (as a
//! team that used the console would have it) is exported, the export is applied to an empty
//! namespace, every resource becomes Ready and finds its object exactly as exported (InSync)
//! without a single write to the cloud, and `plan` on the exported files reports no change.

use std::path::Path;
use std::time::Duration;

use std::collections::BTreeMap;

use crdb_cloud::models::{
    AddEgressRuleRequest, AddJwtIssuerRequest, AddPrivateEndpointTrustedOwnerRequest, AllowlistEntry, BuiltInRole, CloudProvider, ClusterState, CreateApiKeyRequest,
    CreateClusterRequest, CreateClusterSpec, CreateFolderRequest, CreateServiceAccountRequest, DedicatedCreateSpec, EgressRuleType, HardwareSpec, MachineSpec,
    OrganizationUserRole, PrivateEndpointTrustedOwnerType, ResourceType, RoleResource,
};
use crdb_cloud_operator::controller::registry;
use crdb_test_support::*;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(90);

/// Runs the operator binary's `sub` command with the test key against the world's simulator.
async fn run(world: &World, args: &[&str]) -> std::process::Output {
    let mut cmd = shared().command(operator_binary().to_str().unwrap());
    cmd.args(args).env("COCKROACH_API_KEY", TEST_API_KEY).env("CRDB_CLOUD_API_URL", world.sim.base_url());
    tokio::process::Command::from(cmd).output().await.unwrap()
}

fn every_kind() -> String {
    registry::kinds().iter().map(|k| format!("{}.{}", k.plural(), k.crd().spec.group)).collect::<Vec<_>>().join(",")
}

fn read_all(dir: &Path) -> Vec<Value> {
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        docs.push(serde_norway::from_str::<Value>(&text).unwrap());
    }
    docs
}

#[tokio::test]
async fn an_exported_organisation_applies_with_no_cloud_write_and_plans_no_change() {
    let world = World::without_operator("export").await;
    let cloud = world.admin.cloud();
    // The estate, made through the API.
    let cluster = cloud.create_cluster(&console_cluster("legacy-db")).await.unwrap();
    let folder = cloud.create_folder(&CreateFolderRequest { name: "platform".into(), parent_id: None, labels: None }).await.unwrap();
    let account = cloud.create_service_account(&CreateServiceAccountRequest { name: "ci-bot".into(), description: "runs CI".into(), roles: Vec::new() }).await.unwrap();
    let grant = BuiltInRole { name: OrganizationUserRole::ClusterAdmin, resource: RoleResource { resource_type: ResourceType::Folder, id: Some(folder.resource_id.clone()) } };
    cloud.add_user_to_role(&account.id, &grant).await.unwrap();
    let jwks = r#"{"keys": [{"kty": "RSA", "kid": "k1", "e": "AQAB", "n": "tid8bJCI5Fxt"}]}"#;
    let issuer = AddJwtIssuerRequest { issuer_url: "https://issuer.example.com".into(), audience: "crdb".into(), jwks: Some(jwks.into()), claim: Some("sub".into()), identity_map: None };
    cloud.add_jwt_issuer(&issuer).await.unwrap();
    cloud.create_api_key(&CreateApiKeyRequest { name: "ci-key".into(), service_account_id: account.id.clone() }).await.unwrap();
    let dedicated = DedicatedCreateSpec {
        region_nodes: BTreeMap::from([("us-east-1".into(), 3)]),
        hardware: HardwareSpec { machine_spec: Some(MachineSpec { num_virtual_cpus: Some(4), machine_type: None }), storage_gib: Some(150), disk_iops: None },
        ..Default::default()
    };
    let spec = CreateClusterSpec { dedicated: Some(dedicated), ..Default::default() };
    let ledger = cloud.create_cluster(&CreateClusterRequest { name: "ledger".into(), provider: CloudProvider::Aws, spec }).await.unwrap();
    world.wait_cloud(&cluster.id, "created", TIMEOUT, |c| c.cluster.state == ClusterState::Created).await;
    world.wait_cloud(&ledger.id, "created", TIMEOUT, |c| c.cluster.state == ClusterState::Created).await;
    // An ADVANCED cluster's own members: an egress rule, a private endpoint and a trusted owner.
    cloud.set_egress_traffic_policy(&ledger.id, false).await.unwrap();
    let rule = AddEgressRuleRequest {
        name: "backups".into(),
        rule_type: EgressRuleType::Fqdn,
        destination: "storage.googleapis.com".into(),
        ports: vec![443],
        description: "backups to GCS".into(),
        idempotency_key: None,
    };
    cloud.add_egress_rule(&ledger.id, &rule).await.unwrap();
    cloud.create_private_endpoint_services(&ledger.id).await.unwrap();
    let owner = AddPrivateEndpointTrustedOwnerRequest { external_owner_id: "123456789012".into(), owner_type: PrivateEndpointTrustedOwnerType::AwsAccountId };
    cloud.add_private_endpoint_trusted_owner(&ledger.id, &owner).await.unwrap();
    let deadline = std::time::Instant::now() + TIMEOUT;
    while let Err(e) = cloud.add_private_endpoint_connection(&ledger.id, "vpce-0a1b2c3d4e5f67890").await {
        // The endpoint services are still being created.
        assert!(std::time::Instant::now() < deadline, "the endpoint connection was never accepted: {e}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    cloud.create_sql_user(&cluster.id, "app_user", "a-password-nobody-reads").await.unwrap();
    cloud.create_database(&cluster.id, "orders").await.unwrap();
    let entry = AllowlistEntry { cidr_ip: "203.0.113.0".into(), cidr_mask: 24, name: Some("office".into()), sql: true, ui: false };
    cloud.add_allowlist_entry(&cluster.id, &entry).await.unwrap();

    // Export it.
    let dir = tempfile::tempdir().unwrap();
    let since = world.admin.last_seq().await;
    let out = run(&world, &["export", "--all", "-o", dir.path().to_str().unwrap()]).await;
    assert!(out.status.success(), "export failed: {}", String::from_utf8_lossy(&out.stderr));
    let docs = read_all(dir.path());
    let find = |kind: &str, field: &str, value: &str| {
        docs.iter().find(|d| d["kind"] == kind && d["spec"][field] == value).unwrap_or_else(|| panic!("no exported {kind} with {field} {value}: {docs:#?}")).clone()
    };
    let exported_cluster = find("CockroachCluster", "adoptClusterId", &cluster.id);
    assert_eq!(exported_cluster["spec"]["managementPolicy"], "Observe");
    let cluster_name = exported_cluster["metadata"]["name"].as_str().unwrap().to_string();
    let user = find("SQLUser", "name", "app_user");
    assert_eq!(user["spec"]["clusterRef"]["name"], cluster_name.as_str(), "IDs of exported objects become references");
    assert!(user["metadata"]["annotations"]["crdbcloud.io/export-note"].as_str().unwrap().contains("never shows"), "{user:#}");
    assert!(!serde_json::to_string(&docs).unwrap().contains("a-password-nobody-reads"));
    let role = docs.iter().find(|d| d["kind"] == "RoleGrant" && d["spec"]["role"] == "CLUSTER_ADMIN").expect("the account's grant");
    assert!(role["spec"]["scope"]["folderRef"]["name"].is_string() && role["spec"]["serviceAccountRef"]["name"].is_string(), "{role:#}");
    for kind in registry::kinds().iter().map(|k| k.kind()) {
        assert!(docs.iter().any(|d| d["kind"] == kind), "no {kind} exported");
    }

    // Apply it to an empty namespace, with the operator trusting it with organisation kinds.
    let mut world = world;
    world.start_operator(|_| {});
    kubectl(&["apply", "-n", world.ns(), "-f", dir.path().to_str().unwrap()], None).await.ok();
    let count = docs.len();
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let out = kubectl(&["get", "-n", world.ns(), &every_kind(), "-o", "json"], None).await.ok();
        let items: Value = serde_json::from_str(&out.stdout).unwrap();
        let items = items["items"].as_array().unwrap().clone();
        let cond = |o: &Value, t: &str| o["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == t && c["status"] == "True");
        let pending: Vec<String> = items.iter().filter(|o| !(cond(o, "Ready") && cond(o, "InSync"))).map(|o| format!("{} {}: {:#}", o["kind"], o["metadata"]["name"], o["status"])).collect();
        if items.len() == count && pending.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not every exported resource is Ready and InSync: {pending:#?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let writes: Vec<String> = world.admin.requests_after(since).await.into_iter().filter(|r| !r.starts_with("GET ")).collect();
    assert!(writes.is_empty(), "applying an export writes nothing to the cloud: {writes:#?}");

    // `plan` on the exported files: nothing to do.
    let out = run(&world, &["plan", "-f", dir.path().to_str().unwrap(), "-n", world.ns(), "-o", "json"]).await;
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "{plan:#}");
    assert!(plan["resources"].as_array().unwrap().iter().all(|r| r["action"] == "no-change"), "{plan:#}");
}
