//! One real Kubernetes control plane per test binary, started on first use and shared by every
//! test in the binary: etcd, kube-apiserver and (unless disabled) kube-controller-manager, run as
//! child processes on 127.0.0.1 with the flags controller-runtime's envtest uses.
//!
//! The processes cannot outlive the test binary: they are spawned from a dedicated thread that
//! lives as long as the process, with `PR_SET_PDEATHSIG(SIGKILL)`, so they die with it even if it
//! is killed or aborts; on a normal exit an `atexit` hook also kills them and removes the temporary
//! directory. Temporary directories left behind by killed runs are removed on the next start.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use rcgen::{Issuer, KeyPair};

use crate::install_crypto_provider;
use crate::pki::{Pki, UserAuth, kubeconfig_yaml, sanitize, write_file, write_user_certificate};
use crate::processes::{
    CLEANUP_DIR, Failure, RUNNING, die_with_parent, kill_all, launch, progress, spawn_from_long_lived_thread,
    wait_until, wait_until_async,
};

/// Service ClusterIP range of the test cluster; the `kubernetes` Service gets its first address.
pub const SERVICE_CLUSTER_IP_RANGE: &str = "10.0.0.0/24";

const TEMP_PREFIX: &str = "crdb-testenv-";
const ETCD_TIMEOUT: Duration = Duration::from_secs(60);
const APISERVER_TIMEOUT: Duration = Duration::from_secs(120);
const CONTROLLER_MANAGER_TIMEOUT: Duration = Duration::from_secs(90);

/// The running control plane. Obtain it with [`shared`].
pub struct ControlPlane {
    dir: PathBuf,
    bin_dir: PathBuf,
    server: String,
    etcd_url: String,
    kubeconfig: PathBuf,
    ca_cert: PathBuf,
    client_ca: Issuer<'static, KeyPair>,
    config: kube::Config,
    controller_manager: bool,
    startup: Duration,
    logs: Vec<(String, PathBuf)>,
    seq: AtomicU64,
    /// kube-apiserver's command line, to start it again after [`ControlPlane::stop_apiserver`].
    apiserver_args: Vec<String>,
}

static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();

/// The control plane of this test binary, started on the first call (which may build the
/// binaries: a cold build takes many minutes and logs its progress to stderr).
///
/// Blocking but safe to call from async tests (start-up runs on its own thread and runtime).
/// Panics if the control plane cannot be started; every later call panics with the same message.
pub fn shared() -> &'static ControlPlane {
    let result = SHARED.get_or_init(|| {
        install_crypto_provider();
        std::thread::Builder::new()
            .name("testenv-start".into())
            .spawn(start_with_retries)
            .expect("spawn the control plane start-up thread")
            .join()
            .unwrap_or_else(|panic| Err(panic_message(&panic)))
    });
    match result {
        Ok(cp) => cp,
        Err(e) => panic!("the test control plane failed to start:\n{e}"),
    }
}

/// The apiserver's audit log (JSON lines), in the control plane's directory.
const AUDIT_LOG: &str = "audit.log";

/// Audits every write (not reads) at the Metadata level: who wrote what, when. Tests read it to
/// prove that a process made no write after some instant.
fn write_audit_policy(dir: &Path) -> Result<PathBuf, String> {
    let path = dir.join("audit-policy.yaml");
    let policy = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n  - level: None\n    verbs: [get, list, watch]\n  - level: Metadata\n";
    fs::write(&path, policy).map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(path)
}

