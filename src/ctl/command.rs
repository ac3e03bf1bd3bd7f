//! One `locksim ctl` line → one [`Command`], spelled as etcdctl v3.4 spells it.
//!
//! Why typed sim requests and not strings: the executor forwards them unchanged, so the parser is
//! the only place that knows etcdctl's spelling (flags, hex lease ids, `--prefix` range ends).
//!
//! Words are split as etcdctl's `argify` splits a txn line: bare words, `"double-quoted"` with Go
//! escapes (`\n`, `\xff`, `\u00e9`, …) or `'single-quoted'` literally. Two deliberate deviations,
//! both turning etcdctl's silent misreadings into errors: an unterminated quote or text glued to a
//! closing quote is a [`ParseError`], and a quoted word is never a flag (so `"--x"` is a key).
//!
//! # Layout
//! * this file: [`Command`], [`WatchRequest`], [`ParseError`], and [`parse_line`], which sends
//!   each command name to the part that knows its grammar.
//! * `lexer`: a line → words (quotes, Go escapes); [`split_words`].
//! * `flags`: pflag-style flags and positional words of one command.
//! * `etcd`: the etcdctl commands (`put`, `get`, `del`, `watch`, `lease …`, `compaction`,
//!   `endpoint status`); [`parse_lease_id`].
//! * `txn`: the one-line txn grammar (`IF … THEN … ELSE …`, compares, ops); [`TxnText`].
//! * `fault`: the simulation commands (`sleep`, `crash`, `partition`, `skew`, `loss`, …):
//!   members, roles, rates; [`parse_member`], [`member_name`].
//! * `tests`: the parser's unit tests.

mod etcd;
mod fault;
mod flags;
mod lexer;
mod txn;

use std::fmt;
use std::time::Duration;

use sim::{
    CompactionRequest, DeleteRangeRequest, LeaseGrantRequest, LeaseKeepAliveRequest,
    LeaseRevokeRequest, LeaseTimeToLiveRequest, MemberId, PutRequest, RangeRequest, Revision,
    TxnRequest,
};

pub use etcd::parse_lease_id;
pub use fault::{member_name, parse_member, Nodes};
pub use lexer::split_words;
pub use txn::TxnText;

use lexer::{lossy, words, Word};

/// One parsed line. etcd commands carry the typed sim request the executor forwards; the
/// simulation commands (not in etcdctl) carry what the fault injector needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `put K V [--lease=HEXID] [--prev-kv] [--ignore-value] [--ignore-lease]`
    Put(PutRequest),
    /// `get K [END] [--prefix|--from-key] [--rev=N] [--limit=N] [--sort-by=..] [--order=..]
    /// [--consistency=l|s] [--keys-only] [--count-only]`
    Get(RangeRequest),
    /// `del K [END] [--prefix|--from-key] [--prev-kv]`
    Del(DeleteRangeRequest),
    /// `txn [IF cmp; …] [THEN op; …] [ELSE op; …]`
    Txn(TxnRequest),
    /// `lease grant TTL`
    LeaseGrant(LeaseGrantRequest),
    /// `lease revoke HEXID`
    LeaseRevoke(LeaseRevokeRequest),
    /// `lease keep-alive --once HEXID`
    LeaseKeepAlive(LeaseKeepAliveRequest),
    /// `lease timetolive HEXID [--keys]`
    LeaseTimeToLive(LeaseTimeToLiveRequest),
    /// `lease list`
    LeaseList,
    /// `compaction REV`
    Compaction(CompactionRequest),
    /// `watch K [END] [--prefix] [--prev-kv] --rev=N`: every event from N up to now, then return.
    Watch(WatchRequest),
    /// `endpoint status`: one entry per member (as etcdctl's `--cluster`).
    EndpointStatus,
    /// `sleep 500ms|2s|1m|1h`: advance simulated time.
    Sleep(Duration),
    /// `crash n1`
    Crash(MemberId),
    /// `restart n1`
    Restart(MemberId),
    /// `partition n1,n2 | n3`: members in different groups cannot talk.
    Partition(Vec<Vec<MemberId>>),
    /// `heal`: undo every partition.
    Heal,
    /// `leader`: which member leads, and in which term.
    Leader,
    /// A fault aimed at a host or a role (`leader`, `follower`, `minority`, `majority`):
    /// `pause T`, `resume T`, `isolate T`, `crash ROLE`, `restart ROLE`,
    /// `skew T [--rate=2.0] [--offset=3s]`, `loss RATE [A B]`, `duplicate RATE [A B]`,
    /// `latency MIN..MAX [A B]`, `partition-oneway A B`.
    Fault(sim::Fault),
}

