//! `Kv`: the etcd KV model — put, range, delete and txn with revision-checked responses — and
//! the conversion of a [`Record`] history into per-key partitions.
//!
//! # What is checked
//! Per partition (a set of keys closed under the operations that touch several of them):
//! * every value, `version`, `lease`, `create_revision` and `mod_revision` a response shows for a
//!   key (range `kvs`, `prev_kv`, `prev_kvs`, txn sub-responses) is what the sequence of writes
//!   placed before it produced; `count` and `more` of a range; `deleted` of a delete; which
//!   branch a txn took (`succeeded`), with etcd's compare semantics;
//! * revisions are monotonic along the linearization: a write's `header.revision` is greater than
//!   every revision seen before it in the partition, a read's is no smaller, every `mod_revision`
//!   a read shows is at most its `header.revision`, and a key's revisions are those of the write
//!   that produced it.
//!
//! # What is not checked
//! * Revisions are global, but a partition sees only its keys' writes: gaps are allowed (other
//!   keys' writes fill them) and revisions are not compared across partitions. So two writes to
//!   different keys that claim the same revision are not caught.
//! * A write whose answer never came gets an unknown revision, bounded below; the first read that
//!   shows it pins it.
//! * Ranges with a `revision` (reads of the past), min/max revision filters, or a `limit` with a
//!   sort other than by key are not modelled and are left out (reported in the notes); the sub-
//!   responses of such ranges inside a txn are not checked. Inner txn headers are not checked
//!   (etcd's values there are quirky, see [`crate::Mvcc::txn`]).
//! * Leases are modelled only as "every key attached to lease L disappears at once when L is
//!   revoked": a `LeaseRevoke` that succeeded is an operation; an expiry the history records
//!   (`lease_expired` event) is a revoke that took effect by that time; every other lease a put
//!   used may be revoked at any point after its first use, or never (an expiry whose proposing
//!   leader crashed leaves no event). TTLs, grants and keepalives are not checked.
//! * Watches, status, compaction: ignored.
//! * Serializable ranges are checked as if linearizable: etcd does not promise that, so a
//!   history that uses them on purpose will be reported.
//! * The store is assumed empty when the history starts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use super::model::{Model, Op, Steps};
use super::partition::Partition;
use crate::etcd::request::*;
use crate::etcd::transport::{ClientRequest, ClientResponse};
use crate::world::history::{ClusterEvent, Outcome, Record};

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
    fn get(&self, key: KeyId) -> Option<&KeyState> {
        self.keys
            .binary_search_by_key(&key, |(k, _)| *k)
            .ok()
            .map(|i| &self.keys[i].1)
    }

    fn set(&mut self, key: KeyId, ks: Option<KeyState>) {
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

/// The etcd KV model of one partition. Holds the key and value names for reports.
#[derive(Clone, Debug)]
pub struct Kv {
    pub keys: Arc<Vec<Vec<u8>>>,
    pub values: Arc<Vec<Vec<u8>>>,
}

/// Three-valued compare result: a revision known only by a lower bound may decide neither way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tri {
    True,
    False,
    Unknown,
}

/// The branches a txn (and its nested txns) takes, decided on the state before it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Path {
    succeeded: bool,
    nested: Vec<Path>,
}

/// What the txn being applied writes at.
#[derive(Clone, Copy)]
struct WriteCtx {
    /// The revision its writes get.
    rev: Rev,
    /// Whether responses are known (then sub-responses are checked).
    known: bool,
}

impl Kv {
    fn key_name(&self, k: KeyId) -> String {
        String::from_utf8_lossy(&self.keys[k as usize]).into_owned()
    }

    fn value_name(&self, v: ValueId) -> String {
        String::from_utf8_lossy(&self.values[v as usize]).into_owned()
    }

