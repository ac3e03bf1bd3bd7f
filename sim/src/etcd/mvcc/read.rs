//! Reads: revision checks, a key's version at a revision, ranges with etcd's limits, sorting
//! and counts, and txn compares (`compareKV`).

use std::cmp::Ordering;

use super::key_range::KeyRange;
use super::{header, Change, Mvcc, Path};
use crate::{
    Compare, CompareResult, CompareTarget, Error, EventType, KeyValue, RangeRequest, RangeResponse,
    RequestOp, Result, Revision, SortOrder, SortTarget, TxnRequest,
};

impl Mvcc {
    /// etcd's revision checks for a read: future first, then compacted. 0 means "current".
    pub(super) fn check_read_revision(&self, rev: Revision) -> Result<()> {
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
    pub(super) fn latest(&self, key: &[u8], rev: Revision) -> Option<&Change> {
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
    pub(super) fn get(&self, key: &[u8], rev: Revision) -> Option<&KeyValue> {
        self.latest(key, rev)
            .filter(|c| c.kind == EventType::Put)
            .map(|c| &c.kv)
    }

    /// The keys of `range` that existed at `rev`, in key order.
    pub(super) fn kvs_at<'s>(
        &'s self,
        range: &KeyRange,
        rev: Revision,
    ) -> impl Iterator<Item = &'s KeyValue> {
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
    pub(super) fn prev_version(&self, key: &[u8], rev: Revision) -> Option<KeyValue> {
        if rev < self.compacted {
            return None;
        }
        self.get(key, rev).cloned()
    }

    /// `applierV3backend.Range` on an already checked request, read at `req.revision` or
    /// `cur_rev`. `header.revision = cur_rev`.
    pub(super) fn range_at(&self, req: &RangeRequest, cur_rev: Revision) -> RangeResponse {
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
    pub(super) fn compare_holds(&self, c: &Compare, rev: Revision) -> bool {
        let range = KeyRange::new(&c.key, &c.range_end);
        let mut kvs = self.kvs_at(&range, rev).peekable();
        if kvs.peek().is_none() {
            return !matches!(c.target, CompareTarget::Value(_))
                && compare_kv(c, &KeyValue::default());
        }
        kvs.all(|kv| compare_kv(c, kv))
    }

    pub(super) fn path(&self, req: &TxnRequest, rev: Revision) -> Path {
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
}

/// etcd's `compareKV`.
pub(super) fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
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
pub(super) fn sort(kvs: &mut [KeyValue], order: SortOrder, target: SortTarget) {
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
