//! The engine against PostgreSQL 15's behaviour, case by case (the same cases, through psql
//! against Debian's 15.18, gave the messages and results asserted here).

use super::*;
use crate::pg::statement::{LockWait, Reply, Row, Scope, Statement};

const A: BackendId = 1;
const B: BackendId = 2;
const C: BackendId = 3;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A server with `locks` rows (1,'a',0), (2,'b',0), (3,'c',0).
fn engine() -> Engine {
    let mut e = Engine::new(EngineConfig::default(), &["locks"]);
    for (id, v) in [(1, "a"), (2, "b"), (3, "c")] {
        let out = e.execute(99, insert(id, v), ms(0));
        assert!(out[0].1.result.is_ok());
    }
    e
}

fn insert(id: i64, value: &str) -> Statement {
    Statement::Insert {
        table: "locks".into(),
        id,
        value: value.into(),
    }
}

fn for_update(ids: &[i64], wait: LockWait) -> Statement {
    Statement::SelectForUpdate {
        table: "locks".into(),
        ids: ids.to_vec(),
        version: None,
        wait,
    }
}

fn update(id: i64, value: &str, expected: Option<i64>) -> Statement {
    Statement::Update {
        table: "locks".into(),
        id,
        value: value.into(),
        expected_version: expected,
        returning: false,
    }
}

fn row(id: i64, value: &str, version: i64) -> Row {
    Row {
        id,
        value: value.into(),
        version,
    }
}

/// The one answer in `out` for `b`.
fn answer(out: &Answers, b: BackendId) -> &Answer {
    let mine: Vec<&Answer> = out
        .iter()
        .filter(|(w, _)| *w == b)
        .map(|(_, a)| a)
        .collect();
    assert_eq!(mine.len(), 1, "answers for {b}: {out:?}");
    mine[0]
}

fn rows(out: &Answers, b: BackendId) -> Vec<Row> {
    match &answer(out, b).result {
        Ok(Reply::Rows { rows }) => rows.clone(),
        other => panic!("{b}: expected rows, got {other:?}"),
    }
}

fn error(out: &Answers, b: BackendId) -> String {
    match &answer(out, b).result {
        Err(e) => e.to_string(),
        other => panic!("{b}: expected an error, got {other:?}"),
    }
}

fn reply(out: &Answers, b: BackendId) -> String {
    match &answer(out, b).result {
        Ok(r) => r.to_string(),
        Err(e) => panic!("{b}: {e}"),
    }
}

#[test]
fn a_second_locker_waits_and_proceeds_on_commit_seeing_the_new_row() {
    let mut e = engine();
    e.execute(A, Statement::Begin, ms(0));
    assert_eq!(
        rows(&e.execute(A, for_update(&[1], LockWait::Wait), ms(1)), A),
        [row(1, "a", 0)]
    );
    e.execute(B, Statement::Begin, ms(2));
    let out = e.execute(B, for_update(&[1], LockWait::Wait), ms(3));
    assert!(out.is_empty() && e.is_waiting(B));
    assert_eq!(
        reply(&e.execute(A, update(1, "x", Some(0)), ms(4)), A),
        "UPDATE 1"
    );
    let out = e.execute(A, Statement::Commit, ms(5));
    assert_eq!(reply(&out, A), "COMMIT");
    assert_eq!(rows(&out, B), [row(1, "x", 1)]);
    assert!(!e.is_waiting(B));
}

#[test]
fn nowait_fails_at_once_and_aborts_the_block_until_rollback() {
    let mut e = engine();
    e.execute(A, Statement::Begin, ms(0));
    e.execute(A, for_update(&[1], LockWait::Wait), ms(0));
    e.execute(B, Statement::Begin, ms(0));
    let out = e.execute(B, for_update(&[1], LockWait::NoWait), ms(0));
    assert_eq!(
        error(&out, B),
        "55P03: could not obtain lock on row in relation \"locks\""
    );
    let out = e.execute(
        B,
        Statement::Select {
            table: "locks".into(),
            ids: vec![2],
        },
        ms(0),
    );
    assert_eq!(
        error(&out, B),
        "25P02: current transaction is aborted, commands ignored until end of transaction block"
    );
    // COMMIT of a failed block rolls back.
    assert_eq!(
        reply(&e.execute(B, Statement::Commit, ms(0)), B),
        "ROLLBACK"
    );
    assert!(!e.in_transaction(B));
}

