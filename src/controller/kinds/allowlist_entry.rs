//! AllowlistEntry: one CIDR of a cluster's IP allowlist. The CIDR is the key (immutable); `sql`,
//! `ui` and the description update in place. Two resources for one CIDR on one cluster would
//! fight, so the younger one reports a conflict instead.

use std::net::Ipv4Addr;
use std::sync::Arc;

use kube::api::{Api, ListParams};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::api::{AllowlistEntry, ChildStatus};
use crate::cloud::models::{self, AllowlistEntryUpdate};
use crate::cloud::{CloudClient, CloudError, Listing};

use crate::controller::context::Context;
use crate::controller::driver::Kind;
use crate::controller::error::ReconcileError;
use crate::controller::member::{Done, Member, MemberShape, Target};
use crate::controller::reason::Reason;

/// An IPv4 network in the cloud's two-part form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub ip: Ipv4Addr,
    pub mask: u8,
}

impl Cidr {
    /// Parses `a.b.c.d` (meaning /32) or `a.b.c.d/n`; host bits must be zero.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (ip, mask) = match text.trim().split_once('/') {
            Some((ip, mask)) => (ip, mask.parse::<u8>().map_err(|_| format!("{text:?}: the prefix length must be a number from 0 to 32"))?),
            None => (text.trim(), 32),
        };
        let ip: Ipv4Addr = ip.parse().map_err(|_| format!("{text:?} is not an IPv4 address or CIDR"))?;
        if mask > 32 {
            return Err(format!("{text:?}: the prefix length must be at most 32"));
        }
        let bits = u32::from(ip);
        let host_mask = if mask == 0 { u32::MAX } else { (1u64 << (32 - mask)) as u32 - 1 };
        if bits & host_mask != 0 {
            let network = Ipv4Addr::from(bits & !host_mask);
            return Err(format!("{text:?} has host bits set; did you mean {network}/{mask}?"));
        }
        Ok(Self { ip, mask })
    }

    pub fn matches(&self, entry: &models::AllowlistEntry) -> bool {
        entry.cidr_mask == i32::from(self.mask) && entry.cidr_ip.parse::<Ipv4Addr>().is_ok_and(|ip| ip == self.ip)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip, self.mask)
    }
}


impl Kind for AllowlistEntry {
    type Shape = MemberShape;
}

/// The one write an allowlist entry may need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowlistChange {
    Add(Cidr),
    /// `sql`, `ui` or the description differ.
    Update(Cidr),
}

/// What an entry's plan reads besides its spec: the older resource that already manages its CIDR
/// on the same cluster, if any.
pub struct AllowlistInputs {
    conflicting_owner: Option<String>,
}

impl AllowlistEntry {
    fn cidr(&self) -> Result<Cidr, ReconcileError> {
        Cidr::parse(&self.spec.cidr).map_err(|e| ReconcileError::stalled(Reason::InvalidSpec, format!("spec.cidr: {e}")))
    }

    /// The cloud cluster an entry targets: `spec.clusterId`, else the one its status records, else
    /// the one its CockroachCluster's status names. An entry naming a cluster by `clusterRef` and
    /// another naming the same cluster by `clusterId` target the same allowlist.
    fn cloud_cluster(&self, ctx: &Context) -> Option<String> {
        if let Some(id) = &self.spec.cluster_id {
            return Some(id.clone());
        }
        if let Some(id) = self.status.as_ref().and_then(|s| s.cluster_id.clone()) {
            return Some(id);
        }
        let reference = self.spec.cluster_ref.as_ref()?;
        let key = ObjectRef::new(&reference.name).within(&self.namespace().unwrap_or_default());
        ctx.stores.get::<crate::api::CockroachCluster>()?.get(&key)?.status.as_ref()?.cluster_id.clone()
    }

