//! Keys and values interned over the whole history, and requests and responses resolved
//! against them into model inputs and outputs: a range's keys are the universe's keys in it, so
//! the universe must be complete before anything is converted.

use std::collections::{BTreeMap, BTreeSet};

use super::ops::*;
use crate::etcd::request::*;

fn in_range(k: &[u8], key: &[u8], range_end: &[u8]) -> bool {
    match range_end {
        [] => k == key,
        [0] => k >= key,
        end => key <= k && k < end,
    }
}

/// Keys and values seen anywhere in the history, interned.
#[derive(Default)]
pub(super) struct Universe {
    pub(super) keys: BTreeSet<Vec<u8>>,
    pub(super) values: BTreeMap<Vec<u8>, ValueId>,
    pub(super) value_names: Vec<Vec<u8>>,
}

impl Universe {
    pub(super) fn value(&mut self, v: &[u8]) -> ValueId {
        if let Some(&id) = self.values.get(v) {
            return id;
        }
        let id = self.value_names.len() as ValueId;
        self.values.insert(v.to_vec(), id);
        self.value_names.push(v.to_vec());
        id
    }

    fn add_kvs(&mut self, kvs: &[KeyValue]) {
        for kv in kvs {
            self.keys.insert(kv.key.clone());
        }
    }

    pub(super) fn collect_request(&mut self, req: &RequestOp) {
        match req {
            RequestOp::Put(p) => {
                self.keys.insert(p.key.clone());
            }
            RequestOp::DeleteRange(d) if d.range_end.is_empty() => {
                self.keys.insert(d.key.clone());
            }
            RequestOp::Range(r) if r.range_end.is_empty() => {
                self.keys.insert(r.key.clone());
            }
            RequestOp::Txn(t) => self.collect_txn(t),
            _ => {}
        }
    }

    fn collect_txn(&mut self, t: &TxnRequest) {
        for c in &t.compare {
            if c.range_end.is_empty() {
                self.keys.insert(c.key.clone());
            }
        }
        for op in t.success.iter().chain(&t.failure) {
            self.collect_request(op);
        }
    }

    pub(super) fn collect_response(&mut self, resp: &ResponseOp) {
        match resp {
            ResponseOp::Range(r) => self.add_kvs(&r.kvs),
            ResponseOp::Put(p) => self.add_kvs(p.prev_kv.as_slice()),
            ResponseOp::DeleteRange(d) => self.add_kvs(&d.prev_kvs),
            ResponseOp::Txn(t) => t.responses.iter().for_each(|r| self.collect_response(r)),
        }
    }
}

/// Builds model inputs and outputs with keys resolved against the finished universe.
pub(super) struct Converter<'a> {
    pub(super) keys: Vec<&'a [u8]>,
    pub(super) universe: &'a mut Universe,
    pub(super) unchecked_ranges: usize,
}

impl Converter<'_> {
    fn key_id(&self, key: &[u8]) -> KeyId {
        self.keys
            .binary_search(&key)
            .expect("every key was collected") as KeyId
    }

    fn range_keys(&self, key: &[u8], range_end: &[u8]) -> Vec<KeyId> {
        (0..self.keys.len() as KeyId)
            .filter(|&i| in_range(self.keys[i as usize], key, range_end))
            .collect()
    }

    fn obs(&mut self, kv: &KeyValue) -> KvObs {
        KvObs {
            key: self.key_id(&kv.key),
            create: kv.create_revision,
            modified: kv.mod_revision,
            version: kv.version,
            value: self.universe.value(&kv.value),
            lease: kv.lease,
        }
    }

    pub(super) fn input(&mut self, req: &RequestOp) -> KvInput {
        match req {
            RequestOp::Put(p) => KvInput::Put {
                key: self.key_id(&p.key),
                value: self.universe.value(&p.value),
                lease: p.lease,
                ignore_value: p.ignore_value,
                ignore_lease: p.ignore_lease,
            },
            RequestOp::DeleteRange(d) => KvInput::Delete {
                keys: self.range_keys(&d.key, &d.range_end),
            },
            RequestOp::Range(r) => {
                let default_sort = matches!(
                    (r.sort_order, r.sort_target),
                    (SortOrder::None, SortTarget::Key) | (SortOrder::Ascend, SortTarget::Key)
                );
                let unchecked = r.revision != 0
                    || r.min_mod_revision != 0
                    || r.max_mod_revision != 0
                    || r.min_create_revision != 0
                    || r.max_create_revision != 0
                    || !default_sort;
                if unchecked {
                    self.unchecked_ranges += 1;
                }
                KvInput::Range {
                    keys: self.range_keys(&r.key, &r.range_end),
                    limit: r.limit,
                    keys_only: r.keys_only,
                    count_only: r.count_only,
                    unchecked,
                }
            }
            RequestOp::Txn(t) => KvInput::Txn {
                compare: t
                    .compare
                    .iter()
                    .map(|c| KvCompare {
                        keys: self.range_keys(&c.key, &c.range_end),
                        result: c.result,
                        target: c.target.clone(),
                    })
                    .collect(),
                success: t.success.iter().map(|op| self.input(op)).collect(),
                failure: t.failure.iter().map(|op| self.input(op)).collect(),
            },
        }
    }

    pub(super) fn output(&mut self, req: &RequestOp, resp: &ResponseOp) -> KvOutput {
        match (req, resp) {
            (RequestOp::Put(p), ResponseOp::Put(r)) => KvOutput::Put {
                revision: r.header.revision,
                prev: r.prev_kv.as_ref().map(|kv| self.obs(kv)),
                prev_asked: p.prev_kv,
            },
            (RequestOp::DeleteRange(d), ResponseOp::DeleteRange(r)) => KvOutput::Delete {
                revision: r.header.revision,
                deleted: r.deleted,
                prev: r.prev_kvs.iter().map(|kv| self.obs(kv)).collect(),
                prev_asked: d.prev_kv,
            },
            (RequestOp::Range(_), ResponseOp::Range(r)) => KvOutput::Range {
                revision: r.header.revision,
                kvs: r.kvs.iter().map(|kv| self.obs(kv)).collect(),
                count: r.count,
                more: r.more,
            },
            (RequestOp::Txn(t), ResponseOp::Txn(r)) => {
                let ops = if r.succeeded { &t.success } else { &t.failure };
                KvOutput::Txn {
                    revision: r.header.revision,
                    succeeded: r.succeeded,
                    responses: ops
                        .iter()
                        .zip(&r.responses)
                        .map(|(q, a)| self.output(q, a))
                        .chain(
                            // A response count that differs from the branch's op count is a
                            // mismatch the model will refuse.
                            (r.responses.len() != ops.len())
                                .then(|| KvOutput::Mismatch("response count differs".into())),
                        )
                        .collect(),
                }
            }
            (_, other) => KvOutput::Mismatch(format!("unexpected response {other:?}")),
        }
    }
}
