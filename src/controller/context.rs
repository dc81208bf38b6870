//! What every reconciler shares: Kubernetes and Cloud clients, credentials, events and timing.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource};
use rand::Rng;

use crate::api::CredentialsRef;
use crate::cloud::cache::{ListCache, SharedCache};
use crate::metrics::Metrics;
use crate::cloud::{ApiKey, CloudClient, CloudClients, Priority};

use super::error::ReconcileError;
use super::own_writes::OwnWrites;
use super::reason::Reason;
use super::trust::OrgNamespaces;

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
    /// How old a cached list of a cluster's content (SQL users, databases, allowlist) may be when
    /// a person is waiting for the decision made from it. Periodic drift checks accept older lists
    /// (see `list_refresh_period`), so at rest a cluster's content is listed once per refresh
    /// period, not once per resource.
    pub fresh_list_age: Duration,
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
            fresh_list_age: Duration::from_secs(20),
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
    /// The poll interval while the cloud works on something that started `age` ago: quick at
    /// first (many changes finish within seconds), growing to `poll_fast` (1 s, 2 s, 4 s, ... polls
    /// after the start), so a long creation costs about as many polls as a fixed interval.
    pub fn poll_while_working(&self, age: Option<Duration>) -> Duration {
        let floor = Duration::from_secs(1).min(self.poll_fast);
        jitter(age.unwrap_or(self.poll_fast).clamp(floor, self.poll_fast), 0.1)
    }
    /// How old a cached list of `pages` pages may be for work of this priority.
    pub fn list_max_age(&self, priority: Priority, pages: u32) -> Duration {
        match priority {
            Priority::Interactive => self.fresh_list_age,
            Priority::Background => self.list_refresh_period(pages),
        }
    }
    /// How often drift checks refresh a list of `pages` pages: every resync for a list that fits
    /// in one page, every N resyncs for one of N pages. Drift checks then spend one request per
    /// list per resync, so a cluster at rest costs the same however much it holds; the price is
    /// that drift in a cluster holding more than a page of one kind is found more slowly.
    pub fn list_refresh_period(&self, pages: u32) -> Duration {
        self.resync * pages.max(1)
    }
    /// When a settled child looks again: just after the shared list it used is due for refresh,
    /// plus a small random spread. Every child of a cluster then shares one list per refresh
    /// period (the first to wake refreshes it for the rest), however many children there are; the
    /// spread keeps them from waking in one burst.
    pub fn after_list_refresh(&self, loaded_at: tokio::time::Instant, pages: u32) -> Duration {
        let period = self.list_refresh_period(pages);
        let due = (loaded_at + period).saturating_duration_since(tokio::time::Instant::now());
        due + period.mul_f64(rand::rng().random_range(0.0..=0.05))
    }
}

/// Switches for measuring what the operator's economies save (`--disable-list-cache`,
/// `--disable-priority`); both are on in normal operation.
#[derive(Debug, Clone, Copy)]
pub struct Economies {
    /// Share one list per cluster among its resources (see `cloud::cache`).
    pub list_cache: bool,
    /// Serve work a person is waiting for before periodic drift checks.
    pub priority: bool,
}

