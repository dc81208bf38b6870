//! Review before apply: `crdb-cloud-operator plan` ([`plan`]) reads manifests and says what the
//! operator would do to the cloud. It works for every kind through the kind's shape
//! ([`shapes`]), so a kind added later gets it without code of its own.

pub mod cli;
pub mod export;
pub mod manifests;
pub mod plan;
pub mod prune;
pub mod shapes;
