//! The Cloud client against the in-process simulator over real HTTP: every operation, pagination,
//! error classification, the per-key request budget (rate, sharing between clients, priorities and
//! Retry-After pauses) and the retry rules (idempotent requests are retried on 5xx, creates are sent
//! once). Every test starts its own simulator on 127.0.0.1:0 with short delays and reads what the
//! simulator served from its admin surface (`/_simulator/`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crdb_cloud::models::*;
use crdb_cloud::{
    ApiKey, BudgetConfig, BudgetRegistry, ClientConfig, CloudClient, CloudClients, CloudError, Operation, Priority, RetryPolicy,
};
use crdb_cloud_operator::controller::reason::Reason;
use crdb_cloud_simulator::admin_api::{FaultKind, FaultSpec, RequestRecord, Stats};
use crdb_cloud_simulator::admin_client::AdminClient;
use crdb_cloud_simulator::{self as simulator, RunningSimulator, SimulatorConfig};
use futures::StreamExt;

const KEY: &str = "client-test-key-a-5ecret";
const KEY_B: &str = "client-test-key-b-5ecret";

/// Every operation the client offers: all of the table but the simulator's alternative routes.
fn client_operations() -> Vec<Operation> {
    Operation::ALL.iter().copied().filter(|op| !matches!(op, Operation::EditDatabase2 | Operation::AddAllowlistEntry2)).collect()
}

/// A simulator and the typed client of its admin surface.
struct Harness {
    sim: RunningSimulator,
    admin: AdminClient,
}

impl Harness {
    /// A simulator accepting `KEY` and `KEY_B`, rate-limited at `rate` requests/second per key
    /// (0 = off), creating clusters in 200 ms.
    async fn start(rate: u32) -> Self {
        crdb_cloud_operator::install_crypto_provider();
        let config = SimulatorConfig {
            api_keys: vec![KEY.into(), KEY_B.into()],
            cluster_create_delay: Duration::from_millis(200),
            operation_delay: Duration::from_millis(200),
            deleted_retention: Duration::from_secs(5),
            rate_limit_per_second: rate,
            ..Default::default()
        };
        let sim = simulator::start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let admin = AdminClient::new(sim.base_url());
        Self { sim, admin }
    }

    fn clients(&self, budget: BudgetConfig, retry: RetryPolicy) -> CloudClients {
        let config = ClientConfig {
            base_url: self.sim.base_url().parse().unwrap(),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry,
        };
        CloudClients::new(config, BudgetRegistry::new(budget)).unwrap()
    }

    /// The request log entries of one operation, oldest first.
    async fn requests(&self, operation: Operation) -> Vec<RequestRecord> {
        self.admin.requests_of(operation).await
    }

    async fn stats(&self) -> Stats {
        self.admin.stats().await
    }

    async fn sql_user_password(&self, cluster_id: &str, name: &str) -> String {
        self.admin.sql_user_password(cluster_id, name).await.expect("the user exists")
    }
}

/// A budget that never holds a test back.
fn fast_budget() -> BudgetConfig {
    BudgetConfig { rate_per_second: 1000.0, burst: 20, ..Default::default() }
}

/// The default number of retries with short backoff.
fn fast_retry() -> RetryPolicy {
    RetryPolicy { max_retries: 4, base_delay: Duration::from_millis(20), max_delay: Duration::from_millis(200) }
}

