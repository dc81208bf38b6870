//! JWTIssuer, a top-level cloud object of the organisation (see
//! [`top_level`](crate::controller::top_level)).
//!
//! JWT issuers carry no labels, so the create cannot mark its object; the issuer URL, unique in an
//! organisation, is the natural key instead. An issuer found with this resource's URL while its
//! create intent is open is its own (the answer was lost); one found without an intent belongs to
//! someone else (NameInUse) unless adopted. The JWKS may come from a ConfigMap: it is read and
//! checked before anything is sent, and the ConfigMap is watched so a new key set reaches the
//! cloud at once (an update, not drift).

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use sha2::{Digest, Sha256};

use crate::api::jwt_issuer::{IdentityMapEntry, JWTIssuer, JWTIssuerSpec, JWTIssuerStatus};
use crate::cloud::models::{AddJwtIssuerRequest, JwtIssuer, JwtIssuerIdentityMapEntry, UpdateJwtIssuerRequest, check_jwks, same_jwks};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::Wiring;
use crate::controller::context::Context;
use crate::controller::driver::Kind;
use crate::controller::error::ReconcileError;
use crate::controller::reason::Reason;
use crate::controller::references::{Holder, KeyRef, referencing};
use crate::controller::top_level::{Plan, Resolved, TopLevel, TopLevelShape, TopLevelStatus};

crate::impl_status_fields!(JWTIssuerStatus, base);

impl Kind for JWTIssuer {
    type Shape = TopLevelShape;
    const ORG_LEVEL: bool = true;
}

impl TopLevelStatus for JWTIssuerStatus {
    fn cloud_id(&self) -> Option<&str> {
        self.jwt_issuer_id.as_deref()
    }
    fn set_cloud_id(&mut self, id: Option<String>) {
        self.jwt_issuer_id = id;
    }
    fn create_requested_at(&self) -> Option<&str> {
        self.create_requested_at.as_deref()
    }
    fn set_create_requested_at(&mut self, at: Option<String>) {
        self.create_requested_at = at;
    }
}

/// First 16 hex digits of the JWKS's SHA-256, of its canonical JSON when it parses (so layout
/// does not count).
pub fn jwks_fingerprint(jwks: &str) -> String {
    let canonical = serde_json::from_str::<serde_json::Value>(jwks).map(|v| v.to_string()).unwrap_or_else(|_| jwks.trim().to_string());
    hex::encode(&Sha256::digest(canonical.as_bytes())[..8])
}

fn identity_map(spec: &JWTIssuerSpec) -> Vec<JwtIssuerIdentityMapEntry> {
    spec.identity_map
        .iter()
        .map(|IdentityMapEntry { token_identity, cc_identity }| JwtIssuerIdentityMapEntry { token_identity: token_identity.clone(), cc_identity: cc_identity.clone() })
        .collect()
}

/// The create request for a spec whose JWKS has been resolved.
pub fn create_request(spec: &JWTIssuerSpec) -> AddJwtIssuerRequest {
    AddJwtIssuerRequest {
        issuer_url: spec.issuer_url.clone(),
        audience: spec.audience.clone(),
        jwks: spec.jwks.clone(),
        claim: Some(spec.claim.clone()),
        identity_map: Some(identity_map(spec)),
    }
}

/// The PATCH that brings `item` in line with `spec` (only the fields that differ), and their
/// spec names for events.
pub fn diff(spec: &JWTIssuerSpec, item: &JwtIssuer) -> (UpdateJwtIssuerRequest, Vec<&'static str>) {
    let mut update = UpdateJwtIssuerRequest::default();
    let mut fields = Vec::new();
    if item.issuer_url != spec.issuer_url {
        update.issuer_url = Some(spec.issuer_url.clone());
        fields.push("spec.issuerUrl");
    }
    if item.audience != spec.audience {
        update.audience = Some(spec.audience.clone());
        fields.push("spec.audience");
    }
    if let Some(jwks) = &spec.jwks
        && !same_jwks(jwks, item.jwks.as_deref().unwrap_or_default())
    {
        update.jwks = Some(jwks.clone());
        fields.push(if spec.jwks_config_map_ref.is_some() { "spec.jwksConfigMapRef" } else { "spec.jwks" });
    }
    if item.claim() != spec.claim {
        update.claim = Some(spec.claim.clone());
        fields.push("spec.claim");
    }
    let wanted = identity_map(spec);
    if item.identity_map() != wanted.as_slice() {
        update.identity_map = Some(wanted);
        fields.push("spec.identityMap");
    }
    (update, fields)
}

