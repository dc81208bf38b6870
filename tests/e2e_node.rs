//! The chart's pods on a real node (kubelet, containerd, kube-proxy and their own control plane in
//! a network namespace; see crates/test-support/src/node): the image built here without a
//! container engine and kept equal to the Dockerfile, `helm install --wait` with the default
//! values, readiness gated on the CRDs and the first sync, leader election across pods, the
//! operator in a pod reconciling against the simulator, pod security as the node sees it,
//! /metrics through the chart's Service, failover, a rolling upgrade, a drain held by the
//! PodDisruptionBudget, uninstall, and deploy/ with kustomize.
//!
//! One node per test binary, shared by its tests; the scenario that owns the node's only
//! cluster-wide disruption (the drain) runs the chart's steps in order.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crdb_test_support::chart::{chart, one, repo, yaml_docs};
use crdb_test_support::node::image::{OPERATOR_REPOSITORY, OPERATOR_TAG, archive_image_config, dockerfile_final_stage, write_image};
use crdb_test_support::node::{self, NODE_NAME, Node, NodeSimulator};
use crdb_test_support::{CmdOutput, Operation, TEST_API_KEY, cluster_with_one_child_of_each_kind, operator_binary};

const CRD_NAMES: [&str; 4] =
    ["allowlistentries.crdbcloud.io", "cockroachclusters.crdbcloud.io", "databases.crdbcloud.io", "sqlusers.crdbcloud.io"];
/// The chart's default `leaderElection.leaseSeconds`.
const LEASE_SECONDS: u64 = 15;
const TIMEOUT: Duration = Duration::from_secs(120);

/// The node's tests take turns: each changes what is cluster-wide (CRDs, a cordon).
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn node() -> &'static Node {
    tokio::task::spawn_blocking(node::shared).await.expect("the node's start-up thread")
}

/// Polls `check` every 250 ms until it returns `Some`, panicking with `what` and the last value
/// seen after `timeout`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) => {
                assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}; last seen: {last}");
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn json(out: CmdOutput) -> Value {
    serde_json::from_str(&out.ok().stdout).expect("kubectl printed JSON")
}

async fn pods(node: &Node, ns: &str, selector: &str) -> Vec<Value> {
    let list = json(node.kubectl(&["get", "pods", "-n", ns, "-l", selector, "-o", "json"], None).await);
    list["items"].as_array().cloned().unwrap_or_default()
}

fn pod_name(pod: &Value) -> String {
    pod["metadata"]["name"].as_str().unwrap_or_default().to_string()
}

fn condition<'a>(pod: &'a Value, type_: &str) -> Option<&'a Value> {
    pod["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn is_ready(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["phase"] == "Running"
        && condition(pod, "Ready").is_some_and(|c| c["status"] == "True")
}

