//! What a client asks of a PostgreSQL backend, typed: the statements the database locks use, no
//! SQL parser (`locksim ctl --backend pg` will speak a small psql-like syntax over these), and
//! what each answers, in psql's words.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{Notice, PgError};

/// A table's row: every table is `(id bigint primary key, value text, version bigint)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The primary key.
    pub id: i64,
    /// The payload.
    pub value: String,
    /// The optimistic lock's version column.
    pub version: i64,
}

/// What a locking read does when a row is locked by another transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockWait {
    /// Wait (FIFO) until the holder ends, up to `lock_timeout`.
    Wait,
    /// `NOWAIT`: fail at once with 55P03.
    NoWait,
    /// `SKIP LOCKED`: leave the row out.
    SkipLocked,
}

/// An advisory lock's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// `pg_advisory_lock`: until unlocked or the session ends; re-entrant (counted).
    Session,
    /// `pg_advisory_xact_lock`: until the transaction ends.
    Transaction,
}

/// One statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "pg", rename_all = "snake_case")]
pub enum Statement {
    /// `BEGIN` (READ COMMITTED).
    Begin,
    /// `COMMIT` (a failed transaction block rolls back instead).
    Commit,
    /// `ROLLBACK`.
    Rollback,
    /// `SELECT * FROM table WHERE id IN (ids) ORDER BY id`: no lock; sees what was committed
    /// when the statement began, and this transaction's own changes.
    Select {
        /// The table.
        table: String,
        /// The ids asked for.
        ids: Vec<i64>,
    },
    /// `SELECT * FROM table WHERE id IN (ids) [AND version = v] ORDER BY id FOR UPDATE [NOWAIT |
    /// SKIP LOCKED]`: locks each matching row until the transaction ends; a row changed by the
    /// transaction it waited for is checked again (READ COMMITTED) and left out if it no longer
    /// matches.
    SelectForUpdate {
        /// The table.
        table: String,
        /// The ids asked for.
        ids: Vec<i64>,
        /// `AND version = v`, when given.
        version: Option<i64>,
        /// What to do about a row another transaction holds.
        wait: LockWait,
    },
    /// `UPDATE table SET value = v, version = version + 1 WHERE id = id [AND version = e]
    /// [RETURNING *]`: the optimistic lock's write. Answers the row count (0 when the version
    /// moved on), and with `RETURNING *` the row as updated.
    Update {
        /// The table.
        table: String,
        /// The row.
        id: i64,
        /// Its new value.
        value: String,
        /// `AND version = e`, when given: the optimistic lock's guard.
        expected_version: Option<i64>,
        /// `RETURNING *`: answer the updated row too.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        returning: bool,
    },
    /// `INSERT INTO table VALUES (id, value, 0)`.
    Insert {
        /// The table.
        table: String,
        /// The new row's id.
        id: i64,
        /// Its value.
        value: String,
    },
    /// `SELECT pg_advisory_lock(key)` / `pg_advisory_xact_lock(key)`: waits.
    AdvisoryLock {
        /// The lock's key.
        key: i64,
        /// Session or transaction.
        scope: Scope,
    },
    /// `SELECT pg_try_advisory_lock(key)` / `pg_try_advisory_xact_lock(key)`: true or false.
    AdvisoryTryLock {
        /// The lock's key.
        key: i64,
        /// Session or transaction.
        scope: Scope,
    },
    /// `SELECT pg_advisory_unlock(key)`: true, or false with a warning when not held.
    AdvisoryUnlock {
        /// The lock's key.
        key: i64,
    },
    /// `SELECT pg_advisory_unlock_all()`.
    AdvisoryUnlockAll,
    /// `SET lock_timeout = …` (zero: wait forever, the default).
    SetLockTimeout {
        /// The longest a statement waits for one lock.
        timeout: Duration,
    },
    /// `SET idle_in_transaction_session_timeout = …` (zero: off, the default): a session idle
    /// inside a transaction block that long is terminated, its locks released.
    SetIdleInTransactionTimeout {
        /// How long a session may sit idle inside a transaction block.
        timeout: Duration,
    },
}

/// A successful statement's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Reply {
    /// A transaction-control or `SET` statement's tag: `BEGIN`, `COMMIT`, `ROLLBACK`, `SET`.
    Tag {
        /// The tag.
        tag: String,
    },
    /// The rows a `SELECT` returned, by id.
    Rows {
        /// The rows, by id.
        rows: Vec<Row>,
    },
    /// The rows an `UPDATE … RETURNING *` changed, and its `UPDATE n`.
    Returning {
        /// The rows as updated.
        rows: Vec<Row>,
        /// `UPDATE`.
        tag: String,
        /// Rows affected.
        count: u64,
    },
    /// `UPDATE n` / `INSERT 0 n`.
    Count {
        /// `UPDATE` or `INSERT`.
        tag: String,
        /// Rows affected.
        count: u64,
    },
    /// A boolean function's result (`pg_try_advisory_lock`, `pg_advisory_unlock`).
    Bool {
        /// The result.
        value: bool,
    },
    /// A void function's result (`pg_advisory_lock`, `pg_advisory_unlock_all`).
    Void,
}

/// A statement's answer: its result or error, and the notices that came with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// What it returned.
    pub result: Result<Reply, PgError>,
    /// Warnings sent before the result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
}

