//! The shape of a SQLUser's connection Secret end to end (spec.connectionSecret): its name, other
//! names for its keys and templated keys, on a real control plane with the operator and the Cloud
//! API simulator.

use std::time::{Duration, Instant};

use crdb_cloud_operator::api::{CockroachCluster, SQLUser};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use crdb_test_support::World as Env;
use crdb_test_support::*;

const TIMEOUT: Duration = Duration::from_secs(40);
/// Characters a URL must percent-encode.
const PASSWORD: &str = "Sp3cial/chars+@ x!";
const ROTATED: &str = "Rotated:pass#word%7";

fn text(secret: &Secret, key: &str) -> Option<String> {
    secret.data.as_ref()?.get(key).map(|b| String::from_utf8(b.0.clone()).unwrap())
}

fn encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// Polls a Secret until `done` holds for it.
async fn wait_secret(env: &Env, name: &str, what: &str, done: impl Fn(&Secret) -> bool) -> Secret {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let secret = env.api::<Secret>().get_opt(name).await.unwrap();
        if let Some(secret) = secret.as_ref().filter(|s| done(s)) {
            return secret.clone();
        }
        let keys: Option<Vec<String>> = secret.and_then(|s| s.data).map(|d| d.keys().cloned().collect());
        assert!(Instant::now() < deadline, "timed out waiting for Secret {name} to be {what}; its keys: {keys:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

const SHAPED: &str = r#"  passwordSecretRef:
    name: app-pw
    key: password
  connectionDatabase: orders
  connectionSecret:
    name: app-db
    keys:
      host: PGHOST
      port: PGPORT
      user: PGUSER
      password: PGPASSWORD
      database: PGDATABASE
      url: DATABASE_URL
    template:
      JDBC_URL: "jdbc:postgresql://{{host}}:{{port}}/{{database}}?user={{user}}&password={{password_urlencoded}}&sslmode={{sslmode}}"
      PG_DSN: "host={{host}} port={{port}} dbname={{database}} user={{user}} password={{password}}"
"#;

#[tokio::test]
async fn the_connection_secret_takes_the_keys_and_templates_applications_expect() {
    let env = Env::start_with("conn-shape", |options| options.resync_seconds = 3).await;
    let id = env.ready_cluster("orders-db").await;
    let status = env.api::<CockroachCluster>().get("orders-db").await.unwrap().status.unwrap();
    let hosts: Vec<String> = status.sql_dns.iter().cloned().chain(status.regions.iter().map(|r| r.sql_dns.clone())).collect();
    kubectl(&["create", "secret", "generic", "app-pw", "-n", env.ns(), &format!("--from-literal=password={PASSWORD}")], None).await.ok();
    env.apply(&child("SQLUser", "app", "orders-db", SHAPED)).await;
    let users: Api<SQLUser> = env.api();
    let app = wait_for(&users, "app", TIMEOUT, "Ready", is_ready).await;
    assert_eq!(app.status.as_ref().unwrap().connection_secret.as_deref(), Some("app-db"));

    // The renamed keys, under their new names only; the others keep theirs; the templates rendered.
    let secret = env.api::<Secret>().get("app-db").await.unwrap();
    let host = text(&secret, "PGHOST").unwrap();
    assert!(hosts.contains(&host), "PGHOST {host} is none of the cluster's hosts {hosts:?}");
    assert_eq!(text(&secret, "PGPORT").as_deref(), Some("26257"));
    assert_eq!(text(&secret, "PGUSER").as_deref(), Some("app"));
    assert_eq!(text(&secret, "PGPASSWORD").as_deref(), Some(PASSWORD));
    assert_eq!(text(&secret, "PGDATABASE").as_deref(), Some("orders"));
    let url = format!("postgresql://app:{}@{host}:26257/orders?sslmode=verify-full", encoded(PASSWORD));
    assert_eq!(text(&secret, "DATABASE_URL"), Some(url));
    assert_eq!(
        text(&secret, "JDBC_URL"),
        Some(format!("jdbc:postgresql://{host}:26257/orders?user=app&password={}&sslmode=verify-full", encoded(PASSWORD)))
    );
    assert_eq!(text(&secret, "PG_DSN"), Some(format!("host={host} port=26257 dbname=orders user=app password={PASSWORD}")));
    assert_eq!(text(&secret, "sslmode").as_deref(), Some("verify-full"));
    assert!(text(&secret, "ca.crt").is_some_and(|c| c.contains("BEGIN CERTIFICATE")));
    let mut keys: Vec<String> = secret.data.clone().unwrap().into_keys().collect();
    keys.sort();
    assert_eq!(keys, ["DATABASE_URL", "JDBC_URL", "PGDATABASE", "PGHOST", "PGPASSWORD", "PGPORT", "PGUSER", "PG_DSN", "ca.crt", "sslmode"]);
    assert!(env.api::<Secret>().get_opt("app-connection").await.unwrap().is_none(), "the default name is not used");

    // Settled: resyncs neither rewrite the shaped Secret nor ask the cloud for the endpoint again.
    let lookups = env.admin.count(Operation::GetConnectionString).await;
    let version = env.api::<Secret>().get("app-db").await.unwrap().metadata.resource_version;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(env.admin.count(Operation::GetConnectionString).await, lookups, "the endpoint is looked up again on resync");
    assert_eq!(env.api::<Secret>().get("app-db").await.unwrap().metadata.resource_version, version, "the shaped Secret was rewritten");

    // A rotated password reaches every key that holds it.
    let patch = json!({"stringData": {"password": ROTATED}});
    env.api::<Secret>().patch("app-pw", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let rotated = wait_secret(&env, "app-db", "rotated", |s| text(s, "PGPASSWORD").as_deref() == Some(ROTATED)).await;
    assert!(text(&rotated, "JDBC_URL").unwrap().contains(&encoded(ROTATED)));
    assert!(text(&rotated, "PG_DSN").unwrap().ends_with(&format!("password={ROTATED}")));
    assert_eq!(env.cloud_password(&id, "app").await.as_deref(), Some(ROTATED));

    // A changed template is written; removing the block brings back the default shape.
    let patch = json!({"spec": {"connectionSecret": {"template": {"PG_DSN": null, "READONLY_URL": "{{url}}&default_transaction_read_only=on"}}}});
    users.patch("app", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let changed = wait_secret(&env, "app-db", "re-templated", |s| text(s, "READONLY_URL").is_some() && text(s, "PG_DSN").is_none()).await;
    assert!(text(&changed, "READONLY_URL").unwrap().ends_with("sslmode=verify-full&default_transaction_read_only=on"));
    users.patch("app", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"connectionSecret": null}}))).await.unwrap();
    let plain = wait_secret(&env, "app-connection", "written in the default shape", |s| text(s, "password").is_some()).await;
    assert_eq!(text(&plain, "password").as_deref(), Some(ROTATED));
    assert_eq!(text(&plain, "host").as_deref(), Some(host.as_str()));
    assert_eq!(plain.data.unwrap().len(), 8);

    // The password is only ever in Secrets: not in the SQLUser, its events or the operator's log.
    let user = serde_json::to_string(&users.get("app").await.unwrap()).unwrap();
    let events = kubectl(&["get", "events", "-n", env.ns(), "-o", "json"], None).await.ok().stdout;
    let logs = env.operator().logs();
    for password in [PASSWORD, ROTATED] {
        for form in [password.to_string(), encoded(password)] {
            assert!(!user.contains(&form) && !events.contains(&form) && !logs.contains(&form), "a password leaked outside its Secrets");
        }
    }
}

#[tokio::test]
async fn a_connection_secret_that_cannot_be_written_is_refused_or_stalled_before_the_cloud() {
    let env = Env::start("conn-shape-bad").await;
    let err = env.apply_refused(&child("SQLUser", "typo", "orders-db", "  connectionSecret:\n    template:\n      DATABASE_URL: \"{{usr}}@{{host}}\"\n")).await;
    assert!(err.contains("spec.connectionSecret.template: unknown placeholder"), "{err}");
    env.ready_cluster("orders-db").await;
    env.apply(&child("SQLUser", "clash", "orders-db", "  connectionSecret:\n    keys:\n      host: PGHOST\n    template:\n      PGHOST: \"{{host}}\"\n")).await;
    let users: Api<SQLUser> = env.api();
    let clash = wait_for(&users, "clash", TIMEOUT, "Stalled", |u| is_stalled_with(u, "InvalidSpec")).await;
    let (_, _, message) = condition(&clash, "Stalled").unwrap();
    assert!(message.starts_with("spec.connectionSecret.template.PGHOST"), "{message}");
    assert_eq!(env.admin.count(Operation::CreateSQLUser).await, 0, "the user was created although its Secret cannot be written");
}
