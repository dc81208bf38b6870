//! SQLUser, Database and AllowlistEntry end to end: a real kube-apiserver, kubectl, the real
//! operator binary and the Cloud API simulator, with a CockroachCluster (as in deploy/examples)
//! created in each test's namespace.


use std::time::{Duration, Instant};

use crdb_cloud::models::{AllowlistEntry as CloudAllowlistEntry, AllowlistEntryUpdate};
use crdb_cloud_operator::api::{AllowlistEntry, CockroachCluster, Database, SQLUser};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;
use crdb_test_support::*;
use crdb_test_support::World as Env;
use crdb_test_support::kubectl;

const TIMEOUT: Duration = Duration::from_secs(40);
/// A change made behind the operator's back is seen once the cluster's shared list is refreshed:
/// within a resync (3 s in the drift test) plus the spread, with room for a slow machine.
const DRIFT_TIMEOUT: Duration = Duration::from_secs(35);

fn sql_user(name: &str, cluster: &str, spec: &str) -> String {
    child("SQLUser", name, cluster, spec)
}

fn database(name: &str, cluster: &str, spec: &str) -> String {
    child("Database", name, cluster, spec)
}

fn allowlist(name: &str, cluster: &str, cidr: &str, spec: &str) -> String {
    child("AllowlistEntry", name, cluster, &format!("  cidr: \"{cidr}\"\n{spec}"))
}

/// A world (namespace, simulator, operator) with the operator's resync and log level set.
async fn env(prefix: &str, resync_seconds: u64, log_level: &'static str) -> Env {
    env_with_key(prefix, resync_seconds, log_level, Some(TEST_API_KEY)).await
}

/// `api_key: None` starts the operator without a default key.
async fn env_with_key(prefix: &str, resync_seconds: u64, log_level: &'static str, api_key: Option<&'static str>) -> Env {
    Env::start_with(prefix, |options| {
        options.resync_seconds = resync_seconds;
        options.log_level = log_level;
        options.api_key = api_key;
    })
    .await
}

/// Secrets of the test namespace.
trait SecretsOf {
    async fn secret(&self, name: &str) -> Option<Secret>;
    async fn wait_secret(&self, name: &str, what: &str, done: impl Fn(&Secret) -> bool) -> Secret;
}

impl SecretsOf for Env {
    async fn secret(&self, name: &str) -> Option<Secret> {
        self.api::<Secret>().get_opt(name).await.unwrap()
    }
    /// Polls a Secret until `done` holds for it.
    async fn wait_secret(&self, name: &str, what: &str, done: impl Fn(&Secret) -> bool) -> Secret {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let secret = self.secret(name).await;
            if let Some(secret) = secret.as_ref().filter(|s| done(s)) {
                return secret.clone();
            }
            assert!(Instant::now() < deadline, "timed out waiting for Secret {name} to be {what}: {:?}", secret.map(|s| s.metadata));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn text(secret: &Secret, key: &str) -> Option<String> {
    secret.data.as_ref()?.get(key).map(|b| String::from_utf8(b.0.clone()).unwrap())
}

fn entry<'a>(record: &'a ClusterDump, ip: &str, mask: i32) -> Option<&'a CloudAllowlistEntry> {
    record.allowlist_entry(ip, mask)
}

fn is_waiting_for_cluster(obj: &impl serde::Serialize) -> bool {
    condition(obj, "Reconciling").is_some_and(|(s, r, _)| s == "True" && r == "WaitingForCluster")
}

/// Deleted in the simulator: gone, or in state DELETED.
fn cluster_deleted(record: &Option<ClusterDump>) -> bool {
    record.as_ref().is_none_or(ClusterDump::is_deleted)
}

#[tokio::test]
async fn the_examples_become_ready() {
    let env = env("children-examples", 300, "info").await;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    for file in ["sqluser.yaml", "database.yaml", "allowlist.yaml", "cluster-serverless.yaml"] {
        kubectl(&["apply", "-n", env.ns(), "-f", examples.join(file).to_str().unwrap()], None).await.ok();
    }
    kubectl(
        &["wait", "-n", env.ns(), "--for=condition=Ready", "--timeout=40s", "crdbcluster/orders-db", "crdbsqluser/orders-app", "crdbdb/orders", "crdballow/orders-office"],
        None,
    )
    .await
    .ok();
    let id = env.api::<CockroachCluster>().get("orders-db").await.unwrap().status.unwrap().cluster_id.unwrap();
    let record = env.held(&id).await;
    assert!(record.sql_user_names().contains(&"orders_app".to_string()), "{record:#?}");
    assert!(record.database_names().contains(&"orders".to_string()), "{record:#?}");
    assert!(entry(&record, "203.0.113.0", 24).is_some(), "{record:#?}");
    let connection = env.secret("orders-app-connection").await.expect("the example's connection Secret");
    assert_eq!(text(&connection, "database").as_deref(), Some("orders"));
    assert_eq!(text(&connection, "password"), env.cloud_password(&id, "orders_app").await);
}