/// One write recorded by the apiserver's audit log.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditedWrite {
    pub verb: String,
    #[serde(rename = "requestURI")]
    pub request_uri: String,
    pub user: AuditUser,
    pub request_received_timestamp: String,
    #[serde(default)]
    pub response_status: Option<AuditStatus>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct AuditUser {
    pub username: String,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct AuditStatus {
    #[serde(default)]
    pub code: u16,
}

impl ControlPlane {
    /// Every write the apiserver has audited so far, oldest first.
    pub fn audited_writes(&self) -> Vec<AuditedWrite> {
        let text = fs::read_to_string(self.dir.join(AUDIT_LOG)).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("an audit log line this harness cannot read ({e}): {line}")))
            .collect()
    }

    /// Admin kubeconfig (client certificate with `O=system:masters`), for kubectl, helm and the
    /// operator binary under test.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// A new admin client. Needs a Tokio runtime (the client's background task runs on it), so
    /// make one per test rather than sharing clients across `#[tokio::test]`s.
    pub fn client(&self) -> kube::Client {
        kube::Client::try_from(self.config.clone()).expect("build the admin kube client")
    }

    /// The admin `kube::Config`, e.g. to build a client with other timeouts.
    pub fn config(&self) -> kube::Config {
        self.config.clone()
    }

    /// Directory holding `kubectl`, `helm`, `kube-apiserver`, `kube-controller-manager`, `etcd`.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Path of one of the built programs, e.g. `bin("kubectl")`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// The apiserver's URL, `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> &str {
        &self.server
    }

    /// The etcd client URL, `http://127.0.0.1:<port>`.
    pub fn etcd_url(&self) -> &str {
        &self.etcd_url
    }

    /// PEM file of the CA that signed the apiserver's serving certificate.
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert
    }

    /// The control plane's temporary directory (certificates, kubeconfigs, `logs/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Log file of each component: `etcd`, `kube-apiserver`, `kube-controller-manager`.
    pub fn log_files(&self) -> &[(String, PathBuf)] {
        &self.logs
    }

    /// Whether kube-controller-manager runs (garbage collection, namespace deletion, default
    /// ServiceAccounts). Tests that rely on it should check this and skip otherwise.
    pub fn has_controller_manager(&self) -> bool {
        self.controller_manager
    }

    /// How long the warm start-up took (etcd, apiserver and controller-manager ready), not
    /// counting the build.
    pub fn startup_duration(&self) -> Duration {
        self.startup
    }

    /// Environment for programs pointed at this cluster: `KUBECONFIG`, `PATH` with [`Self::bin_dir`]
    /// first, and kubectl/helm cache and config directories inside the temporary directory.
    pub fn env(&self) -> Vec<(String, String)> {
        tool_env(&self.bin_dir, &self.kubeconfig, &self.dir)
    }

    /// A command for `program` (a name from [`Self::bin_dir`], or any path) with [`Self::env`]
    /// applied and tied to this process (killed if the test binary dies).
    pub fn command(&self, program: &str) -> Command {
        let path = if program.contains('/') {
            PathBuf::from(program)
        } else {
            self.bin(program)
        };
        let path = if path.exists() {
            path
        } else {
            PathBuf::from(program)
        };
        let mut cmd = Command::new(path);
        cmd.envs(self.env());
        die_with_parent(&mut cmd);
        cmd
    }

    /// A kubeconfig authenticating as `user` in `groups`, by a client certificate (`CN=user`,
    /// `O=group`) signed by the apiserver's client CA. Without RBAC bindings the user can do
    /// nothing but the `system:authenticated` basics.
    ///
    /// At most two groups are supported (the certificate library keeps one value per attribute
    /// type; the second group is written under the same OID with a distinct key).
    pub fn kubeconfig_for_user(&self, user: &str, groups: &[&str]) -> PathBuf {
        assert!(
            groups.len() <= 2,
            "kubeconfig_for_user supports at most two groups, got {groups:?}"
        );
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let dir = self
            .dir
            .join("users")
            .join(format!("{n}-{}", sanitize(user)));
        fs::create_dir_all(&dir).expect("create the user directory");
        let (cert_path, key_path) = write_user_certificate(&dir, &self.client_ca, user, groups);
        let path = dir.join("kubeconfig");
        write_file(
            &path,
            &kubeconfig_yaml(
                &self.server,
                &self.ca_cert,
                user,
                UserAuth::Cert(&cert_path, &key_path),
            ),
        );
        path
    }

    /// A kubeconfig authenticating as ServiceAccount `namespace/name` with a one-day token from the
    /// TokenRequest API. The ServiceAccount is created if it does not exist.
    pub async fn kubeconfig_for_service_account(&self, namespace: &str, name: &str) -> PathBuf {
        let client = self.client();
        let sas: Api<ServiceAccount> = Api::namespaced(client, namespace);
        let mut sa = ServiceAccount::default();
        sa.metadata.name = Some(name.to_string());
        match sas.create(&PostParams::default(), &sa).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("create ServiceAccount {namespace}/{name}: {e}"),
        }
        let request = TokenRequest {
            spec: TokenRequestSpec {
                expiration_seconds: Some(86_400),
                ..Default::default()
            },
            ..Default::default()
        };
        let token = sas
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .unwrap_or_else(|e| panic!("TokenRequest for ServiceAccount {namespace}/{name}: {e}"))
            .status
            .expect("TokenRequest has a status")
            .token;
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let dir = self.dir.join("users").join(format!(
            "{n}-sa-{}-{}",
            sanitize(namespace),
            sanitize(name)
        ));
        fs::create_dir_all(&dir).expect("create the service account directory");
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let path = dir.join("kubeconfig");
        write_file(
            &path,
            &kubeconfig_yaml(&self.server, &self.ca_cert, &user, UserAuth::Token(&token)),
        );
        path
    }
}

