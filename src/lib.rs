//! locksim: distributed locks on a simulated etcd, and the tools to poke at it.
//!
//! # Layout
//! * `ctl`: the `locksim ctl` shell — an etcdctl-like line parser ([`ctl::Command`]), a renderer
//!   that prints each result in `etcdctl -w json`'s shape, and [`ctl::run_shell`], which drives an
//!   [`ctl::Executor`] (the simulated cluster implements it).
//! * `runner`: runs a scenario for one seed and judges it against its `[expect]`.
//! * `sweep`: many seeds in parallel, one simulation per thread.
//! * `timeline`: the picture of a run — one self-contained HTML file ([`timeline::Timeline`]).
//! * `scenario`: scenario files (TOML) — read, validated, with errors naming file, line, field.

pub mod ctl;
pub mod runner;
pub mod scenario;
pub mod sweep;
pub mod timeline;
