//! The kubelet (cgroupfs driver, cgroup v1 allowed, the pods' cgroups under the node's own root)
//! and kube-proxy (iptables mode, rules inside the namespace), then waiting for the Node to be
//! Ready.

use std::fs;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node as KubeNode;
use kube::api::Api;

use super::control::runtime;
use super::teardown::cgroup_dirs;
use super::{NODE_IP, NODE_NAME, Node, POD_CIDR};
use crate::pki::{Pki, UserAuth, kubeconfig_yaml, write_file, write_user_certificate};

/// Creates the pods' cgroup root in every v1 hierarchy (the kubelet requires it to exist);
/// cpuset needs its CPUs and memory nodes copied from the parent before tasks can join.
fn create_cgroup_root(node: &Node) -> Result<(), String> {
    let root = std::path::Path::new("/sys/fs/cgroup");
    let name = &node.layout.name;
    if root.join("cgroup.controllers").exists() {
        let dir = root.join(name);
        return fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()));
    }
    let entries = fs::read_dir(root).map_err(|e| format!("read {}: {e}", root.display()))?;
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path().join(name);
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(value) = fs::read_to_string(entry.path().join(file)) {
                fs::write(dir.join(file), value.trim()).map_err(|e| format!("write {}/{file}: {e}", dir.display()))?;
            }
        }
    }
    debug_assert!(!cgroup_dirs(&node.layout).is_empty());
    Ok(())
}

pub(crate) fn start(node: &Node, pki: &Pki) -> Result<(), String> {
    let l = &node.layout;
    let dir = l.dir.join("kubelet-config");
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let server = format!("https://{NODE_IP}:443");

    // The kubelet authenticates as system:node:<name> (Node authorizer, NodeRestriction).
    let (cert, key) = write_user_certificate(&dir, &pki.client_ca, &format!("system:node:{NODE_NAME}"), &["system:nodes"]);
    let kubeconfig = dir.join("kubelet.kubeconfig");
    write_file(&kubeconfig, &kubeconfig_yaml(&server, &pki.ca_cert, &format!("system:node:{NODE_NAME}"), UserAuth::Cert(&cert, &key)));
    let resolv = dir.join("resolv.conf");
    write_file(&resolv, "");
    create_cgroup_root(node)?;

    let config = format!(
        r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupRoot: {cgroup_root}
containerRuntimeEndpoint: unix://{socket}
address: {NODE_IP}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: false}}
  x509: {{clientCAFile: {client_ca}}}
authorization:
  mode: AlwaysAllow
podLogsDir: {logs}
resolvConf: {resolv}
clusterDomain: cluster.local
failSwapOn: false
protectKernelDefaults: false
serializeImagePulls: false
# The imported images are the only copies: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusReportFrequency: 10s
shutdownGracePeriod: 0s
localStorageCapacityIsolation: false
maxPods: 50
"#,
        cgroup_root = l.cgroup_root(),
        socket = l.containerd_socket().display(),
        client_ca = pki.client_ca_cert.display(),
        logs = l.dir.join("pod-logs").display(),
        resolv = resolv.display(),
    );
    let config_path = dir.join("kubelet.yaml");
    write_file(&config_path, &config);
    let mut kubelet = node.in_node(&node.bin("kubelet"));
    kubelet.args([
        format!("--config={}", config_path.display()),
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--root-dir={}", l.kubelet_root().display()),
        format!("--cert-dir={}", dir.join("pki").display()),
        format!("--node-ip={NODE_IP}"),
        format!("--hostname-override={NODE_NAME}"),
        "--v=1".to_string(),
    ]);
    node.launch("kubelet", kubelet)?;

    let proxy_config = format!(
        r#"apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: {kubeconfig}
hostnameOverride: {NODE_NAME}
clusterCIDR: {POD_CIDR}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the machine-wide conntrack settings alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  minSyncPeriod: 0s
  syncPeriod: 30s
"#,
        kubeconfig = node.inner_kubeconfig_path().display(),
    );
    let proxy_path = dir.join("kube-proxy.yaml");
    write_file(&proxy_path, &proxy_config);
    let mut proxy = node.in_node(&node.bin("kube-proxy"));
    proxy.args([format!("--config={}", proxy_path.display()), "--v=1".to_string()]);
    node.launch("kube-proxy", proxy)?;

    let rt = runtime()?;
    let client = rt.block_on(async { kube::Client::try_from(node.config.clone()) }).map_err(|e| format!("node admin client: {e}"))?;
    let nodes: Api<KubeNode> = Api::all(client);
    node.wait_ready("kubelet", Duration::from_secs(120), || {
        Ok(rt.block_on(async {
            nodes.get_opt(NODE_NAME).await.ok().flatten().is_some_and(|n| {
                n.status.and_then(|s| s.conditions).unwrap_or_default().iter().any(|c| c.type_ == "Ready" && c.status == "True")
            })
        }))
    })
}
