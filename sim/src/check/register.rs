//! `Register`: a read/write/compare-and-set register, Jepsen's `cas-register`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::format::{EventType, Paired, ParseError, Value};
use super::model::{Model, Op, Steps};
use super::partition::Partition;

/// A register value, interned: index into [`Register::values`]. Why interned: the search clones
/// and hashes states constantly, and a `u32` is cheaper than an EDN value.
pub type ValueId = u32;

/// One operation on a [`Register`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterInput {
    /// Read the register.
    Read,
    /// Set the register to a value.
    Write(ValueId),
    /// Compare-and-set: if the register holds `from`, set it to `to`.
    Cas {
        /// The value the register must hold.
        from: ValueId,
        /// The value it then holds.
        to: ValueId,
    },
}

/// What a [`Register`] operation answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOutput {
    /// `None`: the register held nothing (Jepsen's `nil`).
    Read(Option<ValueId>),
    /// The write was acknowledged.
    Write,
    /// A `:ok` CAS: it swapped.
    Cas,
    /// A `:fail` CAS read as an observation ([`FailedCas::Observed`]): the compare was
    /// evaluated, found the register different from `from`, and changed nothing.
    CasFailed,
}

/// What a `:fail :cas` means. Jepsen's general reading of `:fail` is "did not happen", which
/// also covers a request refused before its compare ran; Porcupine's etcd model — whose format
/// `jepsen-log` is — reads a failed CAS as a compare that was evaluated and found the register
/// ≠ `from` at some moment within the operation, which is what a failed etcd txn compare means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailedCas {
    /// The compare ran and failed: the register held something else (Porcupine's reading; the
    /// default for `jepsen-log`).
    Observed,
    /// Nothing happened: the operation is dropped (Jepsen's `:fail`; the default for `edn`).
    NotApplied,
}

/// The model. The register starts empty (`nil`).
#[derive(Clone, Debug)]
pub struct Register {
    /// Names of interned values, for reports.
    pub values: Arc<Vec<Value>>,
}

impl Register {
    fn name(&self, v: Option<ValueId>) -> String {
        v.map_or("nil".into(), |v| self.values[v as usize].to_string())
    }
}

impl Model for Register {
    type State = Option<ValueId>;
    type Input = RegisterInput;
    type Output = RegisterOutput;

    fn init(&self) -> Self::State {
        None
    }

    fn step(
        &self,
        state: &Self::State,
        input: &RegisterInput,
        output: Option<&RegisterOutput>,
    ) -> Steps<Self::State> {
        match (input, output) {
            (RegisterInput::Read, Some(RegisterOutput::Read(v))) => {
                (v == state).then_some(*state).into()
            }
            (RegisterInput::Read, None) => Steps::One(*state),
            (RegisterInput::Write(v), _) => Steps::One(Some(*v)),
            (RegisterInput::Cas { from, .. }, Some(RegisterOutput::CasFailed)) => {
                (*state != Some(*from)).then_some(*state).into()
            }
            (RegisterInput::Cas { from, to }, Some(_)) => {
                (*state == Some(*from)).then_some(Some(*to)).into()
            }
            // Indeterminate CAS: swaps if it can, else leaves the register alone.
            (RegisterInput::Cas { from, to }, None) => Steps::One(if *state == Some(*from) {
                Some(*to)
            } else {
                *state
            }),
            _ => Steps::None,
        }
    }

    fn describe_op(&self, input: &RegisterInput, output: Option<&RegisterOutput>) -> String {
        let result = match output {
            None => "?".to_string(),
            Some(RegisterOutput::Read(v)) => self.name(*v),
            Some(RegisterOutput::CasFailed) => "fail".to_string(),
            Some(_) => "ok".to_string(),
        };
        match input {
            RegisterInput::Read => format!("read -> {result}"),
            RegisterInput::Write(v) => format!("write({}) -> {result}", self.name(Some(*v))),
            RegisterInput::Cas { from, to } => format!(
                "cas({}, {}) -> {result}",
                self.name(Some(*from)),
                self.name(Some(*to))
            ),
        }
    }

