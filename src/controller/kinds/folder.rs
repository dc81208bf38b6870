//! Folder, a top-level organisation object (see [`top_level`](crate::controller::top_level)):
//! how a folder is read, created, adopted and deleted, and its pure plan (rename, move and
//! relabel in place, all in one UpdateFolder).
//!
//! Exactly once: folders carry labels, so a create carries the resource's UID in the ownership
//! label ([`OWNER_LABEL`]) like a cluster, and a create whose answer was lost is found by that
//! label. A folder without it holding this resource's name in the same parent is someone else's:
//! the resource stalls (NameInUse) instead of adopting it silently; `spec.adoptFolderId` adopts it
//! on purpose.
//!
//! Also here: resolving a reference to a Folder resource (a Folder's `parentRef`, a
//! CockroachCluster's `folderRef`) into its cloud ID, and the watch that wakes the resources
//! waiting for one.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

use kube::ResourceExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;

use super::cluster_plan::{OWNER_LABEL, desired_labels};

use crate::api::CockroachCluster;
use crate::api::folder::{Folder, FolderStatus, LocalFolderRef};
use crate::cloud::models::{CreateFolderRequest, FolderResource, ROOT_FOLDER, UpdateFolderSpec};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::Wiring;
use crate::controller::context::Context;
use crate::controller::driver::Kind;
use crate::controller::error::ReconcileError;
use crate::controller::peers::{self, Peer};
use crate::controller::reason::Reason;
use crate::controller::top_level::{Plan, Resolved, TopLevel, TopLevelShape, TopLevelStatus};

crate::impl_status_fields!(FolderStatus, base);

impl Kind for Folder {
    type Shape = TopLevelShape;
    const ORG_LEVEL: bool = true;
}

impl TopLevelStatus for FolderStatus {
    fn cloud_id(&self) -> Option<&str> {
        self.folder_id.as_deref()
    }
    fn set_cloud_id(&mut self, id: Option<String>) {
        self.folder_id = id;
    }
    fn create_requested_at(&self) -> Option<&str> {
        self.create_requested_at.as_deref()
    }
    fn set_create_requested_at(&mut self, at: Option<String>) {
        self.create_requested_at = at;
    }
}

/// The parent the spec asks for once references are resolved: `root` when it names none.
fn desired_parent(folder: &Folder) -> &str {
    folder.spec.parent_id.as_deref().filter(|p| !p.is_empty()).unwrap_or(ROOT_FOLDER)
}

fn uid(folder: &Folder) -> String {
    folder.metadata.uid.clone().unwrap_or_default()
}

/// The create request: name, parent and labels, with this resource's UID as the ownership label.
pub fn create_request(folder: &Folder) -> CreateFolderRequest {
    CreateFolderRequest {
        name: folder.cloud_name(),
        parent_id: Some(desired_parent(folder).to_string()),
        labels: Some(desired_labels(folder.spec.labels.as_ref(), &BTreeMap::new(), &uid(folder))),
    }
}

/// The one UpdateFolder that brings `cloud` in line with the (resolved) spec, and the fields it
/// changes; `None` when it matches.
pub fn diff(folder: &Folder, cloud: &FolderResource) -> Option<(UpdateFolderSpec, Vec<&'static str>)> {
    let mut update = UpdateFolderSpec::default();
    let mut fields = Vec::new();
    let name = folder.cloud_name();
    if cloud.name != name {
        update.name = Some(name);
        fields.push("spec.name");
    }
    if cloud.parent() != desired_parent(folder) {
        update.parent_id = Some(desired_parent(folder).to_string());
        fields.push("the parent folder (spec.parentRef/spec.parentId)");
    }
    let labels = desired_labels(folder.spec.labels.as_ref(), &cloud.labels, &uid(folder));
    if labels != cloud.labels {
        // The cloud replaces the whole set: the ownership label travels with the others.
        update.labels = Some(labels);
        fields.push("spec.labels");
    }
    (!update.is_empty()).then_some((update, fields))
}

/// Classifies the cloud's refusal to delete a folder: FAILED_PRECONDITION means it is not empty,
/// which only a person can change (move or delete what it holds).
fn refused_delete(id: &str, err: CloudError) -> ReconcileError {
    match err {
        CloudError::FailedPrecondition(message) => ReconcileError::stalled(
            Reason::FolderNotEmpty,
            format!("the cloud refused to delete folder {id}: {message}; move or delete what it holds, or set spec.deletionPolicy: Retain"),
        ),
        other => ReconcileError::cloud("deleting the folder", other),
    }
}

