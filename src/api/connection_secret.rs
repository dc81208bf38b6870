//! `SQLUser.spec.connectionSecret`: the shape of the connection Secret a SQL user's applications
//! read, so that they need no glue: its name, the names of its standard keys (`host` as `PGHOST`,
//! ...), and extra keys made from templates (`DATABASE_URL`). Unset, the Secret keeps its default
//! shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The placeholders a template may use: the standard keys' values (`url` is the complete
/// connection URL, user and password percent-encoded), and the user and password percent-encoded
/// for URLs of other shapes.
pub const PLACEHOLDERS: &[&str] = &["host", "port", "user", "password", "database", "sslmode", "url", "user_urlencoded", "password_urlencoded"];

/// The shape of the connection Secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, kube::KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionSecretSpec {
    /// Name of the Secret. Defaults to spec.connectionSecretName, else `<metadata.name>-connection`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub name: Option<String>,
    /// Other names for the standard keys, e.g. `host: PGHOST`; a renamed key is written under its
    /// new name only. Keys not named here keep their standard names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<ConnectionSecretKeys>,
    /// Extra keys, each the text of its template with `{{host}}`, `{{port}}`, `{{user}}`,
    /// `{{password}}`, `{{database}}`, `{{sslmode}}`, `{{url}}`, `{{user_urlencoded}}` or
    /// `{{password_urlencoded}}` replaced, e.g. `DATABASE_URL:
    /// "postgresql://{{user}}:{{password_urlencoded}}@{{host}}:{{port}}/{{database}}?sslmode=verify-full"`.
    /// At most 32 keys of at most 1024 characters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 1024}))]
    #[x_kube(validation = Rule::new("self.all(k, k.size() <= 253 && k.matches('^[-._a-zA-Z0-9]+$'))").message("spec.connectionSecret.template: keys must be valid Secret keys (letters, digits, '-', '_' and '.')"))]
    #[x_kube(validation = Rule::new("self.all(k, self[k].findAll('[{][{][^{}]*[}][}]').all(p, p in ['{{host}}', '{{port}}', '{{user}}', '{{password}}', '{{database}}', '{{sslmode}}', '{{url}}', '{{user_urlencoded}}', '{{password_urlencoded}}']))").message("spec.connectionSecret.template: unknown placeholder; use {{host}}, {{port}}, {{user}}, {{password}}, {{database}}, {{sslmode}}, {{url}}, {{user_urlencoded}} or {{password_urlencoded}}"))]
    pub template: BTreeMap<String, String>,
}

/// Other names for the standard keys of the connection Secret. Each must be a valid Secret key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionSecretKeys {
    /// Name of the `host` key, e.g. `PGHOST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub host: Option<String>,
    /// Name of the `port` key, e.g. `PGPORT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub port: Option<String>,
    /// Name of the `user` key, e.g. `PGUSER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub user: Option<String>,
    /// Name of the `password` key, e.g. `PGPASSWORD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub password: Option<String>,
    /// Name of the `database` key, e.g. `PGDATABASE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub database: Option<String>,
    /// Name of the `sslmode` key, e.g. `PGSSLMODE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub sslmode: Option<String>,
    /// Name of the `url` key, e.g. `DATABASE_URL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub url: Option<String>,
    /// Name of the `ca.crt` key (the cluster's CA certificate), e.g. `PGSSLROOTCERT_DATA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub ca_crt: Option<String>,
}

impl ConnectionSecretKeys {
    /// `(standard key, the name it is written under)` for every standard key, in a stable order.
    pub fn names(&self) -> [(&'static str, String); 8] {
        let name = |renamed: &Option<String>, standard: &'static str| (standard, renamed.clone().unwrap_or_else(|| standard.to_string()));
        [
            name(&self.host, "host"),
            name(&self.port, "port"),
            name(&self.user, "user"),
            name(&self.password, "password"),
            name(&self.database, "database"),
            name(&self.sslmode, "sslmode"),
            name(&self.url, "url"),
            name(&self.ca_crt, "ca.crt"),
        ]
    }

    /// The name the standard key `standard` is written under.
    pub fn name_of(&self, standard: &str) -> String {
        self.names().into_iter().find(|(s, _)| *s == standard).map(|(_, n)| n).unwrap_or_else(|| standard.to_string())
    }
}
