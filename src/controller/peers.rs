//! Other resources of this operator that a spec names (`serviceAccountRef`, `clusterRef`,
//! `folderRef`): their cloud IDs, and the watches that wake the resources naming one that changed.

use std::fmt::Debug;

use futures::TryStreamExt;
use kube::core::{DeserializeGuard, NamespaceResourceScope};
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::Wiring;
use super::context::Context;

/// A resource kind of this operator, as another resource's spec names it.
pub trait Peer: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug + Send + Sync + 'static {}
impl<R> Peer for R where R: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug + Send + Sync + 'static {}

/// The cloud ID (`id` reads it from the status) of the resource `name` of kind `R` in
/// `namespace`; `None` while it has none or does not exist. The watch cache answers when it knows
/// the ID (the common case, asked by many resources at once); otherwise the apiserver does, since
/// the cache may lag the watch event that woke the asking resource.
pub async fn cloud_id_of<R: Peer>(ctx: &Context, namespace: &str, name: &str, id: fn(&R) -> Option<String>) -> Result<Option<String>, kube::Error> {
    let cached = ctx.stores.get::<R>().and_then(|store| store.get(&ObjectRef::new(name).within(namespace)));
    if let Some(known) = cached.and_then(|peer| id(&peer)) {
        return Ok(Some(known));
    }
    let api: Api<R> = Api::namespaced(ctx.client.clone(), namespace);
    Ok(api.get_opt(name).await?.and_then(|peer| id(&peer)))
}

/// The objects of kind `R` as they change, created, updated or deleted. One the operator cannot
/// read (an older or hand-edited schema) wakes nobody: its own controller reports it, and it does
/// not stop this watch.
pub fn readable<R: Peer>(wiring: &Wiring) -> impl futures::Stream<Item = Result<R, watcher::Error>> + Send + 'static {
    let api: Api<DeserializeGuard<R>> = wiring.api();
    watcher(api, wiring.watcher_config()).touched_objects().try_filter_map(|object| std::future::ready(Ok(object.0.ok())))
}

/// Wakes the resources of kind `K` whose spec names (`named` gives the name, if any) a resource of
/// kind `R` of their namespace that changed.
pub fn wake_on<R: Peer, K: Peer>(controller: Controller<K>, wiring: &Wiring, named: fn(&K) -> Option<String>) -> Controller<K> {
    let store = controller.store();
    controller.watches_stream(readable::<R>(wiring), move |peer| {
        let (namespace, name) = (peer.namespace(), peer.name_any());
        store
            .state()
            .into_iter()
            .filter(|r| r.namespace() == namespace && named(r).as_deref() == Some(name.as_str()))
            .map(|r| ObjectRef::from_obj(r.as_ref()))
            .collect::<Vec<_>>()
    })
}
