//! What every real-server harness shares (etcd, ZooKeeper, PostgreSQL): the one skip rule, a
//! fresh temp directory, a free loopback port, the scripts of a conformance directory.
//! Included with `#[path = "common/real_server.rs"] mod real_server;` by each test that runs a
//! real server.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Whether a real-server test can run: true if `installed`. When not, the test prints one line
/// saying it was skipped and how to enable it (`install`), and is skipped — unless
/// `LOCKSIM_REQUIRE_REAL=1` (CI sets it), where a missing server is a failure: there a silently
/// skipped conformance test would prove nothing.
pub fn available_or_skip(test: &str, installed: bool, server: &str, install: &str) -> bool {
    if installed {
        return true;
    }
    if std::env::var("LOCKSIM_REQUIRE_REAL").as_deref() == Ok("1") {
        panic!("{test}: {server} must be installed when LOCKSIM_REQUIRE_REAL=1: run `{install}`");
    }
    // Straight to stderr: the test harness captures eprintln!, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "{test}: skipped: {server} not installed (to run it: {install}; LOCKSIM_REQUIRE_REAL=1 \
         makes a missing server a failure)"
    );
    false
}

/// Whether `program arg` runs and exits 0 (a server's or client's `--version`).
pub fn runs(program: &str, arg: &str) -> bool {
    std::process::Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A fresh, empty directory under the system temp dir, unique to this process and call.
pub fn temp_dir(prefix: &str) -> PathBuf {
    temp_dir_in(&std::env::temp_dir(), prefix)
}

/// [`temp_dir`] under `base`.
pub fn temp_dir_in(base: &Path, prefix: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = base.join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// `n` loopback ports free right now, all different (every listener lives until all are
/// known).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("a bound port").port())
        .collect()
}

/// The scripts `tests/DIR/*.EXT`, sorted by name, with their text.
pub fn scripts(dir: &str, ext: &str) -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scripts in {}", dir.display());
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}
