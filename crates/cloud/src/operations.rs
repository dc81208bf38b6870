//! The Cloud API operations this project speaks, named by the official description's operationId
//! (without the `CockroachCloud_` prefix), each with its method and path template. This one table
//! is what the client sends, what the simulator routes and labels, and what tests name.

use std::fmt;
use std::str::FromStr;

use reqwest::Method;

macro_rules! operations {
    ($($operation:ident: $method:ident $path:literal;)*) => {
        /// One operation of the Cloud API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Operation {
            $($operation,)*
        }

        impl Operation {
            /// Every operation, in the order of the table.
            pub const ALL: &'static [Operation] = &[$(Operation::$operation,)*];

            /// The operationId without the `CockroachCloud_` prefix, e.g. `CreateCluster`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Operation::$operation => stringify!($operation),)*
                }
            }

            pub fn method(self) -> Method {
                match self {
                    $(Operation::$operation => Method::$method,)*
                }
            }

            /// The path template, in the description's (and axum's) `{param}` syntax.
            pub const fn path(self) -> &'static str {
                match self {
                    $(Operation::$operation => $path,)*
                }
            }
        }
    };
}

operations! {
    GetOrganizationInfo: GET "/api/v1/organization";
    ListClusters: GET "/api/v1/clusters";
    CreateCluster: POST "/api/v1/clusters";
    ListMajorClusterVersions: GET "/api/v1/cluster-versions";
    ListAvailableRegions: GET "/api/v1/clusters/available-regions";
    GetCluster: GET "/api/v1/clusters/{cluster_id}";
    UpdateCluster: PATCH "/api/v1/clusters/{cluster_id}";
    DeleteCluster: DELETE "/api/v1/clusters/{cluster_id}";
    GetConnectionString: GET "/api/v1/clusters/{cluster_id}/connection-string";
    ListSQLUsers: GET "/api/v1/clusters/{cluster_id}/sql-users";
    CreateSQLUser: POST "/api/v1/clusters/{cluster_id}/sql-users";
    DeleteSQLUser: DELETE "/api/v1/clusters/{cluster_id}/sql-users/{name}";
    UpdateSQLUserPassword: PUT "/api/v1/clusters/{cluster_id}/sql-users/{name}/password";
    ListDatabases: GET "/api/v1/clusters/{cluster_id}/databases";
    CreateDatabase: POST "/api/v1/clusters/{cluster_id}/databases";
    EditDatabase2: PATCH "/api/v1/clusters/{cluster_id}/databases";
    EditDatabase: PATCH "/api/v1/clusters/{cluster_id}/databases/{name}";
    DeleteDatabase: DELETE "/api/v1/clusters/{cluster_id}/databases/{name}";
    ListAllowlistEntries: GET "/api/v1/clusters/{cluster_id}/networking/allowlist";
    AddAllowlistEntry: POST "/api/v1/clusters/{cluster_id}/networking/allowlist";
    UpdateAllowlistEntry: PATCH "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}";
    AddAllowlistEntry2: PUT "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}";
    DeleteAllowlistEntry: DELETE "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}";
    GetBackupConfiguration: GET "/api/v1/clusters/{cluster_id}/backups-config";
    UpdateBackupConfiguration: PATCH "/api/v1/clusters/{cluster_id}/backups-config";
    GetMaintenanceWindow: GET "/api/v1/clusters/{cluster_id}/maintenance-window";
    SetMaintenanceWindow: PUT "/api/v1/clusters/{cluster_id}/maintenance-window";
    DeleteMaintenanceWindow: DELETE "/api/v1/clusters/{cluster_id}/maintenance-window";
    ListBlackoutWindows: GET "/api/v1/clusters/{cluster_id}/blackout-windows";
    CreateBlackoutWindow: POST "/api/v1/clusters/{cluster_id}/blackout-windows";
    GetBlackoutWindow: GET "/api/v1/clusters/{cluster_id}/blackout-windows/{blackout_window_id}";
    UpdateBlackoutWindow: PATCH "/api/v1/clusters/{cluster_id}/blackout-windows/{blackout_window_id}";
    DeleteBlackoutWindow: DELETE "/api/v1/clusters/{cluster_id}/blackout-windows/{blackout_window_id}";
    GetClusterVersionDeferral: GET "/api/v1/clusters/{cluster_id}/version-deferral";
    SetClusterVersionDeferral: PUT "/api/v1/clusters/{cluster_id}/version-deferral";
    GetLogExportInfo: GET "/api/v1/clusters/{cluster_id}/logexport";
    EnableLogExport: POST "/api/v1/clusters/{cluster_id}/logexport";
    DeleteLogExport: DELETE "/api/v1/clusters/{cluster_id}/logexport";
    GetDatadogMetricExportInfo: GET "/api/v1/clusters/{cluster_id}/metricexport/datadog";
    EnableDatadogMetricExport: POST "/api/v1/clusters/{cluster_id}/metricexport/datadog";
    DeleteDatadogMetricExport: DELETE "/api/v1/clusters/{cluster_id}/metricexport/datadog";
    GetCloudWatchMetricExportInfo: GET "/api/v1/clusters/{cluster_id}/metricexport/cloudwatch";
    EnableCloudWatchMetricExport: POST "/api/v1/clusters/{cluster_id}/metricexport/cloudwatch";
    DeleteCloudWatchMetricExport: DELETE "/api/v1/clusters/{cluster_id}/metricexport/cloudwatch";
    GetPrometheusMetricExportInfo: GET "/api/v1/clusters/{cluster_id}/metricexport/prometheus";
    EnablePrometheusMetricExport: POST "/api/v1/clusters/{cluster_id}/metricexport/prometheus";
    DeletePrometheusMetricExport: DELETE "/api/v1/clusters/{cluster_id}/metricexport/prometheus";
    ListClusterNodes: GET "/api/v1/clusters/{cluster_id}/nodes";
    SetEgressTrafficPolicy: POST "/api/v1/clusters/{cluster_id}/networking/egress-rules/egress-traffic-policy";
    GetCMEKClusterInfo: GET "/api/v1/clusters/{cluster_id}/cmek";
    EnableCMEKSpec: POST "/api/v1/clusters/{cluster_id}/cmek";
    UpdateCMEKSpec: PUT "/api/v1/clusters/{cluster_id}/cmek";
    GetClientCACert: GET "/api/v1/clusters/{cluster_id}/client-ca-cert";
    SetClientCACert: POST "/api/v1/clusters/{cluster_id}/client-ca-cert";
    UpdateClientCACert: PATCH "/api/v1/clusters/{cluster_id}/client-ca-cert";
    DeleteClientCACert: DELETE "/api/v1/clusters/{cluster_id}/client-ca-cert";
    GetAllRolesForUser: GET "/api/v1/roles/{user_id}";
    AddUserToRole: POST "/api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}";
    RemoveUserFromRole: DELETE "/api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}";
    ListEgressRules: GET "/api/v1/clusters/{cluster_id}/networking/egress-rules";
    AddEgressRule: POST "/api/v1/clusters/{cluster_id}/networking/egress-rules";
    GetEgressRule: GET "/api/v1/clusters/{cluster_id}/networking/egress-rules/{rule_id}";
    EditEgressRule: PATCH "/api/v1/clusters/{cluster_id}/networking/egress-rules/{rule_id}";
    DeleteEgressRule: DELETE "/api/v1/clusters/{cluster_id}/networking/egress-rules/{rule_id}";
    ListServiceAccounts: GET "/api/v1/service-accounts";
    CreateServiceAccount: POST "/api/v1/service-accounts";
    GetServiceAccount: GET "/api/v1/service-accounts/{id}";
    UpdateServiceAccount: PATCH "/api/v1/service-accounts/{id}";
    DeleteServiceAccount: DELETE "/api/v1/service-accounts/{id}";
    ListApiKeys: GET "/api/v1/api-keys";
    CreateApiKey: POST "/api/v1/api-keys";
    GetApiKey: GET "/api/v1/api-keys/{id}";
    UpdateApiKey: PATCH "/api/v1/api-keys/{id}";
    DeleteApiKey: DELETE "/api/v1/api-keys/{id}";
    ListFolders: GET "/api/v1/folders";
    CreateFolder: POST "/api/v1/folders";
    GetFolder: GET "/api/v1/folders/{folder_id}";
    UpdateFolder: PATCH "/api/v1/folders/{folder_id}";
    DeleteFolder: DELETE "/api/v1/folders/{folder_id}";
    ListFolderContents: GET "/api/v1/folders/{folder_id}/contents";
    ListJWTIssuers: GET "/api/v1/jwt-issuers";
    AddJWTIssuer: POST "/api/v1/jwt-issuers";
    GetJWTIssuer: GET "/api/v1/jwt-issuers/{id}";
    UpdateJWTIssuer: PATCH "/api/v1/jwt-issuers/{id}";
    DeleteJWTIssuer: DELETE "/api/v1/jwt-issuers/{id}";
    ListPrivateEndpointServices: GET "/api/v1/clusters/{cluster_id}/networking/private-endpoint-services";
    CreatePrivateEndpointServices: POST "/api/v1/clusters/{cluster_id}/networking/private-endpoint-services";
    ListPrivateEndpointConnections: GET "/api/v1/clusters/{cluster_id}/networking/private-endpoint-connections";
    AddPrivateEndpointConnection: POST "/api/v1/clusters/{cluster_id}/networking/private-endpoint-connections";
    DeletePrivateEndpointConnection: DELETE "/api/v1/clusters/{cluster_id}/networking/private-endpoint-connections/{endpoint_id}";
    ListPrivateEndpointTrustedOwners: GET "/api/v1/clusters/{cluster_id}/networking/private-endpoint-trusted-owners";
    AddPrivateEndpointTrustedOwner: POST "/api/v1/clusters/{cluster_id}/networking/private-endpoint-trusted-owners";
    GetPrivateEndpointTrustedOwner: GET "/api/v1/clusters/{cluster_id}/networking/private-endpoint-trusted-owners/{owner_id}";
    RemovePrivateEndpointTrustedOwner: DELETE "/api/v1/clusters/{cluster_id}/networking/private-endpoint-trusted-owners/{owner_id}";
}

