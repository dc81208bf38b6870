//! The security settings of a CockroachCluster end to end (a real kube-apiserver, kubectl, the
//! operator binary and the Cloud API simulator): spec.egressTrafficPolicy, spec.cmek and
//! spec.clientCACert, each set, changed, put back after drift, left alone when unset, refused by
//! the cloud without stopping the others, and deleted with the cluster; plus the `ca.crt` of a
//! SQLUser's connection Secret.

use std::time::Duration;

use crdb_cloud::Operation;
use crdb_cloud::models::{ClientCaCertStatus, CmekClusterSpec, CmekKeySpec, CmekKeyType, CmekRegionSpec, CmekStatus, EgressTrafficPolicy};
use crdb_cloud_operator::api::CockroachCluster;
use crdb_cloud_simulator::admin_api::FaultSpec;
use crdb_test_support::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);
const ROLE: &str = "arn:aws:iam::111122223333:role/crdb-cmek";

/// A dedicated AWS cluster with `extra` spec lines (indented by two).
fn dedicated(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: crdbcloud.io/v1alpha1\nkind: CockroachCluster\nmetadata:\n  name: {name}\nspec:\n  provider: AWS\n  dedicated:\n    regionNodes: {{us-east-1: 3, us-west-2: 3}}\n    hardware: {{numVirtualCpus: 4, storageGib: 150}}\n{extra}"
    )
}

fn key(n: &str) -> String {
    format!("arn:aws:kms:us-east-1:111122223333:key/{n}")
}

/// A self-signed CA certificate (PEM), as a client CA.
fn ca_pem(name: &str) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
}

async fn patch(api: &Api<CockroachCluster>, name: &str, spec: serde_json::Value) {
    api.patch(name, &PatchParams::default(), &Patch::Merge(&json!({ "spec": spec }))).await.unwrap();
}

async fn has_event(w: &World, name: &str, prefix: &str, block: &str) -> bool {
    events_for(w.ns(), name).await.iter().any(|e| e.starts_with(prefix) && e.contains(block))
}