#[test]
fn skip_locked_leaves_the_held_row_out() {
    let mut e = engine();
    e.execute(A, Statement::Begin, ms(0));
    e.execute(A, for_update(&[1], LockWait::Wait), ms(0));
    let out = e.execute(B, for_update(&[1, 2, 3], LockWait::SkipLocked), ms(0));
    assert_eq!(rows(&out, B), [row(2, "b", 0), row(3, "c", 0)]);
}

#[test]
fn lock_timeout_cancels_the_wait() {
    let mut e = engine();
    e.execute(A, Statement::Begin, ms(0));
    e.execute(A, for_update(&[1], LockWait::Wait), ms(0));
    e.execute(B, Statement::SetLockTimeout { timeout: ms(200) }, ms(0));
    e.execute(B, Statement::Begin, ms(0));
    assert!(e
        .execute(B, for_update(&[1], LockWait::Wait), ms(100))
        .is_empty());
    assert!(e.tick(ms(299)).is_empty());
    let out = e.tick(ms(300));
    assert_eq!(
        error(&out, B),
        "55P03: canceling statement due to lock timeout"
    );
    assert!(!e.is_waiting(B) && e.in_transaction(B));
    // A's commit no longer hands the row to B.
    let out = e.execute(A, Statement::Commit, ms(400));
    assert_eq!(out.len(), 1);
}

#[test]
fn advisory_locks_count_and_unlock_as_postgres_does() {
    // psql: select pg_try_advisory_lock(42), pg_advisory_lock(42), pg_advisory_unlock(42),
    // pg_advisory_unlock(42), pg_advisory_unlock(42) → t, (void), t, t, f + WARNING.
    let mut e = engine();
    let s = |e: &mut Engine, st| reply(&e.execute(A, st, ms(0)), A);
    let key = 42;
    assert_eq!(
        s(
            &mut e,
            Statement::AdvisoryTryLock {
                key,
                scope: Scope::Session
            }
        ),
        "t"
    );
    assert_eq!(
        s(
            &mut e,
            Statement::AdvisoryLock {
                key,
                scope: Scope::Session
            }
        ),
        "(void)"
    );
    assert_eq!(e.advisory_held(A)[&key], 2);
    assert_eq!(s(&mut e, Statement::AdvisoryUnlock { key }), "t");
    assert_eq!(s(&mut e, Statement::AdvisoryUnlock { key }), "t");
    let out = e.execute(A, Statement::AdvisoryUnlock { key }, ms(0));
    assert_eq!(reply(&out, A), "f");
    assert_eq!(
        answer(&out, A).notices[0].message,
        "you don't own a lock of type ExclusiveLock"
    );
}

#[test]
fn advisory_waiters_are_served_in_order_and_try_never_waits() {
    let mut e = engine();
    let lock = Statement::AdvisoryLock {
        key: 7,
        scope: Scope::Session,
    };
    e.execute(A, lock.clone(), ms(0));
    assert!(e.execute(B, lock.clone(), ms(1)).is_empty());
    assert!(e.execute(C, lock.clone(), ms(2)).is_empty());
    let try_lock = Statement::AdvisoryTryLock {
        key: 7,
        scope: Scope::Session,
    };
    assert_eq!(reply(&e.execute(4, try_lock, ms(3)), 4), "f");
    let out = e.execute(A, Statement::AdvisoryUnlock { key: 7 }, ms(4));
    assert_eq!(reply(&out, A), "t");
    assert_eq!(reply(&out, B), "(void)");
    assert!(e.is_waiting(C));
    // The session ends: its locks go to the next waiter.
    let out = e.terminate(B, ms(5));
    assert_eq!(reply(&out, C), "(void)");
}

#[test]
fn session_advisory_locks_outlive_transactions_and_xact_ones_do_not() {
    let mut e = engine();
    e.execute(A, Statement::Begin, ms(0));
    e.execute(
        A,
        Statement::AdvisoryLock {
            key: 1,
            scope: Scope::Session,
        },
        ms(0),
    );
    e.execute(
        A,
        Statement::AdvisoryLock {
            key: 2,
            scope: Scope::Transaction,
        },
        ms(0),
    );
    // An error aborts the block: the transaction-level lock goes at once.
    e.execute(A, update(9, "x", None), ms(0));
    let out = e.execute(A, insert(1, "dup"), ms(0));
    assert_eq!(
        error(&out, A),
        "23505: duplicate key value violates unique constraint \"locks_pkey\""
    );
    assert_eq!(e.advisory_held(A).keys().copied().collect::<Vec<_>>(), [1]);
    e.execute(A, Statement::Rollback, ms(0));
    assert_eq!(e.advisory_held(A).keys().copied().collect::<Vec<_>>(), [1]);
    // Autocommit: an xact lock is gone as soon as its statement's transaction ends.
    e.execute(
        B,
        Statement::AdvisoryLock {
            key: 3,
            scope: Scope::Transaction,
        },
        ms(0),
    );
    assert!(e.advisory_held(B).is_empty());
}

