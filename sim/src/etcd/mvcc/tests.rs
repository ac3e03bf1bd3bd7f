//! Unit tests whose expected numbers were measured on a real etcd 3.4.23 (single member, fresh
//! data dir, so revision 1 at start), by running the same requests through its gRPC gateway and
//! `etcdctl watch`.

use super::*;
use crate::prefix_end;
use crate::{Compare, CompareResult, CompareTarget, ResponseOp, SortOrder, SortTarget};

fn no_lease(_: LeaseId) -> bool {
    false
}

fn kv(key: &str, create: Revision, modr: Revision, version: i64, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        create_revision: create,
        mod_revision: modr,
        version,
        value: value.into(),
        lease: NO_LEASE,
    }
}

fn put_req(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: value.into(),
        ..PutRequest::default()
    }
}

fn get_req(key: &str) -> RangeRequest {
    RangeRequest {
        key: key.into(),
        ..RangeRequest::default()
    }
}

fn range_req(key: &str, end: &str) -> RangeRequest {
    RangeRequest {
        key: key.into(),
        range_end: end.into(),
        ..RangeRequest::default()
    }
}

fn del_req(key: &str) -> DeleteRangeRequest {
    DeleteRangeRequest {
        key: key.into(),
        ..DeleteRangeRequest::default()
    }
}

fn del_range_req(key: &str, end: &str) -> DeleteRangeRequest {
    DeleteRangeRequest {
        key: key.into(),
        range_end: end.into(),
        ..DeleteRangeRequest::default()
    }
}

fn op_put(key: &str, value: &str) -> RequestOp {
    RequestOp::Put(put_req(key, value))
}

fn op_get(key: &str) -> RequestOp {
    RequestOp::Range(get_req(key))
}

fn op_del(key: &str) -> RequestOp {
    RequestOp::DeleteRange(del_req(key))
}

