//! Values a spec takes from a Secret or a ConfigMap in the resource's namespace (a client CA's
//! PEM, a JWT issuer's JWKS): read before anything is sent, with the Stalled messages naming the
//! spec field; and the watch mapping that wakes the resources naming a changed object.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};

use super::error::ReconcileError;
use super::reason::Reason;

/// Where a value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Secret,
    ConfigMap,
}

impl Holder {
    pub fn kind(self) -> &'static str {
        match self {
            Holder::Secret => "Secret",
            Holder::ConfigMap => "ConfigMap",
        }
    }
}

/// One key of a named object, as a spec field names it (`field` is how messages name the field).
#[derive(Debug, Clone, Copy)]
pub struct KeyRef<'a> {
    pub field: &'a str,
    pub holder: Holder,
    pub name: &'a str,
    pub key: &'a str,
}

impl KeyRef<'_> {
    /// "configMapRef: ConfigMap ns/name" for messages.
    pub fn describe(&self, namespace: &str) -> String {
        format!("{}: {} {namespace}/{}", self.field, self.holder.kind(), self.name)
    }

    /// The key's text. `Err`: Stalled with `missing` when the object or its key is absent (the
    /// object's watch retries); a Kubernetes failure is retried.
    pub async fn read(&self, client: &kube::Client, namespace: &str, missing: Reason) -> Result<String, ReconcileError> {
        let text = match self.holder {
            Holder::Secret => Api::<Secret>::namespaced(client.clone(), namespace)
                .get_opt(self.name)
                .await?
                .map(|s| s.data.and_then(|d| d.get(self.key).map(|b| String::from_utf8_lossy(&b.0).into_owned()))),
            Holder::ConfigMap => Api::<ConfigMap>::namespaced(client.clone(), namespace)
                .get_opt(self.name)
                .await?
                .map(|m| m.data.and_then(|d| d.get(self.key).cloned())),
        };
        match text {
            None => Err(ReconcileError::stalled(missing, format!("{} not found", self.describe(namespace)))),
            Some(None) => Err(ReconcileError::stalled(missing, format!("{} has no key {:?}", self.describe(namespace), self.key))),
            Some(Some(text)) => Ok(text),
        }
    }
}

/// The resources of `object`'s namespace in `store` whose spec names it (through `names`): what a
/// watch on Secrets or ConfigMaps wakes.
pub fn referencing<K>(store: &Store<K>, object: &impl ResourceExt, names: impl Fn(&K) -> Vec<String>) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let name = object.name_any();
    store
        .state()
        .into_iter()
        .filter(|r: &Arc<K>| r.meta().namespace == object.namespace() && names(r).contains(&name))
        .map(|r| ObjectRef::from_obj(r.as_ref()))
        .collect()
}
