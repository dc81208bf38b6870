//! One end-to-end test's world: its own namespace, its own Cloud API simulator and the operator
//! binary watching that namespace, with the helpers every such test needs.

use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};

use crdb_cloud_simulator::RunningSimulator;
use crdb_cloud_simulator::admin_api::ClusterDump;

use crate::kubectl::kubectl;
use crate::namespace::{TestNamespace, test_namespace};
use crate::operator::{Operator, OperatorOptions, install_crds};
use crate::resources::{is_ready, serverless_cluster, wait_for};
use crate::simulator::{SimAdmin, start_simulator};

pub struct World {
    pub ns: TestNamespace,
    pub admin: SimAdmin,
    pub sim: RunningSimulator,
    /// `None` while a test has the operator stopped (or killed).
    pub operator: Option<Operator>,
}

impl World {
    /// A namespace and a simulator, the operator started with the test defaults.
    pub async fn start(prefix: &str) -> Self {
        Self::start_with(prefix, |_| {}).await
    }

    /// As [`World::start`], with the operator's options adjusted by `configure`.
    pub async fn start_with(prefix: &str, configure: impl FnOnce(&mut OperatorOptions<'_>)) -> Self {
        let mut world = Self::without_operator(prefix).await;
        world.start_operator(configure);
        world
    }

    /// A world for the organisation-level kinds: the operator resyncs every 3 seconds and trusts
    /// this namespace with those kinds when `trusted` (else it trusts no namespace).
    pub async fn start_org(prefix: &str, trusted: bool) -> Self {
        Self::start_with(prefix, |options| {
            options.resync_seconds = 3;
            // The test operator trusts its own namespace unless told otherwise.
            if !trusted {
                options.org_namespaces.clear();
            }
        })
        .await
    }

    /// A namespace and a simulator, no operator yet.
    pub async fn without_operator(prefix: &str) -> Self {
        Self::with_simulator(prefix, start_simulator(&[]).await).await
    }

    /// A namespace and the given simulator, no operator yet.
    pub async fn with_simulator(prefix: &str, sim: RunningSimulator) -> Self {
        install_crds().await;
        let ns = test_namespace(prefix).await;
        let admin = SimAdmin::new(&sim);
        Self { ns, admin, sim, operator: None }
    }

    /// Starts the operator (replacing a running one) watching this world's namespace.
    pub fn start_operator(&mut self, configure: impl FnOnce(&mut OperatorOptions<'_>)) {
        let url = self.sim.base_url();
        let mut options = OperatorOptions::new(self.ns.name(), &url);
        configure(&mut options);
        self.operator = Some(Operator::start(options));
    }

    /// The running operator.
    pub fn operator(&self) -> &Operator {
        self.operator.as_ref().expect("the operator is running")
    }

    pub fn ns(&self) -> &str {
        self.ns.name()
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        self.ns.api()
    }

    pub async fn apply(&self, manifest: &str) {
        kubectl(&["apply", "-n", self.ns(), "-f", "-"], Some(manifest)).await.ok();
    }

    /// Applies a manifest that must be refused; returns kubectl's stderr.
    pub async fn apply_refused(&self, manifest: &str) -> String {
        kubectl(&["apply", "-n", self.ns(), "-f", "-"], Some(manifest)).await.err().stderr
    }

    /// Applies a CockroachCluster (as deploy/examples) and waits until it is Ready; returns its cloud ID.
    pub async fn ready_cluster(&self, name: &str) -> String {
        self.apply(&serverless_cluster(name)).await;
        // Read as JSON: this crate does not depend on the operator's types.
        let kind = ApiResource::from_gvk(&GroupVersionKind::gvk("crdbcloud.io", "v1alpha1", "CockroachCluster"));
        let api = Api::<DynamicObject>::namespaced_with(self.ns.client(), self.ns(), &kind);
        let cr = wait_for(&api, name, Duration::from_secs(60), "Ready", is_ready).await;
        cr.data["status"]["clusterId"].as_str().expect("a Ready cluster has status.clusterId").to_string()
    }

    /// One key of a Secret in the namespace, as text.
    pub async fn secret_text(&self, name: &str, key: &str) -> String {
        let secret = self.api::<Secret>().get(name).await.unwrap();
        String::from_utf8(secret.data.unwrap()[key].0.clone()).unwrap()
    }

    /// What the simulator holds for one cluster (the cluster, its SQL users, databases and
    /// allowlist), if it holds the cluster.
    pub async fn record(&self, cluster_id: &str) -> Option<ClusterDump> {
        self.admin.cluster(cluster_id).await
    }

    /// What the simulator holds for a cluster it must hold.
    pub async fn held(&self, cluster_id: &str) -> ClusterDump {
        self.record(cluster_id).await.unwrap_or_else(|| panic!("the simulator holds no cluster {cluster_id}"))
    }

    /// The password the simulator stored for a SQL user (admin endpoint).
    pub async fn cloud_password(&self, cluster_id: &str, user: &str) -> Option<String> {
        self.admin.sql_user_password(cluster_id, user).await
    }

    /// Polls the cluster's record in the simulator until it exists and `done` holds.
    pub async fn wait_cloud(&self, cluster_id: &str, what: &str, timeout: Duration, done: impl Fn(&ClusterDump) -> bool) -> ClusterDump {
        let deadline = Instant::now() + timeout;
        loop {
            let record = self.record(cluster_id).await;
            if let Some(record) = record.as_ref().filter(|r| done(r)) {
                return record.clone();
            }
            assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for the cloud: {what}; cloud holds:\n{record:#?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
