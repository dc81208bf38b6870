//! Folders: the organisation's tree of folders, and the clusters each holds (a cluster's
//! `parent_id`). The rules users meet:
//! - a parent is `root` (or empty) or an existing folder; a folder cannot move under itself or
//!   one of its descendants;
//! - names are unique among the folders of one parent (ALREADY_EXISTS);
//! - a folder holding folders or clusters that are not deleted cannot be deleted
//!   (FAILED_PRECONDITION, naming what it holds);
//! - unknown folders answer 404.
//!
//! The real service documents no name rules; the simulator takes 1-64 characters of letters,
//! digits, `-`, `_` and inner spaces (the CRD holds the same rule).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Extension;
use chrono::Utc;

use crdb_cloud::models::{
    CreateFolderRequest, Empty, FolderResource, FolderResourceList, FolderResourceType, ListFoldersResponse, PathSegment,
    ROOT_FOLDER, UpdateFolderSpec,
};

use super::SimState;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx, QueryParams};
use super::pagination::paginate;
use super::state::Org;
use super::validation;

/// A folder as the simulator keeps it; its path is computed when it is read, so a renamed or
/// moved ancestor shows at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRecord {
    pub id: String,
    pub name: String,
    /// `root` or a folder ID.
    pub parent_id: String,
    pub labels: BTreeMap<String, String>,
}

/// The organisation's folders by ID.
pub type Folders = BTreeMap<String, FolderRecord>;

pub fn folder_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("folder {id} not found"))
}

/// The simulator's rule for folder names (see the module documentation).
pub fn folder_name(field: &str, name: &str) -> ApiResult<()> {
    let len = name.chars().count();
    let chars_ok = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' '));
    if !(1..=64).contains(&len) || !chars_ok || name.starts_with(' ') || name.ends_with(' ') {
        return Err(ApiError::invalid(format!(
            "invalid value {name:?} for field `{field}`: a folder name is 1-64 characters of letters, numbers, '-', '_' and spaces, and cannot start or end with a space"
        )));
    }
    Ok(())
}

/// A parent as given in a request: `""`/`root` is the root; anything else must be an existing
/// folder. Answers the canonical form (`root` or the ID).
pub fn existing_parent(folders: &Folders, field: &str, value: Option<&str>) -> ApiResult<String> {
    let parent = validation::parent_id(field, value)?;
    if parent != ROOT_FOLDER && !folders.contains_key(&parent) {
        return Err(ApiError::invalid(format!("invalid value {parent:?} for field `{field}`: no folder with this ID exists in the organization")));
    }
    Ok(parent)
}

/// The ancestors of `parent_id` from the root down (empty for the root).
fn lineage(folders: &Folders, parent_id: &str) -> Vec<PathSegment> {
    let mut path = Vec::new();
    let mut at = parent_id;
    // The tree has no cycles (moves under a descendant are refused); the bound is a safety net.
    while let Some(folder) = folders.get(at).filter(|_| path.len() <= folders.len()) {
        path.push(PathSegment { id: folder.id.clone(), name: folder.name.clone() });
        at = &folder.parent_id;
    }
    path.reverse();
    path
}

/// A folder as the API answers it.
pub fn resource(folders: &Folders, org_id: &str, folder: &FolderRecord) -> FolderResource {
    FolderResource {
        resource_id: folder.id.clone(),
        resource_type: FolderResourceType::Folder,
        parent_id: folder.parent_id.clone(),
        organization_id: org_id.to_string(),
        name: folder.name.clone(),
        path: lineage(folders, &folder.parent_id),
        labels: folder.labels.clone(),
    }
}

/// The absolute path of names of a folder, `/a/b`.
fn absolute_path(folders: &Folders, folder: &FolderRecord) -> String {
    let mut names: Vec<String> = lineage(folders, &folder.parent_id).into_iter().map(|s| s.name).collect();
    names.push(folder.name.clone());
    format!("/{}", names.join("/"))
}

/// Whether `candidate` is `folder` or lies below it.
fn within(folders: &Folders, candidate: &str, folder: &str) -> bool {
    candidate == folder || lineage(folders, candidate).iter().any(|s| s.id == folder)
}

fn sibling_named<'a>(folders: &'a Folders, parent: &str, name: &str, except: Option<&str>) -> Option<&'a FolderRecord> {
    folders.values().find(|f| f.parent_id == parent && f.name == name && Some(f.id.as_str()) != except)
}

fn name_taken(parent: &str, name: &str) -> ApiError {
    let place = if parent == ROOT_FOLDER { "the root".to_string() } else { format!("folder {parent}") };
    ApiError::already_exists(format!("a folder named {name:?} already exists in {place}"))
}

