//! Leader election on a `coordination.k8s.io` Lease, with client-go's safety rule.
//!
//! Two properties matter, and the Lease alone gives neither:
//! - **A deposed leader stops on its own clock.** A leader that is frozen (SIGSTOP, a paused VM, a
//!   long GC pause) learns nothing until it runs again, and then it still has queued work. So every
//!   write (to the cloud and to Kubernetes) first asks the [`Mandate`], which is valid only until
//!   `renew_deadline` after the start of the last successful renew. A standby takes the Lease only
//!   after it has seen the record unchanged for `lease_duration` on *its* clock, which began after
//!   that renew was sent; `renew_deadline < lease_duration` leaves the margin. Only clock *rates*
//!   need to agree, not wall clocks.
//! - **A standby takes over at once when the Lease is released.** It watches the Lease instead of
//!   polling at the expiry it last saw, so a graceful hand-over (SIGTERM, `kubectl delete pod`,
//!   a rollout) takes one watch event and one write.
//!
//! Writes use the Lease's `resourceVersion` (optimistic concurrency), so two candidates can never
//! both believe they took it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Whether this replica may act (write to the cloud or to Kubernetes) at this instant.
///
/// Cheap to clone and to ask; shared by the guards on both clients and by the elector.
#[derive(Clone, Debug)]
pub struct Mandate(Arc<MandateState>);

#[derive(Debug)]
enum MandateState {
    /// Leader election is off: this is the only replica.
    Unconditional,
    /// Valid until this instant (`None`: not leading).
    Until(Mutex<Option<Instant>>),
}

impl Mandate {
    /// For a single replica without leader election.
    pub fn unconditional() -> Self {
        Self(Arc::new(MandateState::Unconditional))
    }

    /// Not valid until an elector extends it.
    pub fn revocable() -> Self {
        Self(Arc::new(MandateState::Until(Mutex::new(None))))
    }

    /// Whether a write may start now.
    pub fn holds(&self) -> bool {
        match &*self.0 {
            MandateState::Unconditional => true,
            MandateState::Until(_) => self.deadline().is_some_and(|t| Instant::now() < t),
        }
    }

    /// When a revocable mandate runs out (`None`: unconditional, or not leading).
    fn deadline(&self) -> Option<Instant> {
        match &*self.0 {
            MandateState::Until(until) => *until.lock().expect("mandate lock"),
            MandateState::Unconditional => None,
        }
    }

    /// The error a refused write reports.
    pub fn refusal() -> &'static str {
        "this replica is not the leader (its leadership lapsed): the write was not sent"
    }

    fn extend_to(&self, until: Instant) {
        if let MandateState::Until(current) = &*self.0 {
            *current.lock().expect("mandate lock") = Some(until);
        }
    }

    fn revoke(&self) {
        if let MandateState::Until(current) = &*self.0 {
            *current.lock().expect("mandate lock") = None;
        }
    }
}

/// A layer for the Kubernetes client of everything but the election: any request other than a
/// read (GET: get, list, watch) fails without being sent unless the mandate holds.
pub fn guard_kubernetes_writes(mandate: Mandate) -> tower::filter::FilterLayer<impl Fn(http::Request<kube::client::Body>) -> Result<http::Request<kube::client::Body>, tower::BoxError> + Clone> {
    tower::filter::FilterLayer::new(move |request: http::Request<kube::client::Body>| {
        if request.method() == http::Method::GET || mandate.holds() {
            Ok(request)
        } else {
            Err(Mandate::refusal().into())
        }
    })
}

/// The timing of an election, in client-go's proportions (15 s lease, 10 s renew deadline,
/// 2 s retry period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// How long a holder's record stays valid without a renew; a standby waits this long.
    pub lease_duration: Duration,
    /// How long after the start of its last successful renew a leader keeps acting.
    pub renew_deadline: Duration,
    /// How often the leader renews.
    pub retry_period: Duration,
}

impl Timings {
    /// Derives the renew deadline (2/3) and the retry period (2/15) from the lease duration.
    pub fn for_lease(lease_duration: Duration) -> Self {
        let lease_duration = lease_duration.max(Duration::from_secs(1));
        Self { lease_duration, renew_deadline: lease_duration * 2 / 3, retry_period: lease_duration * 2 / 15 }
    }
}

/// Where the Lease is and who this candidate is.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    pub lease_name: String,
    pub namespace: String,
    pub identity: String,
    pub timings: Timings,
}