fn no_retry() -> RetryPolicy {
    RetryPolicy { max_retries: 0, ..fast_retry() }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn serverless(name: &str) -> CreateClusterRequest {
    CreateClusterRequest {
        name: name.to_string(),
        provider: CloudProvider::Gcp,
        spec: CreateClusterSpec {
            serverless: Some(ServerlessCreateSpec { regions: vec!["us-central1".into()], ..Default::default() }),
            labels: Some(labels(&[("env", "test")])),
            ..Default::default()
        },
    }
}

/// Polls `get_cluster` until the cluster is CREATED with no operation running.
async fn wait_settled(client: &CloudClient, id: &str) -> Cluster {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cluster = client.get_cluster(id).await.unwrap();
        if cluster.is_settled() {
            return cluster;
        }
        assert!(Instant::now() < deadline, "cluster {id} never settled: {cluster:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ready_cluster(client: &CloudClient, name: &str) -> String {
    let id = client.create_cluster(&serverless(name)).await.unwrap().id;
    wait_settled(client, &id).await;
    id
}

fn at(entry: &RequestRecord) -> chrono::DateTime<chrono::Utc> {
    entry.at.parse().unwrap()
}

#[track_caller]
fn assert_no_secret(err: &CloudError, secrets: &[&str]) {
    let shown = format!("{err} / {err:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "an error shows an API key: {shown}");
    }
}

// ---- 1. every operation ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_round_trips_through_the_simulator() {
    let h = Harness::start(0).await;
    let client = h.clients(fast_budget(), fast_retry()).client(ApiKey::new(KEY));

    // Organisation, versions, regions.
    let org = client.get_organization().await.unwrap();
    let state = h.admin.state().await;
    let org_ids: Vec<&str> = state.orgs.iter().map(|o| o.id.as_str()).collect();
    assert!(org_ids.contains(&org.id.as_str()), "{org:?} not in {org_ids:?}");
    assert!(!org.name.is_empty() && !org.label.is_empty() && !org.created_at.is_empty(), "{org:?}");

    let versions = client.list_cluster_versions().await.unwrap();
    assert!(!versions.is_empty());
    assert!(versions.iter().all(|v| v.version.starts_with('v') && !v.support_end.is_empty()), "{versions:?}");
    assert!(versions.iter().any(|v| v.support_status == SupportStatus::Supported), "{versions:?}");

    let regions = client.list_available_regions(&CloudProvider::Gcp, true).await.unwrap();
    assert!(!regions.is_empty());
    assert!(regions.iter().all(|r| r.provider == CloudProvider::Gcp && r.serverless), "{regions:?}");
    assert!(regions.iter().any(|r| r.name == "us-central1"), "{regions:?}");
    assert!(regions.windows(2).all(|w| w[0].distance <= w[1].distance), "sorted by distance");

    // Clusters: create, wait for CREATED, list, update.
    let created = client.create_cluster(&serverless("client-ops")).await.unwrap();
    assert_eq!(created.name, "client-ops");
    assert_eq!(created.state, ClusterState::Creating);
    assert_eq!((created.plan.clone(), created.cloud_provider.clone()), (Plan::Basic, CloudProvider::Gcp));
    assert_eq!(created.labels, labels(&[("env", "test")]));
    let id = created.id.clone();
    let cluster = wait_settled(&client, &id).await;
    assert_eq!(cluster.state, ClusterState::Created);
    assert_eq!(cluster.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["us-central1"]);
    let host = cluster.sql_dns.clone().expect("a CREATED cluster has a SQL DNS name");

    let listed = client.list_clusters(false).await.unwrap();
    assert_eq!(listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);

    let wanted = labels(&[("env", "prod"), ("team", "db")]);
    let update = UpdateClusterSpec {
        labels: Some(wanted.clone()),
        delete_protection: Some(DeleteProtection::Enabled),
        ..Default::default()
    };
    let updated = client.update_cluster(&id, &update).await.unwrap();
    assert_eq!(updated.labels, wanted);
    assert!(updated.delete_protection_enabled());
    assert_eq!(client.get_cluster(&id).await.unwrap().labels, wanted);

    // Connection string.
    let cs = client.get_connection_string(&id, Some("appdb"), Some("app")).await.unwrap();
    assert_eq!(
        cs.params,
        ConnectionStringParameters {
            host: host.clone(),
            port: "26257".into(),
            database: "appdb".into(),
            username: Some("app".into())
        }
    );
    assert_eq!(cs.connection_string, format!("postgresql://app@{host}:26257/appdb?sslmode=verify-full"));
    let cs = client.get_connection_string(&id, None, None).await.unwrap();
    assert_eq!((cs.params.database.as_str(), cs.params.username.as_deref()), ("defaultdb", None));

    // Backups.
    let backup = client.get_backup_configuration(&id).await.unwrap();
    assert_eq!(backup, BackupConfiguration { enabled: true, retention_days: 30, frequency_minutes: 60 });
    let change = UpdateBackupConfiguration { enabled: Some(false), retention_days: Some(7), frequency_minutes: Some(15) };
    let changed = client.update_backup_configuration(&id, &change).await.unwrap();
    assert_eq!(changed, BackupConfiguration { enabled: false, retention_days: 7, frequency_minutes: 15 });
    assert_eq!(client.get_backup_configuration(&id).await.unwrap(), changed);

    // Log and metric export (read only while configured: this test allows no 404).
    let log = EnableLogExportRequest {
        type_: LogExportType::GcpCloudLogging,
        log_name: "default".into(),
        auth_principal: "my-project".into(),
        aws_external_id: None,
        azure_shared_key: None,
        groups: vec![LogExportGroup { log_name: "devops".into(), channels: vec!["OPS".into()], min_level: Some(LogLevel::Warning), redact: None }],
        omitted_channels: vec!["SESSIONS".into()],
        redact: Some(true),
        region: None,
    };
    let enabled = client.enable_log_export(&id, &log).await.unwrap();
    assert_eq!(enabled.status, Some(LogExportStatus::Enabling));
    assert_eq!(enabled.spec.as_ref().unwrap().groups, log.groups);
    let read = client.get_log_export(&id).await.unwrap().unwrap();
    assert_eq!(read.spec.unwrap().log_name.as_deref(), Some("default"));
    let azure = EnableLogExportRequest {
        type_: LogExportType::AzureLogAnalytics,
        log_name: "crdb_logs".into(),
        auth_principal: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        azure_shared_key: Some(AzureSharedKey::new("QXp1cmUtY2xpZW50LWtleQ==")),
        groups: vec![],
        ..log.clone()
    };
    assert_eq!(client.enable_log_export(&id, &azure).await.unwrap().spec.unwrap().type_, Some(LogExportType::AzureLogAnalytics));
    assert_eq!(h.admin.azure_shared_key(&id).await.as_deref(), Some("QXp1cmUtY2xpZW50LWtleQ=="), "the key is sent in the body");
    assert_eq!(client.delete_log_export(&id).await.unwrap().status, Some(LogExportStatus::Disabling));
    let datadog = EnableDatadogMetricExportRequest { site: DatadogSite::Eu1, api_key: DatadogApiKey::new("0123456789abcdef0123456789abWXYZ") };
    assert_eq!(client.enable_datadog_metric_export(&id, &datadog).await.unwrap().api_key.as_deref(), Some("WXYZ"));
    assert_eq!(client.get_datadog_metric_export(&id).await.unwrap().unwrap().site, DatadogSite::Eu1);
    assert_eq!(h.admin.datadog_api_key(&id).await.as_deref(), Some(datadog.api_key.expose()));
    client.delete_datadog_metric_export(&id).await.unwrap();
    let cloudwatch = EnableCloudWatchMetricExportRequest { role_arn: "arn:aws:iam::123456789012:role/m".into(), log_group_name: Some("crdb".into()), ..Default::default() };
    assert_eq!(client.enable_cloudwatch_metric_export(&id, &cloudwatch).await.unwrap().role_arn, cloudwatch.role_arn);
    assert_eq!(client.get_cloudwatch_metric_export(&id).await.unwrap().unwrap().log_group_name.as_deref(), Some("crdb"));
    client.delete_cloudwatch_metric_export(&id).await.unwrap();
    let prometheus = client.enable_prometheus_metric_export(&id).await.unwrap();
    assert_eq!(prometheus.targets.keys().collect::<Vec<_>>(), ["us-central1"]);
    assert_eq!(client.get_prometheus_metric_export(&id).await.unwrap().unwrap().targets, prometheus.targets);
    assert_eq!(client.delete_prometheus_metric_export(&id).await.unwrap().status, Some(MetricExportStatus::Disabling));

    // SQL users.
    assert_eq!(client.create_sql_user(&id, "app", "first-password").await.unwrap(), SqlUser { name: "app".into() });
    assert_eq!(client.list_sql_users(&id).await.unwrap().items, [SqlUser { name: "app".into() }]);
    assert_eq!(h.sql_user_password(&id, "app").await, "first-password");
    assert_eq!(client.update_sql_user_password(&id, "app", "second-password").await.unwrap().name, "app");
    assert_eq!(h.sql_user_password(&id, "app").await, "second-password");
    assert_eq!(client.delete_sql_user(&id, "app").await.unwrap().name, "app");
    assert_eq!(client.list_sql_users(&id).await.unwrap().items, []);

    // Databases; table_count is an int64 sent as a string.
    let db = |name: &str| Database { name: name.into(), table_count: Some(0) };
    assert_eq!(client.create_database(&id, "appdb").await.unwrap(), db("appdb"));
    assert_eq!(client.rename_database(&id, "appdb", "appdb2").await.unwrap(), db("appdb2"));
    assert_eq!(client.list_databases(&id).await.unwrap().items, [db("appdb2"), db("defaultdb")]);
    assert_eq!(client.delete_database(&id, "appdb2").await.unwrap().name, "appdb2");
    assert_eq!(client.list_databases(&id).await.unwrap().items, [db("defaultdb")]);

    // IP allowlist: the CIDR travels in two path segments.
    let allow_all = AllowlistEntry { cidr_ip: "0.0.0.0".into(), cidr_mask: 0, name: Some("Allow all".into()), sql: true, ui: true };
    let office = AllowlistEntry { cidr_ip: "10.1.0.0".into(), cidr_mask: 16, name: Some("office".into()), sql: true, ui: false };
    assert_eq!(client.add_allowlist_entry(&id, &office).await.unwrap(), office);
    let change = AllowlistEntryUpdate { name: Some("office-vpn".into()), sql: false, ui: true };
    let vpn = client.update_allowlist_entry(&id, "10.1.0.0", 16, &change).await.unwrap();
    let expected_vpn = AllowlistEntry { name: Some("office-vpn".into()), sql: false, ui: true, ..office.clone() };
    assert_eq!(vpn, expected_vpn);
    assert_eq!(client.list_allowlist(&id).await.unwrap().items, [allow_all.clone(), expected_vpn.clone()]);
    assert_eq!(client.delete_allowlist_entry(&id, "10.1.0.0", 16).await.unwrap(), expected_vpn);
    assert_eq!(client.list_allowlist(&id).await.unwrap().items, [allow_all]);
    let cidr_path = format!("/api/v1/clusters/{id}/networking/allowlist/10.1.0.0/16");
    for operation in [Operation::UpdateAllowlistEntry, Operation::DeleteAllowlistEntry] {
        let log = h.requests(operation).await;
        assert_eq!(log.len(), 1, "{operation}: {log:?}");
        assert_eq!((log[0].method.as_str(), log[0].path.as_str()), (operation.method().as_str(), cidr_path.as_str()));
    }

    // A dedicated cluster: nodes, egress, CMEK, client CA, and its public CA certificate.
    let dedicated: CreateClusterRequest = serde_json::from_value(serde_json::json!({
        "name": "client-adv", "provider": "AWS",
        "spec": {"dedicated": {"region_nodes": {"us-east-1": 3}, "hardware": {"machine_spec": {"num_virtual_cpus": 4}, "storage_gib": 150}}}
    }))
    .unwrap();
    let adv = client.create_cluster(&dedicated).await.unwrap().id;
    let adv_cluster = wait_settled(&client, &adv).await;
    assert!(adv_cluster.account_id.is_some(), "{adv_cluster:?}");
    let nodes = client.list_cluster_nodes(&adv).await.unwrap().items;
    assert_eq!(nodes.len(), 3);
    assert!(nodes.iter().all(|n| n.region_name == "us-east-1" && n.status == NodeStatus::Live), "{nodes:?}");
    assert!(client.get_connection_string(&adv, None, Some("app")).await.is_ok(), "the client sends `os`, which dedicated clusters require");
    client.set_egress_traffic_policy(&adv, false).await.unwrap();
    assert_eq!(client.get_cluster(&adv).await.unwrap().egress_traffic_policy, Some(EgressTrafficPolicy::DefaultDeny));
    let key = |uri: &str| CmekClusterSpec {
        region_specs: vec![CmekRegionSpec {
            region: "us-east-1".into(),
            key_spec: CmekKeySpec { key_type: CmekKeyType::AwsKms, uri: uri.into(), auth_principal: "arn:aws:iam::1:role/crdb".into() },
        }],
    };
    assert_eq!(client.get_cmek(&adv).await.unwrap().status, Some(CmekStatus::Disabled));
    let enabling = client.enable_cmek(&adv, &key("arn:aws:kms:us-east-1:1:key/a")).await.unwrap();
    assert_eq!(enabling.status, Some(CmekStatus::Enabling));
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.get_cmek(&adv).await.unwrap().status != Some(CmekStatus::Enabled) {
        assert!(Instant::now() < deadline, "CMEK never became ENABLED");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rotated = client.update_cmek(&adv, &key("arn:aws:kms:us-east-1:1:key/b")).await.unwrap();
    assert_eq!(rotated.region_infos[0].current_key().map(|k| k.uri.as_str()), Some("arn:aws:kms:us-east-1:1:key/b"));
    let ca = client.get_cluster_ca_cert(&adv).await.unwrap();
    assert_eq!(crdb_cloud::certificate::check_pem(&ca), Ok(1));
    assert_eq!(client.get_client_ca_cert(&adv).await.unwrap().status, Some(ClientCaCertStatus::NotSet));
    let set = client.set_client_ca_cert(&adv, &ca).await.unwrap();
    assert_eq!((set.status, set.x509_pem_cert.as_deref()), (Some(ClientCaCertStatus::IsSet), Some(ca.as_str())));
    assert_eq!(client.update_client_ca_cert(&adv, &ca).await.unwrap().status, Some(ClientCaCertStatus::IsSet));
    assert_eq!(client.delete_client_ca_cert(&adv).await.unwrap().status, Some(ClientCaCertStatus::NotSet));
    client.delete_cluster(&adv).await.unwrap();

    // Delete: protection first has to come off.
    let off = UpdateClusterSpec { delete_protection: Some(DeleteProtection::Disabled), ..Default::default() };
    assert!(!client.update_cluster(&id, &off).await.unwrap().delete_protection_enabled());
    let deleted = client.delete_cluster(&id).await.unwrap();
    assert_eq!(deleted.state, ClusterState::Deleted);
    assert!(deleted.deleted_at.is_some());
    assert_eq!(client.list_clusters(false).await.unwrap(), []);
    let inactive = client.list_clusters(true).await.unwrap();
    let mut inactive: Vec<(&str, ClusterState)> = inactive.iter().map(|c| (c.id.as_str(), c.state.clone())).collect();
    inactive.sort();
    let mut expected = [(id.as_str(), ClusterState::Deleted), (adv.as_str(), ClusterState::Deleted)];
    expected.sort();
    assert_eq!(inactive, expected);

    // Maintenance, on an ADVANCED cluster: the weekly window, blackout windows, the deferral policy.
    let dedicated = CreateClusterRequest {
        name: "client-maint".into(),
        provider: CloudProvider::Aws,
        spec: CreateClusterSpec {
            dedicated: Some(DedicatedCreateSpec {
                region_nodes: [("us-east-1".to_string(), 3)].into(),
                hardware: HardwareSpec {
                    machine_spec: Some(MachineSpec { num_virtual_cpus: Some(4), ..Default::default() }),
                    storage_gib: Some(150),
                    disk_iops: None,
                },
                ..Default::default()
            }),
            ..Default::default()
        },
    };
    let adv = client.create_cluster(&dedicated).await.unwrap().id;
    wait_settled(&client, &adv).await;
    let window = MaintenanceWindow { offset_duration: "93600s".into(), window_duration: "28800s".into() };
    assert_eq!(client.set_maintenance_window(&adv, &window).await.unwrap(), window);
    assert_eq!(client.get_maintenance_window(&adv).await.unwrap(), window);
    assert_eq!(client.delete_maintenance_window(&adv).await.unwrap(), window);
    let at = |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let request = CreateBlackoutWindowRequest { start_time: at(10), end_time: at(11) };
    let blackout = client.create_blackout_window(&adv, &request).await.unwrap();
    assert_eq!(client.list_blackout_windows(&adv).await.unwrap(), std::slice::from_ref(&blackout));
    assert_eq!(client.get_blackout_window(&adv, &blackout.id).await.unwrap(), blackout);
    let longer = UpdateBlackoutWindowRequest { end_time: Some(at(12)), ..Default::default() };
    let moved = client.update_blackout_window(&adv, &blackout.id, &longer).await.unwrap();
    assert_ne!(moved.end_time, blackout.end_time);
    client.delete_blackout_window(&adv, &blackout.id).await.unwrap();
    assert_eq!(client.list_blackout_windows(&adv).await.unwrap(), []);
    let deferral = client.get_version_deferral(&adv).await.unwrap();
    assert_eq!((deferral.deferral_policy, deferral.deferred_until), (DeferralPolicy::NotDeferred, None));
    let deferred = client.set_version_deferral(&adv, &ClusterVersionDeferralUpdate { deferral_policy: DeferralPolicy::Deferral30Days }).await.unwrap();
    assert_eq!(deferred.deferral_policy, DeferralPolicy::Deferral30Days);
    assert!(deferred.deferred_until.is_some(), "{deferred:?}");
    service_accounts_and_api_keys(&h, &client).await;

    // Egress rules, added only under DEFAULT_DENY: a repeated idempotency key answers with the
    // first rule; edits keep the id.
    client.set_egress_traffic_policy(&adv, false).await.unwrap();
    let add = AddEgressRuleRequest {
        name: "kafka".into(),
        rule_type: EgressRuleType::Cidr,
        destination: "10.20.0.0/16".into(),
        ports: vec![9092],
        description: "changefeeds".into(),
        idempotency_key: Some("client-ops-1".into()),
    };
    let rule = client.add_egress_rule(&adv, &add).await.unwrap();
    assert_eq!((rule.name.as_str(), rule.state.clone(), rule.ports.clone()), ("kafka", EgressRuleState::PendingCreation, vec![9092]));
    assert_eq!(client.add_egress_rule(&adv, &add).await.unwrap().id, rule.id, "the repeated key made a second rule");
    assert_eq!(client.list_egress_rules(&adv).await.unwrap().items.len(), 1);
    assert_eq!(client.get_egress_rule(&adv, &rule.id).await.unwrap().id, rule.id);
    let edit = EditEgressRuleRequest { ports: Some(vec![]), description: Some("every port".into()), ..Default::default() };
    let edited = client.edit_egress_rule(&adv, &rule.id, &edit).await.unwrap();
    assert_eq!((edited.id.as_str(), edited.ports.clone(), edited.state.clone()), (rule.id.as_str(), vec![], EgressRuleState::PendingUpdate));
    assert_eq!(client.delete_egress_rule(&adv, &rule.id).await.unwrap().state, EgressRuleState::PendingDeletion);
    assert!(client.list_egress_rules(&adv).await.unwrap().items.is_empty());

    // Folders: a tree, renamed and moved, listed, its contents, then removed.
    let team = client.create_folder(&CreateFolderRequest { name: "team".into(), ..Default::default() }).await.unwrap();
    assert_eq!((team.parent_id.as_str(), team.resource_type.clone()), (ROOT_FOLDER, FolderResourceType::Folder));
    let inner = CreateFolderRequest { name: "prod".into(), parent_id: Some(team.resource_id.clone()), labels: Some([("env".to_string(), "prod".to_string())].into()) };
    let prod = client.create_folder(&inner).await.unwrap();
    assert_eq!(client.get_folder(&prod.resource_id).await.unwrap().path, vec![PathSegment { id: team.resource_id.clone(), name: "team".into() }]);
    let renamed = client.update_folder(&prod.resource_id, &UpdateFolderSpec { name: Some("live".into()), ..Default::default() }).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.labels.get("env").map(String::as_str)), ("live", Some("prod")));
    assert_eq!(client.list_folders().await.unwrap().items.len(), 2);
    assert_eq!(client.list_folder_contents(&team.resource_id).await.unwrap().items, vec![renamed.clone()]);
    client.delete_folder(&prod.resource_id).await.unwrap();
    client.delete_folder(&team.resource_id).await.unwrap();
    assert!(client.list_folder_contents(ROOT_FOLDER).await.unwrap().items.iter().all(|r| r.resource_type == FolderResourceType::Cluster));

    // JWT issuers of the organisation: add, list, get, update, delete.
    let jwks = r#"{"keys":[{"kty":"RSA","e":"AQAB","n":"abc"}]}"#;
    let add = AddJwtIssuerRequest { issuer_url: "https://ci.example.com".into(), audience: "crdb".into(), jwks: Some(jwks.into()), ..Default::default() };
    let issuer = client.add_jwt_issuer(&add).await.unwrap();
    assert_eq!((issuer.issuer_url.as_str(), issuer.claim(), issuer.jwks.as_deref()), ("https://ci.example.com", "sub", Some(jwks)));
    assert_eq!(client.list_jwt_issuers().await.unwrap().items, std::slice::from_ref(&issuer));
    assert_eq!(client.get_jwt_issuer(&issuer.id).await.unwrap(), issuer);
    let update = UpdateJwtIssuerRequest { claim: Some("email".into()), ..Default::default() };
    let updated = client.update_jwt_issuer(&issuer.id, &update).await.unwrap();
    assert_eq!((updated.claim(), updated.audience.as_str()), ("email", "crdb"));
    assert_eq!(client.delete_jwt_issuer(&issuer.id).await.unwrap(), updated);
    assert!(client.list_jwt_issuers().await.unwrap().items.is_empty());

    // Private endpoints on that AWS cluster: services (CREATING, then AVAILABLE), a connection
    // (STATUS_PENDING, then STATUS_AVAILABLE; the endpoint id travels in the path), a trusted owner.
    assert_eq!(client.list_private_endpoint_services(&adv).await.unwrap().services, []);
    let created = client.create_private_endpoint_services(&adv).await.unwrap().services;
    assert_eq!(created.iter().map(|s| (s.region_name.as_str(), s.status.clone())).collect::<Vec<_>>(), [("us-east-1", PrivateEndpointServiceStatus::Creating)]);
    assert_eq!(created[0].availability_zone_ids, ["use1-az1", "use1-az2", "use1-az3"]);
    assert!(created[0].aws.as_ref().is_some_and(|a| a.service_name == created[0].name && a.service_id == created[0].endpoint_service_id), "{created:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.list_private_endpoint_services(&adv).await.unwrap().services[0].status != PrivateEndpointServiceStatus::Available {
        assert!(Instant::now() < deadline, "the services never became AVAILABLE");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let endpoint = "vpce-0a1b2c3d4e5f67890";
    let added = client.add_private_endpoint_connection(&adv, endpoint).await.unwrap();
    assert_eq!((&added.status, added.region()), (&PrivateEndpointConnectionStatus::Pending, Some("us-east-1")));
    assert_eq!(added.endpoint_service_id, created[0].endpoint_service_id);
    assert_eq!(client.list_private_endpoint_connections(&adv).await.unwrap().items.len(), 1);
    client.delete_private_endpoint_connection(&adv, endpoint).await.unwrap();
    assert_eq!(client.list_private_endpoint_connections(&adv).await.unwrap().items, []);
    let request = AddPrivateEndpointTrustedOwnerRequest { external_owner_id: "123456789012".into(), owner_type: PrivateEndpointTrustedOwnerType::AwsAccountId };
    let owner = client.add_private_endpoint_trusted_owner(&adv, &request).await.unwrap();
    assert_eq!((owner.cluster_id.as_str(), owner.external_owner_id.as_str()), (adv.as_str(), "123456789012"));
    assert_eq!(client.get_private_endpoint_trusted_owner(&adv, &owner.id).await.unwrap(), owner);
    assert_eq!(client.list_private_endpoint_trusted_owners(&adv).await.unwrap().items, std::slice::from_ref(&owner));
    assert_eq!(client.remove_private_endpoint_trusted_owner(&adv, &owner.id).await.unwrap(), owner);
    assert_eq!(client.list_private_endpoint_trusted_owners(&adv).await.unwrap().items, []);

    // Role grants of the key's own service account: one added, read back, revoked.
    let principal = crdb_cloud_simulator::state::creator_id_for_key(KEY);
    let grant = BuiltInRole { name: OrganizationUserRole::ClusterDeveloper, resource: RoleResource { resource_type: ResourceType::Cluster, id: Some(adv.clone()) } };
    assert!(client.add_user_to_role(&principal, &grant).await.unwrap().roles.contains(&grant));
    assert_eq!(client.get_roles_for_user(&principal).await.unwrap().roles, std::slice::from_ref(&grant));
    assert_eq!(client.remove_user_from_role(&principal, &grant).await.unwrap().roles, []);

    // Every client operation reached the simulator, and nothing failed along the way.
    let stats = h.stats().await;
    for operation in client_operations() {
        assert!(stats.count(operation, 200) >= 1, "{operation} never succeeded: {stats:?}");
    }
    for (operation, statuses) in &stats.by_operation {
        let statuses: Vec<&String> = statuses.keys().collect();
        assert_eq!(statuses, ["200"], "{operation} had failures: {stats:?}");
    }
    assert!(!serde_json::to_string(&h.admin.requests(0, None).await).unwrap().contains(KEY));
}

// ---- 2. pagination ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_sql_users_follows_every_page() {
    let h = Harness::start(0).await;
    let client = h.clients(fast_budget(), fast_retry()).client(ApiKey::new(KEY));
    let id = ready_cluster(&client, "paginated").await;

    let expected: Vec<String> = (0..1200).map(|i| format!("user{i:04}")).collect();
    let (client_ref, id_ref) = (&client, id.as_str());
    let created: Vec<Result<SqlUser, CloudError>> = futures::stream::iter(&expected)
        .map(|name| async move { client_ref.create_sql_user(id_ref, name, &format!("pw-{name}-long")).await })
        .buffer_unordered(16)
        .collect()
        .await;
    for result in &created {
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(h.stats().await.count(Operation::CreateSQLUser, 200), 1200);

    let listing = client.list_sql_users(&id).await.unwrap();
    assert_eq!(listing.pages, 3, "the listing says what it cost");
    let listed: Vec<String> = listing.items.into_iter().map(|u| u.name).collect();
    assert_eq!(listed.len(), expected.len());
    assert_eq!(listed.iter().collect::<BTreeSet<_>>().len(), expected.len(), "every user exactly once");
    assert_eq!(listed, expected, "in name order");

    // 500 per page: 500 + 500 + 200.
    let pages = h.requests(Operation::ListSQLUsers).await;
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages.iter().all(|p| p.status == 200 && p.path == format!("/api/v1/clusters/{id}/sql-users")));
}

