//! What the three child kinds (SQL users, databases, allowlist entries) share: finding the parent
//! cluster in the caller's organisation with the state the operation needs, and listing a page.

use std::collections::BTreeMap;

use chrono::Utc;

use crdb_cloud::models::Pagination;

use super::Sim;
use super::errors::ApiResult;
use super::extract::OrgCtx;
use super::pagination::{PageParams, paginate};
use super::state::{Access, ClusterRecord};

/// Runs `f` on the addressed cluster, under the store lock, once the cluster allows `access`.
pub(super) fn with_cluster<T>(
    sim: &Sim,
    ctx: &OrgCtx,
    cluster_id: &str,
    access: Access,
    f: impl FnOnce(&mut ClusterRecord) -> ApiResult<T>,
) -> ApiResult<T> {
    let mut store = sim.store();
    let record = store.org(&ctx.org_id, Utc::now())?.child_cluster(cluster_id, access)?;
    f(record)
}

/// One page of a child collection, in the collection's order; `key` must order like the map.
pub(super) fn page_of<K, V, R>(
    items: &BTreeMap<K, V>,
    params: &PageParams,
    key: impl Fn(&K) -> String,
    render: impl Fn(&K, &V) -> R,
) -> (Vec<R>, Pagination) {
    let (page, pagination) = paginate(items.iter().map(|(k, v)| (key(k), (k, v))), params);
    (page.into_iter().map(|(k, v)| render(k, v)).collect(), pagination)
}
