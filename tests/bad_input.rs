//! A corpus of invalid manifests (tests/bad_input/*.yaml) run against a real control plane with the
//! operator running: each is refused at apply naming the field, or accepted and then Stalled with
//! a reason (condition and Warning event), and none of them disturbs cloud objects that already
//! exist or crashes the operator.
//!
//! # Corpus format
//!
//! Every file starts with one directive line, optionally followed by a `# message:` line:
//!
//! - `# expect: reject <substring>`: `kubectl apply` of the whole file must fail and its stderr
//!   must contain `<substring>` (which names the offending field, e.g. `spec.cidr`).
//! - `# expect: stalled <Reason>`: `kubectl apply` of the whole file succeeds (it may hold more
//!   documents, e.g. a Secret the resource uses); the **last** document is the resource under test.
//!   It must reach `Stalled=True` with reason `<Reason>`, a `Warning <Reason>` event must exist for
//!   it, and, with `# message: <substring>`, the Stalled condition's message must contain it.
//! - `# expect: reject-update <substring>`: the file holds two parts separated by a line starting
//!   with `--- # update`. The first part (the base) is applied and must be accepted; the second part
//!   (the change) is then applied and must fail with `<substring>` in stderr.
//!
//! A file may hold several cases, each starting with its own directive, separated by lines
//! starting with `# ==== case` (e.g. every invalid value of one setting block in one file).
//!
//! All files share one namespace, so every `metadata.name` is unique across the corpus. Children
//! that must stay away from the cloud (the reject-update bases) reference a CockroachCluster that
//! does not exist (`pending-db`); children that must reach the cloud reference `base-db`, the valid
//! cluster this test creates first.


use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crdb_cloud_operator::api::{AllowlistEntry, CockroachCluster, Database, SQLUser};
use crdb_cloud_operator::api::JWTIssuer;
use kube::api::Api;
use serde_json::Value;
use crdb_test_support::*;
use crdb_test_support::{kubectl, test_namespace};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Long enough for a retry after the operator's create-confirmation window (30 s).
const STALLED_TIMEOUT: Duration = Duration::from_secs(75);
/// How long a resource must stay Stalled to count.
const STALLED_STABLE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Reject(String),
    RejectUpdate(String),
    Stalled(String),
}

#[derive(Debug)]
struct Case {
    file: String,
    expect: Expect,
    message: Option<String>,
    text: String,
}

/// Separates the cases of a file that holds several (one file per block or topic).
const CASE_SEPARATOR: &str = "# ==== case";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input")
}

fn load_corpus() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/bad_input exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .flat_map(|path| {
            let file = path.file_name().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let chunks = split_cases(&text);
            let several = chunks.len() > 1;
            chunks.into_iter().enumerate().map(move |(i, chunk)| parse_case(if several { format!("{file}#{}", i + 1) } else { file.clone() }, chunk)).collect::<Vec<_>>()
        })
        .collect()
}

/// A file holds one case, or several separated by lines starting with `# ==== case`.
fn split_cases(text: &str) -> Vec<String> {
    let mut cases = vec![String::new()];
    for line in text.lines() {
        if line.starts_with(CASE_SEPARATOR) {
            cases.push(String::new());
            continue;
        }
        let current = cases.last_mut().expect("one case at least");
        current.push_str(line);
        current.push('\n');
    }
    cases.retain(|c| !c.trim().is_empty());
    cases
}

fn parse_case(file: String, text: String) -> Case {
    let first = text.lines().next().unwrap_or_default();
    let directive = first.strip_prefix("# expect: ").unwrap_or_else(|| panic!("{file}: first line must be `# expect: ...`, got {first:?}"));
    let (verb, arg) = directive.split_once(' ').unwrap_or_else(|| panic!("{file}: `# expect: <verb> <argument>`"));
    let arg = arg.trim().to_string();
    assert!(!arg.is_empty(), "{file}: empty expectation");
    let expect = match verb {
        "reject" => Expect::Reject(arg),
        "reject-update" => Expect::RejectUpdate(arg),
        "stalled" => Expect::Stalled(arg),
        other => panic!("{file}: unknown expectation {other:?}"),
    };
    let message = text.lines().nth(1).and_then(|l| l.strip_prefix("# message: ")).map(|m| m.trim().to_string());
    Case { file, expect, message, text }
}

