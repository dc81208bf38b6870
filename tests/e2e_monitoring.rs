//! The chart's alerts, runbooks and dashboard, tested like code: the PrometheusRule rendered by the
//! real `helm template` passes `promtool check rules`, the unit tests in tests/alerts/ fire and
//! silence every alert, every alert links its runbook section, the rendered objects pass the
//! apiserver's server-side dry run, and, end to end, what the rules and the dashboard query exists
//! in what the real operator exports during a lifecycle with faults, where the alerts fire as they
//! should (promtool evaluating the rules on the scraped series).

#[path = "monitoring/promql.rs"]
mod promql;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crdb_cloud_operator::api::{AllowlistEntry, CockroachCluster, Database, SQLUser};
use serde_json::{Value, json};
use crdb_test_support::*;
use crdb_test_support::chart::{self, chart, one, repo, yaml_docs};
use crdb_test_support::{World, helm, kubectl, promtool, test_namespace};

const TIMEOUT: Duration = Duration::from_secs(90);
/// Release and namespace the unit tests in tests/alerts/ are written for.
const UNIT_RELEASE: &str = "crdb-cloud-operator";
const UNIT_NAMESPACE: &str = "ops";
/// Every alert of the chart.
const ALERTS: [&str; 8] = [
    "CrdbResourcesStalled",
    "CrdbResourcesNotReady",
    "CrdbReconcileErrors",
    "CrdbCloudRateLimited",
    "CrdbCloudBudgetSaturated",
    "CrdbCloudRequestErrors",
    "CrdbOperatorNoLeader",
    "CrdbOperatorNotReady",
];
/// Series the rules read from kube-state-metrics, not from the operator.
const FROM_KUBE_STATE_METRICS: [&str; 2] = ["kube_deployment_status_replicas_available", "kube_deployment_spec_replicas"];
/// Labels Prometheus adds from the scrape target (the ServiceMonitor's namespace, job, pod).
const TARGET_LABELS: [&str; 4] = ["namespace", "job", "instance", "pod"];

/// `helm template` with the alerts and the dashboard on, plus `args`.
async fn render(release: &str, namespace: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--set", "alerts.enabled=true", "--set", "dashboard.enabled=true"];
    all.extend_from_slice(args);
    chart::render(release, namespace, &all).await
}

/// The rendered PrometheusRule's groups as a Prometheus rule file.
fn rule_file(objects: &[Value]) -> String {
    serde_norway::to_string(&json!({"groups": one(objects, "PrometheusRule")["spec"]["groups"]})).unwrap()
}

