//! The one error type of the simulated etcd, with etcd's own messages.

use thiserror::Error;

/// Errors a caller of the simulated etcd handles. The messages are etcd's, word for word, so
/// `locksim ctl` prints what `etcdctl` prints and users can search for them.
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize, serde::Deserialize)]
pub enum Error {
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted { compact_revision: i64 },
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    #[error("etcdserver: key not found")]
    KeyNotFound,
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    /// A put with `ignore_value` that also carries a value.
    #[error("etcdserver: value is provided")]
    ValueProvided,
    /// A put with `ignore_lease` that also carries a lease.
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    #[error("etcdserver: not leader")]
    NotLeader { leader: Option<u64> },
    #[error("etcdserver: no leader")]
    NoLeader,
    #[error("etcdserver: leader changed")]
    LeaderChanged,
    #[error("etcdserver: request timed out")]
    Timeout,
    /// No answer came before the deadline: the request may or may not have been applied.
    #[error("context deadline exceeded")]
    Indeterminate,
    #[error("etcdserver: unhealthy cluster")]
    Unavailable,
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The simulation itself failed (a host returned an error): a harness bug, reported
    /// rather than lost.
    #[error("simulation failed: {0}")]
    Simulation(String),
}

impl Error {
    /// The gRPC status code name etcd returns with this error (etcd's `rpctypes`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Compacted { .. } | Error::FutureRevision => "OutOfRange",
            Error::LeaseNotFound => "NotFound",
            Error::LeaseExists => "FailedPrecondition",
            Error::LeaseTtlTooLarge
            | Error::KeyNotFound
            | Error::DuplicateKey
            | Error::TooManyOps
            | Error::EmptyKey
            | Error::ValueProvided
            | Error::LeaseProvided
            | Error::InvalidArgument(_) => "InvalidArgument",
            Error::NotLeader { .. }
            | Error::NoLeader
            | Error::LeaderChanged
            | Error::Unavailable => "Unavailable",
            Error::Timeout | Error::Indeterminate => "DeadlineExceeded",
            Error::Simulation(_) => "Internal",
        }
    }

    /// True when the request certainly did not take effect, so a retry cannot duplicate it.
    pub fn is_definite(&self) -> bool {
        !matches!(
            self,
            Error::Timeout | Error::Indeterminate | Error::LeaderChanged
        )
    }
}

pub type Result<T> = std::result::Result<T, Error>;
