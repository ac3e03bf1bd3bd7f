//! `StaleRead`: the plainest evidence that a KV history is not linearizable — a read that
//! returned a key's value older than a write to that key acknowledged before the read began.
//!
//! Why a second look next to the WGL search: the search proves that no order exists, and its
//! report (the longest prefix it could place, the operations it could not place next) is what a
//! person needs for an arbitrary anomaly. A stale read, the usual anomaly of serializable and
//! lease-based reads, deserves one sentence instead: who read what, from which member, and which
//! acknowledged write it missed.
//!
//! The rule never accuses a correct read: if write W with revision w returned before read R was
//! invoked, every linearization puts W before R, so R sees the key at revision w or later (etcd
//! revisions grow along the linearization). A read showing the key with `mod_revision` m < w is
//! therefore wrong whatever else happened (a later delete or put only raises the revision).
//! Not flagged, though possibly wrong: a read that found the key absent (a delete or a lease
//! expiry could explain it), reads of ranges or at a past revision, and writes other than
//! `Put` or a succeeded txn's top-level `Put`. The search catches those; this only explains.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::etcd::cluster::member_name;
use crate::etcd::request::{MemberId, RequestOp, Revision};
use crate::etcd::transport::{ClientRequest, ClientResponse};
use crate::world::history::{Operation, Record};

/// A write as a stale-read report names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WriteRef {
    /// The operation's `index` in the history.
    pub op: u64,
    /// The client that wrote.
    pub process: String,
    /// The value written (bytes shown as UTF-8, lossily).
    pub value: String,
    /// The revision the write was answered with (its response header's).
    pub revision: Revision,
    /// When the write was invoked, in simulated ms since the start of the run.
    pub invoke_ms: u64,
    /// When its acknowledgement reached the client, in simulated ms.
    pub return_ms: u64,
}

/// A read that missed a write acknowledged before it began.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaleRead {
    /// The read operation's `index` in the history.
    pub op: u64,
    /// The client that read.
    pub process: String,
    /// The key read (bytes shown as UTF-8, lossily).
    pub key: String,
    /// When the read was invoked, in simulated ms since the start of the run.
    pub invoke_ms: u64,
    /// When its answer reached the client, in simulated ms.
    pub return_ms: u64,
    /// The member that answered (the response header's `member_id`).
    pub member: MemberId,
    /// Whether the client asked for a serializable read.
    pub serializable: bool,
    /// What it returned, and the key's `mod_revision` in that answer.
    pub value: String,
    /// The returned key's `mod_revision`: below `missed.revision`, which is what makes it stale.
    pub revision: Revision,
    /// The write that produced the returned value, when the history has it.
    pub written_by: Option<WriteRef>,
    /// The newest write to the key acknowledged before the read was invoked.
    pub missed: WriteRef,
}

/// Simulated milliseconds as seconds with three decimals, as the reports print times.
pub(super) fn secs(ms: u64) -> String {
    format!("{:.3}s", ms as f64 / 1000.0)
}

impl fmt::Display for StaleRead {
    /// One sentence: `reader3's serializable read of "kv/register" (invoked 12.340s, answered
    /// 12.350s by n3) returned "writer1-17" (mod_revision 40, written by writer1 at 5.120s), but
    /// "writer1-42" (revision 90, writer1) had been acknowledged at 12.100s, before the read
    /// began`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.serializable {
            "serializable"
        } else {
            "linearizable"
        };
        let member = if self.member == 0 {
            "an unknown member".to_string()
        } else {
            member_name(self.member)
        };
        write!(
            f,
            "{}'s {kind} read of {:?} (invoked {}, answered {} by {member}) returned {:?} (mod_revision {}",
            self.process,
            self.key,
            secs(self.invoke_ms),
            secs(self.return_ms),
            self.value,
            self.revision,
        )?;
        if let Some(w) = &self.written_by {
            write!(f, ", written by {} at {}", w.process, secs(w.return_ms))?;
        }
        write!(
            f,
            "), but {:?} (revision {}, {}) had been acknowledged at {}, before the read began",
            self.missed.value,
            self.missed.revision,
            self.missed.process,
            secs(self.missed.return_ms)
        )
    }
}

