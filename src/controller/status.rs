//! Writes `.status` with server-side apply under one field manager, and only when it changed, so the
//! operator's own writes do not wake it up again.

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::own_writes::OwnWrites;

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "crdb-cloud-operator";

/// Applies `status` to the object's status subresource. The caller decides whether it changed.
/// The write is remembered in `writes`, so the next pass waits for the watch cache to hold it.
pub async fn apply_status<K, S>(api: &Api<K>, writes: &OwnWrites, obj: &K, status: &S) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let written = api.patch_status(&obj.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch)).await?;
    writes.wrote(obj, &written);
    Ok(())
}
