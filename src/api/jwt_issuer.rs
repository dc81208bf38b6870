//! `JWTIssuer`: a JWT issuer registered with the CockroachDB Cloud organisation, so tokens it
//! signs can authenticate to the Cloud API. Organisation-level: honoured only in namespaces the
//! operator trusts with organisation-level kinds.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CredentialsRef, DeletionPolicy, StatusBase};

/// The claim the cloud reads the identity from by default.
pub const DEFAULT_CLAIM: &str = "sub";
/// The ConfigMap key holding the JWKS by default.
pub const DEFAULT_JWKS_KEY: &str = "jwks.json";

/// Desired state of a JWT issuer of the CockroachDB Cloud organisation.
#[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "crdbcloud.io",
    version = "v1alpha1",
    kind = "JWTIssuer",
    plural = "jwtissuers",
    namespaced,
    status = "JWTIssuerStatus",
    shortname = "crdbjwt",
    category = "crdbcloud",
    printcolumn = r#"{"name":"Issuer URL","type":"string","jsonPath":".spec.issuerUrl"}"#,
    printcolumn = r#"{"name":"Audience","type":"string","jsonPath":".spec.audience","priority":1}"#,
    printcolumn = r#"{"name":"Issuer ID","type":"string","jsonPath":".status.jwtIssuerId","priority":1}"#,
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.jwks) != has(self.jwksConfigMapRef)").message("exactly one of spec.jwks or spec.jwksConfigMapRef must be set"))]
#[x_kube(validation = Rule::new("has(self.adoptJWTIssuerId) == has(oldSelf.adoptJWTIssuerId) && (!has(self.adoptJWTIssuerId) || self.adoptJWTIssuerId == oldSelf.adoptJWTIssuerId)").message("spec.adoptJWTIssuerId is immutable"))]
pub struct JWTIssuerSpec {
    /// The URL of the server issuing the JWTs (the tokens' `iss`), e.g.
    /// https://token.actions.githubusercontent.com. Unique in the organisation: it identifies the
    /// issuer, so a create whose answer was lost is found by it. Changing it updates the issuer in
    /// place.
    #[schemars(length(min = 1, max = 2048), regex(pattern = r"^https?://[^\s/?#]+[^\s]*$"))]
    pub issuer_url: String,

    /// The audience the tokens are intended for (their `aud`).
    #[schemars(length(min = 1, max = 1024))]
    pub audience: String,

    /// The JSON Web Key Set (a JSON object with a `keys` array) that verifies the tokens, inline.
    /// Exactly one of jwks or jwksConfigMapRef. Checked before anything is sent: a document that
    /// is not a JWKS stalls the resource naming this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub jwks: Option<String>,

    /// A ConfigMap in this namespace holding the JWKS (exactly one of jwks or jwksConfigMapRef).
    /// A change of the ConfigMap reaches the cloud without waiting for the resync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_config_map_ref: Option<JwksConfigMapRef>,

    /// The token claim the identity is read from. Default `sub`, as in the cloud.
    #[serde(default = "default_claim")]
    #[schemars(length(min = 1, max = 256))]
    pub claim: String,

    /// How identities read from the claim map to CockroachDB Cloud identities, tried in order.
    /// Empty: the claim's value is used as it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub identity_map: Vec<IdentityMapEntry>,

    /// ID of an existing cloud JWT issuer to adopt instead of creating one; its issuer URL must be
    /// spec.issuerUrl. Immutable.
    #[serde(rename = "adoptJWTIssuerId", default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 36), regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
    pub adopt_jwt_issuer_id: Option<String>,

    /// What happens to the cloud JWT issuer when this resource is deleted: `Delete` (default)
    /// deletes it, `Retain` leaves it registered.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Manage` (default) makes the cloud match the spec; `Observe` never writes to the cloud and
    /// lists the differences in `status.drift`.
    #[serde(default)]
    pub management_policy: crate::api::common::ManagementPolicy,

    /// Secret with the CockroachDB Cloud API key to use, in this namespace (it needs the
    /// ORG_ADMIN role). Defaults to the operator-wide key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<CredentialsRef>,
}

fn default_claim() -> String {
    DEFAULT_CLAIM.to_string()
}

/// A ConfigMap in the resource's namespace and the key holding the JWKS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwksConfigMapRef {
    /// The ConfigMap's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key holding the JWKS. Defaults to `jwks.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub key: Option<String>,
}

impl JwksConfigMapRef {
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or(DEFAULT_JWKS_KEY)
    }
}

/// One mapping of a token identity to a CockroachDB Cloud identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.tokenIdentity.startsWith('/') || self.ccIdentity.contains('\\\\1')").message("spec.identityMap[].ccIdentity must contain the \\1 placeholder when tokenIdentity is a regular expression (starts with /)"))]
pub struct IdentityMapEntry {
    /// The identity in the token's claim: a literal value, or an RE2 regular expression starting
    /// with `/`, e.g. `/^sso_(.*)$`.
    #[schemars(length(min = 1, max = 1024))]
    pub token_identity: String,
    /// The CockroachDB Cloud identity it maps to: a user's email or a service account ID; with a
    /// regular expression, `\1` stands for the matched group.
    #[schemars(length(min = 1, max = 1024))]
    pub cc_identity: String,
}

/// What the operator observed of the JWT issuer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JWTIssuerStatus {
    #[serde(flatten)]
    pub base: StatusBase,
    /// ID of the cloud JWT issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_issuer_id: Option<String>,
    /// The issuer URL the cloud holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_url: Option<String>,
    /// The audience the cloud holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The claim the cloud reads the identity from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// SHA-256 of the JWKS the cloud holds (its first 16 hex digits), to compare without the
    /// document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_sha256: Option<String>,
    /// How many identity map entries the cloud holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_map_entries: Option<i32>,
    /// Set just before the create request is sent, cleared once the issuer ID is recorded. After
    /// a crash or a lost answer, an issuer found with spec.issuerUrl is then this resource's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<String>,
}
