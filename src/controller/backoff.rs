//! How quickly watches come back after the apiserver was unreachable.
//!
//! kube-runtime's default follows client-go (0.8 s doubling to 30 s, reset only after 120 s without
//! errors), which after an outage of a few seconds leaves changes unnoticed for up to a minute and
//! more. An operator holds a handful of watches, so retrying them every few seconds costs the
//! apiserver nothing and keeps recovery within seconds of the apiserver's return.

use std::time::Duration;

use kube::runtime::utils::Backoff;

use super::context::jitter;

const FIRST: Duration = Duration::from_millis(250);
const CEILING: Duration = Duration::from_secs(4);

/// 250 ms doubling to 4 s, ±20% jitter; back to 250 ms after any successful watch event.
#[derive(Debug, Clone)]
pub struct WatchBackoff {
    next: Duration,
}

impl Default for WatchBackoff {
    fn default() -> Self {
        Self { next: FIRST }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.next;
        self.next = (self.next * 2).min(CEILING);
        Some(jitter(delay, 0.2))
    }
}

impl Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_a_few_seconds_and_resets() {
        let mut backoff = WatchBackoff::default();
        let delays: Vec<Duration> = backoff.by_ref().take(8).collect();
        assert!(delays[0] <= Duration::from_millis(300));
        assert!(delays.windows(2).take(3).all(|w| w[1] > w[0]), "{delays:?}");
        assert!(delays.iter().all(|d| *d <= CEILING.mul_f64(1.2)), "{delays:?}");
        assert!(delays[7] >= CEILING.mul_f64(0.8));
        backoff.reset();
        assert!(backoff.next().unwrap() <= Duration::from_millis(300));
    }
}
