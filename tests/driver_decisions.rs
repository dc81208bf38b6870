//! The generic driver's decisions, without an apiserver: `driver::reconcile` runs against a kube
//! client whose apiserver is scripted here (tower-test's mock service) and a Cloud API simulator
//! served in-process. Each test asserts the requests the driver makes on both sides and in which
//! order: the finalizer first, the intent recorded before a create, the ID recorded after it, the
//! finalizer released only once the cloud confirms.
//!
//! The scripted apiserver keeps the objects it was given and answers what the driver sends: JSON
//! patches of the finalizer list, server-side applies of status (each write a new resource
//! version), events, reads. Anything else is recorded
//! as unexpected and fails the test. Each request it sees is stamped with the cloud operations the
//! simulator had served by then, which is how "before" and "after" are asserted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crdb_cloud_operator::api::{CockroachCluster, Database, DeletionPolicy, FINALIZER};
use crdb_cloud_operator::cloud::models::{ClusterState, CreateClusterRequest};
use crdb_cloud_operator::cloud::{ApiKey, BudgetRegistry, ClientConfig, CloudClients, RetryPolicy};
use crdb_cloud_operator::controller::kinds::cluster_plan::{OWNER_LABEL, create_request};
use crdb_cloud_operator::controller::{Context, DefaultCredentials, Economies, Timing, driver};
use crdb_cloud_operator::metrics::Metrics;
use crdb_cloud_simulator::RunningSimulator;
use crdb_test_support::{FaultSpec, ForceState, Operation, SimAdmin, TEST_API_KEY, console_cluster, serverless_cluster, start_simulator_with};
use http::{Request, Response};
use kube::client::Body;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

const NS: &str = "team";

// ---------------------------------------------------------------------------------------------
// The scripted apiserver

/// One request the driver sent to the apiserver.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query.
    uri: String,
    content_type: String,
    body: Value,
    /// The cloud operations the simulator had served when this request arrived, oldest first.
    cloud_before: Vec<String>,
}

impl Seen {
    fn is_event(&self) -> bool {
        self.uri.contains("/events")
    }
    fn is_status_apply(&self) -> bool {
        self.method == "PATCH" && self.uri.contains("/status?") && self.content_type == "application/apply-patch+yaml"
    }
    fn is_finalizer_patch(&self) -> bool {
        self.method == "PATCH" && !self.uri.contains("/status") && self.content_type == "application/json-patch+json"
    }
    /// The reason of an event posted.
    fn event_reason(&self) -> Option<&str> {
        self.is_event().then(|| self.body["reason"].as_str()).flatten()
    }
}

/// What the scripted apiserver holds and saw.
#[derive(Default)]
struct ApiState {
    /// Objects by path (`/apis/crdbcloud.io/v1alpha1/namespaces/team/cockroachclusters/shop`).
    objects: BTreeMap<String, Value>,
    seen: Vec<Seen>,
    unexpected: Vec<String>,
}

#[derive(Clone)]
struct FakeApiserver(Arc<Mutex<ApiState>>);