#[tokio::test]
async fn egress_and_cmek_converge_correct_drift_refuse_alone_and_go_with_the_cluster() {
    let w = World::start_with("settings-egress-cmek", |o| o.resync_seconds = 3).await;
    let api: Api<CockroachCluster> = w.api();
    let cmek = |uri: &str, west: Option<&str>| {
        let mut regions = vec![json!({"region": "us-east-1", "keySpec": {"type": "AWS_KMS", "uri": uri, "authPrincipal": ROLE}})];
        regions.extend(west.map(|u| json!({"region": "us-west-2", "keySpec": {"type": "AWS_KMS", "uri": u, "authPrincipal": ROLE}})));
        json!({ "regions": regions })
    };
    w.apply(&dedicated("vault-db", &format!("  egressTrafficPolicy: DefaultDeny\n  cmek: {}\n", cmek(&key("a"), None)))).await;

    // Set: both reach the cloud; CMEK enables asynchronously and status follows it to ENABLED.
    let cr = wait_for(&api, "vault-db", TIMEOUT, "Ready with CMEK ENABLED", |c| {
        is_ready(c) && c.status.as_ref().and_then(|s| s.settings.cmek.as_ref()).is_some_and(|m| m.state == "ENABLED")
    })
    .await;
    let status = cr.status.clone().unwrap();
    let id = status.cluster_id.clone().unwrap();
    assert!(condition_is(&cr, "EgressTrafficPolicySynced", "True") && condition_is(&cr, "CmekSynced", "True"), "{status:?}");
    assert_eq!(status.settings.egress_traffic_policy.as_deref(), Some("DEFAULT_DENY"));
    assert_eq!(status.settings.cmek.as_ref().unwrap().regions[0].uri.as_deref(), Some(key("a").as_str()));
    assert!(status.account_id.is_some(), "the account a CMEK key policy trusts is shown: {status:?}");
    let cloud = w.admin.cloud();
    assert_eq!(cloud.get_cluster(&id).await.unwrap().egress_traffic_policy, Some(EgressTrafficPolicy::DefaultDeny));
    assert!(has_event(&w, "vault-db", "Normal Updated", "spec.cmek").await, "{:?}", events_for(w.ns(), "vault-db").await);

    // Change: a policy flip and an added region (PUT, the first region's key kept).
    patch(&api, "vault-db", json!({"egressTrafficPolicy": "AllowAll", "cmek": cmek(&key("a"), Some(&key("w")))})).await;
    let info = eventually("both regions with CMEK", TIMEOUT, || cloud.get_cmek(&id), |i| i.as_ref().is_ok_and(|i| i.region_infos.len() == 2 && i.status == Some(CmekStatus::Enabled))).await.unwrap();
    assert_eq!(info.region_infos[0].current_key().map(|k| k.uri.clone()), Some(key("a")));
    assert_eq!(cloud.get_cluster(&id).await.unwrap().egress_traffic_policy, Some(EgressTrafficPolicy::AllowAll));
    assert_eq!(w.admin.count(Operation::EnableCMEKSpec).await, 1, "enabled once, then updated");

    // Drift behind the operator's back: put back, with DriftCorrected naming each block.
    cloud.set_egress_traffic_policy(&id, false).await.unwrap();
    let rotated = CmekClusterSpec {
        region_specs: ["us-east-1", "us-west-2"]
            .iter()
            .map(|r| CmekRegionSpec { region: r.to_string(), key_spec: CmekKeySpec { key_type: CmekKeyType::AwsKms, uri: key("rogue"), auth_principal: ROLE.into() } })
            .collect(),
    };
    cloud.update_cmek(&id, &rotated).await.unwrap();
    eventually("the drift put back", TIMEOUT, || async { (cloud.get_cluster(&id).await.unwrap().egress_traffic_policy, cloud.get_cmek(&id).await.unwrap()) }, |(policy, info)| {
        *policy == Some(EgressTrafficPolicy::AllowAll) && info.region_infos.iter().all(|r| r.current_key().is_some_and(|k| k.uri != key("rogue")))
    })
    .await;
    assert!(has_event(&w, "vault-db", "Warning DriftCorrected", "spec.egressTrafficPolicy").await);
    assert!(has_event(&w, "vault-db", "Warning DriftCorrected", "spec.cmek").await);

    // Refused by the cloud: a key URI it does not accept stalls spec.cmek alone; a policy change
    // made at the same time still reaches the cloud.
    let before = w.admin.count(Operation::UpdateCMEKSpec).await;
    patch(&api, "vault-db", json!({"egressTrafficPolicy": "DefaultDeny", "cmek": cmek("alias/not-an-arn", Some(&key("w")))})).await;
    let cr = wait_for(&api, "vault-db", TIMEOUT, "CmekSynced False", |c| condition_is(c, "CmekSynced", "False")).await;
    let (_, reason, message) = condition(&cr, "CmekSynced").unwrap();
    assert_eq!(reason, "CloudRejectedSpec");
    assert!(message.contains("spec.cmek") && message.contains("key_spec.uri"), "{message}");
    assert!(condition(&cr, "Ready").is_some_and(|(s, _, m)| s == "False" && m.contains("spec.cmek")), "{cr:?}");
    assert!(is_stalled_with(&cr, "CloudRejectedSpec"));
    eventually("the policy change despite the refusal", TIMEOUT, || cloud.get_cluster(&id), |c| c.as_ref().is_ok_and(|c| c.egress_traffic_policy == Some(EgressTrafficPolicy::DefaultDeny) && c.is_settled())).await.unwrap();
    let cr = wait_for(&api, "vault-db", TIMEOUT, "egress Synced", |c| condition_is(c, "EgressTrafficPolicySynced", "True")).await;
    assert_eq!(cr.status.unwrap().state.as_deref(), Some("CREATED"));
    assert!(w.admin.count(Operation::UpdateCMEKSpec).await > before, "the refusal came from the cloud");

    // And the other way round: the cloud refuses the policy, CMEK (fixed) converges.
    w.admin.add_fault(&FaultSpec { status: Some(400), ..FaultSpec::on(Operation::SetEgressTrafficPolicy) }).await;
    patch(&api, "vault-db", json!({"egressTrafficPolicy": "AllowAll", "cmek": cmek(&key("a"), Some(&key("w")))})).await;
    let cr = wait_for(&api, "vault-db", TIMEOUT, "egress refused, CMEK synced", |c| {
        condition(c, "EgressTrafficPolicySynced").is_some_and(|(s, r, _)| s == "False" && r == "CloudRejectedSpec") && condition_is(c, "CmekSynced", "True")
    })
    .await;
    assert!(condition(&cr, "Ready").is_some_and(|(s, _, m)| s == "False" && m.contains("spec.egressTrafficPolicy") && !m.contains("spec.cmek")), "{cr:?}");

    // Unset: both blocks removed; no CMEK request and no policy write is spent on them again.
    patch(&api, "vault-db", json!({"egressTrafficPolicy": null, "cmek": null})).await;
    let cr = wait_for(&api, "vault-db", TIMEOUT, "Ready without the blocks", is_ready).await;
    let status = cr.status.clone().unwrap();
    assert!(condition(&cr, "CmekSynced").is_none() && condition(&cr, "EgressTrafficPolicySynced").is_none(), "{status:?}");
    assert!(status.settings.cmek.is_none() && status.settings.egress_traffic_policy.is_none());
    let (gets, sets) = (w.admin.count(Operation::GetCMEKClusterInfo).await, w.admin.count(Operation::SetEgressTrafficPolicy).await);
    cloud.set_egress_traffic_policy(&id, true).await.unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(w.admin.count(Operation::GetCMEKClusterInfo).await, gets, "no CMEK read while unset");
    assert_eq!(w.admin.count(Operation::SetEgressTrafficPolicy).await, sets + 1, "only the test's own write");
    assert_eq!(cloud.get_cluster(&id).await.unwrap().egress_traffic_policy, Some(EgressTrafficPolicy::AllowAll), "left as the cloud has it");

    // Deleted with the blocks set.
    patch(&api, "vault-db", json!({"egressTrafficPolicy": "DefaultDeny", "cmek": cmek(&key("a"), Some(&key("w")))})).await;
    wait_for(&api, "vault-db", TIMEOUT, "Ready with both blocks", |c| is_ready(c) && condition_is(c, "CmekSynced", "True")).await;
    api.delete("vault-db", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "vault-db", TIMEOUT).await;
    assert!(w.admin.cluster(&id).await.is_none_or(|c| c.is_deleted()), "the cloud cluster was deleted");
}

