//! `locksim bench`: how fast the simulator is, measured against the floor on its cost, in one
//! process run.
//!
//! Four rows (issue 8, BENCHMARKS.md), and a fifth with the `grpc` feature:
//! 1. speed factor — simulated seconds per wall second of the reference scenario
//!    (`etcd-mutex-leader-crash-safe`), median over seeds, one thread;
//! 2. sweep throughput — seeds/s of the same scenario with one job per core, in a child
//!    `locksim sweep`, with its resident memory traced (it must stay flat);
//! 3. saturated KV throughput inside the simulation — acknowledged puts per wall second;
//! 4. the raw raft-rs floor — as many 100-byte proposals through three in-memory `RawNode`s,
//!    and the ratio of (3) to it;
//! 5. the load of (3) through `etcd_client` over gRPC, beside (3)'s native client.
//!
//! Wall-clock time is read here and only here (and in sweep's seeds/s): it measures the
//! simulator, it never enters a simulation.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::runner::{self, RunOptions};
use crate::scenario;

pub mod kv_load;
pub mod machine;
pub mod raft_floor;

pub use kv_load::{KvLoad, KvLoadResult};
pub use machine::{Machine, RssTrace};
pub use raft_floor::{FloorResult, Pace};

/// The reference lock scenario (3 members, 5 clients, etcd-mutex, 60 s, a leader partition at
/// 10–20 s and a leader crash at 30–35 s).
pub const REFERENCE: &str = "etcd-mutex-leader-crash-safe";

/// Targets from issue 8, printed beside the figures.
pub const TARGET_SPEED: f64 = 500.0;
pub const TARGET_KV_OPS: f64 = 100_000.0;
pub const TARGET_RATIO: f64 = 0.33;
pub const TARGET_RSS_MIB: f64 = 200.0;

/// The four measurements, to run a subset (`--only kv,floor`) while profiling one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Row {
    Speed,
    Sweep,
    Kv,
    Floor,
    /// Row 3's load through etcd-client over gRPC (feature `grpc`).
    Grpc,
}

/// Every row this build can run: the gRPC row only with the `grpc` feature.
fn all_rows() -> Vec<Row> {
    let mut rows = vec![Row::Speed, Row::Sweep, Row::Kv, Row::Floor];
    if cfg!(feature = "grpc") {
        rows.push(Row::Grpc);
    }
    rows
}

/// How much to measure.
#[derive(Clone, Debug)]
pub struct Plan {
    pub rows: Vec<Row>,
    /// Seeds of the single-thread speed-factor runs.
    pub speed_seeds: u64,
    /// Seeds of the sweep (10 000 in the full run).
    pub sweep_seeds: u64,
    pub sweep_jobs: usize,
    /// Total concurrent writers tried for the KV row (the best is reported).
    pub kv_writers: Vec<usize>,
    pub kv_measure: Duration,
    /// The `locksim` binary the sweep row runs (default: this executable).
    pub locksim: Option<std::path::PathBuf>,
}

impl Plan {
    pub fn full(cores: usize) -> Plan {
        Plan {
            rows: all_rows(),
            speed_seeds: 7,
            sweep_seeds: 10_000,
            sweep_jobs: cores,
            kv_writers: vec![64, 256, 1024],
            kv_measure: Duration::from_secs(30),
            locksim: None,
        }
    }

    /// Every row, in well under two minutes.
    pub fn quick(cores: usize) -> Plan {
        Plan {
            rows: all_rows(),
            speed_seeds: 3,
            sweep_seeds: 200,
            sweep_jobs: cores,
            kv_writers: vec![256],
            kv_measure: Duration::from_secs(5),
            locksim: None,
        }
    }
}

/// Row 1.
#[derive(Clone, Debug, Serialize)]
pub struct SpeedRow {
    pub scenario: String,
    pub seeds: Vec<u64>,
    /// Simulated seconds per wall second, per seed.
    pub factors: Vec<f64>,
    pub median: f64,
    /// Simulated seconds per CPU second of the thread (steady on a busy machine).
    pub median_cpu: f64,
    pub simulated_s: f64,
}

/// Row 2.
#[derive(Clone, Debug, Serialize)]
pub struct SweepRow {
    pub seeds: u64,
    pub jobs: usize,
    pub seeds_per_sec: f64,
    pub wall_s: f64,
    pub violating: u64,
    pub mismatching: u64,
    pub peak_rss_mib: f64,
    /// Largest resident size in the first and in the last tenth of the sweep.
    pub rss_first_tenth_mib: Option<f64>,
    pub rss_last_tenth_mib: Option<f64>,
}

