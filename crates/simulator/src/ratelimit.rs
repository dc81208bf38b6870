//! The service's per-user request budget: a token bucket per API key (tracked by organisation id,
//! which is one-to-one with the key, so the key itself is not kept here).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A token bucket holding at most `capacity` tokens, refilled at `rate` tokens per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn full(capacity: f64, now: Instant) -> Self {
        Self { tokens: capacity, last: now }
    }

    /// Takes one token, or tells how long until one is available.
    pub fn try_take(&mut self, rate: f64, capacity: f64, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

/// Per-organisation buckets at `rate` requests per second with a burst of `rate`. A rate of zero
/// turns limiting off.
#[derive(Debug)]
pub struct RateLimiter {
    rate: u32,
    buckets: HashMap<String, TokenBucket>,
}

impl RateLimiter {
    pub fn new(rate: u32) -> Self {
        Self { rate, buckets: HashMap::new() }
    }

    /// `Err(seconds)` to put in `Retry-After` (whole seconds, at least 1) when over the rate.
    pub fn check(&mut self, who: &str, now: Instant) -> Result<(), u64> {
        if self.rate == 0 {
            return Ok(());
        }
        let rate = f64::from(self.rate);
        let bucket = self.buckets.entry(who.to_string()).or_insert_with(|| TokenBucket::full(rate, now));
        bucket.try_take(rate, rate, now).map_err(|wait| wait.as_secs_f64().ceil().max(1.0) as u64)
    }

    pub fn clear(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10);
        for _ in 0..10 {
            limiter.check("org", start).unwrap();
        }
        assert_eq!(limiter.check("org", start), Err(1));
        // Another organisation has its own budget.
        limiter.check("other", start).unwrap();
        // 100 ms refills one token.
        limiter.check("org", start + Duration::from_millis(100)).unwrap();
        assert!(limiter.check("org", start + Duration::from_millis(100)).is_err());
        // A full second refills the whole burst, and no more.
        let later = start + Duration::from_secs(5);
        for _ in 0..10 {
            limiter.check("org", later).unwrap();
        }
        assert!(limiter.check("org", later).is_err());
    }

    #[test]
    fn retry_after_covers_the_wait_and_zero_disables() {
        let start = Instant::now();
        let mut slow = RateLimiter::new(1);
        slow.check("org", start).unwrap();
        assert_eq!(slow.check("org", start), Err(1));
        let mut bucket = TokenBucket::full(1.0, start);
        bucket.try_take(0.25, 1.0, start).unwrap();
        assert_eq!(bucket.try_take(0.25, 1.0, start), Err(Duration::from_secs(4)));
        let mut off = RateLimiter::new(0);
        for _ in 0..1000 {
            off.check("org", start).unwrap();
        }
    }
}
