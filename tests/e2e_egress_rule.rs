//! EgressRule end to end: a real kube-apiserver, kubectl, the real operator binary and the Cloud
//! API simulator, on an ADVANCED cluster whose egress traffic policy is DEFAULT_DENY.

use std::time::Duration;

use crdb_cloud::models::{AddEgressRuleRequest, EditEgressRuleRequest, EgressRule as CloudRule, EgressRuleState, EgressRuleType};
use crdb_cloud_operator::api::{CockroachCluster, EgressRule};
use crdb_cloud_operator::controller::kinds::egress_rule::idempotency_key;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use crdb_test_support::World as Env;
use crdb_test_support::*;

const TIMEOUT: Duration = Duration::from_secs(40);
/// A change made behind the operator's back is seen once the cluster's shared list is refreshed
/// (every 3 s resync here), with room for a slow machine.
const DRIFT_TIMEOUT: Duration = Duration::from_secs(35);

fn rule(name: &str, cluster: &str, spec: &str) -> String {
    child("EgressRule", name, cluster, spec)
}

/// Applies an ADVANCED cluster with a DEFAULT_DENY egress policy and waits until it is Ready.
async fn ready_advanced_cluster(env: &Env, name: &str) -> String {
    env.apply(&advanced_cluster(name)).await;
    let cluster = wait_for(&env.api::<CockroachCluster>(), name, Duration::from_secs(60), "Ready", is_ready).await;
    cluster.status.unwrap().cluster_id.unwrap()
}

async fn cloud_rules(env: &Env, cluster_id: &str) -> Vec<CloudRule> {
    env.admin.cloud().list_egress_rules(cluster_id).await.unwrap().items
}

