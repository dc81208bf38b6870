//! The Helm chart under test: where it is, and the objects `helm template` renders from it.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::kubectl::helm;

/// The repository's root.
pub fn repo() -> &'static Path {
    super::repo_root()
}

/// The chart's directory.
pub fn chart() -> String {
    repo().join("charts/crdb-cloud-operator").display().to_string()
}

/// Every non-empty document of a multi-document YAML stream.
pub fn yaml_docs(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("invalid YAML ({e}):\n{text}")))
        .filter(|v| !v.is_null())
        .collect()
}

/// `helm template <release> <chart> -n <namespace> <args>`, which must succeed; the parsed objects.
pub async fn render(release: &str, namespace: &str, args: &[&str]) -> Vec<Value> {
    let chart = chart();
    let mut all = vec!["template", release, chart.as_str(), "--namespace", namespace];
    all.extend_from_slice(args);
    yaml_docs(&helm(&all, None).await.ok().stdout)
}

/// `kind/namespace/name` of an object, for messages and maps.
pub fn key(obj: &Value) -> String {
    format!(
        "{}/{}/{}",
        obj["kind"].as_str().unwrap_or_default(),
        obj["metadata"]["namespace"].as_str().unwrap_or_default(),
        obj["metadata"]["name"].as_str().unwrap_or_default()
    )
}

pub fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// The one object of `kind`; panics unless there is exactly one.
#[track_caller]
pub fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = find(objects, kind);
    assert_eq!(found.len(), 1, "expected exactly one {kind}, got {}: {:#?}", found.len(), objects.iter().map(key).collect::<Vec<_>>());
    found[0]
}
