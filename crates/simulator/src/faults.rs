//! Injected faults (admin surface): the next N calls of an operation fail, are slowed down, lose
//! their response after the write was done, or lose their connection.
//!
//! A fault applies to every matching call until it has been used `count` times, or, with
//! `probability`, to a seeded pseudo-random share of the matching calls (each fault has its own
//! generator, seeded by `seed`, so the sequence of hits and misses is the same on every run for
//! the same sequence of calls). `count` then bounds the number of hits, not of calls.

use crdb_cloud::Operation;

use super::admin_api::{EVERY_OPERATION, Fault, FaultKind, FaultSpec};
use super::errors::{ApiError, ApiResult};

/// A tiny, fully deterministic generator (SplitMix64): the same seed gives the same sequence on
/// every platform and run.
#[derive(Debug, Clone, PartialEq, Default)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What a request must suffer; taken from at most one fault.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Injection {
    pub fault_id: Option<u64>,
    pub latency_ms: Option<u64>,
    pub status: Option<u16>,
    pub retry_after_secs: Option<u64>,
    pub drop_response: bool,
    pub reset_connection: bool,
}

impl Injection {
    /// What the request log says of it.
    pub fn label(&self) -> Option<FaultKind> {
        if self.status.is_some() {
            Some(FaultKind::Status)
        } else if self.reset_connection {
            Some(FaultKind::ResetConnection)
        } else if self.drop_response {
            Some(FaultKind::DropResponse)
        } else if self.latency_ms.is_some() {
            Some(FaultKind::Latency)
        } else {
            None
        }
    }
}

/// An active fault and its generator.
#[derive(Debug)]
struct Active {
    fault: Fault,
    rng: SplitMix64,
}

#[derive(Debug, Default)]
pub struct FaultRegistry {
    next_id: u64,
    faults: Vec<Active>,
}

