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
    let cli = Cli::parse();
    match cli.command {
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
