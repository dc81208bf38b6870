//! The setting blocks of a CockroachCluster (shape 3, see [`setting`](super::setting)): one file
//! per block, and this list, the only wiring a new block needs.

pub mod backup;

use super::setting::{AnySetting, setting};

/// Every setting block, in the order they are converged.
pub fn all() -> Vec<Box<dyn AnySetting>> {
    vec![setting::<backup::Backup>()]
}
