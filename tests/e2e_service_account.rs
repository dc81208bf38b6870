//! ServiceAccount end to end: a real kube-apiserver, kubectl, the real operator binary (trusting
//! the test namespace with organisation-level kinds) and the Cloud API simulator.

use std::time::{Duration, Instant};

use crdb_cloud::Operation;
use crdb_cloud::models::{CreateServiceAccountRequest, UpdateServiceAccountSpecification};
use crdb_cloud_operator::api::ServiceAccount;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;
use crdb_test_support::World as Env;
use crdb_test_support::*;

const TIMEOUT: Duration = Duration::from_secs(40);

fn service_account(name: &str, spec: &str) -> String {
    let spec = if spec.is_empty() { " {}\n".to_string() } else { format!("\n{spec}") };
    format!("---\napiVersion: crdbcloud.io/v1alpha1\nkind: ServiceAccount\nmetadata:\n  name: {name}\nspec:{spec}")
}

async fn ready(env: &Env, name: &str, generation: i64) -> ServiceAccount {
    wait_for(&env.api::<ServiceAccount>(), name, TIMEOUT, "Ready", |sa| is_ready(sa) && sa.metadata.generation == Some(generation)).await
}

fn id_of(sa: &ServiceAccount) -> String {
    sa.status.as_ref().and_then(|s| s.service_account_id.clone()).expect("a Ready ServiceAccount has status.serviceAccountId")
}

async fn named(env: &Env, name: &str) -> usize {
    env.admin.cloud().list_service_accounts().await.unwrap().items.iter().filter(|a| a.name == name).count()
}

#[tokio::test]
async fn create_change_drift_delete_and_retain() {
    let env = Env::start_org("sa-lifecycle", true).await;
    let api = env.api::<ServiceAccount>();
    let cloud = env.admin.cloud();

    env.apply(&service_account("deployer", "  description: deploys the shop\n")).await;
    let id = id_of(&ready(&env, "deployer", 1).await);
    let account = cloud.get_service_account(&id).await.unwrap();
    assert_eq!((account.name.as_str(), account.description.as_str()), ("deployer", "deploys the shop"));
    assert!(account.roles.is_empty(), "no role is granted at creation");

    // A change to the spec renames in place: same ID.
    let patch = json!({"spec": {"name": "ci-deployer", "description": "deploys everything"}});
    api.patch("deployer", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    assert_eq!(id_of(&ready(&env, "deployer", 2).await), id);
    let account = cloud.get_service_account(&id).await.unwrap();
    assert_eq!((account.name.as_str(), account.description.as_str()), ("ci-deployer", "deploys everything"));
    assert!(events_for(env.ns(), "deployer").await.iter().any(|e| e.starts_with("Normal Updating")));

    // Someone edits the account in the console: it is put back, with a DriftCorrected event.
    let hijack = UpdateServiceAccountSpecification { description: Some("hijacked".into()), ..Default::default() };
    cloud.update_service_account(&id, &hijack).await.unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while cloud.get_service_account(&id).await.unwrap().description != "deploys everything" {
        assert!(Instant::now() < deadline, "the drift was not put back");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let events = events_for(env.ns(), "deployer").await;
    assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected") && e.contains("description")), "{events:?}");

    // Delete (the default policy) removes the cloud account.
    api.delete("deployer", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "deployer", TIMEOUT).await;
    assert!(matches!(cloud.get_service_account(&id).await, Err(crdb_cloud::CloudError::NotFound(_))));

    // Retain leaves it.
    env.apply(&service_account("kept", "  deletionPolicy: Retain\n")).await;
    let kept = id_of(&ready(&env, "kept", 1).await);
    api.delete("kept", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "kept", TIMEOUT).await;
    assert_eq!(cloud.get_service_account(&kept).await.unwrap().name, "kept");
    assert!(events_for(env.ns(), "kept").await.iter().any(|e| e.starts_with("Normal Retained")));
}

#[tokio::test]
async fn adoption_a_lost_create_answer_and_a_shared_name() {
    let env = Env::start_org("sa-exactly-once", true).await;
    let cloud = env.admin.cloud();

    // Adoption: the spec's description is brought to the existing account.
    let legacy = CreateServiceAccountRequest { name: "legacy".into(), description: "made by hand".into(), roles: vec![] };
    let legacy = cloud.create_service_account(&legacy).await.unwrap();
    env.apply(&service_account("legacy", &format!("  adoptServiceAccountId: {}\n  description: managed now\n", legacy.id))).await;
    assert_eq!(id_of(&ready(&env, "legacy", 1).await), legacy.id);
    assert_eq!(cloud.get_service_account(&legacy.id).await.unwrap().description, "managed now");
    assert!(events_for(env.ns(), "legacy").await.iter().any(|e| e.starts_with("Normal Adopted")));

    // The create runs but its answer is lost: the operator finds the account it made, and the
    // organisation holds exactly one.
    let creates_before = env.admin.count(Operation::CreateServiceAccount).await;
    env.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::CreateServiceAccount) }).await;
    env.apply(&service_account("lost-answer", "")).await;
    let found = ready(&env, "lost-answer", 1).await;
    assert_eq!(named(&env, "lost-answer").await, 1, "a lost create answer must leave exactly one service account");
    assert_eq!(env.admin.count(Operation::CreateServiceAccount).await, creates_before + 1, "the create was sent once");
    assert_eq!(cloud.get_service_account(&id_of(&found)).await.unwrap().name, "lost-answer");

    // Names need not be unique: an older account of the same name is neither taken nor an obstacle.
    let older = CreateServiceAccountRequest { name: "shared".into(), description: String::new(), roles: vec![] };
    let older = cloud.create_service_account(&older).await.unwrap();
    env.apply(&service_account("shared", "")).await;
    let mine = id_of(&ready(&env, "shared", 1).await);
    assert_ne!(mine, older.id);
    assert_eq!(named(&env, "shared").await, 2);
}

#[tokio::test]
async fn an_untrusted_namespace_sends_nothing_and_bad_input_is_refused() {
    // No namespace is trusted with organisation-level kinds.
    let env = Env::start_org("sa-untrusted", false).await;
    env.apply(&service_account("intruder", "  description: let me in\n")).await;
    let sa = wait_for(&env.api::<ServiceAccount>(), "intruder", TIMEOUT, "Stalled NamespaceNotAllowed", |sa| is_stalled_with(sa, "NamespaceNotAllowed")).await;
    assert!(sa.metadata.finalizers.unwrap_or_default().is_empty(), "no finalizer on an untrusted resource");
    let account_requests = env.admin.requests(0, None).await.into_iter().filter(|r| r.operation.contains("ServiceAccount")).count();
    assert_eq!(account_requests, 0, "nothing is sent to the cloud for an untrusted namespace");

    let refused = env.apply_refused(&service_account("blank", "  name: \"  \"\n")).await;
    assert!(refused.contains("spec.name must not be blank"), "{refused}");
    let refused = env.apply_refused(&service_account("bad-adopt", "  adoptServiceAccountId: nope\n")).await;
    assert!(refused.contains("spec.adoptServiceAccountId"), "{refused}");
}
