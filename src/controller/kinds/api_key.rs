//! APIKey, a top-level cloud object (see [`top_level`](crate::controller::top_level)),
//! organisation-level: honoured only in namespaces trusted for such kinds.
//!
//! The cloud shows a key's secret once, in the create's answer, so:
//! - the create's answer is written into the Secret (owned by the APIKey, key `apiKey`, annotated
//!   with the key's ID) before the key's ID is recorded ([`TopLevel::created`]);
//! - a key whose create answer was lost is useless (its secret is gone): the intent is recorded
//!   first, the orphan is found afterwards by name, service account and a creation time after
//!   the intent ([`created_since`]), deleted ([`TopLevel::reclaim`]), and a new key is created,
//!   so the organisation never holds two;
//! - rotation (`spec.rotationGeneration` increased) or a Secret that no longer holds the key
//!   creates a replacement the same way (intent in `status.replacementRequestedAt`, orphans of a
//!   lost answer deleted), writes it into the Secret, and only then retires the previous key,
//!   which keeps working for `spec.rotationGracePeriodSeconds` before it is deleted. The Secret
//!   never holds a key that has been deleted;
//! - adoption takes an existing key's ID only with its secret already in the Secret (the cloud
//!   cannot give it again); otherwise it is refused with a message saying so.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};

use super::service_account::created_since;
use crate::api::api_key::{APIKey, APIKeyStatus, RetiringKey};
use crate::api::common::DEFAULT_API_KEY_KEY;
use crate::api::service_account::ServiceAccount;
use crate::cloud::models::{ApiKeyInfo, ApiKeySecret, CreateApiKeyRequest, UpdateApiKeySpecification};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::Wiring;
use crate::controller::conditions::Outcome;
use crate::controller::context::Context;
use crate::controller::driver::Kind;
use crate::controller::error::ReconcileError;
use crate::controller::peers;
use crate::controller::reason::Reason;
use crate::controller::reconciler::Step;
use crate::controller::status::{FIELD_MANAGER, apply_status};
use crate::controller::top_level::{Plan, Resolved, TopLevel, TopLevelShape, TopLevelStatus};

/// The annotation on the Secret naming the key it holds.
pub const KEY_ID_ANNOTATION: &str = "crdbcloud.io/api-key-id";

/// A cloud API key, with its secret when this is the create's answer (the only time the cloud
/// shows it). `Debug` masks the secret.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub info: ApiKeyInfo,
    pub secret: Option<ApiKeySecret>,
}

impl IssuedKey {
    fn shown(info: ApiKeyInfo) -> Self {
        Self { info, secret: None }
    }
}

crate::impl_status_fields!(APIKeyStatus, base);

impl Kind for APIKey {
    type Shape = TopLevelShape;
    const ORG_LEVEL: bool = true;
}

impl TopLevelStatus for APIKeyStatus {
    fn cloud_id(&self) -> Option<&str> {
        self.api_key_id.as_deref()
    }
    fn set_cloud_id(&mut self, id: Option<String>) {
        self.api_key_id = id;
    }
    fn create_requested_at(&self) -> Option<&str> {
        self.create_requested_at.as_deref()
    }
    fn set_create_requested_at(&mut self, at: Option<String>) {
        self.create_requested_at = at;
    }
}

/// Whether the Secret's value is the key `id`: the Secret names it (the operator's own), or the
/// value is of that key (a key's secret begins with its ID and `_`; an adopted key's Secret).
pub fn holds(annotation: Option<&str>, value: Option<&str>, id: &str) -> bool {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return false;
    };
    annotation == Some(id) || value.starts_with(&format!("{id}_"))
}

/// Why a replacement key is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// `spec.rotationGeneration` was increased.
    Rotation,
    /// The Secret is missing or no longer holds the key (its secret cannot be had again).
    SecretLost,
}

/// What the Secret and the rotation need once the key itself matches the spec. Pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlan {
    /// The key was adopted and the Secret does not hold its secret: a person must provide it.
    AdoptedWithoutSecret,
    /// A new key replaces the current one.
    Replace(Replace),
    /// In line: delete these retiring keys (their grace is over); look again after `next`.
    InLine { expired: Vec<String>, next: Option<Duration> },
}