/// What a candidate concludes from the Lease record it sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Absent, released, expired or already ours: worth a write to take or renew it.
    Take,
    /// Another holder's record is still valid for this long (on our clock).
    HeldFor(Duration),
}

/// When the current record was first seen: a standby measures expiry from there.
#[derive(Debug, Clone)]
struct Observation {
    resource_version: Option<String>,
    since: Instant,
}

/// Decides, without I/O, whether `lease` may be taken now. `observation` is updated when the
/// record changed (a new `resourceVersion`), which restarts the holder's validity.
fn judge(lease: Option<&Lease>, identity: &str, observation: &mut Option<Observation>, now: Instant, default_duration: Duration) -> Verdict {
    let Some(lease) = lease else { return Verdict::Take };
    let version = lease.metadata.resource_version.clone();
    if observation.as_ref().is_none_or(|o| o.resource_version != version) {
        *observation = Some(Observation { resource_version: version, since: now });
    }
    let spec = lease.spec.clone().unwrap_or_default();
    match spec.holder_identity.as_deref().filter(|h| !h.is_empty()) {
        None => Verdict::Take,
        Some(holder) if holder == identity => Verdict::Take,
        Some(_) => {
            let duration = spec
                .lease_duration_seconds
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(s as u64))
                .unwrap_or(default_duration);
            let since = observation.as_ref().map(|o| o.since).unwrap_or(now);
            match (since + duration).checked_duration_since(now) {
                Some(left) if !left.is_zero() => Verdict::HeldFor(left),
                _ => Verdict::Take,
            }
        }
    }
}

/// The record a candidate writes to take or renew the Lease.
fn claimed(current: Option<&LeaseSpec>, identity: &str, lease_duration: Duration) -> LeaseSpec {
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let current = current.cloned().unwrap_or_default();
    let renewing = current.holder_identity.as_deref() == Some(identity);
    LeaseSpec {
        holder_identity: Some(identity.to_string()),
        lease_duration_seconds: Some(lease_duration.as_secs().max(1) as i32),
        acquire_time: if renewing { current.acquire_time.clone().or(Some(now.clone())) } else { Some(now.clone()) },
        renew_time: Some(now),
        lease_transitions: Some(current.lease_transitions.unwrap_or(0) + i32::from(!renewing)),
        ..current
    }
}