impl Command {
    /// True for commands that exist only in the simulator (sleep, faults, leader).
    pub fn is_simulation(&self) -> bool {
        matches!(
            self,
            Command::Sleep(_)
                | Command::Crash(_)
                | Command::Restart(_)
                | Command::Partition(_)
                | Command::Heal
                | Command::Leader
        )
    }
}

/// A catch-up watch: the sim has no `WatchRequest` type because its watches are long-lived
/// streams; the shell only ever asks for "history from `start_revision` until now".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchRequest {
    pub key: Vec<u8>,
    /// As [`RangeRequest::range_end`].
    pub range_end: Vec<u8>,
    pub prev_kv: bool,
    /// ≥ 1. Required: a watch "from now" would print nothing and never return.
    pub start_revision: Revision,
}

/// A malformed line: what is wrong and what is allowed. Rendered with code `InvalidArgument`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    message: String,
}

impl ParseError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ParseError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

type Result<T> = std::result::Result<T, ParseError>;

const COMMANDS: &str = "put, get, del, txn, lease (grant|revoke|keep-alive|timetolive|list), \
    compaction, watch, endpoint status, sleep, crash, restart, partition, partition-oneway, heal, \
    isolate, pause, resume, skew, loss, duplicate, latency, leader";

/// Parses one line. Blank lines and `#` comments are `Ok(None)`: they produce no output.
pub fn parse_line(line: &str) -> Result<Option<Command>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    // txn (here) and partition (in `parse_simulation`) read the raw rest of the line: their
    // grammar is not a word list.
    let (head, rest) = line
        .split_once(char::is_whitespace)
        .map_or((line, ""), |(h, r)| (h, r.trim()));
    if head == "txn" {
        return Ok(Some(Command::Txn(txn::parse_txn(rest)?)));
    }
    if let Some(cmd) = parse_simulation(line, Nodes::ETCD)? {
        return Ok(Some(cmd));
    }
    let words = words(line)?;
    let (name, args) = words.split_first().expect("line is not blank");
    parse_words(&lossy(&name.bytes), args.to_vec()).map(Some)
}

/// etcdctl's own commands.
fn parse_words(name: &str, args: Vec<Word>) -> Result<Command> {
    Ok(match name {
        "put" => Command::Put(etcd::parse_put(args)?),
        "get" => Command::Get(etcd::parse_get(args)?),
        "del" => Command::Del(etcd::parse_del(args)?),
        "lease" => etcd::parse_lease(args)?,
        "compaction" => etcd::parse_compaction(args)?,
        "watch" => Command::Watch(etcd::parse_watch(args)?),
        "endpoint" => etcd::parse_endpoint(args)?,
        other => {
            return Err(ParseError::new(format!(
                "unknown command {other:?}; allowed: {COMMANDS}"
            )))
        }
    })
}

/// A simulation command (`sleep`, `crash`, `partition`, `pause`, `skew`, `loss`, `heal`,
/// `leader`, …) naming the store's nodes as `nodes` says; `None` when the line is none of them
/// (another shell's own verbs). Blank lines and comments are `None` too.
pub fn parse_simulation(line: &str, nodes: Nodes) -> Result<Option<Command>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (head, rest) = line
        .split_once(char::is_whitespace)
        .map_or((line, ""), |(h, r)| (h, r.trim()));
    if head == "partition" {
        return Ok(Some(Command::Partition(fault::parse_partition(
            rest, nodes,
        )?)));
    }
    let words = words(line)?;
    let (name, args) = words.split_first().expect("line is not blank");
    parse_simulation_words(&lossy(&name.bytes), args.to_vec(), nodes)
}

fn parse_simulation_words(name: &str, args: Vec<Word>, nodes: Nodes) -> Result<Option<Command>> {
    Ok(Some(match name {
        "sleep" => fault::parse_sleep(args)?,
        "crash" | "restart" => fault::parse_crash_restart(name, args, nodes)?,
        "pause" | "resume" | "isolate" => fault::parse_host_fault(name, args, nodes)?,
        "skew" => fault::parse_skew(name, args, nodes)?,
        "loss" | "duplicate" | "latency" => fault::parse_link_fault(name, args, nodes)?,
        "partition-oneway" => fault::parse_partition_oneway(name, args, nodes)?,
        "heal" | "leader" => fault::parse_bare(name, args)?,
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests;
