//! The in-memory cloud: organisations (one per API key), their clusters and each cluster's SQL
//! users, databases, allowlist and backup configuration, plus the cluster state machine.
//!
//! Time-driven transitions (CREATING -> CREATED, an operation finishing, a deleted cluster being
//! forgotten) are computed lazily from timestamps whenever an organisation is read, so every
//! function here is pure given `now` and the tests can drive time by hand.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crdb_cloud::models::{
    AllowlistEntry, BackupConfiguration, ClientCaCertInfo, CmekClusterInfo, CmekStatus, Cluster, ClusterState, Database,
    DeleteProtection, OperationStatus, Organization, UpgradeStatus,
};
use crdb_cloud::models::JwtIssuer;

use super::maintenance::Maintenance;
use super::errors::{ApiError, ApiResult};

pub type Now = DateTime<Utc>;

/// The configured delays, in the clock type the state uses.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub create_delay: chrono::Duration,
    pub operation_delay: chrono::Duration,
    pub deleted_retention: chrono::Duration,
}

impl Timing {
    pub fn from_std(create: std::time::Duration, operation: std::time::Duration, retention: std::time::Duration) -> Self {
        let conv = |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        Self { create_delay: conv(create), operation_delay: conv(operation), deleted_retention: conv(retention) }
    }
}

/// Timestamps as the service writes them: RFC 3339, UTC, microseconds.
pub fn rfc3339(t: Now) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A stable UUID-shaped id derived from a secret, so org ids survive restarts without revealing
/// the key (a one-way hash).
pub fn derived_id(purpose: &str, secret: &str) -> String {
    let digest = Sha256::digest(format!("{purpose}:{secret}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

/// The ID of the service account an API key belongs to (what clusters report as `creator_id`).
pub fn creator_id_for_key(key: &str) -> String {
    derived_id("creator", key)
}

pub struct Store {
    /// API key -> organisation id. The only place keys are kept.
    keys: HashMap<String, String>,
    orgs: BTreeMap<String, Org>,
    /// Keys created through the API: the SHA-256 of the secret -> (organisation id, key id).
    issued: HashMap<String, (String, String)>,
}

impl Store {
    pub fn new(api_keys: &[String], now: Now) -> Self {
        let mut store = Self { keys: HashMap::new(), orgs: BTreeMap::new(), issued: HashMap::new() };
        for (index, key) in api_keys.iter().enumerate() {
            if store.keys.contains_key(key) {
                continue;
            }
            let id = derived_id("org", key);
            store.keys.insert(key.clone(), id.clone());
            store.orgs.insert(id.clone(), Org::new(id, creator_id_for_key(key), index + 1, now));
        }
        store
    }

    /// Empties every organisation; keys and org ids stay.
    pub fn reset(&mut self) {
        for org in self.orgs.values_mut() {
            org.clusters.clear();
            org.roles.clear();
            org.accounts = Default::default();
            org.folders.clear();
            org.jwt_issuers.clear();
        }
        self.issued.clear();
    }

    pub fn org_id_for_key(&self, key: &str) -> Option<&str> {
        self.identity(key).map(|identity| identity.org_id)
    }

    /// Who a request's key is: its organisation and, for a key created through the API, the key's
    /// ID (the simulator's own keys have none: they act as the organisation's admins).
    pub fn identity(&self, key: &str) -> Option<Identity<'_>> {
        if let Some(org_id) = self.keys.get(key) {
            return Some(Identity { org_id, key_id: None });
        }
        self.issued.get(&issued_hash(key)).map(|(org_id, key_id)| Identity { org_id, key_id: Some(key_id) })
    }

    /// A key created through the API authenticates for `org_id` until it is revoked.
    pub fn issue_key(&mut self, secret: &str, org_id: &str, key_id: &str) {
        self.issued.insert(issued_hash(secret), (org_id.to_string(), key_id.to_string()));
    }

    /// The key with id `key_id` no longer authenticates.
    pub fn revoke_key(&mut self, key_id: &str) {
        self.issued.retain(|_, (_, id)| id != key_id);
    }

    /// The organisation, with its clusters brought up to `now`.
    pub fn org(&mut self, org_id: &str, now: Now) -> ApiResult<&mut Org> {
        let org = self
            .orgs
            .get_mut(org_id)
            .ok_or_else(|| ApiError::unauthenticated("the API key's organisation no longer exists"))?;
        org.advance(now);
        Ok(org)
    }

    /// Every organisation brought up to `now` (admin views).
    pub fn orgs(&mut self, now: Now) -> impl Iterator<Item = &mut Org> {
        for org in self.orgs.values_mut() {
            org.advance(now);
        }
        self.orgs.values_mut()
    }

    /// A cluster in any organisation (admin operations address clusters by id alone).
    pub fn find_cluster(&mut self, cluster_id: &str, now: Now) -> ApiResult<&mut ClusterRecord> {
        self.orgs(now)
            .find_map(|org| org.clusters.get_mut(cluster_id))
            .ok_or_else(|| cluster_not_found(cluster_id))
    }
}

/// See [`Store::identity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    pub org_id: &'a str,
    pub key_id: Option<&'a str>,
}

/// Issued keys are kept as hashes: the secret is shown once, in the create's answer.
fn issued_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn cluster_not_found(cluster_id: &str) -> ApiError {
    ApiError::not_found(format!("cluster {cluster_id} not found"))
}

pub struct Org {
    pub info: Organization,
    /// The service account every cluster of this org is created by.
    pub creator_id: String,
    pub clusters: BTreeMap<String, ClusterRecord>,
    /// Deleted clusters that GET no longer answers for: the description does not say they leave
    /// `show_inactive=true` lists, so those keep showing them.
    pub forgotten: BTreeMap<String, Cluster>,
    /// The roles each principal (a person or a service account, by ID) holds directly.
    pub roles: BTreeMap<String, Vec<crdb_cloud::models::BuiltInRole>>,
    /// Service accounts and API keys.
    pub accounts: super::accounts::Accounts,
    /// The organisation's folders (see [`folders`](super::folders)).
    pub folders: super::folders::Folders,
    /// JWT issuers by id.
    pub jwt_issuers: BTreeMap<String, JwtIssuer>,
}

/// What a child operation needs from its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Lists and reads: the cluster must be CREATED or LOCKED.
    Read,
    /// Creates, updates, deletes: the cluster must be CREATED.
    Write,
}

