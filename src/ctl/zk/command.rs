//! One `locksim ctl --backend zk` line → one [`ZkCommand`], spelled as zkCli 3.8 spells it:
//! `create [-s] [-e] PATH [DATA]`, `ls [-s] [-w] PATH`, `get [-s] [-w] PATH`,
//! `set [-s] [-v VERSION] PATH DATA`, `delete [-v VERSION] PATH`, `stat [-w] PATH`,
//! `sync PATH`, `close`, `connect [SERVER]` — and the simulation commands (`sleep`, `crash z1`,
//! `partition z1 | z2,z3`, `pause leader`, …) with ZooKeeper's server names.

use sim::zk::{CreateMode, WriteOp, ZkRequest};

use crate::ctl::command::{parse_simulation, split_words, Command, Nodes, ParseError};

/// One parsed line.
#[derive(Clone, Debug, PartialEq)]
pub enum ZkCommand {
    /// A request to the session's server, and whether to print the stat (`-s`).
    Request {
        /// The request.
        request: ZkRequest,
        /// `-s`: print the node's stat too (`get -s`, `ls -s`, `set -s`).
        stat: bool,
    },
    /// `close`: end the session.
    Close,
    /// `connect [SERVER]`: a new session.
    Connect(Option<String>),
    /// A simulation command, as the etcd shell has them.
    Simulation(Command),
}

const VERBS: &str = "create, ls, get, set, delete, stat, sync, close, connect; and sleep, crash, \
    restart, partition, partition-oneway, heal, isolate, pause, resume, skew, loss, duplicate, \
    latency, leader";

/// Parses one line; blank lines and `#` comments are `Ok(None)`.
pub fn parse_zk_line(line: &str) -> Result<Option<ZkCommand>, ParseError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    if let Some(cmd) = parse_simulation(line, Nodes::ZK)? {
        return Ok(Some(ZkCommand::Simulation(cmd)));
    }
    let words = split_words(line)?;
    let words: Vec<String> = words
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let Some((verb, args)) = words.split_first() else {
        return Ok(None);
    };
    let args = Args::parse(verb, args)?;
    let request = |request: ZkRequest, stat: bool| Ok(Some(ZkCommand::Request { request, stat }));
    match verb.as_str() {
        "create" => {
            args.only(verb, &["s", "e"], &[])?;
            let (path, data) = args.path_and(verb, false)?;
            let mode = match (args.has("s"), args.has("e")) {
                (false, false) => CreateMode::Persistent,
                (false, true) => CreateMode::Ephemeral,
                (true, false) => CreateMode::PersistentSequential,
                (true, true) => CreateMode::EphemeralSequential,
            };
            let op = WriteOp::Create {
                path,
                // zkCli without DATA sends null.
                data: data.map(String::into_bytes),
                mode,
            };
            request(ZkRequest::Write(op), false)
        }
        "ls" => {
            args.only(verb, &["s", "w"], &[])?;
            let path = args.path(verb)?;
            let watch = args.has("w");
            request(ZkRequest::GetChildren { path, watch }, args.has("s"))
        }
        "get" => {
            args.only(verb, &["s", "w"], &[])?;
            let path = args.path(verb)?;
            let watch = args.has("w");
            request(ZkRequest::GetData { path, watch }, args.has("s"))
        }
        "stat" => {
            args.only(verb, &["w"], &[])?;
            let path = args.path(verb)?;
            let watch = args.has("w");
            request(ZkRequest::Exists { path, watch }, true)
        }
        "set" => {
            args.only(verb, &["s"], &["v"])?;
            let (path, data) = args.path_and(verb, true)?;
            let op = WriteOp::SetData {
                path,
                data: data.map(String::into_bytes),
                version: args.version()?,
            };
            request(ZkRequest::Write(op), args.has("s"))
        }
        "delete" => {
            args.only(verb, &[], &["v"])?;
            let path = args.path(verb)?;
            let op = WriteOp::Delete {
                path,
                version: args.version()?,
            };
            request(ZkRequest::Write(op), false)
        }
        "sync" => {
            args.only(verb, &[], &[])?;
            let path = args.path(verb)?;
            request(ZkRequest::Sync { path }, false)
        }
        "close" => {
            args.only(verb, &[], &[])?;
            args.none(verb)?;
            Ok(Some(ZkCommand::Close))
        }
        "connect" => {
            args.only(verb, &[], &[])?;
            match args.positional.as_slice() {
                [] => Ok(Some(ZkCommand::Connect(None))),
                [server] => {
                    Nodes::ZK.parse(server)?;
                    Ok(Some(ZkCommand::Connect(Some(server.clone()))))
                }
                _ => Err(ParseError::new(
                    "connect takes at most one server: connect [z1]",
                )),
            }
        }
        other => Err(ParseError::new(format!(
            "unknown command {other:?}; allowed: {VERBS}"
        ))),
    }
}

