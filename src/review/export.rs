//! `crdb-cloud-operator export`: manifests for an existing organisation, so it can be brought
//! under GitOps without typing its YAML.
//!
//! Every kind exports through its shape: top-level objects (clusters, folders, service accounts,
//! API keys, JWT issuers) from their list, with the adoption field naming the object; then the
//! members of each exported owner (a cluster's users, databases, allowlist, egress rules,
//! private endpoint connections and trusted owners; a service account's role grants). A spec is
//! the object's `spec_of`, the description observe-only compares with, so an exported resource
//! observes no difference. IDs of exported objects become references (`clusterRef`,
//! `folderRef`, `parentRef`, `serviceAccountRef`) in a pass over all of them.
//!
//! Manifests are written with `managementPolicy: Observe` unless asked otherwise: applied, they
//! report on the estate and change nothing; switching a resource to `Manage` hands it over.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::api::GROUP;
use crate::cloud::CloudClient;

/// One exported resource before references are drawn.
#[derive(Debug, Clone)]
pub struct Exported {
    pub kind: String,
    /// The Kubernetes name (unique per kind).
    pub name: String,
    /// The cloud object's ID (or key, for list members).
    pub cloud_id: String,
    pub spec: Value,
    /// Notes for the person applying it (`crdbcloud.io/export-note`).
    pub note: Option<String>,
}

/// What an export reads and has exported so far.
pub struct ExportSession {
    pub cloud: CloudClient,
    /// Clusters named with `--cluster` (empty: none unless `all`).
    pub clusters: Vec<String>,
    /// Everything in the organisation.
    pub all: bool,
    /// The management policy written into every manifest.
    pub policy: &'static str,
    /// IDs of the objects exported so far, by kind (the owners whose members are exported).
    exported: std::sync::Mutex<HashMap<String, Vec<String>>>,
}

impl ExportSession {
    pub fn new(cloud: CloudClient, clusters: Vec<String>, all: bool, manage: bool) -> Self {
        Self { cloud, clusters, all, policy: if manage { "Manage" } else { "Observe" }, exported: Default::default() }
    }

    /// Whether a top-level object of `kind` is exported: clusters named with `--cluster`, or
    /// everything with `--all`.
    pub fn includes(&self, kind: &str, id: &str) -> bool {
        self.all || (kind == "CockroachCluster" && self.clusters.iter().any(|c| c == id))
    }

    /// Records exported objects of `kind`; their members are exported next.
    pub fn record(&self, kind: &str, ids: impl IntoIterator<Item = String>) {
        self.exported.lock().expect("export lock").entry(kind.to_string()).or_default().extend(ids);
    }

    /// The exported objects of `kind`.
    pub fn owners(&self, kind: &str) -> Vec<String> {
        self.exported.lock().expect("export lock").get(kind).cloned().unwrap_or_default()
    }
}

/// Drops what a manifest need not say: nulls, and objects left empty by that.
pub fn pruned(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let kept: Map<String, Value> = map.into_iter().map(|(k, v)| (k, pruned(v))).filter(|(_, v)| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty())).collect();
            Value::Object(kept)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(pruned).collect()),
        other => other,
    }
}

/// A Kubernetes name (RFC 1123 subdomain) for a cloud name: lower case, other characters as
/// `-`, at most 63 characters, unique among `taken`.
pub fn kubernetes_name(cloud_name: &str, taken: &mut BTreeSet<String>) -> String {
    let mut base: String = cloud_name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' }).collect();
    base = base.trim_matches(|c| c == '-' || c == '.').chars().take(55).collect();
    if base.is_empty() {
        base = "unnamed".into();
    }
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(name.clone());
    name
}

/// Spec fields holding an exported object's ID, and the reference that replaces them:
/// (field, kind of the object, reference field).
const REFERENCES: &[(&str, &str, &str)] = &[
    ("clusterId", "CockroachCluster", "clusterRef"),
    ("folderId", "Folder", "folderRef"),
    ("serviceAccountId", "ServiceAccount", "serviceAccountRef"),
    ("userId", "ServiceAccount", "serviceAccountRef"),
];

