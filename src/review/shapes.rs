//! `plan` for each shape of kind, generic over the kinds of that shape: how a manifest's cloud
//! object is found, and what applying it would do. The same trait functions the controllers use
//! (list, key, ownership marker, `spec_of`), and the same comparison as observe-only.

use std::collections::BTreeSet;

use serde_json::Value;

use super::export::{ExportSession, Exported, kubernetes_name, pruned};
use super::manifests::Manifest;
use super::plan::{Action, ResourcePlan, Session};
use crate::api::CockroachCluster;
use crate::api::child::{ChildSpec, ChildStatusFields};
use crate::api::common::CommonSpec;
use crate::cloud::CloudError;
use crate::controller::member::Member;
use crate::controller::observe::{differences, spec_json};
use crate::controller::top_level::{TopLevel, TopLevelStatus};

fn not_in_cloud(manifest: &Manifest, noun: &str, which: &str) -> ResourcePlan {
    ResourcePlan::new(manifest, Action::Refused, format!("managementPolicy is Observe and there is no cloud {noun} {which}; nothing would be created"))
}

/// A top-level kind: the object recorded in the live status, else the adoption field's, else one
/// an earlier create of this resource made, else one with its name (which the operator refuses to
/// take over unless adopted, and observe-only reports on).
pub async fn top_level<K: TopLevel>(manifest: &Manifest, mut obj: K, live: Option<K>, session: &Session) -> ResourcePlan {
    let noun = K::NOUN;
    let observe = obj.spec().observes();
    if let Some(live) = &live {
        // The ownership marker carries the live resource's UID.
        obj.meta_mut().uid = live.meta().uid.clone();
    }
    let recorded = live.as_ref().and_then(|l| l.status()).and_then(|s| s.cloud_id().map(str::to_string));
    let cloud = match session.cloud_for(&manifest.namespace, obj.spec().credentials_ref()).await {
        Ok(cloud) => cloud,
        Err(why) => return ResourcePlan::new(manifest, Action::Error, why),
    };
    let listed = match session.list_once(&K::kind(&()), "organisation", &cloud, || K::list(&cloud)).await {
        Ok(listed) => listed,
        Err(e) => return ResourcePlan::new(manifest, Action::Error, format!("listing {noun}s: {e}")),
    };
    let live_items: Vec<&K::Cloud> = listed.iter().filter(|item| !K::is_gone(item)).collect();
    let by_id = |id: &str| live_items.iter().find(|item| K::id_of(item) == id).map(|item| (*item).clone());
    // The object to compare with, and whether applying would adopt it.
    let found: (K::Cloud, bool) = if let Some(id) = &recorded {
        match by_id(id) {
            Some(item) => (item, false),
            None if observe => return not_in_cloud(manifest, noun, &format!("with ID {id}")),
            None => return ResourcePlan::new(manifest, Action::Create, format!("cloud {noun} {id} no longer exists; it would be created again")),
        }
    } else if let Some(id) = obj.adopt_id() {
        match by_id(id) {
            Some(item) => match obj.adoption_mismatch(&item) {
                Some(why) => return ResourcePlan::new(manifest, Action::Refused, format!("spec.{}: {why}", K::ADOPT_FIELD)).with_id(id),
                None => (item, true),
            },
            None => return ResourcePlan::new(manifest, Action::Refused, format!("spec.{}: no cloud {noun} {id} to adopt", K::ADOPT_FIELD)),
        }
    } else if let Some(own) = live_items.iter().find(|item| obj.made_by_this(item, None)) {
        ((*own).clone(), false)
    } else {
        let name = obj.cloud_name();
        let named: Vec<&&K::Cloud> = live_items.iter().filter(|item| obj.same_key(item) || (observe && K::name_of(item) == name)).collect();
        match (named.as_slice(), observe) {
            ([item], true) => ((**item).clone(), false),
            ([], true) => return not_in_cloud(manifest, noun, &format!("named {name:?}")),
            (_, true) => return ResourcePlan::new(manifest, Action::Refused, format!("several cloud {noun}s are named {name:?}; set spec.{} to the one to observe", K::ADOPT_FIELD)),
            ([], false) => return ResourcePlan::new(manifest, Action::Create, format!("a cloud {noun} named {name:?} would be created")),
            ([item, ..], false) => {
                let message = format!(
                    "a cloud {noun} named {name:?} already exists (id {}) and was not created by this resource; set spec.{} to adopt it, or choose another name",
                    K::id_of(item),
                    K::ADOPT_FIELD
                );
                return ResourcePlan::new(manifest, Action::Refused, message).with_id(K::id_of(item));
            }
        }
    };
    let (item, adopting) = found;
    let mut drift = differences(&spec_json(&obj), &K::spec_of(&item));
    // What hangs off the object (a cluster's setting blocks), observed as the controllers do.
    if let Some(ctx) = &session.context {
        let mut status = live.as_ref().and_then(|l| l.status()).cloned().unwrap_or_default();
        match obj.observe_parts(ctx, &cloud, &item, &mut status).await {
            Ok(parts) => drift.extend(parts),
            Err(err) => return ResourcePlan::new(manifest, Action::Error, err.message).with_id(K::id_of(&item)),
        }
    }
    let mut plan = ResourcePlan::compared(manifest, K::id_of(&item), drift, observe);
    if adopting && !observe {
        plan.action = Action::Adopt;
        let updated = if plan.changes.is_empty() { "" } else { " and updated" };
        plan.message = format!("existing cloud {noun} {} would be adopted{updated}", K::id_of(&item));
    }
    plan
}

