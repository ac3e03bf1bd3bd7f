//! One `locksim ctl` line → one [`Command`], spelled as etcdctl v3.4 spells it.
//!
//! Why typed sim requests and not strings: the executor forwards them unchanged, so the parser is
//! the only place that knows etcdctl's spelling (flags, hex lease ids, `--prefix` range ends).
//!
//! Words are split as etcdctl's `argify` splits a txn line: bare words, `"double-quoted"` with Go
//! escapes (`\n`, `\xff`, `\u00e9`, …) or `'single-quoted'` literally. Two deliberate deviations,
//! both turning etcdctl's silent misreadings into errors: an unterminated quote or text glued to a
//! closing quote is a [`ParseError`], and a quoted word is never a flag (so `"--x"` is a key).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::duration::DurationError;
use sim::{
    prefix_end, CompactionRequest, Compare, CompareResult, CompareTarget, DeleteRangeRequest,
    LeaseGrantRequest, LeaseId, LeaseKeepAliveRequest, LeaseRevokeRequest, LeaseTimeToLiveRequest,
    MemberId, PutRequest, RangeRequest, RequestOp, Revision, SortOrder, SortTarget, TxnRequest,
};

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
    fn new(message: impl Into<String>) -> Self {
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
    // txn, partition and sleep read the raw rest of the line: their grammar is not a word list.
    let (head, rest) = line
        .split_once(char::is_whitespace)
        .map_or((line, ""), |(h, r)| (h, r.trim()));
    let cmd = match head {
        "txn" => Command::Txn(parse_txn(rest)?),
        "partition" => Command::Partition(parse_partition(rest)?),
        _ => {
            let words = words(line)?;
            let (name, args) = words.split_first().expect("line is not blank");
            parse_words(&lossy(&name.bytes), args.to_vec())?
        }
    };
    Ok(Some(cmd))
}

