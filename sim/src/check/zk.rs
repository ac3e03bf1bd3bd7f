//! ZooKeeper's consistency, checked from a history without a search: ZooKeeper numbers its
//! writes, and every answer carries the zxid of the node's last write (`Stat.mzxid`), so what
//! each read saw is known exactly.
//!
//! ZooKeeper promises (its guarantees page): writes are linearizable; a session sees its own
//! writes and never goes back in time (sequential consistency per session); a read after
//! `sync` is up to date with every write completed before the `sync` began. A read without
//! `sync` may be stale — that is allowed, and reported as a [`ZkStaleRead`] for the stories.
//!
//! Per path, from the operations of the history:
//! 1. **write order**: a write completed before another began has the smaller zxid;
//! 2. **session order**: in one session (process), the zxid a read saw is never below one the
//!    session saw or wrote on that path before;
//! 3. **sync'd reads**: a read right after a completed `sync` saw at least every write completed
//!    before the `sync` was invoked;
//! 4. **local reads** (no `sync`): the same condition, reported but not a violation.
//!
//! A write whose answer never came is left out (its zxid is unknown); so is a failed one.

use std::collections::BTreeMap;

use crate::op::{Request, Response};
use crate::world::history::{Operation, Outcome};
use crate::zk::{Answer, WriteOp, ZkRequest, Zxid};

/// One broken promise or one stale local read: who, where, what was seen, what was missed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkFinding {
    /// The operation that saw too little (a read, or the later write).
    pub process: String,
    /// The node.
    pub path: String,
    /// When it was invoked (ms).
    pub invoke_ms: u64,
    /// The zxid it saw (a read) or got (a write).
    pub saw: Zxid,
    /// The zxid it should have seen at least: a write completed before it began (or before its
    /// `sync`), or one its own session had seen.
    pub missed: Zxid,
    /// The server that answered, when recorded.
    pub node: Option<String>,
}

/// What [`check`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZkCheck {
    /// Writes whose zxids contradict their real-time order (linearizability of writes).
    pub write_order: Vec<ZkFinding>,
    /// Reads that went back in time within their session.
    pub session_order: Vec<ZkFinding>,
    /// Reads after a `sync` that missed a write completed before the `sync`.
    pub stale_synced: Vec<ZkFinding>,
    /// Reads without `sync` that missed a write completed before they began: allowed by
    /// ZooKeeper (a lagging server answers from its own tree), reported for the stories.
    pub stale_local: Vec<ZkStaleRead>,
}

/// A stale read without `sync` (ZooKeeper allows it).
pub type ZkStaleRead = ZkFinding;

impl ZkCheck {
    /// Whether every promise ZooKeeper makes held (stale local reads are allowed).
    pub fn holds(&self) -> bool {
        self.write_order.is_empty() && self.session_order.is_empty() && self.stale_synced.is_empty()
    }
}

/// A completed write on a path, and its zxid.
struct Write {
    return_ms: u64,
    zxid: Zxid,
}

/// What an operation tells about a path: the zxid it wrote or saw.
fn observed(op: &Operation) -> Option<(String, Zxid, bool)> {
    let Request::Zk(request) = &op.request else {
        return None;
    };
    let Outcome::Ok(Response::Zk(answer)) = &op.outcome else {
        return None;
    };
    match (request, answer) {
        (ZkRequest::Write(WriteOp::SetData { path, .. }), Answer::Stat(stat)) => {
            Some((path.clone(), stat.mzxid, true))
        }
        (ZkRequest::Write(WriteOp::Create { .. }), Answer::Created { path, stat }) => {
            Some((path.clone(), stat.mzxid, true))
        }
        (ZkRequest::GetData { path, .. }, Answer::Data { stat, .. }) => {
            Some((path.clone(), stat.mzxid, false))
        }
        (ZkRequest::Exists { path, .. }, Answer::Exists(Some(stat))) => {
            Some((path.clone(), stat.mzxid, false))
        }
        _ => None,
    }
}

