//! Why a resource is in the state it is in: the `reason` of its conditions and of its events.
//!
//! One enum for every reason the controllers give, serialised as the CamelCase names the
//! operator has always written, so statuses written by earlier versions parse and read the same.
//! Decisions are taken on the variants, never on strings or messages.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::cloud::CloudError;

/// Declares the enum and its table of variants once; a variant's name is its wire spelling.
macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident,)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Reason {
            $($(#[$doc])* $name,)+
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$name,)+];

            /// The spelling in conditions, events and logs.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$name => stringify!($name),)+
                }
            }
        }
    };
}

reasons! {
    // Condition defaults.
    /// The cloud matches the spec.
    Ready,
    /// A setting block of the spec matches the cloud (its own condition, e.g. `BackupSynced`).
    Synced,
    /// `Reconciling=False`: no work in progress.
    Idle,
    /// `Stalled=False`.
    NotStalled,

    // Work in progress.
    /// The cloud is creating the cluster (or the create request is being sent).
    Creating,
    /// An earlier create request may still surface; waiting before sending another.
    ConfirmingCreate,
    /// A cloud operation holds the cluster locked.
    Locked,
    /// A cloud operation on the cluster is running.
    OperationRunning,
    /// An update of the cluster was sent.
    Updating,
    /// A change made behind the operator's back was put back.
    DriftCorrected,
    /// A major upgrade waits in PENDING_FINALIZATION: for its soak time, or for a person to set
    /// spec.upgrade.finalizeVersion.
    FinalizationPending,
    /// The cloud is deleting the cluster.
    Deleting,
    /// A child waits for its cluster to be Ready (or to hold children).
    WaitingForCluster,

    // What a pass changed (events, and the condition until it is confirmed).
    Created,
    Adopted,
    Updated,
    Renamed,
    /// A SQL user's password follows a changed Secret: requested, never drift.
    PasswordRotated,
    /// The recorded cloud cluster no longer exists.
    ClusterMissing,
    /// `deletionPolicy: Retain` left the cloud object in place.
    Retained,
    Deleted,
    /// The cloud object could not be reached any more at deletion; it was left.
    CleanupSkipped,
    /// A retained SQL user's Secrets were released from it.
    SecretRetained,

    // A person has to act (Stalled).
    /// The spec is invalid in a way the CRD schema cannot express.
    InvalidSpec,
    /// The name is taken by a cloud object this resource does not own.
    NameInUse,
    /// Another resource manages the same cloud object.
    Conflict,
    /// A Secret the operator would write exists and is not its own.
    SecretConflict,
    PasswordSecretNotFound,
    PasswordSecretInvalid,
    /// The Secret or ConfigMap spec.clientCACert names, or its key, is missing.
    CaCertNotFound,
    /// The PEM spec.clientCACert names is not a certificate.
    CaCertInvalid,
    /// No `credentialsRef` and no operator-wide API key.
    MissingCredentials,
    /// An organisation-level kind in a namespace the operator does not trust with them.
    NamespaceNotAllowed,
    CredentialsNotFound,
    CredentialsInvalid,
    /// The cloud rejected the API key.
    CredentialsRejected,
    PermissionDenied,
    /// The cloud refused the spec (invalid argument); not sent again until the spec changes.
    CloudRejectedSpec,
    CreationFailed,
    OperationFailed,
    AdoptionFailed,
    /// The cloud reports an export failing (e.g. a log export's CREDENTIALS_ERROR).
    ExportFailed,
    /// A Secret a setting block refers to is missing, or lacks the key.
    SecretNotFound,
    /// The cloud cluster has delete protection on.
    DeleteProtected,
    /// A stored object of one of the operator's kinds cannot be read (older or hand-edited schema).
    InvalidObject,

    // Worth retrying.
    /// The Kubernetes API failed.
    KubernetesError,
    // Cloud errors that are retried, by kind (see `From<&CloudError>`).
    NotFound,
    AlreadyExists,
    InvalidArgument,
    FailedPrecondition,
    Unauthenticated,
    RateLimited,
    CloudUnavailable,
    UnexpectedResponse,
    CloudError,
    NotSent,
    /// An API key was replaced by a new one (rotation, or a Secret that lost it).
    KeyRotated,
    /// An APIKey waits for the ServiceAccount it names to have a cloud service account.
    WaitingForServiceAccount,
    /// A resource waits for the Folder its spec names to have a cloud folder.
    WaitingForFolder,
    /// The cloud refuses to delete a folder that holds clusters or folders.
    FolderNotEmpty,

    // JWT issuers: a person has to act (Stalled).
    /// The ConfigMap spec.jwksConfigMapRef names, or its key, is missing.
    JwksNotFound,
    /// The JWKS (spec.jwks or the ConfigMap's key) is not a JSON object with a `keys` array.
    JwksInvalid,

    // Private endpoint connections.
    /// The cloud is setting the connection up (pending).
    EndpointPending,
    /// The cloud provider rejected the connection (or it failed or expired): a person has to act.
    EndpointRejected,

    // Observe-only and pause.
    /// `managementPolicy: Observe`: the object was found and reported, nothing written (Ready).
    Observed,
    /// `InSync=True`: the observed object matches the spec.
    MatchesSpec,
    /// `InSync=False`: the observed object differs from the spec (listed in `status.drift`).
    Drifted,
    /// `managementPolicy: Observe` and no cloud object to observe (Stalled).
    NotInCloud,
    /// `crdbcloud.io/paused: "true"`: no cloud call is made for the object (`Paused=True`).
    Paused,
    /// `Paused=False` is never written: the condition goes when the annotation does.
    Resumed,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reason string that names no variant (written by someone else, or by a future version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown reason {0:?}")]
pub struct UnknownReason(pub String);

impl FromStr for Reason {
    type Err = UnknownReason;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|r| r.as_str() == text).ok_or_else(|| UnknownReason(text.to_string()))
    }
}

