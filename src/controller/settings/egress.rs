//! `spec.egressTrafficPolicy` <-> POST .../networking/egress-rules/egress-traffic-policy. The
//! operation answers with an empty object; the policy is read back from the cluster.

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::egress::EgressTrafficPolicy as Wanted;
use crate::cloud::models::EgressTrafficPolicy;
use crate::cloud::{CloudClient, CloudError};
use crate::controller::setting::{Pass, Setting};

pub struct Egress;

fn wire(wanted: Wanted) -> EgressTrafficPolicy {
    match wanted {
        Wanted::AllowAll => EgressTrafficPolicy::AllowAll,
        Wanted::DefaultDeny => EgressTrafficPolicy::DefaultDeny,
    }
}

impl Setting for Egress {
    type Desired = Wanted;
    /// The cluster's `egress_traffic_policy`.
    type Observed = Option<EgressTrafficPolicy>;
    /// `allow_all`.
    type Change = bool;
    const BLOCK: &'static str = "spec.egressTrafficPolicy";
    const CONDITION: &'static str = "EgressTrafficPolicySynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&Wanted> {
        spec.settings.egress_traffic_policy.as_ref()
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<Option<EgressTrafficPolicy>, CloudError> {
        cloud.get_cluster(cluster_id).await.map(|c| c.egress_traffic_policy)
    }

    /// The policy is a field of the cluster object the pass has just read: no request of its own.
    async fn observe<'a>(pass: &'a Pass<'a>) -> Result<Option<EgressTrafficPolicy>, CloudError> {
        Ok(pass.item.egress_traffic_policy.clone())
    }

    /// Nothing is sent while the cloud is applying a policy (UPDATING): the next pass reads it.
    fn plan(desired: &Wanted, observed: &Option<EgressTrafficPolicy>) -> Option<bool> {
        let want = wire(*desired);
        match observed {
            Some(have) if *have == want || *have == EgressTrafficPolicy::Updating => None,
            _ => Some(want == EgressTrafficPolicy::AllowAll),
        }
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, allow_all: &bool) -> Result<Option<EgressTrafficPolicy>, CloudError> {
        cloud.set_egress_traffic_policy(cluster_id, *allow_all).await?;
        Self::get(cloud, cluster_id).await
    }

    fn describe(allow_all: &bool) -> String {
        if *allow_all { "AllowAll".into() } else { "DefaultDeny".into() }
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&Option<EgressTrafficPolicy>>) {
        status.settings.egress_traffic_policy = observed.map(|p| p.as_ref().map_or_else(|| "UNSPECIFIED".to_string(), ToString::to_string));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_set_when_it_differs_and_left_while_the_cloud_applies_one() {
        assert_eq!(Egress::plan(&Wanted::DefaultDeny, &Some(EgressTrafficPolicy::AllowAll)), Some(false));
        assert_eq!(Egress::plan(&Wanted::AllowAll, &Some(EgressTrafficPolicy::DefaultDeny)), Some(true));
        assert_eq!(Egress::plan(&Wanted::AllowAll, &None), Some(true));
        assert_eq!(Egress::plan(&Wanted::AllowAll, &Some(EgressTrafficPolicy::Error)), Some(true));
        assert_eq!(Egress::plan(&Wanted::DefaultDeny, &Some(EgressTrafficPolicy::DefaultDeny)), None);
        assert_eq!(Egress::plan(&Wanted::DefaultDeny, &Some(EgressTrafficPolicy::Updating)), None);
        assert_eq!(Egress::describe(&false), "DefaultDeny");
    }
}