impl FakeApiserver {
    /// A kube client whose every request this apiserver answers, consulting `admin` for the cloud
    /// operations served so far.
    fn start(admin: Arc<SimAdmin>) -> (Self, kube::Client) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let fake = Self(Arc::default());
        let state = fake.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let cloud_before = admin.requests(0, None).await.into_iter().map(|r| r.operation).collect();
                let response = state.answer(request, cloud_before).await;
                send.send_response(response);
            }
        });
        (fake, kube::Client::new(service, NS))
    }

    fn put<K: kube::Resource<DynamicType = ()> + serde::Serialize>(&self, obj: &K) {
        let value = serde_json::to_value(obj).unwrap();
        self.0.lock().unwrap().objects.insert(path_of(obj), value);
    }

    /// The object as stored now.
    fn get<K: kube::Resource<DynamicType = ()> + serde::de::DeserializeOwned>(&self, like: &K) -> K {
        let value = self.0.lock().unwrap().objects[&path_of(like)].clone();
        serde_json::from_value(value).unwrap()
    }

    /// Every request seen, then forgotten (so each reconcile's requests can be asserted alone).
    fn take(&self) -> Vec<Seen> {
        let mut state = self.0.lock().unwrap();
        assert!(state.unexpected.is_empty(), "the driver sent requests the test does not expect: {:#?}", state.unexpected);
        std::mem::take(&mut state.seen)
    }

    async fn answer(&self, request: Request<Body>, cloud_before: Vec<String>) -> Response<Body> {
        let method = request.method().to_string();
        let uri = request.uri().to_string();
        let path = request.uri().path().to_string();
        let content_type = request.headers().get(http::header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body: Value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        let seen = Seen { method: method.clone(), uri: uri.clone(), content_type: content_type.clone(), body: body.clone(), cloud_before };
        let mut state = self.0.lock().unwrap();
        state.seen.push(seen.clone());
        // Events are advisory: accepted as sent.
        if seen.is_event() && (method == "POST" || method == "PATCH") {
            return json_response(201, &body);
        }
        let (object_path, status) = match path.strip_suffix("/status") {
            Some(object) => (object.to_string(), true),
            None => (path.clone(), false),
        };
        let Some(object) = state.objects.get_mut(&object_path) else {
            state.unexpected.push(format!("{method} {uri} (no such object)"));
            return json_response(404, &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}));
        };
        let next_version = |object: &mut Value| {
            let version: u64 = object["metadata"]["resourceVersion"].as_str().and_then(|v| v.parse().ok()).unwrap_or(0);
            object["metadata"]["resourceVersion"] = json!((version + 1).to_string());
        };
        match (method.as_str(), status) {
            ("PATCH", true) if seen.is_status_apply() => {
                // One field manager owns all of status: applying it replaces what it held.
                object["status"] = body["status"].clone();
                next_version(object);
            }
            ("PATCH", false) if seen.is_finalizer_patch() => {
                if let Err(why) = apply_json_patch(object, &body) {
                    let conflict = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid", "message": why, "code": 422});
                    return json_response(422, &conflict);
                }
                next_version(object);
            }
            ("GET", _) => {}
            _ => {
                state.unexpected.push(format!("{method} {uri} ({content_type})"));
                return json_response(405, &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 405}));
            }
        }
        json_response(200, object)
    }
}

fn path_of<K: kube::Resource<DynamicType = ()>>(obj: &K) -> String {
    // The core group (Secrets) is served under /api, the others under /apis.
    let root = if K::group(&()).is_empty() { "api" } else { "apis" };
    format!("/{root}/{}/namespaces/{NS}/{}/{}", K::api_version(&()), K::plural(&()), obj.meta().name.as_deref().unwrap())
}

fn json_response(code: u16, body: &Value) -> Response<Body> {
    Response::builder().status(code).header("content-type", "application/json").body(Body::from(serde_json::to_vec(body).unwrap())).unwrap()
}

