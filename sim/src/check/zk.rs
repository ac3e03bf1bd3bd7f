//! ZooKeeper's consistency, checked from a history without a search: ZooKeeper numbers its
//! writes, and every answer carries the zxid of the node's last write (`Stat.mzxid`), so what
//! each read saw is known exactly.
//!
//! ZooKeeper promises (its guarantees page): writes are linearizable; a session sees its own
//! writes and never goes back in time (sequential consistency per session); a read after
//! `sync` is up to date with every write completed before the `sync` began. A read without
//! `sync` may be stale — that is allowed, and reported as a [`ZkStaleRead`] for the stories.
//!
//! Per path, from the operations of the history, an operation's *position* being the zxid it
//! wrote or saw:
//! 1. **write order**: a write begun after another operation completed has the larger zxid
//!    (after a write, the write's zxid; after a read, the zxid the read saw);
//! 2. **session order**: in one session (process), the zxid a read saw is never below one the
//!    session saw or wrote on that path before;
//! 3. **sync'd reads**: a read right after a completed `sync` saw at least the zxid of every
//!    operation completed before the `sync` was invoked (a read's zxid was committed when it
//!    returned, so the `sync` must bring the server past it);
//! 4. **local reads** (no `sync`): the same condition from the read's own invocation, reported
//!    but not a violation;
//! 5. **no reads from the future**: a read never saw a write invoked after the read returned.
//!
//! Why these five and no search: once the writes' order is known (the zxids), a register's
//! history is linearizable exactly when no operation is placed before one that completed before
//! it began — 1, 3/4 and 5 are that rule for each kind of pair — so when nothing is found, the
//! history is linearizable, and when something is, the finding names the pair.
//! A write whose answer never came is placed by the zxid a read saw it with (its data names
//! it); one no read saw is left out, as is a failed one.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::stale_read::secs;
use crate::op::{Request, Response};
use crate::world::history::{Operation, Outcome};
use crate::zk::{Answer, WriteOp, ZkRequest, Zxid};

/// One broken promise or one stale local read: who, where, what was seen, what was missed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZkFinding {
    /// The operation's `index` in the history.
    pub op: u64,
    /// The operation that saw too little (a read, or the later write).
    pub process: String,
    /// Whether that operation is a write (else a read).
    pub write: bool,
    /// The node.
    pub path: String,
    /// When it was invoked (ms).
    pub invoke_ms: u64,
    /// When its answer came (ms), if it came.
    pub return_ms: Option<u64>,
    /// Whether a completed `sync` came right before it (a read).
    pub synced: bool,
    /// The data it read or wrote (UTF-8, lossily), when it carries data.
    pub value: Option<String>,
    /// The zxid it saw (a read) or got (a write).
    pub saw: Zxid,
    /// The zxid it should have been past: that of an operation completed before it began (or
    /// before its `sync`), or one its own session had seen; for a read from the future, the
    /// zxid it saw.
    pub missed: Zxid,
    /// Who did the operation that sets `missed`.
    pub missed_by: String,
    /// Whether that operation is a write (else a read that saw `missed`).
    pub missed_by_write: bool,
    /// When that operation completed (for a read from the future: when the write began).
    pub missed_at_ms: u64,
    /// The server that answered, when recorded.
    pub node: Option<String>,
}

/// What [`check`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ZkCheck {
    /// Writes whose zxids contradict their real-time order (linearizability of writes).
    pub write_order: Vec<ZkFinding>,
    /// Reads that went back in time within their session.
    pub session_order: Vec<ZkFinding>,
    /// Reads after a `sync` that missed an operation completed before the `sync`.
    pub stale_synced: Vec<ZkFinding>,
    /// Reads that saw a write begun after they returned.
    pub future_reads: Vec<ZkFinding>,
    /// Reads without `sync` that missed an operation completed before they began: allowed by
    /// ZooKeeper (a lagging server answers from its own tree), reported for the stories.
    pub stale_local: Vec<ZkStaleRead>,
}

/// A stale read without `sync` (ZooKeeper allows it).
pub type ZkStaleRead = ZkFinding;

