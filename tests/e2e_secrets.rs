//! Secret sweep: full lifecycles of all four kinds (create, update, password rotation through the
//! password Secrets, per-namespace API keys through `credentialsRef`, rejected credentials, invalid
//! passwords, a Datadog metric export whose API key comes from a Secret and is rotated, an Azure
//! Log Analytics log export whose shared key comes from a Secret and is rotated, injected Cloud
//! faults on the password, Datadog and log export paths, delete) with the operator logging at
//! passwords, a Datadog metric export whose API key comes from a Secret and is rotated, injected
//! Cloud faults on the password and Datadog paths, an APIKey whose Secret is a cluster's
//! `credentialsRef` and which is rotated, delete) with the operator logging at
//! `trace`, the most verbose level; then every API key and password used is searched for in
//! everything the operator produces or Kubernetes and the simulator record about it: the whole
//! operator log, every Event of the namespace, `-o yaml` and `describe` of every crdbcloud object
//! taken at several points of the lifecycle, the metadata of every Secret, /metrics and the
//! simulator's request log. Each secret is searched for as is, base64-encoded and URL-encoded.
//!
//! The search is proven able to fail: it must find the passwords where they legitimately are (the
//! simulator's state dump in clear, the connection Secrets' data in base64 and URL-encoded in the
//! connection URL), and every searched corpus must contain markers of the lifecycle it covers.
//! Findings are reported masked: this test never prints a secret.


use std::time::{Duration, Instant};

use crdb_cloud_operator::api::{APIKey, AllowlistEntry, CockroachCluster, Database, RoleGrant, SQLUser};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use crdb_test_support::*;
use crdb_test_support::{kubectl, test_namespace};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The API key of the namespace's `credentialsRef` Secret (a second organisation in the simulator).
const NAMESPACE_KEY: &str = "ccdb2_e2e_NAMESPACEKEY_9c1d7e";
/// A key the Cloud rejects.
const WRONG_KEY: &str = "ccdb3_e2e_WRONGKEY_b7e0a4";
/// User-supplied passwords: first, rotated (with characters that URL-encoding changes), a too
/// short one, its valid replacement, and the replacement of a generated password.
const REF_FIRST: &str = "Ref-first-pass-3e8b1c";
const REF_SECOND: &str = "p@ss/W0rd+Sp ce!-5d2a";
const SHORT: &str = "Sh0rt!x";
const SHORT_FIXED: &str = "Now-long-enough-6a1f0c";
const GEN_ROTATED: &str = "Gen-rotated-pass-8f4e2a";
/// Datadog API keys of a metric export, from a Secret: first and rotated.
const DATADOG_FIRST: &str = "dd5ecret0first00000000000000c0ffee";
const DATADOG_SECOND: &str = "dd5ecret0second0000000000000decaf";
/// Azure Log Analytics shared keys of a log export, from a Secret: first and rotated.
const AZURE_FIRST: &str = "QXp1cmVTd2VlcEZpcnN0U2hhcmVkS2V5MDAwMDA=";
const AZURE_SECOND: &str = "QXp1cmVTd2VlcFJvdGF0ZWRTaGFyZWRLZXkxMTE=";