#[test]
fn the_optimistic_update_counts_rows_and_rechecks_after_waiting() {
    let mut e = engine();
    assert_eq!(
        reply(&e.execute(A, update(1, "x", Some(0)), ms(0)), A),
        "UPDATE 1"
    );
    assert_eq!(
        reply(&e.execute(B, update(1, "y", Some(0)), ms(1)), B),
        "UPDATE 0"
    );
    // B waits behind A's uncommitted update of the version it expects; A commits; B's
    // WHERE is checked again against the new version: no row.
    e.execute(A, Statement::Begin, ms(2));
    e.execute(A, update(1, "z", Some(1)), ms(2));
    assert!(e.execute(B, update(1, "w", Some(1)), ms(3)).is_empty());
    let out = e.execute(A, Statement::Commit, ms(4));
    assert_eq!(reply(&out, B), "UPDATE 0");
    // After a rollback instead, the waiter's row still matches.
    e.execute(A, Statement::Begin, ms(5));
    e.execute(A, update(2, "z", Some(0)), ms(5));
    assert!(e.execute(B, update(2, "w", Some(0)), ms(6)).is_empty());
    let out = e.execute(A, Statement::Rollback, ms(7));
    assert_eq!(reply(&out, B), "UPDATE 1");
    assert_eq!(e.committed("locks")[1], row(2, "w", 1));
}

#[test]
fn a_locking_read_that_waited_sees_the_row_only_if_it_still_matches() {
    let mut e = engine();
    e.execute(A, Statement::Begin, ms(0));
    e.execute(A, update(1, "x", Some(0)), ms(0));
    let guarded = Statement::SelectForUpdate {
        table: "locks".into(),
        ids: vec![1],
        version: Some(0),
        wait: LockWait::Wait,
    };
    assert!(e.execute(B, guarded, ms(1)).is_empty());
    let out = e.execute(A, Statement::Commit, ms(2));
    assert_eq!(rows(&out, B), []);
    // A plain read never waits and sees what was committed.
    e.execute(A, Statement::Begin, ms(3));
    e.execute(A, update(1, "uncommitted", None), ms(3));
    let out = e.execute(
        B,
        Statement::Select {
            table: "locks".into(),
            ids: vec![1],
        },
        ms(4),
    );
    assert_eq!(rows(&out, B), [row(1, "x", 1)]);
}

#[test]
fn the_deadlock_check_cancels_the_waiter_whose_timeout_ran_out_first() {
    let mut e = engine();
    for b in [A, B] {
        e.execute(b, Statement::Begin, ms(0));
    }
    e.execute(A, for_update(&[1], LockWait::Wait), ms(0));
    e.execute(B, for_update(&[2], LockWait::Wait), ms(0));
    assert!(e
        .execute(A, for_update(&[2], LockWait::Wait), ms(10))
        .is_empty());
    assert!(e
        .execute(B, for_update(&[1], LockWait::Wait), ms(500))
        .is_empty());
    assert!(e.tick(ms(1009)).is_empty());
    let out = e.tick(ms(1010));
    assert_eq!(error(&out, A), "40P01: deadlock detected");
    // A's abort released row 1: B goes on.
    assert_eq!(rows(&out, B), [row(1, "a", 0)]);
    // Waiting without a cycle is not a deadlock.
    let mut e = engine();
    e.execute(A, Statement::Begin, ms(0));
    e.execute(A, for_update(&[1], LockWait::Wait), ms(0));
    e.execute(B, for_update(&[1], LockWait::Wait), ms(0));
    assert!(e.tick(ms(5000)).is_empty() && e.is_waiting(B));
}

