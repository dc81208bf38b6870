//! Smoke test of the end-to-end harness: a real etcd + kube-apiserver + kube-controller-manager
//! built from Go modules, the built kubectl and helm, per-test namespaces and restricted users.


use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::core::ObjectMeta;
use crdb_test_support::client_for_kubeconfig;
use crdb_test_support::{helm, kubectl, kubectl_as, shared, test_namespace};

#[tokio::test]
async fn server_is_kubernetes_1_34() {
    let cp = shared();
    eprintln!("control plane start-up took {:?}", cp.startup_duration());
    let info = cp.client().apiserver_version().await.unwrap();
    assert_eq!(info.major, "1");
    assert_eq!(info.minor, "34");
    assert!(
        info.git_version.starts_with("v1.34."),
        "git version {}",
        info.git_version
    );

    let out = kubectl(&["version", "-o", "json"], None).await.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        v["clientVersion"]["gitVersion"]
            .as_str()
            .unwrap()
            .starts_with("v1.34."),
        "{v}"
    );
    assert!(
        v["serverVersion"]["gitVersion"]
            .as_str()
            .unwrap()
            .starts_with("v1.34."),
        "{v}"
    );
}

#[tokio::test]
async fn secret_round_trip_through_kube_client() {
    let ns = test_namespace("secret-round-trip").await;
    let secrets: Api<Secret> = ns.api();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("api-key".into()),
            ..Default::default()
        },
        string_data: Some([("key".to_string(), "s3cr3t".to_string())].into()),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let read = secrets.get("api-key").await.unwrap();
    assert_eq!(read.data.unwrap()["key"].0, b"s3cr3t");
}

#[tokio::test]
async fn kubectl_applies_and_gets_a_configmap() {
    let ns = test_namespace("kubectl-apply").await;
    let manifest = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\ndata:\n  colour: blue\n"
    );
    kubectl(&["apply", "-f", "-"], Some(&manifest)).await.ok();
    let out = kubectl(
        &[
            "get",
            "configmap",
            "settings",
            "-n",
            ns.name(),
            "-o",
            "jsonpath={.data.colour}",
        ],
        None,
    )
    .await
    .ok();
    assert_eq!(out.stdout, "blue");
    // And the kube client sees the same object.
    let cm = ns.api::<ConfigMap>().get("settings").await.unwrap();
    assert_eq!(cm.data.unwrap()["colour"], "blue");
}

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.testenv.crdbcloud.io
spec:
  group: testenv.crdbcloud.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              min: {type: integer}
              max: {type: integer}
            x-kubernetes-validations:
            - rule: "self.min <= self.max"
              message: "min must not exceed max"
"#;

#[tokio::test]
async fn crd_cel_validation_rejects_invalid_objects() {
    let ns = test_namespace("crd-cel").await;
    kubectl(&["apply", "-f", "-"], Some(WIDGET_CRD)).await.ok();
    kubectl(
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.testenv.crdbcloud.io",
            "--timeout=60s",
        ],
        None,
    )
    .await
    .ok();
    let widget = |name: &str, min: i64, max: i64| {
        format!(
            "apiVersion: testenv.crdbcloud.io/v1\nkind: Widget\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  min: {min}\n  max: {max}\n"
        )
    };
    // The CRD's REST mapping may take a moment to reach kubectl's discovery.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = kubectl(&["apply", "-f", "-"], Some(&widget("good", 1, 3))).await;
        if out.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "valid widget never accepted: {out}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let out = kubectl(&["apply", "-f", "-"], Some(&widget("bad", 5, 2)))
        .await
        .err();
    assert!(out.stderr.contains("min must not exceed max"), "{out}");
    let out = kubectl(&["get", "widgets", "-n", ns.name(), "-o", "name"], None)
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "widget.testenv.crdbcloud.io/good");
}

