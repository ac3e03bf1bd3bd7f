//! The simulation commands (not in etcdctl): `sleep`, `crash`/`restart` of a member or role,
//! `partition`, `heal`, `leader`, and the faults `pause`, `resume`, `isolate`, `skew`, `loss`,
//! `duplicate`, `latency`, `partition-oneway`, aimed at a member (`n1`), the shell's own host
//! (`ctl`) or a role resolved when the fault fires.

use std::collections::BTreeSet;
use std::time::Duration;

use sim::MemberId;

use crate::duration::DurationError;

use super::flags::{flag, valued, FlagSpec, Flags};
use super::lexer::{lossy, Word};
use super::{Command, ParseError, Result};

/// `sleep DURATION`: advance simulated time.
pub(super) fn parse_sleep(args: Vec<Word>) -> Result<Command> {
    let f = Flags::parse("sleep", args, &[])?;
    let [d] = f.positional("sleep", ["DURATION"])?;
    let d = parse_duration(&lossy(&d))?;
    let bound = crate::duration::max_sim_time().map_err(ParseError::new)?;
    if d > bound {
        return Err(ParseError::new(format!(
            "sleep {}: at most {} of simulated time at once; {} raises the bound",
            crate::duration::format(d),
            crate::duration::format(bound),
            crate::duration::MAX_SIM_TIME_VAR
        )));
    }
    Ok(Command::Sleep(d))
}

/// `crash [--lose-unsynced] MEMBER|ROLE`, `restart MEMBER|ROLE`.
pub(super) fn parse_crash_restart(name: &str, args: Vec<Word>, nodes: Nodes) -> Result<Command> {
    let spec: &[FlagSpec] = if name == "crash" {
        &[flag("lose-unsynced")]
    } else {
        &[]
    };
    let f = Flags::parse(name, args, spec)?;
    let lose_unsynced = f.bool("lose-unsynced");
    let [m] = f.positional(name, ["MEMBER"])?;
    let text = lossy(&m);
    Ok(match parse_role(&text) {
        Some(target) if name == "crash" => Command::Fault(sim::Fault::Crash {
            target,
            lose_unsynced,
        }),
        Some(target) => Command::Fault(sim::Fault::Restart { target }),
        // A power loss goes through the fault layer, which knows about page caches.
        None if lose_unsynced => Command::Fault(sim::Fault::Crash {
            target: sim::Target::Host(nodes.name(nodes.parse(&text)?)),
            lose_unsynced,
        }),
        None if name == "crash" => Command::Crash(nodes.parse(&text)?),
        None => Command::Restart(nodes.parse(&text)?),
    })
}

/// `pause T`, `resume T`, `isolate T`.
pub(super) fn parse_host_fault(name: &str, args: Vec<Word>, nodes: Nodes) -> Result<Command> {
    let f = Flags::parse(name, args, &[])?;
    let [t] = f.positional(name, ["TARGET"])?;
    let target = parse_target(&lossy(&t), nodes)?;
    Ok(Command::Fault(match name {
        "pause" => sim::Fault::Pause { target },
        "resume" => sim::Fault::Resume { target },
        _ => sim::Fault::Isolate { target },
    }))
}

/// `skew T [--rate=R] [--offset=DURATION]`.
pub(super) fn parse_skew(name: &str, args: Vec<Word>, nodes: Nodes) -> Result<Command> {
    let f = Flags::parse(
        name,
        args,
        &[valued("rate", "RATE"), valued("offset", "DURATION")],
    )?;
    let rate = match f.str("rate") {
        Some(r) => Some(parse_rate("clock rate", r, false)?),
        None => None,
    };
    let offset = match f.str("offset") {
        Some(d) => Some(parse_duration(d)?),
        None => None,
    };
    if rate.is_none() && offset.is_none() {
        return Err(ParseError::new(
            "skew needs --rate=R (clock speed, 2.0 = twice as fast) and/or --offset=DURATION (a jump forward)",
        ));
    }
    let [t] = f.positional(name, ["TARGET"])?;
    Ok(Command::Fault(sim::Fault::Skew {
        target: parse_target(&lossy(&t), nodes)?,
        rate,
        offset,
    }))
}

