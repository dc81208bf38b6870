//! The simulator over real HTTP: auth and org isolation, the cluster state machine, validation,
//! conflicts, pagination, allowlist paths, delete protection, rate limiting, faults and the admin
//! surface. Every test starts its own simulator on 127.0.0.1:0 with short delays.

use std::time::{Duration, Instant};

use crdb_cloud::Operation;
use crdb_cloud::models::{BackupConfiguration, ClusterState, LogExportStatus, OperationStatus};
use crdb_cloud_simulator::admin_api::{FaultKind, FaultSpec, ForceLogExportStatus, ForceState, UserDump};
use crdb_cloud_simulator::admin_client::{AdminClient, AdminError};
use crdb_cloud_simulator::{self as simulator, RunningSimulator, SimulatorConfig};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const KEY: &str = "key-org-a-secret";
const KEY_B: &str = "key-org-b-secret";

struct Sim {
    sim: RunningSimulator,
    http: reqwest::Client,
    admin: AdminClient,
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or(-1)
    }
    fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
    #[track_caller]
    fn ok(self) -> Value {
        assert_eq!(self.status, 200, "{}", self.body);
        self.body
    }
    #[track_caller]
    fn error(&self, status: u16, code: i64) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
        assert!(self.body["details"].is_array(), "error body shape: {}", self.body);
    }
}

/// An admin refusal with the Cloud API's error body.
#[track_caller]
fn admin_error(error: &AdminError, status: u16, code: i64) {
    let body: Value = serde_json::from_str(&error.body).unwrap_or(Value::Null);
    assert_eq!((error.status, body["code"].as_i64()), (status, Some(code)), "{error}");
}

fn config() -> SimulatorConfig {
    SimulatorConfig {
        api_keys: vec![KEY.into(), KEY_B.into()],
        cluster_create_delay: Duration::from_millis(300),
        operation_delay: Duration::from_millis(300),
        deleted_retention: Duration::from_millis(700),
        rate_limit_per_second: 0,
        ..Default::default()
    }
}

impl Sim {
    async fn start(config: SimulatorConfig) -> Self {
        crdb_cloud_operator::install_crypto_provider();
        let sim = simulator::start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let admin = AdminClient::new(sim.base_url());
        Self { sim, http: reqwest::Client::new(), admin }
    }