impl FaultRegistry {
    pub fn add(&mut self, spec: FaultSpec) -> ApiResult<Fault> {
        if spec.operation != EVERY_OPERATION && spec.operation.parse::<Operation>().is_err() {
            return Err(ApiError::invalid(format!(
                "unknown operation {:?}; use an operation name such as CreateCluster, or \"*\"",
                spec.operation
            )));
        }
        if spec.count == 0 {
            return Err(ApiError::invalid("`count` must be at least 1"));
        }
        if let Some(s) = spec.status.filter(|s| !(400..=599).contains(s)) {
            return Err(ApiError::invalid(format!("`status` must be an HTTP error status (400-599), got {s}")));
        }
        if spec.status.is_some() && (spec.drop_response || spec.reset_connection) {
            return Err(ApiError::invalid("`status` cannot be combined with `drop_response` or `reset_connection`"));
        }
        if spec.retry_after_secs.is_some() && spec.status != Some(429) {
            return Err(ApiError::invalid("`retry_after_secs` needs `status: 429`"));
        }
        if spec.status.is_none() && spec.latency_ms.is_none() && !spec.drop_response && !spec.reset_connection {
            return Err(ApiError::invalid(
                "a fault needs one of `status`, `latency_ms`, `drop_response` or `reset_connection`",
            ));
        }
        if let Some(p) = spec.probability.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(ApiError::invalid(format!("`probability` must be in (0, 1], got {p}")));
        }
        if spec.seed.is_some() && spec.probability.is_none() {
            return Err(ApiError::invalid("`seed` needs `probability`"));
        }
        self.next_id += 1;
        let sampled = spec.probability.is_some();
        let fault = Fault {
            id: self.next_id,
            operation: spec.operation,
            status: spec.status,
            retry_after_secs: spec.retry_after_secs,
            latency_ms: spec.latency_ms,
            drop_response: spec.drop_response,
            reset_connection: spec.reset_connection,
            remaining: spec.count,
            probability: spec.probability,
            seen: sampled.then_some(0),
            hits: sampled.then_some(0),
        };
        self.faults.push(Active { fault: fault.clone(), rng: SplitMix64(spec.seed.unwrap_or(0)) });
        Ok(fault)
    }

    /// Consumes one use of the oldest fault matching `operation` that hits. Faults apply in the
    /// order they were added, at most one per request, so tests can queue "fail twice, then slow
    /// once"; a probabilistic fault that misses lets the next matching fault have its turn.
    pub fn take(&mut self, operation: Operation) -> Injection {
        let mut hit = None;
        for (index, Active { fault, rng }) in self.faults.iter_mut().enumerate() {
            if fault.operation != EVERY_OPERATION && fault.operation != operation.name() {
                continue;
            }
            if let Some(p) = fault.probability {
                *fault.seen.get_or_insert(0) += 1;
                if rng.next_f64() >= p {
                    continue;
                }
                *fault.hits.get_or_insert(0) += 1;
            }
            hit = Some(index);
            break;
        }
        let Some(index) = hit else {
            return Injection::default();
        };
        let fault = &mut self.faults[index].fault;
        fault.remaining -= 1;
        let injection = Injection {
            fault_id: Some(fault.id),
            latency_ms: fault.latency_ms,
            status: fault.status,
            retry_after_secs: fault.retry_after_secs,
            drop_response: fault.drop_response,
            reset_connection: fault.reset_connection,
        };
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        injection
    }

    pub fn list(&self) -> Vec<Fault> {
        self.faults.iter().map(|active| active.fault.clone()).collect()
    }

    /// Removes every fault; returns how many there were.
    pub fn clear(&mut self) -> usize {
        std::mem::take(&mut self.faults).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Operation::{CreateCluster, CreateSQLUser, GetCluster, ListClusters};

    fn spec(op: Operation) -> FaultSpec {
        FaultSpec::on(op)
    }

    fn every() -> FaultSpec {
        FaultSpec::on_every_operation()
    }

    #[test]
    fn faults_apply_in_order_and_run_out() {
        let mut reg = FaultRegistry::default();
        reg.add(FaultSpec { status: Some(503), count: 2, ..spec(CreateCluster) }).unwrap();
        reg.add(FaultSpec { latency_ms: Some(10), ..every() }).unwrap();
        assert_eq!(reg.take(CreateCluster).status, Some(503));
        assert_eq!(reg.take(GetCluster).latency_ms, Some(10));
        assert_eq!(reg.take(CreateCluster).status, Some(503));
        assert_eq!(reg.take(CreateCluster), Injection::default());
        assert!(reg.list().is_empty());
    }

    #[test]
    fn bad_specs_are_refused() {
        let mut reg = FaultRegistry::default();
        assert!(reg.add(spec(CreateCluster)).unwrap_err().message.contains("needs one of"));
        assert!(reg.add(FaultSpec { status: Some(503), operation: "MakeCoffee".into(), ..every() }).unwrap_err().message.contains("MakeCoffee"));
        assert!(reg.add(FaultSpec { status: Some(200), ..every() }).is_err());
        assert!(reg.add(FaultSpec { status: Some(503), drop_response: true, ..every() }).is_err());
        assert!(reg.add(FaultSpec { status: Some(503), reset_connection: true, ..every() }).is_err());
        assert!(reg.add(FaultSpec { status: Some(503), count: 0, ..every() }).is_err());
        assert!(reg.add(FaultSpec { status: Some(503), retry_after_secs: Some(3), ..every() }).is_err());
        assert!(reg.add(FaultSpec { status: Some(503), probability: Some(0.0), ..every() }).is_err());
        assert!(reg.add(FaultSpec { status: Some(503), probability: Some(1.5), ..every() }).is_err());
        assert!(reg.add(FaultSpec { status: Some(503), seed: Some(1), ..every() }).is_err());
        reg.add(FaultSpec { drop_response: true, count: 3, ..spec(CreateSQLUser) }).unwrap();
        assert_eq!(reg.clear(), 1);
    }

    #[test]
    fn probabilistic_faults_are_seeded_and_hit_about_their_share() {
        let pattern = |seed| {
            let mut reg = FaultRegistry::default();
            let fault = FaultSpec { status: Some(503), probability: Some(0.2), seed: Some(seed), count: u32::MAX, ..every() };
            reg.add(fault).unwrap();
            (0..10_000).map(|_| reg.take(GetCluster).status.is_some()).collect::<Vec<_>>()
        };
        let a = pattern(7);
        assert_eq!(a, pattern(7), "the same seed gives the same hits");
        assert_ne!(a, pattern(8), "another seed gives other hits");
        let hits = a.iter().filter(|h| **h).count();
        assert!((1_800..=2_200).contains(&hits), "{hits} hits of 10000 at p = 0.2");
    }

    #[test]
    fn a_probabilistic_miss_lets_the_next_fault_apply_and_counts_hits() {
        let mut reg = FaultRegistry::default();
        reg.add(FaultSpec { status: Some(500), probability: Some(0.5), seed: Some(1), count: 3, ..every() }).unwrap();
        reg.add(FaultSpec { latency_ms: Some(5), count: 1000, ..every() }).unwrap();
        let mut statuses = 0;
        let mut slowed = 0;
        for _ in 0..100 {
            let injection = reg.take(ListClusters);
            statuses += usize::from(injection.status.is_some());
            slowed += usize::from(injection.latency_ms.is_some());
        }
        assert_eq!(statuses, 3, "count bounds the hits");
        assert_eq!(slowed, 97);
        assert_eq!(reg.list().len(), 1);
    }

    #[test]
    fn resets_and_retry_after_are_carried() {
        let mut reg = FaultRegistry::default();
        reg.add(FaultSpec { status: Some(429), retry_after_secs: Some(3), ..spec(ListClusters) }).unwrap();
        reg.add(FaultSpec { reset_connection: true, ..spec(GetCluster) }).unwrap();
        let limited = reg.take(ListClusters);
        assert_eq!((limited.status, limited.retry_after_secs), (Some(429), Some(3)));
        let reset = reg.take(GetCluster);
        assert!(reset.reset_connection && !reset.drop_response);
        assert_eq!(reset.label(), Some(FaultKind::ResetConnection));
    }
}