/// Row 3.
#[derive(Clone, Debug, Serialize)]
pub struct KvRow {
    pub writers: usize,
    pub committed: u64,
    pub ops_per_wall_sec: f64,
    pub ops_per_cpu_sec: f64,
    pub ops_per_sim_sec: f64,
    pub speed_factor: f64,
    /// Every load tried: (writers, ops per wall second).
    pub tried: Vec<(usize, f64)>,
}

/// Row 4.
#[derive(Clone, Debug, Serialize)]
pub struct FloorRow {
    pub proposals: u64,
    pub serial_per_sec: f64,
    pub pipelined_per_sec: f64,
    pub pipeline_depth: usize,
    /// Row 3 over the serial floor.
    pub ratio: f64,
}

/// Row 5: row 3's load through `etcd_client` (HTTP/2 over turmoil TCP to the gRPC front).
#[derive(Clone, Debug, Serialize)]
pub struct GrpcRow {
    pub writers: usize,
    pub committed: u64,
    pub ops_per_wall_sec: f64,
    pub ops_per_cpu_sec: f64,
    pub ops_per_sim_sec: f64,
    /// Row 3 at the same writer count, when it ran.
    pub native_ops_per_wall_sec: Option<f64>,
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub quick: bool,
    pub speed: Option<SpeedRow>,
    pub sweep: Option<SweepRow>,
    pub kv: Option<KvRow>,
    pub floor: Option<FloorRow>,
    pub grpc: Option<GrpcRow>,
    pub wall_s: f64,
}

const PIPELINE_DEPTH: usize = 256;
const FLOOR_RUNS: usize = 3;

/// The KV row's cluster compacts revisions older than this, this often (etcd's periodic
/// auto-compaction), so a long run measures a steady store, not one that only grows.
const COMPACT_EVERY: Duration = Duration::from_secs(1);

/// Proposals for the floor when the KV row did not run to give its count.
const FLOOR_DEFAULT_PROPOSALS: u64 = 100_000;

/// Runs the plan's rows. `say` gets a line before each (progress for a person at a terminal).
pub fn run(plan: &Plan, quick: bool, say: &dyn Fn(&str)) -> anyhow::Result<Report> {
    let started = Instant::now();
    let machine = Machine::detect();
    let wants = |row| plan.rows.contains(&row);
    let mut report = Report {
        machine,
        quick,
        speed: None,
        sweep: None,
        kv: None,
        floor: None,
        grpc: None,
        wall_s: 0.0,
    };
    if wants(Row::Speed) {
        say(&format!(
            "speed factor: {REFERENCE}, {} seeds, one thread",
            plan.speed_seeds
        ));
        report.speed = Some(speed_factor(plan.speed_seeds)?);
    }
    if wants(Row::Sweep) {
        say(&format!(
            "sweep: {} seeds on {} jobs (a child `locksim sweep`)",
            plan.sweep_seeds, plan.sweep_jobs
        ));
        let exe = match &plan.locksim {
            Some(exe) => exe.clone(),
            None => std::env::current_exe()?,
        };
        report.sweep = Some(sweep(&exe, plan.sweep_seeds, plan.sweep_jobs)?);
    }
    if wants(Row::Kv) {
        say(&format!(
            "saturated KV: writers {:?}, {:?} simulated each",
            plan.kv_writers, plan.kv_measure
        ));
        report.kv = Some(kv(&plan.kv_writers, plan.kv_measure)?);
    }
    if wants(Row::Floor) {
        let proposals = report
            .kv
            .as_ref()
            .map_or(FLOOR_DEFAULT_PROPOSALS, |kv| kv.committed.max(1));
        say(&format!(
            "raw raft-rs floor: {proposals} proposals of 100 bytes"
        ));
        // The floor is the cheapest the work can be: the best of three runs each.
        let best = |pace| {
            (0..FLOOR_RUNS)
                .map(|_| raft_floor::run(proposals, 100, pace))
                .max_by(|a, b| a.per_sec().total_cmp(&b.per_sec()))
                .expect("at least one run")
        };
        let serial = best(Pace::Serial);
        let pipelined = best(Pace::Pipelined(PIPELINE_DEPTH));
        report.floor = Some(FloorRow {
            proposals,
            serial_per_sec: serial.per_sec(),
            pipelined_per_sec: pipelined.per_sec(),
            pipeline_depth: PIPELINE_DEPTH,
            ratio: report
                .kv
                .as_ref()
                .map_or(f64::NAN, |kv| kv.ops_per_wall_sec / serial.per_sec()),
        });
    }
    if wants(Row::Grpc) {
        // Row 3's best writer count, so the two rows compare like for like.
        let writers = report
            .kv
            .as_ref()
            .map_or(plan.kv_writers[0], |kv| kv.writers);
        say(&format!(
            "saturated KV through etcd-client: {writers} writers, {:?} simulated",
            plan.kv_measure
        ));
        report.grpc = Some(grpc(writers, plan.kv_measure, report.kv.as_ref())?);
    }
    report.wall_s = started.elapsed().as_secs_f64();
    Ok(report)
}