// ---- 3. errors ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_classified_from_real_answers() {
    let h = Harness::start(0).await;
    let clients = h.clients(fast_budget(), no_retry());
    let client = clients.client(ApiKey::new(KEY));
    let mut seen: Vec<CloudError> = Vec::new();

    // NotFound.
    let ghost = "6f1c4a52-0000-4000-8000-000000000000";
    let err = client.get_cluster(ghost).await.unwrap_err();
    assert!(matches!(&err, CloudError::NotFound(m) if m.contains(ghost)), "{err:?}");
    assert!(err.is_not_found() && !err.is_retryable());
    seen.push(err);
    let err = client.list_sql_users(ghost).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");

    // A cluster with delete protection on.
    let mut request = serverless("guarded");
    request.spec.delete_protection = Some(DeleteProtection::Enabled);
    let id = client.create_cluster(&request).await.unwrap().id;
    wait_settled(&client, &id).await;

    // FailedPrecondition: delete with protection ENABLED.
    let err = client.delete_cluster(&id).await.unwrap_err();
    assert!(matches!(&err, CloudError::FailedPrecondition(m) if m.contains("delete protection")), "{err:?}");
    assert_eq!(Reason::from(&err).as_str(), "FailedPrecondition");
    assert_eq!(client.get_cluster(&id).await.unwrap().state, ClusterState::Created, "not deleted");
    seen.push(err);

    // AlreadyExists: SQL user, database, allowlist entry.
    client.create_sql_user(&id, "app", "password-1").await.unwrap();
    let err = client.create_sql_user(&id, "app", "password-2").await.unwrap_err();
    assert!(matches!(&err, CloudError::AlreadyExists(m) if m.contains("\"app\"")), "{err:?}");
    seen.push(err);
    client.create_database(&id, "appdb").await.unwrap();
    let err = client.create_database(&id, "appdb").await.unwrap_err();
    assert!(matches!(&err, CloudError::AlreadyExists(m) if m.contains("appdb")), "{err:?}");
    seen.push(err);
    let entry = AllowlistEntry { cidr_ip: "10.0.0.0".into(), cidr_mask: 8, name: None, sql: true, ui: false };
    client.add_allowlist_entry(&id, &entry).await.unwrap();
    let err = client.add_allowlist_entry(&id, &entry).await.unwrap_err();
    assert!(matches!(&err, CloudError::AlreadyExists(m) if m.contains("10.0.0.0/8")), "{err:?}");
    seen.push(err);

    // InvalidArgument, with the server's message.
    let err = client.create_sql_user(&id, "app2", "short").await.unwrap_err();
    assert!(matches!(&err, CloudError::InvalidArgument(m) if m == "field `password` must be at least 8 characters long"), "{err:?}");
    seen.push(err);
    let err = client.update_sql_user_password(&id, "app", "tiny").await.unwrap_err();
    assert!(matches!(&err, CloudError::InvalidArgument(m) if m.contains("`password`")), "{err:?}");
    let bad = AllowlistEntry { cidr_ip: "10.0.0.1".into(), ..entry.clone() };
    let err = client.add_allowlist_entry(&id, &bad).await.unwrap_err();
    assert!(matches!(&err, CloudError::InvalidArgument(m) if m.contains("did you mean 10.0.0.0/8")), "{err:?}");
    seen.push(err);
    let mut request = serverless("mars-cluster");
    request.spec.serverless.as_mut().unwrap().regions = vec!["mars-north1".into()];
    let err = client.create_cluster(&request).await.unwrap_err();
    assert!(matches!(&err, CloudError::InvalidArgument(m) if m.contains("mars-north1")), "{err:?}");
    seen.push(err);

    // Unauthenticated: a key the service does not know; the key is not repeated anywhere.
    let wrong_key = "wrong-key-Zq81xv-do-not-print";
    let stranger = clients.client(ApiKey::new(wrong_key));
    let err = stranger.get_organization().await.unwrap_err();
    assert!(matches!(&err, CloudError::Unauthenticated(_)), "{err:?}");
    assert!(err.is_credentials_problem() && !err.is_retryable());
    assert!(!format!("{stranger:?}").contains(wrong_key), "{stranger:?}");
    assert_no_secret(&err, &[wrong_key]);
    seen.push(err);

    // Transient: an injected 503, not retried with max_retries 0.
    h.admin.add_fault(&FaultSpec { status: Some(503), ..FaultSpec::on(Operation::GetOrganizationInfo) }).await;
    let err = client.get_organization().await.unwrap_err();
    assert!(matches!(&err, CloudError::Transient(m) if m.contains("503")), "{err:?}");
    assert!(err.is_retryable());
    seen.push(err);
    let org_log = h.requests(Operation::GetOrganizationInfo).await;
    let statuses: Vec<u64> = org_log.iter().map(|r| u64::from(r.status)).collect();
    assert_eq!(statuses, [401, 503], "no retry with max_retries 0");
    client.get_organization().await.unwrap();

    // Transient: nothing listening.
    let closed = CloudClients::new(
        ClientConfig { base_url: "http://127.0.0.1:1".parse().unwrap(), retry: no_retry(), ..Default::default() },
        BudgetRegistry::new(fast_budget()),
    )
    .unwrap();
    let err = closed.client(ApiKey::new(KEY)).get_organization().await.unwrap_err();
    assert!(matches!(&err, CloudError::Transient(_)), "{err:?}");
    seen.push(err);

    for err in &seen {
        assert_no_secret(err, &[KEY, wrong_key]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_answer_is_classified_and_pauses_the_key() {
    let h = Harness::start(2).await;
    let client = h.clients(BudgetConfig { rate_per_second: 100.0, burst: 1, ..Default::default() }, no_retry()).client(ApiKey::new(KEY));
    // The simulator's bucket holds 2; the client sends every 10 ms, far faster than 2/s.
    client.get_organization().await.unwrap();
    client.get_organization().await.unwrap();
    let limited_at = Instant::now();
    let err = client.get_organization().await.unwrap_err();
    match &err {
        CloudError::RateLimited { retry_after, message } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(1)));
            assert_eq!(message, "rate limit exceeded");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert_no_secret(&err, &[KEY]);
    let stats = h.stats().await;
    assert_eq!(stats.rate_limited, 1, "{stats:?}");
    let org = Operation::GetOrganizationInfo;
    assert_eq!((stats.count(org, 200), stats.count(org, 429), stats.by_operation[org.name()].len()), (2, 1, 2), "not retried");

    // Retry-After holds back the key's next request even without a retry.
    client.get_organization().await.unwrap();
    assert!(limited_at.elapsed() >= Duration::from_secs(1), "{:?}", limited_at.elapsed());
    assert_eq!(h.stats().await.rate_limited, 1);
}

// ---- 4. the budget ----

/// `n` concurrent GetOrganizationInfo calls through `client`, every one of which must succeed.
async fn organization_burst(client: &CloudClient, n: usize) {
    let calls: Vec<_> = (0..n)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get_organization().await })
        })
        .collect();
    for call in futures::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_burst_is_spaced_to_the_budget_without_429s() {
    let h = Harness::start(10).await;
    let clients = h.clients(BudgetConfig::default(), RetryPolicy::default());
    let client = clients.client(ApiKey::new(KEY));
    let start = Instant::now();
    organization_burst(&client, 100).await;
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_secs(9), "100 requests at 10/s took only {elapsed:?}");
    let stats = h.stats().await;
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    let org = Operation::GetOrganizationInfo;
    assert_eq!((stats.count(org, 200), stats.by_operation[org.name()].len()), (100, 1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_one_key_share_a_budget_and_other_keys_do_not() {
    let h = Harness::start(10).await;
    let clients = h.clients(BudgetConfig::default(), RetryPolicy::default());
    let first = clients.client(ApiKey::new(KEY));
    let second = clients.client(ApiKey::new(format!("  {KEY}\n")));
    let other = clients.client(ApiKey::new(KEY_B));
    assert_eq!(first.key_fingerprint(), second.key_fingerprint());
    assert_ne!(first.key_fingerprint(), other.key_fingerprint());

    let start = Instant::now();
    let spawn_calls = |client: &CloudClient| -> Vec<tokio::task::JoinHandle<Duration>> {
        (0..30)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    client.get_organization().await.unwrap();
                    start.elapsed()
                })
            })
            .collect()
    };
    let (a1, a2, b) = (spawn_calls(&first), spawn_calls(&second), spawn_calls(&other));
    let finish = |handles: Vec<tokio::task::JoinHandle<Duration>>| async move {
        futures::future::join_all(handles).await.into_iter().map(Result::unwrap).max().unwrap()
    };
    let (a1, a2, b) = tokio::join!(finish(a1), finish(a2), finish(b));
    let shared = a1.max(a2);
    // 60 requests through one 10/s budget need 5.9 s; 30 through their own need 2.9 s.
    assert!(shared >= Duration::from_millis(5500), "two clients of one key finished in {shared:?}");
    assert!(b < Duration::from_millis(4500), "the other key waited for the first one: {b:?}");
    assert!(b < shared);

    let stats = h.stats().await;
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    let log = h.requests(Operation::GetOrganizationInfo).await;
    let mut per_org: BTreeMap<String, usize> = BTreeMap::new();
    for entry in &log {
        *per_org.entry(entry.org.clone().unwrap()).or_default() += 1;
    }
    let mut counts: Vec<usize> = per_org.into_values().collect();
    counts.sort();
    assert_eq!(counts, [30, 60]);
}

