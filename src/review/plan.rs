//! `crdb-cloud-operator plan`: what applying manifests would make the operator do to the cloud,
//! read-only.
//!
//! Each manifest is matched with its live resource when a Kubernetes cluster is reachable (for
//! the cloud IDs its status records), its cloud object is found as the controllers find it
//! (recorded ID, adoption field, ownership marker, natural key) and compared with the same
//! `spec_of` and [`differences`](crate::controller::observe::differences) that observe-only
//! uses. The apiserver validates each manifest with a server-side dry run (nothing is stored),
//! so the CEL rules a `kubectl apply` would meet, immutable fields included, are reported too.
//! Nothing is ever written: the cloud sees only GETs, and lists are read once per kind and owner,
//! shared by every resource that needs them.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde::Serialize;

use super::manifests::Manifest;
use crate::api::CredentialsRef;
use crate::api::common::DriftEntry;
use crate::cloud::{ApiKey, CloudClient, CloudClients, CloudError};
use crate::controller::context::{Context, DefaultCredentials, Economies, Timing};
use crate::controller::trust::OrgNamespaces;
use crate::metrics::Metrics;

/// What applying a resource would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The cloud object matches the manifest (or is only observed and matches).
    NoChange,
    /// A cloud object would be created.
    Create,
    /// An existing cloud object would be taken over (adoption field, or found by its natural key).
    Adopt,
    /// The cloud object would be updated in place (see the changes).
    Update,
    /// `managementPolicy: Observe`: the differences would be reported, nothing written.
    Observe,
    /// A live resource absent from the manifests (with `--prune`): its cloud object would be deleted.
    Delete,
    /// A live resource absent from the manifests (with `--prune`) whose cloud object would be kept.
    Release,
    /// The change is to a field that cannot change: the apiserver refuses it; the resource must be
    /// replaced (deleted and created again) to get it.
    ReplaceImpossible,
    /// The apiserver (CEL, schema) or the operator would refuse the manifest.
    Refused,
    /// The cloud could not be read for it (credentials, network).
    Error,
}

impl Action {
    /// Whether applying changes anything in the cloud.
    pub fn changes_cloud(self) -> bool {
        matches!(self, Self::Create | Self::Adopt | Self::Update | Self::Delete)
    }
}

/// One field before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    /// As the cloud holds it (JSON); absent when the cloud has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// As the manifest wants it (JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// What would change, for a difference not shown value by value (a setting block).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
}

impl From<DriftEntry> for FieldChange {
    fn from(d: DriftEntry) -> Self {
        Self { field: d.field, before: d.observed, after: d.desired, change: d.change }
    }
}

/// What applying one resource would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcePlan {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub action: Action,
    /// The cloud object concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// Why, in words.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl ResourcePlan {
    pub fn new(manifest: &Manifest, action: Action, message: impl Into<String>) -> Self {
        Self {
            kind: manifest.kind.clone(),
            namespace: manifest.namespace.clone(),
            name: manifest.name.clone(),
            action,
            cloud_id: None,
            changes: Vec::new(),
            message: message.into(),
        }
    }

    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.cloud_id = Some(id.into());
        self
    }

    /// An update with these differences, or no change when there are none (observed resources
    /// report them instead).
    pub fn compared(manifest: &Manifest, id: &str, drift: Vec<DriftEntry>, observing: bool) -> Self {
        let action = match (drift.is_empty(), observing) {
            (true, _) => Action::NoChange,
            (false, true) => Action::Observe,
            (false, false) => Action::Update,
        };
        let message = match action {
            Action::NoChange => "the cloud object matches".to_string(),
            Action::Observe => "managementPolicy is Observe: the differences would be reported in status.drift, nothing written".to_string(),
            _ => format!("{} field(s) would be updated in place", drift.len()),
        };
        let mut plan = Self::new(manifest, action, message).with_id(id);
        plan.changes = drift.into_iter().map(FieldChange::from).collect();
        plan
    }
}

/// The lists read so far, by kind, owner and API key fingerprint (each a `Vec` of the kind's
/// cloud objects).
type ListMemo = HashMap<(String, String, String), Arc<dyn Any + Send + Sync>>;

/// The live resources read so far, by kind, namespace and name (each an `Option` of the kind):
/// one read per resource, however many others name it (a thousand members naming one cluster).
type LiveMemo = HashMap<(String, String, String), Arc<tokio::sync::OnceCell<Arc<dyn Any + Send + Sync>>>>;

