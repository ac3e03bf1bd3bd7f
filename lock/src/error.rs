//! The lock crate's one error type.

use thiserror::Error;

/// What a lock client handles. A safety violation is never an `Error`: it is a
/// [`crate::Violation`] in the [`crate::Report`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The cluster answered with an error (or never answered: `sim::Error::Indeterminate`).
    #[error("etcd: {0}")]
    Etcd(#[from] sim::Error),
    /// A client library's error, in its words (etcd-client's, for the locks that use it over
    /// gRPC): the call failed or may have, and the lock retries or gives up as it decides.
    #[error("etcd-client: {0}")]
    Client(String),
    /// ZooKeeper answered with an error the lock does not handle itself.
    #[error("zookeeper: {0}")]
    Zk(#[from] sim::zk::ZkError),
    /// PostgreSQL answered with an error (SQLSTATE and message), or the connection failed
    /// (`08…`).
    #[error("postgres: {0}")]
    Pg(#[from] sim::pg::PgError),
    /// The release found the lock already gone: the holder had lost it without knowing.
    #[error("lock: no longer held at release: {0}")]
    NotHeld(String),
    /// etcd's `concurrency.ErrSessionExpired`: the session's lease is gone, so is its key.
    #[error("mutex: session is expired")]
    SessionExpired,
    /// etcd's `concurrency.ErrLocked`, from `TryLock`.
    #[error("mutex: Locked by another session")]
    Locked,
    /// The acquire deadline (`LockOptions::give_up`) passed.
    #[error("lock: gave up after {waited_ms} ms")]
    GaveUp {
        /// How long the acquire waited, in ms of the client's own (possibly skewed) clock.
        waited_ms: u64,
    },
    /// The protected resource did not answer in time.
    #[error("resource: no answer within {timeout_ms} ms")]
    ResourceTimeout {
        /// The timeout that passed (`WorkloadConfig::resource_timeout`), in ms of the client's
        /// own clock.
        timeout_ms: u64,
    },
    /// The protected resource refused an access whose token is below the highest it accepted.
    #[error("resource: token {token} rejected, highest accepted {highest}")]
    Fenced {
        /// The token the refused access carried.
        token: i64,
        /// The highest token the resource had accepted: a newer holder's.
        highest: i64,
    },
}

/// `std::result::Result` with the lock crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;
