//! The model's vocabulary: keys and values as interned ids, a key's state, and requests and
//! responses with keys resolved — what [`super::Kv`] steps over and what the conversion from a
//! history produces, kept apart so neither side depends on the other.

use crate::etcd::request::*;

/// Index of a key in the history's key universe (sorted by bytes, so index order is key order).
pub type KeyId = u32;
/// Index of an interned value.
pub type ValueId = u32;

/// A revision the model knows exactly, or only a lower bound of (written by an operation whose
/// answer never came).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rev {
    Known(Revision),
    AtLeast(Revision),
}

/// One key's state in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyState {
    pub value: ValueId,
    pub create: Rev,
    pub modified: Rev,
    pub version: i64,
    pub lease: LeaseId,
}

/// The model's state: the present keys of the partition, and a lower bound of the store's
/// revision at this point of the linearization.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvState {
    pub floor: Revision,
    /// Sorted by key; only present keys.
    pub keys: Vec<(KeyId, KeyState)>,
}

impl KvState {
    pub(super) fn get(&self, key: KeyId) -> Option<&KeyState> {
        self.keys
            .binary_search_by_key(&key, |(k, _)| *k)
            .ok()
            .map(|i| &self.keys[i].1)
    }

    pub(super) fn set(&mut self, key: KeyId, ks: Option<KeyState>) {
        match (self.keys.binary_search_by_key(&key, |(k, _)| *k), ks) {
            (Ok(i), Some(ks)) => self.keys[i].1 = ks,
            (Ok(i), None) => {
                self.keys.remove(i);
            }
            (Err(i), Some(ks)) => self.keys.insert(i, (key, ks)),
            (Err(_), None) => {}
        }
    }
}

/// A compare of a txn, over the keys of its range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvCompare {
    pub keys: Vec<KeyId>,
    pub result: CompareResult,
    pub target: CompareTarget,
}

/// A request as the model sees it: keys resolved to the history's key universe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvInput {
    Put {
        key: KeyId,
        value: ValueId,
        lease: LeaseId,
        ignore_value: bool,
        ignore_lease: bool,
    },
    /// Every key of the universe in the range.
    Delete { keys: Vec<KeyId> },
    Range {
        keys: Vec<KeyId>,
        limit: i64,
        keys_only: bool,
        count_only: bool,
        /// Not modelled (see the module docs): the response is not checked.
        unchecked: bool,
    },
    Txn {
        compare: Vec<KvCompare>,
        success: Vec<KvInput>,
        failure: Vec<KvInput>,
    },
    /// Delete every key in `keys` attached to `lease`.
    Revoke { lease: LeaseId, keys: Vec<KeyId> },
}

/// A key as a response showed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvObs {
    pub key: KeyId,
    pub create: Revision,
    pub modified: Revision,
    pub version: i64,
    pub value: ValueId,
    pub lease: LeaseId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOutput {
    Put {
        revision: Revision,
        prev: Option<KvObs>,
        /// Whether `prev_kv` was asked for (only then is `prev` meaningful).
        prev_asked: bool,
    },
    Delete {
        revision: Revision,
        deleted: i64,
        prev: Vec<KvObs>,
        prev_asked: bool,
    },
    Range {
        revision: Revision,
        kvs: Vec<KvObs>,
        count: i64,
        more: bool,
    },
    Txn {
        revision: Revision,
        succeeded: bool,
        responses: Vec<KvOutput>,
    },
    /// `None`: a revoke the history knows happened, without a response (a lease expiry).
    Revoke { revision: Option<Revision> },
    /// The response did not match the request's kind: no state can produce it.
    Mismatch(String),
}
