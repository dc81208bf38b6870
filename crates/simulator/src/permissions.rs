//! Roles as permissions. A key created through the API acts as its service account and may do
//! only what the account's roles allow; the keys the simulator is started with stay organisation
//! admins with every right, so a test that never grants a role sees the simulator it always saw.
//!
//! The rules, from the documented role table (CockroachDB Cloud "Access Management Overview"):
//! - a write to a cluster or what it holds (update, settings blocks, databases, allowlist, egress,
//!   private endpoints) needs CLUSTER_ADMIN or CLUSTER_OPERATOR_WRITER; deleting the cluster and
//!   managing its SQL users need CLUSTER_ADMIN (the only role the table lets do either);
//! - creating a cluster needs CLUSTER_ADMIN or CLUSTER_CREATOR on the folder it goes into, and
//!   moving one (an update naming `parent_id`) needs the same on the destination;
//! - folders: FOLDER_ADMIN (or ORG_ADMIN) on the folder written, or on the parent a folder is
//!   created in or moved to;
//! - every other write (service accounts, API keys, role grants, JWT issuers) needs ORG_ADMIN;
//! - a role held on a folder covers everything below it, and one held on the organisation covers
//!   everything.
//!
//! Simplifications, documented in the README: reads (every GET) are allowed to any key of the
//! organisation; a Cluster Creator's new cluster does not grant it CLUSTER_ADMIN on that cluster;
//! CLUSTER_ADMIN's right to manage accounts and grants and FOLDER_ADMIN's to grant roles on its
//! folders are not modelled (those writes need ORG_ADMIN here), nor is FOLDER_MOVER.
//!
//! A target the organisation does not hold (an unknown cluster or folder) is not judged here: the
//! handler answers it with its own 404 or 400, as it does for an organisation admin.

use crdb_cloud::Operation;
use crdb_cloud::models::{BuiltInRole, OrganizationUserRole as Role, ROOT_FOLDER, ResourceType};
use reqwest::Method;

use super::errors::ApiError;
use super::state::Org;

/// What a role is needed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Organization,
    /// A folder ID, or `root` for the organisation's root.
    Folder(String),
    Cluster(String),
}

/// One permission a write needs: one of `roles` held on `target` or on something containing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub roles: &'static [Role],
    pub target: Target,
}

/// What a request names, from its path and (for creates and moves) its body.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub cluster_id: Option<&'a str>,
    pub folder_id: Option<&'a str>,
    /// The `parent_id` of the body: where a cluster or folder is created or moved to.
    pub parent_id: Option<&'a str>,
}

const CLUSTER_WRITERS: &[Role] = &[Role::ClusterAdmin, Role::ClusterOperatorWriter];
const CLUSTER_ADMINS: &[Role] = &[Role::ClusterAdmin];
const CLUSTER_CREATORS: &[Role] = &[Role::ClusterAdmin, Role::ClusterCreator];
const FOLDER_ADMINS: &[Role] = &[Role::OrgAdmin, Role::FolderAdmin];
const ORG_ADMINS: &[Role] = &[Role::OrgAdmin];

/// Where an operation's body names the parent its object goes to, as a JSON pointer: the
/// pipeline reads the body of these operations only.
pub fn parent_pointer(operation: Operation) -> Option<&'static str> {
    match operation {
        Operation::CreateCluster => Some("/spec/parent_id"),
        Operation::UpdateCluster | Operation::CreateFolder | Operation::UpdateFolder => Some("/parent_id"),
        _ => None,
    }
}

/// The folder a parent names (`root` when the body names none).
fn folder(parent: Option<&str>) -> Target {
    Target::Folder(parent.filter(|p| !p.is_empty()).unwrap_or(ROOT_FOLDER).to_string())
}