/// What status records of the cloud's issuer (the operator's own fields left as they are).
fn record(status: &mut JWTIssuerStatus, item: &JwtIssuer) {
    status.jwt_issuer_id = Some(item.id.clone());
    status.issuer_url = Some(item.issuer_url.clone());
    status.audience = Some(item.audience.clone());
    status.claim = Some(item.claim().to_string());
    status.jwks_sha256 = item.jwks.as_deref().filter(|j| !j.trim().is_empty()).map(jwks_fingerprint);
    status.identity_map_entries = Some(item.identity_map().len() as i32);
    status.create_requested_at = None;
}

/// The JWKS checked, or Stalled naming `field`.
fn checked_jwks(field: &str, text: String) -> Result<String, ReconcileError> {
    check_jwks(&text)
        .map(|()| text)
        .map_err(|why| ReconcileError::stalled(Reason::JwksInvalid, format!("{field} is not a JSON Web Key Set (a JSON object with a \"keys\" array): {why}; nothing was sent")))
}

fn moved_in_cloud(spec: &JWTIssuerSpec, recorded: &JWTIssuerStatus, item: &JwtIssuer) -> bool {
    let (_, fields) = diff(spec, item);
    let held = item.jwks.as_deref().filter(|j| !j.trim().is_empty()).map(jwks_fingerprint);
    fields.iter().any(|f| *f != "spec.jwksConfigMapRef") || held != recorded.jwks_sha256
}

/// A refused update: another issuer of the organisation has the URL the spec moves to (409) needs
/// a person; the rest as any cloud error.
fn update_refused(err: CloudError) -> ReconcileError {
    match err {
        CloudError::AlreadyExists(message) => {
            ReconcileError::stalled(Reason::NameInUse, format!("spec.issuerUrl: another JWT issuer of the organisation has this URL ({message})"))
        }
        other => ReconcileError::cloud("updating the JWT issuer", other),
    }
}

impl TopLevel for JWTIssuer {
    type Cloud = JwtIssuer;
    type Change = UpdateJwtIssuerRequest;
    const NOUN: &'static str = "JWTIssuer";
    const SHARED_LIST: bool = true;
    const NAME_FIELD: &'static str = "spec.issuerUrl";
    const ADOPT_FIELD: &'static str = "adoptJWTIssuerId";

    fn adopt_id(&self) -> Option<&str> {
        self.spec.adopt_jwt_issuer_id.as_deref()
    }
    /// The issuer URL: unique in the organisation, the key the search before a create uses.
    fn cloud_name(&self) -> String {
        self.spec.issuer_url.clone()
    }

    fn spec_of(item: &JwtIssuer) -> serde_json::Value {
        let identity_map: Vec<serde_json::Value> = item
            .identity_map
            .iter()
            .flatten()
            .map(|entry| serde_json::json!({"tokenIdentity": entry.token_identity, "ccIdentity": entry.cc_identity}))
            .collect();
        serde_json::json!({
            "issuerUrl": item.issuer_url,
            "audience": item.audience,
            "jwks": item.jwks,
            "claim": item.claim,
            "identityMap": identity_map,
        })
    }

