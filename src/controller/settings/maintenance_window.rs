//! `spec.maintenance.window` <-> GET/PUT/DELETE /clusters/{id}/maintenance-window.
//!
//! The spec says it the way a person does (Tuesday, 02:00, 8h); the API holds the offset from
//! Monday 00:00 UTC and the length as protobuf durations ("180000s", "28800s"). Both sides are
//! compared as seconds, so "8h" and "480m" are the same window.

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::maintenance::{MaintenanceWindowSpec, MaintenanceWindowStatus, Weekday};
use crate::cloud::models::MaintenanceWindow;
use crate::cloud::{CloudClient, CloudError};
use crate::controller::setting::Setting;

use super::{format_duration, maintenance_status, parse_duration};

const DAY: u64 = 24 * 3600;

pub struct Window;

/// The one write: set the window (offset, length in seconds), or remove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowChange {
    Set { offset: u64, length: u64 },
    Delete,
}

/// Seconds from Monday 00:00 UTC and length, of a block that asks for a window (all three fields
/// are set: the schema requires them unless `enabled: false`).
fn wanted(spec: &MaintenanceWindowSpec) -> Option<(u64, u64)> {
    if spec.enabled == Some(false) {
        return None;
    }
    let day = Weekday::ALL.iter().position(|d| Some(*d) == spec.day)? as u64;
    let (hours, minutes) = spec.start_time.as_deref()?.split_once(':')?;
    let start = hours.parse::<u64>().ok()? * 3600 + minutes.parse::<u64>().ok()? * 60;
    let length = parse_duration(spec.duration.as_deref()?)?;
    Some((day * DAY + start, length))
}

/// The cloud's window in seconds (the API may write fractions; whole seconds are what a person sets).
fn held(window: &MaintenanceWindow) -> Option<(u64, u64)> {
    let seconds = |d: &str| d.strip_suffix('s')?.parse::<f64>().ok().map(|s| s as u64);
    Some((seconds(&window.offset_duration)?, seconds(&window.window_duration)?))
}

impl Setting for Window {
    type Desired = MaintenanceWindowSpec;
    /// `None`: the cluster has no maintenance window.
    type Observed = Option<MaintenanceWindow>;
    type Change = WindowChange;
    const BLOCK: &'static str = "spec.maintenance.window";
    const CONDITION: &'static str = "MaintenanceWindowSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&MaintenanceWindowSpec> {
        spec.settings.maintenance.as_ref()?.window.as_ref()
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<Option<MaintenanceWindow>, CloudError> {
        match cloud.get_maintenance_window(cluster_id).await {
            Ok(window) => Ok(Some(window)),
            Err(CloudError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn plan(desired: &MaintenanceWindowSpec, observed: &Option<MaintenanceWindow>) -> Option<WindowChange> {
        match (wanted(desired), observed) {
            (None, None) => None,
            (None, Some(_)) => Some(WindowChange::Delete),
            (Some(want), have) if have.as_ref().and_then(held) == Some(want) => None,
            (Some((offset, length)), _) => Some(WindowChange::Set { offset, length }),
        }
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, change: &WindowChange) -> Result<Option<MaintenanceWindow>, CloudError> {
        match change {
            WindowChange::Set { offset, length } => {
                let window = MaintenanceWindow { offset_duration: format!("{offset}s"), window_duration: format!("{length}s") };
                cloud.set_maintenance_window(cluster_id, &window).await.map(Some)
            }
            WindowChange::Delete => match cloud.delete_maintenance_window(cluster_id).await {
                Ok(_) | Err(CloudError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    fn describe(change: &WindowChange) -> String {
        match change {
            WindowChange::Set { offset, length } => format!("{} for {}", start_of(*offset), format_duration(*length)),
            WindowChange::Delete => "removed the maintenance window".into(),
        }
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&Option<MaintenanceWindow>>) {
        let window = observed.map(|window| match window.as_ref().and_then(|w| held(w).map(|secs| (w, secs))) {
            Some((w, (offset, length))) => MaintenanceWindowStatus {
                enabled: true,
                day: Weekday::ALL.get((offset / DAY) as usize).copied(),
                start_time: Some(clock(offset)),
                duration: Some(format_duration(length)),
                offset_duration: Some(w.offset_duration.clone()),
                window_duration: Some(w.window_duration.clone()),
            },
            None => MaintenanceWindowStatus::default(),
        });
        maintenance_status(status, |m| m.window = window);
    }
}

/// "HH:MM" of an offset into the week.
fn clock(offset: u64) -> String {
    let in_day = offset % DAY;
    format!("{:02}:{:02}", in_day / 3600, in_day % 3600 / 60)
}

/// "Tuesday 02:00 UTC"
fn start_of(offset: u64) -> String {
    let day = Weekday::ALL.get((offset / DAY) as usize).map(|d| format!("{d:?}")).unwrap_or_default();
    format!("{day} {} UTC", clock(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(day: Weekday, start: &str, duration: &str) -> MaintenanceWindowSpec {
        MaintenanceWindowSpec { enabled: None, day: Some(day), start_time: Some(start.into()), duration: Some(duration.into()) }
    }

    fn cloud(offset: &str, length: &str) -> Option<MaintenanceWindow> {
        Some(MaintenanceWindow { offset_duration: offset.into(), window_duration: length.into() })
    }

    #[test]
    fn a_person_readable_window_becomes_offset_and_length() {
        // Tuesday 02:00 is one day and two hours after Monday 00:00.
        let change = Window::plan(&block(Weekday::Tuesday, "02:00", "8h"), &None).unwrap();
        assert_eq!(change, WindowChange::Set { offset: 93_600, length: 28_800 });
        assert_eq!(Window::describe(&change), "Tuesday 02:00 UTC for 8h");
        assert_eq!(Window::plan(&block(Weekday::Tuesday, "02:00", "480m"), &cloud("93600s", "28800s")), None);
        assert_eq!(
            Window::plan(&block(Weekday::Sunday, "23:30", "6h30m"), &cloud("93600s", "28800s")),
            Some(WindowChange::Set { offset: 6 * DAY + 23 * 3600 + 1800, length: 23_400 })
        );
    }

    #[test]
    fn enabled_false_removes_the_window_once() {
        let off = MaintenanceWindowSpec { enabled: Some(false), ..Default::default() };
        assert_eq!(Window::plan(&off, &cloud("0s", "21600s")), Some(WindowChange::Delete));
        assert_eq!(Window::plan(&off, &None), None);
    }

    #[test]
    fn status_says_it_both_ways() {
        let mut status = CockroachClusterStatus::default();
        Window::record(&mut status, Some(&cloud("93600s", "28800s")));
        let window = status.settings.maintenance.as_ref().unwrap().window.clone().unwrap();
        assert_eq!((window.day, window.start_time.as_deref(), window.duration.as_deref()), (Some(Weekday::Tuesday), Some("02:00"), Some("8h")));
        assert_eq!(window.offset_duration.as_deref(), Some("93600s"));
        Window::record(&mut status, None);
        assert_eq!(status.settings.maintenance, None);
    }
}
