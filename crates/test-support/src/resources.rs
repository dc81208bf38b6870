//! Manifests the tests apply, and waiting for and reading the resources the operator manages.

use std::time::{Duration, Instant};

use kube::api::Api;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::kubectl::kubectl;

/// The serverless cluster most tests use (as deploy/examples/cluster-serverless.yaml): STANDARD on
/// GCP us-central1 with 2 vCPUs and the label `team: payments`.
pub fn serverless_cluster(name: &str) -> String {
    format!(
        r#"apiVersion: crdbcloud.io/v1alpha1
kind: CockroachCluster
metadata:
  name: {name}
spec:
  provider: GCP
  serverless:
    regions: [us-central1]
    usageLimits:
      provisionedVirtualCpus: 2
  labels:
    team: payments
"#
    )
}

/// A SQLUser, Database or AllowlistEntry manifest referring to `cluster`; `spec` holds further
/// spec lines, indented by two. Starts with `---`, so manifests can be concatenated.
pub fn child(kind: &str, name: &str, cluster: &str, spec: &str) -> String {
    format!("---\napiVersion: crdbcloud.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n  clusterRef:\n    name: {cluster}\n{spec}")
}

/// An ADVANCED cluster (as deploy/examples/cluster-dedicated.yaml: AWS us-east-1, 3 nodes of 4
/// vCPUs) whose egress traffic policy is DEFAULT_DENY, so that it can hold egress rules.
pub fn advanced_cluster(name: &str) -> String {
    format!(
        r#"apiVersion: crdbcloud.io/v1alpha1
kind: CockroachCluster
metadata:
  name: {name}
spec:
  provider: AWS
  dedicated:
    regionNodes:
      us-east-1: 3
    hardware:
      numVirtualCpus: 4
      storageGib: 150
  egressTrafficPolicy: DefaultDeny
  labels:
    team: payments
"#
    )
}

/// `advanced_cluster(cluster)` (every kind needs a cluster that can hold it: egress rules need
/// ADVANCED and DEFAULT_DENY) with one child of every kind: SQLUser `app`, Database `orders`,
/// AllowlistEntry `office` (203.0.113.0/24), EgressRule `backups` (FQDN storage.googleapis.com),
/// and (the cluster sets `privateEndpoints`) PrivateEndpointConnection `app-endpoint` and
/// PrivateEndpointTrustedOwner `trusted-account`;
/// and one of each organisation-level kind: Folder `team` (at the root; the cluster is not in it,
/// so everything can be deleted at once), ServiceAccount `deployer` with its APIKey
/// `deployer-key`, a RoleGrant `deployer-dev` (CLUSTER_DEVELOPER on the cluster) and JWTIssuer `ci`
/// (its issuer URL named after `cluster`, unique per organisation), Stalled
/// NamespaceNotAllowed unless the operator trusts the namespace with them.
pub fn cluster_with_one_child_of_each_kind(cluster: &str) -> String {
    [
        advanced_cluster(cluster),
        "  privateEndpoints: {enabled: true}\n".to_string(),
        child("SQLUser", "app", cluster, ""),
        child("Database", "orders", cluster, ""),
        child("AllowlistEntry", "office", cluster, "  cidr: \"203.0.113.0/24\"\n"),
        child("EgressRule", "backups", cluster, "  type: FQDN\n  destination: storage.googleapis.com\n  ports: [443]\n"),
        child("PrivateEndpointConnection", "app-endpoint", cluster, "  endpointId: vpce-0a1b2c3d4e5f67890\n"),
        child("PrivateEndpointTrustedOwner", "trusted-account", cluster, "  externalOwnerId: \"123456789012\"\n"),
        org_level("ServiceAccount", "deployer", "  description: deploys the shop\n"),
        org_level("APIKey", "deployer-key", "  serviceAccountRef: {name: deployer}\n"),
        org_level("RoleGrant", "deployer-dev", &format!("  serviceAccountRef: {{name: deployer}}\n  role: CLUSTER_DEVELOPER\n  scope: {{clusterRef: {{name: {cluster}}}}}\n")),
        "---\napiVersion: crdbcloud.io/v1alpha1\nkind: Folder\nmetadata:\n  name: team\nspec: {}\n".to_string(),
        jwt_issuer("ci", &format!("https://{cluster}.issuer.example.com")),
    ]
    .concat()
}