    fn compare_one(&self, ks: Option<&KeyState>, c: &KvCompare) -> Tri {
        use std::cmp::Ordering;
        let decide = |ord: Ordering| -> bool {
            match c.result {
                CompareResult::Equal => ord == Ordering::Equal,
                CompareResult::NotEqual => ord != Ordering::Equal,
                CompareResult::Greater => ord == Ordering::Greater,
                CompareResult::Less => ord == Ordering::Less,
            }
        };
        let known = |b: bool| if b { Tri::True } else { Tri::False };
        let rev_cmp = |rev: Rev, operand: Revision| -> Tri {
            match rev {
                Rev::Known(r) => known(decide(r.cmp(&operand))),
                Rev::AtLeast(m) => {
                    // The revision is some r >= m: decided only if every possible r agrees.
                    let possible: &[Ordering] = match m.cmp(&operand) {
                        Ordering::Greater => &[Ordering::Greater],
                        Ordering::Equal => &[Ordering::Equal, Ordering::Greater],
                        Ordering::Less => &[Ordering::Less, Ordering::Equal, Ordering::Greater],
                    };
                    let first = decide(possible[0]);
                    if possible.iter().all(|&o| decide(o) == first) {
                        known(first)
                    } else {
                        Tri::Unknown
                    }
                }
            }
        };
        match (ks, &c.target) {
            (None, CompareTarget::Value(_)) => Tri::False,
            (None, CompareTarget::Version(x)) => known(decide(0.cmp(x))),
            (None, CompareTarget::Create(x)) | (None, CompareTarget::Mod(x)) => {
                known(decide(0.cmp(x)))
            }
            (None, CompareTarget::Lease(x)) => known(decide(0.cmp(x))),
            (Some(ks), CompareTarget::Value(v)) => known(decide(
                self.values[ks.value as usize].as_slice().cmp(v.as_slice()),
            )),
            (Some(ks), CompareTarget::Version(x)) => known(decide(ks.version.cmp(x))),
            (Some(ks), CompareTarget::Lease(x)) => known(decide(ks.lease.cmp(x))),
            (Some(ks), CompareTarget::Create(x)) => rev_cmp(ks.create, *x),
            (Some(ks), CompareTarget::Mod(x)) => rev_cmp(ks.modified, *x),
        }
    }

    /// etcd's `applyCompare`: every present key of the range must satisfy it; an empty range
    /// compares as a zeroed key, except that a value compare on no key fails.
    fn compare(&self, state: &KvState, c: &KvCompare) -> Tri {
        let present: Vec<&KeyState> = c.keys.iter().filter_map(|&k| state.get(k)).collect();
        if present.is_empty() {
            return self.compare_one(None, c);
        }
        let mut result = Tri::True;
        for ks in present {
            match self.compare_one(Some(ks), c) {
                Tri::False => return Tri::False,
                Tri::Unknown => result = Tri::Unknown,
                Tri::True => {}
            }
        }
        result
    }

    /// Every branch combination the txn may take from `state`.
    fn paths(
        &self,
        state: &KvState,
        compare: &[KvCompare],
        success: &[KvInput],
        failure: &[KvInput],
    ) -> Vec<Path> {
        let mut all = Tri::True;
        for c in compare {
            match self.compare(state, c) {
                Tri::False => {
                    all = Tri::False;
                    break;
                }
                Tri::Unknown => all = Tri::Unknown,
                Tri::True => {}
            }
        }
        let outcomes: &[bool] = match all {
            Tri::True => &[true],
            Tri::False => &[false],
            Tri::Unknown => &[true, false],
        };
        let mut paths = Vec::new();
        for &succeeded in outcomes {
            let ops = if succeeded { success } else { failure };
            // Cartesian product of the nested txns' paths, in order.
            let mut combos: Vec<Vec<Path>> = vec![Vec::new()];
            for op in ops {
                if let KvInput::Txn {
                    compare,
                    success,
                    failure,
                } = op
                {
                    let nested = self.paths(state, compare, success, failure);
                    combos = combos
                        .into_iter()
                        .flat_map(|prefix| {
                            nested.iter().map(move |p| {
                                let mut v = prefix.clone();
                                v.push(p.clone());
                                v
                            })
                        })
                        .collect();
                }
            }
            paths.extend(combos.into_iter().map(|nested| Path { succeeded, nested }));
        }
        paths
    }