impl Org {
    fn new(id: String, creator_id: String, number: usize, now: Now) -> Self {
        let info = Organization {
            id,
            label: format!("simulated-org-{number}"),
            name: format!("Simulated organization {number}"),
            created_at: rfc3339(now),
        };
        Self { info, creator_id, clusters: BTreeMap::new(), forgotten: BTreeMap::new(), roles: BTreeMap::new(), accounts: Default::default(), folders: BTreeMap::new(), jwt_issuers: BTreeMap::new() }
    }

    pub fn advance(&mut self, now: Now) {
        for record in self.clusters.values_mut() {
            record.advance(now);
        }
        let due: Vec<String> = self.clusters.iter().filter(|(_, r)| r.purge_at.is_some_and(|at| at <= now)).map(|(id, _)| id.clone()).collect();
        for id in due {
            if let Some(record) = self.clusters.remove(&id) {
                self.forgotten.insert(id, record.cluster);
            }
        }
    }

    /// A cluster, deleted ones included (the real GET shows DELETED clusters until they are purged).
    pub fn cluster(&mut self, cluster_id: &str) -> ApiResult<&mut ClusterRecord> {
        self.clusters.get_mut(cluster_id).ok_or_else(|| cluster_not_found(cluster_id))
    }

    /// A cluster that has not been deleted.
    pub fn live_cluster(&mut self, cluster_id: &str) -> ApiResult<&mut ClusterRecord> {
        match self.clusters.get_mut(cluster_id) {
            Some(r) if !r.is_deleted() => Ok(r),
            _ => Err(cluster_not_found(cluster_id)),
        }
    }