/// Applies a JSON patch as the apiserver does: its `test` of an absent path against `null` passes.
fn apply_json_patch(object: &mut Value, patch: &Value) -> Result<(), String> {
    let mut ops = Vec::new();
    for op in patch.as_array().expect("a JSON patch is a list") {
        if op["op"] == "test" && op["value"].is_null() {
            let absent = object.pointer(op["path"].as_str().unwrap()).is_none_or(Value::is_null);
            if !absent {
                return Err(format!("test failed: {} is not null", op["path"]));
            }
            continue;
        }
        ops.push(op.clone());
    }
    let ops: json_patch::Patch = serde_json::from_value(Value::Array(ops)).map_err(|e| e.to_string())?;
    json_patch::patch(object, &ops).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// One test's world: the simulator, the scripted apiserver and the operator's Context

struct Rig {
    _sim: RunningSimulator,
    admin: Arc<SimAdmin>,
    api: FakeApiserver,
    ctx: Arc<Context>,
}

impl Rig {
    async fn new() -> Self {
        crdb_cloud_operator::install_crypto_provider();
        // No rate limit and no client retries: every request the driver decides on is one in the journal.
        let sim = start_simulator_with(&[], |c| c.rate_limit_per_second = 0).await;
        let admin = Arc::new(SimAdmin::new(&sim));
        let (api, client) = FakeApiserver::start(admin.clone());
        let config = ClientConfig {
            base_url: sim.base_url().parse().unwrap(),
            retry: RetryPolicy { max_retries: 0, ..RetryPolicy::default() },
            ..ClientConfig::default()
        };
        let clouds = CloudClients::new(config, BudgetRegistry::default()).unwrap();
        let credentials = DefaultCredentials::new(Some(ApiKey::new(TEST_API_KEY)));
        let ctx = Context::new(client, clouds, credentials, Timing::default(), Economies::default(), Arc::new(Metrics::new()), Default::default());
        Self { _sim: sim, admin, api, ctx }
    }

    /// One reconcile of the object as the apiserver holds it now.
    async fn reconcile<K: driver::Kind>(&self, like: &K) -> Action {
        self.reconcile_as(self.api.get(like)).await
    }

    /// One reconcile of `obj` as a watch cache may still hold it.
    async fn reconcile_as<K: driver::Kind>(&self, obj: K) -> Action {
        tokio::time::timeout(Duration::from_secs(20), driver::reconcile(Arc::new(obj), self.ctx.clone()))
            .await
            .expect("a reconcile finishes")
            .unwrap_or_else(|e| panic!("reconcile failed: {e:?}"))
    }

    /// The cloud operations served so far, oldest first.
    async fn cloud_ops(&self) -> Vec<String> {
        self.admin.requests(0, None).await.into_iter().map(|r| r.operation).collect()
    }

    async fn count(&self, operation: Operation) -> usize {
        self.admin.count(operation).await
    }

    /// The live (not deleted) clusters the organisation holds under `name`.
    async fn live_clusters(&self, name: &str) -> Vec<crdb_cloud_operator::cloud::models::Cluster> {
        self.admin.live_clusters_named(name).await.into_iter().map(|d| d.cluster).collect()
    }
}

fn count_of(ops: &[String], operation: Operation) -> usize {
    ops.iter().filter(|o| *o == operation.name()).count()
}

/// A serverless CockroachCluster as a person applies it, as the apiserver stores it.
fn cluster(name: &str) -> CockroachCluster {
    let mut cr: CockroachCluster = serde_norway::from_str(&serverless_cluster(name)).unwrap();
    cr.metadata.namespace = Some(NS.into());
    cr.metadata.uid = Some(format!("uid-{name}-0001"));
    cr.metadata.generation = Some(1);
    cr.metadata.resource_version = Some("1".into());
    cr
}

/// A Database on the cloud cluster `cluster_id`.
fn database(name: &str, cluster_id: &str) -> Database {
    let yaml = format!("apiVersion: crdbcloud.io/v1alpha1\nkind: Database\nmetadata:\n  name: {name}\nspec:\n  clusterId: {cluster_id}\n");
    let mut db: Database = serde_norway::from_str(&yaml).unwrap();
    db.metadata.namespace = Some(NS.into());
    db.metadata.uid = Some(format!("uid-{name}-0002"));
    db.metadata.generation = Some(1);
    db.metadata.resource_version = Some("1".into());
    db
}

/// Marked for deletion, the finalizer still on.
fn being_deleted<K: kube::Resource>(mut obj: K) -> K {
    obj.meta_mut().deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
    obj.meta_mut().finalizers = Some(vec![FINALIZER.to_string()]);
    obj
}

fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == type_)).unwrap_or(&Value::Null)
}

/// The finalizer patch a resource without finalizers gets: guarded by a `test`, then added.
fn assert_adds_finalizer(seen: &Seen, cloud_before: &[String]) {
    assert!(seen.is_finalizer_patch(), "the first request adds the finalizer: {seen:#?}");
    assert_eq!(
        seen.body,
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ])
    );
    assert_eq!(seen.cloud_before, cloud_before, "nothing reaches the cloud before the finalizer");
}

fn assert_removes_finalizer(seen: &Seen) {
    assert!(seen.is_finalizer_patch(), "{seen:#?}");
    assert_eq!(
        seen.body,
        json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": FINALIZER},
            {"op": "remove", "path": "/metadata/finalizers/0"},
        ])
    );
}

fn writes_in(seen: &[Seen]) -> Vec<&Seen> {
    seen.iter().filter(|s| !s.is_event()).collect()
}

fn events(seen: &[Seen]) -> Vec<&str> {
    seen.iter().filter_map(Seen::event_reason).collect()
}

// ---------------------------------------------------------------------------------------------
// Shape 1: the exactly-once create of a CockroachCluster

