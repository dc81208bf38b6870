//! Parsing Cloud API responses never panics: arbitrary bytes, arbitrary JSON values, truncated
//! valid responses and error bodies of every HTTP status either parse or return an error. Unknown
//! enum values are kept as `Unknown(..)` and serialise back unchanged; a very large page parses.
//! No control plane and no simulator are needed.

use crdb_cloud::CloudError;
use crdb_cloud::models::{
    Cluster, ClusterState, ConnectionString, ErrorStatus, ListAllowlistResponse, ListAvailableRegionsResponse,
    ListClusterVersionsResponse, ListClustersResponse, ListDatabasesResponse, ListSqlUsersResponse, OperationStatus, Plan,
    UpgradeStatus,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A Cluster as the Cloud API returns it (per the official description), serverless STANDARD.
fn cluster_json() -> Value {
    json!({
        "id": "7f3b4a2e-1c5d-4e8f-9a0b-1c2d3e4f5a6b",
        "name": "orders-db",
        "cockroach_version": "v25.2.4",
        "upgrade_status": "FINALIZED",
        "plan": "STANDARD",
        "cloud_provider": "GCP",
        "state": "CREATED",
        "creator_id": "b1c2d3e4-0000-4000-8000-000000000001",
        "operation_status": "UNSPECIFIED",
        "config": {
            "serverless": {
                "routing_id": "orders-db-1234",
                "upgrade_type": "AUTOMATIC",
                "usage_limits": {"provisioned_virtual_cpus": "2"}
            }
        },
        "regions": [{
            "name": "us-central1",
            "sql_dns": "orders-db-1234.g8z.gcp-us-central1.cockroachlabs.cloud",
            "ui_dns": "",
            "internal_dns": "",
            "private_endpoint_dns": "",
            "node_count": 0,
            "primary": true
        }],
        "cidr_range": "",
        "labels": {"team": "payments", "crdbcloud-io-owner": "abc"},
        "account_id": "",
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:05:00Z",
        "delete_protection": "DISABLED",
        "network_visibility": "PUBLIC",
        "egress_traffic_policy": "ALLOW_ALL",
        "parent_id": "root",
        "sql_dns": "orders-db-1234.g8z.gcp-us-central1.cockroachlabs.cloud"
    })
}

/// A dedicated ADVANCED cluster.
fn dedicated_cluster_json() -> Value {
    let mut c = cluster_json();
    c["plan"] = json!("ADVANCED");
    c["config"] = json!({"dedicated": {"machine_type": "n2-standard-4", "num_virtual_cpus": 4, "storage_gib": 15, "memory_gib": 16.0, "disk_iops": 450}});
    c["regions"][0]["node_count"] = json!(3);
    c["cidr_range"] = json!("172.28.0.0/14");
    c
}

/// Valid response bodies of every list/get model the client parses.
fn valid_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let bodies = vec![
        ("Cluster", cluster_json()),
        ("Cluster(dedicated)", dedicated_cluster_json()),
        ("ListClustersResponse", json!({"clusters": [cluster_json(), dedicated_cluster_json()], "pagination": {"next_page": "abc"}})),
        ("ListSqlUsersResponse", json!({"users": [{"name": "app"}, {"name": "reporting"}], "pagination": {"next_page": ""}})),
        ("ListDatabasesResponse", json!({"databases": [{"name": "orders", "table_count": "12"}, {"name": "defaultdb"}]})),
        ("ListAllowlistResponse", json!({"allowlist": [{"cidr_ip": "10.0.0.0", "cidr_mask": 8, "name": "office", "sql": true, "ui": false}], "propagating": true})),
        ("ConnectionString", json!({"connection_string": "postgresql://app@h:26257/defaultdb?sslmode=verify-full", "params": {"Host": "h", "Port": "26257", "Database": "defaultdb", "Username": "app"}})),
        ("ErrorStatus", json!({"code": 3, "message": "field `name` is invalid", "details": [{"@type": "x"}]})),
    ];
    bodies.into_iter().map(|(k, v)| (k, serde_json::to_vec(&v).unwrap())).collect()
}

