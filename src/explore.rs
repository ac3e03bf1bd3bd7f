//! Property-based exploration: random fault plans and workloads around a scenario, a property
//! every variant must keep, and proptest's shrinking down to a minimal plan a person can read,
//! handed back as a scenario TOML that `locksim run` reproduces.
//!
//! Hand-written scenarios find the bugs people already know; this finds the rest. It is the
//! VOPR idea (random faults, a checker, a seed) with proptest doing the search and the
//! shrinking, so the answer is not "seed 8812 fails" but "pause the holder at 2.3 s for 5.6 s".
//!
//! # Layout
//! * `strategy`: proptest strategies — [`fault_plan`], [`episode`], [`fault`], [`target`],
//!   [`workload`], [`seed`] — over a [`Space`] taken from the base scenario; and [`variants`],
//!   the whole-scenario strategy, here.
//! * `render`: [`scenario_toml`], a scenario written back as a file `locksim run` accepts.
//! * here: [`Vary`] (what may change), [`Property`] (what must hold), [`Variant`] (one
//!   generated scenario and seed), [`Explorer`] (builder) → [`Exploration`] (report), which is
//!   what `locksim explore` runs.
//! * `tests`: the unit tests of all three.
//!
//! # Your own property in a `#[test]`
//!
//! [`variants`] is a plain proptest strategy, so a test can use it with `proptest!` against
//! its own lock configuration and its own property ([`Variant::run`], then any assertion on
//! the outcome). The README's section "Exploring: `locksim explore`" has a complete example;
//! it is compiled and run as a doc test (`cargo test --doc`, via `ReadmeDoctests` in `lib.rs`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use proptest::prelude::*;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngSeed, TestCaseError, TestError, TestRunner,
};
use serde::Serialize;

use crate::runner::{self, Outcome, RunArtifacts, RunError};
use crate::scenario::{Expect, Scenario};

mod render;
mod strategy;

pub use render::{duration as format_duration, scenario_toml};
pub use strategy::{
    episode, fault, fault_plan, for_duration, groups, link, repair, seed, single_target, target,
    time, workload, FaultKind, FaultKinds, Space, STEP,
};

/// What a variant may change in its base scenario. Everything else (cluster, lock kind,
/// fencing, duration, network) stays as the scenario has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Vary {
    /// Replace the fault plan with a generated one.
    pub faults: bool,
    /// Clients, hold, think and the lock TTL.
    pub workload: bool,
    /// The simulation seed (else seed 1, `locksim run`'s default).
    pub seed: bool,
}

impl Vary {
    pub const ALL: Vary = Vary {
        faults: true,
        workload: true,
        seed: true,
    };
    pub const NOTHING: Vary = Vary {
        faults: false,
        workload: false,
        seed: false,
    };
}

impl FromStr for Vary {
    type Err = String;
    /// `faults,workload,seed` (any subset, comma-separated) or `all`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut vary = Vary::NOTHING;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "faults" => vary.faults = true,
                "workload" => vary.workload = true,
                "seed" => vary.seed = true,
                "all" => vary = Vary::ALL,
                other => {
                    return Err(format!(
                        "cannot vary {other:?}; allowed: faults, workload, seed (comma-separated), or all"
                    ))
                }
            }
        }
        if vary == Vary::NOTHING {
            return Err("nothing to vary; give one or more of faults, workload, seed".into());
        }
        Ok(vary)
    }
}

impl fmt::Display for Vary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<&str> = [
            (self.faults, "faults"),
            (self.workload, "workload"),
            (self.seed, "seed"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
        write!(f, "{}", parts.join(","))
    }
}

/// What every variant must keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Property {
    /// The safety claims of the scenario's own `[expect]`: `mutual_exclusion = "holds"` and
    /// `resource = "intact"` must survive every variant. An expectation of `violated`,
    /// `corrupted` or `any` is not checked — a random variant need not reproduce a violation.
    /// The default: a scenario that says "this is safe" is tested on exactly that claim.
    #[default]
    Expect,
    /// No mutual-exclusion, fencing or lost-update violation.
    Safety,
    /// No two clients believe they hold the lock at once.
    MutualExclusion,
    /// The protected resource never takes a stale write (no fencing or lost-update
    /// violation). What fencing promises even when a paused holder still believes.
    Resource,
}