#[tokio::test]
async fn a_fresh_cluster_gets_the_finalizer_then_its_intent_then_one_create_then_its_id() {
    let rig = Rig::new().await;
    let cr = cluster("shop-db");
    rig.api.put(&cr);

    rig.reconcile(&cr).await;
    let seen = rig.api.take();
    let writes = writes_in(&seen);
    assert_eq!(writes.len(), 4, "finalizer, intent, ID, final status: {writes:#?}");
    assert_adds_finalizer(writes[0], &[]);

    // The intent, before the create: createRequestedAt set, no ID, Reconciling for Creating.
    let intent = writes[1];
    assert!(intent.is_status_apply(), "{intent:#?}");
    assert!(intent.uri.contains("fieldManager=crdb-cloud-operator") && intent.uri.contains("force=true"), "{}", intent.uri);
    assert!(intent.body["status"]["createRequestedAt"].is_string(), "{:#}", intent.body);
    assert!(intent.body["status"]["clusterId"].is_null(), "{:#}", intent.body);
    assert_eq!(condition(&intent.body["status"], "Reconciling")["reason"], "Creating");
    assert_eq!(count_of(&intent.cloud_before, Operation::CreateCluster), 0, "the intent is stored before the create");
    // The search by name came first, so a lost answer is found again.
    assert_eq!(count_of(&intent.cloud_before, Operation::ListClusters), 1, "{:?}", intent.cloud_before);

    // The ID, right after the one create, and the intent cleared.
    let recorded = writes[2];
    assert!(recorded.is_status_apply(), "{recorded:#?}");
    assert_eq!(count_of(&recorded.cloud_before, Operation::CreateCluster), 1);
    let live = rig.live_clusters("shop-db").await;
    assert_eq!(live.len(), 1, "one cluster: {live:#?}");
    assert_eq!(recorded.body["status"]["clusterId"], live[0].id.as_str());
    assert!(recorded.body["status"]["createRequestedAt"].is_null(), "{:#}", recorded.body);
    assert_eq!(live[0].labels.get(OWNER_LABEL).map(String::as_str), Some("uid-shop-db-0001"), "the create carries the ownership marker");

    // The final write: the cloud is creating it.
    let last = writes[3];
    assert!(last.is_status_apply());
    assert_eq!(last.body["status"]["clusterId"], live[0].id.as_str());
    assert_eq!(condition(&last.body["status"], "Reconciling")["reason"], "Creating");
    assert_eq!(last.body["status"]["observedGeneration"], 1);
    assert_eq!(events(&seen), ["Created"]);
    assert_eq!(rig.count(Operation::CreateCluster).await, 1);

    // The next pass reads it by ID: no search, no second create.
    let before = rig.cloud_ops().await.len();
    rig.reconcile(&cr).await;
    let after = rig.cloud_ops().await;
    assert_eq!(after[before..], [Operation::GetCluster.name().to_string()], "one read by ID");
    assert_eq!(rig.count(Operation::CreateCluster).await, 1);
    // Status unchanged: no write at all.
    assert!(writes_in(&rig.api.take()).is_empty());
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_by_its_owner_label_and_not_sent_again() {
    let rig = Rig::new().await;
    let cr = cluster("lost-answer");
    rig.api.put(&cr);
    // The cloud creates the cluster, and the answer never arrives.
    rig.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::CreateCluster) }).await;
    rig.reconcile(&cr).await;
    let seen = rig.api.take();
    let stored = rig.api.get(&cr);
    let status = stored.status.as_ref().unwrap();
    // The intent stays (the request may have been performed); no ID.
    assert!(status.create_requested_at.is_some(), "{status:#?}");
    assert!(status.cluster_id.is_none(), "{status:#?}");
    assert_eq!(rig.count(Operation::CreateCluster).await, 1);
    assert_eq!(rig.live_clusters("lost-answer").await.len(), 1, "the create ran");
    assert!(!events(&seen).contains(&"Created"), "{:?}", events(&seen));

    // The next pass searches, finds the cluster carrying this resource's UID and takes it: no
    // second create, inside the confirmation window or not.
    rig.reconcile(&cr).await;
    let seen = rig.api.take();
    assert_eq!(rig.count(Operation::CreateCluster).await, 1, "no second create");
    let live = rig.live_clusters("lost-answer").await;
    assert_eq!(live.len(), 1);
    let status = rig.api.get(&cr).status.unwrap();
    assert_eq!(status.cluster_id.as_deref(), Some(live[0].id.as_str()));
    assert!(status.create_requested_at.is_none(), "{status:#?}");
    let writes = writes_in(&seen);
    assert_eq!(writes.len(), 1, "only the final status: {writes:#?}");
    assert_eq!(count_of(&writes[0].cloud_before, Operation::ListClusters), 2, "found by the search before creating");
}

