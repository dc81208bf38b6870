//! `make demo`: the whole product on one machine. Brings up a real control plane (etcd,
//! kube-apiserver, kube-controller-manager), the Cloud API simulator and the operator binary,
//! applies the CRDs and deploy/examples/, and shows the resources becoming Ready.
//!
//! Flags: `--exit` stops once everything is Ready (otherwise it keeps running until Ctrl-C so you
//! can use kubectl against it); `--timeout SECONDS` (default 180).


use std::time::{Duration, Instant};

use crdb_test_support::{Operator, OperatorOptions, TEST_API_KEY, install_crds, start_simulator};
use crdb_test_support::{kubectl, shared};

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

fn step(text: &str) {
    println!("==> {text}");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}