/// The YAML documents of a manifest, parsed.
fn documents(text: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut current = String::new();
    for line in text.lines().chain(std::iter::once("---")) {
        if line.starts_with("---") {
            if !current.trim().is_empty() {
                let value: Value = serde_norway::from_str(&current).unwrap_or_else(|e| panic!("bad YAML: {e}\n{current}"));
                if !value.is_null() {
                    docs.push(value);
                }
            }
            current.clear();
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs
}

/// Splits a reject-update file into (base, update).
fn split_update(case: &Case) -> (String, String) {
    let mut base = String::new();
    let mut update = String::new();
    let mut in_update = false;
    for line in case.text.lines() {
        if line.starts_with("--- # update") {
            in_update = true;
            continue;
        }
        let target = if in_update { &mut update } else { &mut base };
        target.push_str(line);
        target.push('\n');
    }
    assert!(in_update, "{}: a reject-update file needs a `--- # update` line", case.file);
    (base, update)
}

async fn apply(ns: &str, manifest: &str) -> crdb_test_support::CmdOutput {
    kubectl(&["apply", "-n", ns, "-f", "-"], Some(manifest)).await
}

/// Everything the simulator holds for the cluster with this ID.
async fn record(admin: &SimAdmin, cluster_id: &str) -> Option<ClusterDump> {
    admin.cluster(cluster_id).await
}

#[tokio::test]
async fn the_bad_input_corpus_is_refused_or_stalled_and_harms_nothing() {
    let started = Instant::now();
    let corpus = load_corpus();
    assert!(corpus.len() >= 30, "the corpus holds only {} cases", corpus.len());

    install_crds().await;
    let ns = test_namespace("bad-input").await;
    let sim = start_simulator(&[]).await;
    let admin = SimAdmin::new(&sim);
    let url = sim.base_url();
    let operator = Operator::start(OperatorOptions::new(ns.name(), &url));
    let n = ns.name();

    // A healthy world first: one cluster with a user, a database and an allowlist entry.
    let baseline = format!(
        "{}---\napiVersion: crdbcloud.io/v1alpha1\nkind: SQLUser\nmetadata: {{name: base-user}}\nspec:\n  clusterRef: {{name: base-db}}\n\
         ---\napiVersion: crdbcloud.io/v1alpha1\nkind: Database\nmetadata: {{name: base-database}}\nspec:\n  clusterRef: {{name: base-db}}\n  name: orders\n\
         ---\napiVersion: crdbcloud.io/v1alpha1\nkind: AllowlistEntry\nmetadata: {{name: base-allow}}\nspec:\n  clusterRef: {{name: base-db}}\n  cidr: 203.0.113.0/24\n",
        serverless_cluster("base-db")
    );
    apply(n, &baseline).await.ok();
    let clusters: Api<CockroachCluster> = ns.api();
    let users: Api<SQLUser> = ns.api();
    let databases: Api<Database> = ns.api();
    let allowlist: Api<AllowlistEntry> = ns.api();
    let base = wait_for(&clusters, "base-db", READY_TIMEOUT, "Ready", is_ready).await;
    wait_for(&users, "base-user", READY_TIMEOUT, "Ready", is_ready).await;
    wait_for(&databases, "base-database", READY_TIMEOUT, "Ready", is_ready).await;
    wait_for(&allowlist, "base-allow", READY_TIMEOUT, "Ready", is_ready).await;
    let base_id = base.status.unwrap().cluster_id.unwrap();
    let before = record(&admin, &base_id).await;
    let held = before.as_ref().expect("the simulator holds the baseline cluster");
    assert!(held.sql_user_names().contains(&"base-user".to_string()), "{held:#?}");
    assert!(held.database_names().contains(&"orders".to_string()), "{held:#?}");
    assert!(held.allowlist.iter().any(|e| e.cidr_ip == "203.0.113.0"), "{held:#?}");
    let other_clusters_before: Vec<String> = admin.clusters().await.into_iter().map(|c| c.cluster.id).collect();

    // Apply the whole corpus: refusals are checked at once, stalled resources afterwards.
    let mut failures: Vec<String> = Vec::new();
    let mut rejected = 0;
    let mut rejected_updates = 0;
    let mut stalled_cases = Vec::new();
    for case in &corpus {
        match &case.expect {
            Expect::Reject(needle) => {
                let out = apply(n, &case.text).await;
                if out.success() {
                    failures.push(format!("{}: accepted, expected a refusal naming {needle:?}:\n{}", case.file, out.stdout));
                } else if !out.stderr.contains(needle.as_str()) {
                    failures.push(format!("{}: refused, but stderr lacks {needle:?}:\n{}", case.file, out.stderr));
                } else {
                    rejected += 1;
                }
            }
            Expect::RejectUpdate(needle) => {
                let (base_text, update) = split_update(case);
                let out = apply(n, &base_text).await;
                if !out.success() {
                    failures.push(format!("{}: the base was refused:\n{}", case.file, out.stderr));
                    continue;
                }
                let out = apply(n, &update).await;
                if out.success() {
                    failures.push(format!("{}: the change was accepted, expected a refusal naming {needle:?}", case.file));
                } else if !out.stderr.contains(needle.as_str()) {
                    failures.push(format!("{}: the change was refused, but stderr lacks {needle:?}:\n{}", case.file, out.stderr));
                } else {
                    rejected_updates += 1;
                }
            }
            Expect::Stalled(reason) => {
                let out = apply(n, &case.text).await;
                if !out.success() {
                    failures.push(format!("{}: refused at apply, expected Stalled {reason}:\n{}", case.file, out.stderr));
                    continue;
                }
                let last = documents(&case.text).pop().unwrap_or_else(|| panic!("{}: no documents", case.file));
                let kind = last["kind"].as_str().unwrap().to_string();
                let name = last["metadata"]["name"].as_str().unwrap().to_string();
                stalled_cases.push((case, kind, name, reason.clone()));
            }
        }
    }

    // Poll every stalled case together: each must reach Stalled with its reason and then stay
    // Stalled (a resource that flips back to Reconciling is not reported as failed by kstatus).
    // The history of (Ready reason, Stalled status/reason) states seen is kept for the report.
    let mut histories: Vec<Vec<String>> = vec![Vec::new(); stalled_cases.len()];
    let mut stalled_since: Vec<Option<Instant>> = vec![None; stalled_cases.len()];
    let mut messages: Vec<String> = vec![String::new(); stalled_cases.len()];
    let deadline = Instant::now() + STALLED_TIMEOUT;
    loop {
        for (i, (case, kind, name, reason)) in stalled_cases.iter().enumerate() {
            let obj: Option<Value> = match kind.as_str() {
                "CockroachCluster" => clusters.get_opt(name).await.unwrap().map(|o| serde_json::to_value(o).unwrap()),
                "SQLUser" => users.get_opt(name).await.unwrap().map(|o| serde_json::to_value(o).unwrap()),
                "Database" => databases.get_opt(name).await.unwrap().map(|o| serde_json::to_value(o).unwrap()),
                "AllowlistEntry" => allowlist.get_opt(name).await.unwrap().map(|o| serde_json::to_value(o).unwrap()),
                "JWTIssuer" => ns.api::<JWTIssuer>().get_opt(name).await.unwrap().map(|o| serde_json::to_value(o).unwrap()),
                other => panic!("{}: unexpected kind {other}", case.file),
            };
            let Some(obj) = obj else { continue };
            let ready = condition(&obj, "Ready").map(|(s, r, _)| format!("Ready={s}/{r}")).unwrap_or_else(|| "Ready=?".into());
            let stalled = condition(&obj, "Stalled").map(|(s, r, _)| format!("Stalled={s}/{r}")).unwrap_or_else(|| "Stalled=?".into());
            let state = format!("{ready} {stalled}");
            if histories[i].last() != Some(&state) {
                histories[i].push(state);
            }
            if is_stalled_with(&obj, reason) {
                stalled_since[i].get_or_insert_with(Instant::now);
                messages[i] = condition(&obj, "Stalled").unwrap().2;
            } else {
                stalled_since[i] = None;
            }
        }
        let settled = stalled_since.iter().all(|s| s.is_some_and(|t| t.elapsed() >= STALLED_STABLE));
        if settled || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let mut stalled = 0;
    for (i, (case, kind, name, reason)) in stalled_cases.iter().enumerate() {
        let message = &messages[i];
        let history = histories[i].join(" -> ");
        println!("{}: {kind}/{name}: {history}; Stalled message: {message}", case.file);
        let mut ok = true;
        if stalled_since[i].is_none_or(|t| t.elapsed() < STALLED_STABLE) {
            let reached = histories[i].iter().any(|h| h.contains(&format!("Stalled=True/{reason}")));
            failures.push(format!(
                "{}: {kind}/{name} {} Stalled {reason} for {STALLED_STABLE:?} within {STALLED_TIMEOUT:?}; states seen: {history}",
                case.file,
                if reached { "reached but did not stay" } else { "never reached" }
            ));
            ok = false;
        }
        if let Some(needle) = &case.message
            && !message.is_empty()
            && !message.contains(needle.as_str())
        {
            failures.push(format!("{}: Stalled {reason}, but the message lacks {needle:?}: {message}", case.file));
            ok = false;
        }
        // The Warning event may be recorded a moment after the status.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let events = events_for(n, name).await;
            if events.iter().any(|e| e.starts_with(&format!("Warning {reason}:"))) {
                break;
            }
            if Instant::now() > deadline {
                failures.push(format!("{}: no `Warning {reason}` event for {kind}/{name}; events: {events:?}", case.file));
                ok = false;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if ok {
            stalled += 1;
        }
    }

    // Let any wrong cloud change the corpus might trigger happen before comparing.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Nothing that existed was deleted or changed.
    let after = record(&admin, &base_id).await;
    if after != before {
        failures.push(format!("the baseline cluster's cloud record changed:\nbefore: {before:#?}\nafter: {after:#?}"));
    }
    let ids_after: Vec<String> = admin.clusters().await.into_iter().map(|c| c.cluster.id).collect();
    for id in &other_clusters_before {
        assert!(ids_after.contains(id), "cloud cluster {id} disappeared");
    }
    let mut deletes = BTreeMap::new();
    for op in [Operation::DeleteCluster, Operation::DeleteSQLUser, Operation::DeleteDatabase, Operation::DeleteAllowlistEntry] {
        let count = admin.count(op).await;
        if count > 0 {
            deletes.insert(op, count);
        }
    }
    if !deletes.is_empty() {
        failures.push(format!("the corpus caused cloud deletes: {deletes:?}"));
    }
    for (name, api_ready) in [
        ("base-db", is_ready(&clusters.get("base-db").await.unwrap())),
        ("base-user", is_ready(&users.get("base-user").await.unwrap())),
        ("base-database", is_ready(&databases.get("base-database").await.unwrap())),
        ("base-allow", is_ready(&allowlist.get("base-allow").await.unwrap())),
    ] {
        if !api_ready {
            failures.push(format!("baseline resource {name} is no longer Ready"));
        }
    }

    // The operator is alive, healthy and never panicked.
    let health = operator.health_addr().await;
    let healthz = reqwest::get(format!("http://{health}/healthz")).await;
    match healthz {
        Ok(r) if r.status().is_success() => {}
        other => failures.push(format!("the operator's /healthz did not answer 200: {other:?}")),
    }
    let logs = operator.logs();
    if logs.contains("panicked") {
        failures.push(format!("the operator panicked:\n{}", logs.lines().filter(|l| l.contains("panicked")).collect::<Vec<_>>().join("\n")));
    }

    // For the report: how often the cloud was asked to create a cluster (the baseline, the four
    // reject-update bases and the three creates the cloud refuses would be 8 without retries).
    println!("CreateCluster requests: {}", admin.count(Operation::CreateCluster).await);
    println!(
        "bad_input corpus: {} cases, {} rejected at apply, {} changes rejected at update, {} stalled, in {:?}",
        corpus.len(),
        rejected,
        rejected_updates,
        stalled,
        started.elapsed()
    );
    assert!(failures.is_empty(), "{} of {} corpus expectations failed:\n\n{}", failures.len(), corpus.len(), failures.join("\n\n"));
    let reject_files = corpus.iter().filter(|c| matches!(c.expect, Expect::Reject(_))).count();
    let update_files = corpus.iter().filter(|c| matches!(c.expect, Expect::RejectUpdate(_))).count();
    assert_eq!(rejected, reject_files);
    assert_eq!(rejected_updates, update_files);
    assert_eq!(stalled, stalled_cases.len());
}

#[test]
fn every_corpus_file_is_well_formed() {
    let corpus = load_corpus();
    let mut names = BTreeMap::new();
    for case in &corpus {
        let docs = match &case.expect {
            Expect::RejectUpdate(_) => documents(&split_update(case).0),
            _ => documents(&case.text),
        };
        assert!(!docs.is_empty(), "{}: no documents", case.file);
        for doc in docs {
            let key = format!("{}/{}", doc["kind"].as_str().unwrap_or("?"), doc["metadata"]["name"].as_str().unwrap_or("?"));
            if let Some(other) = names.insert(key.clone(), case.file.clone()) {
                panic!("{key} appears in both {other} and {}", case.file);
            }
        }
    }
}
