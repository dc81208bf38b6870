//! Child processes that cannot outlive the test binary: `PR_SET_PDEATHSIG` (spawned from a thread
//! that lives as long as the process), an `atexit` hook that kills them and removes the control
//! plane's temporary directory, and the loops that wait for a process to become ready.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// Makes `cmd`'s process receive SIGKILL when the thread that spawns it exits (Linux
/// `PR_SET_PDEATHSIG`). Spawned from a test's thread, the process dies at the end of the test
/// at the latest, and always when the test binary dies.
pub fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || pdeathsig(parent));
    }
}

/// [`die_with_parent`] for a Tokio command (add `kill_on_drop(true)` as well).
pub fn die_with_parent_tokio(cmd: &mut tokio::process::Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || pdeathsig(parent));
    }
}

fn pdeathsig(parent: libc::pid_t) -> io::Result<()> {
    // SAFETY: plain syscalls.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        // The parent died between fork and prctl: the signal will never come.
        if libc::getppid() != parent {
            libc::_exit(1);
        }
    }
    Ok(())
}

/// Children of the control plane, killed by the `atexit` hook.
pub(crate) static RUNNING: Mutex<Vec<(String, Child)>> = Mutex::new(Vec::new());
/// The temporary directory, removed by the `atexit` hook unless kept.
pub(crate) static CLEANUP_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

struct SpawnRequest {
    cmd: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

/// Spawns `cmd` from a thread that lives as long as the process, so that `PR_SET_PDEATHSIG`
/// (which follows the spawning *thread*) fires only when the test binary exits.
pub(crate) fn spawn_from_long_lived_thread(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testenv-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop (and the thread) never ends.
                for mut req in rx {
                    let _ = req.reply.send(req.cmd.spawn());
                }
            })
            .expect("spawn the process-spawner thread");
        // SAFETY: registering a plain extern "C" function.
        unsafe {
            libc::atexit(cleanup_at_exit);
        }
        tx
    });
    let (reply, result) = mpsc::channel();
    spawner
        .send(SpawnRequest { cmd, reply })
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    result
        .recv()
        .map_err(|_| io::Error::other("the spawner thread dropped the request"))?
}

extern "C" fn cleanup_at_exit() {
    // try_lock: never hang the exit path; PR_SET_PDEATHSIG kills the processes anyway.
    if let Ok(mut running) = RUNNING.try_lock() {
        kill_all(&mut running);
    }
    if let Ok(mut dir) = CLEANUP_DIR.try_lock()
        && let Some(dir) = dir.take()
    {
        let _ = fs::remove_dir_all(dir);
    }
}

pub(crate) fn kill_all(running: &mut Vec<(String, Child)>) {
    while let Some((_, mut child)) = running.pop() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

pub(crate) fn progress(msg: impl std::fmt::Display) {
    // Straight to fd 2: libtest's output capture must not hide start-up progress.
    let _ = writeln!(io::stderr(), "[testenv] {msg}");
}

pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) port_clash: bool,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure {
            message,
            port_clash: false,
        }
    }
}

/// Starts a component with stdout and stderr in `logs/<name>.log`, tied to this process.
pub(crate) fn launch(
    name: &str,
    mut cmd: Command,
    logs_dir: &Path,
    logs: &mut Vec<(String, PathBuf)>,
) -> Result<PathBuf, Failure> {
    let log = logs_dir.join(format!("{name}.log"));
    let out = File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("clone {}: {e}", log.display()))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    die_with_parent(&mut cmd);
    let child = spawn_from_long_lived_thread(cmd).map_err(|e| format!("start {name}: {e}"))?;
    RUNNING.lock().unwrap().push((name.to_string(), child));
    logs.push((name.to_string(), log.clone()));
    Ok(log)
}

/// If the named component has exited, its exit status.
fn exited(name: &str) -> Option<String> {
    let mut running = RUNNING.lock().unwrap();
    let (_, child) = running.iter_mut().find(|(n, _)| n == name)?;
    match child.try_wait() {
        Ok(Some(status)) => Some(status.to_string()),
        _ => None,
    }
}

fn failure(name: &str, what: &str, log: &Path) -> Failure {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(50)..].join("\n");
    let port_clash = text.contains("address already in use");
    let message = format!(
        "{name} {what}\n--- last 50 lines of {} ---\n{tail}\n---",
        log.display()
    );
    progress(&message);
    Failure {
        message,
        port_clash,
    }
}

pub(crate) fn wait_until(
    name: &str,
    timeout: Duration,
    log: &Path,
    mut ready: impl FnMut() -> Result<bool, Failure>,
) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready()? {
            return Ok(());
        }
        gave_up(name, timeout, deadline, log)?;
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Why waiting for `name` must stop: it exited, or `deadline` passed. Shared by both wait loops.
fn gave_up(name: &str, timeout: Duration, deadline: Instant, log: &Path) -> Result<(), Failure> {
    if let Some(status) = exited(name) {
        return Err(failure(name, &format!("exited ({status}) before it was ready"), log));
    }
    if Instant::now() > deadline {
        return Err(failure(name, &format!("was not ready within {timeout:?}"), log));
    }
    Ok(())
}

pub(crate) async fn wait_until_async<F, Fut>(
    name: &str,
    timeout: Duration,
    log: &Path,
    mut ready: F,
) -> Result<(), Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, Failure>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if ready().await? {
            return Ok(());
        }
        gave_up(name, timeout, deadline, log)?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