impl TopLevel for Folder {
    type Cloud = FolderResource;
    type Change = UpdateFolderSpec;
    const NOUN: &'static str = "folder";
    const SHARED_LIST: bool = true;
    const ADOPT_FIELD: &'static str = "adoptFolderId";

    fn adopt_id(&self) -> Option<&str> {
        self.spec.adopt_folder_id.as_deref()
    }
    fn cloud_name(&self) -> String {
        Folder::cloud_name(self)
    }

    /// The parent as an ID (`root` at the top); a `parentRef` is compared once resolved to it.
    fn spec_of(item: &FolderResource) -> serde_json::Value {
        serde_json::json!({"name": item.name, "parentId": item.parent_id, "labels": item.labels})
    }

    /// At the top without a parent.
    fn export_spec(item: &FolderResource) -> serde_json::Value {
        let parent = (item.parent_id != "root").then(|| item.parent_id.clone());
        serde_json::json!({"name": item.name, "parentId": parent, "labels": item.labels})
    }

    fn id_of(item: &FolderResource) -> &str {
        &item.resource_id
    }
    fn name_of(item: &FolderResource) -> &str {
        &item.name
    }
    fn created_by(item: &FolderResource) -> Option<&str> {
        item.labels.get(OWNER_LABEL).map(String::as_str)
    }
    fn is_gone(_item: &FolderResource) -> bool {
        // A deleted folder answers 404 at once.
        false
    }

    async fn get(cloud: &CloudClient, id: &str) -> Result<FolderResource, CloudError> {
        cloud.get_folder(id).await
    }
    async fn list(cloud: &CloudClient) -> Result<Vec<FolderResource>, CloudError> {
        cloud.list_folders().await.map(|listing| listing.items)
    }
    fn adoption_mismatch(&self, _item: &FolderResource) -> Option<String> {
        // Any folder can be adopted: its name, parent and labels then follow the spec.
        None
    }
    async fn create(&self, cloud: &CloudClient) -> Result<FolderResource, CloudError> {
        cloud.create_folder(&create_request(self)).await
    }

    fn observe(status: &mut FolderStatus, item: &FolderResource) {
        let mut names: Vec<&str> = item.path.iter().map(|s| s.name.as_str()).collect();
        names.push(&item.name);
        status.folder_id = Some(item.resource_id.clone());
        status.parent_id = Some(item.parent().to_string());
        status.path = Some(format!("/{}", names.join("/")));
        status.create_requested_at = None;
    }

    fn plan(&self, item: &FolderResource, _now: Timestamp) -> Result<Plan<UpdateFolderSpec>, ReconcileError> {
        Ok(match diff(self, item) {
            Some((change, fields)) => Plan::Change { change, summary: fields.join(", ") },
            None => Plan::InSync,
        })
    }

    async fn execute(&self, cloud: &CloudClient, item: &FolderResource, change: UpdateFolderSpec) -> Result<FolderResource, ReconcileError> {
        cloud.update_folder(&item.resource_id, &change).await.map_err(|e| ReconcileError::cloud("updating the folder", e))
    }

    async fn delete(&self, cloud: &CloudClient, item: &FolderResource) -> Result<(), ReconcileError> {
        match cloud.delete_folder(&item.resource_id).await {
            Ok(()) | Err(CloudError::NotFound(_)) => Ok(()),
            Err(e) => Err(refused_delete(&item.resource_id, e)),
        }
    }

    /// Folder names are unique within their parent only.
    fn same_key(&self, item: &FolderResource) -> bool {
        item.name == self.cloud_name() && item.parent() == desired_parent(self)
    }

    async fn resolve(&self, ctx: &Context) -> Result<Resolved<Folder>, ReconcileError> {
        let Some(parent) = &self.spec.parent_ref else { return Ok(Resolved::AsIs) };
        Ok(match folder_id(ctx, &self.namespace().unwrap_or_default(), parent, "spec.parentRef") {
            Ok(id) => {
                let mut resolved = self.clone();
                resolved.spec.parent_ref = None;
                resolved.spec.parent_id = Some(id);
                Resolved::With(Box::new(resolved))
            }
            Err(message) => Resolved::Wait { reason: Reason::WaitingForFolder, message },
        })
    }