    async fn call(&self, key: Option<&str>, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.sim.base_url()));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, headers, body }
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Some(KEY), Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Some(KEY), Method::POST, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Some(KEY), Method::PATCH, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Some(KEY), Method::PUT, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> Reply {
        self.call(Some(KEY), Method::DELETE, path, None).await
    }

    async fn create_serverless(&self, name: &str) -> Value {
        self.post("/api/v1/clusters", serverless_body(name)).await.ok()
    }

    /// Creates a serverless cluster and waits until it is CREATED; returns its id.
    async fn ready_cluster(&self, name: &str) -> String {
        let id = self.create_serverless(name).await["id"].as_str().unwrap().to_string();
        self.wait_for(&id, |c| c["state"] == "CREATED" && c["operation_status"] == "UNSPECIFIED").await;
        id
    }

    async fn wait_for(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let c = self.get(&format!("/api/v1/clusters/{id}")).await.ok();
            if done(&c) {
                return c;
            }
            assert!(Instant::now() < deadline, "cluster never reached the expected state: {c}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn serverless_body(name: &str) -> Value {
    json!({"name": name, "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}, "labels": {"env": "test"}}})
}

fn dedicated_body(name: &str) -> Value {
    json!({
        "name": name,
        "provider": "AWS",
        "spec": {"dedicated": {
            "region_nodes": {"us-east-1": 3},
            "hardware": {"machine_spec": {"num_virtual_cpus": 4}, "storage_gib": 150},
            "cockroach_version": "v24.3"
        }}
    })
}

#[tokio::test]
async fn auth_is_required_and_orgs_are_isolated() {
    let s = Sim::start(config()).await;
    let r = s.call(None, Method::GET, "/api/v1/clusters", None).await;
    r.error(401, 16);
    let r = s.call(Some("not-a-key"), Method::GET, "/api/v1/clusters", None).await;
    r.error(401, 16);
    assert!(!r.body.to_string().contains("not-a-key"), "the key must not be echoed");

    let org_a = s.get("/api/v1/organization").await.ok();
    let org_b = s.call(Some(KEY_B), Method::GET, "/api/v1/organization", None).await.ok();
    assert_ne!(org_a["id"], org_b["id"]);
    for field in ["id", "label", "name", "created_at"] {
        assert!(org_a[field].is_string(), "{field}");
    }

    let id = s.create_serverless("org-a-cluster").await["id"].as_str().unwrap().to_string();
    let r = s.call(Some(KEY_B), Method::GET, &format!("/api/v1/clusters/{id}"), None).await;
    r.error(404, 5);
    let r = s.call(Some(KEY_B), Method::DELETE, &format!("/api/v1/clusters/{id}"), None).await;
    r.error(404, 5);
    let list_b = s.call(Some(KEY_B), Method::GET, "/api/v1/clusters", None).await.ok();
    assert_eq!(list_b["clusters"].as_array().unwrap().len(), 0);
    // The same name is free in another organisation.
    s.call(Some(KEY_B), Method::POST, "/api/v1/clusters", Some(serverless_body("org-a-cluster"))).await.ok();
    let list_a = s.get("/api/v1/clusters").await.ok();
    assert_eq!(list_a["clusters"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn serverless_cluster_goes_from_creating_to_created() {
    let s = Sim::start(config()).await;
    let c = s.create_serverless("life-cycle-1").await;
    assert_eq!(c["state"], "CREATING");
    assert_eq!(c["plan"], "BASIC");
    assert_eq!(c["cloud_provider"], "GCP");
    assert_eq!(c["upgrade_status"], "FINALIZED");
    assert_eq!(c["operation_status"], "UNSPECIFIED");
    assert_eq!(c["delete_protection"], "DISABLED");
    assert_eq!(c["parent_id"], "root");
    assert_eq!(c["network_visibility"], "PUBLIC");
    assert_eq!(c["cidr_range"], "");
    assert_eq!(c["labels"], json!({"env": "test"}));
    assert_eq!(c["config"]["serverless"]["upgrade_type"], "AUTOMATIC");
    assert!(c["cockroach_version"].as_str().unwrap().starts_with('v'));
    assert!(c["created_at"].as_str().unwrap().ends_with('Z'));
    let id = c["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    let region = &c["regions"][0];
    assert_eq!((region["name"].as_str(), region["node_count"].as_i64()), (Some("us-central1"), Some(0)));
    let sql_dns = region["sql_dns"].as_str().unwrap();
    assert!(sql_dns.starts_with("life-cycle-1-") && sql_dns.ends_with(".gcp-us-central1.crdb.io"), "{sql_dns}");
    assert_eq!(c["sql_dns"], region["sql_dns"]);

    // Children are refused until the cluster is CREATED.
    let r = s.get(&format!("/api/v1/clusters/{id}/sql-users")).await;
    r.error(400, 9);
    assert!(r.message().contains("CREATED"), "{}", r.message());

    let c = s.wait_for(id, |c| c["state"] == "CREATED").await;
    assert_ne!(c["updated_at"], c["created_at"]);

    let cs = s.get(&format!("/api/v1/clusters/{id}/connection-string?sql_user=app")).await.ok();
    assert_eq!(
        cs["connection_string"].as_str().unwrap(),
        format!("postgresql://app@{sql_dns}:26257/defaultdb?sslmode=verify-full")
    );
    assert_eq!(cs["params"], json!({"Host": sql_dns, "Port": "26257", "Database": "defaultdb", "Username": "app"}));
    s.get(&format!("/api/v1/clusters/{id}/connection-string?os=BEOS")).await.error(400, 3);

    // A fresh serverless cluster has the open allowlist entry and a default database.
    let al = s.get(&format!("/api/v1/clusters/{id}/networking/allowlist")).await.ok();
    assert_eq!(al["allowlist"], json!([{"cidr_ip": "0.0.0.0", "cidr_mask": 0, "name": "Allow all", "sql": true, "ui": true}]));
    assert_eq!(al["propagating"], false);
    let dbs = s.get(&format!("/api/v1/clusters/{id}/databases")).await.ok();
    assert_eq!(dbs["databases"], json!([{"name": "defaultdb", "table_count": "0"}]));

    // STANDARD is derived from provisioned capacity; with_empty_ip_allowlist leaves the list empty.
    let body = json!({"name": "standard-one", "provider": "AWS", "spec": {"serverless": {
        "regions": ["us-east-1", "us-west-2"], "primary_region": "us-west-2",
        "usage_limits": {"provisioned_virtual_cpus": "2"}, "with_empty_ip_allowlist": true}}});
    let c = s.post("/api/v1/clusters", body).await.ok();
    assert_eq!(c["plan"], "STANDARD");
    assert_eq!(c["config"]["serverless"]["usage_limits"], json!({"provisioned_virtual_cpus": "2"}));
    let primaries: Vec<_> = c["regions"].as_array().unwrap().iter().map(|r| (r["name"].clone(), r["primary"].clone())).collect();
    assert_eq!(primaries, vec![(json!("us-east-1"), json!(false)), (json!("us-west-2"), json!(true))]);
    let id = c["id"].as_str().unwrap();
    s.wait_for(id, |c| c["state"] == "CREATED").await;
    let al = s.get(&format!("/api/v1/clusters/{id}/networking/allowlist")).await.ok();
    assert_eq!(al["allowlist"], json!([]));
}

#[tokio::test]
async fn invalid_bodies_are_400_naming_the_field() {
    let s = Sim::start(config()).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}}), "name"),
        (json!({"name": "Bad_Name", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}}), "name"),
        (json!({"name": "short", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}}), "6-20"),
        (json!({"name": "-leading", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}}), "dash"),
        (json!({"name": "enum-check", "provider": "IBM", "spec": {"serverless": {"regions": ["us-central1"]}}}), "provider"),
        (json!({"name": "enum-check", "provider": "GCP", "spec": {"plan": "PREMIUM", "serverless": {"regions": ["us-central1"]}}}), "spec.plan"),
        (json!({"name": "plan-check", "provider": "GCP", "spec": {"plan": "ADVANCED", "serverless": {"regions": ["us-central1"]}}}), "ADVANCED"),
        (json!({"name": "both-kinds", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}, "dedicated": dedicated_body("x")["spec"]["dedicated"]}}), "exactly one"),
        (json!({"name": "no-kind-1", "provider": "GCP", "spec": {}}), "exactly one"),
        (json!({"name": "zero-limit", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"], "usage_limits": {"request_unit_limit": "0"}}}}), "request_unit_limit"),
        (json!({"name": "bad-int64", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"], "usage_limits": {"storage_mib_limit": "lots"}}}}), "spec.serverless.usage_limits.storage_mib_limit"),
        (json!({"name": "bad-region", "provider": "GCP", "spec": {"serverless": {"regions": ["mars-north1"]}}}), "mars-north1"),
        (json!({"name": "bad-labels", "provider": "GCP", "spec": {"labels": {"Env": "x"}, "serverless": {"regions": ["us-central1"]}}}), "spec.labels"),
        (json!({"name": "neg-nodes", "provider": "AWS", "spec": {"dedicated": {"region_nodes": {"us-east-1": -1}, "hardware": {"machine_spec": {"num_virtual_cpus": 4}, "storage_gib": 15}}}}), "region_nodes"),
        (json!({"name": "no-machine", "provider": "AWS", "spec": {"dedicated": {"region_nodes": {"us-east-1": 3}, "hardware": {"storage_gib": 15}}}}), "machine_spec"),
    ];
    for (body, needle) in cases {
        let r = s.post("/api/v1/clusters", body.clone()).await;
        r.error(400, 3);
        assert!(r.message().contains(needle), "{needle:?} not in {:?} for {body}", r.message());
    }
    let r = s.call(Some(KEY), Method::POST, "/api/v1/clusters", None).await;
    r.error(400, 3);
    let resp = s
        .http
        .post(format!("{}/api/v1/clusters", s.sim.base_url()))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 3);

    // Duplicate names among live clusters.
    s.create_serverless("dupe-name").await;
    let r = s.post("/api/v1/clusters", serverless_body("dupe-name")).await;
    r.error(400, 3);
    assert!(r.message().contains("already exists"));
}

#[tokio::test]
async fn children_conflict_and_validate() {
    let s = Sim::start(config()).await;
    let id = s.ready_cluster("children-1").await;
    let users = format!("/api/v1/clusters/{id}/sql-users");
    s.post(&users, json!({"name": "app", "password": "password-1"})).await.ok();
    s.post(&users, json!({"name": "app", "password": "password-2"})).await.error(409, 6);
    let r = s.post(&users, json!({"name": "app2", "password": "short"})).await;
    r.error(400, 3);
    assert!(r.message().contains("password"));
    let r = s.post(&users, json!({"name": "bad name", "password": "password-1"})).await;
    r.error(400, 3);
    assert!(r.message().contains("name"));
    s.post(&users, json!({"name": "nopassword"})).await.error(400, 3);

    let dbs = format!("/api/v1/clusters/{id}/databases");
    s.post(&dbs, json!({"name": "app"})).await.ok();
    s.post(&dbs, json!({"name": "app"})).await.error(409, 6);
    s.post(&dbs, json!({"name": "defaultdb"})).await.error(409, 6);

    let al = format!("/api/v1/clusters/{id}/networking/allowlist");
    s.post(&al, json!({"cidr_ip": "10.0.0.0", "cidr_mask": 8, "sql": true, "ui": false})).await.ok();
    s.post(&al, json!({"cidr_ip": "10.0.0.0", "cidr_mask": 8, "sql": true, "ui": true})).await.error(409, 6);
    s.put(&format!("{al}/10.0.0.0/8"), json!({"sql": true, "ui": true})).await.error(409, 6);

    // Unknown cluster: 404 for every child kind.
    let ghost = uuid::Uuid::new_v4();
    s.get(&format!("/api/v1/clusters/{ghost}/sql-users")).await.error(404, 5);
    s.get(&format!("/api/v1/clusters/{ghost}/databases")).await.error(404, 5);
    s.get(&format!("/api/v1/clusters/{ghost}/networking/allowlist")).await.error(404, 5);
}

#[tokio::test]
async fn sql_users_paginate_over_many_pages() {
    let s = Sim::start(config()).await;
    let id = s.ready_cluster("paginated").await;
    let users = format!("/api/v1/clusters/{id}/sql-users");
    let mut expected: Vec<String> = (0..250).map(|i| format!("user{i:03}")).collect();
    for name in &expected {
        s.post(&users, json!({"name": name, "password": format!("pw-{name}-long")})).await.ok();
    }

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{users}?pagination.limit=100");
        if let Some(t) = &token {
            url.push_str(&format!("&pagination.page={t}"));
        }
        let page = s.get(&url).await.ok();
        pages += 1;
        let names: Vec<String> =
            page["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap().to_string()).collect();
        assert!(names.len() <= 100);
        if pages == 1 {
            // Keyset: a user added before the cursor does not shift the next page.
            s.post(&users, json!({"name": "aaa-early", "password": "password-1"})).await.ok();
        }
        seen.extend(names);
        match page["pagination"]["next_page"].as_str().filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected, "every user exactly once, sorted by name");

    // The stored password is what the client sent; updates replace it.
    assert_eq!(s.admin.sql_user_password(&id, "user007").await.as_deref(), Some("pw-user007-long"));
    s.put(&format!("{users}/user007/password"), json!({"password": "rotated-password"})).await.ok();
    assert_eq!(s.admin.sql_user_password(&id, "user007").await.as_deref(), Some("rotated-password"));
    s.put(&format!("{users}/nobody/password"), json!({"password": "rotated-password"})).await.error(404, 5);
    s.put(&format!("{users}/user007/password"), json!({"password": "x"})).await.error(400, 3);

    assert_eq!(s.delete(&format!("{users}/user007")).await.ok(), json!({"name": "user007"}));
    s.delete(&format!("{users}/user007")).await.error(404, 5);
    expected.retain(|n| n != "user007");
    let all = s.get(&format!("{users}?pagination.limit=1000")).await.ok();
    assert_eq!(all["users"].as_array().unwrap().len(), 250, "249 left plus aaa-early, in one page of up to 500");
    s.get(&format!("{users}?pagination.page=not-a-token")).await.error(400, 3);
    s.get(&format!("{users}?pagination.limit=-5")).await.error(400, 3);
}

#[tokio::test]
async fn allowlist_uses_two_path_segments() {
    let s = Sim::start(config()).await;
    let id = s.ready_cluster("allowlist-1").await;
    let al = format!("/api/v1/clusters/{id}/networking/allowlist");
    let e = s.post(&al, json!({"cidr_ip": "192.168.1.0", "cidr_mask": 24, "name": "office", "sql": true, "ui": false})).await.ok();
    assert_eq!(e, json!({"cidr_ip": "192.168.1.0", "cidr_mask": 24, "name": "office", "sql": true, "ui": false}));
    let e = s.put(&format!("{al}/10.1.0.0/16"), json!({"sql": false, "ui": true})).await.ok();
    assert_eq!(e, json!({"cidr_ip": "10.1.0.0", "cidr_mask": 16, "name": "", "sql": false, "ui": true}));
    let e = s.patch(&format!("{al}/192.168.1.0/24"), json!({"name": "hq", "sql": true, "ui": true})).await.ok();
    assert_eq!((e["name"].as_str(), e["ui"].as_bool()), (Some("hq"), Some(true)));

    let list = s.get(&al).await.ok();
    let cidrs: Vec<String> = list["allowlist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}/{}", e["cidr_ip"].as_str().unwrap(), e["cidr_mask"]))
        .collect();
    assert_eq!(cidrs, ["0.0.0.0/0", "10.1.0.0/16", "192.168.1.0/24"], "sorted by address");
    let page = s.get(&format!("{al}?pagination.limit=2")).await.ok();
    assert_eq!(page["allowlist"].as_array().unwrap().len(), 2);
    let token = page["pagination"]["next_page"].as_str().unwrap();
    let rest = s.get(&format!("{al}?pagination.limit=2&pagination.page={token}")).await.ok();
    assert_eq!(rest["allowlist"][0]["cidr_ip"], "192.168.1.0");

    let r = s.post(&al, json!({"cidr_ip": "10.0.0.1", "cidr_mask": 8, "sql": true, "ui": true})).await;
    r.error(400, 3);
    assert!(r.message().contains("host bits"), "{}", r.message());
    s.post(&al, json!({"cidr_ip": "300.0.0.0", "cidr_mask": 8, "sql": true, "ui": true})).await.error(400, 3);
    s.post(&al, json!({"cidr_ip": "10.0.0.0", "cidr_mask": 8})).await.error(400, 3);
    s.patch(&format!("{al}/10.9.0.0/16"), json!({"sql": true, "ui": true})).await.error(404, 5);
    s.delete(&format!("{al}/10.1.0.0/abc")).await.error(400, 3);

    let gone = s.delete(&format!("{al}/10.1.0.0/16")).await.ok();
    assert_eq!(gone["cidr_ip"], "10.1.0.0");
    s.delete(&format!("{al}/10.1.0.0/16")).await.error(404, 5);
}

#[tokio::test]
async fn databases_rename_and_delete() {
    let s = Sim::start(config()).await;
    let id = s.ready_cluster("databases-1").await;
    let dbs = format!("/api/v1/clusters/{id}/databases");
    assert_eq!(s.post(&dbs, json!({"name": "orders"})).await.ok(), json!({"name": "orders", "table_count": "0"}));
    let r = s.patch(&format!("{dbs}/orders"), json!({"new_name": "orders_v2"})).await.ok();
    assert_eq!(r["name"], "orders_v2");
    let r = s.patch(&dbs, json!({"name": "orders_v2", "new_name": "orders_v3"})).await.ok();
    assert_eq!(r["name"], "orders_v3");
    s.patch(&dbs, json!({"name": "orders_v3", "new_name": "defaultdb"})).await.error(409, 6);
    s.patch(&format!("{dbs}/missing"), json!({"new_name": "x_db"})).await.error(404, 5);
    s.patch(&format!("{dbs}/orders_v3"), json!({})).await.error(400, 3);
    let names: Vec<Value> = s.get(&dbs).await.ok()["databases"].as_array().unwrap().iter().map(|d| d["name"].clone()).collect();
    assert_eq!(names, [json!("defaultdb"), json!("orders_v3")]);
    s.delete(&format!("{dbs}/orders_v3")).await.ok();
    s.delete(&format!("{dbs}/orders_v3")).await.error(404, 5);
}

#[tokio::test]
async fn delete_protection_then_deleted_then_gone() {
    let s = Sim::start(config()).await;
    let id = s.ready_cluster("protected-1").await;
    let path = format!("/api/v1/clusters/{id}");
    let c = s.patch(&path, json!({"delete_protection": "ENABLED", "labels": {"team": "db"}})).await.ok();
    assert_eq!(c["delete_protection"], "ENABLED");
    assert_eq!(c["labels"], json!({"team": "db"}), "labels replace the whole set");
    let r = s.delete(&path).await;
    r.error(400, 9);
    assert!(r.message().contains("delete protection"), "{}", r.message());
    assert_eq!(s.get(&path).await.ok()["state"], "CREATED");

    s.patch(&path, json!({"delete_protection": "DISABLED"})).await.ok();
    let c = s.delete(&path).await.ok();
    assert_eq!(c["state"], "DELETED");
    assert!(c["deleted_at"].is_string());
    assert_eq!(s.get(&path).await.ok()["state"], "DELETED");
    s.delete(&path).await.error(404, 5);
    s.get(&format!("{path}/sql-users")).await.error(404, 5);
    let listed = s.get("/api/v1/clusters").await.ok();
    assert_eq!(listed["clusters"].as_array().unwrap().len(), 0, "DELETED is hidden by default");
    let listed = s.get("/api/v1/clusters?show_inactive=true").await.ok();
    assert_eq!(listed["clusters"][0]["state"], "DELETED");
    // The name is free again.
    s.create_serverless("protected-1").await;

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = s.get(&path).await;
        if r.status == 404 {
            r.error(404, 5);
            break;
        }
        assert!(Instant::now() < deadline, "deleted cluster never disappeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // GET forgets it, but the description does not say inactive lists do.
    let listed = s.get("/api/v1/clusters?show_inactive=true").await.ok();
    let deleted: Vec<&Value> = listed["clusters"].as_array().unwrap().iter().filter(|c| c["id"] == json!(id)).collect();
    assert_eq!(deleted.len(), 1, "{listed}");
    assert_eq!(deleted[0]["state"], "DELETED");
    assert!(s.get("/api/v1/clusters").await.ok()["clusters"].as_array().unwrap().iter().all(|c| c["id"] != json!(id)));
}

#[tokio::test]
async fn dedicated_scaling_locks_and_version_changes_travel_alone() {
    let s = Sim::start(config()).await;
    let c = s.post("/api/v1/clusters", dedicated_body("dedicated-1")).await.ok();
    assert_eq!(c["plan"], "ADVANCED");
    assert_eq!(
        c["config"]["dedicated"],
        json!({"machine_type": "m6i.xlarge", "num_virtual_cpus": 4, "storage_gib": 150, "memory_gib": 16.0, "disk_iops": 450})
    );
    assert!(c["cockroach_version"].as_str().unwrap().starts_with("v24.3."));
    assert_eq!(c["regions"][0]["node_count"], 3);
    assert!(c["regions"][0]["ui_dns"].as_str().unwrap().starts_with("admin-"));
    let id = c["id"].as_str().unwrap();
    let path = format!("/api/v1/clusters/{id}");

    // Updates are refused while CREATING.
    s.patch(&path, json!({"labels": {}})).await.error(400, 9);
    s.wait_for(id, |c| c["state"] == "CREATED").await;

    let c = s.patch(&path, json!({"dedicated": {"region_nodes": {"us-east-1": 5}}})).await.ok();
    assert_eq!((c["state"].as_str(), c["operation_status"].as_str()), (Some("LOCKED"), Some("CRDB_SCALE_RUNNING")));
    s.patch(&path, json!({"labels": {}})).await.error(400, 9);
    s.post(&format!("{path}/databases"), json!({"name": "during_lock"})).await.error(400, 9);
    s.get(&format!("{path}/databases")).await.ok();
    let c = s.wait_for(id, |c| c["state"] == "CREATED").await;
    assert_eq!((c["operation_status"].as_str(), c["regions"][0]["node_count"].as_i64()), (Some("UNSPECIFIED"), Some(5)));

    let r = s.patch(&path, json!({"cockroach_version": "v25.1", "labels": {}})).await;
    r.error(400, 3);
    assert!(r.message().contains("cannot be combined"));
    s.patch(&path, json!({"plan": "STANDARD"})).await.error(400, 3);
    s.patch(&path, json!({"dedicated": {"region_nodes": {"us-east-1": -2}}})).await.error(400, 3);

    let c = s.patch(&path, json!({"cockroach_version": "v25.1"})).await.ok();
    assert_eq!(c["operation_status"], "CRDB_MAJOR_UPGRADE_RUNNING");
    let c = s.wait_for(id, |c| c["state"] == "CREATED").await;
    assert!(c["cockroach_version"].as_str().unwrap().starts_with("v25.1."));
    assert_eq!(c["upgrade_status"], "PENDING_FINALIZATION");
    assert_eq!(s.patch(&path, json!({"upgrade_status": "FINALIZED"})).await.ok()["upgrade_status"], "FINALIZED");
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let mut cfg = config();
    cfg.rate_limit_per_second = 5;
    let s = Sim::start(cfg).await;
    // Fired together so a slow machine cannot refill the bucket between them.
    let replies = futures::future::join_all((0..20).map(|_| s.get("/api/v1/clusters"))).await;
    let mut statuses = Vec::new();
    for r in &replies {
        if r.status == 429 {
            r.error(429, 8);
            assert_eq!(r.message(), "rate limit exceeded");
            let secs: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(secs >= 1);
        } else {
            assert_eq!(r.status, 200);
        }
        statuses.push(r.status);
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(ok >= 5, "the burst allows 5 at once: {statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    // Another key has its own budget, and the admin surface is never limited.
    s.call(Some(KEY_B), Method::GET, "/api/v1/clusters", None).await.ok();
    for _ in 0..10 {
        s.admin.stats().await;
    }
    let stats = s.admin.stats().await;
    assert!(stats.rate_limited >= 1);
    assert_eq!(stats.count(Operation::ListClusters, 429), statuses.iter().filter(|s| **s == 429).count() as u64);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.get("/api/v1/clusters").await.ok();
}

#[tokio::test]
async fn injected_faults() {
    let s = Sim::start(config()).await;
    // Status: the next two creates fail without creating anything.
    s.admin.add_fault(&FaultSpec { status: Some(503), count: 2, ..FaultSpec::on(Operation::CreateCluster) }).await;
    s.post("/api/v1/clusters", serverless_body("fault-one")).await.error(503, 14);
    s.post("/api/v1/clusters", serverless_body("fault-one")).await.error(503, 14);
    s.create_serverless("fault-one").await;
    assert_eq!(s.get("/api/v1/clusters").await.ok()["clusters"].as_array().unwrap().len(), 1);

    // An injected 429 carries Retry-After.
    s.admin.add_fault(&FaultSpec { status: Some(429), ..FaultSpec::on(Operation::ListClusters) }).await;
    let r = s.get("/api/v1/clusters").await;
    r.error(429, 8);
    assert!(r.headers.contains_key("retry-after"));

    // Latency.
    s.admin.add_fault(&FaultSpec { latency_ms: Some(300), ..FaultSpec::on(Operation::GetOrganizationInfo) }).await;
    let t = Instant::now();
    s.get("/api/v1/organization").await.ok();
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    s.get("/api/v1/organization").await.ok();
    assert!(t.elapsed() < Duration::from_millis(300), "the latency fault applied once");

    // A lost response: the write happened, the client saw 503.
    let id = s.ready_cluster("fault-two").await;
    s.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::CreateSQLUser) }).await;
    s.post(&format!("/api/v1/clusters/{id}/sql-users"), json!({"name": "lost", "password": "password-1"})).await.error(503, 14);
    assert_eq!(s.admin.sql_user_password(&id, "lost").await.as_deref(), Some("password-1"));
    s.post(&format!("/api/v1/clusters/{id}/sql-users"), json!({"name": "lost", "password": "password-1"})).await.error(409, 6);

    // Wildcards, listing and clearing.
    s.admin.add_fault(&FaultSpec { status: Some(500), count: 5, ..FaultSpec::on_every_operation() }).await;
    s.get("/api/v1/organization").await.error(500, 13);
    let listed = s.admin.faults().await;
    assert_eq!(listed[0].remaining, 4);
    assert_eq!(s.admin.clear_faults().await, 1);
    s.get("/api/v1/organization").await.ok();
    let refused = s.admin.try_add_fault(&json!({"operation": "MakeCoffee", "status": 500})).await.unwrap_err();
    admin_error(&refused, 400, 3);

    let log = s.admin.requests_of(Operation::CreateCluster).await;
    let kinds: Vec<Option<FaultKind>> = log.iter().map(|r| r.fault).collect();
    assert_eq!(kinds[..2], [Some(FaultKind::Status), Some(FaultKind::Status)]);
}

#[tokio::test]
async fn request_log_stats_state_and_reset() {
    let s = Sim::start(config()).await;
    let id = s.ready_cluster("logged-one").await;
    s.post(&format!("/api/v1/clusters/{id}/sql-users"), json!({"name": "app", "password": "password-1"})).await.ok();
    s.get(&format!("/api/v1/clusters/{id}/sql-users?pagination.limit=5")).await.ok();
    s.call(None, Method::GET, "/api/v1/clusters", None).await.error(401, 16);

    // The raw JSON first: the wire format the typed client reads.
    let raw = s.call(None, Method::GET, "/_simulator/requests", None).await.ok();
    let text = raw.to_string();
    assert!(!text.contains(KEY) && !text.contains("password-1"), "no secrets in the log");
    assert!(raw[0]["org"].is_string() && raw[0]["at"].is_string());
    let unauth = raw.as_array().unwrap().last().unwrap();
    assert!(unauth.get("org").is_none() && unauth.get("fault").is_none(), "absent fields are left out: {unauth}");
    let entries = s.admin.requests(0, None).await;
    let first = &entries[0];
    assert_eq!((first.seq, first.method.as_str(), first.operation.as_str()), (1, "POST", Operation::CreateCluster.name()));
    assert_eq!(first.status, 200);
    assert_eq!(first.path, "/api/v1/clusters");
    let list = entries.iter().find(|e| e.operation == Operation::ListSQLUsers.name()).unwrap();
    assert_eq!(list.path, format!("/api/v1/clusters/{id}/sql-users"), "no query string");
    let unauth = entries.last().unwrap();
    assert_eq!((unauth.status, unauth.org.as_deref()), (401, None));
    let since = entries[1].seq;
    assert_eq!(s.admin.requests(since, None).await.len(), entries.len() - 2);

    let stats = s.admin.stats().await;
    assert_eq!(stats.total, entries.len() as u64);
    assert_eq!(stats.count(Operation::CreateCluster, 200), 1);
    assert_eq!(stats.count(Operation::CreateSQLUser, 200), 1);
    assert_eq!(stats.count(Operation::ListClusters, 401), 1);
    assert_eq!(stats.rate_limited, 0);

    let state = s.admin.state().await;
    assert!(!serde_json::to_string(&state).unwrap().contains(KEY));
    let org = state.orgs.iter().find(|o| !o.clusters.is_empty()).unwrap();
    let dump = &org.clusters[0];
    assert_eq!(dump.cluster.id, id);
    assert_eq!(dump.sql_users, [UserDump { name: "app".into(), password: "password-1".into() }]);
    assert_eq!(dump.databases[0].name, "defaultdb");
    assert_eq!(dump.allowlist[0].cidr_ip, "0.0.0.0");
    assert_eq!(dump.backup_configuration, BackupConfiguration { enabled: true, retention_days: 30, frequency_minutes: 60 });

    // Forced states.
    let locked = ForceState { state: Some(ClusterState::Locked), operation_status: Some(OperationStatus::from("CRDB_REPAVE_RUNNING")), ..Default::default() };
    let c = s.admin.force_state(&id, &locked).await;
    assert_eq!(c.state, ClusterState::Locked);
    s.patch(&format!("/api/v1/clusters/{id}"), json!({"labels": {}})).await.error(400, 9);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.get(&format!("/api/v1/clusters/{id}")).await.ok()["state"], "LOCKED", "forced states stick");
    let settled = ForceState { state: Some(ClusterState::Created), operation_status: Some(OperationStatus::Unspecified), ..Default::default() };
    s.admin.force_state(&id, &settled).await;
    s.patch(&format!("/api/v1/clusters/{id}"), json!({"labels": {}})).await.ok();
    admin_error(&s.admin.try_force_state(&id, &json!({"state": "MELTED"})).await.unwrap_err(), 400, 3);

    s.admin.reset().await;
    assert_eq!(s.admin.stats().await.total, 0);
    assert_eq!(s.get("/api/v1/clusters").await.ok()["clusters"], json!([]));
    s.get(&format!("/api/v1/clusters/{id}")).await.error(404, 5);
}

#[tokio::test]
async fn backups_catalogues_and_unknown_paths() {
    let s = Sim::start(config()).await;
    let id = s.ready_cluster("backups-01").await;
    let b = format!("/api/v1/clusters/{id}/backups-config");
    assert_eq!(s.get(&b).await.ok(), json!({"enabled": true, "retention_days": 30, "frequency_minutes": 60}));
    s.patch(&b, json!({"frequency_minutes": 45})).await.error(400, 3);
    s.patch(&b, json!({"retention_days": 3})).await.error(400, 3);
    let r = s.patch(&b, json!({"retention_days": 7, "frequency_minutes": 15})).await.ok();
    assert_eq!(r, json!({"enabled": true, "retention_days": 7, "frequency_minutes": 15}));
    let r = s.patch(&b, json!({"retention_days": 90})).await;
    r.error(400, 9);
    assert!(r.message().contains("once"));
    s.patch(&b, json!({"retention_days": 7, "enabled": false})).await.ok();

    let versions = s.get("/api/v1/cluster-versions").await.ok();
    let first = &versions["versions"][0];
    for field in ["version", "support_status", "support_end", "release_type", "allowed_upgrades"] {
        assert!(!first[field].is_null(), "{field}");
    }
    let regions = s.get("/api/v1/clusters/available-regions?provider=AWS&serverless=true").await.ok();
    let regions = regions["regions"].as_array().unwrap();
    assert!(!regions.is_empty() && regions.iter().all(|r| r["provider"] == "AWS" && r["serverless"] == true));
    s.get("/api/v1/clusters/available-regions?provider=IBM").await.error(400, 3);
    s.get("/api/v1/nowhere").await.error(404, 5);
}

#[tokio::test]
async fn binary_prints_its_address_and_serves() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_crdb-cloud-operator"))
        .args(["simulator", "--listen", "127.0.0.1:0", "--cluster-create-seconds", "0.1"])
        .env("CRDB_SIMULATOR_API_KEYS", "env-key-1,env-key-2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
    let base = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(base.starts_with("http://127.0.0.1:"));
    crdb_cloud_operator::install_crypto_provider();
    let http = reqwest::Client::new();
    let status = http.get(format!("{base}/api/v1/organization")).bearer_auth("env-key-2").send().await.unwrap().status();
    assert_eq!(status.as_u16(), 200);
    let status = http.get(format!("{base}/api/v1/organization")).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 401);
    child.kill().await.unwrap();
}

