//! Unit tests of the `Kv` model: revisions along a linearization, and unknown operations.

use std::sync::Arc;

use super::ops::*;
use super::Kv;
use crate::check::model::{Model, Steps};
use crate::etcd::request::*;

fn model() -> Kv {
    Kv {
        keys: Arc::new(vec![b"k".to_vec()]),
        values: Arc::new(vec![b"a".to_vec(), b"b".to_vec()]),
    }
}

fn put(value: ValueId) -> KvInput {
    KvInput::Put {
        key: 0,
        value,
        lease: NO_LEASE,
        ignore_value: false,
        ignore_lease: false,
    }
}

fn written(state: &KvState) -> KeyState {
    *state.get(0).unwrap()
}

#[test]
fn put_revision_must_exceed_the_floor() {
    let m = model();
    let ok = |rev| KvOutput::Put {
        revision: rev,
        prev: None,
        prev_asked: false,
    };
    let Steps::One(s) = m.step(&m.init(), &put(0), Some(&ok(5))) else {
        panic!()
    };
    assert_eq!(written(&s).modified, Rev::Known(5));
    assert_eq!(s.floor, 5);
    assert_eq!(m.step(&s, &put(1), Some(&ok(5))), Steps::None);
}

/// An unknown put's revision is pinned by the first read that shows it.
#[test]
fn unknown_revision_is_pinned_by_a_read() {
    let m = model();
    let Steps::One(s) = m.step(&m.init(), &put(0), None) else {
        panic!()
    };
    assert_eq!(written(&s).modified, Rev::AtLeast(2));
    let read = KvInput::Range {
        keys: vec![0],
        limit: 0,
        keys_only: false,
        count_only: false,
        unchecked: false,
    };
    let seen = |m: Revision| KvOutput::Range {
        revision: 9,
        kvs: vec![KvObs {
            key: 0,
            create: m,
            modified: m,
            version: 1,
            value: 0,
            lease: NO_LEASE,
        }],
        count: 1,
        more: false,
    };
    assert_eq!(m.step(&s, &read, Some(&seen(1))), Steps::None);
    let Steps::One(pinned) = m.step(&s, &read, Some(&seen(7))) else {
        panic!()
    };
    assert_eq!(written(&pinned).modified, Rev::Known(7));
    assert_eq!(m.step(&pinned, &read, Some(&seen(8))), Steps::None);
}

/// An unknown txn comparing a revision only bounded below may take either branch.
#[test]
fn ambiguous_compare_of_an_unknown_txn_has_two_successors() {
    let m = model();
    let Steps::One(s) = m.step(&m.init(), &put(0), None) else {
        panic!()
    };
    let txn = KvInput::Txn {
        compare: vec![KvCompare {
            keys: vec![0],
            result: CompareResult::Equal,
            target: CompareTarget::Mod(4),
        }],
        success: vec![put(1)],
        failure: vec![],
    };
    let Steps::Many(next) = m.step(&s, &txn, None) else {
        panic!("{:?}", m.step(&s, &txn, None))
    };
    assert_eq!(next.len(), 2);
}
