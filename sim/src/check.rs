//! Linearizability checking: is there an order of a history's operations, consistent with their
//! real-time order, in which a sequential model produces every answer the clients saw?
//!
//! The search is Wing–Gong's with Lowe's memoisation of (placed operations, model state), as
//! Porcupine implements it, over P-compositional partitions checked in parallel. Operations whose
//! answer never came (indeterminate) may take effect at any point after their invocation, or
//! never; operations that failed definitely are dropped.
//!
//! # Layout
//! * `model`: `Model`, the sequential specification, and `Op`, one operation of a history.
//! * `bitset`: `Bitset`, the placed operations, and the memo table's fixed hasher.
//! * `wgl`: the search over one partition.
//! * `partition`: `Partition`, `CheckOptions`, and checking partitions in parallel.
//! * `report`: `CheckResult`, `Verdict`, `Violation`; text and JSON.
//! * `stale_read`: `StaleRead`, a read that missed an acknowledged write: the one-sentence
//!   explanation of the commonest violation.
//! * `register`: `Register`, read/write/cas (Jepsen's cas-register).
//! * `kv_append`: `KvAppend`, keyed get/put/append strings (Jepsen's and Porcupine's kv).
//! * `kv`: `Kv`, the etcd KV model over [`crate::ClientRequest`]/[`crate::ClientResponse`].
//! * `zk`: ZooKeeper's promises checked by zxid, no search: writes in real-time order, sessions
//!   never back in time, sync'd reads up to date; stale local reads reported.
//! * `format`: the input formats (`jsonl`, `jepsen-log`, `edn`) and Jepsen event pairing.

mod bitset;
mod format;
mod kv;
mod kv_append;
mod model;
mod partition;
mod register;
mod report;
mod stale_read;
mod wgl;
mod zk;

pub use format::{
    pair_events, parse_edn, parse_edn_value, parse_jepsen_log, parse_jsonl, Event, EventType,
    Format, Paired, ParseError, Value,
};
pub use kv::{kv_partitions, Kv};
pub use kv_append::{kv_append_partitions, AppendInput, AppendOutput, KvAppend};
pub use model::{Model, Op, Steps, StepsIter};
pub use partition::{check_partitions, CheckOptions, Partition};
pub use register::{register_partitions, FailedCas, Register, RegisterInput, RegisterOutput};
pub use report::{CheckResult, OpReport, UnknownPartition, Verdict, Violation};
pub use stale_read::{stale_reads, StaleRead, WriteRef};
pub use zk::{check as check_zk, ZkCheck, ZkFinding, ZkStaleRead};

use crate::world::history::{History, Record};

/// Which model a history is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// Read/write/cas register (Jepsen's cas-register); keyed by `:key` when present.
    Register,
    /// The etcd KV model, over this project's JSON-lines histories.
    Kv,
    /// Keyed strings with get/put/append.
    KvAppend,
}

/// Check a simulated run's history against the etcd KV model. This is what a scenario run
/// calls on every history.
pub fn check_history(history: &History, options: &CheckOptions) -> CheckResult {
    check_records(&history.records(), options)
}

/// Check history records (e.g. parsed from a JSON-lines file) against the etcd KV model.
pub fn check_records(records: &[Record], options: &CheckOptions) -> CheckResult {
    let (partitions, notes) = kv_partitions(records);
    check_partitions(partitions, options, notes)
}

/// Parse `text` in `format` and check it against `model` (`None`: the format's natural model —
/// `kv` for `jsonl`, `register` for `jepsen-log`, and for `edn` `kv-append` when the history
/// has `:get`/`:put`/`:append` operations, `register` otherwise). `failed_cas` says what a
/// register history's `:fail :cas` means (`None`: the format's reading — an observation for
/// `jepsen-log`, Porcupine's; not applied for `edn`, Jepsen's; see [`FailedCas`]).
///
/// Errors: malformed input, naming the line, or a model the format cannot express.
pub fn check_text(
    text: &str,
    format: Format,
    model: Option<ModelKind>,
    failed_cas: Option<FailedCas>,
    options: &CheckOptions,
) -> Result<CheckResult, ParseError> {
    match format {
        Format::Jsonl => match model.unwrap_or(ModelKind::Kv) {
            ModelKind::Kv => Ok(check_records(&parse_jsonl(text)?, options)),
            other => Err(ParseError::new(
                0,
                format!("the jsonl format holds etcd operations: use --model kv, not {other:?}"),
            )),
        },
        Format::JepsenLog | Format::Edn => {
            let events = if format == Format::Edn {
                parse_edn(text)?
            } else {
                parse_jepsen_log(text)?
            };
            let model = model.unwrap_or_else(|| {
                if events
                    .iter()
                    .any(|e| matches!(e.f.as_str(), "get" | "put" | "append"))
                {
                    ModelKind::KvAppend
                } else {
                    ModelKind::Register
                }
            });
            let pairs = pair_events(events)?;
            match model {
                ModelKind::Register => {
                    let failed_cas = failed_cas.unwrap_or(match format {
                        Format::JepsenLog => FailedCas::Observed,
                        Format::Edn | Format::Jsonl => FailedCas::NotApplied,
                    });
                    let (partitions, notes) = register_partitions(&pairs, failed_cas)?;
                    Ok(check_partitions(partitions, options, notes))
                }
                ModelKind::KvAppend => {
                    let (partitions, notes) = kv_append_partitions(&pairs)?;
                    Ok(check_partitions(partitions, options, notes))
                }
                ModelKind::Kv => Err(ParseError::new(
                    0,
                    "the kv model checks etcd operations from a jsonl history; Jepsen histories use --model register or kv-append",
                )),
            }
        }
    }
}
