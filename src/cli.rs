//! The `locksim` subcommands' implementations, one file each; `main.rs` only parses the command
//! line and dispatches. Why not in the library: these print, read stdin and exit with the CLI's
//! codes; the library's functions return values and are what tests call.
//!
//! # Layout
//! * this file: what several subcommands share — exit 2 on bad input ([`bad_input`]), loading a
//!   scenario, running one seed, writing `--timeline`.
//! * `args`: the clap definitions ([`args::Cli`], [`args::Cmd`]) and their `--help` text.
//! * `run`: `locksim run` and `locksim replay` (one seed, text or JSON).
//! * `sweep`: `locksim sweep` (many seeds, a progress bar on a terminal) and `locksim report`
//!   (shards merged).
//! * `explore`: `locksim explore` (generated variants, shrinking).
//! * `bench`: `locksim bench`.
//! * `list`: `locksim list` (the bundled scenarios).
//! * `check`: `locksim check FILE`.
//! * `ctl`: `locksim ctl`.

pub mod args;
mod bench;
mod check;
mod ctl;
mod explore;
mod list;
mod run;
mod sweep;

use anyhow::Context;

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

/// A scenario by path or bundled name; exit 2 when it does not load.
pub fn load(scenario: &str) -> locksim::scenario::Scenario {
    locksim::scenario::resolve(scenario).unwrap_or_else(|e| bad_input(e))
}

/// Run options from `--no-check`.
pub fn options(no_check: bool) -> locksim::runner::RunOptions {
    locksim::runner::RunOptions {
        check_kv: !no_check,
    }
}

/// Runs one seed; exit 2 on a scenario the runner cannot run, 1 on a simulator bug (with the
/// replay command).
pub fn run_one(
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
pub fn write_timeline(
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
