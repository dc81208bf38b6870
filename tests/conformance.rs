//! Holds the simulator and the client to the official CockroachDB Cloud API description
//! (`../shared/specs/cockroach-cloud-openapi.json`).
//!
//! - Every simulator response for the operations the operator uses is validated against the
//!   response schema of its path, method and status.
//! - The request bodies the operator sends (built by the same code paths) are validated against the
//!   request schemas.
//!
//! Schemas are made strict (`additionalProperties: false` on every object), so a misspelt or
//! invented field fails just like a wrong type or a missing required field. The only fields allowed
//! beyond the description are those of [`sdk_v8_extensions`].

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crdb_cloud_operator::api::cluster::CockroachCluster;
use crdb_cloud::Operation::{self, *};
use crdb_cloud::models::*;
use crdb_cloud_operator::controller::kinds::cluster_plan;
use crdb_cloud_operator::controller::setting::Setting;
use crdb_cloud_operator::controller::settings::log_export::{LogExport, LogExportChange, LogExportObserved};
use crdb_cloud_operator::controller::settings::metric_export::{CloudWatch, ExportChange};
use crdb_cloud_simulator::{self as simulator, SimulatorConfig};

const KEY: &str = "conformance-key";
/// An Azure Log Analytics workspace ID and shared key.
const AZURE_WORKSPACE: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const AZURE_SHARED_KEY: &str = "QXp1cmUtY29uZm9ybWFuY2Utc2hhcmVkLWtleQ==";

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
        add_sdk_v8_extensions(&mut strict_components);
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

    /// The body of an error answer: 4xx responses are described only by `default` (Status).
    fn error_schema(&self, operation: Operation) -> Value {
        self.operation(&operation.method().as_str().to_lowercase(), operation.path())["responses"]["default"]["content"]["application/json"]["schema"].clone()
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

/// The fields the official Go SDK v8 (cockroach-cloud-sdk-go 8.0.0) has that the 2024-09-16
/// description lacks, as (schema, property, JSON schema of the property). The simulator serves and
/// accepts them because SDK clients meet them; this is the one list of exceptions to the strict
/// schemas, and nothing outside it may pass.
fn sdk_v8_extensions() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        // The machine an ADVANCED region's nodes run on (regions may differ); serverless regions omit both.
        ("Region", "machine_type", json!({"type": "string"})),
        ("Region", "num_virtual_cpus", json!({"type": "integer", "format": "int32"})),
        // UpdateCluster: a machine per region name, mutually exclusive with hardware.machine_spec.
        (
            "DedicatedClusterUpdateSpecification",
            "region_machine_specs",
            json!({"type": "object", "additionalProperties": {"$ref": "#/components/schemas/DedicatedMachineTypeSpecification"}}),
        ),
    ]
}

