//! Installing and removing the operator's CRDs around a running operator: a CRD that is missing at
//! start-up (readiness says which, and the operator recovers when it appears), and the uninstall
//! order the chart README documents, run exactly as written. Both change cluster-wide CRDs, so
//! they have this test binary's control plane to themselves and take turns.

use std::time::{Duration, Instant};

use crdb_cloud_operator::api::{CockroachCluster, Database};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use crdb_test_support::*;
use crdb_test_support::{helm, kubectl, shared, test_namespace};

const TIMEOUT: Duration = Duration::from_secs(90);

/// Both tests delete CRDs that the other needs.
static CRDS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn readyz(addr: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}/readyz")).await.expect("GET /readyz");
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_missing_crd_is_named_in_readiness_and_the_operator_starts_when_it_appears() {
    let _turn = CRDS.lock().await;
    apply_crds().await;
    // An upgrade that forgot to apply one of the new CRDs.
    kubectl(&["delete", "crd", "databases.crdbcloud.io", "--wait=true", "--timeout=60s"], None).await.ok();
    let ns = test_namespace("missing-crd").await;
    let sim = start_simulator(&[]).await;
    let operator = Operator::start(OperatorOptions::new(ns.name(), &sim.base_url()));
    let addr = operator.health_addr().await;
    operator.wait_for_log("waiting for the operator's CRDs").await;
    let logs = operator.logs();
    let line = logs.lines().find(|l| l.contains("waiting for the operator's CRDs")).unwrap();
    assert!(line.contains("databases.crdbcloud.io") && !line.contains("sqlusers"), "the log names exactly what is missing: {line}");
    for _ in 0..5 {
        let (status, body) = readyz(&addr).await;
        assert_eq!(status, 503, "ready without the Database CRD");
        assert!(body.contains("databases.crdbcloud.io (not installed)"), "/readyz says what it waits for: {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!operator.logs().contains("starting controllers"), "controllers started without every CRD");

    // The CRD arrives: the operator starts by itself and serves every kind.
    apply_crds().await;
    let deadline = Instant::now() + TIMEOUT;
    while readyz(&addr).await.0 != 200 {
        assert!(Instant::now() < deadline, "not ready after the CRD appeared:\n{}", operator.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(operator.logs().contains("every CRD is installed"));
    kubectl(&["apply", "-n", ns.name(), "-f", "-"], Some(&[serverless_cluster("late-db"), child("Database", "orders", "late-db", "")].concat()))
        .await
        .ok();
    wait_for(&ns.api::<Database>(), "orders", TIMEOUT, "Ready", is_ready).await;
    // Cleaned up while the operator runs (it removes the finalizers), as the README says.
    kubectl(&["delete", "crdbcloud", "--all", "-n", ns.name(), "--wait", "--timeout=90s"], None).await.ok();
}

/// The shell block under "## Uninstalling" in the chart README: its commands, comments dropped.
fn documented_uninstall() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(repo_root().join("charts/crdb-cloud-operator/README.md")).unwrap();
    let section = readme.split("## Uninstalling").nth(1).expect("the chart README has an Uninstalling section");
    let block = section.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).expect("a sh block in that section");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

#[tokio::test]
async fn the_documented_uninstall_order_deletes_as_each_policy_says_and_leaves_nothing_behind() {
    let _turn = CRDS.lock().await;
    apply_crds().await;
    let commands = documented_uninstall();
    let programs: Vec<&str> = commands.iter().map(|c| c[0].as_str()).collect();
    assert_eq!(programs, ["kubectl", "helm", "kubectl"], "resources, then the release, then the CRDs: {commands:?}");

    // The release as the README installs it (its pods cannot run here: the operator runs as a
    // process under the release's ServiceAccount, and stops when `helm uninstall` has run).
    let release_ns = "crdb-cloud-operator";
    let chart = repo_root().join("charts/crdb-cloud-operator");
    helm(&["install", "crdb-cloud-operator", chart.to_str().unwrap(), "-n", release_ns, "--create-namespace"], None).await.ok();
    let team = test_namespace("uninstall-team").await;
    let sim = start_simulator(&[]).await;
    let admin = SimAdmin::new(&sim);
    let kubeconfig = shared().kubeconfig_for_service_account(release_ns, "crdb-cloud-operator").await;
    let url = sim.base_url();
    let mut options = OperatorOptions::new(team.name(), &url);
    options.kubeconfig = Some(&kubeconfig);
    options.lease_namespace = Some(release_ns);
    options.extra_args = vec!["--lease-name".into(), "crdb-cloud-operator".into()];
    let mut operator = Operator::start(options);
    let retained = serverless_cluster("kept-db").replace("spec:\n", "spec:\n  deletionPolicy: Retain\n");
    let manifests = [cluster_with_one_child_of_each_kind("gone-db"), "---\n".to_string(), retained].concat();
    kubectl(&["apply", "-n", team.name(), "-f", "-"], Some(&manifests)).await.ok();
    for name in ["gone-db", "kept-db"] {
        wait_for(&team.api::<CockroachCluster>(), name, TIMEOUT, "Ready", is_ready).await;
    }
    kubectl(&["wait", "-n", team.name(), "--for=condition=Ready", "--timeout=90s", "sqluser/app", "databases.crdbcloud.io/orders", "allowlistentry/office"], None)
        .await
        .ok();

    // Exactly the documented commands, in order, from the repository's root.
    for (step, command) in commands.iter().enumerate() {
        let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
        let started = Instant::now();
        let out = match command[0].as_str() {
            "kubectl" => kubectl(&args, None).await,
            "helm" => helm(&args, None).await,
            other => panic!("the documented uninstall runs {other}"),
        };
        assert!(out.success(), "step {} ({}) failed: {out}", step + 1, command.join(" "));
        assert!(started.elapsed() < TIMEOUT, "step {} took {:?}", step + 1, started.elapsed());
        if command[0] == "helm" {
            // The release's pods are gone now; so is the operator.
            operator.kill().await;
        }
    }

    // Delete policies were honoured, and nothing is left waiting on a finalizer.
    assert!(admin.live_clusters_named("gone-db").await.is_empty(), "the Delete-policy cluster is still in the cloud");
    assert_eq!(admin.live_clusters_named("kept-db").await.len(), 1, "the Retain-policy cluster was deleted");
    let crds = Api::<CustomResourceDefinition>::all(shared().client()).list(&Default::default()).await.unwrap();
    let left: Vec<_> = crds.items.iter().filter_map(|c| c.metadata.name.clone()).filter(|n| n.ends_with(".crdbcloud.io")).collect();
    assert!(left.is_empty(), "CRDs left behind: {left:?}");
    team.delete_and_wait(TIMEOUT).await;
    let remaining = kubectl(&["get", "all,leases,roles,rolebindings,serviceaccounts,secrets", "-n", release_ns, "-l", "app.kubernetes.io/instance=crdb-cloud-operator", "-o", "name"], None)
        .await
        .ok()
        .stdout;
    assert!(remaining.trim().is_empty(), "the release left: {remaining}");
}
