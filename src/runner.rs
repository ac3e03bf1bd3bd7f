//! Runs a [`Scenario`] for one seed: builds the lock world from it, injects its fault plan,
//! checks the run, and says whether the verdict matches what the scenario expects.

use std::time::Duration;

use lock::{
    KvWorkload, LivenessVerdict, LockOptions, Run, Violation, ViolationKind, WorkloadConfig,
};
use serde::Serialize;
use sim::ap::{ApConfig, Topology};
use sim::check::{CheckResult, StaleRead, ZkCheck};
use sim::{ClusterConfig, Fault, FaultPlan, FaultSpan, MemberConfig, Record, ScheduledFault};

use crate::scenario::{Backend, Expect, ReadMode, Scenario};
use crate::verdict::{self, Kv, MutualExclusion};

/// The outcome of one run, as `locksim run --json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub scenario: String,
    pub seed: u64,
    /// `holds` or `violated`: mutual exclusion.
    pub verdict: verdict::MutualExclusion,
    /// `intact` or `corrupted`: the protected resource (fencing, lost updates).
    pub resource: verdict::Resource,
    pub expected: Expected,
    /// Whether verdict, resource and kv match `[expect]`.
    pub matches: bool,
    /// The KV history's linearizability: `linearizable`, `violated`, `unknown` (the search
    /// budget ran out; never counted as either) or `unchecked` (`--no-check`, or no etcd).
    pub kv: verdict::Kv,
    /// The checker's account of a violation, shortened for a terminal: the failing key, the
    /// last operations it could order, the state then, the operations it could not place.
    pub kv_detail: Option<String>,
    /// When `kv` is `violated`: every read that returned a value older than a write
    /// acknowledged before the read began (who, what, when, from which member).
    pub kv_stale_reads: Vec<StaleRead>,
    /// ZooKeeper runs: the zxid check of the whole history — every broken promise (writes out
    /// of real-time order, a session back in time, a sync'd read behind, a read from the
    /// future) and, for the `[kv]` register, every stale read without `sync`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zk_check: Option<ZkCheck>,
    pub violations: Vec<Violation>,
    /// Whether a client acquired within the bound once every fault was healed: `ok`, `stalled`
    /// (from–to), or `not_checked` and why.
    pub liveness: LivenessVerdict,
    /// Every fault of the run as an interval (`sim::ActiveFaults`): what the timeline shades.
    pub faults: Vec<FaultSpan>,
    pub history_digest: String,
    pub sim_ms: u64,
    /// Wall-clock time of the run; the only field that differs between replays.
    pub wall_ms: u64,
    pub acquisitions: u64,
    pub accepted_writes: u64,
    pub rejected_writes: u64,
    pub final_counter: u64,
    /// Client operations recorded in the history.
    pub ops: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Expected {
    pub mutual_exclusion: &'static str,
    pub resource: &'static str,
    pub kv: &'static str,
}

/// How to run: what to check beyond the lock checkers.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Check the run's KV history for linearizability (on by default: a non-linearizable etcd
    /// must never go unnoticed).
    pub check_kv: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { check_kv: true }
    }
}

/// A scenario the runner cannot run (as opposed to one whose verdict is unexpected).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Unsupported(String),
    #[error("seed {seed}: the simulation failed: {message}")]
    Simulation { seed: u64, message: String },
}

/// Everything one run produced: the outcome and the history it was judged on.
pub struct RunArtifacts {
    pub outcome: Outcome,
    pub records: Vec<Record>,
}

/// Runs `scenario` under `seed` with the default options. A panic inside the simulation is
/// caught and reported with its seed, never lost.
pub fn run(scenario: &Scenario, seed: u64) -> Result<RunArtifacts, RunError> {
    run_with(scenario, seed, RunOptions::default())
}

