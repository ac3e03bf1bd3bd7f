//! The Wing–Gong/Lowe search over one partition, with Porcupine's memo table of
//! (placed operations, model state).
//!
//! The history is a list of call and return events in time order. The search walks it: at a
//! call it tries to place (linearize) that operation now, in the current state; at a return of an
//! operation not yet placed it has gone too far and backtracks to the last placement, trying the
//! next candidate. A placement whose (set of placed operations, state) pair was reached before is
//! skipped: everything reachable from it was explored already (Lowe's memoisation). Placed
//! operations are unlinked from the list (dancing links), so the walk only sees the rest.
//!
//! Indeterminate operations have a call event and no return event: nothing forces them to be
//! placed, so "never took effect" is the branch where they stay unplaced. The search succeeds as
//! soon as every operation that did return is placed.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::bitset::{Bitset, FxBuild};
use super::model::{Model, Op};

const NIL: u32 = u32::MAX;
/// How often (in steps) the search looks at the clock and at the cancel flag. A power of two.
const POLL_EVERY: u64 = 1024;

/// Why a search stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    Steps,
    Timeout,
    Cancelled,
}

/// Limits of one partition's search.
pub(crate) struct Limits<'a> {
    pub max_steps: Option<u64>,
    pub deadline: Option<Instant>,
    /// Index of this partition, and the lowest index found illegal so far: a search whose
    /// partition comes after a known-illegal one cannot change the reported violation, so it
    /// stops.
    pub index: usize,
    pub first_illegal: &'a AtomicUsize,
}

impl Limits<'_> {
    fn stop(&self, steps: u64) -> Option<Stop> {
        if self.max_steps.is_some_and(|m| steps >= m) {
            return Some(Stop::Steps);
        }
        if self.first_illegal.load(Ordering::Relaxed) < self.index {
            return Some(Stop::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Stop::Timeout);
        }
        None
    }
}

/// How one partition's search ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Linearizable {
        steps: u64,
    },
    /// `prefix`: the longest sequence of operations (indices into the partition's ops) the search
    /// managed to place, in linearization order.
    Illegal {
        steps: u64,
        prefix: Vec<usize>,
    },
    Unknown {
        steps: u64,
        stop: Stop,
    },
}

#[derive(Clone, Copy)]
struct Entry {
    op: u32,
    /// For a call: its return entry, `NIL` if the operation is indeterminate. `NIL` for returns.
    ret: u32,
    is_call: bool,
}

struct Frame<S> {
    entry: u32,
    /// The state before this placement.
    state: S,
    /// Which successor of `Model::step` was taken, and how many there were: on backtracking,
    /// the next one is tried without stepping the model again when there is none.
    alt: usize,
    alts: usize,
}

/// The event list with O(1) unlink/relink. Index `entries.len()` is the head sentinel.
struct Links {
    next: Vec<u32>,
    prev: Vec<u32>,
}

impl Links {
    fn unlink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    /// MUST be called in the reverse order of `unlink` (dancing links).
    fn relink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        if n != NIL {
            self.prev[n as usize] = e;
        }
    }
}

fn entries<I, O>(ops: &[Op<I, O>]) -> Vec<Entry> {
    // (time, 0 = call / 1 = return, op): at equal times calls come first, so operations whose
    // intervals touch count as concurrent. Why: histories stamp in whole milliseconds, and two
    // events in one millisecond have no known order; treating them as ordered could report a
    // violation that did not happen.
    let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        events.push((op.call, 0, i as u32));
        if let (Some(ret), Some(_)) = (op.ret, &op.output) {
            events.push((ret.max(op.call), 1, i as u32));
        }
    }
    events.sort_unstable();
    let mut ret_of = vec![NIL; ops.len()];
    for (pos, &(_, kind, op)) in events.iter().enumerate() {
        if kind == 1 {
            ret_of[op as usize] = pos as u32;
        }
    }
    events
        .iter()
        .map(|&(_, kind, op)| Entry {
            op,
            ret: if kind == 0 { ret_of[op as usize] } else { NIL },
            is_call: kind == 0,
        })
        .collect()
}

fn key_hash<S: Hash>(linearized: &Bitset, state: &S) -> u64 {
    let mut h = FxBuild::default().build_hasher();
    linearized.hash(&mut h);
    state.hash(&mut h);
    h.finish()
}

