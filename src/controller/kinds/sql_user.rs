//! SQLUser: the user, its password (from a Secret the user owns, or generated into one the
//! operator owns) and a connection Secret for applications.
//!
//! The password never leaves Secrets and the Cloud request body: status keeps a salted
//! fingerprint to notice rotations, and nothing here logs or formats a password.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::api::{SQLUser, SQLUserStatus};
use crate::cloud::models;
use crate::cloud::{CloudClient, CloudError, Listing};

use crate::controller::Wiring;
use crate::controller::context::{Context, Endpoint};
use crate::controller::driver::Kind;
use crate::controller::error::ReconcileError;
use crate::controller::member::{Done, Member, MemberShape, Target};
use crate::controller::reason::Reason;
use crate::controller::status::FIELD_MANAGER;

/// Key of the password in the generated password Secret.
pub const PASSWORD_KEY: &str = "password";
/// Length of generated passwords: 32 characters from 62 symbols, about 190 bits of entropy.
const GENERATED_PASSWORD_LENGTH: usize = 32;
/// Annotation of the connection Secret: the `host:port` the operator wrote into it.
const ENDPOINT_ANNOTATION: &str = "crdbcloud.io/endpoint";
/// The Cloud API's minimum password length.
const MIN_PASSWORD_LENGTH: usize = 8;

/// A strong random password. `rand::rng()` is a ChaCha-based CSPRNG seeded from the operating
/// system (getrandom) and reseeded periodically.
pub fn generate_password() -> String {
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(GENERATED_PASSWORD_LENGTH).map(char::from).collect()
}

/// A salted, truncated hash that tells whether the password changed without revealing it.
pub fn password_fingerprint(uid: &str, password: &str) -> String {
    let digest = Sha256::digest(format!("{uid}:{password}").as_bytes());
    hex::encode(&digest[..8])
}

pub mod connection_shape;

/// Percent-encodes a user, password or database for a connection URL.
pub fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// The connection Secret's data in its default shape; `ca.crt` is the cluster's CA certificate,
/// for `verify-full`.
pub fn connection_data(endpoint: &Endpoint, user: &str, password: &str, database: &str) -> BTreeMap<String, String> {
    let Endpoint { host, port, ca_cert } = endpoint;
    let url = format!("postgresql://{}:{}@{host}:{port}/{}?sslmode=verify-full", url_encode(user), url_encode(password), url_encode(database));
    BTreeMap::from([
        ("host".to_string(), host.to_string()),
        ("port".to_string(), port.to_string()),
        ("user".to_string(), user.to_string()),
        ("password".to_string(), password.to_string()),
        ("database".to_string(), database.to_string()),
        ("sslmode".to_string(), "verify-full".to_string()),
        ("url".to_string(), url),
        ("ca.crt".to_string(), ca_cert.clone()),
    ])
}

fn secret_text(secret: &Secret, key: &str) -> Option<String> {
    secret.data.as_ref()?.get(key).and_then(|b| String::from_utf8(b.0.clone()).ok())
}

crate::impl_status_fields!(SQLUserStatus, common.base);

impl Kind for SQLUser {
    type Shape = MemberShape;
}

/// The one write a SQL user may need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlUserChange {
    Create,
    /// The password Secret holds a password the cloud has not been given.
    SetPassword,
}

/// What a SQL user's plan reads besides its spec: its password (never logged or formatted).
pub struct SqlUserInputs {
    password: String,
    fingerprint: String,
    /// Whether the cloud already has this password (its fingerprint is recorded in status).
    password_recorded: bool,
}

impl SQLUser {
    fn owns(&self, secret: &Secret) -> bool {
        let uid = self.uid();
        secret.owner_references().iter().any(|o| Some(&o.uid) == uid.as_ref())
    }

    fn secrets(&self, ctx: &Context) -> Api<Secret> {
        Api::namespaced(ctx.client.clone(), &self.namespace().unwrap_or_default())
    }

