//! `Folder`: a folder of the CockroachDB Cloud organisation, holding clusters and other folders.
//! Organisation-level: honoured only in namespaces the operator trusts for such kinds.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CredentialsRef, DeletionPolicy, StatusBase};

/// Desired state of a CockroachDB Cloud folder.
#[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "crdbcloud.io",
    version = "v1alpha1",
    kind = "Folder",
    namespaced,
    status = "FolderStatus",
    shortname = "crdbfolder",
    shortname = "crdbfolders",
    category = "crdbcloud",
    printcolumn = r#"{"name":"Path","type":"string","jsonPath":".status.path"}"#,
    printcolumn = r#"{"name":"Folder ID","type":"string","priority":1,"jsonPath":".status.folderId"}"#,
    validation = Rule::new("has(self.spec.name) || self.metadata.name.matches('^[a-z0-9-]{1,64}$')").message("metadata.name is used as the cloud folder name when spec.name is unset, and a folder name is 1-64 characters of letters, digits, '-', '_' and spaces (no dots); set spec.name"),
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.parentRef) && has(self.parentId))").message("at most one of spec.parentRef or spec.parentId may be set"))]
#[x_kube(validation = Rule::new("has(self.adoptFolderId) == has(oldSelf.adoptFolderId) && (!has(self.adoptFolderId) || self.adoptFolderId == oldSelf.adoptFolderId)").message("spec.adoptFolderId is immutable"))]
pub struct FolderSpec {
    /// Name of the folder in CockroachDB Cloud: 1-64 characters of letters, digits, '-', '_' and
    /// inner spaces, unique among the folders of its parent. Defaults to metadata.name. Changing it
    /// renames the folder in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9_-]([A-Za-z0-9 _-]*[A-Za-z0-9_-])?$"))]
    pub name: Option<String>,

    /// The parent folder: another Folder resource in this namespace. The folder is created once the
    /// parent has its cloud ID. At most one of parentRef and parentId; neither means the
    /// organisation's root. Changing it moves the folder in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_ref: Option<LocalFolderRef>,

    /// The parent folder by cloud ID, or `root`. At most one of parentRef and parentId; neither
    /// means the organisation's root. Changing it moves the folder in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(root|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"))]
    pub parent_id: Option<String>,

    /// Labels on the cloud folder. When set, the operator keeps the cloud labels equal to these
    /// (plus its own ownership label); when unset, cloud labels are left alone. At most 50; keys
    /// match `^[a-z][a-z0-9_-]*$` (1-63 characters), values `^[a-z0-9_-]*$` (at most 63).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Values and the count are plain schema (no CEL cost); keys need CEL, bounded by the count.
    #[schemars(extend("maxProperties" = 50, "additionalProperties" = {"type": "string", "maxLength": 63, "pattern": "^[a-z0-9_-]*$"}))]
    #[x_kube(validation = Rule::new("self.all(k, k.matches('^[a-z][a-z0-9_-]{0,62}$'))").message("spec.labels keys must match ^[a-z][a-z0-9_-]*$ and be 1-63 characters"))]
    pub labels: Option<BTreeMap<String, String>>,

    /// ID of an existing cloud folder to adopt instead of creating one; the operator then renames,
    /// moves and labels it as the spec says. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 36), regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
    pub adopt_folder_id: Option<String>,

    /// What happens to the cloud folder when this resource is deleted: `Delete` (default) deletes
    /// it (the cloud refuses while it holds clusters or folders), `Retain` leaves it in the cloud.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Manage` (default) makes the cloud match the spec; `Observe` never writes to the cloud and
    /// lists the differences in `status.drift`.
    #[serde(default)]
    pub management_policy: crate::api::common::ManagementPolicy,

    /// Secret with the CockroachDB Cloud API key to use for this folder, in this namespace.
    /// Defaults to the operator-wide key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<CredentialsRef>,
}

/// A Folder in the same namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
pub struct LocalFolderRef {
    /// Name of the Folder resource.
    #[x_kube(validation = Rule::new("self.size() > 0").message("the Folder name must not be empty"))]
    pub name: String,
}

/// Observed state of a folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FolderStatus {
    #[serde(flatten)]
    pub base: StatusBase,
    /// ID of the cloud folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_id: Option<String>,
    /// The parent the cloud reports: a folder ID, or `root`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The folder's absolute path of names in the cloud, e.g. `/platform/prod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Set just before the create request is sent, cleared once the folder ID is recorded. After a
    /// crash it tells the operator to look for a folder it may already have created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<String>,
}

impl Folder {
    /// The folder's name in the cloud: spec.name, else metadata.name.
    pub fn cloud_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
}