/// Standard base64 with padding (as Secret data is encoded).
fn b64(s: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let bytes = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn url_encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// A secret under test: a label for reports (never the value) and its value.
struct Needle {
    label: String,
    value: String,
}

/// The forms a secret is searched in: as is, base64 and URL-encoded (when that differs).
fn forms(value: &str) -> Vec<(&'static str, String)> {
    let mut forms = vec![("plain", value.to_string()), ("base64", b64(value))];
    let encoded = url_encoded(value);
    if encoded != value {
        forms.push(("url-encoded", encoded));
    }
    forms
}

/// Where in `corpus` any needle occurs, as masked descriptions ("<corpus> line N: ...<SECRET>...").
fn findings(corpus_name: &str, corpus: &str, needles: &[Needle]) -> Vec<String> {
    let mut found = Vec::new();
    for needle in needles {
        for (form, text) in forms(&needle.value) {
            for (number, line) in corpus.lines().enumerate() {
                if let Some(at) = line.find(&text) {
                    let start = line[..at].char_indices().rev().nth(40).map(|(i, _)| i).unwrap_or(0);
                    let end = (at + text.len() + 40).min(line.len());
                    let end = (end..=line.len()).find(|i| line.is_char_boundary(*i)).unwrap_or(line.len());
                    let context = line[start..end].replace(&text, &format!("<{}>", needle.label));
                    found.push(format!("{corpus_name} line {}: {} ({form}) in ...{context}...", number + 1, needle.label));
                }
            }
        }
    }
    found
}

fn masked(text: &str, needles: &[Needle]) -> String {
    let mut text = text.to_string();
    for needle in needles {
        for (_, form) in forms(&needle.value) {
            text = text.replace(&form, &format!("<{}>", needle.label));
        }
    }
    text
}

/// Polls `<user>-connection` until its password is `expected` (compared, never printed).
async fn wait_connection_password(secrets: &Api<Secret>, user: &str, expected: &str) {
    let name = format!("{user}-connection");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let secret = secrets.get_opt(&name).await.unwrap();
        let current = secret.and_then(|s| s.data).and_then(|data| data.get("password").map(|b| b.0.clone()));
        if current.as_deref() == Some(expected.as_bytes()) {
            return;
        }
        assert!(Instant::now() < deadline, "the connection Secret of {user} never got the new password");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn secret_text(secret: &Secret, key: &str) -> String {
    String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

async fn apply(ns: &str, manifest: &str) {
    kubectl(&["apply", "-n", ns, "-f", "-"], Some(manifest)).await.ok();
}

async fn patch_secret(secrets: &Api<Secret>, name: &str, key: &str, value: &str) {
    let patch = json!({"stringData": {key: value}});
    secrets.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

/// Everything about the namespace's crdbcloud objects as a person would look at it.
async fn snapshot(ns: &str, label: &str) -> String {
    let yaml = kubectl(&["get", "crdbcloud", "-n", ns, "-o", "yaml"], None).await.ok().stdout;
    let described = kubectl(&["describe", "crdbcloud", "-n", ns], None).await.ok().stdout;
    format!("### {label}: get -o yaml\n{yaml}\n### {label}: describe\n{described}\n")
}

/// The metadata (never the data) of every Secret in the namespace.
async fn secret_metadata(secrets: &Api<Secret>) -> String {
    let list = secrets.list(&Default::default()).await.unwrap();
    list.items.iter().map(|s| serde_json::to_string(&s.metadata).unwrap()).collect::<Vec<_>>().join("\n")
}

async fn scrape(addr: &str) -> String {
    let response = reqwest::get(format!("http://{addr}/metrics")).await.unwrap();
    assert!(response.status().is_success());
    response.text().await.unwrap()
}

/// Polls the simulator until the SQL user's password is `expected` (compared, never printed).
async fn wait_cloud_password(admin: &SimAdmin, cluster_id: &str, user: &str, expected: &str, what: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if admin.sql_user_password(cluster_id, user).await.as_deref() == Some(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "the cloud password of {user} never became {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn cluster(name: &str, credentials: Option<&str>) -> String {
    let manifest = serverless_cluster(name);
    match credentials {
        Some(secret) => manifest.replace("  labels:\n", &format!("  credentialsRef:\n    name: {secret}\n  labels:\n")),
        None => manifest,
    }
}

#[tokio::test]
async fn no_api_key_or_password_appears_in_logs_events_status_metrics_or_the_request_log() {
    install_crds().await;
    let ns = test_namespace("secret-sweep").await;
    let ns_name = ns.name().to_string();
    let sim = start_simulator(&[NAMESPACE_KEY]).await;
    let admin = SimAdmin::new(&sim);
    let url = sim.base_url();
    let mut options = OperatorOptions::new(&ns_name, &url);
    // The most verbose level the operator accepts (an EnvFilter directive): every crate, every span.
    options.log_level = "trace";
    // Trusted with the organisation-level kinds (the APIKey and its ServiceAccount), as every test
    // operator is with its own namespace.
    assert_eq!(options.org_namespaces, std::slice::from_ref(&ns_name));
    let operator = Operator::start(options);
    let metrics_addr = operator.health_addr().await;

    let secrets: Api<Secret> = ns.api();
    let clusters: Api<CockroachCluster> = ns.api();
    let users: Api<SQLUser> = ns.api();
    let dbs: Api<Database> = ns.api();
    let entries: Api<AllowlistEntry> = ns.api();
    let mut snapshots = String::new();

    // Secrets: a per-namespace API key, a rejected one, a user password and a too-short one.
    for (name, key, value) in [
        ("team-cloud-key", "apiKey", NAMESPACE_KEY),
        ("wrong-cloud-key", "apiKey", WRONG_KEY),
        ("ref-pw", "password", REF_FIRST),
        ("short-pw", "password", SHORT),
        ("datadog-key", "api-key", DATADOG_FIRST),
        ("azure-logs", "shared-key", AZURE_FIRST),
    ] {
        // Created, not applied: `kubectl apply` would copy the value into the
        // last-applied-configuration annotation (the sweep finds it there).
        let secret: Secret = serde_json::from_value(json!({"metadata": {"name": name}, "stringData": {key: value}})).unwrap();
        secrets.create(&Default::default(), &secret).await.unwrap();
    }

    // Create: the lost answer of one SQL user create makes the operator adopt it and set its password.
    admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::CreateSQLUser) }).await;
    admin.add_fault(&FaultSpec { status: Some(500), ..FaultSpec::on(Operation::EnableDatadogMetricExport) }).await;
    admin.add_fault(&FaultSpec { status: Some(500), ..FaultSpec::on(Operation::EnableLogExport) }).await;
    let mut manifest = cluster("alpha-db", None);
    manifest.push_str("  metricExport:\n    datadog:\n      site: US5\n      apiKeySecretRef:\n        name: datadog-key\n        key: api-key\n");
    manifest.push_str(&format!("---\n{}", cluster("beta-db", Some("team-cloud-key"))));
    manifest.push_str("  logExport:\n    type: AZURE_LOG_ANALYTICS\n    logName: crdb_logs\n    authPrincipal: 0f8fad5b-d9cb-469f-a165-70867728950e\n    azureSharedKeySecretRef:\n      name: azure-logs\n      key: shared-key\n");
    manifest.push_str(&format!("---\n{}", cluster("gamma-db", Some("wrong-cloud-key"))));
    manifest.push_str(&child("SQLUser", "genuser", "alpha-db", ""));
    // Its connection Secret also holds the password in a templated key, raw (not URL-encoded).
    let shaped = "  connectionSecret:\n    keys:\n      host: PGHOST\n    template:\n      DATABASE_URL: \"postgresql://{{user}}:{{password}}@{{host}}:{{port}}/{{database}}?sslmode=verify-full\"\n";
    manifest.push_str(&child("SQLUser", "refuser", "beta-db", &format!("  passwordSecretRef:\n    name: ref-pw\n    key: password\n{shaped}")));
    manifest.push_str(&child("SQLUser", "shortuser", "alpha-db", "  passwordSecretRef:\n    name: short-pw\n    key: password\n"));
    manifest.push_str(&child("Database", "orders", "alpha-db", ""));
    manifest.push_str(&child("Database", "ledger", "beta-db", ""));
    manifest.push_str(&child("AllowlistEntry", "office", "alpha-db", "  cidr: \"203.0.113.0/24\"\n"));
    manifest.push_str(&child("AllowlistEntry", "vpn", "beta-db", "  cidr: \"198.51.100.7\"\n"));
    apply(&ns_name, &manifest).await;

    let alpha = wait_for(&clusters, "alpha-db", TIMEOUT, "Ready", is_ready).await.status.unwrap().cluster_id.unwrap();
    let beta = wait_for(&clusters, "beta-db", TIMEOUT, "Ready", is_ready).await.status.unwrap().cluster_id.unwrap();
    wait_for(&clusters, "gamma-db", TIMEOUT, "Stalled (CredentialsRejected)", |c| is_stalled_with(c, "CredentialsRejected")).await;
    wait_for(&users, "genuser", TIMEOUT, "Ready", is_ready).await;
    wait_for(&users, "refuser", TIMEOUT, "Ready", is_ready).await;
    wait_for(&users, "shortuser", TIMEOUT, "Stalled (PasswordSecretInvalid)", |u| is_stalled_with(u, "PasswordSecretInvalid")).await;
    for name in ["orders", "ledger"] {
        wait_for(&dbs, name, TIMEOUT, "Ready", is_ready).await;
    }
    for name in ["office", "vpn"] {
        wait_for(&entries, name, TIMEOUT, "Ready", is_ready).await;
    }
    assert_eq!(admin.count(Operation::CreateSQLUser).await, 2, "one create per user (the lost one adopted, not re-sent)");
    let generated = secret_text(&secrets.get("genuser-password").await.unwrap(), "password");
    wait_cloud_password(&admin, &alpha, "genuser", &generated, "the generated password").await;
    wait_cloud_password(&admin, &beta, "refuser", REF_FIRST, "the first referenced password").await;
    wait_for(&clusters, "alpha-db", TIMEOUT, "Datadog export Synced", |c| condition(c, "DatadogMetricExportSynced").is_some_and(|(s, _, _)| s == "True")).await;
    assert_eq!(admin.datadog_api_key(&alpha).await.as_deref(), Some(DATADOG_FIRST), "the Datadog key reached the cloud");
    wait_for(&clusters, "beta-db", TIMEOUT, "log export Synced", |c| condition(c, "LogExportSynced").is_some_and(|(s, _, _)| s == "True")).await;
    assert_eq!(admin.azure_shared_key(&beta).await.as_deref(), Some(AZURE_FIRST), "the Azure shared key reached the cloud");
    // An API key of a service account allowed to create clusters, written into a Secret that a
    // cluster then uses.
    let keys: Api<APIKey> = ns.api();
    let org = "---\napiVersion: crdbcloud.io/v1alpha1\nkind: ServiceAccount\nmetadata:\n  name: sweeper\nspec:\n  description: secret sweep\n---\napiVersion: crdbcloud.io/v1alpha1\nkind: RoleGrant\nmetadata:\n  name: sweeper-clusters\nspec:\n  serviceAccountRef: {name: sweeper}\n  role: CLUSTER_ADMIN\n  scope: {organization: true}\n---\napiVersion: crdbcloud.io/v1alpha1\nkind: APIKey\nmetadata:\n  name: sweeper-key\nspec:\n  serviceAccountRef: {name: sweeper}\n  rotationGracePeriodSeconds: 2\n";
    apply(&ns_name, org).await;
    wait_for(&ns.api::<RoleGrant>(), "sweeper-clusters", TIMEOUT, "Ready", is_ready).await;
    let first_key_id = wait_for(&keys, "sweeper-key", TIMEOUT, "Ready", is_ready).await.status.unwrap().api_key_id.unwrap();
    let issued_first = secret_text(&secrets.get("sweeper-key-api-key").await.unwrap(), "apiKey");
    apply(&ns_name, &cluster("delta-db", Some("sweeper-key-api-key"))).await;
    wait_for(&clusters, "delta-db", TIMEOUT, "Ready on the issued key", is_ready).await;
    snapshots.push_str(&snapshot(&ns_name, "created").await);
    let metrics_created = scrape(&metrics_addr).await;

    // Update: rotate both passwords (through failing Cloud calls and reset connections), fix
    // the short one, relabel a cluster, rename a database, change an allowlist entry.
    admin.add_fault(&FaultSpec { status: Some(500), count: 2, ..FaultSpec::on(Operation::UpdateSQLUserPassword) }).await;
    let lost = FaultSpec { drop_response: true, reset_connection: true, ..FaultSpec::on(Operation::UpdateSQLUserPassword) };
    admin.add_fault(&lost).await;
    admin.add_fault(&FaultSpec { reset_connection: true, ..FaultSpec::on(Operation::GetCluster) }).await;
    patch_secret(&secrets, "ref-pw", "password", REF_SECOND).await;
    patch_secret(&secrets, "genuser-password", "password", GEN_ROTATED).await;
    patch_secret(&secrets, "short-pw", "password", SHORT_FIXED).await;
    patch_secret(&secrets, "datadog-key", "api-key", DATADOG_SECOND).await;
    patch_secret(&secrets, "azure-logs", "shared-key", AZURE_SECOND).await;
    let relabel = json!({"spec": {"labels": {"team": "payments", "tier": "gold"}}});
    clusters.patch("alpha-db", &PatchParams::default(), &Patch::Merge(&relabel)).await.unwrap();
    dbs.patch("orders", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"name": "orders_v2"}}))).await.unwrap();
    entries.patch("office", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"ui": true}}))).await.unwrap();
    keys.patch("sweeper-key", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"rotationGeneration": 1}}))).await.unwrap();

    wait_cloud_password(&admin, &beta, "refuser", REF_SECOND, "the rotated referenced password").await;
    wait_cloud_password(&admin, &alpha, "genuser", GEN_ROTATED, "the replaced generated password").await;
    wait_cloud_password(&admin, &alpha, "shortuser", SHORT_FIXED, "the fixed password").await;
    let deadline = Instant::now() + TIMEOUT;
    while admin.datadog_api_key(&alpha).await.as_deref() != Some(DATADOG_SECOND) {
        assert!(Instant::now() < deadline, "the rotated Datadog key never reached the cloud");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    while admin.azure_shared_key(&beta).await.as_deref() != Some(AZURE_SECOND) {
        assert!(Instant::now() < deadline, "the rotated Azure shared key never reached the cloud");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for name in ["genuser", "refuser", "shortuser"] {
        wait_for(&users, name, TIMEOUT, "Ready after the rotation", is_ready).await;
    }
    // The cloud can hold the new password before the operator has written it to the connection
    // Secret (read by the positive control below): when the update's answer was lost, the
    // client's retry is still backing off while the user is Ready from before.
    wait_connection_password(&secrets, "refuser", REF_SECOND).await;
    wait_for(&clusters, "alpha-db", TIMEOUT, "Ready relabelled", |c| is_ready(c) && c.metadata.generation == Some(2)).await;
    wait_for(&dbs, "orders", TIMEOUT, "Ready renamed", |d| is_ready(d) && d.metadata.generation == Some(2)).await;
    wait_for(&entries, "office", TIMEOUT, "Ready updated", |e| is_ready(e) && e.metadata.generation == Some(2)).await;
    wait_for(&keys, "sweeper-key", TIMEOUT, "rotated, the old key deleted", |k| {
        is_ready(k) && k.status.as_ref().is_some_and(|s| s.api_key_id.as_deref() != Some(first_key_id.as_str()) && s.retiring.is_empty())
    })
    .await;
    let issued_rotated = secret_text(&secrets.get("sweeper-key-api-key").await.unwrap(), "apiKey");
    assert_ne!(issued_rotated, issued_first);
    let faults_left = admin.faults().await;
    assert!(faults_left.is_empty(), "an injected fault was never hit: {faults_left:?}");
    assert!(admin.count(Operation::UpdateSQLUserPassword).await >= 5, "the failing password updates were retried");
    snapshots.push_str(&snapshot(&ns_name, "updated").await);
    let metrics_updated = scrape(&metrics_addr).await;
    let metadata_updated = secret_metadata(&secrets).await;

    // Positive controls, taken while the passwords legitimately exist: the search finds them in
    // clear in the simulator's state, base64-encoded in the connection Secrets' data, URL-encoded
    // in the connection URL.
    // The admin bodies are the simulator's own types, so their JSON is what it served.
    let state = serde_json::to_string(&admin.state().await).unwrap();
    let connection = serde_json::to_string(&secrets.get("refuser-connection").await.unwrap()).unwrap();
    let connection_url = secret_text(&secrets.get("refuser-connection").await.unwrap(), "url");
    let control = |label: &str, value: &str| vec![Needle { label: label.into(), value: value.into() }];
    let in_state = findings("state", &state, &control("rotated", GEN_ROTATED));
    assert!(in_state.iter().any(|f| f.contains("(plain)")), "the search misses a password in clear");
    let in_secret = findings("connection Secret", &connection, &control("rotated", REF_SECOND));
    assert!(in_secret.iter().any(|f| f.contains("(base64)")), "the search misses a base64-encoded password");
    let in_url = findings("connection url", &connection_url, &control("rotated", REF_SECOND));
    assert!(in_url.iter().any(|f| f.contains("(url-encoded)")), "the search misses a URL-encoded password");
    let templated_url = secret_text(&secrets.get("refuser-connection").await.unwrap(), "DATABASE_URL");
    let in_template = findings("templated url", &templated_url, &control("rotated", REF_SECOND));
    assert!(in_template.iter().any(|f| f.contains("(plain)")), "the search misses a password in a templated key");
    let datadog_secret = serde_json::to_string(&secrets.get("datadog-key").await.unwrap()).unwrap();
    let in_datadog_secret = findings("Datadog Secret", &datadog_secret, &control("rotated Datadog key", DATADOG_SECOND));
    assert!(in_datadog_secret.iter().any(|f| f.contains("(base64)")), "the search misses a base64-encoded Datadog key");
    let azure_secret = serde_json::to_string(&secrets.get("azure-logs").await.unwrap()).unwrap();
    let in_azure_secret = findings("Azure Secret", &azure_secret, &control("rotated Azure shared key", AZURE_SECOND));
    assert!(in_azure_secret.iter().any(|f| f.contains("(base64)")), "the search misses a base64-encoded Azure shared key");

    // Delete everything (the rejected-key cluster too) and wait until it is all gone; the cluster
    // running on the issued key goes first, while its key still exists.
    clusters.delete("delta-db", &Default::default()).await.unwrap();
    wait_gone(&clusters, "delta-db", TIMEOUT).await;
    kubectl(&["delete", "crdbcloud", "--all", "-n", &ns_name, "--wait=false"], None).await.ok();
    wait_gone(&keys, "sweeper-key", TIMEOUT).await;
    for name in ["genuser", "refuser", "shortuser"] {
        wait_gone(&users, name, TIMEOUT).await;
    }
    for name in ["orders", "ledger"] {
        wait_gone(&dbs, name, TIMEOUT).await;
    }
    for name in ["office", "vpn"] {
        wait_gone(&entries, name, TIMEOUT).await;
    }
    for name in ["alpha-db", "beta-db", "gamma-db"] {
        wait_gone(&clusters, name, TIMEOUT).await;
    }
    let live: Vec<ClusterDump> = admin.clusters().await.into_iter().filter(|c| !c.is_deleted()).collect();
    assert!(live.is_empty(), "clusters left in the cloud: {:?}", live.iter().map(|c| &c.cluster.name).collect::<Vec<_>>());

    // The corpora.
    let metrics_deleted = scrape(&metrics_addr).await;
    let events = kubectl(&["get", "events", "-n", &ns_name, "-o", "yaml"], None).await.ok().stdout;
    let request_log = serde_json::to_string(&admin.requests(0, None).await).unwrap();
    let stats = serde_json::to_string(&admin.stats().await).unwrap();
    let metadata_deleted = secret_metadata(&secrets).await;
    let logs = operator.logs();
    let metrics = format!("{metrics_created}\n{metrics_updated}\n{metrics_deleted}");
    let metadata = format!("{metadata_updated}\n{metadata_deleted}");
    let corpora: Vec<(&str, &str)> = vec![
        ("operator log", logs.as_str()),
        ("events", events.as_str()),
        ("objects", snapshots.as_str()),
        ("secret metadata", metadata.as_str()),
        ("metrics", metrics.as_str()),
        ("simulator request log", request_log.as_str()),
        ("simulator stats", stats.as_str()),
    ];

    // Each corpus holds what it should, so an empty or unrelated one cannot pass unnoticed.
    let markers: Vec<(&str, Vec<&str>)> = vec![
        ("operator log", vec!["TRACE", "DEBUG", "alpha-db", "beta-db", "gamma-db", "genuser", "refuser", "short-pw", Operation::UpdateSQLUserPassword.name()]),
        ("events", vec!["PasswordRotated", "CredentialsRejected", "PasswordSecretInvalid", "Deleted", "genuser", "refuser", "spec.metricExport.datadog", "spec.logExport"]),
        ("objects", vec![&alpha, &beta, "passwordFingerprint", "CredentialsRejected", "PasswordSecretInvalid", "orders_v2", "apiKeyFingerprint", "azureSharedKeyFingerprint", "DATABASE_URL", "{{password}}"]),
        ("secret metadata", vec!["genuser-password", "refuser-connection", "crdbcloud.io/endpoint", "datadog-key", "azure-logs"]),
        ("events", vec!["KeyRotated", "PasswordRotated", "CredentialsRejected", "PasswordSecretInvalid", "Deleted", "genuser", "refuser", "spec.metricExport.datadog"]),
        ("objects", vec![&alpha, &beta, &first_key_id, "sweeper-key-api-key", "passwordFingerprint", "CredentialsRejected", "PasswordSecretInvalid", "orders_v2", "apiKeyFingerprint"]),
        ("secret metadata", vec!["genuser-password", "refuser-connection", "crdbcloud.io/endpoint", "datadog-key"]),
        ("metrics", vec!["crdb_operator_cloud_api_requests_total", Operation::UpdateSQLUserPassword.name(), "crdb_operator_reconciles_total"]),
        ("simulator request log", vec![Operation::UpdateSQLUserPassword.name(), Operation::EnableDatadogMetricExport.name(), Operation::EnableLogExport.name(), FaultKind::DropResponse.as_str(), FaultKind::ResetConnection.as_str(), &alpha, &beta]),
        ("simulator stats", vec![Operation::UpdateSQLUserPassword.name(), Operation::CreateSQLUser.name()]),
    ];
    for (name, wanted) in &markers {
        let text = corpora.iter().find(|(n, _)| n == name).unwrap().1;
        for marker in wanted {
            assert!(text.contains(marker), "the {name} corpus ({} bytes) lacks {marker:?}: it does not cover the lifecycle", text.len());
        }
    }

    let mut needles = vec![
        Needle { label: "operator API key".into(), value: TEST_API_KEY.into() },
        Needle { label: "namespace API key".into(), value: NAMESPACE_KEY.into() },
        Needle { label: "rejected API key".into(), value: WRONG_KEY.into() },
        Needle { label: "generated password".into(), value: generated.clone() },
        Needle { label: "replaced generated password".into(), value: GEN_ROTATED.into() },
        Needle { label: "first referenced password".into(), value: REF_FIRST.into() },
        Needle { label: "rotated referenced password".into(), value: REF_SECOND.into() },
        Needle { label: "too-short password".into(), value: SHORT.into() },
        Needle { label: "fixed password".into(), value: SHORT_FIXED.into() },
        Needle { label: "first Datadog API key".into(), value: DATADOG_FIRST.into() },
        Needle { label: "rotated Datadog API key".into(), value: DATADOG_SECOND.into() },
        Needle { label: "first Azure shared key".into(), value: AZURE_FIRST.into() },
        Needle { label: "rotated Azure shared key".into(), value: AZURE_SECOND.into() },
        Needle { label: "issued API key".into(), value: issued_first.clone() },
        Needle { label: "rotated issued API key".into(), value: issued_rotated.clone() },
    ];
    needles.sort_by_key(|n| std::cmp::Reverse(n.value.len()));
    let mut leaks = Vec::new();
    for (name, text) in &corpora {
        leaks.extend(findings(name, text, &needles));
    }
    let searched: usize = corpora.iter().map(|(_, t)| t.len()).sum();
    println!(
        "secret sweep: {} secrets in {} forms searched in {} corpora ({} bytes; operator log {} lines at trace); leaks found: {}",
        needles.len(),
        needles.iter().map(|n| forms(&n.value).len()).sum::<usize>(),
        corpora.len(),
        searched,
        logs.lines().count(),
        leaks.len()
    );
    for (name, text) in &corpora {
        println!("  {name}: {} bytes", text.len());
    }
    if !leaks.is_empty() {
        // The operator's log is printed when a test fails: mask it first.
        let _ = std::fs::write(operator.log_path(), masked(&logs, &needles));
        panic!("{} secret leaks:\n{}", leaks.len(), leaks.iter().take(40).cloned().collect::<Vec<_>>().join("\n"));
    }
}

#[test]
fn the_search_encodings_are_right() {
    assert_eq!(b64("Man"), "TWFu");
    assert_eq!(b64("Ma"), "TWE=");
    assert_eq!(b64("M"), "TQ==");
    assert_eq!(url_encoded("p@ss/W0rd+Sp ce!"), "p%40ss%2FW0rd%2BSp%20ce%21");
    let needles = [Needle { label: "pw".into(), value: "hunter22".into() }];
    let found = findings("corpus", "a\nuser=hunter22 b\naHVudGVyMjI=", &needles);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|f| !f.contains("hunter22")), "findings are masked: {found:?}");
}
