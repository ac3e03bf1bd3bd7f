//! Lock runs end to end, many seeds each: the unsafe lock is caught, etcd's mutex with fencing
//! keeps the resource right under partitions and leader crashes, a paused holder breaks mutual
//! exclusion and loses an update unless the resource fences, and a seed replays exactly.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use lock::{AlgorithmKind, Error, EtcdMutex, LockContext, LockOptions, Report, Run, ViolationKind};
use sim::{
    Client, Cluster, ClusterConfig, Fault, FaultPlan, RequestOp, ScheduledFault, Target, TxnRequest,
};

mod scenario;

fn reports(seeds: std::ops::Range<u64>, run: impl Fn(u64) -> Run) -> Vec<Report> {
    seeds
        .map(|seed| {
            run(seed)
                .run()
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"))
        })
        .collect()
}

mod put {
    use super::*;

    /// The check-then-put lock is caught in (almost) every seed, within 5 s of simulated time,
    /// with no fault at all.
    #[test]
    fn caught_without_faults_in_95_of_100_seeds() {
        let reports = reports(0..100, |seed| {
            scenario::no_faults(AlgorithmKind::Put, false, seed)
        });
        let caught: Vec<u64> = reports
            .iter()
            .filter(|r| r.has(ViolationKind::MutualExclusion))
            .map(|r| r.seed)
            .collect();
        assert!(
            caught.len() >= 95,
            "caught in {} of 100 seeds",
            caught.len()
        );
        for r in &reports {
            assert!(r.elapsed_ms <= 5_000);
        }
        let first = reports
            .iter()
            .filter_map(|r| {
                r.violations
                    .iter()
                    .find(|v| v.kind == ViolationKind::MutualExclusion)
            })
            .map(|v| v.from_ms)
            .max()
            .unwrap();
        assert!(first < 5_000, "latest first violation at {first} ms");
    }
}

mod etcd_mutex {
    use super::*;

    fn sweep(seeds: std::ops::Range<u64>) {
        let n = seeds.end - seeds.start;
        let reports = reports(seeds, |seed| {
            scenario::random_faults(AlgorithmKind::EtcdMutex, true, seed)
        });
        for r in &reports {
            let bad: Vec<_> = r.resource_violations().collect();
            assert!(bad.is_empty(), "seed {}: {bad:#?}", r.seed);
            assert!(
                r.acquisitions > 10,
                "seed {}: only {} acquisitions",
                r.seed,
                r.acquisitions
            );
            assert_eq!(r.final_counter, r.accepted_writes, "seed {}", r.seed);
        }
        let me = reports
            .iter()
            .filter(|r| r.has(ViolationKind::MutualExclusion))
            .count();
        eprintln!("etcd-mutex, fencing, random partitions + leader crashes: {n} seeds, 0 resource violations, {me} with belief overlaps");
    }

    /// Fencing on, 3 members, seeded random partitions and leader crashes: the resource never
    /// sees a token regression or a lost update.
    #[test]
    fn fencing_keeps_the_resource_right_under_partitions_and_leader_crashes() {
        sweep(0..30);
    }

    /// The full acceptance run (about 10 minutes on 2 cores in release; the `sweep` example runs
    /// it in parallel): `cargo run --release -p lock --example sweep -- etcd-mutex random-faults fencing 0 1000`.
    #[test]
    #[ignore]
    fn fencing_keeps_the_resource_right_1000_seeds() {
        sweep(0..1000);
    }