    /// Does the key's state match what a response showed? Returns the state with unknown
    /// revisions pinned to the shown ones.
    fn observe(&self, ks: &KeyState, obs: &KvObs, check_value: bool) -> Option<KeyState> {
        if (check_value && ks.value != obs.value)
            || ks.version != obs.version
            || ks.lease != obs.lease
            || obs.create > obs.modified
        {
            return None;
        }
        let pin = |rev: Rev, seen: Revision| match rev {
            Rev::Known(r) => (r == seen).then_some(Rev::Known(r)),
            Rev::AtLeast(m) => (seen >= m).then_some(Rev::Known(seen)),
        };
        Some(KeyState {
            create: pin(ks.create, obs.create)?,
            modified: pin(ks.modified, obs.modified)?,
            ..*ks
        })
    }

    /// Check observed keys against the state (pinning), in order.
    fn observe_all(
        &self,
        state: &mut KvState,
        expected: &[KeyId],
        seen: &[KvObs],
        check_value: bool,
    ) -> bool {
        if expected.len() != seen.len() {
            return false;
        }
        for (&k, obs) in expected.iter().zip(seen) {
            if obs.key != k {
                return false;
            }
            let Some(ks) = state.get(k) else { return false };
            let Some(pinned) = self.observe(ks, obs, check_value) else {
                return false;
            };
            state.set(k, Some(pinned));
        }
        true
    }

    /// Apply a put; `None` when etcd would refuse it (`ignore_value`/`ignore_lease` on a
    /// missing key). Returns the key's state before.
    fn put(&self, state: &mut KvState, put: &KvInput, rev: Rev) -> Option<Option<KeyState>> {
        let KvInput::Put {
            key,
            value,
            lease,
            ignore_value,
            ignore_lease,
        } = *put
        else {
            return None;
        };
        let old = state.get(key).copied();
        if (ignore_value || ignore_lease) && old.is_none() {
            return None;
        }
        let new = KeyState {
            value: if ignore_value { old?.value } else { value },
            create: old.map_or(rev, |o| o.create),
            modified: rev,
            version: old.map_or(1, |o| o.version + 1),
            lease: if ignore_lease { old?.lease } else { lease },
        };
        state.set(key, Some(new));
        Some(old)
    }

