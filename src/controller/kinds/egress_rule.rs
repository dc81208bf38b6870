//! EgressRule: one destination of an ADVANCED cluster's egress allow-list. The cloud addresses
//! rules by an id it assigns and does not keep names unique, so the resource records the id of
//! its rule and finds it by that id; only a resource that has none yet looks for a rule by name
//! (adoption). Creates carry an idempotency key derived from the resource's UID: a create whose
//! answer was lost is sent again with the same key and the cloud answers with the rule the first
//! one made, never a second rule. Type, destination, ports and description are edited in place;
//! the name cannot change.

use std::collections::BTreeSet;

use kube::ResourceExt;

use crate::api::egress_rule::EgressRuleType as WantedType;
use crate::api::{EgressRule, EgressRuleStatus};
use crate::cloud::models::{self, AddEgressRuleRequest, EditEgressRuleRequest, EgressRuleState, EgressRuleType};
use crate::cloud::{CloudClient, CloudError, Listing};

use crate::controller::context::Context;
use crate::controller::driver::Kind;
use crate::controller::error::ReconcileError;
use crate::controller::member::{Done, Member, MemberShape, Settled, Target};
use crate::controller::reason::Reason;

crate::impl_status_fields!(EgressRuleStatus, common.base);

impl Kind for EgressRule {
    type Shape = MemberShape;
}

/// The one write an egress rule may need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressRuleChange {
    /// No rule of this resource exists: add one, with this idempotency key.
    Add { idempotency_key: String },
    /// The rule `rule_id` differs from the spec in an editable field.
    Edit { rule_id: String },
}

/// What an egress rule's plan reads besides its spec: the ids of rules other EgressRule
/// resources record as theirs (never adopted by name).
#[derive(Debug, Default)]
pub struct EgressRuleInputs {
    claimed: BTreeSet<String>,
}

fn wire_type(wanted: WantedType) -> EgressRuleType {
    match wanted {
        WantedType::Fqdn => EgressRuleType::Fqdn,
        WantedType::Cidr => EgressRuleType::Cidr,
    }
}

