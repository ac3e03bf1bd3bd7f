//! The one error type of the simulated etcd, with etcd's own messages.

use thiserror::Error;

/// Errors a caller of the simulated etcd handles. The messages are etcd's, word for word, so
/// `locksim ctl` prints what `etcdctl` prints and users can search for them.
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize, serde::Deserialize)]
pub enum Error {
    /// A read, watch or compaction at a revision the store has already compacted away (etcd's
    /// `ErrCompacted`); a [`Watcher`](crate::Watcher) gets it when its next revision is gone.
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted {
        /// The store's compaction revision: the oldest revision still readable.
        compact_revision: i64,
    },
    /// A read or compaction at a revision above the store's current one (etcd's
    /// `ErrFutureRev`).
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    /// The lease does not exist (never granted, revoked, or expired), or a grant asked for id
    /// 0 (etcd's `ErrLeaseNotFound`).
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    /// A grant named an id that is already taken (etcd's `ErrLeaseExists`).
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    /// A grant's TTL is above [`MAX_LEASE_TTL`](crate::MAX_LEASE_TTL) (etcd's
    /// `ErrLeaseTTLTooLarge`).
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    /// A put with `ignore_value` or `ignore_lease` on a key that does not exist (etcd's
    /// `ErrKeyNotFound`).
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// A txn branch writes one key twice (put and put, or put and delete), nested txns
    /// included (etcd's `ErrDuplicateKey`).
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    /// A txn has more than 128 compares or operations in one list (etcd's `--max-txn-ops`
    /// default; `ErrTooManyOps`).
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    /// A request, or a compare, with an empty key (etcd's `ErrEmptyKey`).
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    /// A put with `ignore_value` that also carries a value.
    #[error("etcdserver: value is provided")]
    ValueProvided,
    /// A put with `ignore_lease` that also carries a lease.
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    /// The member asked is not the leader and the request needs one (a lease keepalive or
    /// time-to-live); definite, so the client retries at the leader (etcd's `ErrNotLeader`).
    #[error("etcdserver: not leader")]
    NotLeader {
        /// The leader the member knows of, if any; the reply's `leader` field also carries it.
        leader: Option<u64>,
    },
    /// The member knows no leader (an election is on, or it is cut off), so it cannot serve a
    /// write or linearizable read; definite, retried after a backoff (etcd's `ErrNoLeader`).
    #[error("etcdserver: no leader")]
    NoLeader,
    /// etcd's `ErrLeaderChanged`: the leader changed while the request was in flight, so it may
    /// or may not have been applied. The simulated members never send it (a proposal lost to a
    /// leader change goes unanswered); kept so that callers handle etcd's full set.
    #[error("etcdserver: leader changed")]
    LeaderChanged,
    /// The call's whole deadline (`request_timeout`, on the client host's clock) passed
    /// without an answer, or one `Status` attempt got none. Not definite: treat as possibly
    /// applied.
    #[error("etcdserver: request timed out")]
    Timeout,
    /// No answer came before the deadline: the request may or may not have been applied.
    #[error("context deadline exceeded")]
    Indeterminate,
    /// etcd's `ErrUnhealthy`. Here the [`Driver`](crate::Driver) answers it when the ctl host is
    /// crashed; a client retries it at another member, like [`Error::NoLeader`].
    #[error("etcdserver: unhealthy cluster")]
    Unavailable,
    /// A request the harness cannot carry out as given (the client socket cannot be bound, the
    /// ctl host is paused, a bad `locksim ctl` argument); the text says what.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The simulation itself failed (a host returned an error): a harness bug, reported
    /// rather than lost.
    #[error("simulation failed: {0}")]
    Simulation(String),
}

impl Error {
    /// The gRPC status code name etcd returns with this error (etcd's `api/v3rpc/rpctypes`:
    /// "not leader" is FailedPrecondition, a too large lease TTL OutOfRange, "request timed
    /// out" Unavailable). The gRPC front answers with exactly these.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Compacted { .. } | Error::FutureRevision | Error::LeaseTtlTooLarge => {
                "OutOfRange"
            }
            Error::LeaseNotFound => "NotFound",
            Error::LeaseExists | Error::NotLeader { .. } => "FailedPrecondition",
            Error::KeyNotFound
            | Error::DuplicateKey
            | Error::TooManyOps
            | Error::EmptyKey
            | Error::ValueProvided
            | Error::LeaseProvided
            | Error::InvalidArgument(_) => "InvalidArgument",
            Error::NoLeader | Error::LeaderChanged | Error::Unavailable | Error::Timeout => {
                "Unavailable"
            }
            Error::Indeterminate => "DeadlineExceeded",
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

/// A result whose error is the simulated etcd's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;
