//! The node's control plane, inside its network namespace: etcd on the namespace's loopback,
//! kube-apiserver on `NODE_IP:443` (Node and RBAC authorization, ServiceAccount admission, the
//! `kubernetes` Service at `KUBERNETES_SERVICE_IP`), kube-controller-manager (with the root CA
//! file, so pods get their token and CA) and kube-scheduler.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{KUBERNETES_SERVICE_IP, NODE_IP, Node, SERVICE_CIDR};
use crate::pki::{Pki, UserAuth, kubeconfig_yaml, write_file, write_user_certificate};

pub(crate) struct Started {
    pub kubeconfig: PathBuf,
    pub inner_kubeconfig: PathBuf,
    pub config: kube::Config,
    pub pki: Pki,
}

/// A current-thread runtime for the readiness checks (start-up runs on its own thread).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("build a Tokio runtime: {e}"))
}

pub(crate) fn start(node: &Node) -> Result<Started, String> {
    let dir = &node.layout.dir;
    let pki = Pki::generate_with_sans(dir, &[NODE_IP, KUBERNETES_SERVICE_IP])?;

    // etcd: the namespace has its own loopback, so the usual ports cannot clash with the machine's.
    let mut etcd = node.in_node(&node.bin("etcd"));
    etcd.args([
        "--name=node".to_string(),
        format!("--data-dir={}", dir.join("etcd").display()),
        "--listen-client-urls=http://127.0.0.1:2379".to_string(),
        "--advertise-client-urls=http://127.0.0.1:2379".to_string(),
        "--listen-peer-urls=http://127.0.0.1:2380".to_string(),
        "--initial-advertise-peer-urls=http://127.0.0.1:2380".to_string(),
        "--initial-cluster=node=http://127.0.0.1:2380".to_string(),
        "--listen-metrics-urls=".to_string(),
        "--unsafe-no-fsync=true".to_string(),
    ]);
    node.launch("etcd", etcd)?;

    let client_dir = dir.join("pki/apiserver-kubelet-client");
    std::fs::create_dir_all(&client_dir).map_err(|e| format!("create {}: {e}", client_dir.display()))?;
    let (kubelet_client_cert, kubelet_client_key) =
        write_user_certificate(&client_dir, &pki.client_ca, "kube-apiserver-kubelet-client", &["system:masters"]);
    let mut apiserver = node.in_node(&node.bin("kube-apiserver"));
    apiserver.args([
        "--etcd-servers=http://127.0.0.1:2379".to_string(),
        "--secure-port=443".to_string(),
        // Every address of the namespace: the node IP and the `kubernetes` Service address.
        "--bind-address=0.0.0.0".to_string(),
        format!("--advertise-address={NODE_IP}"),
        format!("--cert-dir={}", dir.join("apiserver-certs").display()),
        format!("--tls-cert-file={}", pki.serving_cert.display()),
        format!("--tls-private-key-file={}", pki.serving_key.display()),
        format!("--client-ca-file={}", pki.client_ca_cert.display()),
        "--authorization-mode=Node,RBAC".to_string(),
        "--enable-admission-plugins=NodeRestriction".to_string(),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_string(),
        format!("--service-account-key-file={}", pki.sa_pub.display()),
        format!("--service-account-signing-key-file={}", pki.sa_key.display()),
        format!("--kubelet-client-certificate={}", kubelet_client_cert.display()),
        format!("--kubelet-client-key={}", kubelet_client_key.display()),
        // Otherwise it looks the node's name up in DNS.
        "--kubelet-preferred-address-types=InternalIP".to_string(),
        "--profiling=false".to_string(),
    ]);
    node.launch("kube-apiserver", apiserver)?;

    let inner_kubeconfig = dir.join("admin-inner.kubeconfig");
    write_file(
        &inner_kubeconfig,
        &kubeconfig_yaml(&format!("https://{NODE_IP}:443"), &pki.ca_cert, "admin", UserAuth::Cert(&pki.admin_cert, &pki.admin_key)),
    );
    let port = node.forward("apiserver", &format!("{NODE_IP}:443"))?;
    let kubeconfig = dir.join("admin.kubeconfig");
    write_file(
        &kubeconfig,
        &kubeconfig_yaml(&format!("https://127.0.0.1:{port}"), &pki.ca_cert, "admin", UserAuth::Cert(&pki.admin_cert, &pki.admin_key)),
    );
    let rt = runtime()?;
    let config = rt.block_on(async {
        let kc = Kubeconfig::read_from(&kubeconfig).map_err(|e| format!("read {}: {e}", kubeconfig.display()))?;
        kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.map_err(|e| format!("load the node's kubeconfig: {e}"))
    })?;
    let client = rt.block_on(async { kube::Client::try_from(config.clone()) }).map_err(|e| format!("node admin client: {e}"))?;
    node.wait_ready("kube-apiserver", Duration::from_secs(120), || {
        Ok(rt.block_on(async {
            let req = http::Request::get("/readyz").body(Vec::new()).unwrap();
            client.request_text(req).await.is_ok_and(|b| b.trim() == "ok")
                && Api::<Namespace>::all(client.clone()).get_opt("default").await.ok().flatten().is_some()
        }))
    })?;

    let mut kcm = node.in_node(&node.bin("kube-controller-manager"));
    kcm.args([
        format!("--kubeconfig={}", inner_kubeconfig.display()),
        "--leader-elect=false".to_string(),
        "--bind-address=127.0.0.1".to_string(),
        "--secure-port=0".to_string(),
        "--controllers=*".to_string(),
        "--use-service-account-credentials=false".to_string(),
        format!("--service-account-private-key-file={}", pki.sa_key.display()),
        format!("--root-ca-file={}", pki.ca_cert.display()),
        format!("--cluster-signing-cert-file={}", pki.client_ca_cert.display()),
        format!("--cluster-signing-key-file={}", pki.client_ca_key.display()),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        "--profiling=false".to_string(),
    ]);
    node.launch("kube-controller-manager", kcm)?;

    let mut scheduler = node.in_node(&node.bin("kube-scheduler"));
    scheduler.args([
        format!("--kubeconfig={}", inner_kubeconfig.display()),
        format!("--authentication-kubeconfig={}", inner_kubeconfig.display()),
        format!("--authorization-kubeconfig={}", inner_kubeconfig.display()),
        "--leader-elect=false".to_string(),
        "--bind-address=127.0.0.1".to_string(),
        "--secure-port=10259".to_string(),
        "--profiling=false".to_string(),
    ]);
    node.launch("kube-scheduler", scheduler)?;

    let sas: Api<ServiceAccount> = Api::namespaced(client, "default");
    node.wait_ready("kube-controller-manager", Duration::from_secs(90), || {
        Ok(rt.block_on(async { sas.get_opt("default").await.ok().flatten().is_some() }))
    })?;
    Ok(Started { kubeconfig, inner_kubeconfig, config, pki })
}
