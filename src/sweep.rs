//! Many seeds of one scenario in parallel: one simulation per thread (a simulation is
//! single-threaded and `Rc`-based, so it never crosses threads; seeds do).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::runner::{self, Outcome, RunError, RunOptions};
use crate::scenario::Scenario;
use crate::verdict::{Kv, MutualExclusion};

/// What a sweep found. Per-seed results are sorted by seed, so the summary does not depend on
/// which thread finished first.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seeds_run: usize,
    /// Seeds in which mutual exclusion was violated.
    pub violating: usize,
    /// Seeds whose KV history was not linearizable.
    pub kv_violating: usize,
    /// Seeds whose verdict did not match `[expect]` (or that failed to run).
    pub mismatching: usize,
    pub first_violating_seed: Option<u64>,
    pub first_mismatching_seed: Option<u64>,
    /// Seeds whose simulation failed (a bug: each is reported with its seed).
    pub errors: Vec<String>,
    pub wall_ms: u64,
    pub seeds_per_sec: f64,
}

/// Runs `seeds` on `jobs` threads; `progress` is called after each seed with the count done.
pub fn sweep(
    scenario: &Scenario,
    seeds: &[u64],
    jobs: usize,
    options: RunOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Summary {
    let started = std::time::Instant::now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(u64, Result<Outcome, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else { break };
                let result = match runner::run_with(scenario, seed, options) {
                    Ok(artifacts) => Ok(artifacts.outcome),
                    Err(RunError::Simulation { seed, message }) => {
                        Err(format!("seed {seed}: {message}"))
                    }
                    Err(e) => Err(e.to_string()),
                };
                results
                    .lock()
                    .expect("no panics hold it")
                    .push((seed, result));
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            });
        }
    });
    let mut results = results.into_inner().expect("threads joined");
    results.sort_by_key(|(seed, _)| *seed);
    let wall = started.elapsed();
    let violating: Vec<u64> = results
        .iter()
        .filter(|(_, r)| matches!(r, Ok(o) if o.verdict == MutualExclusion::Violated))
        .map(|(s, _)| *s)
        .collect();
    let mismatching: Vec<u64> = results
        .iter()
        .filter(|(_, r)| !matches!(r, Ok(o) if o.matches))
        .map(|(s, _)| *s)
        .collect();
    Summary {
        scenario: scenario.name.clone(),
        seeds_run: results.len(),
        violating: violating.len(),
        kv_violating: results
            .iter()
            .filter(|(_, r)| matches!(r, Ok(o) if o.kv == Kv::Violated))
            .count(),
        mismatching: mismatching.len(),
        first_violating_seed: violating.first().copied(),
        first_mismatching_seed: mismatching.first().copied(),
        errors: results
            .iter()
            .filter_map(|(_, r)| r.as_ref().err().cloned())
            .collect(),
        wall_ms: wall.as_millis() as u64,
        seeds_per_sec: results.len() as f64 / wall.as_secs_f64().max(1e-9),
    }
}

/// `A..B` (half-open) and an optional shard `I/N` (every N-th seed from the I-th, 0-based).
pub fn seeds(range: &str, shard: Option<&str>) -> Result<Vec<u64>, String> {
    let (a, b) = range
        .split_once("..")
        .ok_or_else(|| format!("--seeds {range:?}: write A..B, e.g. 0..1000 (B excluded)"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("--seeds {range:?}: {a:?} is not a seed"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("--seeds {range:?}: {b:?} is not a seed"))?;
    if a >= b {
        return Err(format!("--seeds {range:?} is empty; B must be above A"));
    }
    let (i, n) = match shard {
        None => (0, 1),
        Some(s) => {
            let parsed = s
                .split_once('/')
                .and_then(|(i, n)| Some((i.parse::<u64>().ok()?, n.parse::<u64>().ok()?)));
            match parsed {
                Some((i, n)) if n > 0 && i < n => (i, n),
                _ => {
                    return Err(format!(
                        "--shard {s:?}: write I/N with 0 <= I < N, e.g. 0/4"
                    ))
                }
            }
        }
    };
    // Counted before anything is allocated: `0..18446744073709551615` must be refused, not
    // collected.
    let count = (b - a).saturating_sub(i).div_ceil(n);
    if count > MAX_SEEDS {
        return Err(format!(
            "--seeds {range:?}{} is {count} seeds; one sweep runs at most {MAX_SEEDS}: split the range over several runs, or over machines with --shard I/N",
            shard.map(|s| format!(" --shard {s}")).unwrap_or_default()
        ));
    }
    Ok((a..b).skip(i as usize).step_by(n as usize).collect())
}

/// The most seeds one `sweep` runs (about a day of one core at today's speed).
pub const MAX_SEEDS: u64 = 10_000_000;
