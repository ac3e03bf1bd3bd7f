//! `Engine`: one PostgreSQL server's tables, transactions and locks — a state machine with no
//! time of its own, driven by the server host (statements in, answers out; `tick` for the
//! timeouts), so every decision is deterministic and unit-testable.
//!
//! What it keeps of PostgreSQL 15 (docs: explicit-locking, transaction-iso, advisory lock
//! functions; messages measured with psql against Debian's 15.18):
//! * **READ COMMITTED**: a plain `SELECT` sees what was committed when it began, plus its own
//!   transaction's changes. Writes and locking reads take the row's lock until the transaction
//!   ends; a row locked by another transaction is waited for in FIFO order, then checked again
//!   against its newest committed version (EvalPlanQual): a row whose version moved on no longer
//!   matches `AND version = …`.
//! * **Row lock waits**: `NOWAIT` fails at once (55P03 "could not obtain lock on row in relation
//!   …"), `SKIP LOCKED` leaves the row out, `lock_timeout` cancels a wait (55P03 "canceling
//!   statement due to lock timeout"), and a waiter still waiting after `deadlock_timeout` (1 s)
//!   runs the deadlock check: if its wait closes a cycle it fails with 40P01.
//! * **Errors abort**: inside a transaction block an error releases the transaction's locks at
//!   once, and every later statement gets 25P02 until `ROLLBACK` (a `COMMIT` then rolls back).
//!   Outside a block each statement is its own transaction.
//! * **Advisory locks**: one exclusive lock space per key; session-level (`pg_advisory_lock`,
//!   re-entrant and counted, until unlocked or the session ends) and transaction-level
//!   (`pg_advisory_xact_lock`, until the transaction ends); a request queues behind earlier
//!   waiters. **Not WAL-logged**: nothing of them reaches a replica.
//! * **WAL**: every commit that changed rows appends a [`WalRecord`] at a byte position (sized
//!   roughly as heap records are, so a lag in bytes means what Patroni's
//!   `maximum_lag_on_failover` means); a replica applies records in order.
//! * **A backend ends** only when told ([`Engine::terminate`]: the server noticed the client is
//!   gone): its transaction rolls back, all its locks are released.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{Notice, PgError};
use super::statement::{Answer, LockWait, Reply, Row, Scope, Statement};

/// A backend (one client connection's server process), by its pid.
pub type BackendId = u32;

/// A WAL position, in bytes from the start of the log.
pub type Lsn = u64;

/// Where a fresh cluster's WAL begins (`0/1000000`, as after `initdb`).
pub const INITIAL_LSN: Lsn = 0x0100_0000;

/// The engine's settings (`postgresql.conf`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// `deadlock_timeout`: how long a lock wait lasts before the deadlock check (default 1 s).
    pub deadlock_timeout: Duration,
    /// `lock_timeout` every session starts with (default 0: wait forever).
    pub lock_timeout: Duration,
    /// `idle_in_transaction_session_timeout` every session starts with (default 0: off).
    pub idle_in_transaction_session_timeout: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            deadlock_timeout: Duration::from_secs(1),
            lock_timeout: Duration::ZERO,
            idle_in_transaction_session_timeout: Duration::ZERO,
        }
    }
}

/// One committed transaction's row changes, as the WAL carries them to replicas.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalRecord {
    /// The position just past the record (`pg_current_wal_lsn()` after the commit).
    pub lsn: Lsn,
    /// The transaction id.
    pub xid: u64,
    /// The rows as the transaction left them, in the order it first wrote them.
    pub changes: Vec<(String, Row)>,
}

