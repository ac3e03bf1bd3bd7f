//! `LockEvent`: what the lock layer writes into the run's [`sim::History`] as `App` records.
//!
//! Why the same history and not a log of our own: one append-only log gives one digest for the
//! whole run, and the checkers see lock beliefs, resource accesses and cluster faults (crash,
//! partition, pause) in a single order.

use serde::{Deserialize, Serialize};
use sim::{History, Record};

/// One lock-layer event. `process` (the record's field) is the client host for client events
/// and `resource` for what the resource saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "lock", rename_all = "snake_case")]
pub enum LockEvent {
    /// `acquire` was called.
    AcquireInvoked {
        /// The lock's name (`lease-txn`, `put`, `etcd-mutex`, …, or a custom lock's).
        algorithm: String,
    },
    /// `acquire` returned a guard: from here on the client *believes* it holds the lock.
    Acquired {
        /// The lock's name.
        algorithm: String,
        /// The key the guard holds (for `etcd-mutex`, the session's own key under the prefix).
        key: String,
        /// The lease (or grant id) behind the hold, 0 when the lock has none. A later
        /// `BelievedLost` with the same lease ends this belief.
        lease: i64,
        /// The fencing token the client sends to the resource; 0
        /// ([`crate::FencingToken::NONE`]) when the lock gives none.
        token: i64,
    },
    /// `acquire` returned an error; the client does not hold the lock.
    AcquireFailed {
        /// The lock's name.
        algorithm: String,
        /// The [`crate::Error`], displayed.
        error: String,
    },
    /// The client's session noticed its lease is gone (`reason`: `ttl` when a keepalive answer
    /// said TTL <= 0 or lease not found, `deadline` when its local deadline passed). If it held
    /// the lock with this lease, its belief ends here.
    BelievedLost {
        /// The lease the session kept alive.
        lease: i64,
        /// `ttl` or `deadline`, as above.
        reason: String,
    },
    /// A waiter's watch fired and it looks at the lock again (ZooKeeper locks): counts the
    /// wake-ups a release causes (one per waiter for the naive recipe, one for Curator's).
    WatchWoke {
        /// The notification: state, type and path.
        event: String,
    },
    /// `release` was called: the belief ends here.
    ReleaseInvoked {
        /// The token of the guard being released (0 when the lock gives none).
        token: i64,
    },
    /// `release` returned.
    Released {
        /// The token of the released guard.
        token: i64,
        /// Whether `release` returned `Ok`. `false`: the release may not have taken effect,
        /// and the lock service may keep the key until its lease (if any) expires.
        ok: bool,
    },
    /// The resource served a read.
    ResourceRead {
        /// The client host that sent the read.
        client: String,
        /// The fencing token the read carried.
        token: i64,
        /// The counter at the read (the client gets it only if `accepted`).
        value: u64,
        /// Whether the resource served it: `false` only with [`crate::Fencing::Accesses`] and
        /// a token below `highest`.
        accepted: bool,
        /// Highest token accepted *after* this read (an accepted read raises it with
        /// [`crate::Fencing::Accesses`]). Unlike a write's `highest`, which is before.
        highest: i64,
    },
    /// The resource got a write of `value` (the client's read + 1) with `token`.
    ResourceWrite {
        /// The client host that sent the write.
        client: String,
        /// The fencing token the write carried.
        token: i64,
        /// The value to write: the client's read + 1.
        value: u64,
        /// The counter before this write.
        previous: u64,
        /// Whether the resource applied it: with fencing on, `false` when `token` is below
        /// `highest`. A rejected write leaves the counter at `previous`.
        accepted: bool,
        /// Highest token accepted before this write.
        highest: i64,
    },
}

impl LockEvent {
    /// Append to the history as an `App` record of `process`, at the current simulated time.
    pub fn record(&self, history: &History, process: &str) {
        let value = serde_json::to_value(self).expect("lock events serialize");
        history.app(process, value, sim::sim_now());
    }

    /// Parse an `App` record back; `None` for any other record (or another layer's).
    pub fn from_record(record: &Record) -> Option<(u64, String, LockEvent)> {
        match record {
            Record::App {
                at_ms,
                process,
                event,
            } => serde_json::from_value(event.clone())
                .ok()
                .map(|e| (*at_ms, process.clone(), e)),
            _ => None,
        }
    }

    /// Build the `App` record for hand-written checker inputs.
    pub fn at(self, at_ms: u64, process: &str) -> Record {
        Record::App {
            at_ms,
            process: process.to_string(),
            event: serde_json::to_value(&self).expect("lock events serialize"),
        }
    }
}