/// Polls the cloud's rules until `done` holds for them.
async fn wait_rules(env: &Env, cluster_id: &str, what: &str, done: impl Fn(&[CloudRule]) -> bool) -> Vec<CloudRule> {
    let deadline = std::time::Instant::now() + DRIFT_TIMEOUT;
    loop {
        let rules = cloud_rules(env, cluster_id).await;
        if done(&rules) {
            return rules;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for the cloud's egress rules: {what}; they are:\n{rules:#?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn named<'a>(rules: &'a [CloudRule], name: &str) -> Vec<&'a CloudRule> {
    rules.iter().filter(|r| r.name == name).collect()
}

fn rule_id(obj: &EgressRule) -> String {
    obj.status.as_ref().and_then(|s| s.rule_id.clone()).expect("a Ready rule records its id")
}

#[tokio::test]
async fn egress_rules_are_created_changed_put_back_adopted_retained_and_deleted() {
    let env = Env::start_with("egress", |options| options.resync_seconds = 3).await;
    let id = ready_advanced_cluster(&env, "ledger-db").await;
    let cloud = env.admin.cloud();
    // Made in the console before the resource existed.
    let console = AddEgressRuleRequest {
        name: "legacy".into(),
        rule_type: EgressRuleType::Fqdn,
        destination: "legacy.example.com".into(),
        ports: vec![80],
        description: "made by hand".into(),
        idempotency_key: None,
    };
    let console_id = cloud.add_egress_rule(&id, &console).await.unwrap().id;

    env.apply(&rule("buckets", "ledger-db", "  type: FQDN\n  destination: storage.googleapis.com\n  ports: [443]\n  description: backups\n")).await;
    env.apply(&rule("kafka", "ledger-db", "  name: kafka\n  type: CIDR\n  destination: 10.20.0.0/16\n  ports: [9092]\n  deletionPolicy: Retain\n")).await;
    env.apply(&rule("legacy", "ledger-db", "  type: FQDN\n  destination: legacy.example.com\n  ports: [443]\n  description: adopted\n")).await;
    let rules: Api<EgressRule> = env.api();
    for name in ["buckets", "kafka", "legacy"] {
        wait_for(&rules, name, TIMEOUT, "Ready", is_ready).await;
    }

    // Ready means in force: the cloud shows every rule ACTIVE, once, as the spec says.
    let held = cloud_rules(&env, &id).await;
    assert_eq!(held.len(), 3, "{held:#?}");
    assert!(held.iter().all(|r| r.state == EgressRuleState::Active), "{held:#?}");
    let buckets = rules.get("buckets").await.unwrap();
    let status = buckets.status.clone().unwrap();
    assert_eq!(status.state.as_deref(), Some("ACTIVE"));
    assert_eq!(status.common.cluster_id.as_deref(), Some(id.as_str()));
    assert_eq!(status.common.cloud_name.as_deref(), Some("buckets"));
    let in_cloud = named(&held, "buckets")[0];
    assert_eq!(in_cloud.id, rule_id(&buckets));
    assert_eq!((in_cloud.rule_type.clone(), in_cloud.destination.as_str(), in_cloud.ports.clone(), in_cloud.description.as_str()), (EgressRuleType::Fqdn, "storage.googleapis.com", vec![443], "backups"));
    // Adopted, not duplicated: the console's rule, now as the spec says.
    let legacy = rules.get("legacy").await.unwrap();
    assert_eq!(rule_id(&legacy), console_id);
    let adopted = named(&held, "legacy");
    assert_eq!(adopted.len(), 1);
    assert_eq!((adopted[0].ports.clone(), adopted[0].description.as_str()), (vec![443], "adopted"));
    assert_eq!(env.admin.count(Operation::AddEgressRule).await, 3, "the console's one and two by the operator");
    let table = kubectl(&["get", "crdbegress", "-n", env.ns()], None).await.ok().stdout;
    assert!(table.contains("DESTINATION") && table.contains("storage.googleapis.com") && table.contains("ACTIVE"), "{table}");

    // Changed in place: same rule, no delete, no add.
    let patch = json!({"spec": {"ports": [443, 8443], "description": "backups and restores"}});
    rules.patch("buckets", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_for(&rules, "buckets", TIMEOUT, "Ready at generation 2", |r| is_ready(r) && r.metadata.generation == Some(2)).await;
    let changed = cloud_rules(&env, &id).await;
    let buckets_now = named(&changed, "buckets")[0];
    assert_eq!(buckets_now.id, in_cloud.id);
    assert_eq!((buckets_now.ports.clone(), buckets_now.description.as_str()), (vec![443, 8443], "backups and restores"));
    assert_eq!(env.admin.count(Operation::DeleteEgressRule).await, 0);
    assert_eq!(env.admin.count(Operation::AddEgressRule).await, 3);
    assert!(events_for(env.ns(), "buckets").await.iter().any(|e| e.starts_with("Normal Updated")));

    // Drift: one rule edited and one deleted behind the operator's back are put back.
    let kafka_id = rule_id(&rules.get("kafka").await.unwrap());
    let hijack = EditEgressRuleRequest { destination: Some("evil.example.com".into()), ..Default::default() };
    cloud.edit_egress_rule(&id, &console_id, &hijack).await.unwrap();
    cloud.delete_egress_rule(&id, &kafka_id).await.unwrap();
    let restored = wait_rules(&env, &id, "legacy put back and kafka re-created", |r| {
        named(r, "legacy").iter().any(|l| l.destination == "legacy.example.com") && named(r, "kafka").len() == 1
    })
    .await;
    assert_eq!(restored.len(), 3, "{restored:#?}");
    for name in ["legacy", "kafka"] {
        let events = events_for(env.ns(), name).await;
        assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected")), "{name}: {events:?}");
    }
    let kafka = wait_for(&rules, "kafka", TIMEOUT, "Ready again", |r| is_ready(r) && r.status.as_ref().and_then(|s| s.rule_id.as_deref()) != Some(kafka_id.as_str())).await;
    assert_eq!(named(&restored, "kafka")[0].id, rule_id(&kafka), "the re-created rule is recorded");

    // The cloud does not keep names unique: a second resource naming the same rule gets a rule of
    // its own (the first one is recorded by its resource), and neither resource touches the other's.
    env.apply(&rule("buckets-twin", "ledger-db", "  name: buckets\n  type: FQDN\n  destination: s3.amazonaws.com\n")).await;
    let twin = wait_for(&rules, "buckets-twin", TIMEOUT, "Ready", is_ready).await;
    let buckets = rules.get("buckets").await.unwrap();
    assert_ne!(rule_id(&twin), rule_id(&buckets));
    let both = cloud_rules(&env, &id).await;
    let twins = named(&both, "buckets");
    assert_eq!(twins.len(), 2, "{both:#?}");
    assert!(twins.iter().any(|r| r.id == rule_id(&buckets) && r.destination == "storage.googleapis.com"));
    assert!(twins.iter().any(|r| r.id == rule_id(&twin) && r.destination == "s3.amazonaws.com"));

    // Settled: resyncs send nothing but lists.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let writes = env.admin.count(Operation::AddEgressRule).await + env.admin.count(Operation::EditEgressRule).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(env.admin.count(Operation::AddEgressRule).await + env.admin.count(Operation::EditEgressRule).await, writes, "a settled rule was written again");

    // Delete removes the rule, Retain keeps it.
    rules.delete("buckets", &DeleteParams::default()).await.unwrap();
    rules.delete("kafka", &DeleteParams::default()).await.unwrap();
    wait_gone(&rules, "buckets", TIMEOUT).await;
    wait_gone(&rules, "kafka", TIMEOUT).await;
    let left = cloud_rules(&env, &id).await;
    let buckets_left: Vec<&str> = named(&left, "buckets").iter().map(|r| r.id.as_str()).collect();
    assert_eq!(buckets_left, [rule_id(&twin).as_str()], "Delete left the rule, or removed the twin's: {left:#?}");
    assert_eq!(named(&left, "kafka").len(), 1, "Retain removed the rule: {left:#?}");
    assert!(events_for(env.ns(), "buckets").await.iter().any(|e| e.starts_with("Normal Deleted")));
}

#[tokio::test]
async fn a_lost_create_answer_leaves_exactly_one_rule() {
    let env = Env::start("egress-lost").await;
    let id = ready_advanced_cluster(&env, "ledger-db").await;
    // The cloud adds the rule, and the answer is lost on the way back.
    env.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::AddEgressRule) }).await;
    env.apply(&rule("kafka", "ledger-db", "  type: CIDR\n  destination: 10.20.0.0/16\n")).await;
    let rules: Api<EgressRule> = env.api();
    let ready = wait_for(&rules, "kafka", TIMEOUT, "Ready", is_ready).await;
    let sent = env.admin.requests_of(Operation::AddEgressRule).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].fault, Some(FaultKind::DropResponse));
    let held = cloud_rules(&env, &id).await;
    assert_eq!(named(&held, "kafka").len(), 1, "{held:#?}");
    assert_eq!(held[0].id, rule_id(&ready));

    // The create the operator sends carries a key from the resource's UID: sent again, it answers
    // with the rule the lost request made instead of adding a second one.
    let uid = ready.metadata.uid.clone().unwrap();
    let again = AddEgressRuleRequest {
        name: "kafka".into(),
        rule_type: EgressRuleType::Cidr,
        destination: "10.20.0.0/16".into(),
        ports: vec![],
        description: String::new(),
        idempotency_key: Some(idempotency_key(&uid, None)),
    };
    let replayed = env.admin.cloud().add_egress_rule(&id, &again).await.unwrap();
    assert_eq!(replayed.id, held[0].id, "the key of the lost create did not identify its rule");
    assert_eq!(cloud_rules(&env, &id).await.len(), 1);
}