fn speed_factor(seeds: u64) -> anyhow::Result<SpeedRow> {
    let scenario = scenario::resolve(REFERENCE)?;
    let mut factors = Vec::new();
    let mut cpu_factors = Vec::new();
    let mut simulated_s = 0.0;
    let seeds: Vec<u64> = (1..=seeds).collect();
    for &seed in &seeds {
        let started = Instant::now();
        let cpu_started = machine::thread_cpu_time();
        let artifacts = runner::run_with(&scenario, seed, RunOptions::default())?;
        let wall = started.elapsed().as_secs_f64();
        let cpu = (machine::thread_cpu_time().saturating_sub(cpu_started)).as_secs_f64();
        simulated_s = artifacts.outcome.sim_ms as f64 / 1000.0;
        factors.push(simulated_s / wall.max(1e-9));
        cpu_factors.push(simulated_s / cpu.max(1e-9));
    }
    Ok(SpeedRow {
        scenario: REFERENCE.into(),
        median: median(&factors),
        median_cpu: median(&cpu_factors),
        seeds,
        factors,
        simulated_s,
    })
}

fn sweep(exe: &std::path::Path, seeds: u64, jobs: usize) -> anyhow::Result<SweepRow> {
    let mut child = Command::new(exe)
        .args([
            "sweep",
            REFERENCE,
            "--seeds",
            &format!("0..{seeds}"),
            "--jobs",
            &jobs.to_string(),
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    // Read stdout on a thread so a large summary cannot block the child while we sample.
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout));
    // Its exit status is not the measure: `locksim sweep` exits 1 when a seed did not match its
    // [expect], and the summary says which.
    let (_, trace) = machine::wait_tracing_rss(child, Duration::from_millis(250))?;
    let out = reader
        .join()
        .map_err(|_| anyhow::anyhow!("stdout reader panicked"))??;
    let summary: serde_json::Value = serde_json::from_str(out.trim())
        .map_err(|e| anyhow::anyhow!("the child sweep printed no JSON summary ({e}): {out}"))?;
    let field = |k: &str| summary.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    let mib = |kib: u64| kib as f64 / 1024.0;
    let tenths = trace.first_and_last_tenth();
    Ok(SweepRow {
        seeds,
        jobs,
        seeds_per_sec: field("seeds_per_sec"),
        wall_s: field("wall_ms") / 1000.0,
        violating: field("violating") as u64,
        mismatching: field("mismatching") as u64,
        peak_rss_mib: mib(trace.peak_kib),
        rss_first_tenth_mib: tenths.map(|t| mib(t.0)),
        rss_last_tenth_mib: tenths.map(|t| mib(t.1)),
    })
}

fn kv(writers: &[usize], measure: Duration) -> anyhow::Result<KvRow> {
    const HOSTS: usize = 8;
    let mut best: Option<KvLoadResult> = None;
    let mut tried = Vec::new();
    for &total in writers {
        let result = kv_load::run(KvLoad {
            via: kv_load::Via::Native,
            seed: 1,
            hosts: HOSTS,
            writers_per_host: total.div_ceil(HOSTS),
            value_size: 100,
            measure,
            compact_every: Some(COMPACT_EVERY),
        })?;
        tried.push((result.writers, result.per_wall_sec()));
        if best.is_none_or(|b| result.per_wall_sec() > b.per_wall_sec()) {
            best = Some(result);
        }
    }
    let best = best.ok_or_else(|| anyhow::anyhow!("no KV load given"))?;
    Ok(KvRow {
        writers: best.writers,
        committed: best.committed,
        ops_per_wall_sec: best.per_wall_sec(),
        ops_per_cpu_sec: best.per_cpu_sec(),
        ops_per_sim_sec: best.per_sim_sec(),
        speed_factor: best.simulated.as_secs_f64() / best.wall.as_secs_f64().max(1e-9),
        tried,
    })
}