/// zkCli's options: single-letter flags (`-s`, `-e`, `-w`) and `-v VERSION`.
struct Args {
    flags: Vec<String>,
    version: Option<String>,
    positional: Vec<String>,
}

impl Args {
    fn parse(verb: &str, words: &[String]) -> Result<Args, ParseError> {
        let mut args = Args {
            flags: Vec::new(),
            version: None,
            positional: Vec::new(),
        };
        let mut words = words.iter();
        while let Some(w) = words.next() {
            match w.strip_prefix('-') {
                Some("v") => {
                    let v = words.next().ok_or_else(|| {
                        ParseError::new(format!("{verb}: -v needs a version number"))
                    })?;
                    args.version = Some(v.clone());
                }
                Some(flag) if !flag.is_empty() && args.positional.is_empty() => {
                    args.flags.push(flag.to_string())
                }
                _ => args.positional.push(w.clone()),
            }
        }
        Ok(args)
    }

    /// Refuse flags other than `flags` and valued options other than `valued`.
    fn only(&self, verb: &str, flags: &[&str], valued: &[&str]) -> Result<(), ParseError> {
        if let Some(f) = self.flags.iter().find(|f| !flags.contains(&f.as_str())) {
            let allowed: Vec<String> = flags
                .iter()
                .map(|f| format!("-{f}"))
                .chain(valued.iter().map(|v| format!("-{v} N")))
                .collect();
            return Err(ParseError::new(format!(
                "{verb}: unknown option -{f}; allowed: {}",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            )));
        }
        if self.version.is_some() && !valued.contains(&"v") {
            return Err(ParseError::new(format!(
                "{verb}: -v is not one of its options"
            )));
        }
        Ok(())
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn none(&self, verb: &str) -> Result<(), ParseError> {
        if self.positional.is_empty() {
            Ok(())
        } else {
            Err(ParseError::new(format!("{verb} takes no arguments")))
        }
    }

    fn path(&self, verb: &str) -> Result<String, ParseError> {
        match self.positional.as_slice() {
            [path] => Ok(path.clone()),
            _ => Err(ParseError::new(format!("{verb} takes one PATH"))),
        }
    }

    fn path_and(
        &self,
        verb: &str,
        data_needed: bool,
    ) -> Result<(String, Option<String>), ParseError> {
        match self.positional.as_slice() {
            [path] if !data_needed => Ok((path.clone(), None)),
            [path, data] => Ok((path.clone(), Some(data.clone()))),
            _ if data_needed => Err(ParseError::new(format!("{verb} takes PATH DATA"))),
            _ => Err(ParseError::new(format!("{verb} takes PATH [DATA]"))),
        }
    }

    /// `-v N`, -1 (any version) without it.
    fn version(&self) -> Result<i32, ParseError> {
        match &self.version {
            None => Ok(-1),
            Some(v) => v
                .parse()
                .map_err(|_| ParseError::new(format!("version {v:?} is not a number"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zkcli_spellings_parse() {
        let cmd = parse_zk_line("create -e -s /locks/n- x").unwrap().unwrap();
        assert_eq!(
            cmd,
            ZkCommand::Request {
                request: ZkRequest::Write(WriteOp::Create {
                    path: "/locks/n-".into(),
                    data: Some(b"x".to_vec()),
                    mode: CreateMode::EphemeralSequential
                }),
                stat: false
            }
        );
        let cmd = parse_zk_line("set -v 3 /a b").unwrap().unwrap();
        assert!(matches!(
            cmd,
            ZkCommand::Request {
                request: ZkRequest::Write(WriteOp::SetData { version: 3, .. }),
                ..
            }
        ));
        assert!(matches!(
            parse_zk_line("crash z2").unwrap().unwrap(),
            ZkCommand::Simulation(Command::Crash(2))
        ));
        assert!(parse_zk_line("crash n2")
            .unwrap_err()
            .to_string()
            .contains("z1, z2"));
        assert!(parse_zk_line("create -c /a").is_err());
        assert!(parse_zk_line("frob /a")
            .unwrap_err()
            .to_string()
            .contains("allowed"));
        assert_eq!(parse_zk_line("# note").unwrap(), None);
    }
}