    /// The password: from spec.passwordSecretRef, or the generated Secret (created on first use).
    async fn password(&self, ctx: &Context) -> Result<String, ReconcileError> {
        let secrets = self.secrets(ctx);
        let namespace = self.namespace().unwrap_or_default();
        if let Some(reference) = &self.spec.password_secret_ref {
            let secret = secrets.get_opt(&reference.name).await?.ok_or_else(|| {
                ReconcileError::stalled(Reason::PasswordSecretNotFound, format!("spec.passwordSecretRef: Secret {namespace}/{} not found", reference.name))
            })?;
            let password = secret_text(&secret, &reference.key).filter(|p| !p.is_empty()).ok_or_else(|| {
                ReconcileError::stalled(
                    Reason::PasswordSecretInvalid,
                    format!("spec.passwordSecretRef: Secret {namespace}/{} has no non-empty key {:?}", reference.name, reference.key),
                )
            })?;
            if password.chars().count() < MIN_PASSWORD_LENGTH {
                return Err(ReconcileError::stalled(
                    Reason::PasswordSecretInvalid,
                    format!("spec.passwordSecretRef: the password in Secret {namespace}/{} must be at least {MIN_PASSWORD_LENGTH} characters", reference.name),
                ));
            }
            return Ok(password);
        }
        let name = self.generated_password_secret();
        match secrets.get_opt(&name).await? {
            Some(secret) if self.owns(&secret) => secret_text(&secret, PASSWORD_KEY).filter(|p| !p.is_empty()).ok_or_else(|| {
                ReconcileError::stalled(Reason::PasswordSecretInvalid, format!("generated password Secret {namespace}/{name} has lost its {PASSWORD_KEY:?} key"))
            }),
            Some(_) => Err(ReconcileError::stalled(
                Reason::SecretConflict,
                format!("Secret {namespace}/{name} exists and is not owned by this SQLUser; set spec.passwordSecretRef to use it, or remove it"),
            )),
            None => {
                let password = generate_password();
                let secret = self.owned_secret(&name, BTreeMap::from([(PASSWORD_KEY.to_string(), password.clone())]));
                secrets.create(&PostParams::default(), &secret).await?;
                Ok(password)
            }
        }
    }

    /// Whether the stored resource already records `fingerprint`. The watch cache this reconcile
    /// started from can predate the operator's own last status write (the Secrets it just wrote wake
    /// the SQLUser again at once); asking the apiserver keeps that from re-sending a password the
    /// cloud already has. Only consulted when the password looks changed, which is rare.
    async fn fingerprint_recorded(&self, ctx: &Context, fingerprint: &str) -> Result<bool, ReconcileError> {
        let api: Api<SQLUser> = Api::namespaced(ctx.client.clone(), &self.namespace().unwrap_or_default());
        let stored = api.get_opt(&self.name_any()).await?;
        Ok(stored.and_then(|u| u.status).and_then(|s| s.password_fingerprint).as_deref() == Some(fingerprint))
    }

