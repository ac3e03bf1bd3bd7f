//! The scenarios the acceptance tests and the `sweep` example share.
#![allow(dead_code)]

use std::time::Duration;

use lock::{AlgorithmKind, LockOptions, Run, WorkloadConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::{Fault, FaultPlan, ScheduledFault, Target};

pub const TTL_SECS: i64 = 3;

pub fn workload() -> WorkloadConfig {
    WorkloadConfig {
        clients: 3,
        lock: LockOptions {
            ttl_secs: TTL_SECS,
            ..LockOptions::default()
        },
        ..WorkloadConfig::default()
    }
}

/// No faults: the `put` lock must be caught by the workload alone.
pub fn no_faults(algorithm: AlgorithmKind, fencing: bool, seed: u64) -> Run {
    Run::new(algorithm)
        .seed(seed)
        .workload(workload())
        .fencing(fencing)
        .duration(Duration::from_secs(5))
        .heal_period(Duration::ZERO)
}

/// 3 members, seeded random partitions (over members, clients and the resource) and leader
/// crashes for 30 s, then 10 s healed.
pub fn random_faults(algorithm: AlgorithmKind, fencing: bool, seed: u64) -> Run {
    let run = Run::new(algorithm)
        .seed(seed)
        .members(3)
        .workload(workload())
        .fencing(fencing)
        .duration(Duration::from_secs(30))
        .heal_period(Duration::from_secs(10));
    let plan = random_partitions_and_leader_crashes(
        seed,
        &run.hosts(),
        Duration::from_secs(3),
        Duration::from_secs(28),
    );
    run.fault_plan(plan)
}

/// A seeded mix of random partitions (hosts split at random into two sides, repaired after
/// 0.5–4 s) and leader crashes (restarted after 0.5–4 s), one at a time with 0.5–3 s of calm
/// between, from `start` until `end`.
pub fn random_partitions_and_leader_crashes(
    seed: u64,
    hosts: &[String],
    start: Duration,
    end: Duration,
) -> FaultPlan {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xfa17_5eed);
    let ms = |rng: &mut ChaCha8Rng, lo: u64, hi: u64| Duration::from_millis(rng.gen_range(lo..=hi));
    let mut faults = Vec::new();
    let mut t = start;
    while t < end {
        let lasts = ms(&mut rng, 500, 4000);
        let fault = if rng.gen_bool(0.5) {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for h in hosts {
                let side = if rng.gen_bool(0.5) { &mut a } else { &mut b };
                side.push(Target::Host(h.clone()));
            }
            if a.is_empty() || b.is_empty() {
                continue;
            }
            Fault::Partition { groups: vec![a, b] }
        } else {
            Fault::Crash {
                target: Target::Leader,
                lose_unsynced: false,
            }
        };
        faults.push(ScheduledFault {
            at: t,
            fault,
            duration: Some(lasts),
        });
        t += lasts + ms(&mut rng, 500, 3000);
    }
    FaultPlan { faults }
}

/// The holder is paused for TTL + 3 s, once the cluster is up (Kleppmann; Jepsen etcd 3.4.3).
pub fn paused_holder(algorithm: AlgorithmKind, fencing: bool, seed: u64) -> Run {
    Run::new(algorithm)
        .seed(seed)
        .workload(workload())
        .fencing(fencing)
        .duration(Duration::from_secs(15))
        .heal_period(Duration::from_secs(5))
        .fault_plan(FaultPlan {
            faults: vec![ScheduledFault {
                at: Duration::from_secs(3),
                fault: Fault::Pause {
                    target: Target::Holder,
                },
                duration: Some(Duration::from_secs(TTL_SECS as u64 + 3)),
            }],
        })
}

pub fn by_name(name: &str, algorithm: AlgorithmKind, fencing: bool, seed: u64) -> Run {
    match name {
        "none" => no_faults(algorithm, fencing, seed),
        "random-faults" => random_faults(algorithm, fencing, seed),
        "pause" => paused_holder(algorithm, fencing, seed),
        other => panic!("unknown scenario {other} (none, random-faults, pause)"),
    }
}
