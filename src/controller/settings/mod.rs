//! The setting blocks of a CockroachCluster (shape 3, see [`setting`](super::setting)): one file
//! per block, and this list, the only wiring a new block needs.

pub mod backup;
pub mod blackout_windows;
pub mod client_ca;
pub mod cmek;
pub mod egress;
pub mod log_export;
pub mod maintenance_window;
pub mod metric_export;
pub mod secret_key;
pub mod private_endpoints;
pub mod upgrade;
pub mod version_deferral;

use super::setting::{AnySetting, setting};
use crate::api::cluster::CockroachClusterStatus;
use crate::api::settings::maintenance::MaintenanceStatus;

/// Every setting block, in the order they are converged.
pub fn all() -> Vec<Box<dyn AnySetting>> {
    vec![
        setting::<backup::Backup>(),
        setting::<maintenance_window::Window>(),
        setting::<blackout_windows::Blackouts>(),
        setting::<version_deferral::Deferral>(),
        setting::<upgrade::Upgrade>(),
        setting::<log_export::LogExport>(),
        setting::<metric_export::Datadog>(),
        setting::<metric_export::CloudWatch>(),
        setting::<metric_export::Prometheus>(),
        setting::<egress::Egress>(),
        setting::<cmek::Cmek>(),
        setting::<client_ca::ClientCa>(),
        setting::<private_endpoints::PrivateEndpoints>(),
    ]
}

/// Updates one part of status.maintenance, which three blocks share; it goes once all are unset.
fn maintenance_status(status: &mut CockroachClusterStatus, update: impl FnOnce(&mut MaintenanceStatus)) {
    let mut maintenance = status.settings.maintenance.take().unwrap_or_default();
    update(&mut maintenance);
    status.settings.maintenance = (!maintenance.is_empty()).then_some(maintenance);
}

/// Seconds of a duration written the way the spec takes them: "6h", "8h30m", "90s".
pub fn parse_duration(text: &str) -> Option<u64> {
    let (mut total, mut number) = (0u64, String::new());
    for c in text.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' => {
                let unit = match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                total = total.checked_add(std::mem::take(&mut number).parse::<u64>().ok()?.checked_mul(unit)?)?;
            }
            _ => return None,
        }
    }
    (number.is_empty() && !text.is_empty()).then_some(total)
}

/// The shortest spelling of `seconds` in hours, minutes and seconds: 28800 -> "8h", 23400 -> "6h30m".
pub fn format_duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut out = String::new();
    for (value, unit) in [(h, 'h'), (m, 'm'), (s, 's')] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_write_like_a_person_writes_them() {
        assert_eq!(parse_duration("8h30m"), Some(30_600));
        assert_eq!(parse_duration("480m"), Some(28_800));
        assert_eq!(parse_duration("45s"), Some(45));
        assert_eq!(parse_duration("8"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(format_duration(28_800), "8h");
        assert_eq!(format_duration(23_400), "6h30m");
        assert_eq!(format_duration(0), "0s");
    }
}