impl FromStr for Property {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "expect" => Ok(Property::Expect),
            "safety" => Ok(Property::Safety),
            "mutual-exclusion" => Ok(Property::MutualExclusion),
            "resource" => Ok(Property::Resource),
            other => Err(format!(
                "unknown property {other:?}; allowed: expect, safety, mutual-exclusion, resource"
            )),
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Property::Expect => "expect",
            Property::Safety => "safety",
            Property::MutualExclusion => "mutual-exclusion",
            Property::Resource => "resource",
        })
    }
}

impl Property {
    /// (mutual exclusion must hold, resource must stay intact) for `scenario`.
    pub fn claims(&self, scenario: &Scenario) -> (bool, bool) {
        match self {
            Property::Expect => (
                scenario.expect_mutual_exclusion == Expect::Holds,
                scenario.expect_resource == Expect::Holds,
            ),
            Property::Safety => (true, true),
            Property::MutualExclusion => (true, false),
            Property::Resource => (false, true),
        }
    }

    /// `Err` with the first offending violation when `outcome` breaks the property (or the
    /// store broke its own promise: see below).
    pub fn check(&self, scenario: &Scenario, outcome: &Outcome) -> Result<(), String> {
        let (exclusion, resource) = self.claims(scenario);
        let broken = outcome.violations.iter().find(|v| {
            (exclusion && v.kind == lock::ViolationKind::MutualExclusion)
                || (resource && v.kind.is_resource())
        });
        // Whatever the property: a promise ZooKeeper broke, or a history the scenario claims
        // linearizable that is not, is a simulator bug in any variant.
        if let Some((kind, f)) = outcome.zk_check.as_ref().and_then(|z| z.broken().next()) {
            return Err(format!("ZooKeeper broke a promise ({kind}): {f}"));
        }
        if scenario.expect_kv == Expect::Holds && outcome.kv == crate::verdict::Kv::Violated {
            return Err(format!(
                "the KV history is not linearizable: {}",
                outcome.kv_detail.as_deref().unwrap_or("").trim_end()
            ));
        }
        match broken {
            None => Ok(()),
            Some(v) => Err(format!(
                "{:?}: {} (tokens {:?}) at {:.3}s..{:.3}s{}: {}",
                v.kind,
                v.clients.join(","),
                v.tokens,
                v.from_ms as f64 / 1000.0,
                v.to_ms as f64 / 1000.0,
                if v.faults.is_empty() {
                    String::new()
                } else {
                    format!(" during {}", v.faults.join(", "))
                },
                v.detail
            )),
        }
    }

    /// `scenario` with its `[expect]` replaced by this property's claims (`any` elsewhere),
    /// so `locksim run` exits 1 exactly when the property is broken. A `kv = "linearizable"`
    /// claim stays (a non-linearizable etcd is a simulator bug in any variant); `kv =
    /// "violated"` becomes `any`, since a variant need not reproduce the stale read.
    pub fn as_expectations(&self, scenario: &Scenario) -> Scenario {
        let (exclusion, resource) = self.claims(scenario);
        let claim = |on: bool| if on { Expect::Holds } else { Expect::Any };
        let kv = match scenario.expect_kv {
            Expect::Violated => Expect::Any,
            other => other,
        };
        Scenario {
            expect_mutual_exclusion: claim(exclusion),
            expect_resource: claim(resource),
            expect_kv: kv,
            ..scenario.clone()
        }
    }
}

/// One generated scenario and the seed to run it with.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub scenario: Scenario,
    pub seed: u64,
}

impl Variant {
    /// Runs it (one simulation, ~0.5–1 s in release).
    pub fn run(&self) -> Result<RunArtifacts, RunError> {
        runner::run(&self.scenario, self.seed)
    }

    /// The variant as a scenario file whose `[expect]` is `property`'s claims, with the
    /// command that reproduces it in a comment.
    pub fn to_toml(&self, property: Property) -> String {
        let scenario = property.as_expectations(&self.scenario);
        scenario_toml(&scenario, &self.reproduce(property))
    }

