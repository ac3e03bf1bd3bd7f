//! A real etcd 3.4 for the conformance test: started on free loopback ports in a temp dir,
//! driven with `etcdctl -w json`, killed when dropped.
//!
//! [`Etcd::run`] turns what etcdctl prints into the one JSON line `locksim ctl` prints for the
//! same command, wherever etcdctl's output is not one JSON line: errors (stderr text + exit
//! code), `compaction` (plain text even with `-w json`) and `watch` (runs until killed).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command as Process, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use locksim::ctl::{self, Command};
use serde_json::{json, Map, Value};
use sim::{CompareResult, CompareTarget, RequestOp, SortOrder, SortTarget, TxnRequest};

/// True when `etcd` and `etcdctl` can be run.
pub fn installed() -> bool {
    // etcdctl 3.4 speaks the v3 API by default.
    crate::real_server::runs("etcd", "--version") && crate::real_server::runs("etcdctl", "version")
}

/// Whether the real-etcd tests can run (the harnesses' one rule: `real_server`).
pub fn available_or_skip(test: &str) -> bool {
    crate::real_server::available_or_skip(
        test,
        installed(),
        "etcd and etcdctl 3.4",
        "apt-get install -y etcd-server etcd-client",
    )
}

/// A running single-member etcd. Dropping it kills the process and removes its directory.
pub struct Etcd {
    child: Child,
    dir: PathBuf,
    endpoint: String,
}

