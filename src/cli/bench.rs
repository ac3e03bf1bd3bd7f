//! `locksim bench`: the measuring plan from the flags, the report as a table or JSON
//! ([`crate::bench`]).

use std::io::{self, Write};

use super::bad_input;

pub fn bench(
    quick: bool,
    json: bool,
    jobs: Option<usize>,
    only: Vec<crate::bench::Row>,
    (kv_writers, kv_seconds): (Vec<usize>, Option<u64>),
) -> anyhow::Result<()> {
    use crate::bench;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut plan = if quick {
        bench::Plan::quick(cores)
    } else {
        bench::Plan::full(cores)
    };
    if let Some(jobs) = jobs {
        if jobs == 0 {
            bad_input("--jobs 0: give at least one thread");
        }
        plan.sweep_jobs = jobs;
    }
    if !only.is_empty() {
        plan.rows = only;
    }
    if kv_writers.contains(&0) {
        bad_input("--kv-writers: every load needs at least one writer");
    }
    if !kv_writers.is_empty() {
        plan.kv_writers = kv_writers;
    }
    match kv_seconds {
        Some(0) => bad_input("--kv-seconds 0: measure at least one simulated second"),
        Some(secs) => plan.kv_measure = std::time::Duration::from_secs(secs),
        None => {}
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run `cargo run --release -- bench` for figures that mean something");
    }
    let report = bench::run(&plan, quick, &|line| eprintln!("{line}"))?;
    let mut out = io::stdout().lock();
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string(&report)?);
    } else {
        let _ = write!(out, "{}", bench::render(&report));
    }
    Ok(())
}
