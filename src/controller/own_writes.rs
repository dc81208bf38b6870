//! Read-your-own-writes for the watch cache. A reconcile starts from the object the controller's
//! cache holds, and a trigger that arrives while a pass runs (a requeue falling due, a watched
//! Secret changing) is run as soon as that pass ends: often before the watch has delivered the
//! status the pass just wrote. A pass started from that older status redoes what the newer one
//! records: a setting block that remembers in status what it sent (the fingerprint of a Datadog
//! API key or an Azure shared key) sends it again. So the operator remembers, per object, the
//! resource versions its last status write made obsolete, and a pass that finds the cache at one
//! of them waits for the watch (whose event of that write wakes the object) instead of running.
//!
//! Resource versions are only compared for equality, as Kubernetes asks of clients.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::{Resource, ResourceExt};

/// How long a write is waited for: past it the cache is trusted again (a watch that stays behind
/// that long is re-listing, and a pass from an older status is what happened before this guard).
const PATIENCE: Duration = Duration::from_secs(30);

/// The resource versions superseded by each object's last status write.
#[derive(Default)]
pub struct OwnWrites(Mutex<HashMap<String, Superseded>>);

struct Superseded {
    versions: Vec<String>,
    /// The version the last write made: superseded in turn by the next write.
    latest: String,
    at: Instant,
}

fn key<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    format!("{}/{}/{}", K::kind(&()), obj.namespace().unwrap_or_default(), obj.name_any())
}

/// At most this many older versions per object (a pass writes at most a few times).
const KEEP: usize = 8;

impl OwnWrites {
    /// The operator wrote `before` (the object as the pass had it), and the apiserver answered
    /// with `after` (a status write, or the finalizer added in the same pass).
    pub fn wrote<K: Resource<DynamicType = ()>>(&self, before: &K, after: &K) {
        self.wrote_at(&key(before), before.resource_version().as_deref(), after.resource_version().as_deref(), Instant::now());
    }

    /// Nothing to remember when the write changed nothing. Writes within one pass chain: each
    /// supersedes the version before it and the one the previous write made.
    fn wrote_at(&self, key: &str, before: Option<&str>, after: Option<&str>, now: Instant) {
        let (Some(before), Some(after)) = (before, after) else { return };
        if before == after {
            return;
        }
        let mut map = self.0.lock().expect("own writes lock");
        map.retain(|_, s| now.duration_since(s.at) < PATIENCE);
        let entry = map.entry(key.to_string()).or_insert_with(|| Superseded { versions: Vec::new(), latest: after.to_string(), at: now });
        let previous = std::mem::replace(&mut entry.latest, after.to_string());
        for old in [before.to_string(), previous] {
            if old != after && !entry.versions.contains(&old) {
                entry.versions.push(old);
            }
        }
        if entry.versions.len() > KEEP {
            entry.versions.drain(..entry.versions.len() - KEEP);
        }
        entry.at = now;
    }

    /// Whether the cached object, at `version`, is older than the operator's last write of it.
    /// A cache that has moved past every superseded version is trusted, and forgotten about.
    pub fn behind<K: Resource<DynamicType = ()>>(&self, obj: &K) -> bool {
        self.behind_at(&key(obj), obj.resource_version().as_deref(), Instant::now())
    }

    fn behind_at(&self, key: &str, version: Option<&str>, now: Instant) -> bool {
        let mut map = self.0.lock().expect("own writes lock");
        let Some(entry) = map.get(key) else { return false };
        let behind = now.duration_since(entry.at) < PATIENCE && version.is_some_and(|v| entry.versions.iter().any(|s| s == v));
        if !behind {
            map.remove(key);
        }
        behind
    }

    /// The object is gone: nothing more to wait for.
    pub fn forget<K: Resource<DynamicType = ()>>(&self, obj: &K) {
        self.0.lock().expect("own writes lock").remove(&key(obj));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_still_at_a_version_the_last_write_replaced_is_behind() {
        let writes = OwnWrites::default();
        let t = Instant::now();
        // A pass read version 10, added the finalizer (11), then wrote its status (12).
        writes.wrote_at("c", Some("10"), Some("11"), t);
        writes.wrote_at("c", Some("11"), Some("12"), t);
        assert!(writes.behind_at("c", Some("10"), t));
        assert!(writes.behind_at("c", Some("11"), t), "the cache has the finalizer but not the status");
        // The watch delivered the write (or something newer): trusted, and forgotten.
        assert!(!writes.behind_at("c", Some("12"), t));
        assert!(!writes.behind_at("c", Some("11"), t), "nothing is remembered once the cache caught up");
        assert!(!writes.behind_at("other", Some("10"), t));
    }

    #[test]
    fn an_unchanged_object_or_an_old_write_holds_nothing_back() {
        let writes = OwnWrites::default();
        let t = Instant::now();
        writes.wrote_at("c", Some("10"), Some("10"), t);
        assert!(!writes.behind_at("c", Some("10"), t), "a write that changed nothing made no version obsolete");
        writes.wrote_at("c", Some("10"), Some("12"), t);
        assert!(!writes.behind_at("c", Some("10"), t + PATIENCE), "a watch that long behind is trusted again");
        writes.wrote_at("c", Some("12"), Some("13"), t);
        writes.0.lock().unwrap().clear();
        assert!(!writes.behind_at("c", Some("12"), t));
    }

    #[test]
    fn writes_within_one_pass_chain() {
        // The create path writes its intent (11) and the cloud ID (12) before the final status
        // (13), each from the object the pass started with (10).
        let writes = OwnWrites::default();
        let t = Instant::now();
        for after in ["11", "12", "13"] {
            writes.wrote_at("c", Some("10"), Some(after), t);
        }
        for stale in ["10", "11", "12"] {
            assert!(writes.behind_at("c", Some(stale), t), "{stale}");
        }
        assert!(!writes.behind_at("c", Some("13"), t));
    }
}