/// `loss RATE [A B]`, `duplicate RATE [A B]`, `latency MIN..MAX [A B]`.
pub(super) fn parse_link_fault(name: &str, args: Vec<Word>, nodes: Nodes) -> Result<Command> {
    let f = Flags::parse(name, args, &[])?;
    let (first, link) = match f.positional.as_slice() {
        [first] => (lossy(first), None),
        [first, a, b] => (
            lossy(first),
            Some((
                parse_target(&lossy(a), nodes)?,
                parse_target(&lossy(b), nodes)?,
            )),
        ),
        _ => {
            let what = if name == "latency" {
                "MIN..MAX"
            } else {
                "RATE"
            };
            return Err(ParseError::new(format!(
                "{name} takes {what} and optionally two hosts: `{name} {what} [A B]`"
            )));
        }
    };
    Ok(Command::Fault(match name {
        "loss" => sim::Fault::Loss {
            rate: parse_rate("loss rate", &first, true)?,
            link,
        },
        "duplicate" => sim::Fault::Duplicate {
            rate: parse_rate("duplicate rate", &first, true)?,
            link,
        },
        _ => {
            let (min, max) = first.split_once("..").ok_or_else(|| {
                ParseError::new(format!(
                    "latency {first:?} is not a range; write MIN..MAX, e.g. 50ms..200ms"
                ))
            })?;
            let (min, max) = (parse_duration(min)?, parse_duration(max)?);
            if min > max {
                return Err(ParseError::new(format!(
                    "latency {first:?}: MIN is above MAX"
                )));
            }
            sim::Fault::Latency { min, max, link }
        }
    }))
}

/// `partition-oneway FROM TO`.
pub(super) fn parse_partition_oneway(name: &str, args: Vec<Word>, nodes: Nodes) -> Result<Command> {
    let f = Flags::parse(name, args, &[])?;
    let [from, to] = f.positional(name, ["FROM", "TO"])?;
    Ok(Command::Fault(sim::Fault::PartitionOneway {
        from: parse_target(&lossy(&from), nodes)?,
        to: parse_target(&lossy(&to), nodes)?,
    }))
}

/// `heal`, `leader`: no arguments.
pub(super) fn parse_bare(name: &str, args: Vec<Word>) -> Result<Command> {
    let f = Flags::parse(name, args, &[])?;
    let [] = f.positional(name, [])?;
    Ok(if name == "heal" {
        Command::Heal
    } else {
        Command::Leader
    })
}

/// `500ms`, `2s`, `1m`, `1h`: [`crate::duration::parse`], as durations in scenario TOML, with
/// the shell's own wording for a text that is not one (negative included: `-` starts a flag).
fn parse_duration(text: &str) -> Result<Duration> {
    crate::duration::parse(text).map_err(|e| match e {
        DurationError::Malformed(_) | DurationError::Negative(_) => ParseError::new(format!(
            "bad duration {text:?}; write an integer and a unit: 500ms, 2s, 1m, 1h"
        )),
        DurationError::TooLong(_) => ParseError::new(e.to_string()),
    })
}

/// `n1`, `n2`, …: member names are `n` and the 1-based raft id.
pub fn parse_member(text: &str) -> std::result::Result<MemberId, ParseError> {
    Nodes::ETCD.parse(text)
}

/// How a shell names its store's nodes: etcd's members `n1, n2, …`, ZooKeeper's servers
/// `z1, z2, …` — the one difference between the two shells' fault commands.
#[derive(Clone, Copy, Debug)]
pub struct Nodes {
    /// The host-name prefix before the 1-based id.
    pub prefix: char,
    /// What the store calls one (in error messages).
    pub noun: &'static str,
}

