//! The request budget: one per API key, shared by every caller using that key.
//!
//! CockroachDB Cloud allows 10 requests/second per user. The budget spaces requests evenly at the
//! configured rate (a token bucket with a small burst), serves work a person is waiting for before
//! periodic drift checks, and pauses every caller when the service answers 429 with Retry-After.
//!
//! A single dispatcher task hands out permits. Waiters queue FIFO within their priority, so a
//! thousand waiting reconciles cost one timer, not a thousand wake-ups.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Who is waiting for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// A new, changed or deleted resource: a person is waiting.
    Interactive,
    /// Periodic drift checks and resyncs.
    Background,
}

#[derive(Debug, Clone, Copy)]
pub struct BudgetConfig {
    /// Sustained requests per second.
    pub rate_per_second: f64,
    /// Requests that may go out back to back after an idle period. Kept small so that jitter on the
    /// way to the server never makes a burst look faster than the server's own bucket allows.
    pub burst: u32,
    /// How long a periodic drift check can be overtaken by interactive work before it is served
    /// anyway: without a limit, a steady stream of interactive requests (or a 429 storm that keeps
    /// them queued) would starve it, and the reconcile waiting on it with it.
    pub max_background_wait: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self { rate_per_second: 10.0, burst: 1, max_background_wait: Duration::from_secs(5) }
    }
}

struct Waiter {
    granted: oneshot::Sender<()>,
    queued_at: Instant,
}

impl Waiter {
    /// A drift check that has waited this long is served before interactive work.
    fn overdue(&self, config: &BudgetConfig) -> bool {
        self.queued_at.elapsed() >= config.max_background_wait
    }
}

#[derive(Default)]
struct Shared {
    paused_until: Option<Instant>,
}

/// A rate budget for one API key.
pub struct Budget {
    interactive: mpsc::UnboundedSender<Waiter>,
    background: mpsc::UnboundedSender<Waiter>,
    shared: Arc<Mutex<Shared>>,
    config: BudgetConfig,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget").field("config", &self.config).finish()
    }
}

impl Budget {
    /// Creates a budget and spawns its dispatcher on the current Tokio runtime. The dispatcher ends
    /// when the budget is dropped.
    pub fn new(config: BudgetConfig) -> Arc<Self> {
        assert!(config.rate_per_second > 0.0, "rate must be positive");
        let (interactive, interactive_rx) = mpsc::unbounded_channel();
        let (background, background_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Mutex::new(Shared::default()));
        tokio::spawn(dispatch(config, interactive_rx, background_rx, shared.clone()));
        Arc::new(Self { interactive, background, shared, config })
    }

    pub fn config(&self) -> BudgetConfig {
        self.config
    }

    /// Waits for permission to send one request. Returns how long the caller waited.
    pub async fn acquire(&self, priority: Priority) -> Duration {
        let start = Instant::now();
        let (granted, rx) = oneshot::channel();
        let queue = match priority {
            Priority::Interactive => &self.interactive,
            Priority::Background => &self.background,
        };
        if queue.send(Waiter { granted, queued_at: start }).is_ok() {
            // The dispatcher only stops when the budget is dropped, which cannot happen while
            // `self` is borrowed; an error here would mean it panicked, so do not block forever.
            let _ = rx.await;
        }
        start.elapsed()
    }

    /// Stops every caller until `after` has passed (the server said Retry-After).
    pub fn pause_for(&self, after: Duration) {
        let until = Instant::now() + after;
        let mut shared = self.shared.lock().expect("budget lock");
        if shared.paused_until.is_none_or(|current| current < until) {
            shared.paused_until = Some(until);
        }
    }
}

