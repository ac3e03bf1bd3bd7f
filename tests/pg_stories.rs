//! The PostgreSQL stories: every file in `scenarios/pg/` is bundled, each matches its `[expect]`
//! over seeds 0..20 with liveness judged, the server ends the cut-off holder's backend when its
//! keepalive says, and a run with every fault kind on the pg backend replays to the same digest.

#[path = "common/stories.rs"]
mod stories;

use locksim::scenario::{self, resolve, BUNDLED_PG};
use sim::{ClusterEvent, Record};

#[test]
fn every_pg_scenario_file_is_bundled() {
    stories::assert_every_file_bundled("scenarios/pg", BUNDLED_PG);
}

#[test]
fn every_pg_story_matches_its_expectation_over_21_seeds() {
    stories::assert_stories_match(BUNDLED_PG);
}

/// pg-row-lock-keepalive: the holder's connection is idle from its acquisition (in the first
/// few hundred ms) through its 20 s job; cut off at 5 s, it answers no probe, so the server
/// gives it up 10 s + 3 × 2 s after it last heard it.
#[test]
fn the_server_ends_the_cut_off_holders_backend_when_its_keepalive_says() {
    let story = resolve("pg-row-lock-keepalive").unwrap();
    for seed in 0..3 {
        let artifacts = locksim::runner::run(&story, seed).unwrap();
        let ended: Vec<(u64, String)> = artifacts
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Event {
                    at_ms,
                    event: ClusterEvent::PgBackendEnded { reason, .. },
                } => Some((*at_ms, reason.clone())),
                _ => None,
            })
            .collect();
        let (at, reason) = &ended[0];
        assert_eq!(reason, "connection timed out", "seed {seed}");
        assert!((16_000..17_000).contains(at), "seed {seed}: {ended:?}");
    }
}

/// Every fault kind on the pg backend in one run: same seed, same digest; another seed
/// differs.
#[test]
fn a_pg_run_with_every_fault_kind_replays_exactly() {
    let text = r#"
name = "pg-every-fault"
description = "Every fault kind on a PostgreSQL server."
duration = "60s"
[cluster]
backend = "pg"
[pg]
tcp_keepalives_idle = "5s"
tcp_keepalives_interval = "1s"
tcp_keepalives_count = 3
idle_in_transaction_session_timeout = "4s"
[lock]
kind = "pg-row-lock"
fencing = true
[[fault]]
at = "3s"
kind = "crash"
target = "p1"
for = "4s"
[[fault]]
at = "9s"
kind = "partition"
groups = [["holder"], ["p1"]]
for = "9s"
[[fault]]
at = "19s"
kind = "pause"
target = "holder"
for = "6s"
[[fault]]
at = "26s"
kind = "skew"
target = "p1"
rate = 1.5
offset = "3s"
for = "6s"
[[fault]]
at = "33s"
kind = "isolate"
target = "holder"
for = "4s"
[[fault]]
at = "38s"
kind = "partition-oneway"
from = "p1"
to = "c1"
for = "3s"
[[fault]]
at = "42s"
kind = "loss"
rate = 0.1
for = "5s"
[[fault]]
at = "48s"
kind = "duplicate"
rate = 0.2
for = "4s"
[[fault]]
at = "53s"
kind = "latency"
latency = "20ms..80ms"
for = "4s"
"#;
    let scenario = scenario::parse("pg-every-fault.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let digest = |seed| {
        let o = locksim::runner::run(&scenario, seed).unwrap().outcome;
        (
            o.history_digest,
            o.verdict.to_string(),
            o.resource.to_string(),
        )
    };
    assert_eq!(digest(4), digest(4));
    assert_ne!(digest(4).0, digest(5).0);
}