/// A list member: its owner (the cluster, or a principal) from the live status, the spec's ID, or
/// the CockroachCluster it names (live, or declared in the manifests and still to be created);
/// then its key in the owner's list, read once for every member of that owner.
pub async fn member<K: Member>(manifest: &Manifest, obj: K, live: Option<K>, session: &Session) -> ResourcePlan {
    let noun = K::NOUN;
    let observe = obj.spec().observes();
    let status = live.as_ref().and_then(|l| l.status()).cloned();
    let mut credentials = obj.spec().credentials_ref().cloned();
    let mut owner = status.as_ref().and_then(|s| K::recorded_owner(s).map(str::to_string)).or_else(|| obj.spec_owner());
    if owner.is_none()
        && let Some(reference) = obj.spec().cluster_ref()
    {
        match session.live::<CockroachCluster>(&manifest.namespace, &reference.name).await {
            Some(cluster) => {
                credentials = credentials.or(cluster.spec.credentials_ref.clone());
                owner = cluster.status.and_then(|s| s.cluster_id);
            }
            None if session.declares("CockroachCluster", &manifest.namespace, &reference.name) => {}
            None => {
                let message = format!("spec.clusterRef: CockroachCluster {} is neither live nor in the manifests; the {noun} would wait for it", reference.name);
                return ResourcePlan::new(manifest, Action::Refused, message);
            }
        }
    }
    let key = status.as_ref().and_then(|s| s.common().cloud_name.clone()).map(Ok).unwrap_or_else(|| obj.desired_key());
    let key = match key {
        Ok(key) => key,
        Err(err) => return ResourcePlan::new(manifest, Action::Refused, err.message),
    };
    let Some(owner) = owner else {
        return match observe {
            true => not_in_cloud(manifest, noun, &format!("{key:?}: its {} does not exist yet", K::OWNER_NOUN)),
            false => ResourcePlan::new(manifest, Action::Create, format!("{noun} {key:?} would be created once its {} exists", K::OWNER_NOUN)),
        };
    };
    let cloud = match session.cloud_for(&manifest.namespace, credentials.as_ref()).await {
        Ok(cloud) => cloud,
        Err(why) => return ResourcePlan::new(manifest, Action::Error, why),
    };
    let load = || async { K::list(&cloud, &owner).await.map(|listing| listing.items) };
    let listed = match session.list_once(&K::kind(&()), &owner, &cloud, load).await {
        Ok(listed) => listed,
        Err(e) => return ResourcePlan::new(manifest, Action::Error, format!("listing {noun}s of {} {owner}: {e}", K::OWNER_NOUN)),
    };
    match obj.located(&listed, &key, status.as_ref()) {
        Some(item) => ResourcePlan::compared(manifest, &key, differences(&spec_json(&obj), &K::spec_of(item)), observe),
        None if observe => not_in_cloud(manifest, noun, &format!("{key:?} in {} {owner}", K::OWNER_NOUN)),
        None => ResourcePlan::new(manifest, Action::Create, format!("{noun} {key:?} would be created in {} {owner}", K::OWNER_NOUN)),
    }
}

/// Manifests of a top-level kind's objects: clusters named with `--cluster`, everything with
/// `--all`; each adopts its object by ID.
pub async fn export_top_level<K: TopLevel>(session: &ExportSession) -> Result<Vec<Exported>, String> {
    let kind = K::kind(&()).to_string();
    if !session.all && kind != "CockroachCluster" {
        return Ok(Vec::new());
    }
    let items = K::list(&session.cloud).await.map_err(|e| format!("listing {}s: {e}", K::NOUN))?;
    let mut taken = BTreeSet::new();
    let mut exported = Vec::new();
    for item in items.iter().filter(|item| !K::is_gone(item) && session.includes(&kind, K::id_of(item))) {
        let mut spec = pruned(K::export_spec(item));
        spec[K::ADOPT_FIELD] = Value::from(K::id_of(item));
        spec["managementPolicy"] = Value::from(session.policy);
        let name = kubernetes_name(K::name_of(item), &mut taken);
        exported.push(Exported { kind: kind.clone(), name, cloud_id: K::id_of(item).to_string(), spec, note: None });
    }
    if kind == "CockroachCluster"
        && let Some(missing) = session.clusters.iter().find(|id| !exported.iter().any(|e| &e.cloud_id == *id))
    {
        return Err(format!("--cluster {missing}: no such cluster for this API key"));
    }
    session.record(&kind, exported.iter().map(|e| e.cloud_id.clone()));
    Ok(exported)
}

/// Manifests of a member kind's objects, for every exported owner. An owner that cannot hold
/// such members (private endpoints on a plan without them) contributes none.
pub async fn export_member<K: Member>(session: &ExportSession) -> Result<Vec<Exported>, String> {
    let kind = K::kind(&()).to_string();
    let mut taken = BTreeSet::new();
    let mut exported = Vec::new();
    for owner in session.owners(K::OWNER_KIND) {
        let listing = match K::list(&session.cloud, &owner).await {
            Ok(listing) => listing,
            Err(CloudError::NotFound(_) | CloudError::FailedPrecondition(_) | CloudError::InvalidArgument(_)) => continue,
            Err(e) => return Err(format!("listing {}s of {} {owner}: {e}", K::NOUN, K::OWNER_NOUN)),
        };
        for item in &listing.items {
            let mut spec = pruned(K::export_spec(item));
            spec[K::OWNER_FIELD] = Value::from(owner.as_str());
            spec["managementPolicy"] = Value::from(session.policy);
            let key = K::key_of(item);
            let name = kubernetes_name(&key, &mut taken);
            exported.push(Exported { kind: kind.clone(), name, cloud_id: key, spec, note: K::export_note(item) });
        }
    }
    Ok(exported)
}
