//! Prometheus metrics: reconciles, Cloud API requests, the request budget and resources by
//! condition. Served as text on `/metrics` by [`crate::health`].
//!
//! No label ever carries a credential or a resource's data: kinds, operation names, statuses,
//! condition types and condition reasons only. Reasons are `&'static str` constants of the code
//! (a fixed CamelCase set), never messages, so every label's cardinality stays bounded.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::cloud::observer::CloudObserver;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    kind: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabels {
    kind: String,
    condition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StalledLabels {
    kind: String,
    reason: String,
}

/// Where one resource is counted: its condition and, when Stalled, why.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Counted {
    kind: String,
    condition: String,
    stalled_reason: Option<&'static str>,
}

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_seconds: Family<KindLabels, Histogram>,
    cloud_requests: Family<RequestLabels, Counter>,
    cloud_request_seconds: Family<OperationLabels, Histogram>,
    budget_wait_seconds: Family<OperationLabels, Histogram>,
    rate_limited: Family<OperationLabels, Counter>,
    resources: Family<ConditionLabels, Gauge>,
    invalid_objects: Family<KindLabels, Gauge>,
    leader: Gauge,
    ready: Gauge,
    stalled: Family<StalledLabels, Gauge>,
    /// The last condition of every resource, so the gauges count each resource once.
    states: Mutex<HashMap<String, Counted>>,
}

