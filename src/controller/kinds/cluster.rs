//! CockroachCluster, a top-level cloud object (see [`top_level`](crate::controller::top_level)):
//! how a cluster is read, created, adopted and deleted, and its pure plan: wait while the cloud
//! works on it, stall on a failed creation or operation, otherwise the diff of
//! [`cluster_plan`](super::cluster_plan).

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;

use super::cluster_plan::{self, ClusterChanges, OWNER_LABEL};
use crate::api::cluster::{CockroachCluster, CockroachClusterStatus};
use crate::api::common::DriftEntry;
use crate::controller::Wiring;
use crate::cloud::models::{Cluster, ClusterState, UpdateClusterSpec};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::conditions::Outcome;
use crate::controller::context::Context;
use crate::controller::driver::Kind;
use crate::controller::reconciler::Step;
use crate::controller::setting::{self, Pass};
use crate::controller::settings;
use crate::controller::error::ReconcileError;
use crate::controller::reason::Reason;
use crate::controller::top_level::{Plan, Poll, Resolved, TopLevel, TopLevelShape, TopLevelStatus};
use super::folder;
use crate::controller::references::referencing;

crate::impl_status_fields!(CockroachClusterStatus, base);

impl Kind for CockroachCluster {
    type Shape = TopLevelShape;
}

impl TopLevelStatus for CockroachClusterStatus {
    fn cloud_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }
    fn set_cloud_id(&mut self, id: Option<String>) {
        self.cluster_id = id;
    }
    fn create_requested_at(&self) -> Option<&str> {
        self.create_requested_at.as_deref()
    }
    fn set_create_requested_at(&mut self, at: Option<String>) {
        self.create_requested_at = at;
    }
}

impl TopLevel for CockroachCluster {
    type Cloud = Cluster;
    type Change = ClusterChanges;
    const NOUN: &'static str = "cluster";
    const ADOPT_FIELD: &'static str = "adoptClusterId";

    fn adopt_id(&self) -> Option<&str> {
        self.spec.adopt_cluster_id.as_deref()
    }
    fn cloud_name(&self) -> String {
        CockroachCluster::cloud_name(self)
    }

    fn id_of(item: &Cluster) -> &str {
        &item.id
    }
    fn name_of(item: &Cluster) -> &str {
        &item.name
    }
    fn created_by(item: &Cluster) -> Option<&str> {
        item.labels.get(OWNER_LABEL).map(String::as_str)
    }
    fn is_gone(item: &Cluster) -> bool {
        item.state == ClusterState::Deleted
    }

    async fn get(cloud: &CloudClient, id: &str) -> Result<Cluster, CloudError> {
        cloud.get_cluster(id).await
    }
    async fn list(cloud: &CloudClient) -> Result<Vec<Cluster>, CloudError> {
        cloud.list_clusters(false).await
    }
    fn adoption_mismatch(&self, item: &Cluster) -> Option<String> {
        cluster_plan::adoption_mismatch(&self.spec, item)
    }
    async fn create(&self, cloud: &CloudClient) -> Result<Cluster, CloudError> {
        cloud.create_cluster(&cluster_plan::create_request(self, &uid(self))).await
    }

    /// Copies what the cloud reports into status, keeping the operator's own fields.
    fn observe(status: &mut CockroachClusterStatus, item: &Cluster) {
        let observed = cluster_plan::observed_status(item);
        *status = CockroachClusterStatus {
            base: std::mem::take(&mut status.base),
            create_requested_at: None,
            // The setting blocks' status is theirs to write (see `settle`).
            settings: std::mem::take(&mut status.settings),
            ..observed
        };
    }

    fn plan(&self, cluster: &Cluster, now: Timestamp) -> Result<Plan<ClusterChanges>, ReconcileError> {
        // How long the cloud has been at it, for polling quickly at first and then less often.
        let working_for = |since: &Option<String>| {
            let since = since.as_deref()?.parse::<Timestamp>().ok()?;
            Duration::try_from(now.duration_since(since)).ok()
        };
        match &cluster.state {
            ClusterState::Creating => {
                let poll = Poll::Working(working_for(&cluster.created_at));
                return Ok(Plan::Wait { reason: Reason::Creating, message: "the cloud is creating the cluster".into(), poll });
            }
            ClusterState::CreationFailed => {
                return Err(ReconcileError::stalled(
                    Reason::CreationFailed,
                    format!("CockroachDB Cloud reports that creating cluster {} failed; delete this resource to clean up", cluster.id),
                ));
            }
            ClusterState::Locked => {
                let message = format!("the cluster is locked by a cloud operation ({})", cluster.operation_status);
                return Ok(Plan::Wait { reason: Reason::Locked, message, poll: Poll::Steady });
            }
            _ => {}
        }
        if cluster.operation_status.is_running() {
            let message = format!("cloud operation {} is running", cluster.operation_status);
            return Ok(Plan::Wait { reason: Reason::OperationRunning, message, poll: Poll::Working(working_for(&cluster.updated_at)) });
        }
        let changes = cluster_plan::diff(&self.spec, &uid(self), cluster);
        if !changes.is_empty() {
            let summary = changes.fields.join(", ");
            return Ok(Plan::Change { change: changes, summary });
        }
        if cluster.operation_status.is_failed() {
            return Err(ReconcileError::stalled(
                Reason::OperationFailed,
                format!("the last cloud operation on the cluster failed ({})", cluster.operation_status),
            ));
        }
        Ok(Plan::InSync)
    }

