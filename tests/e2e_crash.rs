//! Crash consistency: seeded, reproducible randomised trials in which clusters, SQL users (with
//! generated and referenced passwords), databases, allowlist entries, folders, service accounts,
//! API keys, role grants, JWT issuers and egress rules (on an ADVANCED cluster of their own) are
//! created, updated,
//! rotated, renamed and deleted while the operator is killed with SIGKILL at random points (seeded
//! delays) and restarted, again and again. After each trial's operations the operator runs
//! undisturbed and everything must converge; then the trial deletes everything.
//!
//! Checked after every trial, from the simulator's state (the cloud) and the API server:
//! - no duplicate cloud objects (no two live clusters with the same name, no grant listed twice in
//!   a service account's roles);
//! - no orphans (a live cloud cluster, SQL user, database, allowlist entry or role of a service
//!   account that no resource accounts for; every resource uses the default Delete policy), neither after convergence nor
//!   after the final deletion;
//! - nothing stuck (every resource Ready at its current generation, every deleted one gone);
//! - the cloud matches the specs (labels, vCPUs, database names, allowlist flags, and every SQL
//!   user's password equals its Secret's).
//!
//! The base seed is printed (and can be set with `CRDB_CRASH_SEED`); each trial's seed is derived
//! from it and printed with a one-line summary, so any trial can be replayed by its seed.
//! Trials run in four lanes at once, each trial in its own namespace with its own simulator and
//! operator, on the binary's one control plane.


use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crdb_cloud_operator::api::{APIKey, AllowlistEntry, CockroachCluster, Database, EgressRule, Folder, JWTIssuer, PrivateEndpointConnection, PrivateEndpointTrustedOwner, RoleGrant, SQLUser, ServiceAccount};
use crdb_cloud::models::{BuiltInRole, OrganizationUserRole, ResourceType, RoleResource};
use crdb_cloud_operator::controller::registry;
use crdb_cloud_simulator::{self as simulator, SimulatorConfig};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use crdb_test_support::*;
use crdb_test_support::{World, kubectl};

const LANES: u64 = 4;
const TRIALS_PER_LANE: u64 = 6;
const DEFAULT_SEED: u64 = 0x00C0_FFEE_2026;
/// Convergence after the last crash: includes the operator's 30 s wait to confirm a create whose
/// request may or may not have been sent before a crash.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(75);
const DELETE_TIMEOUT: Duration = Duration::from_secs(60);

