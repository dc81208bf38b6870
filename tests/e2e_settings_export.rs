//! spec.logExport and spec.metricExport end to end: a real kube-apiserver, kubectl, the real
//! operator binary and the Cloud API simulator. Each block is set, changed, put back after a
//! change made in the cloud, refused or failed by the cloud (the other blocks and the cluster
//! carry on), turned off explicitly, left alone once removed, and deleted with its cluster. The
//! keys read from Secrets (Datadog's API key, Azure Log Analytics' shared key) follow their Secret
//! and never show.

use std::time::Duration;

use crdb_cloud::Operation;
use crdb_cloud::models::{
    AzureSharedKey, DatadogApiKey, DatadogSite, EnableCloudWatchMetricExportRequest, EnableDatadogMetricExportRequest, EnableLogExportRequest, LogExportStatus,
    LogExportType,
};
use crdb_cloud_operator::api::CockroachCluster;
use crdb_cloud_simulator::admin_api::{FaultSpec, ForceLogExportStatus};
use crdb_test_support::*;
use crdb_test_support::{World, kubectl};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);
const FIRST_KEY: &str = "dd0e2e0first0key0000000000a1b2c3";
const SECOND_KEY: &str = "dd0e2e0second0key000000000d4e5f6";
/// An Azure Log Analytics workspace ID and two shared keys (base64, as Azure shows them).
const WORKSPACE: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const AZURE_FIRST: &str = "QXp1cmVFMmVGaXJzdFNoYXJlZEtleTAwMDAwMDAw";
const AZURE_SECOND: &str = "QXp1cmVFMmVTZWNvbmRTaGFyZWRLZXkxMTExMTEx";

async fn apply(namespace: &str, manifest: &str) {
    kubectl(&["apply", "-n", namespace, "-f", "-"], Some(manifest)).await.ok();
}

async fn patch(api: &Api<CockroachCluster>, name: &str, spec: Value) {
    api.patch(name, &PatchParams::default(), &Patch::Merge(&json!({ "spec": spec }))).await.unwrap();
}

/// The cluster's status as JSON (for the blocks' sub-objects).
fn status(cluster: &CockroachCluster) -> Value {
    serde_json::to_value(cluster).unwrap()["status"].clone()
}

fn synced(cluster: &CockroachCluster, condition_type: &str) -> bool {
    condition(cluster, condition_type).is_some_and(|(s, _, _)| s == "True")
}

/// `serverless_cluster(name)` with `blocks` (YAML lines indented by two) added to its spec.
fn cluster_with(name: &str, blocks: &str) -> String {
    format!("{}{blocks}", serverless_cluster(name))
}

fn key_secret(name: &str, key: &str) -> String {
    secret_with(name, "api-key", key)
}

/// A Secret `name` holding `value` under `data_key`.
fn secret_with(name: &str, data_key: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  {data_key}: {value}\n")
}

const LOG_EXPORT: &str = "  backup:
    frequencyMinutes: 15
  logExport:
    type: GCP_CLOUD_LOGGING
    logName: default
    authPrincipal: my-gcp-project
    groups:
      - logName: devops
        channels: [OPS, HEALTH]
        minLevel: WARNING
    omittedChannels: [SESSIONS]
";