/// Responses have the shapes the official description gives (read from ../shared/specs, which CI
/// provides; its absence fails the test). Catches a renamed field or a number where the description says string.
#[tokio::test]
async fn responses_conform_to_the_official_schemas() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/specs/cockroach-cloud-openapi.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("the official API description is required: {path}: {e}"));
    let spec: Value = serde_json::from_str(&text).unwrap();
    let check = |schema: &str, instance: &Value| {
        let root = json!({"$ref": format!("#/components/schemas/{schema}"), "components": spec["components"]});
        let validator = jsonschema::validator_for(&root).unwrap();
        let errors: Vec<String> = validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{schema}: {errors:?}\n{instance}");
    };

    // The check itself bites: a cluster without its required fields is refused.
    let root = json!({"$ref": "#/components/schemas/Cluster", "components": spec["components"]});
    assert!(!jsonschema::validator_for(&root).unwrap().is_valid(&json!({"id": "x", "name": 5})));

    let s = Sim::start(config()).await;
    check("Organization", &s.get("/api/v1/organization").await.ok());
    let serverless = s.create_serverless("schema-one").await;
    check("Cluster", &serverless);
    let dedicated = s.post("/api/v1/clusters", dedicated_body("schema-two")).await.ok();
    check("Cluster", &dedicated);
    check("ListClustersResponse", &s.get("/api/v1/clusters?pagination.limit=1").await.ok());
    check("ListMajorClusterVersionsResponse", &s.get("/api/v1/cluster-versions").await.ok());
    check("ListAvailableRegionsResponse", &s.get("/api/v1/clusters/available-regions?provider=GCP").await.ok());
    let id = serverless["id"].as_str().unwrap();
    s.wait_for(id, |c| c["state"] == "CREATED").await;
    let c = format!("/api/v1/clusters/{id}");
    check("SQLUser", &s.post(&format!("{c}/sql-users"), json!({"name": "app", "password": "password-1"})).await.ok());
    check("ListSQLUsersResponse", &s.get(&format!("{c}/sql-users")).await.ok());
    check("Database", &s.post(&format!("{c}/databases"), json!({"name": "app"})).await.ok());
    check("ListDatabasesResponse", &s.get(&format!("{c}/databases")).await.ok());
    check("AllowlistEntry", &s.put(&format!("{c}/networking/allowlist/10.0.0.0/8"), json!({"sql": true, "ui": true})).await.ok());
    check("ListAllowlistEntriesResponse", &s.get(&format!("{c}/networking/allowlist")).await.ok());
    check("GetConnectionStringResponse", &s.get(&format!("{c}/connection-string?sql_user=app")).await.ok());
    check("BackupConfiguration", &s.get(&format!("{c}/backups-config")).await.ok());
    check("Cluster", &s.delete(&c).await.ok());
    check("Status", &s.get("/api/v1/clusters/nope").await.body);
}