#[tokio::test]
async fn client_ca_follows_its_secret_and_config_map_and_a_bad_pem_sends_nothing() {
    // A long resync: what happens after a Secret changes is the watch's doing.
    let w = World::start_with("settings-client-ca", |o| o.resync_seconds = 600).await;
    let api: Api<CockroachCluster> = w.api();
    let secrets: Api<Secret> = w.api();
    let set_secret = |pem: String| {
        let secrets = secrets.clone();
        async move {
            let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "client-ca"}, "stringData": {"ca.crt": pem}});
            secrets.patch("client-ca", &PatchParams::apply("e2e").force(), &Patch::Apply(&secret)).await.unwrap();
        }
    };
    let (first, second, rogue) = (ca_pem("first"), ca_pem("second"), ca_pem("rogue"));
    set_secret(first.clone()).await;
    w.apply(&dedicated("trust-db", "  clientCACert:\n    secretRef: {name: client-ca}\n")).await;
    // A SQL user on the cluster: its connection Secret carries the cluster's CA.
    w.apply(&child("SQLUser", "app", "trust-db", "")).await;

    let cr = wait_for(&api, "trust-db", TIMEOUT, "Ready and ClientCACertSynced", |c| is_ready(c) && condition_is(c, "ClientCACertSynced", "True")).await;
    let id = cr.status.clone().unwrap().cluster_id.unwrap();
    let cloud = w.admin.cloud();
    let held = || async { cloud.get_client_ca_cert(&id).await.unwrap().x509_pem_cert.unwrap_or_default() };
    assert_eq!(held().await, first);
    let recorded = cr.status.unwrap().settings.client_ca_cert.unwrap();
    assert_eq!((recorded.state.as_str(), recorded.sha256.is_some()), ("IS_SET", true));
    assert!(has_event(&w, "trust-db", "Normal Updated", "spec.clientCACert").await);

    // The connection Secret's ca.crt is the CA the site root serves, for sslmode=verify-full.
    let ca = eventually("the connection Secret", TIMEOUT, || async { w.api::<Secret>().get_opt("app-connection").await.unwrap() }, Option::is_some).await.unwrap();
    let ca_crt = String::from_utf8(ca.data.unwrap()["ca.crt"].0.clone()).unwrap();
    assert_eq!(ca_crt, cloud.get_cluster_ca_cert(&id).await.unwrap());
    assert_eq!(crdb_cloud::certificate::check_pem(&ca_crt), Ok(1));
    assert_eq!(w.secret_text("app-connection", "sslmode").await, "verify-full");

    // Change: a new PEM in the Secret reaches the cloud without a resync, and is no drift.
    set_secret(second.clone()).await;
    eventually("the new PEM in the cloud", TIMEOUT, held, |p| *p == second).await;
    assert!(!has_event(&w, "trust-db", "Warning DriftCorrected", "spec.clientCACert").await, "{:?}", events_for(w.ns(), "trust-db").await);

    // Drift: a CA replaced in the cloud is put back on the next pass (woken here by the Secret).
    cloud.update_client_ca_cert(&id, &rogue).await.unwrap();
    secrets.patch("client-ca", &PatchParams::default(), &Patch::Merge(&json!({"metadata": {"annotations": {"touched": "1"}}}))).await.unwrap();
    eventually("the drift put back", TIMEOUT, held, |p| *p == second).await;
    assert!(has_event(&w, "trust-db", "Warning DriftCorrected", "spec.clientCACert").await);

    // A bad PEM: Stalled naming the field, nothing sent, the cluster and its user unaffected.
    let writes = || async { w.admin.count(Operation::UpdateClientCACert).await + w.admin.count(Operation::SetClientCACert).await };
    let before = writes().await;
    set_secret("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n".into()).await;
    let cr = wait_for(&api, "trust-db", TIMEOUT, "ClientCACertSynced False", |c| condition_is(c, "ClientCACertSynced", "False")).await;
    let (_, reason, message) = condition(&cr, "ClientCACertSynced").unwrap();
    assert_eq!(reason, "CaCertInvalid");
    assert!(message.contains("spec.clientCACert: secretRef") && message.contains("nothing was sent"), "{message}");
    assert!(is_stalled_with(&cr, "CaCertInvalid"));
    assert_eq!(writes().await, before);
    assert_eq!(held().await, second);
    assert_eq!(cr.status.unwrap().state.as_deref(), Some("CREATED"));
    assert!(w.cloud_password(&id, "app").await.is_some(), "the SQL user stays in the cloud");

    // Refused by the cloud (stricter than the operator's parse): Stalled with the cloud's reason,
    // the cluster unaffected. A ConfigMap source works like a Secret, and its change retries.
    w.admin.add_fault(&FaultSpec { status: Some(400), ..FaultSpec::on(Operation::UpdateClientCACert) }).await;
    let maps: Api<ConfigMap> = w.api();
    let map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "client-ca-map"}, "data": {"bundle.pem": first}});
    maps.patch("client-ca-map", &PatchParams::apply("e2e").force(), &Patch::Apply(&map)).await.unwrap();
    patch(&api, "trust-db", json!({"clientCACert": {"secretRef": null, "configMapRef": {"name": "client-ca-map", "key": "bundle.pem"}}})).await;
    let cr = wait_for(&api, "trust-db", TIMEOUT, "refused by the cloud", |c| condition(c, "ClientCACertSynced").is_some_and(|(s, r, _)| s == "False" && r == "CloudRejectedSpec") && generation_observed(c)).await;
    assert!(is_stalled_with(&cr, "CloudRejectedSpec"));
    assert_eq!(cr.status.unwrap().state.as_deref(), Some("CREATED"));
    assert_eq!(held().await, second);
    maps.patch("client-ca-map", &PatchParams::default(), &Patch::Merge(&json!({"metadata": {"annotations": {"touched": "1"}}}))).await.unwrap();
    eventually("the ConfigMap's PEM in the cloud", TIMEOUT, held, |p| *p == first).await;
    wait_for(&api, "trust-db", TIMEOUT, "Ready again", |c| is_ready(c) && condition_is(c, "ClientCACertSynced", "True")).await;

    // enabled: false removes the CA from the cluster.
    patch(&api, "trust-db", json!({"clientCACert": {"configMapRef": null, "enabled": false}})).await;
    eventually("the CA removed", TIMEOUT, || cloud.get_client_ca_cert(&id), |i| i.as_ref().is_ok_and(|i| i.status == Some(ClientCaCertStatus::NotSet))).await.unwrap();

    // Unset: no client CA request is spent, whatever the ConfigMap does.
    patch(&api, "trust-db", json!({"clientCACert": null})).await;
    let cr = wait_for(&api, "trust-db", TIMEOUT, "Ready without the block", |c| is_ready(c) && condition(c, "ClientCACertSynced").is_none()).await;
    assert!(cr.status.unwrap().settings.client_ca_cert.is_none());
    let reads = w.admin.count(Operation::GetClientCACert).await;
    maps.patch("client-ca-map", &PatchParams::default(), &Patch::Merge(&json!({"data": {"bundle.pem": second}}))).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(w.admin.count(Operation::GetClientCACert).await, reads);

    // Deleted with the block set.
    patch(&api, "trust-db", json!({"clientCACert": {"configMapRef": {"name": "client-ca-map", "key": "bundle.pem"}}})).await;
    eventually("the CA set again", TIMEOUT, held, |p| *p == second).await;
    api.delete("trust-db", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "trust-db", TIMEOUT).await;
    assert!(w.admin.cluster(&id).await.is_none_or(|c| c.is_deleted()));
}