/// [`run`] with explicit options.
pub fn run_with(
    scenario: &Scenario,
    seed: u64,
    options: RunOptions,
) -> Result<RunArtifacts, RunError> {
    // Checked when a file is read; checked again for a scenario built in code.
    if let Some(algorithm) = scenario.lock.kind.builtin() {
        if !scenario.cluster.backend.takes(algorithm) {
            return Err(RunError::Unsupported(format!(
                "lock {algorithm} does not run on the {:?} backend",
                scenario.cluster.backend
            )));
        }
    }
    let started = std::time::Instant::now();
    let lock_run = build(scenario, seed);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let handle = lock_run.run_to_end()?;
        let records = handle.history().records();
        Ok::<_, sim::SimError>((handle.finish(), records))
    }));
    let (report, records) = match result {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            return Err(RunError::Simulation {
                seed,
                message: e.to_string(),
            })
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic with no message".into());
            return Err(RunError::Simulation {
                seed,
                message: format!("panicked: {message}"),
            });
        }
    };
    let violated = report.has(ViolationKind::MutualExclusion);
    let corrupted = report.violations.iter().any(|v| v.kind.is_resource());
    let zk_check =
        (options.check_kv && scenario.cluster.backend == Backend::Zk).then(|| check_zk(&records));
    let (kv, kv_detail) = if let Some(found) = &zk_check {
        zk_kv_verdict(found, scenario.kv.is_some())
    } else if options.check_kv && scenario.cluster.backend == Backend::Etcd {
        check_kv(&records)
    } else {
        (Kv::Unchecked, None)
    };
    let kv_stale_reads = if kv == Kv::Violated {
        sim::check::stale_reads(&records)
    } else {
        Vec::new()
    };
    let wall_ms = started.elapsed().as_millis() as u64;
    // A promise ZooKeeper broke is a fault of the simulation, whatever the scenario expects.
    let matches = zk_check.as_ref().is_none_or(ZkCheck::holds)
        && expect_matches(scenario.expect_mutual_exclusion, violated)
        && expect_matches(scenario.expect_resource, corrupted)
        && match kv {
            Kv::Unchecked | Kv::Unknown => true,
            Kv::Linearizable | Kv::Violated => {
                expect_matches(scenario.expect_kv, kv == Kv::Violated)
            }
        };
    let ops = records
        .iter()
        .filter(|r| matches!(r, Record::Op(_)))
        .count();
    Ok(RunArtifacts {
        outcome: Outcome {
            scenario: scenario.name.clone(),
            seed,
            verdict: if violated {
                MutualExclusion::Violated
            } else {
                MutualExclusion::Holds
            },
            resource: if corrupted {
                verdict::Resource::Corrupted
            } else {
                verdict::Resource::Intact
            },
            expected: Expected {
                mutual_exclusion: expect_name(
                    scenario.expect_mutual_exclusion,
                    "holds",
                    "violated",
                ),
                resource: expect_name(scenario.expect_resource, "intact", "corrupted"),
                kv: expect_name(scenario.expect_kv, "linearizable", "violated"),
            },
            matches,
            kv,
            kv_detail,
            kv_stale_reads,
            zk_check,
            violations: report.violations,
            liveness: report.liveness,
            faults: report.faults,
            history_digest: report.digest,
            sim_ms: report.elapsed_ms,
            wall_ms,
            acquisitions: report.acquisitions,
            accepted_writes: report.accepted_writes,
            rejected_writes: report.rejected_writes,
            final_counter: report.final_counter,
            ops,
        },
        records,
    })
}

/// Linearizability of the run's etcd operations. One thread: sweeps already use every core.
fn check_kv(records: &[Record]) -> (Kv, Option<String>) {
    use sim::check::{check_records, CheckOptions, Verdict};
    let options = CheckOptions {
        max_steps: Some(5_000_000),
        timeout: None,
        threads: 1,
    };
    let result = check_records(records, &options);
    match result.verdict {
        Verdict::Linearizable => (Kv::Linearizable, None),
        Verdict::NotLinearizable => (Kv::Violated, Some(short_report(&result, 5))),
        Verdict::Unknown => (Kv::Unknown, Some(result.to_string())),
    }
}

/// ZooKeeper's promises over the whole history (`sim::check::check_zk`); stale reads without
/// `sync` kept for the `[kv]` register only — the lock recipes read without `sync` by design
/// (a watch, not the read, tells them when to look again).
fn check_zk(records: &[Record]) -> ZkCheck {
    let mut found = sim::check::check_zk(records.iter().filter_map(|r| match r {
        Record::Op(op) => Some(op),
        _ => None,
    }));
    found.stale_local.retain(|f| f.path == lock::KV_PATH);
    found
}