#[tokio::test]
async fn invalid_egress_rules_are_refused_or_stalled_and_nothing_is_sent() {
    let env = Env::start("egress-invalid").await;

    // Refused by the API server, naming the field.
    for (manifest, field) in [
        (rule("not-cidr", "ledger-db", "  type: CIDR\n  destination: storage.googleapis.com\n"), "spec.destination must be a CIDR range"),
        (rule("not-fqdn", "ledger-db", "  type: FQDN\n  destination: \"http://x\"\n"), "spec.destination must be a fully-qualified domain name"),
        (rule("bad-port", "ledger-db", "  type: FQDN\n  destination: a.example.com\n  ports: [0]\n"), "spec.ports"),
    ] {
        let err = env.apply_refused(&manifest).await;
        assert!(err.contains(field), "expected {field:?} in:\n{err}");
    }

    // Accepted, but refused by the cloud (a serverless cluster has no egress rules): Stalled with
    // the cloud's message, and no rule is added or deleted.
    env.ready_cluster("orders-db").await;
    env.apply(&rule("on-serverless", "orders-db", "  type: FQDN\n  destination: storage.googleapis.com\n")).await;
    let rules: Api<EgressRule> = env.api();
    let stalled = wait_for(&rules, "on-serverless", TIMEOUT, "Stalled", |r| is_stalled_with(r, "CloudRejectedSpec")).await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains("only available on ADVANCED clusters"), "{message}");
    assert!(events_for(env.ns(), "on-serverless").await.iter().any(|e| e.starts_with("Warning CloudRejectedSpec")));
    // No hot loop: a stalled rule is not retried at once.
    let lists = env.admin.count(Operation::ListEgressRules).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(env.admin.count(Operation::ListEgressRules).await <= lists + 1, "a stalled rule is retried in a loop");
    rules.delete("on-serverless", &DeleteParams::default()).await.unwrap();
    wait_gone(&rules, "on-serverless", TIMEOUT).await;
    assert_eq!(env.admin.count(Operation::AddEgressRule).await, 0);
    assert_eq!(env.admin.count(Operation::DeleteEgressRule).await, 0);
}

