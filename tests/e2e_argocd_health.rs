//! The Argo CD health check shipped in deploy/argocd/health.lua, run as Argo CD runs it: the exact
//! file, in a Lua 5.1 interpreter (Argo CD's gopher-lua implements Lua 5.1), with the live object
//! from the real apiserver as the global `obj`. Every kind is read in every state a GitOps user
//! meets: just applied (no status), creating, Ready, Stalled, spec changed but not yet seen by the
//! operator (observedGeneration behind), and being deleted.
//!
//! Argo CD's own rule comes first, as in gitops-engine's `GetResourceHealth`: an object with a
//! deletionTimestamp is "Progressing" ("Pending deletion") whatever the script says. The script's
//! own answer for such objects is checked too, so the file stays sensible on its own (a deletion
//! bumps the generation: "Progressing" until the operator has seen it, then what it reports).

use std::time::Duration;

use crdb_cloud_operator::api::{APIKey, AllowlistEntry, CockroachCluster, Database, EgressRule, Folder, JWTIssuer, PrivateEndpointConnection, PrivateEndpointTrustedOwner, RoleGrant, SQLUser, ServiceAccount};
use crdb_cloud_operator::controller::registry;
use kube::api::{Patch, PatchParams};
use mlua::{Lua, Table};
use serde_json::{Value, json};
use crdb_test_support::World;
use crdb_test_support::kubectl;
use crdb_test_support::*;

const TIMEOUT: Duration = Duration::from_secs(60);
/// Argo CD's health codes (gitops-engine `HealthStatusCode`); anything else is an error there.
const ARGO_STATUSES: [&str; 6] = ["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"];

fn script() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/argocd/health.lua")).expect("deploy/argocd/health.lua")
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Health {
    status: String,
    message: String,
}

/// A JSON value as Argo CD hands it to Lua: objects and arrays become tables (arrays 1-based),
/// JSON null becomes nil (the key is absent), numbers are Lua numbers.
fn to_lua(lua: &Lua, value: &Value) -> mlua::Value {
    match value {
        Value::Null => mlua::Value::Nil,
        Value::Bool(b) => mlua::Value::Boolean(*b),
        Value::Number(n) => mlua::Value::Number(n.as_f64().expect("a JSON number")),
        Value::String(s) => mlua::Value::String(lua.create_string(s).unwrap()),
        Value::Array(items) => {
            let table = lua.create_table().unwrap();
            for (i, item) in items.iter().enumerate() {
                table.set(i + 1, to_lua(lua, item)).unwrap();
            }
            mlua::Value::Table(table)
        }
        Value::Object(map) => {
            let table = lua.create_table().unwrap();
            for (key, item) in map {
                table.set(key.as_str(), to_lua(lua, item)).unwrap();
            }
            mlua::Value::Table(table)
        }
    }
}

/// What the script returns for `obj`, in a fresh interpreter.
fn script_health(obj: &Value) -> Health {
    let lua = Lua::new();
    lua.globals().set("obj", to_lua(&lua, obj)).unwrap();
    let result: Table = lua.load(script()).set_name("health.lua").eval().unwrap_or_else(|e| panic!("health.lua failed on {obj:#}: {e}"));
    let status: String = result.get("status").unwrap();
    let message: Option<String> = result.get("message").unwrap();
    assert!(ARGO_STATUSES.contains(&status.as_str()), "health.lua returned {status:?}, which Argo CD rejects");
    Health { status, message: message.unwrap_or_default() }
}

/// What Argo CD reports: its deletion rule first, then the script.
fn argo_health(obj: &Value) -> Health {
    if !obj["metadata"]["deletionTimestamp"].is_null() {
        return Health { status: "Progressing".into(), message: "Pending deletion".into() };
    }
    script_health(obj)
}

/// The object exactly as Argo CD's cache holds it (the apiserver's JSON).
async fn live(ns: &str, resource: &str) -> Value {
    let out = kubectl(&["get", "-n", ns, resource, "-o", "json"], None).await.ok();
    serde_json::from_str(&out.stdout).unwrap()
}

