//! The setting blocks of `CockroachCluster.spec`: one file per block, each with its spec and
//! status types. Unset means "left alone".

pub mod backup;
