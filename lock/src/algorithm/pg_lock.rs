//! The database locks of seed 000, on PostgreSQL through [`PgAccess`]. The lock is row `id` of
//! table `locks` (`id` derived from the lock key, the row inserted on first use); its fencing
//! token is the row's `version` as the holder wrote it.
//!
//! * [`PgWay::RowLock`] (`pg-row-lock`): `BEGIN; SELECT … FOR UPDATE;` holds the row lock for
//!   the whole critical section, which runs inside the transaction; `UPDATE … RETURNING *`
//!   marks the row with the holder and takes the token; `COMMIT` releases. The lock lives
//!   exactly as long as the backend: when the connection dies, the server notices only by TCP
//!   (keepalive after 2 h 11 min by default), and the holder only when it speaks again.
//! * [`PgWay::Advisory`] (`pg-advisory`): `SELECT pg_advisory_lock(id)` on the session,
//!   `pg_advisory_unlock(id)` to release; the token is taken with an `UPDATE … RETURNING *`
//!   right after. Advisory locks are not WAL-logged: a promoted replica has none.
//! * [`PgWay::Optimistic`] (`pg-optimistic`): no database lock at all — the version column is the
//!   guard. Acquire reads the row; if its value is `free` it claims it with `UPDATE … SET value =
//!   me WHERE version = v` (0 rows: someone else won, try again); release writes `free` back
//!   under the same guard. Nothing expires: a holder that dies holds forever.
//!
//! Every wait is bounded by `lock_timeout` when the run gives acquiring a deadline
//! (`LockOptions::give_up`); otherwise a waiter waits as PostgreSQL's default does, forever.

use std::time::Duration;

use sim::pg::{LockWait, PgClient, PgError, Reply, Row, Scope, Statement};

use super::{FencingToken, Guard, LockAlgorithm, LockContext, LockOptions, PgAccess};
use crate::error::{Error, Result};

/// Which of the database locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgWay {
    /// `SELECT … FOR UPDATE` inside the holder's transaction.
    RowLock,
    /// A session-level advisory lock.
    Advisory,
    /// A compare-and-set on the version column.
    Optimistic,
}

/// The table the locks' rows live in (`PgConfig`'s default table).
pub const LOCK_TABLE: &str = "locks";

/// What the optimistic lock's row says when nobody holds it.
const FREE: &str = "free";

/// See the module docs.
pub struct PgLock {
    ctx: LockContext,
    options: LockOptions,
    way: PgWay,
    /// The lock's row (and advisory key).
    id: i64,
    /// The backend whose session settings (`lock_timeout`) are made.
    configured: Option<u32>,
    /// The optimistic lock's version while held.
    held_version: Option<i64>,
}

impl PgLock {
    /// The lock `way` under `options.key`. Needs [`LockContext::pg`].
    pub fn new(ctx: LockContext, options: LockOptions, way: PgWay) -> Self {
        let id = row_id(&options.key);
        PgLock {
            ctx,
            options,
            way,
            id,
            configured: None,
            held_version: None,
        }
    }

    fn access(&self) -> &PgAccess {
        self.ctx
            .pg()
            .expect("a pg lock needs LockContext::with_pg (a run with PostgreSQL servers)")
    }

    /// One statement, as a process runs it (not while paused).
    async fn run(&self, c: &PgClient, statement: Statement) -> std::result::Result<Reply, PgError> {
        self.ctx.io(c.execute(statement)).await
    }

    /// The live connection, with the session's settings and the lock's row in place.
    async fn connection(&mut self, deadline: Option<Duration>) -> Result<PgClient> {
        let c = self.ctx.io(self.access().client()).await;
        if self.configured != c.pid() {
            if let Some(limit) = deadline {
                let timeout = limit.saturating_sub(self.ctx.clock().now()).max(ms(1));
                self.run(&c, Statement::SetLockTimeout { timeout }).await?;
            }
            let insert = Statement::Insert {
                table: LOCK_TABLE.into(),
                id: self.id,
                value: FREE.into(),
            };
            match self.run(&c, insert).await {
                Ok(_) => {}
                Err(e) if e.sqlstate == "23505" => {} // already there
                Err(e) => return Err(e.into()),
            }
            self.configured = c.pid();
        }
        Ok(c)
    }

    /// After a failed attempt: a lost connection is given up (the next attempt reconnects), a
    /// failed transaction rolled back.
    async fn recover(&mut self, error: &Error) {
        match error {
            Error::Pg(e) if e.sqlstate.starts_with("08") => {
                self.access().reset();
                self.configured = None;
            }
            _ => {
                let c = self.ctx.io(self.access().client()).await;
                let _ = self.run(&c, Statement::Rollback).await;
            }
        }
    }

