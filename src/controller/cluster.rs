//! The CockroachCluster reconciler: resolve credentials -> find the cloud cluster (creating it
//! exactly once) -> diff -> update -> status. Deletion honours deletionPolicy and delete protection.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::cluster_plan::{self, OWNER_LABEL};
use super::conditions::Outcome;
use super::context::Context;
use super::error::ReconcileError;
use super::reason::Reason;
use super::finalizer;
use super::reconciler::{Managed, Step, finish, priority_of, release};
use super::status::apply_status;
use crate::api::cluster::{CockroachCluster, CockroachClusterStatus};
use crate::api::common::DeletionPolicy;
use crate::cloud::models::{Cluster, ClusterState, UpdateClusterSpec};
use crate::cloud::{CloudClient, CloudError};

crate::impl_status_fields!(CockroachClusterStatus);

impl Managed for CockroachCluster {
    type Status = CockroachClusterStatus;
    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
}

pub async fn reconcile(cr: Arc<CockroachCluster>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let api: Api<CockroachCluster> = Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());
    let mut draft = cr.status.clone().unwrap_or_default();
    if cr.metadata.deletion_timestamp.is_some() {
        if !finalizer::has_finalizer(cr.as_ref()) {
            return Ok(Action::await_change());
        }
        let result = cleanup(&cr, &ctx, &mut draft).await;
        return match result {
            Ok(None) => release(&ctx, &api, cr.as_ref()).await,
            Ok(Some(step)) => finish(&ctx, &api, cr.as_ref(), draft, Ok(step)).await,
            Err(err) => finish(&ctx, &api, cr.as_ref(), draft, Err(err)).await,
        };
    }
    // The finalizer goes on before anything can be created in the cloud.
    let cr = match finalizer::add(&api, cr.as_ref()).await? {
        Some(updated) => Arc::new(updated),
        None => cr,
    };
    let mut written = None;
    let result = apply(&cr, &ctx, &api, &mut draft, &mut written).await;
    // The create path writes status mid-reconcile; compare the final status with what is really
    // stored now, or an unchanged-looking status would skip the write and leave the intent behind.
    let baseline = match written {
        Some(status) => Arc::new(CockroachCluster { status: Some(status), ..(*cr).clone() }),
        None => cr,
    };
    finish(&ctx, &api, baseline.as_ref(), draft, result).await
}

async fn cloud_client(cr: &CockroachCluster, ctx: &Context) -> Result<CloudClient, ReconcileError> {
    ctx.cloud_for(&cr.namespace().unwrap_or_default(), cr.spec.credentials_ref.as_ref(), priority_of(cr)).await
}

fn uid(cr: &CockroachCluster) -> String {
    cr.metadata.uid.clone().unwrap_or_default()
}

async fn apply(
    cr: &CockroachCluster,
    ctx: &Context,
    api: &Api<CockroachCluster>,
    draft: &mut CockroachClusterStatus,
    written: &mut Option<CockroachClusterStatus>,
) -> Result<Step, ReconcileError> {
    let cloud = cloud_client(cr, ctx).await?;
    let Some(cluster) = observe_or_create(cr, ctx, api, &cloud, draft, written).await? else {
        return Ok(Step::new(
            Outcome::progressing(Reason::ConfirmingCreate, "waiting to confirm whether an earlier create request reached the cloud"),
            ctx.timing.jittered_poll(),
        ));
    };
    merge_observed(draft, &cluster);

    // How long the cloud has been at it, for polling quickly at first and then less often.
    let working_for = |since: &Option<String>| {
        let since = since.as_deref()?.parse::<Timestamp>().ok()?;
        Duration::try_from(Timestamp::now().duration_since(since)).ok()
    };
    match &cluster.state {
        ClusterState::Creating => {
            let next = ctx.timing.poll_while_working(working_for(&cluster.created_at));
            return Ok(Step::new(Outcome::progressing(Reason::Creating, "the cloud is creating the cluster"), next));
        }
        ClusterState::CreationFailed => {
            return Err(ReconcileError::stalled(
                Reason::CreationFailed,
                format!("CockroachDB Cloud reports that creating cluster {} failed; delete this resource to clean up", cluster.id),
            ));
        }
        ClusterState::Locked => {
            return Ok(Step::new(
                Outcome::progressing(Reason::Locked, format!("the cluster is locked by a cloud operation ({})", cluster.operation_status)),
                ctx.timing.jittered_poll(),
            ));
        }
        _ => {}
    }
    if cluster.operation_status.is_running() {
        return Ok(Step::new(
            Outcome::progressing(Reason::OperationRunning, format!("cloud operation {} is running", cluster.operation_status)),
            ctx.timing.poll_while_working(working_for(&cluster.updated_at)),
        ));
    }

    let changes = cluster_plan::diff(&cr.spec, &uid(cr), &cluster);
    if changes.is_empty() {
        if cluster.operation_status.is_failed() {
            return Err(ReconcileError::stalled(
                Reason::OperationFailed,
                format!("the last cloud operation on the cluster failed ({})", cluster.operation_status),
            ));
        }
        return Ok(Step::new(Outcome::ready("the cloud cluster matches the spec"), ctx.timing.jittered_resync()));
    }

    // A diff while the spec is unchanged since the last finished reconcile is drift.
    let drift = draft.observed_generation == cr.metadata.generation && super::conditions::is_ready(&draft.conditions);
    let fields = changes.fields.join(", ");
    let updated = if let Some(version) = &changes.version {
        let request = UpdateClusterSpec { cockroach_version: Some(version.clone()), ..Default::default() };
        cloud.update_cluster(&cluster.id, &request).await.map_err(|e| ReconcileError::cloud("changing the CockroachDB version", e))?
    } else {
        cloud.update_cluster(&cluster.id, &changes.update).await.map_err(|e| ReconcileError::cloud("updating the cluster", e))?
    };
    let (reason, note) = if drift {
        (Reason::DriftCorrected, format!("the cloud cluster had drifted from the spec ({fields}); restored it"))
    } else {
        (Reason::Updating, format!("updating the cloud cluster: {fields}"))
    };
    ctx.event(cr, if drift { EventType::Warning } else { EventType::Normal }, reason, "Update", note.clone()).await;
    merge_observed(draft, &updated);
    Ok(Step::new(Outcome::progressing(reason, note), ctx.timing.poll_while_working(Some(Duration::ZERO))))
}

