//! The CockroachDB Cloud client: typed models, the table of operations, HTTP, errors and the
//! shared request budget. Nothing of Kubernetes.

pub mod budget;
pub mod cache;
pub mod certificate;
pub mod client;
pub mod error;
pub mod models;
pub mod observer;
pub mod operations;
pub mod tls;

pub use budget::{BudgetConfig, BudgetRegistry, Priority};
pub use client::{ApiKey, ClientConfig, CloudClient, CloudClients, Listing, RetryPolicy};
pub use error::CloudError;
pub use operations::Operation;