#[tokio::test]
async fn log_export_is_set_changed_put_back_stalled_by_a_credentials_error_and_left_alone_once_removed() {
    let env = World::start_with("export-log", |options| options.resync_seconds = 3).await;
    let (ns, admin) = (&env.ns, &env.admin);
    let api: Api<CockroachCluster> = ns.api();

    // Set: the cloud gets the configuration and works on it (ENABLING, then ENABLED).
    apply(ns.name(), &cluster_with("logs-db", LOG_EXPORT)).await;
    let cr = wait_for(&api, "logs-db", TIMEOUT, "Ready with log export ENABLED", |c| {
        is_ready(c) && synced(c, "LogExportSynced") && status(c)["logExport"]["status"] == "ENABLED"
    })
    .await;
    let id = cr.status.clone().unwrap().cluster_id.unwrap();
    let cloud = admin.cloud().get_log_export(&id).await.unwrap().unwrap();
    let spec = cloud.spec.unwrap();
    assert_eq!(spec.log_name.as_deref(), Some("default"));
    assert_eq!(spec.groups[0].channels, ["OPS", "HEALTH"]);
    assert_eq!(status(&cr)["logExport"]["type"], "GCP_CLOUD_LOGGING");
    // Unset blocks cost nothing: no metric export was ever read.
    for op in [Operation::GetDatadogMetricExportInfo, Operation::GetCloudWatchMetricExportInfo, Operation::GetPrometheusMetricExportInfo] {
        assert_eq!(admin.count(op).await, 0, "{op} requested for an unset block");
    }
    assert!(status(&cr).get("metricExport").is_none() && condition(&cr, "PrometheusMetricExportSynced").is_none());

    // Change: the whole configuration is sent again.
    patch(&api, "logs-db", json!({"logExport": {"omittedChannels": ["SESSIONS", "SQL_PERF"]}})).await;
    wait_for(&api, "logs-db", TIMEOUT, "Ready at generation 2", |c| is_ready(c) && c.metadata.generation == Some(2)).await;
    let cloud = admin.cloud().get_log_export(&id).await.unwrap().unwrap();
    assert_eq!(cloud.spec.unwrap().omitted_channels, ["SESSIONS", "SQL_PERF"]);
    let events = events_for(ns.name(), "logs-db").await;
    assert!(events.iter().any(|e| e.starts_with("Normal Updated") && e.contains("spec.logExport")), "{events:?}");

    // Drift: someone points the export elsewhere in the console; it is put back.
    let hijack = EnableLogExportRequest {
        type_: LogExportType::GcpCloudLogging,
        log_name: "hijacked".into(),
        auth_principal: "other-project".into(),
        aws_external_id: None,
        azure_shared_key: None,
        groups: vec![],
        omitted_channels: vec![],
        redact: None,
        region: None,
    };
    admin.cloud().enable_log_export(&id, &hijack).await.unwrap();
    eventually("the log export to be put back", TIMEOUT, || async {
        let spec = admin.cloud().get_log_export(&id).await.unwrap().and_then(|i| i.spec).unwrap_or_default();
        spec.log_name.as_deref() == Some("default") && spec.auth_principal.as_deref() == Some("my-gcp-project")
    }, |held| *held)
    .await;
    let events = events_for(ns.name(), "logs-db").await;
    assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected") && e.contains("spec.logExport")), "{events:?}");

    // The cloud cannot use the credentials: the block is Stalled with the cloud's message; the
    // backup block and the cluster carry on.
    let message = "unable to write to project my-gcp-project: permission logging.logEntries.create denied";
    let force = ForceLogExportStatus { status: LogExportStatus::CredentialsError, user_message: message.into() };
    admin.force_log_export_status(&id, &force).await;
    let stalled = wait_for(&api, "logs-db", TIMEOUT, "Stalled by the credentials error", |c| is_stalled_with(c, "ExportFailed")).await;
    let (state, reason, shown) = condition(&stalled, "LogExportSynced").unwrap();
    assert_eq!((state.as_str(), reason.as_str()), ("False", "ExportFailed"));
    assert!(shown.contains("spec.logExport") && shown.contains("CREDENTIALS_ERROR") && shown.contains(message), "{shown}");
    assert_eq!(status(&stalled)["logExport"]["status"], "CREDENTIALS_ERROR");
    assert_eq!(status(&stalled)["logExport"]["userMessage"], message);
    assert!(!is_ready(&stalled) && synced(&stalled, "BackupSynced"), "{:?}", status(&stalled));
    assert_eq!(status(&stalled)["state"], "CREATED");
    let (_, _, ready_message) = condition(&stalled, "Ready").unwrap();
    assert!(ready_message.contains("spec.logExport"), "{ready_message}");

    // A changed configuration is sent again, which clears the error.
    patch(&api, "logs-db", json!({"logExport": {"redact": true}})).await;
    wait_for(&api, "logs-db", TIMEOUT, "Ready again", |c| is_ready(c) && synced(c, "LogExportSynced") && c.metadata.generation == Some(3)).await;
    assert_eq!(admin.cloud().get_log_export(&id).await.unwrap().unwrap().spec.unwrap().redact, Some(true));

    // Removed: no longer read, and the export keeps running in the cloud.
    patch(&api, "logs-db", json!({"logExport": null})).await;
    let cr = wait_for(&api, "logs-db", TIMEOUT, "Ready without the block", |c| {
        is_ready(c) && c.metadata.generation == Some(4) && condition(c, "LogExportSynced").is_none()
    })
    .await;
    assert!(status(&cr).get("logExport").is_none(), "{:?}", status(&cr));
    let reads = admin.count(Operation::GetLogExportInfo).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(admin.count(Operation::GetLogExportInfo).await, reads, "an unset block was read");
    assert!(admin.cloud().get_log_export(&id).await.unwrap().is_some(), "removing the block deleted the export");
    assert_eq!(admin.count(Operation::DeleteLogExport).await, 0);

    // Turned off explicitly.
    patch(&api, "logs-db", json!({"logExport": {"enabled": false}})).await;
    let off = wait_for(&api, "logs-db", TIMEOUT, "log export off", |c| {
        is_ready(c) && c.metadata.generation == Some(5) && status(c)["logExport"]["status"] == "NOT_CONFIGURED"
    })
    .await;
    assert!(admin.cloud().get_log_export(&id).await.unwrap().is_none());
    assert!(synced(&off, "LogExportSynced"));
    assert_eq!(admin.count(Operation::DeleteLogExport).await, 1);

    // Deleted with the block set: the cluster goes as usual.
    patch(&api, "logs-db", json!({"logExport": {"enabled": true, "type": "AWS_CLOUDWATCH", "logName": "crdb", "authPrincipal": "arn:aws:iam::123456789012:role/logs"}})).await;
    wait_for(&api, "logs-db", TIMEOUT, "log export on again", |c| is_ready(c) && c.metadata.generation == Some(6)).await;
    api.delete("logs-db", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "logs-db", TIMEOUT).await;
    assert!(admin.live_clusters_named("logs-db").await.is_empty());
}