fn summary(pods: &[Value]) -> String {
    pods.iter()
        .map(|p| format!("{} {} ready={}", pod_name(p), p["status"]["phase"], condition(p, "Ready").map_or("?".into(), |c| c["status"].to_string())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Waits until exactly `n` pods match and all are Running and Ready; returns them.
async fn ready_pods(node: &Node, ns: &str, selector: &str, n: usize) -> Vec<Value> {
    eventually(&format!("{n} Ready pods {selector} in {ns}"), TIMEOUT, || async {
        let pods = pods(node, ns, selector).await;
        if pods.len() == n && pods.iter().all(is_ready) { Ok(pods) } else { Err(summary(&pods)) }
    })
    .await
}

/// The Lease's holder and renew time.
async fn lease(node: &Node, ns: &str, name: &str) -> (Option<String>, Option<String>) {
    let lease = json(node.kubectl(&["get", "lease", name, "-n", ns, "-o", "json"], None).await);
    (lease["spec"]["holderIdentity"].as_str().map(String::from), lease["spec"]["renewTime"].as_str().map(String::from))
}

/// A GET through the apiserver's pod proxy: (succeeded, body).
async fn pod_get(node: &Node, ns: &str, pod: &str, path: &str) -> (bool, String) {
    let out = node.kubectl(&["get", "--raw", &format!("/api/v1/namespaces/{ns}/pods/{pod}:8080/proxy{path}")], None).await;
    (out.success(), format!("{}{}", out.stdout, out.stderr))
}

/// HTTP/1.0 GET of `path` on 127.0.0.1:`port`: (status line, body).
fn http_get(port: u16, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the forward");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: metrics\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

/// Creates of each kind the simulator has answered.
async fn creates(sim: &NodeSimulator) -> [usize; 4] {
    let a = &sim.admin;
    [
        a.count(Operation::CreateCluster).await,
        a.count(Operation::CreateSQLUser).await,
        a.count(Operation::CreateDatabase).await,
        a.count(Operation::AddAllowlistEntry).await + a.count(Operation::AddAllowlistEntry2).await,
    ]
}

/// The host PID of a pod's first container (from containerd, through the node).
fn container_pid(node: &Node, pod: &Value) -> i32 {
    let id = pod["status"]["containerStatuses"][0]["containerID"].as_str().expect("a started container");
    let id = id.trim_start_matches("containerd://");
    let tasks = node::runtime::ctr(node, &["tasks", "ls"]).expect("ctr tasks ls");
    let line = tasks.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("containerd runs no task {id}:\n{tasks}"));
    line.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no PID in {line:?}"))
}

fn proc_status_field(pid: i32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the container's /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// `got` has everything `want` has (the apiserver adds defaults such as `scheme: HTTP`).
#[track_caller]
fn assert_subset(got: &Value, want: &Value, what: &str) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, v) in w {
                assert_subset(g.get(k).unwrap_or(&Value::Null), v, &format!("{what}.{k}"));
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{what}: {got} vs {want}");
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                assert_subset(g, w, &format!("{what}[{i}]"));
            }
        }
        _ => assert_eq!(got, want, "{what}"),
    }
}

// ---------------------------------------------------------------------------------------------

/// The image tests/node/oci-image.sh writes runs like the Dockerfile's: same entrypoint (the path
/// the Dockerfile copies the binary to), user, working directory, ports and labels; and the
/// writer is reproducible.
#[test]
fn image_matches_the_dockerfiles_final_stage() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("the Dockerfile");
    let stage = dockerfile_final_stage(&dockerfile).expect("the Dockerfile parses");
    assert!(stage.from.starts_with("gcr.io/distroless/cc"), "the runtime stage: {stage:?}");

    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
    let reference = format!("{OPERATOR_REPOSITORY}:{OPERATOR_TAG}");
    let digest = write_image("operator", &operator_binary(), &a, &reference).expect("write the image");
    assert_eq!(write_image("operator", &operator_binary(), &b, &reference).unwrap(), digest, "the same binary gives the same manifest");
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "and the same archive bytes");

    let (config, annotations) = archive_image_config(&a).expect("the archive's image config");
    let config = &config["config"];
    assert_eq!(annotations["io.containerd.image.name"], reference);
    let entrypoint: Vec<String> = serde_json::from_value(config["Entrypoint"].clone()).unwrap();
    assert_eq!(Some(&entrypoint), stage.entrypoint.as_ref(), "ENTRYPOINT");
    assert!(stage.copies.contains(&entrypoint[0]), "the entrypoint is the binary the Dockerfile copies: {:?}", stage.copies);
    assert_eq!(config["Cmd"].as_array().map(Vec::len).unwrap_or(0), stage.cmd.as_ref().map_or(0, Vec::len), "CMD");
    assert_eq!(config["User"].as_str(), stage.user.as_deref(), "USER");
    assert_eq!(config["WorkingDir"].as_str(), Some(stage.workdir.as_deref().unwrap_or("/")), "WORKDIR");
    let labels: std::collections::BTreeMap<String, String> = serde_json::from_value(config["Labels"].clone()).unwrap();
    assert!(!labels.is_empty(), "the Dockerfile's labels are set");
    assert_eq!(labels, stage.labels, "LABEL");
    let exposed: BTreeSet<String> = config["ExposedPorts"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(exposed, stage.expose.iter().cloned().collect(), "EXPOSE");
    for (key, value) in &stage.env {
        assert!(config["Env"].as_array().unwrap().iter().any(|e| e == &format!("{key}={value}")), "ENV {key}");
    }
}