fn base_seed() -> u64 {
    std::env::var("CRDB_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED)
}

/// A trial's seed from the base seed and the trial number (SplitMix64 of their sum).
fn trial_seed(base: u64, trial: u64) -> u64 {
    let mut z = base.wrapping_add(trial.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------------------------
// What a trial expects

#[derive(Debug, Clone, Default)]
struct ClusterModel {
    tier: Option<String>,
    vcpus: u32,
}

#[derive(Debug, Clone)]
struct UserModel {
    cluster: String,
    /// A referenced password Secret (its name); `None`: a generated password.
    password_secret: Option<String>,
}

#[derive(Debug, Clone)]
struct DatabaseModel {
    cluster: String,
    sql_name: String,
}

#[derive(Debug, Clone)]
struct EntryModel {
    cluster: String,
    ip: String,
    ui: bool,
}

#[derive(Debug, Clone)]
struct RuleModel {
    ports: Vec<i32>,
}

/// A private endpoint connection (`endpoint`) or a trusted owner (`endpoint`: its account).
#[derive(Debug, Clone)]
struct LinkModel {
    cluster: String,
    endpoint: String,
}

/// A role of a service account of the mix, on a folder of the mix or on the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GrantModel {
    account: String,
    role: &'static str,
    /// A Folder resource; `None`: the organisation.
    folder: Option<String>,
}

#[derive(Debug, Default)]
struct Model {
    clusters: BTreeMap<String, ClusterModel>,
    users: BTreeMap<String, UserModel>,
    databases: BTreeMap<String, DatabaseModel>,
    entries: BTreeMap<String, EntryModel>,
    /// The ADVANCED cluster (DEFAULT_DENY egress) that holds the egress rules, made with the first
    /// rule; never updated or deleted before the teardown.
    egress_cluster: Option<String>,
    rules: BTreeMap<String, RuleModel>,
    /// Service accounts (their cloud name is the resource's name): the description.
    accounts: BTreeMap<String, String>,
    /// API keys (cloud name = resource name): their service account resource.
    keys: BTreeMap<String, String>,
    /// Folder resource -> the folder's name in the cloud.
    folders: BTreeMap<String, String>,
    connections: BTreeMap<String, LinkModel>,
    owners: BTreeMap<String, LinkModel>,
    /// JWT issuers (organisation-level, beside the clusters): name -> audience.
    issuers: BTreeMap<String, String>,
    /// Role grants: distinct (account, role, scope) each, so no two resources share a cloud grant.
    grants: BTreeMap<String, GrantModel>,
    /// (kind, name) of every deleted resource.
    deleted: Vec<(&'static str, String)>,
    next: u32,
}

impl Model {
    fn fresh(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    fn children_of(&self, cluster: &str) -> Vec<(&'static str, String)> {
        let mut all = Vec::new();
        all.extend(self.users.iter().filter(|(_, u)| u.cluster == cluster).map(|(n, _)| ("sqluser", n.clone())));
        all.extend(self.databases.iter().filter(|(_, d)| d.cluster == cluster).map(|(n, _)| ("database", n.clone())));
        all.extend(self.entries.iter().filter(|(_, e)| e.cluster == cluster).map(|(n, _)| ("allowlistentry", n.clone())));
        all.extend(self.connections.iter().filter(|(_, c)| c.cluster == cluster).map(|(n, _)| ("privateendpointconnection", n.clone())));
        all.extend(self.owners.iter().filter(|(_, o)| o.cluster == cluster).map(|(n, _)| ("privateendpointtrustedowner", n.clone())));
        all
    }

    fn pick_cluster(&self, rng: &mut StdRng) -> Option<String> {
        let names: Vec<&String> = self.clusters.keys().collect();
        (!names.is_empty()).then(|| names[rng.random_range(0..names.len())].clone())
    }
}

fn pick<'a, V>(map: &'a BTreeMap<String, V>, rng: &mut StdRng) -> Option<(&'a String, &'a V)> {
    (!map.is_empty()).then(|| map.iter().nth(rng.random_range(0..map.len())).unwrap())
}

// ---------------------------------------------------------------------------------------------
// One trial's world

struct Trial {
    number: u64,
    rng: StdRng,
    world: World,
    model: Model,
    kills: u32,
    actions: Vec<&'static str>,
}

impl std::ops::Deref for Trial {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl std::ops::DerefMut for Trial {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

/// The kubectl resource name of a kind (`"sqluser"` -> `sqlusers.crdbcloud.io`), from the registry.
fn plural(kind: &str) -> String {
    registry::kinds()
        .iter()
        .find(|k| k.kind().eq_ignore_ascii_case(kind))
        .map(|k| format!("{}.{}", k.plural(), k.crd().spec.group))
        .unwrap_or_else(|| panic!("{kind} is not a registered kind"))
}

impl Trial {
    async fn start(number: u64, seed: u64) -> Self {
        crdb_cloud_operator::install_crypto_provider();
        let config = SimulatorConfig {
            api_keys: vec![TEST_API_KEY.to_string()],
            cluster_create_delay: Duration::from_millis(600),
            operation_delay: Duration::from_millis(300),
            deleted_retention: Duration::from_secs(1),
            rate_limit_per_second: 10,
            ..Default::default()
        };
        let sim = simulator::start(config, "127.0.0.1:0".parse().unwrap()).await.expect("simulator starts");
        let mut trial = Self {
            number,
            rng: StdRng::seed_from_u64(seed),
            world: World::with_simulator(&format!("crash-{number}"), sim).await,
            model: Model::default(),
            kills: 0,
            actions: Vec::new(),
        };
        trial.start_operator();
        trial
    }

    fn start_operator(&mut self) {
        // The same identity after a restart (as a restarted container keeps its pod name), so the
        // new process takes the Lease over at once instead of waiting for it to expire.
        self.world.start_operator(|options| {
            options.pod_name = Some("crash-operator");
        });
    }

    /// SIGKILL after a seeded delay, then a restart after another.
    async fn crash(&mut self) {
        let delay = Duration::from_millis(self.rng.random_range(0..1500));
        let down = Duration::from_millis(self.rng.random_range(0..600));
        tokio::time::sleep(delay).await;
        if let Some(operator) = self.operator.as_mut() {
            operator.kill().await;
        }
        self.operator = None;
        self.kills += 1;
        tokio::time::sleep(down).await;
        self.start_operator();
    }

    async fn merge<K>(&self, name: &str, patch: Value)
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
        <K as kube::Resource>::DynamicType: Default,
    {
        self.api::<K>().patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    }

    fn password(&mut self) -> String {
        (0..20).map(|_| char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"[self.rng.random_range(0..56)])).collect()
    }

    /// One seeded random operation.
    async fn step(&mut self) {
        let roll = self.rng.random_range(0..190);
        if (165..190).contains(&roll) {
            return self.grant_step().await;
        }
        if (135..145).contains(&roll) {
            return self.issuer_step().await;
        }
        if (125..135).contains(&roll) {
            return self.folder_action().await;
        }
        if (100..125).contains(&roll) {
            return self.org_step(roll).await;
        }
        let Some(cluster) = self.model.pick_cluster(&mut self.rng) else {
            return self.add_cluster().await;
        };
        match roll {
            0..=9 if self.model.clusters.len() < 2 => self.add_cluster().await,
            0..=17 => self.update_cluster().await,
            18..=31 => self.add_user(&cluster).await,
            32..=39 => self.rotate_password().await,
            40..=53 => self.add_database(&cluster).await,
            54..=61 => self.rename_database().await,
            62..=75 => self.add_entry(&cluster).await,
            76..=83 => self.toggle_entry().await,
            84..=87 => self.add_rule().await,
            88..=89 => self.change_rule().await,
            90..=95 => self.delete_child().await,
            145..=154 => self.add_connection(&cluster).await,
            155..=164 => self.add_owner(&cluster).await,
            _ => self.delete_cluster().await,
        }
    }

    async fn add_cluster(&mut self) {
        let name = self.model.fresh("cluster-");
        self.apply(&serverless_cluster(&name).replace("  labels:", "  privateEndpoints: {enabled: true}\n  labels:")).await;
        self.model.clusters.insert(name, ClusterModel { tier: None, vcpus: 2 });
        self.actions.push("add-cluster");
    }

    async fn update_cluster(&mut self) {
        let Some(name) = pick(&self.model.clusters, &mut self.rng).map(|(n, _)| n.clone()) else { return };
        let tier = format!("t{}", self.rng.random_range(1..1000));
        let vcpus = if self.rng.random_bool(0.5) { 2 } else { 4 };
        let patch = json!({"spec": {"labels": {"team": "payments", "tier": tier}, "serverless": {"usageLimits": {"provisionedVirtualCpus": vcpus}}}});
        self.merge::<CockroachCluster>(&name, patch).await;
        self.model.clusters.insert(name, ClusterModel { tier: Some(tier), vcpus });
        self.actions.push("update-cluster");
    }

    async fn add_user(&mut self, cluster: &str) {
        let name = self.model.fresh("u");
        let password_secret = if self.rng.random_bool(0.5) {
            let secret_name = format!("{name}-pw");
            let password = self.password();
            let secret: Secret = serde_json::from_value(json!({"metadata": {"name": secret_name}, "stringData": {"password": password}})).unwrap();
            self.api::<Secret>().create(&PostParams::default(), &secret).await.unwrap();
            self.apply(&child("SQLUser", &name, cluster, &format!("  passwordSecretRef:\n    name: {secret_name}\n    key: password\n"))).await;
            Some(secret_name)
        } else {
            self.apply(&child("SQLUser", &name, cluster, "")).await;
            None
        };
        self.model.users.insert(name, UserModel { cluster: cluster.to_string(), password_secret });
        self.actions.push("add-user");
    }

    async fn rotate_password(&mut self) {
        let Some((name, user)) = pick(&self.model.users, &mut self.rng).map(|(n, u)| (n.clone(), u.clone())) else { return };
        // A referenced password changes in its Secret; a generated one is replaced in its Secret.
        let secret = user.password_secret.unwrap_or_else(|| format!("{name}-password"));
        let password = self.password();
        if self.api::<Secret>().get_opt(&secret).await.unwrap().is_none() {
            return; // the generated Secret does not exist yet
        }
        self.merge::<Secret>(&secret, json!({"stringData": {"password": password}})).await;
        self.actions.push("rotate-password");
    }

    async fn add_database(&mut self, cluster: &str) {
        let name = self.model.fresh("d");
        self.apply(&child("Database", &name, cluster, "")).await;
        self.model.databases.insert(name.clone(), DatabaseModel { cluster: cluster.to_string(), sql_name: name });
        self.actions.push("add-database");
    }

    async fn rename_database(&mut self) {
        let Some(name) = pick(&self.model.databases, &mut self.rng).map(|(n, _)| n.clone()) else { return };
        let sql_name = format!("{name}_v{}", self.rng.random_range(1..1000));
        self.merge::<Database>(&name, json!({"spec": {"name": sql_name}})).await;
        self.model.databases.get_mut(&name).unwrap().sql_name = sql_name;
        self.actions.push("rename-database");
    }

    async fn add_entry(&mut self, cluster: &str) {
        let name = self.model.fresh("a");
        let ip = format!("10.{}.{}.0", self.number % 250, self.model.next % 250);
        self.apply(&child("AllowlistEntry", &name, cluster, &format!("  cidr: \"{ip}/24\"\n"))).await;
        self.model.entries.insert(name, EntryModel { cluster: cluster.to_string(), ip, ui: false });
        self.actions.push("add-entry");
    }

    async fn toggle_entry(&mut self) {
        let Some((name, entry)) = pick(&self.model.entries, &mut self.rng).map(|(n, e)| (n.clone(), e.clone())) else { return };
        self.merge::<AllowlistEntry>(&name, json!({"spec": {"ui": !entry.ui}})).await;
        self.model.entries.get_mut(&name).unwrap().ui = !entry.ui;
        self.actions.push("toggle-entry");
    }

    async fn add_rule(&mut self) {
        let cluster = match self.model.egress_cluster.clone() {
            Some(cluster) => cluster,
            None => {
                let cluster = self.model.fresh("ledger-");
                self.apply(&advanced_cluster(&cluster)).await;
                self.model.egress_cluster = Some(cluster.clone());
                cluster
            }
        };
        let name = self.model.fresh("r");
        let cidr = format!("10.{}.{}.0/24", self.number % 250, self.model.next % 250);
        self.apply(&child("EgressRule", &name, &cluster, &format!("  type: CIDR\n  destination: {cidr}\n  ports: [443]\n"))).await;
        self.model.rules.insert(name, RuleModel { ports: vec![443] });
        self.actions.push("add-rule");
    }

    async fn change_rule(&mut self) {
        let Some(name) = pick(&self.model.rules, &mut self.rng).map(|(n, _)| n.clone()) else { return };
        let ports = vec![self.rng.random_range(1000..2000)];
        self.merge::<EgressRule>(&name, json!({"spec": {"ports": ports}})).await;
        self.model.rules.insert(name, RuleModel { ports });
        self.actions.push("change-rule");
    }

    async fn delete_child(&mut self) {
        let mut all: Vec<(&'static str, String)> = Vec::new();
        all.extend(self.model.users.keys().map(|n| ("sqluser", n.clone())));
        all.extend(self.model.databases.keys().map(|n| ("database", n.clone())));
        all.extend(self.model.entries.keys().map(|n| ("allowlistentry", n.clone())));
        all.extend(self.model.connections.keys().map(|n| ("privateendpointconnection", n.clone())));
        all.extend(self.model.owners.keys().map(|n| ("privateendpointtrustedowner", n.clone())));
        all.extend(self.model.rules.keys().map(|n| ("egressrule", n.clone())));
        if all.is_empty() {
            return;
        }
        let (kind, name) = all[self.rng.random_range(0..all.len())].clone();
        kubectl(&["delete", "-n", self.ns(), "--wait=false", &format!("{}/{name}", plural(kind))], None).await.ok();
        self.forget(kind, &name);
        self.actions.push("delete-child");
    }

    /// Adds a folder (while there are fewer than two), renames one, or deletes one.
    async fn folder_action(&mut self) {
        let roll = self.rng.random_range(0..3);
        let picked = pick(&self.model.folders, &mut self.rng).map(|(n, _)| n.clone());
        match (roll, picked) {
            (_, None) | (0, _) if self.model.folders.len() < 2 => {
                let name = self.model.fresh("folder-");
                self.apply(&format!("apiVersion: crdbcloud.io/v1alpha1\nkind: Folder\nmetadata:\n  name: {name}\nspec: {{}}\n")).await;
                self.model.folders.insert(name.clone(), name);
                self.actions.push("add-folder");
            }
            (1, Some(name)) => {
                let cloud_name = format!("{name}-v{}", self.rng.random_range(1..1000));
                self.merge::<Folder>(&name, json!({"spec": {"name": cloud_name}})).await;
                self.model.folders.insert(name, cloud_name);
                self.actions.push("rename-folder");
            }
            (_, Some(name)) => {
                // With the grants held on it, in one `kubectl delete`.
                let grants: Vec<String> = self.model.grants.iter().filter(|(_, g)| g.folder.as_deref() == Some(name.as_str())).map(|(n, _)| n.clone()).collect();
                let doomed: Vec<(&'static str, String)> = std::iter::once(("folder", name)).chain(grants.into_iter().map(|g| ("rolegrant", g))).collect();
                self.delete_all(&doomed).await;
                self.actions.push("delete-folder");
            }
            _ => {}
        }
    }

    /// A JWT issuer added, its audience changed, or deleted (its URL names it: unique per organisation).
    async fn issuer_step(&mut self) {
        let picked = pick(&self.model.issuers, &mut self.rng).map(|(n, _)| n.clone());
        match picked {
            Some(name) if self.rng.random_bool(0.6) => {
                if self.rng.random_bool(0.6) {
                    let audience = format!("aud-{}", self.rng.random_range(1..1000));
                    self.merge::<JWTIssuer>(&name, json!({"spec": {"audience": audience}})).await;
                    self.model.issuers.insert(name, audience);
                    self.actions.push("update-issuer");
                } else {
                    kubectl(&["delete", "-n", self.ns(), "--wait=false", &format!("{}/{name}", plural("jwtissuer"))], None).await.ok();
                    self.forget("jwtissuer", &name);
                    self.actions.push("delete-issuer");
                }
            }
            _ => {
                let name = self.model.fresh("jwt");
                self.apply(&jwt_issuer(&name, &format!("https://{name}.example.com"))).await;
                self.model.issuers.insert(name, "crdb".into());
                self.actions.push("add-issuer");
            }
        }
    }

    /// A connection of a GCP Private Service Connect endpoint (digits), unique in the trial.
    async fn add_connection(&mut self, cluster: &str) {
        let name = self.model.fresh("pec");
        let endpoint = format!("{}{:05}", self.number + 1, self.model.next);
        self.apply(&child("PrivateEndpointConnection", &name, cluster, &format!("  endpointId: \"{endpoint}\"\n"))).await;
        self.model.connections.insert(name, LinkModel { cluster: cluster.to_string(), endpoint });
        self.actions.push("add-connection");
    }

    /// A trusted AWS account, unique in the trial.
    async fn add_owner(&mut self, cluster: &str) {
        let name = self.model.fresh("owner");
        let account = format!("{:012}", (self.number + 1) * 100_000 + u64::from(self.model.next));
        self.apply(&child("PrivateEndpointTrustedOwner", &name, cluster, &format!("  externalOwnerId: \"{account}\"\n"))).await;
        self.model.owners.insert(name, LinkModel { cluster: cluster.to_string(), endpoint: account });
        self.actions.push("add-owner");
    }

    /// Deletes a cluster together with its children, in one `kubectl delete`.
    async fn delete_cluster(&mut self) {
        let Some(name) = self.model.pick_cluster(&mut self.rng) else { return };
        let children = self.model.children_of(&name);
        let mut args = vec!["delete".to_string(), "-n".into(), self.ns().to_string(), "--wait=false".into(), format!("{}/{name}", plural("cockroachcluster"))];
        args.extend(children.iter().map(|(kind, n)| format!("{}/{n}", plural(kind))));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kubectl(&args, None).await.ok();
        for (kind, n) in children {
            self.forget(kind, &n);
        }
        self.model.clusters.remove(&name);
        self.model.deleted.push(("cockroachcluster", name));
        self.actions.push("delete-cluster");
    }

    /// A seeded operation on the organisation-level kinds: service accounts and their API keys.
    async fn org_step(&mut self, roll: u32) {
        let account = pick(&self.model.accounts, &mut self.rng).map(|(n, _)| n.clone());
        match (roll, account) {
            (_, None) | (100..=104, _) => {
                let name = self.model.fresh("sa-");
                self.apply(&org_level("ServiceAccount", &name, "  description: first\n")).await;
                self.model.accounts.insert(name, "first".into());
                self.actions.push("add-service-account");
            }
            (105..=108, Some(account)) => {
                let description = format!("d{}", self.rng.random_range(1..1000));
                self.merge::<ServiceAccount>(&account, json!({"spec": {"description": description}})).await;
                self.model.accounts.insert(account, description);
                self.actions.push("describe-service-account");
            }
            (109..=119, Some(account)) if roll <= 113 || self.model.keys.is_empty() => {
                let name = self.model.fresh("key-");
                self.apply(&org_level("APIKey", &name, &format!("  serviceAccountRef: {{name: {account}}}\n  rotationGracePeriodSeconds: 1\n"))).await;
                self.model.keys.insert(name, account);
                self.actions.push("add-api-key");
            }
            (114..=119, _) => {
                let Some(key) = pick(&self.model.keys, &mut self.rng).map(|(n, _)| n.clone()) else { return };
                let generation = self.rng.random_range(1..1_000_000);
                self.merge::<APIKey>(&key, json!({"spec": {"rotationGeneration": generation}})).await;
                self.actions.push("rotate-api-key");
            }
            (_, Some(account)) => {
                // A key alone, or an account with its keys and grants in one `kubectl delete`.
                let key = pick(&self.model.keys, &mut self.rng).map(|(n, _)| n.clone()).filter(|_| self.rng.random_bool(0.5));
                let doomed: Vec<(&'static str, String)> = match key {
                    Some(key) => vec![("apikey", key)],
                    None => std::iter::once(("serviceaccount", account.clone()))
                        .chain(self.model.keys.iter().filter(|(_, a)| **a == account).map(|(k, _)| ("apikey", k.clone())))
                        .chain(self.model.grants.iter().filter(|(_, g)| g.account == account).map(|(n, _)| ("rolegrant", n.clone())))
                        .collect(),
                };
                self.delete_all(&doomed).await;
                self.actions.push("delete-org-object");
            }
        }
    }

    /// Deletes resources of several kinds in one `kubectl delete` and forgets them.
    async fn delete_all(&mut self, doomed: &[(&'static str, String)]) {
        let mut args = vec!["delete".to_string(), "-n".into(), self.ns().to_string(), "--wait=false".into()];
        args.extend(doomed.iter().map(|(kind, n)| format!("{}/{n}", plural(kind))));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kubectl(&args, None).await.ok();
        for (kind, n) in doomed {
            self.forget(kind, n);
        }
    }

    /// A role granted to a service account of the mix, on one of its folders or on the
    /// organisation; or a grant deleted (revoked).
    async fn grant_step(&mut self) {
        let picked = pick(&self.model.grants, &mut self.rng).map(|(n, _)| n.clone());
        if let Some(name) = picked.filter(|_| self.rng.random_bool(0.4)) {
            kubectl(&["delete", "-n", self.ns(), "--wait=false", &format!("{}/{name}", plural("rolegrant"))], None).await.ok();
            self.forget("rolegrant", &name);
            self.actions.push("delete-grant");
            return;
        }
        if self.model.accounts.is_empty() {
            // A grant needs an account: declared together, the grant waits for it.
            self.org_step(100).await;
        }
        let Some(account) = pick(&self.model.accounts, &mut self.rng).map(|(n, _)| n.clone()) else { return };
        let folder = pick(&self.model.folders, &mut self.rng).map(|(n, _)| n.clone()).filter(|_| self.rng.random_bool(0.6));
        let roles: &[&'static str] = match folder {
            Some(_) => &["CLUSTER_ADMIN", "CLUSTER_CREATOR", "FOLDER_ADMIN", "CLUSTER_DEVELOPER"],
            None => &["CLUSTER_ADMIN", "CLUSTER_CREATOR", "METRICS_VIEWER", "ORG_MEMBER"],
        };
        let grant = GrantModel { account, role: roles[self.rng.random_range(0..roles.len())], folder };
        if self.model.grants.values().any(|g| *g == grant) {
            return;
        }
        let name = self.model.fresh("grant-");
        let scope = grant.folder.as_ref().map_or_else(|| "{organization: true}".to_string(), |f| format!("{{folderRef: {{name: {f}}}}}"));
        self.apply(&org_level("RoleGrant", &name, &format!("  serviceAccountRef: {{name: {}}}\n  role: {}\n  scope: {scope}\n", grant.account, grant.role))).await;
        self.model.grants.insert(name, grant);
        self.actions.push("add-grant");
    }

    fn forget(&mut self, kind: &'static str, name: &str) {
        match kind {
            "rolegrant" => {
                self.model.grants.remove(name);
            }
            "serviceaccount" => {
                self.model.accounts.remove(name);
            }
            "apikey" => {
                self.model.keys.remove(name);
            }
            "sqluser" => {
                self.model.users.remove(name);
            }
            "database" => {
                self.model.databases.remove(name);
            }
            "egressrule" => {
                self.model.rules.remove(name);
            }
            "folder" => {
                self.model.folders.remove(name);
            }
            "jwtissuer" => {
                self.model.issuers.remove(name);
            }
            "privateendpointconnection" => {
                self.model.connections.remove(name);
            }
            "privateendpointtrustedowner" => {
                self.model.owners.remove(name);
            }
            _ => {
                self.model.entries.remove(name);
            }
        }
        self.model.deleted.push((kind, name.to_string()));
    }

    // -----------------------------------------------------------------------------------------
    // Checks

    /// Resources of the model that are not Ready at their generation, and deleted ones still present.
    async fn unsettled(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let ready = |obj: Option<&Value>| obj.is_some_and(is_ready);
        let lists = [
            ("cockroachcluster", serde_json::to_value(self.api::<CockroachCluster>().list(&Default::default()).await.unwrap().items).unwrap()),
            ("sqluser", serde_json::to_value(self.api::<SQLUser>().list(&Default::default()).await.unwrap().items).unwrap()),
            ("database", serde_json::to_value(self.api::<Database>().list(&Default::default()).await.unwrap().items).unwrap()),
            ("allowlistentry", serde_json::to_value(self.api::<AllowlistEntry>().list(&Default::default()).await.unwrap().items).unwrap()),
            ("egressrule", serde_json::to_value(self.api::<EgressRule>().list(&Default::default()).await.unwrap().items).unwrap()),
            ("serviceaccount", serde_json::to_value(self.api::<ServiceAccount>().list(&Default::default()).await.unwrap().items).unwrap()),
            ("folder", serde_json::to_value(self.api::<Folder>().list(&Default::default()).await.unwrap().items).unwrap()),
            ("jwtissuer", serde_json::to_value(self.api::<JWTIssuer>().list(&Default::default()).await.unwrap().items).unwrap()),
            ("privateendpointconnection", serde_json::to_value(self.api::<PrivateEndpointConnection>().list(&Default::default()).await.unwrap().items).unwrap()),
            ("privateendpointtrustedowner", serde_json::to_value(self.api::<PrivateEndpointTrustedOwner>().list(&Default::default()).await.unwrap().items).unwrap()),
            ("apikey", serde_json::to_value(self.api::<APIKey>().list(&Default::default()).await.unwrap().items).unwrap()),
            ("rolegrant", serde_json::to_value(self.api::<RoleGrant>().list(&Default::default()).await.unwrap().items).unwrap()),
        ];
        let find = |kind: &str, name: &str| -> Option<Value> {
            lists.iter().find(|(k, _)| *k == kind)?.1.as_array()?.iter().find(|o| o["metadata"]["name"] == name).cloned()
        };
        let expected: Vec<(&str, &String)> = self
            .model
            .clusters
            .keys()
            .map(|n| ("cockroachcluster", n))
            .chain(self.model.users.keys().map(|n| ("sqluser", n)))
            .chain(self.model.databases.keys().map(|n| ("database", n)))
            .chain(self.model.entries.keys().map(|n| ("allowlistentry", n)))
            .chain(self.model.egress_cluster.iter().map(|n| ("cockroachcluster", n)))
            .chain(self.model.rules.keys().map(|n| ("egressrule", n)))
            .chain(self.model.accounts.keys().map(|n| ("serviceaccount", n)))
            .chain(self.model.folders.keys().map(|n| ("folder", n)))
            .chain(self.model.issuers.keys().map(|n| ("jwtissuer", n)))
            .chain(self.model.connections.keys().map(|n| ("privateendpointconnection", n)))
            .chain(self.model.owners.keys().map(|n| ("privateendpointtrustedowner", n)))
            .chain(self.model.keys.keys().map(|n| ("apikey", n)))
            .chain(self.model.grants.keys().map(|n| ("rolegrant", n)))
            .collect();
        for (kind, name) in expected {
            let obj = find(kind, name);
            // A rotated key is settled once the previous one is deleted.
            let retiring = obj.as_ref().is_some_and(|o| o["status"]["retiring"].as_array().is_some_and(|r| !r.is_empty()));
            if retiring {
                problems.push(format!("{kind}/{name} still retires a previous key"));
            }
            if !ready(obj.as_ref()) {
                let why = obj.map(|o| format!("{:?}", condition(&o, "Ready"))).unwrap_or_else(|| "absent".into());
                problems.push(format!("{kind}/{name} not Ready: {why}"));
            }
        }
        for (kind, name) in &self.model.deleted {
            if find(kind, name).is_some() {
                problems.push(format!("{kind}/{name} still present after its deletion"));
            }
        }
        problems
    }

    /// Polls until nothing is unsettled; returns what is still unsettled at the timeout.
    async fn settle(&self, timeout: Duration) -> Result<Duration, Vec<String>> {
        let started = Instant::now();
        loop {
            let problems = self.unsettled().await;
            if problems.is_empty() {
                return Ok(started.elapsed());
            }
            if started.elapsed() > timeout {
                return Err(problems);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn secret_password(&self, name: &str) -> Option<String> {
        let secret = self.api::<Secret>().get_opt(name).await.unwrap()?;
        String::from_utf8(secret.data?.get("password")?.0.clone()).ok()
    }

    /// Duplicates, orphans and mismatches between the cloud and the model (counts, and messages).
    async fn audit(&self) -> Audit {
        let mut audit = Audit::default();
        let live: Vec<ClusterDump> = self.admin.clusters().await.into_iter().filter(|c| !c.is_deleted()).collect();
        let mut by_name: BTreeMap<String, Vec<&ClusterDump>> = BTreeMap::new();
        for record in &live {
            by_name.entry(record.cluster.name.clone()).or_default().push(record);
        }
        for (name, records) in &by_name {
            if records.len() > 1 {
                audit.duplicates += records.len() - 1;
                audit.problems.push(format!("{} live clusters named {name}", records.len()));
            }
            if !self.model.clusters.contains_key(name) && self.model.egress_cluster.as_ref() != Some(name) {
                audit.orphans += records.len();
                audit.problems.push(format!("orphan cloud cluster {name} ({})", records[0].cluster.id));
            }
        }
        self.audit_org(&mut audit).await;
        self.audit_folders(&mut audit).await;
        self.audit_issuers(&mut audit).await;
        self.audit_grants(&mut audit).await;
        let clusters = self.api::<CockroachCluster>();
        for (name, expected) in &self.model.clusters {
            let Some(records) = by_name.get(name) else {
                audit.problems.push(format!("cluster {name} missing in the cloud"));
                continue;
            };
            let record = records[0];
            let cr = clusters.get(name).await.unwrap();
            let status_id = cr.status.as_ref().and_then(|s| s.cluster_id.clone());
            if status_id.as_deref() != Some(record.cluster.id.as_str()) {
                audit.problems.push(format!("cluster {name}: status names {status_id:?}, the cloud holds {}", record.cluster.id));
            }
            if record.label("crdb-operator-uid") != cr.metadata.uid.as_deref() {
                audit.problems.push(format!("cluster {name} is not tagged with its resource's UID"));
            }
            let tier = record.label("tier").map(str::to_string);
            if tier != expected.tier {
                audit.problems.push(format!("cluster {name}: tier {tier:?}, spec {:?}", expected.tier));
            }
            let limits = record.cluster.config.serverless.as_ref().and_then(|s| s.usage_limits.as_ref());
            let vcpus = limits.and_then(|l| l.provisioned_virtual_cpus).map(|v| v.to_string()).unwrap_or_default();
            if vcpus != expected.vcpus.to_string() {
                audit.problems.push(format!("cluster {name}: {vcpus} vCPUs, spec {}", expected.vcpus));
            }

            // Children: exactly the model's, nothing else (but the cloud's own defaults).
            let cloud_users: BTreeSet<String> = record.sql_user_names().into_iter().collect();
            let want_users: BTreeSet<String> = self.model.users.iter().filter(|(_, u)| &u.cluster == name).map(|(n, _)| n.clone()).collect();
            let cloud_dbs: BTreeSet<String> = record.database_names().into_iter().filter(|d| d != "defaultdb").collect();
            let want_dbs: BTreeSet<String> = self.model.databases.values().filter(|d| &d.cluster == name).map(|d| d.sql_name.clone()).collect();
            let cloud_entries: BTreeMap<String, bool> =
                record.allowlist.iter().filter(|e| e.cidr_ip != "0.0.0.0").map(|e| (e.cidr_ip.clone(), e.ui)).collect();
            let want_entries: BTreeMap<String, bool> = self.model.entries.values().filter(|e| &e.cluster == name).map(|e| (e.ip.clone(), e.ui)).collect();
            // Private endpoints are not in the state dump: read through the API.
            let cloud_api = self.admin.cloud();
            let id = &record.cluster.id;
            let cloud_connections: BTreeSet<String> = cloud_api.list_private_endpoint_connections(id).await.map(|l| l.items.into_iter().map(|c| c.endpoint_id).collect()).unwrap_or_default();
            let want_connections: BTreeSet<String> = self.model.connections.values().filter(|c| &c.cluster == name).map(|c| c.endpoint.clone()).collect();
            let cloud_owners: BTreeSet<String> = cloud_api.list_private_endpoint_trusted_owners(id).await.map(|l| l.items.into_iter().map(|o| o.external_owner_id).collect()).unwrap_or_default();
            let want_owners: BTreeSet<String> = self.model.owners.values().filter(|o| &o.cluster == name).map(|o| o.endpoint.clone()).collect();
            for (what, cloud, want) in [
                ("private endpoint connection", cloud_connections, want_connections),
                ("trusted owner", cloud_owners, want_owners),
                ("SQL user", cloud_users.clone(), want_users.clone()),
                ("database", cloud_dbs, want_dbs),
                ("allowlist entry", cloud_entries.keys().cloned().collect(), want_entries.keys().cloned().collect()),
            ] {
                for extra in cloud.difference(&want) {
                    audit.orphans += 1;
                    audit.problems.push(format!("orphan {what} {extra} on cluster {name}"));
                }
                for missing in want.difference(&cloud) {
                    audit.problems.push(format!("{what} {missing} missing on cluster {name}"));
                }
            }
            for (ip, ui) in &want_entries {
                if cloud_entries.get(ip).is_some_and(|cloud_ui| cloud_ui != ui) {
                    audit.problems.push(format!("allowlist entry {ip} on {name}: ui differs from the spec"));
                }
            }
            for user in want_users.intersection(&cloud_users) {
                let model = &self.model.users[user];
                let secret = model.password_secret.clone().unwrap_or_else(|| format!("{user}-password"));
                let expected = self.secret_password(&secret).await;
                let cloud = record.sql_users.iter().find(|u| &u.name == user).map(|u| u.password.clone());
                if cloud != expected || expected.is_none() {
                    audit.problems.push(format!("SQL user {user}: the cloud password is not the one in Secret {secret}"));
                }
            }
        }
        self.audit_rules(&mut audit).await;
        audit
    }

    /// The egress rules: one per resource (named after it), none else, with the spec's ports.
    async fn audit_rules(&self, audit: &mut Audit) {
        let Some(cluster) = &self.model.egress_cluster else { return };
        let Some(id) = self.api::<CockroachCluster>().get(cluster).await.unwrap().status.and_then(|s| s.cluster_id) else {
            audit.problems.push(format!("egress cluster {cluster} has no cloud id"));
            return;
        };
        let rules = match self.admin.cloud().list_egress_rules(&id).await {
            Ok(listing) => listing.items,
            Err(e) => return audit.problems.push(format!("listing the egress rules of {cluster}: {e}")),
        };
        let mut by_name: BTreeMap<&str, Vec<&crdb_cloud::models::EgressRule>> = BTreeMap::new();
        for rule in &rules {
            by_name.entry(rule.name.as_str()).or_default().push(rule);
        }
        for (name, found) in &by_name {
            if found.len() > 1 {
                audit.duplicates += found.len() - 1;
                audit.problems.push(format!("{} egress rules named {name}", found.len()));
            }
            match self.model.rules.get(*name) {
                None => {
                    audit.orphans += found.len();
                    audit.problems.push(format!("orphan egress rule {name} on {cluster}"));
                }
                Some(model) if found.iter().any(|r| r.ports != model.ports) => {
                    audit.problems.push(format!("egress rule {name}: ports {:?}, spec {:?}", found[0].ports, model.ports));
                }
                Some(_) => {}
            }
        }
        for name in self.model.rules.keys().filter(|n| !by_name.contains_key(n.as_str())) {
            audit.problems.push(format!("egress rule {name} missing on {cluster}"));
        }
    }

    /// Folders: one per resource, named as its spec says, tagged with its UID; no others.
    async fn audit_folders(&self, audit: &mut Audit) {
        let cloud = self.admin.cloud().list_folders().await.unwrap().items;
        let folders = self.api::<Folder>();
        let mut accounted = BTreeSet::new();
        for (name, cloud_name) in &self.model.folders {
            let cr = folders.get(name).await.unwrap();
            let owned: Vec<_> = cloud.iter().filter(|f| f.labels.get("crdb-operator-uid").map(String::as_str) == cr.metadata.uid.as_deref()).collect();
            if owned.len() > 1 {
                audit.duplicates += owned.len() - 1;
                audit.problems.push(format!("{} cloud folders for Folder {name}", owned.len()));
            }
            let Some(folder) = owned.first() else {
                audit.problems.push(format!("folder {name} missing in the cloud"));
                continue;
            };
            accounted.extend(owned.iter().map(|f| f.resource_id.clone()));
            if &folder.name != cloud_name {
                audit.problems.push(format!("folder {name}: named {:?} in the cloud, spec {cloud_name:?}", folder.name));
            }
            if cr.status.as_ref().and_then(|s| s.folder_id.as_deref()) != Some(folder.resource_id.as_str()) {
                audit.problems.push(format!("folder {name}: status does not name cloud folder {}", folder.resource_id));
            }
        }
        for orphan in cloud.iter().filter(|f| !accounted.contains(&f.resource_id)) {
            audit.orphans += 1;
            audit.problems.push(format!("orphan cloud folder {} ({})", orphan.name, orphan.resource_id));
        }
    }

    /// Service accounts and API keys: one cloud object per resource (names are unique in the
    /// model), none of a deleted resource, descriptions as specified, each key's Secret holding it.
    async fn audit_org(&self, audit: &mut Audit) {
        let cloud = self.admin.cloud();
        let mut accounts: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for account in cloud.list_service_accounts().await.unwrap().items {
            accounts.entry(account.name.clone()).or_default().push(account.description);
        }
        let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for key in cloud.list_api_keys(None).await.unwrap().items {
            keys.entry(key.name.clone()).or_default().push(key.id);
        }
        for (what, cloud_names, model_names) in [
            ("service account", accounts.iter().map(|(n, v)| (n.clone(), v.len())).collect::<Vec<_>>(), self.model.accounts.keys().cloned().collect::<BTreeSet<_>>()),
            ("API key", keys.iter().map(|(n, v)| (n.clone(), v.len())).collect(), self.model.keys.keys().cloned().collect()),
        ] {
            for (name, count) in &cloud_names {
                let count = *count;
                if count > 1 {
                    audit.duplicates += count - 1;
                    audit.problems.push(format!("{count} cloud {what}s named {name}"));
                }
                if !model_names.contains(name) {
                    audit.orphans += count;
                    audit.problems.push(format!("orphan cloud {what} {name}"));
                }
            }
            for name in &model_names {
                if !cloud_names.iter().any(|(n, _)| n == name) {
                    audit.problems.push(format!("{what} {name} missing in the cloud"));
                }
            }
        }
        for (name, description) in &self.model.accounts {
            if accounts.get(name).is_some_and(|d| d.iter().any(|d| d != description)) {
                audit.problems.push(format!("service account {name}: description differs from the spec"));
            }
        }
        for (name, ids) in &keys {
            if !self.model.keys.contains_key(name) {
                continue;
            }
            let held = self.api::<Secret>().get_opt(&format!("{name}-api-key")).await.unwrap().and_then(|s| s.data?.get("apiKey").map(|b| String::from_utf8(b.0.clone()).unwrap()));
            if !held.is_some_and(|value| ids.iter().any(|id| value.starts_with(&format!("{id}_")))) {
                audit.problems.push(format!("API key {name}: its Secret does not hold the cloud key"));
            }
        }
    }
}

impl Trial {
    /// JWT issuers: one per URL, exactly the model's, each with its spec's audience and recorded
    /// in its resource's status.
    async fn audit_issuers(&self, audit: &mut Audit) {
        let held = self.admin.cloud().list_jwt_issuers().await.unwrap().items;
        let mut by_url: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for issuer in &held {
            by_url.entry(issuer.issuer_url.clone()).or_default().push(issuer);
        }
        let url_of = |name: &str| format!("https://{name}.example.com");
        for (url, issuers) in &by_url {
            if issuers.len() > 1 {
                audit.duplicates += issuers.len() - 1;
                audit.problems.push(format!("{} JWT issuers with URL {url}", issuers.len()));
            }
            if !self.model.issuers.keys().any(|n| &url_of(n) == url) {
                audit.orphans += issuers.len();
                audit.problems.push(format!("orphan JWT issuer {url} ({})", issuers[0].id));
            }
        }
        for (name, audience) in &self.model.issuers {
            let Some(issuer) = by_url.get(&url_of(name)).map(|i| i[0]) else {
                audit.problems.push(format!("JWT issuer {name} missing in the cloud"));
                continue;
            };
            if &issuer.audience != audience {
                audit.problems.push(format!("JWT issuer {name}: audience {:?}, spec {audience:?}", issuer.audience));
            }
            let cr = self.api::<JWTIssuer>().get(name).await.unwrap();
            let recorded = cr.status.as_ref().and_then(|s| s.jwt_issuer_id.clone());
            if recorded.as_deref() != Some(issuer.id.as_str()) {
                audit.problems.push(format!("JWT issuer {name}: status names {recorded:?}, the cloud holds {}", issuer.id));
            }
        }
    }
}

impl Trial {
    /// Role grants: every role a service account of the cloud holds is one of the model's grants
    /// (none twice, none of a deleted grant), every grant of the model is held, and each resource
    /// records its account as the principal.
    async fn audit_grants(&self, audit: &mut Audit) {
        let cloud = self.admin.cloud();
        let organization = cloud.get_organization().await.unwrap().id;
        let folder_ids: BTreeMap<String, String> = self
            .api::<Folder>()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|f| Some((f.metadata.name.clone()?, f.status?.folder_id?)))
            .collect();
        // The model's grants as the cloud names them: (account name, TYPE/ID/ROLE) -> resource.
        let mut wanted: BTreeMap<(String, String), String> = BTreeMap::new();
        for (name, grant) in &self.model.grants {
            let resource = match &grant.folder {
                Some(folder) => format!("FOLDER/{}", folder_ids.get(folder).map_or("?", String::as_str)),
                None => format!("ORGANIZATION/{organization}"),
            };
            wanted.insert((grant.account.clone(), format!("{resource}/{}", grant.role)), name.clone());
        }
        let mut held = BTreeSet::new();
        for account in cloud.list_service_accounts().await.unwrap().items {
            let roles = cloud.get_roles_for_user(&account.id).await.map(|r| r.roles).unwrap_or_default();
            let mut seen = BTreeSet::new();
            for role in roles {
                let key = (account.name.clone(), role.key());
                if !seen.insert(key.clone()) {
                    audit.duplicates += 1;
                    audit.problems.push(format!("service account {} holds {} twice", account.name, key.1));
                    continue;
                }
                match wanted.get(&key) {
                    Some(name) => {
                        held.insert(name.clone());
                        let cr = self.api::<RoleGrant>().get(name).await.unwrap();
                        let principal = cr.status.as_ref().and_then(|s| s.principal_id.clone());
                        if principal.as_deref() != Some(account.id.as_str()) {
                            audit.problems.push(format!("role grant {name}: status names principal {principal:?}, the cloud account is {}", account.id));
                        }
                    }
                    None => {
                        audit.orphans += 1;
                        audit.problems.push(format!("orphan role: service account {} holds {}", account.name, key.1));
                    }
                }
            }
        }
        for name in self.model.grants.keys().filter(|n| !held.contains(*n)) {
            audit.problems.push(format!("role grant {name} missing in the cloud"));
        }
    }
}

#[derive(Debug, Default)]
struct Audit {
    duplicates: usize,
    orphans: usize,
    problems: Vec<String>,
}

/// What one trial found.
#[derive(Debug, Default)]
struct Outcome {
    kills: u32,
    actions: usize,
    duplicates: usize,
    orphans: usize,
    stuck: usize,
    problems: Vec<String>,
}

async fn run_trial(number: u64, seed: u64) -> Outcome {
    let started = Instant::now();
    let mut trial = Trial::start(number, seed).await;
    let steps = trial.rng.random_range(7..=11);
    for _ in 0..steps {
        trial.step().await;
        if trial.rng.random_bool(0.5) {
            trial.crash().await;
        } else {
            let pause = Duration::from_millis(trial.rng.random_range(0..800));
            tokio::time::sleep(pause).await;
        }
    }
    let mut outcome = Outcome::default();
    let operations_done = started.elapsed();

    // The operator now runs undisturbed: everything must converge.
    let settled = trial.settle(CONVERGE_TIMEOUT).await;
    let converge_time = match &settled {
        Ok(d) => *d,
        Err(problems) => {
            outcome.stuck += problems.len();
            outcome.problems.extend(problems.iter().map(|p| format!("stuck: {p}")));
            CONVERGE_TIMEOUT
        }
    };
    // The cloud, settled: nothing duplicated, nothing orphaned, everything as specified. (A
    // deleted cluster can take a moment to disappear; the audit is repeated briefly.)
    let mut audit = trial.audit().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !audit.problems.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        audit = trial.audit().await;
    }
    outcome.duplicates += audit.duplicates;
    outcome.orphans += audit.orphans;
    outcome.problems.extend(audit.problems);

    // Control: the audit does find an orphan (a SQL user made behind the operator's back).
    if outcome.problems.is_empty()
        && let Some(name) = trial.model.clusters.keys().next().cloned()
    {
        let id = trial.api::<CockroachCluster>().get(&name).await.unwrap().status.unwrap().cluster_id.unwrap();
        trial.admin.cloud().create_sql_user(&id, "intruder", "Intruder-pass-123").await.unwrap();
        let control = trial.audit().await;
        if control.orphans != 1 || !control.problems.iter().any(|p| p.contains("intruder")) {
            outcome.problems.push(format!("the audit missed an orphan SQL user: {control:?}"));
        }
        trial.admin.cloud().delete_sql_user(&id, "intruder").await.unwrap();
    }
    // ... and a role granted behind the operator's back (no grant of the mix is BILLING_VIEWER).
    if outcome.problems.is_empty()
        && let Some(account) = trial.admin.cloud().list_service_accounts().await.unwrap().items.into_iter().next()
    {
        let cloud = trial.admin.cloud();
        let organization = cloud.get_organization().await.unwrap().id;
        let role = BuiltInRole { name: OrganizationUserRole::BillingViewer, resource: RoleResource { resource_type: ResourceType::Organization, id: Some(organization) } };
        cloud.add_user_to_role(&account.id, &role).await.unwrap();
        let control = trial.audit().await;
        if control.orphans != 1 || !control.problems.iter().any(|p| p.contains("BILLING_VIEWER")) {
            outcome.problems.push(format!("the audit missed an orphan role: {control:?}"));
        }
        cloud.remove_user_from_role(&account.id, &role).await.unwrap();
    }

    // Teardown, with one more crash for half of the seeds: everything goes, in the cloud too.
    let clusters_left = trial.model.clusters.len();
    let teardown_started = Instant::now();
    kubectl(&["delete", "crdbcloud", "--all", "-n", trial.ns(), "--wait=false"], None).await.ok();
    let names: Vec<String> = trial.model.clusters.keys().cloned().collect();
    for name in names {
        let children = trial.model.children_of(&name);
        for (kind, n) in children {
            trial.forget(kind, &n);
        }
        trial.model.clusters.remove(&name);
        trial.model.deleted.push(("cockroachcluster", name));
    }
    for name in trial.model.rules.keys().cloned().collect::<Vec<_>>() {
        trial.forget("egressrule", &name);
    }
    if let Some(name) = trial.model.egress_cluster.take() {
        trial.model.deleted.push(("cockroachcluster", name));
    }
    for name in trial.model.issuers.keys().cloned().collect::<Vec<_>>() {
        trial.forget("jwtissuer", &name);
    }
    let folders: Vec<String> = trial.model.folders.keys().cloned().collect();
    for name in folders {
        trial.forget("folder", &name);
    }
    let org: Vec<(&'static str, String)> = trial
        .model
        .accounts
        .keys()
        .map(|n| ("serviceaccount", n.clone()))
        .chain(trial.model.keys.keys().map(|n| ("apikey", n.clone())))
        .chain(trial.model.grants.keys().map(|n| ("rolegrant", n.clone())))
        .collect();
    for (kind, n) in org {
        trial.forget(kind, &n);
    }
    if trial.rng.random_bool(0.5) {
        trial.crash().await;
    }
    if let Err(problems) = trial.settle(DELETE_TIMEOUT).await {
        outcome.stuck += problems.len();
        outcome.problems.extend(problems.iter().map(|p| format!("stuck in deletion: {p}")));
    }
    let teardown = teardown_started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left: Vec<ClusterDump>;
    loop {
        left = trial.admin.clusters().await.into_iter().filter(|c| !c.is_deleted()).collect();
        if left.is_empty() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    outcome.orphans += left.len();
    outcome.problems.extend(left.iter().map(|c| format!("orphan after deletion: cluster {}", c.cluster.name)));
    let issuers_left = trial.admin.cloud().list_jwt_issuers().await.map(|l| l.items).unwrap_or_default();
    outcome.orphans += issuers_left.len();
    outcome.problems.extend(issuers_left.iter().map(|i| format!("orphan after deletion: JWT issuer {}", i.issuer_url)));
    let folders_left = trial.admin.cloud().list_folders().await.unwrap().items;
    outcome.orphans += folders_left.len();
    outcome.problems.extend(folders_left.iter().map(|f| format!("orphan after deletion: folder {}", f.name)));
    let accounts_left = trial.admin.cloud().list_service_accounts().await.unwrap().items;
    let keys_left = trial.admin.cloud().list_api_keys(None).await.unwrap().items;
    outcome.orphans += accounts_left.len() + keys_left.len();
    outcome.problems.extend(accounts_left.iter().map(|a| format!("orphan after deletion: service account {}", a.name)));
    outcome.problems.extend(keys_left.iter().map(|k| format!("orphan after deletion: API key {}", k.name)));
    let operator_panicked = trial.operator.as_ref().is_some_and(|o| o.logs().contains("panicked"));
    if operator_panicked {
        outcome.problems.push("the operator panicked".into());
    }
    let creates = trial.admin.count(Operation::CreateCluster).await;

    outcome.kills = trial.kills;
    outcome.actions = trial.actions.len();
    println!(
        "crash trial {number:2} seed {seed:#018x}: {} actions [{}], {} kills; {} clusters at the end, {creates} cluster creates; operations {:.1} s, converged in {:.1} s, torn down in {:.1} s; duplicates {}, orphans {}, stuck {}{}",
        trial.actions.len(),
        trial.actions.join(" "),
        trial.kills,
        clusters_left,
        operations_done.as_secs_f64(),
        converge_time.as_secs_f64(),
        teardown.as_secs_f64(),
        outcome.duplicates,
        outcome.orphans,
        outcome.stuck,
        if outcome.problems.is_empty() { String::new() } else { format!("\n    {}", outcome.problems.join("\n    ")) }
    );
    if let Some(mut operator) = trial.operator.take() {
        operator.kill().await;
    }
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seeded_crashes_leave_no_duplicate_no_orphan_and_nothing_stuck() {
    install_crds().await;
    let base = base_seed();
    println!("crash consistency: base seed {base} (set CRDB_CRASH_SEED to replay), {} trials in {LANES} lanes", LANES * TRIALS_PER_LANE);
    let started = Instant::now();
    let lanes = (0..LANES).map(|lane| {
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for round in 0..TRIALS_PER_LANE {
                let number = round * LANES + lane;
                outcomes.push((number, run_trial(number, trial_seed(base, number)).await));
            }
            outcomes
        })
    });
    let mut outcomes: Vec<(u64, Outcome)> = Vec::new();
    for lane in futures::future::join_all(lanes).await {
        outcomes.extend(lane.expect("a trial lane panicked"));
    }
    outcomes.sort_by_key(|(n, _)| *n);
    let total = |f: fn(&Outcome) -> usize| outcomes.iter().map(|(_, o)| f(o)).sum::<usize>();
    let failed: Vec<u64> = outcomes.iter().filter(|(_, o)| !o.problems.is_empty()).map(|(n, _)| *n).collect();
    println!(
        "crash consistency: {} trials, {} actions, {} SIGKILLs in {:.0} s; duplicates {}, orphans {}, stuck {}; failed trials {failed:?}",
        outcomes.len(),
        total(|o| o.actions),
        total(|o| o.kills as usize),
        started.elapsed().as_secs_f64(),
        total(|o| o.duplicates),
        total(|o| o.orphans),
        total(|o| o.stuck),
    );
    assert_eq!(outcomes.len(), (LANES * TRIALS_PER_LANE) as usize);
    assert!(total(|o| o.kills as usize) >= 60, "too few crashes to mean anything");
    for (number, outcome) in &outcomes {
        assert!(
            outcome.problems.is_empty(),
            "trial {number} (seed {:#018x}, base seed {base}) found:\n{}",
            trial_seed(base, *number),
            outcome.problems.join("\n")
        );
    }
}
