//! A credential a setting block sends from a Secret it names (the Datadog API key, the Azure Log
//! Analytics shared key): read when the block is converged (only the Secret's metadata is
//! watched, its data never cached), wrapped at once in a type whose `Debug` masks it, and
//! remembered only as a salted fingerprint in the block's status, so a changed Secret sends the
//! key again without the key being kept anywhere.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};

use crate::api::common::SecretKeyRef;
use crate::controller::error::ReconcileError;
use crate::controller::kinds::sql_user::password_fingerprint;
use crate::controller::reason::Reason;
use crate::controller::setting::Pass;

/// The credential `reference` names, wrapped by `wrap`, with its fingerprint (salted with the
/// cluster's UID). `field` names the reference in the error (`apiKeySecretRef`): a missing Secret
/// or an empty key stalls the block with reason SecretNotFound until the Secret's watch wakes it.
pub async fn read<K>(pass: &Pass<'_>, reference: &SecretKeyRef, field: &str, wrap: fn(String) -> K) -> Result<(K, String), ReconcileError> {
    let cluster = pass.cluster;
    let namespace = cluster.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(pass.ctx.client.clone(), &namespace);
    let secret = secrets.get_opt(&reference.name).await?;
    let value = secret.as_ref().and_then(|s| s.data.as_ref()).and_then(|d| d.get(&reference.key)).and_then(|b| String::from_utf8(b.0.clone()).ok());
    let Some(value) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else {
        let why = if secret.is_none() { "not found".to_string() } else { format!("has no non-empty key {:?}", reference.key) };
        return Err(ReconcileError::stalled(Reason::SecretNotFound, format!("{field}: Secret {namespace}/{} {why}", reference.name)));
    };
    let fingerprint = password_fingerprint(&cluster.uid().unwrap_or_default(), &value);
    Ok((wrap(value), fingerprint))
}
