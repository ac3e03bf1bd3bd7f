//! Run one seed of a scenario and print its violations (and, with `history`, the history).
//!
//! ```sh
//! cargo run --release -p lock --example one -- etcd-mutex random-faults fencing 36
//! ```

use lock::AlgorithmKind;

#[path = "../tests/scenario/mod.rs"]
mod scenario;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let algorithm: AlgorithmKind = args[0].parse().unwrap();
    let fencing = args[2] == "fencing";
    let seed: u64 = args[3].parse().unwrap();
    let run = scenario::by_name(&args[1], algorithm, fencing, seed);
    let mut handle = run.clone().start();
    let report = {
        handle.run_for(std::time::Duration::from_millis(0)).unwrap();
        drop(handle);
        run.clone().run().unwrap()
    };
    println!("{}", report.summary());
    for v in &report.violations {
        println!("{}", serde_json::to_string(v).unwrap());
    }
    if args.get(4).is_some_and(|a| a == "history") {
        let mut handle = run.start();
        handle.run_for(std::time::Duration::from_secs(40)).unwrap();
        print!("{}", handle.history().to_jsonl());
    }
}