/// The `kv` verdict of a ZooKeeper run: with a `[kv]` register, whether its history is
/// linearizable; without one, `violated` only for a broken promise (lock recipes' reads are
/// not meant to be linearizable, so there is nothing more to claim).
fn zk_kv_verdict(found: &ZkCheck, register: bool) -> (Kv, Option<String>) {
    if register && found.linearizable() {
        (Kv::Linearizable, None)
    } else if register || !found.holds() {
        (Kv::Violated, Some(found.summary()))
    } else {
        (Kv::Unchecked, None)
    }
}

/// The checker's report with only the last `shown` operations of the linearizable prefix: on a
/// run's history the prefix is hundreds of operations, and the ones just before the failure are
/// the ones that explain it (`locksim check` on the saved history prints it whole).
fn short_report(result: &CheckResult, shown: usize) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "NOT linearizable: {} operations in {} partitions, {} search steps",
        result.ops, result.partitions, result.steps
    );
    for note in &result.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if let Some(v) = &result.violation {
        let _ = writeln!(
            out,
            "smallest failing partition: {} ({} operations)",
            v.partition, v.partition_ops
        );
        let skip = v.prefix.len().saturating_sub(shown);
        let _ = writeln!(
            out,
            "the last {} of the {} operations it could linearize (#id process [invoked, returned ms]):",
            v.prefix.len() - skip,
            v.prefix.len()
        );
        for op in &v.prefix[skip..] {
            let _ = writeln!(out, "  {op}");
        }
        let _ = writeln!(out, "state after them: {}", v.state);
        let _ = writeln!(out, "operations that cannot be placed next:");
        for op in &v.unplaced {
            let _ = writeln!(out, "  {op}");
        }
    }
    out
}

fn expect_matches(expect: Expect, bad: bool) -> bool {
    match expect {
        Expect::Holds => !bad,
        Expect::Violated => bad,
        Expect::Any => true,
    }
}

fn expect_name(expect: Expect, good: &'static str, bad: &'static str) -> &'static str {
    match expect {
        Expect::Holds => good,
        Expect::Violated => bad,
        Expect::Any => "any",
    }
}

/// The lock world a scenario describes.
fn build(scenario: &Scenario, seed: u64) -> Run {
    let election = scenario.cluster.election_timeout;
    // The AP backends: `members` is the number of store nodes `r1..rN`; no etcd member runs.
    let ap = match scenario.cluster.backend {
        Backend::Etcd | Backend::Zk | Backend::Pg => None,
        backend => {
            let topology = if backend == Backend::Redis {
                Topology::Replicated {
                    replicas: scenario.cluster.members.saturating_sub(1),
                    sentinels: crate::scenario::SENTINELS,
                }
            } else {
                Topology::Independent {
                    nodes: scenario.cluster.members,
                }
            };
            let mut config = ApConfig {
                topology,
                ..ApConfig::default()
            };
            config.node.replication.lag = (
                scenario.cluster.replication_lag.min,
                scenario.cluster.replication_lag.max,
            );
            Some(config)
        }
    };
    let cluster = ClusterConfig {
        members: if scenario.cluster.backend == Backend::Pg && scenario.cluster.members > 1 {
            // The failover manager's DCS.
            crate::scenario::PATRONI_DCS
        } else if ap.is_some() || matches!(scenario.cluster.backend, Backend::Zk | Backend::Pg) {
            0
        } else {
            scenario.cluster.members
        },
        seed,
        member: MemberConfig {
            heartbeat_interval: election / 10,
            election_ticks: 10,
            read_mode: scenario.cluster.read_mode.member_read_mode(),
            ..MemberConfig::default()
        },
        latency_min: scenario.latency.min,
        latency_max: scenario.latency.max,
        tick: scenario.tick,
    };
    let workload = WorkloadConfig {
        clients: scenario.workload.clients,
        hold_min: scenario.workload.hold.min,
        hold_max: scenario.workload.hold.max,
        think_min: scenario.workload.think.min,
        think_max: scenario.workload.think.max,
        lock: LockOptions {
            ttl_secs: scenario.lock.ttl.as_secs() as i64,
            connection_listener: scenario.lock.connection_listener,
            ..LockOptions::default()
        },
        ..WorkloadConfig::default()
    };
    let mut plan = scenario.faults.clone();
    if scenario.loss > 0.0 {
        // Network loss for the whole run is a fault at time 0 that is never undone.
        plan.faults.insert(
            0,
            ScheduledFault {
                at: Duration::ZERO,
                fault: Fault::Loss {
                    rate: scenario.loss,
                    link: None,
                },
                duration: None,
            },
        );
    }
    let run = Run::new(scenario.lock.kind.clone());
    let run = match ap {
        Some(config) => run.ap(config),
        None => run,
    };
    let zk = scenario.cluster.backend == Backend::Zk;
    let run = if zk {
        run.zk(scenario.cluster.members, sim::zk::ZkConfig::default())
    } else {
        run
    };
    let run = if scenario.cluster.backend == Backend::Pg {
        run.pg(scenario.cluster.members, scenario.pg.clone())
            .patroni(scenario.patroni.clone())
    } else {
        run
    };
    let run = match &scenario.kv {
        Some(kv) => run.kv(KvWorkload {
            writers: kv.writers,
            readers: kv.readers,
            interval_min: kv.interval.min,
            interval_max: kv.interval.max,
            request_timeout: kv.request_timeout,
            serializable: scenario.cluster.read_mode == ReadMode::Serializable,
            sync: kv.sync,
        }),
        None => run,
    };
    // A hold in progress when everything heals runs its course before anyone else can
    // acquire: with holds longer than the default bound (10 s), liveness is judged after one.
    let hold_max = scenario.workload.hold.max;
    let run = if hold_max > Duration::from_secs(10) {
        let bound = hold_max + Duration::from_secs(10);
        run.heal_period(bound).liveness_bound(bound)
    } else {
        run
    };
    run.cluster(cluster)
        .workload(workload)
        .fencing(scenario.lock.fencing)
        .duration(scenario.duration)
        .fault_plan(FaultPlan {
            faults: plan.faults,
        })
}

