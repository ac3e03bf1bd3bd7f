//! Conformance: the scripts in `tests/conformance/*.txt` give the same answers from real etcd 3.4
//! (through `etcdctl -w json`) and from `locksim ctl`.
//!
//! Script syntax: one ctl line per line; blank lines and `#` comments are skipped. Two suffixes,
//! read by this runner and stripped before the line is sent:
//! - `-> $NAME` captures the lease id a `lease grant` returned; later lines say `$NAME` and get
//!   the id in hex (the two clusters choose different ids);
//! - `=> {json}` states what the line must answer: a subset of its projection (see [`project`]),
//!   checked on every target. A line that answers an error must say so with `=> {"error": …}`.
//!
//! Lines are compared through [`project`]: revisions, kv fields (lease as present-or-not),
//! count/more/succeeded/deleted, lease TTLs (±1 s of elapsed time) and error messages. Ids,
//! raft terms and lease id values are left out.

#[path = "conformance/etcd.rs"]
mod etcd;
#[path = "common/real_server.rs"]
mod real_server;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use locksim::ctl::{self, Command};
use serde_json::{json, Value};

use etcd::Etcd;

/// One script line: the command (with `$NAME`s), and its optional capture and expectation.
struct Line {
    number: usize,
    text: String,
    capture: Option<String>,
    expect: Option<Value>,
}

struct Script {
    path: PathBuf,
    lines: Vec<Line>,
}

fn scripts() -> Vec<Script> {
    real_server::scripts("conformance", "txt")
        .into_iter()
        .map(|(path, text)| {
            let lines = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .map(|(i, l)| parse_script_line(i + 1, l))
                .collect();
            Script { path, lines }
        })
        .collect()
}

fn parse_script_line(number: usize, line: &str) -> Line {
    let (line, expect) = match line.split_once(" => ") {
        Some((l, e)) => (
            l,
            Some(serde_json::from_str(e).unwrap_or_else(|err| {
                panic!("line {number}: expectation {e:?} is not JSON: {err}")
            })),
        ),
        None => (line, None),
    };
    let (line, capture) = match line.split_once(" -> $") {
        Some((l, name)) => (l, Some(name.trim().to_string())),
        None => (line, None),
    };
    Line {
        number,
        text: line.trim().to_string(),
        capture,
        expect,
    }
}

/// Something that answers ctl lines with `locksim ctl`'s JSON lines.
trait Target {
    fn run(&mut self, line: &str) -> Value;
}

impl Target for Etcd {
    fn run(&mut self, line: &str) -> Value {
        Etcd::run(self, line)
    }
}

/// `locksim ctl` as a child process, fed one line at a time: a line's lease capture must be
/// known before the next line is written.
struct LocksimCtl {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl LocksimCtl {
    /// `locksim ctl` with `extra` arguments (`--grpc`).
    fn with_args(extra: &[&str]) -> LocksimCtl {
        let mut child = Process::new(env!("CARGO_BIN_EXE_locksim"))
            .args(["ctl", "--members", "3", "--seed", "1"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn locksim ctl");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LocksimCtl {
            child,
            stdin,
            lines,
        }
    }
}

impl Target for LocksimCtl {
    fn run(&mut self, line: &str) -> Value {
        writeln!(self.stdin, "{line}").expect("write to locksim ctl");
        self.stdin.flush().unwrap();
        let out = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("locksim ctl gave no answer to {line:?} within 60s"));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("locksim ctl printed {out:?}: {e}"))
    }
}

impl Drop for LocksimCtl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answered line: the command as sent, the raw answer and its projection.
struct Answer {
    number: usize,
    sent: String,
    raw: Value,
    projection: Value,
}

/// Runs a script: substitutes captures, checks expectations, requires errors to be expected.
fn run_script(script: &Script, target: &mut dyn Target, target_name: &str) -> Vec<Answer> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut answers = Vec::new();
    for line in &script.lines {
        let mut sent = line.text.clone();
        // Longest names first, so $L1 does not eat the start of $L10.
        vars.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
        for (name, value) in &vars {
            sent = sent.replace(&format!("${name}"), value);
        }
        let cmd = ctl::parse_line(&sent)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", script.path.display(), line.number))
            .expect("not blank");
        let raw = target.run(&sent);
        let projection = project(&cmd, &raw);
        let at = format!(
            "{}:{} [{target_name}] {sent}",
            script.path.display(),
            line.number
        );
        if let Some(name) = &line.capture {
            let id = raw["ID"]
                .as_i64()
                .unwrap_or_else(|| panic!("{at}: nothing to capture in {raw}"));
            vars.push((name.clone(), format!("{id:x}")));
        }
        match &line.expect {
            Some(want) => {
                if let Err(why) = contains(&projection, want, "") {
                    panic!("{at}\n  {why}\n  projection {projection}\n  raw {raw}");
                }
            }
            None => assert!(
                projection.get("error").is_none(),
                "{at}: unexpected error {raw}; write `=> {{\"error\": …}}` if it is meant"
            ),
        }
        answers.push(Answer {
            number: line.number,
            sent,
            raw,
            projection,
        });
    }
    answers
}