impl Default for Economies {
    fn default() -> Self {
        Self { list_cache: true, priority: true }
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

/// Consecutive transient failures per object, for per-object exponential backoff.
#[derive(Default)]
pub struct FailureCounts(Mutex<HashMap<String, u32>>);

impl FailureCounts {
    pub fn record(&self, key: &str) -> u32 {
        let mut counts = self.0.lock().expect("failure counts lock");
        let count = counts.entry(key.to_string()).or_default();
        *count = count.saturating_add(1);
        *count
    }
    pub fn clear(&self, key: &str) {
        self.0.lock().expect("failure counts lock").remove(key);
    }
}

pub struct Context {
    pub client: Client,
    pub clouds: CloudClients,
    pub default_credentials: DefaultCredentials,
    pub recorder: Recorder,
    pub timing: Timing,
    pub economies: Economies,
    /// Consecutive transient failures per object, for per-object backoff.
    pub failures: FailureCounts,
    /// The versions of each object the operator's own last writes made obsolete, so no pass
    /// starts from a watch cache that has not caught up with them.
    pub own_writes: OwnWrites,
    /// Per-cluster list caches shared by every child resource.
    pub caches: ListCaches,
    /// The controllers' watch caches, once they run (reads without a round trip to the apiserver).
    pub stores: Stores,
    pub metrics: Arc<Metrics>,
    /// The namespaces trusted with organisation-level kinds.
    pub org_namespaces: OrgNamespaces,
}

/// Values keyed by their type, made on first use: one per kind (watch caches) or per kind of cloud
/// object (list caches), so a new kind needs no field here.
#[derive(Default)]
struct TypeMap(Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

impl TypeMap {
    fn get_or_insert<T: Any + Send + Sync>(&self, make: impl FnOnce() -> T) -> Arc<T> {
        let mut map = self.0.lock().expect("type map lock");
        let value = map.entry(TypeId::of::<T>()).or_insert_with(|| Arc::new(make())).clone();
        value.downcast::<T>().expect("entries are keyed by their own type")
    }
    fn insert<T: Any + Send + Sync>(&self, value: T) {
        self.0.lock().expect("type map lock").insert(TypeId::of::<T>(), Arc::new(value));
    }
    fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let map = self.0.lock().expect("type map lock");
        map.get(&TypeId::of::<T>()).cloned().map(|value| value.downcast::<T>().expect("entries are keyed by their own type"))
    }
}

/// The controllers' watch caches, one per kind, set when the controllers start: reconcilers read
/// other resources from them without a round trip to the apiserver.
#[derive(Default)]
pub struct Stores(TypeMap);

impl Stores {
    pub fn set<K: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static>(&self, store: Store<K>) {
        self.0.insert(store);
    }
    pub fn get<K: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static>(&self) -> Option<Arc<Store<K>>> {
        self.0.get::<Store<K>>()
    }
}

/// Where a cluster's SQL clients connect (host, port) and the CA certificate (PEM) that
/// `sslmode=verify-full` checks the server against: the same for every user and database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: String,
    pub ca_cert: String,
}

/// Short-lived caches of what clusters hold: one list cache per kind of cluster content, and the
/// connection endpoint.
pub struct ListCaches {
    enabled: bool,
    lists: TypeMap,
    pub endpoints: SharedCache<Endpoint>,
}

impl ListCaches {
    pub fn new(enabled: bool) -> Self {
        Self { enabled, lists: TypeMap::default(), endpoints: SharedCache::new(enabled) }
    }

    /// The list cache of cloud objects of type `T`, shared by every resource of that kind.
    pub fn list<T: Send + Sync + 'static>(&self) -> Arc<ListCache<T>> {
        self.lists.get_or_insert(|| ListCache::<T>::new(self.enabled))
    }
}

