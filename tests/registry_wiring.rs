//! What is written by hand once per kind outside the registry is held to it
//! (`controller::registry::kinds()`, the one list of kinds): the RBAC rules the chart renders (all
//! namespaces and one namespace) and deploy/rbac.yaml, deploy/'s examples, and the test helper that
//! creates one resource of each kind. Adding a kind to the registry makes these fail until the
//! kind is granted and covered; a rule naming a resource the operator does not serve fails too.
//! The end-to-end tests' own kind maps are built from the registry (e2e_kube_faults, e2e_crash,
//! e2e_argocd_health).

use std::collections::{BTreeMap, BTreeSet};

use crdb_cloud_operator::controller::registry;
use crdb_test_support::chart::{render, repo, yaml_docs};
use crdb_test_support::cluster_with_one_child_of_each_kind;
use serde_json::Value;

const GROUP: &str = "crdbcloud.io";

/// What the operator needs on each kind's resource and subresources: the resource is watched and
/// its finalizer added and removed; status is written with server-side apply.
const ON_EVERY_KIND: [(&str, &[&str]); 2] = [("", &["get", "list", "watch", "patch", "update"]), ("/status", &["get", "patch", "update"])];

/// Kinds whose resources own other objects with `blockOwnerDeletion` (a SQLUser's Secrets): they
/// need `update` on `<plural>/finalizers` where OwnerReferencesPermissionEnforcement is on.
const OWNERS: [&str; 1] = ["SQLUser"];

/// `(kind, plural)` of every registered kind.
fn registered() -> Vec<(String, String)> {
    registry::kinds().iter().map(|k| (k.kind(), k.plural())).collect()
}

/// The verbs granted per `crdbcloud.io` resource by the rules of every Role and ClusterRole among
/// `objects`.
fn grants(objects: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    let strings = |v: &Value| -> Vec<String> { v.as_array().map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect()).unwrap_or_default() };
    let mut granted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for role in objects.iter().filter(|o| o["kind"] == "Role" || o["kind"] == "ClusterRole") {
        for rule in role["rules"].as_array().into_iter().flatten() {
            let groups = strings(&rule["apiGroups"]);
            assert!(!groups.iter().any(|g| g == "*"), "{}: a rule grants every API group: {rule}", role["metadata"]["name"]);
            if !groups.iter().any(|g| g == GROUP) {
                continue;
            }
            for resource in strings(&rule["resources"]) {
                granted.entry(resource).or_default().extend(strings(&rule["verbs"]));
            }
        }
    }
    granted
}

/// Every registered kind is granted what the operator needs, and nothing else of the group is named.
#[track_caller]
fn assert_rules_match_the_registry(what: &str, objects: &[Value]) {
    let granted = grants(objects);
    let kinds = registered();
    for owner in OWNERS {
        assert!(kinds.iter().any(|(kind, _)| kind == owner), "{owner} is not a registered kind");
    }
    for (kind, plural) in &kinds {
        let mut needed: Vec<(String, &[&str])> = ON_EVERY_KIND.iter().map(|(suffix, verbs)| (format!("{plural}{suffix}"), *verbs)).collect();
        if OWNERS.contains(&kind.as_str()) {
            needed.push((format!("{plural}/finalizers"), &["update"]));
        }
        for (resource, verbs) in needed {
            let has = granted.get(&resource).cloned().unwrap_or_default();
            let missing: Vec<&str> = verbs.iter().copied().filter(|v| !has.contains(*v) && !has.contains("*")).collect();
            assert!(missing.is_empty(), "{what}: {kind} needs {missing:?} on {GROUP} {resource}; granted: {granted:#?}");
        }
    }
    for resource in granted.keys() {
        let base = resource.strip_suffix("/status").or_else(|| resource.strip_suffix("/finalizers")).unwrap_or(resource);
        assert!(
            kinds.iter().any(|(_, plural)| plural == base),
            "{what}: a rule names {GROUP} {resource}, which is not a registered kind's resource (or its status or finalizers); registered: {kinds:?}"
        );
    }
}