// ---- 5. Retry-After ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_by_every_caller_of_the_key() {
    let h = Harness::start(0).await;
    let clients = h.clients(BudgetConfig::default(), RetryPolicy::default());
    let client = clients.client(ApiKey::new(KEY));
    h.admin.add_fault(&FaultSpec { status: Some(429), ..FaultSpec::on(Operation::GetOrganizationInfo) }).await;

    let start = Instant::now();
    organization_burst(&client, 4).await;
    assert!(start.elapsed() >= Duration::from_secs(1), "{:?}", start.elapsed());

    let log = h.requests(Operation::GetOrganizationInfo).await;
    let statuses: Vec<u64> = log.iter().map(|r| u64::from(r.status)).collect();
    assert_eq!(statuses, [429, 200, 200, 200, 200]);
    // The 429 said Retry-After: 1, so nothing went out for the key within the next second: not the
    // retry, and not the calls that were already waiting for the budget.
    let limited_at = at(&log[0]);
    for entry in &log[1..] {
        let gap = at(entry) - limited_at;
        assert!(gap >= chrono::Duration::milliseconds(1000), "request {} sent {gap} after the 429", entry.seq);
    }
}

// ---- 6. retries of idempotent requests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_requests_are_retried_on_5xx() {
    let h = Harness::start(0).await;
    let client = h.clients(fast_budget(), RetryPolicy { max_retries: 3, ..fast_retry() }).client(ApiKey::new(KEY));
    let id = client.create_cluster(&serverless("retried")).await.unwrap().id;

    h.admin.add_fault(&FaultSpec { status: Some(503), count: 2, ..FaultSpec::on(Operation::GetCluster) }).await;
    assert_eq!(client.get_cluster(&id).await.unwrap().id, id);
    let log = h.requests(Operation::GetCluster).await;
    let statuses: Vec<u64> = log.iter().map(|r| u64::from(r.status)).collect();
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(log.iter().map(|r| r.fault).collect::<Vec<_>>(), [Some(FaultKind::Status), Some(FaultKind::Status), None]);

    // Retries stop after max_retries (3): four attempts, then the error.
    h.admin.add_fault(&FaultSpec { status: Some(502), count: 10, ..FaultSpec::on(Operation::GetCluster) }).await;
    let err = client.get_cluster(&id).await.unwrap_err();
    assert!(matches!(&err, CloudError::Transient(m) if m.contains("502")), "{err:?}");
    assert_eq!(h.requests(Operation::GetCluster).await.len(), 3 + 4);
}

