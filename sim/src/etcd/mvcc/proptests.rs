//! `Mvcc` against a model: a `BTreeMap` of the live keys, a revision counter, and the map as it
//! was after every revision.

use proptest::prelude::*;

use super::*;
use crate::{Compare, CompareResult, CompareTarget, ResponseOp};

const KEYS: u8 = 6;
/// Leases 1..=3 exist; 4 does not.
const MISSING_LEASE: LeaseId = 4;

fn key(k: u8) -> Vec<u8> {
    format!("k{k}").into_bytes()
}

fn lease_exists(id: LeaseId) -> bool {
    (1..MISSING_LEASE).contains(&id)
}

#[derive(Clone, Debug)]
enum WriteOp {
    Put { key: u8, value: u8, lease: LeaseId },
    Delete { key: u8 },
    Get { key: u8 },
}

#[derive(Clone, Debug)]
enum Op {
    Put {
        key: u8,
        value: u8,
        lease: LeaseId,
    },
    /// `[key, end)` when `end` is set, else just `key`.
    Delete {
        key: u8,
        end: Option<u8>,
    },
    Txn {
        key: u8,
        result: CompareResult,
        version: i64,
        success: Vec<WriteOp>,
        failure: Vec<WriteOp>,
    },
    Revoke {
        lease: LeaseId,
    },
    /// Compact at `revision() - back`.
    Compact {
        back: i64,
    },
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    prop_oneof![
        3 => (0..KEYS, any::<u8>(), 0..=MISSING_LEASE)
            .prop_map(|(key, value, lease)| WriteOp::Put { key, value, lease }),
        1 => (0..KEYS).prop_map(|key| WriteOp::Delete { key }),
        1 => (0..KEYS).prop_map(|key| WriteOp::Get { key }),
    ]
}

