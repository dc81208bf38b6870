//! Maintenance of ADVANCED clusters: the weekly maintenance window, blackout windows and the
//! patch-upgrade deferral policy, as the official description specifies them.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Extension;
use chrono::{Duration, Months, Utc};

use crdb_cloud::models::{
    BlackoutWindow, ClusterVersionDeferral, ClusterVersionDeferralUpdate, CreateBlackoutWindowRequest, DeferralPolicy,
    ListBlackoutWindowsResponse, MaintenanceWindow, Plan, UpdateBlackoutWindowRequest,
};

use super::SimState;
use super::children::with_cluster;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx, QueryParams};
use super::pagination::paginate;
use super::state::{Access, ClusterRecord, Now, rfc3339};
use super::validation;

const HOUR: i64 = 3600;
const WEEK: i64 = 7 * 24 * HOUR;

/// A cluster's maintenance settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Maintenance {
    /// Seconds: offset from Monday 00:00 UTC, length.
    pub window: Option<(i64, i64)>,
    /// By id.
    pub blackouts: BTreeMap<String, BlackoutWindow>,
    pub deferral: DeferralPolicy,
}

impl Default for Maintenance {
    fn default() -> Self {
        Self { window: None, blackouts: BTreeMap::new(), deferral: DeferralPolicy::NotDeferred }
    }
}

/// The description's wording: maintenance and blackout windows are "for ADVANCED clusters" only.
fn advanced(record: &ClusterRecord, what: &str) -> ApiResult<()> {
    if record.cluster.plan == Plan::Advanced {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "{what} are supported for ADVANCED clusters only; cluster {} is {}",
        record.cluster.id, record.cluster.plan
    )))
}

/// A protobuf JSON duration (`"21600s"`, `"1.5s"`), in whole seconds.
pub fn parse_duration(field: &str, value: &str) -> ApiResult<i64> {
    let invalid = || ApiError::invalid(format!("invalid value {value:?} for field `{field}`; expected a duration such as \"21600s\""));
    let seconds: f64 = value.strip_suffix('s').ok_or_else(invalid)?.parse().map_err(|_| invalid())?;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(invalid());
    }
    Ok(seconds as i64)
}

fn render_window((offset, length): (i64, i64)) -> MaintenanceWindow {
    MaintenanceWindow { offset_duration: format!("{offset}s"), window_duration: format!("{length}s") }
}

fn window_values(window: &MaintenanceWindow) -> ApiResult<(i64, i64)> {
    let offset = parse_duration("offset_duration", &window.offset_duration)?;
    let length = parse_duration("window_duration", &window.window_duration)?;
    if offset >= WEEK {
        return Err(ApiError::invalid("field `offset_duration` must be less than 1 week"));
    }
    if !(6 * HOUR..WEEK).contains(&length) {
        return Err(ApiError::invalid("field `window_duration` must be at least 6 hours and less than 1 week"));
    }
    Ok((offset, length))
}

fn no_window(cluster_id: &str) -> ApiError {
    ApiError::not_found(format!("cluster {cluster_id} has no maintenance window"))
}

pub(super) async fn get_window(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<MaintenanceWindow>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        advanced(record, "maintenance windows")?;
        record.maintenance.window.map(render_window).map(Json).ok_or_else(|| no_window(&cluster_id))
    })
}

pub(super) async fn set_window(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<MaintenanceWindow>,
) -> ApiResult<Json<MaintenanceWindow>> {
    let window = window_values(&req)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        advanced(record, "maintenance windows")?;
        record.maintenance.window = Some(window);
        Ok(Json(render_window(window)))
    })
}

pub(super) async fn delete_window(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<MaintenanceWindow>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        advanced(record, "maintenance windows")?;
        record.maintenance.window.take().map(render_window).map(Json).ok_or_else(|| no_window(&cluster_id))
    })
}

fn parse_time(field: &str, value: &str) -> ApiResult<Now> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid(format!("invalid value {value:?} for field `{field}`; expected an RFC 3339 time")))
}

/// The description's rules for a blackout window: start at least 7 days ahead, end after the
/// start, at most 14 days after it and no more than three months from now.
fn blackout_times(start: &str, end: &str, now: Now) -> ApiResult<(Now, Now)> {
    let (start, end) = (parse_time("start_time", start)?, parse_time("end_time", end)?);
    if start < now + Duration::days(7) {
        return Err(ApiError::invalid("field `start_time` must be scheduled at least 7 days in advance"));
    }
    if end <= start {
        return Err(ApiError::invalid("field `end_time` must be after `start_time`"));
    }
    if end - start > Duration::days(14) {
        return Err(ApiError::invalid("field `end_time` can be up to 14 days after `start_time`"));
    }
    if now.checked_add_months(Months::new(3)).is_some_and(|limit| end > limit) {
        return Err(ApiError::invalid("field `end_time` must not be more than three months after the current time"));
    }
    Ok((start, end))
}

fn blackout_not_found(id: &str, cluster_id: &str) -> ApiError {
    ApiError::not_found(format!("blackout window {id} not found on cluster {cluster_id}"))
}