    async fn execute(&self, cloud: &CloudClient, cluster: &Cluster, changes: ClusterChanges) -> Result<Cluster, ReconcileError> {
        // A version change goes alone: the cloud runs it as its own operation.
        match &changes.version {
            Some(version) => {
                let request = UpdateClusterSpec { cockroach_version: Some(version.clone()), ..Default::default() };
                cloud.update_cluster(&cluster.id, &request).await.map_err(|e| ReconcileError::cloud("changing the CockroachDB version", e))
            }
            None => cloud.update_cluster(&cluster.id, &changes.update).await.map_err(|e| ReconcileError::cloud("updating the cluster", e)),
        }
    }

    /// A cluster follows the Secrets and ConfigMaps its setting blocks name (metadata only: the
    /// operator never caches their data), so a rotated Datadog or Azure Log Analytics key or a
    /// changed client CA reaches the cloud at once instead of at the next resync.
    fn watches(controller: Controller<CockroachCluster>, wiring: &Wiring) -> Controller<CockroachCluster> {
        let by_secret = controller.store();
        let by_config_map = controller.store();
        let owned = |names: Vec<&str>| names.into_iter().map(str::to_string).collect::<Vec<_>>();
        let controller = controller
            .watches(wiring.api::<PartialObjectMeta<Secret>>(), wiring.watcher_config(), move |secret| {
                referencing(&by_secret, &secret, |c| owned(c.spec.settings.referenced_secrets()))
            })
            .watches(wiring.api::<PartialObjectMeta<ConfigMap>>(), wiring.watcher_config(), move |map| {
                referencing(&by_config_map, &map, |c| owned(c.spec.settings.referenced_config_maps()))
            });
        // A cluster waiting for its folder proceeds as soon as the Folder gets its cloud ID.
        folder::wake_on_folders(controller, wiring, |c: &CockroachCluster| c.spec.folder_ref.as_ref().map(|r| r.name.clone()))
    }

    /// `spec.folderRef` becomes the Folder's cloud ID (as `parentId`): the cluster waits until
    /// the Folder has one, then creates (or moves) the cluster in it.
    async fn resolve(&self, ctx: &Context) -> Result<Resolved<CockroachCluster>, ReconcileError> {
        let Some(reference) = &self.spec.folder_ref else { return Ok(Resolved::AsIs) };
        Ok(match folder::folder_id(ctx, &self.namespace().unwrap_or_default(), reference, "spec.folderRef") {
            Ok(id) => {
                let mut resolved = self.clone();
                resolved.spec.folder_ref = None;
                resolved.spec.parent_id = Some(id);
                Resolved::With(Box::new(resolved))
            }
            Err(message) => Resolved::Wait { reason: Reason::WaitingForFolder, message },
        })
    }

    /// The setting blocks, once the cluster itself matches the spec.
    fn spec_of(cluster: &Cluster) -> serde_json::Value {
        cluster_plan::spec_of(cluster)
    }

    /// Without another operator's ownership label, at the top without a parent, and without the
    /// version of a BASIC cluster (the cloud manages it; the spec may not name it).
    fn export_spec(cluster: &Cluster) -> serde_json::Value {
        let mut spec = cluster_plan::spec_of(cluster);
        if cluster.plan == crate::cloud::models::Plan::Basic {
            spec["cockroachVersion"] = serde_json::Value::Null;
        }
        if let Some(labels) = spec.get_mut("labels").and_then(serde_json::Value::as_object_mut) {
            labels.remove(OWNER_LABEL);
        }
        if spec["parentId"] == "root" {
            spec["parentId"] = serde_json::Value::Null;
        }
        // The spec names the machine one way: by its vCPUs, which every provider understands.
        if let Some(hardware) = spec.pointer_mut("/dedicated/hardware").and_then(serde_json::Value::as_object_mut) {
            hardware.remove("machineType");
        }
        spec
    }