    /// A folder waiting for its parent proceeds as soon as the parent gets its cloud ID; a folder
    /// whose deletion the cloud refused (not empty) tries again as soon as a Folder or a
    /// CockroachCluster naming it changes or goes, instead of at the slow stalled retry.
    fn watches(controller: Controller<Folder>, wiring: &Wiring) -> Controller<Folder> {
        let controller = wake_on_folders(controller, wiring, |f: &Folder| f.spec.parent_ref.as_ref().map(|r| r.name.clone()));
        let parent_of = |folder: &Folder| folder.spec.parent_ref.as_ref().map(|p| ObjectRef::new(&p.name).within(&folder.namespace().unwrap_or_default()));
        let folder_of = |cluster: &CockroachCluster| cluster.spec.folder_ref.as_ref().map(|f| ObjectRef::new(&f.name).within(&cluster.namespace().unwrap_or_default()));
        controller
            .watches_stream(peers::readable::<Folder>(wiring), move |child| parent_of(&child))
            .watches_stream(peers::readable::<CockroachCluster>(wiring), move |cluster| folder_of(&cluster))
    }
}

/// The cloud ID of the Folder resource `reference` names in `namespace`, read from the Folder
/// watch cache; `Err` says (naming `field`) why it is not known yet.
pub fn folder_id(ctx: &Context, namespace: &str, reference: &LocalFolderRef, field: &str) -> Result<String, String> {
    let name = &reference.name;
    let folder = ctx.stores.get::<Folder>().and_then(|store| store.get(&ObjectRef::new(name).within(namespace)));
    match folder {
        None => Err(format!("{field}: Folder {namespace}/{name} does not exist yet")),
        Some(folder) => folder
            .status
            .as_ref()
            .and_then(|s| s.folder_id.clone())
            .ok_or_else(|| format!("{field}: Folder {namespace}/{name} has no cloud folder yet; waiting for it")),
    }
}