// ---- 7. creates are sent once ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_are_not_retried_after_a_failure() {
    let h = Harness::start(0).await;
    let client = h.clients(fast_budget(), fast_retry()).client(ApiKey::new(KEY));

    // A 503 before any work was done: the error comes back, one request was sent, nothing exists.
    h.admin.add_fault(&FaultSpec { status: Some(503), ..FaultSpec::on(Operation::CreateCluster) }).await;
    let err = client.create_cluster(&serverless("refused-once")).await.unwrap_err();
    assert!(matches!(&err, CloudError::Transient(m) if m.contains("503")), "{err:?}");
    let log = h.requests(Operation::CreateCluster).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].status, 503);
    assert_eq!(client.list_clusters(true).await.unwrap(), []);

    // The response is lost after the cluster was created: still one request, and the cluster
    // exists, so the caller must look for it before trying again.
    h.admin.add_fault(&FaultSpec { drop_response: true, ..FaultSpec::on(Operation::CreateCluster) }).await;
    let err = client.create_cluster(&serverless("lost-reply")).await.unwrap_err();
    assert!(matches!(&err, CloudError::Transient(_)), "{err:?}");
    let log = h.requests(Operation::CreateCluster).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!((log[1].status, log[1].fault), (503, Some(FaultKind::DropResponse)));
    let clusters = client.list_clusters(false).await.unwrap();
    assert_eq!(clusters.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["lost-reply"]);
    // A blind retry would be refused: the name is taken.
    let err = client.create_cluster(&serverless("lost-reply")).await.unwrap_err();
    assert!(matches!(&err, CloudError::InvalidArgument(m) if m.contains("already exists")), "{err:?}");

    // A 429 is the one exception: the service did no work, so the create goes again after Retry-After.
    h.admin.add_fault(&FaultSpec { status: Some(429), ..FaultSpec::on(Operation::CreateCluster) }).await;
    let created = client.create_cluster(&serverless("after-429")).await.unwrap();
    assert_eq!(created.name, "after-429");
    let statuses: Vec<u64> = h.requests(Operation::CreateCluster).await.iter().map(|r| u64::from(r.status)).collect();
    assert_eq!(statuses, [503, 503, 400, 429, 200]);
}

