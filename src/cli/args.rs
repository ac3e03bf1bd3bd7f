//! The command line: `locksim`'s subcommands and their flags (clap derive). The doc comments
//! here are the `--help` text.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "locksim", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Run a scenario for one seed: verdict, violations, a timeline around the first one.
    /// Exit 0 when the verdict matches the scenario's `[expect]`, 1 when not, 2 on bad input.
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
        /// Also write one JSON line per seed (verdicts, digest, first violation, wall ms) to
        /// this file, for `locksim report` to merge shards.
        #[arg(long)]
        jsonl: Option<std::path::PathBuf>,
        /// Skip the linearizability check of each run's KV history.
        #[arg(long)]
        no_check: bool,
    },
    /// Every built-in lock on its store × fault families (scenarios/compare/*.toml, and
    /// --family files), fencing off and on, over many seeds: a table, JSON, and a heat-map page
    /// with the picture of each cell's first breaking seed. Writes DIR/cells/*.toml (each cell as
    /// a scenario file, for the printed `locksim run` commands), DIR/compare.json,
    /// DIR/compare.html and DIR/timelines/.
    Compare(CompareArgs),
    /// Merge the `sweep --jsonl` files of shards (from `--shard I/N` runs, on one machine or
    /// many) into the summary `sweep` prints; exact, but for wall time (the seeds' total).
    Report {
        /// The JSON-lines files, one per shard.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
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
        only: Vec<crate::bench::Row>,
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
    /// An etcdctl-like shell into a simulated cluster (or, with `--backend zk`, a zkCli-like
    /// shell into a ZooKeeper ensemble; with `--backend pg`, psql sessions into PostgreSQL
    /// servers): one command per stdin line, one JSON line per command on stdout.
    Ctl {
        /// The store: `etcd` (etcdctl's verbs and `-w json` shapes), `zk` (zkCli's verbs:
        /// create, ls, get, set, delete, stat, sync, close, connect) or `pg` (psql sessions:
        /// `A: select * from locks where id = 1 for update;`).
        #[arg(long, value_enum, default_value_t = CtlBackend::Etcd)]
        backend: CtlBackend,
        /// Cluster (ensemble) size; for `pg` the number of servers (default 1).
        #[arg(long)]
        members: Option<u64>,
        /// Seed of the simulation.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write the run's history (JSON lines, with simulated timings) to this file at the end.
        #[arg(long)]
        history: Option<std::path::PathBuf>,
        /// Send every request through etcd-client over the members' gRPC API (a locksim built
        /// with `--features grpc`).
        #[arg(long)]
        grpc: bool,
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
        /// What a register history's `:fail :cas` means: `observed` (the compare ran and found
        /// another value: Porcupine's reading, the default for jepsen-log) or `not-applied`
        /// (dropped, Jepsen's `:fail`: the default for edn).
        #[arg(long, value_enum)]
        failed_cas: Option<FailedCasArg>,
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

/// The store behind `locksim ctl`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CtlBackend {
    /// A simulated etcd cluster (members n1..nN).
    Etcd,
    /// A simulated ZooKeeper ensemble (servers z1..zN).
    Zk,
    /// Simulated PostgreSQL servers (p1 the primary): psql sessions, `S: statement`.
    Pg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Jsonl,
    JepsenLog,
    Edn,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FailedCasArg {
    Observed,
    NotApplied,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ModelArg {
    Register,
    Kv,
    KvAppend,
}

/// `locksim compare`'s flags (see [`Cmd::Compare`]).
#[derive(clap::Args)]
pub struct CompareArgs {
    /// Seeds A..B (B excluded), run in every cell.
    #[arg(long, default_value = "0..20")]
    pub seeds: String,
    /// Threads (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only every N-th seed from the I-th (0-based); needs --jsonl. Merge the shards'
    /// files with --merge.
    #[arg(long, requires = "jsonl")]
    pub shard: Option<String>,
    /// Also write one JSON line per cell and seed to this file.
    #[arg(long)]
    pub jsonl: Option<std::path::PathBuf>,
    /// Build the table from these --jsonl files (shards) instead of running.
    #[arg(long, num_args = 1.., conflicts_with_all = ["shard", "jsonl"])]
    pub merge: Vec<std::path::PathBuf>,
    /// The rows: lock kinds as NAME or NAME@BACKEND (default: every built-in kind on its
    /// store, then every lock of your own on etcd, for a locksim built with yours).
    #[arg(long = "lock", value_name = "NAME[@BACKEND]")]
    pub locks: Vec<String>,
    /// A fault family file of your own: one more column (format: scenarios/compare/*.toml).
    #[arg(long = "family", value_name = "FILE")]
    pub families: Vec<std::path::PathBuf>,
    /// Where the cells, the JSON, the page and the timelines go.
    #[arg(long, default_value = "locksim-compare", value_name = "DIR")]
    pub out: std::path::PathBuf,
    /// The page somewhere else than DIR/compare.html (its timelines go beside it).
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
    /// Print the comparison as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Skip the linearizability check of each run's KV history.
    #[arg(long)]
    pub no_check: bool,
}