fn condition_message(obj: &Value, type_: &str) -> String {
    obj["status"]["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == type_).map(|c| c["message"].as_str().unwrap_or("").to_string()).unwrap_or_default()
}

/// The objects of a cluster with one child of each kind, as kubectl names them (one per registered
/// kind), from `names` (kind, resource name).
fn resources(names: &[(&str, &str)]) -> Vec<String> {
    // Every registered kind: a kind added to the registry fails here until this test covers it in
    // every state below.
    let name = |kind: &str| {
        names.iter().find(|(k, _)| *k == kind).map(|(_, n)| *n).unwrap_or_else(|| panic!("{kind} is registered but this test reads no {kind} in any state; add it"))
    };
    registry::kinds().iter().map(|k| format!("{}.{}/{}", k.plural(), k.crd().spec.group, name(&k.kind()))).collect()
}

/// Asserts what Argo CD (and the script alone) report for each of `resources`.
async fn assert_health(ns: &str, resources: &[String], state: &str, expect: impl Fn(&Value) -> (Health, Health)) {
    for resource in resources {
        let obj = live(ns, resource).await;
        let (argo, script) = expect(&obj);
        assert_eq!(argo_health(&obj), argo, "{state}: Argo CD's health of {resource}:\n{obj:#}");
        assert_eq!(script_health(&obj), script, "{state}: health.lua's answer for {resource}:\n{obj:#}");
    }
}

fn health(status: &str, message: impl Into<String>) -> Health {
    Health { status: status.into(), message: message.into() }
}

#[test]
fn the_readme_shows_the_shipped_file() {
    let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let key = "resource.customizations.health.crdbcloud.io_*: |";
    let start = readme.find(key).expect("the README's argocd-cm snippet") + key.len();
    // The block scalar: the lines indented by four spaces that follow the key.
    let shown: String = readme[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    assert_eq!(shown.trim_end(), script().trim_end(), "README.md must show deploy/argocd/health.lua exactly");
}

#[test]
fn the_script_handles_objects_without_a_status_or_conditions() {
    let bare = json!({"apiVersion": "crdbcloud.io/v1alpha1", "kind": "Database", "metadata": {"name": "x", "generation": 1}});
    assert_eq!(script_health(&bare), health("Progressing", "Waiting for the operator"));
    let empty = json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1}});
    assert_eq!(script_health(&empty), health("Progressing", "Waiting for the operator"));
    // A Stalled condition wins over Ready, whatever the order.
    let both = json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "conditions": [
        {"type": "Ready", "status": "True", "message": "ok"},
        {"type": "Stalled", "status": "True", "message": "stuck"}
    ]}});
    assert_eq!(script_health(&both), health("Degraded", "stuck"));
    // Paused (crdbcloud.io/paused): Suspended, even with a spec change the operator has not seen.
    let paused = json!({"metadata": {"generation": 3}, "status": {"observedGeneration": 2, "conditions": [
        {"type": "Ready", "status": "True", "message": "ok"},
        {"type": "Paused", "status": "True", "message": "crdbcloud.io/paused is \"true\""}
    ]}});
    assert_eq!(script_health(&paused), health("Suspended", "crdbcloud.io/paused is \"true\""));
}