    /// Runs it and checks `property`, for a `proptest!` body: `Err` (proptest's failure, so it
    /// shrinks) with the broken property, the seed and the variant as a scenario file that
    /// `locksim run FILE --seed N` reproduces; `Ok` with the outcome otherwise. A simulation
    /// that fails (a panic in it included) fails the case too, with its seed.
    ///
    /// ```no_run
    /// use locksim::explore::{fault_plans, Property, Variant};
    /// use locksim::scenario::Scenario;
    /// use proptest::prelude::*;
    ///
    /// let base = Scenario::load("lease-txn-partition-safe").unwrap();
    /// proptest!(|(plan in fault_plans(&base))| {
    ///     let mut scenario = base.clone();
    ///     scenario.faults = plan;
    ///     Variant { scenario, seed: 1 }.check(Property::MutualExclusion)?;
    /// });
    /// ```
    pub fn check(&self, property: Property) -> Result<Outcome, TestCaseError> {
        let outcome = self
            .run()
            .map_err(|e| TestCaseError::fail(format!("seed {}: {e}", self.seed)))?
            .outcome;
        match property.check(&self.scenario, &outcome) {
            Ok(()) => Ok(outcome),
            Err(broken) => Err(TestCaseError::fail(format!(
                "property {property} broken, seed {seed}: {broken}\n\
                 faults:\n{faults}\n--- {name}.toml ---\n{toml}",
                seed = self.seed,
                faults = describe(&self.scenario.faults)
                    .iter()
                    .map(|f| format!("  - {f}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                name = self.scenario.name,
                toml = self.to_toml(property),
            ))),
        }
    }

    /// The comment a generated file opens with: where it came from and the command that runs it.
    fn reproduce(&self, property: Property) -> String {
        let kind = &self.scenario.lock.kind;
        // A kind `locksim` itself ships (the etcd-client ones with `--features grpc`) needs no
        // binary of the user's.
        let shipped = crate::scenario::Locks::builtin().get(kind.name()).is_some();
        let binary = if shipped {
            String::new()
        } else {
            format!(
                " with a locksim that knows lock {:?} (your binary calling \
                 locksim::cli::main_with: `cargo run --bin locksim -- run …`)",
                kind.name()
            )
        };
        format!(
            "Generated by `locksim explore` (property {property}).\n\
             Reproduce: save as {name}.toml, then `locksim run {name}.toml --seed {seed}`{binary};\n\
             it exits 1 while the property is broken.",
            name = self.scenario.name,
            seed = self.seed,
        )
    }
}

/// Fault plans over `scenario`'s world, for a `proptest!` of your own: every fault kind, aimed
/// at its store's hosts and roles (etcd: `n1..`, `leader`, `follower`, `minority`, `majority`;
/// redis: `r1..`, `s1..s3`, `primary`), its first two clients and `holder`, at times within its
/// duration. Shrinks toward fewer, earlier, shorter and simpler faults.
pub fn fault_plans(scenario: &Scenario) -> BoxedStrategy<sim::FaultPlan> {
    fault_plans_with(scenario, FaultKinds::ALL)
}

/// [`fault_plans`] drawing only from `kinds`.
pub fn fault_plans_with(scenario: &Scenario, kinds: FaultKinds) -> BoxedStrategy<sim::FaultPlan> {
    let space = Space {
        kinds,
        ..Space::of(scenario, scenario.workload.clients)
    };
    fault_plan(&space).boxed()
}

/// Variants of `base`, changing only what `vary` allows. Shrinks toward fewer, shorter,
/// simpler faults, fewer clients and a shorter TTL (see `strategy`). Generated plans use every
/// fault kind, aimed at the hosts and roles of the base's backend (etcd, redis or redlock).
pub fn variants(base: &Scenario, vary: Vary) -> BoxedStrategy<Variant> {
    variants_with(base, vary, FaultKinds::ALL)
}

/// [`variants`] whose generated plans draw only from `kinds`.
pub fn variants_with(base: &Scenario, vary: Vary, kinds: FaultKinds) -> BoxedStrategy<Variant> {
    // Clients named by the base plan must exist in every variant that keeps that plan.
    let named_clients = base
        .faults
        .faults
        .iter()
        .flat_map(|f| plan_hosts(&f.fault))
        .filter_map(|h| h.strip_prefix('c')?.parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    let stable_clients = if vary.workload {
        2.max(named_clients).min(base.workload.clients.max(2))
    } else {
        base.workload.clients
    };
    let space = Space {
        kinds,
        ..Space::of(base, stable_clients)
    };
    let faults = if vary.faults {
        fault_plan(&space).boxed()
    } else {
        Just(base.faults.clone()).boxed()
    };
    let workload = if vary.workload {
        workload(base)
            .prop_map(move |(mut w, ttl)| {
                w.clients = w.clients.max(stable_clients);
                (w, ttl)
            })
            .boxed()
    } else {
        Just((base.workload.clone(), base.lock.ttl)).boxed()
    };
    let seeds = if vary.seed {
        seed().boxed()
    } else {
        Just(1u64).boxed()
    };
    let base = base.clone();
    // Faults first: `Vec` shrinking (dropping faults) is what a reader cares most about, and
    // proptest shrinks a tuple's elements in order.
    (faults, workload, seeds)
        .prop_map(move |(faults, (workload, ttl), seed)| {
            let mut scenario = base.clone();
            scenario.faults = faults;
            scenario.workload = workload;
            scenario.lock.ttl = ttl;
            Variant { scenario, seed }
        })
        .boxed()
}

fn plan_hosts(fault: &sim::Fault) -> Vec<String> {
    let json = serde_json::to_value(fault).unwrap_or_default();
    let mut hosts = Vec::new();
    collect_hosts(&json, &mut hosts);
    hosts
}

fn collect_hosts(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k == "host" {
                    if let Some(h) = v.as_str() {
                        out.push(h.to_string());
                    }
                }
                collect_hosts(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_hosts(i, out)),
        _ => {}
    }
}

/// What an exploration reports as it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A generated (or persisted) case ran; `done` of `total`.
    Case { done: u32, total: u32 },
    /// A shrink step ran; `faults` in the candidate plan, `failing` whether it still fails.
    Shrink {
        step: u32,
        faults: usize,
        failing: bool,
    },
}

/// Why an exploration could not run (as opposed to finding a failing case).
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error("{0}")]
    Unsupported(String),
    #[error("the scenario's [expect] claims nothing that must hold (mutual_exclusion = \"holds\" or resource = \"intact\"), so property `expect` checks nothing; choose --property safety, mutual-exclusion or resource")]
    NothingToCheck,
    #[error("proptest aborted: {0}")]
    Aborted(String),
}