// ---- 8. priorities ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_requests_overtake_queued_background_ones() {
    let h = Harness::start(0).await;
    let clients = h.clients(BudgetConfig { rate_per_second: 5.0, burst: 1, ..Default::default() }, fast_retry());
    let base = clients.client(ApiKey::new(KEY));
    let background = base.with_priority(Priority::Background);
    let interactive = base.with_priority(Priority::Interactive);
    let done: Arc<Mutex<Vec<&'static str>>> = Arc::default();

    // Background work (drift checks) fetches the organisation; the interactive work lists versions,
    // so the two are told apart in the simulator's request log too.
    let mut handles: Vec<_> = (0..20)
        .map(|_| {
            let (client, done) = (background.clone(), done.clone());
            tokio::spawn(async move {
                client.get_organization().await.unwrap();
                done.lock().unwrap().push("background");
            })
        })
        .collect();
    // Once two background requests went out, the other 18 are queued in the budget.
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.requests(Operation::GetOrganizationInfo).await.len() < 2 {
        assert!(Instant::now() < deadline, "background requests never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handles.extend((0..3).map(|_| {
        let (client, done) = (interactive.clone(), done.clone());
        tokio::spawn(async move {
            assert!(!client.list_cluster_versions().await.unwrap().is_empty());
            done.lock().unwrap().push("interactive");
        })
    }));
    for handle in handles {
        handle.await.unwrap();
    }

    let done = done.lock().unwrap().clone();
    assert_eq!(done.len(), 23);
    let tenth_background = done.iter().enumerate().filter(|(_, k)| **k == "background").nth(9).unwrap().0;
    let last_interactive = done.iter().rposition(|k| *k == "interactive").unwrap();
    assert!(last_interactive < tenth_background, "completion order: {done:?}");

    // The same order as the simulator saw it.
    let log = h.admin.requests(0, None).await;
    let sent: Vec<&str> = log.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(sent.len(), 23);
    let tenth_background = sent.iter().enumerate().filter(|(_, op)| **op == Operation::GetOrganizationInfo.name()).nth(9).unwrap().0;
    let last_interactive = sent.iter().rposition(|op| *op == Operation::ListMajorClusterVersions.name()).unwrap();
    assert!(last_interactive < tenth_background, "request order: {sent:?}");
}