/// Wakes the resources of kind `K` whose spec names (through `reference`) a Folder that changed.
pub fn wake_on_folders<K: Peer>(controller: Controller<K>, wiring: &Wiring, reference: fn(&K) -> Option<String>) -> Controller<K> {
    peers::wake_on::<Folder, K>(controller, wiring, reference)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::folder::FolderSpec;
    use crate::cloud::models::{FolderResourceType, PathSegment};

    fn folder(spec: FolderSpec) -> Folder {
        let mut folder = Folder::new("team-a", spec);
        folder.metadata.uid = Some("uid-1".into());
        folder
    }

    fn spec() -> FolderSpec {
        FolderSpec {
            name: None,
            parent_ref: None,
            parent_id: None,
            labels: Some(BTreeMap::from([("env".to_string(), "prod".to_string())])),
            adopt_folder_id: None,
            deletion_policy: crate::api::DeletionPolicy::Delete, management_policy: Default::default(),
            credentials_ref: None,
        }
    }

    /// The folder as the cloud holds it after `request`.
    fn created(request: &CreateFolderRequest) -> FolderResource {
        FolderResource {
            resource_id: "f-1".into(),
            resource_type: FolderResourceType::Folder,
            parent_id: request.parent_id.clone().unwrap(),
            organization_id: "org".into(),
            name: request.name.clone(),
            path: Vec::new(),
            labels: request.labels.clone().unwrap(),
        }
    }

    fn plan(folder: &Folder, cloud: &FolderResource) -> Plan<UpdateFolderSpec> {
        folder.plan(cloud, Timestamp::now()).unwrap()
    }

    #[test]
    fn the_create_carries_the_ownership_label_and_a_fresh_folder_is_in_sync() {
        let f = folder(spec());
        let request = create_request(&f);
        assert_eq!(request.name, "team-a");
        assert_eq!(request.parent_id.as_deref(), Some("root"));
        let labels = request.labels.clone().unwrap();
        assert_eq!(labels.get(OWNER_LABEL).map(String::as_str), Some("uid-1"));
        assert_eq!(labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(plan(&f, &created(&request)), Plan::InSync);
        assert_eq!(Folder::created_by(&created(&request)), Some("uid-1"));
    }

    #[test]
    fn a_rename_a_move_and_labels_go_in_one_update() {
        let before = folder(spec());
        let cloud = created(&create_request(&before));
        let mut after = folder(FolderSpec { name: Some("Team A".into()), parent_id: Some("11111111-1111-4111-8111-111111111111".into()), labels: Some(BTreeMap::new()), ..spec() });
        after.metadata.uid = Some("uid-1".into());
        let Plan::Change { change, summary } = plan(&after, &cloud) else { panic!("expected a change") };
        assert_eq!(change.name.as_deref(), Some("Team A"));
        assert_eq!(change.parent_id.as_deref(), Some("11111111-1111-4111-8111-111111111111"));
        // Labels replace the whole set: the ownership label stays in it.
        assert_eq!(change.labels, Some(BTreeMap::from([(OWNER_LABEL.to_string(), "uid-1".to_string())])));
        assert!(summary.contains("spec.name") && summary.contains("parent") && summary.contains("spec.labels"), "{summary}");
    }

    #[test]
    fn unmanaged_labels_are_left_alone_but_the_ownership_label_is_put_back() {
        let f = folder(FolderSpec { labels: None, ..spec() });
        let mut cloud = created(&create_request(&f));
        cloud.labels = BTreeMap::from([("someone".to_string(), "else".to_string())]);
        let Plan::Change { change, summary } = plan(&f, &cloud) else { panic!("expected a change") };
        let labels = change.labels.unwrap();
        assert_eq!(labels.get("someone").map(String::as_str), Some("else"));
        assert_eq!(labels.get(OWNER_LABEL).map(String::as_str), Some("uid-1"));
        assert!(change.name.is_none() && change.parent_id.is_none(), "{summary}");
        // Already carrying both: in sync.
        cloud.labels = labels;
        assert_eq!(plan(&f, &cloud), Plan::InSync);
    }

    #[test]
    fn an_empty_parent_is_the_root_and_no_parent_means_the_root() {
        let f = folder(spec());
        let mut cloud = created(&create_request(&f));
        cloud.parent_id = String::new();
        assert_eq!(plan(&f, &cloud), Plan::InSync);
        // A folder found elsewhere is moved back to the root the spec asks for.
        cloud.parent_id = "22222222-2222-4222-8222-222222222222".into();
        cloud.path = vec![PathSegment { id: cloud.parent_id.clone(), name: "other".into() }];
        let Plan::Change { change, .. } = plan(&f, &cloud) else { panic!("expected a move") };
        assert_eq!(change.parent_id.as_deref(), Some("root"));
    }

    #[test]
    fn the_natural_key_is_the_name_within_the_parent() {
        let f = folder(spec());
        let mut other = created(&create_request(&f));
        other.labels.clear();
        assert!(f.same_key(&other));
        other.parent_id = "22222222-2222-4222-8222-222222222222".into();
        assert!(!f.same_key(&other), "the same name in another parent is another key");
    }

    #[test]
    fn a_refused_delete_of_a_non_empty_folder_stalls_with_the_clouds_reason() {
        let refused = refused_delete("f-1", CloudError::FailedPrecondition("folder f-1 is not empty: it holds 0 folder(s) and 1 cluster(s)".into()));
        assert!(refused.is_stalled() && refused.reason == Reason::FolderNotEmpty, "{refused:?}");
        assert!(refused.message.contains("1 cluster(s)") && refused.message.contains("Retain"), "{}", refused.message);
        let transient = refused_delete("f-1", CloudError::Transient("503".into()));
        assert!(!transient.is_stalled());
    }

    #[test]
    fn the_observed_status_names_the_path() {
        let f = folder(spec());
        let mut cloud = created(&create_request(&f));
        cloud.parent_id = "p-1".into();
        cloud.path = vec![PathSegment { id: "p-0".into(), name: "platform".into() }, PathSegment { id: "p-1".into(), name: "prod".into() }];
        let mut status = FolderStatus { create_requested_at: Some("t".into()), ..Default::default() };
        Folder::observe(&mut status, &cloud);
        assert_eq!(status.path.as_deref(), Some("/platform/prod/team-a"));
        assert_eq!(status.parent_id.as_deref(), Some("p-1"));
        assert_eq!(status.folder_id.as_deref(), Some("f-1"));
        assert!(status.create_requested_at.is_none());
    }
}
