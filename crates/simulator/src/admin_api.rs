//! The bodies of the admin surface under `/_simulator/`, defined once for the simulator's
//! handlers and for [`AdminClient`](crate::admin_client::AdminClient).
//!
//! - `GET health` ([`Health`]), `GET stats` ([`Stats`]), `GET requests?since=SEQ&operation=Name`
//!   (a list of [`RequestRecord`]: method, path, operation, status, organisation, duration,
//!   injected fault; never bodies or keys).
//! - `POST reset` ([`Reset`]), `GET state` ([`StateDump`]), `POST clusters/{id}/state` (a
//!   [`ForceState`], answered with the cluster), `GET clusters/{id}/sql-users/{name}/password`
//!   ([`SqlUserPassword`]), `POST clusters/{id}/logexport/status` (a [`ForceLogExportStatus`]:
//!   the fault hook for a log export that fails, e.g. CREDENTIALS_ERROR, answered with the export),
//!   `GET clusters/{id}/metricexport/datadog/api-key` ([`DatadogApiKeyDump`]),
//!   `GET clusters/{id}/logexport/azure-shared-key` ([`AzureSharedKeyDump`]).
//!   `POST clusters/{id}/private-endpoint-connections/{endpoint_id}/reject` (the cloud provider
//!   rejects that connection: STATUS_REJECTED from then on; answered with the connection),
//!   `DELETE clusters/{id}/private-endpoint-services` (the services removed, as only CockroachDB
//!   support can: the API offers no delete; answered with [`Cleared`], how many went).
//! - `GET|POST|DELETE faults`: a POST's body is a [`FaultSpec`], answered with the [`Fault`];
//!   GET lists them; DELETE answers [`Cleared`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crdb_cloud::models::{
    AllowlistEntry, BackupConfiguration, Cluster, ClusterState, Database, OperationStatus, UpgradeStatus,
};

/// The admin routes, for the simulator's router and the client (`{param}` syntax).
pub mod paths {
    pub const HEALTH: &str = "/_simulator/health";
    pub const STATS: &str = "/_simulator/stats";
    pub const REQUESTS: &str = "/_simulator/requests";
    pub const RESET: &str = "/_simulator/reset";
    pub const FAULTS: &str = "/_simulator/faults";
    pub const STATE: &str = "/_simulator/state";
    pub const CLUSTER_STATE: &str = "/_simulator/clusters/{cluster_id}/state";
    pub const SQL_USER_PASSWORD: &str = "/_simulator/clusters/{cluster_id}/sql-users/{name}/password";
    pub const LOG_EXPORT_STATUS: &str = "/_simulator/clusters/{cluster_id}/logexport/status";
    pub const DATADOG_API_KEY: &str = "/_simulator/clusters/{cluster_id}/metricexport/datadog/api-key";
    pub const AZURE_SHARED_KEY: &str = "/_simulator/clusters/{cluster_id}/logexport/azure-shared-key";
    pub const REJECT_PRIVATE_ENDPOINT_CONNECTION: &str = "/_simulator/clusters/{cluster_id}/private-endpoint-connections/{endpoint_id}/reject";
    pub const PRIVATE_ENDPOINT_SERVICES: &str = "/_simulator/clusters/{cluster_id}/private-endpoint-services";
}

/// The body of `POST /_simulator/faults`: the next `count` calls of `operation` (or of every
/// operation, `*`) fail with `status` (with `retry_after_secs` for 429), are slowed by `latency_ms`,
/// lose their answer after running (`drop_response`: a 503) or lose their connection
/// (`reset_connection`: a TCP reset without an answer; with `drop_response`, after running).
/// `probability` (with an optional `seed`) applies the fault to a seeded pseudo-random share of the
/// matching calls instead of to every one; `count` then bounds the hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// An operation name (`CreateCluster`) or `*` for all.
    pub operation: String,
    /// Answer with this HTTP status (400-599) instead of running the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// With `status: 429`: the `Retry-After` seconds to send (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// Delay the answer by this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Run the operation, then answer 503 as if the response was lost on the way back (or, with
    /// `reset_connection`, close the connection instead of answering).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_response: bool,
    /// Close the connection (TCP reset) without any HTTP response. Alone, the operation does not
    /// run (the request was lost); with `drop_response` it runs first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset_connection: bool,
    /// How many calls the fault applies to (with `probability`: how many hits).
    #[serde(default = "one")]
    pub count: u32,
    /// Apply to this share (0 < p <= 1) of the matching calls instead of to every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Seed of the fault's generator when `probability` is given (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

fn one() -> u32 {
    1
}

/// The operation of a logged request that matched none.
pub const UNKNOWN_OPERATION: &str = "Unknown";
pub use crdb_cloud::operations::CLUSTER_CERT_OPERATION;

/// The name that matches every operation in [`FaultSpec::operation`].
pub const EVERY_OPERATION: &str = "*";