/// Ordered by start time, then id (the keyset key).
pub(super) async fn list_blackouts(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    query: QueryParams,
) -> ApiResult<Json<ListBlackoutWindowsResponse>> {
    let params = query.page(sim.max_page_size)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        advanced(record, "blackout windows")?;
        let mut items: Vec<(String, BlackoutWindow)> =
            record.maintenance.blackouts.values().map(|w| (format!("{}\u{0}{}", w.start_time, w.id), w.clone())).collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (blackout_windows, pagination) = paginate(items, &params);
        Ok(Json(ListBlackoutWindowsResponse { blackout_windows, pagination: Some(pagination) }))
    })
}

pub(super) async fn create_blackout(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<CreateBlackoutWindowRequest>,
) -> ApiResult<Json<BlackoutWindow>> {
    let (start, end) = blackout_times(&req.start_time, &req.end_time, Utc::now())?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        advanced(record, "blackout windows")?;
        let window = BlackoutWindow { id: uuid::Uuid::new_v4().to_string(), cluster_id: cluster_id.clone(), start_time: rfc3339(start), end_time: rfc3339(end) };
        record.maintenance.blackouts.insert(window.id.clone(), window.clone());
        Ok(Json(window))
    })
}

pub(super) async fn get_blackout(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, id)): ApiPath<(String, String)>,
) -> ApiResult<Json<BlackoutWindow>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        advanced(record, "blackout windows")?;
        record.maintenance.blackouts.get(&id).cloned().map(Json).ok_or_else(|| blackout_not_found(&id, &cluster_id))
    })
}

pub(super) async fn update_blackout(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, id)): ApiPath<(String, String)>,
    JsonBody(req): JsonBody<UpdateBlackoutWindowRequest>,
) -> ApiResult<Json<BlackoutWindow>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        advanced(record, "blackout windows")?;
        let window = record.maintenance.blackouts.get_mut(&id).ok_or_else(|| blackout_not_found(&id, &cluster_id))?;
        let start = req.start_time.as_deref().unwrap_or(&window.start_time);
        let end = req.end_time.as_deref().unwrap_or(&window.end_time);
        let (start, end) = blackout_times(start, end, Utc::now())?;
        (window.start_time, window.end_time) = (rfc3339(start), rfc3339(end));
        Ok(Json(window.clone()))
    })
}

pub(super) async fn delete_blackout(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, id)): ApiPath<(String, String)>,
) -> ApiResult<Json<BlackoutWindow>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        advanced(record, "blackout windows")?;
        record.maintenance.blackouts.remove(&id).map(Json).ok_or_else(|| blackout_not_found(&id, &cluster_id))
    })
}

/// The policy's deferral in days (FIXED_DEFERRAL is the deprecated name of 60 days).
fn deferral_days(policy: &DeferralPolicy) -> Option<i64> {
    match policy {
        DeferralPolicy::Deferral30Days => Some(30),
        DeferralPolicy::Deferral60Days | DeferralPolicy::FixedDeferral => Some(60),
        DeferralPolicy::Deferral90Days => Some(90),
        _ => None,
    }
}

/// `deferred_until` is counted from the release of the next patch. The simulator's model: a newer
/// patch of the cluster's version was released when the cluster was created, so a deferred cluster
/// becomes eligible that many days after its creation.
fn render_deferral(record: &ClusterRecord) -> ClusterVersionDeferral {
    let policy = record.maintenance.deferral.clone();
    let created = record.cluster.created_at.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    let deferred_until = deferral_days(&policy).zip(created).map(|(days, created)| rfc3339(created + Duration::days(days)));
    ClusterVersionDeferral { deferral_policy: policy, deferred_until }
}

pub(super) async fn get_deferral(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(cluster_id): ApiPath<String>) -> ApiResult<Json<ClusterVersionDeferral>> {
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| Ok(Json(render_deferral(record))))
}

pub(super) async fn set_deferral(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<ClusterVersionDeferralUpdate>,
) -> ApiResult<Json<ClusterVersionDeferral>> {
    validation::known("deferral_policy", &req.deferral_policy)?;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        record.maintenance.deferral = req.deferral_policy.clone();
        Ok(Json(render_deferral(record)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_protobuf_strings_within_the_documented_bounds() {
        assert_eq!(parse_duration("f", "21600s").unwrap(), 21600);
        assert_eq!(parse_duration("f", "1.5s").unwrap(), 1);
        assert!(parse_duration("f", "6h").is_err() && parse_duration("f", "-1s").is_err());
        let window = |offset: &str, length: &str| MaintenanceWindow { offset_duration: offset.into(), window_duration: length.into() };
        assert_eq!(window_values(&window("172800s", "21600s")).unwrap(), (172800, 21600));
        assert!(window_values(&window("0s", "21599s")).is_err());
        assert!(window_values(&window("0s", "604800s")).is_err());
        assert!(window_values(&window("604800s", "21600s")).is_err());
    }

    #[test]
    fn blackout_windows_follow_the_documented_limits() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        assert!(blackout_times("2026-01-10T00:00:00Z", "2026-01-12T00:00:00Z", now).is_ok());
        assert!(blackout_times("2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", now).is_err(), "under 7 days ahead");
        assert!(blackout_times("2026-01-10T00:00:00Z", "2026-01-25T00:00:00Z", now).is_err(), "over 14 days");
        assert!(blackout_times("2026-01-10T00:00:00Z", "2026-01-10T00:00:00Z", now).is_err(), "empty");
        assert!(blackout_times("2026-03-30T00:00:00Z", "2026-04-05T00:00:00Z", now).is_err(), "beyond three months");
    }
}
