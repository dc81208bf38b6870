//! APIKey end to end: a real kube-apiserver (with the garbage collector), kubectl, the real
//! operator binary (trusting the test namespace with organisation-level kinds) and the Cloud API
//! simulator, where a created key authenticates like any other and may do what its service
//! account's roles allow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crdb_cloud::models::{BuiltInRole, CreateApiKeyRequest, CreateServiceAccountRequest, OrganizationUserRole, ResourceType, RoleResource, UpdateApiKeySpecification};
use crdb_cloud::{ApiKey, BudgetRegistry, ClientConfig, CloudClient, CloudClients, CloudError};
use crdb_cloud_operator::api::{APIKey, CockroachCluster, ServiceAccount};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use crdb_test_support::World as Env;
use crdb_test_support::*;

const TIMEOUT: Duration = Duration::from_secs(40);

fn service_account(name: &str) -> String {
    format!("---\napiVersion: crdbcloud.io/v1alpha1\nkind: ServiceAccount\nmetadata:\n  name: {name}\nspec:\n  description: a robot\n")
}

fn api_key(name: &str, spec: &str) -> String {
    format!("---\napiVersion: crdbcloud.io/v1alpha1\nkind: APIKey\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

/// A Cloud API client with `key` (the simulator authenticates it like any key).
fn client_with(env: &Env, key: &str) -> CloudClient {
    let config = ClientConfig { base_url: env.sim.base_url().parse().unwrap(), ..Default::default() };
    CloudClients::new(config, BudgetRegistry::default()).unwrap().client(ApiKey::new(key))
}

async fn ready_key(env: &Env, name: &str, generation: i64) -> APIKey {
    wait_for(&env.api::<APIKey>(), name, TIMEOUT, "Ready", |k| is_ready(k) && k.metadata.generation == Some(generation)).await
}

fn key_id(key: &APIKey) -> String {
    key.status.as_ref().and_then(|s| s.api_key_id.clone()).expect("a Ready APIKey has status.apiKeyId")
}

async fn ready_account(env: &Env, name: &str) -> String {
    let sa = wait_for(&env.api::<ServiceAccount>(), name, TIMEOUT, "Ready", is_ready).await;
    sa.status.unwrap().service_account_id.unwrap()
}

async fn secret_value(env: &Env, name: &str) -> Option<String> {
    let secret = env.api::<Secret>().get_opt(name).await.unwrap()?;
    secret.data?.get("apiKey").map(|b| String::from_utf8(b.0.clone()).unwrap())
}

async fn keys_of(env: &Env, account: &str) -> Vec<String> {
    env.admin.cloud().list_api_keys(Some(account)).await.unwrap().items.into_iter().map(|k| k.id).collect()
}

#[tokio::test]
async fn create_use_as_credentials_rename_drift_delete_and_retain() {
    let env = Env::start_org("apikey-lifecycle", true).await;
    let cloud = env.admin.cloud();
    env.apply(&[service_account("robot"), api_key("robot-key", "  serviceAccountRef: {name: robot}\n")].concat()).await;
    let account = ready_account(&env, "robot").await;
    let key = ready_key(&env, "robot-key", 1).await;
    let id = key_id(&key);
    let shown = cloud.get_api_key(&id).await.unwrap();
    assert_eq!((shown.name.as_str(), shown.service_account_id.as_str()), ("robot-key", account.as_str()));
    assert_eq!(key.status.as_ref().unwrap().secret_name.as_deref(), Some("robot-key-api-key"));

    // The Secret: owned by the APIKey, holding a key that authenticates.
    let secret = env.api::<Secret>().get("robot-key-api-key").await.unwrap();
    assert_eq!(secret.owner_references().iter().map(|o| o.uid.as_str()).collect::<Vec<_>>(), vec![key.uid().unwrap().as_str()]);
    let value = secret_value(&env, "robot-key-api-key").await.unwrap();
    client_with(&env, &value).get_organization().await.expect("the key in the Secret authenticates");

    // ... and, once its account may create clusters, is the credentialsRef of a cluster.
    let organization = cloud.get_organization().await.unwrap().id;
    let creator = BuiltInRole { name: OrganizationUserRole::ClusterAdmin, resource: RoleResource { resource_type: ResourceType::Organization, id: Some(organization) } };
    cloud.add_user_to_role(&account, &creator).await.unwrap();
    let cluster = serverless_cluster("robot-db").replace("spec:\n", "spec:\n  credentialsRef: {name: robot-key-api-key}\n");
    env.apply(&cluster).await;
    wait_for(&env.api::<CockroachCluster>(), "robot-db", Duration::from_secs(60), "Ready", is_ready).await;

    // Rename in place; the Secret keeps the same key.
    env.api::<APIKey>().patch("robot-key", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"name": "robot-key-2"}}))).await.unwrap();
    assert_eq!(key_id(&ready_key(&env, "robot-key", 2).await), id);
    assert_eq!(cloud.get_api_key(&id).await.unwrap().name, "robot-key-2");
    assert_eq!(secret_value(&env, "robot-key-api-key").await.as_deref(), Some(value.as_str()));

    // Drift in the console is put back.
    cloud.update_api_key(&id, &UpdateApiKeySpecification { name: Some("hijacked".into()) }).await.unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while cloud.get_api_key(&id).await.unwrap().name != "robot-key-2" {
        assert!(Instant::now() < deadline, "the drift was not put back");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(events_for(env.ns(), "robot-key").await.iter().any(|e| e.starts_with("Warning DriftCorrected")));

    // The secret is nowhere but the Secret: not in status, events or the operator's log.
    let status = serde_json::to_string(&env.api::<APIKey>().get("robot-key").await.unwrap()).unwrap();
    let events = events_for(env.ns(), "robot-key").await.join("\n");
    let secret_part = value.rsplit('_').next().unwrap().to_string();
    for (corpus, text) in [("status", status.as_str()), ("events", events.as_str()), ("operator log", env.operator().logs().as_str())] {
        assert!(!text.contains(&secret_part), "the key's secret appears in the {corpus}");
    }

    // Delete: the cloud key goes, and the Secret with its owner.
    env.api::<CockroachCluster>().delete("robot-db", &DeleteParams::default()).await.unwrap();
    wait_gone(&env.api::<CockroachCluster>(), "robot-db", Duration::from_secs(60)).await;
    env.api::<APIKey>().delete("robot-key", &DeleteParams::default()).await.unwrap();
    wait_gone(&env.api::<APIKey>(), "robot-key", TIMEOUT).await;
    assert!(matches!(cloud.get_api_key(&id).await, Err(CloudError::NotFound(_))));
    assert!(matches!(client_with(&env, &value).get_organization().await, Err(CloudError::Unauthenticated(_))), "a deleted key stops working");
    wait_gone(&env.api::<Secret>(), "robot-key-api-key", TIMEOUT).await;

    // Retain leaves the key working.
    env.apply(&api_key("kept-key", &format!("  serviceAccountId: {account}\n  deletionPolicy: Retain\n"))).await;
    let kept = key_id(&ready_key(&env, "kept-key", 1).await);
    let kept_value = secret_value(&env, "kept-key-api-key").await.unwrap();
    env.api::<APIKey>().delete("kept-key", &DeleteParams::default()).await.unwrap();
    wait_gone(&env.api::<APIKey>(), "kept-key", TIMEOUT).await;
    assert_eq!(cloud.get_api_key(&kept).await.unwrap().id, kept);
    client_with(&env, &kept_value).get_organization().await.expect("a retained key keeps working");
}

