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
    /// Answered: the operation took effect (or read) with this response.
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
    /// What was asked, in the store's own vocabulary.
    pub request: Request,
    /// Simulated milliseconds since the start of the run when the client issued it.
    pub invoke_ms: u64,
    /// `None` while pending or when indeterminate.
    pub return_ms: Option<u64>,
    /// The server that answered (or was last tried), when the client records it (the AP
    /// store's clients do: which node a command reached is the story of a failover).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// What became of it; [`Outcome::Pending`] until the client records the answer.
    pub outcome: Outcome,
}

/// Cluster events worth seeing next to the operations: who led when, what crashed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClusterEvent {
    /// A member became Raft leader (and promoted its lessor: every lease restarts its full TTL).
    BecameLeader {
        /// The new leader.
        member: MemberId,
        /// The term it leads.
        term: u64,
    },
    /// A leader lost leadership (its lessor stops expiring leases).
    SteppedDown {
        /// The former leader.
        member: MemberId,
        /// Its Raft term when it stepped down (may already be a newer one).
        term: u64,
    },
    /// The leader revoked a lease whose TTL ran out on its clock; recorded when the revoke it
    /// proposed was applied, so the lease's keys are gone from then on.
    LeaseExpired {
        /// The leader that proposed the revoke.
        member: MemberId,
        /// The lease id.
        lease: i64,
    },
    /// A ZooKeeper server became leader (and restarted every session's expiry timer).
    ServerLeads {
        /// The server (`z1`).
        server: String,
        /// The Raft term (ZooKeeper's epoch).
        term: u64,
    },
    /// A ZooKeeper leader lost leadership.
    ServerStepsDown {
        /// The former leader.
        server: String,
        /// Its term then.
        term: u64,
    },
    /// The ZooKeeper leader expired a session: recorded when its `closeSession` was applied
    /// there, so the session's ephemerals are gone from then on.
    SessionExpired {
        /// The leader that expired it.
        server: String,
        /// The session id.
        session: i64,
    },
    /// A ZooKeeper client's connection state changed, as the client learned it
    /// (`SyncConnected`, `Disconnected`, `Expired`, `Closed`).
    ZkConnection {
        /// The client host.
        client: String,
        /// Its session id (0 before the first connect).
        session: i64,
        /// The server it is connected to, or was last.
        server: String,
        /// The new state.
        state: String,
    },
    /// A PostgreSQL server ended a backend: the client closed the connection, the kernel
    /// gave it up (keepalive probes or retransmissions unanswered, a reset), or a FATAL error
    /// (`idle_in_transaction_session_timeout`). Its transaction rolled back and its locks
    /// were released then.
    PgBackendEnded {
        /// The server (`p1`).
        server: String,
        /// The backend's pid.
        pid: u32,
        /// The client (`application_name`: its host).
        client: String,
        /// Why, in the server's words.
        reason: String,
    },
    /// A PostgreSQL standby was promoted: it takes writes on a new timeline from `lsn`.
    PgPromoted {
        /// The server.
        server: String,
        /// Its new timeline.
        timeline: u32,
        /// Where the timeline begins (the WAL it had received).
        lsn: u64,
    },
    /// A PostgreSQL primary stopped taking writes and restarted as a standby (of `upstream`;
    /// empty: none yet), ending every session.
    PgDemoted {
        /// The server.
        server: String,
        /// What it follows now.
        upstream: String,
    },
    /// A PostgreSQL server dropped the WAL the new timeline never had (`pg_rewind` as an old
    /// primary rejoins): those commits are lost.
    PgRewound {
        /// The server.
        server: String,
        /// Commit records dropped.
        lost_commits: u64,
        /// Its WAL's end before.
        from_lsn: u64,
        /// The new timeline's start, its end now.
        to_lsn: u64,
    },
    /// A PostgreSQL client's connection opened or ended, as the client learned it.
    PgConnection {
        /// The client host.
        client: String,
        /// The server.
        server: String,
        /// The backend's pid (0 if the connection never opened).
        pid: u32,
        /// `connected`, or why it ended (`closed`, libpq's error message).
        state: String,
    },
    /// A host crashed (see [`World::crash`](crate::World::crash)).
    Crash {
        /// The host.
        host: String,
    },
    /// A crashed host restarted, from its disk.
    Restart {
        /// The host.
        host: String,
    },
    /// Links between hosts of different groups were cut.
    Partition {
        /// The groups of host names; hosts in no group kept their links.
        groups: Vec<Vec<String>>,
    },
    /// The link from `from` to `to` was cut in that direction only.
    PartitionOneway {
        /// The host whose datagrams no longer reach `to`.
        from: String,
        /// The host that no longer hears `from`.
        to: String,
    },
    /// The links of one earlier partition repaired (its `for` ran out).
    Unpartition {
        /// The groups of the partition repaired.
        groups: Vec<Vec<String>>,
    },
    /// A one-way cut was repaired.
    RepairOneway {
        /// Sender side of the repaired cut.
        from: String,
        /// Receiver side of the repaired cut.
        to: String,
    },
    /// Every cut link was repaired.
    Heal,
    /// A host's process was paused: it runs nothing while its clock and the world run on.
    Pause {
        /// The host.
        host: String,
    },
    /// A paused host runs again.
    Resume {
        /// The host.
        host: String,
    },
    /// The host's clock now runs at `rate`, after jumping forward `offset_ms`.
    Skew {
        /// The host.
        host: String,
        /// Local seconds per simulated second from now on (1.0: not skewed).
        rate: f64,
        /// How far local time jumped forward, in milliseconds (0: no jump).
        offset_ms: u64,
    },
    /// Per-datagram loss/duplication on a link (`None`: everywhere).
    LinkRule {
        /// The two hosts of the link, in either direction; `None`: every link without its own rule.
        link: Option<Vec<String>>,
        /// Probability that a datagram is lost.
        loss: f64,
        /// Probability that a datagram that is not lost is delivered twice.
        duplicate: f64,
    },
    /// Message latency on a link (or everywhere) changed; a return to the configured default ends a
    /// latency fault.
    Latency {
        /// The two hosts of the link, in either direction; `None`: every link.
        link: Option<Vec<String>>,
        /// Least one-way latency, in milliseconds (never below one tick).
        min_ms: u64,
        /// Greatest one-way latency, in milliseconds.
        max_ms: u64,
    },
    /// Raft log compacted behind a snapshot on a member.
    Snapshot {
        /// The member that took the snapshot.
        member: MemberId,
        /// The applied index the snapshot was taken at.
        index: u64,
    },
    /// A member replaced its state with a snapshot from the leader (it had fallen behind).
    SnapshotInstalled {
        /// The member that installed it.
        member: MemberId,
        /// The last log index the snapshot covers.
        index: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
// Operations dominate a history, so boxing them would add an allocation per record for nothing.
/// One line of the history, in append order.
#[allow(clippy::large_enum_variant)]
pub enum Record {
    /// A client operation; completed in place when its answer comes.
    Op(Operation),
    /// A world or store event (see [`ClusterEvent`]).
    Event {
        /// Simulated milliseconds since the start of the run.
        at_ms: u64,
        /// What happened.
        event: ClusterEvent,
    },
    /// An event of a layer above the cluster (a lock acquired, a resource write), recorded in
    /// the same log so one digest covers the whole run. `sim` does not interpret it.
    App {
        /// Simulated milliseconds since the start of the run.
        at_ms: u64,
        /// The host (or layer) that recorded it.
        process: String,
        /// The event, as the layer above chose to write it.
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
    /// An empty history.
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

    /// Record a world or store event that happened at simulated time `at`.
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

    /// Every record so far, in append order (a copy).
    pub fn records(&self) -> Vec<Record> {
        self.records.borrow().clone()
    }

    /// Every operation so far, in invoke order (a copy), without the events.
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

    /// Number of records (operations and events).
    pub fn len(&self) -> usize {
        self.records.borrow().len()
    }

    /// Whether nothing has been recorded.
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
