//! The `locksim` binary: parse the command line, run, exit. The subcommands live in `cli/`
//! (see `cli.rs` for the layout).

mod cli;

use std::io;

use anyhow::Context;
use clap::Parser;

use cli::args::{Cli, Cmd};

fn main() -> anyhow::Result<()> {
    // Die quietly when the reader of stdout goes away (`locksim replay … | head`), as command
    // line tools do, instead of panicking on the write.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    pin_mmap_threshold();
    match Cli::parse().command {
        Cmd::Run {
            scenario,
            seed,
            json,
            no_check,
            timeline,
        } => cli::run(
            &scenario,
            seed,
            json,
            cli::options(no_check),
            timeline.as_deref(),
        ),
        Cmd::Sweep {
            scenario,
            seeds,
            jobs,
            shard,
            json,
            jsonl,
            no_check,
        } => cli::sweep(
            &scenario,
            &seeds,
            jobs,
            shard.as_deref(),
            json,
            jsonl.as_deref(),
            cli::options(no_check),
        ),
        Cmd::Report { files, json } => cli::report(&files, json),
        Cmd::Replay {
            scenario,
            seed,
            timeline,
        } => cli::replay(&scenario, seed, timeline.as_deref()),
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
        } => cli::explore(
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
        } => cli::bench(quick, json, jobs, only, (kv_writers, kv_seconds)),
        Cmd::List { json } => {
            cli::list(json, io::stdout().lock()).context("locksim list: writing stdout")
        }
        Cmd::Check {
            file,
            format,
            model,
            failed_cas,
            json,
            max_steps,
            timeout_secs,
        } => cli::check(
            &file,
            format,
            model,
            failed_cas,
            json,
            max_steps,
            timeout_secs,
        ),
        Cmd::Ctl {
            members,
            seed,
            history,
        } => cli::ctl(members, seed, history),
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