/// Creates a folder (the pure part of the handler).
pub fn create_folder(org: &mut Org, req: &CreateFolderRequest, id: String) -> ApiResult<FolderResource> {
    folder_name("name", &req.name)?;
    let parent = existing_parent(&org.folders, "parent_id", req.parent_id.as_deref())?;
    let labels = req.labels.clone().unwrap_or_default();
    validation::labels("labels", &labels)?;
    if sibling_named(&org.folders, &parent, &req.name, None).is_some() {
        return Err(name_taken(&parent, &req.name));
    }
    let record = FolderRecord { id: id.clone(), name: req.name.clone(), parent_id: parent, labels };
    org.folders.insert(id, record.clone());
    Ok(resource(&org.folders, &org.info.id, &record))
}

/// Renames, moves or relabels a folder (the pure part of the handler).
pub fn update_folder(org: &mut Org, id: &str, spec: &UpdateFolderSpec) -> ApiResult<FolderResource> {
    let current = org.folders.get(id).cloned().ok_or_else(|| folder_not_found(id))?;
    let mut next = current.clone();
    if let Some(name) = &spec.name {
        folder_name("name", name)?;
        next.name = name.clone();
    }
    if let Some(parent) = &spec.parent_id {
        let parent = existing_parent(&org.folders, "parent_id", Some(parent))?;
        if parent != ROOT_FOLDER && within(&org.folders, &parent, id) {
            return Err(ApiError::invalid(format!("invalid value {parent:?} for field `parent_id`: a folder cannot move into itself or one of its own folders")));
        }
        next.parent_id = parent;
    }
    if let Some(labels) = &spec.labels {
        validation::labels("labels", labels)?;
        next.labels = labels.clone();
    }
    if sibling_named(&org.folders, &next.parent_id, &next.name, Some(id)).is_some() {
        return Err(name_taken(&next.parent_id, &next.name));
    }
    org.folders.insert(id.to_string(), next.clone());
    Ok(resource(&org.folders, &org.info.id, &next))
}

/// What a folder holds that is not deleted: its folders and its clusters.
fn holdings(org: &Org, id: &str) -> (usize, usize) {
    let folders = org.folders.values().filter(|f| f.parent_id == id).count();
    let clusters = org.clusters.values().filter(|r| !r.is_deleted() && r.cluster.parent_id.as_deref() == Some(id)).count();
    (folders, clusters)
}

/// Deletes an empty folder (the pure part of the handler).
pub fn delete_folder(org: &mut Org, id: &str) -> ApiResult<()> {
    if !org.folders.contains_key(id) {
        return Err(folder_not_found(id));
    }
    let (folders, clusters) = holdings(org, id);
    if folders + clusters > 0 {
        return Err(ApiError::failed_precondition(format!(
            "folder {id} is not empty: it holds {folders} folder(s) and {clusters} cluster(s); move or delete them before deleting the folder"
        )));
    }
    org.folders.remove(id);
    Ok(())
}