/// Builder for an exploration of one base scenario; [`Explorer::run`] runs it.
#[derive(Clone, Debug)]
pub struct Explorer {
    base: Scenario,
    vary: Vary,
    kinds: FaultKinds,
    property: Property,
    cases: u32,
    rng_seed: u64,
    max_shrink_iters: u32,
    regressions: Option<PathBuf>,
}

impl Explorer {
    /// Defaults: vary everything, every fault kind, property `expect`, 32 cases, exploration
    /// seed 0, at most 256 shrink steps, no regression file.
    pub fn new(base: Scenario) -> Self {
        Explorer {
            base,
            vary: Vary::ALL,
            kinds: FaultKinds::ALL,
            property: Property::Expect,
            cases: 32,
            rng_seed: 0,
            max_shrink_iters: 256,
            regressions: None,
        }
    }

    pub fn vary(mut self, vary: Vary) -> Self {
        self.vary = vary;
        self
    }

    /// The fault kinds generated plans draw from (when `vary` includes faults).
    pub fn fault_kinds(mut self, kinds: FaultKinds) -> Self {
        self.kinds = kinds;
        self
    }

    pub fn property(mut self, property: Property) -> Self {
        self.property = property;
        self
    }

    /// New cases to run (persisted failures re-run first and do not count).
    pub fn cases(mut self, cases: u32) -> Self {
        self.cases = cases;
        self
    }

