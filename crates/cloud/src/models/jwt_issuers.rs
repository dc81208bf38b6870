//! JWT issuers of the organisation (`/api/v1/jwt-issuers`), typed per the official schemas
//! `JWTIssuer`, `JWTIssuerIdentityMapEntry`, `AddJWTIssuerRequest`, `UpdateJWTIssuerRequest` and
//! `ListJWTIssuersResponse`.

use serde::{Deserialize, Serialize};

use super::Pagination;

/// The claim the cloud reads the identity from when a request names none.
pub const DEFAULT_JWT_CLAIM: &str = "sub";

/// `JWTIssuerIdentityMapEntry`: maps the identity read from a token's claim (a literal, or an RE2
/// regular expression starting with `/`) to a CockroachDB Cloud identity (a user's email or a
/// service account ID; `\1` stands for the matched group).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtIssuerIdentityMapEntry {
    pub token_identity: String,
    pub cc_identity: String,
}

/// `JWTIssuer`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtIssuer {
    pub id: String,
    pub issuer_url: String,
    pub audience: String,
    /// The JWKS as a JSON document in a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_map: Option<Vec<JwtIssuerIdentityMapEntry>>,
}

impl JwtIssuer {
    /// The claim in force: the cloud's default when none is set.
    pub fn claim(&self) -> &str {
        self.claim.as_deref().filter(|c| !c.is_empty()).unwrap_or(DEFAULT_JWT_CLAIM)
    }

    pub fn identity_map(&self) -> &[JwtIssuerIdentityMapEntry] {
        self.identity_map.as_deref().unwrap_or_default()
    }
}

/// `AddJWTIssuerRequest`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddJwtIssuerRequest {
    pub issuer_url: String,
    pub audience: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_map: Option<Vec<JwtIssuerIdentityMapEntry>>,
}

/// `UpdateJWTIssuerRequest` (the PATCH body): only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateJwtIssuerRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_map: Option<Vec<JwtIssuerIdentityMapEntry>>,
}

impl UpdateJwtIssuerRequest {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `ListJWTIssuersResponse`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListJwtIssuersResponse {
    #[serde(default)]
    pub jwt_issuers: Vec<JwtIssuer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// Whether `text` is a JWKS as the cloud accepts it: a JSON object whose `keys` is an array of
/// objects. `Err` says what is wrong (never quoting the document).
pub fn check_jwks(text: &str) -> Result<(), String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let keys = value.as_object().ok_or("not a JSON object")?.get("keys").ok_or("no \"keys\" member")?;
    let keys = keys.as_array().ok_or("\"keys\" is not an array")?;
    match keys.iter().position(|k| !k.is_object()) {
        Some(index) => Err(format!("\"keys\"[{index}] is not an object")),
        None => Ok(()),
    }
}

/// Two JWKS documents say the same (whitespace and member order aside); a document that is not
/// JSON equals only the same text.
pub fn same_jwks(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.trim() == b.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwks_is_an_object_with_an_array_of_keys() {
        assert_eq!(check_jwks(r#"{"keys": [{"kty": "RSA"}]}"#), Ok(()));
        assert_eq!(check_jwks(r#"{"keys": []}"#), Ok(()));
        assert!(check_jwks("not json").unwrap_err().starts_with("not JSON"));
        assert_eq!(check_jwks("[1]"), Err("not a JSON object".into()));
        assert_eq!(check_jwks(r#"{"key": []}"#), Err("no \"keys\" member".into()));
        assert_eq!(check_jwks(r#"{"keys": {}}"#), Err("\"keys\" is not an array".into()));
        assert_eq!(check_jwks(r#"{"keys": [{}, 3]}"#), Err("\"keys\"[1] is not an object".into()));
    }

    #[test]
    fn the_same_jwks_differs_only_in_layout() {
        assert!(same_jwks(r#"{"keys":[{"kty":"RSA","e":"AQAB"}]}"#, "{ \"keys\": [ {\"e\": \"AQAB\", \"kty\": \"RSA\"} ] }\n"));
        assert!(!same_jwks(r#"{"keys":[{"kty":"RSA"}]}"#, r#"{"keys":[{"kty":"EC"}]}"#));
        assert!(same_jwks("oops ", "oops") && !same_jwks("oops", "{}"));
    }
}