const METRIC_EXPORT: &str = "  metricExport:
    datadog:
      site: US1
      apiKeySecretRef:
        name: datadog
        key: api-key
    cloudwatch:
      roleArn: arn:aws:iam::123456789012:role/metrics
      logGroupName: crdb-metrics
    prometheus:
      enabled: true
";

#[tokio::test]
async fn metric_exports_are_set_put_back_refused_turned_off_and_deleted_with_the_cluster() {
    let env = World::start_with("export-metric", |options| options.resync_seconds = 3).await;
    let (ns, admin, operator) = (&env.ns, &env.admin, env.operator());
    let api: Api<CockroachCluster> = ns.api();

    apply(ns.name(), &key_secret("datadog", FIRST_KEY)).await;
    apply(ns.name(), &cluster_with("metrics-db", METRIC_EXPORT)).await;
    let cr = wait_for(&api, "metrics-db", TIMEOUT, "Ready with the three exports", |c| {
        is_ready(c)
            && ["DatadogMetricExportSynced", "CloudWatchMetricExportSynced", "PrometheusMetricExportSynced"].iter().all(|t| synced(c, t))
            && status(c)["metricExport"]["prometheus"]["status"] == "ENABLED"
    })
    .await;
    let id = cr.status.clone().unwrap().cluster_id.unwrap();
    assert_eq!(admin.datadog_api_key(&id).await.as_deref(), Some(FIRST_KEY));
    let shown = status(&cr)["metricExport"].clone();
    assert_eq!(shown["datadog"]["site"], "US1");
    assert!(shown["prometheus"]["targets"]["us-central1"].as_str().unwrap().starts_with("https://"), "{shown}");
    let cloudwatch = admin.cloud().get_cloudwatch_metric_export(&id).await.unwrap().unwrap();
    assert_eq!(cloudwatch.log_group_name.as_deref(), Some("crdb-metrics"));
    assert_eq!(admin.count(Operation::GetLogExportInfo).await, 0, "the unset logExport block was read");

    // Drift: another Datadog key and another log group in the console; both are put back.
    let other = EnableDatadogMetricExportRequest { site: DatadogSite::Eu1, api_key: DatadogApiKey::new("someone-elses-key-0000000000zzzz") };
    admin.cloud().enable_datadog_metric_export(&id, &other).await.unwrap();
    let hijack = EnableCloudWatchMetricExportRequest { role_arn: cloudwatch.role_arn.clone(), log_group_name: Some("hijacked".into()), ..Default::default() };
    admin.cloud().enable_cloudwatch_metric_export(&id, &hijack).await.unwrap();
    eventually("both metric exports to be put back", TIMEOUT, || async {
        let datadog = admin.cloud().get_datadog_metric_export(&id).await.unwrap().unwrap();
        let cloudwatch = admin.cloud().get_cloudwatch_metric_export(&id).await.unwrap().unwrap();
        datadog.site == DatadogSite::Us1 && cloudwatch.log_group_name.as_deref() == Some("crdb-metrics")
    }, |held| *held)
    .await;
    assert_eq!(admin.datadog_api_key(&id).await.as_deref(), Some(FIRST_KEY));
    let events = events_for(ns.name(), "metrics-db").await;
    for block in ["spec.metricExport.datadog", "spec.metricExport.cloudwatch"] {
        assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected") && e.contains(block)), "{block}: {events:?}");
    }

    // Prometheus turned off in the console is turned back on.
    admin.cloud().delete_prometheus_metric_export(&id).await.unwrap();
    eventually("the Prometheus export to be back", TIMEOUT, || async { admin.cloud().get_prometheus_metric_export(&id).await.unwrap().is_some() }, |held| *held).await;
    let events = events_for(ns.name(), "metrics-db").await;
    assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected") && e.contains("spec.metricExport.prometheus")), "{events:?}");

    // Refused by the cloud: only the CloudWatch block fails; the others and the cluster carry on.
    admin.add_fault(&FaultSpec { status: Some(400), count: 1000, ..FaultSpec::on(Operation::EnableCloudWatchMetricExport) }).await;
    patch(&api, "metrics-db", json!({"metricExport": {"cloudwatch": {"logGroupName": "crdb-metrics-v2"}}})).await;
    let refused = wait_for(&api, "metrics-db", TIMEOUT, "the CloudWatch block refused", |c| {
        condition(c, "CloudWatchMetricExportSynced").is_some_and(|(s, _, _)| s == "False") && c.metadata.generation == Some(2)
    })
    .await;
    let (_, reason, message) = condition(&refused, "CloudWatchMetricExportSynced").unwrap();
    assert_eq!(reason, "CloudRejectedSpec", "{message}");
    assert!(message.contains("spec.metricExport.cloudwatch"), "{message}");
    assert!(synced(&refused, "DatadogMetricExportSynced") && synced(&refused, "PrometheusMetricExportSynced"));
    assert!(is_stalled_with(&refused, "CloudRejectedSpec") && !is_ready(&refused));
    assert_eq!(status(&refused)["state"], "CREATED");
    admin.clear_faults().await;

    // Turned off explicitly: Prometheus goes, the others stay.
    patch(&api, "metrics-db", json!({"metricExport": {"prometheus": {"enabled": false}, "cloudwatch": {"logGroupName": "crdb-metrics"}}})).await;
    wait_for(&api, "metrics-db", TIMEOUT, "Prometheus off", |c| {
        is_ready(c) && c.metadata.generation == Some(3) && status(c)["metricExport"]["prometheus"]["status"] == "NOT_CONFIGURED"
    })
    .await;
    assert!(admin.cloud().get_prometheus_metric_export(&id).await.unwrap().is_none());
    assert!(admin.cloud().get_datadog_metric_export(&id).await.unwrap().is_some());

    // Removed: Datadog is no longer read, and keeps running in the cloud.
    patch(&api, "metrics-db", json!({"metricExport": {"datadog": null}})).await;
    wait_for(&api, "metrics-db", TIMEOUT, "Ready without the Datadog block", |c| {
        is_ready(c) && c.metadata.generation == Some(4) && condition(c, "DatadogMetricExportSynced").is_none()
    })
    .await;
    let reads = admin.count(Operation::GetDatadogMetricExportInfo).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(admin.count(Operation::GetDatadogMetricExportInfo).await, reads, "an unset block was read");
    assert_eq!(admin.datadog_api_key(&id).await.as_deref(), Some(FIRST_KEY));
    assert_eq!(admin.count(Operation::DeleteDatadogMetricExport).await, 0);

    // The key showed nowhere the operator writes.
    let yaml = kubectl(&["get", "crdbcluster", "metrics-db", "-n", ns.name(), "-o", "yaml"], None).await.ok().stdout;
    let events = events_for(ns.name(), "metrics-db").await.join("\n");
    for (what, text) in [("status", yaml.as_str()), ("events", events.as_str()), ("operator log", operator.logs().as_str())] {
        assert!(!text.contains(FIRST_KEY) && !text.contains("someone-elses-key"), "a Datadog key is in the {what}");
    }

    // The external IDs the official API reserves for ADVANCED clusters are accepted there.
    let advanced = "apiVersion: crdbcloud.io/v1alpha1\nkind: CockroachCluster\nmetadata: {name: advanced-db}\nspec:\n  provider: AWS\n  dedicated:\n    regionNodes: {us-east-1: 3}\n    hardware: {numVirtualCpus: 4, storageGib: 150}\n  logExport: {type: AWS_CLOUDWATCH, logName: crdb, authPrincipal: 'arn:aws:iam::123456789012:role/logs', awsExternalId: ext-1}\n  metricExport:\n    cloudwatch: {roleArn: 'arn:aws:iam::123456789012:role/metrics', externalId: ext-2}\n";
    kubectl(&["apply", "--dry-run=server", "-n", ns.name(), "-f", "-"], Some(advanced)).await.ok();

    // Deleted with the blocks set.
    api.delete("metrics-db", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "metrics-db", TIMEOUT).await;
    assert!(admin.live_clusters_named("metrics-db").await.is_empty());
}

