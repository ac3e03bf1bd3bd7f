//! `Kv`'s semantics: etcd's compare, put, delete, range and txn applied to a partition's state,
//! with every revision a response shows checked against the linearization so far.

use std::fmt::Write as _;
use std::sync::Arc;

use super::ops::*;
use crate::check::model::{Model, Steps};
use crate::etcd::request::*;

/// The etcd KV model of one partition. Holds the key and value names for reports.
#[derive(Clone, Debug)]
pub struct Kv {
    /// Every key of the history, by key id (sorted by bytes, so id order is key order); shared by
    /// all partitions.
    pub keys: Arc<Vec<Vec<u8>>>,
    /// Every distinct value of the history, by value id; shared by all partitions.
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
    pub(super) fn key_name(&self, k: KeyId) -> String {
        String::from_utf8_lossy(&self.keys[k as usize]).into_owned()
    }

    pub(super) fn value_name(&self, v: ValueId) -> String {
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