    /// Seeds proptest's generator: the same seed explores the same variants in the same order.
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = seed;
        self
    }

    /// Each shrink step is one simulation; this bounds their number.
    pub fn max_shrink_iters(mut self, iters: u32) -> Self {
        self.max_shrink_iters = iters;
        self
    }

    /// A proptest regression file: its cases run first, and a new failure is appended to it.
    pub fn regressions(mut self, path: Option<PathBuf>) -> Self {
        self.regressions = path;
        self
    }

    /// The conventional regression file for a scenario, relative to the working directory.
    pub fn default_regressions(scenario: &Scenario) -> PathBuf {
        PathBuf::from(format!(
            "proptest-regressions/explore/{}.txt",
            scenario.name
        ))
    }

    /// Runs the cases; on the first failing one, shrinks it and re-runs the minimal variant.
    /// `progress` is called after every simulation.
    pub fn run(self, progress: &dyn Fn(Progress)) -> Result<Exploration, ExploreError> {
        if self.property.claims(&self.base) == (false, false) {
            return Err(ExploreError::NothingToCheck);
        }
        let started = std::time::Instant::now();
        let persisted = self
            .regressions
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|text| text.lines().filter(|l| l.starts_with("cc ")).count() as u32)
            .unwrap_or(0);
        let failure_persistence = self.regressions.as_ref().map(|p| {
            // proptest wants a `&'static str`; one small leak per exploration.
            let path: &'static str = Box::leak(p.display().to_string().into_boxed_str());
            Box::new(FileFailurePersistence::Direct(path))
                as Box<dyn proptest::test_runner::FailurePersistence>
        });
        let config = Config {
            cases: self.cases,
            max_shrink_iters: self.max_shrink_iters,
            failure_persistence,
            source_file: None,
            rng_seed: RngSeed::Fixed(self.rng_seed),
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let strategy = variants_with(&self.base, self.vary, self.kinds);
        let state = RefCell::new(State::default());
        let property = self.property;
        let result = runner.run(&strategy, |variant| {
            let key = format!("{variant:?}");
            let cached = state.borrow().memo.get(&key).cloned();
            let verdict = match cached {
                Some(v) => v,
                None => match variant.run() {
                    Ok(a) => property.check(&variant.scenario, &a.outcome),
                    Err(e) => Err(format!("the simulation failed (a bug): {e}")),
                },
            };
            let mut s = state.borrow_mut();
            s.memo.insert(key, verdict.clone());
            s.calls += 1;
            if s.first_failure.is_none() {
                s.cases += 1;
                progress(Progress::Case {
                    done: s.cases,
                    total: self.cases + persisted,
                });
                if verdict.is_err() {
                    s.first_failure = Some((s.calls, variant.scenario.faults.faults.len()));
                }
            } else {
                s.shrink_steps += 1;
                progress(Progress::Shrink {
                    step: s.shrink_steps,
                    faults: variant.scenario.faults.faults.len(),
                    failing: verdict.is_err(),
                });
            }
            verdict.map_err(TestCaseError::fail)
        });
        let s = state.into_inner();
        let mut exploration = Exploration {
            scenario: self.base.name.clone(),
            vary: self.vary.to_string(),
            faults: self.kinds.to_string(),
            property: self.property,
            rng_seed: self.rng_seed,
            cases_run: s.cases,
            failure: None,
            wall_ms: 0,
        };
        match result {
            Ok(()) => {}
            Err(TestError::Abort(reason)) => return Err(ExploreError::Aborted(reason.to_string())),
            Err(TestError::Fail(reason, mut minimal)) => {
                let (first_call, original_faults) = s.first_failure.unwrap_or((1, 0));
                minimal.scenario.name = format!("{}-shrunk", self.base.name);
                minimal.scenario.description = format!(
                    "A minimal variant of {} found by `locksim explore`: {}",
                    self.base.name, reason
                );
                let artifacts = minimal
                    .run()
                    .map_err(|e| ExploreError::Unsupported(e.to_string()))?;
                exploration.failure = Some(Failure {
                    seed: minimal.seed,
                    reason: reason.to_string(),
                    faults: minimal.scenario.faults.faults.len(),
                    original_faults,
                    shrink_steps: s.shrink_steps,
                    from_regressions: first_call <= persisted,
                    toml: minimal.to_toml(self.property),
                    outcome: artifacts.outcome,
                    variant: minimal,
                });
            }
        }
        exploration.wall_ms = started.elapsed().as_millis() as u64;
        Ok(exploration)
    }
}

