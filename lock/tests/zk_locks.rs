//! The ZooKeeper locks end to end: Curator's mutex and the naive recipe hold with no faults, a
//! holder paused past its session timeout makes two holders (a lost update) unless the resource
//! fences with the czxid, the connection-state listener gives the lock up in time, and the naive
//! recipe wakes every waiter on every release.

use std::time::Duration;

use lock::{AlgorithmKind, LockEvent, LockOptions, Report, Run, ViolationKind, WorkloadConfig};
use sim::zk::ZkConfig;
use sim::{Fault, FaultPlan, Record, ScheduledFault, Target};

fn workload(listener: bool) -> WorkloadConfig {
    WorkloadConfig {
        clients: 3,
        hold_min: Duration::from_millis(200),
        hold_max: Duration::from_millis(600),
        lock: LockOptions {
            key: "/locks/job".into(),
            ttl_secs: 4,
            connection_listener: listener,
            ..LockOptions::default()
        },
        ..WorkloadConfig::default()
    }
}

fn run(kind: AlgorithmKind, seed: u64, listener: bool) -> Run {
    Run::new(kind)
        .members(0)
        .zk(3, ZkConfig::default())
        .seed(seed)
        .workload(workload(listener))
        .duration(Duration::from_secs(40))
        .heal_period(Duration::from_secs(20))
        .liveness_bound(Duration::from_secs(20))
}

/// The holder is paused 12 s (past its 4 s session) shortly after the first acquisition.
fn paused_holder(kind: AlgorithmKind, seed: u64, fencing: bool, listener: bool) -> Report {
    run(kind, seed, listener)
        .fencing(fencing)
        .fault_plan(FaultPlan {
            faults: vec![ScheduledFault {
                at: Duration::from_secs(25),
                fault: Fault::Pause {
                    target: Target::Holder,
                },
                duration: Some(Duration::from_secs(12)),
            }],
        })
        .run()
        .unwrap()
}

#[test]
fn both_locks_hold_without_faults() {
    for kind in [AlgorithmKind::ZkCurator, AlgorithmKind::ZkNaive] {
        for seed in 0..4 {
            let report = run(kind, seed, false).run().unwrap();
            assert!(
                report.violations.is_empty(),
                "{kind} seed {seed}: {report:?}"
            );
            assert!(report.acquisitions >= 10, "{kind} seed {seed}: {report:?}");
        }
    }
}

#[test]
fn a_paused_holder_makes_two_holders_and_fencing_repairs_it() {
    for seed in 0..4 {
        let off = paused_holder(AlgorithmKind::ZkCurator, seed, false, false);
        assert!(
            off.has(ViolationKind::MutualExclusion),
            "seed {seed}: {:?}",
            off.violations
        );
        let on = paused_holder(AlgorithmKind::ZkCurator, seed, true, false);
        assert!(on.has(ViolationKind::MutualExclusion), "seed {seed}");
        assert!(
            !on.has(ViolationKind::LostUpdate) && !on.has(ViolationKind::Fencing),
            "seed {seed}: {:?}",
            on.violations
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_digest() {
    let a = paused_holder(AlgorithmKind::ZkCurator, 9, false, true);
    let b = paused_holder(AlgorithmKind::ZkCurator, 9, false, true);
    assert_eq!(a.digest, b.digest);
    let c = paused_holder(AlgorithmKind::ZkCurator, 10, false, true);
    assert_ne!(a.digest, c.digest);
}

/// Wake-ups per release: every waiter for the naive recipe, one for Curator's.
#[test]
fn the_naive_recipe_wakes_the_herd() {
    let wakeups = |kind: AlgorithmKind| {
        let mut handle = Run::new(kind)
            .members(0)
            .zk(3, ZkConfig::default())
            .seed(1)
            .workload(WorkloadConfig {
                clients: 6,
                ..workload(false)
            })
            .start();
        handle.run_for(Duration::from_secs(60)).unwrap();
        let records = handle.history().records();
        let count = |f: &dyn Fn(&LockEvent) -> bool| {
            records
                .iter()
                .filter_map(LockEvent::from_record)
                .filter(|(_, _, e)| f(e))
                .count()
        };
        let woke = count(&|e| matches!(e, LockEvent::WatchWoke { .. }));
        let released = count(&|e| matches!(e, LockEvent::Released { .. }));
        let ops = records
            .iter()
            .filter(|r| matches!(r, Record::Op(_)))
            .count();
        (woke as f64 / released as f64, ops as f64 / released as f64)
    };
    let (naive_woke, naive_ops) = wakeups(AlgorithmKind::ZkNaive);
    let (curator_woke, curator_ops) = wakeups(AlgorithmKind::ZkCurator);
    println!(
        "per release: naive {naive_woke:.2} wake-ups, {naive_ops:.1} requests; \
         curator {curator_woke:.2} wake-ups, {curator_ops:.1} requests"
    );
    assert!(
        naive_woke > 3.0 * curator_woke,
        "{naive_woke} vs {curator_woke}"
    );
    assert!(curator_woke <= 1.5, "{curator_woke}");
}