fn grpc(writers: usize, measure: Duration, native: Option<&KvRow>) -> anyhow::Result<GrpcRow> {
    const HOSTS: usize = 8;
    let result = kv_load::run(KvLoad {
        via: kv_load::Via::EtcdClient,
        seed: 1,
        hosts: HOSTS,
        writers_per_host: writers.div_ceil(HOSTS),
        value_size: 100,
        measure,
        compact_every: None,
    })?;
    Ok(GrpcRow {
        writers: result.writers,
        committed: result.committed,
        ops_per_wall_sec: result.per_wall_sec(),
        ops_per_cpu_sec: result.per_cpu_sec(),
        ops_per_sim_sec: result.per_sim_sec(),
        native_ops_per_wall_sec: native.map(|kv| kv.ops_per_wall_sec),
    })
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// The table a person reads (and BENCHMARKS.md keeps).
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(
        s,
        "locksim bench{} — commit {}, {} cores, {}{}",
        if r.quick { " --quick" } else { "" },
        m.commit,
        m.cores,
        m.cpu,
        if m.release {
            ""
        } else {
            " (DEBUG BUILD: figures mean little)"
        }
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "| row | figure | target | detail |");
    let _ = writeln!(s, "|---|---|---|---|");
    if let Some(sp) = &r.speed {
        let _ = writeln!(
        s,
        "| 1. speed factor | {:.0}× real time | ≥ {:.0}× ({}) | median of seeds {:?}: {}; {} s simulated each, one thread, KV history checked; {:.0}× per CPU second |",
        sp.median,
        TARGET_SPEED,
        mark(sp.median >= TARGET_SPEED),
        sp.seeds,
        sp.factors
            .iter()
            .map(|f| format!("{f:.0}×"))
            .collect::<Vec<_>>()
            .join(" "),
        sp.simulated_s,
        sp.median_cpu,
    );
    }
    if let Some(sw) = &r.sweep {
        let flat = match (sw.rss_first_tenth_mib, sw.rss_last_tenth_mib) {
            (Some(a), Some(b)) => {
                format!("; RSS {a:.0} MiB in the first tenth, {b:.0} MiB in the last")
            }
            _ => String::new(),
        };
        let _ = writeln!(
        s,
        "| 2. sweep throughput | {:.1} seeds/s | peak RSS < {:.0} MiB ({}) | {} seeds, {} jobs, {:.0} s wall; peak RSS {:.0} MiB{flat}; {} violating, {} not as expected |",
        sw.seeds_per_sec,
        TARGET_RSS_MIB,
        mark(sw.peak_rss_mib < TARGET_RSS_MIB),
        sw.seeds,
        sw.jobs,
        sw.wall_s,
        sw.peak_rss_mib,
        sw.violating,
        sw.mismatching,
    );
    }
    if let Some(kv) = &r.kv {
        let _ = writeln!(
        s,
        "| 3. saturated KV in the sim | {:.0} ops/s | ≥ {:.0} ({}) | acknowledged 100-byte puts per wall second ({:.0} per CPU second); 3 members, {} writers on 8 hosts, compaction every 1 s; {:.0} ops per simulated s at {:.0}× real time; tried {} |",
        kv.ops_per_wall_sec,
        TARGET_KV_OPS,
        mark(kv.ops_per_wall_sec >= TARGET_KV_OPS),
        kv.ops_per_cpu_sec,
        kv.writers,
        kv.ops_per_sim_sec,
        kv.speed_factor,
        kv.tried
            .iter()
            .map(|(w, o)| format!("{w}→{o:.0}/s"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    }
    if let Some(f) = &r.floor {
        let _ = writeln!(
        s,
        "| 4. raw raft-rs floor | {:.0} ops/s | — | the same {} 100-byte proposals through 3 in-memory RawNodes, one at a time, best of 3 ({:.0}/s with {} in flight) |",
        f.serial_per_sec, f.proposals, f.pipelined_per_sec, f.pipeline_depth,
    );
        let _ = writeln!(
            s,
            "| ratio (3)/(4) | {:.2} | ≥ {:.2} ({}) | |",
            f.ratio,
            TARGET_RATIO,
            mark(f.ratio >= TARGET_RATIO)
        );
    }
    if let Some(g) = &r.grpc {
        let beside = g.native_ops_per_wall_sec.map_or(String::new(), |n| {
            format!(
                "; row 3's client {n:.0}/s, so etcd-client costs {:.1}× per put",
                n / g.ops_per_wall_sec.max(1e-9)
            )
        });
        let _ = writeln!(
        s,
        "| 5. KV through etcd-client | {:.0} ops/s | — | the same 100-byte puts by `etcd_client::Client` over HTTP/2 on turmoil TCP ({:.0} per CPU second); {} writers on 8 hosts, no compaction; {:.0} ops per simulated s{beside} |",
        g.ops_per_wall_sec, g.ops_per_cpu_sec, g.writers, g.ops_per_sim_sec,
    );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "bench took {:.0} s wall", r.wall_s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
