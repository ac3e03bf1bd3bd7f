//! `locksim ctl`: an etcdctl-like shell into a simulated cluster.
//!
//! One command per input line, exactly one JSON line per command on the output, in the shape of
//! `etcdctl -w json`, so a script's output can be compared with real etcd's
//! (`tests/conformance.rs` does). The cluster is behind [`Executor`]: this module parses
//! ([`parse_line`]) and renders ([`render()`]) without knowing how commands run.

mod command;
mod executor;
pub mod pg;
mod render;
pub mod simulation;
pub mod zk;

use std::io::{self, BufRead, Write};
use std::time::Duration;

pub use command::{
    member_name, parse_lease_id, parse_line, parse_member, parse_simulation, split_words, Command,
    Nodes, ParseError, TxnText, WatchRequest,
};
pub use executor::SimExecutor;
pub use render::{render, render_error, render_parse_error};

use sim::{
    CompactionResponse, DeleteRangeResponse, Event, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveResponse, MemberId, PutResponse,
    RangeResponse, ResponseHeader, StatusResponse, TxnResponse,
};

/// What executing a [`Command`] produced: the sim response for etcd commands, a small
/// acknowledgement for simulation commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// For `get`.
    Range(RangeResponse),
    /// For `put`.
    Put(PutResponse),
    /// For `del`.
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    LeaseGrant(LeaseGrantResponse),
    LeaseRevoke(LeaseRevokeResponse),
    LeaseKeepAlive(LeaseKeepAliveResponse),
    LeaseTimeToLive(LeaseTimeToLiveResponse),
    /// For `lease list`.
    LeaseLeases(LeaseLeasesResponse),
    Compaction(CompactionResponse),
    Watch(WatchOutput),
    /// For `endpoint status`: one entry per member, in member order.
    EndpointStatus(Vec<EndpointStatus>),
    /// For `sleep`: how much simulated time passed.
    Slept(Duration),
    /// For `crash`, `restart`, `partition` and `heal`: the fault is in place.
    Done,
    /// For a fault command: the hosts it hit (none when its role named nobody).
    Faulted(Vec<String>),
    /// For `leader`.
    Leader {
        /// `None` while no member is leader (e.g. during an election).
        leader: Option<MemberId>,
        term: u64,
    },
}

/// Every event of a catch-up watch, in revision order.
///
/// Why one response and not one per revision: etcd sends a catch-up watch's backlog as a single
/// `WatchResponse` too (measured on etcd 3.4.23: `watch --rev=6` after writes at 6, 7 and 8 printed
/// one line with five events), and the shell prints one line per command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchOutput {
    /// The store revision when the backlog was read.
    pub header: ResponseHeader,
    pub events: Vec<Event>,
}

/// One member's answer to `endpoint status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointStatus {
    pub member: MemberId,
    pub status: StatusResponse,
}

/// Runs commands against a cluster. The simulated cluster implements this; the shell only parses,
/// forwards and renders.
pub trait Executor {
    /// Executes one command. Errors are etcd's ([`sim::Error`]); the shell prints them as a JSON
    /// error line and goes on, so an implementation MUST NOT panic on a request etcd would reject.
    fn execute(&mut self, cmd: &Command) -> Result<Output, sim::Error>;
}

/// Reads `input` line by line and writes one JSON line per command to `output`, flushed, so a
/// driver can send a line and wait for its answer. Malformed lines get an error line and the
/// shell goes on; blank lines and `#` comments get nothing.
pub fn run_shell(
    input: impl BufRead,
    output: impl Write,
    exec: &mut dyn Executor,
) -> io::Result<()> {
    run_lines(input, output, parse_line, |cmd| {
        render(cmd, &exec.execute(cmd))
    })
}

/// Every shell's loop: each input line parsed by `parse` (blank lines and comments are
/// `None`), answered by `answer`, and exactly one JSON line written and flushed per command.
pub(crate) fn run_lines<C>(
    input: impl BufRead,
    mut output: impl Write,
    parse: impl Fn(&str) -> Result<Option<C>, ParseError>,
    mut answer: impl FnMut(&C) -> serde_json::Value,
) -> io::Result<()> {
    for line in input.lines() {
        let json = match parse(&line?) {
            Ok(None) => continue,
            Ok(Some(cmd)) => answer(&cmd),
            Err(e) => render_parse_error(&e),
        };
        writeln!(output, "{json}")?;
        output.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers `put` with a header at revision 2 and errors on everything else.
    struct Fake;

    impl Executor for Fake {
        fn execute(&mut self, cmd: &Command) -> Result<Output, sim::Error> {
            match cmd {
                Command::Put(_) => Ok(Output::Put(PutResponse {
                    header: ResponseHeader {
                        revision: 2,
                        ..ResponseHeader::default()
                    },
                    prev_kv: None,
                })),
                _ => Err(sim::Error::NoLeader),
            }
        }
    }

    #[test]
    fn shell_prints_one_line_per_command_and_survives_bad_lines() {
        let input = "# comment\n\nput a 1\nfrobnicate\n  \nget a\n";
        let mut out = Vec::new();
        run_shell(input.as_bytes(), &mut out, &mut Fake).unwrap();
        let lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], r#"{"header":{"revision":2}}"#);
        assert!(
            lines[1].contains(r#""code":"InvalidArgument""#),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("unknown command"), "{}", lines[1]);
        assert_eq!(
            lines[2],
            r#"{"code":"Unavailable","error":"etcdserver: no leader"}"#
        );
    }
}
