//! The `locksim` binary: parse the command line, run, exit.

use std::io;

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
    /// An etcdctl-like shell into a simulated cluster: one command per stdin line, one
    /// `etcdctl -w json`-shaped line per command on stdout.
    Ctl {
        /// Cluster size.
        #[arg(long, default_value_t = 3)]
        members: u64,
        /// Seed of the simulation.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Ctl { members, seed } => {
            eprintln!("locksim ctl: members={members} seed={seed}");
            // The cluster work replaces this with `run_shell(…, &mut <its Executor>)`.
            locksim::ctl::run_unwired(io::stdin().lock(), io::stdout().lock())
                .context("locksim ctl: reading stdin or writing stdout")
        }
    }
}
