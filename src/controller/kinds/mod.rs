//! One file per kind: how it is observed, its pure plan, how a change is executed and how it is
//! deleted. The shapes' drivers ([`top_level`](super::top_level), [`member`](super::member)) do
//! the rest; the [`registry`](super::registry) wires them.

pub mod allowlist_entry;
pub mod cluster;
pub mod cluster_plan;
pub mod database;
pub mod sql_user;