/// Copies what the cloud reports into the status draft, keeping the operator's own fields.
fn merge_observed(draft: &mut CockroachClusterStatus, cluster: &Cluster) {
    let observed = cluster_plan::observed_status(cluster);
    *draft = CockroachClusterStatus {
        observed_generation: draft.observed_generation,
        conditions: std::mem::take(&mut draft.conditions),
        create_requested_at: None,
        ..observed
    };
}

/// Finds the cloud cluster, adopting or creating it as needed. `None` means "not known yet, look
/// again shortly" (an earlier create may still surface).
async fn observe_or_create(
    cr: &CockroachCluster,
    ctx: &Context,
    api: &Api<CockroachCluster>,
    cloud: &CloudClient,
    draft: &mut CockroachClusterStatus,
    written: &mut Option<CockroachClusterStatus>,
) -> Result<Option<Cluster>, ReconcileError> {
    if let Some(id) = draft.cluster_id.clone() {
        match cloud.get_cluster(&id).await {
            Ok(cluster) if cluster.state != ClusterState::Deleted => return Ok(Some(cluster)),
            Ok(_) | Err(CloudError::NotFound(_)) => {
                ctx.event(
                    cr,
                    EventType::Warning,
                    Reason::ClusterMissing,
                    "Observe",
                    format!("cloud cluster {id} no longer exists (deleted outside the operator); creating it again"),
                )
                .await;
                draft.cluster_id = None;
            }
            Err(e) => return Err(ReconcileError::cloud("reading the cluster", e)),
        }
    }

    if let Some(id) = &cr.spec.adopt_cluster_id {
        let cluster = cloud.get_cluster(id).await.map_err(|e| match e {
            CloudError::NotFound(_) => ReconcileError::stalled(Reason::AdoptionFailed, format!("spec.adoptClusterId: no cloud cluster {id}")),
            other => ReconcileError::cloud("reading the cluster to adopt", other),
        })?;
        if cluster.state == ClusterState::Deleted {
            return Err(ReconcileError::stalled(Reason::AdoptionFailed, format!("spec.adoptClusterId: cloud cluster {id} is deleted")));
        }
        if let Some(why) = cluster_plan::adoption_mismatch(&cr.spec, &cluster) {
            return Err(ReconcileError::stalled(Reason::AdoptionFailed, format!("spec.adoptClusterId: {why}")));
        }
        ctx.event(cr, EventType::Normal, Reason::Adopted, "Adopt", format!("adopted existing cloud cluster {id}")).await;
        return Ok(Some(cluster));
    }

    // Exactly once: before creating, look for a cluster we created earlier (the response may have
    // been lost, or the operator may have crashed before recording the ID).
    let name = cr.cloud_name();
    if let Some(existing) = find_by_name(cloud, &name).await? {
        if existing.labels.get(OWNER_LABEL) == cr.metadata.uid.as_ref() {
            tracing::info!(cluster_id = %existing.id, "found the cluster created by an earlier create request");
            return Ok(Some(existing));
        }
        return Err(ReconcileError::stalled(
            Reason::NameInUse,
            format!(
                "a cloud cluster named {name:?} already exists (id {}) and was not created by this resource; set spec.adoptClusterId to {} to manage it, or choose another spec.name",
                existing.id, existing.id
            ),
        ));
    }
    if let Some(requested) = draft.create_requested_at.as_deref().and_then(|t| t.parse::<Timestamp>().ok()) {
        let since = Timestamp::now().duration_since(requested);
        if since.as_secs() >= 0 && (since.as_secs() as u64) < ctx.timing.create_confirm_window.as_secs() {
            return Ok(None);
        }
    }

    // A spec the cloud refused is not sent again until it changes, or until the slow stalled retry
    // comes due: our own status writes wake the controller, and each would otherwise re-POST.
    if let Some(message) = standing_refusal(&draft.conditions, cr.metadata.generation, Timestamp::now(), ctx.timing.stalled_retry) {
        return Err(ReconcileError::stalled(Reason::CloudRejectedSpec, message));
    }

    // Record the intent first: after a crash this tells the next reconcile to search before creating.
    draft.create_requested_at = Some(Timestamp::now().to_string());
    let mut intent = draft.clone();
    intent.conditions = super::conditions::conditions_for(
        &Outcome::progressing(Reason::Creating, "sending the create request"),
        cr.metadata.generation,
        &draft.conditions,
        Timestamp::now(),
    );
    apply_status(api, cr, &intent).await?;
    *written = Some(intent.clone());

    let request = cluster_plan::create_request(cr, &uid(cr));
    match cloud.create_cluster(&request).await {
        Ok(cluster) => {
            ctx.event(cr, EventType::Normal, Reason::Created, "Create", format!("created cloud cluster {} ({})", cluster.name, cluster.id))
                .await;
            // Record the ID at once; everything else follows in the final status write.
            let mut recorded = intent.clone();
            recorded.cluster_id = Some(cluster.id.clone());
            recorded.create_requested_at = None;
            apply_status(api, cr, &recorded).await?;
            *written = Some(recorded);
            Ok(Some(cluster))
        }
        Err(e) => {
            // A definite refusal means nothing was created: drop the intent so the resource shows
            // the refusal (Stalled for a bad spec) instead of waiting to confirm a create that never
            // happened. After a transient failure the request may have been performed, so the
            // intent stays and the next pass searches before creating again.
            let refused = matches!(
                e,
                CloudError::InvalidArgument(_)
                    | CloudError::FailedPrecondition(_)
                    | CloudError::AlreadyExists(_)
                    | CloudError::NotFound(_)
                    | CloudError::Unauthenticated(_)
                    | CloudError::PermissionDenied(_)
                    | CloudError::RateLimited { .. }
            );
            if refused {
                draft.create_requested_at = None;
            }
            Err(ReconcileError::cloud("creating the cluster", e))
        }
    }
}

