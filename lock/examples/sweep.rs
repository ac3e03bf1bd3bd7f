//! Run many seeds of one lock scenario and print the figures.
//!
//! ```sh
//! cargo run --release -p lock --example sweep -- etcd-mutex random-faults fencing 0 1000
//! cargo run --release -p lock --example sweep -- put none no-fencing 0 100
//! cargo run --release -p lock --example sweep -- lease-txn pause no-fencing 0 100
//! ```
//! Arguments: algorithm, scenario (`none`, `random-faults`, `pause`), `fencing`/`no-fencing`,
//! first seed, number of seeds, [threads]. Seeds run in parallel, one simulation per thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use lock::{AlgorithmKind, Report, ViolationKind};

#[path = "../tests/scenario/mod.rs"]
mod scenario;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let algorithm: AlgorithmKind = args.first().map_or("etcd-mutex", |s| s).parse().unwrap();
    let name = args.get(1).map_or("random-faults", |s| s).to_string();
    let fencing = args.get(2).map_or("fencing", |s| s) == "fencing";
    let first: u64 = args.get(3).map_or(0, |s| s.parse().unwrap());
    let count: u64 = args.get(4).map_or(100, |s| s.parse().unwrap());
    let threads: usize = args
        .get(5)
        .map(|s| s.parse().unwrap())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    eprintln!(
        "sweep {algorithm} {name} fencing={fencing} seeds {first}..{}",
        first + count
    );
    let next = AtomicU64::new(first);
    let reports: Mutex<Vec<Report>> = Mutex::new(Vec::new());
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= first + count {
                    return;
                }
                let report = scenario::by_name(&name, algorithm, fencing, seed)
                    .run()
                    .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                if report.resource_violations().next().is_some() {
                    eprintln!("{}", report.summary());
                }
                reports.lock().unwrap().push(report);
            });
        }
    });
    let mut reports = reports.into_inner().unwrap();
    reports.sort_by_key(|r| r.seed);
    let with = |kind: ViolationKind| reports.iter().filter(|r| r.has(kind)).count();
    let resource = reports
        .iter()
        .filter(|r| r.resource_violations().next().is_some())
        .count();
    let acquisitions: u64 = reports.iter().map(|r| r.acquisitions).sum();
    println!(
        "{algorithm} {name} fencing={fencing}: {} seeds ({first}..{}), {:.1}s wall; seeds with violations: mutual_exclusion {}, fencing {}, lost_update {}, any resource violation {}, liveness {}; {} acquisitions in all",
        reports.len(),
        first + count,
        start.elapsed().as_secs_f64(),
        with(ViolationKind::MutualExclusion),
        with(ViolationKind::Fencing),
        with(ViolationKind::LostUpdate),
        resource,
        with(ViolationKind::Liveness),
        acquisitions,
    );
}