    /// `TryLock` fails while another session holds the mutex; `IsOwner` guards a write inside
    /// etcd; `Unlock` hands the mutex over.
    #[test]
    fn try_lock_and_is_owner() {
        let mut cluster = Cluster::new(ClusterConfig {
            seed: 5,
            ..ClusterConfig::default()
        });
        let log: Rc<RefCell<Vec<String>>> = Rc::default();
        let history = cluster.history().clone();
        // Two sessions in one host, on two ports: one process with two etcd clients.
        let config1 = cluster.client_config("c1");
        let mut config2 = config1.clone();
        config2.port += 1;
        let out = log.clone();
        cluster.add_client("c1", async move {
            let clock = config1.clock.clone();
            let c1 = Client::connect("c1", 1, config1, history.clone()).await?;
            let c2 = Client::connect("c2", 2, config2.clone(), history).await?;
            let options = LockOptions::default();
            let mut a = EtcdMutex::new(
                LockContext::new(c1.clone(), clock.clone(), "c1"),
                options.clone(),
            );
            let mut b = EtcdMutex::new(LockContext::new(c2, config2.clock.clone(), "c2"), options);
            clock.sleep(Duration::from_secs(3)).await;
            let guard = a.try_lock().await.unwrap();
            let mut seen = vec![format!(
                "a token {}",
                guard.token().is_some_and(|t| t.0 > 0)
            )];
            seen.push(format!("b {:?}", b.try_lock().await.err()));
            let guarded = |m: &EtcdMutex| TxnRequest {
                compare: vec![m.is_owner()],
                success: vec![RequestOp::Put(sim::PutRequest {
                    key: "guarded".into(),
                    value: "x".into(),
                    ..Default::default()
                })],
                failure: vec![],
            };
            let owner = c1.txn(guarded(&a)).await.unwrap().succeeded;
            seen.push(format!("a owner {owner}"));
            let is_owner = a.is_owner();
            a.unlock().await.unwrap();
            let g2 = b.try_lock().await.unwrap();
            seen.push(format!("b after unlock {}", g2.token() > guard.token()));
            // a's old IsOwner compare no longer holds: b's key is the owner now.
            let stale = TxnRequest {
                compare: vec![is_owner],
                ..guarded(&a)
            };
            let owner = c1.txn(stale).await.unwrap().succeeded;
            seen.push(format!("a owner {owner}"));
            *out.borrow_mut() = seen;
            Ok(())
        });
        cluster
            .run_until(Duration::from_secs(30), |_| log.borrow().len() == 5)
            .unwrap();
        assert_eq!(
            *log.borrow(),
            vec![
                "a token true".to_string(),
                format!("b {:?}", Some(Error::Locked)),
                "a owner true".into(),
                "b after unlock true".into(),
                "a owner false".into(),
            ]
        );
    }
}

mod paused_holder {
    use super::*;

    /// Without fencing, in most seeds: two clients believe they hold the lock at once, and the
    /// resumed holder's stale write loses an update.
    fn without_fencing(algorithm: AlgorithmKind) {
        let reports = reports(0..10, |seed| {
            scenario::paused_holder(algorithm, false, seed)
        });
        let both = reports
            .iter()
            .filter(|r| r.has(ViolationKind::MutualExclusion) && r.has(ViolationKind::LostUpdate))
            .count();
        assert!(
            both >= 8,
            "{algorithm}: both violations in {both} of 10 seeds"
        );
        for r in &reports {
            assert!(r.final_counter < r.accepted_writes || !r.has(ViolationKind::LostUpdate));
        }
    }

    /// With fencing, the same runs: the stale write is rejected and the counter stays right,
    /// although two clients still believe they hold the lock.
    fn with_fencing(algorithm: AlgorithmKind) {
        let reports = reports(0..10, |seed| scenario::paused_holder(algorithm, true, seed));
        let mut rejected = 0;
        for r in &reports {
            assert!(
                r.resource_violations().next().is_none(),
                "seed {}: {:#?}",
                r.seed,
                r.violations
            );
            assert_eq!(r.final_counter, r.accepted_writes, "seed {}", r.seed);
            if r.rejected_writes > 0 && r.has(ViolationKind::MutualExclusion) {
                rejected += 1;
            }
        }
        assert!(
            rejected >= 8,
            "{algorithm}: stale write rejected in {rejected} of 10 seeds"
        );
    }

    #[test]
    fn lease_txn_without_fencing_loses_an_update() {
        without_fencing(AlgorithmKind::LeaseTxn);
    }

    #[test]
    fn etcd_mutex_without_fencing_loses_an_update() {
        without_fencing(AlgorithmKind::EtcdMutex);
    }

    #[test]
    fn lease_txn_with_fencing_rejects_the_stale_write() {
        with_fencing(AlgorithmKind::LeaseTxn);
    }

    #[test]
    fn etcd_mutex_with_fencing_rejects_the_stale_write() {
        with_fencing(AlgorithmKind::EtcdMutex);
    }
}

mod correct_locks {
    use super::*;

    /// Without faults the two correct locks never overlap and keep the counter right.
    #[test]
    fn safe_without_faults() {
        for algorithm in [AlgorithmKind::LeaseTxn, AlgorithmKind::EtcdMutex] {
            for r in reports(0..10, |seed| scenario::no_faults(algorithm, false, seed)) {
                assert!(
                    r.is_safe(),
                    "{algorithm} seed {}: {:#?}",
                    r.seed,
                    r.violations
                );
                assert!(r.acquisitions >= 5, "{algorithm} seed {}", r.seed);
            }
        }
    }