impl Context {
    pub fn new(
        client: Client,
        clouds: CloudClients,
        default_credentials: DefaultCredentials,
        timing: Timing,
        economies: Economies,
        metrics: Arc<Metrics>,
        org_namespaces: OrgNamespaces,
    ) -> Arc<Self> {
        let reporter = Reporter {
            controller: "crdb-cloud-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let recorder = Recorder::new(client.clone(), reporter);
        let caches = ListCaches::new(economies.list_cache);
        Arc::new(Self {
            client,
            clouds,
            default_credentials,
            recorder,
            timing,
            economies,
            failures: FailureCounts::default(),
            own_writes: OwnWrites::default(),
            caches,
            stores: Stores::default(),
            metrics,
            org_namespaces,
        })
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
                    Reason::MissingCredentials,
                    "no spec.credentialsRef and the operator has no default API key (set COCKROACH_API_KEY or the chart's apiKey values)",
                )
            })?,
        };
        let priority = if self.economies.priority { priority } else { Priority::Interactive };
        Ok(self.clouds.client(key).with_priority(priority))
    }

    async fn read_api_key(&self, namespace: &str, reference: &CredentialsRef) -> Result<ApiKey, ReconcileError> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = secrets.get_opt(&reference.name).await?.ok_or_else(|| {
            ReconcileError::stalled(
                Reason::CredentialsNotFound,
                format!("spec.credentialsRef: Secret {namespace}/{} not found", reference.name),
            )
        })?;
        let value = secret.data.as_ref().and_then(|d| d.get(reference.key())).map(|b| b.0.clone()).unwrap_or_default();
        let text = String::from_utf8(value).unwrap_or_default();
        if text.trim().is_empty() {
            return Err(ReconcileError::stalled(
                Reason::CredentialsInvalid,
                format!("spec.credentialsRef: Secret {namespace}/{} has no non-empty key {:?}", reference.name, reference.key()),
            ));
        }
        Ok(ApiKey::new(text))
    }

    /// Publishes an event about `obj`. Failures are logged, never fatal: events are advisory.
    pub async fn event<K>(&self, obj: &K, type_: EventType, reason: Reason, action: &str, note: impl Into<String>)
    where
        K: Resource<DynamicType = ()>,
    {
        let event = Event {
            type_,
            reason: reason.as_str().into(),
            note: Some(truncate(note.into(), 1000)),
            action: action.into(),
            secondary: None,
        };
        if let Err(err) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(%err, %reason, "could not publish event");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_starts_quick_and_settles_at_the_poll_interval() {
        let timing = Timing::default();
        let within = |d: Duration, base: f64| (base * 0.9..=base * 1.1).contains(&d.as_secs_f64());
        assert!(within(timing.poll_while_working(Some(Duration::ZERO)), 1.0));
        assert!(within(timing.poll_while_working(Some(Duration::from_secs(2))), 2.0));
        assert!(within(timing.poll_while_working(Some(Duration::from_secs(600))), 5.0));
        // Unknown start: the plain interval.
        assert!(within(timing.poll_while_working(None), 5.0));
    }

    #[test]
    fn drift_checks_spend_one_request_per_list_per_resync_and_people_get_fresh_lists() {
        let timing = Timing::default();
        assert_eq!(timing.list_max_age(Priority::Background, 1), timing.resync);
        // A list of three pages costs three requests: refreshed every third resync.
        assert_eq!(timing.list_max_age(Priority::Background, 3), timing.resync * 3);
        // An empty listing still took one request.
        assert_eq!(timing.list_max_age(Priority::Background, 0), timing.resync);
        for pages in [0, 1, 3] {
            assert_eq!(timing.list_max_age(Priority::Interactive, pages), timing.fresh_list_age);
        }
        assert!(timing.fresh_list_age < timing.resync);
    }

    #[tokio::test]
    async fn settled_children_wake_just_after_their_list_is_due() {
        let timing = Timing { resync: Duration::from_millis(400), ..Timing::default() };
        let loaded_at = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Loaded 100 ms ago: due in at most 300 ms; the spread adds at most 5% of the resync.
        for _ in 0..100 {
            let next = timing.after_list_refresh(loaded_at, 1);
            // Never before the list is due...
            assert!(next + loaded_at.elapsed() >= Duration::from_millis(400), "{next:?}");
            // ...and at most the spread after.
            assert!(next <= Duration::from_millis(300 + 20), "{next:?}");
        }
        // An overdue list: wake within the spread, and the first child to wake refreshes it.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(timing.after_list_refresh(loaded_at, 1) <= Duration::from_millis(20));
    }

    #[tokio::test]
    async fn children_of_a_list_of_several_pages_wake_when_that_list_is_due() {
        let timing = Timing { resync: Duration::from_millis(200), ..Timing::default() };
        let loaded_at = tokio::time::Instant::now();
        // Two pages: due 400 ms after loading, spread at most 5% of that.
        for _ in 0..100 {
            let next = timing.after_list_refresh(loaded_at, 2);
            assert!(next + loaded_at.elapsed() >= Duration::from_millis(400), "{next:?}");
            assert!(next <= Duration::from_millis(400 + 20), "{next:?}");
        }
    }
}
