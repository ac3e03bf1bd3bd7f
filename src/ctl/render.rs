//! A command's result → one JSON value in `etcdctl -w json`'s shape (etcdctl 3.4).
//!
//! etcdctl prints with Go's `encoding/json`, which explains every quirk reproduced here (all
//! measured on etcd 3.4.23, see the tests):
//! - protobuf messages (`header`, `kvs`, put/del/range/txn responses, status) carry
//!   `omitempty` tags: zero numbers, `false`, empty bytes and empty lists are left out, so a
//!   failed txn has no `succeeded` and a key with an empty value has no `value`;
//! - bytes are base64; u64 ids are plain JSON numbers;
//! - a txn's sub-responses are Go oneof wrappers: `{"Response":{"ResponsePut":{…}}}`;
//! - lease and watch answers are clientv3 structs, not protobufs: the header is flattened into
//!   the lease objects (`"cluster_id":…,"ID":…,"TTL":…`), field names are Go's or ad hoc
//!   (`ID`/`TTL`, but `id`/`ttl`/`granted-ttl` for timetolive), and zeros are printed;
//! - the status response uses camelCase (`dbSize`, `raftIndex`).
//!
//! Two answers have no etcdctl JSON and get a documented shape of ours: `compaction` (etcdctl
//! prints the text `compacted revision N` even with `-w json`) and errors (etcdctl prints
//! `Error: <message>` on stderr and exits non-zero).
//!
//! The measurements are pinned by the unit tests in `render/tests.rs`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use sim::{
    DeleteRangeResponse, Event, EventType, KeyValue, PutResponse, RangeResponse, ResponseHeader,
    ResponseOp, TxnResponse,
};

use super::command::{member_name, Command, ParseError};
use super::Output;

/// Renders one command's result as etcdctl would print it with `-w json`.
///
/// Errors become `{"error": "<etcd message>", "code": "<gRPC code>"}`. Simulation commands get
/// `{"ok":true, …}` (`slept_ms`, `crashed`, `restarted`, `partition`) or, for `leader`,
/// `{"leader":"n2"|null,"term":3}`.
pub fn render(cmd: &Command, result: &Result<Output, sim::Error>) -> Value {
    let output = match result {
        Ok(output) => output,
        Err(e) => return render_error(&e.to_string(), e.code()),
    };
    match output {
        Output::Range(r) => range(r),
        Output::Put(r) => put(r),
        Output::DeleteRange(r) => delete_range(r),
        Output::Txn(r) => txn(r),
        Output::LeaseGrant(r) => {
            let mut o = flat_header(&r.header);
            o.insert("ID".into(), r.id.into());
            o.insert("TTL".into(), r.ttl.into());
            o.insert("Error".into(), "".into());
            Value::Object(o)
        }
        Output::LeaseRevoke(r) => json!({ "header": header(&r.header) }),
        Output::LeaseKeepAlive(r) => {
            let mut o = flat_header(&r.header);
            o.insert("ID".into(), r.id.into());
            o.insert("TTL".into(), r.ttl.into());
            Value::Object(o)
        }
        Output::LeaseTimeToLive(r) => {
            let mut o = flat_header(&r.header);
            o.insert("id".into(), r.id.into());
            o.insert("ttl".into(), r.ttl.into());
            o.insert("granted-ttl".into(), r.granted_ttl.into());
            // A nil Go slice: `null`, also when --keys was given but no key is attached.
            let keys = if r.keys.is_empty() {
                Value::Null
            } else {
                r.keys.iter().map(|k| b64(k)).collect()
            };
            o.insert("keys".into(), keys);
            Value::Object(o)
        }
        Output::LeaseLeases(r) => {
            let mut o = flat_header(&r.header);
            let leases = r.leases.iter().map(|id| json!({ "id": id })).collect();
            o.insert("leases".into(), Value::Array(leases));
            Value::Object(o)
        }
        Output::Compaction(r) => json!({ "header": header(&r.header) }),
        Output::Watch(w) => json!({
            "Header": header(&w.header),
            "Events": w.events.iter().map(event).collect::<Vec<_>>(),
            "CompactRevision": 0,
            "Canceled": false,
            "Created": false,
        }),
        Output::EndpointStatus(members) => members
            .iter()
            .map(|m| {
                let s = &m.status;
                let mut o = Obj::default();
                o.put("header", header(&s.header));
                o.string("version", &s.version);
                o.int("dbSize", s.db_size);
                o.uint("leader", s.leader);
                o.uint("raftIndex", s.raft_index);
                o.uint("raftTerm", s.raft_term);
                o.uint("raftAppliedIndex", s.raft_applied_index);
                json!({ "Endpoint": member_name(m.member), "Status": o.done() })
            })
            .collect(),
        Output::Slept(d) => json!({ "ok": true, "slept_ms": d.as_millis() as u64 }),
        Output::Done => match cmd {
            Command::Crash(m) => json!({ "ok": true, "crashed": member_name(*m) }),
            Command::Restart(m) => json!({ "ok": true, "restarted": member_name(*m) }),
            Command::Partition(groups) => {
                let groups: Vec<Vec<String>> = groups
                    .iter()
                    .map(|g| g.iter().map(|&m| member_name(m)).collect())
                    .collect();
                json!({ "ok": true, "partition": groups })
            }
            _ => json!({ "ok": true }),
        },
        Output::Faulted(hosts) => match cmd {
            Command::Fault(fault) => json!({ "ok": true, "fault": fault.name(), "hosts": hosts }),
            _ => json!({ "ok": true, "hosts": hosts }),
        },
        Output::Leader { leader, term } => {
            json!({ "leader": leader.map(member_name), "term": term })
        }
    }
}

