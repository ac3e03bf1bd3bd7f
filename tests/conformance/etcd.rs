//! A real etcd 3.4 for the conformance test: started on free loopback ports in a temp dir,
//! driven with `etcdctl -w json`, killed when dropped.
//!
//! [`Etcd::run`] turns what etcdctl prints into the one JSON line `locksim ctl` prints for the
//! same command, wherever etcdctl's output is not one JSON line: errors (stderr text + exit
//! code), `compaction` (plain text even with `-w json`) and `watch` (runs until killed).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command as Process, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use locksim::ctl::{self, Command};
use serde_json::{json, Value};

/// True when `etcd` and `etcdctl` can be run.
pub fn installed() -> bool {
    [("etcd", "--version"), ("etcdctl", "version")]
        .iter()
        .all(|(bin, arg)| {
            Process::new(bin)
                .arg(arg)
                .env("ETCDCTL_API", "3")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Whether the real-etcd tests can run: true if etcd is installed; false (with a notice) when it
/// is not and `LOCKSIM_SKIP_ETCD=1`.
///
/// # Panics
/// When etcd is missing and the skip is not asked for: a silently skipped conformance test
/// proves nothing.
pub fn available_or_skip(test: &str) -> bool {
    if installed() {
        return true;
    }
    if std::env::var("LOCKSIM_SKIP_ETCD").as_deref() == Ok("1") {
        eprintln!("{test}: SKIPPED: etcd/etcdctl not on PATH and LOCKSIM_SKIP_ETCD=1");
        return false;
    }
    panic!(
        "{test}: etcd and etcdctl 3.4 must be on PATH: run `apt-get install -y etcd-server \
         etcd-client` (CI installs them), or set LOCKSIM_SKIP_ETCD=1 to skip"
    );
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
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "locksim-conformance-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create etcd temp dir");
        // Both listeners live until both ports are known, so they differ.
        let (client, peer) = {
            let a = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
            let b = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
            (
                a.local_addr().unwrap().port(),
                b.local_addr().unwrap().port(),
            )
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
