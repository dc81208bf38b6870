//! What the kinds that live inside a cluster (`SQLUser`, `Database`, `AllowlistEntry`, and the
//! list members that follow them) share: how they name their cluster, their deletion policy, their
//! credentials, their CEL rules and the common part of their status. Defined once here; a kind's
//! file declares only its own fields through [`child_spec!`](crate::child_spec).

use serde::{Deserialize, Serialize};

use super::common::{CommonSpec, LocalClusterRef, StatusBase};

/// How a child names its cluster (its policies and credentials are every kind's: [`CommonSpec`]).
pub trait ChildSpec: CommonSpec + Sync {
    fn cluster_ref(&self) -> Option<&LocalClusterRef>;
    fn cluster_id(&self) -> Option<&str>;
}

/// Declares the spec struct of a cluster child: the kind's own fields between the shared ones
/// (`clusterRef` and `clusterId` first, `deletionPolicy` and `credentialsRef` last, as users read
/// them), the shared CEL rules (exactly one cluster reference, and it is immutable), and
/// [`ChildSpec`]. `noun` completes the deletion policy's description ("drops the {noun}").
///
/// ```ignore
/// crate::child_spec! {
///     noun = "database";
///     /// A database in a CockroachDB Cloud cluster.
///     #[derive(CustomResource, ...)]
///     #[kube(...)]
///     pub struct DatabaseSpec {
///         /// Database name.
///         pub name: Option<String>,
///     }
/// }
/// ```
#[macro_export]
macro_rules! child_spec {
    (
        noun = $noun:literal;
        $(#[$meta:meta])*
        pub struct $spec:ident {
            $($(#[$field_meta:meta])* pub $field:ident: $type:ty,)*
        }
    ) => {
        $(#[$meta])*
        #[serde(rename_all = "camelCase")]
        #[x_kube(validation = Rule::new("has(self.clusterRef) != has(self.clusterId)").message("exactly one of spec.clusterRef or spec.clusterId must be set"))]
        #[x_kube(validation = Rule::new("has(self.clusterId) == has(oldSelf.clusterId) && (!has(self.clusterId) || self.clusterId == oldSelf.clusterId) && has(self.clusterRef) == has(oldSelf.clusterRef) && (!has(self.clusterRef) || self.clusterRef.name == oldSelf.clusterRef.name)").message("the cluster reference (spec.clusterRef / spec.clusterId) is immutable"))]
        pub struct $spec {
            /// A CockroachCluster in this namespace. Exactly one of clusterRef or clusterId.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub cluster_ref: Option<$crate::api::LocalClusterRef>,
            /// ID of a cloud cluster not managed by this operator. Exactly one of clusterRef or clusterId.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(length(max = 36), regex(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))]
            pub cluster_id: Option<String>,
            $($(#[$field_meta])* pub $field: $type,)*
            #[doc = concat!("`Delete` (default) removes the ", $noun, " from the cloud when this resource is deleted; `Retain` keeps it.")]
            #[serde(default)]
            pub deletion_policy: $crate::api::DeletionPolicy,
            /// `Manage` (default) makes the cloud match the spec; `Observe` never writes to the cloud and
            /// lists the differences in `status.drift`.
            #[serde(default)]
            pub management_policy: $crate::api::common::ManagementPolicy,
            /// Secret with the API key, in this namespace. Defaults to the cluster's credentialsRef (with
            /// clusterRef) or the operator-wide key.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub credentials_ref: Option<$crate::api::CredentialsRef>,
        }

        $crate::impl_common_spec!($spec);

        impl $crate::api::child::ChildSpec for $spec {
            fn cluster_ref(&self) -> Option<&$crate::api::LocalClusterRef> {
                self.cluster_ref.as_ref()
            }
            fn cluster_id(&self) -> Option<&str> {
                self.cluster_id.as_deref()
            }
        }
    };
}

// The part of a child's status every child has. A kind with fields of its own flattens this into
// its status type (`#[serde(flatten)] common: ChildStatus`); one without uses it as it is.
/// What the operator observed of the object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChildStatus {
    #[serde(flatten)]
    pub base: StatusBase,
    /// ID of the cloud cluster the object lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// The object's key in the cloud as last seen (a name, or a CIDR for allowlist entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_name: Option<String>,
    /// The key of an object whose create request was sent before any answer was recorded: if the
    /// operator stopped in between, deleting the resource still removes that object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_for: Option<String>,
}

/// A child's status type: the common part, and (for a kind with fields of its own) the rest.
pub trait ChildStatusFields: Clone + Default + PartialEq + Serialize + Send + Sync {
    fn common(&self) -> &ChildStatus;
    fn common_mut(&mut self) -> &mut ChildStatus;
}

impl ChildStatusFields for ChildStatus {
    fn common(&self) -> &ChildStatus {
        self
    }
    fn common_mut(&mut self) -> &mut ChildStatus {
        self
    }
}

/// Implements [`ChildStatusFields`] for a status type that flattens a `common: ChildStatus`.
#[macro_export]
macro_rules! impl_child_status {
    ($status:ty) => {
        impl $crate::api::child::ChildStatusFields for $status {
            fn common(&self) -> &$crate::api::ChildStatus {
                &self.common
            }
            fn common_mut(&mut self) -> &mut $crate::api::ChildStatus {
                &mut self.common
            }
        }
    };
}