    fn describe_state(&self, state: &Self::State) -> String {
        self.name(*state)
    }
}

/// Build register partitions from Jepsen events: one register, or one per `:key` when the
/// history is keyed (independent registers).
///
/// Dropped: `:fail` operations (certainly not applied) — except a `:fail :cas` under
/// [`FailedCas::Observed`], kept as a failed compare — and reads that did not complete `:ok` (a
/// read has no effect). Errors: an `:f` other than read/write/cas, a CAS whose value is not
/// `[from to]`, a write of `nil`.
pub fn register_partitions(
    pairs: &[Paired],
    failed_cas: FailedCas,
) -> Result<(Vec<Partition<Register>>, Vec<String>), ParseError> {
    let mut interner: BTreeMap<Value, ValueId> = BTreeMap::new();
    let mut values: Vec<Value> = Vec::new();
    let mut intern = |v: &Value| -> ValueId {
        *interner.entry(v.clone()).or_insert_with(|| {
            values.push(v.clone());
            (values.len() - 1) as ValueId
        })
    };
    let mut by_key: BTreeMap<Option<Value>, Vec<Op<RegisterInput, RegisterOutput>>> =
        BTreeMap::new();
    let mut dropped_fail = 0;
    let mut observed_fail = 0;
    for pair in pairs {
        let inv = &pair.invoke;
        let kind = pair.kind();
        if kind == EventType::Fail && !(failed_cas == FailedCas::Observed && inv.f == "cas") {
            dropped_fail += 1;
            continue;
        }
        let input = match inv.f.as_str() {
            "read" => {
                if kind != EventType::Ok {
                    continue;
                }
                RegisterInput::Read
            }
            "write" => match &inv.value {
                Value::Nil => return Err(ParseError::new(inv.line, "write of nil")),
                v => RegisterInput::Write(intern(v)),
            },
            "cas" => match &inv.value {
                Value::Vector(v) if v.len() == 2 => RegisterInput::Cas {
                    from: intern(&v[0]),
                    to: intern(&v[1]),
                },
                other => {
                    return Err(ParseError::new(
                        inv.line,
                        format!("cas value {other} is not [from to]"),
                    ))
                }
            },
            f => {
                return Err(ParseError::new(
                    inv.line,
                    format!(":f :{f} is not a register operation (:read, :write, :cas)"),
                ))
            }
        };
        let (ret, output) = match (&pair.completion, kind) {
            (Some(c), EventType::Ok) => {
                let output = match input {
                    RegisterInput::Read => RegisterOutput::Read(match &c.value {
                        Value::Nil => None,
                        v => Some(intern(v)),
                    }),
                    RegisterInput::Write(_) => RegisterOutput::Write,
                    RegisterInput::Cas { .. } => RegisterOutput::Cas,
                };
                (Some(c.line as u64), Some(output))
            }
            (Some(c), EventType::Fail) => {
                observed_fail += 1;
                (Some(c.line as u64), Some(RegisterOutput::CasFailed))
            }
            _ => (None, None),
        };
        by_key.entry(inv.key.clone()).or_default().push(Op {
            id: inv.line as u64,
            process: inv.process.clone(),
            call: inv.line as u64,
            ret,
            input,
            output,
        });
    }
    let values = Arc::new(values);
    let partitions = by_key
        .into_iter()
        .map(|(key, ops)| Partition {
            label: key.map_or("register".into(), |k| format!("key {k}")),
            model: Register {
                values: values.clone(),
            },
            ops,
        })
        .collect();
    let mut notes = Vec::new();
    if dropped_fail > 0 {
        notes.push(format!(
            "{dropped_fail} :fail operations dropped (not applied)"
        ));
    }
    if observed_fail > 0 {
        notes.push(format!(
            "{observed_fail} :fail :cas kept as observations (the compare ran and found another value)"
        ));
    }
    Ok((partitions, notes))
}
