//! JWTIssuer end to end: a real kube-apiserver, kubectl, the real operator binary and the Cloud API
//! simulator. The test operator trusts its own namespace with organisation-level kinds (as the
//! operator's own namespace is trusted in a cluster) except in the untrusted-namespace test.

use std::time::Duration;

use crdb_cloud::models::{JwtIssuer, UpdateJwtIssuerRequest};
use crdb_cloud::{CloudClient, CloudError};
use crdb_cloud_operator::api::JWTIssuer;
use crdb_test_support::World as Env;
use crdb_test_support::*;
use kube::ResourceExt;
use kube::api::Api;

const TIMEOUT: Duration = Duration::from_secs(40);
/// A change in the cloud is seen within a resync (3 s here) plus its spread.
const DRIFT_TIMEOUT: Duration = Duration::from_secs(30);

const JWKS_A: &str = r#"{"keys":[{"kty":"RSA","alg":"RS256","use":"sig","kid":"a","e":"AQAB","n":"tid8bJCI5Fxt"}]}"#;
const JWKS_B: &str = r#"{"keys":[{"kty":"RSA","alg":"RS256","use":"sig","kid":"b","e":"AQAB","n":"zz9Kp3qQm1aB"}]}"#;

/// A JWTIssuer manifest; `more` holds further spec lines, indented by two.
fn issuer(name: &str, url: &str, more: &str) -> String {
    format!("---\napiVersion: crdbcloud.io/v1alpha1\nkind: JWTIssuer\nmetadata:\n  name: {name}\nspec:\n  issuerUrl: {url}\n  audience: crdb\n{more}")
}

fn inline(jwks: &str) -> String {
    format!("  jwks: '{jwks}'\n")
}

fn config_map(name: &str, jwks: &str) -> String {
    format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  jwks.json: '{jwks}'\n")
}

async fn env(prefix: &str) -> Env {
    Env::start_with(prefix, |options| options.resync_seconds = 3).await
}

/// Every request the operator sent to the JWT issuer operations.
async fn jwt_requests(env: &Env) -> usize {
    let mut total = 0;
    for operation in [Operation::ListJWTIssuers, Operation::AddJWTIssuer, Operation::GetJWTIssuer, Operation::UpdateJWTIssuer, Operation::DeleteJWTIssuer] {
        total += env.admin.count(operation).await;
    }
    total
}

fn cloud(env: &Env) -> CloudClient {
    env.admin.cloud()
}

async fn issuers_with_url(env: &Env, url: &str) -> Vec<JwtIssuer> {
    cloud(env).list_jwt_issuers().await.unwrap().items.into_iter().filter(|i| i.issuer_url == url).collect()
}