/// Check the ZooKeeper operations of `ops` (see the module docs).
pub fn check(ops: &[Operation]) -> ZkCheck {
    let mut writes: BTreeMap<String, Vec<Write>> = BTreeMap::new();
    for op in ops {
        if let (Some((path, zxid, true)), Some(return_ms)) = (observed(op), op.return_ms) {
            writes
                .entry(path)
                .or_default()
                .push(Write { return_ms, zxid });
        }
    }
    let mut found = ZkCheck::default();
    let finding = |op: &Operation, path: &str, saw, missed| ZkFinding {
        process: op.process.clone(),
        path: path.to_string(),
        invoke_ms: op.invoke_ms,
        saw,
        missed,
        node: op.node.clone(),
    };
    // 1. Writes: a write completed before another began has the smaller zxid.
    for op in ops {
        let Some((path, zxid, true)) = observed(op) else {
            continue;
        };
        if let Some(before) = writes[&path]
            .iter()
            .filter(|w| w.return_ms < op.invoke_ms && w.zxid > zxid)
            .map(|w| w.zxid)
            .max()
        {
            found.write_order.push(finding(op, &path, zxid, before));
        }
    }
    // 2–4, in each session's order.
    let mut seen: BTreeMap<(String, String), Zxid> = BTreeMap::new();
    // The invoke time of a process's completed `sync` that its next read follows.
    let mut synced_at: BTreeMap<String, u64> = BTreeMap::new();
    let mut ordered: Vec<&Operation> = ops.iter().collect();
    ordered.sort_by_key(|op| (op.invoke_ms, op.index));
    for op in ordered {
        if let Request::Zk(ZkRequest::Sync { .. }) = &op.request {
            if matches!(op.outcome, Outcome::Ok(_)) {
                synced_at.insert(op.process.clone(), op.invoke_ms);
            }
            continue;
        }
        let sync = synced_at.remove(&op.process);
        let Some((path, zxid, is_write)) = observed(op) else {
            continue;
        };
        let key = (op.process.clone(), path.clone());
        let before = seen.get(&key).copied().unwrap_or(Zxid::MIN);
        if !is_write && zxid < before {
            found.session_order.push(finding(op, &path, zxid, before));
        }
        seen.insert(key, before.max(zxid));
        if is_write {
            continue;
        }
        let since = sync.unwrap_or(op.invoke_ms);
        let missed = writes
            .get(&path)
            .into_iter()
            .flatten()
            .filter(|w| w.return_ms < since && w.zxid > zxid)
            .map(|w| w.zxid)
            .max();
        if let Some(missed) = missed {
            let f = finding(op, &path, zxid, missed);
            if sync.is_some() {
                found.stale_synced.push(f);
            } else {
                found.stale_local.push(f);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zk::Stat;

    fn op(
        index: u64,
        process: &str,
        request: ZkRequest,
        answer: Option<Answer>,
        at: (u64, u64),
    ) -> Operation {
        Operation {
            index,
            process: process.into(),
            request: Request::Zk(request),
            invoke_ms: at.0,
            return_ms: Some(at.1),
            node: None,
            outcome: match answer {
                Some(a) => Outcome::Ok(Response::Zk(a)),
                None => Outcome::Ok(Response::Zk(Answer::Done)),
            },
        }
    }

    fn set(i: u64, p: &str, zxid: Zxid, at: (u64, u64)) -> Operation {
        let w = WriteOp::SetData {
            path: "/r".into(),
            data: Some(b"v".to_vec()),
            version: -1,
        };
        let stat = Stat {
            mzxid: zxid,
            ..Stat::default()
        };
        op(i, p, ZkRequest::Write(w), Some(Answer::Stat(stat)), at)
    }

    fn get(i: u64, p: &str, zxid: Zxid, at: (u64, u64)) -> Operation {
        let stat = Stat {
            mzxid: zxid,
            ..Stat::default()
        };
        let r = ZkRequest::GetData {
            path: "/r".into(),
            watch: false,
        };
        op(i, p, r, Some(Answer::Data { data: None, stat }), at)
    }

    fn sync(i: u64, p: &str, at: (u64, u64)) -> Operation {
        op(i, p, ZkRequest::Sync { path: "/r".into() }, None, at)
    }

    #[test]
    fn a_lagging_read_is_stale_and_allowed_but_not_after_sync() {
        let ops = vec![
            set(0, "w", 5, (0, 10)),
            set(1, "w", 6, (20, 30)),
            // Without sync, after the write of 6 completed, it saw 5: stale, allowed.
            get(2, "r", 5, (40, 50)),
            // After a sync that began after 6 completed, 5 is a broken promise.
            sync(3, "r", (60, 70)),
            get(4, "r", 5, (70, 80)),
        ];
        let c = check(&ops);
        assert_eq!(c.stale_local.len(), 1);
        assert_eq!((c.stale_local[0].saw, c.stale_local[0].missed), (5, 6));
        assert_eq!(c.stale_synced.len(), 1);
        assert!(!c.holds());
    }

    #[test]
    fn sessions_never_go_back_and_writes_follow_real_time() {
        let ops = vec![
            set(0, "w", 5, (0, 10)),
            get(1, "r", 6, (20, 30)),
            get(2, "r", 5, (40, 50)),
            // A write begun after another completed, with a smaller zxid.
            set(3, "w", 4, (60, 70)),
        ];
        let c = check(&ops);
        assert_eq!(c.session_order.len(), 1);
        assert_eq!(c.write_order.len(), 1);
        let fine = vec![set(0, "w", 5, (0, 10)), get(1, "r", 5, (20, 30))];
        assert!(check(&fine).holds() && check(&fine).stale_local.is_empty());
    }
}
