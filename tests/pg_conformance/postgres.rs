//! A real PostgreSQL 15 (Debian's `postgresql-15`) for the conformance test: `initdb` into a
//! temp dir and `postgres` on a free loopback port — as the `postgres` user when the test runs
//! as root, since the server refuses to run as root — and psql sessions to drive it. Dropping
//! it stops the server and removes its directory.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// True when Debian's PostgreSQL 15 server and psql are installed.
pub fn installed() -> bool {
    Path::new(BIN).join("postgres").exists() && crate::real_server::runs("psql", "--version")
}

/// Whether the real-PostgreSQL test can run (the harnesses' one rule: `real_server`).
pub fn available_or_skip(test: &str) -> bool {
    crate::real_server::available_or_skip(
        test,
        installed(),
        "PostgreSQL 15 and psql",
        "apt-get install -y postgresql-15",
    )
}

fn is_root() -> bool {
    Process::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn as_server_user(program: &str) -> Process {
    if is_root() {
        let mut p = Process::new("runuser");
        p.args(["-u", "postgres", "--", program]);
        p
    } else {
        Process::new(program)
    }
}

/// A running server. Dropping it stops the server and removes its directory.
pub struct Postgres {
    dir: PathBuf,
    port: u16,
}

impl Postgres {
    /// A fresh cluster (`initdb -A trust`), started and accepting connections.
    pub fn start() -> Postgres {
        // As root the server runs as `postgres`, which must reach the directory: under /tmp,
        // whatever TMPDIR says (root's own may be closed to other users).
        let dir = if is_root() {
            crate::real_server::temp_dir_in(Path::new("/tmp"), "locksim-pg-conformance")
        } else {
            crate::real_server::temp_dir("locksim-pg-conformance")
        };
        if is_root() {
            let ok = Process::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown postgres {}", dir.display());
        }
        let data = dir.join("data");
        let out = as_server_user(&format!("{BIN}/initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = crate::real_server::free_ports(1)[0];
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.display()
        );
        let status = as_server_user(&format!("{BIN}/pg_ctl"))
            .args(["-w", "-t", "60", "-D"])
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.join("server.log"))
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl start");
        assert!(
            status.success(),
            "pg_ctl start failed: see {}",
            dir.display()
        );
        Postgres { dir, port }
    }

    /// A new psql session (`-X`, verbose errors, tuples only, unaligned).
    pub fn session(&self) -> Psql {
        // One stream for results and errors (`2>&1`), so they keep the order psql wrote them.
        let command = format!(
            "exec psql -X -A -t -h 127.0.0.1 -U postgres -p {} -v VERBOSITY=verbose 2>&1",
            self.port
        );
        let mut child = Process::new("sh")
            .args(["-c", &command])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start psql");
        let stdin = child.stdin.take().expect("psql stdin");
        let stdout = child.stdout.take().expect("psql stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Psql {
            child,
            stdin,
            lines,
            marks: 0,
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_server_user(&format!("{BIN}/pg_ctl"))
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One psql session: a statement is followed by `\echo` of a mark, which psql prints only once
/// the statement has finished — so a statement waiting for a lock shows as no mark yet.
pub struct Psql {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    marks: usize,
}

impl Psql {
    /// Send `sql`; return the mark that will close its output.
    pub fn send(&mut self, sql: &str) -> String {
        self.marks += 1;
        let mark = format!("__locksim_mark_{}", self.marks);
        writeln!(self.stdin, "{sql}\n\\echo {mark}").expect("write to psql");
        self.stdin.flush().expect("flush psql");
        mark
    }

    /// The lines up to and including `mark`, waiting at most `wait` for it.
    pub fn until(&mut self, mark: &str, wait: Duration) -> Vec<String> {
        let end = Instant::now() + wait;
        let mut out = Vec::new();
        while !out.iter().any(|l| l == mark) {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => out.push(line),
                Err(_) => break,
            }
        }
        out
    }

    /// The lines that arrived within `wait` (all of them, marks included).
    pub fn drain(&mut self, wait: Duration) -> Vec<String> {
        let end = Instant::now() + wait;
        let mut out = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => out.push(line),
                Err(RecvTimeoutError::Timeout) => return out,
                Err(RecvTimeoutError::Disconnected) => return out,
            }
        }
    }
}

impl Drop for Psql {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