/// Ports as a set: the cloud's order and repeats carry no meaning.
fn port_set(ports: &[i32]) -> Vec<i32> {
    let mut ports = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The idempotency key of the next create. Derived from the resource's UID, so the create sent
/// again after a lost answer carries the same key; and from the rule this resource had before (if
/// any), so that re-creating a rule deleted outside the operator is a new request, not a replay of
/// the first create.
pub fn idempotency_key(uid: &str, previous_rule: Option<&str>) -> String {
    match previous_rule {
        None => format!("crdb-cloud-operator:{uid}"),
        Some(previous) => format!("crdb-cloud-operator:{uid}:after:{previous}"),
    }
}

impl EgressRule {
    fn wanted_type(&self) -> EgressRuleType {
        wire_type(self.spec.rule_type)
    }

    /// Whether `rule` already is what the spec asks for (name aside).
    fn matches(&self, rule: &models::EgressRule) -> bool {
        rule.rule_type == self.wanted_type()
            && rule.destination.eq_ignore_ascii_case(&self.spec.destination)
            && port_set(&rule.ports) == port_set(&self.spec.ports)
            && rule.description == self.spec.description
    }

    /// This resource's rule in the list: the one whose id it recorded, else (adoption) the one rule
    /// of its name no other resource records. Several candidates are ambiguous, and a rule the
    /// cloud manages itself is not the user's: both need a person.
    fn find_own<'a>(&self, inputs: &EgressRuleInputs, listed: &'a [models::EgressRule], status: &EgressRuleStatus) -> Result<Option<&'a models::EgressRule>, ReconcileError> {
        if let Some(rule) = status.rule_id.as_deref().and_then(|id| listed.iter().find(|r| r.id == id)) {
            return Ok(Some(rule));
        }
        let name = self.rule_name();
        let candidates: Vec<&models::EgressRule> = listed.iter().filter(|r| r.name == name && !inputs.claimed.contains(&r.id)).collect();
        match candidates.as_slice() {
            [] => Ok(None),
            [rule] if rule.crl_managed => Err(ReconcileError::stalled(
                Reason::NameInUse,
                format!("spec.name: egress rule {name} ({}) is managed by CockroachDB Cloud and cannot be adopted; choose another name", rule.id),
            )),
            [rule] => Ok(Some(rule)),
            several => Err(ReconcileError::stalled(
                Reason::Conflict,
                format!(
                    "spec.name: {} egress rules are named {name} in the cloud ({}); delete the extra ones or choose another name",
                    several.len(),
                    several.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    fn edit_request(&self) -> EditEgressRuleRequest {
        EditEgressRuleRequest {
            rule_type: Some(self.wanted_type()),
            destination: Some(self.spec.destination.clone()),
            ports: Some(port_set(&self.spec.ports)),
            description: Some(self.spec.description.clone()),
            idempotency_key: None,
        }
    }
}

impl Member for EgressRule {
    type Cloud = models::EgressRule;
    type Inputs = EgressRuleInputs;
    type Change = EgressRuleChange;
    const NOUN: &'static str = "egress rule";

    fn desired_key(&self) -> Result<String, ReconcileError> {
        Ok(self.rule_name())
    }

    fn spec_of(item: &models::EgressRule) -> serde_json::Value {
        serde_json::json!({
            "name": item.name,
            "type": item.rule_type,
            "destination": item.destination,
            "ports": item.ports,
            "description": item.description,
        })
    }

    /// The id, not the name: names need not be unique, and the shared list is kept in step by
    /// this key (replacing this rule must not drop another rule of the same name). The rule is
    /// found by [`observed`](Member::observed), not by comparing keys with the name.
    fn key_of(item: &models::EgressRule) -> String {
        item.id.clone()
    }

    /// By the recorded id, else the only rule with the spec's name.
    fn located<'a>(&self, listed: &'a [models::EgressRule], _key: &str, status: Option<&EgressRuleStatus>) -> Option<&'a models::EgressRule> {
        let recorded = status.and_then(|s| s.rule_id.as_deref()).and_then(|id| listed.iter().find(|r| r.id == id));
        let name = self.rule_name();
        let mut named = listed.iter().filter(|r| r.name == name);
        recorded.or_else(|| match (named.next(), named.next()) {
            (Some(rule), None) => Some(rule),
            _ => None,
        })
    }

    async fn list(cloud: &CloudClient, cluster_id: &str) -> Result<Listing<models::EgressRule>, CloudError> {
        cloud.list_egress_rules(cluster_id).await
    }

    /// Read from the controller's watch cache (no request); without one, no rule is claimed.
    async fn inputs(&self, ctx: &Context, _target: &Target, _listed: &[models::EgressRule]) -> Result<EgressRuleInputs, ReconcileError> {
        let claimed = ctx
            .stores
            .get::<EgressRule>()
            .map(|store| {
                store
                    .state()
                    .into_iter()
                    .filter(|other| other.uid() != self.uid())
                    .filter_map(|other| other.status.as_ref().and_then(|s| s.rule_id.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(EgressRuleInputs { claimed })
    }

    fn plan(&self, inputs: &EgressRuleInputs, listed: &[models::EgressRule], status: &EgressRuleStatus) -> Result<Option<EgressRuleChange>, ReconcileError> {
        let Some(rule) = self.find_own(inputs, listed, status)? else {
            let uid = self.uid().unwrap_or_default();
            return Ok(Some(EgressRuleChange::Add { idempotency_key: idempotency_key(&uid, status.rule_id.as_deref()) }));
        };
        if rule.name != self.rule_name() {
            return Err(ReconcileError::stalled(
                Reason::InvalidSpec,
                format!("spec.name is immutable: egress rule {} is named {} in the cloud, and the cloud cannot rename it", rule.id, rule.name),
            ));
        }
        if matches!(rule.state, EgressRuleState::CreationFailed | EgressRuleState::DeletionFailed) {
            return Err(ReconcileError::stalled(
                Reason::OperationFailed,
                format!("the cloud reports egress rule {} as {}; its firewall state is unknown: contact Cockroach Labs support rather than retrying", rule.id, rule.state),
            ));
        }
        Ok((!self.matches(rule)).then(|| EgressRuleChange::Edit { rule_id: rule.id.clone() }))
    }

    async fn execute(&self, _ctx: &Context, target: &Target, _inputs: &EgressRuleInputs, change: EgressRuleChange) -> Result<Done<models::EgressRule>, ReconcileError> {
        let name = self.rule_name();
        let what = format!("{} {}", self.wanted_type(), self.spec.destination);
        match change {
            EgressRuleChange::Add { idempotency_key } => {
                let request = AddEgressRuleRequest {
                    name: name.clone(),
                    rule_type: self.wanted_type(),
                    destination: self.spec.destination.clone(),
                    ports: port_set(&self.spec.ports),
                    description: self.spec.description.clone(),
                    idempotency_key: Some(idempotency_key),
                };
                let rule = target.cloud.add_egress_rule(&target.cluster_id, &request).await.map_err(|e| ReconcileError::cloud("adding the egress rule", e))?;
                Ok(Done::changed(Reason::Created, format!("added egress rule {name} ({what}) as {}", rule.id), rule))
            }
            EgressRuleChange::Edit { rule_id } => {
                let rule = target
                    .cloud
                    .edit_egress_rule(&target.cluster_id, &rule_id, &self.edit_request())
                    .await
                    .map_err(|e| ReconcileError::cloud("editing the egress rule", e))?;
                Ok(Done::changed(Reason::Updated, format!("updated egress rule {name} ({what})"), rule))
            }
        }
    }

    fn record(&self, status: &mut EgressRuleStatus, _inputs: &EgressRuleInputs, item: Option<&models::EgressRule>) {
        if let Some(rule) = item {
            status.rule_id = Some(rule.id.clone());
            status.state = Some(rule.state.to_string());
        }
    }

    /// As the plan found it: by the recorded id, never another resource's rule of the same name.
    fn observed<'a>(&self, inputs: &EgressRuleInputs, listed: &'a [models::EgressRule], _key: &str, status: &EgressRuleStatus) -> Option<&'a models::EgressRule> {
        self.find_own(inputs, listed, status).ok().flatten()
    }

    fn settled(&self, item: Option<&models::EgressRule>) -> Result<Settled, ReconcileError> {
        Ok(match item {
            Some(rule) if matches!(rule.state, EgressRuleState::PendingCreation | EgressRuleState::PendingUpdate) => Settled::Pending {
                reason: Reason::OperationRunning,
                message: format!("the cloud is putting egress rule {} into force ({})", rule.name, rule.state),
            },
            _ => Settled::Ready,
        })
    }

    fn delete_key(status: &EgressRuleStatus) -> Option<String> {
        status.rule_id.clone()
    }

    async fn delete(cloud: &CloudClient, cluster_id: &str, rule_id: &str) -> Result<(), CloudError> {
        cloud.delete_egress_rule(cluster_id, rule_id).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::egress_rule::EgressRuleSpec;

    fn resource(destination: &str, ports: Vec<i32>) -> EgressRule {
        let spec = EgressRuleSpec {
            cluster_ref: None,
            cluster_id: Some("c".into()),
            name: Some("buckets".into()),
            rule_type: WantedType::Fqdn,
            destination: destination.into(),
            ports,
            description: "backups".into(),
            deletion_policy: Default::default(), management_policy: Default::default(),
            credentials_ref: None,
        };
        let mut rule = EgressRule::new("buckets", spec);
        rule.metadata.uid = Some("uid-1".into());
        rule
    }

    fn cloud(id: &str, name: &str, ports: Vec<i32>, state: EgressRuleState) -> models::EgressRule {
        models::EgressRule {
            id: id.into(),
            cluster_id: "c".into(),
            name: name.into(),
            rule_type: EgressRuleType::Fqdn,
            state,
            crl_managed: false,
            destination: "storage.googleapis.com".into(),
            ports,
            description: "backups".into(),
            created_at: None,
        }
    }

    fn status(rule_id: Option<&str>) -> EgressRuleStatus {
        EgressRuleStatus { rule_id: rule_id.map(str::to_string), ..Default::default() }
    }

    #[test]
    fn a_missing_rule_is_added_with_a_key_from_the_uid_that_changes_only_after_a_confirmed_create() {
        let want = resource("storage.googleapis.com", vec![443]);
        let none = EgressRuleInputs::default();
        let first = want.plan(&none, &[], &status(None)).unwrap();
        assert_eq!(first, Some(EgressRuleChange::Add { idempotency_key: "crdb-cloud-operator:uid-1".into() }));
        // Asked again (the answer was lost): the same key, so the cloud answers with the same rule.
        assert_eq!(want.plan(&none, &[], &status(None)).unwrap(), first);
        // Its rule deleted outside: a new key, so the cloud makes a new rule.
        let again = want.plan(&none, &[], &status(Some("r1"))).unwrap();
        assert_eq!(again, Some(EgressRuleChange::Add { idempotency_key: "crdb-cloud-operator:uid-1:after:r1".into() }));
    }

    #[test]
    fn a_rule_in_line_is_left_alone_and_one_out_of_line_is_edited_in_place() {
        let none = EgressRuleInputs::default();
        let listed = vec![cloud("r1", "buckets", vec![443, 80], EgressRuleState::Active)];
        assert_eq!(resource("storage.googleapis.com", vec![80, 443, 443]).plan(&none, &listed, &status(Some("r1"))).unwrap(), None);
        assert_eq!(resource("STORAGE.googleapis.com", vec![80, 443]).plan(&none, &listed, &status(Some("r1"))).unwrap(), None);
        let edit = Some(EgressRuleChange::Edit { rule_id: "r1".into() });
        assert_eq!(resource("storage.googleapis.com", vec![443]).plan(&none, &listed, &status(Some("r1"))).unwrap(), edit);
        assert_eq!(resource("s3.amazonaws.com", vec![443, 80]).plan(&none, &listed, &status(Some("r1"))).unwrap(), edit);
        let request = resource("storage.googleapis.com", vec![443, 80, 443]).edit_request();
        assert_eq!(request.ports, Some(vec![80, 443]));
    }

    #[test]
    fn adoption_is_by_name_and_never_takes_a_rule_another_resource_records() {
        let want = resource("storage.googleapis.com", vec![443]);
        let listed = vec![cloud("console", "buckets", vec![443], EgressRuleState::Active)];
        assert_eq!(want.plan(&EgressRuleInputs::default(), &listed, &status(None)).unwrap(), None);
        let claimed = EgressRuleInputs { claimed: BTreeSet::from(["console".to_string()]) };
        assert!(matches!(want.plan(&claimed, &listed, &status(None)).unwrap(), Some(EgressRuleChange::Add { .. })));
        let two = vec![cloud("a", "buckets", vec![443], EgressRuleState::Active), cloud("b", "buckets", vec![], EgressRuleState::Active)];
        let err = want.plan(&EgressRuleInputs::default(), &two, &status(None)).unwrap_err();
        assert!(err.is_stalled() && err.reason == Reason::Conflict && err.message.contains("spec.name") && err.message.contains("a, b"), "{err:?}");
        let mut managed = cloud("crl", "buckets", vec![443], EgressRuleState::Active);
        managed.crl_managed = true;
        let err = want.plan(&EgressRuleInputs::default(), &[managed], &status(None)).unwrap_err();
        assert!(err.is_stalled() && err.message.contains("managed by CockroachDB Cloud"), "{err:?}");
    }

    #[test]
    fn a_rule_in_line_is_observed_by_its_id_not_by_a_name_another_resource_shares() {
        let mine = cloud("mine", "buckets", vec![443], EgressRuleState::Active);
        let theirs = cloud("theirs", "buckets", vec![443], EgressRuleState::Active);
        let listed = vec![theirs, mine];
        let claimed = EgressRuleInputs { claimed: BTreeSet::from(["theirs".to_string()]) };
        let want = resource("storage.googleapis.com", vec![443]);
        assert_eq!(want.plan(&claimed, &listed, &status(Some("mine"))).unwrap(), None);
        assert_eq!(want.observed(&claimed, &listed, "buckets", &status(Some("mine"))).map(|r| r.id.as_str()), Some("mine"));
        assert_eq!(want.observed(&claimed, &listed, "buckets", &status(None)).map(|r| r.id.as_str()), Some("mine"));
    }

    #[test]
    fn a_renamed_or_failed_rule_needs_a_person() {
        let none = EgressRuleInputs::default();
        let renamed = vec![cloud("r1", "other", vec![443], EgressRuleState::Active)];
        let err = resource("storage.googleapis.com", vec![443]).plan(&none, &renamed, &status(Some("r1"))).unwrap_err();
        assert!(err.is_stalled() && err.message.starts_with("spec.name is immutable"), "{err:?}");
        let failed = vec![cloud("r1", "buckets", vec![443], EgressRuleState::CreationFailed)];
        let err = resource("storage.googleapis.com", vec![443]).plan(&none, &failed, &status(Some("r1"))).unwrap_err();
        assert!(err.is_stalled() && err.message.contains("CREATION_FAILED"), "{err:?}");
    }

    #[test]
    fn pending_rules_keep_the_resource_progressing() {
        let rule = resource("db.example.com", vec![443]);
        let pending = |state| matches!(rule.settled(Some(&cloud("r", "n", vec![], state))), Ok(Settled::Pending { .. }));
        assert!(pending(EgressRuleState::PendingCreation));
        assert!(pending(EgressRuleState::PendingUpdate));
        assert!(!pending(EgressRuleState::Active));
        assert_eq!(EgressRule::delete_key(&status(Some("r9"))).as_deref(), Some("r9"));
        assert_eq!(EgressRule::delete_key(&status(None)), None);
    }
}
