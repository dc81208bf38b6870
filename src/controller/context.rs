//! What every reconciler shares: Kubernetes and Cloud clients, credentials, events and timing.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource};
use rand::Rng;

use crate::api::CredentialsRef;
use crate::cloud::cache::ListCache;
use crate::metrics::Metrics;
use crate::cloud::models;
use crate::cloud::{ApiKey, CloudClient, CloudClients, Priority};

use super::error::ReconcileError;
use super::reconciler::FailureCounts;

/// Timing of requeues.
#[derive(Debug, Clone)]
pub struct Timing {
    /// While the cloud is working (CREATING, LOCKED, an operation running, a delete in progress).
    pub poll_fast: Duration,
    /// Drift check once everything is settled.
    pub resync: Duration,
    /// After a transient error, before per-object backoff grows.
    pub retry_base: Duration,
    /// Ceiling of the per-object backoff.
    pub retry_max: Duration,
    /// How long to wait for an earlier create request to show up before sending another.
    pub create_confirm_window: Duration,
    /// How long a listed collection (SQL users, databases, allowlist) of a cluster is reused.
    pub list_cache_ttl: Duration,
    /// How often a Stalled resource is looked at again when nothing changes.
    pub stalled_retry: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            poll_fast: Duration::from_secs(5),
            resync: Duration::from_secs(300),
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            create_confirm_window: Duration::from_secs(30),
            list_cache_ttl: Duration::from_secs(20),
            stalled_retry: Duration::from_secs(120),
        }
    }
}

impl Timing {
    /// The slow resync with ±20% jitter so that resyncs do not arrive in waves.
    pub fn jittered_resync(&self) -> Duration {
        jitter(self.resync, 0.2)
    }
    pub fn jittered_poll(&self) -> Duration {
        jitter(self.poll_fast, 0.2)
    }
}

/// `base` scaled by a random factor in [1 - spread, 1 + spread].
pub fn jitter(base: Duration, spread: f64) -> Duration {
    let factor = rand::rng().random_range((1.0 - spread)..=(1.0 + spread));
    base.mul_f64(factor)
}

/// The operator-wide API key, used by resources without `credentialsRef`.
#[derive(Clone, Default)]
pub struct DefaultCredentials(Option<ApiKey>);

impl DefaultCredentials {
    pub fn new(key: Option<ApiKey>) -> Self {
        Self(key)
    }
}

pub struct Context {
    pub client: Client,
    pub clouds: CloudClients,
    pub default_credentials: DefaultCredentials,
    pub recorder: Recorder,
    pub timing: Timing,
    /// Consecutive transient failures per object, for per-object backoff.
    pub failures: FailureCounts,
    /// Per-cluster list caches shared by every child resource.
    pub caches: ListCaches,
    pub metrics: Arc<Metrics>,
}

/// One short-lived list cache per kind of cluster content.
pub struct ListCaches {
    pub sql_users: ListCache<models::SqlUser>,
    pub databases: ListCache<models::Database>,
    pub allowlist: ListCache<models::AllowlistEntry>,
}

impl ListCaches {
    pub fn new(ttl: Duration) -> Self {
        Self { sql_users: ListCache::new(ttl), databases: ListCache::new(ttl), allowlist: ListCache::new(ttl) }
    }
}

impl Context {
    pub fn new(
        client: Client,
        clouds: CloudClients,
        default_credentials: DefaultCredentials,
        timing: Timing,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let reporter = Reporter {
            controller: "crdb-cloud-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let recorder = Recorder::new(client.clone(), reporter);
        let caches = ListCaches::new(timing.list_cache_ttl);
        Arc::new(Self { client, clouds, default_credentials, recorder, timing, failures: FailureCounts::default(), caches, metrics })
    }

    /// A Cloud client for a resource: its own `credentialsRef` (a Secret in its namespace) or the
    /// operator-wide key. A resource can only name Secrets in its own namespace.
    pub async fn cloud_for(
        &self,
        namespace: &str,
        credentials: Option<&CredentialsRef>,
        priority: Priority,
    ) -> Result<CloudClient, ReconcileError> {
        let key = match credentials {
            Some(reference) => self.read_api_key(namespace, reference).await?,
            None => self.default_credentials.0.clone().ok_or_else(|| {
                ReconcileError::stalled(
                    "MissingCredentials",
                    "no spec.credentialsRef and the operator has no default API key (set COCKROACH_API_KEY or the chart's apiKey values)",
                )
            })?,
        };
        Ok(self.clouds.client(key).with_priority(priority))
    }

    async fn read_api_key(&self, namespace: &str, reference: &CredentialsRef) -> Result<ApiKey, ReconcileError> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = secrets.get_opt(&reference.name).await?.ok_or_else(|| {
            ReconcileError::stalled(
                "CredentialsNotFound",
                format!("spec.credentialsRef: Secret {namespace}/{} not found", reference.name),
            )
        })?;
        let value = secret.data.as_ref().and_then(|d| d.get(reference.key())).map(|b| b.0.clone()).unwrap_or_default();
        let text = String::from_utf8(value).unwrap_or_default();
        if text.trim().is_empty() {
            return Err(ReconcileError::stalled(
                "CredentialsInvalid",
                format!("spec.credentialsRef: Secret {namespace}/{} has no non-empty key {:?}", reference.name, reference.key()),
            ));
        }
        Ok(ApiKey::new(text))
    }

    /// Publishes an event about `obj`. Failures are logged, never fatal: events are advisory.
    pub async fn event<K>(&self, obj: &K, type_: EventType, reason: &str, action: &str, note: impl Into<String>)
    where
        K: Resource<DynamicType = ()>,
    {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(truncate(note.into(), 1000)),
            action: action.into(),
            secondary: None,
        };
        if let Err(err) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(%err, reason, "could not publish event");
        }
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}
