//! `Mvcc`: etcd v3.4's multi-version key-value store, with the apply-time rules of
//! `etcdserver/apply.go` and the request checks of `v3rpc/key.go`.
//!
//! Pure synchronous code: the member applies committed Raft entries to it in log order, so every
//! replica computes the same revisions. Behaviour was pinned against a real etcd 3.4.23; the
//! tests that pin it say "measured on etcd 3.4.23".
//!
//! Headers: the store sets only `header.revision`; the member fills cluster, member and term,
//! as etcd's gRPC layer does for the outer response only.

mod key_range;
mod snapshot;
mod validate;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, DeleteRangeResponse, Error, Event,
    EventType, KeyValue, LeaseId, PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp,
    ResponseHeader, ResponseOp, Result, Revision, SortOrder, SortTarget, TxnRequest, TxnResponse,
    NO_LEASE,
};
use key_range::KeyRange;

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

    /// Local invariants of the store.
    ///
    /// # Panics
    /// When an invariant written on a field of [`Mvcc`] does not hold: a bug in this module.
    pub fn check_invariants(&self) {
        assert!(self.current >= 1, "revision {} < 1", self.current);
        assert!(
            0 <= self.compacted && self.compacted <= self.current,
            "compact revision {} outside 0..={}",
            self.compacted,
            self.current
        );
        for (rev, change) in &self.log {
            assert!(
                1 <= rev.main && rev.main <= self.current,
                "change at {rev:?} out of range"
            );
            assert!(rev.sub >= 0);
            assert_eq!(
                change.kv.mod_revision, rev.main,
                "mod_revision of change at {rev:?}"
            );
        }
        let mut indexed = 0;
        let mut leases: BTreeMap<LeaseId, BTreeSet<Vec<u8>>> = BTreeMap::new();
        for (key, revs) in &self.index {
            assert!(!revs.is_empty(), "empty index entry for {key:?}");
            assert!(
                revs.windows(2).all(|w| w[0] < w[1]),
                "positions of {key:?} not ascending"
            );
            assert!(
                revs.iter().filter(|r| r.main <= self.compacted).count() <= 1,
                "{key:?} keeps more than one version <= compact revision"
            );
            indexed += revs.len();
            // Walk the key's versions: a deletion ends a generation, the next put starts one.
            let mut prev: Option<&Change> = None;
            for rev in revs {
                let change = self
                    .log
                    .get(rev)
                    .expect("indexed change missing from the log");
                assert_eq!(
                    &change.kv.key, key,
                    "change at {rev:?} indexed under another key"
                );
                match change.kind {
                    EventType::Delete => {
                        assert!(
                            matches!(prev, Some(p) if p.kind == EventType::Put),
                            "deletion of {key:?} at {rev:?} without a version before it"
                        );
                        assert_eq!(
                            change.kv,
                            KeyValue {
                                key: key.clone(),
                                mod_revision: rev.main,
                                ..KeyValue::default()
                            }
                        );
                    }
                    EventType::Put => {
                        let kv = &change.kv;
                        assert!(
                            kv.create_revision <= kv.mod_revision,
                            "{kv:?}: create > mod"
                        );
                        assert!(kv.version >= 1, "{kv:?}: version < 1");
                        match prev {
                            Some(p) if p.kind == EventType::Put => {
                                assert_eq!(kv.create_revision, p.kv.create_revision, "{kv:?}");
                                assert_eq!(kv.version, p.kv.version + 1, "{kv:?}");
                            }
                            // Start of a generation, unless compaction cut off its beginning.
                            Some(_) => {
                                assert_eq!(kv.version, 1, "{kv:?}");
                                assert_eq!(kv.create_revision, kv.mod_revision, "{kv:?}");
                            }
                            None if rev.main > self.compacted => {
                                assert_eq!(kv.version, 1, "{kv:?}");
                                assert_eq!(kv.create_revision, kv.mod_revision, "{kv:?}");
                            }
                            None => {}
                        }
                    }
                }
                prev = Some(change);
            }
            if let Some(last) = prev {
                if last.kind == EventType::Put && last.kv.lease != NO_LEASE {
                    leases.entry(last.kv.lease).or_default().insert(key.clone());
                }
            }
        }
        assert_eq!(indexed, self.log.len(), "log entries not in the index");
        assert_eq!(
            leases, self.leases,
            "lease index disagrees with the current versions"
        );
    }

    // ---- reads ----

    /// etcd's revision checks for a read: future first, then compacted. 0 means "current".
    fn check_read_revision(&self, rev: Revision) -> Result<()> {
        if rev > self.current {
            return Err(Error::FutureRevision);
        }
        if rev > 0 && rev < self.compacted {
            return Err(Error::Compacted {
                compact_revision: self.compacted,
            });
        }
        Ok(())
    }

    /// The latest change of `key` at or before `rev`.
    fn latest(&self, key: &[u8], rev: Revision) -> Option<&Change> {
        let revs = self.index.get(key)?;
        // Nearly every lookup is of the current version: skip the search through a long
        // history (a binary search over thousands of revisions missed the cache every step).
        let n = match revs.last() {
            Some(last) if last.main <= rev => revs.len(),
            _ => revs.partition_point(|r| r.main <= rev),
        };
        n.checked_sub(1).map(|i| &self.log[&revs[i]])
    }

    /// `key` as of `rev`, if it existed then.
    fn get(&self, key: &[u8], rev: Revision) -> Option<&KeyValue> {
        self.latest(key, rev)
            .filter(|c| c.kind == EventType::Put)
            .map(|c| &c.kv)
    }

    /// The keys of `range` that existed at `rev`, in key order.
    fn kvs_at<'s>(&'s self, range: &KeyRange, rev: Revision) -> impl Iterator<Item = &'s KeyValue> {
        let entries = range
            .bounds()
            .map(|bounds| self.index.range::<[u8], _>(bounds));
        entries
            .into_iter()
            .flatten()
            .filter_map(move |(key, _)| self.get(key, rev))
    }

    /// The previous version for a watch event's `prev_kv`: etcd reads it with a range at
    /// `mod_revision - 1` and leaves it out when that read fails (compacted).
    fn prev_version(&self, key: &[u8], rev: Revision) -> Option<KeyValue> {
        if rev < self.compacted {
            return None;
        }
        self.get(key, rev).cloned()
    }

    /// `applierV3backend.Range` on an already checked request, read at `req.revision` or
    /// `cur_rev`. `header.revision = cur_rev`.
    fn range_at(&self, req: &RangeRequest, cur_rev: Revision) -> RangeResponse {
        let rev = if req.revision > 0 {
            req.revision
        } else {
            cur_rev
        };
        let range = KeyRange::new(&req.key, &req.range_end);
        let mut resp = RangeResponse {
            header: header(cur_rev),
            ..RangeResponse::default()
        };
        if req.count_only {
            resp.count = self.kvs_at(&range, rev).count() as i64;
            return resp;
        }
        let mut kvs: Vec<KeyValue> = self.kvs_at(&range, rev).cloned().collect();
        resp.count = kvs.len() as i64;
        kvs.retain(|kv| {
            (req.max_mod_revision == 0 || kv.mod_revision <= req.max_mod_revision)
                && (req.min_mod_revision == 0 || kv.mod_revision >= req.min_mod_revision)
                && (req.max_create_revision == 0 || kv.create_revision <= req.max_create_revision)
                && (req.min_create_revision == 0 || kv.create_revision >= req.min_create_revision)
        });
        sort(&mut kvs, req.sort_order, req.sort_target);
        if req.limit > 0 && kvs.len() > req.limit as usize {
            kvs.truncate(req.limit as usize);
            resp.more = true;
        }
        if req.keys_only {
            for kv in &mut kvs {
                kv.value.clear();
            }
        }
        resp.kvs = kvs;
        resp
    }

    /// etcd's `applyCompare`: every key in the range must satisfy it; no key compares as a
    /// zeroed `KeyValue`, except that a value compare on no key fails.
    fn compare_holds(&self, c: &Compare, rev: Revision) -> bool {
        let range = KeyRange::new(&c.key, &c.range_end);
        let mut kvs = self.kvs_at(&range, rev).peekable();
        if kvs.peek().is_none() {
            return !matches!(c.target, CompareTarget::Value(_))
                && compare_kv(c, &KeyValue::default());
        }
        kvs.all(|kv| compare_kv(c, kv))
    }

    fn path(&self, req: &TxnRequest, rev: Revision) -> Path {
        let succeeded = req.compare.iter().all(|c| self.compare_holds(c, rev));
        let ops = if succeeded {
            &req.success
        } else {
            &req.failure
        };
        let nested = ops
            .iter()
            .filter_map(|op| match op {
                RequestOp::Txn(t) => Some(self.path(t, rev)),
                _ => None,
            })
            .collect();
        Path { succeeded, nested }
    }

    /// etcd's `checkRequestPut`, against the state before the txn.
    fn check_put_applies(
        &self,
        p: &PutRequest,
        lease_exists: &dyn Fn(LeaseId) -> bool,
    ) -> Result<()> {
        if (p.ignore_value || p.ignore_lease) && self.get(&p.key, self.current).is_none() {
            return Err(Error::KeyNotFound);
        }
        if p.lease != NO_LEASE && !lease_exists(p.lease) {
            return Err(Error::LeaseNotFound);
        }
        Ok(())
    }

    // ---- writes ----

    fn begin(&self) -> WriteTxn {
        WriteTxn {
            begin: self.current,
            changes: 0,
            touched: BTreeSet::new(),
        }
    }

    fn commit(&mut self, txn: WriteTxn) {
        if txn.changes > 0 {
            self.current += 1;
        }
    }

    /// Commit on `Ok`, undo the txn's writes on `Err`.
    fn finish<T>(&mut self, txn: WriteTxn, resp: Result<T>) -> Result<T> {
        match resp {
            Ok(_) => self.commit(txn),
            Err(_) => self.rollback(txn),
        }
        resp
    }

    /// Undo every change written at `txn.begin + 1`.
    fn rollback(&mut self, txn: WriteTxn) {
        let rev = txn.begin + 1;
        for key in &txn.touched {
            self.detach(key, rev);
            let revs = self
                .index
                .get_mut(key.as_slice())
                .expect("touched key not indexed");
            while revs.last().is_some_and(|r| r.main == rev) {
                let r = revs.pop().expect("checked non-empty");
                self.log.remove(&r);
            }
            if revs.is_empty() {
                self.index.remove(key.as_slice());
            }
            self.attach(key, rev);
        }
    }

    /// Remove `key` from the lease index, according to its version at `rev`.
    fn detach(&mut self, key: &[u8], rev: Revision) {
        if let Some(lease) = self.get(key, rev).map(|kv| kv.lease) {
            self.detach_lease(key, lease);
        }
    }

    /// Remove `key` from `lease`'s keys (nothing for `NO_LEASE`).
    fn detach_lease(&mut self, key: &[u8], lease: LeaseId) {
        if lease == NO_LEASE {
            return;
        }
        let keys = self
            .leases
            .get_mut(&lease)
            .expect("leased key missing from lease index");
        keys.remove(key);
        if keys.is_empty() {
            self.leases.remove(&lease);
        }
    }

    /// Add `key` to the lease index, according to its version at `rev`.
    fn attach(&mut self, key: &[u8], rev: Revision) {
        let Some(lease) = self.get(key, rev).map(|kv| kv.lease) else {
            return;
        };
        if lease != NO_LEASE {
            self.leases.entry(lease).or_default().insert(key.to_vec());
        }
    }

    fn push_change(&mut self, txn: &mut WriteTxn, kind: EventType, kv: KeyValue) {
        let rev = Rev {
            main: txn.begin + 1,
            sub: txn.changes,
        };
        txn.changes += 1;
        if !txn.touched.contains(kv.key.as_slice()) {
            txn.touched.insert(kv.key.clone());
        }
        // The key is nearly always indexed already: copy it only for a new one.
        match self.index.get_mut(kv.key.as_slice()) {
            Some(revs) => revs.push(rev),
            None => {
                self.index.insert(kv.key.clone(), vec![rev]);
            }
        }
        self.log.insert(rev, Change { kind, kv });
    }

    /// etcd's `storeTxnWrite.put`: keeps create_revision and bumps version if the key exists,
    /// else starts a generation; moves the key from its old lease to `lease`.
    fn write_put(&mut self, txn: &mut WriteTxn, key: &[u8], value: Vec<u8>, lease: LeaseId) {
        let rev = txn.begin + 1;
        // One lookup of the current version serves the new one and the lease move.
        let (create_revision, version, old_lease) = match self.get(key, rev) {
            Some(kv) => (kv.create_revision, kv.version + 1, kv.lease),
            None => (rev, 1, NO_LEASE),
        };
        self.detach_lease(key, old_lease);
        let kv = KeyValue {
            key: key.to_vec(),
            create_revision,
            mod_revision: rev,
            version,
            value,
            lease,
        };
        self.push_change(txn, EventType::Put, kv);
        if lease != NO_LEASE {
            self.leases.entry(lease).or_default().insert(key.to_vec());
        }
    }

    /// etcd's `storeTxnWrite.delete` of one existing key: a tombstone, and the key leaves its
    /// lease.
    fn write_delete(&mut self, txn: &mut WriteTxn, key: &[u8]) {
        let rev = txn.begin + 1;
        self.detach(key, rev);
        let kv = KeyValue {
            key: key.to_vec(),
            mod_revision: rev,
            ..KeyValue::default()
        };
        self.push_change(txn, EventType::Delete, kv);
    }

    /// `applierV3backend.Put` inside a write txn. `Err(KeyNotFound)` only when an earlier op of the
    /// same txn deleted the key that `ignore_value`/`ignore_lease` needs (a from-key delete slips
    /// past etcd's duplicate check); etcd panics there, we refuse the txn.
    fn apply_put(&mut self, txn: &mut WriteTxn, p: &PutRequest) -> Result<PutResponse> {
        let needs_prev = p.ignore_value || p.ignore_lease || p.prev_kv;
        let prev = if needs_prev {
            self.get(&p.key, txn.read_rev()).cloned()
        } else {
            None
        };
        let (mut value, mut lease) = (p.value.clone(), p.lease);
        if p.ignore_value || p.ignore_lease {
            let Some(prev) = &prev else {
                return Err(Error::KeyNotFound);
            };
            if p.ignore_value {
                value = prev.value.clone();
            }
            if p.ignore_lease {
                lease = prev.lease;
            }
        }
        self.write_put(txn, &p.key, value, lease);
        Ok(PutResponse {
            header: header(txn.begin + 1),
            prev_kv: prev.filter(|_| p.prev_kv),
        })
    }

    /// `applierV3backend.DeleteRange` inside a write txn.
    fn apply_delete(&mut self, txn: &mut WriteTxn, d: &DeleteRangeRequest) -> DeleteRangeResponse {
        let range = KeyRange::new(&d.key, &d.range_end);
        let kvs: Vec<KeyValue> = self.kvs_at(&range, txn.read_rev()).cloned().collect();
        for kv in &kvs {
            self.write_delete(txn, &kv.key);
        }
        DeleteRangeResponse {
            header: txn.header(),
            deleted: kvs.len() as i64,
            prev_kvs: if d.prev_kv { kvs } else { Vec::new() },
        }
    }

    /// etcd's `applyTxn`: runs the branch `path` chose. The returned header is empty; only the
    /// outermost txn gets one, from the caller.
    fn apply_txn(
        &mut self,
        txn: &mut WriteTxn,
        req: &TxnRequest,
        path: &Path,
    ) -> Result<TxnResponse> {
        let ops = if path.succeeded {
            &req.success
        } else {
            &req.failure
        };
        let mut nested = path.nested.iter();
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            responses.push(match op {
                RequestOp::Range(r) => ResponseOp::Range(self.range_at(r, txn.read_rev())),
                RequestOp::Put(p) => ResponseOp::Put(self.apply_put(txn, p)?),
                RequestOp::DeleteRange(d) => ResponseOp::DeleteRange(self.apply_delete(txn, d)),
                RequestOp::Txn(t) => {
                    let path = nested.next().expect("path has one entry per nested txn");
                    ResponseOp::Txn(self.apply_txn(txn, t, path)?)
                }
            });
        }
        Ok(TxnResponse {
            header: ResponseHeader::default(),
            succeeded: path.succeeded,
            responses,
        })
    }
}