#[tokio::test]
async fn sql_user_passwords_reach_the_cloud_rotate_and_never_leak() {
    let env = env("sqluser-password", 300, "debug").await;
    let id = env.ready_cluster("orders-db").await;
    let cluster_status = env.api::<CockroachCluster>().get("orders-db").await.unwrap().status.unwrap();
    let hosts: Vec<String> = cluster_status.sql_dns.iter().cloned().chain(cluster_status.regions.iter().map(|r| r.sql_dns.clone())).collect();

    let first = "Rotate-me-first-7f3a91c2";
    let second = "Rotated-second-0b5e66d4";
    kubectl(&["create", "secret", "generic", "reporting-pw", "-n", env.ns(), &format!("--from-literal=password={first}")], None).await.ok();
    env.apply(&sql_user("app", "orders-db", "")).await;
    env.apply(&sql_user("reporting", "orders-db", "  passwordSecretRef:\n    name: reporting-pw\n    key: password\n  connectionDatabase: orders\n  connectionSecretName: reporting-db-creds\n"))
        .await;
    let users: Api<SQLUser> = env.api();
    let app = wait_for(&users, "app", TIMEOUT, "Ready", is_ready).await;
    let reporting = wait_for(&users, "reporting", TIMEOUT, "Ready", is_ready).await;

    // Generated: a strong password in a Secret owned by the SQLUser, the same one the cloud holds.
    let generated = env.secret("app-password").await.expect("the generated password Secret");
    assert!(generated.owner_references().iter().any(|o| o.kind == "SQLUser" && Some(&o.uid) == app.metadata.uid.as_ref()));
    let generated_password = text(&generated, "password").unwrap();
    assert!(generated_password.len() >= 32, "a generated password must be long");
    assert_eq!(env.cloud_password(&id, "app").await.as_deref(), Some(generated_password.as_str()));

    // The connection Secret works: the stored password, the cluster's host.
    let connection = env.secret("app-connection").await.expect("the connection Secret");
    assert!(connection.owner_references().iter().any(|o| Some(&o.uid) == app.metadata.uid.as_ref()));
    assert_eq!(text(&connection, "password").as_deref(), Some(generated_password.as_str()));
    let host = text(&connection, "host").unwrap();
    assert!(hosts.contains(&host), "host {host} is none of the cluster's SQL DNS names {hosts:?}");
    assert_eq!(text(&connection, "port").as_deref(), Some("26257"));
    assert_eq!(text(&connection, "user").as_deref(), Some("app"));
    assert_eq!(text(&connection, "database").as_deref(), Some("defaultdb"));
    assert_eq!(text(&connection, "sslmode").as_deref(), Some("verify-full"));
    assert_eq!(text(&connection, "url").unwrap(), format!("postgresql://app:{generated_password}@{host}:26257/defaultdb?sslmode=verify-full"));
    let status = app.status.clone().unwrap();
    assert_eq!(status.common.cloud_name.as_deref(), Some("app"));
    assert_eq!(status.common.cluster_id.as_deref(), Some(id.as_str()));
    assert_eq!(status.connection_secret.as_deref(), Some("app-connection"));
    assert!(status.password_fingerprint.is_some());

    // The connection Secret is the operator's: tampering is undone, deleting it brings it back.
    let tamper = json!({"stringData": {"password": "tampered-value", "host": "evil.example"}});
    env.api::<Secret>().patch("app-connection", &PatchParams::default(), &Patch::Merge(&tamper)).await.unwrap();
    let restored = env.wait_secret("app-connection", "restored", |s| text(s, "password").as_deref() == Some(generated_password.as_str())).await;
    assert_eq!(text(&restored, "host").as_deref(), Some(host.as_str()), "a tampered host was kept");
    let old_uid = restored.metadata.uid.clone();
    env.api::<Secret>().delete("app-connection", &DeleteParams::default()).await.unwrap();
    let restored = env.wait_secret("app-connection", "recreated", |s| s.metadata.uid != old_uid).await;
    assert_eq!(text(&restored, "password").as_deref(), Some(generated_password.as_str()));
    assert_eq!(text(&restored, "host").as_deref(), Some(host.as_str()));

    // Referenced: the Secret's password, and the connection Secret names the chosen database.
    assert_eq!(env.cloud_password(&id, "reporting").await.as_deref(), Some(first));
    let connection = env.secret("reporting-db-creds").await.expect("the connection Secret named by spec.connectionSecretName");
    assert_eq!(text(&connection, "password").as_deref(), Some(first));
    assert_eq!(text(&connection, "database").as_deref(), Some("orders"));
    assert!(env.secret("reporting-connection").await.is_none());
    assert_eq!(reporting.status.as_ref().unwrap().connection_secret.as_deref(), Some("reporting-db-creds"));
    let fingerprint = reporting.status.clone().unwrap().password_fingerprint.unwrap();

    // Rotation: changing the referenced Secret changes the cloud and the connection Secret.
    let patch = json!({"stringData": {"password": second}});
    env.api::<Secret>().patch("reporting-pw", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while env.cloud_password(&id, "reporting").await.as_deref() != Some(second) {
        assert!(Instant::now() < deadline, "the rotated password never reached the cloud");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    env.wait_secret("reporting-db-creds", "rotated", |s| text(s, "password").as_deref() == Some(second)).await;
    let connection = env.secret("reporting-db-creds").await.unwrap();
    assert!(text(&connection, "url").unwrap().contains(second));
    let rotated = wait_for(&users, "reporting", TIMEOUT, "Ready with a new fingerprint", |u| {
        is_ready(u) && u.status.as_ref().and_then(|s| s.password_fingerprint.as_deref()) != Some(fingerprint.as_str())
    })
    .await;
    assert!(rotated.status.unwrap().password_fingerprint.is_some());
    let events = events_for(env.ns(), "reporting").await;
    assert!(events.iter().any(|e| e.starts_with("Normal PasswordRotated")), "{events:?}");

    // No password in the operator's logs (at debug level), in any event or in any status.
    let logs = env.operator().logs();
    assert!(logs.contains("SQLUser") || logs.contains("reporting"), "the operator logged nothing useful:\n{logs}");
    let all_events = kubectl(&["get", "events", "-n", env.ns(), "-o", "json"], None).await.ok().stdout;
    let all_users = serde_json::to_string(&users.list(&Default::default()).await.unwrap()).unwrap();
    for password in [generated_password.as_str(), first, second] {
        assert!(!logs.contains(password), "a password is in the operator's logs");
        assert!(!all_events.contains(password), "a password is in an event");
        assert!(!all_users.contains(password), "a password is in a SQLUser (status)");
    }
}

#[tokio::test]
async fn sql_users_adopt_delete_retain_and_report_secret_problems() {
    let env = env("sqluser-edges", 300, "info").await;
    let id = env.ready_cluster("orders-db").await;
    let users: Api<SQLUser> = env.api();

    // Already in the cloud (made in the console); and a Secret that is not the operator's.
    env.admin.cloud().create_sql_user(&id, "legacy", "Set-in-console-1234").await.unwrap();
    kubectl(&["create", "secret", "generic", "clash-connection", "-n", env.ns(), "--from-literal=owner=someone-else"], None).await.ok();
    let foreign = env.secret("clash-connection").await.unwrap();

    env.apply(&sql_user("legacy", "orders-db", "")).await;
    env.apply(&sql_user("gone", "orders-db", "")).await;
    env.apply(&sql_user("kept", "orders-db", "  deletionPolicy: Retain\n")).await;
    env.apply(&sql_user("clash", "orders-db", "")).await;
    env.apply(&sql_user("late", "orders-db", "  passwordSecretRef:\n    name: late-pw\n    key: password\n")).await;

    // Adopted, not duplicated, and its password is now the resource's.
    wait_for(&users, "legacy", TIMEOUT, "Ready", is_ready).await;
    let record = env.held(&id).await;
    assert_eq!(record.sql_user_names().iter().filter(|n| *n == "legacy").count(), 1, "{record:#?}");
    let generated = text(&env.secret("legacy-password").await.unwrap(), "password").unwrap();
    assert_eq!(env.cloud_password(&id, "legacy").await.as_deref(), Some(generated.as_str()));

    // A foreign Secret where the connection Secret goes: Stalled, and the Secret is left alone.
    let clash = wait_for(&users, "clash", TIMEOUT, "Stalled SecretConflict", |u| is_stalled_with(u, "SecretConflict")).await;
    assert!(condition(&clash, "Stalled").unwrap().2.contains("clash-connection"));
    let after = env.secret("clash-connection").await.unwrap();
    assert_eq!(after.metadata.resource_version, foreign.metadata.resource_version, "the foreign Secret was modified");
    assert_eq!(after.data, foreign.data);
    assert!(after.owner_references().is_empty());

    // A missing password Secret: Stalled naming the field; creating it is noticed (watched), long
    // before the slow retry of a stalled resource.
    let late = wait_for(&users, "late", TIMEOUT, "Stalled", |u| is_stalled_with(u, "PasswordSecretNotFound")).await;
    let (_, _, message) = condition(&late, "Stalled").unwrap();
    assert!(message.contains("spec.passwordSecretRef") && message.contains("late-pw"), "{message}");
    let late_password = "Arrived-later-5521aa";
    kubectl(&["create", "secret", "generic", "late-pw", "-n", env.ns(), &format!("--from-literal=password={late_password}")], None).await.ok();
    wait_for(&users, "late", Duration::from_secs(20), "Ready once its Secret exists", is_ready).await;
    assert_eq!(env.cloud_password(&id, "late").await.as_deref(), Some(late_password));

    // Delete removes the user, Retain keeps it; the stalled one leaves nothing behind either.
    wait_for(&users, "gone", TIMEOUT, "Ready", is_ready).await;
    wait_for(&users, "kept", TIMEOUT, "Ready", is_ready).await;
    for name in ["gone", "kept", "clash"] {
        users.delete(name, &DeleteParams::default()).await.unwrap();
    }
    for name in ["gone", "kept", "clash"] {
        wait_gone(&users, name, TIMEOUT).await;
    }
    let record = env.held(&id).await;
    let left = record.sql_user_names();
    assert!(!left.contains(&"gone".to_string()), "Delete left the SQL user: {left:?}");
    assert!(left.contains(&"kept".to_string()), "Retain removed the SQL user: {left:?}");
    assert!(!left.contains(&"clash".to_string()), "the stalled SQLUser left its user behind: {left:?}");
    assert!(left.contains(&"legacy".to_string()) && left.contains(&"late".to_string()));
    assert_eq!(env.secret("clash-connection").await.unwrap().data, foreign.data, "the foreign Secret must survive");
    assert!(events_for(env.ns(), "gone").await.iter().any(|e| e.starts_with("Normal Deleted")));
    // The retained user keeps its credentials: its Secrets are released, not garbage-collected,
    // and still hold the password the cloud has. (The deleted user's Secrets are collected.)
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kept_connection = env.secret("kept-connection").await.expect("the retained user's connection Secret survives");
    assert!(kept_connection.metadata.owner_references.unwrap_or_default().is_empty());
    let kept_password = String::from_utf8(kept_connection.data.unwrap()["password"].0.clone()).unwrap();
    assert_eq!(env.cloud_password(&id, "kept").await.as_deref(), Some(kept_password.as_str()));
    assert!(env.secret("kept-password").await.is_some(), "the retained user's password Secret survives");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while env.secret("gone-connection").await.is_some() {
        assert!(std::time::Instant::now() < deadline, "the deleted user's connection Secret was not garbage-collected");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn databases_are_created_renamed_in_place_adopted_and_deleted() {
    let env = env("database", 300, "info").await;
    let id = env.ready_cluster("orders-db").await;
    let dbs: Api<Database> = env.api();
    env.admin.cloud().create_database(&id, "legacy_db").await.unwrap();

    env.apply(&database("orders", "orders-db", "")).await;
    env.apply(&database("legacy", "orders-db", "  name: legacy_db\n")).await;
    env.apply(&database("gone", "orders-db", "")).await;
    env.apply(&database("kept", "orders-db", "  deletionPolicy: Retain\n")).await;
    for name in ["orders", "legacy", "gone", "kept"] {
        wait_for(&dbs, name, TIMEOUT, "Ready", is_ready).await;
    }
    let orders = dbs.get("orders").await.unwrap().status.unwrap();
    assert_eq!(orders.common.cloud_name.as_deref(), Some("orders"));
    assert_eq!(orders.table_count, Some(0));
    assert_eq!(orders.common.cluster_id.as_deref(), Some(id.as_str()));
    let record = env.held(&id).await;
    let mut held = record.database_names();
    held.sort();
    assert_eq!(held, ["defaultdb", "gone", "kept", "legacy_db", "orders"], "adoption must not duplicate");
    let table = kubectl(&["get", "crdbdb", "-n", env.ns()], None).await.ok().stdout;
    assert!(table.contains("TABLES") && table.contains("legacy_db"), "{table}");

    // Rename in place: no new database, nothing dropped.
    let creates = env.admin.count(Operation::CreateDatabase).await;
    dbs.patch("orders", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"name": "orders_v2"}}))).await.unwrap();
    let renamed = wait_for(&dbs, "orders", TIMEOUT, "Ready as orders_v2", |d| {
        is_ready(d) && d.status.as_ref().and_then(|s| s.common.cloud_name.as_deref()) == Some("orders_v2")
    })
    .await;
    assert_eq!(renamed.metadata.generation, Some(2));
    let held = env.held(&id).await.database_names();
    assert!(held.contains(&"orders_v2".to_string()) && !held.contains(&"orders".to_string()), "{held:?}");
    assert_eq!(env.admin.count(Operation::CreateDatabase).await, creates, "a rename must not create a database");
    assert_eq!(env.admin.count(Operation::DeleteDatabase).await, 0, "a rename must not drop a database");
    let events = events_for(env.ns(), "orders").await;
    assert!(events.iter().any(|e| e.starts_with("Normal Renamed")), "{events:?}");

    // Renaming onto a name another database holds is refused, and neither database is touched;
    // going back to the current name recovers.
    dbs.patch("orders", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"name": "legacy_db"}}))).await.unwrap();
    let refused = wait_for(&dbs, "orders", TIMEOUT, "Stalled NameInUse", |d| is_stalled_with(d, "NameInUse")).await;
    let (_, _, message) = condition(&refused, "Stalled").unwrap();
    assert!(message.contains("spec.name") && message.contains("legacy_db already exists"), "{message}");
    assert_eq!(refused.status.unwrap().common.cloud_name.as_deref(), Some("orders_v2"), "the resource must keep managing its database");
    let held = env.held(&id).await.database_names();
    assert!(held.contains(&"orders_v2".to_string()) && held.contains(&"legacy_db".to_string()), "{held:?}");
    assert_eq!(env.admin.count(Operation::EditDatabase).await, 1, "only the first rename may reach the cloud");
    dbs.patch("orders", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"name": "orders_v2"}}))).await.unwrap();
    wait_for(&dbs, "orders", TIMEOUT, "Ready again", |d| is_ready(d) && d.metadata.generation == Some(4)).await;

    // A cluster not managed by the operator, named by spec.clusterId: waited for while it is
    // CREATING, then used; Delete removes the database from it.
    let unmanaged = env.admin.cloud().create_cluster(&console_cluster("unmanaged-db")).await.unwrap().id;
    env.apply(&database("by-id", "unused", "").replace("  clusterRef:\n    name: unused\n", &format!("  clusterId: {unmanaged}\n"))).await;
    let by_id = wait_for(&dbs, "by-id", TIMEOUT, "Ready", is_ready).await;
    assert_eq!(by_id.status.unwrap().common.cluster_id.as_deref(), Some(unmanaged.as_str()));
    assert!(env.held(&unmanaged).await.database_names().contains(&"by-id".to_string()));
    dbs.delete("by-id", &DeleteParams::default()).await.unwrap();
    wait_gone(&dbs, "by-id", TIMEOUT).await;
    assert!(!env.held(&unmanaged).await.database_names().contains(&"by-id".to_string()));
    assert!(!cluster_deleted(&env.record(&unmanaged).await), "the unmanaged cluster must stay");

    // Delete drops the database, Retain keeps it.
    dbs.delete("gone", &DeleteParams::default()).await.unwrap();
    dbs.delete("kept", &DeleteParams::default()).await.unwrap();
    wait_gone(&dbs, "gone", TIMEOUT).await;
    wait_gone(&dbs, "kept", TIMEOUT).await;
    let held = env.held(&id).await.database_names();
    assert!(!held.contains(&"gone".to_string()), "Delete left the database: {held:?}");
    assert!(held.contains(&"kept".to_string()), "Retain dropped the database: {held:?}");
    assert!(held.contains(&"orders_v2".to_string()) && held.contains(&"legacy_db".to_string()));
}

