//! The ZooKeeper stories: every file in `scenarios/zk/` is bundled, each matches its `[expect]`
//! over seeds 0..20 with liveness judged, and a run with every fault kind on the zk backend
//! replays to the same digest.

use locksim::scenario::{self, resolve, BUNDLED_ZK};

#[test]
fn every_zk_scenario_file_is_bundled() {
    let mut on_disk: Vec<String> = std::fs::read_dir("scenarios/zk")
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".toml").map(String::from)
        })
        .collect();
    on_disk.sort();
    let mut bundled: Vec<String> = BUNDLED_ZK.iter().map(|(n, _)| n.to_string()).collect();
    bundled.sort();
    assert_eq!(on_disk, bundled, "scenarios/zk/ and BUNDLED_ZK differ");
}

#[test]
fn every_zk_story_matches_its_expectation_over_21_seeds() {
    for (name, _) in BUNDLED_ZK {
        let scenario = resolve(name).unwrap_or_else(|e| panic!("{e}"));
        assert!(!scenario.description.is_empty());
        for seed in 0..=20 {
            let outcome = locksim::runner::run(&scenario, seed)
                .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"))
                .outcome;
            assert!(
                outcome.matches,
                "{name} seed {seed}: mutual exclusion {} / resource {}",
                outcome.verdict, outcome.resource
            );
            assert!(
                matches!(outcome.liveness, lock::LivenessVerdict::Ok { .. }),
                "{name} seed {seed}: liveness {}",
                outcome.liveness.describe()
            );
        }
    }
}

/// Every fault kind on the zk backend in one run: same seed, same digest; another seed differs.
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
        assert_eq!(
            artifacts.outcome.resource.to_string(),
            "intact",
            "seed {seed}"
        );
        artifacts.outcome.history_digest
    };
    assert_eq!(digest(4), digest(4));
    assert_ne!(digest(4), digest(5));
}