/// The kind of a Cloud error, as a reason. The Cloud client knows nothing of the operator, so
/// the mapping lives here.
impl From<&CloudError> for Reason {
    fn from(err: &CloudError) -> Self {
        match err {
            CloudError::NotFound(_) => Self::NotFound,
            CloudError::AlreadyExists(_) => Self::AlreadyExists,
            CloudError::InvalidArgument(_) => Self::InvalidArgument,
            CloudError::FailedPrecondition(_) => Self::FailedPrecondition,
            CloudError::Unauthenticated(_) => Self::Unauthenticated,
            CloudError::PermissionDenied(_) => Self::PermissionDenied,
            CloudError::RateLimited { .. } => Self::RateLimited,
            CloudError::Transient(_) => Self::CloudUnavailable,
            CloudError::Decode(_) => Self::UnexpectedResponse,
            CloudError::Other { .. } => Self::CloudError,
            CloudError::NotSent(_) => Self::NotSent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_round_trips_through_json_and_text() {
        for reason in Reason::ALL {
            let json = serde_json::to_string(reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
            assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), *reason);
            assert_eq!(reason.as_str().parse::<Reason>(), Ok(*reason));
            assert_eq!(reason.to_string(), reason.as_str());
        }
    }

    #[test]
    fn spellings_are_the_ones_statuses_already_hold() {
        // Written by earlier versions into conditions and events, and asserted by the end-to-end tests.
        for (text, reason) in [
            ("Ready", Reason::Ready),
            ("Idle", Reason::Idle),
            ("NotStalled", Reason::NotStalled),
            ("WaitingForCluster", Reason::WaitingForCluster),
            ("CloudRejectedSpec", Reason::CloudRejectedSpec),
            ("DeleteProtected", Reason::DeleteProtected),
            ("MissingCredentials", Reason::MissingCredentials),
            ("PasswordRotated", Reason::PasswordRotated),
            ("DriftCorrected", Reason::DriftCorrected),
            ("CloudUnavailable", Reason::CloudUnavailable),
            ("KubernetesError", Reason::KubernetesError),
        ] {
            assert_eq!(text.parse::<Reason>(), Ok(reason));
            assert_eq!(reason.as_str(), text);
        }
        let names: std::collections::HashSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Reason::ALL.len(), "two variants share a spelling");
    }

    #[test]
    fn unknown_or_differently_cased_text_is_no_reason() {
        assert_eq!("Bogus".parse::<Reason>(), Err(UnknownReason("Bogus".into())));
        assert!("ready".parse::<Reason>().is_err());
        assert!(serde_json::from_str::<Reason>("\"deleteProtected\"").is_err());
    }

    #[test]
    fn cloud_errors_map_to_the_reasons_they_always_had() {
        let cases = [
            (CloudError::NotFound("x".into()), "NotFound"),
            (CloudError::AlreadyExists("x".into()), "AlreadyExists"),
            (CloudError::InvalidArgument("x".into()), "InvalidArgument"),
            (CloudError::FailedPrecondition("x".into()), "FailedPrecondition"),
            (CloudError::Unauthenticated("x".into()), "Unauthenticated"),
            (CloudError::PermissionDenied("x".into()), "PermissionDenied"),
            (CloudError::RateLimited { retry_after: None, message: "x".into() }, "RateLimited"),
            (CloudError::Transient("x".into()), "CloudUnavailable"),
            (CloudError::Decode("x".into()), "UnexpectedResponse"),
            (CloudError::Other { status: 418, message: "x".into() }, "CloudError"),
            (CloudError::NotSent("x".into()), "NotSent"),
        ];
        for (err, text) in cases {
            assert_eq!(Reason::from(&err).as_str(), text, "{err:?}");
        }
    }
}
