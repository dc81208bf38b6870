//! `make demo`: the whole product on one machine. Brings up a real control plane (etcd,
//! kube-apiserver, kube-controller-manager), the Cloud API simulator and the operator binary,
//! applies the CRDs and deploy/examples/, and shows the resources becoming Ready.
//!
//! Flags: `--exit` stops once everything is Ready (otherwise it keeps running until Ctrl-C so you
//! can use kubectl against it); `--timeout SECONDS` (default 180); `--on-node` (`make demo NODE=1`)
//! runs the real install path instead: a node (kubelet, containerd, kube-proxy and their control
//! plane in a network namespace; root only), the operator image built here, `helm install` of the
//! chart, the operator's two pods, the simulator where the pods reach it. Everything is torn down
//! on exit.


use std::time::{Duration, Instant};

use crdb_test_support::{Operator, OperatorOptions, TEST_API_KEY, install_crds, start_simulator};
use crdb_test_support::{kubectl, shared};
use crdb_test_support::node::image::{OPERATOR_REPOSITORY, OPERATOR_TAG};
use crdb_test_support::node::Node;

const NAMESPACE: &str = "crdb-demo";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let exit_when_ready = args.iter().any(|a| a == "--exit");
    let timeout = args
        .iter()
        .position(|a| a == "--timeout")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(180));
    if args.iter().any(|a| a == "--on-node") {
        return on_node(exit_when_ready, timeout).await;
    }

    step("Starting the control plane (etcd, kube-apiserver, kube-controller-manager)");
    let cp = shared();
    println!("    ready in {:.1}s; kubeconfig: {}", cp.startup_duration().as_secs_f64(), cp.kubeconfig_path().display());

    step("Starting the CockroachDB Cloud API simulator");
    let sim = start_simulator(&[]).await;
    println!("    listening on {}", sim.base_url());

    step("Installing the CRDs (crds/)");
    install_crds().await;
    kubectl(&["create", "namespace", NAMESPACE], None).await;

    step("Starting the operator");
    let url = sim.base_url();
    let operator = Operator::start(OperatorOptions::new(NAMESPACE, &url));

    step("Applying deploy/examples/");
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    let applied = kubectl(&["apply", "-n", NAMESPACE, "-f", examples.to_str().unwrap()], None).await.ok();
    print!("{}", indent(&applied.stdout));

    step("Waiting for everything to become Ready");
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let table = kubectl(&["get", "crdbcloud", "-n", NAMESPACE], None).await.stdout;
        if table != last {
            println!("    [{:>5.1}s]\n{}", started.elapsed().as_secs_f64(), indent(&table));
            last = table;
        }
        let waited = kubectl(&["wait", "-n", NAMESPACE, "--for=condition=Ready", "--all", "crdbcloud", "--timeout=1s"], None).await;
        if waited.success() {
            break;
        }
        if started.elapsed() > timeout {
            eprintln!("Not everything became Ready within {timeout:?}. Operator log:\n{}", operator.logs());
            std::process::exit(1);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!("{}", indent(&kubectl(&["get", "crdbcloud", "-n", NAMESPACE, "-o", "wide"], None).await.stdout));
    println!("All resources are Ready after {:.1}s.", started.elapsed().as_secs_f64());

    if exit_when_ready {
        return;
    }
    println!(
        "\nThe demo keeps running. In another shell:\n    export KUBECONFIG={}\n    export PATH={}:$PATH\n    kubectl get crdbcloud -n {NAMESPACE}\n    kubectl describe crdbcluster orders-db -n {NAMESPACE}\nThe simulator is at {} (API key {TEST_API_KEY}). Press Ctrl-C to stop.",
        cp.kubeconfig_path().display(),
        cp.bin_dir().display(),
        sim.base_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    drop(operator);
}

/// The operator as a user installs it: `helm install` on a real node, its pods in the cluster.
async fn on_node(exit_when_ready: bool, timeout: Duration) {
    step("Starting a node (etcd, kube-apiserver, controller-manager, scheduler, containerd, kubelet, kube-proxy)");
    let node = tokio::task::spawn_blocking(Node::start).await.unwrap().unwrap_or_else(|e| {
        eprintln!("the node did not start:\n{e}");
        std::process::exit(1);
    });
    println!("    Ready in {:.1}s; kubeconfig: {}", node.startup_duration().as_secs_f64(), node.kubeconfig_path().display());
    // The node is dropped (torn down) on every way out of this function, Ctrl-C included.
    let node = std::sync::Arc::new(node);

    step("Building the operator image (no container engine) and importing it into containerd");
    let n = node.clone();
    let image = tokio::task::spawn_blocking(move || n.operator_image()).await.unwrap();
    println!("    {image}");

    step("Starting the CockroachDB Cloud API simulator inside the node's network");
    let n = node.clone();
    let sim = tokio::task::spawn_blocking(move || n.start_simulator()).await.unwrap();
    println!("    pods reach it at {}", sim.url_in_node);

    step("helm install crdb-cloud-operator (two replicas, leader election)");
    node.kubectl(&["create", "namespace", "crdb-cloud-operator"], None).await.ok();
    let secret = format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: cloud-api-key\n  namespace: crdb-cloud-operator\nstringData:\n  apiKey: {TEST_API_KEY}\n");
    node.kubectl(&["apply", "-f", "-"], Some(&secret)).await.ok();
    let chart = crdb_test_support::chart::chart();
    let (repository, tag, api_url) = (format!("image.repository={OPERATOR_REPOSITORY}"), format!("image.tag={OPERATOR_TAG}"), format!("apiUrl={}", sim.url_in_node));
    let installed = node
        .helm(
            &[
                "install", "crdb-cloud-operator", &chart, "-n", "crdb-cloud-operator", "--wait", "--timeout", "180s",
                "--set", &repository, "--set", &tag, "--set", "image.pullPolicy=Never", "--set", &api_url,
                "--set", "apiKey.existingSecret=cloud-api-key",
                // The examples' Folder is organisation-level: trust the namespace they go to.
                "--set", &format!("orgNamespaces={{{NAMESPACE}}}"),
            ],
            None,
        )
        .await
        .ok();
    print!("{}", indent(installed.stdout.lines().take(6).collect::<Vec<_>>().join("\n").as_str()));
    print!("{}", indent(&node.kubectl(&["get", "pods", "-n", "crdb-cloud-operator", "-o", "wide"], None).await.stdout));

    step("Applying deploy/examples/");
    node.kubectl(&["create", "namespace", NAMESPACE], None).await.ok();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    let applied = node.kubectl(&["apply", "-n", NAMESPACE, "-f", examples.to_str().unwrap()], None).await.ok();
    print!("{}", indent(&applied.stdout));

    step("Waiting for everything to become Ready");
    let started = Instant::now();
    loop {
        let waited = node.kubectl(&["wait", "-n", NAMESPACE, "--for=condition=Ready", "--all", "crdbcloud", "--timeout=2s"], None).await;
        if waited.success() {
            break;
        }
        if started.elapsed() > timeout {
            let logs = node.kubectl(&["logs", "-n", "crdb-cloud-operator", "deploy/crdb-cloud-operator", "--tail=50"], None).await;
            eprintln!("Not everything became Ready within {timeout:?}. Operator log:\n{}", logs.stdout);
            drop(sim);
            node.teardown();
            std::process::exit(1);
        }
    }
    println!("{}", indent(&node.kubectl(&["get", "crdbcloud", "-n", NAMESPACE, "-o", "wide"], None).await.stdout));
    println!("All resources are Ready after {:.1}s, reconciled by the operator's pods.", started.elapsed().as_secs_f64());
    if !exit_when_ready {
        println!(
            "\nThe demo keeps running. In another shell:\n    export KUBECONFIG={}\n    export PATH={}:$PATH\n    kubectl get pods,lease -n crdb-cloud-operator\n    kubectl logs -n crdb-cloud-operator deploy/crdb-cloud-operator\n    kubectl get crdbcloud -n {NAMESPACE}\nPress Ctrl-C to stop (the node is torn down).",
            node.kubeconfig_path().display(),
            node.bin_dir().display(),
        );
        let _ = tokio::signal::ctrl_c().await;
    }
    drop(sim);
}

fn step(text: &str) {
    println!("==> {text}");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}