    async fn observe_parts(&self, ctx: &Context, cloud: &CloudClient, cluster: &Cluster, status: &mut CockroachClusterStatus) -> Result<Vec<DriftEntry>, ReconcileError> {
        // The cloud refuses nothing to a read, but a cluster still being created has no settings
        // to read yet.
        if !cluster.is_settled() {
            return Ok(Vec::new());
        }
        let pass = Pass { cluster: self, ctx, cloud, cluster_id: &cluster.id, item: cluster, drift: false };
        setting::observe_all(&settings::all(), &pass, status).await
    }

    async fn settle(&self, ctx: &Context, cloud: &CloudClient, cluster: &Cluster, status: &mut CockroachClusterStatus, drift: bool) -> Result<Option<Step>, ReconcileError> {
        let pass = Pass { cluster: self, ctx, cloud, cluster_id: &cluster.id, item: cluster, drift };
        let recheck = setting::converge_all(&settings::all(), &pass, status).await?;
        // A block part way through its writes is looked at again at once, and the cluster is still
        // being updated; one waiting on a timer is looked at again when it runs out.
        Ok(recheck.map(|r| match r.updating {
            Some(message) => Step::new(Outcome::progressing(Reason::Updating, message), r.after),
            None => Step::new(Outcome::ready("the cloud cluster matches the spec"), r.after),
        }))
    }

    async fn delete(&self, cloud: &CloudClient, cluster: &Cluster) -> Result<(), ReconcileError> {
        // The spec asks for protection: never delete, whether or not the cloud has caught up with it
        // (it may have been set while the operator was away, just before the resource was deleted).
        if self.spec.delete_protection == Some(true) {
            return Err(ReconcileError::stalled(
                Reason::DeleteProtected,
                format!(
                    "spec.deleteProtection is true, so cloud cluster {} is not deleted; set spec.deleteProtection: false to let it be deleted, or set spec.deletionPolicy: Retain to keep it and release this resource",
                    cluster.id
                ),
            ));
        }
        if cluster.delete_protection_enabled() {
            // The spec no longer asks for protection: lift it, then delete.
            let lift = UpdateClusterSpec { delete_protection: Some(false.into()), ..Default::default() };
            cloud.update_cluster(&cluster.id, &lift).await.map_err(|e| ReconcileError::cloud("disabling delete protection", e))?;
        }
        match cloud.delete_cluster(&cluster.id).await {
            Ok(_) | Err(CloudError::NotFound(_)) => Ok(()),
            // The cloud refuses a delete for the cluster's state: delete protection (turned on since
            // the cluster was read above) needs a person, anything else (e.g. LOCKED) passes. The
            // cluster's own delete_protection field tells which, not the wording of the refusal.
            Err(CloudError::FailedPrecondition(message)) => {
                let now = cloud.get_cluster(&cluster.id).await.map_err(|e| ReconcileError::cloud("reading the cluster after a refused delete", e))?;
                Err(refused_delete(&cluster.id, now.delete_protection_enabled(), message))
            }
            Err(e) => Err(ReconcileError::cloud("deleting the cluster", e)),
        }
    }
}

fn uid(cr: &CockroachCluster) -> String {
    cr.metadata.uid.clone().unwrap_or_default()
}

/// Classifies a delete the cloud refused as FailedPrecondition, given whether the cluster has
/// delete protection on now.
fn refused_delete(id: &str, protected: bool, message: String) -> ReconcileError {
    if protected {
        ReconcileError::stalled(
            Reason::DeleteProtected,
            format!("the cloud refused to delete cluster {id}: {message}; set spec.deleteProtection: false or spec.deletionPolicy: Retain"),
        )
    } else {
        ReconcileError::cloud("deleting the cluster", CloudError::FailedPrecondition(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_delete_is_delete_protection_only_when_the_cluster_says_so() {
        let protected = refused_delete("c1", true, "state forbids it".into());
        assert!(protected.is_stalled() && protected.reason == Reason::DeleteProtected, "{protected:?}");
        assert!(protected.message.contains("c1") && protected.message.contains("state forbids it"));
        // A refusal that mentions protection on a cluster without it (e.g. LOCKED) is retried.
        let locked = refused_delete("c1", false, "delete protection cannot be changed while LOCKED".into());
        assert!(!locked.is_stalled() && locked.reason == Reason::FailedPrecondition, "{locked:?}");
    }
}