/// What must agree between etcd and the simulation.
fn project(cmd: &Command, v: &Value) -> Value {
    if let Some(e) = v.get("error") {
        return json!({ "error": e });
    }
    let revision = |v: &Value| v["header"]["revision"].as_i64().unwrap_or(0);
    let int = |v: &Value| v.as_i64().unwrap_or(0);
    match cmd {
        Command::Put(_) => put(v),
        Command::Get(_) => range(v),
        Command::Del(_) => delete(v),
        Command::Txn(_) => {
            let responses: Vec<Value> = v["responses"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|r| {
                    let r = &r["Response"];
                    if let Some(p) = r.get("ResponsePut") {
                        json!({ "put": put(p) })
                    } else if let Some(g) = r.get("ResponseRange") {
                        json!({ "get": range(g) })
                    } else if let Some(d) = r.get("ResponseDeleteRange") {
                        json!({ "del": delete(d) })
                    } else {
                        json!({ "unknown": r })
                    }
                })
                .collect();
            json!({
                "revision": revision(v),
                "succeeded": v["succeeded"].as_bool().unwrap_or(false),
                "responses": responses,
            })
        }
        Command::LeaseGrant(_) => json!({ "revision": int(&v["revision"]), "ttl": int(&v["TTL"]) }),
        Command::LeaseRevoke(_) => json!({ "revision": revision(v) }),
        Command::LeaseKeepAlive(_) => json!({ "ttl": int(&v["TTL"]) }),
        Command::LeaseTimeToLive(_) => {
            let mut keys: Vec<String> = v["keys"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(text)
                .collect();
            keys.sort();
            json!({ "ttl": int(&v["ttl"]), "granted_ttl": int(&v["granted-ttl"]), "keys": keys })
        }
        Command::LeaseList => {
            json!({ "count": v["leases"].as_array().map_or(0, Vec::len) })
        }
        Command::Compaction(_) => json!({ "ok": true }),
        Command::Watch(_) => {
            let events: Vec<Value> = v["Events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|e| {
                    let mut p = json!({
                        "type": if int(&e["type"]) == 1 { "DELETE" } else { "PUT" },
                        "kv": kv(&e["kv"]),
                    });
                    if !e["prev_kv"].is_null() {
                        p["prev_kv"] = kv(&e["prev_kv"]);
                    }
                    p
                })
                .collect();
            json!({ "events": events })
        }
        _ => v.clone(),
    }
}

fn text(b64: &Value) -> String {
    let bytes = STANDARD
        .decode(b64.as_str().unwrap_or(""))
        .expect("base64 from etcdctl");
    String::from_utf8_lossy(&bytes).into_owned()
}

fn kv(v: &Value) -> Value {
    let int = |f: &str| v[f].as_i64().unwrap_or(0);
    json!({
        "key": text(&v["key"]),
        "value": text(&v["value"]),
        "create_revision": int("create_revision"),
        "mod_revision": int("mod_revision"),
        "version": int("version"),
        "lease": int("lease") != 0,
    })
}

fn kvs(v: &Value) -> Vec<Value> {
    v.as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(kv)
        .collect()
}

fn put(v: &Value) -> Value {
    let mut p = json!({ "revision": v["header"]["revision"].as_i64().unwrap_or(0) });
    if !v["prev_kv"].is_null() {
        p["prev_kv"] = kv(&v["prev_kv"]);
    }
    p
}

fn range(v: &Value) -> Value {
    json!({
        "revision": v["header"]["revision"].as_i64().unwrap_or(0),
        "kvs": kvs(&v["kvs"]),
        "count": v["count"].as_i64().unwrap_or(0),
        "more": v["more"].as_bool().unwrap_or(false),
    })
}

fn delete(v: &Value) -> Value {
    json!({
        "revision": v["header"]["revision"].as_i64().unwrap_or(0),
        "deleted": v["deleted"].as_i64().unwrap_or(0),
        "prev_kvs": kvs(&v["prev_kvs"]),
    })
}

