//! Putting the machine back: pods (every process in the node's cgroups), the node's programs,
//! mounts, the pods' and the node's network namespaces, cgroups, kernel settings and the paths
//! the kubelet and the CNI plugins create outside the node's directory. Driven only by the
//! [`Layout`], so it also cleans up after a run that was killed (see [`sweep_stale`]).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::layout::{Layout, PREFIX};

/// Machine-wide kernel settings the kubelet (and kube-proxy) may change; network settings of the
/// node's own namespace go away with it.
const GLOBAL_SYSCTLS: [&str; 7] = [
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/netfilter/nf_conntrack_max",
];

/// Paths outside the node's directory that its programs create when missing; removed at
/// teardown only if they did not exist before.
const OUTSIDE_PATHS: [&str; 5] = ["/var/lib/kubelet", "/var/log/pods", "/var/log/containers", "/var/lib/cni", "/run/containerd"];

/// Records the kernel settings and which outside paths exist, before anything starts.
pub(crate) fn snapshot(layout: &Layout) -> Result<(), String> {
    let mut text = String::new();
    for key in GLOBAL_SYSCTLS {
        if let Ok(value) = fs::read_to_string(Path::new("/proc/sys").join(key)) {
            text.push_str(&format!("{key}={}\n", value.trim()));
        }
    }
    let path = layout.sysctl_snapshot();
    fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    let absent: Vec<&str> = OUTSIDE_PATHS.iter().copied().filter(|p| !Path::new(p).exists()).collect();
    let path = layout.dir.join("absent-before");
    fs::write(&path, absent.join("\n")).map_err(|e| format!("write {}: {e}", path.display()))
}

/// The current values of the machine-wide settings the node may change.
pub fn global_sysctls() -> BTreeMap<String, String> {
    GLOBAL_SYSCTLS
        .iter()
        .filter_map(|key| Some((key.to_string(), fs::read_to_string(Path::new("/proc/sys").join(key)).ok()?.trim().to_string())))
        .collect()
}

/// Every kernel setting that differs from the snapshot: `(name, before, now)`.
pub fn changed_sysctls(layout: &Layout) -> Vec<(String, String, String)> {
    read_snapshot(layout)
        .into_iter()
        .filter_map(|(key, before)| {
            let now = fs::read_to_string(Path::new("/proc/sys").join(&key)).ok()?.trim().to_string();
            (now != before).then_some((key, before, now))
        })
        .collect()
}

fn read_snapshot(layout: &Layout) -> BTreeMap<String, String> {
    fs::read_to_string(layout.sysctl_snapshot())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Tears the node down. Best effort and idempotent: every step runs even if an earlier one
/// failed; returns what could not be undone.
pub(crate) fn teardown(layout: &Layout) -> Vec<String> {
    let mut problems = Vec::new();
    // 1. Pods: every process in the node's cgroups (containers and sandboxes).
    kill_cgroup_processes(layout, &mut problems);
    // 2. The node's programs and the containerd shims (their command lines name the directory).
    kill_processes_naming(&layout.dir, &mut problems);
    // A shim that died may leave container processes behind: once more.
    kill_cgroup_processes(layout, &mut problems);
    // 3. Mounts under the directory (rootfs overlays, volumes, the pods' network namespaces).
    unmount_under(&layout.dir, &mut problems);
    // 4. The node's network namespace (its veth pair, the CNI bridge and kube-proxy's rules).
    if layout.netns_path().exists() {
        let out = Command::new("ip").args(["netns", "delete", &layout.name]).stderr(Stdio::piped()).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => problems.push(format!("ip netns delete {}: {}", layout.name, String::from_utf8_lossy(&o.stderr).trim())),
            Err(e) => problems.push(format!("ip netns delete {}: {e}", layout.name)),
        }
    }
    // 5. Cgroups.
    remove_cgroups(layout, &mut problems);
    // 6. Kernel settings.
    for (key, before) in read_snapshot(layout) {
        let path = Path::new("/proc/sys").join(&key);
        let now = fs::read_to_string(&path).map(|v| v.trim().to_string()).unwrap_or_default();
        if now != before
            && let Err(e) = fs::write(&path, &before)
        {
            problems.push(format!("restore {key}={before} (now {now}): {e}"));
        }
    }
    // 7. Paths outside the directory.
    let absent = fs::read_to_string(layout.dir.join("absent-before")).unwrap_or_default();
    for path in absent.lines().filter(|l| !l.is_empty()) {
        let _ = fs::remove_dir_all(path);
    }
    if let Ok(entries) = fs::read_dir("/var/lib/cni/results") {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&format!("{}-", layout.cni_network())) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    // 8. The directory.
    if layout.dir.exists()
        && let Err(e) = fs::remove_dir_all(&layout.dir)
    {
        problems.push(format!("remove {}: {e}", layout.dir.display()));
    }
    problems
}

