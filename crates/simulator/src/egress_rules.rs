//! Egress rules of an ADVANCED cluster: list (sorted by name), add, get, edit, delete, addressed by
//! the id the cloud assigns. Rules are added only under the DEFAULT_DENY egress traffic policy
//! (the documented order: set the policy, then allow destinations). A repeated `idempotency_key`
//! answers with the rule its first request created, never a second one. A new or edited rule is
//! PENDING_CREATION / PENDING_UPDATE for the operation delay, then ACTIVE; the names are not unique
//! (the description does not say they are), the ids are.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Extension;
use chrono::Utc;

use crdb_cloud::models::{
    AddEgressRuleRequest, EditEgressRuleRequest, EgressRule, EgressRuleResponse, EgressRuleState, EgressRuleType, EgressTrafficPolicy,
    ListEgressRulesResponse,
};

use super::SimState;
use super::children::with_cluster;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx, QueryParams};
use super::pagination::paginate;
use super::security::advanced_only;
use super::state::{Access, ClusterRecord, Now, rfc3339};

/// A cluster's egress rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EgressRules {
    /// By id.
    rules: BTreeMap<String, Stored>,
    /// Idempotency key -> the rule its first request answered with.
    answered: BTreeMap<String, EgressRule>,
}

#[derive(Debug, Clone, PartialEq)]
struct Stored {
    rule: EgressRule,
    /// Until when the rule is still being put into force (PENDING_*).
    settles_at: Now,
}

impl Stored {
    /// The rule as the API shows it at `now`.
    fn at(&self, now: Now) -> EgressRule {
        let mut rule = self.rule.clone();
        if now >= self.settles_at {
            rule.state = EgressRuleState::Active;
        }
        rule
    }
}

impl EgressRules {
    /// Every rule, as the API shows it at `now` (the admin surface and tests).
    pub fn all(&self, now: Now) -> Vec<EgressRule> {
        self.rules.values().map(|s| s.at(now)).collect()
    }
}

fn not_found(rule_id: &str, cluster_id: &str) -> ApiError {
    ApiError::not_found(format!("egress rule {rule_id} not found on cluster {cluster_id}"))
}

/// A destination of its type: a CIDR range (IPv4 or IPv6), or a fully-qualified domain name.
fn destination(rule_type: &EgressRuleType, destination: &str) -> ApiResult<()> {
    let valid = match rule_type {
        EgressRuleType::Cidr => destination.split_once('/').is_some_and(|(ip, mask)| {
            let max = if ip.contains(':') { 128 } else { 32 };
            ip.parse::<std::net::IpAddr>().is_ok() && mask.parse::<u8>().is_ok_and(|m| m <= max)
        }),
        EgressRuleType::Fqdn => {
            destination.len() <= 253
                && destination.contains('.')
                && destination.split('.').all(|label| {
                    (1..=63).contains(&label.len())
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                })
        }
        EgressRuleType::Unknown(other) => {
            return Err(ApiError::invalid(format!("invalid type {other:?}; valid types are FQDN and CIDR")));
        }
    };
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("destination {destination:?} is not a valid {rule_type} destination")))
    }
}

fn ports(ports: &[i32]) -> ApiResult<()> {
    match ports.iter().find(|p| !(1..=65535).contains(*p)) {
        Some(p) => Err(ApiError::invalid(format!("ports: {p} is not a TCP port (1-65535)"))),
        None => Ok(()),
    }
}

/// Rules are an ADVANCED feature.
fn rules_of(record: &mut ClusterRecord) -> ApiResult<&mut EgressRules> {
    advanced_only(record, "egress rules")?;
    Ok(&mut record.egress_rules)
}

pub(super) async fn list(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    query: QueryParams,
) -> ApiResult<Json<ListEgressRulesResponse>> {
    let params = query.page(sim.max_page_size)?;
    let now = Utc::now();
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        let rules = rules_of(record)?;
        let mut items: Vec<(String, EgressRule)> = rules.rules.values().map(|s| (format!("{}\u{0}{}", s.rule.name, s.rule.id), s.at(now))).collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (rules, pagination) = paginate(items, &params);
        Ok(Json(ListEgressRulesResponse { rules, pagination: Some(pagination) }))
    })
}

pub(super) async fn add(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(cluster_id): ApiPath<String>,
    JsonBody(req): JsonBody<AddEgressRuleRequest>,
) -> ApiResult<Json<EgressRuleResponse>> {
    if req.name.trim().is_empty() {
        return Err(ApiError::invalid("name is required"));
    }
    destination(&req.rule_type, &req.destination)?;
    ports(&req.ports)?;
    let now = Utc::now();
    let delay = sim.timing.operation_delay;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        let policy = record.cluster.egress_traffic_policy.clone();
        let rules = rules_of(record)?;
        if let Some(first) = req.idempotency_key.as_ref().and_then(|key| rules.answered.get(key)) {
            return Ok(Json(EgressRuleResponse { rule: first.clone() }));
        }
        if policy != Some(EgressTrafficPolicy::DefaultDeny) {
            return Err(ApiError::failed_precondition(format!(
                "egress rules can only be added while the egress traffic policy of cluster {cluster_id} is DEFAULT_DENY (it is {}); set it first",
                policy.map(|p| p.to_string()).unwrap_or_else(|| "unset".into())
            )));
        }
        let mut sorted = req.ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let rule = EgressRule {
            id: uuid::Uuid::new_v4().to_string(),
            cluster_id: cluster_id.clone(),
            name: req.name.clone(),
            rule_type: req.rule_type.clone(),
            state: EgressRuleState::PendingCreation,
            crl_managed: false,
            destination: req.destination.clone(),
            ports: sorted,
            description: req.description.clone(),
            created_at: Some(rfc3339(now)),
        };
        rules.rules.insert(rule.id.clone(), Stored { rule: rule.clone(), settles_at: now + delay });
        if let Some(key) = req.idempotency_key {
            rules.answered.insert(key, rule.clone());
        }
        Ok(Json(EgressRuleResponse { rule }))
    })
}

