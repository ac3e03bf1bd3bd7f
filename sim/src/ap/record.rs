//! How AP client commands are recorded in the run's [`History`], and read back typed.
//!
//! Each command is two [`Record::App`] records from the client's host: one at invoke
//! (`{"ap_op": N, "invoke": <command>}`) and one at return (`{"ap_op": N, "node": "r2",
//! "outcome": <outcome>}`); an indeterminate write gets a return record with outcome
//! `indeterminate` and the time it was given up, which is not a return time.
//!
//! Why App records and not a new `Record` variant: `Record` is matched exhaustively by the
//! checkers being written elsewhere, and an App record already lands in the same ordered log,
//! so the run's digest covers AP commands with no change to the history format.
//! [`operations`] pairs the two records back into [`ApOperation`]s for checkers.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::command::{ApError, Command, Reply};
use crate::world::history::{History, Record};

/// What became of an AP command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum ApOutcome {
    /// The run ended before an answer (only from [`operations`]).
    Pending,
    Ok(Reply),
    /// A definite failure: the command did not take effect.
    Fail(ApError),
    /// A write with no answer: it may or may not have taken effect.
    Indeterminate,
}

/// One AP command as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApOperation {
    /// Store-wide number, in invoke order.
    pub index: u64,
    /// The client host.
    pub process: String,
    pub command: Command,
    pub invoke_ms: u64,
    /// `None` while pending or when indeterminate.
    pub return_ms: Option<u64>,
    /// The node that answered (or was last tried).
    pub node: Option<String>,
    pub outcome: ApOutcome,
}

/// Numbers AP operations across every client of a store. Cheap to clone; clones share.
#[derive(Clone, Debug, Default)]
pub struct ApOpCounter(Rc<Cell<u64>>);

impl ApOpCounter {
    pub(crate) fn next(&self) -> u64 {
        let n = self.0.get();
        self.0.set(n + 1);
        n
    }
}

pub(crate) fn invoke(
    history: &History,
    process: &str,
    index: u64,
    command: &Command,
    at: Duration,
) {
    history.app(
        process,
        serde_json::json!({"ap_op": index, "invoke": command}),
        at,
    );
}

pub(crate) fn complete(
    history: &History,
    process: &str,
    index: u64,
    node: Option<&str>,
    outcome: &ApOutcome,
    at: Duration,
) {
    history.app(
        process,
        serde_json::json!({"ap_op": index, "node": node, "outcome": outcome}),
        at,
    );
}

/// Every AP command in `history`, in invoke order, with its outcome.
pub fn operations(history: &History) -> Vec<ApOperation> {
    let mut ops: BTreeMap<u64, ApOperation> = BTreeMap::new();
    for record in history.records() {
        let Record::App {
            at_ms,
            process,
            event,
        } = record
        else {
            continue;
        };
        let Some(index) = event.get("ap_op").and_then(|v| v.as_u64()) else {
            continue;
        };
        if let Some(command) = event.get("invoke") {
            let command: Command =
                serde_json::from_value(command.clone()).expect("recorded commands parse");
            ops.insert(
                index,
                ApOperation {
                    index,
                    process,
                    command,
                    invoke_ms: at_ms,
                    return_ms: None,
                    node: None,
                    outcome: ApOutcome::Pending,
                },
            );
        } else if let Some(outcome) = event.get("outcome") {
            let outcome: ApOutcome =
                serde_json::from_value(outcome.clone()).expect("recorded outcomes parse");
            if let Some(op) = ops.get_mut(&index) {
                op.node = event
                    .get("node")
                    .and_then(|n| n.as_str())
                    .map(str::to_string);
                if outcome != ApOutcome::Indeterminate {
                    op.return_ms = Some(at_ms);
                }
                op.outcome = outcome;
            }
        }
    }
    ops.into_values().collect()
}
