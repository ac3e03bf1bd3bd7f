//! The bundled scenarios: every file in `scenarios/` parses, and is reachable by name.

#[path = "common/stories.rs"]
mod stories;

use locksim::scenario::{parse, resolve, ClusterSpec, Expect, ReadMode, Scenario, BUNDLED};
use locksim::verdict::Kv;

#[test]
fn every_scenario_file_is_bundled_and_parses() {
    stories::assert_every_file_bundled("scenarios", BUNDLED);
    for (name, text) in BUNDLED {
        let scenario = parse(name, text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&scenario.name, name, "the file name and `name` differ");
        assert!(
            !scenario.description.is_empty(),
            "{name} has no description"
        );
        assert_eq!(resolve(name).unwrap(), scenario);
    }
}

#[test]
fn unknown_name_lists_the_bundled_ones() {
    let e = resolve("no-such-story").unwrap_err().to_string();
    assert!(e.contains("bundled: put-lock-race"), "{e}");
}

/// Every bundled scenario, run over several seeds, shows the verdict its `[expect]` pins.
#[test]
fn every_bundled_scenario_matches_its_expectation() {
    for (name, _) in BUNDLED {
        let scenario = resolve(name).unwrap();
        for seed in 0..3 {
            let outcome = locksim::runner::run(&scenario, seed)
                .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"))
                .outcome;
            assert!(
                outcome.matches,
                "{name} seed {seed}: mutual exclusion {} / resource {} / kv {}, expected {} / {} / {}",
                outcome.verdict,
                outcome.resource,
                outcome.kv,
                outcome.expected.mutual_exclusion,
                outcome.expected.resource,
                outcome.expected.kv
            );
            // Every run ends with a healed tail as long as the liveness bound: liveness is
            // always judged (it was once skipped whenever a partition ended by its own `for`).
            assert!(
                !matches!(outcome.liveness, lock::LivenessVerdict::NotChecked { .. }),
                "{name} seed {seed}: liveness {}",
                outcome.liveness.describe()
            );
        }
    }
}

/// `lease-txn-partition-safe` cuts the leader off for 10 s (`for = "10s"`): its JSON says the
/// partition ended when its `for` ran out, and that liveness was judged after it.
#[test]
fn a_partition_ended_by_its_for_leaves_liveness_checked() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_locksim"))
        .args(["run", "lease-txn-partition-safe", "--seed", "1", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["liveness"]["status"], "ok", "{}", v["liveness"]);
    let partitions: Vec<&serde_json::Value> = v["faults"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "partition")
        .collect();
    assert_eq!(partitions.len(), 1, "{}", v["faults"]);
    let (from, to) = (&partitions[0]["from_ms"], &partitions[0]["to_ms"]);
    assert_eq!(to.as_u64().unwrap() - from.as_u64().unwrap(), 10_000);
    assert!(v["liveness"]["healed_ms"].as_u64() >= to.as_u64());
}

/// The KV stories' stale reads come from their read mode, not from their fault plan: each
/// story shows a stale read its report names, and the same plan with `read_mode =
/// "linearizable"` gives a linearizable history with no stale read at all.
#[test]
fn kv_stories_are_stale_only_in_their_read_mode() {
    let stories: Vec<Scenario> = BUNDLED
        .iter()
        .map(|(name, _)| resolve(name).unwrap())
        .filter(|s| s.expect_kv == Expect::Violated)
        .collect();
    let names: Vec<&str> = stories.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["serializable-stale-read", "lease-based-read-pause"]);
    for story in &stories {
        let control = Scenario {
            cluster: ClusterSpec {
                read_mode: ReadMode::Linearizable,
                ..story.cluster.clone()
            },
            expect_kv: Expect::Holds,
            ..story.clone()
        };
        for seed in 0..3 {
            let name = &story.name;
            let outcome = locksim::runner::run(story, seed).unwrap().outcome;
            assert_eq!(outcome.kv, Kv::Violated, "{name} seed {seed}");
            let stale = &outcome.kv_stale_reads;
            assert!(!stale.is_empty(), "{name} seed {seed}: no stale read named");
            assert!(
                stale.iter().all(|s| s.process.starts_with("reader")
                    && s.serializable == (story.cluster.read_mode == ReadMode::Serializable)),
                "{name} seed {seed}: {}",
                stale[0]
            );
            let control = locksim::runner::run(&control, seed).unwrap();
            assert_eq!(
                control.outcome.kv,
                Kv::Linearizable,
                "{name} with linearizable reads, seed {seed}: {:?}",
                control.outcome.kv_detail
            );
            assert_eq!(
                sim::check::stale_reads(&control.records),
                vec![],
                "{name} with linearizable reads, seed {seed}"
            );
        }
    }
}