    /// The cluster a child operation (SQL users, databases, allowlist, backups, connection string)
    /// addresses, refused while the cluster cannot serve it. The real service answers a cluster that
    /// is still provisioning with a 404-ish error; FAILED_PRECONDITION says the same more clearly.
    pub fn child_cluster(&mut self, cluster_id: &str, access: Access) -> ApiResult<&mut ClusterRecord> {
        let record = self.live_cluster(cluster_id)?;
        let state = &record.cluster.state;
        let allowed = match access {
            Access::Read => matches!(state, ClusterState::Created | ClusterState::Locked),
            Access::Write => *state == ClusterState::Created,
        };
        if !allowed {
            let why = match state {
                ClusterState::Creating => "is still being created; retry once its state is CREATED".to_string(),
                ClusterState::Locked => format!(
                    "is LOCKED by a running operation ({}); retry once it finishes",
                    record.cluster.operation_status
                ),
                other => format!("is in state {other}"),
            };
            return Err(ApiError::failed_precondition(format!("cluster {cluster_id} {why}")));
        }
        Ok(record)
    }

    /// The JWT issuers in issuer URL order (URLs are unique in an organisation).
    pub fn jwt_issuers_by_url(&self) -> Vec<&JwtIssuer> {
        let mut issuers: Vec<&JwtIssuer> = self.jwt_issuers.values().collect();
        issuers.sort_by(|a, b| a.issuer_url.cmp(&b.issuer_url));
        issuers
    }

    /// Cluster names are unique among an organisation's clusters that are not deleted.
    pub fn name_in_use(&self, name: &str) -> bool {
        self.clusters.values().any(|r| !r.is_deleted() && r.cluster.name == name)
    }
}

/// Allowlist entries are keyed and sorted by network address, then mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CidrKey(pub u32, pub u8);

impl CidrKey {
    /// A string whose order is the numeric order, for keyset pagination.
    pub fn sort_key(&self) -> String {
        format!("{:08x}/{:02}", self.0, self.1)
    }
}