/// Every stale read in `records`, in history order.
pub fn stale_reads(records: &[Record]) -> Vec<StaleRead> {
    let ops: Vec<&Operation> = records
        .iter()
        .filter_map(|r| match r {
            Record::Op(op) => Some(op),
            _ => None,
        })
        .collect();
    // Acknowledged writes per key, and by (key, revision) to name the write a read saw.
    let mut writes: BTreeMap<Vec<u8>, Vec<WriteRef>> = BTreeMap::new();
    for op in &ops {
        for (key, write) in acknowledged_puts(op) {
            writes.entry(key).or_default().push(write);
        }
    }
    // Per key: writes by return time, with the newest revision acknowledged so far.
    let mut newest: BTreeMap<Vec<u8>, Vec<(u64, usize)>> = BTreeMap::new();
    for (key, list) in &mut writes {
        list.sort_by_key(|w| (w.return_ms, w.op));
        let mut best: Option<usize> = None;
        let mut points = Vec::with_capacity(list.len());
        for (i, w) in list.iter().enumerate() {
            let newer = match best {
                None => true,
                Some(b) => w.revision > list[b].revision,
            };
            if newer {
                best = Some(i);
            }
            points.push((w.return_ms, best.expect("set above")));
        }
        newest.insert(key.clone(), points);
    }
    let mut found = Vec::new();
    for op in &ops {
        let (Some(ClientRequest::Range(req)), Some(ClientResponse::Range(resp)), Some(ret)) = (
            op.request.as_etcd(),
            op.outcome.etcd_response(),
            op.return_ms,
        ) else {
            continue;
        };
        if !req.range_end.is_empty() || req.revision != 0 {
            continue;
        }
        let Some(kv) = resp.kvs.iter().find(|kv| kv.key == req.key) else {
            continue;
        };
        let (Some(list), Some(points)) = (writes.get(&req.key), newest.get(&req.key)) else {
            continue;
        };
        // The newest write that returned strictly before the read was invoked.
        let before = points.partition_point(|(at, _)| *at < op.invoke_ms);
        if before == 0 {
            continue;
        }
        let missed = &list[points[before - 1].1];
        if kv.mod_revision >= missed.revision {
            continue;
        }
        found.push(StaleRead {
            op: op.index,
            process: op.process.clone(),
            key: text(&req.key),
            invoke_ms: op.invoke_ms,
            return_ms: ret,
            member: resp.header.member_id,
            serializable: req.serializable,
            value: text(&kv.value),
            revision: kv.mod_revision,
            written_by: list.iter().find(|w| w.revision == kv.mod_revision).cloned(),
            missed: missed.clone(),
        });
    }
    found
}

