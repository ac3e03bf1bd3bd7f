//! `KvAppend`: keyed string registers with get/put/append, Porcupine's and Jepsen's `kv` model.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::format::{EventType, Paired, ParseError, Value};
use super::model::{Model, Op, Steps};
use super::partition::Partition;

/// One operation on a [`KvAppend`] key (the key itself is the partition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendInput {
    /// Read the key's string.
    Get,
    /// Replace the key's string.
    Put(Arc<str>),
    /// Append to the key's string.
    Append(Arc<str>),
}

/// What a `get` returned; puts and appends return nothing worth checking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendOutput {
    /// The string the `get` read (`nil` reads as empty).
    Get(Arc<str>),
    /// A put or append was acknowledged.
    Done,
}

/// The model of one key. A key starts as the empty string, and a `get` answered `nil` reads as
/// the empty string too (Porcupine's convention; Jepsen's kv tests write it either way).
#[derive(Clone, Copy, Debug, Default)]
pub struct KvAppend;

impl Model for KvAppend {
    /// Why `Arc<str>`: states are cloned at every placement; appends build a new string anyway.
    type State = Arc<str>;
    type Input = AppendInput;
    type Output = AppendOutput;

    fn init(&self) -> Self::State {
        Arc::from("")
    }

    fn step(
        &self,
        state: &Self::State,
        input: &AppendInput,
        output: Option<&AppendOutput>,
    ) -> Steps<Self::State> {
        match (input, output) {
            (AppendInput::Get, Some(AppendOutput::Get(v))) => {
                (v == state).then(|| state.clone()).into()
            }
            (AppendInput::Get, _) => Steps::One(state.clone()),
            (AppendInput::Put(v), _) => Steps::One(v.clone()),
            (AppendInput::Append(v), _) => Steps::One(Arc::from(format!("{state}{v}"))),
        }
    }

    fn describe_op(&self, input: &AppendInput, output: Option<&AppendOutput>) -> String {
        match (input, output) {
            (AppendInput::Get, Some(AppendOutput::Get(v))) => format!("get -> {v:?}"),
            (AppendInput::Get, _) => "get -> ?".into(),
            (AppendInput::Put(v), o) => {
                format!("put({v:?}){}", if o.is_none() { " -> ?" } else { "" })
            }
            (AppendInput::Append(v), o) => {
                format!("append({v:?}){}", if o.is_none() { " -> ?" } else { "" })
            }
        }
    }

    fn describe_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }
}

fn text(line: usize, v: &Value) -> Result<Arc<str>, ParseError> {
    match v {
        Value::Nil => Ok(Arc::from("")),
        Value::Str(s) => Ok(Arc::from(s.as_str())),
        Value::Int(i) => Ok(Arc::from(i.to_string())),
        other => Err(ParseError::new(
            line,
            format!("value {other} is not a string"),
        )),
    }
}

/// One partition per `:key`. Ops `:get` (or `:read`), `:put` (or `:write`), `:append`.
/// Dropped: `:fail` operations and gets that did not complete `:ok`.
pub fn kv_append_partitions(
    pairs: &[Paired],
) -> Result<(Vec<Partition<KvAppend>>, Vec<String>), ParseError> {
    let mut by_key: BTreeMap<Value, Vec<Op<AppendInput, AppendOutput>>> = BTreeMap::new();
    let mut dropped_fail = 0;
    for pair in pairs {
        let inv = &pair.invoke;
        let kind = pair.kind();
        if kind == EventType::Fail {
            dropped_fail += 1;
            continue;
        }
        let Some(key) = &inv.key else {
            return Err(ParseError::new(
                inv.line,
                "missing :key (the kv-append model is keyed)",
            ));
        };
        let input = match inv.f.as_str() {
            "get" | "read" => {
                if kind != EventType::Ok {
                    continue;
                }
                AppendInput::Get
            }
            "put" | "write" => AppendInput::Put(text(inv.line, &inv.value)?),
            "append" => AppendInput::Append(text(inv.line, &inv.value)?),
            f => {
                return Err(ParseError::new(
                    inv.line,
                    format!(":f :{f} is not a kv operation (:get, :put, :append)"),
                ))
            }
        };
        let (ret, output) = match (&pair.completion, kind) {
            (Some(c), EventType::Ok) => (
                Some(c.line as u64),
                Some(match input {
                    AppendInput::Get => AppendOutput::Get(text(c.line, &c.value)?),
                    _ => AppendOutput::Done,
                }),
            ),
            _ => (None, None),
        };
        by_key.entry(key.clone()).or_default().push(Op {
            id: inv.line as u64,
            process: inv.process.clone(),
            call: inv.line as u64,
            ret,
            input,
            output,
        });
    }
    let partitions = by_key
        .into_iter()
        .map(|(key, ops)| Partition {
            label: format!("key {key}"),
            model: KvAppend,
            ops,
        })
        .collect();
    let notes = if dropped_fail > 0 {
        vec![format!(
            "{dropped_fail} :fail operations dropped (not applied)"
        )]
    } else {
        Vec::new()
    };
    Ok((partitions, notes))
}
