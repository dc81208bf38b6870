//! Hooks through which the client reports its requests (the operator's metrics implement them).

use std::time::Duration;

pub trait CloudObserver: Send + Sync {
    /// One HTTP attempt finished; `status` is the HTTP status or "error" for a transport failure.
    fn request(&self, operation: &'static str, status: &str, elapsed: Duration);
    /// Time a request waited for the budget before it could be sent.
    fn budget_wait(&self, operation: &'static str, waited: Duration);
    /// The service answered 429.
    fn rate_limited(&self, operation: &'static str);
}

/// Reports nothing.
pub struct NoopObserver;

impl CloudObserver for NoopObserver {
    fn request(&self, _: &'static str, _: &str, _: Duration) {}
    fn budget_wait(&self, _: &'static str, _: Duration) {}
    fn rate_limited(&self, _: &'static str) {}
}
