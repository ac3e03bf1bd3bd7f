//! `CheckResult`: the verdict of a check, and on a violation what to look at — as text and JSON.

use std::fmt;

use serde::Serialize;

/// The answer. `Unknown` is given when a step or time budget ran out before the search finished;
/// it is never turned into `Linearizable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every partition has an order consistent with real time in which the model gives every
    /// answer seen.
    Linearizable,
    /// Some partition has no such order; [`CheckResult::violation`] shows the smallest.
    NotLinearizable,
    /// No partition failed, but at least one ran out of budget (see [`CheckResult::unknown`]).
    Unknown,
}

impl Verdict {
    /// `locksim check`'s exit code: 0 linearizable, 1 not, 3 unknown (2 is bad input).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Linearizable => 0,
            Verdict::NotLinearizable => 1,
            Verdict::Unknown => 3,
        }
    }
}

/// One operation as a report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpReport {
    /// The operation's `index` (JSON lines) or the line number of its invocation (Jepsen, EDN).
    pub id: u64,
    /// The client that issued it.
    pub process: String,
    /// Invocation time (simulated ms, or a line number).
    pub call: u64,
    /// `None`: indeterminate.
    pub ret: Option<u64>,
    /// The operation in the model's words (`write(3)`, `put k1=v -> rev 7`).
    pub op: String,
}

impl fmt::Display for OpReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ret = self.ret.map_or("?".to_string(), |r| r.to_string());
        write!(
            f,
            "#{:<5} {:<8} [{}, {}] {}",
            self.id, self.process, self.call, ret, self.op
        )
    }
}

/// What went wrong, in the smallest failing partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which partition (`key "k1"`, `keys "a", "b"`, `register`).
    pub partition: String,
    /// How many operations the partition has.
    pub partition_ops: usize,
    /// The longest sequence of operations the search could linearize, in order.
    pub prefix: Vec<OpReport>,
    /// The model's state after `prefix`.
    pub state: String,
    /// Operations that had to be placed next (they were invoked before the earliest return not
    /// in the prefix) and that the model refuses in `state`.
    pub unplaced: Vec<OpReport>,
}

/// A partition whose search ran out of budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnknownPartition {
    /// Which partition (`key "k1"`, `register`).
    pub partition: String,
    /// How many operations the partition has.
    pub partition_ops: usize,
    /// `steps` or `timeout`.
    pub reason: String,
}

/// The result of checking a whole history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The answer.
    pub verdict: Verdict,
    /// Operations checked (after dropping failed ones and indeterminate reads).
    pub ops: usize,
    /// Number of partitions checked.
    pub partitions: usize,
    /// Search steps summed over the partitions that finished or ran out (not the cancelled ones).
    pub steps: u64,
    /// The smallest failing partition, when the verdict is `NotLinearizable`.
    pub violation: Option<Violation>,
    /// Set when the verdict is `Unknown`, in partition order.
    pub unknown: Vec<UnknownPartition>,
    /// What the conversion left out, e.g. "3 range requests with a revision (not modelled)".
    pub notes: Vec<String>,
}

impl CheckResult {
    /// Whether the verdict is [`Verdict::Linearizable`].
    pub fn is_linearizable(&self) -> bool {
        self.verdict == Verdict::Linearizable
    }

    /// The result as pretty-printed JSON (`locksim check --json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a check result serializes")
    }
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.verdict {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable => "NOT linearizable",
            Verdict::Unknown => "unknown (budget exhausted)",
        };
        writeln!(
            f,
            "{verdict}: {} operations in {} partitions, {} search steps",
            self.ops, self.partitions, self.steps
        )?;
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        if let Some(v) = &self.violation {
            writeln!(
                f,
                "smallest failing partition: {} ({} operations)",
                v.partition, v.partition_ops
            )?;
            writeln!(
                f,
                "longest linearizable prefix ({} operations):",
                v.prefix.len()
            )?;
            for op in &v.prefix {
                writeln!(f, "  {op}")?;
            }
            writeln!(f, "state after the prefix: {}", v.state)?;
            writeln!(f, "operations that cannot be placed next:")?;
            for op in &v.unplaced {
                writeln!(f, "  {op}")?;
            }
        }
        for u in &self.unknown {
            writeln!(
                f,
                "unfinished: {} ({} operations): {}",
                u.partition, u.partition_ops, u.reason
            )?;
        }
        Ok(())
    }
}