/// Search one partition.
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    limits: &Limits<'_>,
) -> Outcome {
    let entries = entries(ops);
    let head = entries.len() as u32;
    let mut links = Links {
        next: (1..=entries.len() as u32)
            .map(|n| if n == head { NIL } else { n })
            .chain([if entries.is_empty() { NIL } else { 0 }])
            .collect(),
        prev: (0..entries.len() as u32)
            .map(|i| if i == 0 { head } else { i - 1 })
            .chain([NIL])
            .collect(),
    };
    let definite = |op: u32| !ops[op as usize].is_indeterminate();
    let mut remaining = ops.iter().filter(|o| !o.is_indeterminate()).count();

    let mut cache: HashMap<u64, Vec<(Bitset, M::State)>, FxBuild> = HashMap::default();
    let mut linearized = Bitset::new(ops.len());
    let mut state = model.init();
    let mut calls: Vec<Frame<M::State>> = Vec::new();
    let mut best: Vec<usize> = Vec::new();
    let mut cursor = links.next[head as usize];
    let mut steps: u64 = 0;

    // Try to place the operation of call entry `e` in `state`, starting at successor `from`.
    // On success, pushes the frame, unlinks the operation and returns true.
    macro_rules! place {
        ($e:expr, $from:expr) => {{
            let e: u32 = $e;
            let entry = entries[e as usize];
            let op = &ops[entry.op as usize];
            let succ = model.step(&state, &op.input, op.output.as_ref());
            let n = succ.len();
            let mut placed = false;
            if n > $from {
                linearized.set(entry.op as usize);
                for (alt, next_state) in succ.into_iter().enumerate().skip($from) {
                    let hash = key_hash(&linearized, &next_state);
                    let bucket = cache.entry(hash).or_default();
                    if bucket
                        .iter()
                        .any(|(b, s)| *b == linearized && *s == next_state)
                    {
                        continue;
                    }
                    bucket.push((linearized.clone(), next_state.clone()));
                    let before = std::mem::replace(&mut state, next_state);
                    calls.push(Frame {
                        entry: e,
                        state: before,
                        alt,
                        alts: n,
                    });
                    links.unlink(e);
                    if entry.ret != NIL {
                        links.unlink(entry.ret);
                    }
                    if definite(entry.op) {
                        remaining -= 1;
                    }
                    placed = true;
                    break;
                }
                if !placed {
                    linearized.clear(entry.op as usize);
                }
            }
            placed
        }};
    }

    loop {
        if remaining == 0 {
            return Outcome::Linearizable { steps };
        }
        steps += 1;
        if steps & (POLL_EVERY - 1) == 0 {
            if let Some(stop) = limits.stop(steps) {
                return Outcome::Unknown { steps, stop };
            }
        }
        debug_assert!(
            cursor != NIL,
            "a definite operation's return is still linked"
        );
        let e = cursor;
        if entries[e as usize].is_call {
            cursor = if place!(e, 0) {
                links.next[head as usize]
            } else {
                links.next[e as usize]
            };
            continue;
        }
        // The return of an operation not placed yet: this branch is dead.
        if calls.len() > best.len() {
            best = calls
                .iter()
                .map(|f| entries[f.entry as usize].op as usize)
                .collect();
        }
        let Some(frame) = calls.pop() else {
            return Outcome::Illegal {
                steps,
                prefix: best,
            };
        };
        let entry = entries[frame.entry as usize];
        state = frame.state;
        linearized.clear(entry.op as usize);
        if entry.ret != NIL {
            links.relink(entry.ret);
        }
        links.relink(frame.entry);
        if definite(entry.op) {
            remaining += 1;
        }
        cursor = if frame.alt + 1 < frame.alts && place!(frame.entry, frame.alt + 1) {
            links.next[head as usize]
        } else {
            links.next[frame.entry as usize]
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::register::{Register, RegisterInput, RegisterOutput};
    use std::sync::Arc;

    fn op(
        call: u64,
        ret: Option<u64>,
        input: RegisterInput,
        output: Option<RegisterOutput>,
    ) -> Op<RegisterInput, RegisterOutput> {
        Op {
            id: call,
            process: "p".into(),
            call,
            ret,
            input,
            output,
        }
    }

    fn run(ops: &[Op<RegisterInput, RegisterOutput>]) -> Outcome {
        let model = Register {
            values: Arc::new(Vec::new()),
        };
        let none = AtomicUsize::new(usize::MAX);
        let limits = Limits {
            max_steps: None,
            deadline: None,
            index: 0,
            first_illegal: &none,
        };
        search(&model, ops, &limits)
    }

    #[test]
    fn touching_intervals_are_concurrent() {
        // write(1) returns at 10, the read is invoked at 10 and sees the initial nil: allowed,
        // the two events share a millisecond.
        let ops = [
            op(
                0,
                Some(10),
                RegisterInput::Write(1),
                Some(RegisterOutput::Write),
            ),
            op(
                10,
                Some(20),
                RegisterInput::Read,
                Some(RegisterOutput::Read(None)),
            ),
        ];
        assert!(matches!(run(&ops), Outcome::Linearizable { .. }));
        let ops = [
            op(
                0,
                Some(10),
                RegisterInput::Write(1),
                Some(RegisterOutput::Write),
            ),
            op(
                11,
                Some(20),
                RegisterInput::Read,
                Some(RegisterOutput::Read(None)),
            ),
        ];
        let Outcome::Illegal { prefix, .. } = run(&ops) else {
            panic!()
        };
        assert_eq!(prefix, vec![0]);
    }

    #[test]
    fn empty_history_is_linearizable() {
        assert!(matches!(run(&[]), Outcome::Linearizable { steps: 0 }));
    }
}
