//! `Partition`: an independent piece of a history (P-compositionality), and checking all the
//! pieces of a history in parallel.
//!
//! A history is linearizable iff each partition is, when partitions share no object: operations
//! on different keys commute, so a linearization of each key's operations can be interleaved in
//! real-time order (Herlihy & Wing's locality). An etcd txn or range that touches several keys
//! merges their partitions.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::model::{Model, Op, Steps};
use super::report::{CheckResult, OpReport, UnknownPartition, Verdict, Violation};
use super::wgl::{self, Limits, Stop};

/// Budgets and parallelism of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Search steps allowed per partition; past it the partition is `Unknown`. Deterministic:
    /// the same input and budget give the same verdict.
    pub max_steps: Option<u64>,
    /// Wall-clock budget for the whole check. Not deterministic at the margin (a slower machine
    /// may answer `Unknown` where a faster one finishes); prefer `max_steps` in tests.
    pub timeout: Option<Duration>,
    /// Worker threads; 0 = the machine's available parallelism.
    pub threads: usize,
}

impl Default for CheckOptions {
    /// 50 million steps per partition (tens of seconds at most), no timeout, all cores.
    fn default() -> Self {
        Self {
            max_steps: Some(50_000_000),
            timeout: None,
            threads: 0,
        }
    }
}

/// One independent piece of a history with the model instance that checks it.
pub struct Partition<M: Model> {
    /// Names the partition in reports: `key "k1"`, `keys "a", "b"`, `register`.
    pub label: String,
    /// The model instance the partition is checked against (it holds the names its reports
    /// use).
    pub model: M,
    /// The partition's operations, completed or indeterminate (see [`Op`]).
    pub ops: Vec<Op<M::Input, M::Output>>,
}

/// Check every partition, in parallel, and combine the verdicts.
///
/// Partitions are ordered by (number of operations, label), and the reported violation is the
/// first illegal partition in that order — the smallest — whatever the thread timing. Why not
/// "whichever fails first": the same input must give the same report. A partition that fails
/// cancels only the partitions after it in that order; the ones before it keep running, as one
/// of them could still be the smaller failure.
pub fn check_partitions<M: Model>(
    mut partitions: Vec<Partition<M>>,
    options: &CheckOptions,
    notes: Vec<String>,
) -> CheckResult {
    partitions.sort_by(|a, b| (a.ops.len(), &a.label).cmp(&(b.ops.len(), &b.label)));
    let deadline = options.timeout.map(|t| Instant::now() + t);
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, partitions.len().max(1));

    let next = AtomicUsize::new(0);
    let first_illegal = AtomicUsize::new(usize::MAX);
    let outcomes: Mutex<Vec<Option<wgl::Outcome>>> = Mutex::new(vec![None; partitions.len()]);
    let worker = || loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= partitions.len() || index > first_illegal.load(Ordering::Relaxed) {
            return;
        }
        let partition = &partitions[index];
        let limits = Limits {
            max_steps: options.max_steps,
            deadline,
            index,
            first_illegal: &first_illegal,
        };
        let outcome = wgl::search(&partition.model, &partition.ops, &limits);
        if matches!(outcome, wgl::Outcome::Illegal { .. }) {
            first_illegal.fetch_min(index, Ordering::Relaxed);
        }
        outcomes.lock().expect("no worker panics holding the lock")[index] = Some(outcome);
    };
    if threads == 1 {
        worker();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(worker);
            }
        });
    }
    let outcomes = outcomes.into_inner().expect("workers are done");

    let mut result = CheckResult {
        verdict: Verdict::Linearizable,
        ops: partitions.iter().map(|p| p.ops.len()).sum(),
        partitions: partitions.len(),
        steps: 0,
        violation: None,
        unknown: Vec::new(),
        notes,
    };
    for (partition, outcome) in partitions.iter().zip(outcomes) {
        match outcome {
            Some(wgl::Outcome::Linearizable { steps }) => result.steps += steps,
            Some(wgl::Outcome::Illegal { steps, prefix }) => {
                result.steps += steps;
                result.verdict = Verdict::NotLinearizable;
                result.violation = Some(violation(partition, &prefix));
                result.unknown.clear();
                break;
            }
            Some(wgl::Outcome::Unknown { steps, stop }) => {
                result.steps += steps;
                if stop == Stop::Cancelled {
                    // Only partitions after an illegal one are cancelled; the loop stops there.
                    continue;
                }
                result.verdict = Verdict::Unknown;
                result.unknown.push(UnknownPartition {
                    partition: partition.label.clone(),
                    partition_ops: partition.ops.len(),
                    reason: match stop {
                        Stop::Steps => "step budget exhausted".into(),
                        Stop::Timeout => "timeout".into(),
                        Stop::Cancelled => unreachable!(),
                    },
                });
            }
            // Skipped: after an illegal partition, which ends the loop first.
            None => {}
        }
    }
    result
}

fn op_report<M: Model>(model: &M, op: &Op<M::Input, M::Output>) -> OpReport {
    OpReport {
        id: op.id,
        process: op.process.clone(),
        call: op.call,
        ret: op.ret,
        op: model.describe_op(&op.input, op.output.as_ref()),
    }
}

/// Report an illegal partition: the prefix, the state after it, and the operations that had to
/// come next but that the model refuses there.
fn violation<M: Model>(partition: &Partition<M>, prefix: &[usize]) -> Violation {
    let model = &partition.model;
    let ops = &partition.ops;
    // Replay the prefix. A step with several successors is resolved by taking the first that
    // lets the rest of the prefix replay; the search took one such path, so one exists.
    let state = replay(model, ops, prefix, model.init()).unwrap_or_else(|| model.init());
    let mut placed = vec![false; ops.len()];
    for &i in prefix {
        placed[i] = true;
    }
    let deadline = ops
        .iter()
        .enumerate()
        .filter(|(i, op)| !placed[*i] && !op.is_indeterminate())
        .filter_map(|(_, op)| op.ret)
        .min()
        .unwrap_or(u64::MAX);
    let unplaced = ops
        .iter()
        .enumerate()
        .filter(|(i, op)| !placed[*i] && op.call <= deadline)
        .filter(|(_, op)| {
            matches!(
                model.step(&state, &op.input, op.output.as_ref()),
                Steps::None
            )
        })
        .map(|(_, op)| op_report(model, op))
        .collect();
    Violation {
        partition: partition.label.clone(),
        partition_ops: ops.len(),
        prefix: prefix.iter().map(|&i| op_report(model, &ops[i])).collect(),
        state: model.describe_state(&state),
        unplaced,
    }
}

/// The state after `prefix`, depth-first over steps with several successors (iterative: a
/// prefix can be thousands of operations long, deeper than a thread's stack).
fn replay<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    prefix: &[usize],
    init: M::State,
) -> Option<M::State> {
    // (position in prefix, state before it, next successor to try)
    let mut stack: Vec<(usize, M::State, usize)> = vec![(0, init, 0)];
    while let Some((pos, state, alt)) = stack.pop() {
        if pos == prefix.len() {
            return Some(state);
        }
        let op = &ops[prefix[pos]];
        let succ = model.step(&state, &op.input, op.output.as_ref());
        let n = succ.len();
        if let Some(next) = succ.into_nth(alt) {
            if alt + 1 < n {
                stack.push((pos, state, alt + 1));
            }
            stack.push((pos + 1, next, 0));
        }
    }
    None
}