impl ZkCheck {
    /// Whether every promise ZooKeeper makes held (stale local reads are allowed).
    pub fn holds(&self) -> bool {
        self.write_order.is_empty()
            && self.session_order.is_empty()
            && self.stale_synced.is_empty()
            && self.future_reads.is_empty()
    }

    /// Whether the history is linearizable: every promise held and no read was stale.
    pub fn linearizable(&self) -> bool {
        self.holds() && self.stale_local.is_empty()
    }

    /// The broken promises, each with its kind (`write_order`, …), in that order.
    pub fn broken(&self) -> impl Iterator<Item = (&'static str, &ZkFinding)> {
        let kinds = [
            ("write_order", &self.write_order),
            ("session_order", &self.session_order),
            ("stale_synced", &self.stale_synced),
            ("future_read", &self.future_reads),
        ];
        kinds
            .into_iter()
            .flat_map(|(kind, list)| list.iter().map(move |f| (kind, f)))
    }

    /// One paragraph for a terminal: what held, what was broken, how many stale reads.
    pub fn summary(&self) -> String {
        let stale = self.stale_local.len();
        if self.linearizable() {
            return "linearizable: every operation was placed after all that completed before it began".into();
        }
        if self.holds() {
            return format!(
                "ZooKeeper kept its promises (linearizable writes, sessions in order, sync'd reads up to date), but {stale} read(s) without sync were stale, which ZooKeeper allows"
            );
        }
        let mut s = format!("ZooKeeper broke {} promise(s):", self.broken().count());
        for (kind, f) in self.broken().take(3) {
            s.push_str(&format!("\n  {kind}: {f}"));
        }
        s.push_str(&format!("\nand {stale} read(s) without sync were stale"));
        s
    }
}

impl fmt::Display for ZkFinding {
    /// One sentence: `reader1's read without sync of /kv/register (invoked 12.340s, answered
    /// by z1) saw "writer1-17" (zxid 0x10000002a), but writer1 had completed a write at zxid
    /// 0x100000040 at 12.100s, before it began`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match (self.write, self.synced) {
            (true, _) => "write",
            (false, true) => "read after sync",
            (false, false) => "read without sync",
        };
        let node = self.node.as_deref().unwrap_or("an unknown server");
        write!(
            f,
            "{}'s {what} of {} (invoked {}, answered by {node}) ",
            self.process,
            self.path,
            secs(self.invoke_ms)
        )?;
        f.write_str(if self.write { "got " } else { "saw " })?;
        if let Some(v) = &self.value {
            write!(f, "{v:?} ")?;
        }
        if self.saw == self.missed {
            write!(
                f,
                "(zxid {:#x}), written by {} who began only at {}, after it returned",
                self.saw,
                self.missed_by,
                secs(self.missed_at_ms)
            )
        } else {
            let other = if self.missed_by_write {
                "a write at"
            } else {
                "a read that saw"
            };
            write!(
                f,
                "(zxid {:#x}), but {} had completed {other} zxid {:#x} at {}, before it began",
                self.saw,
                self.missed_by,
                self.missed,
                secs(self.missed_at_ms)
            )
        }
    }
}

/// What an operation tells about a path.
struct Seen<'a> {
    op: &'a Operation,
    path: String,
    /// The zxid it wrote or saw; for an unanswered write, the one a read saw it with.
    zxid: Option<Zxid>,
    is_write: bool,
    data: Option<Vec<u8>>,
}

