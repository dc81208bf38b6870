//! Role grants: `GET /roles/{user_id}` and the single-grant `POST`/`DELETE
//! /roles/{user_id}/{resource_type}/{resource_id}/{role_name}`, typed per the official schemas
//! (`BuiltInRole`, `Resource`, `GetAllRolesForUserResponse`, `BuiltInFromGroups`).

use serde::{Deserialize, Serialize};

cloud_enum!(
    /// `OrganizationUserRole.Type`
    OrganizationUserRole {
        BillingCoordinator => "BILLING_COORDINATOR",
        OrgAdmin => "ORG_ADMIN",
        OrgMember => "ORG_MEMBER",
        ClusterAdmin => "CLUSTER_ADMIN",
        ClusterOperatorWriter => "CLUSTER_OPERATOR_WRITER",
        ClusterDeveloper => "CLUSTER_DEVELOPER",
        ClusterCreator => "CLUSTER_CREATOR",
        FolderAdmin => "FOLDER_ADMIN",
        FolderMover => "FOLDER_MOVER",
        MetricsViewer => "METRICS_VIEWER",
        ClusterMonitor => "CLUSTER_MONITOR",
        BillingViewer => "BILLING_VIEWER",
    }
);
cloud_enum!(
    /// `ResourceType.Type`
    ResourceType { Organization => "ORGANIZATION", Cluster => "CLUSTER", Folder => "FOLDER" }
);

/// `Resource`: what a role is granted on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RoleResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
}

/// `BuiltInRole`: one role on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuiltInRole {
    pub name: OrganizationUserRole,
    pub resource: RoleResource,
}

impl BuiltInRole {
    /// `TYPE/ID/ROLE`, the grant's identity (and the path segments of its POST and DELETE).
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.resource.resource_type.as_str(), self.resource.id.as_deref().unwrap_or(""), self.name.as_str())
    }
}

/// `BuiltInFromGroups`: a role a user holds through group membership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltInFromGroups {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<BuiltInRole>,
}

/// `GetAllRolesForUserResponse`: the answer of every role operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAllRolesForUserResponse {
    #[serde(default)]
    pub roles: Vec<BuiltInRole>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_roles: Vec<BuiltInFromGroups>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_reads_and_writes_the_official_shape() {
        let text = r#"{"roles":[{"name":"CLUSTER_ADMIN","resource":{"id":"c1","type":"CLUSTER"}},{"name":"ORG_MEMBER","resource":{"type":"ORGANIZATION"}}]}"#;
        let parsed: GetAllRolesForUserResponse = serde_json::from_str(text).unwrap();
        assert_eq!(parsed.roles[0].key(), "CLUSTER/c1/CLUSTER_ADMIN");
        assert_eq!(parsed.roles[1].key(), "ORGANIZATION//ORG_MEMBER");
        assert_eq!(serde_json::to_string(&parsed).unwrap(), text);
    }
}