/// A running election. Drop of the handle does not release the Lease: call [`Election::resign`].
pub struct Election {
    mandate: Mandate,
    leading: watch::Receiver<bool>,
    resign: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Election {
    /// Starts campaigning. `client` must be one whose writes are not guarded by the mandate
    /// (the Lease is how the mandate is earned).
    pub fn start(client: Client, config: ElectionConfig) -> Self {
        let mandate = Mandate::revocable();
        let (leading_tx, leading) = watch::channel(false);
        let (resign, resign_rx) = tokio::sync::oneshot::channel();
        let candidate = Candidate {
            api: Api::namespaced(client, &config.namespace),
            config,
            mandate: mandate.clone(),
            leading: leading_tx,
            observation: None,
        };
        let task = tokio::spawn(candidate.campaign(resign_rx));
        Self { mandate, leading, resign, task }
    }

    pub fn mandate(&self) -> Mandate {
        self.mandate.clone()
    }

    /// True while this replica leads; changes when it wins or loses.
    pub fn leading(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }

    /// Stops campaigning and, if this replica still holds a valid mandate, releases the Lease so
    /// that a standby takes over at once.
    pub async fn resign(self) {
        let _ = self.resign.send(());
        let _ = self.task.await;
    }
}

/// How one round of [`Candidate::try_acquire_or_renew`] ended.
enum Attempt {
    Won,
    HeldFor(Duration),
    /// A lost race or an error: look again shortly.
    Failed,
}

struct Candidate {
    api: Api<Lease>,
    config: ElectionConfig,
    mandate: Mandate,
    leading: watch::Sender<bool>,
    observation: Option<Observation>,
}

impl Candidate {
    async fn campaign(mut self, mut resign: tokio::sync::oneshot::Receiver<()>) {
        let timings = self.config.timings;
        // The Lease as the watch last delivered it: `None` until the first answer, then
        // `Some(None)` while it does not exist.
        let mut seen: Option<Option<Lease>> = None;
        // (The watcher retries forever; should it ever end, the timers below still drive the loop.)
        let mut changes = watcher::watch_object(self.api.clone(), &self.config.lease_name)
            .default_backoff()
            .chain(futures::stream::pending())
            .boxed();
        let mut next_attempt = Instant::now();
        loop {
            let leading = *self.leading.borrow();
            tokio::select! {
                _ = &mut resign => break,
                change = changes.next() => {
                    match change {
                        Some(Ok(lease)) => seen = Some(lease),
                        Some(Err(err)) => tracing::debug!(%err, "watch of the leader-election Lease interrupted"),
                        None => continue,
                    }
                    if leading {
                        // Someone else writing the holder means we lost it, whatever our clock says.
                        if let Some(Some(lease)) = &seen
                            && holder(lease).is_some_and(|h| h != self.config.identity)
                        {
                            self.lose("another replica holds the Lease");
                        }
                        continue;
                    }
                    let Some(current) = &seen else { continue };
                    match judge(current.as_ref(), &self.config.identity, &mut self.observation, Instant::now(), timings.lease_duration) {
                        Verdict::Take => next_attempt = Instant::now(),
                        Verdict::HeldFor(left) => next_attempt = Instant::now() + left,
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(self.wake_at(leading, next_attempt).into()) => {}
            }
            if leading && !self.mandate.holds() {
                self.lose("the Lease was not renewed within the renew deadline");
                next_attempt = Instant::now() + timings.retry_period;
                continue;
            }
            let started = Instant::now();
            let budget = if leading { self.time_left().unwrap_or(timings.retry_period) } else { timings.retry_period * 2 };
            let attempt = match tokio::time::timeout(budget.max(Duration::from_millis(100)), self.try_acquire_or_renew()).await {
                Ok(Ok(attempt)) => attempt,
                Ok(Err(err)) => {
                    tracing::warn!(%err, lease = %self.config.lease_name, "cannot read or write the leader-election Lease");
                    Attempt::Failed
                }
                Err(_) => Attempt::Failed,
            };
            next_attempt = match attempt {
                Attempt::Won => {
                    self.mandate.extend_to(started + timings.renew_deadline);
                    if !leading {
                        tracing::info!(identity = %self.config.identity, lease = %self.config.lease_name, "acquired the leader-election Lease");
                        let _ = self.leading.send(true);
                    }
                    Instant::now() + timings.retry_period
                }
                Attempt::HeldFor(_) if leading => {
                    self.lose("another replica holds the Lease");
                    Instant::now() + timings.retry_period
                }
                Attempt::HeldFor(left) => Instant::now() + left,
                // A leader retries soon: its mandate runs out at the renew deadline regardless.
                Attempt::Failed if leading => Instant::now() + timings.retry_period / 2,
                Attempt::Failed => Instant::now() + timings.retry_period,
            };
        }
        if *self.leading.borrow() && self.mandate.holds() {
            self.mandate.revoke();
            match self.release().await {
                Ok(()) => tracing::info!(lease = %self.config.lease_name, "released the leader-election Lease"),
                Err(err) => tracing::warn!(%err, "cannot release the leader-election Lease; a standby takes over when it expires"),
            }
        }
        self.mandate.revoke();
        let _ = self.leading.send(false);
    }

    /// When the loop must run next without a watch event: a leader renews on time and notices a
    /// lapsed mandate at its deadline; a standby tries when the holder's record expires.
    fn wake_at(&self, leading: bool, next_attempt: Instant) -> Instant {
        match (leading, self.mandate.deadline()) {
            (true, Some(deadline)) => next_attempt.min(deadline),
            _ => next_attempt,
        }
    }

    fn time_left(&self) -> Option<Duration> {
        self.mandate.deadline().and_then(|d| d.checked_duration_since(Instant::now()))
    }

    fn lose(&mut self, why: &str) {
        self.mandate.revoke();
        tracing::warn!(identity = %self.config.identity, lease = %self.config.lease_name, why, "lost leadership");
        let _ = self.leading.send(false);
    }

    /// One round: read the Lease, and take or renew it if it is free, expired or ours.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let name = &self.config.lease_name;
        let identity = &self.config.identity;
        let duration = self.config.timings.lease_duration;
        let current = self.api.get_opt(name).await?;
        if let Verdict::HeldFor(left) = judge(current.as_ref(), identity, &mut self.observation, Instant::now(), duration) {
            return Ok(Attempt::HeldFor(left));
        }
        let result = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta { name: Some(name.clone()), ..Default::default() },
                    spec: Some(claimed(None, identity, duration)),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                lease.spec = Some(claimed(lease.spec.as_ref(), identity, duration));
                // Carries the resourceVersion read above: a concurrent writer makes this a 409.
                self.api.replace(name, &PostParams::default(), &lease).await
            }
        };
        match result {
            Ok(lease) => {
                self.observation = Some(Observation { resource_version: lease.metadata.resource_version, since: Instant::now() });
                Ok(Attempt::Won)
            }
            // Another candidate wrote first.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Failed),
            Err(err) => Err(err),
        }
    }