/// The chart, installed with helm on the node, end to end.
#[tokio::test]
async fn the_chart_runs_on_the_node() {
    let _turn = TURN.lock().await;
    let node = node().await;
    let image = tokio::task::spawn_blocking(|| node::shared().operator_image()).await.unwrap();
    let sim = tokio::task::spawn_blocking(|| node::shared().start_simulator()).await.unwrap();
    let (ns, release, fullname) = ("op-helm", "op", "op-crdb-cloud-operator");
    let selector = format!("app.kubernetes.io/instance={release}");
    let chart = chart();

    // The namespace enforces the restricted Pod Security Standard: the chart's pods must pass it.
    node.kubectl(&["create", "namespace", ns], None).await.ok();
    node.kubectl(&["label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"], None).await.ok();
    // The API key in a Secret made from stdin (never on a command line or in helm's values).
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cloud-api-key\n  namespace: {ns}\nstringData:\n  apiKey: {TEST_API_KEY}\n"
    );
    node.kubectl(&["apply", "-f", "-"], Some(&secret)).await.ok();
    let values = [
        "--set", &format!("image.repository={OPERATOR_REPOSITORY}"),
        "--set", &format!("image.tag={OPERATOR_TAG}"),
        "--set", "image.pullPolicy=Never",
        "--set", &format!("apiUrl={}", sim.url_in_node),
        "--set", "apiKey.existingSecret=cloud-api-key",
        "--set", "pollSeconds=1",
    ];
    assert_eq!(image, format!("{OPERATOR_REPOSITORY}:{OPERATOR_TAG}"));

    // 1. Readiness waits for the CRDs: installed without them, the pods run but are not Ready.
    let crds: Vec<&str> = CRD_NAMES.to_vec();
    let mut delete = vec!["delete", "crd", "--ignore-not-found", "--wait"];
    delete.extend(crds);
    node.kubectl(&delete, None).await.ok();
    let mut args = vec!["install", release, chart.as_str(), "-n", ns, "--skip-crds"];
    args.extend_from_slice(&values);
    node.helm(&args, None).await.ok();
    let running = eventually("two Running operator pods", TIMEOUT, || async {
        let pods = pods(node, ns, &selector).await;
        let started = pods.iter().filter(|p| p["status"]["containerStatuses"][0]["started"] == true).count();
        if pods.len() == 2 && started == 2 { Ok(pods) } else { Err(summary(&pods)) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await; // more than a readiness period
    for pod in &running {
        let name = pod_name(pod);
        let (ok, body) = pod_get(node, ns, &name, "/readyz").await;
        // 503 (the apiserver's proxy reports it as ServiceUnavailable, without the body).
        assert!(!ok && (body.contains("not ready") || body.contains("ServiceUnavailable")), "{name} without CRDs: /readyz says {body}");
        let (ok, body) = pod_get(node, ns, &name, "/healthz").await;
        assert!(ok && body.contains("ok"), "{name} is alive: {body}");
    }
    assert!(pods(node, ns, &selector).await.iter().all(|p| !is_ready(p)), "no pod Ready without the CRDs");
    node.kubectl(&["apply", "--server-side", "-f", &format!("{chart}/crds")], None).await.ok();
    ready_pods(node, ns, &selector, 2).await;
    node.helm(&["uninstall", release, "-n", ns, "--wait"], None).await.ok();
    eventually("the first release's pods gone", TIMEOUT, || async {
        let pods = pods(node, ns, &selector).await;
        if pods.is_empty() { Ok(()) } else { Err(summary(&pods)) }
    })
    .await;

    // 2. helm install --wait with the default values (but where the image and the Cloud API are).
    let started = Instant::now();
    let mut args = vec!["install", release, chart.as_str(), "-n", ns, "--wait", "--timeout", "180s"];
    args.extend_from_slice(&values);
    node.helm(&args, None).await.ok();
    let install_time = started.elapsed();
    let pods_now = ready_pods(node, ns, &selector, 2).await;
    let names: BTreeSet<String> = pods_now.iter().map(pod_name).collect();
    for pod in &pods_now {
        let c = &pod["spec"]["containers"][0];
        assert_eq!(c["image"], image.as_str());
        assert_eq!(c["imagePullPolicy"], "Never");
        assert!(c["args"].is_null() && c["command"].is_null(), "the image's entrypoint runs the operator");
        assert_eq!(pod["spec"]["nodeName"], NODE_NAME);
        let ip = pod["status"]["podIP"].as_str().unwrap_or_default();
        assert!(ip.starts_with("198.51.100."), "pod IP {ip} from the CNI bridge's range");
    }
    // Exactly one holds the Lease, and it is one of the pods.
    let (holder, _) = eventually("a Lease holder", TIMEOUT, || async {
        match lease(node, ns, fullname).await {
            (Some(h), r) if names.contains(&h) => Ok((h, r)),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let leading: Vec<String> = {
        let mut leading = Vec::new();
        for name in &names {
            let (ok, body) = pod_get(node, ns, name, "/metrics").await;
            assert!(ok, "{name} /metrics: {body}");
            if body.lines().any(|l| l.starts_with("crdb_operator_leader") && l.trim_end().ends_with(" 1")) {
                leading.push(name.clone());
            }
        }
        leading
    };
    assert_eq!(leading, vec![holder.clone()], "exactly the Lease holder says it leads");

    // 3. The operator in the pod reconciles against the simulator (reached at the node's IP).
    node.kubectl(&["apply", "-n", ns, "-f", "-"], Some(&cluster_with_one_child_of_each_kind("orders-db"))).await.ok();
    for kind in ["cockroachcluster/orders-db", "sqluser/app", "database/orders", "allowlistentry/office"] {
        node.kubectl(&["wait", "-n", ns, "--for=condition=Ready", kind, "--timeout=120s"], None).await.ok();
    }
    let secret = eventually("the SQLUser's connection Secret", TIMEOUT, || async {
        let out = node.kubectl(&["get", "secrets", "-n", ns, "-o", "json"], None).await.ok();
        let list: Value = serde_json::from_str(&out.stdout).unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["data"].get("host").is_some() && s["data"].get("password").is_some())
            .cloned()
            .ok_or_else(|| "no connection Secret yet".to_string())
    })
    .await;
    for key in ["host", "port", "user", "password", "database", "sslmode"] {
        assert!(secret["data"].get(key).is_some(), "the connection Secret has {key}");
    }
    assert_eq!(creates(&sim).await, [1, 1, 1, 1], "one create of each");

    // 4. Inside the pod, as the node sees its process: not root, no capabilities, no new
    //    privileges, seccomp, and a read-only root filesystem.
    for pod in &pods_now {
        let pid = container_pid(node, pod);
        let uids = proc_status_field(pid, "Uid");
        assert!(uids.split_whitespace().all(|u| u == "65532"), "{}: uids {uids}", pod_name(pod));
        let gids = proc_status_field(pid, "Gid");
        assert!(gids.split_whitespace().all(|g| g == "65532"), "{}: gids {gids}", pod_name(pod));
        for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            assert_eq!(u64::from_str_radix(&proc_status_field(pid, cap), 16).unwrap(), 0, "{}: {cap}", pod_name(pod));
        }
        assert_eq!(proc_status_field(pid, "NoNewPrivs"), "1");
        assert_eq!(proc_status_field(pid, "Seccomp"), "2", "RuntimeDefault seccomp filter");
        let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
        let root = mountinfo.lines().find(|l| l.split(' ').nth(4) == Some("/")).expect("a root mount");
        let options: Vec<&str> = root.split(' ').nth(5).unwrap_or_default().split(',').collect();
        assert!(options.contains(&"ro"), "root filesystem mounted read-only: {root}");
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        assert!(exe.ends_with("crdb-cloud-operator"), "{exe:?}");
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert_eq!(cmdline, b"/crdb-cloud-operator\0run\0", "the image's entrypoint");
        let environ = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).unwrap()).replace('\0', "\n");
        assert!(environ.lines().any(|l| l == format!("POD_NAME={}", pod_name(pod))), "the downward API's POD_NAME");
        assert!(environ.lines().any(|l| l == format!("POD_NAMESPACE={ns}")), "the downward API's POD_NAMESPACE");
    }

    // 5. /metrics through the chart's Service (its ClusterIP, through kube-proxy's rules).
    let services = json(node.kubectl(&["get", "service", "-n", ns, "-l", &selector, "-o", "json"], None).await);
    let service = &services["items"][0];
    let cluster_ip = service["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(cluster_ip.starts_with("198.18.0."), "{cluster_ip}");
    let port = node.forward("metrics", &format!("{cluster_ip}:8080")).expect("forward to the Service");
    let (status, body) = eventually("/metrics through the Service", Duration::from_secs(30), || async {
        let (status, body) = tokio::task::spawn_blocking(move || http_get(port, "/metrics")).await.unwrap();
        if status.contains(" 200 ") { Ok((status, body)) } else { Err(status) }
    })
    .await;
    assert!(body.contains("crdb_operator_"), "{status}: operator metrics:\n{body}");
    assert!(!body.contains(TEST_API_KEY), "no API key in the metrics");

    // 6. The leader pod deleted: the standby takes over within the lease time, no create repeated.
    let standby = names.iter().find(|n| **n != holder).unwrap().clone();
    let deleted_at = Instant::now();
    node.kubectl(&["delete", "pod", &holder, "-n", ns, "--wait=false"], None).await.ok();
    eventually("the standby holding the Lease", Duration::from_secs(LEASE_SECONDS + 5), || async {
        match lease(node, ns, fullname).await {
            (Some(h), _) if h == standby => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let takeover = deleted_at.elapsed();
    assert!(takeover <= Duration::from_secs(LEASE_SECONDS), "takeover took {takeover:?}");
    ready_pods(node, ns, &selector, 2).await;
    // The new leader works: a second database is created, once; nothing else is created again.
    let second = crdb_test_support::child("Database", "invoices", "orders-db", "");
    node.kubectl(&["apply", "-n", ns, "-f", "-"], Some(&second)).await.ok();
    node.kubectl(&["wait", "-n", ns, "--for=condition=Ready", "database/invoices", "--timeout=120s"], None).await.ok();
    assert_eq!(creates(&sim).await, [1, 1, 2, 1], "after the failover: only the new database was created");

    // 7. helm upgrade with a changed value rolls both pods; the Lease is never left for longer
    //    than the lease time, and nothing is created twice.
    let before: BTreeSet<String> = pods(node, ns, &selector).await.iter().map(pod_name).collect();
    let watch = {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = tokio::spawn(async move {
            // (instant, holder, renewTime) whenever either changes.
            let mut seen: Vec<(Instant, Option<String>, Option<String>)> = Vec::new();
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let (h, r) = lease(node::shared(), "op-helm", "op-crdb-cloud-operator").await;
                if seen.last().is_none_or(|(_, lh, lr)| *lh != h || *lr != r) {
                    seen.push((Instant::now(), h, r));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            seen.push((Instant::now(), None, None));
            seen
        });
        (stop, handle)
    };
    let args = ["upgrade", release, chart.as_str(), "-n", ns, "--wait", "--timeout", "180s", "--reuse-values", "--set", "logLevel=debug"];
    node.helm(&args, None).await.ok();
    let after = ready_pods(node, ns, &selector, 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    watch.0.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = watch.1.await.unwrap();
    let after_names: BTreeSet<String> = after.iter().map(pod_name).collect();
    assert!(before.is_disjoint(&after_names), "every pod replaced: {before:?} -> {after_names:?}");
    for pod in &after {
        let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
        assert!(env.iter().any(|e| e["name"] == "LOG_LEVEL" && e["value"] == "debug"), "the new value reached the pod");
    }
    let longest_gap = seen.windows(2).map(|w| w[1].0 - w[0].0).max().unwrap_or_default();
    assert!(
        longest_gap < Duration::from_secs(LEASE_SECONDS),
        "the Lease went {longest_gap:?} without a renewal or a new holder during the upgrade: {:?}",
        seen.iter().map(|(t, h, r)| (t.duration_since(seen[0].0), h, r)).collect::<Vec<_>>()
    );
    let holders: BTreeSet<String> = seen.iter().filter_map(|(_, h, _)| h.clone()).collect();
    assert!(holders.iter().any(|h| after_names.contains(h)), "a new pod leads: {holders:?}");
    assert_eq!(creates(&sim).await, [1, 1, 2, 1], "the upgrade created nothing");

    // 8. kubectl drain respects the PodDisruptionBudget (minAvailable 1): one pod is evicted, the
    //    other's eviction is refused while the first one's replacement cannot be scheduled.
    let out = node
        .kubectl(&["drain", NODE_NAME, "--pod-selector", &selector, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=15s"], None)
        .await;
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(!out.success(), "the drain cannot finish while the budget holds: {out}");
    assert!(text.contains("disruption budget"), "the drain was refused by the budget: {text}");
    let left = pods(node, ns, &selector).await;
    assert_eq!(left.iter().filter(|p| is_ready(p)).count(), 1, "the budget kept one pod: {}", summary(&left));
    node.kubectl(&["uncordon", NODE_NAME], None).await.ok();
    ready_pods(node, ns, &selector, 2).await;

    // 9. helm uninstall leaves only the CRDs (the resources are deleted first, by the operator).
    node.kubectl(&["delete", "-n", ns, "allowlistentry,database,sqluser,cockroachcluster", "--all", "--timeout=120s"], None).await.ok();
    node.helm(&["uninstall", release, "-n", ns, "--wait", "--timeout", "120s"], None).await.ok();
    eventually("the release's pods gone", TIMEOUT, || async {
        let pods = pods(node, ns, &selector).await;
        if pods.is_empty() { Ok(()) } else { Err(summary(&pods)) }
    })
    .await;
    let out = node
        .kubectl(&["get", "deploy,svc,sa,role,rolebinding,lease,pdb,secret,configmap", "-n", ns, "-l", &selector, "-o", "name"], None)
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "", "objects of the release left in {ns}");
    let out = node.kubectl(&["get", "clusterrole,clusterrolebinding", "-o", "name"], None).await.ok();
    assert!(!out.stdout.contains(fullname), "cluster-wide objects of the release left:\n{}", out.stdout);
    let crds = node.kubectl(&["get", "crd", "-o", "name"], None).await.ok();
    for crd in CRD_NAMES {
        assert!(crds.stdout.contains(crd), "the CRD {crd} stays");
    }
    println!(
        "node start {:.1}s, helm install --wait {:.1}s, leader takeover {:.1}s, longest Lease gap in the upgrade {:.1}s",
        node.startup_duration().as_secs_f64(),
        install_time.as_secs_f64(),
        takeover.as_secs_f64(),
        longest_gap.as_secs_f64()
    );
    drop(sim);
}

/// `kubectl apply -k deploy/` brings up the same pods as the chart's default values.
#[tokio::test]
async fn deploy_with_kustomize_runs_on_the_node() {
    let _turn = TURN.lock().await;
    let node = node().await;
    let image = tokio::task::spawn_blocking(|| node::shared().operator_image()).await.unwrap();
    // deploy/ names the chart's default image; this node has it under that name too.
    let chart = chart();
    let out = node.helm(&["template", "crdb-cloud-operator", &chart, "-n", "crdb-cloud-operator"], None).await.ok();
    let rendered = yaml_docs(&out.stdout);
    let expected = one(&rendered, "Deployment")["spec"]["template"]["spec"].clone();
    let default_image = expected["containers"][0]["image"].as_str().unwrap().to_string();
    node.tag_image(&image, &default_image).expect("tag the image with the chart's default");

    let deploy = repo().join("deploy");
    node.kubectl(&["apply", "--server-side", "-k", &deploy.display().to_string()], None).await.ok();
    let ns = "crdb-cloud-operator";
    let selector = "app.kubernetes.io/instance=crdb-cloud-operator";
    let pods = ready_pods(node, ns, selector, 2).await;
    for pod in &pods {
        let (got, want) = (&pod["spec"]["containers"][0], &expected["containers"][0]);
        for field in ["image", "ports", "livenessProbe", "readinessProbe", "securityContext", "resources", "env"] {
            assert_subset(&got[field], &want[field], &format!("{} {field}", pod_name(pod)));
        }
        assert_subset(&pod["spec"]["securityContext"], &expected["securityContext"], "pod securityContext");
        assert_eq!(pod["spec"]["serviceAccountName"], expected["serviceAccountName"]);
    }
    let names: BTreeSet<String> = pods.iter().map(pod_name).collect();
    eventually("one of deploy/'s pods holding the Lease", TIMEOUT, || async {
        match lease(node, ns, "crdb-cloud-operator").await {
            (Some(h), _) if names.contains(&h) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    // Leave the CRDs (the chart's test uses them); remove the rest.
    node.kubectl(&["delete", "namespace", ns, "--wait=false"], None).await.ok();
    node.kubectl(&["delete", "clusterrole,clusterrolebinding", "crdb-cloud-operator"], None).await.ok();
}