#[tokio::test]
async fn every_kind_in_every_state_reads_as_argo_cd_would_report_it() {
    // Clusters stay CREATING for a while, so the creating state can be read.
    let sim = start_simulator_with(&[], |c| c.cluster_create_delay = Duration::from_secs(8)).await;
    let mut world = World::with_simulator("argocd-health", sim).await;
    let ns = world.ns().to_string();
    let good = resources(&[
        ("CockroachCluster", "shop-db"),
        ("SQLUser", "app"),
        ("Database", "orders"),
        ("AllowlistEntry", "office"),
        ("EgressRule", "backups"),
        ("Folder", "team"),
        ("ServiceAccount", "deployer"),
        ("APIKey", "deployer-key"),
        ("RoleGrant", "deployer-dev"),
        ("JWTIssuer", "ci"),
        ("PrivateEndpointConnection", "app-endpoint"),
        ("PrivateEndpointTrustedOwner", "trusted-account"),
    ]);
    // The organisation-level kinds are honoured in this namespace.
    let trusted = |options: &mut OperatorOptions<'_>| options.org_namespaces = vec![options.namespace.to_string()];

    // Just applied, before any operator saw it: no status.
    world.apply(&cluster_with_one_child_of_each_kind("shop-db")).await;
    let waiting = health("Progressing", "Waiting for the operator");
    assert_health(&ns, &good, "applied", |_| (waiting.clone(), waiting.clone())).await;

    // Creating: the cluster is CREATING, its children wait for it (Reconciling=True); the service
    // account's create takes 10 s to answer, and its key waits for it.
    world.admin.add_fault(&FaultSpec { latency_ms: Some(10_000), ..FaultSpec::on(Operation::CreateServiceAccount) }).await;
    world.admin.add_fault(&FaultSpec { latency_ms: Some(8000), ..FaultSpec::on(Operation::CreateFolder) }).await;
    world.admin.add_fault(&FaultSpec { latency_ms: Some(12_000), ..FaultSpec::on(Operation::AddJWTIssuer) }).await;
    world.start_operator(trusted);
    wait_for(&world.api::<Folder>(), "team", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    wait_for(&world.api::<JWTIssuer>(), "ci", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    wait_for(&world.api::<PrivateEndpointConnection>(), "app-endpoint", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    wait_for(&world.api::<PrivateEndpointTrustedOwner>(), "trusted-account", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    wait_for(&world.api::<ServiceAccount>(), "deployer", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    wait_for(&world.api::<APIKey>(), "deployer-key", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    wait_for(&world.api::<RoleGrant>(), "deployer-dev", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    wait_for(&world.api::<CockroachCluster>(), "shop-db", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    wait_for(&world.api::<SQLUser>(), "app", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    wait_for(&world.api::<Database>(), "orders", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    wait_for(&world.api::<AllowlistEntry>(), "office", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    wait_for(&world.api::<EgressRule>(), "backups", TIMEOUT, "Reconciling", |o| condition(o, "Reconciling").is_some_and(|c| c.0 == "True")).await;
    assert_health(&ns, &good, "creating", |obj| {
        // The message is the Ready condition's (what the operator is waiting for).
        let progressing = health("Progressing", condition_message(obj, "Ready"));
        assert!(!progressing.message.is_empty(), "the Ready condition says what is awaited: {obj:#}");
        (progressing.clone(), progressing)
    })
    .await;

    // Ready.
    wait_for(&world.api::<CockroachCluster>(), "shop-db", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<SQLUser>(), "app", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<Database>(), "orders", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<AllowlistEntry>(), "office", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<EgressRule>(), "backups", TIMEOUT, "Ready", is_ready).await;
    let account = wait_for(&world.api::<ServiceAccount>(), "deployer", TIMEOUT, "Ready", is_ready).await.status.unwrap().service_account_id.unwrap();
    wait_for(&world.api::<APIKey>(), "deployer-key", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<RoleGrant>(), "deployer-dev", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<Folder>(), "team", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<JWTIssuer>(), "ci", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<PrivateEndpointConnection>(), "app-endpoint", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<PrivateEndpointTrustedOwner>(), "trusted-account", TIMEOUT, "Ready", is_ready).await;
    assert_health(&ns, &good, "ready", |obj| {
        let healthy = health("Healthy", condition_message(obj, "Ready"));
        (healthy.clone(), healthy)
    })
    .await;

    // Stalled: resources of every kind whose credentialsRef holds a key the cloud rejects.
    let wrong_key = "  credentialsRef:\n    name: wrong-key\n";
    let cluster = serverless_cluster("locked-db").replace("  provider: GCP\n", &format!("  provider: GCP\n{wrong_key}"));
    world
        .apply(&[
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: wrong-key\nstringData:\n  apiKey: ccdb1_not_a_key_of_this_organisation\n".to_string(),
            format!("---\n{cluster}"),
            child("SQLUser", "app-locked", "shop-db", wrong_key),
            child("Database", "orders-locked", "shop-db", wrong_key),
            child("AllowlistEntry", "office-locked", "shop-db", &format!("{wrong_key}  cidr: \"198.51.100.0/24\"\n")),
            child("EgressRule", "backups-locked", "shop-db", &format!("{wrong_key}  type: FQDN\n  destination: s3.amazonaws.com\n")),
            org_level("Folder", "team-locked", wrong_key),
            format!("{}{wrong_key}", jwt_issuer("ci-locked", "https://locked.issuer.example.com")),
            child("PrivateEndpointConnection", "endpoint-locked", "shop-db", &format!("{wrong_key}  endpointId: vpce-0f1e2d3c4b5a69788\n")),
            child("PrivateEndpointTrustedOwner", "account-locked", "shop-db", &format!("{wrong_key}  externalOwnerId: \"210987654321\"\n")),
            org_level("ServiceAccount", "sa-locked", wrong_key),
            org_level("APIKey", "key-locked", &format!("{wrong_key}  serviceAccountId: {account}\n")),
            org_level("RoleGrant", "grant-locked", &format!("{wrong_key}  userId: {account}\n  role: CLUSTER_CREATOR\n  scope: {{organization: true}}\n")),
        ]
        .concat())
        .await;
    wait_for(&world.api::<CockroachCluster>(), "locked-db", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    wait_for(&world.api::<SQLUser>(), "app-locked", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    wait_for(&world.api::<Database>(), "orders-locked", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    wait_for(&world.api::<AllowlistEntry>(), "office-locked", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    wait_for(&world.api::<EgressRule>(), "backups-locked", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    wait_for(&world.api::<ServiceAccount>(), "sa-locked", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    wait_for(&world.api::<APIKey>(), "key-locked", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    wait_for(&world.api::<RoleGrant>(), "grant-locked", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    wait_for(&world.api::<Folder>(), "team-locked", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    wait_for(&world.api::<JWTIssuer>(), "ci-locked", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    wait_for(&world.api::<PrivateEndpointConnection>(), "endpoint-locked", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    wait_for(&world.api::<PrivateEndpointTrustedOwner>(), "account-locked", TIMEOUT, "Stalled", |o| is_stalled_with(o, "CredentialsRejected")).await;
    let locked = resources(&[
        ("CockroachCluster", "locked-db"),
        ("SQLUser", "app-locked"),
        ("Database", "orders-locked"),
        ("AllowlistEntry", "office-locked"),
        ("EgressRule", "backups-locked"),
        ("Folder", "team-locked"),
        ("ServiceAccount", "sa-locked"),
        ("APIKey", "key-locked"),
        ("RoleGrant", "grant-locked"),
        ("JWTIssuer", "ci-locked"),
        ("PrivateEndpointConnection", "endpoint-locked"),
        ("PrivateEndpointTrustedOwner", "account-locked"),
    ]);
    assert_health(&ns, &locked, "stalled", |obj| {
        let degraded = health("Degraded", condition_message(obj, "Stalled"));
        assert!(!degraded.message.is_empty(), "the Stalled condition says why: {obj:#}");
        (degraded.clone(), degraded)
    })
    .await;

    // observedGeneration behind: the spec changed while no operator runs (e.g. during an upgrade):
    // every object now names a credentials Secret (holding the same key).
    world.operator.take().expect("the operator runs").terminate().await;
    world.apply(&format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: good-key\nstringData:\n  apiKey: {TEST_API_KEY}\n")).await;
    let params = PatchParams::default();
    let patch = Patch::Merge(json!({"spec": {"credentialsRef": {"name": "good-key"}}}));
    world.api::<CockroachCluster>().patch("shop-db", &params, &patch).await.unwrap();
    world.api::<SQLUser>().patch("app", &params, &patch).await.unwrap();
    world.api::<Database>().patch("orders", &params, &patch).await.unwrap();
    world.api::<AllowlistEntry>().patch("office", &params, &patch).await.unwrap();
    world.api::<EgressRule>().patch("backups", &params, &patch).await.unwrap();
    world.api::<ServiceAccount>().patch("deployer", &params, &patch).await.unwrap();
    world.api::<APIKey>().patch("deployer-key", &params, &patch).await.unwrap();
    world.api::<RoleGrant>().patch("deployer-dev", &params, &patch).await.unwrap();
    world.api::<Folder>().patch("team", &params, &patch).await.unwrap();
    world.api::<JWTIssuer>().patch("ci", &params, &patch).await.unwrap();
    world.api::<PrivateEndpointConnection>().patch("app-endpoint", &params, &patch).await.unwrap();
    world.api::<PrivateEndpointTrustedOwner>().patch("trusted-account", &params, &patch).await.unwrap();
    assert_health(&ns, &good, "generation behind", |obj| {
        let observed = obj["status"]["observedGeneration"].as_i64().unwrap();
        assert!(observed < obj["metadata"]["generation"].as_i64().unwrap(), "{obj:#}");
        assert!(!condition_message(obj, "Ready").is_empty(), "still Ready=True from the old generation: {obj:#}");
        (waiting.clone(), waiting.clone())
    })
    .await;

    // Being deleted, not seen yet: the finalizer holds them while no operator runs. Argo CD says
    // "Pending deletion" before running the script. The deletion bumps the generation, so the
    // script alone says the operator has not caught up.
    let mut delete = vec!["delete", "-n", ns.as_str(), "--wait=false"];
    let all: Vec<String> = good.iter().chain(locked.iter()).cloned().collect();
    delete.extend(all.iter().map(String::as_str));
    kubectl(&delete, None).await.ok();
    let pending = health("Progressing", "Pending deletion");
    assert_health(&ns, &all, "deleting, not seen yet", |obj| {
        assert!(!obj["metadata"]["deletionTimestamp"].is_null(), "{obj:#}");
        (pending.clone(), waiting.clone())
    })
    .await;

    // Being deleted, seen: the cloud answers every delete with 503, so each object reports that it
    // is retrying (Reconciling, the Ready condition saying why).
    for operation in [
        Operation::DeleteCluster,
        Operation::DeleteSQLUser,
        Operation::DeleteDatabase,
        Operation::DeleteAllowlistEntry,
        Operation::DeleteEgressRule,
        Operation::DeleteServiceAccount,
        Operation::DeleteApiKey,
        Operation::RemoveUserFromRole,
        Operation::DeleteFolder,
        Operation::DeleteJWTIssuer,
        Operation::DeletePrivateEndpointConnection,
        Operation::RemovePrivateEndpointTrustedOwner,
    ] {
        world.admin.add_fault(&FaultSpec { status: Some(503), count: 1000, ..FaultSpec::on(operation) }).await;
    }
    world.start_operator(trusted);
    let failing = |o: &Value| condition(o, "Ready").is_some_and(|c| c.2.ends_with("(retrying)")) && generation_observed(o);
    for child in &good {
        let deadline = std::time::Instant::now() + TIMEOUT;
        while !failing(&live(&ns, child).await) {
            assert!(std::time::Instant::now() < deadline, "{child} never reported its failing delete:\n{:#}", live(&ns, child).await);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    assert_health(&ns, &good, "deleting, seen", |obj| {
        assert!(!obj["metadata"]["deletionTimestamp"].is_null(), "{obj:#}");
        (pending.clone(), health("Progressing", condition_message(obj, "Ready")))
    })
    .await;
    // Resources that never reached the cloud are released at once.
    wait_gone(&world.api::<CockroachCluster>(), "locked-db", TIMEOUT).await;
    wait_gone(&world.api::<SQLUser>(), "app-locked", TIMEOUT).await;
    wait_gone(&world.api::<Database>(), "orders-locked", TIMEOUT).await;
    wait_gone(&world.api::<AllowlistEntry>(), "office-locked", TIMEOUT).await;
    wait_gone(&world.api::<EgressRule>(), "backups-locked", TIMEOUT).await;
    wait_gone(&world.api::<ServiceAccount>(), "sa-locked", TIMEOUT).await;
    wait_gone(&world.api::<APIKey>(), "key-locked", TIMEOUT).await;
    wait_gone(&world.api::<RoleGrant>(), "grant-locked", TIMEOUT).await;
    wait_gone(&world.api::<Folder>(), "team-locked", TIMEOUT).await;
    wait_gone(&world.api::<JWTIssuer>(), "ci-locked", TIMEOUT).await;
    wait_gone(&world.api::<PrivateEndpointConnection>(), "endpoint-locked", TIMEOUT).await;
    wait_gone(&world.api::<PrivateEndpointTrustedOwner>(), "account-locked", TIMEOUT).await;
}