#[tokio::test]
async fn the_datadog_key_follows_its_secret_without_waiting_for_the_resync() {
    // A resync longer than the test: only the Secret watch can wake the cluster.
    let env = World::start_with("export-key", |options| options.resync_seconds = 600).await;
    let (ns, admin) = (&env.ns, &env.admin);
    let api: Api<CockroachCluster> = ns.api();
    let datadog = "  metricExport:\n    datadog:\n      site: EU1\n      apiKeySecretRef:\n        name: datadog\n        key: api-key\n";

    // The Secret is missing: the block says so, and the cluster itself is created.
    apply(ns.name(), &cluster_with("key-db", datadog)).await;
    let waiting = wait_for(&api, "key-db", TIMEOUT, "waiting for the key Secret", |c| {
        condition(c, "DatadogMetricExportSynced").is_some_and(|(s, r, _)| s == "False" && r == "SecretNotFound")
    })
    .await;
    let (_, _, message) = condition(&waiting, "DatadogMetricExportSynced").unwrap();
    assert!(message.contains("apiKeySecretRef") && message.contains("datadog"), "{message}");
    let id = waiting.status.clone().unwrap().cluster_id.unwrap();
    assert_eq!(status(&waiting)["state"], "CREATED");

    // Creating it wakes the cluster.
    apply(ns.name(), &key_secret("datadog", FIRST_KEY)).await;
    wait_for(&api, "key-db", TIMEOUT, "Synced once the Secret exists", |c| synced(c, "DatadogMetricExportSynced") && is_ready(c)).await;
    assert_eq!(admin.datadog_api_key(&id).await.as_deref(), Some(FIRST_KEY));

    // Rotating it sends the new key.
    let secrets: Api<Secret> = ns.api();
    secrets.patch("datadog", &PatchParams::default(), &Patch::Merge(&json!({"stringData": {"api-key": SECOND_KEY}}))).await.unwrap();
    eventually("the rotated key in the cloud", TIMEOUT, || async { admin.datadog_api_key(&id).await.as_deref() == Some(SECOND_KEY) }, |held| *held).await;
    let events = events_for(ns.name(), "key-db").await;
    assert!(events.iter().any(|e| e.contains("sent the API key from Secret datadog")), "{events:?}");
    assert!(!events.iter().any(|e| e.contains(FIRST_KEY) || e.contains(SECOND_KEY)));
}