fn parse_words(name: &str, args: Vec<Word>) -> Result<Command> {
    Ok(match name {
        "put" => Command::Put(parse_put(args)?),
        "get" => Command::Get(parse_get(args)?),
        "del" => Command::Del(parse_del(args)?),
        "lease" => parse_lease(args)?,
        "compaction" => {
            let f = Flags::parse("compaction", args, &[])?;
            let [rev] = f.positional("compaction", ["REV"])?;
            let rev = parse_int("compaction revision", &rev)?;
            if rev < 1 {
                return Err(ParseError::new(format!(
                    "compaction revision must be >= 1, got {rev}"
                )));
            }
            Command::Compaction(CompactionRequest { revision: rev })
        }
        "watch" => Command::Watch(parse_watch(args)?),
        "endpoint" => {
            let f = Flags::parse("endpoint status", args, &[flag("cluster")])?;
            match f.positional.as_slice() {
                [sub] if sub.as_slice() == b"status" => Command::EndpointStatus,
                _ => return Err(ParseError::new("endpoint supports only `endpoint status`")),
            }
        }
        "sleep" => {
            let f = Flags::parse("sleep", args, &[])?;
            let [d] = f.positional("sleep", ["DURATION"])?;
            Command::Sleep(parse_duration(&lossy(&d))?)
        }
        "crash" | "restart" => {
            let spec: &[FlagSpec] = if name == "crash" {
                &[flag("lose-unsynced")]
            } else {
                &[]
            };
            let f = Flags::parse(name, args, spec)?;
            let lose_unsynced = f.bool("lose-unsynced");
            let [m] = f.positional(name, ["MEMBER"])?;
            let text = lossy(&m);
            match parse_role(&text) {
                Some(target) if name == "crash" => Command::Fault(sim::Fault::Crash {
                    target,
                    lose_unsynced,
                }),
                Some(target) => Command::Fault(sim::Fault::Restart { target }),
                // A power loss goes through the fault layer, which knows about page caches.
                None if lose_unsynced => Command::Fault(sim::Fault::Crash {
                    target: sim::Target::Host(member_name(parse_member(&text)?)),
                    lose_unsynced,
                }),
                None if name == "crash" => Command::Crash(parse_member(&text)?),
                None => Command::Restart(parse_member(&text)?),
            }
        }
        "pause" | "resume" | "isolate" => {
            let f = Flags::parse(name, args, &[])?;
            let [t] = f.positional(name, ["TARGET"])?;
            let target = parse_target(&lossy(&t))?;
            Command::Fault(match name {
                "pause" => sim::Fault::Pause { target },
                "resume" => sim::Fault::Resume { target },
                _ => sim::Fault::Isolate { target },
            })
        }
        "skew" => {
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
            Command::Fault(sim::Fault::Skew {
                target: parse_target(&lossy(&t))?,
                rate,
                offset,
            })
        }
        "loss" | "duplicate" | "latency" => {
            let f = Flags::parse(name, args, &[])?;
            let (first, link) = match f.positional.as_slice() {
                [first] => (lossy(first), None),
                [first, a, b] => (
                    lossy(first),
                    Some((parse_target(&lossy(a))?, parse_target(&lossy(b))?)),
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
            Command::Fault(match name {
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
            })
        }
        "partition-oneway" => {
            let f = Flags::parse(name, args, &[])?;
            let [from, to] = f.positional(name, ["FROM", "TO"])?;
            Command::Fault(sim::Fault::PartitionOneway {
                from: parse_target(&lossy(&from))?,
                to: parse_target(&lossy(&to))?,
            })
        }
        "heal" | "leader" => {
            let f = Flags::parse(name, args, &[])?;
            let [] = f.positional(name, [])?;
            if name == "heal" {
                Command::Heal
            } else {
                Command::Leader
            }
        }
        other => {
            return Err(ParseError::new(format!(
                "unknown command {other:?}; allowed: {COMMANDS}"
            )))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Words

/// A word of a line after unquoting. `quoted` words are never flags or txn keywords.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Word {
    bytes: Vec<u8>,
    quoted: bool,
}

/// Splits a line into words (bytes after unquoting), as the shell does before dispatching.
///
/// Public so tests can turn a ctl line into the argv of the real `etcdctl`.
pub fn split_words(line: &str) -> std::result::Result<Vec<Vec<u8>>, ParseError> {
    Ok(words(line)?.into_iter().map(|w| w.bytes).collect())
}

fn words(line: &str) -> Result<Vec<Word>> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let word = match c {
            '"' | '\'' => {
                let (body, end) = quoted_span(line, start)?;
                while chars.peek().is_some_and(|&(i, _)| i < end) {
                    chars.next();
                }
                if let Some(&(_, next)) = chars.peek() {
                    if !next.is_whitespace() {
                        return Err(ParseError::new(format!(
                            "unexpected {next:?} right after the closing quote in {line:?}; \
                             separate words with spaces"
                        )));
                    }
                }
                let bytes = if c == '"' {
                    unescape_go(body)?
                } else {
                    body.as_bytes().to_vec()
                };
                Word {
                    bytes,
                    quoted: true,
                }
            }
            _ => {
                let mut end = line.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                Word {
                    bytes: line.as_bytes()[start..end].to_vec(),
                    quoted: false,
                }
            }
        };
        out.push(word);
    }
    Ok(out)
}

/// The body of the quoted string opening at `start` (`"`, `'` or `` ` ``) and the index just
/// after its closing quote. Only `"` strings have escapes (so `\"` does not close them).
fn quoted_span(s: &str, start: usize) -> Result<(&str, usize)> {
    let quote = s[start..].chars().next().expect("start is a quote");
    let mut escaped = false;
    for (i, c) in s[start + 1..].char_indices() {
        let i = start + 1 + i;
        if escaped {
            escaped = false;
        } else if c == '\\' && quote == '"' {
            escaped = true;
        } else if c == quote {
            return Ok((&s[start + 1..i], i + 1));
        }
    }
    Err(ParseError::new(format!(
        "unterminated {quote} quote in {:?}",
        &s[start..]
    )))
}

/// Go's `strconv.Unquote` escapes, to bytes: keys are bytes, and `\xff` is one byte, not `ÿ`.
fn unescape_go(body: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    let bad = |what: &str| {
        ParseError::new(format!(
            "bad escape {what} in \"{body}\"; allowed: \\a \\b \\f \\n \\r \\t \\v \\\\ \\\" \
             \\xHH \\OOO \\uHHHH \\UHHHHHHHH"
        ))
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or_else(|| bad("at the end"))?;
        let simple = match e {
            'a' => Some(7),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let mut take = |n: usize, radix: u32| -> Result<u32> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.chars().count() != n {
                return Err(bad(&format!("\\{e}{digits}")));
            }
            u32::from_str_radix(&digits, radix).map_err(|_| bad(&format!("\\{e}{digits}")))
        };
        match e {
            'x' => out.push(take(2, 16)? as u8),
            '0'..='7' => {
                let rest = take(2, 8)?;
                let v = e.to_digit(8).expect("octal digit") * 64 + rest;
                out.push(u8::try_from(v).map_err(|_| bad(&format!("\\{e}… (> 255)")))?);
            }
            'u' | 'U' => {
                let v = take(if e == 'u' { 4 } else { 8 }, 16)?;
                let c = char::from_u32(v).ok_or_else(|| bad(&format!("\\{e}{v:X}")))?;
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            other => return Err(bad(&format!("\\{other}"))),
        }
    }
    Ok(out)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Flags

/// One allowed flag: `value` is the placeholder shown in errors (`N` in `--rev=N`), `None` for a
/// boolean flag.
struct FlagSpec {
    name: &'static str,
    value: Option<&'static str>,
}

const fn flag(name: &'static str) -> FlagSpec {
    FlagSpec { name, value: None }
}

const fn valued(name: &'static str, placeholder: &'static str) -> FlagSpec {
    FlagSpec {
        name,
        value: Some(placeholder),
    }
}

/// Flags and positional words of one command, pflag-style: flags anywhere, `--f=v` or `--f v`
/// for valued flags, `--f` or `--f=true|false` for booleans, `--` ends the flags.
struct Flags {
    cmd: String,
    positional: Vec<Vec<u8>>,
    /// BTreeMap so that, where we report several, the order is stable.
    values: BTreeMap<&'static str, String>,
    set: BTreeSet<&'static str>,
}

impl Flags {
    fn parse(cmd: &str, args: Vec<Word>, spec: &[FlagSpec]) -> Result<Flags> {
        let allowed = || {
            if spec.is_empty() {
                "none".to_string()
            } else {
                spec.iter()
                    .map(|f| match f.value {
                        Some(p) => format!("--{}={p}", f.name),
                        None => format!("--{}", f.name),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let mut flags = Flags {
            cmd: cmd.to_string(),
            positional: Vec::new(),
            values: BTreeMap::new(),
            set: BTreeSet::new(),
        };
        let mut args = args.into_iter();
        while let Some(w) = args.next() {
            let text = lossy(&w.bytes);
            if w.quoted || !text.starts_with('-') || text == "-" {
                flags.positional.push(w.bytes);
                continue;
            }
            if text == "--" {
                flags.positional.extend(args.by_ref().map(|w| w.bytes));
                break;
            }
            let Some(body) = text.strip_prefix("--") else {
                return Err(ParseError::new(format!(
                    "unknown flag {text} for {cmd}; flags are spelled --name (quote a key or \
                     value that starts with '-'); allowed: {}",
                    allowed()
                )));
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let Some(f) = spec.iter().find(|f| f.name == name) else {
                return Err(ParseError::new(format!(
                    "unknown flag --{name} for {cmd}; allowed: {}",
                    allowed()
                )));
            };
            if !flags.set.insert(f.name) {
                return Err(ParseError::new(format!(
                    "flag --{name} given twice for {cmd}"
                )));
            }
            match f.value {
                None => {
                    let v = inline.unwrap_or_else(|| "true".to_string());
                    if v != "true" && v != "false" {
                        return Err(ParseError::new(format!(
                            "flag --{name} of {cmd} is true or false, got {v:?}"
                        )));
                    }
                    flags.values.insert(f.name, v);
                }
                Some(p) => {
                    let v = match inline {
                        Some(v) => v,
                        None => args.next().map(|w| lossy(&w.bytes)).ok_or_else(|| {
                            ParseError::new(format!(
                                "flag --{name} of {cmd} needs a value: --{name}={p}"
                            ))
                        })?,
                    };
                    flags.values.insert(f.name, v);
                }
            }
        }
        Ok(flags)
    }

    fn bool(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| v == "true")
    }

    fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A non-negative integer flag; 0 when absent.
    fn count(&self, name: &str) -> Result<i64> {
        let Some(v) = self.str(name) else {
            return Ok(0);
        };
        let n = parse_int(&format!("--{name}"), v.as_bytes())?;
        if n < 0 {
            return Err(ParseError::new(format!(
                "--{name} of {} must be >= 0, got {n}",
                self.cmd
            )));
        }
        Ok(n)
    }

    /// Exactly `N` positional words, named in the error by `names`.
    fn positional<const N: usize>(self, cmd: &str, names: [&str; N]) -> Result<[Vec<u8>; N]> {
        let got = self.positional.len();
        self.positional.try_into().map_err(|_| {
            ParseError::new(format!(
                "{cmd} takes {N} argument{} ({}), got {got}",
                if N == 1 { "" } else { "s" },
                if N == 0 {
                    "none".to_string()
                } else {
                    names.join(" ")
                },
            ))
        })
    }

    /// KEY and optional END, with etcdctl's `--prefix` / `--from-key` rules applied.
    fn key_range(&self, cmd: &str) -> Result<(Vec<u8>, Vec<u8>)> {
        let (prefix, from_key) = (self.bool("prefix"), self.bool("from-key"));
        if prefix && from_key {
            return Err(ParseError::new(format!(
                "{cmd}: --prefix and --from-key cannot be set at the same time, choose one"
            )));
        }
        let (key, end) = match self.positional.as_slice() {
            [key] => (key.clone(), Vec::new()),
            [key, end] if !(prefix || from_key) => (key.clone(), end.clone()),
            [_, _] => {
                return Err(ParseError::new(format!(
                    "{cmd}: END cannot be given with --prefix or --from-key"
                )))
            }
            other => {
                return Err(ParseError::new(format!(
                    "{cmd} takes KEY [END], got {} arguments",
                    other.len()
                )))
            }
        };
        // As clientv3's WithPrefix / WithFromKey: an empty key means "every key", spelled
        // key = range_end = "\0" because etcd rejects an empty key.
        Ok(if prefix {
            if key.is_empty() {
                (vec![0], vec![0])
            } else {
                let end = prefix_end(&key);
                (key, end)
            }
        } else if from_key {
            (if key.is_empty() { vec![0] } else { key }, vec![0])
        } else {
            (key, end)
        })
    }
}

fn parse_int(what: &str, text: &[u8]) -> Result<i64> {
    let s = lossy(text);
    s.parse::<i64>()
        .map_err(|_| ParseError::new(format!("{what} {s:?} is not an integer")))
}

/// A lease id in hex, as etcdctl prints and reads them (`strconv.ParseInt(s, 16, 64)`).
pub fn parse_lease_id(text: &str) -> std::result::Result<LeaseId, ParseError> {
    i64::from_str_radix(text, 16)
        .map_err(|_| ParseError::new(format!("lease id {text:?} is not hexadecimal")))
}

// ---------------------------------------------------------------------------------------------
// KV commands

const PUT_FLAGS: &[FlagSpec] = &[
    valued("lease", "HEXID"),
    flag("prev-kv"),
    flag("ignore-value"),
    flag("ignore-lease"),
];

fn parse_put(args: Vec<Word>) -> Result<PutRequest> {
    let f = Flags::parse("put", args, PUT_FLAGS)?;
    let lease = match f.str("lease") {
        Some(id) => parse_lease_id(id)?,
        None => sim::NO_LEASE,
    };
    let (prev_kv, ignore_value, ignore_lease) = (
        f.bool("prev-kv"),
        f.bool("ignore-value"),
        f.bool("ignore-lease"),
    );
    let (key, value) = if ignore_value {
        let [key] = f.positional("put --ignore-value", ["KEY"])?;
        (key, Vec::new())
    } else {
        let [key, value] = f.positional("put", ["KEY", "VALUE"])?;
        (key, value)
    };
    Ok(PutRequest {
        key,
        value,
        lease,
        prev_kv,
        ignore_value,
        ignore_lease,
    })
}

const GET_FLAGS: &[FlagSpec] = &[
    flag("prefix"),
    flag("from-key"),
    valued("rev", "N"),
    valued("limit", "N"),
    valued("sort-by", "CREATE|MODIFY|KEY|VERSION|VALUE"),
    valued("order", "ASCEND|DESCEND"),
    valued("consistency", "l|s"),
    flag("keys-only"),
    flag("count-only"),
];

fn parse_get(args: Vec<Word>) -> Result<RangeRequest> {
    let f = Flags::parse("get", args, GET_FLAGS)?;
    let (key, range_end) = f.key_range("get")?;
    let sort_target = match f.str("sort-by").map(str::to_ascii_uppercase).as_deref() {
        None | Some("") | Some("KEY") => SortTarget::Key,
        Some("CREATE") => SortTarget::Create,
        Some("MODIFY") => SortTarget::Mod,
        Some("VERSION") => SortTarget::Version,
        Some("VALUE") => SortTarget::Value,
        Some(other) => {
            return Err(ParseError::new(format!(
                "bad --sort-by {other:?}; allowed: CREATE, MODIFY, KEY, VERSION, VALUE"
            )))
        }
    };
    let mut sort_order = match f.str("order").map(str::to_ascii_uppercase).as_deref() {
        None | Some("") => SortOrder::None,
        Some("ASCEND") => SortOrder::Ascend,
        Some("DESCEND") => SortOrder::Descend,
        Some(other) => {
            return Err(ParseError::new(format!(
                "bad --order {other:?}; allowed: ASCEND, DESCEND"
            )))
        }
    };
    // clientv3's WithSort: keys already come in ascending order, and an explicit order makes the
    // server sort the whole key space, so ascending-by-key is sent as "no order".
    if sort_target == SortTarget::Key && sort_order == SortOrder::Ascend {
        sort_order = SortOrder::None;
    }
    let serializable = match f.str("consistency") {
        None | Some("l") => false,
        Some("s") => true,
        Some(other) => {
            return Err(ParseError::new(format!(
                "bad --consistency {other:?}; allowed: l (linearizable), s (serializable)"
            )))
        }
    };
    Ok(RangeRequest {
        key,
        range_end,
        limit: f.count("limit")?,
        revision: f.count("rev")?,
        sort_order,
        sort_target,
        serializable,
        keys_only: f.bool("keys-only"),
        count_only: f.bool("count-only"),
        ..RangeRequest::default()
    })
}

const DEL_FLAGS: &[FlagSpec] = &[flag("prefix"), flag("prev-kv"), flag("from-key")];

fn parse_del(args: Vec<Word>) -> Result<DeleteRangeRequest> {
    let f = Flags::parse("del", args, DEL_FLAGS)?;
    let (key, range_end) = f.key_range("del")?;
    Ok(DeleteRangeRequest {
        key,
        range_end,
        prev_kv: f.bool("prev-kv"),
    })
}

const WATCH_FLAGS: &[FlagSpec] = &[flag("prefix"), flag("prev-kv"), valued("rev", "N")];

fn parse_watch(args: Vec<Word>) -> Result<WatchRequest> {
    let f = Flags::parse("watch", args, WATCH_FLAGS)?;
    let (key, range_end) = f.key_range("watch")?;
    let start_revision = f.count("rev")?;
    if start_revision < 1 {
        return Err(ParseError::new(
            "watch needs --rev=N with N >= 1: it prints the events from N up to now, then returns",
        ));
    }
    Ok(WatchRequest {
        key,
        range_end,
        prev_kv: f.bool("prev-kv"),
        start_revision,
    })
}

// ---------------------------------------------------------------------------------------------
// Leases

fn parse_lease(args: Vec<Word>) -> Result<Command> {
    const SUBCOMMANDS: &str = "grant TTL, revoke HEXID, keep-alive --once HEXID, \
        timetolive HEXID [--keys], list";
    let Some((sub, args)) = args.split_first() else {
        return Err(ParseError::new(format!(
            "lease needs a subcommand; allowed: {SUBCOMMANDS}"
        )));
    };
    let args = args.to_vec();
    let id = |f: Flags, cmd: &str| -> Result<LeaseId> {
        let [id] = f.positional(cmd, ["HEXID"])?;
        parse_lease_id(&lossy(&id))
    };
    Ok(match lossy(&sub.bytes).as_str() {
        "grant" => {
            let f = Flags::parse("lease grant", args, &[])?;
            let [ttl] = f.positional("lease grant", ["TTL"])?;
            let ttl = parse_int("lease TTL", &ttl)?;
            if ttl < 0 {
                return Err(ParseError::new(format!(
                    "lease TTL must be >= 0, got {ttl}"
                )));
            }
            Command::LeaseGrant(LeaseGrantRequest { ttl, id: 0 })
        }
        "revoke" => {
            let f = Flags::parse("lease revoke", args, &[])?;
            Command::LeaseRevoke(LeaseRevokeRequest {
                id: id(f, "lease revoke")?,
            })
        }
        "keep-alive" => {
            let f = Flags::parse("lease keep-alive", args, &[flag("once")])?;
            if !f.bool("once") {
                return Err(ParseError::new(
                    "lease keep-alive needs --once: without it etcdctl keeps the lease alive \
                     forever and the shell would never answer",
                ));
            }
            Command::LeaseKeepAlive(LeaseKeepAliveRequest {
                id: id(f, "lease keep-alive")?,
            })
        }
        "timetolive" => {
            let f = Flags::parse("lease timetolive", args, &[flag("keys")])?;
            let keys = f.bool("keys");
            Command::LeaseTimeToLive(LeaseTimeToLiveRequest {
                id: id(f, "lease timetolive")?,
                keys,
            })
        }
        "list" => {
            let f = Flags::parse("lease list", args, &[])?;
            let [] = f.positional("lease list", [])?;
            Command::LeaseList
        }
        other => {
            return Err(ParseError::new(format!(
                "unknown lease subcommand {other:?}; allowed: {SUBCOMMANDS}"
            )))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Txn

/// The clauses of a one-line txn, as raw text: what etcdctl's interactive `txn` reads as three
/// blocks of lines separated by blank lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnText {
    pub compares: Vec<String>,
    pub success: Vec<String>,
    pub failure: Vec<String>,
}

impl TxnText {
    /// Splits `[IF cmp; …] [THEN op; …] [ELSE op; …]` (the text after `txn`). The keywords are
    /// upper case, bare (outside quotes) and come in this order, each at most once.
    pub fn split(rest: &str) -> std::result::Result<TxnText, ParseError> {
        #[derive(Clone, Copy, PartialEq, PartialOrd)]
        enum Section {
            Start,
            If,
            Then,
            Else,
        }
        let mut text = TxnText::default();
        let mut section = Section::Start;
        let mut clause = String::new();
        let finish = |section: Section, clause: &mut String, text: &mut TxnText| -> Result<()> {
            let c = clause.trim().to_string();
            clause.clear();
            if c.is_empty() {
                return Ok(());
            }
            match section {
                Section::Start => {
                    return Err(ParseError::new(format!(
                    "txn: expected IF, THEN or ELSE before {c:?}; usage: txn IF <cmp>[; <cmp>…] \
                         THEN <op>[; <op>…] ELSE <op>[; <op>…]"
                )))
                }
                Section::If => text.compares.push(c),
                Section::Then => text.success.push(c),
                Section::Else => text.failure.push(c),
            }
            Ok(())
        };
        let mut i = 0;
        while i < rest.len() {
            let c = rest[i..].chars().next().expect("i is a char boundary");
            if matches!(c, '"' | '\'' | '`') {
                let (_, end) = quoted_span(rest, i)?;
                clause.push_str(&rest[i..end]);
                i = end;
                continue;
            }
            let at_word_start = i == 0 || rest[..i].ends_with(char::is_whitespace);
            let keyword = [
                ("IF", Section::If),
                ("THEN", Section::Then),
                ("ELSE", Section::Else),
            ]
            .into_iter()
            .find(|(k, _)| {
                at_word_start
                    && rest[i..].starts_with(k)
                    && rest[i + k.len()..]
                        .chars()
                        .next()
                        .is_none_or(char::is_whitespace)
            });
            if let Some((k, next)) = keyword {
                finish(section, &mut clause, &mut text)?;
                if next <= section {
                    return Err(ParseError::new(format!(
                        "txn: {k} out of place; the sections are IF, THEN, ELSE, in this order, \
                         each at most once"
                    )));
                }
                section = next;
                i += k.len();
            } else if c == ';' {
                finish(section, &mut clause, &mut text)?;
                i += 1;
            } else {
                clause.push(c);
                i += c.len_utf8();
            }
        }
        finish(section, &mut clause, &mut text)?;
        Ok(text)
    }

    /// The stdin etcdctl's `txn` reads: compares, blank line, success ops, blank line, failure
    /// ops, blank line. Used to drive the real etcdctl with the same script.
    pub fn to_interactive(&self) -> String {
        let mut s = String::new();
        for block in [&self.compares, &self.success, &self.failure] {
            for line in block {
                s.push_str(line);
                s.push('\n');
            }
            s.push('\n');
        }
        s
    }
}

fn parse_txn(rest: &str) -> Result<TxnRequest> {
    let text = TxnText::split(rest)?;
    let ops = |clauses: &[String]| -> Result<Vec<RequestOp>> {
        clauses.iter().map(|c| parse_op(c)).collect()
    };
    Ok(TxnRequest {
        compare: text
            .compares
            .iter()
            .map(|c| parse_compare(c))
            .collect::<Result<_>>()?,
        success: ops(&text.success)?,
        failure: ops(&text.failure)?,
    })
}

fn parse_op(clause: &str) -> Result<RequestOp> {
    let words = words(clause)?;
    let (name, args) = words.split_first().expect("clauses are not blank");
    let args = args.to_vec();
    Ok(match lossy(&name.bytes).as_str() {
        "put" => RequestOp::Put(parse_put(args)?),
        "get" => RequestOp::Range(parse_get(args)?),
        "del" => RequestOp::DeleteRange(parse_del(args)?),
        other => {
            return Err(ParseError::new(format!(
                "txn op {other:?} in {clause:?}; allowed: put, get, del"
            )))
        }
    })
}

/// `target("key") op "value"`, as etcdctl's `ParseCompare`: the key and value are Go-quoted,
/// numbers are decimal except the lease id (hex). Unlike etcdctl, trailing text is an error.
fn parse_compare(clause: &str) -> Result<Compare> {
    const USAGE: &str = "compare is target(\"key\") op \"value\" with target version|ver, \
        create|c, mod|m, value|val or lease and op =, !=, > or <";
    let bad = |what: String| ParseError::new(format!("{what} in {clause:?}; {USAGE}"));
    let (target, rest) = clause
        .split_once('(')
        .ok_or_else(|| bad("missing '('".into()))?;
    let quoted = |s: &str, what: &str| -> Result<(Vec<u8>, usize)> {
        match s.chars().next() {
            Some(q @ ('"' | '`')) => {
                let (body, end) = quoted_span(s, 0)?;
                let bytes = if q == '"' {
                    unescape_go(body)?
                } else {
                    body.as_bytes().to_vec()
                };
                Ok((bytes, end))
            }
            _ => Err(bad(format!("the {what} must be double-quoted"))),
        }
    };
    let (key, end) = quoted(rest, "key")?;
    let rest = rest[end..]
        .strip_prefix(')')
        .ok_or_else(|| bad("expected ')' right after the key".into()))?
        .trim_start();
    let (result, rest) = [
        ("!=", CompareResult::NotEqual),
        ("=", CompareResult::Equal),
        (">", CompareResult::Greater),
        ("<", CompareResult::Less),
    ]
    .into_iter()
    .find_map(|(op, r)| rest.strip_prefix(op).map(|rest| (r, rest.trim_start())))
    .ok_or_else(|| bad("unknown operator".into()))?;
    let (value, end) = quoted(rest, "value")?;
    if !rest[end..].trim().is_empty() {
        return Err(bad(format!(
            "unexpected {:?} after the value",
            rest[end..].trim()
        )));
    }
    let number = |radix: u32| -> Result<i64> {
        let s = lossy(&value);
        i64::from_str_radix(&s, radix).map_err(|_| {
            bad(format!(
                "{target} needs a {} number, got {s:?}",
                if radix == 16 {
                    "hexadecimal"
                } else {
                    "decimal"
                }
            ))
        })
    };
    let target = match target.trim() {
        "version" | "ver" => CompareTarget::Version(number(10)?),
        "create" | "c" => CompareTarget::Create(number(10)?),
        "mod" | "m" => CompareTarget::Mod(number(10)?),
        "value" | "val" => CompareTarget::Value(value),
        "lease" => CompareTarget::Lease(number(16)?),
        other => return Err(bad(format!("unknown target {other:?}"))),
    };
    Ok(Compare {
        result,
        target,
        key,
        range_end: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------------------
// Simulation commands

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
    text.strip_prefix('n')
        .and_then(|n| n.parse::<MemberId>().ok())
        .filter(|&id| id >= 1 && text[1..].chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| ParseError::new(format!("bad member {text:?}; members are n1, n2, …")))
}

/// A role name, if `text` is one.
fn parse_role(text: &str) -> Option<sim::Target> {
    match sim::Target::parse(text) {
        sim::Target::Host(_) => None,
        role => Some(role),
    }
}

/// A member name (`n1`) or a role. Roles a shell has no use for (holder, primary) are refused.
fn parse_target(text: &str) -> Result<sim::Target> {
    match parse_role(text) {
        Some(sim::Target::Holder | sim::Target::Primary) => Err(ParseError::new(format!(
            "{text:?} has no meaning in `locksim ctl` (no lock, no AP store); use n1, n2, …, leader, follower, minority or majority"
        ))),
        Some(role) => Ok(role),
        None if text == "ctl" => Ok(sim::Target::Host(text.to_string())),
        None => parse_member(text)
            .map(|m| sim::Target::Host(member_name(m)))
            .map_err(|_| {
                ParseError::new(format!(
                    "bad target {text:?}; use a member (n1, n2, …), ctl, or a role: leader, follower, minority, majority"
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

/// The name [`parse_member`] reads.
pub fn member_name(id: MemberId) -> String {
    format!("n{id}")
}

fn parse_partition(rest: &str) -> Result<Vec<Vec<MemberId>>> {
    let usage = "partition needs two or more groups of members: partition n1,n2 | n3";
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
                    let id = parse_member(name)?;
                    if !seen.insert(id) {
                        return Err(ParseError::new(format!(
                            "member {name} is in two groups of {rest:?}"
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Command {
        parse_line(line)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .expect("not blank")
    }

    fn err(line: &str) -> String {
        match parse_line(line) {
            Err(e) => e.message().to_string(),
            Ok(c) => panic!("{line:?} parsed as {c:?}"),
        }
    }

    fn range(key: &[u8], end: &[u8]) -> RangeRequest {
        RangeRequest {
            key: key.to_vec(),
            range_end: end.to_vec(),
            ..RangeRequest::default()
        }
    }

    #[test]
    fn blank_and_comment_lines_are_skipped() {
        assert_eq!(parse_line(""), Ok(None));
        assert_eq!(parse_line("   \t"), Ok(None));
        assert_eq!(parse_line("# put a b"), Ok(None));
        assert_eq!(parse_line("  # indented"), Ok(None));
    }

    #[test]
    fn put_forms() {
        assert_eq!(
            parse("put k v"),
            Command::Put(PutRequest {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                ..PutRequest::default()
            })
        );
        assert_eq!(
            parse("put k v --lease=694d77aa9e38260f --prev-kv"),
            Command::Put(PutRequest {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                lease: 0x694d77aa9e38260f,
                prev_kv: true,
                ..PutRequest::default()
            })
        );
        // Flags anywhere, valued flags with a space, as pflag.
        assert_eq!(parse("put --lease 1f k v"), parse("put k v --lease=1f"));
        assert_eq!(
            parse("put k --ignore-value"),
            Command::Put(PutRequest {
                key: b"k".to_vec(),
                ignore_value: true,
                ..PutRequest::default()
            })
        );
        assert_eq!(
            parse(r#"put "a key" 'v w'"#),
            Command::Put(PutRequest {
                key: b"a key".to_vec(),
                value: b"v w".to_vec(),
                ..PutRequest::default()
            })
        );
    }

    #[test]
    fn quoting_follows_go() {
        let Command::Put(p) = parse(r#"put "\xff\n\"q\"\u00e9\101" 'raw \n'"#) else {
            panic!()
        };
        assert_eq!(p.key, b"\xff\n\"q\"\xc3\xa9A".to_vec());
        assert_eq!(p.value, b"raw \\n".to_vec());
        // A quoted word is never a flag; `--` ends the flags.
        let Command::Put(p) = parse(r#"put "--prefix" v"#) else {
            panic!()
        };
        assert_eq!(p.key, b"--prefix".to_vec());
        let Command::Put(p) = parse("put -- -k -v") else {
            panic!()
        };
        assert_eq!((p.key, p.value), (b"-k".to_vec(), b"-v".to_vec()));
        assert_eq!(parse(r#"put k """#), parse("put k ''"));
    }

    #[test]
    fn get_forms() {
        assert_eq!(parse("get k"), Command::Get(range(b"k", b"")));
        assert_eq!(parse("get a c"), Command::Get(range(b"a", b"c")));
        assert_eq!(parse("get k --prefix"), Command::Get(range(b"k", b"l")));
        assert_eq!(parse("get '' --prefix"), Command::Get(range(b"\0", b"\0")));
        assert_eq!(parse("get b --from-key"), Command::Get(range(b"b", b"\0")));
        assert_eq!(
            parse("get '' --from-key"),
            Command::Get(range(b"\0", b"\0"))
        );
        assert_eq!(
            parse(
                "get k --prefix --rev=7 --limit=2 --sort-by=modify --order=DESCEND \
                 --consistency=s --keys-only --count-only"
            ),
            Command::Get(RangeRequest {
                limit: 2,
                revision: 7,
                sort_order: SortOrder::Descend,
                sort_target: SortTarget::Mod,
                serializable: true,
                keys_only: true,
                count_only: true,
                ..range(b"k", b"l")
            })
        );
        // clientv3's WithSort drops ascending-by-key.
        let Command::Get(r) = parse("get k --sort-by=KEY --order=ASCEND") else {
            panic!()
        };
        assert_eq!(
            (r.sort_target, r.sort_order),
            (SortTarget::Key, SortOrder::None)
        );
        let Command::Get(r) = parse("get k --sort-by=VALUE") else {
            panic!()
        };
        assert_eq!(
            (r.sort_target, r.sort_order),
            (SortTarget::Value, SortOrder::None)
        );
        let Command::Get(r) = parse("get k --sort-by=VERSION --order=ascend") else {
            panic!()
        };
        assert_eq!(
            (r.sort_target, r.sort_order),
            (SortTarget::Version, SortOrder::Ascend)
        );
        let Command::Get(r) = parse("get k --sort-by=CREATE --keys-only=false") else {
            panic!()
        };
        assert_eq!((r.sort_target, r.keys_only), (SortTarget::Create, false));
    }

    #[test]
    fn del_forms() {
        assert_eq!(
            parse("del k"),
            Command::Del(DeleteRangeRequest {
                key: b"k".to_vec(),
                ..DeleteRangeRequest::default()
            })
        );
        assert_eq!(
            parse("del a\\xff --prefix --prev-kv"),
            Command::Del(DeleteRangeRequest {
                key: b"a\\xff".to_vec(),
                range_end: b"a\\xfg".to_vec(),
                prev_kv: true,
            })
        );
        assert_eq!(
            parse("del a z"),
            Command::Del(DeleteRangeRequest {
                key: b"a".to_vec(),
                range_end: b"z".to_vec(),
                prev_kv: false,
            })
        );
        let Command::Del(d) = parse("del m --from-key") else {
            panic!()
        };
        assert_eq!(d.range_end, vec![0]);
    }

    #[test]
    fn txn_forms() {
        let Command::Txn(t) = parse(
            r#"txn IF create("k") = "0"; mod("k") > "3"; version("k") != "1"; value("k") < "v;w"; lease("k") = "1f" THEN put k "THEN; ELSE" --lease=1f; get k --prefix ELSE del k --prev-kv; get k"#,
        ) else {
            panic!()
        };
        let cmp = |result, target| Compare {
            result,
            target,
            key: b"k".to_vec(),
            range_end: vec![],
        };
        assert_eq!(
            t.compare,
            vec![
                cmp(CompareResult::Equal, CompareTarget::Create(0)),
                cmp(CompareResult::Greater, CompareTarget::Mod(3)),
                cmp(CompareResult::NotEqual, CompareTarget::Version(1)),
                cmp(CompareResult::Less, CompareTarget::Value(b"v;w".to_vec())),
                cmp(CompareResult::Equal, CompareTarget::Lease(0x1f)),
            ]
        );
        assert_eq!(
            t.success,
            vec![
                RequestOp::Put(PutRequest {
                    key: b"k".to_vec(),
                    value: b"THEN; ELSE".to_vec(),
                    lease: 0x1f,
                    ..PutRequest::default()
                }),
                RequestOp::Range(range(b"k", b"l")),
            ]
        );
        assert_eq!(
            t.failure,
            vec![
                RequestOp::DeleteRange(DeleteRangeRequest {
                    key: b"k".to_vec(),
                    range_end: vec![],
                    prev_kv: true,
                }),
                RequestOp::Range(range(b"k", b"")),
            ]
        );
        // etcdctl's short targets, backquoted keys, any subset of sections, empty txn.
        let Command::Txn(t) =
            parse(r#"txn IF ver(`k`) = "1"; c("k")>"2"; m("k") < "3"; val("k") = "x""#)
        else {
            panic!()
        };
        assert_eq!(t.compare.len(), 4);
        assert!(t.success.is_empty() && t.failure.is_empty());
        assert_eq!(parse("txn"), Command::Txn(TxnRequest::default()));
        let Command::Txn(t) = parse("txn ELSE put a b;") else {
            panic!()
        };
        assert_eq!(t.failure.len(), 1);
        // Lower-case words are not keywords.
        let Command::Txn(t) = parse("txn THEN put then else") else {
            panic!()
        };
        assert_eq!(t.success.len(), 1);
    }

    #[test]
    fn txn_text_round_trips_to_etcdctl_stdin() {
        let t = TxnText::split(r#"IF mod("a") > "0" THEN put a "x y"; del b ELSE"#).unwrap();
        assert_eq!(
            t.to_interactive(),
            "mod(\"a\") > \"0\"\n\nput a \"x y\"\ndel b\n\n\n"
        );
    }

    #[test]
    fn lease_forms() {
        assert_eq!(
            parse("lease grant 10"),
            Command::LeaseGrant(LeaseGrantRequest { ttl: 10, id: 0 })
        );
        assert_eq!(
            parse("lease revoke 694d77aa9e38260f"),
            Command::LeaseRevoke(LeaseRevokeRequest {
                id: 0x694d77aa9e38260f
            })
        );
        assert_eq!(
            parse("lease keep-alive --once 1f"),
            Command::LeaseKeepAlive(LeaseKeepAliveRequest { id: 0x1f })
        );
        assert_eq!(
            parse("lease timetolive 1F --keys"),
            Command::LeaseTimeToLive(LeaseTimeToLiveRequest {
                id: 0x1f,
                keys: true
            })
        );
        assert_eq!(
            parse("lease timetolive 1f"),
            Command::LeaseTimeToLive(LeaseTimeToLiveRequest {
                id: 0x1f,
                keys: false
            })
        );
        assert_eq!(parse("lease list"), Command::LeaseList);
    }

    #[test]
    fn compaction_watch_endpoint() {
        assert_eq!(
            parse("compaction 5"),
            Command::Compaction(CompactionRequest { revision: 5 })
        );
        assert_eq!(
            parse("watch k --prefix --prev-kv --rev=3"),
            Command::Watch(WatchRequest {
                key: b"k".to_vec(),
                range_end: b"l".to_vec(),
                prev_kv: true,
                start_revision: 3,
            })
        );
        assert_eq!(
            parse("watch a c --rev 1"),
            Command::Watch(WatchRequest {
                key: b"a".to_vec(),
                range_end: b"c".to_vec(),
                prev_kv: false,
                start_revision: 1,
            })
        );
        assert_eq!(parse("endpoint status"), Command::EndpointStatus);
        assert_eq!(parse("endpoint status --cluster"), Command::EndpointStatus);
    }

    #[test]
    fn simulation_commands() {
        assert_eq!(
            parse("sleep 500ms"),
            Command::Sleep(Duration::from_millis(500))
        );
        assert_eq!(parse("sleep 2s"), Command::Sleep(Duration::from_secs(2)));
        assert_eq!(parse("sleep 1m"), Command::Sleep(Duration::from_secs(60)));
        assert_eq!(parse("sleep 1h"), Command::Sleep(Duration::from_secs(3600)));
        assert_eq!(parse("crash n1"), Command::Crash(1));
        assert_eq!(parse("restart n12"), Command::Restart(12));
        assert_eq!(
            parse("partition n1,n2 | n3"),
            Command::Partition(vec![vec![1, 2], vec![3]])
        );
        assert_eq!(
            parse("partition n1 |n2| n3 , n4"),
            Command::Partition(vec![vec![1], vec![2], vec![3, 4]])
        );
        assert_eq!(parse("heal"), Command::Heal);
        assert_eq!(parse("leader"), Command::Leader);
        assert!(parse("heal").is_simulation());
        assert!(!parse("lease list").is_simulation());
        assert_eq!(member_name(3), "n3");
    }

    #[test]
    fn malformed_lines_say_what_is_wrong_and_what_is_allowed() {
        let cases: &[(&str, &str)] = &[
            ("frob k", "unknown command \"frob\"; allowed: put, get"),
            (
                "get k --revv=3",
                "unknown flag --revv for get; allowed: --prefix, --from-key, --rev=N, --limit=N",
            ),
            (
                "get k -r 3",
                "unknown flag -r for get; flags are spelled --name",
            ),
            ("get", "get takes KEY [END], got 0 arguments"),
            ("get a b c", "get takes KEY [END], got 3 arguments"),
            (
                "get a b --prefix",
                "END cannot be given with --prefix or --from-key",
            ),
            (
                "get a --prefix --from-key",
                "--prefix and --from-key cannot be set at the same time",
            ),
            ("get a --rev=x", "--rev \"x\" is not an integer"),
            ("get a --limit=-1", "--limit of get must be >= 0"),
            (
                "get a --sort-by=size",
                "bad --sort-by \"SIZE\"; allowed: CREATE, MODIFY",
            ),
            (
                "get a --order=up",
                "bad --order \"UP\"; allowed: ASCEND, DESCEND",
            ),
            (
                "get a --consistency=x",
                "bad --consistency \"x\"; allowed: l",
            ),
            ("get a --rev", "flag --rev of get needs a value: --rev=N"),
            (
                "get a --prefix=yes",
                "flag --prefix of get is true or false",
            ),
            ("get a --rev=1 --rev=2", "flag --rev given twice"),
            ("put k", "put takes 2 arguments (KEY VALUE), got 1"),
            ("put k v w", "put takes 2 arguments (KEY VALUE), got 3"),
            (
                "put k v --ignore-value",
                "put --ignore-value takes 1 argument (KEY), got 2",
            ),
            ("put k v --lease=xyz", "lease id \"xyz\" is not hexadecimal"),
            ("put \"k v", "unterminated \" quote"),
            ("put \"k\"v w", "right after the closing quote"),
            ("put \"\\q\" v", "bad escape \\q"),
            ("put \"\\x4\" v", "bad escape"),
            ("lease", "lease needs a subcommand; allowed: grant TTL"),
            ("lease grant", "lease grant takes 1 argument (TTL), got 0"),
            ("lease grant x", "lease TTL \"x\" is not an integer"),
            ("lease grant -- -5", "lease TTL must be >= 0"),
            ("lease revoke xyz", "lease id \"xyz\" is not hexadecimal"),
            ("lease keep-alive 1f", "lease keep-alive needs --once"),
            (
                "lease timetolive",
                "lease timetolive takes 1 argument (HEXID), got 0",
            ),
            ("lease list x", "lease list takes 0 arguments (none), got 1"),
            ("lease frob", "unknown lease subcommand \"frob\""),
            ("compaction", "compaction takes 1 argument (REV)"),
            ("compaction 0", "compaction revision must be >= 1"),
            ("watch k", "watch needs --rev=N with N >= 1"),
            (
                "endpoint health",
                "endpoint supports only `endpoint status`",
            ),
            ("sleep 5", "bad duration \"5\"; write an integer and a unit"),
            ("sleep 1.5s", "bad duration"),
            ("sleep 2d", "bad duration"),
            (
                "sleep 307445734561825861m",
                "bad duration \"307445734561825861m\": too long; at most 18446744073709551615s",
            ),
            ("sleep 99999999999999999h", "too long"),
            (
                "skew n1 --offset=-5s",
                "bad duration \"-5s\"; write an integer",
            ),
            ("crash 1", "bad member \"1\"; members are n1, n2"),
            ("crash n0", "bad member \"n0\""),
            ("restart", "restart takes 1 argument (MEMBER), got 0"),
            ("partition n1,n2", "partition needs two or more groups"),
            ("partition n1 | ", "empty group"),
            ("partition n1 | n1", "member n1 is in two groups"),
            ("heal now", "heal takes 0 arguments"),
            (
                "txn put a b",
                "txn: expected IF, THEN or ELSE before \"put a b\"",
            ),
            (
                "txn THEN put a b IF create(\"a\") = \"0\"",
                "txn: IF out of place",
            ),
            ("txn THEN put a b THEN put c d", "txn: THEN out of place"),
            (
                "txn IF create(\"a\") = 0",
                "the value must be double-quoted",
            ),
            ("txn IF create a = \"0\"", "missing '('"),
            ("txn IF size(\"a\") = \"0\"", "unknown target \"size\""),
            (
                "txn IF create(\"a\") >= \"0\"",
                "the value must be double-quoted",
            ),
            ("txn IF create(\"a\") ~ \"0\"", "unknown operator"),
            (
                "txn IF create(\"a\" ) = \"0\"",
                "expected ')' right after the key",
            ),
            (
                "txn IF create(\"a\") = \"x\"",
                "create needs a decimal number, got \"x\"",
            ),
            (
                "txn IF lease(\"a\") = \"zz\"",
                "lease needs a hexadecimal number",
            ),
            (
                "txn IF create(\"a\") = \"0\" junk",
                "unexpected \"junk\" after the value",
            ),
            ("txn IF create(\"a) = \"0\"", "unterminated"),
            (
                "txn THEN watch a",
                "txn op \"watch\" in \"watch a\"; allowed: put, get, del",
            ),
            ("txn THEN get a --revv=1", "unknown flag --revv for get"),
        ];
        for (line, want) in cases {
            let got = err(line);
            assert!(
                got.contains(want),
                "{line:?}: got {got:?}, want it to contain {want:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_lines_never_panic(line in ".{0,80}") {
            let _ = parse_line(&line);
        }

        #[test]
        fn command_like_lines_never_panic(
            head in proptest::sample::select(vec![
                "put", "get", "del", "txn", "lease grant", "lease revoke", "lease keep-alive",
                "lease timetolive", "compaction", "watch", "sleep", "partition", "crash",
            ]),
            rest in "[ a-z0-9\"'`\\\\();=<>!|,;xIFTHENLS-]{0,60}",
        ) {
            let _ = parse_line(&format!("{head} {rest}"));
        }
    }
}
