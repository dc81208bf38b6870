//! Reading the manifests a pull request would apply: files and directories of YAML (or JSON)
//! documents, of which the resources of this operator's API group are kept.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::api::GROUP;

/// One resource of this operator's kinds, as written in a manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// The document as JSON.
    pub document: Value,
    /// Where it was read, for messages.
    pub source: String,
}

/// Reads every `.yaml`, `.yml` and `.json` file named or found (recursively, in name order) under
/// the directories named. Documents of other API groups are skipped; one without a namespace is
/// in `default_namespace`.
pub fn read(paths: &[PathBuf], default_namespace: &str) -> Result<Vec<Manifest>, String> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    let mut manifests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        manifests.extend(parse(&text, &file.display().to_string(), default_namespace)?);
    }
    Ok(manifests)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_file() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for entry in entries {
        let is_manifest = entry.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if entry.is_dir() || is_manifest {
            collect(&entry, files)?;
        }
    }
    Ok(())
}

/// The resources of this API group in one file's documents.
pub fn parse(text: &str, source: &str, default_namespace: &str) -> Result<Vec<Manifest>, String> {
    let mut found = Vec::new();
    for (index, document) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(document).map_err(|e| format!("{source}: document {}: {e}", index + 1))?;
        // `kind: List` wraps items, as `kubectl get -o yaml` writes them.
        let items = match value.get("kind").and_then(Value::as_str) {
            Some("List") => value.get("items").and_then(Value::as_array).cloned().unwrap_or_default(),
            _ => vec![value],
        };
        for item in items {
            let group = item.get("apiVersion").and_then(Value::as_str).and_then(|v| v.split_once('/')).map(|(group, _)| group.to_string());
            if group.as_deref() != Some(GROUP) {
                continue;
            }
            let text_of = |pointer: &str| item.pointer(pointer).and_then(Value::as_str).map(str::to_string);
            let kind = text_of("/kind").ok_or_else(|| format!("{source}: document {}: no kind", index + 1))?;
            let name = text_of("/metadata/name").ok_or_else(|| format!("{source}: a {kind} without metadata.name"))?;
            let namespace = text_of("/metadata/namespace").unwrap_or_else(|| default_namespace.to_string());
            found.push(Manifest { kind, namespace, name, document: item, source: source.to_string() });
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_groups_resources_are_kept_with_their_namespace() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: key}\n---\napiVersion: crdbcloud.io/v1alpha1\nkind: Database\nmetadata: {name: orders}\nspec: {clusterId: x}\n---\napiVersion: crdbcloud.io/v1alpha1\nkind: SQLUser\nmetadata: {name: app, namespace: shop}\nspec: {clusterId: x}\n";
        let found = parse(text, "f.yaml", "default").unwrap();
        let seen: Vec<(&str, &str, &str)> = found.iter().map(|m| (m.kind.as_str(), m.namespace.as_str(), m.name.as_str())).collect();
        assert_eq!(seen, [("Database", "default", "orders"), ("SQLUser", "shop", "app")]);
    }

    #[test]
    fn lists_are_unwrapped_and_bad_documents_named() {
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: crdbcloud.io/v1alpha1\n  kind: Folder\n  metadata: {name: team}\n  spec: {}\n";
        assert_eq!(parse(list, "l.yaml", "ns").unwrap()[0].kind, "Folder");
        let unnamed = "apiVersion: crdbcloud.io/v1alpha1\nkind: Folder\nmetadata: {}\n";
        assert!(parse(unnamed, "u.yaml", "ns").unwrap_err().contains("u.yaml: a Folder without metadata.name"));
    }
}