    /// Hands the Lease back (client-go's release: no holder, a one-second duration), only if it
    /// is still ours.
    async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.lease_name).await? else { return Ok(()) };
        if holder(&lease) != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        let spec = lease.spec.get_or_insert_with(Default::default);
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
        self.api.replace(&self.config.lease_name, &PostParams::default(), &lease).await.map(|_| ())
    }
}

fn holder(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref().and_then(|s| s.holder_identity.as_deref()).filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, version: &str, seconds: i32) -> Lease {
        Lease {
            metadata: ObjectMeta { name: Some("l".into()), resource_version: Some(version.into()), ..Default::default() },
            spec: Some(LeaseSpec {
                holder_identity: holder.map(String::from),
                lease_duration_seconds: Some(seconds),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn timings_keep_client_go_proportions() {
        let t = Timings::for_lease(Duration::from_secs(15));
        assert_eq!(t.renew_deadline, Duration::from_secs(10));
        assert_eq!(t.retry_period, Duration::from_secs(2));
        assert!(t.renew_deadline < t.lease_duration);
    }

    #[test]
    fn absent_released_or_own_leases_may_be_taken() {
        let now = Instant::now();
        let d = Duration::from_secs(15);
        assert_eq!(judge(None, "a", &mut None, now, d), Verdict::Take);
        assert_eq!(judge(Some(&lease(None, "1", 15)), "a", &mut None, now, d), Verdict::Take);
        assert_eq!(judge(Some(&lease(Some(""), "1", 15)), "a", &mut None, now, d), Verdict::Take);
        assert_eq!(judge(Some(&lease(Some("a"), "1", 15)), "a", &mut None, now, d), Verdict::Take);
    }

    #[test]
    fn another_holder_is_valid_for_its_duration_from_when_the_record_was_first_seen() {
        let start = Instant::now();
        let d = Duration::from_secs(15);
        let mut seen = None;
        let held = lease(Some("b"), "7", 5);
        assert_eq!(judge(Some(&held), "a", &mut seen, start, d), Verdict::HeldFor(Duration::from_secs(5)));
        // The same record later: the clock runs from the first sight, not from now.
        assert_eq!(judge(Some(&held), "a", &mut seen, start + Duration::from_secs(3), d), Verdict::HeldFor(Duration::from_secs(2)));
        assert_eq!(judge(Some(&held), "a", &mut seen, start + Duration::from_secs(5), d), Verdict::Take);
        // A renewal (new resourceVersion) restarts it.
        let renewed = lease(Some("b"), "8", 5);
        let later = start + Duration::from_secs(6);
        assert_eq!(judge(Some(&renewed), "a", &mut seen, later, d), Verdict::HeldFor(Duration::from_secs(5)));
    }

    #[test]
    fn claiming_counts_transitions_and_keeps_the_acquire_time_on_renew() {
        let taken = claimed(Some(&LeaseSpec { holder_identity: Some("b".into()), lease_transitions: Some(3), ..Default::default() }), "a", Duration::from_secs(15));
        assert_eq!(taken.holder_identity.as_deref(), Some("a"));
        assert_eq!(taken.lease_transitions, Some(4));
        assert_eq!(taken.lease_duration_seconds, Some(15));
        let renewed = claimed(Some(&taken), "a", Duration::from_secs(15));
        assert_eq!(renewed.lease_transitions, Some(4));
        assert_eq!(renewed.acquire_time, taken.acquire_time);
    }

    #[test]
    fn a_revocable_mandate_holds_only_until_its_deadline() {
        let mandate = Mandate::revocable();
        assert!(!mandate.holds());
        mandate.extend_to(Instant::now() + Duration::from_secs(60));
        assert!(mandate.holds());
        mandate.extend_to(Instant::now() - Duration::from_millis(1));
        assert!(!mandate.holds());
        mandate.extend_to(Instant::now() + Duration::from_secs(60));
        mandate.revoke();
        assert!(!mandate.holds());
        assert!(Mandate::unconditional().holds());
    }
}
