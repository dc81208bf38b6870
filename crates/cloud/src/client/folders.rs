//! Folders (organisation-level): list, create, get, update, delete, and a folder's contents.

use super::{Call, CloudClient, CloudError, Listing, Operation};
use crate::models::{CreateFolderRequest, Empty, FolderResource, FolderResourceList, ListFoldersResponse, UpdateFolderSpec};

impl CloudClient {
    /// Every folder of the organisation (every page).
    pub async fn list_folders(&self) -> Result<Listing<FolderResource>, CloudError> {
        self.list_all(Operation::ListFolders, &[], &[], |r: ListFoldersResponse| (r.folders, r.pagination)).await
    }

    /// Sent once; see the module documentation of the client.
    pub async fn create_folder(&self, request: &CreateFolderRequest) -> Result<FolderResource, CloudError> {
        self.send(Call::new(Operation::CreateFolder, &[]).body(request)?).await
    }

    pub async fn get_folder(&self, id: &str) -> Result<FolderResource, CloudError> {
        self.send(Call::new(Operation::GetFolder, &[id])).await
    }

    pub async fn update_folder(&self, id: &str, spec: &UpdateFolderSpec) -> Result<FolderResource, CloudError> {
        self.send(Call::new(Operation::UpdateFolder, &[id]).body(spec)?).await
    }

    /// The cloud refuses to delete a folder that holds folders or clusters (FAILED_PRECONDITION).
    pub async fn delete_folder(&self, id: &str) -> Result<(), CloudError> {
        self.send::<Empty>(Call::new(Operation::DeleteFolder, &[id])).await.map(|_| ())
    }

    /// What a folder holds (`root` for the organisation's root): folders, then clusters.
    pub async fn list_folder_contents(&self, id: &str) -> Result<Listing<FolderResource>, CloudError> {
        self.list_all(Operation::ListFolderContents, &[id], &[], |r: FolderResourceList| (r.resources, r.pagination)).await
    }
}
