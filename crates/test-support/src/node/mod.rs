//! A real Kubernetes node for the end-to-end tests that run the chart's pods: etcd,
//! kube-apiserver, kube-controller-manager and kube-scheduler, containerd (Debian's, with runc and
//! the CNI plugins), the kubelet and kube-proxy, all inside a network namespace this module
//! creates, reachable from the tests through socat on 127.0.0.1. One node per test binary
//! ([`shared`]), or an owned one ([`Node::start`], torn down on drop).
//!
//! Addresses, all inside the node's namespace: the node 192.0.2.0/24 (documentation range), pods
//! 198.51.100.0/24 (a CNI bridge with host-local IPAM), Services 198.18.0.0/24 (benchmarking
//! range). Nothing leaves the machine.
//!
//! Teardown (on drop, at exit for the shared node, and on the next start for a killed run) kills
//! the pods (every process in the node's cgroups), the node's programs and containerd's shims,
//! unmounts what they mounted, deletes the pods' and the node's network namespaces and cgroups,
//! puts back the kernel settings the kubelet changes and removes what it created outside.
//!
//! Needs root, and the programs built by `tests/controlplane/build.sh` (which also installs the
//! runtime with `tests/node/setup.sh`).
//!
//! - [`layout`]: where a node keeps its state. [`netns`]: the namespace, nsenter, socat forwards.
//! - [`control`]: the control plane inside the namespace. [`runtime`]: containerd, CNI, images.
//! - [`kubelet`]: the kubelet and kube-proxy. [`teardown`]: putting the machine back.
//! - [`image`]: the operator's and the sandbox's OCI images. [`simulator`]: the Cloud API
//!   simulator where pods reach it.

pub mod control;
pub mod image;
pub mod kubelet;
pub mod layout;
pub mod netns;
pub mod runtime;
pub mod simulator;
pub mod teardown;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use layout::Layout;
pub use simulator::NodeSimulator;

use crate::kubectl::CmdOutput;
use crate::processes::{die_with_parent, progress, spawn_from_long_lived_thread};

/// The node's IP (on `node0` inside its namespace).
pub const NODE_IP: &str = "192.0.2.10";
pub(crate) const NODE_PREFIX_LEN: u8 = 24;
/// The node's name.
pub const NODE_NAME: &str = "crdb-node";
/// Pod addresses (CNI bridge, host-local IPAM).
pub const POD_CIDR: &str = "198.51.100.0/24";
/// Service ClusterIPs; the `kubernetes` Service gets the first.
pub const SERVICE_CIDR: &str = "198.18.0.0/24";
pub const KUBERNETES_SERVICE_IP: &str = "198.18.0.1";

/// The running node. [`shared`] for the test binary's one, [`Node::start`] for an owned one.
pub struct Node {
    layout: Layout,
    bin_dir: PathBuf,
    /// Admin kubeconfig for use outside the namespace (through the socat forward).
    kubeconfig: PathBuf,
    /// Admin kubeconfig for programs inside the namespace (`https://NODE_IP:443`).
    inner_kubeconfig: PathBuf,
    config: kube::Config,
    children: Mutex<Vec<(String, Child)>>,
    torn_down: AtomicBool,
    startup: Duration,
    /// Images imported so far (by reference).
    imported: Mutex<Vec<String>>,
}

static SHARED: OnceLock<Result<Node, String>> = OnceLock::new();

/// This test binary's node, started on first use and torn down when the binary exits (also
/// after failed tests). Panics, with the failing component's log, if it cannot start.
pub fn shared() -> &'static Node {
    let result = SHARED.get_or_init(|| {
        let started = std::thread::Builder::new()
            .name("node-start".into())
            .spawn(Node::start)
            .expect("spawn the node start-up thread")
            .join()
            .unwrap_or_else(|_| Err("the node's start-up panicked".to_string()));
        if started.is_ok() {
            // SAFETY: registering a plain extern "C" function. Registered after the process
            // spawner's own hook, so it runs first (atexit runs hooks in reverse order).
            unsafe { libc::atexit(teardown_shared_at_exit) };
        }
        started
    });
    match result {
        Ok(node) => node,
        Err(e) => panic!("the test node failed to start:\n{e}"),
    }
}

extern "C" fn teardown_shared_at_exit() {
    if let Some(Ok(node)) = SHARED.get() {
        node.teardown();
    }
}