    /// Apply one request inside a write context. Returns whether it changed the store, or
    /// `None` if the (known) response contradicts the state.
    fn apply(
        &self,
        state: &mut KvState,
        input: &KvInput,
        output: Option<&KvOutput>,
        path: Option<&Path>,
        ctx: WriteCtx,
    ) -> Option<bool> {
        let output = if ctx.known { output } else { None };
        match input {
            KvInput::Put { .. } => {
                let Some(old) = self.put(state, input, ctx.rev) else {
                    // etcd refuses such a put; a known Ok answer is impossible, an unknown one
                    // failed (no effect).
                    return if ctx.known { None } else { Some(false) };
                };
                if let Some(out) = output {
                    let KvOutput::Put {
                        prev, prev_asked, ..
                    } = out
                    else {
                        return None;
                    };
                    if *prev_asked {
                        match (old, prev) {
                            (None, None) => {}
                            (Some(o), Some(p)) => {
                                // Pin in the pre-write view only matters for the prev key's
                                // revisions, which the write just replaced; check, don't keep.
                                self.observe(&o, p, true)?;
                            }
                            _ => return None,
                        }
                    }
                }
                Some(true)
            }
            KvInput::Delete { keys } => {
                let present: Vec<(KeyId, KeyState)> = keys
                    .iter()
                    .filter_map(|&k| state.get(k).map(|ks| (k, *ks)))
                    .collect();
                if let Some(out) = output {
                    let KvOutput::Delete {
                        deleted,
                        prev,
                        prev_asked,
                        ..
                    } = out
                    else {
                        return None;
                    };
                    if *deleted != present.len() as i64 {
                        return None;
                    }
                    if *prev_asked {
                        if prev.len() != present.len() {
                            return None;
                        }
                        for ((k, ks), p) in present.iter().zip(prev) {
                            if p.key != *k {
                                return None;
                            }
                            self.observe(ks, p, true)?;
                        }
                    }
                }
                for (k, _) in &present {
                    state.set(*k, None);
                }
                Some(!present.is_empty())
            }
            KvInput::Range {
                keys,
                limit,
                keys_only,
                count_only,
                unchecked,
            } => {
                let Some(out) = output else {
                    return Some(false);
                };
                let KvOutput::Range {
                    kvs,
                    count,
                    more,
                    revision,
                } = out
                else {
                    return None;
                };
                if *unchecked {
                    return Some(false);
                }
                let present: Vec<KeyId> = keys
                    .iter()
                    .copied()
                    .filter(|&k| state.get(k).is_some())
                    .collect();
                if *count != present.len() as i64 {
                    return None;
                }
                let shown = if *count_only {
                    0
                } else if *limit > 0 {
                    present.len().min(*limit as usize)
                } else {
                    present.len()
                };
                let truncated = !*count_only && *limit > 0 && present.len() > *limit as usize;
                if *more != truncated {
                    return None;
                }
                if *revision > 0 && kvs.iter().any(|kv| kv.modified > *revision) {
                    return None;
                }
                self.observe_all(state, &present[..shown], kvs, !*keys_only)
                    .then_some(false)
            }
            KvInput::Txn {
                success, failure, ..
            } => {
                let path = path?;
                let ops = if path.succeeded { success } else { failure };
                let responses = match output {
                    Some(KvOutput::Txn {
                        succeeded,
                        responses,
                        ..
                    }) => {
                        if *succeeded != path.succeeded || responses.len() != ops.len() {
                            return None;
                        }
                        Some(responses)
                    }
                    Some(_) => return None,
                    None => None,
                };
                let mut nested = path.nested.iter();
                let mut changed = false;
                for (i, op) in ops.iter().enumerate() {
                    let sub_path = match op {
                        KvInput::Txn { .. } => nested.next(),
                        _ => None,
                    };
                    changed |= self.apply(state, op, responses.map(|r| &r[i]), sub_path, ctx)?;
                }
                Some(changed)
            }
            KvInput::Revoke { lease, keys } => {
                let mut changed = false;
                for &k in keys {
                    if state.get(k).is_some_and(|ks| ks.lease == *lease) {
                        state.set(k, None);
                        changed = true;
                    }
                }
                Some(changed)
            }
        }
    }

    /// Check the top-level revision and advance the floor.
    fn advance(state: &mut KvState, revision: Option<Revision>, changed: bool) -> bool {
        match revision {
            Some(r) if changed => {
                if r <= state.floor {
                    return false;
                }
                state.floor = r;
            }
            Some(r) => {
                if r < state.floor {
                    return false;
                }
                state.floor = r;
            }
            None if changed => state.floor += 1,
            None => {}
        }
        true
    }

    fn step_path(
        &self,
        state: &KvState,
        input: &KvInput,
        output: Option<&KvOutput>,
        path: Option<&Path>,
    ) -> Option<KvState> {
        let revision = match output {
            None => None,
            Some(KvOutput::Mismatch(_)) => return None,
            Some(KvOutput::Put { revision, .. })
            | Some(KvOutput::Delete { revision, .. })
            | Some(KvOutput::Range { revision, .. })
            | Some(KvOutput::Txn { revision, .. }) => Some(*revision),
            Some(KvOutput::Revoke { revision }) => *revision,
        };
        let rev = match revision {
            Some(r) => Rev::Known(r),
            None => Rev::AtLeast(state.floor + 1),
        };
        let ctx = WriteCtx {
            rev,
            known: output.is_some(),
        };
        let mut next = state.clone();
        let changed = self.apply(&mut next, input, output, path, ctx)?;
        Self::advance(&mut next, revision, changed).then_some(next)
    }