    fn id_of(item: &JwtIssuer) -> &str {
        &item.id
    }
    fn name_of(item: &JwtIssuer) -> &str {
        &item.issuer_url
    }
    /// JWT issuers carry no marker; see [`made_by_this`](TopLevel::made_by_this).
    fn created_by(_item: &JwtIssuer) -> Option<&str> {
        None
    }
    fn is_gone(_item: &JwtIssuer) -> bool {
        false
    }
    /// The URL is unique: an issuer with it found while this resource's create intent is open can
    /// only come from that create (any other create of the URL would have refused this one).
    fn made_by_this(&self, item: &JwtIssuer, intent: Option<Timestamp>) -> bool {
        intent.is_some() && item.issuer_url == self.cloud_name()
    }

    async fn get(cloud: &CloudClient, id: &str) -> Result<JwtIssuer, CloudError> {
        cloud.get_jwt_issuer(id).await
    }
    async fn list(cloud: &CloudClient) -> Result<Vec<JwtIssuer>, CloudError> {
        cloud.list_jwt_issuers().await.map(|listing| listing.items)
    }
    fn adoption_mismatch(&self, item: &JwtIssuer) -> Option<String> {
        (item.issuer_url != self.spec.issuer_url)
            .then(|| format!("cloud JWT issuer {} has issuer URL {:?}, not spec.issuerUrl {:?}", item.id, item.issuer_url, self.spec.issuer_url))
    }
    async fn create(&self, cloud: &CloudClient) -> Result<JwtIssuer, CloudError> {
        cloud.add_jwt_issuer(&create_request(&self.spec)).await
    }

    fn observe(status: &mut JWTIssuerStatus, item: &JwtIssuer) {
        record(status, item);
    }

    fn plan(&self, item: &JwtIssuer, _now: Timestamp) -> Result<Plan<UpdateJwtIssuerRequest>, ReconcileError> {
        let (change, fields) = diff(&self.spec, item);
        if fields.is_empty() {
            return Ok(Plan::InSync);
        }
        Ok(Plan::Change { change, summary: fields.join(", ") })
    }

    async fn execute(&self, cloud: &CloudClient, item: &JwtIssuer, change: UpdateJwtIssuerRequest) -> Result<JwtIssuer, ReconcileError> {
        cloud.update_jwt_issuer(&item.id, &change).await.map_err(update_refused)
    }

    async fn delete(&self, cloud: &CloudClient, item: &JwtIssuer) -> Result<(), ReconcileError> {
        match cloud.delete_jwt_issuer(&item.id).await {
            Ok(_) | Err(CloudError::NotFound(_)) => Ok(()),
            Err(e) => Err(ReconcileError::cloud("deleting the JWT issuer", e)),
        }
    }

    /// Only the JWKS comes from outside the spec: a ConfigMap's new key set, with the cloud still
    /// holding the one last recorded, is an update; anything else that differs moved in the cloud.
    fn moved_in_cloud(&self, recorded: &JWTIssuerStatus, item: &JwtIssuer) -> bool {
        moved_in_cloud(&self.spec, recorded, item)
    }

    /// The JWKS, inline or from the ConfigMap, checked before anything is sent.
    async fn resolve(&self, ctx: &Context) -> Result<Resolved<JWTIssuer>, ReconcileError> {
        if let Some(inline) = &self.spec.jwks {
            checked_jwks("spec.jwks", inline.clone())?;
            return Ok(Resolved::AsIs);
        }
        let Some(reference) = &self.spec.jwks_config_map_ref else {
            return Err(ReconcileError::stalled(Reason::InvalidSpec, "exactly one of spec.jwks or spec.jwksConfigMapRef must be set"));
        };
        let namespace = self.namespace().unwrap_or_default();
        let key = KeyRef { field: "spec.jwksConfigMapRef", holder: Holder::ConfigMap, name: &reference.name, key: reference.key() };
        let text = key.read(&ctx.client, &namespace, Reason::JwksNotFound).await?;
        let jwks = checked_jwks(&format!("{}: key {:?}", key.describe(&namespace), key.key), text)?;
        let mut resolved = self.clone();
        resolved.spec.jwks = Some(jwks);
        Ok(Resolved::With(Box::new(resolved)))
    }

