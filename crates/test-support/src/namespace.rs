//! A namespace per test, deleted when the test ends.

use std::fmt;
use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};
use kube::core::ObjectMeta;
use rand::Rng;
use rand::distr::Alphanumeric;

use crate::controlplane::shared;

/// Label put on every test namespace; its value is the prefix given to [`test_namespace`].
pub const TEST_NAMESPACE_LABEL: &str = "crdb-testenv/test";

/// A namespace created for one test (`<prefix>-<random>`), deleted (best effort, without waiting)
/// when dropped. Deletion completes only when kube-controller-manager runs.
pub struct TestNamespace {
    name: String,
    client: kube::Client,
    delete_on_drop: bool,
}

/// Creates a fresh namespace named after `prefix` (lower-cased, shortened) plus a random suffix.
/// Starts the shared control plane if needed.
pub async fn test_namespace(prefix: &str) -> TestNamespace {
    let client = shared().client();
    let mut base: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(48)
        .collect();
    base = base.trim_matches('-').to_string();
    if base.is_empty() {
        base = "test".into();
    }
    let suffix: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(6)
        .map(|c| (c as char).to_ascii_lowercase())
        .collect();
    let name = format!("{base}-{suffix}");
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(
                [(
                    TEST_NAMESPACE_LABEL.to_string(),
                    base.chars().take(63).collect(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
    TestNamespace {
        name,
        client,
        delete_on_drop: true,
    }
}

impl TestNamespace {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The admin client this namespace was made with.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// An `Api` for a namespaced kind in this namespace, as the admin.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Keep the namespace after the test (for debugging).
    pub fn keep(&mut self) {
        self.delete_on_drop = false;
    }

    /// Deletes the namespace and waits until it is gone (needs kube-controller-manager).
    pub async fn delete_and_wait(mut self, timeout: Duration) {
        self.delete_on_drop = false;
        let api = Api::<Namespace>::all(self.client.clone());
        match api.delete(&self.name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return,
            Err(e) => panic!("delete namespace {}: {e}", self.name),
        }
        let deadline = Instant::now() + timeout;
        while api
            .get_opt(&self.name)
            .await
            .expect("get namespace")
            .is_some()
        {
            assert!(
                Instant::now() < deadline,
                "namespace {} still exists after {timeout:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl fmt::Display for TestNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl AsRef<str> for TestNamespace {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if !self.delete_on_drop {
            return;
        }
        let name = self.name.clone();
        // A thread with its own runtime: the test's runtime may be current-thread or shutting down.
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let api = Api::<Namespace>::all(shared().client());
                tokio::time::timeout(
                    Duration::from_secs(10),
                    api.delete(&name, &DeleteParams::background()),
                )
                .await
                .ok()?
                .ok()
            })
        })
        .join();
        let _ = deleted;
    }
}