#[tokio::test]
async fn maintenance_windows_blackouts_and_deferral_follow_the_description() {
    let s = Sim::start(config()).await;
    let c = s.post("/api/v1/clusters", dedicated_body("maint-adv")).await.ok();
    let id = c["id"].as_str().unwrap().to_string();
    s.wait_for(&id, |c| c["state"] == "CREATED").await;
    let basic = s.ready_cluster("maint-basic").await;
    let w = format!("/api/v1/clusters/{id}/maintenance-window");

    // The weekly window: 404 until set, durations as strings within the documented bounds.
    s.get(&w).await.error(404, 5);
    s.put(&w, json!({"offset_duration": "0s", "window_duration": "21599s"})).await.error(400, 3);
    s.put(&w, json!({"offset_duration": "604800s", "window_duration": "21600s"})).await.error(400, 3);
    s.put(&w, json!({"offset_duration": "1d", "window_duration": "21600s"})).await.error(400, 3);
    let set = s.put(&w, json!({"offset_duration": "172800s", "window_duration": "28800s"})).await.ok();
    assert_eq!(set, json!({"offset_duration": "172800s", "window_duration": "28800s"}));
    assert_eq!(s.get(&w).await.ok(), set);
    assert_eq!(s.delete(&w).await.ok(), set);
    s.delete(&w).await.error(404, 5);
    // ADVANCED only.
    let r = s.put(&format!("/api/v1/clusters/{basic}/maintenance-window"), json!({"offset_duration": "0s", "window_duration": "21600s"})).await;
    r.error(400, 3);
    assert!(r.message().contains("ADVANCED"), "{}", r.message());
    s.get(&format!("/api/v1/clusters/{basic}/blackout-windows")).await.error(400, 3);

    // Blackout windows: at least 7 days ahead, at most 14 days long, within three months.
    let b = format!("/api/v1/clusters/{id}/blackout-windows");
    let at = |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    s.post(&b, json!({"start_time": at(2), "end_time": at(3)})).await.error(400, 3);
    s.post(&b, json!({"start_time": at(10), "end_time": at(30)})).await.error(400, 3);
    s.post(&b, json!({"start_time": at(80), "end_time": at(94)})).await.error(400, 3);
    s.post(&b, json!({"start_time": at(11), "end_time": at(10)})).await.error(400, 3);
    let late = s.post(&b, json!({"start_time": at(20), "end_time": at(21)})).await.ok();
    let early = s.post(&b, json!({"start_time": at(10), "end_time": at(12)})).await.ok();
    assert_eq!(early["cluster_id"], id.as_str());
    let list = s.get(&b).await.ok();
    let ids: Vec<&str> = list["blackout_windows"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [early["id"].as_str().unwrap(), late["id"].as_str().unwrap()], "ordered by start");
    let one = format!("{b}/{}", early["id"].as_str().unwrap());
    assert_eq!(s.get(&one).await.ok(), early);
    let moved = s.patch(&one, json!({"end_time": at(13)})).await.ok();
    assert_ne!(moved["end_time"], early["end_time"]);
    s.delete(&one).await.ok();
    s.get(&one).await.error(404, 5);

    // Version deferral: NOT_DEFERRED until set; deferred_until only while deferred.
    let d = format!("/api/v1/clusters/{id}/version-deferral");
    assert_eq!(s.get(&d).await.ok(), json!({"deferral_policy": "NOT_DEFERRED"}));
    s.put(&d, json!({"deferral_policy": "DEFERRAL_7_DAYS"})).await.error(400, 3);
    let deferred = s.put(&d, json!({"deferral_policy": "DEFERRAL_90_DAYS"})).await.ok();
    assert_eq!(deferred["deferral_policy"], "DEFERRAL_90_DAYS");
    assert!(deferred["deferred_until"].as_str().is_some(), "{deferred}");
    assert_eq!(s.put(&d, json!({"deferral_policy": "NOT_DEFERRED"})).await.ok(), json!({"deferral_policy": "NOT_DEFERRED"}));
    s.get("/api/v1/clusters/00000000-0000-4000-8000-000000000000/version-deferral").await.error(404, 5);
}