/// The path, zxid, kind and data an operation tells of, if any.
fn observed(op: &Operation) -> Option<Seen<'_>> {
    let Request::Zk(request) = &op.request else {
        return None;
    };
    let seen = |path: &str, zxid, is_write, data: &Option<Vec<u8>>| {
        Some(Seen {
            op,
            path: path.to_string(),
            zxid,
            is_write,
            data: data.clone(),
        })
    };
    match (request, &op.outcome) {
        (
            ZkRequest::Write(WriteOp::SetData { path, data, .. }),
            Outcome::Ok(Response::Zk(Answer::Stat(stat))),
        ) => seen(path, Some(stat.mzxid), true, data),
        (
            ZkRequest::Write(WriteOp::Create { data, .. }),
            Outcome::Ok(Response::Zk(Answer::Created { path, stat })),
        ) => seen(path, Some(stat.mzxid), true, data),
        // Sequential creates get their name from the answer: an unanswered one names nothing.
        (ZkRequest::Write(WriteOp::Create { path, data, mode }), Outcome::Indeterminate)
            if !mode.is_sequential() =>
        {
            seen(path, None, true, data)
        }
        (ZkRequest::Write(WriteOp::SetData { path, data, .. }), Outcome::Indeterminate) => {
            seen(path, None, true, data)
        }
        (
            ZkRequest::GetData { path, .. },
            Outcome::Ok(Response::Zk(Answer::Data { data, stat })),
        ) => seen(path, Some(stat.mzxid), false, data),
        (ZkRequest::Exists { path, .. }, Outcome::Ok(Response::Zk(Answer::Exists(Some(stat))))) => {
            seen(path, Some(stat.mzxid), false, &None)
        }
        _ => None,
    }
}

/// The highest position among operations completed before a moment: completed operations by
/// return time, each with the highest zxid completed up to it and who completed that.
struct Completed<'a> {
    points: Vec<(u64, Zxid, &'a Seen<'a>)>,
}

impl<'a> Completed<'a> {
    fn new(seen: &'a [Seen<'a>]) -> Self {
        let mut done: Vec<&Seen> = seen
            .iter()
            .filter(|s| s.op.return_ms.is_some() && s.zxid.is_some())
            .collect();
        done.sort_by_key(|s| (s.op.return_ms, s.op.index));
        let mut points = Vec::with_capacity(done.len());
        let mut best: Option<&Seen> = None;
        for s in done {
            if best.is_none_or(|b| s.zxid > b.zxid) {
                best = Some(s);
            }
            let b = best.expect("set above");
            points.push((
                s.op.return_ms.unwrap_or_default(),
                b.zxid.unwrap_or_default(),
                b,
            ));
        }
        Completed { points }
    }

    /// The highest zxid among operations completed strictly before `at_ms`, and its operation.
    fn before(&self, at_ms: u64) -> Option<(Zxid, &'a Seen<'a>)> {
        let n = self.points.partition_point(|(ret, _, _)| *ret < at_ms);
        n.checked_sub(1)
            .map(|i| (self.points[i].1, self.points[i].2))
    }
}

/// Check the ZooKeeper operations of `ops` (see the module docs).
/// Takes the operations by reference (a run's history is checked where it lies, not copied).
pub fn check<'a>(ops: impl IntoIterator<Item = &'a Operation>) -> ZkCheck {
    let mut by_path: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
    // The invoke time of a process's completed `sync` that its next operation follows.
    let mut synced_at: BTreeMap<&str, u64> = BTreeMap::new();
    let mut after_sync: BTreeMap<u64, u64> = BTreeMap::new();
    let mut ordered: Vec<&Operation> = ops.into_iter().collect();
    ordered.sort_by_key(|op| (op.invoke_ms, op.index));
    for op in ordered {
        if let Request::Zk(ZkRequest::Sync { .. }) = &op.request {
            if matches!(op.outcome, Outcome::Ok(_)) {
                synced_at.insert(&op.process, op.invoke_ms);
            }
            continue;
        }
        if !matches!(op.request, Request::Zk(_)) {
            continue;
        }
        if let Some(at) = synced_at.remove(op.process.as_str()) {
            after_sync.insert(op.index, at);
        }
        if let Some(seen) = observed(op) {
            by_path.entry(seen.path.clone()).or_default().push(seen);
        }
    }
    let mut found = ZkCheck::default();
    for (path, mut seen) in by_path {
        reveal_unanswered_writes(&mut seen);
        check_path(&path, &seen, &after_sync, &mut found);
    }
    for list in [
        &mut found.write_order,
        &mut found.session_order,
        &mut found.stale_synced,
        &mut found.future_reads,
        &mut found.stale_local,
    ] {
        list.sort_by_key(|f| (f.invoke_ms, f.op));
    }
    found
}

