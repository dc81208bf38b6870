//! `plan --prune`: the live resources of the manifests' namespaces that the manifests no longer
//! declare, which a pruning GitOps tool would delete, and what their deletion would do in the
//! cloud (their `deletionPolicy` and `managementPolicy` decide).

use std::collections::BTreeSet;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;

use super::manifests::Manifest;
use super::plan::{Action, ResourcePlan, Session};
use crate::api::GROUP;
use crate::controller::registry::Registered;

/// The plans of the deletions; none without Kubernetes.
pub async fn plan(session: &Session, kinds: &[Box<dyn Registered>]) -> Result<Vec<ResourcePlan>, String> {
    let Some(client) = session.kube.clone() else {
        return Ok(Vec::new());
    };
    let namespaces: BTreeSet<&str> = session.manifests.iter().map(|m| m.namespace.as_str()).collect();
    let mut undeclared = Vec::new();
    for namespace in &namespaces {
        for kind in kinds {
            let crd = kind.crd();
            let version = crd.spec.versions.first().map(|v| v.name.clone()).unwrap_or_default();
            let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, &version, &kind.kind()), &kind.plural());
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
            let listed = api.list(&ListParams::default()).await.map_err(|e| format!("listing {} in {namespace}: {e}", kind.plural()))?;
            for obj in listed.items {
                let name = obj.metadata.name.clone().unwrap_or_default();
                if !session.declares(&kind.kind(), namespace, &name) {
                    undeclared.push((kind.kind(), namespace.to_string(), obj));
                }
            }
        }
    }
    let plans = undeclared.iter().map(|(kind, namespace, obj)| deletion(kind, namespace, obj, &undeclared)).collect();
    Ok(plans)
}

/// What deleting one live resource would do. A cluster's deletion takes its cloud contents
/// with it: the resources naming it that are deleted too are listed.
fn deletion(kind: &str, namespace: &str, obj: &DynamicObject, all: &[(String, String, DynamicObject)]) -> ResourcePlan {
    let name = obj.metadata.name.clone().unwrap_or_default();
    let spec = |field: &str| obj.data.pointer(&format!("/spec/{field}")).and_then(Value::as_str).map(str::to_string);
    let cloud_id = ["clusterId", "folderId", "serviceAccountId", "apiKeyId", "jwtIssuerId", "cloudName"]
        .iter()
        .find_map(|field| obj.data.pointer(&format!("/status/{field}")).and_then(Value::as_str).map(str::to_string));
    let manifest = Manifest { kind: kind.to_string(), namespace: namespace.to_string(), name: name.clone(), document: Value::Null, source: "live".into() };
    let (action, mut message) = if spec("managementPolicy").as_deref() == Some("Observe") {
        (Action::Release, "no longer declared: the resource would be deleted; it is observed, so nothing is deleted in the cloud".to_string())
    } else if spec("deletionPolicy").as_deref() == Some("Retain") {
        (Action::Release, "no longer declared: the resource would be deleted; deletionPolicy is Retain, so the cloud object is kept".to_string())
    } else {
        (Action::Delete, "no longer declared: the resource and its cloud object would be deleted".to_string())
    };
    if kind == "CockroachCluster" && action == Action::Delete {
        let followers: Vec<String> = all
            .iter()
            .filter(|(_, ns, other)| ns == namespace && other.data.pointer("/spec/clusterRef/name").and_then(Value::as_str) == Some(name.as_str()))
            .map(|(k, _, other)| format!("{k}/{}", other.metadata.name.clone().unwrap_or_default()))
            .collect();
        message.push_str("; everything in the cloud cluster goes with it");
        if !followers.is_empty() {
            message.push_str(&format!(" (declared here: {})", followers.join(", ")));
        }
    }
    let plan = ResourcePlan::new(&manifest, action, message);
    match cloud_id {
        Some(id) => plan.with_id(id),
        None => plan,
    }
}
