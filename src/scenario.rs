//! Scenario files: a cluster, a lock, a workload, a fault plan and the expected verdict, in
//! TOML. This module reads and validates them; the runner executes them.
//!
//! Why so strict: a scenario that silently ignored a misspelt field would test something other
//! than what its author meant and still "pass". Every unknown field, wrong type, bad duration,
//! unknown host or impossible value is an error naming the file, the line and the field, and
//! saying what is allowed — like raft-rs's `Config::validate`, but for people.
//!
//! # Layout
//! * this file: [`load`], [`parse`] and [`resolve`] (a path or a bundled name), the entry points.
//! * `schema`: the validated [`Scenario`] and its parts ([`DurationRange`], [`Backend`],
//!   [`Expect`], [`ReadMode`], the specs), and [`ScenarioError`].
//! * `defaults`: the value of every optional field.
//! * `file`: the file as written — the serde sections, spans kept for errors.
//! * `validate`: `Validator`, the raw file → a [`Scenario`], every error naming file, line and
//!   field; durations through [`crate::duration`].
//! * `fault`: the `[[fault]]` tables and their targets, checked against the world's hosts.
//! * `hosts`: the hosts and roles of a world ([`hosts`], [`roles`]) and [`check_plan`], which
//!   the explorer's generated plans go through.
//! * `bundled`: [`BUNDLED`], the scenarios in `scenarios/`, compiled in.
//! * `locks`: [`Locks`], the lock kinds a file may name: the built-in ones and yours.
//! * `user`: [`Scenario::load`], [`Scenario::with_lock`], [`Scenario::run`] — a scenario as
//!   a user's `#[test]` holds it.

mod bundled;
pub mod defaults;
mod fault;
mod file;
mod hosts;
mod locks;
mod schema;
mod validate;

use std::path::Path;

#[cfg(feature = "grpc")]
pub use bundled::BUNDLED_GRPC;
pub use bundled::{bundled, BUNDLED};
pub use bundled::{BUNDLED_PG, BUNDLED_ZK};
pub use hosts::PATRONI_DCS;
pub use hosts::{check_plan, hosts, role_allowed, role_names, roles, store_hosts, SENTINELS};
pub use locks::Locks;
pub use schema::{
    Backend, ClusterSpec, DurationRange, Expect, KvSpec, LockSpec, ReadMode, Scenario,
    ScenarioError, WorkloadSpec,
};

use file::File;
use validate::Validator;

/// Reads and validates a scenario file (its lock one of the built-in kinds).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_with(path, &Locks::builtin())
}

/// [`load`], with `locks` the kinds `lock.kind` may name.
pub fn load_with(path: &Path, locks: &Locks) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 0,
        field: String::new(),
        message: format!("cannot read it: {e}"),
    })?;
    parse_with(&file, &text, locks)
}

/// Parses and validates scenario text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    parse_with(file, text, &Locks::builtin())
}

/// [`parse`], with `locks` the kinds `lock.kind` may name.
pub fn parse_with(file: &str, text: &str, locks: &Locks) -> Result<Scenario, ScenarioError> {
    let v = Validator { file, text, locks };
    let raw: File = toml::from_str(text).map_err(|e| v.toml_error(&e))?;
    v.scenario(raw)
}

/// The scenario file's duration syntax: [`crate::duration::parse`], re-exported at its old path.
pub use crate::duration::parse as parse_duration;

/// A scenario by path, or by the name of a bundled one (`put-lock-race`).
pub fn resolve(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    resolve_with(name_or_path, &Locks::builtin())
}

/// [`resolve`], with `locks` the kinds `lock.kind` may name.
pub fn resolve_with(name_or_path: &str, locks: &Locks) -> Result<Scenario, ScenarioError> {
    let path = Path::new(name_or_path);
    if path.exists() {
        return load_with(path, locks);
    }
    match bundled().find(|(name, _, _)| *name == name_or_path) {
        Some((_, text, file)) => parse_with(&file, text, locks),
        None => Err(ScenarioError {
            file: name_or_path.to_string(),
            line: 0,
            field: String::new(),
            message: format!(
                "no such file, and no bundled scenario of that name; bundled: {}",
                bundled().map(|(n, _, _)| n).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

mod user;

#[cfg(test)]
mod tests;
