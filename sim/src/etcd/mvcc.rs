//! `Mvcc`: etcd v3.4's multi-version key-value store, with the apply-time rules of
//! `etcdserver/apply.go` and the request checks of `v3rpc/key.go`.
//!
//! Pure synchronous code: the member applies committed Raft entries to it in log order, so every
//! replica computes the same revisions. Behaviour was pinned against a real etcd 3.4.23; the
//! tests that pin it say "measured on etcd 3.4.23".
//!
//! # Layout
//! * here: the types (`Rev`, `Change`, `Mvcc`, `WriteTxn`) and the public API.
//! * `read`: revision checks, ranges, sorting, compares. `write`: write txns, puts, deletes,
//!   lease bookkeeping, txn branches. `invariants`: `check_invariants`.
//! * `key_range`, `snapshot`, `validate`: key ranges, the store's snapshot, request checks.
//!
//! Headers: the store sets only `header.revision`; the member fills cluster, member and term,
//! as etcd's gRPC layer does for the outer response only.

mod invariants;
mod key_range;
mod read;
mod snapshot;
mod validate;
mod write;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{
    DeleteRangeRequest, DeleteRangeResponse, Error, Event, EventType, KeyValue, LeaseId,
    PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp, ResponseHeader, Result,
    Revision, TxnRequest, TxnResponse, NO_LEASE,
};
use key_range::KeyRange;
use write::visit_taken;

/// Position of one change: etcd's `revision{main, sub}`. `sub` orders the changes of one txn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Rev {
    main: Revision,
    sub: i64,
}

/// One stored change. For a delete (tombstone) `kv` holds only the key and `mod_revision`, which
/// is exactly the watch event etcd sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Change {
    kind: EventType,
    kv: KeyValue,
}

/// The MVCC store: every change not yet compacted away, plus the indexes that make range,
/// revoke and watch cheap.
///
/// Serialized (for Raft snapshots) as the revision counters and the change log only; the
/// indexes are rebuilt on load, so a snapshot cannot carry an index that disagrees with the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mvcc {
    /// Every stored change by position; the watch history.
    /// Invariant: each `main` is in `1..=current`; a put's `kv.mod_revision == main`.
    /// Checked: `check_invariants`.
    log: BTreeMap<Rev, Change>,
    /// Per key, the positions of its stored changes, ascending (etcd's `keyIndex`).
    /// Invariant: non-empty; exactly the log entries with this key; at most one position
    /// `<= compacted` and it is a put (compaction keeps only the latest version `<= compacted` and
    /// drops it when it is a deletion). Checked: `check_invariants`.
    index: BTreeMap<Vec<u8>, Vec<Rev>>,
    /// Lease -> keys whose current version carries that lease (etcd's lessor item map).
    /// Invariant: equals what the current versions say; no empty sets. Checked: `check_invariants`.
    leases: BTreeMap<LeaseId, BTreeSet<Vec<u8>>>,
    /// Current main revision. Invariant: `>= 1`, bumped by exactly one per write txn that changed
    /// something.
    current: Revision,
    /// Compaction revision, 0 if never compacted. Invariant: `0 <= compacted <= current`.
    compacted: Revision,
}

/// One write transaction in progress: etcd's `storeTxnWrite`. Its changes are written at
/// `begin + 1` with increasing `sub`; the store's `current` moves only at `commit`.
struct WriteTxn {
    begin: Revision,
    /// Changes written so far, which is also the next `sub`.
    changes: i64,
    /// Keys written, for `rollback`.
    touched: BTreeSet<Vec<u8>>,
}

impl WriteTxn {
    /// The revision reads inside the txn see: its own writes once it has made any (etcd's
    /// `storeTxnWrite.Range`).
    fn read_rev(&self) -> Revision {
        if self.changes > 0 {
            self.begin + 1
        } else {
            self.begin
        }
    }

    fn header(&self) -> ResponseHeader {
        header(self.read_rev())
    }
}

/// Which branch each txn of a request takes, decided before any write (etcd's
/// `compareToPath`: nested compares also see the state before the outer txn).
struct Path {
    succeeded: bool,
    /// One entry per nested txn in the taken branch, in order.
    nested: Vec<Path>,
}

fn header(revision: Revision) -> ResponseHeader {
    ResponseHeader {
        revision,
        ..ResponseHeader::default()
    }
}

impl Default for Mvcc {
    fn default() -> Self {
        Self::new()
    }
}

impl Mvcc {
    /// A fresh store, as a new etcd cluster: revision 1, never compacted.
    pub fn new() -> Self {
        Mvcc {
            log: BTreeMap::new(),
            index: BTreeMap::new(),
            leases: BTreeMap::new(),
            current: 1,
            compacted: 0,
        }
    }

    /// Current main revision.
    pub fn revision(&self) -> Revision {
        self.current
    }

    /// Revision of the last compaction; 0 if never compacted.
    pub fn compact_revision(&self) -> Revision {
        self.compacted
    }