    /// Another, older AllowlistEntry for the same CIDR on the same cloud cluster (it wins). Read
    /// from the controller's watch cache: two hundred entries checking each other must not mean two
    /// hundred lists of every entry from the apiserver.
    async fn conflicting_owner(&self, ctx: &Context, cluster_id: &str, cidr: Cidr) -> Result<Option<String>, ReconcileError> {
        let others: Vec<Arc<AllowlistEntry>> = match ctx.stores.get::<AllowlistEntry>() {
            Some(store) => store.state(),
            // Without a running controller (no watch cache): this namespace only, which a
            // namespace-scoped installation is allowed to list.
            None => {
                let api: Api<AllowlistEntry> = Api::namespaced(ctx.client.clone(), &self.namespace().unwrap_or_default());
                api.list(&ListParams::default()).await?.items.into_iter().map(Arc::new).collect()
            }
        };
        let mine = (self.creation_timestamp(), self.namespace(), self.name_any());
        let winner = others
            .into_iter()
            .filter(|o| o.uid() != self.uid() && o.metadata.deletion_timestamp.is_none())
            .filter(|o| Cidr::parse(&o.spec.cidr).is_ok_and(|c| c == cidr) && o.cloud_cluster(ctx).as_deref() == Some(cluster_id))
            .filter(|o| (o.creation_timestamp(), o.namespace(), o.name_any()) < mine)
            .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
            .next();
        Ok(winner)
    }

    fn desired_update(&self) -> AllowlistEntryUpdate {
        AllowlistEntryUpdate { name: self.spec.name.clone(), sql: self.spec.sql, ui: self.spec.ui }
    }
}

impl Member for AllowlistEntry {
    type Cloud = models::AllowlistEntry;
    type Inputs = AllowlistInputs;
    type Change = AllowlistChange;
    const NOUN: &'static str = "allowlist entry";

    fn desired_key(&self) -> Result<String, ReconcileError> {
        Ok(self.cidr()?.to_string())
    }

    /// The CIDR itself is how the entry was found (the spec may spell it without `/32`).
    fn spec_of(item: &models::AllowlistEntry) -> serde_json::Value {
        serde_json::json!({"sql": item.sql, "ui": item.ui, "name": item.name})
    }

    fn export_spec(item: &models::AllowlistEntry) -> serde_json::Value {
        serde_json::json!({"cidr": Self::key_of(item), "sql": item.sql, "ui": item.ui, "name": item.name})
    }

    /// The normalised CIDR (the cloud may spell an entry differently from the spec).
    fn key_of(item: &models::AllowlistEntry) -> String {
        let spelled = format!("{}/{}", item.cidr_ip, item.cidr_mask);
        Cidr::parse(&spelled).map(|c| c.to_string()).unwrap_or(spelled)
    }

    async fn list(cloud: &CloudClient, cluster_id: &str) -> Result<Listing<models::AllowlistEntry>, CloudError> {
        cloud.list_allowlist(cluster_id).await
    }

    async fn inputs(&self, ctx: &Context, target: &Target, _listed: &[models::AllowlistEntry]) -> Result<AllowlistInputs, ReconcileError> {
        Ok(AllowlistInputs { conflicting_owner: self.conflicting_owner(ctx, &target.cluster_id, self.cidr()?).await? })
    }

    fn plan(&self, inputs: &AllowlistInputs, listed: &[models::AllowlistEntry], _status: &ChildStatus) -> Result<Option<AllowlistChange>, ReconcileError> {
        let cidr = self.cidr()?;
        if let Some(owner) = &inputs.conflicting_owner {
            return Err(ReconcileError::stalled(
                Reason::Conflict,
                format!("AllowlistEntry {owner} already manages {cidr} on this cluster; delete one of the two"),
            ));
        }
        let wanted = self.desired_update();
        Ok(match listed.iter().find(|e| cidr.matches(e)) {
            Some(entry) if entry.sql == wanted.sql && entry.ui == wanted.ui && (wanted.name.is_none() || entry.name == wanted.name) => None,
            Some(_) => Some(AllowlistChange::Update(cidr)),
            None => Some(AllowlistChange::Add(cidr)),
        })
    }