/// A running operation: what it reports, when it finishes, and what it changes when it does.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingOperation {
    pub status: OperationStatus,
    pub done_at: Now,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The change was applied when the operation started (scaling, editing).
    Nothing,
    /// A major upgrade: the cluster runs `to` and waits for finalization; `from` allows a rollback.
    Upgrade { to: String, from: String },
    /// A rollback to `to`, which ends finalized.
    Rollback { to: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterRecord {
    /// The cluster as the API returns it.
    pub cluster: Cluster,
    /// When a CREATING cluster becomes CREATED.
    pub ready_at: Option<Now>,
    pub operation: Option<PendingOperation>,
    /// When a DELETED cluster is forgotten (GET then answers 404).
    pub purge_at: Option<Now>,
    /// The version before an upgrade awaiting finalization, the target of a rollback.
    pub previous_version: Option<String>,
    /// User name -> password. Kept in clear: this is a test double and the admin surface lets tests
    /// check what a client stored.
    pub sql_users: BTreeMap<String, String>,
    pub databases: BTreeMap<String, Database>,
    pub allowlist: BTreeMap<CidrKey, AllowlistEntry>,
    pub backup: BackupConfiguration,
    /// `retention_days` can be changed once through the API; later changes need a support ticket.
    pub retention_changed: bool,
    pub maintenance: Maintenance,
    /// Fault hook: an upgrade stuck in PENDING_FINALIZATION, whose finalization the cloud refuses.
    pub finalization_stuck: bool,
    /// Log and metric export configurations.
    pub exports: super::exports::Exports,
    /// CMEK as GET .../cmek reports it (DISABLED until enabled).
    pub cmek: CmekClusterInfo,
    /// When ENABLING CMEK keys become ENABLED.
    pub cmek_ready_at: Option<Now>,
    pub client_ca: ClientCaCertInfo,
    /// The cluster's CA certificate (PEM), made on first request.
    pub ca_cert: Option<String>,
    pub egress_rules: super::egress_rules::EgressRules,
    /// Private endpoint services, connections and trusted owners.
    pub private_endpoints: super::private_endpoints::PrivateEndpoints,
}

impl ClusterRecord {
    pub fn is_deleted(&self) -> bool {
        self.cluster.state == ClusterState::Deleted
    }

    /// Applies every transition due by `now`, stamping each at the moment it was due.
    pub fn advance(&mut self, now: Now) {
        if self.cmek_ready_at.take_if(|at| *at <= now).is_some() {
            let enabled = |status: &mut Option<CmekStatus>| {
                if matches!(status, Some(CmekStatus::Enabling | CmekStatus::Rotating)) {
                    *status = Some(CmekStatus::Enabled);
                }
            };
            enabled(&mut self.cmek.status);
            for region in &mut self.cmek.region_infos {
                enabled(&mut region.status);
                region.key_infos.iter_mut().for_each(|k| enabled(&mut k.status));
            }
        }
        if let Some(at) = self.ready_at.filter(|at| *at <= now) {
            self.ready_at = None;
            if self.cluster.state == ClusterState::Creating {
                self.cluster.state = ClusterState::Created;
                self.cluster.updated_at = Some(rfc3339(at));
            }
        }
        if let Some(op) = self.operation.take_if(|op| op.done_at <= now) {
            self.cluster.operation_status = OperationStatus::Unspecified;
            if self.cluster.state == ClusterState::Locked {
                self.cluster.state = ClusterState::Created;
            }
            match op.outcome {
                Outcome::Nothing => {}
                Outcome::Upgrade { to, from } => {
                    self.cluster.cockroach_version = to;
                    self.cluster.upgrade_status = UpgradeStatus::PendingFinalization;
                    self.previous_version = Some(from);
                }
                Outcome::Rollback { to } => {
                    self.cluster.cockroach_version = to;
                    self.cluster.upgrade_status = UpgradeStatus::Finalized;
                    self.previous_version = None;
                }
            }
            self.cluster.updated_at = Some(rfc3339(op.done_at));
        }
    }

    /// Starts an operation; dedicated clusters are LOCKED while it runs, serverless ones are not.
    pub fn start_operation(&mut self, status: OperationStatus, outcome: Outcome, now: Now, delay: chrono::Duration) {
        if self.cluster.config.dedicated.is_some() {
            self.cluster.state = ClusterState::Locked;
        }
        self.cluster.operation_status = status.clone();
        self.operation = Some(PendingOperation { status, done_at: now + delay, outcome });
    }

    /// Refuses an update while the cluster's state does not allow one.
    pub fn ensure_updatable(&self) -> ApiResult<()> {
        let id = &self.cluster.id;
        match &self.cluster.state {
            ClusterState::Created if self.cluster.operation_status.is_running() => {
                Err(ApiError::failed_precondition(format!(
                    "an operation ({}) is already running on cluster {id}; retry once it finishes",
                    self.cluster.operation_status
                )))
            }
            ClusterState::Created => Ok(()),
            ClusterState::Creating => Err(ApiError::failed_precondition(format!(
                "cluster {id} is still being created; retry once its state is CREATED"
            ))),
            ClusterState::Locked => Err(ApiError::failed_precondition(format!(
                "cluster {id} is LOCKED by a running operation ({}); retry once it finishes",
                self.cluster.operation_status
            ))),
            other => Err(ApiError::failed_precondition(format!("cluster {id} cannot be updated in state {other}"))),
        }
    }

    /// Deletes the cluster: it stays visible as DELETED for `retention`, its children go at once.
    /// Allowed in any state (the service lets locked and creating clusters be deleted) except with
    /// delete protection on.
    pub fn delete(&mut self, now: Now, retention: chrono::Duration) -> ApiResult<()> {
        if self.cluster.delete_protection == Some(DeleteProtection::Enabled) {
            return Err(ApiError::failed_precondition(format!(
                "cluster {} has delete protection enabled; disable delete protection \
                 (PATCH {{\"delete_protection\": \"DISABLED\"}}) before deleting it",
                self.cluster.id
            )));
        }
        self.mark_deleted(now, retention);
        Ok(())
    }

    fn mark_deleted(&mut self, now: Now, retention: chrono::Duration) {
        let stamp = rfc3339(now);
        self.cluster.state = ClusterState::Deleted;
        self.cluster.operation_status = OperationStatus::Unspecified;
        self.cluster.deleted_at = Some(stamp.clone());
        self.cluster.updated_at = Some(stamp);
        self.ready_at = None;
        self.operation = None;
        self.purge_at = Some(now + retention);
        self.sql_users.clear();
        self.databases.clear();
        self.allowlist.clear();
        self.maintenance = Maintenance::default();
        self.egress_rules = Default::default();
    }

    /// Forces a state (admin surface, for fault tests). Pending timers are cancelled so the forced
    /// state stays until forced again; forcing DELETED deletes regardless of protection.
    pub fn force(
        &mut self,
        state: Option<ClusterState>,
        operation_status: Option<OperationStatus>,
        upgrade_status: Option<UpgradeStatus>,
        now: Now,
        retention: chrono::Duration,
    ) {
        self.ready_at = None;
        self.operation = None;
        if state == Some(ClusterState::Deleted) {
            self.mark_deleted(now, retention);
        } else if let Some(s) = state {
            self.cluster.state = s;
        }
        if let Some(op) = operation_status {
            self.cluster.operation_status = op;
        }
        if let Some(u) = upgrade_status {
            self.cluster.upgrade_status = u;
        }
        self.cluster.updated_at = Some(rfc3339(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crdb_cloud::models::{CloudProvider, CreateClusterRequest, CreateClusterSpec, ServerlessCreateSpec};
    use crate::{provision, validation};

    fn t(secs: i64) -> Now {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn timing() -> Timing {
        Timing::from_std(
            std::time::Duration::from_secs(3),
            std::time::Duration::from_secs(2),
            std::time::Duration::from_secs(5),
        )
    }

    fn store_with_cluster() -> (Store, String, String) {
        let mut store = Store::new(&["k1".to_string(), "k2".to_string()], t(0));
        let org_id = store.org_id_for_key("k1").unwrap().to_string();
        let req = CreateClusterRequest {
            name: "state-test".into(),
            provider: CloudProvider::Gcp,
            spec: CreateClusterSpec {
                serverless: Some(ServerlessCreateSpec { regions: vec!["us-central1".into()], ..Default::default() }),
                ..Default::default()
            },
        };
        let valid = validation::create_request(&req).unwrap();
        let org = store.org(&org_id, t(0)).unwrap();
        let record = provision::new_cluster(&valid, "c1".into(), org.creator_id.clone(), t(0), &timing());
        org.clusters.insert("c1".into(), record);
        (store, org_id, "c1".into())
    }

    #[test]
    fn orgs_are_per_key_and_ids_do_not_reveal_keys() {
        let store = Store::new(&["k1".into(), "k2".into(), "k1".into()], t(0));
        let a = store.org_id_for_key("k1").unwrap();
        let b = store.org_id_for_key("k2").unwrap();
        assert_ne!(a, b);
        assert!(!a.contains("k1"));
        assert_eq!(store.orgs.len(), 2);
        assert!(store.org_id_for_key("nope").is_none());
        // Stable across restarts.
        assert_eq!(Store::new(&["k1".into()], t(9)).org_id_for_key("k1").unwrap(), a);
    }

    #[test]
    fn creating_becomes_created_after_the_delay() {
        let (mut store, org, id) = store_with_cluster();
        let c = &store.org(&org, t(2)).unwrap().cluster(&id).unwrap().cluster;
        assert_eq!(c.state, ClusterState::Creating);
        let err = store.org(&org, t(2)).unwrap().child_cluster(&id, Access::Read).unwrap_err();
        assert_eq!(err.code, crdb_cloud::models::grpc_code::FAILED_PRECONDITION);
        let c = &store.org(&org, t(3)).unwrap().cluster(&id).unwrap().cluster;
        assert_eq!(c.state, ClusterState::Created);
        assert_eq!(c.updated_at.as_deref(), Some(rfc3339(t(3)).as_str()));
        assert!(store.org(&org, t(3)).unwrap().child_cluster(&id, Access::Write).is_ok());
    }

    #[test]
    fn operations_lock_dedicated_clusters_until_done() {
        let (mut store, org, id) = store_with_cluster();
        let record = store.org(&org, t(4)).unwrap().cluster(&id).unwrap();
        // Pretend it is dedicated so the lock applies.
        record.cluster.config.dedicated = Some(crdb_cloud::models::DedicatedHardwareConfig {
            machine_type: "n2-standard-4".into(),
            num_virtual_cpus: 4,
            storage_gib: 15,
            memory_gib: 16.0,
            disk_iops: 45,
        });
        record.start_operation(OperationStatus::ScaleRunning, Outcome::Nothing, t(4), timing().operation_delay);
        assert_eq!(record.cluster.state, ClusterState::Locked);
        assert!(record.ensure_updatable().is_err());
        let org_ref = store.org(&org, t(5)).unwrap();
        assert_eq!(org_ref.cluster(&id).unwrap().cluster.operation_status, OperationStatus::ScaleRunning);
        assert!(org_ref.child_cluster(&id, Access::Write).is_err());
        assert!(org_ref.child_cluster(&id, Access::Read).is_ok());
        let c = &store.org(&org, t(6)).unwrap().cluster(&id).unwrap().cluster;
        assert_eq!((c.state.clone(), c.operation_status.clone()), (ClusterState::Created, OperationStatus::Unspecified));
    }

    #[test]
    fn upgrades_wait_for_finalization_and_roll_back() {
        let (mut store, org, id) = store_with_cluster();
        let record = store.org(&org, t(4)).unwrap().cluster(&id).unwrap();
        let before = record.cluster.cockroach_version.clone();
        record.start_operation(
            OperationStatus::MajorUpgradeRunning,
            Outcome::Upgrade { to: "v99.1.0".into(), from: before.clone() },
            t(4),
            timing().operation_delay,
        );
        let record = store.org(&org, t(6)).unwrap().cluster(&id).unwrap();
        assert_eq!(record.cluster.cockroach_version, "v99.1.0");
        assert_eq!(record.cluster.upgrade_status, UpgradeStatus::PendingFinalization);
        assert_eq!(record.previous_version.as_deref(), Some(before.as_str()));
        record.start_operation(OperationStatus::MajorRollbackRunning, Outcome::Rollback { to: before.clone() }, t(6), timing().operation_delay);
        let record = store.org(&org, t(8)).unwrap().cluster(&id).unwrap();
        assert_eq!(record.cluster.cockroach_version, before);
        assert_eq!(record.cluster.upgrade_status, UpgradeStatus::Finalized);
    }

    #[test]
    fn delete_respects_protection_then_purges_after_retention() {
        let (mut store, org, id) = store_with_cluster();
        let record = store.org(&org, t(4)).unwrap().cluster(&id).unwrap();
        record.cluster.delete_protection = Some(DeleteProtection::Enabled);
        let err = record.delete(t(4), timing().deleted_retention).unwrap_err();
        assert!(err.message.contains("delete protection"));
        assert_eq!(err.code, crdb_cloud::models::grpc_code::FAILED_PRECONDITION);
        record.cluster.delete_protection = Some(DeleteProtection::Disabled);
        record.delete(t(4), timing().deleted_retention).unwrap();
        assert!(record.databases.is_empty() && record.allowlist.is_empty());
        let org_ref = store.org(&org, t(8)).unwrap();
        assert_eq!(org_ref.cluster(&id).unwrap().cluster.state, ClusterState::Deleted);
        assert!(org_ref.live_cluster(&id).is_err());
        assert!(!org_ref.name_in_use("state-test"));
        assert_eq!(store.org(&org, t(9)).unwrap().cluster(&id).unwrap_err().status.as_u16(), 404);
    }

    #[test]
    fn forced_states_stick_and_clusters_are_isolated_per_org() {
        let (mut store, org, id) = store_with_cluster();
        store.find_cluster(&id, t(1)).unwrap().force(Some(ClusterState::CreationFailed), None, None, t(1), timing().deleted_retention);
        assert_eq!(store.org(&org, t(100)).unwrap().cluster(&id).unwrap().cluster.state, ClusterState::CreationFailed);
        let other = store.org_id_for_key("k2").unwrap().to_string();
        assert_eq!(store.org(&other, t(100)).unwrap().cluster(&id).unwrap_err().code, 5);
        store.reset();
        assert!(store.find_cluster(&id, t(100)).is_err());
    }
}
