//! The node leaves nothing behind when the test that owns it panics: its pods, programs and
//! containerd shims, mounts, the pods' and the node's network namespaces, cgroups, and the
//! machine-wide kernel settings the kubelet changes. Its own test binary, because the node's state
//! is named after the process (the shared node of e2e_node.rs would be the same one).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crdb_test_support::node::image::PAUSE_IMAGE;
use crdb_test_support::node::teardown::{cgroup_dirs, global_sysctls, mounts_under, processes_naming};
use crdb_test_support::node::{Layout, Node};

const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: sleeper
  namespace: default
spec:
  containers:
    - name: pause
      image: IMAGE
      imagePullPolicy: Never
      securityContext:
        runAsNonRoot: true
        runAsUser: 65535
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {drop: [ALL]}
        seccompProfile: {type: RuntimeDefault}
";

/// What the node had on the machine while the pod ran, for the checks after the panic.
struct Seen {
    layout: Layout,
    pod_pid: i32,
    pod_netns: Vec<String>,
}

fn netns_exists(name: &str) -> bool {
    PathBuf::from("/run/netns").join(name).exists()
}

#[test]
fn a_panicking_test_leaves_no_trace_of_its_node() {
    let before = global_sysctls();
    let outside: Vec<(&str, bool)> =
        ["/var/lib/kubelet", "/var/log/pods", "/var/log/containers", "/var/lib/cni", "/run/containerd"].map(|p| (p, std::path::Path::new(p).exists())).to_vec();
    let (tx, rx) = std::sync::mpsc::channel::<Seen>();
    let outcome = std::thread::spawn(move || {
        let node = Node::start().unwrap_or_else(|e| panic!("the node did not start: {e}"));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            node.kubectl(&["apply", "-f", "-"], Some(&POD.replace("IMAGE", PAUSE_IMAGE))).await.ok();
            node.kubectl(&["wait", "--for=condition=Ready", "pod/sleeper", "--timeout=90s"], None).await.ok();
        });
        let layout = node.layout().clone();
        // The pod's process is in the node's cgroups; its network namespace is a mount under
        // the node's directory.
        let pod_pid = cgroup_dirs(&layout)
            .iter()
            .flat_map(|d| walk(d))
            .flat_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default().lines().map(String::from).collect::<Vec<_>>())
            .filter_map(|l| l.trim().parse::<i32>().ok())
            .find(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"/pause")))
            .expect("the pod's pause process in the node's cgroups");
        let pod_netns: Vec<String> = mounts_under(&layout.dir).into_iter().filter(|m| m.contains("netns")).collect();
        assert!(!pod_netns.is_empty(), "the pod's network namespace is mounted under the node's directory");
        assert!(netns_exists(&layout.name));
        assert!(!processes_naming(&layout.dir).is_empty(), "the node's programs run");
        tx.send(Seen { layout, pod_pid, pod_netns }).unwrap();
        panic!("a test fails while its node runs");
    })
    .join();
    assert!(outcome.is_err(), "the thread panicked as planned");
    let seen = rx.recv().expect("the node ran a pod before the panic");
    let layout = &seen.layout;

    // Processes may take a moment to be reaped after SIGKILL.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{}", seen.pod_pid)).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!std::path::Path::new(&format!("/proc/{}", seen.pod_pid)).exists(), "the pod's process is gone");
    assert_eq!(processes_naming(&layout.dir), Vec::<i32>::new(), "no program of the node is left (shims included)");
    assert_eq!(mounts_under(&layout.dir), Vec::<String>::new(), "nothing stays mounted (the pod's netns was {:?})", seen.pod_netns);
    assert!(!netns_exists(&layout.name), "the node's network namespace is deleted");
    assert_eq!(cgroup_dirs(layout), Vec::<PathBuf>::new(), "the pods' cgroups are removed");
    assert!(!layout.dir.exists(), "the node's directory is removed");
    assert_eq!(global_sysctls(), before, "the kernel settings are put back");
    for (path, existed) in outside {
        assert_eq!(std::path::Path::new(path).exists(), existed, "{path} as it was before");
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}
