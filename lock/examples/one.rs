//! Run one seed of a scenario and print its report and violations (JSON lines), and with a
//! fifth argument `history`, the whole history after them.
//!
//! ```sh
//! cargo run --release -p lock --example one -- etcd-mutex random-faults fencing 41 history
//! ```

use lock::AlgorithmKind;

#[path = "../tests/scenario/mod.rs"]
mod scenario;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!(
            "usage: one ALGORITHM none|random-faults|pause fencing|no-fencing SEED [history]"
        );
        std::process::exit(2);
    }
    let algorithm: AlgorithmKind = args[0].parse().unwrap();
    let fencing = args[2] == "fencing";
    let seed: u64 = args[3].parse().unwrap();
    let handle = scenario::by_name(&args[1], algorithm, fencing, seed)
        .run_to_end()
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let history = handle.history().clone();
    let report = handle.finish();
    println!("{}", report.summary());
    for v in &report.violations {
        println!("{}", serde_json::to_string(v).unwrap());
    }
    if args.get(4).is_some_and(|a| a == "history") {
        print!("{}", history.to_jsonl());
    }
}
