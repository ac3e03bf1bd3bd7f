//! The history: every client operation (invoke, return, outcome) and every notable cluster event,
//! stamped with simulated time. Every checker reads it, and its digest is what determinism is
//! judged by.
//!
//! Why one shared append-only log rather than per-client logs merged later: the order in which
//! records are appended is itself deterministic under one seed, so the whole log — not just each
//! client's part — can be hashed and compared byte for byte between runs.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::etcd::request::MemberId;
use crate::op::{OpError, Request, Response};

/// What became of an operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Outcome {
    /// Still waiting for an answer (only while the simulation runs).
    Pending,
    Ok(Response),
    /// A definite failure: the operation did not take effect.
    Fail(OpError),
    /// No answer came: the operation may or may not have taken effect (Jepsen's `:info`).
    Indeterminate,
}

/// One client operation, of any store ([`Request`]); [`Operation::summary`] says it in the
/// store's own words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Position among operations, in invoke order.
    pub index: u64,
    /// The client host that issued it (`c1`, …).
    pub process: String,
    pub request: Request,
    pub invoke_ms: u64,
    /// `None` while pending or when indeterminate.
    pub return_ms: Option<u64>,
    /// The server that answered (or was last tried), when the client records it (the AP
    /// store's clients do: which node a command reached is the story of a failover).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub outcome: Outcome,
}

/// Cluster events worth seeing next to the operations: who led when, what crashed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClusterEvent {
    BecameLeader {
        member: MemberId,
        term: u64,
    },
    SteppedDown {
        member: MemberId,
        term: u64,
    },
    LeaseExpired {
        member: MemberId,
        lease: i64,
    },
    Crash {
        host: String,
    },
    Restart {
        host: String,
    },
    Partition {
        groups: Vec<Vec<String>>,
    },
    PartitionOneway {
        from: String,
        to: String,
    },
    /// The links of one earlier partition repaired (its `for` ran out).
    Unpartition {
        groups: Vec<Vec<String>>,
    },
    RepairOneway {
        from: String,
        to: String,
    },
    Heal,
    Pause {
        host: String,
    },
    Resume {
        host: String,
    },
    /// The host's clock now runs at `rate`, after jumping forward `offset_ms`.
    Skew {
        host: String,
        rate: f64,
        offset_ms: u64,
    },
    /// Per-datagram loss/duplication on a link (`None`: everywhere).
    LinkRule {
        link: Option<Vec<String>>,
        loss: f64,
        duplicate: f64,
    },
    Latency {
        link: Option<Vec<String>>,
        min_ms: u64,
        max_ms: u64,
    },
    /// Raft log compacted behind a snapshot on a member.
    Snapshot {
        member: MemberId,
        index: u64,
    },
    /// A member replaced its state with a snapshot from the leader (it had fallen behind).
    SnapshotInstalled {
        member: MemberId,
        index: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
// Operations dominate a history, so boxing them would add an allocation per record for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Record {
    Op(Operation),
    Event {
        at_ms: u64,
        event: ClusterEvent,
    },
    /// An event of a layer above the cluster (a lock acquired, a resource write), recorded in
    /// the same log so one digest covers the whole run. `sim` does not interpret it.
    App {
        at_ms: u64,
        process: String,
        event: serde_json::Value,
    },
}

/// Handle to an operation that has been invoked and not yet completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpHandle(usize);

/// Cheap-to-clone shared handle to the run's history.
///
/// Single-threaded by design (`Rc`): one simulation runs on one thread, and every host of it
/// appends here.
#[derive(Clone, Default)]
pub struct History {
    records: Rc<RefCell<Vec<Record>>>,
    ops: Rc<RefCell<u64>>,
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record the invocation of `request` by `process` at `at`.
    pub fn invoke(&self, process: &str, request: impl Into<Request>, at: Duration) -> OpHandle {
        let mut records = self.records.borrow_mut();
        let mut ops = self.ops.borrow_mut();
        records.push(Record::Op(Operation {
            index: *ops,
            process: process.to_string(),
            request: request.into(),
            invoke_ms: at.as_millis() as u64,
            return_ms: None,
            node: None,
            outcome: Outcome::Pending,
        }));
        *ops += 1;
        OpHandle(records.len() - 1)
    }

    /// Complete an invoked operation. An indeterminate outcome keeps `return_ms = None`.
    ///
    /// # Panics
    /// If `handle` was completed already: that is a harness bug.
    pub fn complete(&self, handle: OpHandle, outcome: Outcome, at: Duration) {
        self.complete_from(handle, None, outcome, at);
    }

    /// [`History::complete`], naming the server that answered (or was last tried).
    pub fn complete_from(
        &self,
        handle: OpHandle,
        node: Option<String>,
        outcome: Outcome,
        at: Duration,
    ) {
        let mut records = self.records.borrow_mut();
        let Record::Op(op) = &mut records[handle.0] else {
            panic!("history handle {handle:?} does not name an operation");
        };
        assert_eq!(op.outcome, Outcome::Pending, "operation completed twice");
        if outcome != Outcome::Indeterminate {
            op.return_ms = Some(at.as_millis() as u64);
        }
        op.node = node;
        op.outcome = outcome;
    }

    pub fn event(&self, event: ClusterEvent, at: Duration) {
        self.records.borrow_mut().push(Record::Event {
            at_ms: at.as_millis() as u64,
            event,
        });
    }

    /// Record an event of a layer above the cluster (see [`Record::App`]).
    pub fn app(&self, process: &str, event: serde_json::Value, at: Duration) {
        self.records.borrow_mut().push(Record::App {
            at_ms: at.as_millis() as u64,
            process: process.to_string(),
            event,
        });
    }

    /// Operations still pending become indeterminate: the run ended before they returned.
    pub fn close(&self) {
        for record in self.records.borrow_mut().iter_mut() {
            if let Record::Op(op) = record {
                if op.outcome == Outcome::Pending {
                    op.outcome = Outcome::Indeterminate;
                }
            }
        }
    }

    pub fn records(&self) -> Vec<Record> {
        self.records.borrow().clone()
    }

    pub fn operations(&self) -> Vec<Operation> {
        self.records
            .borrow()
            .iter()
            .filter_map(|r| match r {
                Record::Op(op) => Some(op.clone()),
                Record::Event { .. } | Record::App { .. } => None,
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.records.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The history as JSON lines, one record per line (the format documented in the README).
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for record in self.records.borrow().iter() {
            out.push_str(&serde_json::to_string(record).expect("history records serialize"));
            out.push('\n');
        }
        out
    }

    /// SHA-256 of [`History::to_jsonl`], hex. Same seed and scenario ⇒ same digest.
    pub fn digest(&self) -> String {
        let hash = Sha256::digest(self.to_jsonl().as_bytes());
        hash.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Simulated time since the start of the run. Must be called inside the simulation.
///
/// # Panics
/// Outside a turmoil simulation: sim code must never read the wall clock.
pub fn sim_now() -> Duration {
    turmoil::sim_elapsed().expect("sim_now() called outside the simulation")
}