fn seconds_histogram() -> Histogram {
    // 1 ms .. ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("crdb_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register("reconciles", "Reconciles by kind and result (ready, progressing, stalled, error)", reconciles.clone());
        let reconcile_seconds = Family::<KindLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> Histogram);
        registry.register("reconcile_duration_seconds", "Reconcile duration by kind", reconcile_seconds.clone());
        let cloud_requests = Family::<RequestLabels, Counter>::default();
        registry.register("cloud_api_requests", "Cloud API requests by operation and HTTP status", cloud_requests.clone());
        let cloud_request_seconds = Family::<OperationLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> Histogram);
        registry.register("cloud_api_request_duration_seconds", "Cloud API request latency by operation", cloud_request_seconds.clone());
        let budget_wait_seconds = Family::<OperationLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> Histogram);
        registry.register("cloud_api_budget_wait_seconds", "Time requests waited for the per-key request budget", budget_wait_seconds.clone());
        let rate_limited = Family::<OperationLabels, Counter>::default();
        registry.register("cloud_api_rate_limited", "429 answers received from the Cloud API", rate_limited.clone());
        let resources = Family::<ConditionLabels, Gauge>::default();
        registry.register("resources", "Managed resources by kind and condition (Ready, Reconciling, Stalled)", resources.clone());
        let invalid_objects = Family::<KindLabels, Gauge>::default();
        registry.register(
            "invalid_objects",
            "Stored objects by kind that cannot be read (an older or hand-edited schema) and are skipped",
            invalid_objects.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 on the replica that holds the leader-election Lease and reconciles, 0 on a standby (whose other series stay empty)",
            leader.clone(),
        );
        let ready = Gauge::default();
        registry.register("ready", "1 when this replica answers /readyz with 200", ready.clone());
        // A separate gauge rather than a reason label on `resources`: the reasons of Ready and
        // Reconciling resources are noise for alerting, and the existing series keep their labels.
        let stalled = Family::<StalledLabels, Gauge>::default();
        registry.register("stalled_resources", "Stalled resources by kind and reason (the Stalled condition's reason)", stalled.clone());
        Self {
            registry,
            leader,
            ready,
            reconciles,
            reconcile_seconds,
            cloud_requests,
            cloud_request_seconds,
            budget_wait_seconds,
            rate_limited,
            resources,
            stalled,
            invalid_objects,
            states: Mutex::default(),
        }
    }

    /// Whether this replica leads (reconciles).
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }

    /// One finished reconcile and what it concluded.
    pub fn reconciled(&self, kind: &str, result: &str) {
        self.reconciles.get_or_create(&ReconcileLabels { kind: kind.into(), result: result.into() }).inc();
    }

    pub fn reconcile_duration(&self, kind: &str, elapsed: Duration) {
        self.reconcile_seconds.get_or_create(&KindLabels { kind: kind.into() }).observe(elapsed.as_secs_f64());
    }

    /// Records the condition a resource is in now (`None` when it is gone) and, when it is
    /// Stalled, the reason.
    pub fn resource_state(&self, kind: &str, object: &str, condition: Option<&str>, stalled_reason: Option<&'static str>) {
        let mut states = self.states.lock().expect("metrics lock");
        let key = format!("{kind}/{object}");
        if let Some(old) = states.remove(&key) {
            self.resources.get_or_create(&ConditionLabels { kind: old.kind.clone(), condition: old.condition }).dec();
            if let Some(reason) = old.stalled_reason {
                self.stalled.get_or_create(&StalledLabels { kind: old.kind, reason: reason.into() }).dec();
            }
        }
        if let Some(condition) = condition {
            self.resources.get_or_create(&ConditionLabels { kind: kind.into(), condition: condition.into() }).inc();
            if let Some(reason) = stalled_reason {
                self.stalled.get_or_create(&StalledLabels { kind: kind.into(), reason: reason.into() }).inc();
            }
            states.insert(key, Counted { kind: kind.into(), condition: condition.into(), stalled_reason });
        }
    }

    /// How many stored objects of `kind` cannot be read now.
    pub fn invalid_objects(&self, kind: &str, count: usize) {
        self.invalid_objects.get_or_create(&KindLabels { kind: kind.into() }).set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

impl CloudObserver for Metrics {
    fn request(&self, operation: &'static str, status: &str, elapsed: Duration) {
        self.cloud_requests.get_or_create(&RequestLabels { operation: operation.into(), status: status.into() }).inc();
        self.cloud_request_seconds.get_or_create(&OperationLabels { operation: operation.into() }).observe(elapsed.as_secs_f64());
    }

    fn budget_wait(&self, operation: &'static str, waited: Duration) {
        self.budget_wait_seconds.get_or_create(&OperationLabels { operation: operation.into() }).observe(waited.as_secs_f64());
    }

    fn rate_limited(&self, operation: &'static str) {
        self.rate_limited.get_or_create(&OperationLabels { operation: operation.into() }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_every_series_with_values() {
        let metrics = Metrics::new();
        metrics.reconciled("SQLUser", "ready");
        metrics.reconcile_duration("SQLUser", Duration::from_millis(12));
        metrics.request("ListSQLUsers", "200", Duration::from_millis(5));
        metrics.budget_wait("ListSQLUsers", Duration::from_millis(100));
        metrics.rate_limited("ListSQLUsers");
        metrics.resource_state("SQLUser", "ns/a", Some("Ready"), None);
        metrics.resource_state("SQLUser", "ns/b", Some("Ready"), None);
        metrics.resource_state("SQLUser", "ns/b", Some("Stalled"), Some("SecretConflict"));
        metrics.resource_state("SQLUser", "ns/a", None, None);
        let text = metrics.encode();
        assert!(text.contains(r#"crdb_operator_reconciles_total{kind="SQLUser",result="ready"} 1"#), "{text}");
        assert!(text.contains(r#"crdb_operator_cloud_api_requests_total{operation="ListSQLUsers",status="200"} 1"#), "{text}");
        assert!(text.contains(r#"crdb_operator_cloud_api_rate_limited_total{operation="ListSQLUsers"} 1"#), "{text}");
        assert!(text.contains("crdb_operator_cloud_api_budget_wait_seconds_count"), "{text}");
        assert!(text.contains(r#"crdb_operator_resources{kind="SQLUser",condition="Stalled"} 1"#), "{text}");
        assert!(text.contains(r#"crdb_operator_resources{kind="SQLUser",condition="Ready"} 0"#), "{text}");
        assert!(text.contains(r#"crdb_operator_stalled_resources{kind="SQLUser",reason="SecretConflict"} 1"#), "{text}");
    }

    #[test]
    fn a_stalled_resource_is_counted_under_its_latest_reason_only() {
        let metrics = Metrics::new();
        metrics.resource_state("AllowlistEntry", "ns/a", Some("Stalled"), Some("Conflict"));
        metrics.resource_state("AllowlistEntry", "ns/a", Some("Stalled"), Some("InvalidSpec"));
        metrics.resource_state("AllowlistEntry", "ns/b", Some("Stalled"), Some("InvalidSpec"));
        let text = metrics.encode();
        assert!(text.contains(r#"crdb_operator_stalled_resources{kind="AllowlistEntry",reason="Conflict"} 0"#), "{text}");
        assert!(text.contains(r#"crdb_operator_stalled_resources{kind="AllowlistEntry",reason="InvalidSpec"} 2"#), "{text}");
        // Recovering, then deletion, leave nothing counted as Stalled.
        metrics.resource_state("AllowlistEntry", "ns/a", Some("Ready"), None);
        metrics.resource_state("AllowlistEntry", "ns/b", None, None);
        let text = metrics.encode();
        assert!(text.contains(r#"crdb_operator_stalled_resources{kind="AllowlistEntry",reason="InvalidSpec"} 0"#), "{text}");
        assert!(text.contains(r#"crdb_operator_resources{kind="AllowlistEntry",condition="Stalled"} 0"#), "{text}");
        assert!(text.contains(r#"crdb_operator_resources{kind="AllowlistEntry",condition="Ready"} 1"#), "{text}");
    }
}
