//! Holds the simulator and the client to the official CockroachDB Cloud API description
//! (`../shared/specs/cockroach-cloud-openapi.json`).
//!
//! - Every simulator response for the operations the operator uses is validated against the
//!   response schema of its path, method and status.
//! - The request bodies the operator sends (built by the same code paths) are validated against the
//!   request schemas.
//!
//! Schemas are made strict (`additionalProperties: false` on every object), so a misspelt or
//! invented field fails just like a wrong type or a missing required field.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crdb_cloud_operator::api::cluster::CockroachCluster;
use crdb_cloud::Operation::{self, *};
use crdb_cloud::models::*;
use crdb_cloud_operator::controller::kinds::cluster_plan;
use crdb_cloud_operator::controller::setting::Setting;
use crdb_cloud_operator::controller::settings::log_export::{LogExport, LogExportChange};
use crdb_cloud_operator::controller::settings::metric_export::{CloudWatch, ExportChange};
use crdb_cloud_simulator::{self as simulator, SimulatorConfig};

const KEY: &str = "conformance-key";

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/specs/cockroach-cloud-openapi.json")
}

struct Spec {
    doc: Value,
    /// components with every object schema closed.
    strict_components: Value,
}

impl Spec {
    fn load() -> Self {
        let path = spec_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("the official API description is required for this test: {}: {e}", path.display())
        });
        let doc: Value = serde_json::from_str(&text).expect("spec is JSON");
        let mut strict_components = doc["components"].clone();
        close_objects(&mut strict_components);
        Self { doc, strict_components }
    }

    fn operation(&self, method: &str, path: &str) -> &Value {
        let op = &self.doc["paths"][path][method];
        assert!(op.is_object(), "the description has no {method} {path}");
        op
    }

    fn validator_for(&self, schema: &Value) -> jsonschema::Validator {
        let mut schema = schema.clone();
        close_objects(&mut schema);
        let mut root = json!({ "components": self.strict_components });
        if let Value::Object(map) = schema {
            for (k, v) in map {
                root[k] = v;
            }
        }
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .build(&root)
            .expect("schema compiles")
    }

    fn response_schema(&self, operation: Operation, status: u16) -> Value {
        let op = self.operation(&operation.method().as_str().to_lowercase(), operation.path());
        let response = &op["responses"][status.to_string()];
        let response = if response.is_object() { response } else { &op["responses"]["default"] };
        response["content"]["application/json"]["schema"].clone()
    }

    fn request_schema(&self, operation: Operation) -> Value {
        self.operation(&operation.method().as_str().to_lowercase(), operation.path())["requestBody"]["content"]["application/json"]["schema"].clone()
    }

    fn check(&self, what: &str, schema: &Value, instance: &Value) {
        let validator = self.validator_for(schema);
        let errors: Vec<String> = validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{what} does not conform to the official description:\n{}\n{instance:#}", errors.join("\n"));
    }
}

