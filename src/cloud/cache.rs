//! A short-lived, per-cluster cache of list results (SQL users, databases, allowlist).
//!
//! The API has no single-object GET for these, so every resource of a cluster would otherwise list
//! the whole collection. One load serves every resource of the cluster: concurrent callers wait for
//! the same load (single flight), results live for a short TTL, and the operator's own writes
//! invalidate the entry so it never acts on what it just changed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::error::CloudError;

/// Identifies one list: which key (fingerprint), which cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListKey {
    pub key_fingerprint: String,
    pub cluster_id: String,
}

struct Entry<T> {
    /// Held across the load, so concurrent callers wait for one request.
    slot: tokio::sync::Mutex<Option<(Instant, Arc<Vec<T>>)>>,
}

pub struct ListCache<T> {
    ttl: Duration,
    entries: Mutex<HashMap<ListKey, Arc<Entry<T>>>>,
}

impl<T> ListCache<T> {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::default() }
    }

    fn entry(&self, key: &ListKey) -> Arc<Entry<T>> {
        let mut entries = self.entries.lock().expect("list cache lock");
        entries.entry(key.clone()).or_insert_with(|| Arc::new(Entry { slot: tokio::sync::Mutex::new(None) })).clone()
    }

    /// The cached list, or the result of `load` (run by one caller at a time per key).
    pub async fn get_or_load<F, Fut>(&self, key: &ListKey, load: F) -> Result<Arc<Vec<T>>, CloudError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, CloudError>>,
    {
        let entry = self.entry(key);
        let mut slot = entry.slot.lock().await;
        if let Some((loaded_at, items)) = slot.as_ref() {
            if loaded_at.elapsed() < self.ttl {
                return Ok(items.clone());
            }
        }
        let items = Arc::new(load().await?);
        *slot = Some((Instant::now(), items.clone()));
        Ok(items)
    }

    /// Forgets the list after a write to it (or when the cluster is gone).
    pub fn invalidate(&self, key: &ListKey) {
        let entry = self.entries.lock().expect("list cache lock").remove(key);
        // A load in flight keeps its Arc; the next caller starts from a fresh entry.
        drop(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn key() -> ListKey {
        ListKey { key_fingerprint: "k".into(), cluster_id: "c".into() }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_load() {
        let cache = Arc::new(ListCache::<u32>::new(Duration::from_secs(30)));
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (cache, loads) = (cache.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_load(&key(), || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(vec![1, 2, 3])
                    })
                    .await
                    .unwrap()
            }));
        }
        for task in tasks {
            assert_eq!(*task.await.unwrap(), vec![1, 2, 3]);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn invalidation_and_expiry_force_a_new_load() {
        let cache = ListCache::<u32>::new(Duration::from_millis(50));
        let first = cache.get_or_load(&key(), || async { Ok(vec![1]) }).await.unwrap();
        let cached = cache.get_or_load(&key(), || async { Ok(vec![2]) }).await.unwrap();
        assert_eq!(*first, vec![1]);
        assert_eq!(*cached, vec![1]);
        cache.invalidate(&key());
        assert_eq!(*cache.get_or_load(&key(), || async { Ok(vec![3]) }).await.unwrap(), vec![3]);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(*cache.get_or_load(&key(), || async { Ok(vec![4]) }).await.unwrap(), vec![4]);
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache = ListCache::<u32>::new(Duration::from_secs(30));
        let err = cache.get_or_load(&key(), || async { Err(CloudError::Transient("down".into())) }).await;
        assert!(err.is_err());
        assert_eq!(*cache.get_or_load(&key(), || async { Ok(vec![5]) }).await.unwrap(), vec![5]);
    }
}
