//! `spec.cmek` <-> GET/POST/PUT /clusters/{id}/cmek. POST enables CMEK on a cluster without it,
//! PUT adds regions and rotates keys; the cloud then works asynchronously (ENABLING, ROTATING).
//! Regions are never removed and REVOKE is never sent (see the block's documentation).

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::cmek::{CmekKeyType as SpecKeyType, CmekRegionStatus, CmekSpec, CmekStatus as StatusBlock};
use crate::cloud::models::{CmekClusterInfo, CmekClusterSpec, CmekKeySpec, CmekKeyType, CmekRegionSpec, CmekStatus};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::setting::Setting;

pub struct Cmek;

/// The one write: enable with these region keys, or replace the spec with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmekChange {
    Enable(CmekClusterSpec),
    Update(CmekClusterSpec),
}

fn key_spec(spec: &crate::api::settings::cmek::CmekKeySpec) -> CmekKeySpec {
    let key_type = match spec.key_type {
        SpecKeyType::AwsKms => CmekKeyType::AwsKms,
        SpecKeyType::GcpCloudKms => CmekKeyType::GcpCloudKms,
        SpecKeyType::AzureKeyVault => CmekKeyType::AzureKeyVault,
    };
    CmekKeySpec { key_type, uri: spec.uri.clone(), auth_principal: spec.auth_principal.clone() }
}

/// The cloud is working on CMEK: a write now would be refused.
fn busy(status: Option<&CmekStatus>) -> bool {
    matches!(status, Some(CmekStatus::Enabling | CmekStatus::Rotating | CmekStatus::Disabling | CmekStatus::Revoking))
}

impl Setting for Cmek {
    type Desired = CmekSpec;
    type Observed = CmekClusterInfo;
    type Change = CmekChange;
    const BLOCK: &'static str = "spec.cmek";
    const CONDITION: &'static str = "CmekSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&CmekSpec> {
        spec.settings.cmek.as_ref()
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<CmekClusterInfo, CloudError> {
        cloud.get_cmek(cluster_id).await
    }

    /// Every region of the block with its key; a region the cloud has and the block does not
    /// list keeps its key (the cloud refuses dropping one, and the block never revokes).
    fn plan(desired: &CmekSpec, observed: &CmekClusterInfo) -> Option<CmekChange> {
        if busy(observed.status.as_ref()) || observed.region_infos.iter().any(|r| busy(r.status.as_ref())) {
            return None;
        }
        let wanted: Vec<CmekRegionSpec> = desired.regions.iter().map(|r| CmekRegionSpec { region: r.region.clone(), key_spec: key_spec(&r.key_spec) }).collect();
        let in_line = wanted.iter().all(|w| observed.region_infos.iter().any(|r| r.region == w.region && r.current_key() == Some(&w.key_spec)));
        if in_line {
            return None;
        }
        let kept = observed
            .region_infos
            .iter()
            .filter(|r| !wanted.iter().any(|w| w.region == r.region))
            .filter_map(|r| Some(CmekRegionSpec { region: r.region.clone(), key_spec: r.current_key()?.clone() }));
        let region_specs = wanted.iter().cloned().chain(kept).collect();
        let disabled = matches!(observed.status, None | Some(CmekStatus::Disabled)) && observed.region_infos.is_empty();
        Some(if disabled { CmekChange::Enable(CmekClusterSpec { region_specs }) } else { CmekChange::Update(CmekClusterSpec { region_specs }) })
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, change: &CmekChange) -> Result<CmekClusterInfo, CloudError> {
        match change {
            CmekChange::Enable(spec) => cloud.enable_cmek(cluster_id, spec).await,
            CmekChange::Update(spec) => cloud.update_cmek(cluster_id, spec).await,
        }
    }

    fn describe(change: &CmekChange) -> String {
        let (verb, spec) = match change {
            CmekChange::Enable(spec) => ("enabled CMEK", spec),
            CmekChange::Update(spec) => ("updated CMEK", spec),
        };
        let regions: Vec<&str> = spec.region_specs.iter().map(|r| r.region.as_str()).collect();
        format!("{verb} for regions {}", regions.join(", "))
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&CmekClusterInfo>) {
        let state = |s: Option<&CmekStatus>| s.map_or_else(|| "DISABLED".to_string(), ToString::to_string);
        status.settings.cmek = observed.map(|info| StatusBlock {
            state: state(info.status.as_ref()),
            regions: info
                .region_infos
                .iter()
                .map(|r| CmekRegionStatus { region: r.region.clone(), state: state(r.status.as_ref()), uri: r.current_key().map(|k| k.uri.clone()) })
                .collect(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::settings::cmek::{CmekKeySpec as SpecKey, CmekRegion};
    use crate::cloud::models::{CmekKeyInfo, CmekRegionInfo};

    fn block(regions: &[(&str, &str)]) -> CmekSpec {
        CmekSpec {
            regions: regions
                .iter()
                .map(|(region, uri)| CmekRegion {
                    region: region.to_string(),
                    key_spec: SpecKey { key_type: SpecKeyType::AwsKms, uri: uri.to_string(), auth_principal: "arn:aws:iam::1:role/r".into() },
                })
                .collect(),
        }
    }

    fn cloud(status: CmekStatus, regions: &[(&str, &str)]) -> CmekClusterInfo {
        let region_infos = regions
            .iter()
            .map(|(region, uri)| CmekRegionInfo {
                region: region.to_string(),
                status: Some(status.clone()),
                key_infos: vec![CmekKeyInfo {
                    spec: Some(CmekKeySpec { key_type: CmekKeyType::AwsKms, uri: uri.to_string(), auth_principal: "arn:aws:iam::1:role/r".into() }),
                    status: Some(status.clone()),
                    user_message: None,
                    created_at: None,
                    updated_at: None,
                }],
            })
            .collect();
        CmekClusterInfo { status: Some(status), region_infos }
    }

    #[test]
    fn a_cluster_without_cmek_is_enabled_with_every_region() {
        let change = Cmek::plan(&block(&[("us-east-1", "arn:aws:kms:k1")]), &cloud(CmekStatus::Disabled, &[])).unwrap();
        assert!(matches!(&change, CmekChange::Enable(spec) if spec.region_specs.len() == 1));
        assert_eq!(Cmek::describe(&change), "enabled CMEK for regions us-east-1");
    }

    #[test]
    fn an_added_region_or_a_new_key_is_an_update_that_keeps_unlisted_regions() {
        let observed = cloud(CmekStatus::Enabled, &[("us-east-1", "arn:aws:kms:k1"), ("us-west-2", "arn:aws:kms:k9")]);
        let change = Cmek::plan(&block(&[("us-east-1", "arn:aws:kms:k2")]), &observed).unwrap();
        let CmekChange::Update(spec) = change else { panic!("expected an update") };
        let keys: Vec<(&str, &str)> = spec.region_specs.iter().map(|r| (r.region.as_str(), r.key_spec.uri.as_str())).collect();
        assert_eq!(keys, [("us-east-1", "arn:aws:kms:k2"), ("us-west-2", "arn:aws:kms:k9")]);
        assert_eq!(Cmek::plan(&block(&[("us-east-1", "arn:aws:kms:k1")]), &observed), None);
    }

    #[test]
    fn nothing_is_sent_while_the_cloud_works() {
        let observed = cloud(CmekStatus::Enabling, &[("us-east-1", "arn:aws:kms:k1")]);
        assert_eq!(Cmek::plan(&block(&[("us-east-1", "arn:aws:kms:k2")]), &observed), None);
    }
}