#[tokio::test]
async fn a_stuck_pending_finalization_refuses_to_finalize() {
    let s = Sim::start(config()).await;
    let id = s.ready_cluster("stuck-01").await;
    let stuck = json!({"upgrade_status": "PENDING_FINALIZATION", "finalization_stuck": true});
    s.admin.try_force_state(&id, &stuck).await.unwrap();
    let path = format!("/api/v1/clusters/{id}");
    let r = s.patch(&path, json!({"upgrade_status": "FINALIZED"})).await;
    r.error(400, 9);
    assert!(r.message().contains("PENDING_FINALIZATION"), "{}", r.message());
    assert_eq!(s.get(&path).await.ok()["upgrade_status"], "PENDING_FINALIZATION");
    s.admin.try_force_state(&id, &json!({"finalization_stuck": false})).await.unwrap();
    assert_eq!(s.patch(&path, json!({"upgrade_status": "FINALIZED"})).await.ok()["upgrade_status"], "FINALIZED");
}

#[tokio::test]
async fn exports_are_singletons_that_enable_asynchronously_and_refuse_what_the_cloud_refuses() {
    let s = Sim::start(config()).await;
    let id = s.ready_cluster("exports").await;
    let log = format!("/api/v1/clusters/{id}/logexport");

    // Not configured: 404; unknown clusters: 404.
    s.get(&log).await.error(404, 5);
    s.get("/api/v1/clusters/00000000-0000-4000-8000-000000000000/metricexport/datadog").await.error(404, 5);

    // ENABLING, then ENABLED once an operation's time has passed.
    let body = json!({"type": "GCP_CLOUD_LOGGING", "log_name": "default", "auth_principal": "p", "groups": [{"log_name": "ops", "channels": ["OPS"]}]});
    assert_eq!(s.post(&log, body.clone()).await.ok()["status"], "ENABLING");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let read = s.get(&log).await.ok();
    assert_eq!((read["status"].as_str(), read["spec"]["groups"][0]["log_name"].as_str()), (Some("ENABLED"), Some("ops")));

    // The fault hook: a credentials error with the cloud's message, until the next enable.
    let force = ForceLogExportStatus { status: LogExportStatus::CredentialsError, user_message: "cannot assume role".into() };
    s.admin.force_log_export_status(&id, &force).await;
    let failed = s.get(&log).await.ok();
    assert_eq!((failed["status"].as_str(), failed["user_message"].as_str()), (Some("CREDENTIALS_ERROR"), Some("cannot assume role")));
    assert_eq!(s.post(&log, body).await.ok()["status"], "ENABLING");

    // Refusals: unknown enums, missing fields, external IDs on serverless.
    s.post(&log, json!({"type": "SPLUNK", "log_name": "x", "auth_principal": "p"})).await.error(400, 3);
    s.post(&log, json!({"type": "GCP_CLOUD_LOGGING", "log_name": "", "auth_principal": "p"})).await.error(400, 3);
    let external = s.post(&log, json!({"type": "AWS_CLOUDWATCH", "log_name": "x", "auth_principal": "arn:aws:iam::1:role/r", "aws_external_id": "e"})).await;
    external.error(400, 3);
    assert!(external.message().contains("ADVANCED"), "{}", external.message());

    // Azure Log Analytics: the workspace ID as auth_principal and a shared key, which is required
    // and never answered (the admin surface shows what was sent).
    let workspace = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let no_key = s.post(&log, json!({"type": "AZURE_LOG_ANALYTICS", "log_name": "crdb_logs", "auth_principal": workspace})).await;
    no_key.error(400, 3);
    assert!(no_key.message().contains("azure_shared_key"), "{}", no_key.message());
    let azure = json!({"type": "AZURE_LOG_ANALYTICS", "log_name": "crdb_logs", "auth_principal": workspace, "azure_shared_key": "azure-shared-secret-5150"});
    let enabled = s.post(&log, azure).await.ok();
    let read = s.get(&log).await.ok();
    assert_eq!((read["spec"]["type"].as_str(), read["spec"]["auth_principal"].as_str()), (Some("AZURE_LOG_ANALYTICS"), Some(workspace)));
    for answer in [&enabled, &read] {
        assert!(!answer.to_string().contains("azure-shared-secret") && answer["spec"].get("azure_shared_key").is_none(), "{answer}");
    }
    assert_eq!(s.admin.azure_shared_key(&id).await.as_deref(), Some("azure-shared-secret-5150"));
    assert!(!serde_json::to_string(&s.admin.requests(0, None).await).unwrap().contains("azure-shared-secret"));
    // A key sent with another type is used by nothing and kept by nothing.
    s.post(&log, json!({"type": "GCP_CLOUD_LOGGING", "log_name": "default", "auth_principal": "p", "azure_shared_key": "stray-key"})).await.ok();
    assert_eq!(s.admin.azure_shared_key(&id).await, None);

    let cloudwatch = format!("/api/v1/clusters/{id}/metricexport/cloudwatch");
    s.post(&cloudwatch, json!({"role_arn": "arn:aws:iam::123456789012:role/m", "external_id": "e"})).await.error(400, 3);
    s.post(&cloudwatch, json!({"role_arn": "not-an-arn"})).await.error(400, 3);
    let datadog = format!("/api/v1/clusters/{id}/metricexport/datadog");
    s.post(&datadog, json!({"site": "MARS1", "api_key": "k"})).await.error(400, 3);

    // The Datadog key shows only as its last four characters, and never in the request log.
    let shown = s.post(&datadog, json!({"site": "US3", "api_key": "datadog-secret-key-9876"})).await.ok();
    assert_eq!((shown["api_key"].as_str(), shown["status"].as_str()), (Some("9876"), Some("ENABLING")));
    assert!(!serde_json::to_string(&s.admin.requests(0, None).await).unwrap().contains("datadog-secret"));

    // DELETE removes; a second DELETE finds nothing.
    assert_eq!(s.delete(&datadog).await.ok()["status"], "DISABLING");
    s.delete(&datadog).await.error(404, 5);
    assert_eq!(s.delete(&log).await.ok()["status"], "DISABLING");
    s.get(&log).await.error(404, 5);

    // Writes wait while the cluster is LOCKED; reads do not.
    let prometheus = format!("/api/v1/clusters/{id}/metricexport/prometheus");
    s.call(Some(KEY), Method::POST, &prometheus, None).await.ok();
    s.admin.force_state(&id, &ForceState { state: Some(ClusterState::Locked), ..Default::default() }).await;
    s.delete(&prometheus).await.error(400, 9);
    assert!(s.get(&prometheus).await.ok()["targets"]["us-central1"].is_string());
}

/// A self-signed CA certificate in PEM, as a client CA.
fn ca_pem(name: &str) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
}

/// A dedicated (AWS, us-east-1, 3 nodes) cluster, CREATED.
async fn ready_dedicated(s: &Sim, name: &str) -> String {
    let id = s.post("/api/v1/clusters", dedicated_body(name)).await.ok()["id"].as_str().unwrap().to_string();
    s.wait_for(&id, |c| c["state"] == "CREATED").await;
    id
}

#[tokio::test]
async fn dedicated_clusters_need_os_carry_an_account_and_list_their_nodes() {
    let s = Sim::start(config()).await;
    let id = ready_dedicated(&s, "nodes-1").await;
    let c = s.get(&format!("/api/v1/clusters/{id}")).await.ok();
    let account = c["account_id"].as_str().unwrap();
    assert!(account.len() == 12 && account.chars().all(|ch| ch.is_ascii_digit()), "an AWS account number: {account}");
    let serverless = s.ready_cluster("nodes-2").await;
    assert!(s.get(&format!("/api/v1/clusters/{serverless}")).await.ok().get("account_id").is_none());

    // `os` is "required only for dedicated clusters".
    let r = s.get(&format!("/api/v1/clusters/{id}/connection-string")).await;
    r.error(400, 3);
    assert!(r.message().contains("`os`"), "{}", r.message());
    let cs = s.get(&format!("/api/v1/clusters/{id}/connection-string?os=LINUX&sql_user=app")).await.ok();
    assert!(cs["connection_string"].as_str().unwrap().contains("sslmode=verify-full"));
    s.get(&format!("/api/v1/clusters/{serverless}/connection-string")).await.ok();

    let nodes = s.get(&format!("/api/v1/clusters/{id}/nodes")).await.ok();
    let listed: Vec<(&str, &str)> = nodes["nodes"].as_array().unwrap().iter().map(|n| (n["region_name"].as_str().unwrap(), n["status"].as_str().unwrap())).collect();
    assert_eq!(listed, [("us-east-1", "LIVE"); 3]);
    let page = s.get(&format!("/api/v1/clusters/{id}/nodes?pagination.limit=2")).await.ok();
    assert_eq!(page["nodes"].as_array().unwrap().len(), 2);
    assert!(page["pagination"]["next_page"].is_string(), "{page}");
    let other = s.get(&format!("/api/v1/clusters/{id}/nodes?region_name=us-west-2")).await.ok();
    assert_eq!(other["nodes"], json!([]));
    assert_eq!(s.get(&format!("/api/v1/clusters/{serverless}/nodes")).await.ok()["nodes"], json!([]));
    s.get("/api/v1/clusters/00000000-0000-4000-8000-000000000000/nodes").await.error(404, 5);
}

/// Each region's (name, machine_type, num_virtual_cpus), as the SDK v8 reads them.
fn region_machines(cluster: &Value) -> Vec<(String, String, i64)> {
    let regions = cluster["regions"].as_array().unwrap();
    regions
        .iter()
        .map(|r| {
            let machine = r["machine_type"].as_str().unwrap_or_else(|| panic!("a region without machine_type: {r}"));
            (r["name"].as_str().unwrap().to_string(), machine.to_string(), r["num_virtual_cpus"].as_i64().unwrap())
        })
        .collect()
}

fn machines(list: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    list.iter().map(|(r, m, v)| (r.to_string(), m.to_string(), *v)).collect()
}