async fn find_by_name(cloud: &CloudClient, name: &str) -> Result<Option<Cluster>, ReconcileError> {
    let clusters = cloud.list_clusters(false).await.map_err(|e| ReconcileError::cloud("listing clusters", e))?;
    Ok(clusters.into_iter().find(|c| c.name == name && c.state != ClusterState::Deleted))
}

/// Deletes (or releases) the cloud cluster. `Ok(None)` means done: the finalizer may go.
async fn cleanup(cr: &CockroachCluster, ctx: &Context, draft: &mut CockroachClusterStatus) -> Result<Option<Step>, ReconcileError> {
    if cr.spec.deletion_policy == DeletionPolicy::Retain {
        if let Some(id) = &draft.cluster_id {
            ctx.event(cr, EventType::Normal, Reason::Retained, "Delete", format!("deletionPolicy is Retain: left cloud cluster {id} in place")).await;
        }
        return Ok(None);
    }
    let cloud = cloud_client(cr, ctx).await?;
    let cluster = match &draft.cluster_id {
        Some(id) => match cloud.get_cluster(id).await {
            Ok(cluster) => Some(cluster),
            Err(CloudError::NotFound(_)) => None,
            Err(e) => return Err(ReconcileError::cloud("reading the cluster before deleting it", e)),
        },
        // No ID recorded: a create may still have happened (crash or lost response).
        None if draft.create_requested_at.is_some() => find_by_name(&cloud, &cr.cloud_name())
            .await?
            .filter(|c| c.labels.get(OWNER_LABEL) == cr.metadata.uid.as_ref()),
        None => None,
    };
    let Some(cluster) = cluster.filter(|c| c.state != ClusterState::Deleted) else {
        return Ok(None);
    };
    merge_observed(draft, &cluster);

    // The spec asks for protection: never delete, whether or not the cloud has caught up with it
    // (it may have been set while the operator was away, just before the resource was deleted).
    if cr.spec.delete_protection == Some(true) {
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
        Ok(_) | Err(CloudError::NotFound(_)) => {
            ctx.event(cr, EventType::Normal, Reason::Deleting, "Delete", format!("deleting cloud cluster {}", cluster.id)).await;
        }
        // The cloud refuses a delete for the cluster's state: delete protection (turned on since
        // the cluster was read above) needs a person, anything else (e.g. LOCKED) passes. The
        // cluster's own delete_protection field tells which, not the wording of the refusal.
        Err(CloudError::FailedPrecondition(message)) => {
            let now = cloud.get_cluster(&cluster.id).await.map_err(|e| ReconcileError::cloud("reading the cluster after a refused delete", e))?;
            return Err(refused_delete(&cluster.id, now.delete_protection_enabled(), message));
        }
        Err(e) => return Err(ReconcileError::cloud("deleting the cluster", e)),
    }
    // Wait for the cloud to confirm (DELETED or 404) before releasing the resource.
    match cloud.get_cluster(&cluster.id).await {
        Ok(c) if c.state != ClusterState::Deleted => {
            merge_observed(draft, &c);
            Ok(Some(Step::new(Outcome::progressing(Reason::Deleting, "waiting for the cloud to delete the cluster"), Duration::from_secs(2))))
        }
        Ok(_) | Err(CloudError::NotFound(_)) => Ok(None),
        Err(e) => Err(ReconcileError::cloud("confirming the deletion", e)),
    }
}

