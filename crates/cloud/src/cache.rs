//! Short-lived, per-cluster caches of what the cloud holds (SQL users, databases, allowlist, the
//! connection endpoint).
//!
//! The API has no single-object GET for cluster content, so every resource of a cluster would
//! otherwise list the whole collection. One load serves every resource of the cluster:
//! - concurrent callers wait for the same load (single flight);
//! - each caller says how old an answer it accepts: decisions a person is waiting for want a
//!   recent list, periodic drift checks accept one as old as the resync period;
//! - the operator's own writes are applied to the cached list in place (write-through), so a
//!   thousand creates on one cluster do not cost a thousand re-lists, and a write whose outcome is
//!   unknown drops the entry so nothing acts on a list it may have changed.
//!
//! A cache can be switched off (every call loads) to measure what it saves.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::client::Listing;
use super::error::CloudError;

/// Identifies one cached collection: which key (fingerprint), which cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListKey {
    pub key_fingerprint: String,
    pub cluster_id: String,
}

/// A cached value and when it was loaded from the cloud (write-through edits keep that time: an
/// edited list is no fresher than the list it was edited from).
pub struct Cached<V> {
    pub value: Arc<V>,
    pub loaded_at: Instant,
}

impl<V> Clone for Cached<V> {
    fn clone(&self) -> Self {
        Self { value: self.value.clone(), loaded_at: self.loaded_at }
    }
}

struct Entry<V> {
    /// Held across the load, so concurrent callers wait for one request.
    slot: tokio::sync::Mutex<Option<Cached<V>>>,
}

pub struct SharedCache<V> {
    enabled: bool,
    entries: Mutex<HashMap<ListKey, Arc<Entry<V>>>>,
}

/// A cache of listed collections.
pub type ListCache<T> = SharedCache<Listing<T>>;

impl<V> SharedCache<V> {
    pub fn new(enabled: bool) -> Self {
        Self { enabled, entries: Mutex::default() }
    }

    fn entry(&self, key: &ListKey) -> Arc<Entry<V>> {
        let mut entries = self.entries.lock().expect("cache lock");
        entries.entry(key.clone()).or_insert_with(|| Arc::new(Entry { slot: tokio::sync::Mutex::new(None) })).clone()
    }

    /// The cached value if it is at most `max_age` old, otherwise the result of `load` (run by one
    /// caller at a time per key; the others then share its answer).
    pub async fn get_or_load<F, Fut>(&self, key: &ListKey, max_age: Duration, load: F) -> Result<Cached<V>, CloudError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, CloudError>>,
    {
        self.get_or_load_by(key, |_| max_age, load).await
    }

    /// Like `get_or_load`, when how old a value may be depends on the value (a long list may be
    /// older than a short one: it costs more requests to refresh).
    pub async fn get_or_load_by<F, Fut>(&self, key: &ListKey, max_age: impl FnOnce(&V) -> Duration, load: F) -> Result<Cached<V>, CloudError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, CloudError>>,
    {
        if !self.enabled {
            return Ok(Cached { value: Arc::new(load().await?), loaded_at: Instant::now() });
        }
        let entry = self.entry(key);
        let mut slot = entry.slot.lock().await;
        if let Some(cached) = slot.as_ref().filter(|c| c.loaded_at.elapsed() <= max_age(&c.value)) {
            return Ok(cached.clone());
        }
        let cached = Cached { value: Arc::new(load().await?), loaded_at: Instant::now() };
        *slot = Some(cached.clone());
        Ok(cached)
    }

    /// Applies one of the operator's own writes to the cached value, if there is one. Waits for a
    /// load in flight, so the edit lands on the list that load returns.
    pub async fn edit(&self, key: &ListKey, apply: impl FnOnce(&mut V))
    where
        V: Clone,
    {
        if !self.enabled {
            return;
        }
        let entry = self.entries.lock().expect("cache lock").get(key).cloned();
        let Some(entry) = entry else { return };
        let mut slot = entry.slot.lock().await;
        if let Some(cached) = slot.as_mut() {
            apply(Arc::make_mut(&mut cached.value));
        }
    }