    fn describe_input(&self, input: &KvInput, out: &mut String) {
        let keys = |ks: &[KeyId]| {
            ks.iter()
                .map(|&k| self.key_name(k))
                .collect::<Vec<_>>()
                .join(",")
        };
        match input {
            KvInput::Put {
                key, value, lease, ..
            } => {
                let _ = write!(
                    out,
                    "put {}={}",
                    self.key_name(*key),
                    self.value_name(*value)
                );
                if *lease != NO_LEASE {
                    let _ = write!(out, " lease={lease:x}");
                }
            }
            KvInput::Delete { keys: ks } => {
                let _ = write!(out, "delete [{}]", keys(ks));
            }
            KvInput::Range { keys: ks, .. } => {
                let _ = write!(out, "range [{}]", keys(ks));
            }
            KvInput::Txn {
                compare,
                success,
                failure,
            } => {
                out.push_str("txn if ");
                for (i, c) in compare.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" && ");
                    }
                    let _ = write!(out, "{:?}({})", c.target, keys(&c.keys));
                    let _ = write!(out, " {:?}", c.result);
                }
                out.push_str(" then ");
                for (i, op) in success.iter().enumerate() {
                    if i > 0 {
                        out.push_str("; ");
                    }
                    self.describe_input(op, out);
                }
                out.push_str(" else ");
                for (i, op) in failure.iter().enumerate() {
                    if i > 0 {
                        out.push_str("; ");
                    }
                    self.describe_input(op, out);
                }
            }
            KvInput::Revoke { lease, .. } => {
                let _ = write!(out, "revoke lease {lease:x}");
            }
        }
    }

    fn describe_obs(&self, obs: &KvObs) -> String {
        format!(
            "{}={} c{} m{} v{}",
            self.key_name(obs.key),
            self.value_name(obs.value),
            obs.create,
            obs.modified,
            obs.version
        )
    }

    fn describe_output(&self, output: &KvOutput, out: &mut String) {
        match output {
            KvOutput::Put {
                revision,
                prev,
                prev_asked,
            } => {
                let _ = write!(out, "rev {revision}");
                if *prev_asked {
                    let _ = write!(
                        out,
                        " prev {}",
                        prev.as_ref()
                            .map_or("none".into(), |p| self.describe_obs(p))
                    );
                }
            }
            KvOutput::Delete {
                revision, deleted, ..
            } => {
                let _ = write!(out, "rev {revision} deleted {deleted}");
            }
            KvOutput::Range {
                revision,
                kvs,
                count,
                ..
            } => {
                let kvs: Vec<String> = kvs.iter().map(|o| self.describe_obs(o)).collect();
                let _ = write!(out, "rev {revision} count {count} [{}]", kvs.join(", "));
            }
            KvOutput::Txn {
                revision,
                succeeded,
                responses,
            } => {
                let _ = write!(
                    out,
                    "rev {revision} {}",
                    if *succeeded { "succeeded" } else { "failed" }
                );
                for r in responses {
                    out.push_str(" {");
                    self.describe_output(r, out);
                    out.push('}');
                }
            }
            KvOutput::Revoke { revision } => {
                let _ = write!(
                    out,
                    "revoked{}",
                    revision.map_or(String::new(), |r| format!(" rev {r}"))
                );
            }
            KvOutput::Mismatch(what) => out.push_str(what),
        }
    }
}

impl Model for Kv {
    type State = KvState;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> KvState {
        // A fresh etcd store is at revision 1.
        KvState {
            floor: 1,
            keys: Vec::new(),
        }
    }