impl FaultSpec {
    /// A fault on one operation, used once, that does nothing yet: set what it does with struct
    /// update syntax, e.g. `FaultSpec { status: Some(503), ..FaultSpec::on(Operation::GetCluster) }`.
    pub fn on(operation: crdb_cloud::Operation) -> Self {
        Self::named(operation.name())
    }

    /// [`FaultSpec::on`] every operation.
    pub fn on_every_operation() -> Self {
        Self::named(EVERY_OPERATION)
    }

    fn named(operation: &str) -> Self {
        Self {
            operation: operation.to_string(),
            status: None,
            retry_after_secs: None,
            latency_ms: None,
            drop_response: false,
            reset_connection: false,
            count: 1,
            probability: None,
            seed: None,
        }
    }
}

/// An active fault, as listed by `GET /_simulator/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub id: u64,
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    pub drop_response: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset_connection: bool,
    pub remaining: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Matching calls seen and calls hit, when `probability` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hits: Option<u64>,
}

/// The kind of injected fault that shaped an answer, as the request log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Status,
    Latency,
    DropResponse,
    ResetConnection,
}

impl FaultKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Latency => "latency",
            Self::DropResponse => "drop_response",
            Self::ResetConnection => "reset_connection",
        }
    }
}

/// One served request, as listed by `GET /_simulator/requests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub seq: u64,
    pub at: String,
    pub method: String,
    /// The path only: query strings are not logged.
    pub path: String,
    /// The operation's name, or `Unknown` for a request that matched none.
    pub operation: String,
    pub status: u16,
    /// The organisation of an authenticated request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultKind>,
}

/// The body of `GET /_simulator/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub total: u64,
    /// operation -> HTTP status (as a string) -> count.
    pub by_operation: BTreeMap<String, BTreeMap<String, u64>>,
    /// Requests refused by the rate limiter (injected 429s are not counted here).
    pub rate_limited: u64,
}

impl Stats {
    /// How many requests of `operation` were answered with `status`.
    pub fn count(&self, operation: crdb_cloud::Operation, status: u16) -> u64 {
        self.by_operation.get(operation.name()).and_then(|s| s.get(&status.to_string())).copied().unwrap_or(0)
    }
}

/// The body of `GET /_simulator/state`: everything stored, per organisation (never the API keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateDump {
    pub orgs: Vec<OrgDump>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgDump {
    pub id: String,
    pub name: String,
    pub clusters: Vec<ClusterDump>,
}

/// One cluster with everything it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterDump {
    pub cluster: Cluster,
    pub sql_users: Vec<UserDump>,
    pub databases: Vec<Database>,
    pub allowlist: Vec<AllowlistEntry>,
    pub backup_configuration: BackupConfiguration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDump {
    pub name: String,
    pub password: String,
}

impl ClusterDump {
    pub fn is_deleted(&self) -> bool {
        self.cluster.state == ClusterState::Deleted
    }

    pub fn sql_user_names(&self) -> Vec<String> {
        self.sql_users.iter().map(|u| u.name.clone()).collect()
    }

    pub fn database_names(&self) -> Vec<String> {
        self.databases.iter().map(|d| d.name.clone()).collect()
    }

    /// The value of one of the cluster's labels.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.cluster.labels.get(key).map(String::as_str)
    }

    /// The allowlist entry of `cidr_ip/cidr_mask`.
    pub fn allowlist_entry(&self, cidr_ip: &str, cidr_mask: i32) -> Option<&AllowlistEntry> {
        self.allowlist.iter().find(|e| e.cidr_ip == cidr_ip && e.cidr_mask == cidr_mask)
    }
}

/// Body of `POST /_simulator/clusters/{id}/state`; at least one field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForceState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ClusterState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_status: Option<OperationStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_status: Option<UpgradeStatus>,
    /// A stuck PENDING_FINALIZATION: while true, the cloud refuses to finalize the cluster's
    /// upgrade (combine with `upgrade_status` to put a cluster there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalization_stuck: Option<bool>,
}

/// The body of `GET /_simulator/clusters/{id}/sql-users/{name}/password`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SqlUserPassword {
    pub password: String,
}

/// The body of `GET /_simulator/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}

/// The body of `POST /_simulator/reset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reset {
    pub reset: bool,
}

/// The body of `DELETE /_simulator/faults`: how many faults were removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cleared {
    pub cleared: usize,
}

/// Puts a cluster's log export into `status` with the cloud's `user_message` (e.g. a
/// CREDENTIALS_ERROR once the role cannot be assumed), until the next enable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForceLogExportStatus {
    pub status: crdb_cloud::models::LogExportStatus,
    pub user_message: String,
}

/// The Datadog API key the simulator was given (the API shows only its last four characters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatadogApiKeyDump {
    pub api_key: String,
}

/// The Azure Log Analytics shared key the log export was given (the API never shows it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AzureSharedKeyDump {
    pub azure_shared_key: String,
}