/// Replaces IDs of exported objects by references to their resources, so the manifests hold
/// together when applied (a folder's `parentId` becomes `parentRef`, a cluster's `folderRef`).
pub fn draw_references(resources: &mut [Exported]) {
    let names: HashMap<(String, String), String> = resources.iter().map(|r| ((r.kind.clone(), r.cloud_id.clone()), r.name.clone())).collect();
    for resource in resources.iter_mut() {
        let parent_ref = if resource.kind == "CockroachCluster" { "folderRef" } else { "parentRef" };
        let mut table: Vec<(&str, &str, &str)> = REFERENCES.to_vec();
        table.push(("parentId", "Folder", parent_ref));
        refer(&mut resource.spec, &table, &names);
    }
}

fn refer(value: &mut Value, table: &[(&str, &str, &str)], names: &HashMap<(String, String), String>) {
    let Value::Object(map) = value else { return };
    for (field, kind, reference) in table {
        let target = map.get(*field).and_then(Value::as_str).and_then(|id| names.get(&(kind.to_string(), id.to_string()))).cloned();
        if let Some(name) = target {
            map.remove(*field);
            map.insert(reference.to_string(), json!({"name": name}));
        }
    }
    for child in map.values_mut() {
        refer(child, table, names);
    }
}

/// The manifest of one exported resource.
pub fn manifest(resource: &Exported, namespace: Option<&str>) -> Value {
    let mut metadata = json!({"name": resource.name});
    if let Some(namespace) = namespace {
        metadata["namespace"] = json!(namespace);
    }
    if let Some(note) = &resource.note {
        metadata["annotations"] = json!({"crdbcloud.io/export-note": note});
    }
    json!({"apiVersion": format!("{GROUP}/v1alpha1"), "kind": resource.kind, "metadata": metadata, "spec": resource.spec})
}

/// Writes the manifests: one file per resource in `dir` (`<kind>-<name>.yaml`), or all of them
/// as one YAML stream on stdout.
pub fn write(resources: &[Exported], namespace: Option<&str>, dir: Option<&Path>) -> Result<(), String> {
    let yaml = |value: &Value| serde_norway::to_string(value).map_err(|e| e.to_string());
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for resource in resources {
                let path = dir.join(format!("{}-{}.yaml", resource.kind.to_lowercase(), resource.name));
                std::fs::write(&path, yaml(&manifest(resource, namespace))?).map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        None => {
            for resource in resources {
                print!("---\n{}", yaml(&manifest(resource, namespace))?);
            }
        }
    }
    Ok(())
}

/// How many resources of each kind were exported, for the summary on stderr.
pub fn tally(resources: &[Exported]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for resource in resources {
        *counts.entry(resource.kind.as_str()).or_default() += 1;
    }
    counts.iter().map(|(kind, n)| format!("{n} {kind}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kubernetes_names_and_unique() {
        let mut taken = BTreeSet::new();
        assert_eq!(kubernetes_name("App_User", &mut taken), "app-user");
        assert_eq!(kubernetes_name("app-user", &mut taken), "app-user-2");
        assert_eq!(kubernetes_name("203.0.113.0/24", &mut taken), "203.0.113.0-24");
        assert_eq!(kubernetes_name("__", &mut taken), "unnamed");
    }

    #[test]
    fn nulls_and_emptied_objects_are_dropped() {
        let spec = json!({"a": null, "b": {"c": null}, "d": [1], "e": {"f": 1, "g": null}});
        assert_eq!(pruned(spec), json!({"d": [1], "e": {"f": 1}}));
    }

    #[test]
    fn ids_of_exported_objects_become_references() {
        let exported = |kind: &str, name: &str, id: &str, spec: Value| Exported { kind: kind.into(), name: name.into(), cloud_id: id.into(), spec, note: None };
        let mut all = vec![
            exported("Folder", "team", "f1", json!({"name": "team", "parentId": "root"})),
            exported("Folder", "sub", "f2", json!({"name": "sub", "parentId": "f1"})),
            exported("CockroachCluster", "shop", "c1", json!({"parentId": "f2"})),
            exported("Database", "orders", "orders", json!({"clusterId": "c1"})),
            exported("Database", "elsewhere", "x", json!({"clusterId": "not-exported"})),
        ];
        draw_references(&mut all);
        assert_eq!(all[0].spec, json!({"name": "team", "parentId": "root"}));
        assert_eq!(all[1].spec, json!({"name": "sub", "parentRef": {"name": "team"}}));
        assert_eq!(all[2].spec, json!({"folderRef": {"name": "sub"}}));
        assert_eq!(all[3].spec, json!({"clusterRef": {"name": "shop"}}));
        assert_eq!(all[4].spec, json!({"clusterId": "not-exported"}));
    }
}
