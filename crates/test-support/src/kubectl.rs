//! Run the built `kubectl` and `helm` against the shared control plane, and `promtool`.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::controlplane::shared;
use crate::processes::die_with_parent_tokio;

/// How long one kubectl/helm invocation may take before the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// The result of a finished command.
#[derive(Debug)]
pub struct CmdOutput {
    /// The command line, for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics, showing stdout and stderr, unless the command succeeded.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(self.success(), "command failed: {self}");
        self
    }

    /// Panics unless the command failed; returns it for checks on stderr.
    #[track_caller]
    pub fn err(self) -> Self {
        assert!(!self.success(), "command unexpectedly succeeded: {self}");
        self
    }
}

impl fmt::Display for CmdOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// `kubectl <args>` as the admin, with `stdin` piped in if given (e.g. `apply -f -`).
pub async fn kubectl(args: &[&str], stdin: Option<&str>) -> CmdOutput {
    let cp = shared();
    run(
        cp.command("kubectl"),
        "kubectl",
        &kubeconfig_args(cp.kubeconfig_path(), args),
        stdin,
    )
    .await
}

/// `kubectl <args>` with another kubeconfig (e.g. from `kubeconfig_for_user`).
pub async fn kubectl_as(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> CmdOutput {
    let cp = shared();
    run(
        cp.command("kubectl"),
        "kubectl",
        &kubeconfig_args(kubeconfig, args),
        stdin,
    )
    .await
}

/// `helm <args>` as the admin (KUBECONFIG points at the admin kubeconfig; helm's cache, config and
/// data directories are inside the control plane's temporary directory).
pub async fn helm(args: &[&str], stdin: Option<&str>) -> CmdOutput {
    let cp = shared();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    run(cp.command("helm"), "helm", &args, stdin).await
}

/// `promtool <args>`, built by `tests/controlplane/build.sh` into the same directory as the
/// control plane (it needs no cluster; the directory is the shared control plane's).
pub async fn promtool(args: &[&str]) -> CmdOutput {
    let cp = shared();
    assert!(
        cp.bin("promtool").is_file(),
        "{} has no promtool: run `bash tests/controlplane/build.sh` (or `make testenv`) and use the directory it prints",
        cp.bin_dir().display()
    );
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    run(cp.command("promtool"), "promtool", &args, None).await
}

/// Blocking [`kubectl`], for synchronous tests and `Drop` impls. Do not use it while the same
/// runtime must make progress (e.g. `kubectl wait` for something an in-process controller does).
pub fn kubectl_blocking(args: &[&str], stdin: Option<&str>) -> CmdOutput {
    let cp = shared();
    let args = kubeconfig_args(cp.kubeconfig_path(), args);
    let mut cmd = cp.command("kubectl");
    cmd.args(&args).stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start kubectl");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .expect("write kubectl's stdin");
    }
    let out = child.wait_with_output().expect("wait for kubectl");
    CmdOutput {
        command: command_line("kubectl", &args),
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn kubeconfig_args(kubeconfig: &Path, args: &[&str]) -> Vec<String> {
    let mut all = vec![format!("--kubeconfig={}", kubeconfig.display())];
    all.extend(args.iter().map(|a| a.to_string()));
    all
}

pub(crate) async fn run(
    cmd: std::process::Command,
    name: &str,
    args: &[String],
    stdin: Option<&str>,
) -> CmdOutput {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    die_with_parent_tokio(&mut cmd);
    let command = command_line(name, args);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start `{command}`: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("write the stdin of `{command}`: {e}"));
        drop(pipe);
    }
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("`{command}` did not finish within {COMMAND_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("wait for `{command}`: {e}"));
    CmdOutput {
        command,
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn command_line(name: &str, args: &[String]) -> String {
    std::iter::once(name.to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
}