#[tokio::test]
async fn an_intent_inside_the_confirmation_window_with_nothing_found_waits_instead_of_creating() {
    let rig = Rig::new().await;
    let mut cr = cluster("pending-create");
    cr.status = Some(crdb_cloud_operator::api::cluster::CockroachClusterStatus {
        create_requested_at: Some(k8s_openapi::jiff::Timestamp::now().to_string()),
        ..Default::default()
    });
    cr.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
    rig.api.put(&cr);

    let action = rig.reconcile(&cr).await;
    let seen = rig.api.take();
    assert_eq!(rig.count(Operation::CreateCluster).await, 0, "no create while an earlier one may surface");
    assert_eq!(rig.cloud_ops().await, [Operation::ListClusters.name()], "one search, nothing else");
    let writes = writes_in(&seen);
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert!(writes[0].is_status_apply());
    let status = &writes[0].body["status"];
    assert_eq!(condition(status, "Reconciling")["reason"], "ConfirmingCreate");
    assert!(status["createRequestedAt"].is_string(), "the intent stays: {status:#}");
    // Looked at again soon (the poll interval, jittered).
    assert!(format!("{action:?}").contains("requeue_after: Some"), "{action:?}");

    // Once the window has passed with nothing found, the create is sent (once).
    let mut old = rig.api.get(&cr);
    old.status.as_mut().unwrap().create_requested_at = Some((k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(60)).to_string());
    rig.api.put(&old);
    rig.reconcile(&cr).await;
    rig.api.take();
    assert_eq!(rig.count(Operation::CreateCluster).await, 1);
}

#[tokio::test]
async fn adoption_takes_the_named_cluster_and_a_mismatch_stalls() {
    let rig = Rig::new().await;
    let existing = rig.admin.cloud().create_cluster(&console_cluster("console-made")).await.unwrap();

    let mut cr = cluster("adopter");
    cr.spec.adopt_cluster_id = Some(existing.id.clone());
    rig.api.put(&cr);
    rig.reconcile(&cr).await;
    let seen = rig.api.take();
    assert_eq!(rig.count(Operation::CreateCluster).await, 1, "only the console's create");
    assert_eq!(rig.count(Operation::ListClusters).await, 0, "no search: the spec names the cluster");
    let status = rig.api.get(&cr).status.unwrap();
    assert_eq!(status.cluster_id.as_deref(), Some(existing.id.as_str()));
    assert!(status.create_requested_at.is_none());
    assert!(events(&seen).contains(&"Adopted"), "{:?}", events(&seen));
    // No intent is written for an adoption: finalizer, then the final status.
    assert_eq!(writes_in(&seen).len(), 2, "{:#?}", writes_in(&seen));

    // A spec that does not describe the named cluster (another provider) stalls, creating nothing.
    let mut aws = cluster("mismatch");
    aws.spec.adopt_cluster_id = Some(existing.id.clone());
    aws.spec.provider = serde_json::from_value(json!("AWS")).unwrap();
    rig.api.put(&aws);
    rig.reconcile(&aws).await;
    let seen = rig.api.take();
    assert_eq!(rig.count(Operation::CreateCluster).await, 1);
    let status = rig.api.get(&aws).status.unwrap();
    let status = serde_json::to_value(&status).unwrap();
    let stalled = condition(&status, "Stalled");
    assert_eq!(stalled["status"], "True", "{status:#}");
    assert_eq!(stalled["reason"], "AdoptionFailed");
    assert!(stalled["message"].as_str().unwrap().starts_with("spec.adoptClusterId:"), "{stalled:#}");
    assert!(status["clusterId"].is_null(), "{status:#}");
    assert!(events(&seen).contains(&"AdoptionFailed"), "{:?}", events(&seen));

    // An ID the cloud does not know stalls too.
    let mut unknown = cluster("unknown");
    unknown.spec.adopt_cluster_id = Some("00000000-0000-0000-0000-000000000000".into());
    rig.api.put(&unknown);
    rig.reconcile(&unknown).await;
    rig.api.take();
    let status = serde_json::to_value(rig.api.get(&unknown).status.unwrap()).unwrap();
    assert_eq!(condition(&status, "Stalled")["reason"], "AdoptionFailed", "{status:#}");
    assert_eq!(rig.count(Operation::CreateCluster).await, 1);
}

