//! The real operator binary as a child process watching one namespace, and the CRDs it needs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::controlplane::shared;
use crate::repo_root;
use crate::kubectl::kubectl;
use crate::processes::die_with_parent_tokio;
use crate::simulator::TEST_API_KEY;

static CRDS: OnceCell<()> = OnceCell::const_new();

/// Applies crds/ with kubectl once per test binary and waits until they are served.
pub async fn install_crds() {
    CRDS.get_or_init(apply_crds).await;
}

/// Applies crds/ with kubectl and waits until every CRD is served (again, for tests that delete
/// CRDs; others call [`install_crds`]).
pub async fn apply_crds() {
    let dir = repo_root().join("crds");
    kubectl(&["apply", "--server-side", "--force-conflicts", "-f", dir.to_str().unwrap()], None).await.ok();
    kubectl(&["wait", "--for=condition=Established", "--timeout=60s", "crd", "-l", "app.kubernetes.io/part-of=crdb-cloud-operator"], None)
        .await
        .ok();
}

/// The operator binary: `CRDB_OPERATOR_BIN`, or else `crdb-cloud-operator` in the profile
/// directory of the running test or example (Cargo builds the package's binaries before its
/// integration tests; `make demo` builds it before the demo).
pub fn operator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CRDB_OPERATOR_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    // Tests run from target/<profile>/deps/, examples from target/<profile>/examples/.
    let exe = std::env::current_exe().expect("the path of the running test");
    let profile_dir = exe.parent().and_then(Path::parent).expect("a test binary inside a Cargo target directory");
    profile_dir.join("crdb-cloud-operator")
}

/// The real operator binary, watching one namespace. Killed when dropped.
pub struct Operator {
    child: tokio::process::Child,
    log: PathBuf,
    name: String,
}

pub struct OperatorOptions<'a> {
    pub namespace: &'a str,
    pub api_url: &'a str,
    /// `None` starts the operator without a default key.
    pub api_key: Option<&'a str>,
    pub resync_seconds: u64,
    pub log_level: &'a str,
    /// Run under another identity than the admin (e.g. the chart's ServiceAccount).
    pub kubeconfig: Option<&'a Path>,
    /// Leader election: the Lease's namespace (default: the watched namespace), the identity
    /// (POD_NAME) and the lease duration.
    pub lease_namespace: Option<&'a str>,
    pub pod_name: Option<&'a str>,
    pub lease_seconds: Option<u64>,
    /// Seconds between polls while the cloud works (tests poll every second).
    pub poll_seconds: u64,
    /// Further command-line arguments.
    pub extra_args: Vec<String>,
    /// Namespaces trusted with organisation-level kinds (`--org-namespaces`). Default: the watched
    /// namespace, as an installed operator trusts its own; empty passes no flag (then nothing is
    /// trusted, since tests start the operator without POD_NAMESPACE).
    pub org_namespaces: Vec<String>,
}

impl<'a> OperatorOptions<'a> {
    pub fn new(namespace: &'a str, api_url: &'a str) -> Self {
        Self {
            namespace,
            api_url,
            api_key: Some(TEST_API_KEY),
            resync_seconds: 300,
            log_level: "info",
            kubeconfig: None,
            lease_namespace: None,
            pod_name: None,
            lease_seconds: None,
            poll_seconds: 1,
            extra_args: Vec::new(),
            org_namespaces: vec![namespace.to_string()],
        }
    }

    /// Trusts exactly `namespaces` with organisation-level kinds.
    pub fn trusting_org_namespaces(mut self, namespaces: &[&str]) -> Self {
        self.org_namespaces = namespaces.iter().map(|ns| ns.to_string()).collect();
        self
    }
}

impl Operator {
    pub fn start(options: OperatorOptions<'_>) -> Self {
        let cp = shared();
        let log = cp.dir().join(format!("operator-{}-{}.log", options.namespace, rand::random::<u32>()));
        let file = std::fs::File::create(&log).expect("operator log file");
        let mut cmd = tokio::process::Command::new(operator_binary());
        cmd.args([
            "run",
            "--api-url",
            options.api_url,
            "--watch-namespace",
            options.namespace,
            "--poll-seconds",
            &options.poll_seconds.to_string(),
            "--resync-seconds",
            &options.resync_seconds.to_string(),
            "--log-level",
            options.log_level,
            // Many operators share the machine in tests: bind a free port (logged at start-up).
            "--health-addr",
            "127.0.0.1:0",
        ]);
        if !options.org_namespaces.is_empty() {
            cmd.args(["--org-namespaces", &options.org_namespaces.join(",")]);
        }
        cmd.args(&options.extra_args);
        if let Some(namespace) = options.lease_namespace {
            cmd.args(["--leader-election-namespace", namespace]);
        }
        if let Some(seconds) = options.lease_seconds {
            cmd.args(["--lease-seconds", &seconds.to_string()]);
        }
        for (k, v) in cp.env() {
            cmd.env(k, v);
        }
        if let Some(kubeconfig) = options.kubeconfig {
            cmd.env("KUBECONFIG", kubeconfig);
        }
        let name = options.pod_name.unwrap_or("operator").to_string();
        if let Some(pod_name) = options.pod_name {
            cmd.env("POD_NAME", pod_name);
        }
        cmd.env_remove("RUST_LOG").env_remove("COCKROACH_API_KEY").env_remove("POD_NAMESPACE").env_remove("WATCH_NAMESPACE");
        if let Some(key) = options.api_key {
            cmd.env("COCKROACH_API_KEY", key);
        }
        // Trust comes from `org_namespaces` alone, never from the test's own environment.
        cmd.env_remove("CRDB_ORG_NAMESPACES");
        cmd.stdout(Stdio::from(file.try_clone().unwrap())).stderr(Stdio::from(file)).kill_on_drop(true);
        die_with_parent_tokio(&mut cmd);
        let child = cmd.spawn().expect("operator binary starts");
        Self { child, log, name }
    }

    /// The operator's process id (for reading its memory use from /proc).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Everything the operator logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the operator logged `needle`.
    pub async fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.logs().contains(needle) {
            assert!(Instant::now() < deadline, "{} never logged {needle:?}:\n{}", self.name, self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The address of /healthz, /readyz and /metrics, read from the start-up log line.
    pub async fn health_addr(&self) -> String {
        self.wait_for_log("serving /healthz").await;
        let logs = self.logs();
        let line = logs.lines().find(|l| l.contains("serving /healthz")).expect("the line just seen");
        let addr = line.split("health=").nth(1).and_then(|rest| rest.split_whitespace().next());
        addr.unwrap_or_else(|| panic!("no health address in {line:?}")).trim_matches('"').to_string()
    }

    /// SIGTERM, as Kubernetes stops a pod; returns how the process exited.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("the operator is running") as libc::pid_t;
        // SAFETY: a plain kill(2) on our own child process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not stop within 20 s of SIGTERM:\n{}", self.name, self.logs()))
            .expect("wait for the operator")
    }

    /// Sends `signal` (e.g. SIGSTOP and SIGCONT, as a frozen node or a long pause would).
    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id().expect("the operator is running") as libc::pid_t;
        // SAFETY: a plain kill(2) on our own child process.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// Waits until the process exits by itself; returns how.
    pub async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit within {timeout:?}:\n{}", self.name, self.logs()))
            .expect("wait for the operator")
    }

    /// Stops the process at once (SIGKILL), as a crash would.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// The file the operator logs to (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Whether the process is still running (it has not exited or been killed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!("---- {} log ({}) ----\n{}", self.name, self.log.display(), tail(&self.logs(), 80));
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