impl Node {
    /// Starts a node: builds nothing (the binaries come from `tests/controlplane/build.sh`), tears
    /// down what killed runs left, then starts everything and waits until the node is Ready.
    /// Blocking; call it from a thread without a Tokio runtime.
    pub fn start() -> Result<Node, String> {
        crate::install_crypto_provider();
        if unsafe { libc::geteuid() } != 0 {
            return Err("the test node needs root (network namespaces, containerd, the kubelet)".into());
        }
        let bin_dir = locate_binaries()?;
        teardown::sweep_stale();
        let started = Instant::now();
        let dir = std::env::temp_dir().join(format!("{}{}", layout::PREFIX, std::process::id()));
        if dir.exists() {
            teardown::teardown(&Layout::new(dir.clone()));
        }
        fs::create_dir_all(dir.join("logs")).map_err(|e| format!("create {}: {e}", dir.display()))?;
        fs::write(dir.join("owner.pid"), std::process::id().to_string()).map_err(|e| format!("write owner.pid: {e}"))?;
        if std::env::var("CRDB_TESTENV_KEEP").is_ok_and(|v| !v.is_empty() && v != "0") {
            let _ = fs::write(dir.join("KEEP"), "");
        }
        let layout = Layout::new(dir);
        progress(format!("starting the test node in {} (network namespace {})", layout.dir.display(), layout.name));
        let mut node = Node {
            layout,
            bin_dir,
            kubeconfig: PathBuf::new(),
            inner_kubeconfig: PathBuf::new(),
            config: kube::Config::new("http://unset".parse().unwrap()),
            children: Mutex::new(Vec::new()),
            torn_down: AtomicBool::new(false),
            startup: Duration::ZERO,
            imported: Mutex::new(Vec::new()),
        };
        // On failure the node is dropped, which tears it down (the error carries the log's tail).
        node.bring_up()?;
        node.startup = started.elapsed();
        progress(format!("test node Ready in {:.1}s; admin kubeconfig {}", node.startup.as_secs_f64(), node.kubeconfig.display()));
        Ok(node)
    }