/// What every resource's plan reads from: the manifests, Kubernetes (when reachable), the cloud,
/// and the lists and live resources already read.
pub struct Session {
    pub manifests: Vec<Manifest>,
    pub kube: Option<kube::Client>,
    /// What the controllers read through, when Kubernetes is reachable: a cluster's setting blocks
    /// are observed with it (their references are Secrets and ConfigMaps). It writes nothing: no
    /// controller runs, and observing sends no event.
    pub context: Option<Arc<Context>>,
    clouds: CloudClients,
    default_key: Option<ApiKey>,
    lists: tokio::sync::Mutex<ListMemo>,
    live: tokio::sync::Mutex<LiveMemo>,
}

impl Session {
    pub fn new(manifests: Vec<Manifest>, kube: Option<kube::Client>, clouds: CloudClients, default_key: Option<ApiKey>) -> Self {
        let context = kube.clone().map(|client| {
            let economies = Economies { list_cache: true, priority: true };
            let trust = OrgNamespaces::new(&[], None);
            Context::new(client, clouds.clone(), DefaultCredentials::new(default_key.clone()), Timing::default(), economies, Arc::new(Metrics::new()), trust)
        });
        Self { manifests, kube, context, clouds, default_key, lists: Default::default(), live: Default::default() }
    }

    /// The Cloud API client for a resource: its `credentialsRef` Secret when Kubernetes is
    /// reachable and it is readable, else the key in `COCKROACH_API_KEY`.
    pub async fn cloud_for(&self, namespace: &str, credentials: Option<&CredentialsRef>) -> Result<CloudClient, String> {
        if let (Some(reference), Some(client)) = (credentials, &self.kube) {
            let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
            if let Ok(Some(secret)) = secrets.get_opt(&reference.name).await
                && let Some(value) = secret.data.as_ref().and_then(|d| d.get(reference.key()))
            {
                let key = String::from_utf8(value.0.clone()).map_err(|_| format!("Secret {namespace}/{}: key {} is not text", reference.name, reference.key()))?;
                return Ok(self.clouds.client(ApiKey::new(key.trim())));
            }
        }
        match &self.default_key {
            Some(key) => Ok(self.clouds.client(key.clone())),
            None => Err("no API key: set COCKROACH_API_KEY (the resource's credentialsRef Secret could not be read)".into()),
        }
    }

    /// The list `load` reads, once per kind, owner and API key for the whole plan.
    pub async fn list_once<T, F, Fut>(&self, kind: &str, owner: &str, cloud: &CloudClient, load: F) -> Result<Arc<Vec<T>>, CloudError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, CloudError>>,
    {
        let key = (kind.to_string(), owner.to_string(), cloud.key_fingerprint());
        // Held across the read: two resources of one kind and owner never read the list twice.
        let mut lists = self.lists.lock().await;
        if let Some(found) = lists.get(&key).and_then(|l| l.clone().downcast::<Vec<T>>().ok()) {
            return Ok(found);
        }
        let listed = Arc::new(load().await?);
        lists.insert(key, listed.clone());
        Ok(listed)
    }

    /// The live resource, when Kubernetes is reachable and it exists. Read once for the whole
    /// plan; resources asking for it at the same time wait for that one read.
    pub async fn live<K>(&self, namespace: &str, name: &str) -> Option<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    {
        let client = self.kube.clone()?;
        let key = (K::kind(&()).to_string(), namespace.to_string(), name.to_string());
        let cell = self.live.lock().await.entry(key).or_default().clone();
        let read = cell
            .get_or_init(|| async move {
                let api: Api<K> = Api::namespaced(client, namespace);
                Arc::new(api.get_opt(name).await.ok().flatten()) as Arc<dyn Any + Send + Sync>
            })
            .await;
        read.downcast_ref::<Option<K>>().cloned().flatten()
    }

    /// Whether the manifests declare this resource.
    pub fn declares(&self, kind: &str, namespace: &str, name: &str) -> bool {
        self.manifests.iter().any(|m| m.kind == kind && m.namespace == namespace && m.name == name)
    }

