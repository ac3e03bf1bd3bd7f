//! The etcdctl commands: `put`, `get`, `del`, `watch`, `lease …`, `compaction` and `endpoint
//! status`, each to the typed sim request the executor forwards, with etcdctl's flags and
//! defaults (clientv3's `WithPrefix`, `WithSort`, hex lease ids).

use sim::{
    CompactionRequest, DeleteRangeRequest, LeaseGrantRequest, LeaseId, LeaseKeepAliveRequest,
    LeaseRevokeRequest, LeaseTimeToLiveRequest, PutRequest, RangeRequest, SortOrder, SortTarget,
};

use super::flags::{flag, parse_int, valued, FlagSpec, Flags};
use super::lexer::{lossy, Word};
use super::{Command, ParseError, Result, WatchRequest};

/// A lease id in hex, as etcdctl prints and reads them (`strconv.ParseInt(s, 16, 64)`).
pub fn parse_lease_id(text: &str) -> std::result::Result<LeaseId, ParseError> {
    i64::from_str_radix(text, 16)
        .map_err(|_| ParseError::new(format!("lease id {text:?} is not hexadecimal")))
}

const PUT_FLAGS: &[FlagSpec] = &[
    valued("lease", "HEXID"),
    flag("prev-kv"),
    flag("ignore-value"),
    flag("ignore-lease"),
];

pub(super) fn parse_put(args: Vec<Word>) -> Result<PutRequest> {
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

pub(super) fn parse_get(args: Vec<Word>) -> Result<RangeRequest> {
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

pub(super) fn parse_del(args: Vec<Word>) -> Result<DeleteRangeRequest> {
    let f = Flags::parse("del", args, DEL_FLAGS)?;
    let (key, range_end) = f.key_range("del")?;
    Ok(DeleteRangeRequest {
        key,
        range_end,
        prev_kv: f.bool("prev-kv"),
    })
}

const WATCH_FLAGS: &[FlagSpec] = &[flag("prefix"), flag("prev-kv"), valued("rev", "N")];

pub(super) fn parse_watch(args: Vec<Word>) -> Result<WatchRequest> {
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

pub(super) fn parse_lease(args: Vec<Word>) -> Result<Command> {
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

/// `compaction REV`: REV ≥ 1.
pub(super) fn parse_compaction(args: Vec<Word>) -> Result<Command> {
    let f = Flags::parse("compaction", args, &[])?;
    let [rev] = f.positional("compaction", ["REV"])?;
    let rev = parse_int("compaction revision", &rev)?;
    if rev < 1 {
        return Err(ParseError::new(format!(
            "compaction revision must be >= 1, got {rev}"
        )));
    }
    Ok(Command::Compaction(CompactionRequest { revision: rev }))
}

/// `endpoint status` (`--cluster` accepted: every member answers anyway).
pub(super) fn parse_endpoint(args: Vec<Word>) -> Result<Command> {
    let f = Flags::parse("endpoint status", args, &[flag("cluster")])?;
    Ok(match f.positional.as_slice() {
        [sub] if sub.as_slice() == b"status" => Command::EndpointStatus,
        _ => return Err(ParseError::new("endpoint supports only `endpoint status`")),
    })
}
