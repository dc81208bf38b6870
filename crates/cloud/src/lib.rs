//! The CockroachDB Cloud client: typed models, HTTP, errors and the shared request budget.

pub mod budget;
pub mod cache;
pub mod client;
pub mod error;
pub mod models;
pub mod observer;

pub use budget::{BudgetConfig, BudgetRegistry, Priority};
pub use client::{ApiKey, ClientConfig, CloudClient, CloudClients, Listing, RetryPolicy};
pub use error::CloudError;