/// The name requests for the public cluster CA certificate (`/clusters/{id}/cert` at the site root,
/// not an operation of the API) go by in metrics and the simulator's request log.
pub const CLUSTER_CERT_OPERATION: &str = "GetClusterCert";

impl Operation {
    /// The operation served for `method` on the route `template` (a path template of the table).
    pub fn for_route(method: &Method, template: &str) -> Option<Operation> {
        Self::ALL.iter().copied().find(|op| op.path() == template && op.method() == *method)
    }

    /// The path segments (after the base URL) of a request for this operation, with `params`
    /// filling the template's parameters in order. Panics when the count is wrong (a caller bug).
    pub fn segments<'a>(self, params: &[&'a str]) -> Vec<&'a str> {
        let mut params = params.iter();
        let segments: Vec<&str> = self
            .path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.starts_with('{') {
                    *params.next().unwrap_or_else(|| panic!("{self}: too few path parameters"))
                } else {
                    s
                }
            })
            .collect();
        assert!(params.next().is_none(), "{self}: too many path parameters");
        segments
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Not an operation of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownOperation(pub String);

impl fmt::Display for UnknownOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown operation {:?}", self.0)
    }
}

impl std::error::Error for UnknownOperation {}

impl FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|op| op.name() == name).ok_or_else(|| UnknownOperation(name.to_string()))
    }
}