#[tokio::test]
async fn rotation_keeps_a_working_key_at_every_moment_and_removes_the_old_one() {
    let env = Env::start_org("apikey-rotation", true).await;
    env.apply(&[service_account("rotor"), api_key("rotor-key", "  serviceAccountRef: {name: rotor}\n  rotationGracePeriodSeconds: 4\n")].concat()).await;
    let account = ready_account(&env, "rotor").await;
    let old_id = key_id(&ready_key(&env, "rotor-key", 1).await);
    let old_value = secret_value(&env, "rotor-key-api-key").await.unwrap();

    // Poll the Secret and use what it holds, all through the rotation.
    let stop = Arc::new(AtomicBool::new(false));
    let (uses, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let poller = {
        let (stop, uses, failures) = (stop.clone(), uses.clone(), failures.clone());
        let secrets = env.api::<Secret>();
        let base = env.sim.base_url();
        tokio::spawn(async move {
            let config = ClientConfig { base_url: base.parse().unwrap(), ..Default::default() };
            let clients = CloudClients::new(config, BudgetRegistry::default()).unwrap();
            while !stop.load(Ordering::Relaxed) {
                let secret = secrets.get("rotor-key-api-key").await.unwrap();
                let value = String::from_utf8(secret.data.unwrap()["apiKey"].0.clone()).unwrap();
                if clients.client(ApiKey::new(value)).get_organization().await.is_err() {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                uses.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    env.api::<APIKey>().patch("rotor-key", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"rotationGeneration": 1}}))).await.unwrap();
    let rotated = wait_for(&env.api::<APIKey>(), "rotor-key", TIMEOUT, "rotated", |k| is_ready(k) && k.status.as_ref().and_then(|s| s.api_key_id.as_deref()) != Some(old_id.as_str())).await;
    let new_id = key_id(&rotated);
    let new_value = secret_value(&env, "rotor-key-api-key").await.unwrap();
    assert_ne!(new_value, old_value);
    assert!(new_value.starts_with(&format!("{new_id}_")), "the Secret holds the new key");
    assert!(events_for(env.ns(), "rotor-key").await.iter().any(|e| e.starts_with("Normal KeyRotated")));

    // The old key is deleted once its grace is over, and stops working.
    let deadline = Instant::now() + TIMEOUT;
    while keys_of(&env, &account).await.contains(&old_id) {
        assert!(Instant::now() < deadline, "the old key was never deleted");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(keys_of(&env, &account).await, vec![new_id.clone()]);
    assert!(client_with(&env, &old_value).get_organization().await.is_err(), "the retired key no longer authenticates");
    wait_for(&env.api::<APIKey>(), "rotor-key", TIMEOUT, "without retiring keys", |k| k.status.as_ref().is_some_and(|s| s.retiring.is_empty())).await;

    stop.store(true, Ordering::Relaxed);
    poller.await.unwrap();
    let (uses, failures) = (uses.load(Ordering::Relaxed), failures.load(Ordering::Relaxed));
    println!("rotation: {uses} uses of the Secret's key while rotating, {failures} failed");
    assert!(uses > 20, "the poller ran through the rotation ({uses} uses)");
    assert_eq!(failures, 0, "the Secret held a key that did not work");

    // A Secret deleted by hand is replaced with a new key (its secret cannot be had again).
    env.api::<Secret>().delete("rotor-key-api-key", &DeleteParams::default()).await.unwrap();
    let replaced = wait_for(&env.api::<APIKey>(), "rotor-key", TIMEOUT, "replaced", |k| is_ready(k) && k.status.as_ref().and_then(|s| s.api_key_id.as_deref()) != Some(new_id.as_str())).await;
    let replacement = secret_value(&env, "rotor-key-api-key").await.expect("the Secret is back");
    assert!(replacement.starts_with(&format!("{}_", key_id(&replaced))));
    client_with(&env, &replacement).get_organization().await.unwrap();
}

#[tokio::test]
async fn a_lost_create_answer_leaves_one_working_key_and_adoption_needs_the_secret() {
    let env = Env::start_org("apikey-exactly-once", true).await;
    let cloud = env.admin.cloud();
    env.apply(&service_account("lossy")).await;
    let account = ready_account(&env, "lossy").await;

    // The create runs, its answer (with the secret) is lost: the orphan is deleted, a new key made.
    let (creates, deletes) = (env.admin.count(Operation::CreateApiKey).await, env.admin.count(Operation::DeleteApiKey).await);
    env.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::CreateApiKey) }).await;
    env.apply(&api_key("lossy-key", "  serviceAccountRef: {name: lossy}\n")).await;
    let id = key_id(&ready_key(&env, "lossy-key", 1).await);
    assert_eq!(keys_of(&env, &account).await, vec![id.clone()], "exactly one key after a lost create answer");
    assert_eq!(env.admin.count(Operation::CreateApiKey).await, creates + 2, "the lost create, then one more");
    assert_eq!(env.admin.count(Operation::DeleteApiKey).await, deletes + 1, "the orphan was deleted");
    client_with(&env, &secret_value(&env, "lossy-key-api-key").await.unwrap()).get_organization().await.expect("the Secret's key works");

    // Adoption: refused until the Secret holds the key's secret, then managed.
    let made = cloud.create_api_key(&CreateApiKeyRequest { name: "by-hand".into(), service_account_id: account.clone() }).await.unwrap();
    env.apply(&api_key("by-hand", &format!("  serviceAccountId: {account}\n  adoptApiKeyId: {}\n", made.api_key.id))).await;
    let stalled = wait_for(&env.api::<APIKey>(), "by-hand", TIMEOUT, "Stalled AdoptionFailed", |k| is_stalled_with(k, "AdoptionFailed")).await;
    let message = condition(&stalled, "Stalled").unwrap().2;
    assert!(message.contains("only when the key is created") && message.contains("by-hand-api-key"), "{message}");
    let provided: Secret = serde_json::from_value(json!({"metadata": {"name": "by-hand-api-key"}, "stringData": {"apiKey": made.secret.expose()}})).unwrap();
    env.api::<Secret>().create(&PostParams::default(), &provided).await.unwrap();
    assert_eq!(key_id(&ready_key(&env, "by-hand", 1).await), made.api_key.id);
    assert_eq!(keys_of(&env, &account).await.len(), 2, "adoption created nothing");

    // Bad input is refused at apply, naming the field.
    let refused = env.apply_refused(&api_key("no-account", "  name: orphan\n")).await;
    assert!(refused.contains("exactly one of spec.serviceAccountRef or spec.serviceAccountId"), "{refused}");

    // A service account the cloud does not know: the cloud's refusal, Stalled with its message.
    env.apply(&api_key("ghost-key", "  serviceAccountId: 99999999-9999-4999-8999-999999999999\n")).await;
    wait_for(&env.api::<APIKey>(), "ghost-key", TIMEOUT, "not created", |k| condition(k, "Ready").is_some_and(|(s, _, m)| s == "False" && m.contains("not found"))).await;
}