/// Decides [`KeyPlan`] from the current key, whether the Secret holds it, the rotation asked
/// for and done, and the retiring keys, at `now`.
pub fn key_plan(secret_holds_key: bool, adopted: bool, wanted_rotation: i64, done_rotation: i64, retiring: &[RetiringKey], now: Timestamp) -> KeyPlan {
    if !secret_holds_key {
        return if adopted { KeyPlan::AdoptedWithoutSecret } else { KeyPlan::Replace(Replace::SecretLost) };
    }
    if wanted_rotation > done_rotation {
        return KeyPlan::Replace(Replace::Rotation);
    }
    let mut expired = Vec::new();
    let mut next: Option<Duration> = None;
    for key in retiring {
        match key.delete_after.parse::<Timestamp>() {
            Ok(at) if at > now => {
                let left = Duration::try_from(at.duration_since(now)).unwrap_or_default();
                next = Some(next.map_or(left, |n| n.min(left)));
            }
            _ => expired.push(key.id.clone()),
        }
    }
    KeyPlan::InLine { expired, next }
}

fn secret_text(secret: &Secret, key: &str) -> Option<String> {
    secret.data.as_ref()?.get(key).and_then(|b| String::from_utf8(b.0.clone()).ok())
}

fn not_found_is_gone(result: Result<ApiKeyInfo, CloudError>) -> Result<(), CloudError> {
    match result {
        Ok(_) | Err(CloudError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

impl APIKey {
    fn secrets(&self, ctx: &Context) -> Api<Secret> {
        Api::namespaced(ctx.client.clone(), &self.namespace().unwrap_or_default())
    }

    fn owns(&self, secret: &Secret) -> bool {
        let uid = self.uid();
        secret.owner_references().iter().any(|o| Some(&o.uid) == uid.as_ref())
    }

    fn adopting(&self) -> bool {
        self.spec.adopt_api_key_id.is_some()
    }

    /// The service account the key belongs to (after [`TopLevel::resolve`]).
    fn service_account(&self) -> Result<&str, ReconcileError> {
        self.spec
            .service_account_id
            .as_deref()
            .ok_or_else(|| ReconcileError::transient(Reason::WaitingForServiceAccount, "the service account's ID is not known yet"))
    }

    /// Writes `secret` into the Secret (server-side apply, owned by this resource).
    async fn write_secret(&self, ctx: &Context, id: &str, secret: &ApiKeySecret) -> Result<(), ReconcileError> {
        let name = self.secret_name();
        let value = Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: self.namespace(),
                owner_references: Some(vec![self.controller_owner_ref(&()).expect("APIKey has name and uid")]),
                labels: Some(BTreeMap::from([
                    ("app.kubernetes.io/managed-by".to_string(), "crdb-cloud-operator".to_string()),
                    ("crdbcloud.io/apikey".to_string(), self.name_any()),
                ])),
                annotations: Some(BTreeMap::from([(KEY_ID_ANNOTATION.to_string(), id.to_string())])),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(BTreeMap::from([(DEFAULT_API_KEY_KEY.to_string(), ByteString(secret.expose().as_bytes().to_vec()))])),
            ..Default::default()
        };
        let mut body = serde_json::to_value(&value).expect("Secret serialises");
        body["apiVersion"] = "v1".into();
        body["kind"] = "Secret".into();
        self.secrets(ctx).patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await?;
        Ok(())
    }

    /// Deletes the keys of this resource a lost replacement create made: of its name and
    /// service account, created after `intent`, and neither current, retiring nor in the Secret.
    async fn delete_orphans(&self, cloud: &CloudClient, intent: Timestamp, keep: &[&str]) -> Result<(), ReconcileError> {
        let account = self.service_account()?;
        let keys = cloud.list_api_keys(Some(account)).await.map_err(|e| ReconcileError::cloud("listing the service account's API keys", e))?;
        let name = self.cloud_name();
        for key in keys.items.iter().filter(|k| k.name == name && created_since(&k.created_at, Some(intent)) && !keep.contains(&k.id.as_str())) {
            tracing::info!(id = %key.id, "deleting an API key whose create answer was lost (its secret is gone)");
            not_found_is_gone(cloud.delete_api_key(&key.id).await).map_err(|e| ReconcileError::cloud("deleting an orphaned API key", e))?;
        }
        Ok(())
    }

    /// Creates a replacement key, puts it in the Secret, and retires the current one.
    async fn replace(&self, ctx: &Context, cloud: &CloudClient, current: &str, secret_key: Option<&str>, why: Replace, status: &mut APIKeyStatus) -> Result<Step, ReconcileError> {
        let api: Api<APIKey> = Api::namespaced(ctx.client.clone(), &self.namespace().unwrap_or_default());
        if let Some(intent) = status.replacement_requested_at.as_deref().and_then(|t| t.parse::<Timestamp>().ok()) {
            let mut keep: Vec<&str> = status.retiring.iter().map(|r| r.id.as_str()).collect();
            keep.push(current);
            keep.extend(secret_key);
            self.delete_orphans(cloud, intent, &keep).await?;
        }
        // The intent first: after a lost answer or a crash, the next pass finds the orphan.
        status.replacement_requested_at = Some(Timestamp::now().to_string());
        apply_status(&api, &ctx.own_writes, self, &*status).await?;
        self.service_account()?;
        let created = cloud.create_api_key(&create_request(self)).await.map_err(|e| ReconcileError::cloud("creating a replacement API key", e))?;
        // The Secret changes before the previous key is retired, so it always holds a working key.
        self.write_secret(ctx, &created.api_key.id, &created.secret).await?;
        let grace = self.rotation_grace();
        let delete_after = Timestamp::now() + SignedDuration::try_from(grace).unwrap_or_default();
        status.retiring.push(RetiringKey { id: current.to_string(), delete_after: delete_after.to_string() });
        <APIKey as TopLevel>::observe(status, &IssuedKey::shown(created.api_key.clone()));
        status.replacement_requested_at = None;
        status.rotation_generation = Some(self.spec.rotation_generation.unwrap_or(0));
        apply_status(&api, &ctx.own_writes, self, &*status).await?;
        let (reason, note) = match why {
            Replace::Rotation => (Reason::KeyRotated, format!("rotated the API key: {} replaces {current}, which is deleted after {}s", created.api_key.id, grace.as_secs())),
            Replace::SecretLost => (
                Reason::KeyRotated,
                format!("Secret {} did not hold API key {current}; created {} in its place ({current} is deleted after {}s)", self.secret_name(), created.api_key.id, grace.as_secs()),
            ),
        };
        ctx.event(self, if why == Replace::Rotation { EventType::Normal } else { EventType::Warning }, reason, "Rotate", note.clone()).await;
        Ok(Step::new(Outcome::progressing(reason, note), Duration::from_secs(1)))
    }
}

/// The create request for `key` (its service account resolved, see [`TopLevel::resolve`]).
pub fn create_request(key: &APIKey) -> CreateApiKeyRequest {
    CreateApiKeyRequest { name: key.cloud_name(), service_account_id: key.spec.service_account_id.clone().unwrap_or_default() }
}

impl TopLevel for APIKey {
    type Cloud = IssuedKey;
    type Change = UpdateApiKeySpecification;
    const NOUN: &'static str = "apiKey";
    const SHARED_LIST: bool = true;
    const ADOPT_FIELD: &'static str = "adoptApiKeyId";

    fn adopt_id(&self) -> Option<&str> {
        self.spec.adopt_api_key_id.as_deref()
    }
    fn cloud_name(&self) -> String {
        APIKey::cloud_name(self)
    }

    /// The account as an ID: a `serviceAccountRef` is compared once resolved to it.
    fn spec_of(item: &IssuedKey) -> serde_json::Value {
        serde_json::json!({"name": item.info.name, "serviceAccountId": item.info.service_account_id})
    }

    fn id_of(item: &IssuedKey) -> &str {
        &item.info.id
    }
    fn name_of(item: &IssuedKey) -> &str {
        &item.info.name
    }
    /// Keys carry no marker: see [`TopLevel::made_by_this`].
    fn created_by(_item: &IssuedKey) -> Option<&str> {
        None
    }
    fn is_gone(_item: &IssuedKey) -> bool {
        false
    }
    fn made_by_this(&self, item: &IssuedKey, intent: Option<Timestamp>) -> bool {
        item.info.name == self.cloud_name()
            && self.spec.service_account_id.as_deref() == Some(item.info.service_account_id.as_str())
            && created_since(&item.info.created_at, intent)
    }
    /// Names may repeat: another key of the same name is no obstacle to a create.
    fn same_key(&self, _item: &IssuedKey) -> bool {
        false
    }

    async fn get(cloud: &CloudClient, id: &str) -> Result<IssuedKey, CloudError> {
        cloud.get_api_key(id).await.map(IssuedKey::shown)
    }
    async fn list(cloud: &CloudClient) -> Result<Vec<IssuedKey>, CloudError> {
        Ok(cloud.list_api_keys(None).await?.items.into_iter().map(IssuedKey::shown).collect())
    }
    fn adoption_mismatch(&self, item: &IssuedKey) -> Option<String> {
        let wanted = self.spec.service_account_id.as_deref()?;
        (item.info.service_account_id != wanted)
            .then(|| format!("API key {} belongs to service account {}, not {wanted}", item.info.id, item.info.service_account_id))
    }
    async fn create(&self, cloud: &CloudClient) -> Result<IssuedKey, CloudError> {
        let created = cloud.create_api_key(&create_request(self)).await?;
        Ok(IssuedKey { info: created.api_key, secret: Some(created.secret) })
    }

    /// The secret goes into the Secret before the key's ID is recorded.
    async fn created(&self, ctx: &Context, item: &IssuedKey) -> Result<(), ReconcileError> {
        let secret = item.secret.as_ref().ok_or_else(|| ReconcileError::transient(Reason::UnexpectedResponse, "the create's answer carried no secret"))?;
        self.write_secret(ctx, &item.info.id, secret).await
    }

    /// The orphan of a lost create answer is no use without its secret: delete it, create anew.
    async fn reclaim(&self, cloud: &CloudClient, item: IssuedKey) -> Result<Option<IssuedKey>, ReconcileError> {
        tracing::info!(id = %item.info.id, "deleting an API key whose create answer was lost (its secret is gone)");
        not_found_is_gone(cloud.delete_api_key(&item.info.id).await).map_err(|e| ReconcileError::cloud("deleting an orphaned API key", e))?;
        Ok(None)
    }

    /// `spec.serviceAccountRef` becomes `spec.serviceAccountId` for the pass; a Secret of the
    /// spec's name that is not this resource's is refused before any key is created.
    async fn resolve(&self, ctx: &Context) -> Result<Resolved<APIKey>, ReconcileError> {
        let namespace = self.namespace().unwrap_or_default();
        let deleting = self.meta().deletion_timestamp.is_some();
        if !deleting && !self.adopting() {
            let name = self.secret_name();
            if let Some(existing) = self.secrets(ctx).get_opt(&name).await?
                && !self.owns(&existing)
            {
                return Err(ReconcileError::stalled(
                    Reason::SecretConflict,
                    format!("Secret {namespace}/{name} exists and is not owned by this APIKey; set spec.secretName to another name, or remove it"),
                ));
            }
        }
        let Some(reference) = &self.spec.service_account_ref else {
            return Ok(Resolved::AsIs);
        };
        let from_store = ctx.stores.get::<ServiceAccount>().and_then(|store| {
            store
                .get(&ObjectRef::<ServiceAccount>::new(&reference.name).within(&namespace))
                .and_then(|sa| sa.status.as_ref().and_then(|s| s.service_account_id.clone()))
        });
        let id = match from_store.or_else(|| self.status.as_ref().and_then(|s| s.service_account_id.clone())) {
            Some(id) => id,
            None if deleting => return Ok(Resolved::AsIs),
            None => {
                return Ok(Resolved::Wait {
                    reason: Reason::WaitingForServiceAccount,
                    message: format!("waiting for ServiceAccount {namespace}/{} to have a cloud service account", reference.name),
                });
            }
        };
        let mut resolved = self.clone();
        resolved.spec.service_account_id = Some(id);
        Ok(Resolved::With(Box::new(resolved)))
    }

    fn observe(status: &mut APIKeyStatus, item: &IssuedKey) {
        status.api_key_id = Some(item.info.id.clone());
        status.create_requested_at = None;
        status.name = Some(item.info.name.clone());
        status.service_account_id = Some(item.info.service_account_id.clone());
        status.created_at = Some(item.info.created_at.clone());
    }

    fn plan(&self, item: &IssuedKey, _now: Timestamp) -> Result<Plan<UpdateApiKeySpecification>, ReconcileError> {
        let name = self.cloud_name();
        Ok(if item.info.name != name {
            Plan::Change { change: UpdateApiKeySpecification { name: Some(name) }, summary: "name".into() }
        } else {
            Plan::InSync
        })
    }

    async fn execute(&self, cloud: &CloudClient, item: &IssuedKey, change: UpdateApiKeySpecification) -> Result<IssuedKey, ReconcileError> {
        cloud.update_api_key(&item.info.id, &change).await.map(IssuedKey::shown).map_err(|e| ReconcileError::cloud("renaming the API key", e))
    }

    /// The Secret holds the key, rotations are done and retired keys deleted once their grace ends.
    async fn settle(&self, ctx: &Context, cloud: &CloudClient, item: &IssuedKey, status: &mut APIKeyStatus, _drift: bool) -> Result<Option<Step>, ReconcileError> {
        let current = item.info.id.clone();
        status.secret_name = Some(self.secret_name());
        let secret = self.secrets(ctx).get_opt(&self.secret_name()).await?;
        let annotation = secret.as_ref().and_then(|s| s.annotations().get(KEY_ID_ANNOTATION).cloned());
        let value = secret.as_ref().and_then(|s| secret_text(s, DEFAULT_API_KEY_KEY));
        let done = *status.rotation_generation.get_or_insert(self.spec.rotation_generation.unwrap_or(0));
        let adopted = self.spec.adopt_api_key_id.as_deref() == Some(current.as_str());
        // A replacement whose Secret write went through but whose record was lost: the Secret's
        // key is the current one now.
        if let Some(other) = annotation.as_deref().filter(|id| *id != current && status.replacement_requested_at.is_some())
            && holds(annotation.as_deref(), value.as_deref(), other)
            && let Ok(found) = cloud.get_api_key(other).await
            && found.service_account_id == item.info.service_account_id
        {
            let delete_after = Timestamp::now() + SignedDuration::try_from(self.rotation_grace()).unwrap_or_default();
            status.retiring.push(RetiringKey { id: current, delete_after: delete_after.to_string() });
            Self::observe(status, &IssuedKey::shown(found));
            status.replacement_requested_at = None;
            status.rotation_generation = Some(self.spec.rotation_generation.unwrap_or(0));
            return Ok(Some(Step::new(Outcome::progressing(Reason::KeyRotated, "recorded the replacement key the Secret holds"), Duration::from_secs(1))));
        }
        let holds_current = holds(annotation.as_deref(), value.as_deref(), &current);
        let wanted = self.spec.rotation_generation.unwrap_or(0);
        match key_plan(holds_current, adopted, wanted, done, &status.retiring, Timestamp::now()) {
            KeyPlan::AdoptedWithoutSecret => Err(ReconcileError::stalled(
                Reason::AdoptionFailed,
                format!(
                    "spec.adoptApiKeyId: the cloud shows an API key's secret only when the key is created, so Secret {}/{} must already hold key {current}'s secret under {DEFAULT_API_KEY_KEY:?}; put it there, or remove spec.adoptApiKeyId to create a new key",
                    self.namespace().unwrap_or_default(),
                    self.secret_name()
                ),
            )),
            KeyPlan::Replace(why) => self.replace(ctx, cloud, &current, annotation.as_deref(), why, status).await.map(Some),
            KeyPlan::InLine { expired, next } => {
                for id in &expired {
                    not_found_is_gone(cloud.delete_api_key(id).await).map_err(|e| ReconcileError::cloud("deleting a retired API key", e))?;
                    ctx.event(self, EventType::Normal, Reason::Deleted, "Rotate", format!("deleted retired API key {id} (its grace period is over)")).await;
                }
                status.retiring.retain(|r| !expired.contains(&r.id));
                status.replacement_requested_at = None;
                Ok(next.map(|after| Step::new(Outcome::ready("the cloud API key matches the spec; the previous key is deleted when its grace period ends"), after)))
            }
        }
    }

    /// The current key, and any previous key still in its grace period.
    async fn delete(&self, cloud: &CloudClient, item: &IssuedKey) -> Result<(), ReconcileError> {
        let retiring = self.status.as_ref().map(|s| s.retiring.clone()).unwrap_or_default();
        for key in retiring.iter().map(|r| r.id.as_str()).chain([item.info.id.as_str()]) {
            not_found_is_gone(cloud.delete_api_key(key).await).map_err(|e| ReconcileError::cloud("deleting the API key", e))?;
        }
        Ok(())
    }

    /// An APIKey follows the ServiceAccount it names (its ID appears) and its own Secret
    /// (metadata only: a deleted or edited Secret is put right at once).
    fn watches(controller: Controller<APIKey>, wiring: &Wiring) -> Controller<APIKey> {
        let controller = peers::wake_on::<ServiceAccount, _>(controller, wiring, |k| k.spec.service_account_ref.as_ref().map(|r| r.name.clone()));
        let by_secret = controller.store();
        controller
            .watches(wiring.api::<PartialObjectMeta<Secret>>(), wiring.watcher_config(), move |secret| {
                let (namespace, name) = (secret.namespace(), secret.name_any());
                by_secret
                    .state()
                    .into_iter()
                    .filter(|k| k.namespace() == namespace && k.secret_name() == name)
                    .map(|k| ObjectRef::from_obj(k.as_ref()))
                    .collect::<Vec<_>>()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn retiring(id: &str, after: &str) -> RetiringKey {
        RetiringKey { id: id.into(), delete_after: after.into() }
    }

    #[test]
    fn the_secret_holds_a_key_by_its_annotation_or_by_the_keys_prefix() {
        assert!(holds(Some("CCDB1_a"), Some("anything"), "CCDB1_a"));
        assert!(holds(None, Some("CCDB1_a_secretpart"), "CCDB1_a"));
        assert!(!holds(Some("CCDB1_b"), Some("CCDB1_b_x"), "CCDB1_a"));
        // Prefixes are whole IDs: CCDB1_ab is not CCDB1_a.
        assert!(!holds(None, Some("CCDB1_ab_x"), "CCDB1_a"));
        assert!(!holds(Some("CCDB1_a"), Some("  "), "CCDB1_a"));
        assert!(!holds(Some("CCDB1_a"), None, "CCDB1_a"));
    }

    #[test]
    fn a_lost_secret_is_replaced_unless_the_key_was_adopted() {
        let now = at("2026-01-01T00:00:00Z");
        assert_eq!(key_plan(false, false, 0, 0, &[], now), KeyPlan::Replace(Replace::SecretLost));
        assert_eq!(key_plan(false, true, 0, 0, &[], now), KeyPlan::AdoptedWithoutSecret);
    }

    #[test]
    fn an_increased_rotation_generation_replaces_the_key() {
        let now = at("2026-01-01T00:00:00Z");
        assert_eq!(key_plan(true, false, 2, 1, &[], now), KeyPlan::Replace(Replace::Rotation));
        assert_eq!(key_plan(true, true, 1, 0, &[], now), KeyPlan::Replace(Replace::Rotation));
        assert_eq!(key_plan(true, false, 1, 1, &[], now), KeyPlan::InLine { expired: vec![], next: None });
    }

    #[test]
    fn retired_keys_go_when_their_grace_ends_and_the_next_one_is_waited_for() {
        let now = at("2026-01-01T00:01:00Z");
        let keys = [retiring("old1", "2026-01-01T00:00:30Z"), retiring("old2", "2026-01-01T00:01:20Z"), retiring("old3", "2026-01-01T00:01:10Z"), retiring("bad", "soon")];
        let plan = key_plan(true, false, 0, 0, &keys, now);
        assert_eq!(plan, KeyPlan::InLine { expired: vec!["old1".into(), "bad".into()], next: Some(Duration::from_secs(10)) });
    }
}