fn op_txn(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> RequestOp {
    RequestOp::Txn(TxnRequest {
        compare: vec![],
        success,
        failure,
    })
}

fn txn_req(success: Vec<RequestOp>) -> TxnRequest {
    TxnRequest {
        compare: vec![],
        success,
        failure: vec![],
    }
}

fn cmp(key: &str, result: CompareResult, target: CompareTarget) -> Compare {
    Compare {
        result,
        target,
        key: key.into(),
        range_end: vec![],
    }
}

fn put(s: &mut Mvcc, key: &str, value: &str) -> Revision {
    let rev = s
        .put(&put_req(key, value), &no_lease)
        .unwrap()
        .header
        .revision;
    s.check_invariants();
    rev
}

fn txn(s: &mut Mvcc, req: &TxnRequest) -> Result<TxnResponse> {
    let resp = s.txn(req, &no_lease);
    s.check_invariants();
    resp
}

fn keys(resp: &RangeResponse) -> Vec<String> {
    resp.kvs
        .iter()
        .map(|kv| String::from_utf8(kv.key.clone()).unwrap())
        .collect()
}

/// The revision in each inner response header, nested txns as a vector.
#[derive(Debug, PartialEq)]
enum Hdr {
    Rev(Revision),
    Txn(Revision, Vec<Hdr>),
}

fn headers(resp: &TxnResponse) -> Vec<Hdr> {
    resp.responses
        .iter()
        .map(|r| match r {
            ResponseOp::Range(r) => Hdr::Rev(r.header.revision),
            ResponseOp::Put(r) => Hdr::Rev(r.header.revision),
            ResponseOp::DeleteRange(r) => Hdr::Rev(r.header.revision),
            ResponseOp::Txn(t) => Hdr::Txn(t.header.revision, headers(t)),
        })
        .collect()
}

#[test]
fn fresh_store() {
    let s = Mvcc::new();
    assert_eq!((s.revision(), s.compact_revision()), (1, 0));
    // Measured on etcd 3.4.23: a get on a fresh cluster answers revision 1.
    assert_eq!(s.range(&get_req("a")).unwrap().header.revision, 1);
    s.check_invariants();
}

/// Measured on etcd 3.4.23 (scenario S1).
#[test]
fn revisions_put_overwrite_delete_recreate() {
    let mut s = Mvcc::new();
    assert_eq!(put(&mut s, "a", "1"), 2);
    let resp = s
        .put(
            &PutRequest {
                prev_kv: true,
                ..put_req("a", "2")
            },
            &no_lease,
        )
        .unwrap();
    assert_eq!(resp.header.revision, 3);
    assert_eq!(resp.prev_kv, Some(kv("a", 2, 2, 1, "1")));
    let got = s.range(&get_req("a")).unwrap();
    assert_eq!((got.header.revision, got.count), (3, 1));
    assert_eq!(got.kvs, vec![kv("a", 2, 3, 2, "2")]);

    // Deleting nothing: no new revision.
    let resp = s.delete_range(&del_req("zzz")).unwrap();
    assert_eq!((resp.header.revision, resp.deleted), (3, 0));
    assert_eq!(s.revision(), 3);

    let resp = s
        .delete_range(&DeleteRangeRequest {
            prev_kv: true,
            ..del_req("a")
        })
        .unwrap();
    assert_eq!((resp.header.revision, resp.deleted), (4, 1));
    assert_eq!(resp.prev_kvs, vec![kv("a", 2, 3, 2, "2")]);

    // Recreated: new create_revision, version back to 1.
    assert_eq!(put(&mut s, "a", "3"), 5);
    assert_eq!(
        s.range(&get_req("a")).unwrap().kvs,
        vec![kv("a", 5, 5, 1, "3")]
    );

    // Reads in the past answer the current revision in the header.
    let at3 = s
        .range(&RangeRequest {
            revision: 3,
            ..get_req("a")
        })
        .unwrap();
    assert_eq!(
        (at3.header.revision, at3.kvs.clone()),
        (5, vec![kv("a", 2, 3, 2, "2")])
    );
    let at4 = s
        .range(&RangeRequest {
            revision: 4,
            ..get_req("a")
        })
        .unwrap();
    assert_eq!((at4.header.revision, at4.count, at4.kvs.len()), (5, 0, 0));
    let at5 = s
        .range(&RangeRequest {
            revision: 5,
            ..get_req("a")
        })
        .unwrap();
    assert_eq!(at5.kvs, vec![kv("a", 5, 5, 1, "3")]);
    let err = s
        .range(&RangeRequest {
            revision: 6,
            ..get_req("a")
        })
        .unwrap_err();
    assert_eq!(err, Error::FutureRevision);
    assert_eq!(
        err.to_string(),
        "etcdserver: mvcc: required revision is a future revision"
    );

    // Measured: `key is not provided` for an empty key.
    let err = s.range(&range_req("", "l")).unwrap_err();
    assert_eq!(err.to_string(), "etcdserver: key is not provided");
}

/// Measured on etcd 3.4.23 (scenario S1).
#[test]
fn txn_is_one_revision_and_inner_headers() {
    let mut s = Mvcc::new();
    put(&mut s, "a", "1"); // 2
    put(&mut s, "a", "2"); // 3
    s.delete_range(&del_req("a")).unwrap(); // 4
    put(&mut s, "a", "3"); // 5

    let resp = txn(
        &mut s,
        &txn_req(vec![op_put("b", "1"), op_put("c", "1"), op_put("d", "1")]),
    );
    let resp = resp.unwrap();
    assert_eq!(resp.header.revision, 6);
    assert_eq!(headers(&resp), vec![Hdr::Rev(6), Hdr::Rev(6), Hdr::Rev(6)]);
    let got = s.range(&range_req("b", "e")).unwrap();
    assert_eq!(
        got.kvs,
        vec![
            kv("b", 6, 6, 1, "1"),
            kv("c", 6, 6, 1, "1"),
            kv("d", 6, 6, 1, "1")
        ]
    );

    // A range sees the txn's own writes; a delete of nothing says the old revision until the
    // txn has written; a nested txn's header is empty.
    let req = txn_req(vec![
        op_get("b"),
        op_del("nothing"),
        op_put("b", "2"),
        op_get("b"),
        op_del("nothing2"),
        op_txn(vec![op_get("b"), op_put("c", "2")], vec![]),
    ]);
    let resp = txn(&mut s, &req).unwrap();
    assert_eq!(resp.header.revision, 7);
    assert!(resp.succeeded);
    assert_eq!(
        headers(&resp),
        vec![
            Hdr::Rev(6),
            Hdr::Rev(6),
            Hdr::Rev(7),
            Hdr::Rev(7),
            Hdr::Rev(7),
            Hdr::Txn(0, vec![Hdr::Rev(7), Hdr::Rev(7)])
        ]
    );
    let ResponseOp::Range(first) = &resp.responses[0] else {
        panic!()
    };
    assert_eq!(first.kvs, vec![kv("b", 6, 6, 1, "1")]);
    let ResponseOp::Range(after) = &resp.responses[3] else {
        panic!()
    };
    assert_eq!(after.kvs, vec![kv("b", 6, 7, 2, "2")]);

    // Read-only, delete-nothing and empty txns: no new revision.
    let resp = txn(&mut s, &txn_req(vec![op_get("b"), op_del("nothing")])).unwrap();
    assert_eq!(
        (resp.header.revision, headers(&resp)),
        (7, vec![Hdr::Rev(7), Hdr::Rev(7)])
    );
    let resp = txn(&mut s, &txn_req(vec![op_del("nothing"), op_get("b")])).unwrap();
    assert_eq!(
        (resp.header.revision, headers(&resp)),
        (7, vec![Hdr::Rev(7), Hdr::Rev(7)])
    );
    let resp = txn(&mut s, &TxnRequest::default()).unwrap();
    assert_eq!(
        (resp.header.revision, resp.succeeded, resp.responses.len()),
        (7, true, 0)
    );
    let resp = txn(&mut s, &txn_req(vec![op_txn(vec![op_get("b")], vec![])])).unwrap();
    assert_eq!(headers(&resp), vec![Hdr::Txn(0, vec![Hdr::Rev(7)])]);

    // Nested compares see the state before the outer txn: x does not exist yet for them
    // (measured on etcd 3.4.23: the else branch ran).
    let nested = TxnRequest {
        compare: vec![cmp("x", CompareResult::Equal, CompareTarget::Version(1))],
        success: vec![op_put("y", "1")],
        failure: vec![op_put("z", "1"), op_get("x")],
    };
    let req = txn_req(vec![op_put("x", "1"), RequestOp::Txn(nested)]);
    let mut fresh = Mvcc::new();
    let resp = txn(&mut fresh, &req).unwrap();
    let ResponseOp::Txn(inner) = &resp.responses[1] else {
        panic!()
    };
    assert!(resp.succeeded && !inner.succeeded);
    assert_eq!(
        headers(&resp),
        vec![Hdr::Rev(2), Hdr::Txn(0, vec![Hdr::Rev(2), Hdr::Rev(2)])]
    );
    assert_eq!(
        keys(&fresh.range(&range_req("a", "\0")).unwrap()),
        ["x", "z"]
    );

    // Failure branch.
    let req = TxnRequest {
        compare: vec![cmp("b", CompareResult::Equal, CompareTarget::Version(0))],
        success: vec![op_put("q", "1")],
        failure: vec![op_get("b"), op_del("zz")],
    };
    let resp = txn(&mut s, &req).unwrap();
    assert_eq!((resp.header.revision, resp.succeeded), (7, false));
    assert_eq!(headers(&resp), vec![Hdr::Rev(7), Hdr::Rev(7)]);
    assert_eq!(s.revision(), 7);

    // A range at a past revision inside a write txn.
    let at3 = RequestOp::Range(RangeRequest {
        revision: 3,
        ..get_req("b")
    });
    let resp = txn(&mut s, &txn_req(vec![at3.clone(), op_put("e", "1"), at3])).unwrap();
    assert_eq!(resp.header.revision, 8);
    assert_eq!(headers(&resp), vec![Hdr::Rev(7), Hdr::Rev(8), Hdr::Rev(8)]);

    // A future range fails the whole txn, even after a put: nothing is written.
    let future = RequestOp::Range(RangeRequest {
        revision: 100,
        ..get_req("b")
    });
    assert_eq!(
        txn(&mut s, &txn_req(vec![future.clone()])),
        Err(Error::FutureRevision)
    );
    assert_eq!(
        txn(&mut s, &txn_req(vec![op_put("e", "2"), future])),
        Err(Error::FutureRevision)
    );
    assert_eq!(s.revision(), 8);
    assert_eq!(
        s.range(&get_req("e")).unwrap().kvs,
        vec![kv("e", 8, 8, 1, "1")]
    );
}

/// Builds the keys of scenario S2: k1..k4 with several versions, plus l and j.
fn range_fixture() -> Mvcc {
    let mut s = Mvcc::new();
    for (k, v) in [
        ("k1", "c"),
        ("k2", "a"),
        ("k3", "b"),
        ("k2", "z"),
        ("k4", "a"),
        ("k2", "y"),
        ("k1", "d"),
        ("l", "x"),
        ("j", "x"),
    ] {
        put(&mut s, k, v);
    }
    assert_eq!(s.revision(), 10);
    s
}

/// Measured on etcd 3.4.23 (scenario S2).
#[test]
fn range_limit_count_sort() {
    let s = range_fixture();
    let k = || range_req("k", "l");
    let r = s.range(&RangeRequest { limit: 2, ..k() }).unwrap();
    assert_eq!(
        (keys(&r), r.more, r.count),
        (vec!["k1".into(), "k2".into()], true, 4)
    );
    assert_eq!(r.kvs[1], kv("k2", 3, 7, 3, "y"));
    assert_eq!(r.header.revision, 10);

    let r = s
        .range(&RangeRequest {
            count_only: true,
            limit: 1,
            ..k()
        })
        .unwrap();
    assert_eq!((r.kvs.len(), r.more, r.count), (0, false, 4));

    let r = s
        .range(&RangeRequest {
            keys_only: true,
            limit: 1,
            ..k()
        })
        .unwrap();
    assert_eq!(r.kvs, vec![kv("k1", 2, 8, 2, "")]);
    assert_eq!((r.more, r.count), (true, 4));

    // SortOrder::None with a target other than Key sorts ascending; ties keep key order.
    let by = |order, target| {
        keys(
            &s.range(&RangeRequest {
                sort_order: order,
                sort_target: target,
                ..k()
            })
            .unwrap(),
        )
    };
    assert_eq!(
        by(SortOrder::None, SortTarget::Version),
        ["k3", "k4", "k1", "k2"]
    );
    assert_eq!(
        by(SortOrder::Descend, SortTarget::Version),
        ["k2", "k1", "k3", "k4"]
    );
    assert_eq!(
        by(SortOrder::Ascend, SortTarget::Value),
        ["k4", "k3", "k1", "k2"]
    );
    assert_eq!(
        by(SortOrder::None, SortTarget::Mod),
        ["k3", "k4", "k2", "k1"]
    );
    let r = s
        .range(&RangeRequest {
            sort_order: SortOrder::Descend,
            sort_target: SortTarget::Key,
            limit: 2,
            ..k()
        })
        .unwrap();
    assert_eq!(
        (keys(&r), r.more, r.count),
        (vec!["k4".into(), "k3".into()], true, 4)
    );
    // LastCreate, as etcd's concurrency package asks it.
    let r = s
        .range(&RangeRequest {
            sort_order: SortOrder::Descend,
            sort_target: SortTarget::Create,
            limit: 1,
            ..k()
        })
        .unwrap();
    assert_eq!(
        (r.kvs.clone(), r.more, r.count),
        (vec![kv("k4", 6, 6, 1, "a")], true, 4)
    );

    // limit <= 0 means no limit; a limit >= the matches is not `more`.
    for limit in [-1, 4, 5] {
        let r = s.range(&RangeRequest { limit, ..k() }).unwrap();
        assert_eq!((r.kvs.len(), r.more, r.count), (4, false, 4));
    }
    let r = s
        .range(&RangeRequest {
            sort_order: SortOrder::Descend,
            sort_target: SortTarget::Version,
            keys_only: true,
            count_only: true,
            ..k()
        })
        .unwrap();
    assert_eq!((r.kvs.len(), r.count), (0, 4));
}

/// Measured on etcd 3.4.23 (scenario S2): the min/max revision filters run after `count`,
/// before `limit`; `more` counts what the filters left.
#[test]
fn range_revision_filters() {
    let s = range_fixture();
    let k = || range_req("k", "l");
    let r = s
        .range(&RangeRequest {
            min_create_revision: 3,
            ..k()
        })
        .unwrap();
    assert_eq!(
        (keys(&r), r.count),
        (vec!["k2".into(), "k3".into(), "k4".into()], 4)
    );
    let r = s
        .range(&RangeRequest {
            min_create_revision: 3,
            limit: 1,
            ..k()
        })
        .unwrap();
    assert_eq!((keys(&r), r.more, r.count), (vec!["k2".into()], true, 4));
    let r = s
        .range(&RangeRequest {
            max_create_revision: 3,
            limit: 1,
            ..k()
        })
        .unwrap();
    assert_eq!((keys(&r), r.more, r.count), (vec!["k1".into()], true, 4));
    let r = s
        .range(&RangeRequest {
            min_mod_revision: 6,
            max_mod_revision: 7,
            ..k()
        })
        .unwrap();
    assert_eq!(
        (keys(&r), r.more, r.count),
        (vec!["k2".into(), "k4".into()], false, 4)
    );
    let r = s
        .range(&RangeRequest {
            min_mod_revision: 6,
            count_only: true,
            ..k()
        })
        .unwrap();
    assert_eq!((r.kvs.len(), r.count), (0, 4));
    let r = s
        .range(&RangeRequest {
            min_mod_revision: 100,
            ..k()
        })
        .unwrap();
    assert_eq!((r.kvs.len(), r.more, r.count), (0, false, 4));
    let r = s
        .range(&RangeRequest {
            max_mod_revision: 1,
            ..k()
        })
        .unwrap();
    assert_eq!((r.kvs.len(), r.count), (0, 4));
    let r = s
        .range(&RangeRequest {
            min_mod_revision: 6,
            limit: 1,
            revision: 7,
            ..k()
        })
        .unwrap();
    assert_eq!(
        (r.kvs.clone(), r.more, r.count),
        (vec![kv("k2", 3, 7, 3, "y")], true, 4)
    );
    assert_eq!(r.header.revision, 10);
}

/// Measured on etcd 3.4.23 (scenario S2).
#[test]
fn range_end_forms() {
    let s = range_fixture();
    // [0]: every key >= key.
    let r = s.range(&range_req("k", "\0")).unwrap();
    assert_eq!(keys(&r), ["k1", "k2", "k3", "k4", "l"]);
    let r = s
        .range(&RangeRequest {
            count_only: true,
            ..range_req("\0", "\0")
        })
        .unwrap();
    assert_eq!(r.count, 6);
    // range_end <= key: nothing.
    assert_eq!(s.range(&range_req("k2", "k2")).unwrap().count, 0);
    assert_eq!(s.range(&range_req("k3", "k1")).unwrap().count, 0);
    // Prefix.
    let r = s
        .range(&RangeRequest {
            range_end: prefix_end(b"k"),
            ..get_req("k")
        })
        .unwrap();
    assert_eq!(r.count, 4);
}

/// Measured on etcd 3.4.23 (scenario S3).
#[test]
fn compares() {
    let mut s = Mvcc::new();
    put(&mut s, "a", "1"); // 2
    put(&mut s, "b", "2"); // 3
    put(&mut s, "a", "3"); // 4: a is create 2, mod 4, version 2
    use CompareResult::*;
    use CompareTarget::*;
    let cases: Vec<(Vec<Compare>, bool)> = vec![
        (vec![cmp("missing", Equal, Version(0))], true),
        (vec![cmp("missing", Equal, Create(0))], true),
        (vec![cmp("missing", Less, Mod(1))], true),
        (vec![cmp("missing", Equal, Lease(0))], true),
        (vec![cmp("missing", NotEqual, Value("x".into()))], false),
        (vec![cmp("missing", Equal, Value("".into()))], false),
        (vec![cmp("a", Equal, Version(2))], true),
        (vec![cmp("a", Equal, Create(2))], true),
        (vec![cmp("a", Greater, Mod(3))], true),
        (vec![cmp("a", Less, Value("4".into()))], true),
        (vec![cmp("a", Greater, Value("3".into()))], false),
        (vec![cmp("a", Greater, Value("2z".into()))], true),
        (vec![cmp("a", Equal, Lease(0))], true),
        (
            vec![
                cmp("a", Greater, Version(0)),
                cmp("missing", Greater, Version(0)),
            ],
            false,
        ),
        (
            vec![Compare {
                range_end: "c".into(),
                ..cmp("a", Greater, Mod(1))
            }],
            true,
        ),
        (
            vec![Compare {
                range_end: "c".into(),
                ..cmp("a", Greater, Mod(3))
            }],
            false,
        ),
        (
            vec![Compare {
                range_end: "c".into(),
                ..cmp("a", Greater, Value("0".into()))
            }],
            true,
        ),
        (
            vec![Compare {
                range_end: "z".into(),
                ..cmp("x", Greater, Value("0".into()))
            }],
            false,
        ),
        (
            vec![Compare {
                range_end: "z".into(),
                ..cmp("x", Equal, Version(0))
            }],
            true,
        ),
        (
            vec![Compare {
                range_end: "\0".into(),
                ..cmp("a", Equal, Version(0))
            }],
            false,
        ),
        (
            vec![Compare {
                range_end: "\0".into(),
                ..cmp("a", Greater, Version(0))
            }],
            true,
        ),
    ];
    for (compare, succeeded) in cases {
        let req = TxnRequest {
            compare: compare.clone(),
            success: vec![op_get("a")],
            failure: vec![],
        };
        let resp = txn(&mut s, &req).unwrap();
        assert_eq!(resp.succeeded, succeeded, "{compare:?}");
        assert_eq!(
            (resp.header.revision, resp.responses.len()),
            (4, succeeded as usize)
        );
    }
    let req = TxnRequest {
        compare: vec![cmp("", Greater, Version(0))],
        ..TxnRequest::default()
    };
    assert_eq!(txn(&mut s, &req), Err(Error::EmptyKey));
}

/// Measured on etcd 3.4.23 (scenario S3).
#[test]
fn duplicate_keys() {
    let mut s = Mvcc::new();
    put(&mut s, "a", "1"); // 2
    put(&mut s, "b", "2"); // 3
    put(&mut s, "a", "3"); // 4
    let dup = |s: &mut Mvcc, ops: Vec<RequestOp>| {
        let err = txn(s, &txn_req(ops)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "etcdserver: duplicate key given in txn request"
        );
    };
    dup(&mut s, vec![op_put("a", "1"), op_put("a", "2")]);
    dup(&mut s, vec![op_put("a", "1"), op_del("a")]);
    dup(&mut s, vec![op_del("a"), op_put("a", "1")]);
    dup(
        &mut s,
        vec![
            RequestOp::DeleteRange(del_range_req("a", "c")),
            op_put("b", "1"),
        ],
    );
    dup(
        &mut s,
        vec![op_put("a", "5"), op_txn(vec![op_put("a", "6")], vec![])],
    );
    dup(
        &mut s,
        vec![
            op_txn(vec![op_put("n", "6")], vec![]),
            op_txn(vec![], vec![op_put("n", "7")]),
        ],
    );
    dup(
        &mut s,
        vec![op_txn(vec![op_del("n")], vec![]), op_put("n", "7")],
    );
    dup(
        &mut s,
        vec![op_put("n", "7"), op_txn(vec![op_del("n")], vec![])],
    );
    dup(
        &mut s,
        vec![
            op_txn(vec![op_del("n")], vec![]),
            op_txn(vec![op_put("n", "6")], vec![]),
        ],
    );
    // Checked on both branches, whichever is taken.
    let req = TxnRequest {
        compare: vec![cmp("a", CompareResult::Equal, CompareTarget::Version(999))],
        success: vec![op_put("a", "1"), op_put("a", "2")],
        failure: vec![],
    };
    assert_eq!(txn(&mut s, &req), Err(Error::DuplicateKey));
    assert_eq!(s.revision(), 4);

    // Allowed: two deletes of one key (the second finds nothing).
    let resp = txn(&mut s, &txn_req(vec![op_del("a"), op_del("a")])).unwrap();
    assert_eq!(resp.header.revision, 5);
    let deleted: Vec<i64> = resp
        .responses
        .iter()
        .map(|r| match r {
            ResponseOp::DeleteRange(d) => d.deleted,
            _ => panic!(),
        })
        .collect();
    assert_eq!(deleted, [1, 0]);
    assert_eq!(headers(&resp), vec![Hdr::Rev(5), Hdr::Rev(5)]);

    // Allowed: a from-key delete and a put of a key in it (etcd's interval `[key, "\0")` is
    // empty). The delete removes b, then the put recreates it.
    let from_a = RequestOp::DeleteRange(del_range_req("a", "\0"));
    let resp = txn(&mut s, &txn_req(vec![from_a.clone(), op_put("b", "9")])).unwrap();
    assert_eq!(resp.header.revision, 6);
    assert_eq!(
        s.range(&get_req("b")).unwrap().kvs,
        vec![kv("b", 6, 6, 1, "9")]
    );
    // The other order: the put, then the delete removes it too (2 keys: b and zz).
    let resp = txn(&mut s, &txn_req(vec![op_put("zz", "9"), from_a])).unwrap();
    assert_eq!(resp.header.revision, 7);
    let ResponseOp::DeleteRange(d) = &resp.responses[1] else {
        panic!()
    };
    assert_eq!(d.deleted, 2);
    assert_eq!(s.range(&get_req("zz")).unwrap().count, 0);

    // Allowed: a nested txn's then and else put the same key; two nested txns put then delete.
    let resp = txn(
        &mut s,
        &txn_req(vec![op_txn(vec![op_put("n", "6")], vec![op_put("n", "7")])]),
    );
    assert_eq!(resp.unwrap().header.revision, 8);
    let ops = vec![
        op_txn(vec![op_put("n", "6")], vec![]),
        op_txn(vec![op_del("n")], vec![]),
    ];
    let resp = txn(&mut s, &txn_req(ops)).unwrap();
    assert_eq!(resp.header.revision, 9);
    assert_eq!(
        headers(&resp),
        vec![
            Hdr::Txn(0, vec![Hdr::Rev(9)]),
            Hdr::Txn(0, vec![Hdr::Rev(9)])
        ]
    );
    // Allowed: the same key in then and else of the outer txn.
    let req = TxnRequest {
        success: vec![op_put("a", "1")],
        failure: vec![op_put("a", "2")],
        ..TxnRequest::default()
    };
    assert_eq!(txn(&mut s, &req).unwrap().header.revision, 10);
    assert_eq!(
        txn(&mut s, &txn_req(vec![op_put("", "1")])),
        Err(Error::EmptyKey)
    );
}

/// Measured on etcd 3.4.23 (scenario S3).
#[test]
fn ignore_value_ignore_lease_and_missing_leases() {
    let mut s = Mvcc::new();
    for _ in 0..8 {
        put(&mut s, "other", "x");
    }
    put(&mut s, "a", "1"); // 10
    let ign_value = |k: &str, v: &str| PutRequest {
        ignore_value: true,
        ..put_req(k, v)
    };
    let err = s.put(&ign_value("nokey", "v"), &no_lease).unwrap_err();
    assert_eq!(err.to_string(), "etcdserver: value is provided");
    let err = s.put(&ign_value("nokey", ""), &no_lease).unwrap_err();
    assert_eq!(err.to_string(), "etcdserver: key not found");
    let ign_lease = PutRequest {
        ignore_lease: true,
        ..put_req("nokey", "")
    };
    assert_eq!(s.put(&ign_lease, &no_lease), Err(Error::KeyNotFound));
    let with_lease = PutRequest {
        ignore_lease: true,
        lease: 5,
        ..put_req("a", "")
    };
    assert_eq!(
        s.put(&with_lease, &no_lease).unwrap_err().to_string(),
        "etcdserver: lease is provided"
    );

    let resp = s
        .put(
            &PutRequest {
                ignore_lease: true,
                ..put_req("a", "x")
            },
            &no_lease,
        )
        .unwrap();
    assert_eq!(resp.header.revision, 11);
    let resp = s
        .put(
            &PutRequest {
                prev_kv: true,
                ..ign_value("a", "")
            },
            &no_lease,
        )
        .unwrap();
    assert_eq!(resp.header.revision, 12);
    assert_eq!(resp.prev_kv, Some(kv("a", 10, 11, 2, "x")));
    assert_eq!(
        s.range(&get_req("a")).unwrap().kvs,
        vec![kv("a", 10, 12, 3, "x")]
    );

    // A missing lease; checked before the key for a plain put.
    let leased = |k: &str| PutRequest {
        lease: 12345,
        ..put_req(k, "q")
    };
    let err = s.put(&leased("a"), &no_lease).unwrap_err();
    assert_eq!(err.to_string(), "etcdserver: requested lease not found");
    let both = PutRequest {
        lease: 12345,
        ..ign_value("a", "")
    };
    assert_eq!(s.put(&both, &no_lease), Err(Error::LeaseNotFound));
    assert_eq!(
        txn(&mut s, &txn_req(vec![RequestOp::Put(leased("a"))])),
        Err(Error::LeaseNotFound)
    );
    // Only the taken branch is checked.
    let req = TxnRequest {
        compare: vec![cmp("a", CompareResult::Equal, CompareTarget::Version(999))],
        success: vec![RequestOp::Put(leased("a"))],
        failure: vec![op_get("a")],
    };
    let resp = txn(&mut s, &req).unwrap();
    assert_eq!((resp.succeeded, resp.header.revision), (false, 12));
    // In a txn, each put is checked in order: key first, then lease.
    let ops = vec![
        op_put("b", "q"),
        RequestOp::Put(ign_value("nokey", "")),
        RequestOp::Put(leased("c")),
    ];
    assert_eq!(txn(&mut s, &txn_req(ops)), Err(Error::KeyNotFound));
    let ops = vec![
        RequestOp::Put(leased("c")),
        RequestOp::Put(ign_value("nokey", "")),
    ];
    assert_eq!(txn(&mut s, &txn_req(ops)), Err(Error::LeaseNotFound));
    // Against the state before the txn, nested txns included.
    let ops = vec![
        op_put("nokey", "1"),
        op_txn(vec![RequestOp::Put(ign_value("zzz", ""))], vec![]),
    ];
    assert_eq!(txn(&mut s, &txn_req(ops)), Err(Error::KeyNotFound));
    assert_eq!(s.revision(), 12);
    assert_eq!(s.range(&range_req("a", "\0")).unwrap().count, 2);
}

/// Measured on etcd 3.4.23: a from-key delete removes the key that an `ignore_value` put of the
/// same txn needs; the duplicate check lets it through and etcd's apply panics ("unexpected
/// error during txn: etcdserver: key not found"), killing the member. We refuse the txn instead
/// and change nothing.
#[test]
fn txn_failing_mid_apply_changes_nothing() {
    let mut s = Mvcc::new();
    let lease = |id: LeaseId| id == 7;
    s.put(
        &PutRequest {
            lease: 7,
            ..put_req("b", "1")
        },
        &lease,
    )
    .unwrap();
    let before = s.clone();
    let ops = vec![
        op_put("a", "1"),
        RequestOp::DeleteRange(del_range_req("b", "\0")),
        RequestOp::Put(PutRequest {
            ignore_value: true,
            ..put_req("b", "")
        }),
    ];
    assert_eq!(s.txn(&txn_req(ops), &lease), Err(Error::KeyNotFound));
    s.check_invariants();
    assert_eq!(s, before);
    assert_eq!(s.keys_with_lease(7), vec![b"b".to_vec()]);
}

/// Measured on etcd 3.4.23 (scenarios S4, S5).
#[test]
fn compaction_reads() {
    let mut s = Mvcc::new();
    put(&mut s, "a", "1"); // 2
    put(&mut s, "b", "1"); // 3
    put(&mut s, "a", "2"); // 4
    s.delete_range(&del_req("b")).unwrap(); // 5
    put(&mut s, "c", "1"); // 6
    txn(
        &mut s,
        &txn_req(vec![op_put("a", "3"), op_del("c"), op_put("d", "1")]),
    )
    .unwrap(); // 7
    put(&mut s, "e", "1"); // 8
    txn(&mut s, &txn_req(vec![op_del("a"), op_put("f", "1")])).unwrap(); // 9
    put(&mut s, "g", "1"); // 10

    s.compact(9).unwrap();
    s.check_invariants();
    assert_eq!(s.compact_revision(), 9);
    let err = s.compact(9).unwrap_err();
    assert_eq!(
        err.to_string(),
        "etcdserver: mvcc: required revision has been compacted"
    );
    assert_eq!(
        s.compact(8),
        Err(Error::Compacted {
            compact_revision: 9
        })
    );
    assert_eq!(s.compact(100), Err(Error::FutureRevision));

    let all = |rev| RangeRequest {
        revision: rev,
        ..range_req("a", "\0")
    };
    let r = s.range(&all(9)).unwrap();
    assert_eq!(
        r.kvs,
        vec![
            kv("d", 7, 7, 1, "1"),
            kv("e", 8, 8, 1, "1"),
            kv("f", 9, 9, 1, "1")
        ]
    );
    assert_eq!(r.header.revision, 10);
    assert_eq!(
        s.range(&all(8)),
        Err(Error::Compacted {
            compact_revision: 9
        })
    );
    assert_eq!(keys(&s.range(&all(10)).unwrap()), ["d", "e", "f", "g"]);
    assert_eq!(
        s.range(&RangeRequest {
            count_only: true,
            ..all(9)
        })
        .unwrap()
        .count,
        3
    );
    // Inside a txn too.
    let at = |rev| {
        txn_req(vec![RequestOp::Range(RangeRequest {
            revision: rev,
            ..get_req("a")
        })])
    };
    assert_eq!(
        txn(&mut s, &at(8)),
        Err(Error::Compacted {
            compact_revision: 9
        })
    );
    let resp = txn(&mut s, &at(9)).unwrap();
    assert_eq!(headers(&resp), vec![Hdr::Rev(10)]);
    // Compacting at the current revision is allowed.
    s.compact(10).unwrap();
    s.check_invariants();
    assert_eq!(keys(&s.range(&all(10)).unwrap()), ["d", "e", "f", "g"]);
    // Versions survive compaction.
    put(&mut s, "d", "2");
    assert_eq!(
        s.range(&get_req("d")).unwrap().kvs,
        vec![kv("d", 7, 11, 2, "2")]
    );
}

fn event(kind: EventType, kv: KeyValue, prev_kv: Option<KeyValue>) -> Event {
    Event { kind, kv, prev_kv }
}

fn tombstone(key: &str, rev: Revision) -> KeyValue {
    KeyValue {
        key: key.into(),
        mod_revision: rev,
        ..KeyValue::default()
    }
}

/// Measured on etcd 3.4.23 with `etcdctl watch --rev` (scenario S5).
#[test]
fn watch_events_and_compaction_boundary() {
    use EventType::{Delete, Put};
    let mut s = Mvcc::new();
    put(&mut s, "x", "1"); // 2
    put(&mut s, "x", "2"); // 3
    put(&mut s, "y", "1"); // 4
    txn(
        &mut s,
        &txn_req(vec![op_del("y"), op_put("z", "1"), op_del("x")]),
    )
    .unwrap(); // 5
    put(&mut s, "w", "1"); // 6
    put(&mut s, "x", "3"); // 7

    let all = s.events(1, b"a", b"zzz", true, usize::MAX).unwrap();
    assert_eq!(
        all,
        vec![
            event(Put, kv("x", 2, 2, 1, "1"), None),
            event(Put, kv("x", 2, 3, 2, "2"), Some(kv("x", 2, 2, 1, "1"))),
            event(Put, kv("y", 4, 4, 1, "1"), None),
            event(Delete, tombstone("y", 5), Some(kv("y", 4, 4, 1, "1"))),
            event(Put, kv("z", 5, 5, 1, "1"), None),
            event(Delete, tombstone("x", 5), Some(kv("x", 2, 3, 2, "2"))),
            event(Put, kv("w", 6, 6, 1, "1"), None),
            event(Put, kv("x", 7, 7, 1, "3"), None),
        ]
    );
    // Whole revisions only: revision 5's three events come together.
    let first = s.events(4, b"a", b"zzz", false, 2).unwrap();
    assert_eq!(first.len(), 4);
    assert_eq!(first.last().unwrap().kv.mod_revision, 5);
    assert!(s.events(4, b"a", b"zzz", false, 0).unwrap().is_empty());
    assert!(s.events(8, b"a", b"zzz", false, 10).unwrap().is_empty());

    // After compacting at 5: a watch from 5 works but misses the deletions made at 5.
    s.compact(5).unwrap();
    s.check_invariants();
    let from5 = s.events(5, b"a", b"zzz", true, usize::MAX).unwrap();
    assert_eq!(
        from5,
        vec![
            event(Put, kv("z", 5, 5, 1, "1"), None),
            event(Put, kv("w", 6, 6, 1, "1"), None),
            event(Put, kv("x", 7, 7, 1, "3"), None),
        ]
    );
    let err = s.events(4, b"a", b"zzz", true, usize::MAX).unwrap_err();
    assert_eq!(
        err,
        Error::Compacted {
            compact_revision: 5
        }
    );
    assert_eq!(
        err.to_string(),
        "etcdserver: mvcc: required revision has been compacted"
    );
    assert_eq!(
        s.events(6, b"a", b"zzz", true, usize::MAX).unwrap(),
        from5[1..]
    );

    put(&mut s, "z", "2"); // 8
    s.compact(7).unwrap();
    let from7 = s.events(7, b"a", b"zzz", true, usize::MAX).unwrap();
    assert_eq!(
        from7,
        vec![
            event(Put, kv("x", 7, 7, 1, "3"), None),
            // prev_kv at revision 7 is still readable: z's version from 5 is its latest <= 7.
            event(Put, kv("z", 5, 8, 2, "2"), Some(kv("z", 5, 5, 1, "1"))),
        ]
    );
    let r = s
        .range(&RangeRequest {
            revision: 7,
            ..range_req("a", "zzz")
        })
        .unwrap();
    assert_eq!(keys(&r), ["w", "x", "z"]);
}

/// Measured on etcd 3.4.23 (scenario S6): `prev_kv` is left out when revision `mod - 1` is
/// compacted.
#[test]
fn watch_prev_kv_below_compaction_is_left_out() {
    let mut s = Mvcc::new();
    put(&mut s, "p", "1"); // 2
    put(&mut s, "p", "2"); // 3
    s.compact(3).unwrap();
    let events = s.events(3, b"p", b"", true, usize::MAX).unwrap();
    assert_eq!(
        events,
        vec![event(EventType::Put, kv("p", 2, 3, 2, "2"), None)]
    );
}

/// Measured on etcd 3.4.23 (scenario S6).
#[test]
fn leases_move_detach_and_revoke() {
    let mut s = Mvcc::new();
    let exists = |id: LeaseId| id == 100 || id == 200;
    let leased = |k: &str, v: &str, lease| PutRequest {
        lease,
        ..put_req(k, v)
    };
    put(&mut s, "p", "1"); // 2
    put(&mut s, "p", "2"); // 3
    for (k, v, lease) in [
        ("lc", "1", 100),
        ("la", "1", 100),
        ("lb", "1", 200),
        ("lb", "2", 100),
    ] {
        s.put(&leased(k, v, lease), &exists).unwrap(); // 4, 5, 6, 7 (lb moves to 100)
        s.check_invariants();
    }
    s.put(&leased("ld", "1", 200), &exists).unwrap(); // 8
    put(&mut s, "ld", "2"); // 9: detached
    let ks = |v: &[&str]| v.iter().map(|k| k.as_bytes().to_vec()).collect::<Vec<_>>();
    assert_eq!(s.keys_with_lease(100), ks(&["la", "lb", "lc"]));
    assert_eq!(s.keys_with_lease(200), ks(&[]));
    assert_eq!(s.revision(), 9);

    assert_eq!(s.revoke_lease(100), ks(&["la", "lb", "lc"]));
    s.check_invariants();
    assert_eq!(s.revision(), 10);
    assert!(s.revoke_lease(200).is_empty());
    assert_eq!(s.revision(), 10);
    let r = s.range(&range_req("l", "m")).unwrap();
    assert_eq!(r.kvs, vec![kv("ld", 8, 9, 2, "2")]);
    let events = s.events(10, b"l", b"m", true, usize::MAX).unwrap();
    let prev = |k: &str, c, m, ver, v: &str| KeyValue {
        lease: 100,
        ..kv(k, c, m, ver, v)
    };
    assert_eq!(
        events,
        vec![
            event(
                EventType::Delete,
                tombstone("la", 10),
                Some(prev("la", 5, 5, 1, "1"))
            ),
            event(
                EventType::Delete,
                tombstone("lb", 10),
                Some(prev("lb", 6, 7, 2, "2"))
            ),
            event(
                EventType::Delete,
                tombstone("lc", 10),
                Some(prev("lc", 4, 4, 1, "1"))
            ),
        ]
    );
}

#[test]
fn delete_detaches_lease_and_delete_nothing_keeps_revision() {
    let mut s = Mvcc::new();
    let exists = |id: LeaseId| id == 1;
    s.put(
        &PutRequest {
            lease: 1,
            ..put_req("a", "1")
        },
        &exists,
    )
    .unwrap();
    s.delete_range(&del_range_req("a", "b")).unwrap();
    s.check_invariants();
    assert!(s.keys_with_lease(1).is_empty());
    let resp = s.delete_range(&del_range_req("a", "b")).unwrap();
    assert_eq!((resp.header.revision, resp.deleted), (3, 0));
    assert_eq!(s.delete_range(&del_req("")), Err(Error::EmptyKey));
}

/// Measured on etcd 3.4.23 (default `--max-txn-ops` 128).
#[test]
fn too_many_ops() {
    let mut s = Mvcc::new();
    let ops = |n: usize| {
        (0..n)
            .map(|i| op_put(&format!("k{i}"), "v"))
            .collect::<Vec<_>>()
    };
    assert_eq!(txn(&mut s, &txn_req(ops(129))), Err(Error::TooManyOps));
    assert_eq!(txn(&mut s, &txn_req(ops(128))).unwrap().header.revision, 2);
    // A nested txn gets what its parent's widest list leaves.
    let nested = txn_req(vec![op_txn(ops(128), vec![])]);
    assert_eq!(txn(&mut s, &nested), Err(Error::TooManyOps));
    let nested = txn_req(vec![op_txn(ops(127), vec![])]);
    assert_eq!(txn(&mut s, &nested).unwrap().header.revision, 3);
}

#[test]
fn snapshot_round_trip_rebuilds_indexes() {
    let mut s = Mvcc::new();
    let exists = |_| true;
    s.put(
        &PutRequest {
            lease: 3,
            ..put_req("a", "1")
        },
        &exists,
    )
    .unwrap();
    put(&mut s, "b", "1");
    s.put(
        &PutRequest {
            lease: 4,
            ..put_req("b", "2")
        },
        &exists,
    )
    .unwrap();
    s.delete_range(&del_req("a")).unwrap();
    s.compact(3).unwrap();
    let bytes = bincode::serialize(&s).unwrap();
    let back: Mvcc = bincode::deserialize(&bytes).unwrap();
    back.check_invariants();
    assert_eq!(back, s);
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<Mvcc>(&json).unwrap(), s);
}