/// A folder's contents (`root` for the root): folders by name, then clusters by name.
pub fn contents(org: &Org, id: &str) -> ApiResult<Vec<(String, FolderResource)>> {
    let id = if id.is_empty() { ROOT_FOLDER } else { id };
    if id != ROOT_FOLDER && !org.folders.contains_key(id) {
        return Err(folder_not_found(id));
    }
    let mut items: Vec<(String, FolderResource)> = org
        .folders
        .values()
        .filter(|f| f.parent_id == id)
        .map(|f| (format!("0\u{0}{}\u{0}{}", f.name, f.id), resource(&org.folders, &org.info.id, f)))
        .collect();
    for record in org.clusters.values().filter(|r| !r.is_deleted()) {
        let parent = record.cluster.parent_id.as_deref().filter(|p| !p.is_empty()).unwrap_or(ROOT_FOLDER);
        if parent != id {
            continue;
        }
        let cluster = FolderResource {
            resource_id: record.cluster.id.clone(),
            resource_type: FolderResourceType::Cluster,
            parent_id: parent.to_string(),
            organization_id: org.info.id.clone(),
            name: record.cluster.name.clone(),
            path: lineage(&org.folders, parent),
            labels: record.cluster.labels.clone(),
        };
        items.push((format!("1\u{0}{}\u{0}{}", cluster.name, cluster.resource_id), cluster));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(items)
}

/// The organisation's folders sorted by name (the ID breaks ties), optionally only the one at
/// `path` (an absolute path of names; leading and trailing `/` optional).
pub fn listed(org: &Org, path: Option<&str>) -> Vec<(String, FolderResource)> {
    let wanted = path.map(|p| format!("/{}", p.trim_matches('/')));
    let mut items: Vec<(String, FolderResource)> = org
        .folders
        .values()
        .filter(|f| wanted.as_deref().is_none_or(|w| absolute_path(&org.folders, f) == w))
        .map(|f| (format!("{}\u{0}{}", f.name, f.id), resource(&org.folders, &org.info.id, f)))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items
}

// ---- handlers ----

pub(super) async fn list(sim: SimState, Extension(ctx): Extension<OrgCtx>, query: QueryParams) -> ApiResult<Json<ListFoldersResponse>> {
    let params = query.page(sim.max_page_size)?;
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    let (folders, pagination) = paginate(listed(org, query.get("path")), &params);
    Ok(Json(ListFoldersResponse { folders, pagination: Some(pagination) }))
}

pub(super) async fn create(sim: SimState, Extension(ctx): Extension<OrgCtx>, JsonBody(req): JsonBody<CreateFolderRequest>) -> ApiResult<Json<FolderResource>> {
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    create_folder(org, &req, uuid::Uuid::new_v4().to_string()).map(Json)
}

pub(super) async fn get(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<FolderResource>> {
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    let folder = org.folders.get(&id).ok_or_else(|| folder_not_found(&id))?;
    Ok(Json(resource(&org.folders, &org.info.id, folder)))
}

pub(super) async fn update(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(id): ApiPath<String>,
    JsonBody(spec): JsonBody<UpdateFolderSpec>,
) -> ApiResult<Json<FolderResource>> {
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    update_folder(org, &id, &spec).map(Json)
}

pub(super) async fn delete(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Empty>> {
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    delete_folder(org, &id).map(|()| Json(Empty {}))
}

pub(super) async fn list_contents(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(id): ApiPath<String>,
    query: QueryParams,
) -> ApiResult<Json<FolderResourceList>> {
    let params = query.page(sim.max_page_size)?;
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    let (resources, pagination) = paginate(contents(org, &id)?, &params);
    Ok(Json(FolderResourceList { resources, pagination: Some(pagination) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Store;

    fn org() -> Store {
        Store::new(&["k".to_string()], Utc::now())
    }

    fn create(org: &mut Org, name: &str, parent: Option<&str>, id: &str) -> ApiResult<FolderResource> {
        create_folder(org, &CreateFolderRequest { name: name.into(), parent_id: parent.map(str::to_string), labels: None }, id.into())
    }

    const A: &str = "00000000-0000-4000-8000-00000000000a";
    const B: &str = "00000000-0000-4000-8000-00000000000b";
    const C: &str = "00000000-0000-4000-8000-00000000000c";

    #[test]
    fn folders_nest_with_their_lineage_and_names_are_unique_per_parent() {
        let mut store = org();
        let org_id = store.org_id_for_key("k").unwrap().to_string();
        let org = store.org(&org_id, Utc::now()).unwrap();
        let a = create(org, "team", None, A).unwrap();
        assert_eq!((a.parent_id.as_str(), a.path.len()), ("root", 0));
        let b = create(org, "prod", Some(A), B).unwrap();
        assert_eq!(b.path, vec![PathSegment { id: A.into(), name: "team".into() }]);
        // The same name under another parent is fine; under the same parent it is taken.
        create(org, "prod", Some("root"), C).unwrap();
        let taken = create(org, "prod", Some(A), "x").unwrap_err();
        assert_eq!(taken.code, crdb_cloud::models::grpc_code::ALREADY_EXISTS, "{taken}");
        // An unknown parent and a bad name are invalid arguments naming the field.
        let unknown = create(org, "x", Some("11111111-1111-4111-8111-111111111111"), "y").unwrap_err();
        assert!(unknown.message.contains("parent_id"), "{unknown}");
        assert!(create(org, " padded", None, "z").unwrap_err().message.contains("`name`"));
        // The path filter finds a folder by its absolute path.
        let found = listed(org, Some("team/prod/"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.resource_id, B);
    }

    #[test]
    fn a_folder_moves_and_renames_but_never_into_itself() {
        let mut store = org();
        let org_id = store.org_id_for_key("k").unwrap().to_string();
        let org = store.org(&org_id, Utc::now()).unwrap();
        create(org, "team", None, A).unwrap();
        create(org, "prod", Some(A), B).unwrap();
        let into_child = update_folder(org, A, &UpdateFolderSpec { parent_id: Some(B.into()), ..Default::default() }).unwrap_err();
        assert!(into_child.message.contains("cannot move into itself"), "{into_child}");
        let moved = update_folder(org, B, &UpdateFolderSpec { name: Some("live".into()), parent_id: Some(String::new()), ..Default::default() }).unwrap();
        assert_eq!((moved.name.as_str(), moved.parent_id.as_str()), ("live", "root"));
        assert_eq!(update_folder(org, "nope", &UpdateFolderSpec::default()).unwrap_err().status, axum::http::StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_folder_that_holds_something_cannot_be_deleted() {
        let mut store = org();
        let org_id = store.org_id_for_key("k").unwrap().to_string();
        let org = store.org(&org_id, Utc::now()).unwrap();
        create(org, "team", None, A).unwrap();
        create(org, "prod", Some(A), B).unwrap();
        let refused = delete_folder(org, A).unwrap_err();
        assert_eq!(refused.code, crdb_cloud::models::grpc_code::FAILED_PRECONDITION);
        assert!(refused.message.contains("not empty") && refused.message.contains("1 folder(s)"), "{refused}");
        assert_eq!(contents(org, A).unwrap().len(), 1);
        delete_folder(org, B).unwrap();
        delete_folder(org, A).unwrap();
        assert_eq!(delete_folder(org, A).unwrap_err().status, axum::http::StatusCode::NOT_FOUND);
        assert!(contents(org, "root").unwrap().is_empty());
    }
}