/// A cluster resource being deleted, whose cloud cluster exists (created as the operator would).
async fn cluster_to_delete(rig: &Rig, name: &str, policy: DeletionPolicy) -> (CockroachCluster, String) {
    let mut cr = cluster(name);
    cr.spec.deletion_policy = policy;
    let request: CreateClusterRequest = create_request(&cr, cr.metadata.uid.as_deref().unwrap());
    let created = rig.admin.cloud().create_cluster(&request).await.unwrap();
    let mut cr = being_deleted(cr);
    cr.status = Some(crdb_cloud_operator::api::cluster::CockroachClusterStatus { cluster_id: Some(created.id.clone()), ..Default::default() });
    rig.api.put(&cr);
    (cr, created.id)
}

#[tokio::test]
async fn delete_policy_delete_removes_the_cloud_cluster_and_releases_only_once_the_cloud_confirms() {
    let rig = Rig::new().await;
    let (cr, id) = cluster_to_delete(&rig, "doomed", DeletionPolicy::Delete).await;
    rig.admin.force_state(&id, &ForceState { state: Some(ClusterState::Created), ..Default::default() }).await;

    // The cloud performs the delete and its answer is lost: the finalizer stays.
    rig.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::DeleteCluster) }).await;
    rig.reconcile(&cr).await;
    let seen = rig.api.take();
    assert_eq!(rig.count(Operation::DeleteCluster).await, 1);
    assert!(!seen.iter().any(Seen::is_finalizer_patch), "not released without the cloud's word: {seen:#?}");
    assert_eq!(rig.api.get(&cr).metadata.finalizers, Some(vec![FINALIZER.to_string()]));
    let status = serde_json::to_value(rig.api.get(&cr).status.unwrap()).unwrap();
    assert_eq!(condition(&status, "Reconciling")["status"], "True", "retrying: {status:#}");

    // The next pass reads the cluster as deleted: released, without a second delete.
    rig.reconcile(&cr).await;
    let seen = rig.api.take();
    assert_eq!(rig.count(Operation::DeleteCluster).await, 1, "no second delete");
    let writes = writes_in(&seen);
    assert_eq!(writes.len(), 1, "only the release: {writes:#?}");
    assert_removes_finalizer(writes[0]);
    assert_eq!(rig.api.get(&cr).metadata.finalizers, Some(vec![]));
    assert!(rig.live_clusters("doomed").await.is_empty());

    // A plain delete: sent, confirmed by a read, then the finalizer goes (in that order).
    let (cr, id) = cluster_to_delete(&rig, "doomed-too", DeletionPolicy::Delete).await;
    rig.admin.force_state(&id, &ForceState { state: Some(ClusterState::Created), ..Default::default() }).await;
    let before = rig.cloud_ops().await.len();
    rig.reconcile(&cr).await;
    let seen = rig.api.take();
    let release = seen.iter().find(|s| s.is_finalizer_patch()).expect("released");
    assert_removes_finalizer(release);
    let ops = &release.cloud_before[before..];
    let deleted = ops.iter().position(|o| o == Operation::DeleteCluster.name()).expect("the delete went before the release");
    assert!(ops[deleted + 1..].iter().any(|o| o == Operation::GetCluster.name()), "the deletion confirmed by a read before the release: {ops:?}");
    assert!(events(&seen).contains(&"Deleting"), "{:?}", events(&seen));
}

#[tokio::test]
async fn delete_policy_retain_releases_without_touching_the_cloud() {
    let rig = Rig::new().await;
    let (cr, id) = cluster_to_delete(&rig, "kept-cluster", DeletionPolicy::Retain).await;
    let before = rig.cloud_ops().await;
    rig.reconcile(&cr).await;
    let seen = rig.api.take();
    assert_eq!(rig.cloud_ops().await, before, "no cloud request at all");
    let writes = writes_in(&seen);
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_removes_finalizer(writes[0]);
    assert_eq!(events(&seen), ["Retained"]);
    let live = rig.live_clusters("kept-cluster").await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, id);
}

// ---------------------------------------------------------------------------------------------
// Shape 2: a Database, a member of its cluster's list

/// A cloud cluster ready to hold databases.
async fn ready_cluster(rig: &Rig) -> String {
    let id = rig.admin.cloud().create_cluster(&console_cluster("members")).await.unwrap().id;
    rig.admin.force_state(&id, &ForceState { state: Some(ClusterState::Created), ..Default::default() }).await;
    id
}

async fn database_names(rig: &Rig, cluster_id: &str) -> Vec<String> {
    rig.admin.cluster(cluster_id).await.unwrap().database_names()
}