/// A client from a kubeconfig file (e.g. one from [`ControlPlane::kubeconfig_for_user`]).
pub async fn client_for_kubeconfig(path: &Path) -> kube::Client {
    install_crypto_provider();
    let kubeconfig =
        Kubeconfig::read_from(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("load {}: {e}", path.display()));
    kube::Client::try_from(config).expect("build a kube client")
}

/// kube-apiserver outages, for tests of clients that must survive them. Every test of the binary
/// shares the control plane: a test that stops the apiserver must keep the others out meanwhile.
impl ControlPlane {
    /// Kills kube-apiserver (SIGKILL, as a crash or a node loss would). etcd keeps the data.
    pub fn stop_apiserver(&self) {
        let mut running = RUNNING.lock().unwrap();
        if let Some(index) = running.iter().position(|(name, _)| name == "kube-apiserver") {
            let (_, mut child) = running.remove(index);
            let _ = child.kill();
            let _ = child.wait();
            progress("kube-apiserver stopped");
        }
    }

    /// Starts kube-apiserver again with its original command line (same port and certificates),
    /// logging to the end of its log file, and waits until it is ready.
    pub async fn start_apiserver(&self) {
        let log_path = self.dir.join("logs").join("kube-apiserver.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open the kube-apiserver log");
        let err = log.try_clone().expect("clone the kube-apiserver log");
        let mut cmd = Command::new(self.bin("kube-apiserver"));
        cmd.args(&self.apiserver_args).stdin(Stdio::null()).stdout(log).stderr(err);
        die_with_parent(&mut cmd);
        let child = spawn_from_long_lived_thread(cmd).expect("start kube-apiserver again");
        RUNNING.lock().unwrap().push(("kube-apiserver".to_string(), child));
        let client = self.client();
        let started = Instant::now();
        let result = wait_until_async("kube-apiserver", APISERVER_TIMEOUT, &log_path, || async {
            let req = http::Request::get("/readyz").body(Vec::new()).unwrap();
            Ok(client.request_text(req).await.is_ok_and(|body| body.trim() == "ok"))
        })
        .await;
        if let Err(failure) = result {
            panic!("kube-apiserver did not come back: {}", failure.message);
        }
        progress(format!("kube-apiserver ready again after {:.1}s", started.elapsed().as_secs_f64()));
    }
}

/// Removes temporary directories of earlier runs whose owner process is gone (killed runs).
fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let dir = entry.path();
        if dir.join("KEEP").exists() {
            continue;
        }
        let Ok(pid) = fs::read_to_string(dir.join("owner.pid")) else {
            continue;
        };
        let Ok(pid) = pid.trim().parse::<u32>() else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Start-up

fn start_with_retries() -> Result<ControlPlane, String> {
    let bin_dir = locate_binaries()?;
    remove_stale_dirs();
    let mut last = String::new();
    for attempt in 1..=3 {
        match start(&bin_dir) {
            Ok(cp) => return Ok(cp),
            Err(Failure {
                message,
                port_clash,
            }) => {
                kill_all(&mut RUNNING.lock().unwrap());
                let dir = CLEANUP_DIR.lock().unwrap().take();
                last = message;
                if !port_clash || attempt == 3 {
                    // Keep the logs for inspection; the next run's stale-directory sweep removes them.
                    if let Some(dir) = dir {
                        last.push_str(&format!("\n(kept {} for inspection)", dir.display()));
                    }
                    break;
                }
                if let Some(dir) = dir {
                    let _ = fs::remove_dir_all(dir);
                }
                progress(format!(
                    "attempt {attempt}: a port was taken, retrying with new ports"
                ));
            }
        }
    }
    Err(last)
}

/// The directory of the built programs: `CRDB_TESTENV_BIN`, or what `tests/controlplane/build.sh`
/// prints.
pub(crate) fn locate_binaries() -> Result<PathBuf, String> {
    let dir = match std::env::var_os("CRDB_TESTENV_BIN") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let script = crate::repo_root().join("tests/controlplane/build.sh");
            progress(format!(
                "locating the control-plane binaries with {}",
                script.display()
            ));
            let out = Command::new("bash")
                .arg(&script)
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| format!("run {}: {e}", script.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "{} failed ({}); its log is above",
                    script.display(),
                    out.status
                ));
            }
            let stdout = String::from_utf8_lossy(&out.stdout);
            let last = stdout
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            if last.is_empty() {
                return Err(format!("{} printed no bin directory", script.display()));
            }
            PathBuf::from(last)
        }
    };
    for bin in ["etcd", "kube-apiserver", "kubectl"] {
        if !dir.join(bin).is_file() {
            return Err(format!(
                "{} has no {bin} (set CRDB_TESTENV_BIN or run tests/controlplane/build.sh)",
                dir.display()
            ));
        }
    }
    Ok(dir)
}