/// What `operation` needs; nothing for a read.
pub fn needs(operation: Operation, request: &Request) -> Vec<Need> {
    use Operation::*;
    if operation.method() == Method::GET {
        return Vec::new();
    }
    let need = |roles, target| Need { roles, target };
    let cluster = |roles| request.cluster_id.map(|id| need(roles, Target::Cluster(id.to_string())));
    let moved_to = |roles| request.parent_id.map(|parent| need(roles, folder(Some(parent))));
    let this_folder = || request.folder_id.map(|id| need(FOLDER_ADMINS, Target::Folder(id.to_string())));
    match operation {
        CreateCluster => vec![need(CLUSTER_CREATORS, folder(request.parent_id))],
        UpdateCluster => cluster(CLUSTER_WRITERS).into_iter().chain(moved_to(CLUSTER_CREATORS)).collect(),
        DeleteCluster | CreateSQLUser | DeleteSQLUser | UpdateSQLUserPassword => cluster(CLUSTER_ADMINS).into_iter().collect(),
        CreateFolder => vec![need(FOLDER_ADMINS, folder(request.parent_id))],
        UpdateFolder => this_folder().into_iter().chain(moved_to(FOLDER_ADMINS)).collect(),
        DeleteFolder => this_folder().into_iter().collect(),
        // Every other write under /clusters/{cluster_id} is to the cluster or what it holds.
        _ if request.cluster_id.is_some() => cluster(CLUSTER_WRITERS).into_iter().collect(),
        _ => vec![need(ORG_ADMINS, Target::Organization)],
    }
}

/// The target and everything containing it, up to the organisation (the resources a covering
/// role may be held on); `None` when the organisation does not hold the target.
pub fn lineage(org: &Org, target: &Target) -> Option<Vec<(ResourceType, String)>> {
    let mut chain = Vec::new();
    let mut folder = match target {
        Target::Organization => ROOT_FOLDER.to_string(),
        Target::Folder(id) => id.clone(),
        Target::Cluster(id) => {
            let record = org.clusters.get(id)?;
            chain.push((ResourceType::Cluster, id.clone()));
            record.cluster.parent_id.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| ROOT_FOLDER.to_string())
        }
    };
    while folder != ROOT_FOLDER {
        // The tree has no cycles (moves under a descendant are refused); the bound is a safety net.
        let record = org.folders.get(&folder).filter(|_| chain.len() <= org.folders.len() + 1)?;
        chain.push((ResourceType::Folder, folder.clone()));
        folder = record.parent_id.clone();
    }
    chain.push((ResourceType::Organization, org.info.id.clone()));
    Some(chain)
}

/// Whether `grants` hold one of the needed roles on a resource of `lineage`; otherwise the
/// refusal the service answers: 403 PERMISSION_DENIED naming the roles and the scope.
pub fn authorize(principal: &str, grants: &[BuiltInRole], need: &Need, lineage: &[(ResourceType, String)]) -> Result<(), ApiError> {
    let covers = |grant: &BuiltInRole| {
        need.roles.contains(&grant.name)
            && lineage.iter().any(|(kind, id)| *kind == grant.resource.resource_type && grant.resource.id.as_deref() == Some(id.as_str()))
    };
    if grants.iter().any(covers) {
        return Ok(());
    }
    let roles: Vec<&str> = need.roles.iter().map(Role::as_str).collect();
    let scope = match &need.target {
        Target::Organization => "the organization".to_string(),
        Target::Folder(id) if id == ROOT_FOLDER => "the organization".to_string(),
        Target::Folder(id) => format!("folder {id}, a folder containing it, or the organization"),
        Target::Cluster(id) => format!("cluster {id}, a folder containing it, or the organization"),
    };
    Err(ApiError::permission_denied(format!(
        "service account {principal} is not allowed to do this: it needs the role {} on {scope}",
        roles.join(" or ")
    )))
}