    async fn try_acquire(&mut self, deadline: Option<Duration>) -> Result<Option<Guard>> {
        let c = self.connection(deadline).await?;
        let key = self.options.key.clone();
        let guard = |row: &Row, c: &PgClient| {
            Guard::new(key.clone(), Some(FencingToken(row.version)))
                .with_lease(c.pid().unwrap_or_default() as i64)
        };
        match self.way {
            PgWay::RowLock => {
                self.run(&c, Statement::Begin).await?;
                let rows = rows(self.run(&c, self.lock_row()).await?);
                if rows.is_empty() {
                    // The row is gone (a failover lost its insert): make it again.
                    self.run(&c, Statement::Rollback).await?;
                    self.configured = None;
                    return Ok(None);
                }
                let row = first(self.run(&c, self.mark(None)).await?)?;
                Ok(Some(guard(&row, &c)))
            }
            PgWay::Advisory => {
                let lock = Statement::AdvisoryLock {
                    key: self.id,
                    scope: Scope::Session,
                };
                self.run(&c, lock).await?;
                match self.run(&c, self.mark(None)).await.map(rows) {
                    Ok(rows) if !rows.is_empty() => Ok(Some(guard(&rows[0], &c))),
                    other => {
                        let unlock = Statement::AdvisoryUnlock { key: self.id };
                        let _ = self.run(&c, unlock).await;
                        self.configured = None;
                        other.map(|_| None).map_err(Error::from)
                    }
                }
            }
            PgWay::Optimistic => {
                let read = Statement::Select {
                    table: LOCK_TABLE.into(),
                    ids: vec![self.id],
                };
                let Some(row) = rows(self.run(&c, read).await?).into_iter().next() else {
                    self.configured = None;
                    return Ok(None);
                };
                if row.value != FREE {
                    return Ok(None);
                }
                let claimed = rows(self.run(&c, self.mark(Some(row.version))).await?);
                let Some(row) = claimed.into_iter().next() else {
                    return Ok(None); // another client claimed that version first
                };
                self.held_version = Some(row.version);
                Ok(Some(guard(&row, &c)))
            }
        }
    }

    /// `SELECT * FROM locks WHERE id = … FOR UPDATE`.
    fn lock_row(&self) -> Statement {
        Statement::SelectForUpdate {
            table: LOCK_TABLE.into(),
            ids: vec![self.id],
            version: None,
            wait: LockWait::Wait,
        }
    }

    /// The row marked with this holder (`UPDATE … RETURNING *`), guarded by `version` if given.
    fn mark(&self, version: Option<i64>) -> Statement {
        Statement::Update {
            table: LOCK_TABLE.into(),
            id: self.id,
            value: self.ctx.process().to_string(),
            expected_version: version,
            returning: true,
        }
    }
}

impl LockAlgorithm for PgLock {
    fn name(&self) -> &str {
        match self.way {
            PgWay::RowLock => "pg-row-lock",
            PgWay::Advisory => "pg-advisory",
            PgWay::Optimistic => "pg-optimistic",
        }
    }

    async fn acquire(&mut self) -> Result<Guard> {
        let started = self.ctx.clock().now();
        let deadline = self.options.give_up.map(|g| started + g);
        loop {
            if let Some(limit) = deadline {
                let now = self.ctx.clock().now();
                if now >= limit {
                    return Err(Error::GaveUp {
                        waited_ms: (now - started).as_millis() as u64,
                    });
                }
            }
            match self.try_acquire(deadline).await {
                Ok(Some(guard)) => return Ok(guard),
                Ok(None) => {}
                Err(e) => self.recover(&e).await,
            }
            self.ctx.sleep(self.options.retry_backoff).await;
        }
    }

    async fn release(&mut self, _guard: Guard) -> Result<()> {
        let c = self.ctx.io(self.access().client()).await;
        let not_held = |why: &str| Err(Error::NotHeld(why.to_string()));
        let result = match self.way {
            PgWay::RowLock => match self.run(&c, Statement::Commit).await {
                Ok(Reply::Tag { tag }) if tag == "COMMIT" => Ok(()),
                Ok(_) => not_held("COMMIT rolled back: the transaction had failed"),
                Err(e) => Err(e.into()),
            },
            PgWay::Advisory => {
                let unlock = Statement::AdvisoryUnlock { key: self.id };
                match self.run(&c, unlock).await {
                    Ok(Reply::Bool { value: true }) => Ok(()),
                    Ok(_) => {
                        not_held("pg_advisory_unlock: you don't own a lock of type ExclusiveLock")
                    }
                    Err(e) => Err(e.into()),
                }
            }
            PgWay::Optimistic => {
                let version = self.held_version.take();
                let free = Statement::Update {
                    table: LOCK_TABLE.into(),
                    id: self.id,
                    value: FREE.into(),
                    expected_version: version,
                    returning: false,
                };
                match self.run(&c, free).await {
                    Ok(Reply::Count { count: 1, .. }) => Ok(()),
                    Ok(_) => not_held("UPDATE 0: the row's version moved on"),
                    Err(e) => Err(e.into()),
                }
            }
        };
        if let Err(Error::Pg(e)) = &result {
            if e.sqlstate.starts_with("08") {
                self.access().reset();
                self.configured = None;
            }
        }
        result
    }
}

/// The rows a statement returned (none for other results).
fn rows(reply: Reply) -> Vec<Row> {
    match reply {
        Reply::Rows { rows } | Reply::Returning { rows, .. } => rows,
        _ => Vec::new(),
    }
}

/// The one row an `UPDATE … RETURNING *` of a row this transaction locked returns.
fn first(reply: Reply) -> Result<Row> {
    rows(reply)
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotHeld("UPDATE 0 of the row this transaction locked".into()))
}

/// The lock's row id for `key`: FNV-1a of the key, in `1..=1_000_000` (and the advisory key).
pub fn row_id(key: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    1 + (h % 1_000_000) as i64
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
