//! `locksim ctl --backend zk`: a zkCli-like shell into a simulated ZooKeeper ensemble.
//!
//! One command per input line, exactly one JSON line per command. A line carries the answer in
//! zkCli's terms — `{"created":"/a/n-0000000003"}`, `{"children":[…]}`, `{"data":"…",
//! "stat":{…}}`, `{"ok":true}` — and an error as ZooKeeper names it with zkCli's message
//! (`{"error":"NodeExists","code":-110,"message":"Node already exists: /a"}`). Watch
//! notifications and session state changes that arrived while the command ran come with it
//! under `"events"`, in zkCli's words (`{"state":"SyncConnected","type":"NodeDataChanged",
//! "path":"/a"}`). The stat's fields are zkCli's (`cZxid` as hex, `dataVersion`, …).
//! `tests/conformance.rs` compares these lines with the real zkCli's text.

mod command;

use std::io::{self, BufRead, Write};

use serde_json::{json, Map, Value};

use sim::zk::{
    Answer, EventType, Stat, WatchedEvent, WriteOp, ZkConfig, ZkDriver, ZkError, ZkRequest,
};
use sim::{FaultInjector, FaultPlan, SimError};

pub use command::{parse_zk_line, ZkCommand};

use super::command::{Command, Nodes};
use super::simulation::{refused, NodeSet};

/// A simulated ensemble behind the shell.
pub struct ZkShell {
    driver: ZkDriver<'static>,
    servers: usize,
    faults: FaultInjector,
}

impl ZkShell {
    /// Start `servers` servers under `seed`, wait for a leader, open the `ctl` session.
    pub fn new(servers: usize, seed: u64) -> Result<Self, SimError> {
        Ok(ZkShell {
            driver: ZkDriver::new(servers, seed, ZkConfig::default())?,
            servers,
            faults: FaultInjector::new(&FaultPlan::default(), seed),
        })
    }

    /// The run's history so far as JSON lines, pending operations shown as indeterminate.
    pub fn history_jsonl(&mut self) -> String {
        super::simulation::history_jsonl(self.driver.world())
    }

    /// Run one command: its JSON line.
    pub fn execute(&mut self, cmd: &ZkCommand) -> Value {
        let mut line = match self.run(cmd) {
            Ok(value) => value,
            Err(e) => json!({ "error": "Simulation", "message": e.to_string() }),
        };
        let events: Vec<Value> = self.driver.take_events().iter().map(event).collect();
        if !events.is_empty() {
            line["events"] = Value::Array(events);
        }
        line
    }

    fn run(&mut self, cmd: &ZkCommand) -> Result<Value, SimError> {
        Ok(match cmd {
            ZkCommand::Request { request, stat } => {
                let result = self.driver.call(request.clone())?;
                match result {
                    Ok(answer) => render_answer(request, &answer, *stat),
                    Err(e) => render_error(&e, request_path(request)),
                }
            }
            ZkCommand::Close => match self.driver.close()? {
                Ok(_) => json!({ "ok": true }),
                Err(e) => render_error(&e, ""),
            },
            ZkCommand::Connect(server) => match self.driver.connect(server.clone())? {
                Ok(_) => json!({ "ok": true }),
                Err(e) => render_error(&e, ""),
            },
            ZkCommand::Simulation(cmd) => self.simulate(cmd)?,
        })
    }

    fn simulate(&mut self, cmd: &Command) -> Result<Value, SimError> {
        Ok(match cmd {
            Command::Sleep(d) => {
                self.driver.sleep(*d)?;
                json!({ "ok": true, "slept_ms": d.as_millis() as u64 })
            }
            Command::Leader => {
                let leader = self.driver.leader();
                json!({
                    "leader": leader.map(|(id, _)| Nodes::ZK.name(id)),
                    "term": leader.map(|(_, term)| term).unwrap_or(0),
                })
            }
            other => {
                let nodes = NodeSet {
                    nodes: Nodes::ZK,
                    count: self.servers,
                };
                let roles = self.driver.ensemble().roles();
                nodes
                    .apply(self.driver.world(), &mut self.faults, &[&roles], other)
                    .unwrap_or_else(|| refused(format!("{other:?} is an etcd command")))
            }
        })
    }
}

/// Reads `input` line by line and writes one JSON line per command to `output`, flushed.
pub fn run_zk_shell(
    input: impl BufRead,
    output: impl Write,
    shell: &mut ZkShell,
) -> io::Result<()> {
    super::run_lines(input, output, parse_zk_line, |cmd| shell.execute(cmd))
}

