//! The fault plan as data: whom a fault hits ([`Target`]), what it does ([`Fault`]), when and
//! for how long ([`ScheduledFault`]), and the plan's check against a world's hosts before a run
//! ([`FaultPlan::validate`]).

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Who a fault hits. Roles are resolved at injection time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// A host by name: `n1`, `c2`, `resource`, …
    Host(String),
    /// The current Raft leader.
    Leader,
    /// One running non-leader member, chosen by the plan's seeded RNG.
    Follower,
    /// ⌊(n−1)/2⌋ members, the leader among them when there is one.
    Minority,
    /// The members not in `minority` (resolved together with it).
    Majority,
    /// The client that currently believes it holds the lock (resolved by the lock harness).
    Holder,
    /// The AP store's primary (resolved by the AP harness).
    Primary,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Host(h) => write!(f, "{h}"),
            Target::Leader => write!(f, "leader"),
            Target::Follower => write!(f, "follower"),
            Target::Minority => write!(f, "minority"),
            Target::Majority => write!(f, "majority"),
            Target::Holder => write!(f, "holder"),
            Target::Primary => write!(f, "primary"),
        }
    }
}

impl Target {
    /// Parse a host name or role name, as scenario files and the CLI spell them.
    pub fn parse(text: &str) -> Target {
        match text {
            "leader" => Target::Leader,
            "follower" => Target::Follower,
            "minority" => Target::Minority,
            "majority" => Target::Majority,
            "holder" => Target::Holder,
            "primary" => Target::Primary,
            host => Target::Host(host.to_string()),
        }
    }
}

/// One fault. Verbs come in pairs where an inverse exists: partition/heal, crash/restart,
/// pause/resume; `skew`, `loss`, `duplicate` and `latency` are undone by their duration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// Cut every link between hosts of different groups.
    Partition {
        /// The sides, at least two; each target resolves to its hosts at injection. Hosts in no
        /// group keep their links.
        groups: Vec<Vec<Target>>,
    },
    /// Cut only the direction `from` → `to`.
    PartitionOneway {
        /// The sender whose datagrams stop reaching `to`.
        from: Target,
        /// The receiver that stops hearing `from` (it can still send to `from`).
        to: Target,
    },
    /// Repair every cut link.
    Heal,
    /// Cut one host (or role) off from every other host.
    Isolate {
        /// The host, or a role resolving to one host, to cut off.
        target: Target,
    },
    /// Kill the process; its disk survives. With `lose_unsynced`, a power loss: a member also
    /// loses the Raft writes it had not fsynced (see `MemberConfig::fsync_latency`).
    Crash {
        /// The host(s) to crash; one-shot clients cannot be crashed.
        target: Target,
        /// Crash as a power loss: unsynced writes are lost too.
        #[serde(default)]
        lose_unsynced: bool,
    },
    /// Restart crashed hosts from their disks (the inverse of [`Fault::Crash`]); hosts that cannot
    /// restart are skipped.
    Restart {
        /// The host(s) to restart.
        target: Target,
    },
    /// Stop the process: it runs nothing while datagrams queue for it and every clock runs on
    /// (a GC pause). Undone by [`Fault::Resume`] or its `for`.
    Pause {
        /// The host(s) to pause.
        target: Target,
    },
    /// Let paused hosts run again (the inverse of [`Fault::Pause`]).
    Resume {
        /// The host(s) to resume.
        target: Target,
    },
    /// Clock speed `rate` (2.0 = twice as fast) and/or a forward jump `offset`.
    Skew {
        /// The host(s) whose clock is skewed.
        target: Target,
        /// Local seconds per simulated second, > 0 (2.0: twice as fast); `None`: unchanged. Its
        /// `for` restores 1.0.
        #[serde(default)]
        rate: Option<f64>,
        /// A forward jump of local time, at once; never undone (`for` only restores the rate).
        #[serde(default, with = "humantime_serde")]
        offset: Option<Duration>,
    },
    /// Drop each datagram with probability `rate`, on one link or everywhere.
    Loss {
        /// Probability in `[0, 1]` that a datagram is dropped.
        rate: f64,
        /// The link, both directions; `None`: every link without a rule of its own.
        #[serde(default)]
        link: Option<(Target, Target)>,
    },
    /// Send each datagram twice with probability `rate`.
    Duplicate {
        /// Probability in `[0, 1]` that a datagram is sent twice.
        rate: f64,
        /// The link, both directions; `None`: every link without a rule of its own.
        #[serde(default)]
        link: Option<(Target, Target)>,
    },
    /// Message latency between `min` and `max`.
    Latency {
        /// Least one-way latency (raised to one tick); at most `max`.
        #[serde(with = "humantime_serde")]
        min: Duration,
        /// Greatest one-way latency.
        #[serde(with = "humantime_serde")]
        max: Duration,
        /// The link, both directions; `None`: every link. Its `for` restores the configured
        /// latency.
        #[serde(default)]
        link: Option<(Target, Target)>,
    },
}

