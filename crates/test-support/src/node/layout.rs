//! Where one node keeps its state: a temporary directory named after the owning process, the
//! network namespace and the cgroup root named the same way. Everything the node creates on the
//! machine is found from this layout, so a later run can tear down what a killed run left.

use std::path::{Path, PathBuf};

/// Prefix of the node's temporary directory, network namespace and cgroup root.
pub(crate) const PREFIX: &str = "crdb-node-";

#[derive(Debug, Clone)]
pub struct Layout {
    /// The temporary directory (certificates, configs, logs, containerd's and kubelet's state).
    pub dir: PathBuf,
    /// Name of the network namespace (`/run/netns/<name>`), also the cgroup root of the pods.
    pub name: String,
}

impl Layout {
    pub(crate) fn new(dir: PathBuf) -> Self {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("crdb-node-unknown").to_string();
        Self { dir, name }
    }

    pub fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }
    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }
    pub fn containerd_socket(&self) -> PathBuf {
        self.dir.join("containerd/containerd.sock")
    }
    pub fn containerd_root(&self) -> PathBuf {
        self.dir.join("containerd/root")
    }
    pub fn containerd_state(&self) -> PathBuf {
        self.dir.join("containerd/state")
    }
    pub fn kubelet_root(&self) -> PathBuf {
        self.dir.join("kubelet")
    }
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.dir.join("cni/net.d")
    }
    pub fn forwards(&self) -> PathBuf {
        self.dir.join("forward")
    }
    /// The kernel settings as they were before the node started (`name=value` lines).
    pub(crate) fn sysctl_snapshot(&self) -> PathBuf {
        self.dir.join("sysctl.before")
    }
    /// The pods' cgroup root (`/sys/fs/cgroup/<controller>/<name>` on cgroup v1).
    pub fn cgroup_root(&self) -> String {
        format!("/{}", self.name)
    }
    /// Name of the CNI network (and of its cached results under /var/lib/cni).
    pub fn cni_network(&self) -> &str {
        &self.name
    }
}
