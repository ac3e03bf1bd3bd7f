//! `locksim ctl`: start a simulated cluster and run the shell on stdin/stdout
//! ([`crate::ctl::run_shell`]); optionally write the history at the end.

use std::io;

use anyhow::Context;

use super::args::CtlBackend;

/// Runs the shell until stdin ends; `members` must be 1 to 7 (exit 2 otherwise; default 3, or 1
/// PostgreSQL server). `grpc`: every request through etcd-client over the members' gRPC API
/// (feature `grpc`; exit 2 without it). `Zk`: the zkCli-like shell into a ZooKeeper ensemble;
/// `Pg`: psql sessions into PostgreSQL servers.
pub fn ctl(
    backend: CtlBackend,
    members: Option<u64>,
    seed: u64,
    history: Option<std::path::PathBuf>,
    grpc: bool,
) -> anyhow::Result<()> {
    let members = members.unwrap_or(if backend == CtlBackend::Pg { 1 } else { 3 });
    if !(1..=7).contains(&members) {
        eprintln!(
            "locksim ctl: --members {members} is out of range; a cluster has 1 to 7 members (etcd runs 3 or 5)"
        );
        std::process::exit(2);
    }
    if grpc && backend != CtlBackend::Etcd {
        eprintln!(
            "locksim ctl: --grpc is etcd's API; the {} backend has its own protocol",
            if backend == CtlBackend::Zk {
                "zk"
            } else {
                "pg"
            }
        );
        std::process::exit(2);
    }
    if backend == CtlBackend::Pg {
        let mut shell = crate::ctl::pg::PgShell::new(members as usize, seed)
            .with_context(|| format!("locksim ctl: starting the servers (seed {seed})"))?;
        crate::ctl::pg::run_pg_shell(io::stdin().lock(), io::stdout().lock(), &mut shell)
            .context("locksim ctl: reading stdin or writing stdout")?;
        return write_history(history, shell.history_jsonl());
    }
    if backend == CtlBackend::Zk {
        if grpc {
            eprintln!("locksim ctl: --grpc is etcd's API; the zk backend has its own protocol");
            std::process::exit(2);
        }
        let mut shell = crate::ctl::zk::ZkShell::new(members as usize, seed)
            .with_context(|| format!("locksim ctl: starting the ensemble (seed {seed})"))?;
        crate::ctl::zk::run_zk_shell(io::stdin().lock(), io::stdout().lock(), &mut shell)
            .context("locksim ctl: reading stdin or writing stdout")?;
        return write_history(history, shell.history_jsonl());
    }
    if grpc && !cfg!(feature = "grpc") {
        eprintln!("locksim ctl: --grpc needs a locksim built with `--features grpc`");
        std::process::exit(2);
    }
    let mut executor = crate::ctl::SimExecutor::start(members as usize, seed, grpc)
        .with_context(|| format!("locksim ctl: starting the cluster (seed {seed})"))?;
    crate::ctl::run_shell(io::stdin().lock(), io::stdout().lock(), &mut executor)
        .context("locksim ctl: reading stdin or writing stdout")?;
    write_history(history, executor.history_jsonl())
}

fn write_history(path: Option<std::path::PathBuf>, jsonl: String) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(&path, jsonl)
            .with_context(|| format!("locksim ctl: writing the history to {}", path.display()))?;
    }
    Ok(())
}