fn start(bin_dir: &Path) -> Result<ControlPlane, Failure> {
    let started = Instant::now();
    let keep = std::env::var("CRDB_TESTENV_KEEP").is_ok_and(|v| !v.is_empty() && v != "0");
    let with_kcm = std::env::var("CRDB_TESTENV_CONTROLLER_MANAGER")
        .map_or(true, |v| v != "0" && v != "false")
        && bin_dir.join("kube-controller-manager").is_file();

    let dir = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempdir()
        .map_err(|e| format!("create a temporary directory: {e}"))?
        .keep();
    write_file(&dir.join("owner.pid"), &std::process::id().to_string());
    if keep {
        write_file(&dir.join("KEEP"), "");
    } else {
        *CLEANUP_DIR.lock().unwrap() = Some(dir.clone());
    }
    let logs_dir = dir.join("logs");
    fs::create_dir_all(&logs_dir).map_err(|e| format!("create {}: {e}", logs_dir.display()))?;
    progress(format!("starting the control plane in {}", dir.display()));

    let pki = Pki::generate(&dir)?;
    let mut logs = Vec::new();

    // etcd
    let t = Instant::now();
    let (client_port, peer_port) = (free_port()?, free_port()?);
    let etcd_url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let mut etcd = Command::new(bin_dir.join("etcd"));
    etcd.args([
        "--name=testenv".to_string(),
        format!("--data-dir={}", dir.join("etcd").display()),
        format!("--listen-client-urls={etcd_url}"),
        format!("--advertise-client-urls={etcd_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=testenv={peer_url}"),
        "--unsafe-no-fsync=true".to_string(),
    ]);
    let etcd_log = launch("etcd", etcd, &logs_dir, &mut logs)?;
    wait_until("etcd", ETCD_TIMEOUT, &etcd_log, || {
        Ok(http_get(client_port, "/health")
            .is_some_and(|body| body.contains("\"health\":\"true\"")))
    })?;
    let etcd_ready = t.elapsed();

    // kube-apiserver
    let t = Instant::now();
    let secure_port = free_port()?;
    let server = format!("https://127.0.0.1:{secure_port}");
    let mut apiserver = Command::new(bin_dir.join("kube-apiserver"));
    let apiserver_args = vec![
        format!("--etcd-servers={etcd_url}"),
        format!("--secure-port={secure_port}"),
        "--bind-address=127.0.0.1".to_string(),
        "--advertise-address=127.0.0.1".to_string(),
        format!("--cert-dir={}", dir.join("apiserver-certs").display()),
        format!("--tls-cert-file={}", pki.serving_cert.display()),
        format!("--tls-private-key-file={}", pki.serving_key.display()),
        format!("--client-ca-file={}", pki.client_ca_cert.display()),
        "--authorization-mode=RBAC".to_string(),
        format!("--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}"),
        format!("--service-account-issuer={server}"),
        format!("--service-account-key-file={}", pki.sa_pub.display()),
        format!(
            "--service-account-signing-key-file={}",
            pki.sa_key.display()
        ),
        "--disable-admission-plugins=ServiceAccount".to_string(),
        "--allow-privileged=true".to_string(),
        "--profiling=false".to_string(),
        format!("--audit-policy-file={}", write_audit_policy(&dir)?.display()),
        format!("--audit-log-path={}", dir.join(AUDIT_LOG).display()),
    ];
    apiserver.args(&apiserver_args);
    let apiserver_log = launch("kube-apiserver", apiserver, &logs_dir, &mut logs)?;

    let kubeconfig = dir.join("admin.kubeconfig");
    write_file(
        &kubeconfig,
        &kubeconfig_yaml(
            &server,
            &pki.ca_cert,
            "admin",
            UserAuth::Cert(&pki.admin_cert, &pki.admin_key),
        ),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("build a Tokio runtime: {e}"))?;
    let config = runtime.block_on(async {
        let kc = Kubeconfig::read_from(&kubeconfig)
            .map_err(|e| format!("read the admin kubeconfig: {e}"))?;
        kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .map_err(|e| format!("load the admin kubeconfig: {e}"))
    })?;
    runtime.block_on(async {
        let client =
            kube::Client::try_from(config.clone()).map_err(|e| format!("admin client: {e}"))?;
        wait_until_async(
            "kube-apiserver",
            APISERVER_TIMEOUT,
            &apiserver_log,
            || async {
                let req = http::Request::get("/readyz").body(Vec::new()).unwrap();
                if !client
                    .request_text(req)
                    .await
                    .is_ok_and(|body| body.trim() == "ok")
                {
                    return Ok(false);
                }
                Ok(Api::<Namespace>::all(client.clone())
                    .get_opt("default")
                    .await
                    .ok()
                    .flatten()
                    .is_some())
            },
        )
        .await
    })?;
    let apiserver_ready = t.elapsed();

    // kube-controller-manager
    let t = Instant::now();
    if with_kcm {
        let mut kcm = Command::new(bin_dir.join("kube-controller-manager"));
        kcm.args([
            format!("--kubeconfig={}", kubeconfig.display()),
            "--leader-elect=false".to_string(),
            "--bind-address=127.0.0.1".to_string(),
            "--secure-port=0".to_string(),
            "--controllers=*".to_string(),
            "--use-service-account-credentials=false".to_string(),
            format!(
                "--service-account-private-key-file={}",
                pki.sa_key.display()
            ),
            format!("--root-ca-file={}", pki.ca_cert.display()),
            format!(
                "--cluster-signing-cert-file={}",
                pki.client_ca_cert.display()
            ),
            format!("--cluster-signing-key-file={}", pki.client_ca_key.display()),
            format!("--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}"),
            "--profiling=false".to_string(),
        ]);
        let kcm_log = launch("kube-controller-manager", kcm, &logs_dir, &mut logs)?;
        // Ready once its serviceaccount controller has made `default/default`.
        runtime.block_on(async {
            let client =
                kube::Client::try_from(config.clone()).map_err(|e| format!("admin client: {e}"))?;
            let sas: Api<ServiceAccount> = Api::namespaced(client, "default");
            wait_until_async(
                "kube-controller-manager",
                CONTROLLER_MANAGER_TIMEOUT,
                &kcm_log,
                || async { Ok(sas.get_opt("default").await.ok().flatten().is_some()) },
            )
            .await
        })?;
    }
    let kcm_ready = t.elapsed();
    drop(runtime);

    let startup = started.elapsed();
    progress(format!(
        "control plane ready in {:.1}s (etcd {:.1}s, kube-apiserver {:.1}s, kube-controller-manager {}) at {server}",
        startup.as_secs_f64(),
        etcd_ready.as_secs_f64(),
        apiserver_ready.as_secs_f64(),
        if with_kcm {
            format!("{:.1}s", kcm_ready.as_secs_f64())
        } else {
            "not started".into()
        },
    ));
    progress(format!("admin kubeconfig: {}", kubeconfig.display()));

    Ok(ControlPlane {
        dir,
        bin_dir: bin_dir.to_path_buf(),
        server,
        etcd_url,
        kubeconfig,
        ca_cert: pki.ca_cert,
        client_ca: pki.client_ca,
        config,
        controller_manager: with_kcm,
        startup,
        logs,
        seq: AtomicU64::new(0),
        apiserver_args,
    })
}

