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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::List { json } => match list(json, io::stdout().lock()) {
            // `locksim list | head` closing the pipe early is not an error.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other.context("locksim list: writing stdout"),
        },
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

fn list(json: bool, mut out: impl io::Write) -> io::Result<()> {
    use locksim::scenario::{parse, BUNDLED};
    for (name, text) in BUNDLED {
        let scenario = parse(name, text).expect("bundled scenarios parse (tested)");
        // The first sentence is the one-line description.
        let summary: String = scenario.description.split_whitespace().collect::<Vec<_>>().join(" ");
        let summary = summary.split(". ").next().unwrap_or("").trim_end_matches('.');
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