pub(super) async fn get(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, rule_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<EgressRuleResponse>> {
    let now = Utc::now();
    with_cluster(&sim, &ctx, &cluster_id, Access::Read, |record| {
        let stored = rules_of(record)?.rules.get(&rule_id).ok_or_else(|| not_found(&rule_id, &cluster_id))?;
        Ok(Json(EgressRuleResponse { rule: stored.at(now) }))
    })
}

pub(super) async fn edit(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, rule_id)): ApiPath<(String, String)>,
    JsonBody(req): JsonBody<EditEgressRuleRequest>,
) -> ApiResult<Json<EgressRuleResponse>> {
    if let Some(p) = &req.ports {
        ports(p)?;
    }
    let now = Utc::now();
    let delay = sim.timing.operation_delay;
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        let stored = rules_of(record)?.rules.get_mut(&rule_id).ok_or_else(|| not_found(&rule_id, &cluster_id))?;
        let mut rule = stored.at(now);
        if rule.crl_managed {
            return Err(ApiError::failed_precondition(format!("egress rule {rule_id} is managed by CockroachDB Cloud and cannot be edited")));
        }
        let rule_type = req.rule_type.clone().unwrap_or_else(|| rule.rule_type.clone());
        let target = req.destination.clone().unwrap_or_else(|| rule.destination.clone());
        destination(&rule_type, &target)?;
        (rule.rule_type, rule.destination) = (rule_type, target);
        if let Some(mut ports) = req.ports {
            ports.sort_unstable();
            ports.dedup();
            rule.ports = ports;
        }
        if let Some(description) = req.description {
            rule.description = description;
        }
        rule.state = EgressRuleState::PendingUpdate;
        *stored = Stored { rule: rule.clone(), settles_at: now + delay };
        Ok(Json(EgressRuleResponse { rule }))
    })
}

/// The rule goes at once; the answer shows it PENDING_DELETION, as the service does.
pub(super) async fn delete(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath((cluster_id, rule_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<EgressRuleResponse>> {
    let now = Utc::now();
    with_cluster(&sim, &ctx, &cluster_id, Access::Write, |record| {
        let rules = rules_of(record)?;
        if rules.rules.get(&rule_id).is_some_and(|s| s.rule.crl_managed) {
            return Err(ApiError::failed_precondition(format!("egress rule {rule_id} is managed by CockroachDB Cloud and cannot be deleted")));
        }
        let stored = rules.rules.remove(&rule_id).ok_or_else(|| not_found(&rule_id, &cluster_id))?;
        let mut rule = stored.at(now);
        rule.state = EgressRuleState::PendingDeletion;
        Ok(Json(EgressRuleResponse { rule }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_must_match_their_type() {
        assert!(destination(&EgressRuleType::Fqdn, "storage.googleapis.com").is_ok());
        assert!(destination(&EgressRuleType::Fqdn, "not a host").is_err());
        assert!(destination(&EgressRuleType::Fqdn, "localhost").is_err());
        assert!(destination(&EgressRuleType::Cidr, "123.34.62.123/32").is_ok());
        assert!(destination(&EgressRuleType::Cidr, "2001:db8::/32").is_ok());
        assert!(destination(&EgressRuleType::Cidr, "10.0.0.0/33").is_err());
        assert!(destination(&EgressRuleType::Cidr, "storage.googleapis.com").is_err());
        assert!(destination(&EgressRuleType::Unknown("URL".into()), "x.y").is_err());
        assert!(ports(&[443, 80]).is_ok() && ports(&[0]).is_err() && ports(&[70000]).is_err());
    }

    #[test]
    fn a_rule_is_pending_until_it_settles() {
        let now = Utc::now();
        let rule = EgressRule {
            id: "r".into(),
            cluster_id: "c".into(),
            name: "n".into(),
            rule_type: EgressRuleType::Fqdn,
            state: EgressRuleState::PendingCreation,
            crl_managed: false,
            destination: "a.b".into(),
            ports: vec![],
            description: String::new(),
            created_at: None,
        };
        let stored = Stored { rule, settles_at: now + chrono::Duration::seconds(2) };
        assert_eq!(stored.at(now).state, EgressRuleState::PendingCreation);
        assert_eq!(stored.at(now + chrono::Duration::seconds(2)).state, EgressRuleState::Active);
    }
}