fn free_port() -> Result<u16, Failure> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("find a free port: {e}"))?;
    Ok(listener
        .local_addr()
        .map_err(|e| format!("find a free port: {e}"))?
        .port())
}

/// A minimal HTTP/1.0 GET on 127.0.0.1; the body on a 200, else `None`.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.lines()
        .next()?
        .contains(" 200 ")
        .then(|| body.to_string())
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "start-up panicked".to_string())
}

/// Environment for kubectl and helm pointed at one cluster: `KUBECONFIG`, `PATH` with `bin_dir`
/// first, and kubectl's and helm's cache and config directories inside `state_dir`, so tests never
/// touch the user's own.
pub(crate) fn tool_env(bin_dir: &Path, kubeconfig: &Path, state_dir: &Path) -> Vec<(String, String)> {
    let path = match std::env::var("PATH") {
        Ok(p) if !p.is_empty() => format!("{}:{p}", bin_dir.display()),
        _ => bin_dir.display().to_string(),
    };
    let d = |sub: &str| state_dir.join(sub).display().to_string();
    vec![
        ("KUBECONFIG".into(), kubeconfig.display().to_string()),
        ("PATH".into(), path),
        ("KUBECACHEDIR".into(), d("kube-cache")),
        ("HELM_CACHE_HOME".into(), d("helm/cache")),
        ("HELM_CONFIG_HOME".into(), d("helm/config")),
        ("HELM_DATA_HOME".into(), d("helm/data")),
    ]
}
