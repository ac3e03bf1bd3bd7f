//! From a history's records to KV partitions: which records are KV operations, the synthetic
//! lease revokes, and the union of keys that operations connect into one partition.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::model::Kv;
use super::ops::*;
use super::universe::{Converter, Universe};
use crate::check::model::Op;
use crate::check::partition::Partition;
use crate::etcd::request::*;
use crate::etcd::transport::{ClientRequest, ClientResponse};
use crate::world::history::{ClusterEvent, Outcome, Record};

/// Keys an input touches (for partitioning).
fn touched(input: &KvInput, out: &mut Vec<KeyId>) {
    match input {
        KvInput::Put { key, .. } => out.push(*key),
        KvInput::Delete { keys } | KvInput::Range { keys, .. } | KvInput::Revoke { keys, .. } => {
            out.extend(keys)
        }
        KvInput::Txn {
            compare,
            success,
            failure,
        } => {
            for c in compare {
                out.extend(&c.keys);
            }
            for op in success.iter().chain(failure) {
                touched(op, out);
            }
        }
    }
}

fn touched_by_output(output: &KvOutput, out: &mut Vec<KeyId>) {
    match output {
        KvOutput::Put { prev, .. } => out.extend(prev.iter().map(|o| o.key)),
        KvOutput::Delete { prev, .. } => out.extend(prev.iter().map(|o| o.key)),
        KvOutput::Range { kvs, .. } => out.extend(kvs.iter().map(|o| o.key)),
        KvOutput::Txn { responses, .. } => responses.iter().for_each(|r| touched_by_output(r, out)),
        KvOutput::Revoke { .. } | KvOutput::Mismatch(_) => {}
    }
}

fn leases_of(input: &KvInput, out: &mut Vec<(LeaseId, KeyId)>) {
    match input {
        KvInput::Put { key, lease, .. } if *lease != NO_LEASE => out.push((*lease, *key)),
        KvInput::Txn {
            success, failure, ..
        } => {
            for op in success.iter().chain(failure) {
                leases_of(op, out);
            }
        }
        _ => {}
    }
}

/// The KV requests of a client request, as txn-like `RequestOp`s (`None`: not a KV request).
fn as_request_op(req: &ClientRequest) -> Option<RequestOp> {
    Some(match req {
        ClientRequest::Range(r) => RequestOp::Range(r.clone()),
        ClientRequest::Put(p) => RequestOp::Put(p.clone()),
        ClientRequest::DeleteRange(d) => RequestOp::DeleteRange(d.clone()),
        ClientRequest::Txn(t) => RequestOp::Txn(t.clone()),
        _ => return None,
    })
}

fn as_response_op(resp: &ClientResponse) -> Option<ResponseOp> {
    Some(match resp {
        ClientResponse::Range(r) => ResponseOp::Range(r.clone()),
        ClientResponse::Put(p) => ResponseOp::Put(p.clone()),
        ClientResponse::DeleteRange(d) => ResponseOp::DeleteRange(d.clone()),
        ClientResponse::Txn(t) => ResponseOp::Txn(t.clone()),
        _ => return None,
    })
}