#[tokio::test]
async fn a_database_is_created_once_and_adopted_when_the_cloud_says_it_exists() {
    let rig = Rig::new().await;
    let id = ready_cluster(&rig).await;

    // Created: the finalizer first, one list, the key about to be created recorded, one create,
    // Ready with the name recorded.
    let orders = database("orders", &id);
    rig.api.put(&orders);
    let before = rig.cloud_ops().await;
    rig.reconcile(&orders).await;
    let seen = rig.api.take();
    let writes = writes_in(&seen);
    assert_eq!(writes.len(), 3, "{writes:#?}");
    assert_adds_finalizer(writes[0], &before);
    let intent = &writes[1].body["status"];
    assert_eq!(intent["createRequestedFor"], "orders", "{intent:#}");
    assert_eq!(count_of(&writes[1].cloud_before, Operation::CreateDatabase), 0, "recorded before the create");
    let status = &writes[2].body["status"];
    assert_eq!(condition(status, "Ready")["status"], "True", "{status:#}");
    assert_eq!(status["cloudName"], "orders");
    assert!(status.get("createRequestedFor").is_none(), "cleared once the name is recorded: {status:#}");
    assert_eq!(status["clusterId"], id.as_str());
    assert_eq!(count_of(&writes[2].cloud_before, Operation::CreateDatabase), 1);
    assert_eq!(events(&seen), ["Created", "Ready"]);
    assert!(database_names(&rig, &id).await.contains(&"orders".to_string()));

    // The next pass reads the shared list: no second create.
    rig.reconcile(&orders).await;
    rig.api.take();
    assert_eq!(rig.count(Operation::CreateDatabase).await, 1);

    // Someone creates "invoices" after the list was read; the resource's create is answered
    // AlreadyExists and the database is adopted, not failed.
    rig.admin.cloud().create_database(&id, "invoices").await.unwrap();
    let invoices = database("invoices", &id);
    rig.api.put(&invoices);
    let lists = rig.count(Operation::ListDatabases).await;
    rig.reconcile(&invoices).await;
    let seen = rig.api.take();
    assert_eq!(rig.count(Operation::ListDatabases).await, lists, "decided on the shared list");
    let creates = rig.admin.requests_of(Operation::CreateDatabase).await;
    assert_eq!(creates.len(), 3, "ours, the person's, ours again: {creates:#?}");
    assert_eq!(creates[2].status, 409, "{creates:#?}");
    assert!(events(&seen).contains(&"Adopted"), "{:?}", events(&seen));
    let status = serde_json::to_value(rig.api.get(&invoices).status.unwrap()).unwrap();
    assert_eq!(status["cloudName"], "invoices", "adopted, so deleting the resource removes it: {status:#}");
    assert_eq!(condition(&status, "Reconciling")["reason"], "Adopted");

    // Confirmed from a fresh list on the next pass.
    rig.reconcile(&invoices).await;
    rig.api.take();
    assert_eq!(rig.count(Operation::ListDatabases).await, lists + 1);
    assert_eq!(rig.count(Operation::CreateDatabase).await, 3);
    let status = serde_json::to_value(rig.api.get(&invoices).status.unwrap()).unwrap();
    assert_eq!(condition(&status, "Ready")["status"], "True", "{status:#}");
}