/// Every alerting rule of the rendered PrometheusRule.
fn rules(objects: &[Value]) -> Vec<Value> {
    one(objects, "PrometheusRule")["spec"]["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap().clone()).collect()
}

/// The dashboard JSON from the rendered ConfigMap.
fn dashboard(objects: &[Value]) -> Value {
    let config_map = one(objects, "ConfigMap");
    serde_json::from_str(config_map["data"]["crdb-cloud-operator.json"].as_str().unwrap()).expect("the dashboard is JSON")
}

/// Every PromQL expression of the dashboard's panels.
fn dashboard_exprs(dashboard: &Value) -> Vec<String> {
    dashboard["panels"].as_array().unwrap().iter().flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default()).map(|t| t["expr"].as_str().unwrap().to_string()).collect()
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("crdb-alerts-").tempdir().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The rules as code

#[tokio::test]
async fn rendered_rules_pass_promtool_check_rules() {
    // The defaults, and every threshold changed (so each value reaches a valid expression).
    // Fractions go through --set-json: helm's --set keeps a non-integer number as a string.
    let custom = [
        "--set", "alerts.operatorSelector=job=\"crdb\\,cloud\"",
        "--set", "alerts.alertLabels.team=platform",
        "--set", "alerts.resourcesStalled.for=1h",
        "--set", "alerts.rateLimited.threshold=0",
        "--set-json", "alerts.budgetSaturated.quantile=0.99",
        "--set-json", "alerts.budgetSaturated.waitSeconds=2.5",
        "--set-json", "alerts.reconcileErrors.ratio=0.05",
        "--set", "alerts.cloudRequestErrors.window=30m",
        "--set", "alerts.operatorNotReady.selector=namespace=\"x\"",
    ];
    for args in [&[][..], &custom[..]] {
        let objects = render(UNIT_RELEASE, UNIT_NAMESPACE, args).await;
        let dir = temp_dir();
        let file = dir.path().join("rules.yaml");
        std::fs::write(&file, rule_file(&objects)).unwrap();
        let out = promtool(&["check", "rules", "--lint=all", "--lint-fatal", file.to_str().unwrap()]).await.ok();
        assert!(out.stdout.contains(&format!("SUCCESS: {} rules found", ALERTS.len())), "{out}");
        let names: BTreeSet<String> = rules(&objects).iter().map(|r| r["alert"].as_str().unwrap().to_string()).collect();
        assert_eq!(names, ALERTS.iter().map(|s| s.to_string()).collect(), "the chart's alerts");
    }
    let objects = render(UNIT_RELEASE, UNIT_NAMESPACE, &custom).await;
    for rule in rules(&objects) {
        assert_eq!(rule["labels"]["team"], "platform", "alertLabels reach every alert: {rule}");
    }
}

#[tokio::test]
async fn promtool_unit_tests_fire_and_silence_every_alert() {
    let objects = render(UNIT_RELEASE, UNIT_NAMESPACE, &[]).await;
    let dir = temp_dir();
    std::fs::write(dir.path().join("rules.yaml"), rule_file(&objects)).unwrap();
    let sources = repo().join("tests/alerts");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&sources).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let copy = dir.path().join(path.file_name().unwrap());
            std::fs::copy(&path, &copy).unwrap();
            files.push(copy);
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no unit tests in {}", sources.display());

    // Every alert is tested both ways: some case expects it firing, another expects silence.
    let mut fired = BTreeSet::new();
    let mut silenced = BTreeSet::new();
    for file in &files {
        let suite = &yaml_docs(&std::fs::read_to_string(file).unwrap())[0];
        assert_eq!(suite["rule_files"], json!(["rules.yaml"]), "{}", file.display());
        for test in suite["tests"].as_array().unwrap() {
            for case in test["alert_rule_test"].as_array().into_iter().flatten() {
                let name = case["alertname"].as_str().unwrap().to_string();
                if case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()) {
                    fired.insert(name);
                } else {
                    silenced.insert(name);
                }
            }
        }
    }
    let all: BTreeSet<String> = ALERTS.iter().map(|s| s.to_string()).collect();
    assert_eq!(fired, all, "every alert has a case where it fires");
    assert_eq!(silenced, all, "every alert has a case where it stays silent");

    let paths: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    let mut args = vec!["test", "rules"];
    args.extend(paths);
    let out = promtool(&args).await;
    assert!(out.success(), "promtool test rules failed: {out}");
    assert!(out.stdout.contains("SUCCESS"), "{out}");
}

#[tokio::test]
async fn every_alert_links_its_runbook_section() {
    let runbooks = std::fs::read_to_string(repo().join("docs/runbooks.md")).unwrap();
    let sections: BTreeSet<String> = runbooks.lines().filter_map(|l| l.strip_prefix("## ")).map(str::to_string).collect();
    let objects = render(UNIT_RELEASE, UNIT_NAMESPACE, &["--set", "alerts.runbookBaseUrl=https://wiki.example.com/ops/crdb"]).await;
    for rule in rules(&objects) {
        let name = rule["alert"].as_str().unwrap();
        assert!(sections.contains(name), "docs/runbooks.md has no section `## {name}`");
        assert_eq!(rule["annotations"]["runbook_url"], format!("https://wiki.example.com/ops/crdb#{}", name.to_lowercase()), "{name}");
        for key in ["summary", "description"] {
            let text = rule["annotations"][key].as_str().unwrap_or_else(|| panic!("{name} has no {key}"));
            // Label values only: $value would make every notification (and test) differ.
            assert!(!text.contains("$value"), "{name}'s {key} uses $value");
            let grouped = promql::usage(rule["expr"].as_str().unwrap()).labels;
            for label in promql::template_labels(text) {
                assert!(grouped.contains(&label), "{name}'s {key} uses $labels.{label}, which its expression does not keep");
            }
        }
        assert!(rule["labels"]["severity"].is_string(), "{name} has a severity");
    }
    // No section without an alert (one heading per alert; the rest of the file is prose).
    let alert_sections: BTreeSet<&String> = sections.iter().filter(|s| s.starts_with("Crdb")).collect();
    assert_eq!(alert_sections.len(), ALERTS.len(), "{alert_sections:?}");
}