#[tokio::test]
async fn allowlist_entries_update_in_place_conflict_adopt_and_delete() {
    let env = env("allowlist", 300, "info").await;
    let id = env.ready_cluster("orders-db").await;
    let entries: Api<AllowlistEntry> = env.api();
    let console = CloudAllowlistEntry { cidr_ip: "192.0.2.0".into(), cidr_mask: 24, name: Some("console".into()), sql: false, ui: false };
    env.admin.cloud().add_allowlist_entry(&id, &console).await.unwrap();
    // A new serverless cluster starts with its own default entry (0.0.0.0/0).
    let existing = env.held(&id).await.allowlist.len();

    env.apply(&allowlist("office", "orders-db", "203.0.113.0/24", "  sql: true\n  ui: false\n  name: office\n")).await;
    env.apply(&allowlist("vpn", "orders-db", "198.51.100.7", "  deletionPolicy: Retain\n")).await;
    env.apply(&allowlist("legacy", "orders-db", "192.0.2.0/24", "  sql: true\n  ui: true\n")).await;
    for name in ["office", "vpn", "legacy"] {
        wait_for(&entries, name, TIMEOUT, "Ready", is_ready).await;
    }
    let vpn = entries.get("vpn").await.unwrap();
    assert_eq!(vpn.status.unwrap().cloud_name.as_deref(), Some("198.51.100.7/32"), "a bare address means /32");
    let record = env.held(&id).await;
    assert_eq!(record.allowlist.len(), existing + 2, "adoption must not duplicate: {record:#?}");
    let office = entry(&record, "203.0.113.0", 24).unwrap();
    assert_eq!((office.sql, office.ui, office.name.as_deref()), (true, false, Some("office")));
    assert!(entry(&record, "198.51.100.7", 32).is_some());
    let legacy = entry(&record, "192.0.2.0", 24).unwrap();
    assert_eq!((legacy.sql, legacy.ui), (true, true), "the adopted entry follows the spec");

    // sql, ui and name change in place.
    let patch = json!({"spec": {"sql": false, "ui": true, "name": "office-hq"}});
    entries.patch("office", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_for(&entries, "office", TIMEOUT, "Ready at generation 2", |e| is_ready(e) && e.metadata.generation == Some(2)).await;
    let record = env.held(&id).await;
    let office = entry(&record, "203.0.113.0", 24).unwrap();
    assert_eq!((office.sql, office.ui, office.name.as_deref()), (false, true, Some("office-hq")));
    assert_eq!(env.admin.count(Operation::DeleteAllowlistEntry).await, 0, "an update must not remove the entry");
    assert!(events_for(env.ns(), "office").await.iter().any(|e| e.starts_with("Normal Updated")));

    // A second resource for the same CIDR: it reports the conflict and the first one keeps the entry.
    let updates = env.admin.count(Operation::UpdateAllowlistEntry).await;
    env.apply(&allowlist("office-copy", "orders-db", "203.0.113.0/24", "  sql: true\n  ui: false\n  name: copy\n")).await;
    let copy = wait_for(&entries, "office-copy", TIMEOUT, "Stalled Conflict", |e| is_stalled_with(e, "Conflict")).await;
    let (_, _, message) = condition(&copy, "Stalled").unwrap();
    assert!(message.contains(&format!("{}/office already manages 203.0.113.0/24", env.ns())), "{message}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(is_ready(&entries.get("office").await.unwrap()), "the first resource must stay Ready");
    assert_eq!(env.admin.count(Operation::UpdateAllowlistEntry).await, updates, "the conflicting resource changed the entry");
    let record = env.held(&id).await;
    assert_eq!(entry(&record, "203.0.113.0", 24).unwrap().name.as_deref(), Some("office-hq"));

    // The same CIDR named through spec.clusterId instead of clusterRef is the same allowlist.
    env.apply(&allowlist("office-by-id", "orders-db", "203.0.113.0/24", "").replace("  clusterRef:\n    name: orders-db\n", &format!("  clusterId: {id}\n")))
        .await;
    let by_id = wait_for(&entries, "office-by-id", TIMEOUT, "Stalled Conflict", |e| is_stalled_with(e, "Conflict")).await;
    let (_, _, message) = condition(&by_id, "Stalled").unwrap();
    // Either older resource for the CIDR (office, or office-copy) is named.
    assert!(message.contains(&format!("{}/office", env.ns())) && message.contains("already manages 203.0.113.0/24"), "{message}");
    assert_eq!(env.admin.count(Operation::UpdateAllowlistEntry).await, updates, "the resource naming the cluster by id changed the entry");
    entries.delete("office-by-id", &DeleteParams::default()).await.unwrap();
    wait_gone(&entries, "office-by-id", TIMEOUT).await;
    assert!(entry(&env.held(&id).await, "203.0.113.0", 24).is_some(), "deleting the conflicting resource removed the entry");

    // Two applied together (created in the same second): one manages the entry, the other says
    // why it does not, and they stay that way.
    let pair = [
        allowlist("pair-b", "orders-db", "10.7.0.0/16", "  name: pair-b\n"),
        allowlist("pair-a", "orders-db", "10.7.0.0/16", "  name: pair-a\n"),
    ]
    .concat();
    env.apply(&pair).await;
    let settled = |e: &AllowlistEntry| is_ready(e) || is_stalled_with(e, "Conflict");
    let a = wait_for(&entries, "pair-a", TIMEOUT, "Ready or Stalled", settled).await;
    let b = wait_for(&entries, "pair-b", TIMEOUT, "Ready or Stalled", settled).await;
    assert!(is_ready(&a) != is_ready(&b), "exactly one of the pair must be Ready: {:?} / {:?}", a.status, b.status);
    let winner = if is_ready(&a) { "pair-a" } else { "pair-b" };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(is_ready(&entries.get(winner).await.unwrap()), "the pair flapped");
    assert_eq!(entry(&env.held(&id).await, "10.7.0.0", 16).unwrap().name.as_deref(), Some(winner));

    // Deleting the conflicting one removes nothing; Delete removes the entry; Retain keeps it.
    entries.delete("office-copy", &DeleteParams::default()).await.unwrap();
    wait_gone(&entries, "office-copy", TIMEOUT).await;
    assert!(entry(&env.held(&id).await, "203.0.113.0", 24).is_some(), "deleting the conflicting resource removed the entry");
    assert!(is_ready(&entries.get("office").await.unwrap()));
    entries.delete("office", &DeleteParams::default()).await.unwrap();
    entries.delete("vpn", &DeleteParams::default()).await.unwrap();
    wait_gone(&entries, "office", TIMEOUT).await;
    wait_gone(&entries, "vpn", TIMEOUT).await;
    let record = env.held(&id).await;
    assert!(entry(&record, "203.0.113.0", 24).is_none(), "Delete left the entry: {record:#?}");
    assert!(entry(&record, "198.51.100.7", 32).is_some(), "Retain removed the entry: {record:#?}");
    assert!(entry(&record, "192.0.2.0", 24).is_some());
}

#[tokio::test]
async fn drift_in_the_cloud_is_corrected() {
    let env = env("children-drift", 3, "info").await;
    let id = env.ready_cluster("orders-db").await;
    env.apply(&database("drift-db", "orders-db", "")).await;
    env.apply(&allowlist("changed-net", "orders-db", "10.1.0.0/16", "  sql: true\n  ui: false\n  name: changed\n")).await;
    env.apply(&allowlist("deleted-net", "orders-db", "10.2.0.0/16", "")).await;
    env.apply(&sql_user("drift-user", "orders-db", "")).await;
    let dbs: Api<Database> = env.api();
    let entries: Api<AllowlistEntry> = env.api();
    let users: Api<SQLUser> = env.api();
    wait_for(&users, "drift-user", TIMEOUT, "Ready", is_ready).await;
    wait_for(&dbs, "drift-db", TIMEOUT, "Ready", is_ready).await;
    wait_for(&entries, "changed-net", TIMEOUT, "Ready", is_ready).await;
    wait_for(&entries, "deleted-net", TIMEOUT, "Ready", is_ready).await;

    // Behind the operator's back: a database and a SQL user dropped, one entry changed and another removed.
    let cloud = env.admin.cloud();
    cloud.delete_sql_user(&id, "drift-user").await.unwrap();
    cloud.delete_database(&id, "drift-db").await.unwrap();
    let hijack = AllowlistEntryUpdate { name: Some("hijacked".into()), sql: false, ui: true };
    cloud.update_allowlist_entry(&id, "10.1.0.0", 16, &hijack).await.unwrap();
    cloud.delete_allowlist_entry(&id, "10.2.0.0", 16).await.unwrap();

    env.wait_cloud(&id, "the drift to be corrected", DRIFT_TIMEOUT, |r| {
        let changed = entry(r, "10.1.0.0", 16);
        r.database_names().contains(&"drift-db".to_string())
            && changed.is_some_and(|e| e.sql && !e.ui && e.name.as_deref() == Some("changed"))
            && entry(r, "10.2.0.0", 16).is_some_and(|e| e.sql)
            && r.sql_user_names().contains(&"drift-user".to_string())
    })
    .await;
    // The SQL user is back with the password its Secret holds.
    let password = text(&env.secret("drift-user-password").await.unwrap(), "password");
    assert_eq!(env.cloud_password(&id, "drift-user").await, password);
    for name in ["drift-db", "changed-net", "deleted-net", "drift-user"] {
        let events = events_for(env.ns(), name).await;
        assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected")), "{name}: {events:?}");
    }
    wait_for(&dbs, "drift-db", TIMEOUT, "Ready again", is_ready).await;
    wait_for(&entries, "changed-net", TIMEOUT, "Ready again", is_ready).await;
    wait_for(&entries, "deleted-net", TIMEOUT, "Ready again", is_ready).await;
    wait_for(&users, "drift-user", TIMEOUT, "Ready again", is_ready).await;

    // Settled: resyncs (every 3 s here) neither rewrite the connection Secret nor ask the cloud
    // for the endpoint again.
    let lookups = env.admin.count(Operation::GetConnectionString).await;
    let version = env.secret("drift-user-connection").await.unwrap().metadata.resource_version;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(env.admin.count(Operation::GetConnectionString).await, lookups, "the endpoint is looked up on every resync");
    assert_eq!(env.secret("drift-user-connection").await.unwrap().metadata.resource_version, version, "the connection Secret was rewritten");
}

/// Drift checks spend one request per list per resync: on a server that pages every 2 items, the
/// cluster's 4 databases (with `defaultdb`) take 2 pages and are refreshed every second resync,
/// its one SQL user every resync. Drift in the longer list is still found and put back.
#[tokio::test]
async fn drift_checks_of_a_list_of_several_pages_cost_one_request_per_resync() {
    let sim = start_simulator_with(&[], |config| config.max_page_size = 2).await;
    let mut env = Env::with_simulator("children-pages", sim).await;
    env.start_operator(|options| options.resync_seconds = 3);
    let id = env.ready_cluster("orders-db").await;
    let databases = ["pages-a", "pages-b", "pages-c"];
    for name in databases {
        env.apply(&database(name, "orders-db", "")).await;
    }
    env.apply(&sql_user("pages-user", "orders-db", "")).await;
    let dbs: Api<Database> = env.api();
    for name in databases {
        wait_for(&dbs, name, TIMEOUT, "Ready", is_ready).await;
    }
    wait_for(&env.api::<SQLUser>(), "pages-user", TIMEOUT, "Ready", is_ready).await;

    // At rest: over 8 resyncs, about 8 one-page user lists and 4 two-page database lists. Listing
    // the databases on every resync would cost about 16 requests.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (users_before, dbs_before) = (env.admin.count(Operation::ListSQLUsers).await, env.admin.count(Operation::ListDatabases).await);
    tokio::time::sleep(Duration::from_secs(24)).await;
    let users = env.admin.count(Operation::ListSQLUsers).await - users_before;
    let databases = env.admin.count(Operation::ListDatabases).await - dbs_before;
    assert!((6..=10).contains(&users), "{users} SQL user lists in 8 resyncs");
    assert!(databases >= 4 && databases <= users + 3, "{databases} database list requests against {users} SQL user lists");

    // Drift in the two-page list is found within two resyncs.
    env.admin.cloud().delete_database(&id, "pages-b").await.unwrap();
    env.wait_cloud(&id, "the dropped database to be back", DRIFT_TIMEOUT, |r| r.database_names().contains(&"pages-b".to_string())).await;
    let events = events_for(env.ns(), "pages-b").await;
    assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected")), "{events:?}");
}

#[tokio::test]
async fn children_wait_for_their_cluster_and_then_become_ready() {
    let env = env("children-waiting", 300, "info").await;
    let users: Api<SQLUser> = env.api();
    let dbs: Api<Database> = env.api();
    let entries: Api<AllowlistEntry> = env.api();

    // Before the cluster exists.
    env.apply(&sql_user("app", "late-db", "")).await;
    env.apply(&database("app-db", "late-db", "")).await;
    env.apply(&allowlist("app-net", "late-db", "10.3.0.0/16", "")).await;
    let user = wait_for(&users, "app", TIMEOUT, "waiting for its cluster", is_waiting_for_cluster).await;
    assert!(condition(&user, "Reconciling").unwrap().2.contains("spec.clusterRef"));
    wait_for(&dbs, "app-db", TIMEOUT, "waiting for its cluster", is_waiting_for_cluster).await;
    wait_for(&entries, "app-net", TIMEOUT, "waiting for its cluster", is_waiting_for_cluster).await;

    // While it is CREATING they keep waiting, and proceed by themselves once it is Ready.
    env.apply(&serverless_cluster("late-db")).await;
    let clusters: Api<CockroachCluster> = env.api();
    let mut saw_creating = false;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let cr = clusters.get("late-db").await.unwrap();
        if is_ready(&cr) {
            break;
        }
        if cr.status.as_ref().and_then(|s| s.state.as_deref()) == Some("CREATING") {
            saw_creating = true;
            let user = users.get("app").await.unwrap();
            if !is_waiting_for_cluster(&user) {
                // Only allowed if the cluster became Ready in between.
                assert!(is_ready(&clusters.get("late-db").await.unwrap()), "a child did not wait for its CREATING cluster: {:?}", user.status);
            }
        }
        assert!(Instant::now() < deadline, "the cluster never became Ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(saw_creating, "the cluster was never seen CREATING");
    let id = clusters.get("late-db").await.unwrap().status.unwrap().cluster_id.unwrap();
    let ready_at = Instant::now();
    wait_for(&users, "app", TIMEOUT, "Ready", is_ready).await;
    wait_for(&dbs, "app-db", TIMEOUT, "Ready", is_ready).await;
    wait_for(&entries, "app-net", TIMEOUT, "Ready", is_ready).await;
    assert!(ready_at.elapsed() < Duration::from_secs(20), "children were slow to follow their cluster: {:?}", ready_at.elapsed());
    let record = env.held(&id).await;
    assert!(record.sql_user_names().contains(&"app".to_string()));
    assert!(record.database_names().contains(&"app-db".to_string()));
    assert!(entry(&record, "10.3.0.0", 16).is_some());
}

/// A SQL user, a database and an allowlist entry named `<prefix>-user`, `<prefix>-db` and
/// `<prefix>-net` in `cluster`.
async fn apply_children(env: &Env, prefix: &str, cluster: &str, cidr: &str) {
    env.apply(&sql_user(&format!("{prefix}-user"), cluster, "")).await;
    env.apply(&database(&format!("{prefix}-db"), cluster, "")).await;
    env.apply(&allowlist(&format!("{prefix}-net"), cluster, cidr, "")).await;
}

/// Waits until the children made by [`apply_children`] are Ready (or, with `gone`, deleted).
async fn wait_children(env: &Env, prefixes: &[&str], gone: bool) {
    let users: Api<SQLUser> = env.api();
    let dbs: Api<Database> = env.api();
    let entries: Api<AllowlistEntry> = env.api();
    for prefix in prefixes {
        let (user, db, net) = (format!("{prefix}-user"), format!("{prefix}-db"), format!("{prefix}-net"));
        if gone {
            wait_gone(&users, &user, TIMEOUT).await;
            wait_gone(&dbs, &db, TIMEOUT).await;
            wait_gone(&entries, &net, TIMEOUT).await;
        } else {
            wait_for(&users, &user, TIMEOUT, "Ready", is_ready).await;
            wait_for(&dbs, &db, TIMEOUT, "Ready", is_ready).await;
            wait_for(&entries, &net, TIMEOUT, "Ready", is_ready).await;
        }
    }
}

#[tokio::test]
async fn deleting_the_cluster_with_its_children_leaves_nothing_stuck() {
    let env = env("children-cluster-gone", 300, "info").await;
    let together = env.ready_cluster("together-db").await;
    let first = env.ready_cluster("first-db").await;
    for (prefix, cluster) in [("t", "together-db"), ("f", "first-db")] {
        apply_children(&env, prefix, cluster, "10.4.0.0/16").await;
    }
    wait_children(&env, &["t", "f"], false).await;

    // Everything in one `kubectl delete`, and (for the other cluster) the cluster first.
    kubectl(&["delete", "-n", env.ns(), "--wait=false", "crdbcluster/together-db", "crdbsqluser/t-user", "crdbdb/t-db", "crdballow/t-net"], None)
        .await
        .ok();
    kubectl(&["delete", "-n", env.ns(), "--timeout=40s", "crdbcluster/first-db"], None).await.ok();
    assert!(cluster_deleted(&env.record(&first).await), "the Delete policy left cluster {first}");
    kubectl(&["delete", "-n", env.ns(), "--wait=false", "crdbsqluser/f-user", "crdbdb/f-db", "crdballow/f-net"], None).await.ok();

    let clusters: Api<CockroachCluster> = env.api();
    wait_gone(&clusters, "together-db", TIMEOUT).await;
    wait_children(&env, &["t", "f"], true).await;
    let left = kubectl(&["get", "crdbcloud", "-n", env.ns(), "-o", "name"], None).await.ok().stdout;
    assert!(left.trim().is_empty(), "still present: {left}");
    assert!(cluster_deleted(&env.record(&together).await), "the Delete policy left cluster {together}");
}

#[tokio::test]
async fn children_using_their_clusters_credentials_are_released_after_the_cluster() {
    // No operator-wide key: every request uses the Secret named by the cluster's credentialsRef.
    let env = env_with_key("children-cluster-creds", 300, "info", None).await;
    kubectl(&["create", "secret", "generic", "cloud-key", "-n", env.ns(), &format!("--from-literal=apiKey={TEST_API_KEY}")], None).await.ok();
    let with_credentials = |name: &str| serverless_cluster(name).replace("  labels:\n", "  credentialsRef:\n    name: cloud-key\n  labels:\n");
    env.apply(&with_credentials("keyed-db")).await;
    env.apply(&with_credentials("together-db")).await;
    let clusters: Api<CockroachCluster> = env.api();
    let id = wait_for(&clusters, "keyed-db", TIMEOUT, "Ready", is_ready).await.status.unwrap().cluster_id.unwrap();
    let together = wait_for(&clusters, "together-db", TIMEOUT, "Ready", is_ready).await.status.unwrap().cluster_id.unwrap();
    for (prefix, cluster) in [("k", "keyed-db"), ("t", "together-db")] {
        apply_children(&env, prefix, cluster, "10.5.0.0/16").await;
    }
    wait_children(&env, &["k", "t"], false).await;

    // One cluster goes first, the other in one `kubectl delete` with its children.
    kubectl(&["delete", "-n", env.ns(), "--wait=false", "crdbcluster/together-db", "crdbsqluser/t-user", "crdbdb/t-db", "crdballow/t-net"], None)
        .await
        .ok();
    kubectl(&["delete", "-n", env.ns(), "--timeout=40s", "crdbcluster/keyed-db"], None).await.ok();
    assert!(cluster_deleted(&env.record(&id).await));
    kubectl(&["delete", "-n", env.ns(), "--wait=false", "crdbsqluser/k-user", "crdbdb/k-db", "crdballow/k-net"], None).await.ok();
    wait_gone(&clusters, "together-db", TIMEOUT).await;
    wait_children(&env, &["k", "t"], true).await;
    assert!(cluster_deleted(&env.record(&together).await));
}

#[tokio::test]
async fn invalid_children_are_refused_or_stalled_and_nothing_is_deleted() {
    let env = env("children-invalid", 300, "info").await;

    // Refused by the API server, naming the field.
    let cases = [
        (allowlist("bad-cidr", "orders-db", "10.0.0.300/24", ""), "spec.cidr"),
        (allowlist("not-cidr", "orders-db", "banana", ""), "spec.cidr"),
        (allowlist("host-bits", "orders-db", "10.0.0.1/8", ""), "spec.cidr"),
        (allowlist("v6", "orders-db", "2001:db8::/32", ""), "spec.cidr"),
        (
            database("both", "orders-db", "  clusterId: 2c7a1e3b-5d4f-4a6b-8c9d-0e1f2a3b4c5d\n"),
            "exactly one of spec.clusterRef or spec.clusterId",
        ),
        (
            "apiVersion: crdbcloud.io/v1alpha1\nkind: SQLUser\nmetadata:\n  name: neither\nspec:\n  deletionPolicy: Delete\n".to_string(),
            "exactly one of spec.clusterRef or spec.clusterId",
        ),
        (sql_user("bad-user", "orders-db", "  name: Bad User\n"), "spec.name"),
        (sql_user("dash-first", "orders-db", "  name: -app\n"), "spec.name"),
        (sql_user(&"a".repeat(64), "orders-db", ""), "spec.name"),
        (database("bad-db", "orders-db", "  name: 1orders\n"), "spec.name"),
    ];
    for (manifest, field) in &cases {
        let err = env.apply_refused(manifest).await;
        assert!(err.contains(field), "expected {field:?} in:\n{err}\nfor:\n{manifest}");
    }
    let listed = kubectl(&["get", "crdbcloud", "-n", env.ns(), "-o", "name"], None).await.ok().stdout;
    assert!(listed.trim().is_empty(), "a refused manifest was stored: {listed}");

    // Accepted, but refused by the cloud: Stalled with the server's message.
    let id = env.ready_cluster("orders-db").await;
    let cloud = env.admin.cloud();
    cloud.create_sql_user(&id, "keeper", "Keeper-pass-123").await.unwrap();
    cloud.create_database(&id, "keeper_db").await.unwrap();
    let keep_entry = CloudAllowlistEntry { cidr_ip: "10.9.0.0".into(), cidr_mask: 16, name: Some("keep".into()), sql: true, ui: false };
    cloud.add_allowlist_entry(&id, &keep_entry).await.unwrap();
    let before = env.held(&id).await;

    env.apply(&sql_user("superuser", "orders-db", "  name: root\n")).await;
    env.apply(&database("system-db", "orders-db", "  name: system\n")).await;
    let users: Api<SQLUser> = env.api();
    let dbs: Api<Database> = env.api();
    let root = wait_for(&users, "superuser", TIMEOUT, "Stalled", |u| is_stalled_with(u, "CloudRejectedSpec")).await;
    let (_, _, message) = condition(&root, "Stalled").unwrap();
    assert!(message.contains("reserved role name"), "{message}");
    let system = wait_for(&dbs, "system-db", TIMEOUT, "Stalled", |d| is_stalled_with(d, "CloudRejectedSpec")).await;
    let (_, _, message) = condition(&system, "Stalled").unwrap();
    assert!(message.contains("reserved database name"), "{message}");
    assert!(events_for(env.ns(), "superuser").await.iter().any(|e| e.starts_with("Warning CloudRejectedSpec")));

    // Deleting them deletes nothing in the cloud.
    users.delete("superuser", &DeleteParams::default()).await.unwrap();
    dbs.delete("system-db", &DeleteParams::default()).await.unwrap();
    wait_gone(&users, "superuser", TIMEOUT).await;
    wait_gone(&dbs, "system-db", TIMEOUT).await;
    for op in [Operation::DeleteSQLUser, Operation::DeleteDatabase, Operation::DeleteAllowlistEntry, Operation::DeleteCluster] {
        assert_eq!(env.admin.count(op).await, 0, "{op} was sent");
    }
    let after = env.held(&id).await;
    assert_eq!(after.sql_users, before.sql_users, "the SQL users changed");
    assert_eq!(after.databases, before.databases, "the databases changed");
    assert_eq!(after.allowlist, before.allowlist, "the allowlist changed");
}
