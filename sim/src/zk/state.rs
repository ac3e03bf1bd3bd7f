//! `ZkState`: what a ZooKeeper ensemble replicates through its log — the znode tree, the open
//! sessions with their negotiated timeouts, and the zxid numbering — and `Txn`, one log entry's
//! change to it.
//!
//! zxid: ZooKeeper's is `epoch << 32 | counter`, the counter restarting in each epoch. On Raft the
//! epoch is the entry's term and the counter its place among the term's entries: the new
//! leader's empty entry is counter 0 (ZooKeeper's NEWLEADER zxid), its first transaction 1. Every
//! server computes the same zxid for the same entry, from the replicated `epoch_start`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::zk::tree::{CreateMode, Data, DataTree, MultiOp, SessionId, WatchEvent, ZkError, Zxid};
use crate::zk::wire::Answer;

/// One replicated change: what a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Txn {
    /// A new session (ZooKeeper's `createSession`), its timeout already negotiated.
    CreateSession { session: SessionId, timeout_ms: u32 },
    /// A session closed by its client or expired by the leader (`closeSession`).
    CloseSession { session: SessionId },
    /// A client's write, with the proposing server's wall time (ctime/mtime).
    Write {
        session: SessionId,
        op: WriteOp,
        time: i64,
    },
}

/// The writes a client can ask for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteOp {
    /// `create(path, data, mode)`.
    Create {
        /// Path, or the prefix of a sequential name.
        path: String,
        /// The data (null: `None`).
        data: Data,
        /// The create mode.
        mode: CreateMode,
    },
    /// `delete(path, version)`; -1 for any version.
    Delete {
        /// The node.
        path: String,
        /// Expected version.
        version: i32,
    },
    /// `setData(path, data, version)`; -1 for any version.
    SetData {
        /// The node.
        path: String,
        /// New data (null: `None`).
        data: Data,
        /// Expected version.
        version: i32,
    },
    /// `multi(ops)`: all or nothing.
    Multi(Vec<MultiOp>),
}

/// What applying one entry did.
pub(crate) struct Applied {
    pub(crate) zxid: Zxid,
    /// The answer for the client that proposed it (sessions answer `Answer::Done`).
    pub(crate) result: Result<Answer, ZkError>,
    pub(crate) events: Vec<WatchEvent>,
}

/// The replicated state (see the module docs).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ZkState {
    pub(crate) tree: DataTree,
    /// Open sessions and their timeouts in ms.
    pub(crate) sessions: BTreeMap<SessionId, u32>,
    /// The term of the last applied entry and the index its term began at.
    epoch: u64,
    epoch_start: u64,
    /// The zxid of the last applied entry.
    pub(crate) last_zxid: Zxid,
}

impl ZkState {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        bincode::serialize(self).expect("the state serializes")
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
        bincode::deserialize(bytes).expect("a snapshot this code wrote")
    }

    /// Note an entry of `term` at `index` (every entry, empty ones too): its zxid.
    pub(crate) fn advance(&mut self, term: u64, index: u64) -> Zxid {
        if term != self.epoch {
            self.epoch = term;
            self.epoch_start = index;
        }
        let zxid = ((term as i64) << 32) | (index - self.epoch_start) as i64;
        self.last_zxid = zxid;
        zxid
    }

    /// Apply `txn` at `zxid`.
    pub(crate) fn apply(&mut self, txn: &Txn, zxid: Zxid) -> Applied {
        let (result, events) = match txn {
            Txn::CreateSession {
                session,
                timeout_ms,
            } => {
                self.sessions.insert(*session, *timeout_ms);
                (Ok(Answer::Done), Vec::new())
            }
            Txn::CloseSession { session } => {
                self.sessions.remove(session);
                (Ok(Answer::Done), self.tree.close_session(*session, zxid))
            }
            Txn::Write { session, op, time } => {
                if !self.sessions.contains_key(session) {
                    // The session expired between the request and its commit: ZooKeeper's
                    // PrepRequestProcessor refuses it the same way.
                    (Err(ZkError::SessionExpired), Vec::new())
                } else {
                    self.write(op, *session, zxid, *time)
                }
            }
        };
        Applied {
            zxid,
            result,
            events,
        }
    }

    fn write(
        &mut self,
        op: &WriteOp,
        session: SessionId,
        zxid: Zxid,
        time: i64,
    ) -> (Result<Answer, ZkError>, Vec<WatchEvent>) {
        let tree = &mut self.tree;
        let done = match op {
            WriteOp::Create { path, data, mode } => tree
                .create(path, data.clone(), *mode, session, zxid, time)
                .map(|(actual, events)| {
                    let stat = tree.exists(&actual).ok().flatten().unwrap_or_default();
                    (Answer::Created { path: actual, stat }, events)
                }),
            WriteOp::Delete { path, version } => tree
                .delete(path, *version, zxid)
                .map(|events| (Answer::Done, events)),
            WriteOp::SetData {
                path,
                data,
                version,
            } => tree
                .set_data(path, data.clone(), *version, zxid, time)
                .map(|(stat, events)| (Answer::Stat(stat), events)),
            WriteOp::Multi(ops) => match tree.multi(ops, session, zxid, time) {
                Ok((results, events)) => Ok((Answer::Multi(Ok(results)), events)),
                // A failed multi is still a transaction (an error txn) that takes a zxid;
                // its answer names the failing op.
                Err((index, error)) => Ok((
                    Answer::Multi(Err(MultiFailure { index, error })),
                    Vec::new(),
                )),
            },
        };
        match done {
            Ok((answer, events)) => (Ok(answer), events),
            Err(e) => (Err(e), Vec::new()),
        }
    }
}

/// Why a `multi` failed: the first failing operation and its error (the others did nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiFailure {
    /// Index of the failing op.
    pub index: usize,
    /// Its error.
    pub error: ZkError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxids_count_within_a_term_from_its_first_entry() {
        let mut s = ZkState::default();
        assert_eq!(s.advance(1, 1), 1 << 32);
        assert_eq!(s.advance(1, 2), (1 << 32) | 1);
        assert_eq!(s.advance(3, 3), 3 << 32);
        assert_eq!(s.advance(3, 4), (3 << 32) | 1);
    }

    #[test]
    fn a_write_of_a_closed_session_is_refused_and_its_ephemerals_go() {
        let mut s = ZkState::default();
        s.apply(
            &Txn::CreateSession {
                session: 7,
                timeout_ms: 4000,
            },
            1,
        );
        let create = Txn::Write {
            session: 7,
            op: WriteOp::Create {
                path: "/e".into(),
                data: None,
                mode: CreateMode::Ephemeral,
            },
            time: 0,
        };
        assert!(s.apply(&create, 2).result.is_ok());
        let closed = s.apply(&Txn::CloseSession { session: 7 }, 3);
        assert_eq!(closed.events[0], WatchEvent::NodeDeleted("/e".into()));
        assert_eq!(
            s.apply(&create, 4).result.unwrap_err(),
            ZkError::SessionExpired
        );
    }
}
