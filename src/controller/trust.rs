//! Which namespaces may declare organisation-level objects (folders, service accounts, API keys,
//! role grants, JWT issuers). Those change what everyone in the organisation may do, so a team
//! that can create resources in its own namespace must not be able to grant itself an org role:
//! the operator honours them only in namespaces it is configured to trust (default: its own).

use std::collections::BTreeSet;

/// The namespaces trusted with organisation-level kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgNamespaces(BTreeSet<String>);

impl OrgNamespaces {
    /// From the `--org-namespaces` list; when it is empty, the operator's own namespace (if known).
    pub fn new(configured: &[String], own_namespace: Option<&str>) -> Self {
        let mut trusted: BTreeSet<String> = configured.iter().map(|ns| ns.trim().to_string()).filter(|ns| !ns.is_empty()).collect();
        if trusted.is_empty() {
            trusted.extend(own_namespace.map(str::to_string));
        }
        Self(trusted)
    }

    pub fn allows(&self, namespace: &str) -> bool {
        self.0.contains(namespace)
    }

    /// For messages and logs: "a, b" or "none".
    pub fn describe(&self) -> String {
        if self.0.is_empty() { "none".into() } else { self.0.iter().cloned().collect::<Vec<_>>().join(", ") }
    }

    /// Why a resource of an organisation-level `kind` in `namespace` is not acted on.
    pub fn refusal(&self, kind: &str, namespace: &str) -> String {
        format!(
            "{kind} is an organisation-level kind and namespace {namespace:?} is not trusted for it (trusted: {}; operator flag --org-namespaces, chart value orgNamespaces); nothing was sent to the cloud",
            self.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_own_namespace_is_trusted_by_default() {
        let trust = OrgNamespaces::new(&[], Some("crdb-system"));
        assert!(trust.allows("crdb-system"));
        assert!(!trust.allows("team-a"));
    }

    #[test]
    fn a_configured_list_replaces_the_default() {
        let trust = OrgNamespaces::new(&["platform".into(), " admin ".into(), String::new()], Some("crdb-system"));
        assert!(trust.allows("platform") && trust.allows("admin"));
        assert!(!trust.allows("crdb-system"));
        assert_eq!(trust.describe(), "admin, platform");
    }

    #[test]
    fn without_a_list_or_an_own_namespace_nothing_is_trusted() {
        let trust = OrgNamespaces::new(&[], None);
        assert!(!trust.allows("default"));
        let message = trust.refusal("Folder", "team-a");
        assert!(message.contains("\"team-a\"") && message.contains("trusted: none") && message.contains("--org-namespaces"), "{message}");
    }
}
