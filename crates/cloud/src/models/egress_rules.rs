//! Egress rules: `networking/egress-rules[/{rule_id}]`, typed per the official schemas
//! (`EgressRule`, `AddEgressRuleRequest`, `EditEgressRuleRequest`, `ListEgressRulesResponse`,
//! `GetEgressRuleResponse` and the add/edit/delete responses).
//!
//! The description names the rule of the add, edit and delete answers `Rule` in `properties` but
//! requires `rule`, and the service's own documentation shows `"Rule"`: answers are read under either
//! spelling and written as the required `rule`.

use serde::{Deserialize, Serialize};

cloud_enum!(
    /// `EgressRule.type` (a string in the description, which lists these two values).
    EgressRuleType { Fqdn => "FQDN", Cidr => "CIDR" }
);
cloud_enum!(
    /// `EgressRule.state` (a string in the description; the values the service documents).
    EgressRuleState {
        PendingCreation => "PENDING_CREATION",
        Active => "ACTIVE",
        CreationFailed => "CREATION_FAILED",
        PendingUpdate => "PENDING_UPDATE",
        PendingDeletion => "PENDING_DELETION",
        DeletionFailed => "DELETION_FAILED",
    }
);

/// `EgressRule`. The deprecated `paths` are ignored by the service and never sent or kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressRule {
    pub id: String,
    pub cluster_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub rule_type: EgressRuleType,
    pub state: EgressRuleState,
    /// Set by the service for the rules it manages itself; those are not the user's to change.
    pub crl_managed: bool,
    pub destination: String,
    /// Empty: every port.
    #[serde(default)]
    pub ports: Vec<i32>,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// `AddEgressRuleRequest`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddEgressRuleRequest {
    pub name: String,
    #[serde(rename = "type")]
    pub rule_type: EgressRuleType,
    pub destination: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<i32>,
    pub description: String,
    /// A repeated key returns the rule the first request created instead of a second one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `EditEgressRuleRequest`: the fields present are set (`ports: []` means every port). The name
/// cannot be edited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditEgressRuleRequest {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub rule_type: Option<EgressRuleType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<i32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `AddEgressRuleResponse`, `EditEgressRuleResponse`, `DeleteEgressRuleResponse` and
/// `GetEgressRuleResponse`: one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressRuleResponse {
    #[serde(alias = "Rule")]
    pub rule: EgressRule,
}

/// `ListEgressRulesResponse`, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListEgressRulesResponse {
    #[serde(default)]
    pub rules: Vec<EgressRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<super::Pagination>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_under_either_spelling_of_rule() {
        let rule = r#"{"id":"r1","cluster_id":"c1","name":"buckets","type":"FQDN","state":"PENDING_CREATION","crl_managed":false,"destination":"storage.googleapis.com","ports":[443],"description":"d"}"#;
        for body in [format!(r#"{{"Rule":{rule}}}"#), format!(r#"{{"rule":{rule}}}"#)] {
            let parsed: EgressRuleResponse = serde_json::from_str(&body).unwrap();
            assert_eq!(parsed.rule.rule_type, EgressRuleType::Fqdn);
            assert_eq!(parsed.rule.state, EgressRuleState::PendingCreation);
        }
        let written = serde_json::to_value(serde_json::from_str::<EgressRuleResponse>(&format!(r#"{{"Rule":{rule}}}"#)).unwrap()).unwrap();
        assert!(written.get("rule").is_some() && written.get("Rule").is_none());
    }

    #[test]
    fn an_edit_sends_only_what_it_sets_and_empty_ports_mean_every_port() {
        let edit = EditEgressRuleRequest { ports: Some(vec![]), ..Default::default() };
        assert_eq!(serde_json::to_string(&edit).unwrap(), r#"{"ports":[]}"#);
    }
}