/// Merges [`sdk_v8_extensions`] into the description's schemas. An entry the description has
/// gained since fails here, so the list shrinks as the description catches up.
fn add_sdk_v8_extensions(components: &mut Value) {
    for (schema, property, definition) in sdk_v8_extensions() {
        let properties = components["schemas"][schema]["properties"]
            .as_object_mut()
            .unwrap_or_else(|| panic!("the description has no object schema {schema}"));
        assert!(!properties.contains_key(property), "the description now defines {schema}.{property}: drop it from sdk_v8_extensions");
        properties.insert(property.to_string(), definition);
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
    let creator = created["creator_id"].as_str().expect("a cluster names its creator").to_string();
    let creator = creator.as_str();
    let (_, org) = sim.call(Method::GET, &concrete(GetOrganizationInfo, &[]), None).await;
    let org_id = org["id"].as_str().unwrap().to_string();
    let org_id = org_id.as_str();
    // SDK v8: a dedicated region carries its machine, a serverless one does not.
    let (_, got) = sim.call(Method::GET, &concrete(GetCluster, &[a]), None).await;
    assert_eq!((got["regions"][0]["machine_type"].as_str(), got["regions"][0]["num_virtual_cpus"].as_i64()), (Some("m6i.xlarge"), Some(4)), "{got}");
    let (_, got) = sim.call(Method::GET, &concrete(GetCluster, &[&id]), None).await;
    assert!(got["regions"][0].get("machine_type").is_none() && got["regions"][0].get("num_virtual_cpus").is_none(), "{got}");
    // The region's own machine again: a valid SDK v8 body that starts no operation.
    let same_machine = json!({"dedicated": {"region_machine_specs": {"us-east-1": {"num_virtual_cpus": 4}}}});
    let both_ways = json!({"dedicated": {"region_machine_specs": {"us-east-1": {"num_virtual_cpus": 8}}, "hardware": {"machine_spec": {"num_virtual_cpus": 8}}}});
    let cases: Vec<Case> = vec![
        (GetCluster, vec![a], "", None, 200),
        (UpdateCluster, vec![a], "", Some(same_machine), 200),
        (UpdateCluster, vec![a], "", Some(both_ways), 400),
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
        (GetAllRolesForUser, vec![creator], "", None, 200),
        (AddUserToRole, vec![creator, "CLUSTER", c, "CLUSTER_ADMIN"], "", None, 200),
        (AddUserToRole, vec![creator, "ORGANIZATION", org_id, "CLUSTER_CREATOR"], "", None, 200),
        (AddUserToRole, vec![creator, "CLUSTER", c, "ORG_ADMIN"], "", None, 400),
        (AddUserToRole, vec![creator, "CLUSTER", c, "MAKE_COFFEE"], "", None, 400),
        (GetAllRolesForUser, vec![creator], "", None, 200),
        (RemoveUserFromRole, vec![creator, "CLUSTER", c, "CLUSTER_ADMIN"], "", None, 200),
        (RemoveUserFromRole, vec![creator, "CLUSTER", c, "CLUSTER_ADMIN"], "", None, 404),
        (GetAllRolesForUser, vec!["00000000-0000-4000-8000-000000000000"], "", None, 404),
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
        (EnableLogExport, vec![c], "", Some(json!({"type": "AZURE_LOG_ANALYTICS", "log_name": "crdb_logs", "auth_principal": AZURE_WORKSPACE, "azure_shared_key": AZURE_SHARED_KEY, "redact": true})), 200),
        (GetLogExportInfo, vec![c], "", None, 200),
        (EnableLogExport, vec![c], "", Some(json!({"type": "AZURE_LOG_ANALYTICS", "log_name": "crdb_logs", "auth_principal": AZURE_WORKSPACE})), 400),
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

    run_cases(&spec, &sim, cases).await;

    // A blackout window by its id, once created.
    let (_, list) = sim.call(Method::GET, &concrete(ListBlackoutWindows, &[a]), None).await;
    let window = list["blackout_windows"][0]["id"].as_str().unwrap().to_string();
    let w = window.as_str();
    let by_id: Vec<Case> = vec![
        (GetBlackoutWindow, vec![a, w], "", None, 200),
        (UpdateBlackoutWindow, vec![a, w], "", Some(json!({"end_time": in_days(12)})), 200),
        (DeleteBlackoutWindow, vec![a, w], "", None, 200),
    ];
    run_cases(&spec, &sim, by_id).await;

    // Egress rules of the ADVANCED cluster (its policy is DEFAULT_DENY since the case above): a
    // repeated idempotency key answers with the first rule; then the rule by its id.
    let rule = json!({"name": "roach-buckets", "type": "FQDN", "destination": "storage.googleapis.com", "ports": [443, 80], "description": "egress for GCP storage buckets", "idempotency_key": "conformance-1"});
    let egress: Vec<Case> = vec![
        (AddEgressRule, vec![a], "", Some(rule.clone()), 200),
        (AddEgressRule, vec![a], "", Some(rule), 200),
        (ListEgressRules, vec![a], "", None, 200),
        (AddEgressRule, vec![a], "", Some(json!({"name": "bad", "type": "CIDR", "destination": "storage.googleapis.com", "description": ""})), 400),
    ];
    let mut first_id = None;
    for case in egress {
        let (operation, expected) = (case.0, case.4);
        let response = run_case(&spec, &sim, case).await;
        if operation == AddEgressRule && expected == 200 {
            let id = response["rule"]["id"].as_str().unwrap().to_string();
            assert_eq!(first_id.get_or_insert(id.clone()), &id, "a repeated idempotency key made a second rule");
        }
    }
    let (_, list) = sim.call(reqwest::Method::GET, &concrete(ListEgressRules, &[a]), None).await;
    assert_eq!(list["rules"].as_array().unwrap().len(), 1, "{list}");
    let id = first_id.unwrap();
    let r = id.as_str();
    let by_id: Vec<Case> = vec![
        (GetEgressRule, vec![a, r], "", None, 200),
        (EditEgressRule, vec![a, r], "", Some(json!({"ports": [443], "description": "only HTTPS"})), 200),
        (DeleteEgressRule, vec![a, r], "", None, 200),
        (GetEgressRule, vec![a, r], "", None, 404),
    ];
    run_cases(&spec, &sim, by_id).await;

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

/// Sends each case through [`run_case`].
async fn run_cases(spec: &Spec, sim: &Sim, cases: Vec<Case<'_>>) {
    for case in cases {
        run_case(spec, sim, case).await;
    }
}

/// Sends one case, checking the request body (when the case expects success: some refused cases
/// send a body the description does not allow), the status and the response against the
/// description (an error answer against the `Status` body: 4xx responses are described only by
/// `default`); returns the response.
async fn run_case(spec: &Spec, sim: &Sim, (operation, params, query, body, expected): Case<'_>) -> Value {
    let (method, template) = (operation.method(), operation.path());
    if let Some(body) = &body
        && expected == 200
    {
        spec.check(&format!("{method} {template} request"), &spec.request_schema(operation), body);
    }
    let path = format!("{}{query}", concrete(operation, &params));
    let (status, response) = sim.call(method.clone(), &path, body.as_ref()).await;
    assert_eq!(status, expected, "{method} {path}: {response}");
    let schema = if expected == 200 { spec.response_schema(operation, 200) } else { spec.error_schema(operation) };
    spec.check(&format!("{method} {template} -> {status}"), &schema, &response);
    response
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
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(!serde_json::to_string(&dedicated_update).unwrap().contains("region_machine_specs"), "the operator sends no SDK v8 field");
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
    let add_rule = AddEgressRuleRequest {
        name: "kafka".into(),
        rule_type: EgressRuleType::Cidr,
        destination: "10.20.0.0/16".into(),
        ports: vec![9092],
        description: "changefeeds".into(),
        idempotency_key: Some("crdb-cloud-operator:0a1b2c3d-0000-4000-8000-000000000003".into()),
    };
    spec.check("add egress rule", &spec.request_schema(AddEgressRule), &serde_json::to_value(&add_rule).unwrap());
    let edit_rule = EditEgressRuleRequest { rule_type: Some(EgressRuleType::Fqdn), destination: Some("storage.googleapis.com".into()), ports: Some(vec![]), description: Some(String::new()), idempotency_key: None };
    spec.check("edit egress rule", &spec.request_schema(EditEgressRule), &serde_json::to_value(&edit_rule).unwrap());

    // The export blocks' writes, as their plans build them from a spec with every field set.
    let exports = sample_cluster(json!({
        "provider": "AWS",
        "dedicated": {"regionNodes": {"us-east-1": 3}, "hardware": {"machineType": "m6i.xlarge", "storageGib": 150}},
        "logExport": {"type": "AWS_CLOUDWATCH", "logName": "crdb", "authPrincipal": "arn:aws:iam::123456789012:role/logs", "awsExternalId": "ext-1", "region": "us-east-1", "redact": true, "groups": [{"logName": "devops", "channels": ["OPS", "HEALTH"], "minLevel": "ERROR", "redact": false}], "omittedChannels": ["SESSIONS"]},
        "metricExport": {"cloudwatch": {"roleArn": "arn:aws:iam::123456789012:role/metrics", "targetRegion": "us-east-1", "logGroupName": "crdb", "externalId": "ext-2"}}
    }));
    let Some(LogExportChange::Enable(log)) = LogExport::plan(LogExport::desired(&exports.spec).unwrap(), &LogExportObserved::default()) else { panic!("no log export request") };
    spec.check("enable log export", &spec.request_schema(EnableLogExport), &serde_json::to_value(&log.request).unwrap());
    // Azure Log Analytics: the workspace ID as the auth principal, the shared key from its Secret.
    let azure = sample_cluster(json!({
        "provider": "AZURE",
        "dedicated": {"regionNodes": {"eastus2": 3}, "hardware": {"numVirtualCpus": 4, "storageGib": 150}},
        "logExport": {"type": "AZURE_LOG_ANALYTICS", "logName": "crdb_logs", "authPrincipal": AZURE_WORKSPACE, "azureSharedKeySecretRef": {"name": "azure-logs", "key": "shared-key"}, "groups": [{"logName": "crdb_ops", "channels": ["OPS"]}]}
    }));
    let read = LogExportObserved { shared_key: Some(AzureSharedKey::new(AZURE_SHARED_KEY)), key_fingerprint: Some("fp".into()), ..Default::default() };
    let Some(LogExportChange::Enable(log)) = LogExport::plan(LogExport::desired(&azure.spec).unwrap(), &read) else { panic!("no Azure log export request") };
    let body = serde_json::to_value(&log.request).unwrap();
    assert_eq!((body["auth_principal"].as_str(), body["azure_shared_key"].as_str()), (Some(AZURE_WORKSPACE), Some(AZURE_SHARED_KEY)), "{body}");
    spec.check("enable Azure log export", &spec.request_schema(EnableLogExport), &body);
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

    // The SDK v8 fields pass where the list puts them, with the type it gives, and nowhere else.
    let update = spec.validator_for(&spec.request_schema(UpdateCluster));
    let per_region = |machine: Value| json!({"dedicated": {"region_machine_specs": {"us-east-1": machine}}});
    assert!(update.is_valid(&per_region(json!({"machine_type": "m6i.2xlarge"}))));
    assert!(!update.is_valid(&per_region(json!("m6i.2xlarge"))));
    assert!(!update.is_valid(&per_region(json!({"machine_family": "m6i"}))));
    assert!(!update.is_valid(&json!({"serverless": {"region_machine_specs": {}}})));
    let region = spec.validator_for(&json!({"$ref": "#/components/schemas/Region"}));
    let dns = json!({"name": "us-east-1", "sql_dns": "s", "ui_dns": "u", "internal_dns": "i", "private_endpoint_dns": "p", "node_count": 3});
    let with = |field: &str, value: Value| {
        let mut r = dns.clone();
        r[field] = value;
        r
    };
    assert!(region.is_valid(&dns));
    assert!(region.is_valid(&with("machine_type", json!("m6i.xlarge"))));
    assert!(region.is_valid(&with("num_virtual_cpus", json!(4))));
    assert!(!region.is_valid(&with("num_virtual_cpus", json!("4"))));
    assert!(!region.is_valid(&with("memory_gib", json!(16))));
}

/// Service accounts and API keys: every operation's response (the key's secret only in the
/// create's answer), and the bodies the operator sends for them.
#[tokio::test]
async fn service_accounts_and_api_keys_conform_to_the_official_description() {
    use crdb_cloud_operator::api::{APIKey, ServiceAccount};
    use crdb_cloud_operator::controller::kinds::{api_key, service_account};
    use reqwest::Method;
    let spec = Spec::load();
    let sim = Sim::start().await;

    // The operator's bodies.
    let mut sa = ServiceAccount::new("ci", serde_json::from_value(json!({"name": "ci-deployer", "description": "deploys"})).unwrap());
    let create_sa = serde_json::to_value(service_account::create_request(&sa)).unwrap();
    spec.check("create service account request", &spec.request_schema(CreateServiceAccount), &create_sa);
    let (status, created) = sim.call(Method::POST, &concrete(CreateServiceAccount, &[]), Some(&create_sa)).await;
    assert_eq!(status, 200, "{created}");
    spec.check("CreateServiceAccount response", &spec.response_schema(CreateServiceAccount, 200), &created);
    let account = created["id"].as_str().unwrap().to_string();
    sa.spec.description = Some("deploys everything".into());
    let (update, _) = service_account::diff("ci-deployer", "deploys everything", &serde_json::from_value(created.clone()).unwrap()).unwrap();
    let update = serde_json::to_value(update).unwrap();
    spec.check("update service account request", &spec.request_schema(UpdateServiceAccount), &update);

    let mut key = APIKey::new("ci-key", serde_json::from_value(json!({"serviceAccountId": account, "name": "ci-key"})).unwrap());
    let create_key = serde_json::to_value(api_key::create_request(&key)).unwrap();
    spec.check("create API key request", &spec.request_schema(CreateApiKey), &create_key);
    let (status, issued) = sim.call(Method::POST, &concrete(CreateApiKey, &[]), Some(&create_key)).await;
    assert_eq!(status, 200, "{issued}");
    spec.check("CreateApiKey response", &spec.response_schema(CreateApiKey, 200), &issued);
    assert!(issued["secret"].as_str().is_some_and(|s| s.starts_with(&format!("{}_", issued["api_key"]["id"].as_str().unwrap()))));
    let id = issued["api_key"]["id"].as_str().unwrap().to_string();
    key.spec.name = Some("ci-key-2".into());
    let rename = json!({"name": "ci-key-2"});

    let (a, k) = (account.as_str(), id.as_str());
    let of_account = format!("?service_account_id={a}");
    let cases: Vec<Case> = vec![
        (ListServiceAccounts, vec![], "", None, 200),
        (ListServiceAccounts, vec![], "?pagination.limit=1&pagination.sort_order=DESC", None, 200),
        (GetServiceAccount, vec![a], "", None, 200),
        (UpdateServiceAccount, vec![a], "", Some(update.clone()), 200),
        (ListApiKeys, vec![], "", None, 200),
        (ListApiKeys, vec![], &of_account, None, 200),
        (GetApiKey, vec![k], "", None, 200),
        (UpdateApiKey, vec![k], "", Some(rename), 200),
        // Errors carry the `Status` body.
        (CreateServiceAccount, vec![], "", Some(json!({"name": "", "description": "", "roles": []})), 400),
        (CreateApiKey, vec![], "", Some(json!({"name": "x", "service_account_id": "00000000-0000-4000-8000-000000000000"})), 404),
        (GetApiKey, vec!["CCDB1_nosuchkey"], "", None, 404),
        (ListApiKeys, vec![], "?service_account_id=00000000-0000-4000-8000-000000000000", None, 404),
        (DeleteApiKey, vec![k], "", None, 200),
        (DeleteServiceAccount, vec![a], "", None, 200),
        (GetServiceAccount, vec![a], "", None, 404),
    ];
    for case in cases {
        let operation = case.0;
        let response = run_case(&spec, &sim, case).await;
        // Only the create's answer carries a key's secret.
        assert!(!response.to_string().contains("\"secret\""), "{operation} shows a key's secret: {response}");
    }
}

/// A Folder resource with this spec, as the operator would read it.
fn sample_folder(name: &str, spec: Value) -> crdb_cloud_operator::api::Folder {
    let mut folder = crdb_cloud_operator::api::Folder::new(name, serde_json::from_value(spec).unwrap());
    folder.metadata.uid = Some("0a1b2c3d-0000-4000-8000-0000000000f1".into());
    folder
}

/// Every folder operation: the simulator's answers (successes and errors) and the operator's
/// request bodies (built by the Folder kind's own create and plan) against the description.
#[tokio::test]
async fn folder_operations_conform_to_the_official_description() {
    use crdb_cloud_operator::controller::kinds::folder;
    use reqwest::Method;
    let spec = Spec::load();
    let sim = Sim::start().await;
    let call = async |operation: Operation, params: &[&str], query: &str, body: Option<Value>, expected: u16| -> Value {
        // Every body here conforms, the refused ones too.
        if let Some(body) = body.as_ref().filter(|_| expected != 200) {
            spec.check(&format!("{operation} request"), &spec.request_schema(operation), body);
        }
        run_case(&spec, &sim, (operation, params.to_vec(), query, body, expected)).await
    };

    // The operator's create bodies: at the root with labels, and under a parent.
    let top = serde_json::to_value(folder::create_request(&sample_folder("platform", json!({"labels": {"team": "platform"}})))).unwrap();
    let created = call(CreateFolder, &[], "", Some(top), 200).await;
    let platform = created["resource_id"].as_str().unwrap().to_string();
    let p = platform.as_str();
    let child = serde_json::to_value(folder::create_request(&sample_folder("prod", json!({"parentId": p})))).unwrap();
    let prod = call(CreateFolder, &[], "", Some(child), 200).await["resource_id"].as_str().unwrap().to_string();
    assert_eq!(call(GetFolder, &[&prod], "", None, 200).await["path"][0]["name"], "platform");
    call(ListFolders, &[], "", None, 200).await;
    assert_eq!(call(ListFolders, &[], "?path=%2Fplatform%2Fprod", None, 200).await["folders"][0]["resource_id"], prod.as_str());

    // The operator's update body: a rename, a move and the labels, from the Folder's plan.
    let cloud: FolderResource = serde_json::from_value(call(GetFolder, &[&prod], "", None, 200).await).unwrap();
    let wanted = sample_folder("prod", json!({"name": "production", "parentId": "root", "labels": {"env": "prod"}}));
    let (update, _) = folder::diff(&wanted, &cloud).expect("a change");
    call(UpdateFolder, &[&prod], "", Some(serde_json::to_value(&update).unwrap()), 200).await;
    call(UpdateFolder, &[&prod], "", Some(json!({"parent_id": p})), 200).await;

    // A cluster in the folder; the folder's contents list folders, then clusters.
    let mut in_folder = cluster_plan::create_request(&sample_cluster(json!({"provider": "GCP", "serverless": {"regions": ["us-central1"]}})), "0a1b2c3d-0000-4000-8000-0000000000f2");
    in_folder.spec.parent_id = Some(platform.clone());
    let cluster = call(CreateCluster, &[], "", Some(serde_json::to_value(&in_folder).unwrap()), 200).await;
    let contents = call(ListFolderContents, &[p], "", None, 200).await;
    let types: Vec<&str> = contents["resources"].as_array().unwrap().iter().map(|r| r["resource_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["FOLDER", "CLUSTER"]);
    call(ListFolderContents, &["root"], "?pagination.limit=1", None, 200).await;

    // The refusals users meet, each with the Status body.
    call(DeleteFolder, &[p], "", None, 400).await;
    call(CreateFolder, &[], "", Some(json!({"name": "production", "parent_id": p})), 409).await;
    call(CreateFolder, &[], "", Some(json!({"name": "x", "parent_id": "00000000-0000-4000-8000-000000000000"})), 400).await;
    call(UpdateFolder, &[p], "", Some(json!({"parent_id": prod})), 400).await;
    call(GetFolder, &["00000000-0000-4000-8000-000000000000"], "", None, 404).await;
    call(ListFolderContents, &["00000000-0000-4000-8000-000000000000"], "", None, 404).await;
    call(UpdateCluster, &[cluster["id"].as_str().unwrap()], "", Some(json!({"parent_id": "00000000-0000-4000-8000-000000000000"})), 400).await;

    // Emptied, both go (the cluster moves once CREATED).
    for _ in 0..50 {
        let (_, c) = sim.call(Method::GET, &concrete(GetCluster, &[cluster["id"].as_str().unwrap()]), None).await;
        if c["state"] == "CREATED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    call(UpdateCluster, &[cluster["id"].as_str().unwrap()], "", Some(json!({"parent_id": "root"})), 200).await;
    call(DeleteFolder, &[&prod], "", None, 200).await;
    call(DeleteFolder, &[p], "", None, 200).await;
    call(DeleteFolder, &[p], "", None, 404).await;
}

/// The JWT issuer operations: every answer (successes and the refusals a user meets) to the
/// official schemas, and the requests the test sends to the request schemas.
#[tokio::test]
async fn jwt_issuer_responses_conform_to_the_official_description() {
    use reqwest::Method;
    let spec = Spec::load();
    let sim = Sim::start().await;
    let jwks = r#"{"keys":[{"kty":"RSA","alg":"RS256","e":"AQAB","n":"tid8bJCI5Fxt","kid":"k1"}]}"#;
    let full = json!({"issuer_url": "https://a.example.com", "audience": "crdb", "jwks": jwks, "claim": "email", "identity_map": [{"token_identity": "/^sso_(.*)$", "cc_identity": "\\1"}]});
    let minimal = json!({"issuer_url": "https://b.example.com", "audience": "crdb"});
    let creates: Vec<Case> = vec![
        (AddJWTIssuer, vec![], "", Some(full.clone()), 200),
        (AddJWTIssuer, vec![], "", Some(full), 409),
        (AddJWTIssuer, vec![], "", Some(json!({"issuer_url": "https://c.example.com", "audience": "crdb", "jwks": "not json"})), 400),
        (AddJWTIssuer, vec![], "", Some(json!({"issuer_url": "c.example.com", "audience": "crdb"})), 400),
        (AddJWTIssuer, vec![], "", Some(json!({"issuer_url": "https://c.example.com", "audience": "crdb", "identity_map": [{"token_identity": "/^(.*)$", "cc_identity": "x"}]})), 400),
        (AddJWTIssuer, vec![], "", Some(minimal), 200),
        (ListJWTIssuers, vec![], "", None, 200),
        (ListJWTIssuers, vec![], "?pagination.limit=1&pagination.sort_order=DESC", None, 200),
        (GetJWTIssuer, vec!["00000000-0000-4000-8000-000000000000"], "", None, 404),
        (GetJWTIssuer, vec!["not-a-uuid"], "", None, 400),
    ];
    run_cases(&spec, &sim, creates).await;
    // A one-item page of two says where the next one starts; the claim defaults to sub.
    let (_, page) = sim.call(Method::GET, &format!("{}?pagination.limit=1", concrete(ListJWTIssuers, &[])), None).await;
    assert_eq!(page["jwt_issuers"].as_array().map(Vec::len), Some(1), "{page}");
    assert!(page["pagination"]["next_page"].as_str().is_some_and(|t| !t.is_empty()), "{page}");
    let (_, all) = sim.call(Method::GET, &concrete(ListJWTIssuers, &[]), None).await;
    let issuers = all["jwt_issuers"].as_array().unwrap();
    assert_eq!(issuers.len(), 2, "{all}");
    assert_eq!(issuers[1]["claim"], "sub", "the default claim: {all}");
    let id = issuers[0]["id"].as_str().unwrap().to_string();
    let i = id.as_str();

    let by_id: Vec<Case> = vec![
        (GetJWTIssuer, vec![i], "", None, 200),
        (UpdateJWTIssuer, vec![i], "", Some(json!({"audience": "crdb-2", "identity_map": []})), 200),
        (UpdateJWTIssuer, vec![i], "", Some(json!({"issuer_url": "https://b.example.com"})), 409),
        (UpdateJWTIssuer, vec![i], "", Some(json!({"jwks": "{\"keys\": 1}"})), 400),
        (DeleteJWTIssuer, vec![i], "", None, 200),
        (DeleteJWTIssuer, vec![i], "", None, 404),
        (UpdateJWTIssuer, vec![i], "", Some(json!({"audience": "x"})), 404),
    ];
    for case in by_id {
        let (operation, expected) = (case.0, case.4);
        let response = run_case(&spec, &sim, case).await;
        if operation == UpdateJWTIssuer && expected == 200 {
            assert_eq!((response["audience"].as_str(), response["issuer_url"].as_str()), (Some("crdb-2"), Some("https://a.example.com")), "{response}");
        }
    }
}

/// The operator's JWT issuer requests, as its plan builds them from a spec with every field set.
#[test]
fn jwt_issuer_request_bodies_conform_to_the_official_description() {
    use crdb_cloud_operator::api::JWTIssuerSpec;
    use crdb_cloud_operator::controller::kinds::jwt_issuer::{create_request, diff};
    let spec = Spec::load();
    let issuer: JWTIssuerSpec = serde_json::from_value(json!({
        "issuerUrl": "https://token.example.com",
        "audience": "crdb",
        "jwks": "{\"keys\": [{\"kty\": \"RSA\", \"e\": \"AQAB\", \"n\": \"abc\"}]}",
        "claim": "email",
        "identityMap": [{"tokenIdentity": "/^sso_(.*)$", "ccIdentity": "\\1"}, {"tokenIdentity": "bot", "ccIdentity": "sa-1"}],
    }))
    .unwrap();
    let create = create_request(&issuer);
    spec.check("add JWT issuer", &spec.request_schema(AddJWTIssuer), &serde_json::to_value(&create).unwrap());
    let held = JwtIssuer { id: "1234abcd-1234-1234-abcd-12345678abcd".into(), issuer_url: "https://old.example.com".into(), audience: "old".into(), ..Default::default() };
    let (update, fields) = diff(&issuer, &held);
    assert_eq!(fields.len(), 5, "every field differs: {fields:?}");
    spec.check("update JWT issuer", &spec.request_schema(UpdateJWTIssuer), &serde_json::to_value(&update).unwrap());
}