#[tokio::test]
async fn owned_secret_is_garbage_collected() {
    if !shared().has_controller_manager() {
        eprintln!("skipped: kube-controller-manager is not running");
        return;
    }
    let ns = test_namespace("gc").await;
    let cms: Api<ConfigMap> = ns.api();
    let owner = cms
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("owner".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let secrets: Api<Secret> = ns.api();
    let owned = Secret {
        metadata: ObjectMeta {
            name: Some("owned".into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                name: "owner".into(),
                uid: owner.metadata.uid.clone().unwrap(),
                ..Default::default()
            }]),
            ..Default::default()
        },
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &owned)
        .await
        .unwrap();
    cms.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while secrets.get_opt("owned").await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the owned Secret was not garbage-collected within 60s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn namespaces_are_deleted_and_get_a_default_service_account() {
    if !shared().has_controller_manager() {
        eprintln!("skipped: kube-controller-manager is not running");
        return;
    }
    let ns = test_namespace("ns-lifecycle").await;
    let sas: Api<ServiceAccount> = ns.api();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sas.get_opt("default").await.unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "no default ServiceAccount after 30s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ns.api::<ConfigMap>()
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("content".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    ns.delete_and_wait(Duration::from_secs(60)).await;
}

fn configmap_reader(ns: &str) -> Role {
    Role {
        metadata: ObjectMeta {
            name: Some("configmap-reader".into()),
            namespace: Some(ns.into()),
            ..Default::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["".into()]),
            resources: Some(vec!["configmaps".into()]),
            verbs: vec!["get".into(), "list".into()],
            ..Default::default()
        }]),
    }
}

fn binding(ns: &str, name: &str, subject: Subject) -> RoleBinding {
    RoleBinding {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: "configmap-reader".into(),
        },
        subjects: Some(vec![subject]),
    }
}

#[tokio::test]
async fn restricted_user_is_forbidden_to_list_secrets() {
    let cp = shared();
    let ns = test_namespace("rbac-user").await;
    ns.api::<Role>()
        .create(&PostParams::default(), &configmap_reader(ns.name()))
        .await
        .unwrap();
    // Bound through the user's second group, to show both groups reach RBAC.
    let subject = Subject {
        kind: "Group".into(),
        name: "readers".into(),
        api_group: Some("rbac.authorization.k8s.io".into()),
        ..Default::default()
    };
    ns.api::<RoleBinding>()
        .create(
            &PostParams::default(),
            &binding(ns.name(), "readers", subject),
        )
        .await
        .unwrap();

    let kubeconfig = cp.kubeconfig_for_user("alice", &["testers", "readers"]);
    let alice = client_for_kubeconfig(&kubeconfig).await;
    let err = Api::<Secret>::namespaced(alice.clone(), ns.name())
        .list(&ListParams::default())
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("expected 403, got {other}"),
    }
    Api::<ConfigMap>::namespaced(alice, ns.name())
        .list(&ListParams::default())
        .await
        .unwrap();

    let out = kubectl_as(&kubeconfig, &["auth", "whoami", "-o", "json"], None)
        .await
        .ok();
    let who: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], "alice");
    let groups = who["status"]["userInfo"]["groups"].as_array().unwrap();
    for g in ["testers", "readers", "system:authenticated"] {
        assert!(groups.iter().any(|x| x == g), "{g} missing from {groups:?}");
    }
    let out = kubectl_as(&kubeconfig, &["get", "secrets", "-n", ns.name()], None)
        .await
        .err();
    assert!(
        out.stderr.contains("Forbidden") || out.stderr.contains("forbidden"),
        "{out}"
    );
}

#[tokio::test]
async fn service_account_kubeconfig_uses_a_bound_token() {
    let cp = shared();
    let ns = test_namespace("rbac-sa").await;
    let kubeconfig = cp.kubeconfig_for_service_account(ns.name(), "robot").await;
    let out = kubectl_as(&kubeconfig, &["get", "configmaps", "-n", ns.name()], None)
        .await
        .err();
    assert!(out.stderr.contains("forbidden"), "{out}");

    ns.api::<Role>()
        .create(&PostParams::default(), &configmap_reader(ns.name()))
        .await
        .unwrap();
    let subject = Subject {
        kind: "ServiceAccount".into(),
        name: "robot".into(),
        namespace: Some(ns.name().into()),
        ..Default::default()
    };
    ns.api::<RoleBinding>()
        .create(
            &PostParams::default(),
            &binding(ns.name(), "robot", subject),
        )
        .await
        .unwrap();
    let out = kubectl_as(
        &kubeconfig,
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
        None,
    )
    .await
    .ok();
    assert_eq!(out.stdout, format!("system:serviceaccount:{ns}:robot"));
    // RBAC changes reach the authorizer through an informer: allow a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = kubectl_as(&kubeconfig, &["get", "configmaps", "-n", ns.name()], None).await;
        if out.success() {
            break;
        }
        assert!(Instant::now() < deadline, "{out}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn helm_runs() {
    let out = helm(&["version", "--short"], None).await.ok();
    assert!(out.stdout.starts_with("v3.19."), "{out}");
    let out = helm(&["list", "--all-namespaces"], None).await.ok();
    assert!(out.stdout.contains("NAME"), "{out}");
}
