//! Service accounts and their API keys (organisation level).

use serde::{Deserialize, Serialize};

use super::Pagination;

/// `ServiceAccount`. `roles` and `group_roles` are `BuiltInRole`/`BuiltInFromGroups` lists: role
/// grants are their own concern, so they are carried as the cloud sends them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceAccount {
    pub id: String,
    pub name: String,
    pub description: String,
    pub creator_name: String,
    pub created_at: String,
    #[serde(default)]
    pub roles: Vec<serde_json::Value>,
    #[serde(default)]
    pub group_roles: Vec<serde_json::Value>,
}

/// `CreateServiceAccountRequest`: every field is required; the operator grants no roles at
/// creation (roles are granted separately).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateServiceAccountRequest {
    pub name: String,
    pub description: String,
    pub roles: Vec<serde_json::Value>,
}

/// `UpdateServiceAccountSpecification`: only the fields sent change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateServiceAccountSpecification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `ListServiceAccountsResponse`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListServiceAccountsResponse {
    pub service_accounts: Vec<ServiceAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `ApiKey` (named apart from the client's [`ApiKey`](crate::ApiKey) credential): what the cloud
/// shows of a key; never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    pub service_account_id: String,
    pub created_at: String,
}

/// `CreateApiKeyRequest`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateApiKeyRequest {
    pub name: String,
    pub service_account_id: String,
}

/// `UpdateApiKeySpecification`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateApiKeySpecification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `ListApiKeysResponse`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListApiKeysResponse {
    pub api_keys: Vec<ApiKeyInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// The full API key the cloud answers a create with, once. `Debug` masks it and there is no
/// `Display`, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The key itself, for whoever must store it (the operator's Secret, the simulator).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeySecret(<redacted>)")
    }
}

/// `CreateApiKeyResponse`: the only answer that carries the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateApiKeyResponse {
    pub api_key: ApiKeyInfo,
    pub secret: ApiKeySecret,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_keys_secret_never_shows_in_debug() {
        let answer = CreateApiKeyResponse {
            api_key: ApiKeyInfo { id: "k".into(), name: "n".into(), service_account_id: "s".into(), created_at: "t".into() },
            secret: ApiKeySecret::new("CCDB1_k_verysecret"),
        };
        assert!(!format!("{answer:?}").contains("verysecret"));
        let wire = serde_json::to_value(&answer).unwrap();
        assert_eq!(wire["secret"], "CCDB1_k_verysecret");
    }
}