impl Fault {
    /// The name used in scenario files and the CLI.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "partition",
            Fault::PartitionOneway { .. } => "partition-oneway",
            Fault::Heal => "heal",
            Fault::Isolate { .. } => "isolate",
            Fault::Crash { .. } => "crash",
            Fault::Restart { .. } => "restart",
            Fault::Pause { .. } => "pause",
            Fault::Resume { .. } => "resume",
            Fault::Skew { .. } => "skew",
            Fault::Loss { .. } => "loss",
            Fault::Duplicate { .. } => "duplicate",
            Fault::Latency { .. } => "latency",
        }
    }

    /// Whether the fault can be given a duration (has an inverse).
    pub fn has_inverse(&self) -> bool {
        !matches!(
            self,
            Fault::Heal | Fault::Restart { .. } | Fault::Resume { .. }
        )
    }

    /// Every target the fault names (a link's two ends, each partition group's members).
    pub fn targets(&self) -> Vec<&Target> {
        match self {
            Fault::Partition { groups } => groups.iter().flatten().collect(),
            Fault::PartitionOneway { from, to } => vec![from, to],
            Fault::Heal => vec![],
            Fault::Isolate { target }
            | Fault::Crash { target, .. }
            | Fault::Restart { target }
            | Fault::Pause { target }
            | Fault::Resume { target }
            | Fault::Skew { target, .. } => vec![target],
            Fault::Loss { link, .. }
            | Fault::Duplicate { link, .. }
            | Fault::Latency { link, .. } => link.iter().flat_map(|(a, b)| [a, b]).collect(),
        }
    }
}

/// A fault at a time, optionally undone after `duration`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduledFault {
    /// When to inject it: simulated time since the start of the run.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// What to do.
    #[serde(flatten)]
    pub fault: Fault,
    /// How long until the fault's inverse is applied (scenario files spell it `for`); `None`:
    /// never. Only faults with an inverse take one, and it must be above zero.
    #[serde(default, rename = "for", with = "humantime_serde")]
    pub duration: Option<Duration>,
}

/// An ordered list of scheduled faults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// The faults, in the order written (scenario files name each `[[fault]]`); they run in order
    /// of `at`.
    #[serde(default, rename = "fault")]
    pub faults: Vec<ScheduledFault>,
}

/// A plan that cannot run, or a fault that could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("fault {index} ({kind} at {at:?}): {message}")]
pub struct FaultError {
    /// Position of the fault in the plan (0-based).
    pub index: usize,
    /// The fault's name, as [`Fault::name`] gives it.
    pub kind: &'static str,
    /// When the fault is scheduled, since the start of the run.
    pub at: Duration,
    /// What is wrong.
    pub message: String,
}

