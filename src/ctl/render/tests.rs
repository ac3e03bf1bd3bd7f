//! The renderer's unit tests: each output in `etcdctl -w json`'s shape.

use std::time::Duration;

use sim::*;

use super::super::{EndpointStatus, WatchOutput};
use super::*;

const CLUSTER: u64 = 6001611773266757492;
const MEMBER: u64 = 13049071153751544597;

fn hdr(revision: i64) -> ResponseHeader {
    ResponseHeader {
        cluster_id: CLUSTER,
        member_id: MEMBER,
        revision,
        raft_term: 2,
    }
}

/// Only `revision`: etcd fills no other header field in a txn's sub-responses.
fn rev_only(revision: i64) -> ResponseHeader {
    ResponseHeader {
        revision,
        ..ResponseHeader::default()
    }
}

fn kv(key: &str, value: &str, create: i64, modified: i64, version: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        create_revision: create,
        mod_revision: modified,
        version,
        value: value.into(),
        lease: 0,
    }
}

fn cmd(line: &str) -> Command {
    super::super::parse_line(line).unwrap().unwrap()
}

/// Renders and compares with what etcdctl printed (as JSON values: key order is free).
fn check(line: &str, output: Output, measured: &str) {
    let got = render(&cmd(line), &Ok(output));
    let want: Value = serde_json::from_str(measured).unwrap();
    assert_eq!(got, want, "{line}:\n got  {got}\n want {want}");
}

// Every `measured` string below was printed by `etcdctl -w json` against etcd 3.4.23.