    fn owned_secret(&self, name: &str, data: BTreeMap<String, String>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: self.namespace(),
                owner_references: Some(vec![self.controller_owner_ref(&()).expect("SQLUser has name and uid")]),
                labels: Some(BTreeMap::from([
                    ("app.kubernetes.io/managed-by".to_string(), "crdb-cloud-operator".to_string()),
                    ("crdbcloud.io/sqluser".to_string(), self.name_any()),
                ])),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v.into_bytes()))).collect()),
            ..Default::default()
        }
    }

    /// Writes the connection Secret when it is missing or out of date. Costs a Cloud call only when
    /// the host is not known yet.
    async fn ensure_connection_secret(&self, ctx: &Context, target: &Target, password: &str) -> Result<String, ReconcileError> {
        let secrets = self.secrets(ctx);
        let name = self.connection_secret();
        let namespace = self.namespace().unwrap_or_default();
        let database = self.spec.connection_database.clone().unwrap_or_else(|| "defaultdb".into());
        let existing = secrets.get_opt(&name).await?;
        if let Some(secret) = &existing
            && !self.owns(secret)
        {
            return Err(ReconcileError::stalled(
                Reason::SecretConflict,
                format!("connection Secret {namespace}/{name} exists and is not owned by this SQLUser; set spec.connectionSecretName to another name, or remove it"),
            ));
        }
        // The endpoint in the Secret is reused only if it is the one the operator recorded when it
        // wrote the Secret: an edited host or port is not trusted (it would keep the real password
        // going to another host).
        let shape = self.spec.connection_secret.as_ref();
        let keys = connection_shape::key_names(shape);
        let known_endpoint = existing.as_ref().and_then(|s| {
            let (host, port, ca_cert) = (secret_text(s, &keys.name_of("host"))?, secret_text(s, &keys.name_of("port"))?, secret_text(s, &keys.name_of("ca.crt"))?);
            let same_target = secret_text(s, &keys.name_of("database")).as_deref() == Some(database.as_str())
                && s.annotations().get("crdbcloud.io/cluster-id") == Some(&target.cluster_id)
                && s.annotations().get(ENDPOINT_ANNOTATION) == Some(&format!("{host}:{port}"));
            same_target.then_some(Endpoint { host, port, ca_cert })
        });
        let endpoint = match known_endpoint {
            Some(endpoint) => endpoint,
            // The endpoint and CA are the cluster's, the same for every user and database: one
            // load serves every SQLUser of the cluster. The CA certificate is public (no API key,
            // no request budget), so it always comes along.
            None => ctx
                .caches
                .endpoints
                .get_or_load(&target.list_key, ctx.timing.resync, || async {
                    let conn = target.cloud.get_connection_string(&target.cluster_id, Some(&database), Some(&self.sql_name())).await?;
                    let ca_cert = target.cloud.get_cluster_ca_cert(&target.cluster_id).await?;
                    Ok(Endpoint { host: conn.params.host, port: conn.params.port, ca_cert })
                })
                .await
                .map_err(|e| ReconcileError::cloud("reading the connection endpoint", e))?
                .value
                .as_ref()
                .clone(),
        };
        let user = self.sql_name();
        let encoded = (url_encode(&user), url_encode(password));
        let data = connection_shape::shape(connection_data(&endpoint, &user, password, &database), encoded, shape)
            .map_err(|why| ReconcileError::stalled(Reason::InvalidSpec, why))?;
        let endpoint = format!("{}:{}", endpoint.host, endpoint.port);
        let up_to_date = existing.as_ref().is_some_and(|s| {
            data.iter().all(|(k, v)| secret_text(s, k).as_deref() == Some(v.as_str()))
                && s.data.as_ref().map(|d| d.len()) == Some(data.len())
                && s.annotations().get(ENDPOINT_ANNOTATION) == Some(&endpoint)
        });
        if !up_to_date {
            let mut secret = self.owned_secret(&name, data);
            secret.metadata.annotations = Some(BTreeMap::from([
                ("crdbcloud.io/cluster-id".to_string(), target.cluster_id.clone()),
                (ENDPOINT_ANNOTATION.to_string(), endpoint),
            ]));
            let mut value = serde_json::to_value(&secret).expect("Secret serialises");
            value["apiVersion"] = "v1".into();
            value["kind"] = "Secret".into();
            secrets.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&value)).await?;
        }
        Ok(name)
    }
}

/// The Secret an exported SQL user's `passwordSecretRef` names.
fn exported_password_secret(user: &str) -> String {
    let name: String = user.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!("{}-password", name.trim_matches('-'))
}

impl Member for SQLUser {
    type Cloud = models::SqlUser;
    type Inputs = SqlUserInputs;
    type Change = SqlUserChange;
    const NOUN: &'static str = "SQL user";

    fn desired_key(&self) -> Result<String, ReconcileError> {
        Ok(self.sql_name())
    }

    /// Only the name: the cloud never shows a password.
    fn spec_of(item: &models::SqlUser) -> serde_json::Value {
        serde_json::json!({"name": item.name})
    }

    /// The password is a Secret to create: the cloud never shows one.
    fn export_spec(item: &models::SqlUser) -> serde_json::Value {
        serde_json::json!({"name": item.name, "passwordSecretRef": {"name": exported_password_secret(&item.name), "key": "password"}})
    }

    fn export_note(item: &models::SqlUser) -> Option<String> {
        Some(format!(
            "the cloud never shows a SQL user's password: before setting managementPolicy: Manage, create the Secret {} with the password under the key `password` (Manage sets the user's password to it)",
            exported_password_secret(&item.name)
        ))
    }

    /// Observing reads no password: it is only ever written.
    async fn observe_inputs(&self, _ctx: &Context, _target: &Target, _listed: &[models::SqlUser]) -> Result<SqlUserInputs, ReconcileError> {
        Ok(SqlUserInputs { password: String::new(), fingerprint: String::new(), password_recorded: true })
    }

    fn key_of(item: &models::SqlUser) -> String {
        item.name.clone()
    }