impl Answer {
    pub(crate) fn ok(reply: Reply) -> Self {
        Answer {
            result: Ok(reply),
            notices: Vec::new(),
        }
    }

    pub(crate) fn err(error: PgError) -> Self {
        Answer {
            result: Err(error),
            notices: Vec::new(),
        }
    }
}

impl fmt::Display for Reply {
    /// psql's command tag or a short rendering of the rows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Tag { tag } => f.write_str(tag),
            Reply::Rows { rows } => {
                let shown: Vec<String> = rows
                    .iter()
                    .map(|r| format!("({}, {:?}, v{})", r.id, r.value, r.version))
                    .collect();
                write!(f, "{} row(s) [{}]", rows.len(), shown.join(", "))
            }
            Reply::Returning { rows, tag, count } => {
                write!(f, "{} / {tag} {count}", Reply::Rows { rows: rows.clone() })
            }
            Reply::Count { tag, count } if tag == "INSERT" => write!(f, "INSERT 0 {count}"),
            Reply::Count { tag, count } => write!(f, "{tag} {count}"),
            Reply::Bool { value } => f.write_str(if *value { "t" } else { "f" }),
            Reply::Void => f.write_str("(void)"),
        }
    }
}

impl Statement {
    /// The statement's kind, as the history names it (`BEGIN`, `SELECT FOR UPDATE`,
    /// `pg_advisory_lock`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Statement::Begin => "BEGIN",
            Statement::Commit => "COMMIT",
            Statement::Rollback => "ROLLBACK",
            Statement::Select { .. } => "SELECT",
            Statement::SelectForUpdate { .. } => "SELECT FOR UPDATE",
            Statement::Update { .. } => "UPDATE",
            Statement::Insert { .. } => "INSERT",
            Statement::AdvisoryLock {
                scope: Scope::Session,
                ..
            } => "pg_advisory_lock",
            Statement::AdvisoryLock {
                scope: Scope::Transaction,
                ..
            } => "pg_advisory_xact_lock",
            Statement::AdvisoryTryLock {
                scope: Scope::Session,
                ..
            } => "pg_try_advisory_lock",
            Statement::AdvisoryTryLock {
                scope: Scope::Transaction,
                ..
            } => "pg_try_advisory_xact_lock",
            Statement::AdvisoryUnlock { .. } => "pg_advisory_unlock",
            Statement::AdvisoryUnlockAll => "pg_advisory_unlock_all",
            Statement::SetLockTimeout { .. } | Statement::SetIdleInTransactionTimeout { .. } => {
                "SET"
            }
        }
    }

    /// Whether it may change the database or its locks: a lost answer leaves it
    /// indeterminate (a plain `SELECT` or `SET` is not; `BEGIN` and `ROLLBACK` change nothing
    /// another session can see).
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            Statement::Begin
                | Statement::Rollback
                | Statement::Select { .. }
                | Statement::SetLockTimeout { .. }
                | Statement::SetIdleInTransactionTimeout { .. }
        )
    }
}

impl fmt::Display for Statement {
    /// The statement in SQL, as `sql::parse` reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = |ids: &[i64]| match ids {
            [id] => format!("id = {id}"),
            ids => {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!("id IN ({})", list.join(", "))
            }
        };
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let ms = |d: &Duration| format!("'{}ms'", d.as_millis());
        match self {
            Statement::Begin => f.write_str("BEGIN"),
            Statement::Commit => f.write_str("COMMIT"),
            Statement::Rollback => f.write_str("ROLLBACK"),
            Statement::Select { table, ids: i } => {
                write!(f, "SELECT * FROM {table} WHERE {} ORDER BY id", ids(i))
            }
            Statement::SelectForUpdate {
                table,
                ids: i,
                version,
                wait,
            } => {
                write!(f, "SELECT * FROM {table} WHERE {}", ids(i))?;
                if let Some(v) = version {
                    write!(f, " AND version = {v}")?;
                }
                f.write_str(" ORDER BY id FOR UPDATE")?;
                match wait {
                    LockWait::Wait => Ok(()),
                    LockWait::NoWait => f.write_str(" NOWAIT"),
                    LockWait::SkipLocked => f.write_str(" SKIP LOCKED"),
                }
            }
            Statement::Update {
                table,
                id,
                value,
                expected_version,
                returning,
            } => {
                write!(
                    f,
                    "UPDATE {table} SET value = {}, version = version + 1 WHERE id = {id}",
                    quote(value)
                )?;
                if let Some(v) = expected_version {
                    write!(f, " AND version = {v}")?;
                }
                if *returning {
                    f.write_str(" RETURNING *")?;
                }
                Ok(())
            }
            Statement::Insert { table, id, value } => {
                write!(f, "INSERT INTO {table} VALUES ({id}, {})", quote(value))
            }
            Statement::AdvisoryLock { key, .. }
            | Statement::AdvisoryTryLock { key, .. }
            | Statement::AdvisoryUnlock { key } => write!(f, "SELECT {}({key})", self.name()),
            Statement::AdvisoryUnlockAll => f.write_str("SELECT pg_advisory_unlock_all()"),
            Statement::SetLockTimeout { timeout } => {
                write!(f, "SET lock_timeout = {}", ms(timeout))
            }
            Statement::SetIdleInTransactionTimeout { timeout } => write!(
                f,
                "SET idle_in_transaction_session_timeout = {}",
                ms(timeout)
            ),
        }
    }
}
