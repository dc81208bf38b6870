//! The setting blocks of a CockroachCluster (shape 3, see [`setting`](super::setting)): one file
//! per block, and this list, the only wiring a new block needs.

pub mod backup;
pub mod client_ca;
pub mod cmek;
pub mod egress;

use super::setting::{AnySetting, setting};

/// Every setting block, in the order they are converged.
pub fn all() -> Vec<Box<dyn AnySetting>> {
    vec![setting::<backup::Backup>(), setting::<egress::Egress>(), setting::<cmek::Cmek>(), setting::<client_ca::ClientCa>()]
}