impl Nodes {
    /// etcd's members, `n1, n2, …`.
    pub const ETCD: Nodes = Nodes {
        prefix: 'n',
        noun: "member",
    };
    /// ZooKeeper's servers, `z1, z2, …`.
    pub const ZK: Nodes = Nodes {
        prefix: 'z',
        noun: "server",
    };
    /// PostgreSQL's servers, `p1, p2, …`.
    pub const PG: Nodes = Nodes {
        prefix: 'p',
        noun: "server",
    };

    /// The id in a node name.
    pub fn parse(self, text: &str) -> std::result::Result<MemberId, ParseError> {
        let p = self.prefix;
        text.strip_prefix(p)
            .and_then(|n| n.parse::<MemberId>().ok())
            .filter(|&id| id >= 1 && text[1..].chars().all(|c| c.is_ascii_digit()))
            .ok_or_else(|| {
                ParseError::new(format!(
                    "bad {noun} {text:?}; {noun}s are {p}1, {p}2, …",
                    noun = self.noun
                ))
            })
    }

    /// The host name of node `id`.
    pub fn name(self, id: MemberId) -> String {
        format!("{}{id}", self.prefix)
    }
}

/// A role name, if `text` is one.
fn parse_role(text: &str) -> Option<sim::Target> {
    match sim::Target::parse(text) {
        sim::Target::Host(_) => None,
        role => Some(role),
    }
}

/// A member name (`n1`) or a role. Roles a shell has no use for (holder, primary) are refused.
fn parse_target(text: &str, nodes: Nodes) -> Result<sim::Target> {
    let (p, noun) = (nodes.prefix, nodes.noun);
    match parse_role(text) {
        Some(sim::Target::Holder | sim::Target::Primary) => Err(ParseError::new(format!(
            "{text:?} has no meaning in `locksim ctl` (no lock, no AP store); use {p}1, {p}2, …, leader, follower, minority or majority"
        ))),
        Some(role) => Ok(role),
        None if text == "ctl" => Ok(sim::Target::Host(text.to_string())),
        None => nodes
            .parse(text)
            .map(|m| sim::Target::Host(nodes.name(m)))
            .map_err(|_| {
                ParseError::new(format!(
                    "bad target {text:?}; use a {noun} ({p}1, {p}2, …), ctl, or a role: leader, follower, minority, majority"
                ))
            }),
    }
}

/// A probability (`loss 0.2`) or a positive clock rate (`--rate=2.0`).
fn parse_rate(what: &str, text: &str, probability: bool) -> Result<f64> {
    let rate: f64 = text
        .parse()
        .map_err(|_| ParseError::new(format!("{what} {text:?} is not a number")))?;
    let valid = if probability {
        (0.0..=1.0).contains(&rate)
    } else {
        rate.is_finite() && rate > 0.0
    };
    if !valid && probability {
        return Err(ParseError::new(format!(
            "{what} {rate} is not a probability; use 0.0 to 1.0 (0 clears it)"
        )));
    }
    if !valid {
        return Err(ParseError::new(format!(
            "{what} {rate} must be > 0 (1.0 = real time, 2.0 = twice as fast)"
        )));
    }
    Ok(rate)
}

/// The name [`parse_member`] reads (the world's one spelling of a member's host name).
pub use sim::member_name;

pub(super) fn parse_partition(rest: &str, nodes: Nodes) -> Result<Vec<Vec<MemberId>>> {
    let p = nodes.prefix;
    let usage = format!(
        "partition needs two or more groups of {}s: partition {p}1,{p}2 | {p}3",
        nodes.noun
    );
    let mut seen = BTreeSet::new();
    let groups = rest
        .split('|')
        .map(|group| {
            let names: Vec<&str> = group
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if names.is_empty() {
                return Err(ParseError::new(format!("empty group in {rest:?}; {usage}")));
            }
            names
                .into_iter()
                .map(|name| {
                    let id = nodes.parse(name)?;
                    if !seen.insert(id) {
                        return Err(ParseError::new(format!(
                            "{} {name} is in two groups of {rest:?}",
                            nodes.noun
                        )));
                    }
                    Ok(id)
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    if groups.len() < 2 {
        return Err(ParseError::new(usage));
    }
    Ok(groups)
}