/// Calls `f` on every op of the branches `path` takes, depth first in request order, as etcd's
/// `checkRequests`.
fn visit_taken<'r>(
    req: &'r TxnRequest,
    path: &Path,
    f: &mut dyn FnMut(&'r RequestOp) -> Result<()>,
) -> Result<()> {
    let ops = if path.succeeded {
        &req.success
    } else {
        &req.failure
    };
    let mut nested = path.nested.iter();
    for op in ops {
        match op {
            RequestOp::Txn(t) => visit_taken(
                t,
                nested.next().expect("path has one entry per nested txn"),
                f,
            )?,
            op => f(op)?,
        }
    }
    Ok(())
}

/// etcd's `compareKV`.
fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    let ord = match &c.target {
        CompareTarget::Value(v) => kv.value.as_slice().cmp(v.as_slice()),
        CompareTarget::Create(rev) => kv.create_revision.cmp(rev),
        CompareTarget::Mod(rev) => kv.mod_revision.cmp(rev),
        CompareTarget::Version(v) => kv.version.cmp(v),
        CompareTarget::Lease(l) => kv.lease.cmp(l),
    };
    match c.result {
        CompareResult::Equal => ord == Ordering::Equal,
        CompareResult::NotEqual => ord != Ordering::Equal,
        CompareResult::Greater => ord == Ordering::Greater,
        CompareResult::Less => ord == Ordering::Less,
    }
}

/// etcd's range sort: `SortOrder::None` with a target other than `Key` sorts ascending; `None`
/// with `Key` keeps key order. Ties keep key order (a stable sort). etcd uses Go's unstable
/// `sort.Sort`, which agrees for up to 12 keys (insertion sort) and, as measured, for all-equal
/// targets; with more keys and mixed ties it may order ties differently.
fn sort(kvs: &mut [KeyValue], order: SortOrder, target: SortTarget) {
    let order = match (order, target) {
        (SortOrder::None, SortTarget::Key) => return,
        (SortOrder::None, _) => SortOrder::Ascend,
        (order, _) => order,
    };
    let by = |a: &KeyValue, b: &KeyValue| match target {
        SortTarget::Key => a.key.cmp(&b.key),
        SortTarget::Version => a.version.cmp(&b.version),
        SortTarget::Create => a.create_revision.cmp(&b.create_revision),
        SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
        SortTarget::Value => a.value.cmp(&b.value),
    };
    match order {
        SortOrder::Descend => kvs.sort_by(|a, b| by(b, a)),
        _ => kvs.sort_by(by),
    }
}
