//! `spec.maintenance.versionDeferral` <-> GET/PUT /clusters/{id}/version-deferral.

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::maintenance::{VersionDeferral, VersionDeferralStatus};
use crate::cloud::models::{ClusterVersionDeferral, ClusterVersionDeferralUpdate, DeferralPolicy};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::setting::Setting;

use super::maintenance_status;

pub struct Deferral;

fn policy(spec: VersionDeferral) -> DeferralPolicy {
    match spec {
        VersionDeferral::NotDeferred => DeferralPolicy::NotDeferred,
        VersionDeferral::Deferral30Days => DeferralPolicy::Deferral30Days,
        VersionDeferral::Deferral60Days => DeferralPolicy::Deferral60Days,
        VersionDeferral::Deferral90Days => DeferralPolicy::Deferral90Days,
        VersionDeferral::FixedDeferral => DeferralPolicy::FixedDeferral,
    }
}

/// FIXED_DEFERRAL is the deprecated name of 60 days: a cloud that reports one for the other
/// has what was asked, and is not rewritten on every pass.
fn same(a: &DeferralPolicy, b: &DeferralPolicy) -> bool {
    let sixty = |p: &DeferralPolicy| matches!(p, DeferralPolicy::Deferral60Days | DeferralPolicy::FixedDeferral);
    a == b || (sixty(a) && sixty(b))
}

impl Setting for Deferral {
    type Desired = VersionDeferral;
    type Observed = ClusterVersionDeferral;
    type Change = ClusterVersionDeferralUpdate;
    const BLOCK: &'static str = "spec.maintenance.versionDeferral";
    const CONDITION: &'static str = "VersionDeferralSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&VersionDeferral> {
        spec.settings.maintenance.as_ref()?.version_deferral.as_ref()
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<ClusterVersionDeferral, CloudError> {
        cloud.get_version_deferral(cluster_id).await
    }

    fn plan(desired: &VersionDeferral, observed: &ClusterVersionDeferral) -> Option<ClusterVersionDeferralUpdate> {
        let want = policy(*desired);
        (!same(&want, &observed.deferral_policy)).then_some(ClusterVersionDeferralUpdate { deferral_policy: want })
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, change: &ClusterVersionDeferralUpdate) -> Result<ClusterVersionDeferral, CloudError> {
        cloud.set_version_deferral(cluster_id, change).await
    }

    fn describe(change: &ClusterVersionDeferralUpdate) -> String {
        format!("deferral policy {}", change.deferral_policy)
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&ClusterVersionDeferral>) {
        let deferral = observed.map(|d| VersionDeferralStatus { policy: d.deferral_policy.to_string(), deferred_until: d.deferred_until.clone() });
        maintenance_status(status, |m| m.version_deferral = deferral);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(policy: DeferralPolicy) -> ClusterVersionDeferral {
        ClusterVersionDeferral { deferral_policy: policy, deferred_until: None }
    }

    #[test]
    fn the_policy_is_put_only_when_it_differs() {
        let change = Deferral::plan(&VersionDeferral::Deferral90Days, &cloud(DeferralPolicy::NotDeferred)).unwrap();
        assert_eq!(change.deferral_policy, DeferralPolicy::Deferral90Days);
        assert_eq!(Deferral::describe(&change), "deferral policy DEFERRAL_90_DAYS");
        assert_eq!(Deferral::plan(&VersionDeferral::NotDeferred, &cloud(DeferralPolicy::NotDeferred)), None);
    }

    #[test]
    fn fixed_deferral_and_sixty_days_are_the_same_policy() {
        assert_eq!(Deferral::plan(&VersionDeferral::FixedDeferral, &cloud(DeferralPolicy::Deferral60Days)), None);
        assert_eq!(Deferral::plan(&VersionDeferral::Deferral60Days, &cloud(DeferralPolicy::FixedDeferral)), None);
    }
}