/// Feeds `bytes` to every response model and to the error classifier; any panic fails the test.
fn parse_everything(bytes: &[u8]) {
    let _ = serde_json::from_slice::<Cluster>(bytes);
    let _ = serde_json::from_slice::<ListClustersResponse>(bytes);
    let _ = serde_json::from_slice::<ListSqlUsersResponse>(bytes);
    let _ = serde_json::from_slice::<ListDatabasesResponse>(bytes);
    let _ = serde_json::from_slice::<ListAllowlistResponse>(bytes);
    let _ = serde_json::from_slice::<ConnectionString>(bytes);
    let _ = serde_json::from_slice::<ErrorStatus>(bytes);
    let _ = serde_json::from_slice::<ListClusterVersionsResponse>(bytes);
    let _ = serde_json::from_slice::<ListAvailableRegionsResponse>(bytes);
    for status in [400u16, 401, 403, 404, 409, 429, 500, 503] {
        let _ = CloudError::from_response(status, bytes, None).to_string();
    }
}

/// Arbitrary JSON values, biased towards the field names and values of the real models so the
/// deserialisers get past the first field.
fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("id".to_string()), Just("name".to_string()), Just("state".to_string()), Just("plan".to_string()),
        Just("operation_status".to_string()), Just("upgrade_status".to_string()), Just("cloud_provider".to_string()),
        Just("config".to_string()), Just("regions".to_string()), Just("labels".to_string()), Just("users".to_string()),
        Just("databases".to_string()), Just("allowlist".to_string()), Just("clusters".to_string()),
        Just("pagination".to_string()), Just("next_page".to_string()), Just("code".to_string()), Just("message".to_string()),
        Just("table_count".to_string()), Just("cidr_mask".to_string()), Just("cidr_ip".to_string()),
        Just("serverless".to_string()), Just("usage_limits".to_string()), Just("provisioned_virtual_cpus".to_string()),
        Just("params".to_string()), Just("Port".to_string()), Just("details".to_string()),
        "[a-zA-Z_]{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        any::<u64>().prop_map(|n| json!(n)),
        ".{0,20}".prop_map(Value::String),
        prop_oneof![Just("CREATED"), Just("ADVANCED"), Just("9223372036854775808"), Just("-1"), Just(""), Just("\u{0}")]
            .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_everything(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(value in arb_json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        parse_everything(&bytes);
    }

    /// A valid cluster with one field replaced by an arbitrary value: parse or error, no panic.
    #[test]
    fn a_cluster_with_one_field_mangled_never_panics(field in 0usize..24, value in arb_json()) {
        let mut cluster = cluster_json();
        let keys: Vec<String> = cluster.as_object().unwrap().keys().cloned().collect();
        let key = keys[field % keys.len()].clone();
        cluster[&key] = value;
        let bytes = serde_json::to_vec(&cluster).unwrap();
        parse_everything(&bytes);
        let list = serde_json::to_vec(&json!({"clusters": [cluster]})).unwrap();
        parse_everything(&list);
    }

    #[test]
    fn error_bodies_of_any_status_are_classified(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..256), code in any::<i32>(), message in ".{0,64}") {
        let e = CloudError::from_response(status, &body, None);
        prop_assert!(!e.to_string().is_empty());
        let json_body = serde_json::to_vec(&json!({"code": code, "message": message})).unwrap();
        let e = CloudError::from_response(status, &json_body, Some(std::time::Duration::from_secs(1)));
        prop_assert!(!e.to_string().is_empty());
    }

    /// Unknown wire values are kept and serialise back unchanged.
    #[test]
    fn unknown_enum_values_round_trip(value in "[A-Z_]{1,24}") {
        let state: ClusterState = serde_json::from_value(json!(value)).unwrap();
        prop_assert_eq!(serde_json::to_value(&state).unwrap(), json!(value));
        if ClusterState::parse_known(&value).is_none() {
            prop_assert_eq!(&state, &ClusterState::Unknown(value.clone()));
        }
        let plan: Plan = serde_json::from_value(json!(value)).unwrap();
        prop_assert_eq!(serde_json::to_value(&plan).unwrap(), json!(value));
        if Plan::parse_known(&value).is_none() {
            prop_assert_eq!(&plan, &Plan::Unknown(value.clone()));
        }
        let op: OperationStatus = serde_json::from_value(json!(value)).unwrap();
        prop_assert_eq!(serde_json::to_value(&op).unwrap(), json!(value));
        if OperationStatus::parse_known(&value).is_none() {
            prop_assert_eq!(&op, &OperationStatus::Unknown(value.clone()));
        }
    }
}