#[tokio::test]
async fn the_dashboard_is_well_formed() {
    let objects = render(UNIT_RELEASE, UNIT_NAMESPACE, &["--set", "dashboard.annotations.grafana_folder=Databases", "--set", "dashboard.namespace=monitoring"]).await;
    let config_map = one(&objects, "ConfigMap");
    assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard"], "1", "the sidecar's default label");
    assert_eq!(config_map["metadata"]["annotations"]["grafana_folder"], "Databases");
    assert_eq!(config_map["metadata"]["namespace"], "monitoring");
    let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(repo().join("charts/crdb-cloud-operator/dashboards/crdb-cloud-operator.json")).unwrap()).unwrap();
    let dashboard = dashboard(&objects);
    assert_eq!(dashboard, on_disk, "the ConfigMap carries the file unchanged");
    assert_eq!(dashboard["uid"], "crdb-cloud-operator");
    let panels = dashboard["panels"].as_array().unwrap();
    let ids: BTreeSet<i64> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().unwrap();
        assert!(!panel["targets"].as_array().unwrap().is_empty(), "{title} has a query");
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title} uses the data source variable");
        for target in panel["targets"].as_array().unwrap() {
            assert!(target["expr"].as_str().unwrap().contains(r#"namespace=~"$namespace""#), "{title} follows the namespace variable");
        }
    }
    // What the issue asks the dashboard to show.
    let exprs = dashboard_exprs(&dashboard).join("\n");
    for metric in [
        "crdb_operator_resources",
        "crdb_operator_stalled_resources",
        "crdb_operator_reconciles_total",
        "crdb_operator_cloud_api_requests_total",
        "crdb_operator_cloud_api_budget_wait_seconds_bucket",
        "crdb_operator_cloud_api_rate_limited_total",
        "crdb_operator_reconcile_duration_seconds_bucket",
        "crdb_operator_cloud_api_request_duration_seconds_bucket",
    ] {
        assert!(exprs.contains(metric), "the dashboard shows {metric}");
    }
    // Off by default: neither object is rendered.
    let chart = chart();
    let defaults = yaml_docs(&helm(&["template", "x", chart.as_str()], None).await.ok().stdout);
    assert!(defaults.iter().all(|o| o["kind"] != "PrometheusRule" && o["kind"] != "ConfigMap"));
}

