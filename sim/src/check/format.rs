//! Histories written elsewhere: the three input formats, the events they hold, and pairing an
//! invocation with its completion.
//!
//! `jsonl` is this project's own history ([`crate::Record`] per line); `jepsen-log` and `edn`
//! hold Jepsen's event model: a process invokes an operation and later completes it with `:ok`,
//! `:fail` (certainly not applied) or `:info` (unknown outcome). Jepsen files carry no usable
//! clock, so an event's time is its line number: only the order matters to the search.

mod edn;
mod jepsen_log;
mod jsonl;

use std::collections::BTreeMap;

use thiserror::Error;

pub use edn::{parse_edn, parse_edn_value};
pub use jepsen_log::parse_jepsen_log;
pub use jsonl::parse_jsonl;

/// Bad input: what is wrong and on which line (1-based; 0 = the file as a whole).
///
/// Why its own type and not a variant of [`crate::Error`]: that enum is etcd's error vocabulary,
/// serialized into histories; a malformed file is a different kind of thing.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The offending line, 1-based; 0 for the file as a whole.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl ParseError {
    /// An error on `line` (0: the whole file).
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

/// The three input formats of `locksim check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// This project's JSON-lines history, one [`crate::Record`] per line; checked against the etcd
    /// KV model.
    Jsonl,
    /// Jepsen's `jepsen.util` log lines (`3 :invoke :cas [1 4]`), as Porcupine's etcd test data.
    JepsenLog,
    /// Jepsen history maps in EDN, one per line (`{:process 0, :type :invoke, :f :get, …}`).
    Edn,
}

/// An EDN value, as much of EDN as Jepsen histories use.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string, unescaped.
    Str(String),
    /// Without the leading colon.
    Keyword(String),
    /// A bare symbol.
    Symbol(String),
    /// Vectors, lists and sets alike.
    Vector(Vec<Value>),
    /// A map, its entries in file order.
    Map(Vec<(Value, Value)>),
}

impl std::fmt::Display for Value {
    /// EDN's own spelling, so reports quote values as the file had them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Keyword(k) => write!(f, ":{k}"),
            Value::Symbol(s) => write!(f, "{s}"),
            Value::Vector(v) => {
                write!(f, "[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{x}")?;
                }
                write!(f, "]")
            }
            Value::Map(m) => {
                write!(f, "{{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// Jepsen's `:type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// `:invoke`: the operation began.
    Invoke,
    /// `:ok`: it completed and took effect.
    Ok,
    /// `:fail`: it certainly did not take effect.
    Fail,
    /// `:info`: its outcome is unknown (it may take effect at any later point, or never).
    Info,
}

/// One line of a Jepsen history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Line number in the file (1-based): the event's time, as Jepsen files carry no usable clock.
    pub line: usize,
    /// The Jepsen process that issued it.
    pub process: String,
    /// Invocation or completion, and which.
    pub kind: EventType,
    /// `:f` without the colon: `read`, `write`, `cas`, `get`, `put`, `append`.
    pub f: String,
    /// `:key`, when the history is keyed.
    pub key: Option<Value>,
    /// `:value` (nil when absent).
    pub value: Value,
}

/// An invocation and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paired {
    /// The `:invoke` event.
    pub invoke: Event,
    /// `None`: the history ended before it completed (as `:info`).
    pub completion: Option<Event>,
}

impl Paired {
    /// `Ok`, `Fail` or `Info` (an unfinished invocation counts as `Info`).
    pub fn kind(&self) -> EventType {
        self.completion.as_ref().map_or(EventType::Info, |c| c.kind)
    }
}

/// Pair each invocation with the next completion of the same process, in file order.
///
/// Errors: a completion with no open invocation, an invocation while the process already has
/// one open, or a completion whose `:f` differs from its invocation's.
pub fn pair_events(events: Vec<Event>) -> Result<Vec<Paired>, ParseError> {
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    let mut pairs: Vec<Paired> = Vec::new();
    for event in events {
        match event.kind {
            EventType::Invoke => {
                if let Some(&i) = open.get(&event.process) {
                    return Err(ParseError::new(
                        event.line,
                        format!(
                            "process {} invokes again while its invocation on line {} has not completed",
                            event.process, pairs[i].invoke.line
                        ),
                    ));
                }
                open.insert(event.process.clone(), pairs.len());
                pairs.push(Paired {
                    invoke: event,
                    completion: None,
                });
            }
            _ => {
                let Some(i) = open.remove(&event.process) else {
                    return Err(ParseError::new(
                        event.line,
                        format!(
                            "process {} completes an operation it never invoked",
                            event.process
                        ),
                    ));
                };
                if pairs[i].invoke.f != event.f {
                    return Err(ParseError::new(
                        event.line,
                        format!(
                            "completion :{} does not match the invocation :{} on line {}",
                            event.f, pairs[i].invoke.f, pairs[i].invoke.line
                        ),
                    ));
                }
                pairs[i].completion = Some(event);
            }
        }
    }
    Ok(pairs)
}

/// Parse `:invoke`/`:ok`/`:fail`/`:info`.
pub(crate) fn event_type(line: usize, v: &Value) -> Result<EventType, ParseError> {
    match v {
        Value::Keyword(k) if k == "invoke" => Ok(EventType::Invoke),
        Value::Keyword(k) if k == "ok" => Ok(EventType::Ok),
        Value::Keyword(k) if k == "fail" => Ok(EventType::Fail),
        Value::Keyword(k) if k == "info" => Ok(EventType::Info),
        other => Err(ParseError::new(
            line,
            format!("type {other} is not :invoke, :ok, :fail or :info"),
        )),
    }
}
