//! Request checks that etcd runs before a request reaches Raft (`etcdserver/api/v3rpc/key.go`).
//!
//! They live next to the store, not in the member, so that `Mvcc` alone refuses what etcd
//! refuses; a member may also call them before proposing, as etcd's gRPC layer does.

use std::collections::BTreeSet;

use crate::{DeleteRangeRequest, Error, PutRequest, RangeRequest, RequestOp, Result, TxnRequest};

/// etcd's default `--max-txn-ops`.
pub(crate) const MAX_TXN_OPS: usize = 128;

/// `checkRangeRequest`.
pub(crate) fn check_range(r: &RangeRequest) -> Result<()> {
    if r.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    Ok(())
}

/// `checkPutRequest`.
pub(crate) fn check_put(r: &PutRequest) -> Result<()> {
    if r.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if r.ignore_value && !r.value.is_empty() {
        return Err(Error::ValueProvided);
    }
    if r.ignore_lease && r.lease != 0 {
        return Err(Error::LeaseProvided);
    }
    Ok(())
}

/// `checkDeleteRequest`.
pub(crate) fn check_delete(r: &DeleteRangeRequest) -> Result<()> {
    if r.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    Ok(())
}

/// etcd's `kvServer.Txn` checks: `checkTxnRequest`, then `checkIntervals` on each branch.
pub(crate) fn check_txn(r: &TxnRequest) -> Result<()> {
    check_txn_request(r, MAX_TXN_OPS)?;
    check_intervals(&r.success)?;
    check_intervals(&r.failure)?;
    Ok(())
}

/// `checkTxnRequest`: op counts and empty keys, recursively. A nested txn gets the budget left
/// after its parent's widest list, as in etcd.
fn check_txn_request(r: &TxnRequest, max_ops: usize) -> Result<()> {
    let opc = r.compare.len().max(r.success.len()).max(r.failure.len());
    if opc > max_ops {
        return Err(Error::TooManyOps);
    }
    if r.compare.iter().any(|c| c.key.is_empty()) {
        return Err(Error::EmptyKey);
    }
    for op in r.success.iter().chain(&r.failure) {
        match op {
            RequestOp::Range(q) => check_range(q)?,
            RequestOp::Put(p) => check_put(p)?,
            RequestOp::DeleteRange(d) => check_delete(d)?,
            RequestOp::Txn(t) => check_txn_request(t, max_ops - opc)?,
        }
    }
    Ok(())
}

/// A deleted interval as etcd's `adt` interval tree holds it: `[begin, end)`, a point delete
/// being `[key, key + "\0")`. Never empty-ended here: an empty `range_end` is a point.
struct Deleted {
    begin: Vec<u8>,
    end: Vec<u8>,
}

impl Deleted {
    /// `dels.Intersects(NewStringAffinePoint(k))`. Note: a from-key delete (`range_end == [0]`)
    /// is the interval `[key, "\0")`, which holds no key, so etcd lets a txn put a key that the
    /// same txn deletes with `--from-key` (measured on etcd 3.4.23).
    fn holds(&self, k: &[u8]) -> bool {
        self.begin.as_slice() <= k && k < self.end.as_slice()
    }
}

/// `checkIntervals`: a key written twice in one branch (put+put, put+delete, also across nested
/// txns) is `DuplicateKey`. Two deletes may overlap; a nested txn's then and else may put the
/// same key. Returns this level's puts and deletes for the parent's checks.
fn check_intervals(ops: &[RequestOp]) -> Result<(BTreeSet<Vec<u8>>, Vec<Deleted>)> {
    let mut dels: Vec<Deleted> = ops
        .iter()
        .filter_map(|op| match op {
            RequestOp::DeleteRange(d) => Some(if d.range_end.is_empty() {
                let mut end = d.key.clone();
                end.push(0);
                Deleted {
                    begin: d.key.clone(),
                    end,
                }
            } else {
                Deleted {
                    begin: d.key.clone(),
                    end: d.range_end.clone(),
                }
            }),
            _ => None,
        })
        .collect();
    let deleted = |dels: &[Deleted], k: &[u8]| dels.iter().any(|d| d.holds(k));

    let mut puts = BTreeSet::new();
    for op in ops {
        let RequestOp::Txn(t) = op else { continue };
        let (puts_then, dels_then) = check_intervals(&t.success)?;
        let (puts_else, dels_else) = check_intervals(&t.failure)?;
        for k in &puts_then {
            if puts.contains(k) || deleted(&dels, k) {
                return Err(Error::DuplicateKey);
            }
            puts.insert(k.clone());
        }
        for k in puts_else {
            // Then and else exclude each other, so a key put by both is fine.
            if (puts.contains(&k) && !puts_then.contains(&k)) || deleted(&dels, &k) {
                return Err(Error::DuplicateKey);
            }
            puts.insert(k);
        }
        dels.extend(dels_then);
        dels.extend(dels_else);
    }

    for op in ops {
        let RequestOp::Put(p) = op else { continue };
        if puts.contains(&p.key) || deleted(&dels, &p.key) {
            return Err(Error::DuplicateKey);
        }
        puts.insert(p.key.clone());
    }
    Ok((puts, dels))
}
