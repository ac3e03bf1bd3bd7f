//! AP commands read back typed from the run's [`History`]. The client records each command as
//! an [`Operation`](crate::Operation) like every store's (request `Request::Redis`, the node
//! that answered in `node`), so it is counted, digested and summarized with the rest;
//! [`operations`] gives the AP checkers and tests the Redis-typed view.

use serde::{Deserialize, Serialize};

use super::command::{ApError, Command, Reply};
use crate::op::{OpError, Request, Response};
use crate::world::history::{History, Outcome, Record};

/// What became of an AP command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum ApOutcome {
    /// The run ended before an answer.
    Pending,
    /// The node's reply.
    Ok(Reply),
    /// A definite failure: the command did not take effect.
    Fail(ApError),
    /// A write with no answer: it may or may not have taken effect.
    Indeterminate,
}

/// One AP command as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApOperation {
    /// The operation's index in the history (shared by every store's operations).
    pub index: u64,
    /// The client host.
    pub process: String,
    /// The command sent.
    pub command: Command,
    /// Simulated milliseconds since the start of the run when the client issued it.
    pub invoke_ms: u64,
    /// `None` while pending or when indeterminate.
    pub return_ms: Option<u64>,
    /// The node that answered (or was last tried).
    pub node: Option<String>,
    /// What became of it.
    pub outcome: ApOutcome,
}

/// Every AP command in `history`, in invoke order, with its outcome.
pub fn operations(history: &History) -> Vec<ApOperation> {
    history
        .records()
        .into_iter()
        .filter_map(|record| {
            let Record::Op(op) = record else {
                return None;
            };
            let Request::Redis(command) = op.request else {
                return None;
            };
            let outcome = match op.outcome {
                Outcome::Pending => ApOutcome::Pending,
                Outcome::Indeterminate => ApOutcome::Indeterminate,
                Outcome::Ok(Response::Redis(reply)) => ApOutcome::Ok(reply),
                Outcome::Fail(OpError::Redis(e)) => ApOutcome::Fail(e),
                other => panic!("an AP command recorded with another store's outcome {other:?}"),
            };
            Some(ApOperation {
                index: op.index,
                process: op.process,
                command,
                invoke_ms: op.invoke_ms,
                return_ms: op.return_ms,
                node: op.node,
                outcome,
            })
        })
        .collect()
}
