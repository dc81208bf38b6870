//! What the simulator has served: counts by operation and status, and a bounded request log.
//! Neither ever holds an API key; requests are attributed to organisation ids.

use std::collections::VecDeque;

pub use super::admin_api::{RequestRecord, Stats};

/// The request log keeps this many most recent entries.
pub const LOG_CAPACITY: usize = 100_000;

#[derive(Debug, Default)]
pub struct Journal {
    next_seq: u64,
    stats: Stats,
    log: VecDeque<RequestRecord>,
}

impl Journal {
    /// Records a request; `seq` is assigned here.
    pub fn record(&mut self, mut entry: RequestRecord, rate_limited: bool) {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        self.stats.total += 1;
        if rate_limited {
            self.stats.rate_limited += 1;
        }
        *self
            .stats
            .by_operation
            .entry(entry.operation.clone())
            .or_default()
            .entry(entry.status.to_string())
            .or_default() += 1;
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(entry);
    }

    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// Log entries with `seq > since`, optionally of one operation.
    pub fn requests(&self, since: u64, operation: Option<&str>) -> Vec<RequestRecord> {
        self.log
            .iter()
            .filter(|r| r.seq > since && operation.is_none_or(|op| r.operation == op))
            .cloned()
            .collect()
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crdb_cloud::Operation;

    fn entry(op: Operation, status: u16) -> RequestRecord {
        RequestRecord {
            seq: 0,
            at: String::new(),
            method: "GET".into(),
            path: "/x".into(),
            operation: op.name().into(),
            status,
            org: None,
            duration_ms: 0,
            fault: None,
        }
    }

    #[test]
    fn counts_and_filters() {
        let mut j = Journal::default();
        j.record(entry(Operation::CreateCluster, 200), false);
        j.record(entry(Operation::CreateCluster, 429), true);
        j.record(entry(Operation::GetCluster, 200), false);
        let s = j.stats();
        assert_eq!((s.total, s.rate_limited), (3, 1));
        assert_eq!(s.count(Operation::CreateCluster, 429), 1);
        assert_eq!(j.requests(1, None).iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(j.requests(0, Some(Operation::GetCluster.name())).len(), 1);
        j.clear();
        assert_eq!(j.stats().total, 0);
        j.record(entry(Operation::GetCluster, 200), false);
        assert_eq!(j.requests(0, None)[0].seq, 1);
    }
}
