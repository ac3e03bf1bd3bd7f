//! ZooKeeper conformance: the zkCli scripts in `tests/zk_conformance/*.txt` give the same
//! answers and the same watch events from a real ZooKeeper 3.8 (through zkCli) and from
//! `locksim ctl --backend zk`.
//!
//! Each command's answer is compared as the text zkCli prints for it (`Created /a/s-0000000002`,
//! `[e, p]`, a node's data, its stat lines, `Node already exists: /a`, `Sync is OK`); watch
//! notifications (`WatchedEvent state:… type:… path:…`, the session's own included) are compared
//! as one ordered list per script. Normalized on both sides: a zxid keeps its counter (the
//! low 32 bits: a standalone server's epoch is 0, the simulation's is its Raft term), a
//! non-zero `ephemeralOwner` reads `SESSION`, and `ctime`/`mtime` are left out.
//!
//! To tell zkCli's output apart per command, the real run follows every command with
//! `stat /__locksim_mark_N`, whose `Node does not exist` line closes command N's block (but
//! `close`, which prints nothing and after which zkCli is not connected).

#[path = "common/real_server.rs"]
mod real_server;
#[path = "zk_conformance/zookeeper.rs"]
mod zookeeper;

use std::path::PathBuf;

use locksim::ctl::zk::{parse_zk_line, ZkShell};
use serde_json::Value;

use zookeeper::ZooKeeper;

struct Script {
    path: PathBuf,
    lines: Vec<String>,
}

fn scripts() -> Vec<Script> {
    real_server::scripts("zk_conformance", "txt")
        .into_iter()
        .map(|(path, text)| {
            let lines = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect();
            Script { path, lines }
        })
        .collect()
}

/// One script's answers: zkCli's text lines per command, and every watch event in order.
#[derive(Debug, PartialEq)]
struct Transcript {
    answers: Vec<Vec<String>>,
    events: Vec<String>,
}

/// `0x100000002` → `0x2`: the counter within the epoch.
fn zxid(hex: &str) -> String {
    let n = i64::from_str_radix(hex.trim_start_matches("0x"), 16)
        .unwrap_or_else(|_| panic!("zxid {hex:?} is not hex"));
    format!("{:#x}", n & 0xffff_ffff)
}

/// A stat line as compared: zxids by counter, the owner as present-or-not, no times.
fn stat_line(name: &str, value: &str) -> Option<String> {
    Some(match name {
        "ctime" | "mtime" => return None,
        "cZxid" | "mZxid" | "pZxid" => format!("{name} = {}", zxid(value)),
        "ephemeralOwner" if value != "0x0" => format!("{name} = SESSION"),
        _ => format!("{name} = {value}"),
    })
}

const STAT_FIELDS: [&str; 11] = [
    "cZxid",
    "ctime",
    "mZxid",
    "mtime",
    "pZxid",
    "cversion",
    "dataVersion",
    "aclVersion",
    "ephemeralOwner",
    "dataLength",
    "numChildren",
];

/// The shell's JSON line as the text zkCli prints for it.
fn sim_text(v: &Value) -> Vec<String> {
    if let Some(message) = v.get("message").and_then(Value::as_str) {
        assert_ne!(v["error"], "Simulation", "{v}");
        return vec![message.to_string()];
    }
    let mut out = Vec::new();
    if let Some(path) = v.get("created").and_then(Value::as_str) {
        out.push(format!("Created {path}"));
    }
    if let Some(children) = v.get("children").and_then(Value::as_array) {
        let names: Vec<&str> = children.iter().filter_map(Value::as_str).collect();
        out.push(format!("[{}]", names.join(", ")));
    }
    match v.get("data") {
        Some(Value::Null) => out.push("null".into()),
        // zkCli prints empty data as an empty line, which the real side's parse skips.
        Some(Value::String(data)) if !data.is_empty() => out.push(data.clone()),
        _ => {}
    }
    if v.get("synced").is_some() {
        out.push("Sync is OK".into());
    }
    if let Some(stat) = v.get("stat") {
        for name in STAT_FIELDS {
            let value = match &stat[name] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.extend(stat_line(name, &value));
        }
    }
    out
}

fn sim_event(e: &Value) -> String {
    let path = e["path"].as_str().unwrap_or("null");
    format!(
        "state:{} type:{} path:{path}",
        e["state"].as_str().unwrap(),
        e["type"].as_str().unwrap()
    )
}

fn simulate(lines: &[String], seed: u64) -> Transcript {
    let mut shell = ZkShell::new(3, seed).expect("the ensemble starts");
    let mut transcript = Transcript {
        answers: Vec::new(),
        events: Vec::new(),
    };
    for line in lines {
        let cmd = parse_zk_line(line)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .expect("a command");
        let v = shell.execute(&cmd);
        transcript.answers.push(sim_text(&v));
        if let Some(events) = v.get("events").and_then(Value::as_array) {
            transcript.events.extend(events.iter().map(sim_event));
        }
    }
    transcript
}