    fn bring_up(&mut self) -> Result<(), String> {
        teardown::snapshot(&self.layout)?;
        netns::create(&self.layout)?;
        let cp = control::start(self)?;
        self.kubeconfig = cp.kubeconfig;
        self.inner_kubeconfig = cp.inner_kubeconfig;
        self.config = cp.config;
        runtime::start_containerd(self)?;
        runtime::import_pause_image(self)?;
        kubelet::start(self, &cp.pki)?;
        Ok(())
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// How long the start took (namespace, control plane, containerd, kubelet Ready).
    pub fn startup_duration(&self) -> Duration {
        self.startup
    }

    /// Admin kubeconfig for kubectl, helm and clients outside the node's namespace.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Admin kubeconfig for programs run inside the namespace ([`Node::in_node`]).
    pub fn inner_kubeconfig_path(&self) -> &Path {
        &self.inner_kubeconfig
    }

    /// A new admin client (needs a Tokio runtime).
    pub fn client(&self) -> kube::Client {
        kube::Client::try_from(self.config.clone()).expect("build the node's admin client")
    }

    /// Directory of the built programs (kubectl, helm, ...).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// Environment for kubectl and helm pointed at this node (helm's directories in the node's).
    pub fn env(&self) -> Vec<(String, String)> {
        crate::controlplane::tool_env(&self.bin_dir, &self.kubeconfig, &self.layout.dir)
    }

    /// `program` (a built binary's name, or a path) with [`Node::env`], tied to this process.
    pub fn command(&self, program: &str) -> Command {
        let built = self.bin(program);
        let mut cmd = Command::new(if built.is_file() { built } else { PathBuf::from(program) });
        cmd.envs(self.env());
        die_with_parent(&mut cmd);
        cmd
    }

    /// `program` inside the node's network namespace.
    pub fn in_node(&self, program: &Path) -> Command {
        netns::command(&self.layout, program)
    }

    /// `kubectl <args>` against the node as the admin.
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> CmdOutput {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        crate::kubectl::run(self.command("kubectl"), "kubectl", &args, stdin).await
    }

    /// `helm <args>` against the node as the admin.
    pub async fn helm(&self, args: &[&str], stdin: Option<&str>) -> CmdOutput {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        crate::kubectl::run(self.command("helm"), "helm", &args, stdin).await
    }

    /// Makes `target` (`ip:port` inside the node's namespace) reachable at the returned port on
    /// 127.0.0.1 here. The forward lives as long as the node.
    pub fn forward(&self, name: &str, target: &str) -> Result<u16, String> {
        let port = netns::free_host_port()?;
        let (inside, outside) = netns::forward_commands(&self.layout, name, port, target)?;
        self.launch(&format!("socat-{name}-inside"), inside)?;
        let socket = self.layout.forwards().join(format!("{name}.sock"));
        self.wait_ready(&format!("socat-{name}-inside"), Duration::from_secs(10), || Ok(socket.exists()))?;
        self.launch(&format!("socat-{name}-outside"), outside)?;
        self.wait_ready(&format!("socat-{name}-outside"), Duration::from_secs(10), || {
            Ok(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
        })?;
        Ok(port)
    }

    /// Starts a long-running component with its output in `logs/<name>.log`.
    pub(crate) fn launch(&self, name: &str, mut cmd: Command) -> Result<PathBuf, String> {
        let log = self.layout.logs().join(format!("{name}.log"));
        let out = File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| format!("clone {}: {e}", log.display()))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        die_with_parent(&mut cmd);
        let child = spawn_from_long_lived_thread(cmd).map_err(|e| format!("start {name}: {e}"))?;
        self.children.lock().unwrap().push((name.to_string(), child));
        Ok(log)
    }

    /// Waits until `ready` holds; fails with the tail of the component's log if it exits first
    /// or `timeout` passes.
    pub(crate) fn wait_ready(&self, name: &str, timeout: Duration, mut ready: impl FnMut() -> Result<bool, String>) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if ready()? {
                return Ok(());
            }
            let exited = {
                let mut children = self.children.lock().unwrap();
                children.iter_mut().find(|(n, _)| n == name).and_then(|(_, c)| c.try_wait().ok().flatten())
            };
            if let Some(status) = exited {
                return Err(self.failure(name, &format!("exited ({status}) before it was ready")));
            }
            if Instant::now() > deadline {
                return Err(self.failure(name, &format!("was not ready within {timeout:?}")));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn failure(&self, name: &str, what: &str) -> String {
        let log = self.layout.logs().join(format!("{name}.log"));
        let text = fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!("{name} {what}\n--- last 40 lines of {} ---\n{tail}\n---", log.display())
    }

    /// The tail of a component's log (`kubelet`, `containerd`, `kube-apiserver`, ...).
    pub fn log_tail(&self, name: &str, lines: usize) -> String {
        let text = fs::read_to_string(self.layout.logs().join(format!("{name}.log"))).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Tears the node down (idempotent). Stops the kubelet and kube-proxy first so nothing
    /// restarts the pods, then everything else in reverse order of start; see [`teardown`].
    pub fn teardown(&self) {
        if self.torn_down.swap(true, Ordering::SeqCst) {
            return;
        }
        let keep_logs = self.layout.dir.join("KEEP").exists();
        // try_lock: never hang the exit path.
        if let Ok(mut children) = self.children.try_lock() {
            for first in ["kubelet", "kube-proxy"] {
                if let Some((_, child)) = children.iter_mut().find(|(n, _)| n == first) {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            // The pods, while containerd still runs (its shims see their containers exit).
            let mut problems = Vec::new();
            teardown::kill_cgroup_processes(&self.layout, &mut problems);
            while let Some((_, mut child)) = children.pop() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if keep_logs {
            let saved = std::env::temp_dir().join(format!("{}-logs", self.layout.name));
            let _ = fs::remove_dir_all(&saved);
            let _ = Command::new("cp").arg("-r").arg(self.layout.logs()).arg(&saved).status();
            progress(format!("node logs kept in {}", saved.display()));
        }
        let problems = teardown::teardown(&self.layout);
        if problems.is_empty() {
            progress("test node torn down");
        } else {
            progress(format!("test node torn down, with problems: {}", problems.join("; ")));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// The directory of the built programs: `CRDB_TESTENV_BIN`, or what `tests/controlplane/build.sh`
/// prints. It must hold the node's programs too.
fn locate_binaries() -> Result<PathBuf, String> {
    // Found as the control plane finds its programs; the node needs more of them.
    let dir = crate::controlplane::locate_binaries()?;
    for bin in ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "helm", "pause"] {
        if !dir.join(bin).is_file() {
            return Err(format!("{} has no {bin}: run tests/controlplane/build.sh and use the directory it prints", dir.display()));
        }
    }
    for (program, package) in [("containerd", "containerd"), ("runc", "runc"), ("socat", "socat"), ("iptables", "iptables"), ("conntrack", "conntrack")] {
        let found = std::env::var("PATH").unwrap_or_default().split(':').any(|p| Path::new(p).join(program).is_file())
            || ["/usr/sbin", "/usr/bin", "/sbin"].iter().any(|p| Path::new(p).join(program).is_file());
        if !found {
            return Err(format!("{program} is missing: run tests/node/setup.sh (installs Debian's {package})"));
        }
    }
    if !Path::new("/usr/lib/cni/bridge").is_file() {
        return Err("the CNI plugins are missing: run tests/node/setup.sh (installs containernetworking-plugins)".into());
    }
    Ok(dir)
}