#[derive(Default)]
struct State {
    calls: u32,
    cases: u32,
    shrink_steps: u32,
    /// (call number, faults) of the first failing case.
    first_failure: Option<(u32, usize)>,
    /// Shrinking revisits candidates (complicate, then simplify again); a run costs ~0.5 s.
    memo: BTreeMap<String, Result<(), String>>,
}

/// What an exploration found, as `locksim explore --json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Exploration {
    pub scenario: String,
    pub vary: String,
    /// The fault kinds plans were drawn from (`all`, or e.g. `crash,pause`).
    pub faults: String,
    pub property: Property,
    /// The exploration's own seed (proptest's generator), not a simulation seed.
    pub rng_seed: u64,
    /// Cases run before the first failure (all of them when none failed), persisted included.
    pub cases_run: u32,
    pub failure: Option<Failure>,
    pub wall_ms: u64,
}

/// The first failing case, shrunk.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The simulation seed of the minimal variant: `locksim run FILE --seed SEED`.
    pub seed: u64,
    /// The property's complaint about the minimal variant.
    pub reason: String,
    /// Faults in the minimal plan, and in the failing case before shrinking.
    pub faults: usize,
    pub original_faults: usize,
    pub shrink_steps: u32,
    /// Whether the failing case came from the regression file (re-run first).
    pub from_regressions: bool,
    /// The minimal variant as a scenario file.
    pub toml: String,
    /// The minimal variant's outcome, re-run once after shrinking.
    pub outcome: Outcome,
    #[serde(skip)]
    pub variant: Variant,
}

impl Exploration {
    /// What `locksim explore` prints without `--json`: the verdict, and on a failure the
    /// minimal plan as a scenario file with the command that reproduces it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let Some(f) = &self.failure else {
            out.push_str(&format!(
                "{}: {} cases, property {} held in every one ({:.1}s)\n",
                self.scenario,
                self.cases_run,
                self.property,
                self.wall_ms as f64 / 1000.0
            ));
            return out;
        };
        let origin = if f.from_regressions {
            "a case from the regression file".to_string()
        } else {
            format!("case {}", self.cases_run)
        };
        out.push_str(&format!(
            "{}: {origin} broke property {}; shrunk from {} to {} fault(s) in {} steps ({:.1}s)\n",
            self.scenario,
            self.property,
            f.original_faults,
            f.faults,
            f.shrink_steps,
            self.wall_ms as f64 / 1000.0
        ));
        out.push_str(&format!("  {}\n", f.reason));
        for line in describe(&f.variant.scenario.faults) {
            out.push_str(&format!("  - {line}\n"));
        }
        let name = &f.variant.scenario.name;
        out.push_str(&format!(
            "minimal scenario (save as {name}.toml, then `locksim run {name}.toml --seed {}`):\n\n",
            f.seed
        ));
        out.push_str(&f.toml);
        out
    }
}

/// Hosts and roles a plan names, for display: `pause holder`, `crash n2`.
pub fn describe(plan: &sim::FaultPlan) -> Vec<String> {
    plan.faults
        .iter()
        .map(|f| {
            let target = match &f.fault {
                sim::Fault::Pause { target }
                | sim::Fault::Resume { target }
                | sim::Fault::Crash { target, .. }
                | sim::Fault::Restart { target }
                | sim::Fault::Isolate { target }
                | sim::Fault::Skew { target, .. } => format!(" {target}"),
                _ => String::new(),
            };
            let until = f
                .duration
                .map(|d| format!(" for {}", format_duration(d)))
                .unwrap_or_default();
            format!(
                "{}{target} at {}{until}",
                f.fault.name(),
                format_duration(f.at)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
