//! `spec.maintenance.blackoutWindows` <-> GET/POST/DELETE /clusters/{id}/blackout-windows.
//!
//! The cloud's set of upcoming windows is kept equal to the list: one window is deleted or created
//! per write (the driver looks again at once until the set matches). Windows that have ended are
//! ignored on both sides: the cloud keeps its history, and a past window in the spec is never sent
//! (the cloud would refuse it). Windows are compared as instants, so any RFC 3339 spelling of the
//! same time matches.

use k8s_openapi::jiff::Timestamp;

use crate::api::cluster::{CockroachClusterSpec, CockroachClusterStatus};
use crate::api::settings::maintenance::{BlackoutWindowSpec, BlackoutWindowStatus};
use crate::cloud::models::{BlackoutWindow, CreateBlackoutWindowRequest};
use crate::cloud::{CloudClient, CloudError};
use crate::controller::setting::Setting;

use super::maintenance_status;

pub struct Blackouts;

/// The cloud's windows, and when they were read (to tell past windows from upcoming ones).
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub windows: Vec<BlackoutWindow>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Create { start: Timestamp, end: Timestamp },
    Delete { id: String, start: Timestamp, end: Timestamp },
}

/// One write, with the windows it applies to, so the result is known without listing again.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub op: Op,
    pub before: Observed,
}

fn span(start: &str, end: &str) -> Option<(Timestamp, Timestamp)> {
    Some((start.parse().ok()?, end.parse().ok()?))
}

/// The upcoming windows of the cloud, with their ids.
fn upcoming(observed: &Observed) -> Vec<(&BlackoutWindow, (Timestamp, Timestamp))> {
    observed.windows.iter().filter_map(|w| span(&w.start_time, &w.end_time).map(|s| (w, s))).filter(|(_, (_, end))| *end > observed.at).collect()
}

impl Setting for Blackouts {
    type Desired = Vec<BlackoutWindowSpec>;
    type Observed = Observed;
    type Change = Change;
    const BLOCK: &'static str = "spec.maintenance.blackoutWindows";
    const CONDITION: &'static str = "BlackoutWindowsSynced";

    fn desired(spec: &CockroachClusterSpec) -> Option<&Vec<BlackoutWindowSpec>> {
        spec.settings.maintenance.as_ref()?.blackout_windows.as_ref()
    }

    async fn get(cloud: &CloudClient, cluster_id: &str) -> Result<Observed, CloudError> {
        let windows = cloud.list_blackout_windows(cluster_id).await?;
        Ok(Observed { windows, at: Timestamp::now() })
    }

    /// Deletions first, so a window moved in the spec never overlaps its old self in the cloud.
    fn plan(desired: &Vec<BlackoutWindowSpec>, observed: &Observed) -> Option<Change> {
        let wanted: Vec<(Timestamp, Timestamp)> =
            desired.iter().filter_map(|w| span(&w.start, &w.end)).filter(|(_, end)| *end > observed.at).collect();
        let held = upcoming(observed);
        let op = if let Some((w, (start, end))) = held.iter().find(|(_, s)| !wanted.contains(s)) {
            Op::Delete { id: w.id.clone(), start: *start, end: *end }
        } else {
            let (start, end) = *wanted.iter().find(|s| !held.iter().any(|(_, h)| h == *s))?;
            Op::Create { start, end }
        };
        Some(Change { op, before: observed.clone() })
    }

    async fn execute(cloud: &CloudClient, cluster_id: &str, change: &Change) -> Result<Observed, CloudError> {
        let mut after = change.before.clone();
        match &change.op {
            Op::Create { start, end } => {
                let request = CreateBlackoutWindowRequest { start_time: start.to_string(), end_time: end.to_string() };
                after.windows.push(cloud.create_blackout_window(cluster_id, &request).await?);
            }
            Op::Delete { id, .. } => {
                match cloud.delete_blackout_window(cluster_id, id).await {
                    Ok(_) | Err(CloudError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
                after.windows.retain(|w| w.id != *id);
            }
        }
        Ok(after)
    }

    fn describe(change: &Change) -> String {
        match &change.op {
            Op::Create { start, end } => format!("created blackout window {start} - {end}"),
            Op::Delete { start, end, .. } => format!("deleted blackout window {start} - {end}"),
        }
    }

    fn record(status: &mut CockroachClusterStatus, observed: Option<&Observed>) {
        let windows = observed.map(|o| {
            let mut held = upcoming(o);
            held.sort_by_key(|(_, (start, _))| *start);
            held.into_iter().map(|(w, (start, end))| BlackoutWindowStatus { id: w.id.clone(), start: start.to_string(), end: end.to_string() }).collect()
        });
        maintenance_status(status, |m| m.blackout_windows = windows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: &str, end: &str) -> BlackoutWindowSpec {
        BlackoutWindowSpec { start: start.into(), end: end.into() }
    }

    fn cloud(windows: &[(&str, &str, &str)]) -> Observed {
        let windows = windows
            .iter()
            .map(|(id, start, end)| BlackoutWindow { id: (*id).into(), cluster_id: "c".into(), start_time: (*start).into(), end_time: (*end).into() })
            .collect();
        Observed { windows, at: "2026-06-01T00:00:00Z".parse().unwrap() }
    }

    #[test]
    fn the_set_is_kept_equal_one_window_per_write_deletions_first() {
        let spec = vec![window("2026-06-20T00:00:00Z", "2026-06-21T00:00:00Z"), window("2026-07-01T00:00:00+02:00", "2026-07-02T00:00:00Z")];
        let observed = cloud(&[("old", "2026-06-10T00:00:00Z", "2026-06-11T00:00:00Z"), ("kept", "2026-06-20T00:00:00.000000Z", "2026-06-21T00:00:00Z")]);
        let first = Blackouts::plan(&spec, &observed).unwrap();
        assert!(matches!(&first.op, Op::Delete { id, .. } if id == "old"), "{first:?}");
        let observed = cloud(&[("kept", "2026-06-20T00:00:00.000000Z", "2026-06-21T00:00:00Z")]);
        let second = Blackouts::plan(&spec, &observed).unwrap();
        assert_eq!(Blackouts::describe(&second), "created blackout window 2026-06-30T22:00:00Z - 2026-07-02T00:00:00Z");
        let observed = cloud(&[("kept", "2026-06-20T00:00:00Z", "2026-06-21T00:00:00Z"), ("new", "2026-06-30T22:00:00Z", "2026-07-02T00:00:00Z")]);
        assert_eq!(Blackouts::plan(&spec, &observed), None);
    }

    #[test]
    fn past_windows_are_ignored_on_both_sides() {
        let spec = vec![window("2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z")];
        let observed = cloud(&[("history", "2026-04-01T00:00:00Z", "2026-04-02T00:00:00Z")]);
        assert_eq!(Blackouts::plan(&spec, &observed), None);
        let mut status = CockroachClusterStatus::default();
        Blackouts::record(&mut status, Some(&observed));
        assert_eq!(status.settings.maintenance.unwrap().blackout_windows, Some(vec![]));
    }

    #[test]
    fn an_empty_list_deletes_upcoming_windows() {
        let observed = cloud(&[("w", "2026-06-20T00:00:00Z", "2026-06-21T00:00:00Z")]);
        assert!(matches!(Blackouts::plan(&vec![], &observed).unwrap().op, Op::Delete { .. }));
    }
}