async fn dispatch(
    config: BudgetConfig,
    mut interactive: mpsc::UnboundedReceiver<Waiter>,
    mut background: mpsc::UnboundedReceiver<Waiter>,
    shared: Arc<Mutex<Shared>>,
) {
    let mut bucket = TokenBucket::new(config);
    // Background callers that arrived, oldest first (they are served when no interactive caller
    // waits, or once they have waited `max_background_wait`).
    let mut queued: VecDeque<Waiter> = VecDeque::new();
    loop {
        while let Ok(w) = background.try_recv() {
            queued.push_back(w);
        }
        let (mut waiter, priority) = if queued.front().is_some_and(|w| w.overdue(&config)) {
            (queued.pop_front().expect("front exists"), Priority::Background)
        } else if let Ok(w) = interactive.try_recv() {
            (w, Priority::Interactive)
        } else if let Some(w) = queued.pop_front() {
            (w, Priority::Background)
        } else {
            tokio::select! {
                biased;
                Some(w) = interactive.recv() => (w, Priority::Interactive),
                Some(w) = background.recv() => (w, Priority::Background),
                else => return,
            }
        };
        // A caller that gave up (its future was dropped) costs nothing.
        if waiter.granted.is_closed() {
            continue;
        }
        bucket.wait_for_token(&shared).await;
        // While we waited for the token, someone a person is waiting for may have arrived: they go
        // first, unless this caller has been overtaken for too long already.
        if priority == Priority::Background
            && !waiter.overdue(&config)
            && let Ok(first) = interactive.try_recv()
        {
            queued.push_front(std::mem::replace(&mut waiter, first));
        }
        if waiter.granted.send(()).is_err() {
            bucket.refund();
        }
    }
}

/// A token bucket that sleeps until a token is available.
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    fn new(config: BudgetConfig) -> Self {
        let burst = f64::from(config.burst.max(1));
        Self { rate: config.rate_per_second, burst, tokens: burst, refilled_at: Instant::now() }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.refilled_at).as_secs_f64() * self.rate).min(self.burst);
        self.refilled_at = now;
    }

    /// Sleeps until a token is available and no Retry-After pause is in force. The pause is read
    /// again after every sleep: a 429 can arrive while this waiter is waiting for its token.
    async fn wait_for_token(&mut self, shared: &Mutex<Shared>) {
        loop {
            let paused_until = shared.lock().expect("budget lock").paused_until;
            if let Some(until) = paused_until.filter(|u| *u > Instant::now()) {
                tokio::time::sleep_until(until).await;
                // After a pause, restart from an empty bucket rather than bursting at the server.
                self.tokens = 0.0;
                self.refilled_at = Instant::now();
                continue;
            }
            self.refill();
            // The epsilon absorbs float rounding after sleeping exactly the computed time.
            if self.tokens >= 1.0 - 1e-9 {
                self.tokens = (self.tokens - 1.0).max(0.0);
                return;
            }
            tokio::time::sleep(Duration::from_secs_f64((1.0 - self.tokens) / self.rate)).await;
        }
    }

    fn refund(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.burst);
    }
}

/// Budgets by API key fingerprint, so every controller using the same key shares one budget.
#[derive(Default)]
pub struct BudgetRegistry {
    config: BudgetConfig,
    budgets: Mutex<HashMap<String, Arc<Budget>>>,
}

impl BudgetRegistry {
    pub fn new(config: BudgetConfig) -> Self {
        Self { config, budgets: Mutex::default() }
    }

    /// The budget for a key fingerprint (never the key itself).
    pub fn for_key(&self, fingerprint: &str) -> Arc<Budget> {
        let mut budgets = self.budgets.lock().expect("budget registry lock");
        budgets.entry(fingerprint.to_string()).or_insert_with(|| Budget::new(self.config)).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn interactive_work_goes_first_but_never_starves_a_drift_check() {
        let config = BudgetConfig { rate_per_second: 20.0, burst: 1, max_background_wait: Duration::from_millis(300) };
        let budget = Budget::new(config);
        // Take the burst so everything below queues.
        budget.acquire(Priority::Interactive).await;
        let started = Instant::now();
        let drift_check = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.acquire(Priority::Background).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        // Two seconds' worth of interactive requests, all queued before the drift check's turn.
        let flood: Vec<_> = (0..40)
            .map(|_| {
                let budget = budget.clone();
                tokio::spawn(async move {
                    budget.acquire(Priority::Interactive).await;
                    Instant::now()
                })
            })
            .collect();
        let waited = drift_check.await.unwrap();
        let served_at = started + waited;
        let mut interactive_done: Vec<Instant> = Vec::new();
        for task in flood {
            interactive_done.push(task.await.unwrap());
        }
        let overtaken = interactive_done.iter().filter(|t| **t < served_at).count();
        let after = interactive_done.len() - overtaken;
        // Overtaken for about the limit, then served while interactive work was still queued.
        assert!(waited >= Duration::from_millis(250), "served after {waited:?}");
        assert!(waited < Duration::from_millis(1200), "starved for {waited:?}");
        assert!(overtaken >= 4 && after >= 10, "overtaken by {overtaken}, {after} interactive requests after it");
    }
}