#[tokio::test]
async fn a_deleted_database_is_removed_from_the_cloud_unless_retained() {
    let rig = Rig::new().await;
    let id = ready_cluster(&rig).await;
    for name in ["dropped", "kept"] {
        rig.admin.cloud().create_database(&id, name).await.unwrap();
    }
    let mark = |mut db: Database, policy: DeletionPolicy| {
        db.spec.deletion_policy = policy;
        let mut db = being_deleted(db);
        let mut status = crdb_cloud_operator::api::DatabaseStatus::default();
        status.common.cloud_name = Some(db.metadata.name.clone().unwrap());
        status.common.cluster_id = Some(id.clone());
        db.status = Some(status);
        db
    };

    let dropped = mark(database("dropped", &id), DeletionPolicy::Delete);
    rig.api.put(&dropped);
    rig.reconcile(&dropped).await;
    let seen = rig.api.take();
    let writes = writes_in(&seen);
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_removes_finalizer(writes[0]);
    assert_eq!(count_of(&writes[0].cloud_before, Operation::DeleteDatabase), 1, "deleted in the cloud before the release");
    assert_eq!(events(&seen), ["Deleted"]);
    assert!(!database_names(&rig, &id).await.contains(&"dropped".to_string()));

    // The create was sent but the operator stopped before recording its answer: only the intent
    // is in status, and deleting the resource still removes the database.
    rig.admin.cloud().create_database(&id, "unrecorded").await.unwrap();
    let mut unrecorded = mark(database("unrecorded", &id), DeletionPolicy::Delete);
    if let Some(status) = unrecorded.status.as_mut() {
        status.common.cloud_name = None;
        status.common.create_requested_for = Some("unrecorded".into());
    }
    rig.api.put(&unrecorded);
    rig.reconcile(&unrecorded).await;
    let writes_seen = rig.api.take();
    assert_removes_finalizer(writes_in(&writes_seen)[0]);
    assert!(!database_names(&rig, &id).await.contains(&"unrecorded".to_string()), "removed by its recorded intent");

    let kept = mark(database("kept", &id), DeletionPolicy::Retain);
    rig.api.put(&kept);
    let before = rig.cloud_ops().await;
    rig.reconcile(&kept).await;
    let seen = rig.api.take();
    assert_eq!(rig.cloud_ops().await, before, "no cloud request");
    let writes = writes_in(&seen);
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_removes_finalizer(writes[0]);
    assert!(database_names(&rig, &id).await.contains(&"kept".to_string()), "retained in the cloud");

    // A failing delete keeps the finalizer.
    rig.admin.cloud().create_database(&id, "stuck").await.unwrap();
    let stuck = mark(database("stuck", &id), DeletionPolicy::Delete);
    rig.api.put(&stuck);
    rig.admin.add_fault(&FaultSpec { status: Some(503), ..FaultSpec::on(Operation::DeleteDatabase) }).await;
    rig.reconcile(&stuck).await;
    let seen = rig.api.take();
    assert!(!seen.iter().any(Seen::is_finalizer_patch), "{seen:#?}");
    assert!(database_names(&rig, &id).await.contains(&"stuck".to_string()));
}

// ---------------------------------------------------------------------------------------------
// A watch cache behind the operator's own status write

#[tokio::test]
async fn a_pass_from_a_cache_older_than_the_last_status_write_waits_instead_of_sending_the_datadog_key_again() {
    let rig = Rig::new().await;
    let secret: k8s_openapi::api::core::v1::Secret =
        serde_json::from_value(json!({"metadata": {"name": "dd", "namespace": NS}, "data": {"api-key": "ZGQta2V5LTAxMjM0NTY3ODlhYmNkZWY="}})).unwrap();
    rig.api.put(&secret);
    let mut cr = cluster("metrics-db");
    cr.spec.settings.metric_export = Some(serde_json::from_value(json!({"datadog": {"site": "US1", "apiKeySecretRef": {"name": "dd", "key": "api-key"}}})).unwrap());
    rig.api.put(&cr);
    rig.reconcile(&cr).await;
    let id = rig.api.get(&cr).status.unwrap().cluster_id.unwrap();
    rig.admin.force_state(&id, &ForceState { state: Some(ClusterState::Created), ..Default::default() }).await;
    rig.api.take();

    // The pass that finds the cluster created sends the key and records its fingerprint.
    let before_write = rig.api.get(&cr);
    rig.reconcile(&cr).await;
    assert_eq!(rig.count(Operation::EnableDatadogMetricExport).await, 1);
    let recorded = serde_json::to_value(rig.api.get(&cr).status.unwrap()).unwrap();
    assert!(recorded["metricExport"]["datadog"]["apiKeyFingerprint"].is_string(), "{recorded:#}");
    rig.api.take();

    // A trigger queued during that pass runs from the cache, which has not yet seen the write:
    // nothing is read or sent (that older status has no fingerprint, so the key would go again).
    let cloud_before = rig.cloud_ops().await;
    rig.reconcile_as(before_write).await;
    assert_eq!(rig.cloud_ops().await, cloud_before, "a pass from a stale cache reached the cloud");
    assert!(rig.api.take().is_empty(), "a pass from a stale cache wrote to the apiserver");

    // Once the cache holds the write, the pass runs, and the key is not sent again.
    rig.reconcile(&cr).await;
    assert!(rig.cloud_ops().await.len() > cloud_before.len(), "the pass from the current object read the cloud");
    assert_eq!(rig.count(Operation::EnableDatadogMetricExport).await, 1, "the Datadog key was sent twice");
}
