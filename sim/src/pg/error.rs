//! PostgreSQL's errors and notices as a client sees them: SQLSTATE and the primary message,
//! word for word as PostgreSQL 15 prints them (measured with psql against Debian's 15.18).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An `ERROR`: the statement failed (and, inside a transaction block, the transaction is
/// aborted: its locks are released at once and every later statement is refused until
/// `ROLLBACK`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct PgError {
    /// The five-character SQLSTATE (`55P03`, `40P01`, …).
    pub sqlstate: String,
    /// The primary message, as PostgreSQL words it.
    pub message: String,
}

impl fmt::Display for PgError {
    /// As psql prints it with `VERBOSITY verbose`: `55P03: canceling statement due to lock
    /// timeout`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.sqlstate, self.message)
    }
}

impl PgError {
    fn new(sqlstate: &str, message: impl Into<String>) -> Self {
        PgError {
            sqlstate: sqlstate.to_string(),
            message: message.into(),
        }
    }

    /// `FOR UPDATE NOWAIT` on a row another transaction holds.
    pub fn row_lock_not_available(table: &str) -> Self {
        Self::new(
            "55P03",
            format!("could not obtain lock on row in relation \"{table}\""),
        )
    }

    /// A lock wait longer than `lock_timeout`.
    pub fn lock_timeout() -> Self {
        Self::new("55P03", "canceling statement due to lock timeout")
    }

    /// The deadlock detector chose this statement's transaction.
    pub fn deadlock() -> Self {
        Self::new("40P01", "deadlock detected")
    }

    /// A statement in a transaction block after an error, before `ROLLBACK`.
    pub fn in_failed_transaction() -> Self {
        Self::new(
            "25P02",
            "current transaction is aborted, commands ignored until end of transaction block",
        )
    }

    /// A table that does not exist.
    pub fn undefined_table(table: &str) -> Self {
        Self::new("42P01", format!("relation \"{table}\" does not exist"))
    }

    /// An `INSERT` of an id that exists (the primary key `TABLE_pkey`).
    pub fn unique_violation(table: &str) -> Self {
        Self::new(
            "23505",
            format!("duplicate key value violates unique constraint \"{table}_pkey\""),
        )
    }

    /// The backend was terminated (`idle_in_transaction_session_timeout`, or the server's
    /// shutdown): the connection is closed after it.
    pub fn idle_in_transaction_timeout() -> Self {
        Self::new(
            "25P03",
            "terminating connection due to idle-in-transaction timeout",
        )
    }

    /// The client could not connect (PgJDBC's `08001`): libpq's message per host tried.
    pub fn connection_failed(message: impl Into<String>) -> Self {
        Self::new("08001", message)
    }

    /// The connection broke while a statement was in flight (PgJDBC's `08006`): it may or
    /// may not have run.
    pub fn connection_lost(message: impl Into<String>) -> Self {
        Self::new("08006", message)
    }

    /// How the kernel gave the connection up, in libpq's words.
    pub fn lost_by(end: crate::world::stream::ConnectionEnd) -> Self {
        match end {
            crate::world::stream::ConnectionEnd::Reset => Self::connection_lost(
                "server closed the connection unexpectedly\n\tThis probably means the server \
                 terminated abnormally\n\tbefore or while processing the request.",
            ),
            crate::world::stream::ConnectionEnd::TimedOut => {
                Self::connection_lost("could not receive data from server: Connection timed out")
            }
        }
    }

    /// A call on a connection already lost (libpq's message; PgJDBC's `08003`).
    pub fn no_connection() -> Self {
        Self::new("08003", "no connection to the server")
    }

    /// Whether the connection broke under the statement (it may have run).
    pub fn is_connection_lost(&self) -> bool {
        self.sqlstate == "08006"
    }

    /// A write or locking read on a standby (hot standby: read-only).
    pub fn read_only_transaction(statement: &str) -> Self {
        Self::new(
            "25006",
            format!("cannot execute {statement} in a read-only transaction"),
        )
    }

    /// An advisory lock asked of a standby.
    pub fn lock_in_recovery() -> Self {
        Self::new(
            "55000",
            "cannot acquire lock mode ExclusiveLock on database objects while recovery is in progress",
        )
    }

    /// The server shuts down or restarts (a demotion): every backend is terminated.
    pub fn admin_shutdown() -> Self {
        Self::new(
            "57P01",
            "terminating connection due to administrator command",
        )
    }

    /// Whether the server ends the connection after it (`FATAL`).
    pub fn is_fatal(&self) -> bool {
        matches!(self.sqlstate.as_str(), "25P03" | "57P01")
    }
}

/// A `WARNING` or `NOTICE` that accompanies a statement's success.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// `WARNING` or `NOTICE`.
    pub severity: String,
    /// Its SQLSTATE.
    pub sqlstate: String,
    /// Its message.
    pub message: String,
}

impl Notice {
    fn warning(sqlstate: &str, message: &str) -> Self {
        Notice {
            severity: "WARNING".into(),
            sqlstate: sqlstate.into(),
            message: message.into(),
        }
    }

    /// `BEGIN` inside a transaction block.
    pub fn already_in_transaction() -> Self {
        Self::warning("25001", "there is already a transaction in progress")
    }

    /// `COMMIT` or `ROLLBACK` outside one.
    pub fn no_transaction() -> Self {
        Self::warning("25P01", "there is no transaction in progress")
    }

    /// `pg_advisory_unlock` of a key this session does not hold (it returns false).
    pub fn advisory_not_held() -> Self {
        Self::warning("01000", "you don't own a lock of type ExclusiveLock")
    }
}
