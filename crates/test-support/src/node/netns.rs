//! The node's network namespace: a veth pair with both ends inside it (the kernel here has no
//! `dummy` driver) carrying the node IP and the `kubernetes` Service address, commands run inside
//! it with `nsenter --net` (not `ip netns exec`, which would give each process its own mount
//! namespace: the kubelet and containerd must share the machine's), and socat forwards that make
//! an address inside it reachable from 127.0.0.1 outside.

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use super::layout::Layout;
use super::{KUBERNETES_SERVICE_IP, NODE_IP, NODE_PREFIX_LEN};

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).stdin(Stdio::null()).output().map_err(|e| format!("run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Creates the namespace with loopback up and the node's interface.
pub(crate) fn create(layout: &Layout) -> Result<(), String> {
    let ns = layout.name.as_str();
    ip(&["netns", "add", ns])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    ip(&["-n", ns, "link", "add", "node0", "type", "veth", "peer", "name", "node0-peer"])?;
    ip(&["-n", ns, "addr", "add", &format!("{NODE_IP}/{NODE_PREFIX_LEN}"), "dev", "node0"])?;
    ip(&["-n", ns, "addr", "add", &format!("{KUBERNETES_SERVICE_IP}/32"), "dev", "node0"])?;
    ip(&["-n", ns, "link", "set", "node0", "up"])?;
    ip(&["-n", ns, "link", "set", "node0-peer", "up"])?;
    // Components that look for "the default interface" find node0; nothing leaves the namespace.
    ip(&["-n", ns, "route", "add", "default", "dev", "node0"])?;
    Ok(())
}

/// `program` run inside the node's network namespace (and the machine's mount namespace).
pub(crate) fn command(layout: &Layout, program: &Path) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net={}", layout.netns_path().display())).arg("--").arg(program);
    cmd
}

/// A free TCP port on 127.0.0.1 outside the namespace.
pub(crate) fn free_host_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("find a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("find a free port: {e}"))
}

/// The two socat commands of a forward from `127.0.0.1:<host_port>` (this namespace) to `target`
/// (`ip:port` inside the node's namespace), through a unix socket in the node's directory:
/// (inside, outside). Start the inside one first.
pub(crate) fn forward_commands(layout: &Layout, name: &str, host_port: u16, target: &str) -> Result<(Command, Command), String> {
    let dir = layout.forwards();
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let socket = dir.join(format!("{name}.sock"));
    let _ = fs::remove_file(&socket);
    let mut inside = command(layout, Path::new("socat"));
    inside.args([format!("UNIX-LISTEN:{},fork,unlink-early", socket.display()), format!("TCP:{target}")]);
    let mut outside = Command::new("socat");
    outside.args([
        format!("TCP-LISTEN:{host_port},bind=127.0.0.1,reuseaddr,fork"),
        format!("UNIX-CONNECT:{}", socket.display()),
    ]);
    Ok((inside, outside))
}