/// `want` is a subset of `got`: objects by key, arrays element-wise with equal length, `ttl`
/// within ±1 (a second of elapsed time), everything else equal.
fn contains(got: &Value, want: &Value, path: &str) -> Result<(), String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w.iter().try_for_each(|(k, wv)| {
            let path = format!("{path}.{k}");
            match g.get(k) {
                Some(gv) => contains(gv, wv, &path),
                None => Err(format!("{path}: missing, want {wv}")),
            }
        }),
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => g
            .iter()
            .zip(w)
            .enumerate()
            .try_for_each(|(i, (gv, wv))| contains(gv, wv, &format!("{path}[{i}]"))),
        (Value::Number(g), Value::Number(w))
            if path.ends_with(".ttl") && (g.as_i64().unwrap() - w.as_i64().unwrap()).abs() <= 1 =>
        {
            Ok(())
        }
        _ if got == want => Ok(()),
        _ => Err(format!("{path}: got {got}, want {want}")),
    }
}

/// The runner and the scripts against real etcd alone: every expectation holds, errors are
/// expected ones, captures work. Runs now; the simulated side does not exist yet.
#[test]
fn scripts_hold_on_real_etcd() {
    if !etcd::available_or_skip("scripts_hold_on_real_etcd") {
        return;
    }
    let scripts = scripts();
    for script in &scripts {
        let mut etcd = Etcd::start();
        let answers = run_script(script, &mut etcd, "etcd");
        // A fresh etcd starts at revision 1, so a script's first write is at revision 2: the
        // runner really talks to a fresh cluster per script.
        let first_write = answers
            .iter()
            .find(|a| a.sent.starts_with("put "))
            .unwrap_or_else(|| panic!("{}: no put", script.path.display()));
        assert_eq!(
            first_write.projection["revision"],
            2,
            "{}: first put {}",
            script.path.display(),
            first_write.raw
        );
    }
    eprintln!("scripts_hold_on_real_etcd: {} scripts", scripts.len());
}

/// The point of it all: `locksim ctl` answers every script line as etcd 3.4 does.
#[test]

fn locksim_ctl_matches_real_etcd() {
    ctl_matches_real_etcd("locksim_ctl_matches_real_etcd", &[]);
}

/// The same scripts through etcd-client over the members' gRPC API (`locksim ctl --grpc`).
#[cfg(feature = "grpc")]
#[test]
fn locksim_ctl_over_grpc_matches_real_etcd() {
    ctl_matches_real_etcd("locksim_ctl_over_grpc_matches_real_etcd", &["--grpc"]);
}

fn ctl_matches_real_etcd(test: &str, ctl_args: &[&str]) {
    if !etcd::available_or_skip(test) {
        return;
    }
    let mut failures = Vec::new();
    for script in &scripts() {
        let want = run_script(script, &mut Etcd::start(), "etcd");
        let got = run_script(script, &mut LocksimCtl::with_args(ctl_args), "locksim");
        if want.len() != got.len() {
            failures.push(format!(
                "{}: etcd answered {} lines, locksim {}",
                script.path.display(),
                want.len(),
                got.len()
            ));
        }
        for (w, g) in want.iter().zip(&got) {
            let same = contains(&g.projection, &w.projection, "")
                .and_then(|()| contains(&w.projection, &g.projection, ""));
            if let Err(why) = same {
                failures.push(format!(
                    "{}:{} {}\n  {why}\n  etcd    {}\n  locksim {}",
                    script.path.display(),
                    w.number,
                    g.sent,
                    w.raw,
                    g.raw
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} lines differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn script_lines_read_captures_and_expectations() {
    let l = parse_script_line(3, r#"lease grant 10 -> $L1 => {"ttl": 10}"#);
    assert_eq!(l.text, "lease grant 10");
    assert_eq!(l.capture.as_deref(), Some("L1"));
    assert_eq!(l.expect, Some(json!({"ttl": 10})));
    let l = parse_script_line(4, "put k v --lease=$L1");
    assert_eq!(
        (l.text.as_str(), l.capture, l.expect),
        ("put k v --lease=$L1", None, None)
    );
    assert!(contains(
        &json!({"ttl": 9, "x": [1, {"a": 2, "b": 3}]}),
        &json!({"ttl": 10, "x": [1, {"a": 2}]}),
        ""
    )
    .is_ok());
    assert!(contains(&json!({"ttl": 8}), &json!({"ttl": 10}), "").is_err());
    assert!(contains(&json!({"revision": 9}), &json!({"revision": 10}), "").is_err());
    assert!(contains(&json!({"kvs": [1]}), &json!({"kvs": [1, 2]}), "").is_err());
}
