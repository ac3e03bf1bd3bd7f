//! Many seeds of one scenario in parallel: one simulation per thread (a simulation is
//! single-threaded and `Rc`-based, so it never crosses threads; seeds do).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::runner::{self, Outcome, RunError, RunOptions};
use crate::scenario::Scenario;
use crate::verdict::{Kv, MutualExclusion, Resource};

/// One seed of a sweep, as `sweep --jsonl` writes it (one JSON line each) and `locksim report`
/// reads it back: everything a summary is made of, so shards merge exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedLine {
    pub scenario: String,
    pub seed: u64,
    /// `None` when the simulation failed (then `error` says why).
    pub verdict: Option<MutualExclusion>,
    pub resource: Option<Resource>,
    pub kv: Option<Kv>,
    /// Whether the verdict matched `[expect]` (false for a failed run).
    pub matches: bool,
    pub digest: Option<String>,
    /// The first safety violation: kind, clients, from–to ms.
    pub first_violation: Option<FirstViolation>,
    /// Wall-clock time of this seed's run (the only field that differs between replays).
    pub wall_ms: u64,
    pub error: Option<String>,
}

/// The first safety violation of a run, in a [`SeedLine`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstViolation {
    pub kind: lock::ViolationKind,
    pub clients: Vec<String>,
    pub from_ms: u64,
    pub to_ms: u64,
}

/// Runs one seed as a sweep does: its line, and its history when the simulation ran (a failed
/// one — a panic included — is a line with `error`, never lost).
pub fn run_seed(
    scenario: &Scenario,
    seed: u64,
    options: RunOptions,
) -> (SeedLine, Option<Vec<sim::Record>>) {
    let started = std::time::Instant::now();
    let (result, records) = match runner::run_with(scenario, seed, options) {
        Ok(artifacts) => (Ok(artifacts.outcome), Some(artifacts.records)),
        Err(RunError::Simulation { seed, message }) => {
            (Err(format!("seed {seed}: {message}")), None)
        }
        Err(e) => (Err(e.to_string()), None),
    };
    let wall_ms = started.elapsed().as_millis() as u64;
    (
        SeedLine::new(&scenario.name, seed, result, wall_ms),
        records,
    )
}

impl SeedLine {
    fn new(scenario: &str, seed: u64, result: Result<Outcome, String>, wall_ms: u64) -> Self {
        match result {
            Ok(o) => SeedLine {
                scenario: scenario.to_string(),
                seed,
                verdict: Some(o.verdict),
                resource: Some(o.resource),
                kv: Some(o.kv),
                matches: o.matches,
                digest: Some(o.history_digest),
                first_violation: o.violations.iter().find(|v| v.kind.is_safety()).map(|v| {
                    FirstViolation {
                        kind: v.kind,
                        clients: v.clients.clone(),
                        from_ms: v.from_ms,
                        to_ms: v.to_ms,
                    }
                }),
                wall_ms,
                error: None,
            },
            Err(error) => SeedLine {
                scenario: scenario.to_string(),
                seed,
                verdict: None,
                resource: None,
                kv: None,
                matches: false,
                digest: None,
                first_violation: None,
                wall_ms,
                error: Some(error),
            },
        }
    }
}

/// What a sweep found. Made from its [`SeedLine`]s sorted by seed, so it does not depend on
/// which thread finished first, nor on how the seeds were split into shards.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
    /// Wall-clock time: of the whole sweep, or for merged shards the sum of the seeds' runs.
    pub wall_ms: u64,
    pub seeds_per_sec: f64,
}

impl Summary {
    /// The summary of `lines` (any order; sorted here). `wall_ms`: the sweep's wall time.
    pub fn of(scenario: &str, lines: &[SeedLine], wall_ms: u64) -> Summary {
        let mut lines: Vec<&SeedLine> = lines.iter().collect();
        lines.sort_by_key(|l| l.seed);
        let violating: Vec<u64> = lines
            .iter()
            .filter(|l| l.verdict == Some(MutualExclusion::Violated))
            .map(|l| l.seed)
            .collect();
        let mismatching: Vec<u64> = lines
            .iter()
            .filter(|l| !l.matches)
            .map(|l| l.seed)
            .collect();
        Summary {
            scenario: scenario.to_string(),
            seeds_run: lines.len(),
            violating: violating.len(),
            kv_violating: lines.iter().filter(|l| l.kv == Some(Kv::Violated)).count(),
            mismatching: mismatching.len(),
            first_violating_seed: violating.first().copied(),
            first_mismatching_seed: mismatching.first().copied(),
            errors: lines.iter().filter_map(|l| l.error.clone()).collect(),
            wall_ms,
            seeds_per_sec: lines.len() as f64 / (wall_ms.max(1) as f64 / 1000.0),
        }
    }
}

/// Runs `seeds` on `jobs` threads; `progress` is called after each seed with the count done.
pub fn sweep(
    scenario: &Scenario,
    seeds: &[u64],
    jobs: usize,
    options: RunOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> (Summary, Vec<SeedLine>) {
    let started = std::time::Instant::now();
    let lines = parallel(
        seeds.len(),
        jobs,
        |i| run_seed(scenario, seeds[i], options).0,
        progress,
    );
    let wall_ms = started.elapsed().as_millis() as u64;
    (Summary::of(&scenario.name, &lines, wall_ms), lines)
}

/// `work(0..count)` on `jobs` threads, one item at a time to whichever thread is free (runs
/// differ a lot in length); `progress` after each with the count done. The results come back
/// in index order, whatever thread finished first. A simulation is single-threaded and
/// `Rc`-based, so it never crosses threads; the items do.
pub fn parallel<T: Send>(
    count: usize,
    jobs: usize,
    work: impl Fn(usize) -> T + Sync,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let result = work(i);
                results.lock().expect("no panics hold it").push((i, result));
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            });
        }
    });
    let mut results = results.into_inner().expect("threads joined");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Merges the seed lines of shards (JSON lines, as `sweep --jsonl` writes them) into one
/// summary: exactly the unsharded sweep's, but for `wall_ms`, which is the seeds' total.
/// `Err` names the file and line of a malformed line, a seed that appears twice, or lines of
/// different scenarios.
pub fn report(files: &[(String, String)]) -> Result<Summary, String> {
    let mut lines: Vec<SeedLine> = Vec::new();
    let mut seen: std::collections::BTreeMap<u64, String> = std::collections::BTreeMap::new();
    for (name, text) in files {
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let line: SeedLine = serde_json::from_str(raw)
                .map_err(|e| format!("{name}:{}: not a sweep line: {e}", i + 1))?;
            if let Some(first) = lines.first() {
                if first.scenario != line.scenario {
                    return Err(format!(
                        "{name}:{}: scenario {:?}, but earlier lines are {:?}: one report per scenario",
                        i + 1,
                        line.scenario,
                        first.scenario
                    ));
                }
            }
            let at = format!("{name}:{}", i + 1);
            if let Some(before) = seen.insert(line.seed, at.clone()) {
                return Err(format!(
                    "{at}: seed {} again (first at {before}): overlapping shards",
                    line.seed
                ));
            }
            lines.push(line);
        }
    }
    let Some(first) = lines.first() else {
        return Err("no sweep lines in the files given".to_string());
    };
    let scenario = first.scenario.clone();
    let wall_ms = lines.iter().map(|l| l.wall_ms).sum();
    Ok(Summary::of(&scenario, &lines, wall_ms))
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