/// `locksim run --seed N --json` twice: identical digest and violations (only wall_ms differs).
#[test]
fn run_json_replays_identically() {
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_locksim"))
            .args(["run", "pause-no-fencing", "--seed", "4", "--json"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_object_mut().unwrap().remove("wall_ms");
        v
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    assert_eq!(a["verdict"], "violated");
    for field in [
        "scenario",
        "seed",
        "verdict",
        "resource",
        "expected",
        "matches",
        "violations",
        "history_digest",
        "sim_ms",
        "acquisitions",
        "ops",
        "liveness",
        "faults",
    ] {
        assert!(a.get(field).is_some(), "missing {field}");
    }
}

/// Bad input exits 2 with a message naming the problem.
#[test]
fn bad_scenario_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "name = \"x\"\nduration = \"10s\"\n[lock]\nkind = \"zookeeper\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_locksim"))
        .args(["run", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:4: field `lock.kind`: unknown lock kind \"zookeeper\""),
        "{err}"
    );
}

/// The AP store's commands are operations like etcd's: `run` prints them as redis-cli would
/// (`SET lock "c1:…" NX PX 10000 → OK`), never as byte arrays, and `ops` counts them.
#[test]
fn ap_commands_print_as_commands_and_count_as_ops() {
    let run = |json: bool| {
        let mut args = vec!["run", "ap-failover", "--seed", "1"];
        if json {
            args.push("--json");
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_locksim"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run(false);
    assert!(
        text.contains(r#"SET lock "c"#) && text.contains(" NX PX 10000 → "),
        "{text}"
    );
    assert!(text.contains("INCR lock:fence → (integer) "), "{text}");
    assert!(
        !text.contains("[108,111,99,107]"),
        "a key printed as bytes: {text}"
    );
    let v: serde_json::Value = serde_json::from_str(&run(true)).unwrap();
    assert!(v["ops"].as_u64().unwrap() > 100, "ops {}", v["ops"]);
}

/// Sweeps split across machines merge exactly: four `--shard I/4 --jsonl` runs merged by
/// `locksim report` give the unsharded sweep's summary (but wall time); overlapping shards and
/// a malformed line are refused with the file and line.
#[test]
fn sharded_sweeps_merge_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let locksim = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_locksim"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let summary = |text: &str| {
        let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("wall_ms");
        o.remove("seeds_per_sec");
        v
    };
    let all = path("all.jsonl");
    let (_, whole, _) = locksim(&[
        "sweep",
        "put-lock-race",
        "--seeds",
        "0..12",
        "--jobs",
        "2",
        "--json",
        "--jsonl",
        &all,
    ]);
    let whole = summary(&whole);
    assert!(whole["violating"].as_u64().unwrap() > 0, "{whole}");
    let mut shards = Vec::new();
    for i in 0..4 {
        let file = path(&format!("shard{i}.jsonl"));
        let shard = format!("{i}/4");
        locksim(&[
            "sweep",
            "put-lock-race",
            "--seeds",
            "0..12",
            "--shard",
            &shard,
            "--json",
            "--jsonl",
            &file,
        ]);
        shards.push(file);
    }
    let mut args = vec!["report", "--json"];
    args.extend(shards.iter().map(String::as_str));
    let (code, merged, err) = locksim(&args);
    assert_eq!(summary(&merged), whole, "{err}");
    assert_eq!(code, Some(0));
    // The unsharded file alone merges to the same summary; lines are the seeds in order.
    let (_, alone, _) = locksim(&["report", "--json", &all]);
    assert_eq!(summary(&alone), whole);
    let lines = std::fs::read_to_string(&all).unwrap();
    let seeds: Vec<u64> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seed"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seeds, (0..12).collect::<Vec<_>>());
    // Overlap and garbage are bad input (exit 2), naming the file and line.
    let (code, _, err) = locksim(&["report", &shards[0], &all]);
    assert_eq!(code, Some(2));
    assert!(err.contains("all.jsonl:1: seed 0 again"), "{err}");
    let bad = path("bad.jsonl");
    std::fs::write(&bad, "{\"seed\": 1}\n").unwrap();
    let (code, _, err) = locksim(&["report", &bad]);
    assert_eq!(code, Some(2));
    assert!(err.contains("bad.jsonl:1: not a sweep line"), "{err}");
}