/// Adds `additionalProperties: false` to every object schema that lists properties, keeping fields
/// the description marks required even where it forgot to define them (`is_customer_cloud_account`).
fn close_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                if let Some(Value::Array(required)) = map.get("required").cloned() {
                    let props = map.get_mut("properties").and_then(Value::as_object_mut).expect("properties object");
                    for name in required.iter().filter_map(Value::as_str) {
                        props.entry(name.to_string()).or_insert(json!({}));
                    }
                }
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            // `example` values are documentation, not schema.
            map.remove("example");
            for v in map.values_mut() {
                close_objects(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

struct Sim {
    _running: simulator::RunningSimulator,
    base: String,
    http: reqwest::Client,
}

impl Sim {
    async fn start() -> Self {
        crdb_cloud_operator::install_crypto_provider();
        let config = SimulatorConfig {
            api_keys: vec![KEY.to_string()],
            cluster_create_delay: Duration::from_millis(200),
            operation_delay: Duration::from_millis(200),
            deleted_retention: Duration::from_secs(60),
            rate_limit_per_second: 1000,
            ..Default::default()
        };
        let running = simulator::start(config, "127.0.0.1:0".parse().unwrap()).await.expect("simulator starts");
        let base = running.base_url();
        Self { _running: running, base, http: reqwest::Client::new() }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(KEY).header("Cc-Version", "2024-09-16");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn sample_cluster(spec: Value) -> CockroachCluster {
    let mut cr = CockroachCluster::new("conform-db", serde_json::from_value(spec).unwrap());
    cr.metadata.uid = Some("0a1b2c3d-0000-4000-8000-000000000001".into());
    cr
}

#[tokio::test]
async fn simulator_responses_conform_to_the_official_description() {
    use reqwest::Method;
    let spec = Spec::load();
    let sim = Sim::start().await;

    // Each case: method, spec path template, concrete path, body, expected status.
    let serverless = serde_json::to_value(cluster_plan::create_request(
        &sample_cluster(json!({"provider": "GCP", "serverless": {"regions": ["us-central1"], "usageLimits": {"provisionedVirtualCpus": 2}}, "labels": {"env": "test"}})),
        "0a1b2c3d-0000-4000-8000-000000000001",
    ))
    .unwrap();
    let dedicated = serde_json::to_value(cluster_plan::create_request(
        &sample_cluster(json!({"name": "conform-adv", "provider": "AWS", "dedicated": {"regionNodes": {"us-east-1": 3}, "hardware": {"numVirtualCpus": 4, "storageGib": 150}}})),
        "0a1b2c3d-0000-4000-8000-000000000002",
    ))
    .unwrap();

    let (status, created) = sim.call(Method::POST, &concrete(CreateCluster, &[]), Some(&serverless)).await;
    assert_eq!(status, 200, "{created}");
    spec.check("CreateCluster response", &spec.response_schema(CreateCluster, 200), &created);
    let id = created["id"].as_str().unwrap().to_string();
    let (status, adv) = sim.call(Method::POST, &concrete(CreateCluster, &[]), Some(&dedicated)).await;
    assert_eq!(status, 200, "{adv}");
    spec.check("CreateCluster (dedicated) response", &spec.response_schema(CreateCluster, 200), &adv);

    // Wait for CREATED so child operations are allowed.
    let adv_id = adv["id"].as_str().unwrap().to_string();
    for cluster in [&id, &adv_id] {
        for _ in 0..50 {
            let (_, c) = sim.call(Method::GET, &concrete(GetCluster, &[cluster]), None).await;
            if c["state"] == "CREATED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Each case: the operation, its path parameters and query, the body, the expected status.
    let c = id.as_str();
    let a = adv_id.as_str();
    let in_days = |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let cmek = |uri: &str| json!({"region_specs": [{"region": "us-east-1", "key_spec": {"type": "AWS_KMS", "uri": uri, "auth_principal": "arn:aws:iam::1:role/crdb"}}]});
    let pem = sim.http.get(format!("{}/clusters/{a}/cert", sim.base)).send().await.unwrap().text().await.unwrap();
    let cases: Vec<Case> = vec![
        (GetCluster, vec![a], "", None, 200),
        (GetConnectionString, vec![a], "?os=LINUX", None, 200),
        (ListClusterNodes, vec![a], "", None, 200),
        (SetEgressTrafficPolicy, vec![a], "", Some(json!({"allow_all": false})), 200),
        (GetCMEKClusterInfo, vec![a], "", None, 200),
        (EnableCMEKSpec, vec![a], "", Some(cmek("arn:aws:kms:us-east-1:1:key/a")), 200),
        (GetCMEKClusterInfo, vec![a], "", None, 200),
        (UpdateCMEKSpec, vec![a], "", Some(cmek("arn:aws:kms:us-east-1:1:key/b")), 400),
        (GetClientCACert, vec![a], "", None, 200),
        (SetClientCACert, vec![a], "", Some(json!({"x509_pem_cert": pem})), 200),
        (UpdateClientCACert, vec![a], "", Some(json!({"x509_pem_cert": pem})), 200),
        (GetClientCACert, vec![a], "", None, 200),
        (DeleteClientCACert, vec![a], "", None, 200),
        (GetCMEKClusterInfo, vec![c], "", None, 400),
        (GetOrganizationInfo, vec![], "", None, 200),
        (ListClusters, vec![], "", None, 200),
        (GetCluster, vec![c], "", None, 200),
        (ListMajorClusterVersions, vec![], "", None, 200),
        (ListAvailableRegions, vec![], "?provider=GCP&serverless=true", None, 200),
        (GetConnectionString, vec![c], "?sql_user=app", None, 200),
        (CreateSQLUser, vec![c], "", Some(json!({"name": "app", "password": "correct-horse-battery"})), 200),
        (ListSQLUsers, vec![c], "", None, 200),
        (UpdateSQLUserPassword, vec![c, "app"], "", Some(json!({"password": "another-long-password"})), 200),
        (CreateDatabase, vec![c], "", Some(json!({"name": "orders"})), 200),
        (ListDatabases, vec![c], "", None, 200),
        (EditDatabase, vec![c, "orders"], "", Some(json!({"new_name": "orders2"})), 200),
        (AddAllowlistEntry, vec![c], "", Some(json!({"cidr_ip": "10.0.0.0", "cidr_mask": 8, "name": "office", "sql": true, "ui": false})), 200),
        (ListAllowlistEntries, vec![c], "", None, 200),
        (UpdateAllowlistEntry, vec![c, "10.0.0.0", "8"], "", Some(json!({"name": "office", "sql": true, "ui": true})), 200),
        (GetBackupConfiguration, vec![c], "", None, 200),
        (UpdateBackupConfiguration, vec![c], "", Some(json!({"frequency_minutes": 60})), 200),
        (GetLogExportInfo, vec![c], "", None, 404),
        (EnableLogExport, vec![c], "", Some(json!({"type": "GCP_CLOUD_LOGGING", "log_name": "default", "auth_principal": "my-project", "redact": true, "region": "us-central1", "groups": [{"log_name": "devops", "channels": ["OPS"], "min_level": "WARNING", "redact": false}], "omitted_channels": ["SESSIONS"]})), 200),
        (GetLogExportInfo, vec![c], "", None, 200),
        (EnableLogExport, vec![c], "", Some(json!({"type": "AWS_CLOUDWATCH", "log_name": "x", "auth_principal": "arn:aws:iam::123456789012:role/l", "aws_external_id": "ext"})), 400),
        (DeleteLogExport, vec![c], "", None, 200),
        (EnableDatadogMetricExport, vec![c], "", Some(json!({"site": "US5", "api_key": "0123456789abcdef0123456789abcdef"})), 200),
        (GetDatadogMetricExportInfo, vec![c], "", None, 200),
        (DeleteDatadogMetricExport, vec![c], "", None, 200),
        (GetDatadogMetricExportInfo, vec![c], "", None, 404),
        (EnableCloudWatchMetricExport, vec![c], "", Some(json!({"role_arn": "arn:aws:iam::123456789012:role/m", "target_region": "us-east-1", "log_group_name": "crdb"})), 200),
        (EnableCloudWatchMetricExport, vec![c], "", Some(json!({"role_arn": "arn:aws:iam::123456789012:role/m", "external_id": "ext"})), 400),
        (GetCloudWatchMetricExportInfo, vec![c], "", None, 200),
        (DeleteCloudWatchMetricExport, vec![c], "", None, 200),
        (EnablePrometheusMetricExport, vec![c], "", None, 200),
        (GetPrometheusMetricExportInfo, vec![c], "", None, 200),
        (DeletePrometheusMetricExport, vec![c], "", None, 200),
        (UpdateCluster, vec![c], "", Some(json!({"labels": {"env": "prod"}})), 200),
        (GetClusterVersionDeferral, vec![c], "", None, 200),
        (SetClusterVersionDeferral, vec![c], "", Some(json!({"deferral_policy": "DEFERRAL_30_DAYS"})), 200),
        (GetMaintenanceWindow, vec![a], "", None, 404),
        (SetMaintenanceWindow, vec![a], "", Some(json!({"offset_duration": "172800s", "window_duration": "21600s"})), 200),
        (GetMaintenanceWindow, vec![a], "", None, 200),
        (DeleteMaintenanceWindow, vec![a], "", None, 200),
        (SetMaintenanceWindow, vec![c], "", Some(json!({"offset_duration": "0s", "window_duration": "21600s"})), 400),
        (CreateBlackoutWindow, vec![a], "", Some(json!({"start_time": in_days(10), "end_time": in_days(11)})), 200),
        (ListBlackoutWindows, vec![a], "", None, 200),
        (CreateBlackoutWindow, vec![a], "", Some(json!({"start_time": in_days(1), "end_time": in_days(2)})), 400),
        (DeleteAllowlistEntry, vec![c, "10.0.0.0", "8"], "", None, 200),
        (DeleteDatabase, vec![c, "orders2"], "", None, 200),
        (DeleteSQLUser, vec![c, "app"], "", None, 200),
        // Errors carry the `Status` body.
        (GetCluster, vec!["00000000-0000-4000-8000-000000000000"], "", None, 404),
        (CreateSQLUser, vec![c], "", Some(json!({"name": "x"})), 400),
        (DeleteCluster, vec![c], "", None, 200),
    ];

    for (operation, params, query, body, expected) in cases {
        let (method, template) = (operation.method(), operation.path());
        if let Some(body) = &body
            && expected == 200
        {
            spec.check(&format!("{method} {template} request"), &spec.request_schema(operation), body);
        }
        let path = format!("{}{query}", concrete(operation, &params));
        let (status, response) = sim.call(method.clone(), &path, body.as_ref()).await;
        assert_eq!(status, expected, "{method} {path}: {response}");
        let schema = if expected == 200 {
            spec.response_schema(operation, 200)
        } else {
            // 4xx responses are described only by `default` (Status).
            spec.doc["paths"][template][method.as_str().to_lowercase()]["responses"]["default"]["content"]["application/json"]["schema"].clone()
        };
        spec.check(&format!("{method} {template} -> {status}"), &schema, &response);
    }

    // A blackout window by its id, once created.
    let (_, list) = sim.call(Method::GET, &concrete(ListBlackoutWindows, &[a]), None).await;
    let window = list["blackout_windows"][0]["id"].as_str().unwrap().to_string();
    let w = window.as_str();
    let by_id: Vec<Case> = vec![
        (GetBlackoutWindow, vec![a, w], "", None, 200),
        (UpdateBlackoutWindow, vec![a, w], "", Some(json!({"end_time": in_days(12)})), 200),
        (DeleteBlackoutWindow, vec![a, w], "", None, 200),
    ];
    for (operation, params, _, body, expected) in by_id {
        if let Some(body) = &body {
            spec.check(&format!("{operation} request"), &spec.request_schema(operation), body);
        }
        let (status, response) = sim.call(operation.method(), &concrete(operation, &params), body.as_ref()).await;
        assert_eq!(status, expected, "{operation}: {response}");
        spec.check(&format!("{operation} response"), &spec.response_schema(operation, 200), &response);
    }

    private_endpoint_responses_conform(&spec, &sim, a, c).await;
}

/// The private endpoint operations on the ADVANCED cluster `a` (and on `c`, deleted by then: a
/// 404): services created and listed while CREATING
/// and once AVAILABLE, a connection added, listed and deleted, a trusted owner added, read,
/// listed and removed.
async fn private_endpoint_responses_conform(spec: &Spec, sim: &Sim, a: &str, c: &str) {
    use reqwest::Method;
    let cases: Vec<Case> = vec![
        (ListPrivateEndpointServices, vec![a], "", None, 200),
        (AddPrivateEndpointConnection, vec![a], "", Some(json!({"endpoint_id": "vpce-0a1b2c3d4e5f67890"})), 400),
        (CreatePrivateEndpointServices, vec![a], "", None, 200),
        (ListPrivateEndpointServices, vec![a], "", None, 200),
        (ListPrivateEndpointServices, vec![c], "", None, 404),
        (AddPrivateEndpointTrustedOwner, vec![a], "", Some(json!({"external_owner_id": "123456789012", "type": "AWS_ACCOUNT_ID"})), 200),
        (AddPrivateEndpointTrustedOwner, vec![a], "", Some(json!({"external_owner_id": "123456789012", "type": "AWS_ACCOUNT_ID"})), 409),
        (AddPrivateEndpointTrustedOwner, vec![a], "", Some(json!({"external_owner_id": "12345", "type": "AWS_ACCOUNT_ID"})), 400),
        (ListPrivateEndpointTrustedOwners, vec![a], "", None, 200),
    ];
    run_cases(spec, sim, cases).await;
    // Connections need AVAILABLE services.
    for _ in 0..50 {
        let (_, services) = sim.call(Method::GET, &concrete(ListPrivateEndpointServices, &[a]), None).await;
        if services["services"].as_array().is_some_and(|s| s.iter().all(|s| s["status"] == "AVAILABLE")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, owners) = sim.call(Method::GET, &concrete(ListPrivateEndpointTrustedOwners, &[a]), None).await;
    let owner = owners["trusted_owners"][0]["id"].as_str().unwrap().to_string();
    let o = owner.as_str();
    let endpoint = json!({"endpoint_id": "vpce-0a1b2c3d4e5f67890"});
    let cases: Vec<Case> = vec![
        (AddPrivateEndpointConnection, vec![a], "", Some(endpoint.clone()), 200),
        (AddPrivateEndpointConnection, vec![a], "", Some(endpoint), 409),
        (AddPrivateEndpointConnection, vec![a], "", Some(json!({"endpoint_id": "not-an-endpoint"})), 400),
        (ListPrivateEndpointConnections, vec![a], "", None, 200),
        (DeletePrivateEndpointConnection, vec![a, "vpce-0a1b2c3d4e5f67890"], "", None, 200),
        (DeletePrivateEndpointConnection, vec![a, "vpce-0a1b2c3d4e5f67890"], "", None, 404),
        (GetPrivateEndpointTrustedOwner, vec![a, o], "", None, 200),
        (RemovePrivateEndpointTrustedOwner, vec![a, o], "", None, 200),
        (GetPrivateEndpointTrustedOwner, vec![a, o], "", None, 404),
    ];
    run_cases(spec, sim, cases).await;
}

/// Sends each case, checking the request body (when the case expects success), the status and the
/// response against the description.
async fn run_cases(spec: &Spec, sim: &Sim, cases: Vec<Case<'_>>) {
    for (operation, params, query, body, expected) in cases {
        let (method, template) = (operation.method(), operation.path());
        if let Some(body) = &body
            && expected == 200
        {
            spec.check(&format!("{method} {template} request"), &spec.request_schema(operation), body);
        }
        let path = format!("{}{query}", concrete(operation, &params));
        let (status, response) = sim.call(method.clone(), &path, body.as_ref()).await;
        assert_eq!(status, expected, "{method} {path}: {response}");
        let schema = if expected == 200 {
            spec.response_schema(operation, 200)
        } else {
            spec.doc["paths"][template][method.as_str().to_lowercase()]["responses"]["default"]["content"]["application/json"]["schema"].clone()
        };
        spec.check(&format!("{method} {template} -> {status}"), &schema, &response);
    }
}

/// One request of the conformance run: the operation, its path parameters, its query (with the
/// `?`), its body and the status expected.
type Case<'a> = (Operation, Vec<&'a str>, &'a str, Option<Value>, u16);

/// The path of a request for `operation` with these parameters.
fn concrete(operation: Operation, params: &[&str]) -> String {
    format!("/{}", operation.segments(params).join("/"))
}

#[test]
fn operator_request_bodies_conform_to_the_official_description() {
    let spec = Spec::load();
    let uid = "0a1b2c3d-0000-4000-8000-000000000003";
    let clusters = [
        json!({"provider": "GCP", "serverless": {"regions": ["us-central1"]}}),
        json!({"provider": "GCP", "plan": "STANDARD", "serverless": {"regions": ["us-central1", "us-east1"], "primaryRegion": "us-east1", "usageLimits": {"provisionedVirtualCpus": 4}, "upgradeType": "MANUAL"}, "deleteProtection": true, "parentId": "root", "labels": {"a": "b"}}),
        json!({"provider": "AWS", "dedicated": {"regionNodes": {"us-east-1": 3}, "hardware": {"machineType": "m6i.xlarge", "storageGib": 150, "diskIops": 3000}, "networkVisibility": "PRIVATE"}, "cockroachVersion": "v25.2"}),
    ];
    for cluster in clusters {
        let cr = sample_cluster(cluster);
        let body = serde_json::to_value(cluster_plan::create_request(&cr, uid)).unwrap();
        spec.check("create cluster request", &spec.request_schema(CreateCluster), &body);
    }
    let update = UpdateClusterSpec {
        plan: Some(Plan::Standard),
        serverless: Some(ServerlessUpdateSpec {
            regions: Some(vec!["us-central1".into()]),
            usage_limits: Some(UsageLimits { provisioned_virtual_cpus: Some(4), ..Default::default() }),
            upgrade_type: Some(UpgradeType::Manual),
            ..Default::default()
        }),
        delete_protection: Some(DeleteProtection::Enabled),
        labels: Some([("env".to_string(), "prod".to_string())].into()),
        parent_id: Some("root".into()),
        ..Default::default()
    };
    spec.check("update cluster request", &spec.request_schema(UpdateCluster), &serde_json::to_value(&update).unwrap());
    let dedicated_update = UpdateClusterSpec {
        dedicated: Some(DedicatedUpdateSpec {
            region_nodes: Some([("us-east-1".to_string(), 5)].into()),
            hardware: Some(HardwareSpec {
                machine_spec: Some(MachineSpec { num_virtual_cpus: Some(8), ..Default::default() }),
                storage_gib: Some(200),
                disk_iops: None,
            }),
        }),
        ..Default::default()
    };
    spec.check("update cluster request (dedicated)", &spec.request_schema(UpdateCluster), &serde_json::to_value(&dedicated_update).unwrap());
    let version = UpdateClusterSpec { cockroach_version: Some("v25.3".into()), ..Default::default() };
    spec.check("version upgrade request", &spec.request_schema(UpdateCluster), &serde_json::to_value(&version).unwrap());
    let entry = AllowlistEntry { cidr_ip: "10.1.0.0".into(), cidr_mask: 16, name: Some("vpn".into()), sql: true, ui: false };
    spec.check("allowlist entry", &spec.request_schema(AddAllowlistEntry), &serde_json::to_value(&entry).unwrap());
    let patch = AllowlistEntryUpdate { name: None, sql: false, ui: true };
    spec.check(
        "allowlist update",
        &spec.request_schema(UpdateAllowlistEntry),
        &serde_json::to_value(&patch).unwrap(),
    );
    let user = CreateSqlUserRequest { name: "app".into(), password: "not-a-real-password".into() };
    spec.check("create SQL user", &spec.request_schema(CreateSQLUser), &serde_json::to_value(&user).unwrap());
    let egress = SetEgressTrafficPolicyRequest { allow_all: false, idempotency_key: None };
    spec.check("egress traffic policy", &spec.request_schema(SetEgressTrafficPolicy), &serde_json::to_value(&egress).unwrap());
    let cmek = CmekClusterSpec {
        region_specs: vec![CmekRegionSpec {
            region: "us-east-1".into(),
            key_spec: CmekKeySpec { key_type: CmekKeyType::AwsKms, uri: "arn:aws:kms:us-east-1:1:key/a".into(), auth_principal: "arn:aws:iam::1:role/r".into() },
        }],
    };
    for operation in [EnableCMEKSpec, UpdateCMEKSpec] {
        spec.check("CMEK spec", &spec.request_schema(operation), &serde_json::to_value(&cmek).unwrap());
    }
    let ca = ClientCaCertRequest { x509_pem_cert: "-----BEGIN CERTIFICATE-----".into() };
    for operation in [SetClientCACert, UpdateClientCACert] {
        spec.check("client CA", &spec.request_schema(operation), &serde_json::to_value(&ca).unwrap());
    }
    let db = CreateDatabaseRequest { name: "orders".into() };
    spec.check("create database", &spec.request_schema(CreateDatabase), &serde_json::to_value(&db).unwrap());
    let rename = UpdateDatabaseRequest { new_name: "orders2".into() };
    spec.check("rename database", &spec.request_schema(EditDatabase), &serde_json::to_value(&rename).unwrap());
    let finalize = UpdateClusterSpec { upgrade_status: Some(UpgradeStatus::Finalized), ..Default::default() };
    spec.check("finalize upgrade request", &spec.request_schema(UpdateCluster), &serde_json::to_value(&finalize).unwrap());
    let window = MaintenanceWindow { offset_duration: "93600s".into(), window_duration: "28800s".into() };
    spec.check("maintenance window", &spec.request_schema(SetMaintenanceWindow), &serde_json::to_value(&window).unwrap());
    let blackout = CreateBlackoutWindowRequest { start_time: "2026-12-20T00:00:00Z".into(), end_time: "2026-12-21T00:00:00Z".into() };
    spec.check("blackout window", &spec.request_schema(CreateBlackoutWindow), &serde_json::to_value(&blackout).unwrap());
    let deferral = ClusterVersionDeferralUpdate { deferral_policy: DeferralPolicy::Deferral90Days };
    spec.check("version deferral", &spec.request_schema(SetClusterVersionDeferral), &serde_json::to_value(&deferral).unwrap());

    // The export blocks' writes, as their plans build them from a spec with every field set.
    let exports = sample_cluster(json!({
        "provider": "AWS",
        "dedicated": {"regionNodes": {"us-east-1": 3}, "hardware": {"machineType": "m6i.xlarge", "storageGib": 150}},
        "logExport": {"type": "AWS_CLOUDWATCH", "logName": "crdb", "authPrincipal": "arn:aws:iam::123456789012:role/logs", "awsExternalId": "ext-1", "region": "us-east-1", "redact": true, "groups": [{"logName": "devops", "channels": ["OPS", "HEALTH"], "minLevel": "ERROR", "redact": false}], "omittedChannels": ["SESSIONS"]},
        "metricExport": {"cloudwatch": {"roleArn": "arn:aws:iam::123456789012:role/metrics", "targetRegion": "us-east-1", "logGroupName": "crdb", "externalId": "ext-2"}}
    }));
    let Some(LogExportChange::Enable(log)) = LogExport::plan(LogExport::desired(&exports.spec).unwrap(), &None) else { panic!("no log export request") };
    spec.check("enable log export", &spec.request_schema(EnableLogExport), &serde_json::to_value(&log).unwrap());
    let Some(ExportChange::Enable(cloudwatch)) = CloudWatch::plan(CloudWatch::desired(&exports.spec).unwrap(), &None) else { panic!("no CloudWatch request") };
    spec.check("enable CloudWatch metric export", &spec.request_schema(EnableCloudWatchMetricExport), &serde_json::to_value(&cloudwatch).unwrap());
    let datadog = EnableDatadogMetricExportRequest { site: DatadogSite::Us1Gov, api_key: DatadogApiKey::new("0123456789abcdef0123456789abcdef") };
    spec.check("enable Datadog metric export", &spec.request_schema(EnableDatadogMetricExport), &serde_json::to_value(&datadog).unwrap());

    // Private endpoints: the bodies the kinds' plans build.
    let connection = AddPrivateEndpointConnectionRequest { endpoint_id: "vpce-0a1b2c3d4e5f67890".into() };
    spec.check("add private endpoint connection", &spec.request_schema(AddPrivateEndpointConnection), &serde_json::to_value(&connection).unwrap());
    let owner = AddPrivateEndpointTrustedOwnerRequest { external_owner_id: "123456789012".into(), owner_type: PrivateEndpointTrustedOwnerType::AwsAccountId };
    spec.check("add private endpoint trusted owner", &spec.request_schema(AddPrivateEndpointTrustedOwner), &serde_json::to_value(&owner).unwrap());
}

#[test]
fn the_strict_schema_catches_wrong_shapes() {
    // Guards the guard: a check that cannot fail proves nothing.
    let spec = Spec::load();
    let schema = spec.request_schema(CreateCluster);
    let validator = spec.validator_for(&schema);
    let good = json!({"name": "abcdef", "provider": "GCP", "spec": {"serverless": {"regions": ["r"]}}});
    assert!(validator.is_valid(&good));
    let unknown_field = json!({"name": "abcdef", "provider": "GCP", "spec": {"serverless": {"regions": ["r"]}, "spend_limit": 5}});
    assert!(!validator.is_valid(&unknown_field));
    let bad_enum = json!({"name": "abcdef", "provider": "GCP", "spec": {"plan": "SERVERLESS", "serverless": {"regions": ["r"]}}});
    assert!(!validator.is_valid(&bad_enum));
    let number_for_int64 = json!({"name": "abcdef", "provider": "GCP", "spec": {"serverless": {"regions": ["r"], "usage_limits": {"provisioned_virtual_cpus": 2}}}});
    assert!(!validator.is_valid(&number_for_int64));
}