/// The message of the cloud's refusal of this generation's spec, while it stands: the create is
/// not sent again until the spec changes or the slow stalled retry comes due.
fn standing_refusal(conditions: &[Condition], generation: Option<i64>, now: Timestamp, stalled_retry: Duration) -> Option<String> {
    let refused = super::conditions::find(conditions, super::conditions::STALLED).filter(|c| {
        c.status == "True" && super::conditions::reason_of(c) == Some(Reason::CloudRejectedSpec) && c.observed_generation == generation
    })?;
    let since = now.duration_since(refused.last_transition_time.0);
    (since.as_secs() >= 0 && (since.as_secs() as u64) < stalled_retry.as_secs()).then(|| refused.message.clone())
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
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::super::conditions::{STALLED, conditions_for};
    use super::*;

    const RETRY: Duration = Duration::from_secs(120);

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn a_refused_spec_stands_for_its_generation_until_the_stalled_retry() {
        let refused = conditions_for(&Outcome::stalled(Reason::CloudRejectedSpec, "invalid argument: bad region"), Some(2), &[], at(1000));
        assert_eq!(standing_refusal(&refused, Some(2), at(1010), RETRY).as_deref(), Some("invalid argument: bad region"));
        // A new generation is sent again at once; so is the same one once the retry is due.
        assert_eq!(standing_refusal(&refused, Some(3), at(1010), RETRY), None);
        assert_eq!(standing_refusal(&refused, Some(2), at(1000 + 120), RETRY), None);
    }

    #[test]
    fn only_a_stalled_cloud_refusal_holds_the_create_back() {
        let other = conditions_for(&Outcome::stalled(Reason::NameInUse, "CloudRejectedSpec"), Some(2), &[], at(1000));
        assert_eq!(standing_refusal(&other, Some(2), at(1010), RETRY), None);
        let progressing = conditions_for(&Outcome::progressing(Reason::Creating, "sending"), Some(2), &[], at(1000));
        assert_eq!(standing_refusal(&progressing, Some(2), at(1010), RETRY), None);
        // Written by an earlier version: the same spelling reads as the same reason.
        let mut earlier = vec![Condition {
            type_: STALLED.into(),
            status: "True".into(),
            reason: "CloudRejectedSpec".into(),
            message: "refused".into(),
            observed_generation: Some(2),
            last_transition_time: Time(at(1000)),
        }];
        assert_eq!(standing_refusal(&earlier, Some(2), at(1010), RETRY).as_deref(), Some("refused"));
        earlier[0].reason = "cloudRejectedSpec".into();
        assert_eq!(standing_refusal(&earlier, Some(2), at(1010), RETRY), None);
    }

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