#[tokio::test]
async fn an_untrusted_namespace_sends_nothing() {
    let env = Env::start_org("apikey-untrusted", false).await;
    let account = env.admin.cloud().create_service_account(&CreateServiceAccountRequest { name: "x".into(), description: String::new(), roles: vec![] }).await.unwrap();
    let before = env.admin.requests(0, None).await.len();
    env.apply(&api_key("sneaky", &format!("  serviceAccountId: {}\n", account.id))).await;
    wait_for(&env.api::<APIKey>(), "sneaky", TIMEOUT, "Stalled NamespaceNotAllowed", |k| is_stalled_with(k, "NamespaceNotAllowed")).await;
    let after = env.admin.requests(0, None).await;
    assert_eq!(after.len(), before, "nothing is sent to the cloud: {:?}", &after[before..]);
    assert!(env.api::<Secret>().get_opt("sneaky-api-key").await.unwrap().is_none());
}

#[tokio::test]
async fn the_examples_become_ready_and_the_secret_works() {
    let env = Env::start_org("apikey-examples", true).await;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    for file in ["serviceaccount.yaml", "apikey.yaml"] {
        kubectl(&["apply", "-n", env.ns(), "-f", examples.join(file).to_str().unwrap()], None).await.ok();
    }
    kubectl(&["wait", "-n", env.ns(), "--for=condition=Ready", "--timeout=40s", "crdbsa/ci-deployer", "crdbapikey/ci-deployer-key"], None).await.ok();
    let value = secret_value(&env, "ci-deployer-key").await.expect("the example's Secret");
    client_with(&env, &value).get_organization().await.expect("the example's key authenticates");
}
