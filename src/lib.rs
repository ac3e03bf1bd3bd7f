//! locksim: distributed locks on a simulated etcd, and the tools to poke at it.
//!
//! # Layout
//! * `bench`: `locksim bench` — speed factor, sweep throughput and memory, saturated KV ops/s
//!   and the raw raft-rs floor, in one run (BENCHMARKS.md).
//! * `check_cmd`: `locksim check FILE`: read a history in one of three formats, check it, map
//!   the verdict to the exit code.
//! * `compare`: `locksim compare` — every built-in lock × fault families (files in
//!   `scenarios/compare/`), fencing off and on, as a table, JSON and a heat-map page.
//! * `cli`: the command line ([`cli::main_with`]): `locksim`'s `main`, and yours with locks of
//!   your own.
//! * `ctl`: the `locksim ctl` shell — an etcdctl-like line parser ([`ctl::Command`]), a renderer
//!   that prints each result in `etcdctl -w json`'s shape, and [`ctl::run_shell`], which drives an
//!   [`ctl::Executor`] (the simulated cluster implements it).
//! * `duration`: the one duration syntax (`500ms`, `5s`, `2m`, `1h`) of scenario files and ctl
//!   lines, parsed with overflow checks and formatted back.
//! * `runner`: runs a scenario for one seed and judges it against its `[expect]`.
//! * `sweep`: many seeds in parallel, one simulation per thread.
//! * `explore`: property-based exploration — proptest strategies over fault plans, workloads and
//!   seeds, shrinking to a minimal plan, written back as a scenario TOML (`locksim explore`).
//! * `timeline`: the picture of a run — one self-contained HTML file ([`timeline::Timeline`]).
//! * `scenario`: scenario files (TOML) — read, validated, with errors naming file, line, field.
//! * `verdict`: the verdicts of a run as types (mutual exclusion, resource, KV history).

pub mod bench;
pub mod check_cmd;
pub mod cli;
pub mod compare;
pub mod ctl;
pub mod duration;
pub mod explore;
pub mod runner;
pub mod scenario;
pub mod sweep;
pub mod timeline;
pub mod verdict;

/// The README's Rust examples, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