    fn step(&self, state: &KvState, input: &KvInput, output: Option<&KvOutput>) -> Steps<KvState> {
        let KvInput::Txn {
            compare,
            success,
            failure,
        } = input
        else {
            return self.step_path(state, input, output, None).into();
        };
        let paths = self.paths(state, compare, success, failure);
        let mut next: Vec<KvState> = paths
            .iter()
            .filter_map(|p| self.step_path(state, input, output, Some(p)))
            .collect();
        next.dedup();
        match next.len() {
            0 => Steps::None,
            1 => Steps::One(next.pop().expect("one")),
            _ => Steps::Many(next),
        }
    }

    fn describe_op(&self, input: &KvInput, output: Option<&KvOutput>) -> String {
        let mut out = String::new();
        self.describe_input(input, &mut out);
        out.push_str(" -> ");
        match output {
            None => out.push('?'),
            Some(o) => self.describe_output(o, &mut out),
        }
        out
    }

    fn describe_state(&self, state: &KvState) -> String {
        let mut out = format!("revision >= {}", state.floor);
        for (k, ks) in &state.keys {
            let rev = |r: Rev| match r {
                Rev::Known(r) => r.to_string(),
                Rev::AtLeast(m) => format!(">={m}"),
            };
            let _ = write!(
                out,
                ", {}={} c{} m{} v{}",
                self.key_name(*k),
                self.value_name(ks.value),
                rev(ks.create),
                rev(ks.modified),
                ks.version
            );
            if ks.lease != NO_LEASE {
                let _ = write!(out, " lease={:x}", ks.lease);
            }
        }
        out
    }
}

// ---- conversion from a history ----

fn in_range(k: &[u8], key: &[u8], range_end: &[u8]) -> bool {
    match range_end {
        [] => k == key,
        [0] => k >= key,
        end => key <= k && k < end,
    }
}

/// Keys and values seen anywhere in the history, interned.
#[derive(Default)]
struct Universe {
    keys: BTreeSet<Vec<u8>>,
    values: BTreeMap<Vec<u8>, ValueId>,
    value_names: Vec<Vec<u8>>,
}

impl Universe {
    fn value(&mut self, v: &[u8]) -> ValueId {
        if let Some(&id) = self.values.get(v) {
            return id;
        }
        let id = self.value_names.len() as ValueId;
        self.values.insert(v.to_vec(), id);
        self.value_names.push(v.to_vec());
        id
    }

    fn add_kvs(&mut self, kvs: &[KeyValue]) {
        for kv in kvs {
            self.keys.insert(kv.key.clone());
        }
    }

    fn collect_request(&mut self, req: &RequestOp) {
        match req {
            RequestOp::Put(p) => {
                self.keys.insert(p.key.clone());
            }
            RequestOp::DeleteRange(d) if d.range_end.is_empty() => {
                self.keys.insert(d.key.clone());
            }
            RequestOp::Range(r) if r.range_end.is_empty() => {
                self.keys.insert(r.key.clone());
            }
            RequestOp::Txn(t) => self.collect_txn(t),
            _ => {}
        }
    }

    fn collect_txn(&mut self, t: &TxnRequest) {
        for c in &t.compare {
            if c.range_end.is_empty() {
                self.keys.insert(c.key.clone());
            }
        }
        for op in t.success.iter().chain(&t.failure) {
            self.collect_request(op);
        }
    }

    fn collect_response(&mut self, resp: &ResponseOp) {
        match resp {
            ResponseOp::Range(r) => self.add_kvs(&r.kvs),
            ResponseOp::Put(p) => self.add_kvs(p.prev_kv.as_slice()),
            ResponseOp::DeleteRange(d) => self.add_kvs(&d.prev_kvs),
            ResponseOp::Txn(t) => t.responses.iter().for_each(|r| self.collect_response(r)),
        }
    }
}

/// Builds model inputs and outputs with keys resolved against the finished universe.
struct Converter<'a> {
    keys: Vec<&'a [u8]>,
    universe: &'a mut Universe,
    unchecked_ranges: usize,
}