/// Every service account and API key operation of the client, and the key a create answers with
/// working as a credential of the same organisation.
async fn service_accounts_and_api_keys(h: &Harness, client: &CloudClient) {
    let request = CreateServiceAccountRequest { name: "ci".into(), description: "deploys".into(), roles: vec![] };
    let account = client.create_service_account(&request).await.unwrap();
    assert_eq!(client.get_service_account(&account.id).await.unwrap(), account);
    let renamed = client.update_service_account(&account.id, &UpdateServiceAccountSpecification { name: Some("ci-2".into()), description: None }).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.description.as_str()), ("ci-2", "deploys"));
    assert!(client.list_service_accounts().await.unwrap().items.iter().any(|a| a.id == account.id));

    let created = client.create_api_key(&CreateApiKeyRequest { name: "ci-key".into(), service_account_id: account.id.clone() }).await.unwrap();
    assert!(!format!("{created:?}").contains(created.secret.expose()), "Debug masks the secret");
    assert_eq!(client.get_api_key(&created.api_key.id).await.unwrap(), created.api_key);
    assert_eq!(client.list_api_keys(Some(&account.id)).await.unwrap().items, vec![created.api_key.clone()]);
    let renamed = client.update_api_key(&created.api_key.id, &UpdateApiKeySpecification { name: Some("ci-key-2".into()) }).await.unwrap();
    assert_eq!(renamed.name, "ci-key-2");
    // The new key reaches the same organisation.
    let as_key = h.clients(fast_budget(), no_retry()).client(ApiKey::new(created.secret.expose()));
    assert_eq!(as_key.get_organization().await.unwrap(), client.get_organization().await.unwrap());
    assert!(as_key.list_api_keys(None).await.unwrap().items.iter().any(|k| k.id == created.api_key.id));
    // (What a deleted key meets is in tests/simulator_api.rs: this run counts only successes.)
    client.delete_api_key(&created.api_key.id).await.unwrap();
    client.delete_service_account(&account.id).await.unwrap();
}

