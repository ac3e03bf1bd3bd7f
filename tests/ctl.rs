//! `locksim ctl` as a user runs it: a script on stdin, JSON lines out, a history file.

use std::io::Write;
use std::process::{Command, Stdio};

const SCRIPT: &str = "\
put a 1
lease grant 5
crash n1
sleep 2s
leader
put a 2
get a
restart n1
sleep 1s
partition n1 | n2,n3
put b 1
heal
pause leader
sleep 2s
put c 1
resume n1
resume n2
resume n3
skew follower --rate=2.0 --offset=1s
loss 0.2
duplicate 0.1 n1 n2
latency 5ms..40ms
isolate follower
put d 1
heal
loss 0
sleep 1s
endpoint status
watch a --rev=1
";

/// Runs the shell; returns (stdout, history file contents).
fn ctl(seed: u64, script: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_locksim"))
        .args(["ctl", "--seed", &seed.to_string(), "--history"])
        .arg(&history)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "locksim ctl exited with {}",
        out.status
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(history).unwrap(),
    )
}

mod determinism {
    use super::*;

    #[test]
    fn same_seed_gives_byte_identical_output_and_history() {
        let (out_a, history_a) = ctl(7, SCRIPT);
        let (out_b, history_b) = ctl(7, SCRIPT);
        assert_eq!(out_a, out_b);
        assert_eq!(history_a, history_b);
        assert_eq!(out_a.lines().count(), SCRIPT.lines().count());
    }

    #[test]
    fn another_seed_changes_timings() {
        let (_, history_a) = ctl(7, SCRIPT);
        let (_, history_b) = ctl(8, SCRIPT);
        assert_ne!(history_a, history_b);
    }
}

mod errors {
    use super::*;

    #[test]
    fn malformed_lines_get_an_error_line_and_the_shell_goes_on() {
        let (out, _) = ctl(
            1,
            "put a\nget a --revv=3\ncrash n9\nlease revoke zz\nput a 1\n",
        );
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        for line in &lines[..4] {
            assert_eq!(line["code"], "InvalidArgument", "{line}");
        }
        assert!(
            lines[2]["error"].as_str().unwrap().contains("n1..n3"),
            "{}",
            lines[2]
        );
        assert_eq!(lines[4]["header"]["revision"], 2);
    }

    #[test]
    fn etcd_errors_carry_etcds_message() {
        let (out, _) = ctl(
            1,
            "put a 1\nput a 2\ncompaction 3\nget a --rev=2\nlease revoke 1234\n",
        );
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[3]["error"],
            "etcdserver: mvcc: required revision has been compacted"
        );
        assert_eq!(lines[3]["code"], "OutOfRange");
        assert_eq!(lines[4]["error"], "etcdserver: requested lease not found");
    }
}

/// A session against a cut-off leader moves on in about one attempt: the put sent to the
/// isolated leader is given up after one attempt timeout (1 s, reported indeterminate — it may
/// have been applied, and it is never resent) instead of the whole 5 s deadline, and later
/// puts reach the new leader.
mod failover {
    use std::time::Duration;

    use sim::{ClusterConfig, Driver, Error, PutRequest};

    fn put(key: &str) -> sim::ClientRequest {
        sim::ClientRequest::Put(PutRequest {
            key: key.into(),
            value: b"v".to_vec(),
            ..Default::default()
        })
    }

    #[test]
    fn a_put_to_an_isolated_leader_answers_within_one_attempt() {
        let mut driver = Driver::new(ClusterConfig {
            seed: 7,
            ..ClusterConfig::default()
        })
        .unwrap();
        assert!(driver.call(put("before")).unwrap().is_ok());
        let (leader, _) = driver.cluster().leader().unwrap();
        driver.cluster().isolate(&sim::member_name(leader));
        let start = driver.cluster().elapsed();
        let first = driver.call(put("during")).unwrap();
        let took = driver.cluster().elapsed() - start;
        assert_eq!(first.unwrap_err(), Error::Indeterminate);
        assert!(
            took <= Duration::from_millis(1100),
            "gave up after {took:?}"
        );
        // The session is not stuck on the isolated member: once the majority has elected a
        // leader (an election timeout or two), the next put goes there and commits.
        driver.cluster().run_for(Duration::from_secs(3)).unwrap();
        let next = driver.call(put("after")).unwrap();
        assert!(next.is_ok(), "{next:?}");
        assert_ne!(next.unwrap().header().member_id, leader);
    }
}