/// Our error line: `{"error": message, "code": gRPC code name}`.
pub fn render_error(message: &str, code: &str) -> Value {
    json!({ "error": message, "code": code })
}

/// A malformed line, as an `InvalidArgument` error line.
pub fn render_parse_error(e: &ParseError) -> Value {
    render_error(e.message(), "InvalidArgument")
}

/// A JSON object that leaves out zero values, as Go's `omitempty`.
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    fn int(&mut self, name: &str, v: i64) {
        if v != 0 {
            self.0.insert(name.into(), v.into());
        }
    }

    fn uint(&mut self, name: &str, v: u64) {
        if v != 0 {
            self.0.insert(name.into(), v.into());
        }
    }

    fn bool(&mut self, name: &str, v: bool) {
        if v {
            self.0.insert(name.into(), true.into());
        }
    }

    fn bytes(&mut self, name: &str, v: &[u8]) {
        if !v.is_empty() {
            self.0.insert(name.into(), b64(v));
        }
    }

    fn string(&mut self, name: &str, v: &str) {
        if !v.is_empty() {
            self.0.insert(name.into(), v.into());
        }
    }

    fn list(&mut self, name: &str, v: Vec<Value>) {
        if !v.is_empty() {
            self.0.insert(name.into(), Value::Array(v));
        }
    }

    fn put(&mut self, name: &str, v: Value) {
        self.0.insert(name.into(), v);
    }

    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(STANDARD.encode(bytes))
}

fn header_fields(h: &ResponseHeader) -> Obj {
    let mut o = Obj::default();
    o.uint("cluster_id", h.cluster_id);
    o.uint("member_id", h.member_id);
    o.int("revision", h.revision);
    o.uint("raft_term", h.raft_term);
    o
}

fn header(h: &ResponseHeader) -> Value {
    header_fields(h).done()
}

/// clientv3 embeds `*pb.ResponseHeader` in its lease responses, so Go flattens its (omitempty)
/// fields into the outer object.
fn flat_header(h: &ResponseHeader) -> Map<String, Value> {
    header_fields(h).0
}

fn kv(kv: &KeyValue) -> Value {
    let mut o = Obj::default();
    o.bytes("key", &kv.key);
    o.int("create_revision", kv.create_revision);
    o.int("mod_revision", kv.mod_revision);
    o.int("version", kv.version);
    o.bytes("value", &kv.value);
    o.int("lease", kv.lease);
    o.done()
}

fn range(r: &RangeResponse) -> Value {
    let mut o = Obj::default();
    o.put("header", header(&r.header));
    o.list("kvs", r.kvs.iter().map(kv).collect());
    o.bool("more", r.more);
    o.int("count", r.count);
    o.done()
}

fn put(r: &PutResponse) -> Value {
    let mut o = Obj::default();
    o.put("header", header(&r.header));
    if let Some(prev) = &r.prev_kv {
        o.put("prev_kv", kv(prev));
    }
    o.done()
}

fn delete_range(r: &DeleteRangeResponse) -> Value {
    let mut o = Obj::default();
    o.put("header", header(&r.header));
    o.int("deleted", r.deleted);
    o.list("prev_kvs", r.prev_kvs.iter().map(kv).collect());
    o.done()
}

fn txn(r: &TxnResponse) -> Value {
    let mut o = Obj::default();
    o.put("header", header(&r.header));
    o.bool("succeeded", r.succeeded);
    let responses = r
        .responses
        .iter()
        .map(|op| {
            let (name, body) = match op {
                ResponseOp::Range(r) => ("ResponseRange", range(r)),
                ResponseOp::Put(r) => ("ResponsePut", put(r)),
                ResponseOp::DeleteRange(r) => ("ResponseDeleteRange", delete_range(r)),
                ResponseOp::Txn(r) => ("ResponseTxn", txn(r)),
            };
            json!({ "Response": { name: body } })
        })
        .collect();
    o.list("responses", responses);
    o.done()
}

fn event(e: &Event) -> Value {
    let mut o = Obj::default();
    // mvccpb.Event_EventType: PUT = 0 (left out), DELETE = 1.
    o.int(
        "type",
        match e.kind {
            EventType::Put => 0,
            EventType::Delete => 1,
        },
    );
    o.put("kv", kv(&e.kv));
    if let Some(prev) = &e.prev_kv {
        o.put("prev_kv", kv(prev));
    }
    o.done()
}

#[cfg(test)]
mod tests;