    /// Read, at `req.revision` (0 = now). `header.revision` is the current store revision even
    /// for a read in the past, as etcd answers.
    ///
    /// `count` is the number of keys in the range *before* the min/max revision filters and
    /// `limit`; `more` is decided after the filters (etcd's `applierV3backend.Range`).
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        validate::check_range(req)?;
        self.check_read_revision(req.revision)?;
        Ok(self.range_at(req, self.current))
    }

    /// Put one key: one new revision. Checks, in etcd's order: the request, the lease, then that
    /// the key exists when `ignore_value`/`ignore_lease` ask for its current value or lease.
    pub fn put(
        &mut self,
        req: &PutRequest,
        lease_exists: &dyn Fn(LeaseId) -> bool,
    ) -> Result<PutResponse> {
        validate::check_put(req)?;
        if req.lease != NO_LEASE && !lease_exists(req.lease) {
            return Err(Error::LeaseNotFound);
        }
        let mut txn = self.begin();
        let resp = self.apply_put(&mut txn, req);
        self.finish(txn, resp)
    }

    /// Delete a key or range: one new revision if anything was deleted, none otherwise (then
    /// `header.revision` is the unchanged current revision).
    pub fn delete_range(&mut self, req: &DeleteRangeRequest) -> Result<DeleteRangeResponse> {
        validate::check_delete(req)?;
        let mut txn = self.begin();
        let resp = self.apply_delete(&mut txn, req);
        self.finish(txn, Ok(resp))
    }

    /// A transaction: compares, then the chosen branch, all at one new revision (none if nothing
    /// was written). Atomic: on `Err` the store is unchanged.
    ///
    /// Inner responses carry only `header.revision`, with etcd's values: a range sees the txn's
    /// own earlier writes (revision + 1 once the txn wrote, else the old revision), a put says
    /// revision + 1, a delete that found nothing before any write says the old revision, and a
    /// nested txn's header is empty (revision 0). All measured on etcd 3.4.23.
    pub fn txn(
        &mut self,
        req: &TxnRequest,
        lease_exists: &dyn Fn(LeaseId) -> bool,
    ) -> Result<TxnResponse> {
        validate::check_txn(req)?;
        let path = self.path(req, self.current);
        // etcd's `checkRequests`: every put of the taken branches first, then every range.
        visit_taken(req, &path, &mut |op| match op {
            RequestOp::Put(p) => self.check_put_applies(p, lease_exists),
            _ => Ok(()),
        })?;
        visit_taken(req, &path, &mut |op| match op {
            RequestOp::Range(r) => self.check_read_revision(r.revision),
            _ => Ok(()),
        })?;
        let mut txn = self.begin();
        let resp = self.apply_txn(&mut txn, req, &path).map(|mut resp| {
            resp.header = txn.header();
            resp
        });
        self.finish(txn, resp)
    }

    /// Compact: forget every version older than the latest one `<= rev` of each key (and that one
    /// too when it is a deletion). Reads at `rev` itself still work; a watch from `rev` misses the
    /// deletions made at `rev` (measured on etcd 3.4.23).
    pub fn compact(&mut self, rev: Revision) -> Result<()> {
        if rev <= self.compacted {
            return Err(Error::Compacted {
                compact_revision: self.compacted,
            });
        }
        if rev > self.current {
            return Err(Error::FutureRevision);
        }
        self.compacted = rev;
        let log = &mut self.log;
        self.index.retain(|_, revs| {
            // Keep the latest position `<= rev` (index `n - 1`) unless it is a deletion (etcd's
            // `keyIndex.compact`); drop everything before it.
            let n = revs.partition_point(|r| r.main <= rev);
            if n == 0 {
                return true;
            }
            let drop = match log[&revs[n - 1]].kind {
                EventType::Delete => n,
                EventType::Put => n - 1,
            };
            for r in revs.drain(..drop) {
                log.remove(&r);
            }
            !revs.is_empty()
        });
        Ok(())
    }

    /// Delete every key attached to `lease`, in one revision and in key order (etcd's
    /// `lessor.Revoke`). Returns the keys deleted, sorted; no new revision if there were none.
    pub fn revoke_lease(&mut self, lease: LeaseId) -> Vec<Vec<u8>> {
        let keys: Vec<Vec<u8>> = self.keys_with_lease(lease);
        let mut txn = self.begin();
        for key in &keys {
            self.write_delete(&mut txn, key);
        }
        self.commit(txn);
        keys
    }

    /// Keys currently attached to `lease`, sorted. (etcd's `LeaseTimeToLive --keys` lists them
    /// in Go map order; sorted is one of those orders and deterministic.)
    pub fn keys_with_lease(&self, lease: LeaseId) -> Vec<Vec<u8>> {
        self.leases
            .get(&lease)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Watch history: the stored events with main revision `>= start` whose key is in
    /// `key`/`range_end` (same meaning as in `Range`), in (main, sub) order, at most
    /// `max_revisions` whole revisions.
    ///
    /// `Err(Compacted)` when `start < compact_revision()`; a watch from exactly the compact
    /// revision is allowed (as etcd), but the deletions made at that revision are gone.
    /// `prev_kv`, when asked, is the key at `mod_revision - 1`, left out for a creation
    /// (version 1) and when that revision is compacted, as etcd's watch server does.
    /// The caller MUST resolve a watch "from now" (start 0) to `revision() + 1` first.
    pub fn events(
        &self,
        start: Revision,
        key: &[u8],
        range_end: &[u8],
        prev_kv: bool,
        max_revisions: usize,
    ) -> Result<Vec<Event>> {
        if start < self.compacted {
            return Err(Error::Compacted {
                compact_revision: self.compacted,
            });
        }
        let range = KeyRange::new(key, range_end);
        let mut events = Vec::new();
        let mut revisions = 0;
        let mut last_main = None;
        for (rev, change) in self.log.range(
            Rev {
                main: start.max(0),
                sub: 0,
            }..,
        ) {
            if !range.contains(&change.kv.key) {
                continue;
            }
            if last_main != Some(rev.main) {
                if revisions == max_revisions {
                    break;
                }
                revisions += 1;
                last_main = Some(rev.main);
            }
            let prev = if prev_kv && !(change.kind == EventType::Put && change.kv.version == 1) {
                self.prev_version(&change.kv.key, rev.main - 1)
            } else {
                None
            };
            events.push(Event {
                kind: change.kind,
                kv: change.kv.clone(),
                prev_kv: prev,
            });
        }
        Ok(events)
    }
}