// ---- folders: errors and pages ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_refusals_are_classified_and_long_lists_are_paged() {
    let h = Harness::start(0).await;
    let client = h.clients(fast_budget(), fast_retry()).client(ApiKey::new(KEY));
    let folder = |name: &str, parent: Option<&str>| CreateFolderRequest { name: name.into(), parent_id: parent.map(str::to_string), labels: None };
    let top = client.create_folder(&folder("top", None)).await.unwrap();
    let t = top.resource_id.as_str();
    // A non-empty folder is a failed precondition, a taken name already exists, a missing one is not found.
    client.create_folder(&folder("child", Some(t))).await.unwrap();
    assert!(matches!(client.delete_folder(t).await, Err(CloudError::FailedPrecondition(m)) if m.contains("not empty")));
    assert!(matches!(client.create_folder(&folder("child", Some(t))).await, Err(CloudError::AlreadyExists(_))));
    assert!(matches!(client.get_folder("00000000-0000-4000-8000-000000000000").await, Err(CloudError::NotFound(_))));
    assert!(matches!(client.update_folder(t, &UpdateFolderSpec { name: Some("bad/name".into()), ..Default::default() }).await, Err(CloudError::InvalidArgument(_))));
    // Another key is another organisation: it sees none of these.
    let other = h.clients(fast_budget(), fast_retry()).client(ApiKey::new(KEY_B));
    assert!(other.list_folders().await.unwrap().items.is_empty());
    assert!(matches!(other.get_folder(t).await, Err(CloudError::NotFound(_))));

    // 1,100 folders at the root: three pages of at most 500, in name order, each exactly once.
    let names: Vec<String> = (0..1100).map(|i| format!("f{i:04}")).collect();
    let client_ref = &client;
    let created: Vec<Result<FolderResource, CloudError>> =
        futures::stream::iter(&names).map(|name| async move { client_ref.create_folder(&folder(name, None)).await }).buffer_unordered(16).collect().await;
    assert!(created.iter().all(Result::is_ok));
    let listing = client.list_folders().await.unwrap();
    assert_eq!(listing.pages, 3);
    let listed: Vec<&str> = listing.items.iter().map(|f| f.name.as_str()).filter(|n| n.starts_with('f')).collect();
    assert_eq!(listed, names.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(client.list_folder_contents(ROOT_FOLDER).await.unwrap().pages, 3);
}
