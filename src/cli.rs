//! The `locksim` command line: [`main_with`] parses it and dispatches to the subcommands, one
//! file each. In the library (not only the binary) so a crate with locks of its own builds the
//! same CLI for them in two lines; these functions print, read stdin and exit with the CLI's
//! codes, so tests call the library's other modules, which return values.
//!
//! # Layout
//! * this file: [`main_with`], and what several subcommands share — exit 2 on bad input ([`bad_input`]), loading a
//!   scenario, running one seed, writing `--timeline`.
//! * `args`: the clap definitions ([`args::Cli`], [`args::Cmd`]) and their `--help` text.
//! * `run`: `locksim run` and `locksim replay` (one seed, text or JSON).
//! * `sweep`: `locksim sweep` (many seeds, a progress bar on a terminal) and `locksim report`
//!   (shards merged).
//! * `compare`: `locksim compare` (locks × fault families; table, JSON, heat map, shards).
//! * `explore`: `locksim explore` (generated variants, shrinking).
//! * `bench`: `locksim bench`.
//! * `list`: `locksim list` (the bundled scenarios).
//! * `check`: `locksim check FILE`.
//! * `ctl`: `locksim ctl`.

pub mod args;
mod bench;
mod check;
mod compare;
mod ctl;
mod explore;
mod list;
mod run;
mod sweep;

use std::io;
use std::sync::OnceLock;

use anyhow::Context;
use clap::Parser;

use crate::scenario::Locks;

/// The lock kinds this process's scenario files may name; set once by [`main_with`].
static LOCKS: OnceLock<Locks> = OnceLock::new();

pub use bench::bench;
pub use check::check;
pub use ctl::ctl;
pub use explore::explore;
pub use list::list;
pub use run::{replay, run};
pub use sweep::{report, sweep};

/// Bad input: say what is wrong and exit 2 (the CLI contract).
pub fn bad_input(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2);
}

/// The lock kinds of this process's command line ([`main_with`]'s, else the built-in ones).
pub fn locks() -> &'static Locks {
    LOCKS.get_or_init(Locks::builtin)
}

/// A scenario by path or bundled name; exit 2 when it does not load.
pub fn load(scenario: &str) -> crate::scenario::Scenario {
    crate::scenario::resolve_with(scenario, locks()).unwrap_or_else(|e| bad_input(e))
}

/// Run options from `--no-check`.
pub fn options(no_check: bool) -> crate::runner::RunOptions {
    crate::runner::RunOptions {
        check_kv: !no_check,
    }
}

/// Runs one seed; exit 2 on a scenario the runner cannot run, 1 on a simulator bug (with the
/// replay command).
pub fn run_one(
    scenario: &crate::scenario::Scenario,
    seed: u64,
    options: crate::runner::RunOptions,
) -> crate::runner::RunArtifacts {
    use crate::runner::RunError;
    match crate::runner::run_with(scenario, seed, options) {
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
pub fn write_timeline(
    path: Option<&std::path::Path>,
    scenario: &crate::scenario::Scenario,
    artifacts: &crate::runner::RunArtifacts,
) -> anyhow::Result<()> {
    if let Some(path) = path {
        let html = crate::timeline::Timeline::new(scenario, artifacts).render();
        std::fs::write(path, html)
            .with_context(|| format!("writing the timeline to {}", path.display()))?;
    }
    Ok(())
}

/// The whole `locksim` command line, with `locks` the lock kinds scenario files may name.
///
/// `locksim`'s own `main` passes [`Locks::builtin`]; a crate with locks of its own gets the same
/// CLI — `run`, `sweep`, `replay`, `explore`, `--timeline` — for them with a binary of two lines,
/// so the TOML a failing test prints runs with `cargo run --bin locksim -- run FILE --seed N`:
///
/// ```no_run
/// # use lock::{Guard, LockAlgorithm, LockContext, Result};
/// # struct MyLock;
/// # impl MyLock { fn new(_: LockContext) -> Self { MyLock } }
/// # impl LockAlgorithm for MyLock {
/// #     fn name(&self) -> &str { "my-lock" }
/// #     async fn acquire(&mut self) -> Result<Guard> { Ok(Guard::new("k", None)) }
/// #     async fn release(&mut self, _: Guard) -> Result<()> { Ok(()) }
/// # }
/// // src/bin/locksim.rs
/// fn main() -> anyhow::Result<()> {
///     locksim::cli::main_with(locksim::scenario::Locks::builtin().with("my-lock", MyLock::new))
/// }
/// ```
///
/// It parses the process's arguments and may exit the process (2 on bad input, 1 when a
/// verdict differs from `[expect]`).
pub fn main_with(locks: Locks) -> anyhow::Result<()> {
    // The first registry wins: a process has one command line.
    let _ = LOCKS.set(locks);
    // Die quietly when the reader of stdout goes away (`locksim replay … | head`), as command
    // line tools do, instead of panicking on the write.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    pin_mmap_threshold();
    match args::Cli::parse().command {
        args::Cmd::Run {
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
        args::Cmd::Sweep {
            scenario,
            seeds,
            jobs,
            shard,
            json,
            jsonl,
            no_check,
        } => sweep(
            &scenario,
            &seeds,
            jobs,
            shard.as_deref(),
            json,
            jsonl.as_deref(),
            options(no_check),
        ),
        args::Cmd::Report { files, json } => report(&files, json),
        args::Cmd::Compare(compare_args) => compare::compare(&compare_args),
        args::Cmd::Replay {
            scenario,
            seed,
            timeline,
        } => replay(&scenario, seed, timeline.as_deref()),
        args::Cmd::Explore {
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
        args::Cmd::Bench {
            quick,
            json,
            jobs,
            only,
            kv_writers,
            kv_seconds,
        } => bench(quick, json, jobs, only, (kv_writers, kv_seconds)),
        args::Cmd::List { json } => {
            list(json, io::stdout().lock()).context("locksim list: writing stdout")
        }
        args::Cmd::Check {
            file,
            format,
            model,
            failed_cas,
            json,
            max_steps,
            timeout_secs,
        } => check(
            &file,
            format,
            model,
            failed_cas,
            json,
            max_steps,
            timeout_secs,
        ),
        args::Cmd::Ctl {
            backend,
            members,
            seed,
            history,
            grpc,
        } => ctl(backend, members, seed, history, grpc),
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