impl Converter<'_> {
    fn key_id(&self, key: &[u8]) -> KeyId {
        self.keys
            .binary_search(&key)
            .expect("every key was collected") as KeyId
    }

    fn range_keys(&self, key: &[u8], range_end: &[u8]) -> Vec<KeyId> {
        (0..self.keys.len() as KeyId)
            .filter(|&i| in_range(self.keys[i as usize], key, range_end))
            .collect()
    }

    fn obs(&mut self, kv: &KeyValue) -> KvObs {
        KvObs {
            key: self.key_id(&kv.key),
            create: kv.create_revision,
            modified: kv.mod_revision,
            version: kv.version,
            value: self.universe.value(&kv.value),
            lease: kv.lease,
        }
    }

    fn input(&mut self, req: &RequestOp) -> KvInput {
        match req {
            RequestOp::Put(p) => KvInput::Put {
                key: self.key_id(&p.key),
                value: self.universe.value(&p.value),
                lease: p.lease,
                ignore_value: p.ignore_value,
                ignore_lease: p.ignore_lease,
            },
            RequestOp::DeleteRange(d) => KvInput::Delete {
                keys: self.range_keys(&d.key, &d.range_end),
            },
            RequestOp::Range(r) => {
                let default_sort = matches!(
                    (r.sort_order, r.sort_target),
                    (SortOrder::None, SortTarget::Key) | (SortOrder::Ascend, SortTarget::Key)
                );
                let unchecked = r.revision != 0
                    || r.min_mod_revision != 0
                    || r.max_mod_revision != 0
                    || r.min_create_revision != 0
                    || r.max_create_revision != 0
                    || !default_sort;
                if unchecked {
                    self.unchecked_ranges += 1;
                }
                KvInput::Range {
                    keys: self.range_keys(&r.key, &r.range_end),
                    limit: r.limit,
                    keys_only: r.keys_only,
                    count_only: r.count_only,
                    unchecked,
                }
            }
            RequestOp::Txn(t) => KvInput::Txn {
                compare: t
                    .compare
                    .iter()
                    .map(|c| KvCompare {
                        keys: self.range_keys(&c.key, &c.range_end),
                        result: c.result,
                        target: c.target.clone(),
                    })
                    .collect(),
                success: t.success.iter().map(|op| self.input(op)).collect(),
                failure: t.failure.iter().map(|op| self.input(op)).collect(),
            },
        }
    }

    fn output(&mut self, req: &RequestOp, resp: &ResponseOp) -> KvOutput {
        match (req, resp) {
            (RequestOp::Put(p), ResponseOp::Put(r)) => KvOutput::Put {
                revision: r.header.revision,
                prev: r.prev_kv.as_ref().map(|kv| self.obs(kv)),
                prev_asked: p.prev_kv,
            },
            (RequestOp::DeleteRange(d), ResponseOp::DeleteRange(r)) => KvOutput::Delete {
                revision: r.header.revision,
                deleted: r.deleted,
                prev: r.prev_kvs.iter().map(|kv| self.obs(kv)).collect(),
                prev_asked: d.prev_kv,
            },
            (RequestOp::Range(_), ResponseOp::Range(r)) => KvOutput::Range {
                revision: r.header.revision,
                kvs: r.kvs.iter().map(|kv| self.obs(kv)).collect(),
                count: r.count,
                more: r.more,
            },
            (RequestOp::Txn(t), ResponseOp::Txn(r)) => {
                let ops = if r.succeeded { &t.success } else { &t.failure };
                KvOutput::Txn {
                    revision: r.header.revision,
                    succeeded: r.succeeded,
                    responses: ops
                        .iter()
                        .zip(&r.responses)
                        .map(|(q, a)| self.output(q, a))
                        .chain(
                            // A response count that differs from the branch's op count is a
                            // mismatch the model will refuse.
                            (r.responses.len() != ops.len())
                                .then(|| KvOutput::Mismatch("response count differs".into())),
                        )
                        .collect(),
                }
            }
            (_, other) => KvOutput::Mismatch(format!("unexpected response {other:?}")),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