    async fn list(cloud: &CloudClient, cluster_id: &str) -> Result<Listing<models::SqlUser>, CloudError> {
        cloud.list_sql_users(cluster_id).await
    }

    async fn inputs(&self, ctx: &Context, _target: &Target, listed: &[models::SqlUser]) -> Result<SqlUserInputs, ReconcileError> {
        let password = self.password(ctx).await?;
        let fingerprint = password_fingerprint(&self.uid().unwrap_or_default(), &password);
        let in_status = self.status.as_ref().and_then(|s| s.password_fingerprint.as_deref()) == Some(fingerprint.as_str());
        // Asked of the apiserver only when the password looks changed for a user that exists.
        let password_recorded = in_status || !Self::contains(listed, &self.sql_name()) || self.fingerprint_recorded(ctx, &fingerprint).await?;
        Ok(SqlUserInputs { password, fingerprint, password_recorded })
    }

    fn plan(&self, inputs: &SqlUserInputs, listed: &[models::SqlUser], _status: &SQLUserStatus) -> Result<Option<SqlUserChange>, ReconcileError> {
        // A connection Secret that cannot be written stops the pass before the cloud is touched.
        connection_shape::validate(self.spec.connection_secret.as_ref()).map_err(|why| ReconcileError::stalled(Reason::InvalidSpec, why))?;
        Ok(if !Self::contains(listed, &self.sql_name()) {
            Some(SqlUserChange::Create)
        } else if !inputs.password_recorded {
            Some(SqlUserChange::SetPassword)
        } else {
            None
        })
    }

    async fn execute(&self, _ctx: &Context, target: &Target, inputs: &SqlUserInputs, change: SqlUserChange) -> Result<Done<models::SqlUser>, ReconcileError> {
        let name = self.sql_name();
        let cloud = &target.cloud;
        let user = models::SqlUser { name: name.clone() };
        match change {
            SqlUserChange::Create => match cloud.create_sql_user(&target.cluster_id, &name, &inputs.password).await {
                Ok(user) => Ok(Done::changed(Reason::Created, format!("created SQL user {name}"), user)),
                // It exists already (created outside, or by our own lost request): adopt it and
                // make its password the one this resource defines.
                Err(CloudError::AlreadyExists(_)) => {
                    cloud
                        .update_sql_user_password(&target.cluster_id, &name, &inputs.password)
                        .await
                        .map_err(|e| ReconcileError::cloud("setting the password of the adopted SQL user", e))?;
                    Ok(Done::changed(Reason::Adopted, format!("adopted existing SQL user {name} and set its password"), user))
                }
                Err(e) => Err(ReconcileError::cloud("creating the SQL user", e)),
            },
            SqlUserChange::SetPassword => {
                cloud
                    .update_sql_user_password(&target.cluster_id, &name, &inputs.password)
                    .await
                    .map_err(|e| ReconcileError::cloud("updating the SQL user's password", e))?;
                Ok(Done::changed(Reason::PasswordRotated, format!("set a new password for SQL user {name}"), user))
            }
        }
    }

    fn record(&self, status: &mut SQLUserStatus, inputs: &SqlUserInputs, _item: Option<&models::SqlUser>) {
        status.password_fingerprint = Some(inputs.fingerprint.clone());
    }

    /// The fingerprint says which password the operator set; observing sets none.
    fn record_observed(&self, _status: &mut SQLUserStatus, _inputs: &SqlUserInputs, _item: &models::SqlUser) {}

    async fn after(&self, ctx: &Context, target: &Target, inputs: &SqlUserInputs, status: &mut SQLUserStatus) -> Result<(), ReconcileError> {
        status.connection_secret = Some(self.ensure_connection_secret(ctx, target, &inputs.password).await?);
        Ok(())
    }

    /// A SQL user also follows its Secrets (metadata only: the operator never caches Secret data).
    fn watches(controller: Controller<SQLUser>, wiring: &Wiring) -> Controller<SQLUser> {
        let users = controller.store();
        let secrets = wiring.api::<PartialObjectMeta<Secret>>();
        controller.watches(secrets, wiring.watcher_config(), move |secret| {
            let namespace = secret.namespace();
            let name = secret.name_any();
            let owners: Vec<String> = secret.owner_references().iter().filter(|o| o.kind == "SQLUser").map(|o| o.uid.clone()).collect();
            users
                .state()
                .into_iter()
                .filter(|u| u.namespace() == namespace)
                .filter(|u| u.spec.password_secret_ref.as_ref().is_some_and(|r| r.name == name) || u.uid().is_some_and(|uid| owners.contains(&uid)))
                .map(|u| ObjectRef::from_obj(u.as_ref()))
                .collect::<Vec<_>>()
        })
    }

