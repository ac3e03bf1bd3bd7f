//! Words for the hover titles and captions: operations, outcomes, times.

use sim::{
    ClientRequest, ClientResponse, Compare, CompareResult, CompareTarget, Operation, Outcome,
    RequestOp, ResponseOp,
};

/// Simulated milliseconds as seconds for captions: `12.31 s`, `10 s`.
pub(crate) fn secs(ms: u64) -> String {
    format!("{} s", secs_bare(ms))
}

/// `12.31`, `10`: two decimals at most, trailing zeros dropped.
pub(crate) fn secs_bare(ms: u64) -> String {
    let s = format!("{:.2}", ms as f64 / 1000.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A span for captions: `10–25 s`.
pub(crate) fn span(from_ms: u64, to_ms: u64) -> String {
    format!("{}–{} s", secs_bare(from_ms), secs_bare(to_ms))
}

/// Exact simulated time for hover titles: `13.521 s`.
pub(crate) fn exact(ms: u64) -> String {
    format!("{:.3} s", ms as f64 / 1000.0)
}

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

/// The outcome in a few words: `ok, rev 57 (n3)`, `fail: etcdserver: no leader`.
pub(crate) fn outcome(o: &Outcome) -> String {
    match o {
        Outcome::Pending => "pending".into(),
        Outcome::Indeterminate => "indeterminate: no answer came".into(),
        Outcome::Fail(e) => format!("fail: {e}"),
        Outcome::Ok(r) => {
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
    }
}

/// A hover title for an operation: what, by whom, invoke/return, result.
pub(crate) fn operation(op: &Operation) -> String {
    let ret = match op.return_ms {
        Some(r) => format!("returned {} ({} ms)", exact(r), r - op.invoke_ms),
        None => "never returned".into(),
    };
    format!(
        "{} #{}: {}\ninvoked {}, {ret}\n{}",
        op.process,
        op.index,
        request(&op.request),
        exact(op.invoke_ms),
        outcome(&op.outcome)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_naturally() {
        assert_eq!(secs(12_310), "12.31 s");
        assert_eq!(secs(10_000), "10 s");
        assert_eq!(span(10_000, 25_000), "10–25 s");
        assert_eq!(exact(13_521), "13.521 s");
    }
}
