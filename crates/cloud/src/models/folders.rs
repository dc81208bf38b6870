//! Folders: `/folders` and `/folders/{id}/contents`, typed per the official schemas
//! (`CreateFolderRequest`, `UpdateFolderSpecification`, `FolderResource`, `ListFoldersResponse`,
//! `FolderResourceList`, `PathSegment`, `FolderResourceType.Type`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Pagination;

/// The `parent_id` of an object at the organisation's root.
pub const ROOT_FOLDER: &str = "root";

cloud_enum!(
    /// `FolderResourceType.Type`
    FolderResourceType { Folder => "FOLDER", Cluster => "CLUSTER" }
);

/// `PathSegment`: one ancestor of a folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathSegment {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// `FolderResource`: a folder (or, in a folder's contents, a cluster) with its lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderResource {
    pub resource_id: String,
    pub resource_type: FolderResourceType,
    /// `root` for an object at the organisation's root.
    pub parent_id: String,
    pub organization_id: String,
    pub name: String,
    /// The ancestors, from the root down.
    #[serde(default)]
    pub path: Vec<PathSegment>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl FolderResource {
    /// The parent as the API spells it in requests: `root` or a folder ID (an empty parent is the root).
    pub fn parent(&self) -> &str {
        if self.parent_id.is_empty() { ROOT_FOLDER } else { &self.parent_id }
    }
}

/// `CreateFolderRequest`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateFolderRequest {
    pub name: String,
    /// A folder ID; empty or `root` creates the folder at the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// `UpdateFolderSpecification`: absent fields are left alone; `labels`, when present, replaces
/// the whole label set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateFolderSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

impl UpdateFolderSpec {
    /// True when the PATCH would change nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `ListFoldersResponse`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListFoldersResponse {
    pub folders: Vec<FolderResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `FolderResourceList`: a folder's contents (folders by name, then clusters by name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FolderResourceList {
    #[serde(default)]
    pub resources: Vec<FolderResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}
