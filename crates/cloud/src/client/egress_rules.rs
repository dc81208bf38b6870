//! Egress rules of an ADVANCED cluster, addressed by the id the cloud gives them.

use super::{Call, CloudClient, CloudError, Listing, Operation};
use crate::models::{AddEgressRuleRequest, EditEgressRuleRequest, EgressRule, EgressRuleResponse, ListEgressRulesResponse};

impl CloudClient {
    pub async fn list_egress_rules(&self, cluster_id: &str) -> Result<Listing<EgressRule>, CloudError> {
        self.list_all(Operation::ListEgressRules, &[cluster_id], &[], |r: ListEgressRulesResponse| (r.rules, r.pagination)).await
    }

    /// Sent once (a POST). With `idempotency_key`, sending the same request again after a lost
    /// answer returns the rule the first one created.
    pub async fn add_egress_rule(&self, cluster_id: &str, request: &AddEgressRuleRequest) -> Result<EgressRule, CloudError> {
        self.send::<EgressRuleResponse>(Call::new(Operation::AddEgressRule, &[cluster_id]).body(request)?).await.map(|r| r.rule)
    }

    pub async fn get_egress_rule(&self, cluster_id: &str, rule_id: &str) -> Result<EgressRule, CloudError> {
        self.send::<EgressRuleResponse>(Call::new(Operation::GetEgressRule, &[cluster_id, rule_id])).await.map(|r| r.rule)
    }

    pub async fn edit_egress_rule(&self, cluster_id: &str, rule_id: &str, request: &EditEgressRuleRequest) -> Result<EgressRule, CloudError> {
        self.send::<EgressRuleResponse>(Call::new(Operation::EditEgressRule, &[cluster_id, rule_id]).body(request)?).await.map(|r| r.rule)
    }

    pub async fn delete_egress_rule(&self, cluster_id: &str, rule_id: &str) -> Result<EgressRule, CloudError> {
        self.send::<EgressRuleResponse>(Call::new(Operation::DeleteEgressRule, &[cluster_id, rule_id])).await.map(|r| r.rule)
    }
}