    async fn delete(cloud: &CloudClient, cluster_id: &str, key: &str) -> Result<(), CloudError> {
        cloud.delete_sql_user(cluster_id, key).await.map(|_| ())
    }

    /// A retained user keeps working: its generated password and connection Secrets are released
    /// from the SQLUser (owner reference removed) instead of being garbage-collected with it.
    async fn retain(&self, ctx: &Context) -> Result<(), ReconcileError> {
        let secrets = self.secrets(ctx);
        for name in [self.generated_password_secret(), self.connection_secret()] {
            let Some(secret) = secrets.get_opt(&name).await? else { continue };
            if !self.owns(&secret) {
                continue;
            }
            let uid = self.uid().unwrap_or_default();
            let remaining: Vec<_> = secret.owner_references().iter().filter(|o| o.uid != uid).cloned().collect();
            let patch = serde_json::json!({"metadata": {"ownerReferences": remaining}});
            secrets.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
            ctx.event(self, kube::runtime::events::EventType::Normal, Reason::SecretRetained, "Delete", format!("deletionPolicy is Retain: kept Secret {name} for the retained SQL user")).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), GENERATED_PASSWORD_LENGTH);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn fingerprints_are_salted_and_do_not_contain_the_password() {
        let f = password_fingerprint("uid-1", "hunter2hunter2");
        assert_eq!(f.len(), 16);
        assert!(!f.contains("hunter2"));
        assert_ne!(f, password_fingerprint("uid-2", "hunter2hunter2"));
        assert_ne!(f, password_fingerprint("uid-1", "hunter3hunter3"));
    }

    #[test]
    fn connection_url_escapes_user_and_password() {
        let endpoint = Endpoint { host: "db.example".into(), port: "26257".into(), ca_cert: "-----BEGIN CERTIFICATE-----".into() };
        let data = connection_data(&endpoint, "app.user", "p@ss w/rd", "orders");
        assert_eq!(data["url"], "postgresql://app.user:p%40ss%20w%2Frd@db.example:26257/orders?sslmode=verify-full");
        assert_eq!(data["sslmode"], "verify-full");
        assert_eq!(data["ca.crt"], "-----BEGIN CERTIFICATE-----");
        assert_eq!(data.len(), 8);
    }

    fn user() -> SQLUser {
        let spec = crate::api::sql_user::SQLUserSpec {
            cluster_ref: None,
            cluster_id: Some("c".into()),
            name: None,
            password_secret_ref: None,
            connection_secret_name: None,
            connection_database: None,
            connection_secret: None,
            deletion_policy: Default::default(), management_policy: Default::default(),
            credentials_ref: None,
        };
        SQLUser::new("app", spec)
    }

    fn inputs(password_recorded: bool) -> SqlUserInputs {
        SqlUserInputs { password: "correct-horse".into(), fingerprint: "f".into(), password_recorded }
    }

    #[test]
    fn a_connection_secret_of_clashing_keys_stops_the_plan_before_the_cloud() {
        let mut clash = user();
        clash.spec.connection_secret = Some(crate::api::connection_secret::ConnectionSecretSpec {
            template: [("url".to_string(), "{{url}}".to_string())].into(),
            ..Default::default()
        });
        let err = clash.plan(&inputs(true), &[], &SQLUserStatus::default()).unwrap_err();
        assert!(err.is_stalled() && err.reason == Reason::InvalidSpec && err.message.starts_with("spec.connectionSecret.template.url"), "{err:?}");
    }

    #[test]
    fn a_missing_user_is_created_and_a_new_password_is_set_once() {
        let status = SQLUserStatus::default();
        let app = vec![models::SqlUser { name: "app".into() }];
        assert_eq!(user().plan(&inputs(true), &[], &status).unwrap(), Some(SqlUserChange::Create));
        assert_eq!(user().plan(&inputs(false), &app, &status).unwrap(), Some(SqlUserChange::SetPassword));
        assert_eq!(user().plan(&inputs(true), &app, &status).unwrap(), None);
    }
}
