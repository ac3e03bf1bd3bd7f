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
    AcquireInvoked { algorithm: String },
    /// `acquire` returned a guard: from here on the client *believes* it holds the lock.
    Acquired {
        algorithm: String,
        key: String,
        lease: i64,
        token: i64,
    },
    /// `acquire` returned an error; the client does not hold the lock.
    AcquireFailed { algorithm: String, error: String },
    /// The client's session noticed its lease is gone (`reason`: `ttl` when a keepalive answer
    /// said TTL <= 0 or lease not found, `deadline` when its local deadline passed). If it held
    /// the lock with this lease, its belief ends here.
    BelievedLost { lease: i64, reason: String },
    /// `release` was called: the belief ends here.
    ReleaseInvoked { token: i64 },
    /// `release` returned.
    Released { token: i64, ok: bool },
    /// The resource served a read.
    ResourceRead {
        client: String,
        token: i64,
        value: u64,
        accepted: bool,
        highest: i64,
    },
    /// The resource got a write of `value` (the client's read + 1) with `token`.
    ResourceWrite {
        client: String,
        token: i64,
        value: u64,
        /// The counter before this write.
        previous: u64,
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