/// The one check of the request pipeline: whether `principal` (a service account of `org`) may
/// perform `operation` on what `request` names.
pub fn check(org: &Org, principal: &str, operation: Operation, request: &Request) -> Result<(), ApiError> {
    let grants = org.roles.get(principal).map(Vec::as_slice).unwrap_or_default();
    for need in needs(operation, request) {
        if let Some(lineage) = lineage(org, &need.target) {
            authorize(principal, grants, &need, &lineage)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::folders::FolderRecord;
    use crate::state::Store;
    use crdb_cloud::models::{RoleResource, grpc_code};

    const SA: &str = "sa-1";
    const TEAM: &str = "f-team";
    const PROD: &str = "f-prod";
    const OTHER: &str = "f-other";
    const IN_PROD: &str = "c-prod";
    const AT_ROOT: &str = "c-root";

    fn cluster(id: &str) -> crate::state::ClusterRecord {
        use crdb_cloud::models::{CloudProvider, CreateClusterRequest, CreateClusterSpec, ServerlessCreateSpec};
        let spec = CreateClusterSpec { serverless: Some(ServerlessCreateSpec { regions: vec!["us-central1".into()], ..Default::default() }), ..Default::default() };
        let valid = crate::validation::create_request(&CreateClusterRequest { name: id.into(), provider: CloudProvider::Gcp, spec }).unwrap();
        let timing = crate::state::Timing::from_std(std::time::Duration::ZERO, std::time::Duration::ZERO, std::time::Duration::ZERO);
        crate::provision::new_cluster(&valid, id.into(), "creator".into(), chrono::Utc::now(), &timing)
    }

    /// An organisation with folders team > prod and other, a cluster in prod and one at the root.
    fn org() -> Store {
        let mut store = Store::new(&["k".to_string()], chrono::Utc::now());
        let org_id = store.org_id_for_key("k").unwrap().to_string();
        let org = store.org(&org_id, chrono::Utc::now()).unwrap();
        for (id, parent) in [(TEAM, ROOT_FOLDER), (PROD, TEAM), (OTHER, ROOT_FOLDER)] {
            org.folders.insert(id.into(), FolderRecord { id: id.into(), name: id.into(), parent_id: parent.into(), labels: Default::default() });
        }
        for (id, parent) in [(IN_PROD, Some(PROD)), (AT_ROOT, None)] {
            let mut record = cluster(id);
            record.cluster.parent_id = parent.map(str::to_string);
            org.clusters.insert(id.into(), record);
        }
        store
    }

    fn with_grant(store: &mut Store, role: Role, resource_type: ResourceType, id: Option<&str>) -> String {
        let org_id = store.org_id_for_key("k").unwrap().to_string();
        let org = store.org(&org_id, chrono::Utc::now()).unwrap();
        let id = id.map_or_else(|| org.info.id.clone(), str::to_string);
        org.roles.entry(SA.into()).or_default().push(BuiltInRole { name: role, resource: RoleResource { resource_type, id: Some(id) } });
        org_id
    }

    fn verdict(store: &mut Store, org_id: &str, operation: Operation, request: Request) -> Result<(), ApiError> {
        check(store.org(org_id, chrono::Utc::now()).unwrap(), SA, operation, &request)
    }

    fn on_cluster(id: &str) -> Request<'_> {
        Request { cluster_id: Some(id), ..Default::default() }
    }

    fn into_folder(parent: Option<&str>) -> Request<'_> {
        Request { parent_id: parent, ..Default::default() }
    }

    #[test]
    fn cluster_admin_on_a_folder_covers_what_lies_below_it_and_nothing_else() {
        let mut store = org();
        let org_id = with_grant(&mut store, Role::ClusterAdmin, ResourceType::Folder, Some(TEAM));
        for operation in [Operation::UpdateCluster, Operation::DeleteCluster, Operation::CreateSQLUser, Operation::AddAllowlistEntry, Operation::EnableLogExport] {
            assert_eq!(verdict(&mut store, &org_id, operation, on_cluster(IN_PROD)), Ok(()), "{operation} in a sub-folder");
        }
        assert_eq!(verdict(&mut store, &org_id, Operation::CreateCluster, into_folder(Some(PROD))), Ok(()));
        let outside = verdict(&mut store, &org_id, Operation::CreateCluster, into_folder(None)).unwrap_err();
        assert_eq!((outside.status.as_u16(), outside.code), (403, grpc_code::PERMISSION_DENIED));
        assert!(outside.message.contains("CLUSTER_ADMIN or CLUSTER_CREATOR on the organization"), "{outside}");
        let elsewhere = verdict(&mut store, &org_id, Operation::CreateDatabase, on_cluster(AT_ROOT)).unwrap_err();
        assert!(elsewhere.message.contains(&format!("cluster {AT_ROOT}, a folder containing it")), "{elsewhere}");
        assert!(verdict(&mut store, &org_id, Operation::CreateCluster, into_folder(Some(OTHER))).is_err());
        // Moving its cluster out of the folder needs the right to create where it lands.
        let moved = Request { cluster_id: Some(IN_PROD), parent_id: Some(ROOT_FOLDER), ..Default::default() };
        assert!(verdict(&mut store, &org_id, Operation::UpdateCluster, moved).is_err());
    }

    #[test]
    fn reads_are_open_and_organisation_writes_need_org_admin() {
        let mut store = org();
        let org_id = with_grant(&mut store, Role::ClusterAdmin, ResourceType::Organization, None);
        for read in [Operation::ListClusters, Operation::GetCluster, Operation::ListServiceAccounts, Operation::GetAllRolesForUser] {
            assert_eq!(verdict(&mut store, &org_id, read, on_cluster(AT_ROOT)), Ok(()), "{read}");
        }
        assert_eq!(verdict(&mut store, &org_id, Operation::CreateCluster, into_folder(None)), Ok(()), "an organisation grant covers the root");
        for write in [Operation::CreateServiceAccount, Operation::CreateApiKey, Operation::AddUserToRole, Operation::AddJWTIssuer, Operation::CreateFolder] {
            let refused = verdict(&mut store, &org_id, write, Request::default()).unwrap_err();
            assert!(refused.message.contains("ORG_ADMIN"), "{write}: {refused}");
        }
        with_grant(&mut store, Role::OrgAdmin, ResourceType::Organization, None);
        assert_eq!(verdict(&mut store, &org_id, Operation::AddUserToRole, Request::default()), Ok(()));
    }

    #[test]
    fn an_operator_writes_but_only_an_admin_deletes_or_manages_sql_users() {
        let mut store = org();
        let org_id = with_grant(&mut store, Role::ClusterOperatorWriter, ResourceType::Cluster, Some(IN_PROD));
        for write in [Operation::UpdateCluster, Operation::CreateDatabase, Operation::AddEgressRule, Operation::SetMaintenanceWindow] {
            assert_eq!(verdict(&mut store, &org_id, write, on_cluster(IN_PROD)), Ok(()), "{write}");
        }
        for admin in [Operation::DeleteCluster, Operation::CreateSQLUser, Operation::UpdateSQLUserPassword] {
            let refused = verdict(&mut store, &org_id, admin, on_cluster(IN_PROD)).unwrap_err();
            assert!(refused.message.contains("needs the role CLUSTER_ADMIN on"), "{admin}: {refused}");
        }
        // A creator creates, but a developer or monitor role writes nothing.
        with_grant(&mut store, Role::ClusterCreator, ResourceType::Folder, Some(OTHER));
        assert_eq!(verdict(&mut store, &org_id, Operation::CreateCluster, into_folder(Some(OTHER))), Ok(()));
        with_grant(&mut store, Role::ClusterDeveloper, ResourceType::Cluster, Some(AT_ROOT));
        assert!(verdict(&mut store, &org_id, Operation::CreateDatabase, on_cluster(AT_ROOT)).is_err());
    }

    #[test]
    fn a_folder_admin_manages_folders_below_its_own() {
        let mut store = org();
        let org_id = with_grant(&mut store, Role::FolderAdmin, ResourceType::Folder, Some(TEAM));
        assert_eq!(verdict(&mut store, &org_id, Operation::CreateFolder, into_folder(Some(PROD))), Ok(()));
        let rename = Request { folder_id: Some(PROD), ..Default::default() };
        assert_eq!(verdict(&mut store, &org_id, Operation::UpdateFolder, rename.clone()), Ok(()));
        assert_eq!(verdict(&mut store, &org_id, Operation::DeleteFolder, rename), Ok(()));
        assert!(verdict(&mut store, &org_id, Operation::CreateFolder, into_folder(None)).is_err(), "the root is the organisation's");
        let out = Request { folder_id: Some(PROD), parent_id: Some(OTHER), ..Default::default() };
        assert!(verdict(&mut store, &org_id, Operation::UpdateFolder, out).is_err(), "moving out needs the destination too");
        assert!(verdict(&mut store, &org_id, Operation::DeleteFolder, Request { folder_id: Some(OTHER), ..Default::default() }).is_err());
    }

    #[test]
    fn an_unknown_target_is_left_to_the_handler() {
        let mut store = org();
        let org_id = store.org_id_for_key("k").unwrap().to_string();
        assert_eq!(verdict(&mut store, &org_id, Operation::DeleteCluster, on_cluster("gone")), Ok(()));
        assert_eq!(verdict(&mut store, &org_id, Operation::CreateCluster, into_folder(Some("no-such-folder"))), Ok(()));
        assert!(verdict(&mut store, &org_id, Operation::DeleteCluster, on_cluster(AT_ROOT)).is_err(), "no grant at all");
    }
}