    async fn execute(&self, _ctx: &Context, target: &Target, _inputs: &AllowlistInputs, change: AllowlistChange) -> Result<Done<models::AllowlistEntry>, ReconcileError> {
        let wanted = self.desired_update();
        match change {
            AllowlistChange::Update(cidr) => {
                let updated = target
                    .cloud
                    .update_allowlist_entry(&target.cluster_id, &cidr.ip.to_string(), i32::from(cidr.mask), &wanted)
                    .await
                    .map_err(|e| ReconcileError::cloud("updating the allowlist entry", e))?;
                Ok(Done::changed(Reason::Updated, format!("updated allowlist entry {cidr} (sql={}, ui={})", wanted.sql, wanted.ui), updated))
            }
            AllowlistChange::Add(cidr) => {
                let entry = models::AllowlistEntry { cidr_ip: cidr.ip.to_string(), cidr_mask: i32::from(cidr.mask), name: wanted.name, sql: wanted.sql, ui: wanted.ui };
                match target.cloud.add_allowlist_entry(&target.cluster_id, &entry).await {
                    Ok(added) => Ok(Done::changed(Reason::Created, format!("added allowlist entry {cidr}"), added)),
                    // Added meanwhile: adopt it; the next pass brings sql/ui/name in line.
                    Err(CloudError::AlreadyExists(_)) => Ok(Done::to_confirm(Reason::Adopted, format!("adopted existing allowlist entry {cidr}"))),
                    Err(e) => Err(ReconcileError::cloud("adding the allowlist entry", e)),
                }
            }
        }
    }

    async fn delete(cloud: &CloudClient, cluster_id: &str, key: &str) -> Result<(), CloudError> {
        let cidr = Cidr::parse(key).map_err(CloudError::InvalidArgument)?;
        cloud.delete_allowlist_entry(cluster_id, &cidr.ip.to_string(), i32::from(cidr.mask)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_addresses_mean_slash_32_and_host_bits_are_refused() {
        assert_eq!(Cidr::parse("10.0.0.1").unwrap(), Cidr::parse("10.0.0.1/32").unwrap());
        assert_eq!(Cidr::parse("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().mask, 0);
        let err = Cidr::parse("10.0.0.1/8").unwrap_err();
        assert!(err.contains("host bits") && err.contains("10.0.0.0/8"), "{err}");
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("2001:db8::/32").is_err());
        assert!(Cidr::parse("banana").is_err());
    }

    #[test]
    fn cloud_entries_match_after_normalisation() {
        let entry = models::AllowlistEntry { cidr_ip: "192.0.2.7".into(), cidr_mask: 32, name: None, sql: true, ui: false };
        assert!(Cidr::parse("192.0.2.7").unwrap().matches(&entry));
        assert!(!Cidr::parse("192.0.2.0/24").unwrap().matches(&entry));
    }

    fn entry(cidr: &str, sql: bool, ui: bool) -> AllowlistEntry {
        let spec = crate::api::allowlist_entry::AllowlistEntrySpec {
            cluster_ref: None,
            cluster_id: Some("c".into()),
            cidr: cidr.into(),
            sql,
            ui,
            name: None,
            deletion_policy: Default::default(), management_policy: Default::default(),
            credentials_ref: None,
        };
        AllowlistEntry::new("office", spec)
    }

    fn free() -> AllowlistInputs {
        AllowlistInputs { conflicting_owner: None }
    }

    #[test]
    fn an_entry_is_added_updated_or_left_alone() {
        let cloud = vec![models::AllowlistEntry { cidr_ip: "10.0.0.0".into(), cidr_mask: 8, name: None, sql: true, ui: false }];
        let status = ChildStatus::default();
        let cidr = Cidr::parse("10.0.0.0/8").unwrap();
        assert_eq!(entry("10.0.0.0/8", true, false).plan(&free(), &cloud, &status).unwrap(), None);
        assert_eq!(entry("10.0.0.0/8", true, true).plan(&free(), &cloud, &status).unwrap(), Some(AllowlistChange::Update(cidr)));
        let other = Cidr::parse("192.0.2.7").unwrap();
        assert_eq!(entry("192.0.2.7", true, false).plan(&free(), &cloud, &status).unwrap(), Some(AllowlistChange::Add(other)));
    }

    #[test]
    fn a_cidr_managed_by_an_older_entry_is_a_conflict_and_nothing_is_sent() {
        let inputs = AllowlistInputs { conflicting_owner: Some("team-a/office".into()) };
        let err = entry("10.0.0.0/8", true, false).plan(&inputs, &[], &ChildStatus::default()).unwrap_err();
        assert!(err.is_stalled() && err.reason == Reason::Conflict && err.message.contains("team-a/office"), "{err:?}");
    }
}