    /// Forgets the value (after a write whose outcome is unknown, or when the cluster is gone).
    pub fn invalidate(&self, key: &ListKey) {
        let entry = self.entries.lock().expect("cache lock").remove(key);
        // A load in flight keeps its Arc; the next caller starts from a fresh entry.
        drop(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const LONG: Duration = Duration::from_secs(30);

    type VecCache = SharedCache<Vec<u32>>;

    fn key() -> ListKey {
        ListKey { key_fingerprint: "k".into(), cluster_id: "c".into() }
    }

    async fn value(cache: &VecCache, max_age: Duration, load: Vec<u32>) -> Vec<u32> {
        (*cache.get_or_load(&key(), max_age, || async { Ok(load) }).await.unwrap().value).clone()
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_load() {
        let cache = Arc::new(VecCache::new(true));
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (cache, loads) = (cache.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                let cached = cache
                    .get_or_load(&key(), LONG, || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(vec![1, 2, 3])
                    })
                    .await
                    .unwrap();
                (*cached.value).clone()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), vec![1, 2, 3]);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn each_caller_chooses_how_old_an_answer_it_accepts() {
        let cache = VecCache::new(true);
        assert_eq!(value(&cache, LONG, vec![1]).await, vec![1]);
        tokio::time::sleep(Duration::from_millis(60)).await;
        // A drift check accepts the 60 ms old list; a decision that wants 50 ms reloads.
        assert_eq!(value(&cache, LONG, vec![2]).await, vec![1]);
        assert_eq!(value(&cache, Duration::from_millis(50), vec![3]).await, vec![3]);
        cache.invalidate(&key());
        assert_eq!(value(&cache, LONG, vec![4]).await, vec![4]);
    }

    #[tokio::test]
    async fn how_old_a_value_may_be_can_depend_on_the_value() {
        let cache = VecCache::new(true);
        // 50 ms per item: the 2-item list is still good at 60 ms, the 1-item one is not.
        let per_item = |items: &Vec<u32>| Duration::from_millis(50) * items.len() as u32;
        let load = |items: Vec<u32>| async move { Ok(items) };
        assert_eq!(*cache.get_or_load_by(&key(), per_item, || load(vec![1, 2])).await.unwrap().value, vec![1, 2]);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(*cache.get_or_load_by(&key(), per_item, || load(vec![3])).await.unwrap().value, vec![1, 2]);
        cache.invalidate(&key());
        assert_eq!(*cache.get_or_load_by(&key(), per_item, || load(vec![4])).await.unwrap().value, vec![4]);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(*cache.get_or_load_by(&key(), per_item, || load(vec![5])).await.unwrap().value, vec![5]);
    }

    #[tokio::test]
    async fn own_writes_edit_the_cached_list_without_making_it_fresher() {
        let cache = VecCache::new(true);
        let first = cache.get_or_load(&key(), LONG, || async { Ok(vec![1]) }).await.unwrap();
        cache.edit(&key(), |items| items.push(2)).await;
        let edited = cache.get_or_load(&key(), LONG, || async { Ok(vec![9]) }).await.unwrap();
        assert_eq!(*edited.value, vec![1, 2]);
        assert_eq!(edited.loaded_at, first.loaded_at);
        // The value handed out before the edit is unchanged (copy on write).
        assert_eq!(*first.value, vec![1]);
        // Editing a list that is not cached does nothing (and does not create one).
        cache.invalidate(&key());
        cache.edit(&key(), |items| items.push(3)).await;
        assert_eq!(value(&cache, LONG, vec![7]).await, vec![7]);
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache = VecCache::new(true);
        let err = cache.get_or_load(&key(), LONG, || async { Err(CloudError::Transient("down".into())) }).await;
        assert!(err.is_err());
        assert_eq!(value(&cache, LONG, vec![5]).await, vec![5]);
    }

    #[tokio::test]
    async fn a_disabled_cache_loads_every_time() {
        let cache = VecCache::new(false);
        assert_eq!(value(&cache, LONG, vec![1]).await, vec![1]);
        cache.edit(&key(), |items| items.push(2)).await;
        assert_eq!(value(&cache, LONG, vec![2]).await, vec![2]);
    }
}