/// Roughly a heap record's size: a WAL header per commit, and per row its header, key, version
/// and value. Only the order of magnitude matters (lag in bytes).
fn record_size(changes: &[(String, Row)]) -> u64 {
    let rows: usize = changes
        .iter()
        .map(|(table, row)| 48 + table.len() + row.value.len())
        .sum();
    (24 + rows) as u64
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct RowData {
    value: String,
    version: i64,
}

/// A row's committed image, the uncommitted one of the transaction holding its lock, and the
/// queue of backends waiting for the lock.
#[derive(Debug, Default)]
struct RowSlot {
    committed: Option<RowData>,
    locker: Option<BackendId>,
    pending: Option<RowData>,
    waiters: VecDeque<BackendId>,
}

impl RowSlot {
    /// The row as `backend` sees it: its own uncommitted image, else the committed one.
    fn visible(&self, backend: BackendId) -> Option<&RowData> {
        match (&self.pending, self.locker) {
            (Some(p), Some(l)) if l == backend => Some(p),
            _ => self.committed.as_ref(),
        }
    }
}

#[derive(Debug, Default)]
struct Advisory {
    /// Per holder: (session-level count, transaction-level count).
    holders: BTreeMap<BackendId, (u32, u32)>,
    waiters: VecDeque<BackendId>,
}

impl Advisory {
    fn held_by_other(&self, backend: BackendId) -> bool {
        self.holders.keys().any(|&h| h != backend)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Resource {
    Row(String, i64),
    Advisory(i64),
}

/// How far a statement got before it had to wait: resumed from here when woken.
#[derive(Clone, Debug, Default)]
struct Progress {
    /// The rows that matched when the statement began (a locking statement's candidates).
    candidates: Option<Vec<i64>>,
    /// The next candidate to lock.
    next: usize,
    /// Rows locked and returned so far.
    rows: Vec<Row>,
    /// Woken from a queue: its turn has come (it does not queue behind the others again).
    turn: bool,
}

struct Waiting {
    statement: Statement,
    progress: Progress,
    on: Resource,
    since: Duration,
    deadlock_checked: bool,
}

#[derive(Default)]
struct Txn {
    explicit: bool,
    xid: Option<u64>,
    /// Rows locked, in order.
    rows: Vec<(String, i64)>,
    /// Rows written, in order of the first write.
    written: Vec<(String, i64)>,
}

#[derive(Default)]
struct Backend {
    txn: Option<Txn>,
    /// An error aborted the explicit transaction block: only ROLLBACK/COMMIT are taken.
    failed: bool,
    lock_timeout: Duration,
    /// `idle_in_transaction_session_timeout` (zero: off, the default).
    idle_in_transaction_timeout: Duration,
    /// When its last statement arrived or finished.
    last_active: Duration,
    waiting: Option<Waiting>,
    /// A commit logged at this position that waits for the standbys before it is answered
    /// (`synchronous_commit`): the transaction keeps its locks meanwhile.
    committing: Option<CommitWait>,
}

/// A commit waiting for synchronous replication.
struct CommitWait {
    lsn: Lsn,
    txn: Txn,
    /// The statement's answer (`COMMIT`, or an implicit transaction's result), held back.
    answer: Option<Answer>,
}

/// Where a statement stands.
enum Step {
    Done(Result<Reply, PgError>, Vec<Notice>),
    Blocked(Resource, Progress),
}

/// See the module docs.
pub struct Engine {
    config: EngineConfig,
    tables: BTreeMap<String, BTreeMap<i64, RowSlot>>,
    backends: BTreeMap<BackendId, Backend>,
    advisory: BTreeMap<i64, Advisory>,
    next_xid: u64,
    lsn: Lsn,
    /// Commit records written and not yet handed to the disk ([`Engine::take_wal`]).
    wal: Vec<WalRecord>,
    /// The time of the call being served: a waiter woken by it starts any new wait then.
    now: Duration,
    /// Commits that wrote rows wait for [`Engine::release_commits`] (synchronous replication).
    commit_wait: bool,
}

/// Answers produced by one call: the caller's own (unless it now waits) and those of backends
/// its call woke, in the order they completed.
pub type Answers = Vec<(BackendId, Answer)>;

impl Engine {
    /// An empty server with `tables` (each `(id, value, version)`).
    pub fn new(config: EngineConfig, tables: &[&str]) -> Self {
        Engine {
            config,
            tables: tables
                .iter()
                .map(|t| (t.to_string(), BTreeMap::new()))
                .collect(),
            backends: BTreeMap::new(),
            advisory: BTreeMap::new(),
            next_xid: 735,
            lsn: INITIAL_LSN,
            wal: Vec::new(),
            now: Duration::ZERO,
            commit_wait: false,
        }
    }

    /// The committed rows of `table` (what a replica or a new transaction would read).
    pub fn committed(&self, table: &str) -> Vec<Row> {
        self.tables
            .get(table)
            .into_iter()
            .flatten()
            .filter_map(|(&id, slot)| {
                slot.committed.as_ref().map(|d| Row {
                    id,
                    value: d.value.clone(),
                    version: d.version,
                })
            })
            .collect()
    }

    /// The commit records written since the last [`Engine::take_wal`] (all of them, if never
    /// taken).
    pub fn wal(&self) -> &[WalRecord] {
        &self.wal
    }

    /// Hand the records written since the last call to the disk (the WAL writer's flush).
    pub fn take_wal(&mut self) -> Vec<WalRecord> {
        std::mem::take(&mut self.wal)
    }

    /// The current WAL position.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// Redo (a replica's, or crash recovery's) of a record already on this server's disk: its
    /// rows become committed and its position the server's. No locks are involved.
    pub fn apply(&mut self, record: &WalRecord) {
        for (table, row) in &record.changes {
            let slot = self
                .tables
                .entry(table.clone())
                .or_default()
                .entry(row.id)
                .or_default();
            slot.committed = Some(RowData {
                value: row.value.clone(),
                version: row.version,
            });
        }
        self.lsn = self.lsn.max(record.lsn);
        self.next_xid = self.next_xid.max(record.xid + 1);
    }

    /// Whether `backend` is waiting for a lock.
    pub fn is_waiting(&self, backend: BackendId) -> bool {
        self.backends
            .get(&backend)
            .is_some_and(|b| b.waiting.is_some())
    }

    /// Whether `backend` is inside a transaction block (psql's `*` or `!` prompt).
    pub fn in_transaction(&self, backend: BackendId) -> bool {
        self.backends
            .get(&backend)
            .is_some_and(|b| b.txn.as_ref().is_some_and(|t| t.explicit) || b.failed)
    }

    /// The session-level advisory locks `backend` holds, with their counts.
    pub fn advisory_held(&self, backend: BackendId) -> BTreeMap<i64, u32> {
        self.advisory
            .iter()
            .filter_map(|(&k, a)| a.holders.get(&backend).map(|&(s, x)| (k, s + x)))
            .collect()
    }

    /// Run `statement` for `backend` at `now`. The answer comes now, or — when it waits for a
    /// lock — from a later call that releases the lock or times the wait out.
    pub fn execute(&mut self, backend: BackendId, statement: Statement, now: Duration) -> Answers {
        self.now = now;
        let mut out = Answers::new();
        let config = &self.config;
        let b = self.backends.entry(backend).or_insert_with(|| Backend {
            lock_timeout: config.lock_timeout,
            idle_in_transaction_timeout: config.idle_in_transaction_session_timeout,
            ..Backend::default()
        });
        b.last_active = now;
        if b.waiting.is_some() || b.committing.is_some() {
            // One statement at a time per connection: the protocol cannot send another.
            out.push((
                backend,
                Answer::err(PgError {
                    sqlstate: "08P01".into(),
                    message: "another command is already in progress".into(),
                }),
            ));
            return out;
        }
        if b.failed && !matches!(statement, Statement::Commit | Statement::Rollback) {
            out.push((backend, Answer::err(PgError::in_failed_transaction())));
            return out;
        }
        match statement {
            Statement::Begin => {
                let mut answer = Answer::ok(Reply::Tag {
                    tag: "BEGIN".into(),
                });
                match &mut b.txn {
                    Some(_) => answer.notices.push(Notice::already_in_transaction()),
                    None => {
                        b.txn = Some(Txn {
                            explicit: true,
                            ..Txn::default()
                        })
                    }
                }
                out.push((backend, answer));
            }
            Statement::Commit | Statement::Rollback => {
                let commit = statement == Statement::Commit;
                let tag = if commit && !b.failed {
                    "COMMIT"
                } else {
                    "ROLLBACK"
                };
                let mut answer = Answer::ok(Reply::Tag { tag: tag.into() });
                if b.txn.is_none() && !b.failed {
                    answer.notices.push(Notice::no_transaction());
                }
                b.failed = false;
                out.push((backend, answer));
                self.end_transaction(backend, commit, &mut out);
            }
            Statement::SetLockTimeout { timeout } => {
                b.lock_timeout = timeout;
                out.push((backend, Answer::ok(Reply::Tag { tag: "SET".into() })));
            }
            Statement::SetIdleInTransactionTimeout { timeout } => {
                b.idle_in_transaction_timeout = timeout;
                out.push((backend, Answer::ok(Reply::Tag { tag: "SET".into() })));
            }
            statement => {
                if b.txn.is_none() {
                    b.txn = Some(Txn::default());
                }
                self.run(backend, statement, Progress::default(), &mut out);
            }
        }
        out
    }

    /// Timeouts at `now`: lock waits past `lock_timeout` are cancelled; a wait past
    /// `deadlock_timeout` is checked once for a cycle and cancelled with 40P01 if it closes one;
    /// a session idle inside a transaction block past `idle_in_transaction_session_timeout` is
    /// terminated (FATAL 25P03: its answer [`PgError::is_fatal`], the server closes the
    /// connection) and everything it held is released.
    pub fn tick(&mut self, now: Duration) -> Answers {
        self.now = now;
        let mut out = Answers::new();
        let waiting: Vec<BackendId> = self
            .backends
            .iter()
            .filter(|(_, b)| b.waiting.is_some())
            .map(|(&id, _)| id)
            .collect();
        for id in waiting {
            let Some(b) = self.backends.get_mut(&id) else {
                continue;
            };
            let timeout = b.lock_timeout;
            let Some(w) = b.waiting.as_mut() else {
                continue; // woken by an earlier cancellation in this pass
            };
            if !timeout.is_zero() && now >= w.since + timeout {
                self.cancel(id, PgError::lock_timeout(), &mut out);
                continue;
            }
            if !w.deadlock_checked && now >= w.since + self.config.deadlock_timeout {
                w.deadlock_checked = true;
                if self.closes_cycle(id) {
                    self.cancel(id, PgError::deadlock(), &mut out);
                }
            }
        }
        let idle: Vec<BackendId> = self
            .backends
            .iter()
            .filter(|(&id, b)| {
                let timeout = b.idle_in_transaction_timeout;
                b.waiting.is_none()
                    && self.in_transaction(id)
                    && !timeout.is_zero()
                    && now >= b.last_active + timeout
            })
            .map(|(&id, _)| id)
            .collect();
        for id in idle {
            out.push((id, Answer::err(PgError::idle_in_transaction_timeout())));
            self.end_backend(id, &mut out);
        }
        out
    }

    /// The server noticed the client is gone (or terminated the backend): its transaction
    /// rolls back and every lock it held — rows, advisory of both scopes — is released.
    pub fn terminate(&mut self, backend: BackendId, now: Duration) -> Answers {
        self.now = now;
        let mut out = Answers::new();
        self.end_backend(backend, &mut out);
        out
    }

    fn end_backend(&mut self, backend: BackendId, out: &mut Answers) {
        // A commit waiting for standbys is already committed locally (PostgreSQL warns the
        // client so when the wait is cancelled): it finishes, its locks go.
        if let Some(wait) = self
            .backends
            .get_mut(&backend)
            .and_then(|b| b.committing.take())
        {
            self.release_transaction(backend, wait.txn, true, out);
        }
        if let Some(w) = self
            .backends
            .get_mut(&backend)
            .and_then(|b| b.waiting.take())
        {
            self.dequeue(backend, &w.on);
        }
        self.end_transaction(backend, false, out);
        let keys: Vec<i64> = self
            .advisory
            .iter()
            .filter(|(_, a)| a.holders.contains_key(&backend))
            .map(|(&k, _)| k)
            .collect();
        for key in keys {
            if let Some(a) = self.advisory.get_mut(&key) {
                a.holders.remove(&backend);
            }
            self.grant(&Resource::Advisory(key), out);
        }
        self.backends.remove(&backend);
    }

    /// Run (or resume) a statement in `backend`'s current transaction.
    fn run(
        &mut self,
        backend: BackendId,
        statement: Statement,
        progress: Progress,
        out: &mut Answers,
    ) {
        match self.step(backend, &statement, progress, out) {
            Step::Blocked(on, progress) => {
                match &on {
                    Resource::Row(t, id) => {
                        let slot = self.slot(t, *id);
                        if !slot.waiters.contains(&backend) {
                            slot.waiters.push_back(backend);
                        }
                    }
                    Resource::Advisory(key) => {
                        let a = self.advisory.entry(*key).or_default();
                        if !a.waiters.contains(&backend) {
                            a.waiters.push_back(backend);
                        }
                    }
                }
                let b = self.backends.entry(backend).or_default();
                b.waiting = Some(Waiting {
                    statement,
                    progress,
                    on,
                    since: self.now,
                    deadlock_checked: false,
                });
            }
            Step::Done(result, notices) => {
                if let Some(b) = self.backends.get_mut(&backend) {
                    b.last_active = self.now;
                }
                let failed = result.is_err();
                out.push((backend, Answer { result, notices }));
                self.statement_ended(backend, failed, out);
            }
        }
    }

    /// After a statement: an implicit transaction commits (or rolls back on error); an error
    /// in a block aborts it (locks released now, block failed until ROLLBACK).
    fn statement_ended(&mut self, backend: BackendId, failed: bool, out: &mut Answers) {
        let Some(b) = self.backends.get_mut(&backend) else {
            return;
        };
        let explicit = b.txn.as_ref().is_some_and(|t| t.explicit);
        if failed && explicit {
            b.failed = true;
        }
        if failed || !explicit {
            self.end_transaction(backend, !failed, out);
        }
    }

    fn step(
        &mut self,
        backend: BackendId,
        statement: &Statement,
        mut p: Progress,
        out: &mut Answers,
    ) -> Step {
        let done = |r: Result<Reply, PgError>| Step::Done(r, Vec::new());
        match statement {
            Statement::Select { table, ids } => {
                let Some(rows) = self.tables.get(table) else {
                    return done(Err(PgError::undefined_table(table)));
                };
                let ids: BTreeSet<i64> = ids.iter().copied().collect();
                let rows = ids
                    .into_iter()
                    .filter_map(|id| {
                        rows.get(&id)
                            .and_then(|s| s.visible(backend))
                            .map(|d| row(id, d))
                    })
                    .collect();
                done(Ok(Reply::Rows { rows }))
            }
            Statement::SelectForUpdate {
                table,
                ids,
                version,
                wait,
            } => {
                if !self.tables.contains_key(table) {
                    return done(Err(PgError::undefined_table(table)));
                }
                let matches =
                    |d: Option<&RowData>| d.is_some_and(|d| version.is_none_or(|v| d.version == v));
                if p.candidates.is_none() {
                    let rows = &self.tables[table];
                    let ids: BTreeSet<i64> = ids.iter().copied().collect();
                    p.candidates = Some(
                        ids.into_iter()
                            .filter(|id| matches(rows.get(id).and_then(|s| s.visible(backend))))
                            .collect(),
                    );
                }
                let candidates = p.candidates.clone().unwrap_or_default();
                while let Some(&id) = candidates.get(p.next) {
                    let slot = self.slot(table, id);
                    if slot.locker.is_some_and(|l| l != backend) {
                        match wait {
                            LockWait::NoWait => {
                                return done(Err(PgError::row_lock_not_available(table)))
                            }
                            LockWait::SkipLocked => {
                                p.next += 1;
                                continue;
                            }
                            LockWait::Wait => {
                                return Step::Blocked(Resource::Row(table.clone(), id), p)
                            }
                        }
                    }
                    self.lock_row(backend, table, id);
                    // Checked again against the newest version (it may have moved on while
                    // we waited).
                    let slot = self.slot(table, id);
                    if let Some(d) = slot.visible(backend).filter(|d| matches(Some(d))) {
                        p.rows.push(row(id, d));
                    }
                    p.next += 1;
                }
                done(Ok(Reply::Rows { rows: p.rows }))
            }
            Statement::Update {
                table,
                id,
                value,
                expected_version,
                returning,
            } => {
                if !self.tables.contains_key(table) {
                    return done(Err(PgError::undefined_table(table)));
                }
                let matches = |d: &RowData| expected_version.is_none_or(|v| d.version == v);
                let updated = |rows: Vec<Row>| {
                    let count = rows.len() as u64;
                    let tag = "UPDATE".to_string();
                    match returning {
                        true => Reply::Returning { rows, tag, count },
                        false => Reply::Count { tag, count },
                    }
                };
                if p.candidates.is_none() {
                    let visible = self.slot(table, *id).visible(backend).cloned();
                    if !visible.is_some_and(|d| matches(&d)) {
                        return done(Ok(updated(Vec::new())));
                    }
                    p.candidates = Some(vec![*id]);
                }
                let slot = self.slot(table, *id);
                if slot.locker.is_some_and(|l| l != backend) {
                    return Step::Blocked(Resource::Row(table.clone(), *id), p);
                }
                let newest = slot.visible(backend).cloned();
                match newest.filter(|d| matches(d)) {
                    Some(d) => {
                        self.lock_row(backend, table, *id);
                        self.write_row(backend, table, *id, value.clone(), d.version + 1);
                        let row = Row {
                            id: *id,
                            value: value.clone(),
                            version: d.version + 1,
                        };
                        done(Ok(updated(vec![row])))
                    }
                    // The row moved on while we waited: not updated, and not locked (the
                    // queue's next waiter gets it).
                    None => done(Ok(updated(Vec::new()))),
                }
            }
            Statement::Insert { table, id, value } => {
                if !self.tables.contains_key(table) {
                    return done(Err(PgError::undefined_table(table)));
                }
                let slot = self.slot(table, *id);
                if slot.locker.is_some_and(|l| l != backend) {
                    return Step::Blocked(Resource::Row(table.clone(), *id), p);
                }
                if slot.visible(backend).is_some() {
                    return done(Err(PgError::unique_violation(table)));
                }
                self.lock_row(backend, table, *id);
                self.write_row(backend, table, *id, value.clone(), 0);
                done(Ok(Reply::Count {
                    tag: "INSERT".into(),
                    count: 1,
                }))
            }
            Statement::AdvisoryLock { key, scope } | Statement::AdvisoryTryLock { key, scope } => {
                let try_only = matches!(statement, Statement::AdvisoryTryLock { .. });
                let a = self.advisory.entry(*key).or_default();
                let holder = a.holders.contains_key(&backend);
                let queued_before_us = !holder && !p.turn && !a.waiters.is_empty();
                if a.held_by_other(backend) || queued_before_us {
                    if try_only {
                        return done(Ok(Reply::Bool { value: false }));
                    }
                    return Step::Blocked(Resource::Advisory(*key), p);
                }
                let counts = a.holders.entry(backend).or_default();
                match scope {
                    Scope::Session => counts.0 += 1,
                    Scope::Transaction => counts.1 += 1,
                }
                done(Ok(if try_only {
                    Reply::Bool { value: true }
                } else {
                    Reply::Void
                }))
            }
            Statement::AdvisoryUnlock { key } => {
                let released = self.advisory.get_mut(key).and_then(|a| {
                    let counts = a.holders.get_mut(&backend)?;
                    if counts.0 == 0 {
                        return None;
                    }
                    counts.0 -= 1;
                    if *counts == (0, 0) {
                        a.holders.remove(&backend);
                    }
                    Some(())
                });
                match released {
                    Some(()) => {
                        self.grant(&Resource::Advisory(*key), out);
                        done(Ok(Reply::Bool { value: true }))
                    }
                    None => Step::Done(
                        Ok(Reply::Bool { value: false }),
                        vec![Notice::advisory_not_held()],
                    ),
                }
            }
            Statement::AdvisoryUnlockAll => {
                let keys: Vec<i64> = self.advisory.keys().copied().collect();
                for key in keys {
                    let freed = self.advisory.get_mut(&key).is_some_and(|a| {
                        let Some(counts) = a.holders.get_mut(&backend) else {
                            return false;
                        };
                        counts.0 = 0;
                        if counts.1 == 0 {
                            a.holders.remove(&backend);
                            return true;
                        }
                        false
                    });
                    if freed {
                        self.grant(&Resource::Advisory(key), out);
                    }
                }
                done(Ok(Reply::Void))
            }
            Statement::Begin
            | Statement::Commit
            | Statement::Rollback
            | Statement::SetLockTimeout { .. }
            | Statement::SetIdleInTransactionTimeout { .. } => {
                unreachable!("transaction control is handled by execute")
            }
        }
    }

    fn slot(&mut self, table: &str, id: i64) -> &mut RowSlot {
        self.tables
            .entry(table.to_string())
            .or_default()
            .entry(id)
            .or_default()
    }

    fn lock_row(&mut self, backend: BackendId, table: &str, id: i64) {
        let slot = self.slot(table, id);
        if slot.locker == Some(backend) {
            return;
        }
        slot.locker = Some(backend);
        if let Some(txn) = self.backends.get_mut(&backend).and_then(|b| b.txn.as_mut()) {
            txn.rows.push((table.to_string(), id));
        }
    }

    fn write_row(&mut self, backend: BackendId, table: &str, id: i64, value: String, version: i64) {
        self.slot(table, id).pending = Some(RowData { value, version });
        let next_xid = &mut self.next_xid;
        if let Some(txn) = self.backends.get_mut(&backend).and_then(|b| b.txn.as_mut()) {
            if txn.xid.is_none() {
                txn.xid = Some(*next_xid);
                *next_xid += 1;
            }
            let key = (table.to_string(), id);
            if !txn.written.contains(&key) {
                txn.written.push(key);
            }
        }
    }

    /// Whether a commit that wrote rows waits for [`Engine::release_commits`] before it is
    /// answered and its locks released: the server turns it on while `synchronous_commit`
    /// asks a standby to confirm (PostgreSQL's `SyncRepWaitForLSN`, after the commit record is
    /// flushed locally and before the transaction's locks go).
    pub fn set_commit_wait(&mut self, on: bool) {
        self.commit_wait = on;
    }

    /// The positions of the commits waiting for standbys.
    pub fn waiting_commits(&self) -> Vec<Lsn> {
        self.backends
            .values()
            .filter_map(|b| b.committing.as_ref().map(|c| c.lsn))
            .collect()
    }

    /// The standbys confirmed the WAL up to `upto`: the commits waiting at or below it finish —
    /// their rows become visible, their locks go, their answers are given.
    pub fn release_commits(&mut self, upto: Lsn, now: Duration) -> Answers {
        self.now = now;
        let mut out = Answers::new();
        let done: Vec<BackendId> = self
            .backends
            .iter()
            .filter(|(_, b)| b.committing.as_ref().is_some_and(|c| c.lsn <= upto))
            .map(|(&id, _)| id)
            .collect();
        for id in done {
            let Some(wait) = self.backends.get_mut(&id).and_then(|b| b.committing.take()) else {
                continue;
            };
            if let Some(answer) = wait.answer {
                out.push((id, answer));
            }
            self.release_transaction(id, wait.txn, true, &mut out);
        }
        out
    }

    /// End `backend`'s transaction: commit (rows become committed, a WAL record) or roll back;
    /// release its row locks and transaction-level advisory locks, waking their waiters. A
    /// commit that must wait for standbys is logged now and finished by
    /// [`Engine::release_commits`]; the statement's answer (the last in `out`) waits with it.
    fn end_transaction(&mut self, backend: BackendId, commit: bool, out: &mut Answers) {
        let Some(txn) = self.backends.get_mut(&backend).and_then(|b| b.txn.take()) else {
            return;
        };
        if commit && !txn.written.is_empty() {
            let changes: Vec<(String, Row)> = txn
                .written
                .iter()
                .filter_map(|(t, id)| {
                    let slot = self.tables.get(t)?.get(id)?;
                    slot.pending.as_ref().map(|d| (t.clone(), row(*id, d)))
                })
                .collect();
            self.lsn += record_size(&changes);
            self.wal.push(WalRecord {
                lsn: self.lsn,
                xid: txn.xid.unwrap_or_default(),
                changes,
            });
            if self.commit_wait {
                let answer = out
                    .iter()
                    .rposition(|(b, _)| *b == backend)
                    .map(|i| out.remove(i).1);
                if let Some(b) = self.backends.get_mut(&backend) {
                    b.committing = Some(CommitWait {
                        lsn: self.lsn,
                        txn,
                        answer,
                    });
                }
                return;
            }
        }
        self.release_transaction(backend, txn, commit, out);
    }

    /// The second half of [`Engine::end_transaction`]: rows and locks.
    fn release_transaction(
        &mut self,
        backend: BackendId,
        txn: Txn,
        commit: bool,
        out: &mut Answers,
    ) {
        let mut released = Vec::new();
        for (table, id) in &txn.rows {
            let slot = self.slot(table, *id);
            if slot.locker != Some(backend) {
                continue;
            }
            let pending = slot.pending.take();
            if commit && pending.is_some() {
                slot.committed = pending;
            }
            slot.locker = None;
            released.push(Resource::Row(table.clone(), *id));
        }
        for (&key, a) in self.advisory.iter_mut() {
            if let Some(counts) = a.holders.get_mut(&backend) {
                if counts.1 > 0 {
                    counts.1 = 0;
                    if counts.0 == 0 {
                        a.holders.remove(&backend);
                    }
                    released.push(Resource::Advisory(key));
                }
            }
        }
        for r in released {
            self.grant(&r, out);
        }
    }

    /// Hand a free resource to its waiters, first come first served: each resumes its
    /// statement; stop once one holds it again.
    fn grant(&mut self, resource: &Resource, out: &mut Answers) {
        loop {
            let next = match resource {
                Resource::Row(t, id) => {
                    let slot = self.slot(t, *id);
                    if slot.locker.is_some() {
                        return;
                    }
                    slot.waiters.pop_front()
                }
                Resource::Advisory(key) => {
                    let Some(a) = self.advisory.get_mut(key) else {
                        return;
                    };
                    if !a.holders.is_empty() {
                        return;
                    }
                    a.waiters.pop_front()
                }
            };
            let Some(waiter) = next else {
                return;
            };
            let Some(w) = self
                .backends
                .get_mut(&waiter)
                .and_then(|b| b.waiting.take())
            else {
                continue;
            };
            let mut progress = w.progress;
            progress.turn = true;
            self.run(waiter, w.statement, progress, out);
        }
    }

    /// Take `backend` out of the queue of `resource`.
    fn dequeue(&mut self, backend: BackendId, resource: &Resource) {
        match resource {
            Resource::Row(t, id) => self.slot(t, *id).waiters.retain(|&w| w != backend),
            Resource::Advisory(key) => {
                if let Some(a) = self.advisory.get_mut(key) {
                    a.waiters.retain(|&w| w != backend);
                }
            }
        }
    }

    /// Cancel `backend`'s wait with `error`: the statement fails (and aborts its transaction).
    fn cancel(&mut self, backend: BackendId, error: PgError, out: &mut Answers) {
        let Some(w) = self
            .backends
            .get_mut(&backend)
            .and_then(|b| b.waiting.take())
        else {
            return;
        };
        self.dequeue(backend, &w.on);
        out.push((backend, Answer::err(error)));
        self.statement_ended(backend, true, out);
        // Its place in the queue is gone: whoever is next may now be free to go.
        self.grant(&w.on, out);
    }

    /// Who holds what `backend` waits for.
    fn blockers(&self, backend: BackendId) -> Vec<BackendId> {
        let Some(w) = self.backends.get(&backend).and_then(|b| b.waiting.as_ref()) else {
            return Vec::new();
        };
        match &w.on {
            Resource::Row(t, id) => self
                .tables
                .get(t)
                .and_then(|rows| rows.get(id))
                .and_then(|s| s.locker)
                .into_iter()
                .collect(),
            Resource::Advisory(key) => self
                .advisory
                .get(key)
                .map(|a| {
                    a.holders
                        .keys()
                        .copied()
                        .filter(|&h| h != backend)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Whether following "waits for a lock held by" from `backend` comes back to it.
    fn closes_cycle(&self, backend: BackendId) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = self.blockers(backend);
        while let Some(b) = stack.pop() {
            if b == backend {
                return true;
            }
            if seen.insert(b) {
                stack.extend(self.blockers(b));
            }
        }
        false
    }
}

fn row(id: i64, d: &RowData) -> Row {
    Row {
        id,
        value: d.value.clone(),
        version: d.version,
    }
}

#[cfg(test)]
mod tests;