impl Etcd {
    /// Starts a fresh etcd (revision 1, no keys) and waits until it answers.
    pub fn start() -> Etcd {
        let dir = crate::real_server::temp_dir("locksim-conformance");
        let [client, peer] = crate::real_server::free_ports(2)[..] else {
            unreachable!("two ports asked for")
        };
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.join("etcd.log")).expect("create etcd log");
        let child = Process::new("etcd")
            .arg("--name=default")
            .arg(format!("--data-dir={}", dir.join("data").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=default={peer_url}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn etcd");
        let etcd = Etcd {
            child,
            dir,
            endpoint: format!("127.0.0.1:{client}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let health = etcd.etcdctl().args(["endpoint", "health"]).output();
            if health.is_ok_and(|o| o.status.success()) {
                return etcd;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(etcd.dir.join("etcd.log")).unwrap_or_default();
                panic!("etcd did not become healthy within 20s; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `127.0.0.1:PORT`, the client URL's address (for clients other than etcdctl).
    #[allow(dead_code)] // used by tests/etcd_client_examples.rs, not by tests/conformance.rs
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn etcdctl(&self) -> Process {
        let mut p = Process::new("etcdctl");
        p.env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoint))
            .arg("-w")
            .arg("json");
        p
    }

    /// Runs one ctl line and returns what `locksim ctl` prints for it, as etcd answered.
    ///
    /// # Panics
    /// On a line that does not parse, and on simulation commands other than `sleep`.
    pub fn run(&mut self, line: &str) -> Value {
        let cmd = ctl::parse_line(line)
            .unwrap_or_else(|e| panic!("script line {line:?} does not parse: {e}"))
            .expect("scripts pass no blank lines");
        match cmd {
            Command::Txn(txn) if has_lease_compare(&txn) => self.gateway_txn(&txn),
            Command::Txn(_) => {
                let rest = line.trim_start().strip_prefix("txn").expect("a txn line");
                let stdin = ctl::TxnText::split(rest).unwrap().to_interactive();
                let mut child = self
                    .etcdctl()
                    .arg("txn")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn etcdctl txn");
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(stdin.as_bytes())
                    .expect("write txn to etcdctl");
                answer(child.wait_with_output().expect("run etcdctl txn"))
            }
            Command::Watch(_) => self.watch(line),
            Command::Sleep(d) => {
                std::thread::sleep(d);
                json!({ "ok": true, "slept_ms": d.as_millis() as u64 })
            }
            c if c.is_simulation() || c == Command::EndpointStatus => {
                panic!("{line:?} has no meaning against one real etcd")
            }
            _ => {
                let output = self
                    .etcdctl()
                    .args(argv(line))
                    .output()
                    .expect("run etcdctl");
                answer(output)
            }
        }
    }

    /// etcdctl's watch never returns: read responses until the backlog has arrived, then kill it.
    /// The backlog comes at once (one response for a catch-up watch); a watch with no event in
    /// range prints nothing at all, hence the timeout rather than "wait for the first line".
    fn watch(&mut self, line: &str) -> Value {
        let mut child = self
            .etcdctl()
            .args(argv(line))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn etcdctl watch");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut responses: Vec<Value> = Vec::new();
        let mut wait = Duration::from_secs(2);
        while let Ok(line) = rx.recv_timeout(wait) {
            responses.push(serde_json::from_str(&line).expect("etcdctl watch prints JSON"));
            wait = Duration::from_millis(300);
        }
        let _ = child.kill();
        let output = child.wait_with_output().expect("reap etcdctl watch");
        if responses.iter().any(|r| r["Canceled"] == true) {
            return stderr_error(&String::from_utf8_lossy(&output.stderr));
        }
        let events: Vec<Value> = responses
            .iter()
            .flat_map(|r| r["Events"].as_array().cloned().unwrap_or_default())
            .collect();
        let header = responses.last().map_or(json!({}), |r| r["Header"].clone());
        json!({
            "Header": header,
            "Events": events,
            "CompactRevision": 0,
            "Canceled": false,
            "Created": false,
        })
    }
}

impl Etcd {
    /// A txn through etcd's JSON gateway (`POST /v3/kv/txn`), answered in etcdctl's shape.
    ///
    /// Why not etcdctl: etcdctl 3.4.23 panics (`panic: bad value` in `clientv3.mustInt64`) on
    /// any `lease("k") = "…"` compare, so a lease compare can only reach etcd another way. The
    /// request is built from the same parsed [`TxnRequest`] that `locksim ctl` executes.
    fn gateway_txn(&self, txn: &TxnRequest) -> Value {
        let body = gateway_request(txn).to_string();
        let mut stream = TcpStream::connect(&self.endpoint).expect("connect to etcd's gateway");
        write!(
            stream,
            "POST /v3/kv/txn HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.endpoint,
            body.len()
        )
        .expect("send to etcd's gateway");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read etcd's gateway");
        let (head, body) = response
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("not HTTP: {response:?}"));
        assert!(
            !head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked"),
            "chunked gateway answer: {response:?}"
        );
        let v: Value = serde_json::from_str(body).expect("gateway answers JSON");
        if head.starts_with("HTTP/1.1 200") {
            from_gateway(&v)
        } else {
            json!({ "error": v["error"] })
        }
    }
}

fn has_lease_compare(txn: &TxnRequest) -> bool {
    txn.compare
        .iter()
        .any(|c| matches!(c.target, CompareTarget::Lease(_)))
}

/// etcd's `TxnRequest` as the gateway's jsonpb: bytes in base64, int64 as strings, enums by name.
fn gateway_request(txn: &TxnRequest) -> Value {
    let b64 = |b: &[u8]| Value::from(STANDARD.encode(b));
    let compare: Vec<Value> = txn
        .compare
        .iter()
        .map(|c| {
            let result = match c.result {
                CompareResult::Equal => "EQUAL",
                CompareResult::Greater => "GREATER",
                CompareResult::Less => "LESS",
                CompareResult::NotEqual => "NOT_EQUAL",
            };
            let (target, field, value) = match &c.target {
                CompareTarget::Version(v) => ("VERSION", "version", v.to_string().into()),
                CompareTarget::Create(v) => ("CREATE", "create_revision", v.to_string().into()),
                CompareTarget::Mod(v) => ("MOD", "mod_revision", v.to_string().into()),
                CompareTarget::Value(v) => ("VALUE", "value", b64(v)),
                CompareTarget::Lease(v) => ("LEASE", "lease", v.to_string().into()),
            };
            let mut o = json!({ "result": result, "target": target, "key": b64(&c.key) });
            o[field] = value;
            o
        })
        .collect();
    let op = |op: &RequestOp| match op {
        RequestOp::Put(p) => json!({ "request_put": {
            "key": b64(&p.key), "value": b64(&p.value), "lease": p.lease.to_string(),
            "prev_kv": p.prev_kv, "ignore_value": p.ignore_value, "ignore_lease": p.ignore_lease,
        }}),
        RequestOp::Range(r) => json!({ "request_range": {
            "key": b64(&r.key), "range_end": b64(&r.range_end), "limit": r.limit.to_string(),
            "revision": r.revision.to_string(),
            "sort_order": match r.sort_order {
                SortOrder::None => "NONE", SortOrder::Ascend => "ASCEND", SortOrder::Descend => "DESCEND",
            },
            "sort_target": match r.sort_target {
                SortTarget::Key => "KEY", SortTarget::Version => "VERSION", SortTarget::Create => "CREATE",
                SortTarget::Mod => "MOD", SortTarget::Value => "VALUE",
            },
            "serializable": r.serializable, "keys_only": r.keys_only, "count_only": r.count_only,
        }}),
        RequestOp::DeleteRange(d) => json!({ "request_delete_range": {
            "key": b64(&d.key), "range_end": b64(&d.range_end), "prev_kv": d.prev_kv,
        }}),
        RequestOp::Txn(_) => panic!("nested txns are not in the ctl syntax"),
    };
    json!({
        "compare": compare,
        "success": txn.success.iter().map(op).collect::<Vec<_>>(),
        "failure": txn.failure.iter().map(op).collect::<Vec<_>>(),
    })
}

/// The gateway's jsonpb → etcdctl's encoding/json: int64 strings become numbers, and
/// `{"response_put": …}` becomes the oneof wrapper `{"Response": {"ResponsePut": …}}`.
fn from_gateway(v: &Value) -> Value {
    const INTS: &[&str] = &[
        "cluster_id",
        "member_id",
        "revision",
        "raft_term",
        "create_revision",
        "mod_revision",
        "version",
        "lease",
        "count",
        "deleted",
    ];
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                let v = match (k.as_str(), v) {
                    (k, Value::String(s)) if INTS.contains(&k) => s
                        .parse::<u64>()
                        .map(Value::from)
                        .or_else(|_| s.parse::<i64>().map(Value::from))
                        .unwrap_or_else(|_| panic!("{k}: {s:?} is not an integer")),
                    ("responses", Value::Array(rs)) => rs
                        .iter()
                        .map(|r| {
                            let (kind, body) = r.as_object().unwrap().iter().next().unwrap();
                            let name = match kind.as_str() {
                                "response_range" => "ResponseRange",
                                "response_put" => "ResponsePut",
                                "response_delete_range" => "ResponseDeleteRange",
                                other => panic!("unknown gateway response {other}"),
                            };
                            json!({ "Response": { name: from_gateway(body) } })
                        })
                        .collect(),
                    (_, v) => from_gateway(v),
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(a) => a.iter().map(from_gateway).collect(),
        other => other.clone(),
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The ctl line as etcdctl's argv: the same words, unquoted.
fn argv(line: &str) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStringExt;
    ctl::split_words(line)
        .expect("line parsed before")
        .into_iter()
        .map(std::ffi::OsString::from_vec)
        .collect()
}

/// etcdctl's stdout as JSON on success, our error shape on failure.
fn answer(output: Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return stderr_error(&String::from_utf8_lossy(&output.stderr));
    }
    if let Some(rev) = stdout.trim().strip_prefix("compacted revision ") {
        // etcdctl 3.4 prints `compaction` as text even with -w json.
        return json!({ "compacted": rev.parse::<i64>().expect("a revision") });
    }
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("etcdctl printed no JSON ({e}): {stdout:?}"))
}

/// `{"error": message, "code": gRPC code}` from etcdctl's stderr. The code is in the client's
/// retry warning when there is one; the message is etcd's, unwrapped from etcdctl's
/// `failed to revoke lease (…)` / `watch was canceled (…)`.
fn stderr_error(stderr: &str) -> Value {
    let code = stderr
        .split("code = ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string);
    let message = match stderr
        .lines()
        .find_map(|l| l.strip_prefix("watch was canceled ("))
    {
        Some(m) => m.strip_suffix(')').unwrap_or(m),
        None => {
            let m = stderr
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("Error: "))
                .unwrap_or(stderr.trim());
            match m.find("(etcdserver: ") {
                Some(open) if m.ends_with(')') => &m[open + 1..m.len() - 1],
                _ => m,
            }
        }
    };
    let mut v = json!({ "error": message });
    if let Some(code) = code {
        v["code"] = code.into();
    }
    v
}
