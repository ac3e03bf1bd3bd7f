//! etcd requests and answers in etcdctl's words, for history summaries (text output, timeline
//! titles): `txn if create(lock/…) = 0 then put lock/… lease 0x… else get lock/…`.

use crate::etcd::request::{Compare, CompareResult, CompareTarget, RequestOp, ResponseOp};
use crate::etcd::transport::{ClientRequest, ClientResponse};

fn key(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn range(key_bytes: &[u8], end: &[u8]) -> String {
    if end.is_empty() {
        key(key_bytes)
    } else if end == [0] {
        format!("{}…", key(key_bytes))
    } else {
        format!("[{}, {})", key(key_bytes), key(end))
    }
}

fn compare(c: &Compare) -> String {
    let (target, value) = match &c.target {
        CompareTarget::Version(v) => ("version", v.to_string()),
        CompareTarget::Create(r) => ("create", r.to_string()),
        CompareTarget::Mod(r) => ("mod", r.to_string()),
        CompareTarget::Value(v) => ("value", format!("{:?}", key(v))),
        CompareTarget::Lease(l) => ("lease", format!("{l:#x}")),
    };
    let op = match c.result {
        CompareResult::Equal => "=",
        CompareResult::Greater => ">",
        CompareResult::Less => "<",
        CompareResult::NotEqual => "!=",
    };
    format!("{target}({}) {op} {value}", range(&c.key, &c.range_end))
}

fn request_op(op: &RequestOp) -> String {
    match op {
        RequestOp::Range(r) => format!("get {}", range(&r.key, &r.range_end)),
        RequestOp::Put(p) if p.lease != 0 => format!("put {} lease {:#x}", key(&p.key), p.lease),
        RequestOp::Put(p) => format!("put {}", key(&p.key)),
        RequestOp::DeleteRange(d) => format!("del {}", range(&d.key, &d.range_end)),
        RequestOp::Txn(_) => "txn".into(),
    }
}

/// The request in etcdctl's words: `txn if create(lock/…) Equal then put lock/… lease 0x…`.
pub(crate) fn request(r: &ClientRequest) -> String {
    match r {
        ClientRequest::Range(r) => {
            let mut s = format!("get {}", range(&r.key, &r.range_end));
            if r.revision > 0 {
                s.push_str(&format!(" --rev={}", r.revision));
            }
            if r.limit > 0 {
                s.push_str(&format!(" --limit={}", r.limit));
            }
            if r.serializable {
                s.push_str(" --consistency=s");
            }
            s
        }
        ClientRequest::Put(p) if p.lease != 0 => {
            format!("put {} lease {:#x}", key(&p.key), p.lease)
        }
        ClientRequest::Put(p) => format!("put {}", key(&p.key)),
        ClientRequest::DeleteRange(d) => format!("del {}", range(&d.key, &d.range_end)),
        ClientRequest::Txn(t) => {
            let list =
                |ops: &[RequestOp]| ops.iter().map(request_op).collect::<Vec<_>>().join("; ");
            let cmp: Vec<String> = t.compare.iter().map(compare).collect();
            format!(
                "txn if {} then {} else {}",
                cmp.join(" && "),
                list(&t.success),
                list(&t.failure)
            )
        }
        ClientRequest::Compact(c) => format!("compaction {}", c.revision),
        ClientRequest::LeaseGrant(g) => format!("lease grant {}", g.ttl),
        ClientRequest::LeaseRevoke(l) => format!("lease revoke {:#x}", l.id),
        ClientRequest::LeaseKeepAlive(l) => format!("lease keep-alive {:#x}", l.id),
        ClientRequest::LeaseTimeToLive(l) => format!("lease timetolive {:#x}", l.id),
        ClientRequest::LeaseLeases => "lease list".into(),
        ClientRequest::Watch(w) => format!(
            "watch {} --rev={}",
            range(&w.key, &w.range_end),
            w.start_revision
        ),
        ClientRequest::Status => "endpoint status".into(),
    }
}

fn response_op(r: &ResponseOp) -> String {
    match r {
        ResponseOp::Range(r) => format!("{} kv", r.kvs.len()),
        ResponseOp::Put(_) => "put".into(),
        ResponseOp::DeleteRange(d) => format!("{} deleted", d.deleted),
        ResponseOp::Txn(t) => format!("txn succeeded={}", t.succeeded),
    }
}

/// An answer in a few words: `ok, put, rev 57 (n3, term 2)`.
pub(crate) fn response(r: &ClientResponse) -> String {
    let h = r.header();
    let what = match r {
        ClientResponse::Range(r) => {
            let kvs: Vec<String> = r.kvs.iter().take(3).map(|kv| key(&kv.key)).collect();
            format!("{} kv [{}]", r.count, kvs.join(", "))
        }
        ClientResponse::Put(_) => "put".into(),
        ClientResponse::DeleteRange(d) => format!("{} deleted", d.deleted),
        ClientResponse::Txn(t) => {
            let rs: Vec<String> = t.responses.iter().map(response_op).collect();
            format!("succeeded={} [{}]", t.succeeded, rs.join("; "))
        }
        ClientResponse::LeaseGrant(g) => format!("lease {:#x} TTL {} s", g.id, g.ttl),
        ClientResponse::LeaseKeepAlive(k) => format!("TTL {} s", k.ttl),
        ClientResponse::LeaseRevoke(_) => "revoked".into(),
        ClientResponse::Watch(_) => "events".into(),
        _ => "answered".into(),
    };
    format!(
        "ok, {what}, rev {} (n{}, term {})",
        h.revision, h.member_id, h.raft_term
    )
}