/// What a client of the official SDK v8 meets: ADVANCED regions report their machine in every
/// cluster answer (serverless regions do not), `region_machine_specs` sizes the named regions
/// only, and it cannot travel with `hardware.machine_spec`.
#[tokio::test]
async fn advanced_regions_report_their_machine_and_can_be_sized_one_by_one() {
    let s = Sim::start(config()).await;
    let created = s.post("/api/v1/clusters", dedicated_body("machines-1")).await.ok();
    assert_eq!(region_machines(&created), machines(&[("us-east-1", "m6i.xlarge", 4)]));
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/clusters/{id}");
    s.wait_for(&id, |c| c["state"] == "CREATED").await;
    assert_eq!(region_machines(&s.get(&path).await.ok()), machines(&[("us-east-1", "m6i.xlarge", 4)]));
    let serverless = s.ready_cluster("machines-2").await;
    let region = &s.get(&format!("/api/v1/clusters/{serverless}")).await.ok()["regions"][0];
    assert!(region.get("machine_type").is_none() && region.get("num_virtual_cpus").is_none(), "{region}");

    // A region added with a machine of its own; the cluster-wide hardware stays as it was.
    let added = json!({"dedicated": {"region_nodes": {"us-east-1": 3, "us-west-2": 3}, "region_machine_specs": {"us-west-2": {"num_virtual_cpus": 8}}}});
    let c = s.patch(&path, added).await.ok();
    let two = machines(&[("us-east-1", "m6i.xlarge", 4), ("us-west-2", "m6i.2xlarge", 8)]);
    assert_eq!(region_machines(&c), two);
    assert_eq!(c["config"]["dedicated"]["num_virtual_cpus"], 4);
    s.wait_for(&id, |c| c["state"] == "CREATED").await;

    // One region resized by machine type: a scale, visible afterwards in GET and in the list.
    let resize = json!({"dedicated": {"region_machine_specs": {"us-east-1": {"machine_type": "m6i.4xlarge"}}}});
    let c = s.patch(&path, resize).await.ok();
    assert_eq!((c["state"].as_str(), c["operation_status"].as_str()), (Some("LOCKED"), Some("CRDB_SCALE_RUNNING")));
    let resized = machines(&[("us-east-1", "m6i.4xlarge", 16), ("us-west-2", "m6i.2xlarge", 8)]);
    assert_eq!(region_machines(&s.wait_for(&id, |c| c["state"] == "CREATED").await), resized);
    let list = s.get("/api/v1/clusters").await.ok();
    let listed = list["clusters"].as_array().unwrap().iter().find(|c| c["id"] == json!(id)).unwrap();
    assert_eq!(region_machines(listed), resized);

    // Refusals name the field; none of them changes anything.
    let unknown_region = json!({"dedicated": {"region_machine_specs": {"eu-west-1": {"num_virtual_cpus": 8}}}});
    let r = s.patch(&path, unknown_region).await;
    r.error(400, 3);
    assert!(r.message().contains(r#"`dedicated.region_machine_specs["eu-west-1"]`"#), "{}", r.message());
    for (machine, field) in [
        (json!({"num_virtual_cpus": 3}), r#"dedicated.region_machine_specs["us-west-2"].num_virtual_cpus"#),
        (json!({"machine_type": "n2-standard-8"}), r#"dedicated.region_machine_specs["us-west-2"].machine_type"#),
        (json!({}), r#"dedicated.region_machine_specs["us-west-2"]"#),
    ] {
        let r = s.patch(&path, json!({"dedicated": {"region_machine_specs": {"us-west-2": machine}}})).await;
        r.error(400, 3);
        assert!(r.message().contains(field), "{}", r.message());
    }
    let both = json!({"dedicated": {"region_machine_specs": {"us-west-2": {"num_virtual_cpus": 16}}, "hardware": {"machine_spec": {"num_virtual_cpus": 16}}}});
    let r = s.patch(&path, both).await;
    r.error(400, 3);
    let message = r.message();
    assert!(message.contains("`dedicated.region_machine_specs`") && message.contains("`dedicated.hardware.machine_spec`"), "{message}");
    let c = s.get(&path).await.ok();
    assert_eq!((region_machines(&c), c["state"].as_str()), (resized, Some("CREATED")));

    // `hardware.machine_spec` sizes every region alike.
    let c = s.patch(&path, json!({"dedicated": {"hardware": {"machine_spec": {"num_virtual_cpus": 8}}}})).await.ok();
    assert_eq!(region_machines(&c), machines(&[("us-east-1", "m6i.2xlarge", 8), ("us-west-2", "m6i.2xlarge", 8)]));
}

#[tokio::test]
async fn the_cluster_ca_certificate_is_public_at_the_site_root() {
    let s = Sim::start(config()).await;
    let id = s.ready_cluster("cert-1").await;
    let url = format!("{}/clusters/{id}/cert", s.sim.base_url());
    let first = s.http.get(&url).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let pem = first.text().await.unwrap();
    assert_eq!(crdb_cloud::certificate::check_pem(&pem), Ok(1), "{pem}");
    assert_eq!(s.http.get(&url).send().await.unwrap().text().await.unwrap(), pem, "the same CA every time");
    let unknown = s.http.get(format!("{}/clusters/00000000-0000-4000-8000-000000000000/cert", s.sim.base_url())).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    // Under /api/v1 it is no operation: the API's own 404 (after authentication).
    s.get(&format!("/api/v1/clusters/{id}/cert")).await.error(404, 5);
}

#[tokio::test]
async fn egress_cmek_and_client_ca_are_advanced_only_and_keep_their_rules() {
    let s = Sim::start(config()).await;
    let serverless = s.ready_cluster("sec-basic").await;
    for (method, tail, body) in [
        (Method::POST, "networking/egress-rules/egress-traffic-policy", Some(json!({"allow_all": false}))),
        (Method::GET, "cmek", None),
        (Method::GET, "client-ca-cert", None),
    ] {
        let r = s.call(Some(KEY), method, &format!("/api/v1/clusters/{serverless}/{tail}"), body).await;
        r.error(400, 3);
        assert!(r.message().contains("ADVANCED"), "{}", r.message());
    }
    let id = ready_dedicated(&s, "sec-adv").await;
    let c = format!("/api/v1/clusters/{id}");

    // Egress: the answer is empty, the policy reads back from the cluster.
    assert_eq!(s.get(&c).await.ok()["egress_traffic_policy"], "ALLOW_ALL");
    assert_eq!(s.post(&format!("{c}/networking/egress-rules/egress-traffic-policy"), json!({"allow_all": false})).await.ok(), json!({}));
    assert_eq!(s.get(&c).await.ok()["egress_traffic_policy"], "DEFAULT_DENY");

    // CMEK: POST enables (asynchronously), PUT adds or rotates; the key must fit the provider.
    let cmek = format!("{c}/cmek");
    assert_eq!(s.get(&cmek).await.ok(), json!({"status": "DISABLED", "region_infos": []}));
    let key = |uri: &str| json!({"region_specs": [{"region": "us-east-1", "key_spec": {"type": "AWS_KMS", "uri": uri, "auth_principal": "arn:aws:iam::1:role/crdb"}}]});
    let r = s.post(&cmek, json!({"region_specs": [{"region": "us-east-1", "key_spec": {"type": "GCP_CLOUD_KMS", "uri": "projects/p/k", "auth_principal": "sa"}}]})).await;
    r.error(400, 3);
    assert!(r.message().contains("key_spec.type"), "{}", r.message());
    s.post(&cmek, json!({"region_specs": [{"region": "eu-west-1", "key_spec": {"type": "AWS_KMS", "uri": "arn:aws:kms:k", "auth_principal": "r"}}]})).await.error(400, 3);
    let enabling = s.post(&cmek, key("arn:aws:kms:us-east-1:1:key/a")).await.ok();
    assert_eq!((enabling["status"].as_str(), enabling["region_infos"][0]["status"].as_str()), (Some("ENABLING"), Some("ENABLING")));
    s.put(&cmek, key("arn:aws:kms:us-east-1:1:key/b")).await.error(400, 9);
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.get(&cmek).await.ok()["status"] != "ENABLED" {
        assert!(Instant::now() < deadline, "CMEK never became ENABLED");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.post(&cmek, key("arn:aws:kms:us-east-1:1:key/a")).await.error(400, 9);
    let rotating = s.put(&cmek, key("arn:aws:kms:us-east-1:1:key/b")).await.ok();
    assert_eq!(rotating["status"], "ROTATING");
    let keys = rotating["region_infos"][0]["key_infos"].as_array().unwrap();
    assert_eq!((keys.len(), keys[0]["status"].as_str(), keys[1]["status"].as_str()), (2, Some("DISABLED"), Some("ENABLING")));

    // Client CA: the PEM is parsed; POST sets, PATCH replaces, DELETE removes.
    let ca = format!("{c}/client-ca-cert");
    assert_eq!(s.get(&ca).await.ok(), json!({"status": "NOT_SET"}));
    let r = s.post(&ca, json!({"x509_pem_cert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"})).await;
    r.error(400, 3);
    assert!(r.message().contains("x509_pem_cert"), "{}", r.message());
    s.patch(&ca, json!({"x509_pem_cert": ca_pem("first")})).await.error(400, 9);
    let (first, second) = (ca_pem("first"), ca_pem("second"));
    assert_eq!(s.post(&ca, json!({"x509_pem_cert": first})).await.ok(), json!({"status": "IS_SET", "x509_pem_cert": first}));
    s.post(&ca, json!({"x509_pem_cert": second})).await.error(409, 6);
    assert_eq!(s.patch(&ca, json!({"x509_pem_cert": second})).await.ok()["x509_pem_cert"], json!(second));
    assert_eq!(s.delete(&ca).await.ok(), json!({"status": "NOT_SET"}));
}

#[tokio::test]
async fn egress_rules_follow_the_policy_answer_a_repeated_key_once_and_list_by_name() {
    let s = Sim::start(config()).await;
    let serverless = s.ready_cluster("rules-basic").await;
    let rule = |name: &str, key: Option<&str>| {
        let mut body = json!({"name": name, "type": "FQDN", "destination": format!("{name}.example.com"), "ports": [443], "description": ""});
        if let Some(key) = key {
            body["idempotency_key"] = json!(key);
        }
        body
    };
    // ADVANCED only, and only under DEFAULT_DENY (the documented order: policy first).
    let r = s.post(&format!("/api/v1/clusters/{serverless}/networking/egress-rules"), rule("a", None)).await;
    r.error(400, 3);
    assert!(r.message().contains("ADVANCED"), "{}", r.message());
    let id = ready_dedicated(&s, "rules-adv").await;
    let rules = format!("/api/v1/clusters/{id}/networking/egress-rules");
    let r = s.post(&rules, rule("a", None)).await;
    r.error(400, 9);
    assert!(r.message().contains("DEFAULT_DENY"), "{}", r.message());
    s.post(&format!("{rules}/egress-traffic-policy"), json!({"allow_all": false})).await.ok();

    // A repeated idempotency key answers with the first rule, even with another body.
    let first = s.post(&rules, rule("zeta", Some("k1"))).await.ok();
    assert_eq!(first["rule"]["state"], "PENDING_CREATION");
    let again = s.post(&rules, rule("zeta-renamed", Some("k1"))).await.ok();
    assert_eq!(again["rule"]["id"], first["rule"]["id"]);
    // Names are not unique; ids are. Invalid destinations and ports are refused.
    s.post(&rules, rule("zeta", Some("k2"))).await.ok();
    s.post(&rules, rule("alpha", None)).await.ok();
    s.post(&rules, json!({"name": "x", "type": "CIDR", "destination": "10.0.0.0/33", "description": ""})).await.error(400, 3);
    s.post(&rules, json!({"name": "x", "type": "FQDN", "destination": "a.example.com", "ports": [0], "description": ""})).await.error(400, 3);
    s.post(&rules, json!({"name": "x", "type": "URL", "destination": "a.example.com", "description": ""})).await.error(400, 3);

    // Sorted by name, paged by the keyset; ACTIVE after the operation delay.
    let page = s.get(&format!("{rules}?pagination.limit=2")).await.ok();
    let names: Vec<&str> = page["rules"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "zeta"]);
    let token = page["pagination"]["next_page"].as_str().unwrap();
    let rest = s.get(&format!("{rules}?pagination.limit=2&pagination.page={token}")).await.ok();
    assert_eq!(rest["rules"].as_array().unwrap().len(), 1);
    let rule_id = first["rule"]["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.get(&format!("{rules}/{rule_id}")).await.ok()["rule"]["state"] != "ACTIVE" {
        assert!(Instant::now() < deadline, "the rule never became ACTIVE");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Edits keep the id and set what they carry; a delete answers PENDING_DELETION and the rule is gone.
    let edited = s.patch(&format!("{rules}/{rule_id}"), json!({"ports": []})).await.ok();
    assert_eq!((edited["rule"]["id"].as_str(), edited["rule"]["state"].as_str(), edited["rule"]["ports"].clone()), (Some(rule_id), Some("PENDING_UPDATE"), json!([])));
    assert_eq!(s.delete(&format!("{rules}/{rule_id}")).await.ok()["rule"]["state"], "PENDING_DELETION");
    s.get(&format!("{rules}/{rule_id}")).await.error(404, 5);
    s.delete(&format!("{rules}/{rule_id}")).await.error(404, 5);
}

// ---- service accounts and API keys ----

#[tokio::test]
async fn an_api_key_created_through_the_api_authenticates_for_its_organisation_until_deleted() {
    let s = Sim::start(config()).await;
    let account = s.post("/api/v1/service-accounts", json!({"name": "ci", "description": "", "roles": []})).await.ok();
    let account_id = account["id"].as_str().unwrap();
    let created = s.post("/api/v1/api-keys", json!({"name": "ci-key", "service_account_id": account_id})).await.ok();
    let (id, secret) = (created["api_key"]["id"].as_str().unwrap(), created["secret"].as_str().unwrap());
    assert!(secret.starts_with(&format!("{id}_")), "a key's secret begins with its ID");

    // The secret is in the create's answer only.
    for path in [format!("/api/v1/api-keys/{id}"), "/api/v1/api-keys".to_string(), format!("/api/v1/api-keys?service_account_id={account_id}")] {
        let body = s.get(&path).await.ok().to_string();
        assert!(!body.contains(secret) && !body.contains("\"secret\""), "{path} shows the secret: {body}");
    }
    let state = serde_json::to_string(&s.admin.state().await).unwrap();
    assert!(!state.contains(secret), "the admin state dump shows the secret");

    // It authenticates for org A: it sees org A's clusters and not org B's.
    let mine = s.create_serverless("org-a-db").await;
    s.call(Some(KEY_B), Method::POST, "/api/v1/clusters", Some(serverless_body("org-b-db"))).await.ok();
    let seen = s.call(Some(secret), Method::GET, "/api/v1/clusters", None).await.ok();
    let names: Vec<&str> = seen["clusters"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["org-a-db"], "{seen}");
    assert_eq!(mine["name"], "org-a-db");
    // A key of org B sees nothing of org A's accounts.
    let other = s.call(Some(KEY_B), Method::GET, &format!("/api/v1/service-accounts/{account_id}"), None).await;
    other.error(404, 5);

    // Deleted, it stops authenticating at once; so do the keys of a deleted service account.
    s.delete(&format!("/api/v1/api-keys/{id}")).await.ok();
    s.call(Some(secret), Method::GET, "/api/v1/clusters", None).await.error(401, 16);
    let second = s.post("/api/v1/api-keys", json!({"name": "ci-key-2", "service_account_id": account_id})).await.ok();
    let second_secret = second["secret"].as_str().unwrap().to_string();
    s.call(Some(&second_secret), Method::GET, "/api/v1/organization", None).await.ok();
    s.delete(&format!("/api/v1/service-accounts/{account_id}")).await.ok();
    s.call(Some(&second_secret), Method::GET, "/api/v1/organization", None).await.error(401, 16);
    s.get(&format!("/api/v1/api-keys/{}", second["api_key"]["id"].as_str().unwrap())).await.error(404, 5);
}

#[tokio::test]
async fn service_accounts_and_api_keys_validate_and_page_in_creation_order() {
    let s = Sim::start(config()).await;
    s.post("/api/v1/service-accounts", json!({"name": " ", "description": "", "roles": []})).await.error(400, 3);
    s.post("/api/v1/service-accounts", json!({"name": "x", "description": ""})).await.error(400, 3);
    s.post("/api/v1/api-keys", json!({"name": "k", "service_account_id": "00000000-0000-4000-8000-000000000000"})).await.error(404, 5);
    s.patch("/api/v1/service-accounts/00000000-0000-4000-8000-000000000000", json!({"name": "y"})).await.error(404, 5);

    // Names need not be unique.
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(s.post("/api/v1/service-accounts", json!({"name": "same", "description": "", "roles": []})).await.ok()["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut page = String::new();
    loop {
        let body = s.get(&format!("/api/v1/service-accounts?pagination.limit=2{page}")).await.ok();
        let batch = body["service_accounts"].as_array().unwrap();
        assert!(batch.len() <= 2);
        seen.extend(batch.iter().map(|a| a["id"].as_str().unwrap().to_string()));
        match body["pagination"]["next_page"].as_str() {
            Some(token) => page = format!("&pagination.page={token}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every account once, in creation order");
    let reversed = s.get("/api/v1/service-accounts?pagination.sort_order=DESC").await.ok();
    let first = reversed["service_accounts"][0]["id"].as_str().unwrap();
    assert_eq!(first, ids.last().unwrap());
}

// ---- folders ----

/// Folders over HTTP: keyset pages in both orders, the path filter, lineage after a move, what a
/// non-empty folder's deletion and a cluster in an unknown folder answer, and 404s.
#[tokio::test]
async fn folders_page_filter_move_and_refuse_as_the_cloud_does() {
    let s = Sim::start(SimulatorConfig { max_page_size: 2, ..config() }).await;
    let mut ids = Vec::new();
    for name in ["c", "a", "b", "d", "e"] {
        ids.push(s.post("/api/v1/folders", json!({"name": name})).await.ok()["resource_id"].as_str().unwrap().to_string());
    }
    // Pages of two, sorted by name, in both orders, resuming from the opaque token.
    for (order, expected) in [("ASC", ["a", "b", "c", "d", "e"]), ("DESC", ["e", "d", "c", "b", "a"])] {
        let mut names = Vec::new();
        let mut page = String::new();
        loop {
            let body = s.get(&format!("/api/v1/folders?pagination.limit=2&pagination.sort_order={order}{page}")).await.ok();
            names.extend(body["folders"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()));
            match body["pagination"]["next_page"].as_str() {
                Some(token) => page = format!("&pagination.page={token}"),
                None => break,
            }
        }
        assert_eq!(names, expected, "{order}");
    }
    s.get("/api/v1/folders?pagination.page=not-a-token").await.error(400, 3);

    // Nest b under a, then move a under c: b's path follows; the path filter finds it.
    let (a, b, c) = (&ids[1], &ids[2], &ids[0]);
    s.patch(&format!("/api/v1/folders/{b}"), json!({"parent_id": a})).await.ok();
    s.patch(&format!("/api/v1/folders/{a}"), json!({"parent_id": c})).await.ok();
    let moved = s.get(&format!("/api/v1/folders/{b}")).await.ok();
    let path: Vec<&str> = moved["path"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(path, ["c", "a"]);
    let found = s.get("/api/v1/folders?path=c/a/b/").await.ok();
    assert_eq!(found["folders"][0]["resource_id"], b.as_str());
    assert_eq!(s.get("/api/v1/folders?path=/a/b").await.ok()["folders"], json!([]));
    // Not into its own subtree.
    s.patch(&format!("/api/v1/folders/{c}"), json!({"parent_id": b})).await.error(400, 3);

    // A cluster in b: b cannot be deleted; a cluster cannot go into a folder that does not exist.
    let mut cluster = serverless_body("in-folder");
    cluster["spec"]["parent_id"] = json!(b);
    let id = s.post("/api/v1/clusters", cluster).await.ok()["id"].as_str().unwrap().to_string();
    let refused = s.delete(&format!("/api/v1/folders/{b}")).await;
    refused.error(400, 9);
    assert!(refused.message().contains("1 cluster(s)"), "{}", refused.message());
    let contents = s.get(&format!("/api/v1/folders/{b}/contents")).await.ok();
    assert_eq!(contents["resources"][0]["resource_id"], id.as_str());
    assert_eq!(contents["resources"][0]["resource_type"], "CLUSTER");
    let mut lost = serverless_body("lost-folder");
    lost["spec"]["parent_id"] = json!("00000000-0000-4000-8000-000000000000");
    s.post("/api/v1/clusters", lost).await.error(400, 3);

    // Deleted with the cluster gone (DELETED clusters do not count).
    s.wait_for(&id, |c| c["state"] == "CREATED").await;
    s.delete(&format!("/api/v1/clusters/{id}")).await.ok();
    assert_eq!(s.delete(&format!("/api/v1/folders/{b}")).await.ok(), json!({}));
    s.get(&format!("/api/v1/folders/{b}")).await.error(404, 5);
    s.get(&format!("/api/v1/folders/{b}/contents")).await.error(404, 5);
    s.patch(&format!("/api/v1/folders/{b}"), json!({"name": "x"})).await.error(404, 5);
    // Another organisation sees none of it.
    assert_eq!(s.call(Some(KEY_B), Method::GET, "/api/v1/folders", None).await.ok()["folders"], json!([]));
}

#[tokio::test]
async fn private_endpoints_follow_the_description_and_the_providers_rules() {
    let s = Sim::start(config()).await;
    // BASIC clusters have no private connectivity.
    let basic = s.ready_cluster("pe-basic").await;
    for tail in ["private-endpoint-services", "private-endpoint-connections", "private-endpoint-trusted-owners"] {
        let r = s.get(&format!("/api/v1/clusters/{basic}/networking/{tail}")).await;
        r.error(400, 3);
        assert!(r.message().contains("BASIC"), "{}", r.message());
    }
    let id = ready_dedicated(&s, "pe-adv").await;
    let net = format!("/api/v1/clusters/{id}/networking");
    let services = format!("{net}/private-endpoint-services");
    let connections = format!("{net}/private-endpoint-connections");
    let endpoint = json!({"endpoint_id": "vpce-0a1b2c3d4e5f67890"});

    // Services: none until created; one POST creates every region's, CREATING then AVAILABLE; a
    // second POST answers with the same services.
    assert_eq!(s.get(&services).await.ok(), json!({"services": []}));
    s.post(&connections, endpoint.clone()).await.error(400, 9);
    let created = s.post(&services, json!({})).await.ok();
    assert_eq!(created["services"][0]["status"], "CREATING");
    assert_eq!(created["services"][0]["aws"]["service_name"], created["services"][0]["name"]);
    let r = s.post(&connections, endpoint.clone()).await;
    r.error(400, 9);
    assert!(r.message().contains("AVAILABLE"), "{}", r.message());
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.get(&services).await.ok()["services"][0]["status"] != "AVAILABLE" {
        assert!(Instant::now() < deadline, "the services never became AVAILABLE");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = s.post(&services, json!({})).await.ok();
    assert_eq!(again["services"][0]["endpoint_service_id"], created["services"][0]["endpoint_service_id"]);
    assert_eq!(again["services"].as_array().unwrap().len(), 1);

    // Connections: an AWS endpoint id, once; STATUS_PENDING then STATUS_AVAILABLE; rejected
    // through the admin hook; deleted by its URL-encoded id.
    let r = s.post(&connections, json!({"endpoint_id": "e-65de2gf3"})).await;
    r.error(400, 3);
    assert!(r.message().contains("endpoint_id"), "{}", r.message());
    let added = s.post(&connections, endpoint.clone()).await.ok();
    assert_eq!((added["status"].as_str(), added["region_name"].as_str(), added["region"].as_str()), (Some("STATUS_PENDING"), Some("us-east-1"), Some("us-east-1")));
    s.post(&connections, endpoint).await.error(409, 6);
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.get(&connections).await.ok()["connections"][0]["status"] != "STATUS_AVAILABLE" {
        assert!(Instant::now() < deadline, "the connection never became available");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.admin.reject_private_endpoint_connection(&id, "vpce-0a1b2c3d4e5f67890").await.status.as_str(), "STATUS_REJECTED");
    assert_eq!(s.get(&connections).await.ok()["connections"][0]["status"], "STATUS_REJECTED");
    assert_eq!(s.delete(&format!("{connections}/vpce-0a1b2c3d4e5f67890")).await.ok(), json!({}));
    s.delete(&format!("{connections}/vpce-0a1b2c3d4e5f67890")).await.error(404, 5);

    // Trusted owners: a 12-digit account or *, once per (type, account); removed by id.
    let owners = format!("{net}/private-endpoint-trusted-owners");
    s.post(&owners, json!({"type": "AWS_ACCOUNT_ID", "external_owner_id": "1234"})).await.error(400, 3);
    s.post(&owners, json!({"type": "GCP_PROJECT", "external_owner_id": "123456789012"})).await.error(400, 3);
    let owner = s.post(&owners, json!({"type": "AWS_ACCOUNT_ID", "external_owner_id": "*"})).await.ok()["trusted_owner"].clone();
    assert_eq!((owner["cluster_id"].as_str(), owner["type"].as_str()), (Some(id.as_str()), Some("AWS_ACCOUNT_ID")));
    s.post(&owners, json!({"type": "AWS_ACCOUNT_ID", "external_owner_id": "*"})).await.error(409, 6);
    let one = format!("{owners}/{}", owner["id"].as_str().unwrap());
    assert_eq!(s.get(&one).await.ok()["trusted_owner"], owner);
    assert_eq!(s.get(&owners).await.ok()["trusted_owners"], json!([owner]));
    assert_eq!(s.delete(&one).await.ok()["trusted_owner"], owner);
    s.get(&one).await.error(404, 5);
}

/// A service account with `grants` (role, resource type, resource ID) and an API key of it;
/// returns the key's secret.
async fn restricted_key(s: &Sim, name: &str, grants: &[(&str, &str, &str)]) -> (String, String) {
    let account = s.post("/api/v1/service-accounts", json!({"name": name, "description": "", "roles": []})).await.ok();
    let account_id = account["id"].as_str().unwrap().to_string();
    for (role, resource_type, resource_id) in grants {
        s.post(&format!("/api/v1/roles/{account_id}/{resource_type}/{resource_id}/{role}"), json!({})).await.ok();
    }
    let created = s.post("/api/v1/api-keys", json!({"name": format!("{name}-key"), "service_account_id": account_id})).await.ok();
    (account_id, created["secret"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_key_of_a_service_account_may_do_what_its_roles_allow_where_they_are_held() {
    let s = Sim::start(config()).await;
    let team = s.post("/api/v1/folders", json!({"name": "team"})).await.ok()["resource_id"].as_str().unwrap().to_string();
    let prod = s.post("/api/v1/folders", json!({"name": "prod", "parent_id": team})).await.ok()["resource_id"].as_str().unwrap().to_string();
    let outside = s.ready_cluster("outside-db").await;
    let (account_id, key) = restricted_key(&s, "deployer", &[("CLUSTER_ADMIN", "FOLDER", &team)]).await;
    let as_key = |method: Method, path: String, body: Option<Value>| {
        let key = key.clone();
        let s = &s;
        async move { s.call(Some(&key), method, &path, body).await }
    };

    // Allowed: a cluster in a folder below the grant, and everything in it.
    let mut body = serverless_body("team-db");
    body["spec"]["parent_id"] = json!(prod);
    let created = as_key(Method::POST, "/api/v1/clusters".into(), Some(body)).await.ok();
    let id = created["id"].as_str().unwrap().to_string();
    s.wait_for(&id, |c| c["state"] == "CREATED").await;
    as_key(Method::POST, format!("/api/v1/clusters/{id}/sql-users"), Some(json!({"name": "app", "password": "Secret-pass-123"}))).await.ok();
    as_key(Method::POST, format!("/api/v1/clusters/{id}/databases"), Some(json!({"name": "payments"}))).await.ok();
    as_key(Method::POST, format!("/api/v1/clusters/{id}/networking/allowlist"), Some(json!({"cidr_ip": "198.51.100.0", "cidr_mask": 24, "ui": false, "sql": true}))).await.ok();

    // Refused, with the service's error shape: a cluster at the root, a write to a cluster
    // outside the folder, moving its own cluster out, and organisation writes.
    let at_root = as_key(Method::POST, "/api/v1/clusters".into(), Some(serverless_body("stray-db"))).await;
    at_root.error(403, 7);
    assert!(at_root.message().contains("CLUSTER_ADMIN or CLUSTER_CREATOR on the organization"), "{}", at_root.body);
    assert!(at_root.message().contains(&account_id), "the refusal names the principal: {}", at_root.body);
    let elsewhere = as_key(Method::POST, format!("/api/v1/clusters/{outside}/databases"), Some(json!({"name": "sneaky"}))).await;
    elsewhere.error(403, 7);
    assert!(elsewhere.message().contains(&format!("cluster {outside}")), "{}", elsewhere.body);
    as_key(Method::PATCH, format!("/api/v1/clusters/{id}"), Some(json!({"parent_id": "root"}))).await.error(403, 7);
    as_key(Method::POST, "/api/v1/service-accounts".into(), Some(json!({"name": "more", "description": "", "roles": []}))).await.error(403, 7);
    as_key(Method::POST, format!("/api/v1/roles/{account_id}/ORGANIZATION/{}/ORG_ADMIN", s.get("/api/v1/organization").await.ok()["id"].as_str().unwrap()), Some(json!({}))).await.error(403, 7);
    as_key(Method::POST, "/api/v1/folders".into(), Some(json!({"name": "mine", "parent_id": team}))).await.error(403, 7);
    // Nothing was made by a refused request.
    let names: Vec<String> = s.get("/api/v1/clusters").await.ok()["clusters"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["outside-db", "team-db"]);
    assert!(s.get(&format!("/api/v1/clusters/{outside}/databases")).await.ok().to_string().find("sneaky").is_none());

    // Reads stay open to every key of the organisation; an unknown cluster is still a 404.
    as_key(Method::GET, format!("/api/v1/clusters/{outside}"), None).await.ok();
    as_key(Method::GET, "/api/v1/service-accounts".into(), None).await.ok();
    as_key(Method::DELETE, "/api/v1/clusters/00000000-0000-4000-8000-000000000000".into(), None).await.error(404, 5);

    // The seeded keys remain the organisation's admins; a grant on the organisation opens the root.
    s.post("/api/v1/clusters", serverless_body("admin-db")).await.ok();
    let org_id = s.get("/api/v1/organization").await.ok()["id"].as_str().unwrap().to_string();
    s.post(&format!("/api/v1/roles/{account_id}/ORGANIZATION/{org_id}/CLUSTER_CREATOR"), json!({})).await.ok();
    as_key(Method::POST, "/api/v1/clusters".into(), Some(serverless_body("stray-db"))).await.ok();
}

#[tokio::test]
async fn an_operator_role_writes_settings_but_only_an_admin_manages_sql_users_and_deletes() {
    let s = Sim::start(config()).await;
    let id = s.ready_cluster("ops-db").await;
    let (_, key) = restricted_key(&s, "operator", &[("CLUSTER_OPERATOR_WRITER", "CLUSTER", &id)]).await;
    s.call(Some(&key), Method::POST, &format!("/api/v1/clusters/{id}/databases"), Some(json!({"name": "metrics"}))).await.ok();
    let users = s.call(Some(&key), Method::POST, &format!("/api/v1/clusters/{id}/sql-users"), Some(json!({"name": "app", "password": "Secret-pass-123"}))).await;
    users.error(403, 7);
    assert!(users.message().contains("needs the role CLUSTER_ADMIN on cluster"), "{}", users.body);
    s.call(Some(&key), Method::DELETE, &format!("/api/v1/clusters/{id}"), None).await.error(403, 7);
    // Permissions are judged before the body: a key that may not create anywhere is refused even
    // a create the handler would find malformed, which the organisation's admin is told about.
    s.call(Some(&key), Method::POST, "/api/v1/clusters", Some(json!("not an object"))).await.error(403, 7);
    s.post("/api/v1/clusters", json!("not an object")).await.error(400, 3);
}