/// The keys `op` put, with the revision it wrote, if it was acknowledged.
fn acknowledged_puts(op: &Operation) -> Vec<(Vec<u8>, WriteRef)> {
    let (Some(request), Some(response), Some(ret)) = (
        op.request.as_etcd(),
        op.outcome.etcd_response(),
        op.return_ms,
    ) else {
        return Vec::new();
    };
    let write = |value: &[u8], revision: Revision| WriteRef {
        op: op.index,
        process: op.process.clone(),
        value: text(value),
        revision,
        invoke_ms: op.invoke_ms,
        return_ms: ret,
    };
    match (request, response) {
        // `ignore_value` keeps the old value: the write is real but names no value of its own.
        (ClientRequest::Put(p), ClientResponse::Put(r)) if !p.ignore_value => {
            vec![(p.key.clone(), write(&p.value, r.header.revision))]
        }
        (ClientRequest::Txn(t), ClientResponse::Txn(r)) if r.succeeded => t
            .success
            .iter()
            .filter_map(|o| match o {
                RequestOp::Put(p) if !p.ignore_value => {
                    Some((p.key.clone(), write(&p.value, r.header.revision)))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::request::{KeyValue, PutRequest, PutResponse, RangeRequest, RangeResponse};
    use crate::etcd::request::{ResponseHeader, TxnRequest, TxnResponse};
    use crate::world::history::Outcome;

    fn header(revision: Revision, member_id: MemberId) -> ResponseHeader {
        ResponseHeader {
            revision,
            member_id,
            ..ResponseHeader::default()
        }
    }

    fn put(index: u64, value: &str, revision: Revision, at: (u64, u64)) -> Record {
        Record::Op(Operation {
            index,
            process: "writer1".into(),
            request: ClientRequest::Put(PutRequest {
                key: b"k".to_vec(),
                value: value.into(),
                ..PutRequest::default()
            })
            .into(),
            invoke_ms: at.0,
            return_ms: Some(at.1),
            node: None,
            outcome: Outcome::Ok(
                ClientResponse::Put(PutResponse {
                    header: header(revision, 1),
                    prev_kv: None,
                })
                .into(),
            ),
        })
    }

    fn get(index: u64, value: &str, revision: Revision, at: (u64, u64)) -> Record {
        Record::Op(Operation {
            index,
            process: "reader3".into(),
            request: ClientRequest::Range(RangeRequest {
                key: b"k".to_vec(),
                serializable: true,
                ..RangeRequest::default()
            })
            .into(),
            invoke_ms: at.0,
            return_ms: Some(at.1),
            node: None,
            outcome: Outcome::Ok(
                ClientResponse::Range(RangeResponse {
                    header: header(revision, 3),
                    kvs: vec![KeyValue {
                        key: b"k".to_vec(),
                        value: value.into(),
                        mod_revision: revision,
                        create_revision: 2,
                        version: 1,
                        lease: 0,
                    }],
                    more: false,
                    count: 1,
                })
                .into(),
            ),
        })
    }

    #[test]
    fn read_missing_an_acknowledged_write_is_stale() {
        let records = vec![
            put(0, "a", 2, (0, 10)),
            put(1, "b", 3, (20, 30)),
            get(2, "a", 2, (40, 45)),
        ];
        let found = stale_reads(&records);
        assert_eq!(found.len(), 1);
        let s = &found[0];
        assert_eq!((s.op, s.member, s.serializable), (2, 3, true));
        assert_eq!((s.value.as_str(), s.revision), ("a", 2));
        assert_eq!(s.written_by.as_ref().map(|w| w.op), Some(0));
        assert_eq!((s.missed.value.as_str(), s.missed.return_ms), ("b", 30));
        assert_eq!(
            s.to_string(),
            "reader3's serializable read of \"k\" (invoked 0.040s, answered 0.045s by n3) returned \"a\" (mod_revision 2, written by writer1 at 0.010s), but \"b\" (revision 3, writer1) had been acknowledged at 0.030s, before the read began"
        );
    }

    #[test]
    fn read_concurrent_with_the_newer_write_is_not_stale() {
        // The read began (25) before the newer write returned (30): it may precede it.
        let records = vec![
            put(0, "a", 2, (0, 10)),
            put(1, "b", 3, (20, 30)),
            get(2, "a", 2, (25, 45)),
            get(3, "b", 3, (40, 45)),
        ];
        assert_eq!(stale_reads(&records), vec![]);
    }

    #[test]
    fn txn_puts_count_as_writes() {
        let txn = Record::Op(Operation {
            index: 1,
            process: "c1".into(),
            request: ClientRequest::Txn(TxnRequest {
                compare: vec![],
                success: vec![RequestOp::Put(PutRequest {
                    key: b"k".to_vec(),
                    value: b"t".to_vec(),
                    ..PutRequest::default()
                })],
                failure: vec![],
            })
            .into(),
            invoke_ms: 20,
            return_ms: Some(30),
            node: None,
            outcome: Outcome::Ok(
                ClientResponse::Txn(TxnResponse {
                    header: header(5, 1),
                    succeeded: true,
                    responses: vec![],
                })
                .into(),
            ),
        });
        let records = vec![put(0, "a", 2, (0, 10)), txn, get(2, "a", 2, (40, 45))];
        let found = stale_reads(&records);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].missed.process.as_str(), found[0].missed.revision),
            ("c1", 5)
        );
    }
}