/// Tears down the nodes of earlier runs whose owner process is gone (a run that was killed).
pub(crate) fn sweep_stale() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let dir = entry.path();
        // Always torn down (KEEP only keeps a copy of the logs, made by the run itself).
        if !entry.file_name().to_string_lossy().starts_with(PREFIX) || entry.file_name().to_string_lossy().ends_with("-logs") {
            continue;
        }
        let owner = fs::read_to_string(dir.join("owner.pid")).ok().and_then(|p| p.trim().parse::<u32>().ok());
        if owner.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists()) {
            continue;
        }
        let layout = Layout::new(dir);
        let problems = teardown(&layout);
        crate::processes::progress(format!(
            "tore down the node a killed run left in {}{}",
            layout.dir.display(),
            if problems.is_empty() { String::new() } else { format!(" (problems: {})", problems.join("; ")) }
        ));
    }
}

/// The node's cgroup directories, one per mounted v1 hierarchy (or the v2 one), that exist.
pub fn cgroup_dirs(layout: &Layout) -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let mut dirs = Vec::new();
    if root.join("cgroup.controllers").exists() {
        dirs.push(root.join(&layout.name));
    } else if let Ok(entries) = fs::read_dir(root) {
        for entry in entries.flatten() {
            let hierarchy = entry.path();
            // Skip the symlinks (cpu,cpuacct -> cpu) so each hierarchy is visited once.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(hierarchy.join(&layout.name));
            }
        }
    }
    dirs.into_iter().filter(|d| d.is_dir()).collect()
}

/// Every directory under `dir`, deepest first, `dir` last.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(subtree(&entry.path()));
            }
        }
    }
    out.push(dir.to_path_buf());
    out
}

fn cgroup_pids(layout: &Layout) -> Vec<i32> {
    let mut pids = Vec::new();
    for dir in cgroup_dirs(layout) {
        for sub in subtree(&dir) {
            let text = fs::read_to_string(sub.join("cgroup.procs")).unwrap_or_default();
            pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids.retain(|&p| p != std::process::id() as i32);
    pids
}

pub(crate) fn kill_cgroup_processes(layout: &Layout, problems: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = cgroup_pids(layout);
        if pids.is_empty() {
            return;
        }
        for pid in &pids {
            // SAFETY: plain syscall.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        if Instant::now() > deadline {
            problems.push(format!("processes left in the node's cgroups: {pids:?}"));
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Processes (other than this one) whose command line names `dir`.
pub fn processes_naming(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else { return pids };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else { continue };
        if String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(&needle) {
            pids.push(pid);
        }
    }
    pids
}

fn kill_processes_naming(dir: &Path, problems: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = processes_naming(dir);
        if pids.is_empty() {
            return;
        }
        for pid in &pids {
            // SAFETY: plain syscall.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        if Instant::now() > deadline {
            problems.push(format!("processes naming {} survived SIGKILL: {pids:?}", dir.display()));
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Mount points at or under `dir`, from /proc/self/mountinfo.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mount_path)
        .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
        .collect()
}

fn unescape_mount_path(path: &str) -> String {
    path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}

fn unmount_under(dir: &Path, problems: &mut Vec<String>) {
    for _ in 0..5 {
        let mut mounts = mounts_under(dir);
        if mounts.is_empty() {
            return;
        }
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in &mounts {
            let Ok(c) = std::ffi::CString::new(mount.as_str()) else { continue };
            // SAFETY: plain syscall with a valid C string.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
    let left = mounts_under(dir);
    if !left.is_empty() {
        problems.push(format!("mounts left under {}: {left:?}", dir.display()));
    }
}

fn remove_cgroups(layout: &Layout, problems: &mut Vec<String>) {
    for dir in cgroup_dirs(layout) {
        for sub in subtree(&dir) {
            // A cgroup is removed with rmdir (its control files go with it).
            let mut removed = false;
            for _ in 0..20 {
                if fs::remove_dir(&sub).is_ok() || !sub.exists() {
                    removed = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !removed {
                problems.push(format!("cgroup {} could not be removed", sub.display()));
            }
        }
    }
}