    /// The apiserver's verdict on applying the manifest: `Some(message)` when it refuses
    /// (schema, CEL, immutable fields). A server-side dry run: nothing is stored. `None` when it
    /// accepts, or when no apiserver is reachable or the namespace does not exist.
    pub async fn refusal(&self, manifest: &Manifest) -> Option<String> {
        let client = self.kube.clone()?;
        let api_version = manifest.document.get("apiVersion")?.as_str()?;
        let (group, version) = api_version.split_once('/')?;
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &manifest.kind));
        let api: Api<DynamicObject> = Api::namespaced_with(client, &manifest.namespace, &resource);
        let params = PatchParams::apply("crdb-cloud-operator-plan").dry_run().force();
        match api.patch(&manifest.name, &params, &Patch::Apply(&manifest.document)).await {
            Err(kube::Error::Api(status)) if status.code == 422 || status.code == 400 => Some(status.message),
            _ => None,
        }
    }
}

/// How a plan names the cloud objects a cluster's deletion would take with it.
pub fn counted(counts: &BTreeMap<String, usize>) -> String {
    counts.iter().filter(|(_, n)| **n > 0).map(|(noun, n)| format!("{n} {noun}(s)")).collect::<Vec<_>>().join(", ")
}

/// The exit code `terraform plan -detailed-exitcode` users expect: 0 no change, 2 changes, 1 an
/// error or a refusal (the change cannot be applied as written).
pub fn exit_code(plans: &[ResourcePlan]) -> u8 {
    if plans.iter().any(|p| matches!(p.action, Action::Error | Action::Refused | Action::ReplaceImpossible)) {
        1
    } else if plans.iter().any(|p| p.action.changes_cloud()) {
        2
    } else {
        0
    }
}

/// The plans as a readable table with each change's before and after.
pub fn render_text(plans: &[ResourcePlan]) -> String {
    let mut out = String::new();
    let label = |a: Action| serde_json::to_value(a).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let rows: Vec<[String; 4]> = plans
        .iter()
        .map(|p| [label(p.action), format!("{}/{}", p.kind, p.name), p.namespace.clone(), p.cloud_id.clone().unwrap_or_else(|| "-".into())])
        .collect();
    let headers = ["ACTION", "RESOURCE", "NAMESPACE", "CLOUD ID"];
    let widths: Vec<usize> = (0..4).map(|i| rows.iter().map(|r| r[i].len()).chain([headers[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: [&str; 4]| format!("{:w0$}  {:w1$}  {:w2$}  {}\n", cells[0], cells[1], cells[2], cells[3], w0 = widths[0], w1 = widths[1], w2 = widths[2]);
    out.push_str(&line(headers));
    for (plan, row) in plans.iter().zip(&rows) {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
        if !plan.message.is_empty() && plan.action != Action::NoChange {
            out.push_str(&format!("    {}\n", plan.message));
        }
        for change in &plan.changes {
            match &change.change {
                Some(what) => out.push_str(&format!("    ~ {}: {what}\n", change.field)),
                None => out.push_str(&format!(
                    "    ~ {}: {} -> {}\n",
                    change.field,
                    change.before.as_deref().unwrap_or("(none)"),
                    change.after.as_deref().unwrap_or("(none)")
                )),
            }
        }
    }
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for plan in plans {
        *tally.entry(label(plan.action)).or_default() += 1;
    }
    let summary: Vec<String> = tally.iter().map(|(action, n)| format!("{n} {action}")).collect();
    out.push_str(&format!("\nPlan: {}.\n", if summary.is_empty() { "no resources".to_string() } else { summary.join(", ") }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(action: Action) -> ResourcePlan {
        ResourcePlan { kind: "Database".into(), namespace: "ns".into(), name: "orders".into(), action, cloud_id: None, changes: Vec::new(), message: String::new() }
    }

    #[test]
    fn exit_codes_follow_terraforms_detailed_exitcode() {
        assert_eq!(exit_code(&[plan(Action::NoChange), plan(Action::Observe), plan(Action::Release)]), 0);
        assert_eq!(exit_code(&[plan(Action::NoChange), plan(Action::Update)]), 2);
        assert_eq!(exit_code(&[plan(Action::Create), plan(Action::ReplaceImpossible)]), 1);
        assert_eq!(exit_code(&[plan(Action::Error)]), 1);
    }

    #[test]
    fn the_text_shows_each_field_before_and_after() {
        let mut update = plan(Action::Update);
        update.changes = vec![FieldChange { field: "spec.sql".into(), before: Some("false".into()), after: Some("true".into()), change: None }];
        let text = render_text(&[update, plan(Action::NoChange)]);
        assert!(text.lines().any(|l| l.starts_with("update ") && l.contains(" Database/orders ")), "{text}");
        assert!(text.contains("~ spec.sql: false -> true"), "{text}");
        assert!(text.contains("Plan: 1 no-change, 1 update."), "{text}");
    }
}