impl FaultPlan {
    /// Check the plan against the hosts a run will have, before it runs: unknown hosts, a
    /// duration on a fault without an inverse, bad rates, a heal with nothing to heal, a
    /// restart or resume of a host that is not down or paused at that time.
    pub fn validate(&self, hosts: &[String], members: usize) -> Result<(), FaultError> {
        // Replay the plan's effect on explicitly named hosts, in time order.
        let mut order: Vec<usize> = (0..self.faults.len()).collect();
        order.sort_by_key(|&i| (self.faults[i].at, i));
        let mut cut_until: Vec<Duration> = Vec::new();
        let mut crashed: BTreeSet<String> = BTreeSet::new();
        let mut paused: BTreeSet<String> = BTreeSet::new();
        let mut events: Vec<(Duration, usize, bool)> = order
            .iter()
            .map(|&i| (self.faults[i].at, i, false))
            .collect();
        for &i in &order {
            if let Some(d) = self.faults[i].duration {
                events.push((self.faults[i].at + d, i, true));
            }
        }
        events.sort();
        for &(at, i, undo) in &events {
            let f = &self.faults[i];
            let err = |message: String| FaultError {
                index: i,
                kind: f.fault.name(),
                at: f.at,
                message,
            };
            if !undo {
                for target in f.fault.targets() {
                    match target {
                        Target::Host(h) if !hosts.contains(h) => {
                            return Err(err(format!(
                                "unknown host {h:?}; hosts are {}, or a role: leader, follower, minority, majority, holder, primary",
                                hosts.join(", ")
                            )))
                        }
                        Target::Minority | Target::Majority if members < 3 => {
                            return Err(err(format!("{target} needs at least 3 members, the cluster has {members}")))
                        }
                        _ => {}
                    }
                }
                if f.duration.is_some() && !f.fault.has_inverse() {
                    return Err(err(format!(
                        "`for` is not allowed on {}: it has no inverse (it is itself an inverse)",
                        f.fault.name()
                    )));
                }
                if f.duration == Some(Duration::ZERO) {
                    return Err(err("`for` must be longer than 0".into()));
                }
                match &f.fault {
                    Fault::Loss { rate, .. } | Fault::Duplicate { rate, .. }
                        if !(0.0..=1.0).contains(rate) =>
                    {
                        return Err(err(format!(
                            "rate {rate} is not a probability; use 0.0 to 1.0"
                        )))
                    }
                    Fault::Skew {
                        rate: Some(rate), ..
                    } if !(rate.is_finite() && *rate > 0.0) => {
                        return Err(err(format!(
                            "clock rate {rate} must be > 0 (1.0 = real time, 2.0 = twice as fast)"
                        )))
                    }
                    Fault::Skew {
                        rate: None,
                        offset: None,
                        ..
                    } => return Err(err("skew needs `rate` and/or `offset`".into())),
                    Fault::Latency { min, max, .. } if min > max => {
                        return Err(err(format!("latency min {min:?} is above max {max:?}")))
                    }
                    Fault::Partition { groups } if groups.len() < 2 => {
                        return Err(err("a partition needs at least two groups".into()))
                    }
                    _ => {}
                }
            }
            cut_until.retain(|&until| until > at);
            match (&f.fault, undo) {
                (
                    Fault::Partition { .. } | Fault::PartitionOneway { .. } | Fault::Isolate { .. },
                    false,
                ) => {
                    cut_until.push(f.duration.map(|d| f.at + d).unwrap_or(Duration::MAX));
                }
                (Fault::Heal, _) => {
                    if cut_until.is_empty() {
                        return Err(err_at(
                            i,
                            f,
                            "heal with nothing to heal: no partition is in place at that time",
                        ));
                    }
                    cut_until.clear();
                }
                (
                    Fault::Crash {
                        target: Target::Host(h),
                        ..
                    },
                    false,
                ) => {
                    crashed.insert(h.clone());
                }
                (
                    Fault::Crash {
                        target: Target::Host(h),
                        ..
                    },
                    true,
                )
                | (
                    Fault::Restart {
                        target: Target::Host(h),
                    },
                    _,
                    // The guard's `remove` is the bookkeeping: a restart (or the crash's own
                    // `for` running out) brings the host back; only a restart of a host that is
                    // up is an error.
                ) if !crashed.remove(h) && !undo => {
                    return Err(err_at(
                        i,
                        f,
                        &format!("restart of {h}, which is not crashed at that time"),
                    ));
                }
                (
                    Fault::Pause {
                        target: Target::Host(h),
                    },
                    false,
                ) => {
                    paused.insert(h.clone());
                }
                (
                    Fault::Pause {
                        target: Target::Host(h),
                    },
                    true,
                )
                | (
                    Fault::Resume {
                        target: Target::Host(h),
                    },
                    _,
                ) if !paused.remove(h) && !undo => {
                    return Err(err_at(
                        i,
                        f,
                        &format!("resume of {h}, which is not paused at that time"),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn err_at(index: usize, f: &ScheduledFault, message: &str) -> FaultError {
    FaultError {
        index,
        kind: f.fault.name(),
        at: f.at,
        message: message.to_string(),
    }
}