fn union_find_root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Convert a history into KV partitions: one per set of keys that operations connect.
///
/// Operations: every put, range, delete and txn; `LeaseRevoke`s that succeeded or are unknown;
/// and one synthetic revoke per lease a put used (see the module docs). Dropped: operations that
/// failed definitely ([`crate::Error::is_definite`]; a timeout or "leader changed" is not
/// definite and counts as unknown), reads without an answer, and non-KV requests. The notes say
/// how many ranges were left unchecked.
pub fn kv_partitions(records: &[Record]) -> (Vec<Partition<Kv>>, Vec<String>) {
    let mut universe = Universe::default();
    // (op, request as RequestOp, response) for the KV operations kept.
    struct Raw<'a> {
        index: u64,
        process: &'a str,
        call: u64,
        ret: Option<u64>,
        request: Option<RequestOp>,
        revoke: Option<LeaseId>,
        response: Option<ClientResponse>,
    }
    let mut raws: Vec<Raw<'_>> = Vec::new();
    let mut expiries: BTreeMap<LeaseId, u64> = BTreeMap::new();
    let mut dropped_fail = 0usize;
    for record in records {
        let op = match record {
            Record::Op(op) => op,
            Record::Event {
                at_ms,
                event: ClusterEvent::LeaseExpired { lease, .. },
            } => {
                expiries.entry(*lease).or_insert(*at_ms);
                continue;
            }
            Record::Event { .. } | Record::App { .. } => continue,
        };
        // Only etcd's operations are key-value operations (the AP store's are judged elsewhere).
        let Some(etcd_request) = op.request.as_etcd() else {
            continue;
        };
        let revoke = match etcd_request {
            ClientRequest::LeaseRevoke(r) => Some(r.id),
            _ => None,
        };
        let request = as_request_op(etcd_request);
        if request.is_none() && revoke.is_none() {
            continue;
        }
        let response = match &op.outcome {
            Outcome::Ok(r) => r.as_etcd().cloned(),
            Outcome::Fail(e) if e.is_definite() => {
                dropped_fail += 1;
                continue;
            }
            Outcome::Fail(_) | Outcome::Indeterminate | Outcome::Pending => None,
        };
        if response.is_none() && matches!(request, Some(RequestOp::Range(_))) {
            continue;
        }
        if let Some(req) = &request {
            universe.collect_request(req);
        }
        if let Some(resp) = response.as_ref().and_then(as_response_op) {
            universe.collect_response(&resp);
        }
        raws.push(Raw {
            index: op.index,
            process: &op.process,
            call: op.invoke_ms,
            ret: if response.is_some() {
                op.return_ms.or(Some(op.invoke_ms))
            } else {
                None
            },
            request,
            revoke,
            response,
        });
    }

    let key_names: Vec<Vec<u8>> = universe.keys.iter().cloned().collect();
    let mut conv = Converter {
        keys: key_names.iter().map(|k| k.as_slice()).collect(),
        universe: &mut universe,
        unchecked_ranges: 0,
    };
    // First pass: inputs and outputs with key ids; leases → keys.
    let mut ops: Vec<Op<KvInput, KvOutput>> = Vec::new();
    let mut lease_keys: BTreeMap<LeaseId, (u64, BTreeSet<KeyId>)> = BTreeMap::new();
    let mut revokes: Vec<(usize, LeaseId)> = Vec::new();
    for raw in &raws {
        let (input, output) = if let Some(req) = &raw.request {
            let input = conv.input(req);
            let output = raw.response.as_ref().map(|r| match as_response_op(r) {
                Some(resp) => conv.output(req, &resp),
                None => KvOutput::Mismatch(format!("unexpected response {r:?}")),
            });
            let mut leases = Vec::new();
            leases_of(&input, &mut leases);
            for (lease, key) in leases {
                let entry = lease_keys
                    .entry(lease)
                    .or_insert((raw.call, BTreeSet::new()));
                entry.0 = entry.0.min(raw.call);
                entry.1.insert(key);
            }
            (input, output)
        } else {
            let lease = raw.revoke.expect("a revoke");
            revokes.push((ops.len(), lease));
            // The revoke's header revision is not checked: whether it counts the deletion is an
            // implementation detail we have not measured against etcd.
            let output = raw
                .response
                .as_ref()
                .map(|_| KvOutput::Revoke { revision: None });
            (
                KvInput::Revoke {
                    lease,
                    keys: Vec::new(),
                },
                output,
            )
        };
        ops.push(Op {
            id: raw.index,
            process: raw.process.to_string(),
            call: raw.call,
            ret: raw.ret,
            input,
            output,
        });
    }
    let unchecked_ranges = conv.unchecked_ranges;
    // Client revokes learn their keys now that every lease's keys are known.
    for (i, lease) in revokes {
        if let KvInput::Revoke { keys, .. } = &mut ops[i].input {
            *keys = lease_keys
                .get(&lease)
                .map(|(_, k)| k.iter().copied().collect())
                .unwrap_or_default();
        }
    }
    // One synthetic revoke per lease: definite by its recorded expiry, else unknown.
    let synthetic_revokes = lease_keys.len();
    for (lease, (first_use, keys)) in &lease_keys {
        let expiry = expiries.get(lease).copied();
        ops.push(Op {
            id: u64::MAX,
            process: "lease-expiry".into(),
            call: *first_use,
            ret: expiry.map(|at| at.max(*first_use)),
            input: KvInput::Revoke {
                lease: *lease,
                keys: keys.iter().copied().collect(),
            },
            output: expiry.map(|_| KvOutput::Revoke { revision: None }),
        });
    }

    // Partition: union the keys each operation touches.
    let mut parent: Vec<usize> = (0..key_names.len()).collect();
    let mut op_keys: Vec<Vec<KeyId>> = Vec::with_capacity(ops.len());
    for op in &ops {
        let mut keys = Vec::new();
        touched(&op.input, &mut keys);
        if let Some(out) = &op.output {
            touched_by_output(out, &mut keys);
        }
        for w in keys.windows(2) {
            let (a, b) = (
                union_find_root(&mut parent, w[0] as usize),
                union_find_root(&mut parent, w[1] as usize),
            );
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
        op_keys.push(keys);
    }
    let keys_arc = Arc::new(key_names.clone());
    let values_arc = Arc::new(universe.value_names.clone());
    // Group ops by the root of their first key; ops touching no key go to a partition of their
    // own kind (a range over an empty part of the key space still checks its revision).
    let mut groups: BTreeMap<Option<usize>, Vec<Op<KvInput, KvOutput>>> = BTreeMap::new();
    for (op, keys) in ops.into_iter().zip(&op_keys) {
        let root = keys
            .first()
            .map(|&k| union_find_root(&mut parent, k as usize));
        groups.entry(root).or_default().push(op);
    }
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for k in 0..key_names.len() {
        let root = union_find_root(&mut parent, k);
        members.entry(root).or_default().push(k);
    }
    let partitions = groups
        .into_iter()
        .map(|(root, ops)| {
            let label = match root {
                None => "no keys".to_string(),
                Some(root) => {
                    let names: Vec<String> = members[&root]
                        .iter()
                        .take(4)
                        .map(|&k| format!("{:?}", String::from_utf8_lossy(&key_names[k])))
                        .collect();
                    let more = members[&root].len().saturating_sub(4);
                    let plural = if members[&root].len() == 1 {
                        "key"
                    } else {
                        "keys"
                    };
                    if more > 0 {
                        format!("{plural} {} and {more} more", names.join(", "))
                    } else {
                        format!("{plural} {}", names.join(", "))
                    }
                }
            };
            Partition {
                label,
                model: Kv {
                    keys: keys_arc.clone(),
                    values: values_arc.clone(),
                },
                ops,
            }
        })
        .collect();
    let mut notes = Vec::new();
    if dropped_fail > 0 {
        notes.push(format!(
            "{dropped_fail} definitely failed operations dropped"
        ));
    }
    if unchecked_ranges > 0 {
        notes.push(format!(
            "{unchecked_ranges} ranges with a revision, revision filters or a non-key sort: responses not checked"
        ));
    }
    if synthetic_revokes > 0 {
        notes.push(format!(
            "{synthetic_revokes} leases used by puts: their keys may vanish by expiry ({} expiries recorded)",
            expiries.len()
        ));
    }
    (partitions, notes)
}
