//! `spec.maintenance`: when CockroachDB Cloud may run maintenance on an ADVANCED cluster (a weekly
//! window and blackout windows) and how long patch upgrades are deferred.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Maintenance scheduling. Each field is its own block: unset fields are left as the cloud has them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceSpec {
    /// The weekly maintenance window (ADVANCED clusters only). Unset: left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<MaintenanceWindowSpec>,
    /// The blackout windows (ADVANCED clusters only): periods of up to 14 days in which the cloud
    /// runs no disruptive operation. The cloud's set is kept equal to this list: windows missing
    /// from the cloud are created, others deleted. Windows that have already ended are ignored on
    /// both sides (never re-created). The cloud only accepts a new window starting at least 7 days
    /// ahead and ending within three months. An empty list deletes every upcoming window; unset:
    /// left as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// At most 20 (the API documents no count; three months of windows fit).
    #[schemars(length(max = 20))]
    pub blackout_windows: Option<Vec<BlackoutWindowSpec>>,
    /// How long automatic patch upgrades are deferred after a patch is released: NotDeferred,
    /// Deferral30Days, Deferral60Days or Deferral90Days (FixedDeferral is the cloud's deprecated
    /// name for 60 days). The date the next patch may be applied shows in
    /// status.maintenance.versionDeferral.deferredUntil. Unset: left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_deferral: Option<VersionDeferral>,
}

/// A day of the week (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub const ALL: [Weekday; 7] =
        [Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday, Weekday::Friday, Weekday::Saturday, Weekday::Sunday];
}

/// A weekly maintenance window, in the words a person uses: it starts every `day` at `startTime`
/// (UTC) and lasts `duration`. Sent to the cloud as offset from Monday 00:00 UTC and length.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.enabled) && !self.enabled) || (has(self.day) && has(self.startTime) && has(self.duration))").message("spec.maintenance.window needs day, startTime and duration (or enabled: false to remove the window)"))]
pub struct MaintenanceWindowSpec {
    /// false removes the cloud's maintenance window (the cloud then picks its own times). Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The day the window starts (UTC): Monday ... Sunday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<Weekday>,
    /// The time the window starts, "HH:MM" in UTC, e.g. "02:00".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')").message("spec.maintenance.window.startTime must be HH:MM in UTC, e.g. 02:00"))]
    pub start_time: Option<String>,
    /// How long the window lasts, e.g. "6h" or "8h30m": at least 6h and under a week (168h).
    #[schemars(length(max = 16))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^([0-9]+h)?([0-9]+m)?$') && self != '' && duration(self) >= duration('6h') && duration(self) < duration('168h')").message("spec.maintenance.window.duration must be hours and minutes such as 6h or 8h30m, at least 6h and under 168h (a week)"))]
    pub duration: Option<String>,
}

/// One blackout window, in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("timestamp(self.end) > timestamp(self.start)").message("spec.maintenance.blackoutWindows: end must be after start"))]
#[x_kube(validation = Rule::new("timestamp(self.end) - timestamp(self.start) <= duration('336h')").message("spec.maintenance.blackoutWindows: a window lasts at most 14 days (end - start <= 336h)"))]
pub struct BlackoutWindowSpec {
    /// When the window starts, RFC 3339 (e.g. "2026-12-20T00:00:00Z").
    #[schemars(length(max = 40))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$')").message("spec.maintenance.blackoutWindows.start must be an RFC 3339 time such as 2026-12-20T00:00:00Z"))]
    pub start: String,
    /// When the window ends, RFC 3339; at most 14 days after start.
    #[schemars(length(max = 40))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$')").message("spec.maintenance.blackoutWindows.end must be an RFC 3339 time such as 2026-12-27T00:00:00Z"))]
    pub end: String,
}

/// The patch-upgrade deferral policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum VersionDeferral {
    NotDeferred,
    Deferral30Days,
    Deferral60Days,
    Deferral90Days,
    FixedDeferral,
}

/// What the cloud holds of the maintenance blocks the spec sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceStatus {
    /// The maintenance window, while spec.maintenance.window is set; absent when the cloud has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<MaintenanceWindowStatus>,
    /// The upcoming blackout windows, while spec.maintenance.blackoutWindows is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blackout_windows: Option<Vec<BlackoutWindowStatus>>,
    /// The deferral policy, while spec.maintenance.versionDeferral is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_deferral: Option<VersionDeferralStatus>,
}

impl MaintenanceStatus {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindowStatus {
    /// false when the cloud has no maintenance window.
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<Weekday>,
    /// The start, HH:MM UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// The length, as the spec writes it (e.g. "8h").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// As the API holds it: from Monday 00:00 UTC, and the length (e.g. "172800s", "21600s").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_duration: Option<String>,
    /// The length as the API holds it (e.g. "21600s").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_duration: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlackoutWindowStatus {
    /// The cloud's id of the window.
    pub id: String,
    /// When the window starts, RFC 3339 UTC.
    pub start: String,
    /// When the window ends, RFC 3339 UTC.
    pub end: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionDeferralStatus {
    /// The cloud's policy, e.g. DEFERRAL_60_DAYS.
    pub policy: String,
    /// When the cluster may receive its next patch upgrade; absent when nothing is deferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred_until: Option<String>,
}
