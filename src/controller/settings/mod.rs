//! The setting blocks of a CockroachCluster (shape 3, see [`setting`](super::setting)): one file
//! per block, and this list, the only wiring a new block needs.

pub mod backup;
pub mod log_export;
pub mod metric_export;

use super::setting::{AnySetting, setting};

/// Every setting block, in the order they are converged.
pub fn all() -> Vec<Box<dyn AnySetting>> {
    vec![
        setting::<backup::Backup>(),
        setting::<log_export::LogExport>(),
        setting::<metric_export::Datadog>(),
        setting::<metric_export::CloudWatch>(),
        setting::<metric_export::Prometheus>(),
    ]
}
