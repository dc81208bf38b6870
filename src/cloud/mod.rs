//! The CockroachDB Cloud client: typed models, HTTP, errors and the shared request budget.

pub mod error;
pub mod models;

pub use error::CloudError;
