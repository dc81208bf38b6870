//! Database: create, rename in place (the API supports it), delete.

use crate::api::{Database, DatabaseStatus};
use crate::api::child::ChildStatusFields;
use crate::cloud::models;
use crate::cloud::{CloudClient, CloudError, Listing};

use crate::controller::context::Context;
use crate::controller::driver::Kind;
use crate::controller::error::ReconcileError;
use crate::controller::member::{Done, Member, MemberShape, Target};
use crate::controller::reason::Reason;

crate::impl_status_fields!(DatabaseStatus, common.base);

impl Kind for Database {
    type Shape = MemberShape;
}

/// The one write a database may need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseChange {
    Create { name: String },
    /// A new spec.name for a database this resource already manages.
    Rename { from: String, to: String },
}

impl Member for Database {
    type Cloud = models::Database;
    type Inputs = ();
    type Change = DatabaseChange;
    const NOUN: &'static str = "database";

    fn desired_key(&self) -> Result<String, ReconcileError> {
        Ok(self.db_name())
    }

    fn spec_of(item: &models::Database) -> serde_json::Value {
        serde_json::json!({"name": item.name})
    }

    fn key_of(item: &models::Database) -> String {
        item.name.clone()
    }

    async fn list(cloud: &CloudClient, cluster_id: &str) -> Result<Listing<models::Database>, CloudError> {
        cloud.list_databases(cluster_id).await
    }

    async fn inputs(&self, _ctx: &Context, _target: &Target, _listed: &[models::Database]) -> Result<(), ReconcileError> {
        Ok(())
    }

    fn plan(&self, _inputs: &(), listed: &[models::Database], status: &DatabaseStatus) -> Result<Option<DatabaseChange>, ReconcileError> {
        let name = self.db_name();
        // The database this resource manages, still under its old name after spec.name changed.
        let renamed_from = status.common().cloud_name.clone().filter(|old| *old != name && Self::contains(listed, old));
        if Self::contains(listed, &name) {
            // A new name that another database already holds: renaming would fail, and taking the
            // other one over would leave ours unmanaged. A person has to decide.
            if let Some(old) = renamed_from {
                return Err(ReconcileError::stalled(
                    Reason::NameInUse,
                    format!("spec.name: database {name} already exists on the cluster, so database {old} cannot be renamed to it; choose another name or remove one of the two"),
                ));
            }
            return Ok(None);
        }
        Ok(Some(match renamed_from {
            Some(from) => DatabaseChange::Rename { from, to: name },
            None => DatabaseChange::Create { name },
        }))
    }

    async fn execute(&self, _ctx: &Context, target: &Target, _inputs: &(), change: DatabaseChange) -> Result<Done<models::Database>, ReconcileError> {
        match change {
            DatabaseChange::Rename { from, to } => {
                target.cloud.rename_database(&target.cluster_id, &from, &to).await.map_err(|e| ReconcileError::cloud("renaming the database", e))?;
                Ok(Done::to_confirm(Reason::Renamed, format!("renamed database {from} to {to}")))
            }
            DatabaseChange::Create { name } => match target.cloud.create_database(&target.cluster_id, &name).await {
                Ok(db) => Ok(Done::changed(Reason::Created, format!("created database {name}"), db)),
                // Created by someone else meanwhile (or by our own lost request): adopt it.
                Err(CloudError::AlreadyExists(_)) => Ok(Done::to_confirm(Reason::Adopted, format!("adopted existing database {name}"))),
                Err(e) => Err(ReconcileError::cloud("creating the database", e)),
            },
        }
    }

    fn record(&self, status: &mut DatabaseStatus, _inputs: &(), item: Option<&models::Database>) {
        if let Some(db) = item {
            status.table_count = db.table_count;
        }
    }

    async fn delete(cloud: &CloudClient, cluster_id: &str, key: &str) -> Result<(), CloudError> {
        cloud.delete_database(cluster_id, key).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::database::DatabaseSpec;

    fn database(name: &str, recorded: Option<&str>) -> (Database, DatabaseStatus) {
        let db = Database::new(name, DatabaseSpec { cluster_ref: None, cluster_id: Some("c".into()), name: None, deletion_policy: Default::default(), management_policy: Default::default(), credentials_ref: None });
        let mut status = DatabaseStatus::default();
        status.common.cloud_name = recorded.map(str::to_string);
        (db, status)
    }

    fn listed(names: &[&str]) -> Vec<models::Database> {
        names.iter().map(|n| models::Database { name: n.to_string(), table_count: Some(0) }).collect()
    }

    #[test]
    fn a_missing_database_is_created_and_a_listed_one_is_left_alone() {
        let (db, status) = database("orders", None);
        assert_eq!(db.plan(&(), &listed(&["other"]), &status).unwrap(), Some(DatabaseChange::Create { name: "orders".into() }));
        assert_eq!(db.plan(&(), &listed(&["orders"]), &status).unwrap(), None);
    }

    #[test]
    fn a_new_name_renames_the_managed_database_in_place() {
        let (db, status) = database("orders2", Some("orders"));
        assert_eq!(db.plan(&(), &listed(&["orders"]), &status).unwrap(), Some(DatabaseChange::Rename { from: "orders".into(), to: "orders2".into() }));
        // The old one is gone (dropped outside): the new name is created, not renamed.
        assert_eq!(db.plan(&(), &listed(&[]), &status).unwrap(), Some(DatabaseChange::Create { name: "orders2".into() }));
    }

    #[test]
    fn renaming_onto_a_name_in_use_stalls_naming_the_field() {
        let (db, status) = database("taken", Some("orders"));
        let err = db.plan(&(), &listed(&["orders", "taken"]), &status).unwrap_err();
        assert!(err.is_stalled() && err.reason == Reason::NameInUse, "{err:?}");
        assert!(err.message.starts_with("spec.name:"), "{}", err.message);
    }
}