#[test]
fn every_status_code_with_empty_garbage_and_valid_bodies_is_classified() {
    let bodies: Vec<Vec<u8>> = vec![
        vec![],
        b"null".to_vec(),
        b"<html>502 Bad Gateway</html>".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x80],
        br#"{"code": "3", "message": 7}"#.to_vec(),
        br#"{"code": 99999999999}"#.to_vec(),
        br#"{"code": 16, "message": "bad key"}"#.to_vec(),
        vec![b'x'; 1 << 20],
    ];
    for status in 100u16..600 {
        for body in &bodies {
            let e = CloudError::from_response(status, body, None);
            assert!(!e.to_string().is_empty());
            // A megabyte of body must not end up whole in the message.
            assert!(e.to_string().len() < 64 * 1024, "status {status}: message of {} bytes", e.to_string().len());
        }
    }
}

#[test]
fn truncated_valid_responses_are_errors_not_panics() {
    for (kind, body) in valid_bodies() {
        // The whole body parses.
        match kind {
            "Cluster" | "Cluster(dedicated)" => drop(serde_json::from_slice::<Cluster>(&body).unwrap_or_else(|e| panic!("{kind}: {e}"))),
            "ListClustersResponse" => drop(serde_json::from_slice::<ListClustersResponse>(&body).unwrap()),
            "ListSqlUsersResponse" => drop(serde_json::from_slice::<ListSqlUsersResponse>(&body).unwrap()),
            "ListDatabasesResponse" => drop(serde_json::from_slice::<ListDatabasesResponse>(&body).unwrap()),
            "ListAllowlistResponse" => drop(serde_json::from_slice::<ListAllowlistResponse>(&body).unwrap()),
            "ConnectionString" => drop(serde_json::from_slice::<ConnectionString>(&body).unwrap()),
            "ErrorStatus" => drop(serde_json::from_slice::<ErrorStatus>(&body).unwrap()),
            other => unreachable!("{other}"),
        }
        // Every strict prefix is an error (a JSON object is incomplete until its closing brace).
        for cut in 0..body.len() {
            let prefix = &body[..cut];
            parse_everything(prefix);
            assert!(serde_json::from_slice::<Cluster>(prefix).is_err(), "{kind} cut at {cut} parsed as a Cluster");
            assert!(serde_json::from_slice::<ListClustersResponse>(prefix).is_err(), "{kind} cut at {cut}");
            assert!(serde_json::from_slice::<ListSqlUsersResponse>(prefix).is_err(), "{kind} cut at {cut}");
            assert!(serde_json::from_slice::<ListDatabasesResponse>(prefix).is_err(), "{kind} cut at {cut}");
            assert!(serde_json::from_slice::<ListAllowlistResponse>(prefix).is_err(), "{kind} cut at {cut}");
            assert!(serde_json::from_slice::<ConnectionString>(prefix).is_err(), "{kind} cut at {cut}");
            assert!(serde_json::from_slice::<ErrorStatus>(prefix).is_err(), "{kind} cut at {cut}");
        }
    }
}