/// An organisation-level resource (Folder, ServiceAccount, APIKey, RoleGrant); `spec` as for [`child`].
pub fn org_level(kind: &str, name: &str, spec: &str) -> String {
    format!("---\napiVersion: crdbcloud.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

/// A JWTIssuer with an inline one-key JWKS. Starts with `---`.
pub fn jwt_issuer(name: &str, issuer_url: &str) -> String {
    format!(
        "---\napiVersion: crdbcloud.io/v1alpha1\nkind: JWTIssuer\nmetadata:\n  name: {name}\nspec:\n  issuerUrl: {issuer_url}\n  audience: crdb\n  jwks: '{{\"keys\": [{{\"kty\": \"RSA\", \"kid\": \"{name}\", \"e\": \"AQAB\", \"n\": \"tid8bJCI5Fxt\"}}]}}'\n"
    )
}

/// Polls `get` until `done` holds, panicking with the last value after `timeout`.
pub async fn wait_for<K, F>(api: &Api<K>, name: &str, timeout: Duration, what: &str, done: F) -> K
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + serde::Serialize,
    F: Fn(&K) -> bool,
{
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        if let Ok(Some(obj)) = api.get_opt(name).await {
            if done(&obj) {
                return obj;
            }
            last = Some(obj);
        }
        if Instant::now() > deadline {
            let shown = last.map(|o| serde_json::to_string_pretty(&o).unwrap()).unwrap_or_else(|| "<absent>".into());
            panic!("timed out after {timeout:?} waiting for {name} to be {what}; last seen:\n{shown}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls `read` until `done` holds of what it returns, panicking with `what` and the last value
/// after `timeout`; returns that value.
pub async fn eventually<T, F>(what: &str, timeout: Duration, mut read: impl FnMut() -> F, done: impl Fn(&T) -> bool) -> T
where
    T: std::fmt::Debug,
    F: std::future::Future<Output = T>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}; last: {value:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the object is gone.
pub async fn wait_gone<K>(api: &Api<K>, name: &str, timeout: Duration)
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + serde::Serialize,
{
    let deadline = Instant::now() + timeout;
    loop {
        match api.get_opt(name).await.unwrap() {
            None => return,
            Some(obj) if Instant::now() > deadline => {
                panic!("timed out waiting for {name} to be deleted; still:\n{}", serde_json::to_string_pretty(&obj).unwrap())
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// The status of condition `type_` ("True"/"False") in a resource's JSON.
pub fn condition(obj: &impl serde::Serialize, type_: &str) -> Option<(String, String, String)> {
    let value = serde_json::to_value(obj).ok()?;
    value["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_).map(|c| {
        (
            c["status"].as_str().unwrap_or_default().to_string(),
            c["reason"].as_str().unwrap_or_default().to_string(),
            c["message"].as_str().unwrap_or_default().to_string(),
        )
    })
}

/// Condition `type_` has this status, for the resource's current generation.
pub fn condition_is(obj: &impl serde::Serialize, type_: &str, status: &str) -> bool {
    condition(obj, type_).is_some_and(|(s, _, _)| s == status) && generation_observed(obj)
}

pub fn is_ready(obj: &impl serde::Serialize) -> bool {
    condition_is(obj, "Ready", "True")
}

pub fn is_stalled_with(obj: &impl serde::Serialize, reason: &str) -> bool {
    condition(obj, "Stalled").is_some_and(|(s, r, _)| s == "True" && r == reason)
}

pub fn generation_observed(obj: &impl serde::Serialize) -> bool {
    let value = serde_json::to_value(obj).unwrap();
    value["metadata"]["generation"] == value["status"]["observedGeneration"]
}

/// Events about one object, as "Type Reason: message" lines.
pub async fn events_for(namespace: &str, name: &str) -> Vec<String> {
    let out = kubectl(&["get", "events", "-n", namespace, "-o", "json"], None).await.ok();
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["involvedObject"]["name"] == name || e["regarding"]["name"] == name)
        .map(|e| format!("{} {}: {}", e["type"].as_str().unwrap_or(""), e["reason"].as_str().unwrap_or(""), e["message"].as_str().or(e["note"].as_str()).unwrap_or("")))
        .collect()
}

pub fn name_of(obj: &impl ResourceExt) -> String {
    obj.name_any()
}