/// A text timeline of the history around `[from_ms, to_ms]`: client operations (each in its
/// store's words, `SET lock "c1:8050:67" NX PX 10000 → OK`), lock events, resource writes,
/// faults and elections, one per line. Cluster events (faults, elections) are shown from 15 s
/// before, so the fault that led to a violation is on screen; the rest from 2 s before.
pub fn text_timeline(records: &[Record], from_ms: u64, to_ms: u64) -> String {
    timeline(records, from_ms, to_ms, true)
}

/// [`text_timeline`] with cluster events only (faults, elections, lease expiries): what explains
/// a stale read, without the lock clients' traffic around it.
pub fn cluster_timeline(records: &[Record], from_ms: u64, to_ms: u64) -> String {
    timeline(records, from_ms, to_ms, false)
}

fn timeline(records: &[Record], from_ms: u64, to_ms: u64, lock_events: bool) -> String {
    let mut out = String::new();
    for record in records {
        let (at, who, what) = match record {
            Record::App {
                at_ms,
                process,
                event,
            } if lock_events => (*at_ms, process.clone(), compact(event)),
            Record::App { .. } => continue,
            Record::Event { at_ms, event } => {
                let json = serde_json::to_value(event).unwrap_or_default();
                (*at_ms, "cluster".to_string(), compact(&json))
            }
            Record::Op(op) if lock_events => {
                let took = match op.return_ms {
                    Some(r) => format!(" ({} ms)", r - op.invoke_ms),
                    None => String::new(),
                };
                let node = op
                    .node
                    .as_ref()
                    .map(|n| format!(" [{n}]"))
                    .unwrap_or_default();
                (
                    op.invoke_ms,
                    op.process.clone(),
                    format!("{}{took}{node}", op.summary()),
                )
            }
            Record::Op(_) => continue,
        };
        let lead = if who == "cluster" { 15_000 } else { 2_000 };
        if at + lead < from_ms || at > to_ms.saturating_add(2_000) {
            continue;
        }
        out.push_str(&format!("{:>9.3}s  {who:<9} {what}\n", at as f64 / 1000.0));
    }
    out
}

fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) if map.len() == 1 => {
            let (k, v) = map.iter().next().expect("one entry");
            format!("{k} {}", compact(v))
        }
        other => other.to_string(),
    }
}
