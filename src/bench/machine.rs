//! Where a benchmark ran, and how much memory a child process used: figures without the
//! machine and commit next to them cannot be compared with later ones.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use serde::Serialize;

/// The machine and build a benchmark ran on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    /// `git rev-parse --short HEAD` of the working directory, `+dirty` with local changes.
    pub commit: String,
    /// Whether this binary is an optimised build (benchmarks of debug builds mean little).
    pub release: bool,
}

impl Machine {
    pub fn detect() -> Machine {
        Machine {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu: cpu_model(Path::new("/proc/cpuinfo")).unwrap_or_else(|| "unknown".into()),
            commit: commit().unwrap_or_else(|| "unknown".into()),
            release: !cfg!(debug_assertions),
        }
    }
}

fn cpu_model(cpuinfo: &Path) -> Option<String> {
    let text = std::fs::read_to_string(cpuinfo).ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if dirty {
        commit.push_str("+dirty");
    }
    Some(commit)
}

/// CPU time this thread has used. Beside wall time it tells a slow machine from a busy one:
/// on a shared machine the wall figure drops while this one holds.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live local; CLOCK_THREAD_CPUTIME_ID is always available on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Resident memory of a child over its life: samples of `VmRSS` taken while it runs, and the
/// kernel's high-water mark when it exits.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RssTrace {
    /// (seconds since start, resident KiB), one sample per interval.
    pub samples: Vec<(f64, u64)>,
    /// Peak resident set (KiB), from `wait4`'s rusage.
    pub peak_kib: u64,
}

impl RssTrace {
    /// Largest sample in the first and in the last tenth of the run: equal-ish means flat.
    pub fn first_and_last_tenth(&self) -> Option<(u64, u64)> {
        let n = self.samples.len();
        if n < 2 {
            return None;
        }
        let tenth = (n / 10).max(1);
        let first = self.samples[..tenth].iter().map(|s| s.1).max()?;
        let last = self.samples[n - tenth..].iter().map(|s| s.1).max()?;
        Some((first, last))
    }
}

/// Waits for `child`, sampling its resident memory every `every`; returns its exit status
/// (true = success) and the trace.
pub fn wait_tracing_rss(mut child: Child, every: Duration) -> std::io::Result<(bool, RssTrace)> {
    let pid = child.id() as libc::pid_t;
    let status_path = format!("/proc/{pid}/status");
    let started = std::time::Instant::now();
    let mut trace = RssTrace::default();
    loop {
        // WNOHANG: reap it if it is done, with its rusage.
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own child; status and usage point to live locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            trace.peak_kib = usage.ru_maxrss as u64;
            // Reaped here; dropping `Child` neither waits nor kills.
            let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            return Ok((ok, trace));
        }
        if reaped < 0 {
            let err = std::io::Error::last_os_error();
            let _ = child.kill();
            return Err(err);
        }
        if let Some(kib) = vm_rss_kib(&status_path) {
            trace.samples.push((started.elapsed().as_secs_f64(), kib));
        }
        std::thread::sleep(every);
    }
}

fn vm_rss_kib(status_path: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status_path).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_cpu_model_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cpuinfo");
        std::fs::write(&path, "processor\t: 0\nmodel name\t: Test CPU @ 2.0GHz\n").unwrap();
        assert_eq!(cpu_model(&path).as_deref(), Some("Test CPU @ 2.0GHz"));
    }

    #[test]
    fn traces_a_child_and_reports_its_peak() {
        let child = Command::new("sh")
            .args(["-c", "sleep 0.3"])
            .spawn()
            .unwrap();
        let (ok, trace) = wait_tracing_rss(child, Duration::from_millis(50)).unwrap();
        assert!(ok);
        assert!(trace.peak_kib > 0);
        assert!(!trace.samples.is_empty());
    }
}