#[test]
fn a_terminated_backend_rolls_back_and_frees_everything() {
    let mut e = engine();
    e.execute(A, Statement::Begin, ms(0));
    e.execute(A, update(1, "lost", None), ms(0));
    e.execute(
        A,
        Statement::AdvisoryLock {
            key: 5,
            scope: Scope::Session,
        },
        ms(0),
    );
    assert!(e
        .execute(B, for_update(&[1], LockWait::Wait), ms(1))
        .is_empty());
    let lock = Statement::AdvisoryLock {
        key: 5,
        scope: Scope::Session,
    };
    assert!(e.execute(C, lock, ms(1)).is_empty());
    let out = e.terminate(A, ms(2));
    assert_eq!(rows(&out, B), [row(1, "a", 0)]);
    assert_eq!(reply(&out, C), "(void)");
}

#[test]
fn commits_write_the_wal_and_a_replica_applying_it_has_the_same_rows() {
    let mut e = engine();
    let start = e.lsn();
    e.execute(A, Statement::Begin, ms(0));
    e.execute(A, update(1, "x", None), ms(0));
    e.execute(A, update(1, "y", None), ms(0));
    e.execute(A, update(2, "z", None), ms(0));
    e.execute(A, Statement::Rollback, ms(0));
    assert_eq!(e.lsn(), start, "a rollback writes nothing");
    e.execute(A, update(3, "w", None), ms(0));
    assert!(e.lsn() > start);
    let last = e.wal().last().unwrap();
    assert_eq!(last.changes, [("locks".to_string(), row(3, "w", 1))]);
    let mut replica = Engine::new(EngineConfig::default(), &["locks"]);
    for record in e.wal() {
        replica.apply(record);
    }
    assert_eq!(replica.committed("locks"), e.committed("locks"));
    assert_eq!(replica.lsn(), e.lsn());
    // Advisory locks are not in the WAL.
    e.execute(
        A,
        Statement::AdvisoryLock {
            key: 1,
            scope: Scope::Session,
        },
        ms(0),
    );
    assert_eq!(e.wal().len(), 4);
}

#[test]
fn transaction_control_warns_as_postgres_does() {
    let mut e = engine();
    let out = e.execute(A, Statement::Commit, ms(0));
    assert_eq!(reply(&out, A), "COMMIT");
    assert_eq!(
        answer(&out, A).notices[0].message,
        "there is no transaction in progress"
    );
    e.execute(A, Statement::Begin, ms(0));
    let out = e.execute(A, Statement::Begin, ms(0));
    assert_eq!(
        answer(&out, A).notices[0].message,
        "there is already a transaction in progress"
    );
    let out = e.execute(
        A,
        Statement::Select {
            table: "nope".into(),
            ids: vec![1],
        },
        ms(0),
    );
    assert_eq!(error(&out, A), "42P01: relation \"nope\" does not exist");
}

#[test]
fn an_insert_waits_for_an_uncommitted_insert_of_the_same_key() {
    let mut e = engine();
    e.execute(A, Statement::Begin, ms(0));
    e.execute(A, insert(10, "a"), ms(0));
    assert!(e.execute(B, insert(10, "b"), ms(1)).is_empty());
    let out = e.execute(A, Statement::Commit, ms(2));
    assert_eq!(
        error(&out, B),
        "23505: duplicate key value violates unique constraint \"locks_pkey\""
    );
}

#[test]
fn a_session_idle_in_a_transaction_is_terminated_and_its_locks_freed() {
    let mut e = engine();
    let idle = Statement::SetIdleInTransactionTimeout { timeout: ms(5000) };
    e.execute(A, idle, ms(0));
    e.execute(
        A,
        Statement::AdvisoryLock {
            key: 1,
            scope: Scope::Session,
        },
        ms(0),
    );
    e.execute(A, Statement::Begin, ms(10));
    e.execute(A, for_update(&[1], LockWait::Wait), ms(20));
    assert!(e
        .execute(B, for_update(&[1], LockWait::Wait), ms(30))
        .is_empty());
    // Idle outside a block is never cut; inside, the clock runs from the last statement.
    assert!(e.tick(ms(5019)).is_empty());
    let out = e.tick(ms(5020));
    let fatal = match &answer(&out, A).result {
        Err(err) => err.clone(),
        other => panic!("{other:?}"),
    };
    assert!(fatal.is_fatal());
    assert_eq!(
        fatal.to_string(),
        "25P03: terminating connection due to idle-in-transaction timeout"
    );
    assert_eq!(rows(&out, B), [row(1, "a", 0)]);
    assert!(e.advisory_held(A).is_empty());
    // A session idle outside a transaction block stays.
    e.execute(
        C,
        Statement::SetIdleInTransactionTimeout { timeout: ms(10) },
        ms(6000),
    );
    assert!(e.tick(ms(60_000)).iter().all(|(b, _)| *b != C));
}