    /// A crashed holder restarts as a new process; its old key expires with its lease and the
    /// others go on. Liveness after healing holds.
    #[test]
    fn crashed_holder_restarts_and_the_lock_moves_on() {
        for seed in 0..5 {
            let run = Run::new(AlgorithmKind::EtcdMutex)
                .seed(seed)
                .workload(scenario::workload())
                .fencing(true)
                .duration(Duration::from_secs(12))
                .heal_period(Duration::from_secs(10))
                .fault_plan(FaultPlan {
                    faults: vec![ScheduledFault {
                        at: Duration::from_secs(3),
                        fault: Fault::Crash {
                            target: Target::Holder,
                            lose_unsynced: false,
                        },
                        duration: Some(Duration::from_secs(2)),
                    }],
                });
            let mut handle = run.start();
            handle.run_for(Duration::from_secs(5)).unwrap();
            let crashed = handle
                .history()
                .records()
                .into_iter()
                .find_map(|r| match r {
                    sim::Record::Event {
                        event: sim::ClusterEvent::Crash { host },
                        ..
                    } => Some(host),
                    _ => None,
                });
            assert!(
                crashed.as_deref().is_some_and(|h| h.starts_with('c')),
                "seed {seed}: {crashed:?}"
            );
            handle.run_for(Duration::from_secs(7)).unwrap();
            handle.heal_all();
            handle.run_for(Duration::from_secs(10)).unwrap();
            let r = handle.finish();
            assert!(
                r.resource_violations().next().is_none(),
                "seed {seed}: {:#?}",
                r.violations
            );
            assert!(!r.has(ViolationKind::Liveness), "seed {seed}");
            assert!(r.acquisitions > 20, "seed {seed}: {}", r.acquisitions);
        }
    }
}

mod determinism {
    use super::*;

    /// The same seed replays to the identical report: violations, counts, history digest.
    #[test]
    fn a_seed_replays_to_the_identical_report() {
        for (algorithm, scenario) in [
            (AlgorithmKind::Put, "none"),
            (AlgorithmKind::LeaseTxn, "pause"),
            (AlgorithmKind::EtcdMutex, "random-faults"),
        ] {
            let a = scenario::by_name(scenario, algorithm, false, 7)
                .run()
                .unwrap();
            let b = scenario::by_name(scenario, algorithm, false, 7)
                .run()
                .unwrap();
            assert!(!a.violations.is_empty() || algorithm == AlgorithmKind::EtcdMutex);
            assert_eq!(a, b, "{algorithm} {scenario}");
            let c = scenario::by_name(scenario, algorithm, false, 8)
                .run()
                .unwrap();
            assert_ne!(
                a.digest, c.digest,
                "{algorithm} {scenario}: seeds 7 and 8 ran identically"
            );
        }
    }
}

mod options {
    use super::*;

    /// With a give-up deadline shorter than the others' hold, waiting clients give up (and
    /// record it) instead of waiting, for both correct locks.
    #[test]
    fn give_up_deadline_ends_the_wait() {
        for algorithm in [AlgorithmKind::LeaseTxn, AlgorithmKind::EtcdMutex] {
            let mut workload = scenario::workload();
            workload.hold_min = Duration::from_secs(1);
            workload.hold_max = Duration::from_secs(1);
            workload.lock.give_up = Some(Duration::from_millis(300));
            let handle = Run::new(algorithm)
                .seed(3)
                .workload(workload)
                .duration(Duration::from_secs(8))
                .heal_period(Duration::ZERO)
                .run_to_end()
                .unwrap();
            let gave_up = handle
                .history()
                .records()
                .iter()
                .filter_map(lock::LockEvent::from_record)
                .filter(|(_, _, e)| matches!(e, lock::LockEvent::AcquireFailed { error, .. } if error.contains("gave up")))
                .count();
            let r = handle.finish();
            assert!(gave_up > 0, "{algorithm}: nobody gave up");
            assert!(r.is_safe(), "{algorithm}: {:#?}", r.violations);
            assert!(r.acquisitions >= 3, "{algorithm}: {}", r.acquisitions);
        }
    }
}