#[test]
fn put_without_and_with_prev_kv() {
    check(
        "put a 1",
        Output::Put(PutResponse {
            header: hdr(2),
            prev_kv: None,
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":2,"raft_term":2}}"#,
    );
    check(
        "put a 2 --prev-kv",
        Output::Put(PutResponse {
            header: hdr(3),
            prev_kv: Some(kv("a", "1", 2, 2, 1)),
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":3,"raft_term":2},"prev_kv":{"key":"YQ==","create_revision":2,"mod_revision":2,"version":1,"value":"MQ=="}}"#,
    );
}

#[test]
fn get_found_missing_limited_keys_only_empty_value_and_lease() {
    check(
        "get a",
        Output::Range(RangeResponse {
            header: hdr(3),
            kvs: vec![kv("a", "2", 2, 3, 2)],
            more: false,
            count: 1,
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":3,"raft_term":2},"kvs":[{"key":"YQ==","create_revision":2,"mod_revision":3,"version":2,"value":"Mg=="}],"count":1}"#,
    );
    // Nothing found: no kvs, no count (0), no more (false).
    check(
        "get zz",
        Output::Range(RangeResponse {
            header: hdr(3),
            ..RangeResponse::default()
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":3,"raft_term":2}}"#,
    );
    check(
        "get k --prefix --limit=2",
        Output::Range(RangeResponse {
            header: hdr(7),
            kvs: vec![kv("k1", "vk1", 5, 5, 1), kv("k2", "vk2", 6, 6, 1)],
            more: true,
            count: 3,
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":7,"raft_term":2},"kvs":[{"key":"azE=","create_revision":5,"mod_revision":5,"version":1,"value":"dmsx"},{"key":"azI=","create_revision":6,"mod_revision":6,"version":1,"value":"dmsy"}],"more":true,"count":3}"#,
    );
    check(
        "get a --keys-only",
        Output::Range(RangeResponse {
            header: hdr(3),
            kvs: vec![kv("a", "", 2, 3, 2)],
            more: false,
            count: 1,
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":3,"raft_term":2},"kvs":[{"key":"YQ==","create_revision":2,"mod_revision":3,"version":2}],"count":1}"#,
    );
    check(
        "get lk",
        Output::Range(RangeResponse {
            header: hdr(11),
            kvs: vec![KeyValue {
                lease: 5986869425386499357,
                ..kv("lk", "v", 11, 11, 1)
            }],
            more: false,
            count: 1,
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":11,"raft_term":2},"kvs":[{"key":"bGs=","create_revision":11,"mod_revision":11,"version":1,"value":"dg==","lease":5986869425386499357}],"count":1}"#,
    );
}

#[test]
fn del_with_prev_kv_nothing_and_count() {
    check(
        "del a --prev-kv",
        Output::DeleteRange(DeleteRangeResponse {
            header: hdr(4),
            deleted: 1,
            prev_kvs: vec![kv("a", "2", 2, 3, 2)],
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":4,"raft_term":2},"deleted":1,"prev_kvs":[{"key":"YQ==","create_revision":2,"mod_revision":3,"version":2,"value":"Mg=="}]}"#,
    );
    check(
        "del nothing",
        Output::DeleteRange(DeleteRangeResponse {
            header: hdr(4),
            ..DeleteRangeResponse::default()
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":4,"raft_term":2}}"#,
    );
    check(
        "del k --prefix",
        Output::DeleteRange(DeleteRangeResponse {
            header: hdr(8),
            deleted: 3,
            prev_kvs: vec![],
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":8,"raft_term":2},"deleted":3}"#,
    );
}

#[test]
fn txn_succeeded_failed_and_empty() {
    check(
        r#"txn IF mod("t1") > "0" THEN put t1 b --prev-kv; del t3 --prev-kv; get nothing; get t --prefix --limit=1 --keys-only"#,
        Output::Txn(TxnResponse {
            header: hdr(13),
            succeeded: true,
            responses: vec![
                ResponseOp::Put(PutResponse {
                    header: rev_only(13),
                    prev_kv: Some(kv("t1", "a", 9, 9, 1)),
                }),
                ResponseOp::DeleteRange(DeleteRangeResponse {
                    header: rev_only(13),
                    deleted: 1,
                    prev_kvs: vec![kv("t3", "c", 10, 10, 1)],
                }),
                ResponseOp::Range(RangeResponse {
                    header: rev_only(13),
                    ..RangeResponse::default()
                }),
                ResponseOp::Range(RangeResponse {
                    header: rev_only(13),
                    kvs: vec![kv("t1", "", 9, 13, 2)],
                    more: false,
                    count: 1,
                }),
            ],
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":13,"raft_term":2},"succeeded":true,"responses":[{"Response":{"ResponsePut":{"header":{"revision":13},"prev_kv":{"key":"dDE=","create_revision":9,"mod_revision":9,"version":1,"value":"YQ=="}}}},{"Response":{"ResponseDeleteRange":{"header":{"revision":13},"deleted":1,"prev_kvs":[{"key":"dDM=","create_revision":10,"mod_revision":10,"version":1,"value":"Yw=="}]}}},{"Response":{"ResponseRange":{"header":{"revision":13}}}},{"Response":{"ResponseRange":{"header":{"revision":13},"kvs":[{"key":"dDE=","create_revision":9,"mod_revision":13,"version":2}],"count":1}}}]}"#,
    );
    // A failed txn has no "succeeded" at all (false is omitted).
    check(
        r#"txn IF value("t1") = "zz" THEN put t2 b ELSE put t3 c; get t1; del nothing"#,
        Output::Txn(TxnResponse {
            header: hdr(10),
            succeeded: false,
            responses: vec![
                ResponseOp::Put(PutResponse {
                    header: rev_only(10),
                    prev_kv: None,
                }),
                ResponseOp::Range(RangeResponse {
                    header: rev_only(10),
                    kvs: vec![kv("t1", "a", 9, 9, 1)],
                    more: false,
                    count: 1,
                }),
                ResponseOp::DeleteRange(DeleteRangeResponse {
                    header: rev_only(10),
                    ..DeleteRangeResponse::default()
                }),
            ],
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":10,"raft_term":2},"responses":[{"Response":{"ResponsePut":{"header":{"revision":10}}}},{"Response":{"ResponseRange":{"header":{"revision":10},"kvs":[{"key":"dDE=","create_revision":9,"mod_revision":9,"version":1,"value":"YQ=="}],"count":1}}},{"Response":{"ResponseDeleteRange":{"header":{"revision":10}}}}]}"#,
    );
    check(
        "txn",
        Output::Txn(TxnResponse {
            header: hdr(10),
            succeeded: true,
            responses: vec![],
        }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":10,"raft_term":2},"succeeded":true}"#,
    );
}

#[test]
fn lease_answers_flatten_the_header() {
    check(
        "lease grant 10",
        Output::LeaseGrant(LeaseGrantResponse {
            header: hdr(10),
            id: 5986869425386499353,
            ttl: 10,
        }),
        r#"{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":10,"raft_term":2,"ID":5986869425386499353,"TTL":10,"Error":""}"#,
    );
    check(
        "lease keep-alive --once 5315a205c8cf2d1d",
        Output::LeaseKeepAlive(LeaseKeepAliveResponse {
            header: hdr(11),
            id: 5986869425386499357,
            ttl: 100,
        }),
        r#"{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":11,"raft_term":2,"ID":5986869425386499357,"TTL":100}"#,
    );
    check(
        "lease timetolive 5315a205c8cf2d1d --keys",
        Output::LeaseTimeToLive(LeaseTimeToLiveResponse {
            header: hdr(11),
            id: 5986869425386499357,
            ttl: 97,
            granted_ttl: 100,
            keys: vec![b"lk".to_vec()],
        }),
        r#"{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":11,"raft_term":2,"id":5986869425386499357,"ttl":97,"granted-ttl":100,"keys":["bGs="]}"#,
    );
    // Unknown lease: not an error; ttl -1 and granted-ttl 0 are printed.
    check(
        "lease timetolive 1234",
        Output::LeaseTimeToLive(LeaseTimeToLiveResponse {
            header: hdr(11),
            id: 0x1234,
            ttl: -1,
            granted_ttl: 0,
            keys: vec![],
        }),
        r#"{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":11,"raft_term":2,"id":4660,"ttl":-1,"granted-ttl":0,"keys":null}"#,
    );
    check(
        "lease list",
        Output::LeaseLeases(LeaseLeasesResponse {
            header: hdr(11),
            leases: vec![5986869425386499353, 5986869425386499357],
        }),
        r#"{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":11,"raft_term":2,"leases":[{"id":5986869425386499353},{"id":5986869425386499357}]}"#,
    );
    check(
        "lease list",
        Output::LeaseLeases(LeaseLeasesResponse {
            header: hdr(12),
            leases: vec![],
        }),
        r#"{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":12,"raft_term":2,"leases":[]}"#,
    );
    check(
        "lease revoke 5315a205c8cf2d1d",
        Output::LeaseRevoke(LeaseRevokeResponse { header: hdr(12) }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":12,"raft_term":2}}"#,
    );
}

#[test]
fn watch_is_one_response_with_all_events() {
    let put = |key: &str, value: &str, rev: i64| Event {
        kind: EventType::Put,
        kv: kv(key, value, rev, rev, 1),
        prev_kv: None,
    };
    let delete = |key: &str, rev: i64| Event {
        kind: EventType::Delete,
        kv: KeyValue {
            key: key.into(),
            mod_revision: rev,
            ..KeyValue::default()
        },
        prev_kv: None,
    };
    check(
        "watch k --prefix --rev=6",
        Output::Watch(WatchOutput {
            header: hdr(12),
            events: vec![
                put("k2", "vk2", 6),
                put("k3", "vk3", 7),
                delete("k1", 8),
                delete("k2", 8),
                delete("k3", 8),
            ],
        }),
        r#"{"Header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":12,"raft_term":2},"Events":[{"kv":{"key":"azI=","create_revision":6,"mod_revision":6,"version":1,"value":"dmsy"}},{"kv":{"key":"azM=","create_revision":7,"mod_revision":7,"version":1,"value":"dmsz"}},{"type":1,"kv":{"key":"azE=","mod_revision":8}},{"type":1,"kv":{"key":"azI=","mod_revision":8}},{"type":1,"kv":{"key":"azM=","mod_revision":8}}],"CompactRevision":0,"Canceled":false,"Created":false}"#,
    );
    check(
        "watch t --prefix --rev=13 --prev-kv",
        Output::Watch(WatchOutput {
            header: hdr(13),
            events: vec![
                Event {
                    kind: EventType::Put,
                    kv: kv("t1", "b", 9, 13, 2),
                    prev_kv: Some(kv("t1", "a", 9, 9, 1)),
                },
                Event {
                    prev_kv: Some(kv("t3", "c", 10, 10, 1)),
                    ..delete("t3", 13)
                },
            ],
        }),
        r#"{"Header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":13,"raft_term":2},"Events":[{"kv":{"key":"dDE=","create_revision":9,"mod_revision":13,"version":2,"value":"Yg=="},"prev_kv":{"key":"dDE=","create_revision":9,"mod_revision":9,"version":1,"value":"YQ=="}},{"type":1,"kv":{"key":"dDM=","mod_revision":13},"prev_kv":{"key":"dDM=","create_revision":10,"mod_revision":10,"version":1,"value":"Yw=="}}],"CompactRevision":0,"Canceled":false,"Created":false}"#,
    );
}

#[test]
fn endpoint_status_is_an_array_with_camel_case_status() {
    // etcd's "Endpoint" is the client URL; ours is the member name. etcd also prints
    // dbSizeInUse, which the sim does not track.
    check(
        "endpoint status",
        Output::EndpointStatus(vec![EndpointStatus {
            member: 1,
            status: StatusResponse {
                header: hdr(12),
                version: "3.4.23".into(),
                db_size: 20480,
                leader: MEMBER,
                raft_index: 27,
                raft_term: 2,
                raft_applied_index: 27,
            },
        }]),
        r#"[{"Endpoint":"n1","Status":{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":12,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":13049071153751544597,"raftIndex":27,"raftTerm":2,"raftAppliedIndex":27}}]"#,
    );
}

#[test]
fn compaction_errors_and_simulation_commands_have_our_shape() {
    check(
        "compaction 5",
        Output::Compaction(CompactionResponse { header: hdr(12) }),
        r#"{"header":{"cluster_id":6001611773266757492,"member_id":13049071153751544597,"revision":12,"raft_term":2}}"#,
    );
    let err = render(
        &cmd("get k1 --rev=3"),
        &Err(sim::Error::Compacted {
            compact_revision: 5,
        }),
    );
    assert_eq!(
        err,
        json!({"error": "etcdserver: mvcc: required revision has been compacted", "code": "OutOfRange"})
    );
    let err = render(&cmd("lease revoke 1"), &Err(sim::Error::LeaseNotFound));
    assert_eq!(
        err,
        json!({"error": "etcdserver: requested lease not found", "code": "NotFound"})
    );
    check(
        "sleep 500ms",
        Output::Slept(Duration::from_millis(500)),
        r#"{"ok":true,"slept_ms":500}"#,
    );
    check("crash n1", Output::Done, r#"{"ok":true,"crashed":"n1"}"#);
    check(
        "restart n1",
        Output::Done,
        r#"{"ok":true,"restarted":"n1"}"#,
    );
    check(
        "partition n1,n2 | n3",
        Output::Done,
        r#"{"ok":true,"partition":[["n1","n2"],["n3"]]}"#,
    );
    check("heal", Output::Done, r#"{"ok":true}"#);
    check(
        "leader",
        Output::Leader {
            leader: Some(2),
            term: 3,
        },
        r#"{"leader":"n2","term":3}"#,
    );
    check(
        "leader",
        Output::Leader {
            leader: None,
            term: 4,
        },
        r#"{"leader":null,"term":4}"#,
    );
}

#[test]
fn big_ids_stay_exact_json_numbers() {
    let line = render(
        &cmd("put a 1"),
        &Ok(Output::Put(PutResponse {
            header: hdr(2),
            prev_kv: None,
        })),
    )
    .to_string();
    assert!(
        line.contains("\"member_id\":13049071153751544597"),
        "{line}"
    );
}