#[tokio::test]
async fn alerts_and_dashboard_pass_the_apiservers_dry_run() {
    // The Prometheus Operator's CRD, so the apiserver validates the PrometheusRule's fields.
    let crd = repo().join("tests/monitoring/prometheusrule-crd.yaml");
    kubectl(&["apply", "--server-side", "-f", crd.to_str().unwrap()], None).await.ok();
    kubectl(&["wait", "--for=condition=Established", "--timeout=60s", "crd/prometheusrules.monitoring.coreos.com"], None).await.ok();
    let ns = test_namespace("alerts-dry-run").await;
    let chart = chart();
    let rendered = helm(
        &["template", "mon", chart.as_str(), "-n", ns.name(), "--set", "alerts.enabled=true", "--set", "dashboard.enabled=true", "--set", "alerts.labels.release=kube-prometheus-stack"],
        None,
    )
    .await
    .ok();
    let items: Vec<Value> = yaml_docs(&rendered.stdout).into_iter().filter(|o| o["kind"] == "PrometheusRule" || o["kind"] == "ConfigMap").collect();
    assert_eq!(items.len(), 2);
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
    let out = kubectl(&["apply", "--dry-run=server", "--validate=strict", "-f", "-"], Some(&list)).await.ok();
    assert!(out.stdout.contains("prometheusrule.monitoring.coreos.com/mon-crdb-cloud-operator created (server dry run)"), "{out}");
    assert!(out.stdout.contains("configmap/mon-crdb-cloud-operator-dashboard created (server dry run)"), "{out}");
    // The dry run can fail: a misspelt field in a rule is refused.
    let mut broken = items[0].clone();
    if items[0]["kind"] != "PrometheusRule" {
        broken = items[1].clone();
    }
    broken["spec"]["groups"][0]["rules"][0]["annotation"] = json!({"summary": "typo"});
    let out = kubectl(&["apply", "--dry-run=server", "--validate=strict", "-f", "-"], Some(&broken.to_string())).await.err();
    assert!(out.stderr.contains("annotation"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// End to end: the operator's real /metrics

/// Scrapes `addr` every `every` until `stop` is set; one text per scrape.
fn scrape_continuously(addr: String, every: Duration, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut scrapes = Vec::new();
        let mut next = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let response = client.get(format!("http://{addr}/metrics")).send().await.expect("scrape /metrics");
            assert!(response.status().is_success());
            scrapes.push(response.text().await.unwrap());
            next += every;
            tokio::time::sleep_until(next.into()).await;
        }
        scrapes
    })
}

/// Checks that every metric an expression uses, and every label it names, exists in the scrapes.
/// Returns the pending metrics that were missing.
fn assert_exported(what: &str, expr: &str, exported: &BTreeMap<String, BTreeSet<String>>) {
    let usage = promql::usage(expr);
    assert!(!usage.metrics.is_empty(), "{what}: no metric found in {expr}");
    let mut labels_available: BTreeSet<String> = TARGET_LABELS.iter().map(|s| s.to_string()).collect();
    for metric in &usage.metrics {
        if FROM_KUBE_STATE_METRICS.contains(&metric.as_str()) {
            // kube-state-metrics' own series; their labels are those of its documentation.
            labels_available.extend(["namespace", "deployment"].map(String::from));
            continue;
        }
        match exported.get(metric) {
            Some(labels) => labels_available.extend(labels.iter().cloned()),
            None => panic!("{what} uses {metric}, which the operator does not export; it exports {:?}", exported.keys().collect::<Vec<_>>()),
        }
    }
    for label in &usage.labels {
        assert!(labels_available.contains(label), "{what} uses the label {label}, which {:?} do not have: {expr}", usage.metrics);
    }
}