impl serde::Serialize for Operation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Operation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_fill_templates() {
        for op in Operation::ALL {
            assert_eq!(op.name().parse::<Operation>(), Ok(*op));
        }
        assert!("MakeCoffee".parse::<Operation>().is_err());
        assert_eq!(
            Operation::DeleteAllowlistEntry.segments(&["c1", "10.0.0.0", "8"]),
            ["api", "v1", "clusters", "c1", "networking", "allowlist", "10.0.0.0", "8"]
        );
        assert_eq!(Operation::ListAvailableRegions.segments(&[]), ["api", "v1", "clusters", "available-regions"]);
        assert_eq!(Operation::for_route(&Method::PUT, "/api/v1/clusters/{cluster_id}/sql-users/{name}/password"), Some(Operation::UpdateSQLUserPassword));
        assert_eq!(Operation::for_route(&Method::POST, "/api/v1/clusters/{cluster_id}"), None);
    }

    /// Every operation exists in the official description under the same method and path.
    /// The description lives in ../shared/specs (present in CI); its absence is a failure, not a skip.
    #[test]
    fn operations_match_the_official_description() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/specs/cockroach-cloud-openapi.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("the official API description is required: {path}: {e}"));
        let spec: serde_json::Value = serde_json::from_str(&text).unwrap();
        for op in Operation::ALL {
            let id = &spec["paths"][op.path()][op.method().as_str().to_lowercase()]["operationId"];
            assert_eq!(id.as_str(), Some(format!("CockroachCloud_{op}").as_str()), "{} {}", op.method(), op.path());
        }
    }
}