/// deploy/examples/egressrule.yaml, applied as a user would beside the production-shaped cluster
/// it names (whose egress policy is DEFAULT_DENY): both rules become Ready.
#[tokio::test]
async fn the_example_rules_become_ready_beside_the_production_example() {
    let env = Env::start("egress-example").await;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    for file in ["cluster-production.yaml", "egressrule.yaml"] {
        kubectl(&["apply", "-n", env.ns(), "-f", examples.join(file).to_str().unwrap()], None).await.ok();
    }
    let rules: Api<EgressRule> = env.api();
    let kafka = wait_for(&rules, "ledger-kafka", Duration::from_secs(120), "Ready", is_ready).await;
    wait_for(&rules, "ledger-backups", TIMEOUT, "Ready", is_ready).await;
    let id = kafka.status.as_ref().and_then(|s| s.common.cluster_id.clone()).unwrap();
    let held = cloud_rules(&env, &id).await;
    let mut names: Vec<&str> = held.iter().map(|r| r.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["kafka", "ledger-backups"], "{held:#?}");
    // The example keeps its cluster on deletion (deleteProtection): release it here.
    let patch = json!({"spec": {"deleteProtection": false}});
    env.api::<CockroachCluster>().patch("ledger-prod", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

/// The cloud adds rules only under DEFAULT_DENY: a rule for a cluster that still allows all
/// egress says why it waits (retried with backoff, not in a loop) and is added once the cluster's
/// spec.egressTrafficPolicy is DefaultDeny.
#[tokio::test]
async fn a_rule_waits_for_its_cluster_to_deny_egress_by_default() {
    let env = Env::start("egress-policy").await;
    let clusters: Api<CockroachCluster> = env.api();
    env.apply(&advanced_cluster("open-db").replace("  egressTrafficPolicy: DefaultDeny\n", "")).await;
    let id = wait_for(&clusters, "open-db", Duration::from_secs(60), "Ready", is_ready).await.status.unwrap().cluster_id.unwrap();
    env.apply(&rule("kafka", "open-db", "  type: CIDR\n  destination: 10.20.0.0/16\n")).await;
    let rules: Api<EgressRule> = env.api();
    let waiting = wait_for(&rules, "kafka", TIMEOUT, "retrying with the cloud's reason", |r| {
        condition(r, "Reconciling").is_some_and(|(s, reason, _)| s == "True" && reason == "FailedPrecondition")
    })
    .await;
    let (_, _, message) = condition(&waiting, "Ready").unwrap();
    assert!(message.contains("DEFAULT_DENY"), "{message}");
    let attempts = env.admin.count(Operation::AddEgressRule).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let more = env.admin.count(Operation::AddEgressRule).await - attempts;
    assert!(more <= 3, "{more} refused creates in 6 s: retried in a loop");
    assert!(cloud_rules(&env, &id).await.is_empty());

    clusters.patch("open-db", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"egressTrafficPolicy": "DefaultDeny"}}))).await.unwrap();
    wait_for(&rules, "kafka", Duration::from_secs(60), "Ready once the cluster denies by default", is_ready).await;
    assert_eq!(named(&cloud_rules(&env, &id).await, "kafka").len(), 1);
}