fn compare_result() -> impl Strategy<Value = CompareResult> {
    prop_oneof![
        Just(CompareResult::Equal),
        Just(CompareResult::NotEqual),
        Just(CompareResult::Greater),
        Just(CompareResult::Less),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    // Leases: mostly none, sometimes one of the three, rarely the missing one.
    let lease = prop_oneof![4 => Just(NO_LEASE), 3 => 1..MISSING_LEASE, 1 => Just(MISSING_LEASE)];
    prop_oneof![
        6 => (0..KEYS, any::<u8>(), lease).prop_map(|(key, value, lease)| Op::Put { key, value, lease }),
        2 => (0..KEYS, proptest::option::of(0..=KEYS)).prop_map(|(key, end)| Op::Delete { key, end }),
        4 => (
            0..KEYS,
            compare_result(),
            0..4i64,
            proptest::collection::vec(write_op(), 0..4),
            proptest::collection::vec(write_op(), 0..4),
        )
            .prop_map(|(key, result, version, success, failure)| Op::Txn {
                key,
                result,
                version,
                success,
                failure,
            }),
        1 => (1..MISSING_LEASE).prop_map(|lease| Op::Revoke { lease }),
        1 => (0..4i64).prop_map(|back| Op::Compact { back }),
    ]
}

/// The model: what each key holds, and the whole map after every revision.
struct Model {
    revision: Revision,
    compacted: Revision,
    kvs: BTreeMap<Vec<u8>, KeyValue>,
    /// `history[r]`: the live keys at revision `r` (`history[0]` too, empty, for a watch from 1).
    history: BTreeMap<Revision, BTreeMap<Vec<u8>, KeyValue>>,
}

impl Model {
    fn new() -> Self {
        Model {
            revision: 1,
            compacted: 0,
            kvs: BTreeMap::new(),
            history: [(0, BTreeMap::new()), (1, BTreeMap::new())].into(),
        }
    }

    fn write_put(&mut self, key: &[u8], value: Vec<u8>, lease: LeaseId) {
        let rev = self.revision + 1;
        let (create_revision, version) = match self.kvs.get(key) {
            Some(kv) => (kv.create_revision, kv.version + 1),
            None => (rev, 1),
        };
        let kv = KeyValue {
            key: key.to_vec(),
            create_revision,
            mod_revision: rev,
            version,
            value,
            lease,
        };
        self.kvs.insert(key.to_vec(), kv);
    }

    /// Ends a write txn: a new revision if it changed anything.
    fn end(&mut self, changed: bool) -> Revision {
        if changed {
            self.revision += 1;
            self.history.insert(self.revision, self.kvs.clone());
        }
        self.revision
    }

    /// Two writes to one key in a branch (no ranges or nested txns here, so etcd's
    /// `checkIntervals` comes down to this).
    fn duplicate(ops: &[WriteOp]) -> bool {
        let puts: Vec<u8> = ops
            .iter()
            .filter_map(|o| {
                if let WriteOp::Put { key, .. } = o {
                    Some(*key)
                } else {
                    None
                }
            })
            .collect();
        let dels: BTreeSet<u8> = ops
            .iter()
            .filter_map(|o| {
                if let WriteOp::Delete { key } = o {
                    Some(*key)
                } else {
                    None
                }
            })
            .collect();
        let unique: BTreeSet<u8> = puts.iter().copied().collect();
        unique.len() != puts.len() || puts.iter().any(|k| dels.contains(k))
    }

    fn compare(&self, key: u8, result: CompareResult, version: i64) -> bool {
        let have = self
            .kvs
            .get(&super::proptests::key(key))
            .map_or(0, |kv| kv.version);
        match result {
            CompareResult::Equal => have == version,
            CompareResult::NotEqual => have != version,
            CompareResult::Greater => have > version,
            CompareResult::Less => have < version,
        }
    }
}

fn to_request(ops: &[WriteOp]) -> Vec<RequestOp> {
    ops.iter()
        .map(|o| match *o {
            WriteOp::Put {
                key: k,
                value,
                lease,
            } => RequestOp::Put(PutRequest {
                key: key(k),
                value: vec![value],
                lease,
                ..PutRequest::default()
            }),
            WriteOp::Delete { key: k } => RequestOp::DeleteRange(DeleteRangeRequest {
                key: key(k),
                ..DeleteRangeRequest::default()
            }),
            WriteOp::Get { key: k } => RequestOp::Range(RangeRequest {
                key: key(k),
                ..RangeRequest::default()
            }),
        })
        .collect()
}

fn all_keys(revision: Revision) -> RangeRequest {
    RangeRequest {
        key: vec![0],
        range_end: vec![0],
        revision,
        ..RangeRequest::default()
    }
}

/// Runs `op` on both and checks they agree on the outcome.
fn step(store: &mut Mvcc, model: &mut Model, op: &Op) -> std::result::Result<(), TestCaseError> {
    match op {
        Op::Put {
            key: k,
            value,
            lease,
        } => {
            let req = PutRequest {
                key: key(*k),
                value: vec![*value],
                lease: *lease,
                ..PutRequest::default()
            };
            let got = store.put(&req, &lease_exists);
            if *lease == MISSING_LEASE {
                prop_assert_eq!(got, Err(Error::LeaseNotFound));
            } else {
                model.write_put(&req.key, req.value.clone(), *lease);
                prop_assert_eq!(got.unwrap().header.revision, model.end(true));
            }
        }
        Op::Delete { key: k, end } => {
            let range_end = end.map(key).unwrap_or_default();
            let req = DeleteRangeRequest {
                key: key(*k),
                range_end,
                ..DeleteRangeRequest::default()
            };
            let range = KeyRange::new(&req.key, &req.range_end);
            let doomed: Vec<Vec<u8>> = model
                .kvs
                .keys()
                .filter(|k| range.contains(k))
                .cloned()
                .collect();
            for k in &doomed {
                model.kvs.remove(k);
            }
            let got = store.delete_range(&req).unwrap();
            prop_assert_eq!(got.deleted, doomed.len() as i64);
            prop_assert_eq!(got.header.revision, model.end(!doomed.is_empty()));
        }
        Op::Txn {
            key: k,
            result,
            version,
            success,
            failure,
        } => {
            let req = TxnRequest {
                compare: vec![Compare {
                    result: *result,
                    target: CompareTarget::Version(*version),
                    key: key(*k),
                    range_end: vec![],
                }],
                success: to_request(success),
                failure: to_request(failure),
            };
            let got = store.txn(&req, &lease_exists);
            if Model::duplicate(success) || Model::duplicate(failure) {
                prop_assert_eq!(got, Err(Error::DuplicateKey));
                return Ok(());
            }
            let succeeded = model.compare(*k, *result, *version);
            let ops = if succeeded { success } else { failure };
            if ops.iter().any(|o| {
                matches!(
                    o,
                    WriteOp::Put {
                        lease: MISSING_LEASE,
                        ..
                    }
                )
            }) {
                prop_assert_eq!(got, Err(Error::LeaseNotFound));
                return Ok(());
            }
            let got = got.unwrap();
            prop_assert_eq!(got.succeeded, succeeded);
            let mut changed = false;
            for (o, resp) in ops.iter().zip(&got.responses) {
                match (o, resp) {
                    (
                        WriteOp::Put {
                            key: k,
                            value,
                            lease,
                        },
                        ResponseOp::Put(_),
                    ) => {
                        model.write_put(&key(*k), vec![*value], *lease);
                        changed = true;
                    }
                    (WriteOp::Delete { key: k }, ResponseOp::DeleteRange(d)) => {
                        let gone = model.kvs.remove(&key(*k)).is_some();
                        prop_assert_eq!(d.deleted, gone as i64);
                        changed |= gone;
                    }
                    (WriteOp::Get { key: k }, ResponseOp::Range(r)) => {
                        let want: Vec<KeyValue> =
                            model.kvs.get(&key(*k)).cloned().into_iter().collect();
                        prop_assert_eq!(&r.kvs, &want);
                    }
                    (o, resp) => prop_assert!(false, "{:?} answered by {:?}", o, resp),
                }
            }
            prop_assert_eq!(got.responses.len(), ops.len());
            prop_assert_eq!(got.header.revision, model.end(changed));
        }
        Op::Revoke { lease } => {
            let doomed: Vec<Vec<u8>> = model
                .kvs
                .values()
                .filter(|kv| kv.lease == *lease)
                .map(|kv| kv.key.clone())
                .collect();
            for k in &doomed {
                model.kvs.remove(k);
            }
            prop_assert_eq!(store.revoke_lease(*lease), doomed.clone());
            model.end(!doomed.is_empty());
        }
        Op::Compact { back } => {
            let rev = model.revision - back;
            let got = store.compact(rev);
            if rev <= model.compacted {
                prop_assert_eq!(
                    got,
                    Err(Error::Compacted {
                        compact_revision: model.compacted
                    })
                );
            } else {
                prop_assert_eq!(got, Ok(()));
                model.compacted = rev;
            }
        }
    }
    Ok(())
}

/// After each step: same revision, same live keys (with all their fields), same lease index.
fn agree_now(store: &Mvcc, model: &Model) -> std::result::Result<(), TestCaseError> {
    store.check_invariants();
    prop_assert_eq!(store.revision(), model.revision);
    prop_assert_eq!(store.compact_revision(), model.compacted);
    let got = store.range(&all_keys(0)).unwrap();
    let want: Vec<KeyValue> = model.kvs.values().cloned().collect();
    prop_assert_eq!(got.count, want.len() as i64);
    prop_assert_eq!(got.kvs, want);
    for lease in 1..MISSING_LEASE {
        let want: Vec<Vec<u8>> = model
            .kvs
            .values()
            .filter(|kv| kv.lease == lease)
            .map(|kv| kv.key.clone())
            .collect();
        prop_assert_eq!(store.keys_with_lease(lease), want);
    }
    Ok(())
}

proptest! {
    #[test]
    fn store_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut store = Mvcc::new();
        let mut model = Model::new();
        for op in &ops {
            step(&mut store, &mut model, op)?;
            agree_now(&store, &model)?;
        }
    }

    /// Reads at every past revision and watches from every start revision, against the model's
    /// snapshots; and a snapshot round trip.
    #[test]
    fn past_revisions_and_watches_match_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut store = Mvcc::new();
        let mut model = Model::new();
        for op in &ops {
            step(&mut store, &mut model, op)?;
        }
        for rev in 1..=model.revision + 1 {
            let got = store.range(&all_keys(rev));
            if rev > model.revision {
                prop_assert_eq!(got, Err(Error::FutureRevision));
            } else if rev < model.compacted {
                prop_assert_eq!(got, Err(Error::Compacted { compact_revision: model.compacted }));
            } else {
                let want: Vec<KeyValue> = model.history[&rev].values().cloned().collect();
                prop_assert_eq!(got.unwrap().kvs, want);
            }
        }
        // Replaying the events from `start` over the keys at `start - 1` gives the keys at every
        // later revision, and each `prev_kv` is the key one revision earlier.
        for start in model.compacted.max(1)..=model.revision + 1 {
            let events = store.events(start, &[0], &[0], true, usize::MAX);
            if start < model.compacted {
                prop_assert!(events.is_err());
                continue;
            }
            let events = events.unwrap();
            if start == model.compacted {
                // Deletions at the compact revision are gone; everything after is there.
                prop_assert!(events.iter().all(|e| e.kv.mod_revision > start || e.kind == EventType::Put));
                continue;
            }
            let mut live = model.history[&(start - 1)].clone();
            let mut at = start - 1;
            for e in &events {
                let rev = e.kv.mod_revision;
                if rev != at {
                    prop_assert!(rev > at);
                    prop_assert_eq!(&live, &model.history[&at]);
                    at = rev;
                }
                let before = model.history.range(..rev).next_back().map(|(_, m)| m.get(&e.kv.key));
                let before = before.flatten().filter(|_| rev > model.compacted);
                match e.kind {
                    EventType::Put => {
                        let want = before.filter(|_| e.kv.version > 1);
                        prop_assert_eq!(e.prev_kv.as_ref(), want);
                        live.insert(e.kv.key.clone(), e.kv.clone());
                    }
                    EventType::Delete => {
                        prop_assert_eq!(e.prev_kv.as_ref(), before);
                        live.remove(&e.kv.key);
                    }
                }
            }
            prop_assert_eq!(&live, &model.history[&model.revision]);
            // Chunks of whole revisions concatenate to the same events.
            let mut chunked = Vec::new();
            let mut from = start;
            loop {
                let chunk = store.events(from, &[0], &[0], true, 2).unwrap();
                let Some(last) = chunk.last() else { break };
                from = last.kv.mod_revision + 1;
                chunked.extend(chunk);
            }
            prop_assert_eq!(chunked, events);
        }
        let back: Mvcc = bincode::deserialize(&bincode::serialize(&store).unwrap()).unwrap();
        back.check_invariants();
        prop_assert_eq!(back, store);
    }
}