const AZURE_LOG_EXPORT: &str = "  logExport:
    type: AZURE_LOG_ANALYTICS
    logName: crdb_logs
    authPrincipal: 0f8fad5b-d9cb-469f-a165-70867728950e
    azureSharedKeySecretRef:
      name: azure-logs
      key: shared-key
    groups:
      - logName: crdb_ops
        channels: [OPS, HEALTH]
";

#[tokio::test]
async fn azure_log_export_sends_the_shared_key_again_when_its_secret_changes_and_puts_drift_back_without_showing_it() {
    let env = World::start_with("export-azure", |options| options.resync_seconds = 3).await;
    let (ns, admin, operator) = (&env.ns, &env.admin, env.operator());
    let api: Api<CockroachCluster> = ns.api();
    let azure_cluster = |name: &str| cluster_with(name, AZURE_LOG_EXPORT).replace("provider: GCP", "provider: AZURE").replace("[us-central1]", "[eastus2]");

    // Set: the workspace ID goes as the auth principal, the key from the Secret with it.
    apply(ns.name(), &secret_with("azure-logs", "shared-key", AZURE_FIRST)).await;
    apply(ns.name(), &azure_cluster("azure-db")).await;
    let cr = wait_for(&api, "azure-db", TIMEOUT, "Ready with the Azure log export ENABLED", |c| {
        is_ready(c) && synced(c, "LogExportSynced") && status(c)["logExport"]["status"] == "ENABLED"
    })
    .await;
    let id = cr.status.clone().unwrap().cluster_id.unwrap();
    assert_eq!(admin.azure_shared_key(&id).await.as_deref(), Some(AZURE_FIRST));
    let spec = admin.cloud().get_log_export(&id).await.unwrap().unwrap().spec.unwrap();
    assert_eq!((spec.type_, spec.auth_principal.as_deref()), (Some(LogExportType::AzureLogAnalytics), Some(WORKSPACE)));
    assert_eq!(status(&cr)["logExport"]["type"], "AZURE_LOG_ANALYTICS");
    let first_fingerprint = status(&cr)["logExport"]["azureSharedKeyFingerprint"].as_str().expect("a fingerprint of the key sent").to_string();

    // A changed Secret sends the configuration again with the new key: an update, not drift,
    // and exactly one request (nothing is re-sent on the following resyncs).
    let sent = admin.count(Operation::EnableLogExport).await;
    let secrets: Api<Secret> = ns.api();
    secrets.patch("azure-logs", &PatchParams::default(), &Patch::Merge(&json!({"stringData": {"shared-key": AZURE_SECOND}}))).await.unwrap();
    eventually("the rotated shared key in the cloud", TIMEOUT, || async { admin.azure_shared_key(&id).await.as_deref() == Some(AZURE_SECOND) }, |held| *held).await;
    let cr = wait_for(&api, "azure-db", TIMEOUT, "a new fingerprint in status", |c| {
        synced(c, "LogExportSynced") && status(c)["logExport"]["azureSharedKeyFingerprint"].as_str().is_some_and(|f| f != first_fingerprint)
    })
    .await;
    assert!(is_ready(&cr));
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(admin.count(Operation::EnableLogExport).await, sent + 1, "the rotated key was sent more than once");
    let events = events_for(ns.name(), "azure-db").await;
    assert!(events.iter().any(|e| e.starts_with("Normal Updated") && e.contains("with the shared key from Secret azure-logs")), "{events:?}");
    assert!(!events.iter().any(|e| e.starts_with("Warning DriftCorrected")), "a rotated Secret is not drift: {events:?}");

    // Drift: another workspace and key set in the console; both are put back.
    let hijack = EnableLogExportRequest {
        type_: LogExportType::AzureLogAnalytics,
        log_name: "crdb_logs".into(),
        auth_principal: "11111111-2222-4333-8444-555555555555".into(),
        aws_external_id: None,
        azure_shared_key: Some(AzureSharedKey::new("c29tZW9uZS1lbHNlcy1henVyZS1rZXk=")),
        groups: vec![],
        omitted_channels: vec![],
        redact: None,
        region: None,
    };
    admin.cloud().enable_log_export(&id, &hijack).await.unwrap();
    eventually("the Azure log export to be put back", TIMEOUT, || async {
        let spec = admin.cloud().get_log_export(&id).await.unwrap().and_then(|i| i.spec).unwrap_or_default();
        spec.auth_principal.as_deref() == Some(WORKSPACE) && admin.azure_shared_key(&id).await.as_deref() == Some(AZURE_SECOND)
    }, |held| *held)
    .await;
    let events = events_for(ns.name(), "azure-db").await;
    assert!(events.iter().any(|e| e.starts_with("Warning DriftCorrected") && e.contains("spec.logExport")), "{events:?}");
    wait_for(&api, "azure-db", TIMEOUT, "Ready after the drift", |c| is_ready(c) && synced(c, "LogExportSynced")).await;

    // No shared key showed anywhere the operator writes.
    let yaml = kubectl(&["get", "crdbcluster", "azure-db", "-n", ns.name(), "-o", "yaml"], None).await.ok().stdout;
    let events = events_for(ns.name(), "azure-db").await.join("\n");
    assert!(yaml.contains("azureSharedKeyFingerprint") && events.contains("azure-logs"), "the corpora cover the export");
    for (what, text) in [("status", yaml.as_str()), ("events", events.as_str()), ("operator log", operator.logs().as_str())] {
        for key in [AZURE_FIRST, AZURE_SECOND, "c29tZW9uZS1lbHNlcy1henVyZS1rZXk="] {
            assert!(!text.contains(key), "an Azure shared key is in the {what}");
        }
    }

    // Deleted with the block set.
    api.delete("azure-db", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "azure-db", TIMEOUT).await;
    assert!(admin.live_clusters_named("azure-db").await.is_empty());
}
