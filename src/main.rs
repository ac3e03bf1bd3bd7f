//! The `locksim` binary: parse the command line, run, exit.

use std::io::{self, Write};

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "locksim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario for one seed: verdict, violations, a timeline around the first one.
    /// Exit 0 when the verdict matches the scenario's [expect], 1 when not, 2 on bad input.
    Run {
        /// A scenario file, or the name of a bundled one (`locksim list`).
        scenario: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Skip the linearizability check of the run's KV history.
        #[arg(long)]
        no_check: bool,
        /// Also write the run's picture to this file (self-contained HTML).
        #[arg(long, value_name = "FILE")]
        timeline: Option<std::path::PathBuf>,
    },
    /// Run a scenario over many seeds in parallel and summarise.
    Sweep {
        scenario: String,
        /// Seeds A..B (B excluded).
        #[arg(long, default_value = "0..100")]
        seeds: String,
        /// Threads (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only every N-th seed starting at the I-th (0-based): split a sweep across machines.
        #[arg(long)]
        shard: Option<String>,
        #[arg(long)]
        json: bool,
        /// Skip the linearizability check of each run's KV history.
        #[arg(long)]
        no_check: bool,
    },
    /// Run one seed and print its full event log (elections, faults, lock holds, resource
    /// writes); identical on every replay.
    Replay {
        scenario: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also write the run's picture to this file (self-contained HTML).
        #[arg(long, value_name = "FILE")]
        timeline: Option<std::path::PathBuf>,
    },
    /// Run generated variants of a scenario (random fault plans, workloads, seeds) against a
    /// property; shrink the first failing one and print it as a scenario file. Exit 0 when
    /// every case keeps the property, 1 when one does not, 2 on bad input.
    Explore {
        scenario: String,
        /// New cases to generate (cases in the regression file re-run first).
        #[arg(long, default_value_t = 32)]
        cases: u32,
        /// What variants may change: faults, workload, seed (comma-separated), or all.
        #[arg(long, default_value = "all")]
        vary: String,
        /// Fault kinds generated plans may use: pause, crash, isolate, partition,
        /// partition-oneway, skew, loss, duplicate, latency (comma-separated), or all.
        #[arg(long, default_value = "all")]
        faults: String,
        /// expect (the scenario's holds/intact claims), safety, mutual-exclusion or resource.
        #[arg(long, default_value = "expect")]
        property: String,
        /// Seed of the exploration itself (which variants, in which order).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Most shrink steps (each is one simulation).
        #[arg(long, default_value_t = 256)]
        max_shrink_iters: u32,
        /// Regression file (default proptest-regressions/explore/NAME.txt); `none` for none.
        #[arg(long)]
        regressions: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Measure the simulator: speed factor of the reference scenario, sweep seeds/s and peak
    /// memory, saturated KV ops/s in the simulation, and the raw raft-rs floor (BENCHMARKS.md).
    /// Build with --release.
    Bench {
        /// Every row, smaller (under two minutes): 3 seeds, a 200-seed sweep, one KV load.
        #[arg(long)]
        quick: bool,
        /// One JSON object instead of the table.
        #[arg(long)]
        json: bool,
        /// Sweep threads (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Only these rows (comma-separated), e.g. to profile one.
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<locksim::bench::Row>,
        /// KV row: total concurrent writers to try (comma-separated); the best is reported.
        #[arg(long, value_delimiter = ',')]
        kv_writers: Vec<usize>,
        /// KV row: simulated seconds measured per load.
        #[arg(long)]
        kv_seconds: Option<u64>,
    },
    /// The bundled scenarios, with their one-line descriptions.
    List {
        /// One JSON object per scenario instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// An etcdctl-like shell into a simulated cluster: one command per stdin line, one
    /// `etcdctl -w json`-shaped line per command on stdout.
    Ctl {
        /// Cluster size.
        #[arg(long, default_value_t = 3)]
        members: u64,
        /// Seed of the simulation.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write the run's history (JSON lines, with simulated timings) to this file at the end.
        #[arg(long)]
        history: Option<std::path::PathBuf>,
    },
    /// Check a history file for linearizability. Exit 0 linearizable, 1 not, 3 unknown
    /// (budget exhausted), 2 bad input.
    Check {
        /// The history file.
        file: std::path::PathBuf,
        /// `jsonl` (this project's histories), `jepsen-log` (jepsen.util lines) or `edn`
        /// (one Jepsen history map per line).
        #[arg(long, value_enum, default_value_t = FormatArg::Jsonl)]
        format: FormatArg,
        /// The model; by default `kv` for jsonl, `register` for jepsen-log, and for edn
        /// `kv-append` if the history has get/put/append operations, else `register`.
        #[arg(long, value_enum)]
        model: Option<ModelArg>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Search steps allowed per partition before answering unknown.
        #[arg(long, default_value_t = 50_000_000)]
        max_steps: u64,
        /// Wall-clock budget in seconds before answering unknown.
        #[arg(long)]
        timeout_secs: Option<u64>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Jsonl,
    JepsenLog,
    Edn,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ModelArg {
    Register,
    Kv,
    KvAppend,
}

fn main() -> anyhow::Result<()> {
    // Die quietly when the reader of stdout goes away (`locksim replay … | head`), as command
    // line tools do, instead of panicking on the write.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    pin_mmap_threshold();
    let cli = Cli::parse();
    match cli.command {
        Cmd::Run {
            scenario,
            seed,
            json,
            no_check,
            timeline,
        } => run(
            &scenario,
            seed,
            json,
            options(no_check),
            timeline.as_deref(),
        ),
        Cmd::Sweep {
            scenario,
            seeds,
            jobs,
            shard,
            json,
            no_check,
        } => sweep(
            &scenario,
            &seeds,
            jobs,
            shard.as_deref(),
            json,
            options(no_check),
        ),
        Cmd::Replay {
            scenario,
            seed,
            timeline,
        } => replay(&scenario, seed, timeline.as_deref()),
        Cmd::Explore {
            scenario,
            cases,
            vary,
            faults,
            property,
            seed,
            max_shrink_iters,
            regressions,
            json,
        } => explore(
            &scenario,
            cases,
            (&vary, &faults, &property),
            seed,
            max_shrink_iters,
            regressions,
            json,
        ),
        Cmd::Bench {
            quick,
            json,
            jobs,
            only,
            kv_writers,
            kv_seconds,
        } => bench(quick, json, jobs, only, (kv_writers, kv_seconds)),
        Cmd::List { json } => {
            list(json, io::stdout().lock()).context("locksim list: writing stdout")
        }
        Cmd::Check {
            file,
            format,
            model,
            json,
            max_steps,
            timeout_secs,
        } => {
            use sim::check::{Format, ModelKind};
            let (code, out) = locksim::check_cmd::run_check(&locksim::check_cmd::CheckArgs {
                file: &file,
                format: match format {
                    FormatArg::Jsonl => Format::Jsonl,
                    FormatArg::JepsenLog => Format::JepsenLog,
                    FormatArg::Edn => Format::Edn,
                },
                model: model.map(|m| match m {
                    ModelArg::Register => ModelKind::Register,
                    ModelArg::Kv => ModelKind::Kv,
                    ModelArg::KvAppend => ModelKind::KvAppend,
                }),
                json,
                max_steps: Some(max_steps),
                timeout: timeout_secs.map(std::time::Duration::from_secs),
            });
            if code == locksim::check_cmd::EXIT_BAD_INPUT {
                eprintln!("{out}");
            } else {
                // A closed pipe (`| head`) is not an error of the check.
                let _ = writeln!(io::stdout(), "{}", out.trim_end());
            }
            std::process::exit(code);
        }
        Cmd::Ctl {
            members,
            seed,
            history,
        } => {
            if !(1..=7).contains(&members) {
                eprintln!(
                    "locksim ctl: --members {members} is out of range; a cluster has 1 to 7 members (etcd runs 3 or 5)"
                );
                std::process::exit(2);
            }
            let mut executor = locksim::ctl::SimExecutor::new(members as usize, seed)
                .with_context(|| format!("locksim ctl: starting the cluster (seed {seed})"))?;
            locksim::ctl::run_shell(io::stdin().lock(), io::stdout().lock(), &mut executor)
                .context("locksim ctl: reading stdin or writing stdout")?;
            if let Some(path) = history {
                std::fs::write(&path, executor.history_jsonl()).with_context(|| {
                    format!("locksim ctl: writing the history to {}", path.display())
                })?;
            }
            Ok(())
        }
    }
}

/// Every simulated host reads datagrams into an 8 MiB buffer (a snapshot travels in one).
/// glibc serves such a buffer with a fresh `mmap` — zero pages, touched only as far as a
/// datagram fills them — until the first one is freed; then its *dynamic* threshold rises
/// past 8 MiB and later buffers come from the heap, zeroed by hand page by page: a sweep
/// grew to ~100 MiB per job and spent its time clearing pages. Fixing the threshold keeps
/// every large buffer an untouched mapping (a sweep stays at the ~13 MiB of one run).
fn pin_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning parameter of the allocator; called before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn bench(
    quick: bool,
    json: bool,
    jobs: Option<usize>,
    only: Vec<locksim::bench::Row>,
    (kv_writers, kv_seconds): (Vec<usize>, Option<u64>),
) -> anyhow::Result<()> {
    use locksim::bench;
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

fn list(json: bool, mut out: impl io::Write) -> io::Result<()> {
    use locksim::scenario::{parse, BUNDLED};
    for (name, text) in BUNDLED {
        let scenario = parse(name, text).expect("bundled scenarios parse (tested)");
        // The first sentence is the one-line description.
        let summary: String = scenario
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let summary = summary
            .split(". ")
            .next()
            .unwrap_or("")
            .trim_end_matches('.');
        if json {
            let line = serde_json::json!({
                "name": name,
                "summary": summary,
                "description": scenario.description,
                "backend": format!("{:?}", scenario.cluster.backend).to_lowercase(),
                "lock": scenario.lock.kind,
                "faults": scenario.faults.faults.len(),
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{name:<30} {summary}.")?;
        }
    }
    Ok(())
}

/// Bad input: say what is wrong and exit 2 (the CLI contract).
fn bad_input(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2);
}

fn load(scenario: &str) -> locksim::scenario::Scenario {
    locksim::scenario::resolve(scenario).unwrap_or_else(|e| bad_input(e))
}

fn options(no_check: bool) -> locksim::runner::RunOptions {
    locksim::runner::RunOptions {
        check_kv: !no_check,
    }
}

fn run_one(
    scenario: &locksim::scenario::Scenario,
    seed: u64,
    options: locksim::runner::RunOptions,
) -> locksim::runner::RunArtifacts {
    use locksim::runner::RunError;
    match locksim::runner::run_with(scenario, seed, options) {
        Ok(artifacts) => artifacts,
        Err(e @ RunError::Unsupported(_)) => bad_input(e),
        Err(e) => {
            eprintln!(
                "BUG: {e}\nreplay it with: locksim replay {} --seed {seed}",
                scenario.name
            );
            std::process::exit(1);
        }
    }
}

/// Writes the picture of a run when `--timeline FILE` was given.
fn write_timeline(
    path: Option<&std::path::Path>,
    scenario: &locksim::scenario::Scenario,
    artifacts: &locksim::runner::RunArtifacts,
) -> anyhow::Result<()> {
    if let Some(path) = path {
        let html = locksim::timeline::Timeline::new(scenario, artifacts).render();
        std::fs::write(path, html)
            .with_context(|| format!("writing the timeline to {}", path.display()))?;
    }
    Ok(())
}

fn run(
    scenario: &str,
    seed: u64,
    json: bool,
    options: locksim::runner::RunOptions,
    timeline: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let scenario = load(scenario);
    if !json {
        println!("scenario {}  seed {seed}", scenario.name);
    }
    let artifacts = run_one(&scenario, seed, options);
    write_timeline(timeline, &scenario, &artifacts)?;
    let o = &artifacts.outcome;
    if json {
        println!("{}", serde_json::to_string(o)?);
    } else {
        println!(
            "verdict: mutual exclusion {}, resource {} (expected {}, {}) -> {}",
            o.verdict,
            o.resource,
            o.expected.mutual_exclusion,
            o.expected.resource,
            if o.matches {
                "as expected"
            } else {
                "NOT AS EXPECTED"
            }
        );
        println!("kv history: {} (expected {})", o.kv, o.expected.kv);
        const STALE_SHOWN: usize = 3;
        if !o.kv_stale_reads.is_empty() {
            println!(
                "stale reads: {} (a read returned a value older than a write acknowledged before it began){}",
                o.kv_stale_reads.len(),
                if o.kv_stale_reads.len() > STALE_SHOWN {
                    format!("; the first {STALE_SHOWN} (--json lists them all)")
                } else {
                    String::new()
                }
            );
            for stale in o.kv_stale_reads.iter().take(STALE_SHOWN) {
                println!("  {stale}");
            }
        }
        if let Some(detail) = &o.kv_detail {
            println!("checker: {}", detail.trim_end());
        }
        if o.violations.is_empty() {
            println!("violations: none");
        } else {
            println!("violations:");
        }
        const SHOWN: usize = 10;
        if o.violations.len() > SHOWN {
            println!(
                "  (the first {SHOWN} of {}; --json lists them all)",
                o.violations.len()
            );
        }
        for v in o.violations.iter().take(SHOWN) {
            let faults = if v.faults.is_empty() {
                "no fault active".to_string()
            } else {
                format!("during {}", v.faults.join(", "))
            };
            println!(
                "  {:?} {} tokens {:?} at {:.3}s..{:.3}s, {faults}: {}",
                v.kind,
                v.clients.join(","),
                v.tokens,
                v.from_ms as f64 / 1000.0,
                v.to_ms as f64 / 1000.0,
                v.detail
            );
        }
        if let Some(first) = o.violations.iter().find(|v| v.kind.is_safety()) {
            println!("timeline around the first violation:");
            print!(
                "{}",
                locksim::runner::text_timeline(&artifacts.records, first.from_ms, first.to_ms)
            );
        } else if let Some(stale) = o.kv_stale_reads.first() {
            println!("cluster events around the first stale read:");
            print!(
                "{}",
                locksim::runner::cluster_timeline(
                    &artifacts.records,
                    stale.missed.return_ms.min(stale.invoke_ms),
                    stale.return_ms
                )
            );
        }
        println!("liveness: {}", o.liveness.describe());
        println!(
            "acquisitions {}, resource writes {} accepted / {} rejected, counter {}, ops {}",
            o.acquisitions, o.accepted_writes, o.rejected_writes, o.final_counter, o.ops
        );
        println!(
            "simulated {:.3}s in {:.3}s wall; history digest {}",
            o.sim_ms as f64 / 1000.0,
            o.wall_ms as f64 / 1000.0,
            o.history_digest
        );
        println!(
            "seed {seed}: replay with `locksim replay {} --seed {seed}`",
            scenario.name
        );
    }
    std::process::exit(if o.matches { 0 } else { 1 });
}

fn sweep(
    scenario: &str,
    seeds: &str,
    jobs: Option<usize>,
    shard: Option<&str>,
    json: bool,
    options: locksim::runner::RunOptions,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let scenario = load(scenario);
    let seeds = locksim::sweep::seeds(seeds, shard).unwrap_or_else(|e| bad_input(e));
    let jobs = jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let bar = if !json && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(seeds.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} seeds  {per_sec}  eta {eta}",
            )
            .expect("a valid template"),
        );
        Some(bar)
    } else {
        None
    };
    let summary = locksim::sweep::sweep(&scenario, &seeds, jobs, options, &|done| {
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{}: {} seeds, {} violating mutual exclusion, {} with a non-linearizable KV history, {} not as expected, {:.1} seeds/s ({} jobs)",
            summary.scenario,
            summary.seeds_run,
            summary.violating,
            summary.kv_violating,
            summary.mismatching,
            summary.seeds_per_sec,
            jobs
        );
        if let Some(seed) = summary.first_violating_seed {
            println!(
                "first violating seed: {seed} (locksim run {} --seed {seed})",
                summary.scenario
            );
        }
        if let Some(seed) = summary.first_mismatching_seed {
            println!("first seed not as expected: {seed}");
        }
        for e in &summary.errors {
            println!("BUG: {e}");
        }
    }
    std::process::exit(if summary.mismatching == 0 { 0 } else { 1 });
}

fn explore(
    scenario: &str,
    cases: u32,
    (vary, faults, property): (&str, &str, &str),
    seed: u64,
    max_shrink_iters: u32,
    regressions: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    use locksim::explore::{Explorer, Progress};
    use std::io::IsTerminal;
    let scenario = load(scenario);
    let vary = vary
        .parse()
        .unwrap_or_else(|e| bad_input(format!("--vary: {e}")));
    let kinds: locksim::explore::FaultKinds = faults
        .parse()
        .unwrap_or_else(|e| bad_input(format!("--faults: {e}")));
    let property = property
        .parse()
        .unwrap_or_else(|e| bad_input(format!("--property: {e}")));
    let regressions = match regressions.as_deref() {
        Some("none") => None,
        Some(path) => Some(path.into()),
        None => Some(Explorer::default_regressions(&scenario)),
    };
    if !json {
        println!(
            "exploring {}: {cases} cases, vary {vary}, faults {kinds}, property {property}, exploration seed {seed}",
            scenario.name
        );
    }
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(cases as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}  {elapsed}")
                .expect("a valid template"),
        );
        bar
    });
    let explorer = Explorer::new(scenario)
        .vary(vary)
        .fault_kinds(kinds)
        .property(property)
        .cases(cases)
        .rng_seed(seed)
        .max_shrink_iters(max_shrink_iters)
        .regressions(regressions);
    let result = explorer.run(&|p| {
        let Some(bar) = &bar else { return };
        match p {
            Progress::Case { done, total } => {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message("cases");
            }
            Progress::Shrink { step, faults, .. } => {
                bar.set_message(format!("shrinking: step {step}, {faults} fault(s)"))
            }
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let exploration = result.unwrap_or_else(|e| bad_input(e));
    if json {
        println!("{}", serde_json::to_string(&exploration)?);
    } else {
        print!("{}", exploration.text());
    }
    std::process::exit(if exploration.failure.is_none() { 0 } else { 1 });
}

fn replay(scenario: &str, seed: u64, timeline: Option<&std::path::Path>) -> anyhow::Result<()> {
    let scenario = load(scenario);
    let artifacts = run_one(&scenario, seed, locksim::runner::RunOptions::default());
    write_timeline(timeline, &scenario, &artifacts)?;
    let o = &artifacts.outcome;
    println!("scenario {}  seed {seed}", scenario.name);
    print!(
        "{}",
        locksim::runner::text_timeline(&artifacts.records, 0, u64::MAX / 2)
    );
    println!(
        "verdict: mutual exclusion {}, resource {}, kv history {} ({} stale reads); {} violations; history digest {}",
        o.verdict,
        o.resource,
        o.kv,
        o.kv_stale_reads.len(),
        o.violations.len(),
        o.history_digest
    );
    Ok(())
}
