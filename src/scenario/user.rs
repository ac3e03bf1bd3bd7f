//! A scenario as a user's `#[test]` holds it: load a bundled story or a file, put your own lock
//! in it, run a seed.

use lock::{LockAlgorithm, LockContext, LockKind};

use super::{resolve, Scenario, ScenarioError};
use crate::runner::{self, RunArtifacts, RunError};

impl Scenario {
    /// A scenario file by path, or a bundled story by name (`pause-no-fencing`). Its lock is
    /// one of the built-in kinds; [`Scenario::with_lock`] replaces it with yours.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        resolve(name_or_path)
    }

    /// The same scenario with your lock, called `name` (in reports, the history and the TOML a
    /// failing case prints) and built by `factory` in each client's context. Everything else —
    /// cluster, workload, fencing, faults (the `holder` role included), healed phase,
    /// `[expect]` — stays.
    pub fn with_lock<L, F>(mut self, name: &str, factory: F) -> Scenario
    where
        L: LockAlgorithm + 'static,
        F: Fn(LockContext) -> L + Send + Sync + 'static,
    {
        self.lock.kind = LockKind::new(name, factory);
        self
    }

    /// Runs it under `seed`: the outcome (verdicts, violations, digest) and the history.
    pub fn run(&self, seed: u64) -> Result<RunArtifacts, RunError> {
        runner::run(self, seed)
    }
}