/// An unanswered write that a read saw (the read's data is the write's, written by no other
/// write on the path) takes the zxid the read saw it with.
fn reveal_unanswered_writes(seen: &mut [Seen]) {
    let mut read_at: BTreeMap<Vec<u8>, Zxid> = BTreeMap::new();
    let mut writers: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for s in seen.iter() {
        if let Some(data) = &s.data {
            if s.is_write {
                *writers.entry(data.clone()).or_default() += 1;
            } else if let Some(z) = s.zxid {
                read_at.insert(data.clone(), z);
            }
        }
    }
    for s in seen.iter_mut().filter(|s| s.is_write && s.zxid.is_none()) {
        if let Some(data) = &s.data {
            if writers.get(data) == Some(&1) {
                s.zxid = read_at.get(data).copied();
            }
        }
    }
}

fn check_path(path: &str, seen: &[Seen], after_sync: &BTreeMap<u64, u64>, found: &mut ZkCheck) {
    let completed = Completed::new(seen);
    let finding = |s: &Seen, synced: bool, missed: Zxid, by: &Seen, at_ms: u64| ZkFinding {
        op: s.op.index,
        process: s.op.process.clone(),
        write: s.is_write,
        missed_by_write: by.is_write,
        path: path.to_string(),
        invoke_ms: s.op.invoke_ms,
        return_ms: s.op.return_ms,
        synced,
        value: s
            .data
            .as_ref()
            .map(|d| String::from_utf8_lossy(d).into_owned()),
        saw: s.zxid.unwrap_or_default(),
        missed,
        missed_by: by.op.process.clone(),
        missed_at_ms: at_ms,
        node: s.op.node.clone(),
    };
    let writes: BTreeMap<Zxid, &Seen> = seen
        .iter()
        .filter(|s| s.is_write)
        .filter_map(|s| s.zxid.map(|z| (z, s)))
        .collect();
    // A session's highest zxid on this path so far, in invoke order.
    let mut session: BTreeMap<&str, (Zxid, &Seen)> = BTreeMap::new();
    for s in seen {
        let Some(zxid) = s.zxid else { continue };
        let synced = after_sync.get(&s.op.index).copied();
        if s.is_write {
            // 1. Placed after everything completed before it began.
            if let Some((bound, by)) = completed.before(s.op.invoke_ms) {
                if bound > zxid {
                    let at = by.op.return_ms.unwrap_or_default();
                    found.write_order.push(finding(s, false, bound, by, at));
                }
            }
        } else {
            // 2. Never back in time within the session.
            let mut back_in_time = false;
            if let Some(&(before, by)) = session.get(s.op.process.as_str()) {
                if zxid < before {
                    back_in_time = true;
                    let at = by.op.return_ms.unwrap_or(by.op.invoke_ms);
                    found
                        .session_order
                        .push(finding(s, synced.is_some(), before, by, at));
                }
            }
            // 3–4. Up to date with everything completed before the sync, or the read, began.
            let since = synced.unwrap_or(s.op.invoke_ms);
            if let Some((bound, by)) = completed.before(since) {
                if bound > zxid {
                    let at = by.op.return_ms.unwrap_or_default();
                    let f = finding(s, synced.is_some(), bound, by, at);
                    if synced.is_some() {
                        found.stale_synced.push(f);
                    } else if !back_in_time {
                        found.stale_local.push(f);
                    }
                }
            }
            // 5. Not from the future.
            if let (Some(w), Some(ret)) = (writes.get(&zxid), s.op.return_ms) {
                if w.op.invoke_ms > ret {
                    let f = finding(s, synced.is_some(), zxid, w, w.op.invoke_ms);
                    found.future_reads.push(f);
                }
            }
        }
        let entry = session.entry(&s.op.process).or_insert((zxid, s));
        if zxid > entry.0 {
            *entry = (zxid, s);
        }
    }
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

    fn set_value(i: u64, p: &str, value: &str, zxid: Option<Zxid>, at: (u64, u64)) -> Operation {
        let w = WriteOp::SetData {
            path: "/r".into(),
            data: Some(value.as_bytes().to_vec()),
            version: -1,
        };
        let stat = Stat {
            mzxid: zxid.unwrap_or_default(),
            ..Stat::default()
        };
        let mut op = op(i, p, ZkRequest::Write(w), Some(Answer::Stat(stat)), at);
        if zxid.is_none() {
            op.return_ms = None;
            op.outcome = Outcome::Indeterminate;
        }
        op
    }

    fn get_value(i: u64, p: &str, value: &str, zxid: Zxid, at: (u64, u64)) -> Operation {
        let mut op = get(i, p, zxid, at);
        let stat = Stat {
            mzxid: zxid,
            ..Stat::default()
        };
        let data = Some(value.as_bytes().to_vec());
        op.outcome = Outcome::Ok(Response::Zk(Answer::Data { data, stat }));
        op
    }

    #[test]
    fn a_read_behind_another_sessions_completed_read_is_stale() {
        let ops = vec![
            set(0, "w", 5, (0, 10)),
            // Concurrent with the write of 6, r1 already sees it...
            set(1, "w", 6, (20, 60)),
            get(2, "r1", 6, (25, 30)),
            // ...so r2, begun after r1 returned, must see it too: stale, though no write of 6
            // had completed when r2 began.
            get(3, "r2", 5, (40, 50)),
        ];
        let c = check(&ops);
        assert!(c.holds(), "{c:?}");
        assert_eq!(c.stale_local.len(), 1);
        let f = &c.stale_local[0];
        assert_eq!((f.process.as_str(), f.saw, f.missed), ("r2", 5, 6));
        assert_eq!((f.missed_by.as_str(), f.missed_at_ms), ("r1", 30));
        assert!(!c.linearizable());
    }

    #[test]
    fn reads_from_the_future_and_writes_behind_reads_are_broken_promises() {
        let ops = vec![
            // Saw zxid 7, whose write began only after the read returned.
            get(0, "r", 7, (0, 10)),
            set(1, "w", 7, (20, 30)),
            // A write begun after a read returned 7 got a smaller zxid.
            set(2, "w2", 4, (40, 50)),
        ];
        let c = check(&ops);
        assert_eq!(c.future_reads.len(), 1, "{c:?}");
        assert_eq!(c.future_reads[0].missed_by, "w");
        assert_eq!(c.write_order.len(), 1, "{c:?}");
        assert_eq!(c.write_order[0].missed_by, "r");
        assert!(!c.holds());
        let text = c.summary();
        assert!(
            text.contains("future_read") && text.contains("write_order"),
            "{text}"
        );
    }

    #[test]
    fn an_unanswered_write_is_placed_where_a_read_saw_it() {
        let ops = vec![
            set_value(0, "w", "a", Some(5), (0, 10)),
            // No answer came, but a read saw "b" at zxid 9.
            set_value(1, "w", "b", None, (20, 0)),
            get_value(2, "r", "b", 9, (30, 40)),
            // A write begun after that read returned cannot be below 9.
            set_value(3, "w2", "c", Some(8), (50, 60)),
        ];
        let c = check(&ops);
        assert_eq!(c.write_order.len(), 1, "{c:?}");
        assert!(c.future_reads.is_empty());
        // Concurrent operations may land in either order: linearizable.
        let fine = vec![
            set_value(0, "w", "a", Some(5), (0, 10)),
            set_value(1, "w", "b", None, (20, 0)),
            get_value(2, "r1", "b", 9, (30, 40)),
            get_value(3, "r2", "a", 5, (35, 45)),
            sync(4, "r3", (50, 60)),
            get_value(5, "r3", "b", 9, (60, 70)),
        ];
        let c = check(&fine);
        assert!(c.linearizable(), "{c:?}");
        assert!(c.summary().starts_with("linearizable"));
    }
}