fn request_path(request: &ZkRequest) -> &str {
    match request {
        ZkRequest::Write(WriteOp::Create { path, .. })
        | ZkRequest::Write(WriteOp::Delete { path, .. })
        | ZkRequest::Write(WriteOp::SetData { path, .. })
        | ZkRequest::GetData { path, .. }
        | ZkRequest::Exists { path, .. }
        | ZkRequest::GetChildren { path, .. }
        | ZkRequest::Sync { path } => path,
        ZkRequest::Write(WriteOp::Multi(_)) | ZkRequest::CloseSession => "",
    }
}

fn render_answer(request: &ZkRequest, answer: &Answer, with_stat: bool) -> Value {
    let mut out = Map::new();
    match answer {
        Answer::Created { path, .. } => {
            out.insert("created".into(), json!(path));
        }
        Answer::Done => {
            out.insert("ok".into(), json!(true));
        }
        Answer::Stat(stat) => {
            out.insert("ok".into(), json!(true));
            if with_stat {
                out.insert("stat".into(), render_stat(stat));
            }
        }
        Answer::Data { data, stat } => {
            // Null data is JSON null (zkCli prints `null`).
            let data = data
                .as_ref()
                .map(|d| String::from_utf8_lossy(d).into_owned());
            out.insert("data".into(), json!(data));
            if with_stat {
                out.insert("stat".into(), render_stat(stat));
            }
        }
        Answer::Exists(stat) => match stat {
            Some(stat) => {
                out.insert("stat".into(), render_stat(stat));
            }
            // zkCli's `stat` of a missing node: NoNode, as an error line.
            None => return render_error(&ZkError::NoNode, request_path(request)),
        },
        Answer::Children { children, stat } => {
            out.insert("children".into(), json!(children));
            if with_stat {
                out.insert("stat".into(), render_stat(stat));
            }
        }
        Answer::Synced(_) => {
            out.insert("synced".into(), json!(true));
        }
        Answer::Multi(result) => {
            out.insert("multi".into(), json!(format!("{result:?}")));
        }
    }
    Value::Object(out)
}

/// zkCli's stat lines as fields; zxids and the owner in hex as zkCli prints them.
fn render_stat(s: &Stat) -> Value {
    json!({
        "cZxid": format!("{:#x}", s.czxid),
        "ctime": s.ctime,
        "mZxid": format!("{:#x}", s.mzxid),
        "mtime": s.mtime,
        "pZxid": format!("{:#x}", s.pzxid),
        "cversion": s.cversion,
        "dataVersion": s.version,
        "aclVersion": s.aversion,
        "ephemeralOwner": format!("{:#x}", s.ephemeral_owner),
        "dataLength": s.data_length,
        "numChildren": s.num_children,
    })
}

/// ZooKeeper's name and code, and zkCli's message for it.
fn render_error(e: &ZkError, path: &str) -> Value {
    let message = match e {
        ZkError::NoNode => format!("Node does not exist: {path}"),
        ZkError::NodeExists => format!("Node already exists: {path}"),
        ZkError::NotEmpty => format!("Node not empty: {path}"),
        ZkError::BadVersion => format!("version No is not valid : {path}"),
        ZkError::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {path}"),
        ZkError::BadArguments(why) if why.is_empty() => format!("Arguments are not valid : {path}"),
        ZkError::BadArguments(why) => why.clone(),
        ZkError::ConnectionLoss => format!("KeeperErrorCode = ConnectionLoss for {path}"),
        ZkError::SessionExpired => format!("KeeperErrorCode = Session expired for {path}"),
        // `KeeperException.getCodeMessage` has no text for it: "Unknown error " + the code.
        ZkError::RequestTimeout => {
            format!("KeeperErrorCode = Unknown error REQUESTTIMEOUT for {path}")
        }
    };
    json!({ "error": e.name(), "code": e.code(), "message": message })
}

/// A notification as zkCli's default watcher prints it.
fn event(e: &WatchedEvent) -> Value {
    let kind = match e.kind {
        EventType::None => "None",
        EventType::NodeCreated => "NodeCreated",
        EventType::NodeDeleted => "NodeDeleted",
        EventType::NodeDataChanged => "NodeDataChanged",
        EventType::NodeChildrenChanged => "NodeChildrenChanged",
    };
    let path = if e.path.is_empty() {
        Value::Null
    } else {
        json!(e.path)
    };
    json!({ "state": format!("{:?}", e.state), "type": kind, "path": path })
}
