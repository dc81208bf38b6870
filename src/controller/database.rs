//! Database: create, rename in place (the API supports it), delete.

use crate::api::{ChildSpec, ChildStatus, Database};
use crate::cloud::cache::ListCache;
use crate::cloud::models;
use crate::cloud::{CloudClient, CloudError, Listing};

use super::child::{ChildKind, Converged, Target};
use super::context::Context;
use super::error::ReconcileError;
use super::reason::Reason;
use super::reconciler::Managed;

impl Managed for Database {
    type Status = ChildStatus;
    fn status(&self) -> Option<&ChildStatus> {
        self.status.as_ref()
    }
}

impl ChildKind for Database {
    type Cloud = models::Database;
    const NOUN: &'static str = "database";

    fn child_spec(&self) -> &dyn ChildSpec {
        &self.spec
    }

    fn desired_key(&self) -> Result<String, ReconcileError> {
        Ok(self.db_name())
    }

    fn cache(ctx: &Context) -> &ListCache<models::Database> {
        &ctx.caches.databases
    }

    async fn list(cloud: &CloudClient, cluster_id: &str) -> Result<Listing<models::Database>, CloudError> {
        cloud.list_databases(cluster_id).await
    }

    fn key_of(item: &models::Database) -> String {
        item.name.clone()
    }

    async fn converge(
        &self,
        _ctx: &Context,
        target: &Target,
        listed: &[models::Database],
        status: &mut ChildStatus,
    ) -> Result<Converged<models::Database>, ReconcileError> {
        let name = self.db_name();
        // The database this resource manages, still under its old name after spec.name changed.
        let renamed_from = status.cloud_name.clone().filter(|old| *old != name && Self::contains(listed, old));
        // A new name that another database already holds: renaming would fail, and taking the
        // other one over would leave ours unmanaged. A person has to decide.
        if let Some(old) = &renamed_from
            && Self::contains(listed, &name)
        {
            return Err(ReconcileError::stalled(
                Reason::NameInUse,
                format!("spec.name: database {name} already exists on the cluster, so database {old} cannot be renamed to it; choose another name or remove one of the two"),
            ));
        }
        if let Some(db) = listed.iter().find(|d| d.name == name) {
            status.table_count = db.table_count;
            return Ok(Converged::InSync);
        }
        // A new name for a database this resource already manages: rename in place.
        if let Some(old) = renamed_from {
            target
                .cloud
                .rename_database(&target.cluster_id, &old, &name)
                .await
                .map_err(|e| ReconcileError::cloud("renaming the database", e))?;
            return Ok(Converged::to_confirm(Reason::Renamed, format!("renamed database {old} to {name}")));
        }
        match target.cloud.create_database(&target.cluster_id, &name).await {
            Ok(db) => {
                status.table_count = db.table_count;
                Ok(Converged::changed(Reason::Created, format!("created database {name}"), db))
            }
            // Created by someone else meanwhile (or by our own lost request): adopt it.
            Err(CloudError::AlreadyExists(_)) => Ok(Converged::to_confirm(Reason::Adopted, format!("adopted existing database {name}"))),
            Err(e) => Err(ReconcileError::cloud("creating the database", e)),
        }
    }

    async fn delete(cloud: &CloudClient, cluster_id: &str, key: &str) -> Result<(), CloudError> {
        cloud.delete_database(cluster_id, key).await.map(|_| ())
    }
}
