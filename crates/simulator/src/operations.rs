//! The operations the simulator serves, named by the official description's operationId (without
//! the `CockroachCloud_` prefix). The names label stats, the request log and faults.

/// (method, path template, operation). Templates use the description's `{param}` syntax.
pub const OPERATIONS: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/organization", "GetOrganizationInfo"),
    ("GET", "/api/v1/clusters", "ListClusters"),
    ("POST", "/api/v1/clusters", "CreateCluster"),
    ("GET", "/api/v1/cluster-versions", "ListMajorClusterVersions"),
    ("GET", "/api/v1/clusters/available-regions", "ListAvailableRegions"),
    ("GET", "/api/v1/clusters/{cluster_id}", "GetCluster"),
    ("PATCH", "/api/v1/clusters/{cluster_id}", "UpdateCluster"),
    ("DELETE", "/api/v1/clusters/{cluster_id}", "DeleteCluster"),
    ("GET", "/api/v1/clusters/{cluster_id}/connection-string", "GetConnectionString"),
    ("GET", "/api/v1/clusters/{cluster_id}/sql-users", "ListSQLUsers"),
    ("POST", "/api/v1/clusters/{cluster_id}/sql-users", "CreateSQLUser"),
    ("DELETE", "/api/v1/clusters/{cluster_id}/sql-users/{name}", "DeleteSQLUser"),
    ("PUT", "/api/v1/clusters/{cluster_id}/sql-users/{name}/password", "UpdateSQLUserPassword"),
    ("GET", "/api/v1/clusters/{cluster_id}/databases", "ListDatabases"),
    ("POST", "/api/v1/clusters/{cluster_id}/databases", "CreateDatabase"),
    ("PATCH", "/api/v1/clusters/{cluster_id}/databases", "EditDatabase2"),
    ("PATCH", "/api/v1/clusters/{cluster_id}/databases/{name}", "EditDatabase"),
    ("DELETE", "/api/v1/clusters/{cluster_id}/databases/{name}", "DeleteDatabase"),
    ("GET", "/api/v1/clusters/{cluster_id}/networking/allowlist", "ListAllowlistEntries"),
    ("POST", "/api/v1/clusters/{cluster_id}/networking/allowlist", "AddAllowlistEntry"),
    ("PATCH", "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}", "UpdateAllowlistEntry"),
    ("PUT", "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}", "AddAllowlistEntry2"),
    ("DELETE", "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}", "DeleteAllowlistEntry"),
    ("GET", "/api/v1/clusters/{cluster_id}/backups-config", "GetBackupConfiguration"),
    ("PATCH", "/api/v1/clusters/{cluster_id}/backups-config", "UpdateBackupConfiguration"),
];

/// The label of requests that match no operation.
pub const UNKNOWN: &str = "Unknown";

pub fn is_known(operation: &str) -> bool {
    OPERATIONS.iter().any(|(_, _, op)| *op == operation)
}

/// The operation a request is for. Literal segments beat parameters, so
/// `/api/v1/clusters/available-regions` is not taken for a cluster id.
pub fn operation_for(method: &str, path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    OPERATIONS
        .iter()
        .filter(|(m, _, _)| *m == method)
        .filter_map(|(_, template, op)| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literals = 0;
            for (t, s) in parts.iter().zip(&segments) {
                if t.starts_with('{') {
                    if s.is_empty() {
                        return None;
                    }
                } else if t == s {
                    literals += 1;
                } else {
                    return None;
                }
            }
            Some((literals, *op))
        })
        .max_by_key(|(literals, _)| *literals)
        .map_or(UNKNOWN, |(_, op)| op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_templates_preferring_literals() {
        assert_eq!(operation_for("GET", "/api/v1/clusters/available-regions"), "ListAvailableRegions");
        assert_eq!(operation_for("GET", "/api/v1/clusters/abc"), "GetCluster");
        assert_eq!(operation_for("DELETE", "/api/v1/clusters/abc/networking/allowlist/10.0.0.0/8"), "DeleteAllowlistEntry");
        assert_eq!(operation_for("PUT", "/api/v1/clusters/abc/sql-users/bob/password"), "UpdateSQLUserPassword");
        assert_eq!(operation_for("GET", "/api/v1/nothing"), UNKNOWN);
        assert_eq!(operation_for("POST", "/api/v1/clusters/abc"), UNKNOWN);
    }

    /// Every served operation exists in the official description under the same method and path.
    /// The description lives in ../shared/specs (present in CI); its absence is a failure, not a skip.
    #[test]
    fn operations_match_the_official_description() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/specs/cockroach-cloud-openapi.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("the official API description is required: {path}: {e}"));
        let spec: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (method, template, op) in OPERATIONS {
            let id = &spec["paths"][template][method.to_lowercase()]["operationId"];
            assert_eq!(id.as_str(), Some(format!("CockroachCloud_{op}").as_str()), "{method} {template}");
        }
    }
}
