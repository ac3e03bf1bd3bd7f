//! `locksim bench` end to end on a tiny plan: every row is produced and consistent. No timing is
//! asserted (figures depend on the machine); BENCHMARKS.md holds the measured ones.

use std::time::Duration;

use locksim::bench::{self, Plan, Row};

#[test]
fn a_tiny_plan_yields_all_four_rows() {
    let plan = Plan {
        rows: vec![Row::Speed, Row::Sweep, Row::Kv, Row::Floor],
        speed_seeds: 1,
        sweep_seeds: 4,
        sweep_jobs: 2,
        kv_writers: vec![8, 16],
        kv_measure: Duration::from_secs(1),
        locksim: Some(env!("CARGO_BIN_EXE_locksim").into()),
    };
    let report = bench::run(&plan, true, &|_| {}).unwrap();

    let speed = report.speed.as_ref().unwrap();
    assert_eq!(speed.seeds, vec![1]);
    // The reference scenario: 60 s and the 10 s healed tail.
    assert_eq!(speed.simulated_s, 70.0);
    assert!(speed.median > 0.0);

    let sweep = report.sweep.as_ref().unwrap();
    assert_eq!(sweep.seeds, 4);
    assert!(sweep.seeds_per_sec > 0.0, "{sweep:?}");
    // The reference scenario holds in every seed.
    assert_eq!((sweep.violating, sweep.mismatching), (0, 0));
    assert!(sweep.peak_rss_mib > 1.0, "{sweep:?}");

    let kv = report.kv.as_ref().unwrap();
    assert_eq!(kv.tried.len(), 2);
    assert!(kv.committed > 0);
    // 1 s of simulated load: writers each wait their own put, so at most one put per writer
    // per round trip (at least two ticks).
    assert!(kv.ops_per_sim_sec <= (kv.writers * 50) as f64, "{kv:?}");

    let floor = report.floor.as_ref().unwrap();
    assert_eq!(floor.proposals, kv.committed);
    assert!(floor.ratio > 0.0);

    let table = bench::render(&report);
    for row in [
        "1. speed factor",
        "2. sweep throughput",
        "3. saturated KV in the sim",
        "4. raw raft-rs floor",
        "ratio (3)/(4)",
    ] {
        assert!(table.contains(row), "{row} missing from\n{table}");
    }
}