#[test]
fn unknown_values_in_a_cluster_are_kept_and_round_trip() {
    let mut body = cluster_json();
    body["state"] = json!("HIBERNATING");
    body["plan"] = json!("ENTERPRISE_PLUS");
    body["operation_status"] = json!("CLUSTER_TELEPORT_RUNNING");
    body["upgrade_status"] = json!("SOMETHING_NEW");
    body["cloud_provider"] = json!("ORACLE");
    let cluster: Cluster = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(cluster.state, ClusterState::Unknown("HIBERNATING".into()));
    assert_eq!(cluster.plan, Plan::Unknown("ENTERPRISE_PLUS".into()));
    assert_eq!(cluster.operation_status, OperationStatus::Unknown("CLUSTER_TELEPORT_RUNNING".into()));
    assert_eq!(cluster.upgrade_status, UpgradeStatus::Unknown("SOMETHING_NEW".into()));
    assert!(!cluster.is_settled(), "an unknown state is not CREATED");
    let again = serde_json::to_value(&cluster).unwrap();
    for field in ["state", "plan", "operation_status", "upgrade_status", "cloud_provider"] {
        assert_eq!(again[field], body[field], "{field} did not round-trip");
    }
    let reparsed: Cluster = serde_json::from_value(again).unwrap();
    assert_eq!(reparsed, cluster);
}

#[test]
fn a_huge_page_parses() {
    let users: Vec<Value> = (0..50_000).map(|i| json!({"name": format!("user_{i:05}")})).collect();
    let body = serde_json::to_vec(&json!({"users": users, "pagination": {"next_page": "tok"}})).unwrap();
    let started = std::time::Instant::now();
    let page: ListSqlUsersResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!(page.users.len(), 50_000);
    assert_eq!(page.users[49_999].name, "user_49999");
    assert_eq!(page.pagination.unwrap().next(), Some("tok"));

    let databases: Vec<Value> = (0..50_000).map(|i| json!({"name": format!("db_{i}"), "table_count": i.to_string()})).collect();
    let body = serde_json::to_vec(&json!({"databases": databases})).unwrap();
    let page: ListDatabasesResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!(page.databases.len(), 50_000);

    let clusters: Vec<Value> = (0..5_000).map(|_| cluster_json()).collect();
    let body = serde_json::to_vec(&json!({"clusters": clusters})).unwrap();
    let page: ListClustersResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!(page.clusters.len(), 5_000);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "parsing took {:?}", started.elapsed());
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    for depth in [64usize, 1_000, 100_000] {
        let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        parse_everything(body.as_bytes());
        let body = format!("{{\"clusters\": {}{}}}", "[".repeat(depth), "]".repeat(depth));
        parse_everything(body.as_bytes());
        let body = "{\"a\":".repeat(depth);
        parse_everything(body.as_bytes());
    }
}

#[test]
fn int64_fields_reject_garbage_without_panicking() {
    for value in [json!("abc"), json!("99999999999999999999"), json!(1.5), json!(-1), json!(""), json!(true), json!([]), json!({})] {
        let body = serde_json::to_vec(&json!({"databases": [{"name": "x", "table_count": value}]})).unwrap();
        let _ = serde_json::from_slice::<ListDatabasesResponse>(&body);
        let mut cluster = cluster_json();
        cluster["config"]["serverless"]["usage_limits"]["provisioned_virtual_cpus"] = value.clone();
        let _ = serde_json::from_value::<Cluster>(cluster);
    }
    let parsed: ListDatabasesResponse = serde_json::from_value(json!({"databases": [{"name": "x", "table_count": "-1"}]})).unwrap();
    assert_eq!(parsed.databases[0].table_count, Some(-1));
    assert!(serde_json::from_value::<ListDatabasesResponse>(json!({"databases": [{"name": "x", "table_count": "abc"}]})).is_err());
}
