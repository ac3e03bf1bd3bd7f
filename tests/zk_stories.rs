//! The ZooKeeper stories: every file in `scenarios/zk/` is bundled, each matches its `[expect]`
//! over seeds 0..20 with liveness judged, and a run with every fault kind on the zk backend
//! replays to the same digest.

#[path = "common/stories.rs"]
mod stories;

use locksim::scenario::{self, resolve, BUNDLED_ZK};

#[test]
fn every_zk_scenario_file_is_bundled() {
    stories::assert_every_file_bundled("scenarios/zk", BUNDLED_ZK);
}

#[test]
fn every_zk_story_matches_its_expectation_over_21_seeds() {
    stories::assert_stories_match(BUNDLED_ZK);
}

/// The stale reads of zk-stale-read are reader1's, answered by the cut-off z1 during the
/// partition (or just after, while it catches up), with every promise kept; zk-sync-read's
/// readers see none.
#[test]
fn stale_reads_come_from_the_cut_off_follower_and_sync_prevents_them() {
    let stale = resolve("zk-stale-read").unwrap();
    let synced = resolve("zk-sync-read").unwrap();
    for seed in 0..3 {
        let o = locksim::runner::run(&stale, seed).unwrap().outcome;
        let zk = o.zk_check.as_ref().expect("a zk run is checked");
        assert!(zk.holds(), "seed {seed}: {zk:?}");
        assert!(!zk.stale_local.is_empty(), "seed {seed}: no stale read");
        for f in &zk.stale_local {
            assert_eq!(f.process, "reader1", "seed {seed}: {f}");
            assert_eq!(f.node.as_deref(), Some("z1"), "seed {seed}: {f}");
            // Cut off at 10 s, healed at 18 s; z1 catches up within a second.
            assert!(f.invoke_ms >= 10_000 && f.invoke_ms < 19_000, "{f}");
        }
        let o = locksim::runner::run(&synced, seed).unwrap().outcome;
        let zk = o.zk_check.as_ref().expect("a zk run is checked");
        assert!(zk.linearizable(), "seed {seed}: {zk:?}");
        assert_eq!(o.kv, locksim::verdict::Kv::Linearizable);
        // The sync'd readers did read: the verdict is not vacuous.
        assert!(o.ops > 500, "seed {seed}: only {} operations", o.ops);
    }
}

/// Every fault kind on the zk backend in one run, with the `[kv]` register beside the lock
/// (two writers, three readers, request timeouts): same seed, same digest and the same
/// zxid findings; another seed differs. No promise is broken under any of the faults.
#[test]
fn a_zk_run_with_every_fault_kind_replays_exactly() {
    let text = r#"
name = "zk-every-fault"
description = "Every fault kind on a ZooKeeper ensemble."
duration = "60s"
[cluster]
backend = "zk"
members = 3
[lock]
kind = "zk-curator"
ttl = "5s"
fencing = true
[kv]
writers = 2
readers = 3
request_timeout = "2s"
[[fault]]
at = "3s"
kind = "crash"
target = "leader"
for = "4s"
[[fault]]
at = "9s"
kind = "partition"
groups = [["z1"], ["z2", "z3"]]
for = "5s"
[[fault]]
at = "15s"
kind = "pause"
target = "holder"
for = "8s"
[[fault]]
at = "24s"
kind = "skew"
target = "follower"
rate = 1.5
offset = "3s"
for = "6s"
[[fault]]
at = "31s"
kind = "isolate"
target = "holder"
for = "4s"
[[fault]]
at = "36s"
kind = "partition-oneway"
from = "z2"
to = "z3"
for = "3s"
[[fault]]
at = "40s"
kind = "loss"
rate = 0.1
for = "5s"
[[fault]]
at = "46s"
kind = "duplicate"
rate = 0.2
for = "4s"
[[fault]]
at = "51s"
kind = "latency"
latency = "20ms..80ms"
for = "4s"
[[fault]]
at = "56s"
kind = "crash"
target = "follower"
lose_unsynced = true
for = "2s"
"#;
    let scenario = scenario::parse("zk-every-fault.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let digest = |seed| {
        let artifacts = locksim::runner::run(&scenario, seed).unwrap();
        let o = artifacts.outcome;
        assert_eq!(o.resource.to_string(), "intact", "seed {seed}");
        let zk = o.zk_check.expect("a zk run is checked");
        assert!(zk.holds(), "seed {seed}: {}", zk.summary());
        let stale: Vec<u64> = zk.stale_local.iter().map(|f| f.op).collect();
        (o.history_digest, stale)
    };
    assert_eq!(digest(4), digest(4));
    assert_ne!(digest(4), digest(5));
}