#[tokio::test]
async fn the_charts_rbac_grants_exactly_the_registered_kinds() {
    let all_namespaces = render("crdb-cloud-operator", "ops", &[]).await;
    assert!(all_namespaces.iter().any(|o| o["kind"] == "ClusterRole"), "the default values make a ClusterRole");
    assert_rules_match_the_registry("chart (all namespaces)", &all_namespaces);

    let one_namespace = render("crdb-cloud-operator", "ops", &["--set", "watchNamespace=team-a"]).await;
    let watched: Vec<Value> = one_namespace.iter().filter(|o| o["kind"] == "Role" && o["metadata"]["namespace"] == "team-a").cloned().collect();
    assert_eq!(watched.len(), 1, "watchNamespace makes a Role in that namespace");
    assert!(!one_namespace.iter().any(|o| o["kind"] == "ClusterRole"), "and no ClusterRole");
    assert_rules_match_the_registry("chart (watchNamespace)", &watched);
    assert_rules_match_the_registry("chart (watchNamespace), every role", &one_namespace);
}

#[test]
fn deploy_rbac_grants_exactly_the_registered_kinds() {
    let text = std::fs::read_to_string(repo().join("deploy/rbac.yaml")).unwrap();
    assert_rules_match_the_registry("deploy/rbac.yaml", &yaml_docs(&text));
}

/// The rule check itself: it fails on a missing kind and on a resource nobody registered.
#[test]
#[should_panic(expected = "is not a registered kind's resource")]
fn a_rule_for_an_unregistered_resource_fails_the_check() {
    let text = std::fs::read_to_string(repo().join("deploy/rbac.yaml")).unwrap();
    // The first rule's list of resources (whatever kind ends it) gains one nobody registered.
    let text = text.replacen("\"allowlistentries\"", "\"allowlistentries\", \"backupschedules\"", 1);
    assert_rules_match_the_registry("edited", &yaml_docs(&text));
}

#[test]
#[should_panic(expected = "needs")]
fn a_registered_kind_without_a_rule_fails_the_check() {
    let text = std::fs::read_to_string(repo().join("deploy/rbac.yaml")).unwrap();
    let text = text.replacen("\"databases/status\", ", "", 1);
    assert_rules_match_the_registry("edited", &yaml_docs(&text));
}

/// `kind -> apiVersion` of the registered kinds.
fn registered_api_versions() -> BTreeMap<String, String> {
    registry::kinds()
        .iter()
        .map(|k| {
            let crd = k.crd();
            let served = crd.spec.versions.iter().find(|v| v.storage).expect("a storage version");
            (k.kind(), format!("{}/{}", crd.spec.group, served.name))
        })
        .collect()
}

/// `kind -> apiVersion` of the objects of `GROUP` among `objects`.
fn kinds_of(objects: &[Value]) -> BTreeMap<String, String> {
    objects
        .iter()
        .filter(|o| o["apiVersion"].as_str().is_some_and(|v| v.starts_with(&format!("{GROUP}/"))))
        .map(|o| (o["kind"].as_str().unwrap().to_string(), o["apiVersion"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn the_one_of_each_kind_helper_holds_every_registered_kind() {
    let objects = yaml_docs(&cluster_with_one_child_of_each_kind("shop-db"));
    assert_eq!(kinds_of(&objects), registered_api_versions(), "crdb_test_support::cluster_with_one_child_of_each_kind");
    assert_eq!(objects.len(), registered_api_versions().len(), "exactly one of each");
}

#[test]
fn deploys_examples_show_every_registered_kind() {
    let mut objects = Vec::new();
    for entry in std::fs::read_dir(repo().join("deploy/examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            objects.extend(yaml_docs(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    assert_eq!(kinds_of(&objects), registered_api_versions(), "deploy/examples");
}