/// Polls the cloud's issuer until `done` holds for it.
async fn wait_cloud(env: &Env, id: &str, what: &str, timeout: Duration, done: impl Fn(&JwtIssuer) -> bool) -> JwtIssuer {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let held = cloud(env).get_jwt_issuer(id).await;
        if let Ok(item) = &held
            && done(item)
        {
            return item.clone();
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for the cloud: {what}; it holds {held:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether an event of the object starts with `prefix` and contains `containing`, waiting a moment
/// for it (an event follows the write it reports).
async fn has_event(env: &Env, name: &str, prefix: &str, containing: &str) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = events_for(env.ns(), name).await;
        if events.iter().any(|e| e.starts_with(prefix) && e.contains(containing)) {
            return true;
        }
        if std::time::Instant::now() > deadline {
            eprintln!("no event {prefix:?} containing {containing:?} among {events:#?}");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// No event of the object starts with `prefix` (events so far).
async fn no_event(env: &Env, name: &str, prefix: &str) -> bool {
    let events = events_for(env.ns(), name).await;
    let found: Vec<&String> = events.iter().filter(|e| e.starts_with(prefix)).collect();
    found.is_empty() || {
        eprintln!("unexpected {prefix:?} events: {found:#?}");
        false
    }
}

fn issuer_id(issuer: &JWTIssuer) -> String {
    issuer.status.as_ref().and_then(|s| s.jwt_issuer_id.clone()).expect("a Ready issuer has status.jwtIssuerId")
}

fn same_keys(a: Option<&str>, b: &str) -> bool {
    a.is_some_and(|a| crdb_cloud::models::same_jwks(a, b))
}

#[tokio::test]
async fn an_issuer_is_created_changed_kept_in_line_and_deleted() {
    let env = env("jwt-lifecycle").await;
    let api: Api<JWTIssuer> = env.api();
    let url = "https://token.ci.example.com";

    // Create, from the example: JWKS from a ConfigMap, claim, identity map.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples/jwt-issuer.yaml");
    kubectl(&["apply", "-n", env.ns(), "-f", example.to_str().unwrap()], None).await.ok();
    let ready = wait_for(&api, "ci", TIMEOUT, "Ready", is_ready).await;
    let id = issuer_id(&ready);
    let held = cloud(&env).get_jwt_issuer(&id).await.unwrap();
    assert_eq!((held.issuer_url.as_str(), held.audience.as_str(), held.claim()), (url, "crdb-cloud", "email"));
    assert_eq!(held.identity_map().len(), 1);
    assert_eq!(held.identity_map()[0].cc_identity, "\\1");
    assert!(held.jwks.as_deref().is_some_and(|j| j.contains("ci-2026")), "{held:?}");
    let status = ready.status.unwrap();
    assert_eq!(status.claim.as_deref(), Some("email"));
    assert_eq!(status.jwks_sha256.as_ref().map(String::len), Some(16));
    assert!(has_event(&env, "ci", "Normal Created", &id).await);
    assert_eq!(env.admin.count(Operation::AddJWTIssuer).await, 1);

    // A change of the spec: one PATCH of the fields that differ.
    let patches = env.admin.count(Operation::UpdateJWTIssuer).await;
    let changed = issuer("ci", url, "  audience: crdb-cloud-v2\n  jwksConfigMapRef: {name: ci-jwks}\n  claim: sub\n");
    env.apply(&changed.replace("  audience: crdb\n", "")).await;
    let held = wait_cloud(&env, &id, "audience and claim changed", TIMEOUT, |i| i.audience == "crdb-cloud-v2" && i.claim() == "sub").await;
    assert!(held.identity_map().is_empty(), "the identity map was emptied: {held:?}");
    wait_for(&api, "ci", TIMEOUT, "Ready again", is_ready).await;
    assert_eq!(env.admin.count(Operation::UpdateJWTIssuer).await, patches + 1, "one PATCH for the change");
    assert!(has_event(&env, "ci", "Normal Updating", "spec.audience").await);

    // A new key set in the ConfigMap reaches the cloud at once, as an update, not as drift.
    env.apply(&config_map("ci-jwks", JWKS_B)).await;
    wait_cloud(&env, &id, "the ConfigMap's key set", TIMEOUT, |i| same_keys(i.jwks.as_deref(), JWKS_B)).await;
    // (The recorder folds this second Updating event into the first one's series, note and all.)
    wait_for(&api, "ci", TIMEOUT, "Ready with the new key set", is_ready).await;
    assert!(no_event(&env, "ci", "Warning DriftCorrected").await);

    // Drift: a change made in the cloud is put back, with a Warning event.
    let rogue = UpdateJwtIssuerRequest { audience: Some("rogue".into()), jwks: Some(JWKS_A.into()), ..Default::default() };
    cloud(&env).update_jwt_issuer(&id, &rogue).await.unwrap();
    wait_cloud(&env, &id, "the drift put back", DRIFT_TIMEOUT, |i| i.audience == "crdb-cloud-v2" && same_keys(i.jwks.as_deref(), JWKS_B)).await;
    assert!(has_event(&env, "ci", "Warning DriftCorrected", "spec.audience").await, "{:?}", events_for(env.ns(), "ci").await);

    // The issuer URL is changed in place: the same issuer, one PATCH, no create.
    let moved = "https://token.ci-v2.example.com";
    let changed = issuer("ci", moved, "  audience: crdb-cloud-v2\n  jwksConfigMapRef: {name: ci-jwks}\n");
    env.apply(&changed.replace("  audience: crdb\n", "")).await;
    wait_cloud(&env, &id, "the new issuer URL", TIMEOUT, |i| i.issuer_url == moved).await;
    wait_for(&api, "ci", TIMEOUT, "Ready at the new URL", |i| is_ready(i) && i.status.as_ref().and_then(|s| s.issuer_url.as_deref()) == Some(moved)).await;
    assert_eq!(env.admin.count(Operation::AddJWTIssuer).await, 1, "moved, not created again");
    assert!(issuers_with_url(&env, url).await.is_empty());

    // Delete: the cloud issuer goes, then the resource.
    kubectl(&["delete", "-n", env.ns(), "jwtissuer/ci", "--wait=false"], None).await.ok();
    wait_gone(&api, "ci", TIMEOUT).await;
    assert!(matches!(cloud(&env).get_jwt_issuer(&id).await, Err(CloudError::NotFound(_))));
    assert!(issuers_with_url(&env, moved).await.is_empty());
}

#[tokio::test]
async fn retain_leaves_the_issuer_which_is_then_refused_and_adopted() {
    let env = env("jwt-retain-adopt").await;
    let api: Api<JWTIssuer> = env.api();
    let url = "https://retained.example.com";

    env.apply(&issuer("keeper", url, &format!("{}  deletionPolicy: Retain\n", inline(JWKS_A)))).await;
    let id = issuer_id(&wait_for(&api, "keeper", TIMEOUT, "Ready", is_ready).await);
    kubectl(&["delete", "-n", env.ns(), "jwtissuer/keeper"], None).await.ok();
    wait_gone(&api, "keeper", TIMEOUT).await;
    assert_eq!(cloud(&env).get_jwt_issuer(&id).await.unwrap().issuer_url, url, "Retain left the issuer registered");
    assert!(has_event(&env, "keeper", "Normal Retained", &id).await);

    // Another resource with the URL does not take the issuer over: NameInUse, naming the adopt field.
    let adds = env.admin.count(Operation::AddJWTIssuer).await;
    env.apply(&issuer("squatter", url, &inline(JWKS_A))).await;
    let squatter = wait_for(&api, "squatter", TIMEOUT, "Stalled NameInUse", |i| is_stalled_with(i, "NameInUse")).await;
    let (_, _, message) = condition(&squatter, "Stalled").unwrap();
    assert!(message.contains("spec.adoptJWTIssuerId") && message.contains(&id) && message.contains("spec.issuerUrl"), "{message}");
    kubectl(&["delete", "-n", env.ns(), "jwtissuer/squatter"], None).await.ok();
    wait_gone(&api, "squatter", TIMEOUT).await;
    assert_eq!(cloud(&env).get_jwt_issuer(&id).await.unwrap().issuer_url, url, "deleting the refused resource left the issuer alone");

    // Adoption: the issuer is managed (brought in line with the spec), not created again.
    let adopt = format!("{}  identityMap:\n    - {{tokenIdentity: alice, ccIdentity: alice@example.com}}\n  adoptJWTIssuerId: {id}\n", inline(JWKS_B));
    env.apply(&issuer("adopter", url, &adopt)).await;
    let adopted = wait_for(&api, "adopter", TIMEOUT, "Ready", is_ready).await;
    assert_eq!(issuer_id(&adopted), id);
    assert!(has_event(&env, "adopter", "Normal Adopted", &id).await);
    let held = cloud(&env).get_jwt_issuer(&id).await.unwrap();
    assert!(same_keys(held.jwks.as_deref(), JWKS_B) && held.identity_map().len() == 1, "{held:?}");
    assert_eq!(env.admin.count(Operation::AddJWTIssuer).await, adds, "nothing was created");

    // Deleting the adopter (policy Delete) deletes the issuer.
    kubectl(&["delete", "-n", env.ns(), "jwtissuer/adopter"], None).await.ok();
    wait_gone(&api, "adopter", TIMEOUT).await;
    assert!(issuers_with_url(&env, url).await.is_empty());
}

#[tokio::test]
async fn a_lost_create_answer_leaves_exactly_one_issuer() {
    let env = env("jwt-lost-create").await;
    let api: Api<JWTIssuer> = env.api();
    let url = "https://lost.example.com";
    // The cloud registers the issuer, then the answer is lost (a 503 after the work).
    env.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::AddJWTIssuer) }).await;
    env.apply(&issuer("lost", url, &inline(JWKS_A))).await;
    let ready = wait_for(&api, "lost", TIMEOUT, "Ready", is_ready).await;
    let found = issuers_with_url(&env, url).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(issuer_id(&ready), found[0].id, "the resource records the issuer its lost create made");
    assert_eq!(env.admin.count(Operation::AddJWTIssuer).await, 1, "the create was not sent again");
    let dropped = env.admin.requests_of(Operation::AddJWTIssuer).await;
    assert_eq!(dropped[0].status, 503, "{dropped:?}");
    assert!(ready.status.unwrap().create_requested_at.is_none(), "the intent is closed");
}

#[tokio::test]
async fn a_jwks_that_is_not_json_stalls_naming_the_field_and_sends_nothing() {
    let env = env("jwt-bad-jwks").await;
    let api: Api<JWTIssuer> = env.api();
    let url = "https://bad-jwks.example.com";
    env.apply(&issuer("bad", url, "  jwks: 'keys: [not json]'\n")).await;
    let stalled = wait_for(&api, "bad", TIMEOUT, "Stalled JwksInvalid", |i| is_stalled_with(i, "JwksInvalid")).await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.starts_with("spec.jwks is not a JSON Web Key Set") && message.contains("nothing was sent"), "{message}");
    // Stays stalled, without a request and without a hot loop of status writes.
    let version = stalled.resource_version();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(jwt_requests(&env).await, 0, "nothing was sent");
    assert_eq!(api.get("bad").await.unwrap().resource_version(), version, "no status churn while stalled");
    assert!(has_event(&env, "bad", "Warning JwksInvalid", "spec.jwks").await);

    // A ConfigMap without the key set: JwksNotFound naming the field; fixed, the issuer is created.
    env.apply(&issuer("bad", url, "  jwksConfigMapRef: {name: later-jwks}\n")).await;
    let stalled = wait_for(&api, "bad", TIMEOUT, "Stalled JwksNotFound", |i| is_stalled_with(i, "JwksNotFound")).await;
    assert!(condition(&stalled, "Stalled").unwrap().2.contains("spec.jwksConfigMapRef: ConfigMap"));
    assert_eq!(jwt_requests(&env).await, 0, "nothing was sent");
    env.apply(&config_map("later-jwks", JWKS_A)).await;
    let ready = wait_for(&api, "bad", TIMEOUT, "Ready once the ConfigMap exists", is_ready).await;
    assert!(same_keys(cloud(&env).get_jwt_issuer(&issuer_id(&ready)).await.unwrap().jwks.as_deref(), JWKS_A));
}

#[tokio::test]
async fn in_an_untrusted_namespace_nothing_is_sent() {
    let env = Env::start_with("jwt-untrusted", |options| {
        options.resync_seconds = 3;
        options.org_namespaces = vec!["crdb-admin".into()];
    })
    .await;
    let api: Api<JWTIssuer> = env.api();
    env.apply(&issuer("ci", "https://untrusted.example.com", &inline(JWKS_A))).await;
    let stalled = wait_for(&api, "ci", TIMEOUT, "Stalled NamespaceNotAllowed", |i| is_stalled_with(i, "NamespaceNotAllowed")).await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains("JWTIssuer is an organisation-level kind") && message.contains("trusted: crdb-admin"), "{message}");
    assert!(stalled.finalizers().is_empty(), "no finalizer: {:?}", stalled.finalizers());
    // Several resyncs later, still nothing sent to the cloud, and nothing registered.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(jwt_requests(&env).await, 0, "nothing was sent");
    assert!(cloud(&env).list_jwt_issuers().await.unwrap().items.is_empty());
    // Deleting it needs no cleanup.
    kubectl(&["delete", "-n", env.ns(), "jwtissuer/ci"], None).await.ok();
    wait_gone(&api, "ci", TIMEOUT).await;
}
