//! The scenarios the acceptance tests and the `sweep` example share.
#![allow(dead_code)]

use std::time::Duration;

use lock::{AlgorithmKind, Fault, LockOptions, Run, Schedule, Target, WorkloadConfig};

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
    let schedule = Schedule::random_partitions_and_leader_crashes(
        seed,
        &run.hosts(),
        Duration::from_secs(3),
        Duration::from_secs(28),
    );
    run.schedule(schedule)
}

/// The holder is paused for TTL + 3 s, once the cluster is up (Kleppmann; Jepsen etcd 3.4.3).
pub fn paused_holder(algorithm: AlgorithmKind, fencing: bool, seed: u64) -> Run {
    Run::new(algorithm)
        .seed(seed)
        .workload(workload())
        .fencing(fencing)
        .duration(Duration::from_secs(15))
        .heal_period(Duration::from_secs(5))
        .schedule(Schedule::new().at(
            Duration::from_secs(3),
            Fault::Pause {
                target: Target::Holder,
                resume_after: Some(Duration::from_secs(TTL_SECS as u64 + 3)),
            },
        ))
}

pub fn by_name(name: &str, algorithm: AlgorithmKind, fencing: bool, seed: u64) -> Run {
    match name {
        "none" => no_faults(algorithm, fencing, seed),
        "random-faults" => random_faults(algorithm, fencing, seed),
        "pause" => paused_holder(algorithm, fencing, seed),
        other => panic!("unknown scenario {other} (none, random-faults, pause)"),
    }
}