fn mark(i: usize) -> String {
    format!("/__locksim_mark_{i}")
}

/// zkCli's merged output → the transcript (see the module docs for the marks).
fn real(zk: &ZooKeeper, lines: &[String]) -> Transcript {
    let mut input = String::new();
    for (i, line) in lines.iter().enumerate() {
        input.push_str(line);
        input.push('\n');
        // After `close` zkCli answers the mark with "Not connected": `close` prints nothing of
        // its own anyway (its Closed event is an event).
        if line != "close" {
            input.push_str(&format!("stat {}\n", mark(i)));
        }
    }
    let skip_closes = |answers: &mut Vec<Vec<String>>| {
        while answers.len() < lines.len() && lines[answers.len()] == "close" {
            answers.push(Vec::new());
        }
    };
    let output = zk.zkcli(&input);
    let mut transcript = Transcript {
        answers: Vec::new(),
        events: Vec::new(),
    };
    let mut block = Vec::new();
    skip_closes(&mut transcript.answers);
    let body = output
        .split_once("JLine support is disabled")
        .map_or(output.as_str(), |(_, rest)| rest);
    for raw in body.lines() {
        let line = raw.trim_end();
        if line.is_empty() || line == "WATCHER::" {
            continue;
        }
        // Log lines and stack traces of the client library (a closed connection is logged).
        if raw.starts_with(|c: char| c.is_whitespace())
            || line.contains(" INFO ")
            || line.contains(" WARN ")
            || line.contains(" ERROR ")
            || line.starts_with("log4j")
            || line.starts_with("SLF4J")
        {
            continue;
        }
        if let Some(event) = line.strip_prefix("WatchedEvent ") {
            transcript.events.push(event.to_string());
            continue;
        }
        if line == format!("Node does not exist: {}", mark(transcript.answers.len())) {
            transcript.answers.push(std::mem::take(&mut block));
            skip_closes(&mut transcript.answers);
            continue;
        }
        match line.split_once(" = ") {
            Some((name, value)) if STAT_FIELDS.contains(&name) => {
                block.extend(stat_line(name, value))
            }
            _ => block.push(line.to_string()),
        }
    }
    assert_eq!(
        transcript.answers.len(),
        lines.len(),
        "zkCli's output did not close every command's block:\n{output}"
    );
    transcript
}

/// Differences between the real and the simulated transcript, one line each.
fn differences(script: &Script, real: &Transcript, sim: &Transcript) -> Vec<String> {
    let mut diffs = Vec::new();
    for (i, line) in script.lines.iter().enumerate() {
        if real.answers[i] != sim.answers[i] {
            diffs.push(format!(
                "{}: `{line}`: ZooKeeper {:?}, locksim {:?}",
                script.path.display(),
                real.answers[i],
                sim.answers[i]
            ));
        }
    }
    if real.events != sim.events {
        diffs.push(format!(
            "{}: watch events differ:\n  ZooKeeper {:?}\n  locksim   {:?}",
            script.path.display(),
            real.events,
            sim.events
        ));
    }
    diffs
}

#[test]
fn zkcli_scripts_match_real_zookeeper() {
    if !zookeeper::available_or_skip("zkcli_scripts_match_real_zookeeper") {
        return;
    }
    let scripts = scripts();
    let total: usize = scripts.iter().map(|s| s.lines.len()).sum();
    assert!(
        total >= 100,
        "the scripts have {total} command lines; at least 100"
    );
    let mut diffs = Vec::new();
    let mut events = 0;
    for script in &scripts {
        let zk = ZooKeeper::start();
        let real = real(&zk, &script.lines);
        let sim = simulate(&script.lines, 1);
        events += real.events.len();
        diffs.extend(differences(script, &real, &sim));
    }
    // A parse that lost zkCli's events would compare nothing.
    assert!(events >= 20, "only {events} watch events from zkCli");
    eprintln!("{total} command lines and {events} watch events compared");
    assert!(
        diffs.is_empty(),
        "{} differences over {total} lines:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// Without a real server: every script runs in the simulation, every line answers (no
/// simulation error), and the same seed gives the same transcript.
#[test]
fn zk_scripts_replay_in_the_simulation() {
    for script in scripts() {
        let a = simulate(&script.lines, 7);
        let b = simulate(&script.lines, 7);
        assert_eq!(a, b, "{}", script.path.display());
        assert_eq!(a.answers.len(), script.lines.len());
    }
}
