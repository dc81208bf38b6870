//! containerd inside the node's namespace, with its own root, state and socket: the CRI plugin
//! with `restrict_oom_score_adj` (root here lacks CAP_SYS_RESOURCE; without it every sandbox
//! fails with runc's "can't get final child's PID from pipe"), runc with cgroupfs, the pods'
//! network namespaces under its state directory, and a CNI bridge (host-local IPAM) from the
//! Debian plugins. Images come from OCI archives (`ctr images import`): no registry is reached.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::image::{PAUSE_IMAGE, write_pause_image};
use super::{Node, POD_CIDR};

/// The CNI plugins' directory (Debian's containernetworking-plugins).
pub const CNI_BIN_DIR: &str = "/usr/lib/cni";

pub(crate) fn start_containerd(node: &Node) -> Result<(), String> {
    let l = &node.layout;
    for d in [l.containerd_root(), l.containerd_state(), l.cni_conf_dir(), l.dir.join("cni/ipam")] {
        fs::create_dir_all(&d).map_err(|e| format!("create {}: {e}", d.display()))?;
    }
    let cni = format!(
        r#"{{"cniVersion":"1.0.0","name":"{network}","plugins":[{{"type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":false,"hairpinMode":true,"ipam":{{"type":"host-local","ranges":[[{{"subnet":"{POD_CIDR}"}}]],"routes":[{{"dst":"0.0.0.0/0"}}],"dataDir":"{ipam}"}}}},{{"type":"portmap","capabilities":{{"portMappings":true}}}}]}}"#,
        network = l.cni_network(),
        ipam = l.dir.join("cni/ipam").display(),
    );
    let conf = l.cni_conf_dir().join("10-bridge.conflist");
    fs::write(&conf, cni).map_err(|e| format!("write {}: {e}", conf.display()))?;

    let config = format!(
        r#"version = 2
root = "{root}"
state = "{state}"
oom_score = 0

[grpc]
  address = "{socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{conf_dir}"
    max_conf_num = 1
"#,
        root = l.containerd_root().display(),
        state = l.containerd_state().display(),
        socket = l.containerd_socket().display(),
        opt = l.dir.join("containerd/opt").display(),
        conf_dir = l.cni_conf_dir().display(),
    );
    let path = l.dir.join("containerd/config.toml");
    fs::write(&path, config).map_err(|e| format!("write {}: {e}", path.display()))?;
    let mut containerd = node.in_node(Path::new("containerd"));
    containerd.arg(format!("--config={}", path.display()));
    node.launch("containerd", containerd)?;
    let socket = l.containerd_socket();
    node.wait_ready("containerd", Duration::from_secs(30), || Ok(socket.exists() && ctr(node, &["version"]).is_ok()))?;
    Ok(())
}

/// `ctr -n k8s.io <args>` against the node's containerd; its stdout.
pub fn ctr(node: &Node, args: &[&str]) -> Result<String, String> {
    let socket = node.layout.containerd_socket();
    let out = std::process::Command::new("ctr")
        .arg(format!("--address={}", socket.display()))
        .args(["--namespace", "k8s.io"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run ctr: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("`ctr {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl Node {
    /// Imports an OCI image archive into the node's containerd (the CRI's `k8s.io` namespace),
    /// once per reference.
    pub fn import_image(&self, archive: &Path, reference: &str) -> Result<(), String> {
        let mut imported = self.imported.lock().unwrap();
        if imported.iter().any(|r| r == reference) {
            return Ok(());
        }
        ctr(self, &["images", "import", &archive.display().to_string()])?;
        let listed = ctr(self, &["images", "ls", "-q"])?;
        if !listed.lines().any(|l| l.trim() == reference) {
            return Err(format!("{} imported, but containerd lists no {reference}:\n{listed}", archive.display()));
        }
        imported.push(reference.to_string());
        Ok(())
    }

    /// Gives an imported image a second reference (e.g. the chart's default repository and tag,
    /// which deploy/ names).
    pub fn tag_image(&self, source: &str, target: &str) -> Result<(), String> {
        let listed = ctr(self, &["images", "ls", "-q"])?;
        if !listed.lines().any(|l| l.trim() == target) {
            ctr(self, &["images", "tag", source, target])?;
        }
        Ok(())
    }
}

pub(crate) fn import_pause_image(node: &Node) -> Result<(), String> {
    let archive = node.layout.dir.join("images/pause.tar");
    write_pause_image(&node.bin("pause"), &archive)?;
    node.import_image(&archive, PAUSE_IMAGE)
}