/// A promtool unit test that evaluates the rules over the scraped series and asks which alerts
/// fired at some point of the run (and with which labels).
fn scraped_series_test(series: &[(String, String)], total_minutes: usize, checks: &[(String, Vec<String>)]) -> String {
    let input: Vec<Value> = series.iter().map(|(s, v)| json!({"series": s, "values": v})).collect();
    let tests: Vec<Value> = checks
        .iter()
        .map(|(expr, expected)| {
            json!({
                "expr": expr,
                "eval_time": format!("{}m", total_minutes - 1),
                "exp_samples": expected.iter().map(|labels| json!({"labels": labels, "value": 1})).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_norway::to_string(&json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": input, "promql_expr_test": tests}],
    }))
    .unwrap()
}

#[tokio::test]
async fn alerts_fire_on_what_the_operator_really_exports() {
    // The rules under test, with durations scaled to the test: each scrape, one second apart,
    // stands for one minute.
    let namespace = "monitoring";
    let objects = render(
        UNIT_RELEASE,
        namespace,
        &[
            "--set", "alerts.resourcesStalled.for=5m",
            "--set", "alerts.resourcesNotReady.for=35m",
            "--set", "alerts.rateLimited.threshold=0",
            "--set", "alerts.rateLimited.window=5m",
            "--set-json", "alerts.budgetSaturated.waitSeconds=0.5",
            "--set", "alerts.budgetSaturated.window=5m",
            "--set", "alerts.budgetSaturated.for=2m",
            "--set", "alerts.reconcileErrors.window=5m",
            "--set", "alerts.reconcileErrors.for=2m",
            "--set", "alerts.cloudRequestErrors.window=5m",
            "--set", "alerts.cloudRequestErrors.for=2m",
            "--set", "alerts.noLeader.for=5m",
        ],
    )
    .await;

    // The organisation-level kinds are honoured here, so only the resources below stall.
    let world = World::start_with("alerts-e2e", |o| o.org_namespaces = vec![o.namespace.to_string()]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = scrape_continuously(world.operator().health_addr().await, Duration::from_secs(1), stop.clone());
    let started = Instant::now();

    // A cluster with one child of each kind; a second AllowlistEntry for the same CIDR (Stalled,
    // Conflict); a Database whose cluster does not exist (Reconciling, WaitingForCluster).
    world
        .apply(&[
            cluster_with_one_child_of_each_kind("shop-db"),
            child("AllowlistEntry", "office-again", "shop-db", "  cidr: \"203.0.113.0/24\"\n"),
            child("Database", "orphan", "no-such-db", ""),
        ]
        .concat())
        .await;
    wait_for(&world.api::<CockroachCluster>(), "shop-db", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<SQLUser>(), "app", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<Database>(), "orders", TIMEOUT, "Ready", is_ready).await;
    // Whichever of the two entries came second is the Stalled one.
    let entries = world.api::<AllowlistEntry>();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (a, b) = (entries.get("office").await.unwrap(), entries.get("office-again").await.unwrap());
        if (is_ready(&a) && is_stalled_with(&b, "Conflict")) || (is_ready(&b) && is_stalled_with(&a, "Conflict")) {
            break;
        }
        assert!(Instant::now() < deadline, "one AllowlistEntry Ready, the other Stalled (Conflict):\n{a:?}\n{b:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // A 429 storm: the next twelve requests answered 429 (Retry-After: 1 s), while new SQL users
    // are created.
    world.admin.add_fault(&FaultSpec { status: Some(429), retry_after_secs: Some(1), count: 12, ..FaultSpec::on_every_operation() }).await;
    world.apply(&[child("SQLUser", "storm-1", "shop-db", ""), child("SQLUser", "storm-2", "shop-db", "")].concat()).await;
    wait_for(&world.api::<SQLUser>(), "storm-1", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<SQLUser>(), "storm-2", TIMEOUT, "Ready", is_ready).await;

    // The Cloud API failing: database creates answered 503 six times (a create is not retried
    // blindly, so each fails its reconcile, which backs off and tries again).
    world.admin.add_fault(&FaultSpec { status: Some(503), count: 6, ..FaultSpec::on(Operation::CreateDatabase) }).await;
    world.apply(&[child("Database", "flaky-1", "shop-db", ""), child("Database", "flaky-2", "shop-db", "")].concat()).await;
    wait_for(&world.api::<Database>(), "flaky-1", TIMEOUT, "Ready", is_ready).await;
    wait_for(&world.api::<Database>(), "flaky-2", TIMEOUT, "Ready", is_ready).await;

    // Long enough for the orphan to count as not Ready (35 "minutes"), and a few scrapes more. The
    // other kinds are Reconciling for much less (the storm and the 503s last seconds), so only
    // Databases fire.
    let until = Duration::from_secs(42).max(started.elapsed() + Duration::from_secs(3));
    tokio::time::sleep(until.saturating_sub(started.elapsed())).await;
    stop.store(true, Ordering::SeqCst);
    let texts = scraper.await.unwrap();
    eprintln!("{} scrapes over {:.1} s", texts.len(), started.elapsed().as_secs_f64());
    let scrapes: Vec<_> = texts.iter().map(|t| promql::parse_scrape(t)).collect();

    // 1. Every metric and label the rules and the dashboard use is exported.
    let mut exported: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for scrape in &scrapes {
        for (name, labels) in scrape.keys() {
            exported.entry(name.clone()).or_default().extend(labels.keys().cloned());
        }
    }
    for rule in rules(&objects) {
        assert_exported(rule["alert"].as_str().unwrap(), rule["expr"].as_str().unwrap(), &exported);
    }
    for expr in dashboard_exprs(&dashboard(&objects)) {
        assert_exported("the dashboard", &expr, &exported);
    }
    // The faults did reach the metrics (otherwise the alert checks below prove nothing).
    let last = scrapes.last().unwrap();
    let total = |name: &str, filter: &dyn Fn(&BTreeMap<String, String>) -> bool| -> f64 {
        last.iter().filter(|((n, l), _)| n == name && filter(l)).map(|(_, v)| v).sum()
    };
    assert!(total("crdb_operator_cloud_api_rate_limited_total", &|_| true) >= 5.0, "429s counted");
    assert_eq!(total("crdb_operator_cloud_api_requests_total", &|l| l["operation"] == "CreateDatabase" && l["status"] == "503"), 6.0);
    assert!(total("crdb_operator_reconciles_total", &|l| l["kind"] == "Database" && l["result"] == "error") >= 2.0);
    assert_eq!(total("crdb_operator_stalled_resources", &|l| l["kind"] == "AllowlistEntry" && l["reason"] == "Conflict"), 1.0);

    // 2. The alerts evaluated on those series (promtool, one scrape per "minute") fire where they
    //    should: which alerts fired at some point of the run, and for what.
    let target: BTreeMap<String, String> =
        [("namespace", namespace), ("job", "crdb-cloud-operator-metrics"), ("instance", "10.0.0.1:8080"), ("pod", "crdb-cloud-operator-0")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
    let series = promql::input_series(&scrapes, &target);
    let minutes = scrapes.len();
    let ever = |selector: &str, by: &str| format!("group by ({by}) (max_over_time(ALERTS{{alertstate=\"firing\"{selector}}}[{minutes}m]))");
    assert!(last.keys().any(|(n, _)| n == "crdb_operator_leader"), "the leader exposes crdb_operator_leader");
    // The operator leads throughout, so CrdbOperatorNoLeader stays silent.
    let fired = [
        "CrdbCloudBudgetSaturated",
        "CrdbCloudRateLimited",
        "CrdbCloudRequestErrors",
        "CrdbReconcileErrors",
        "CrdbResourcesNotReady",
        "CrdbResourcesStalled",
    ];
    let checks = vec![
        (ever("", "alertname"), fired.iter().map(|a| format!("{{alertname=\"{a}\"}}")).collect()),
        (ever(",alertname=\"CrdbResourcesStalled\"", "kind, reason"), vec![r#"{kind="AllowlistEntry",reason="Conflict"}"#.to_string()]),
        (ever(",alertname=\"CrdbResourcesNotReady\"", "kind"), vec![r#"{kind="Database"}"#.to_string()]),
        (ever(",alertname=\"CrdbCloudRequestErrors\"", "operation"), vec![r#"{operation="CreateDatabase"}"#.to_string()]),
        (ever(",alertname=\"CrdbReconcileErrors\",kind=\"Database\"", "kind"), vec![r#"{kind="Database"}"#.to_string()]),
    ];
    let dir = temp_dir();
    std::fs::write(dir.path().join("rules.yaml"), rule_file(&objects)).unwrap();
    let test: PathBuf = dir.path().join("scraped.test.yaml");
    std::fs::write(&test, scraped_series_test(&series, minutes, &checks)).unwrap();
    let out = promtool(&["test", "rules", test.to_str().unwrap()]).await;
    if !out.success() {
        // Keep the inputs for a look; the scrape holds no secret (checked below).
        let kept = dir.keep();
        panic!("the alerts did not fire as expected on the scraped series (inputs kept in {}): {out}", kept.display());
    }
    assert!(!texts.iter().any(|t| t.contains(TEST_API_KEY)), "no scrape carries the API key");
}