    /// An issuer follows the ConfigMap holding its JWKS (metadata only).
    fn watches(controller: Controller<JWTIssuer>, wiring: &Wiring) -> Controller<JWTIssuer> {
        let issuers = controller.store();
        controller.watches(wiring.api::<PartialObjectMeta<ConfigMap>>(), wiring.watcher_config(), move |map| {
            referencing(&issuers, &map, |issuer: &JWTIssuer| issuer.spec.jwks_config_map_ref.iter().map(|r| r.name.clone()).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::jwt_issuer::JwksConfigMapRef;

    const JWKS: &str = r#"{"keys":[{"kty":"RSA","e":"AQAB","n":"abc","kid":"k1"}]}"#;

    fn spec() -> JWTIssuerSpec {
        serde_json::from_value(serde_json::json!({
            "issuerUrl": "https://issuer.example.com",
            "audience": "crdb",
            "jwks": JWKS,
            "identityMap": [{"tokenIdentity": "/^sso_(.*)$", "ccIdentity": "\\1"}],
        }))
        .unwrap()
    }

    fn cloud(spec: &JWTIssuerSpec) -> JwtIssuer {
        let request = create_request(spec);
        JwtIssuer {
            id: "1234abcd-1234-1234-abcd-12345678abcd".into(),
            issuer_url: request.issuer_url,
            audience: request.audience,
            jwks: request.jwks,
            claim: request.claim,
            identity_map: request.identity_map,
        }
    }

    #[test]
    fn the_claim_defaults_to_sub_and_the_create_carries_every_field() {
        let spec = spec();
        assert_eq!(spec.claim, "sub");
        let request = create_request(&spec);
        assert_eq!(request.claim.as_deref(), Some("sub"));
        assert_eq!(request.jwks.as_deref(), Some(JWKS));
        assert_eq!(request.identity_map.unwrap(), vec![JwtIssuerIdentityMapEntry { token_identity: "/^sso_(.*)$".into(), cc_identity: "\\1".into() }]);
    }

    #[test]
    fn an_issuer_as_created_is_in_sync_whatever_the_jwks_layout() {
        let spec = spec();
        let mut item = cloud(&spec);
        assert_eq!(diff(&spec, &item), (UpdateJwtIssuerRequest::default(), vec![]));
        item.jwks = Some("{ \"keys\": [ {\"kid\": \"k1\", \"n\": \"abc\", \"e\": \"AQAB\", \"kty\": \"RSA\"} ] }".into());
        assert!(diff(&spec, &item).1.is_empty());
        // The cloud leaving the claim unset means its default.
        item.claim = None;
        assert!(diff(&spec, &item).1.is_empty());
    }

    #[test]
    fn only_the_fields_that_differ_are_patched() {
        let spec = spec();
        let mut item = cloud(&spec);
        item.audience = "other".into();
        item.claim = Some("email".into());
        item.identity_map = Some(vec![]);
        let (update, fields) = diff(&spec, &item);
        assert_eq!(fields, vec!["spec.audience", "spec.claim", "spec.identityMap"]);
        assert_eq!(update.audience.as_deref(), Some("crdb"));
        assert_eq!(update.claim.as_deref(), Some("sub"));
        assert_eq!(update.identity_map.as_ref().map(Vec::len), Some(1));
        assert!(update.issuer_url.is_none() && update.jwks.is_none());

        let mut moved = cloud(&spec);
        moved.issuer_url = "https://old.example.com".into();
        moved.jwks = Some(r#"{"keys":[]}"#.into());
        let (update, fields) = diff(&spec, &moved);
        assert_eq!(fields, vec!["spec.issuerUrl", "spec.jwks"]);
        assert_eq!(update.issuer_url.as_deref(), Some("https://issuer.example.com"));
        assert_eq!(update.jwks.as_deref(), Some(JWKS));
    }

    #[test]
    fn a_plan_is_in_sync_or_one_patch_naming_the_fields() {
        let issuer = JWTIssuer::new("ci", spec());
        let mut item = cloud(&issuer.spec);
        assert_eq!(issuer.plan(&item, Timestamp::UNIX_EPOCH).unwrap(), Plan::InSync);
        item.audience = "other".into();
        let Plan::Change { change, summary } = issuer.plan(&item, Timestamp::UNIX_EPOCH).unwrap() else { panic!("a change") };
        assert_eq!(summary, "spec.audience");
        assert_eq!(change, UpdateJwtIssuerRequest { audience: Some("crdb".into()), ..Default::default() });
    }

    #[test]
    fn a_new_key_set_in_the_config_map_is_an_update_a_changed_cloud_is_drift() {
        let mut spec = spec();
        spec.jwks_config_map_ref = Some(JwksConfigMapRef { name: "keys".into(), key: None });
        let item = cloud(&spec);
        let mut recorded = JWTIssuerStatus::default();
        record(&mut recorded, &item);
        // The ConfigMap now holds another key set; the cloud still holds the recorded one.
        spec.jwks = Some(r#"{"keys":[{"kty":"EC"}]}"#.into());
        assert_eq!(diff(&spec, &item).1, vec!["spec.jwksConfigMapRef"]);
        assert!(!moved_in_cloud(&spec, &recorded, &item));
        // Someone replaced the key set in the cloud.
        let mut replaced = item.clone();
        replaced.jwks = Some(r#"{"keys":[{"kty":"oct"}]}"#.into());
        assert!(moved_in_cloud(&spec, &recorded, &replaced));
        // Any other field is the spec's alone.
        let mut audience = item.clone();
        audience.audience = "other".into();
        assert!(moved_in_cloud(&spec, &recorded, &audience));
    }

    #[test]
    fn status_records_a_fingerprint_not_the_key_set() {
        let item = cloud(&spec());
        let mut status = JWTIssuerStatus { create_requested_at: Some("2026-01-01T00:00:00Z".into()), ..Default::default() };
        record(&mut status, &item);
        assert_eq!(status.jwt_issuer_id.as_deref(), Some(item.id.as_str()));
        assert_eq!(status.identity_map_entries, Some(1));
        assert_eq!(status.claim.as_deref(), Some("sub"));
        assert!(status.create_requested_at.is_none());
        let fingerprint = status.jwks_sha256.unwrap();
        assert_eq!(fingerprint.len(), 16);
        assert_eq!(fingerprint, jwks_fingerprint("{ \"keys\": [{\"kid\":\"k1\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"abc\"}] }"));
    }

    #[test]
    fn a_bad_key_set_stalls_naming_the_field() {
        let err = checked_jwks("spec.jwks", "not json".into()).unwrap_err();
        assert!(err.is_stalled() && err.reason == Reason::JwksInvalid, "{err:?}");
        assert!(err.message.starts_with("spec.jwks is not a JSON Web Key Set") && err.message.contains("nothing was sent"), "{}", err.message);
        assert!(checked_jwks("spec.jwks", r#"{"keys":[]}"#.into()).is_ok());
    }

    #[test]
    fn moving_to_a_url_another_issuer_has_stalls_naming_the_field() {
        let err = update_refused(CloudError::AlreadyExists("issuer_url taken".into()));
        assert!(err.is_stalled() && err.reason == Reason::NameInUse && err.message.starts_with("spec.issuerUrl"), "{err:?}");
        assert!(!update_refused(CloudError::Transient("503".into())).is_stalled());
    }

    #[test]
    fn an_issuer_found_by_url_is_this_resources_only_under_an_open_intent() {
        let mut issuer = JWTIssuer::new("ci", spec());
        issuer.metadata.uid = Some("0a1b2c3d-0000-4000-8000-000000000001".into());
        let item = cloud(&issuer.spec);
        let intent = Some(Timestamp::now());
        assert!(issuer.made_by_this(&item, intent));
        assert!(!issuer.made_by_this(&item, None));
        assert_eq!(issuer.adoption_mismatch(&item), None);
        let mut elsewhere = item.clone();
        elsewhere.issuer_url = "https://elsewhere.example.com".into();
        assert!(issuer.adoption_mismatch(&elsewhere).unwrap().contains("spec.issuerUrl"));
    }
}
