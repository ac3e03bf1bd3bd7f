//! Writes: one write txn per request (begin, apply, commit or roll back), etcd's
//! `checkRequestPut` before a txn, puts and deletes with their lease bookkeeping, and the
//! branches a txn takes (`checkRequests`).

use std::collections::BTreeSet;

use super::key_range::KeyRange;
use super::{header, Change, Mvcc, Path, Rev, WriteTxn};
use crate::{
    DeleteRangeRequest, DeleteRangeResponse, Error, EventType, KeyValue, LeaseId, PutRequest,
    PutResponse, RequestOp, ResponseHeader, ResponseOp, Result, Revision, TxnRequest, TxnResponse,
    NO_LEASE,
};

impl Mvcc {
    /// etcd's `checkRequestPut`, against the state before the txn.
    pub(super) fn check_put_applies(
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

    pub(super) fn begin(&self) -> WriteTxn {
        WriteTxn {
            begin: self.current,
            changes: 0,
            touched: BTreeSet::new(),
        }
    }

    pub(super) fn commit(&mut self, txn: WriteTxn) {
        if txn.changes > 0 {
            self.current += 1;
        }
    }

    /// Commit on `Ok`, undo the txn's writes on `Err`.
    pub(super) fn finish<T>(&mut self, txn: WriteTxn, resp: Result<T>) -> Result<T> {
        match resp {
            Ok(_) => self.commit(txn),
            Err(_) => self.rollback(txn),
        }
        resp
    }

    /// Undo every change written at `txn.begin + 1`.
    pub(super) fn rollback(&mut self, txn: WriteTxn) {
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
    pub(super) fn detach(&mut self, key: &[u8], rev: Revision) {
        if let Some(lease) = self.get(key, rev).map(|kv| kv.lease) {
            self.detach_lease(key, lease);
        }
    }

    /// Remove `key` from `lease`'s keys (nothing for `NO_LEASE`).
    pub(super) fn detach_lease(&mut self, key: &[u8], lease: LeaseId) {
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
    pub(super) fn attach(&mut self, key: &[u8], rev: Revision) {
        let Some(lease) = self.get(key, rev).map(|kv| kv.lease) else {
            return;
        };
        if lease != NO_LEASE {
            self.leases.entry(lease).or_default().insert(key.to_vec());
        }
    }

    pub(super) fn push_change(&mut self, txn: &mut WriteTxn, kind: EventType, kv: KeyValue) {
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
    pub(super) fn write_put(
        &mut self,
        txn: &mut WriteTxn,
        key: &[u8],
        value: Vec<u8>,
        lease: LeaseId,
    ) {
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
    pub(super) fn write_delete(&mut self, txn: &mut WriteTxn, key: &[u8]) {
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
    pub(super) fn apply_put(&mut self, txn: &mut WriteTxn, p: &PutRequest) -> Result<PutResponse> {
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
    pub(super) fn apply_delete(
        &mut self,
        txn: &mut WriteTxn,
        d: &DeleteRangeRequest,
    ) -> DeleteRangeResponse {
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
    pub(super) fn apply_txn(
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
pub(super) fn visit_taken<'r>(
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
