//! `FaultPlan`: faults scheduled in simulated time, aimed at hosts or at roles, and the
//! `FaultInjector` that applies them between simulation steps.
//!
//! One fault API serves scenario files, the property-based explorer and tests: a plan is plain
//! serde data (durations as `"5s"` strings), validated against the cluster's hosts before a run,
//! and executed deterministically. Role targets (`leader`, `follower`, `holder`, …) are resolved
//! when the fault fires, and a fault with a duration undoes itself later on exactly the hosts it
//! hit — `pause holder for 15s` resumes the client it paused, not whoever holds the lock then.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::etcd::cluster::{member_name, Cluster};
use crate::etcd::member::Role;
use crate::world::link_faults::LinkRule;

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
        groups: Vec<Vec<Target>>,
    },
    /// Cut only the direction `from` → `to`.
    PartitionOneway {
        from: Target,
        to: Target,
    },
    /// Repair every cut link.
    Heal,
    /// Cut one host (or role) off from every other host.
    Isolate {
        target: Target,
    },
    /// Kill the process; its disk survives. With `lose_unsynced`, a power loss: a member also
    /// loses the Raft writes it had not fsynced (see `MemberConfig::fsync_latency`).
    Crash {
        target: Target,
        #[serde(default)]
        lose_unsynced: bool,
    },
    Restart {
        target: Target,
    },
    Pause {
        target: Target,
    },
    Resume {
        target: Target,
    },
    /// Clock speed `rate` (2.0 = twice as fast) and/or a forward jump `offset`.
    Skew {
        target: Target,
        #[serde(default)]
        rate: Option<f64>,
        #[serde(default, with = "humantime_serde")]
        offset: Option<Duration>,
    },
    /// Drop each datagram with probability `rate`, on one link or everywhere.
    Loss {
        rate: f64,
        #[serde(default)]
        link: Option<(Target, Target)>,
    },
    /// Send each datagram twice with probability `rate`.
    Duplicate {
        rate: f64,
        #[serde(default)]
        link: Option<(Target, Target)>,
    },
    /// Message latency between `min` and `max`.
    Latency {
        #[serde(with = "humantime_serde")]
        min: Duration,
        #[serde(with = "humantime_serde")]
        max: Duration,
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
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    #[serde(flatten)]
    pub fault: Fault,
    #[serde(default, rename = "for", with = "humantime_serde")]
    pub duration: Option<Duration>,
}

/// An ordered list of scheduled faults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    #[serde(default, rename = "fault")]
    pub faults: Vec<ScheduledFault>,
}

/// A plan that cannot run, or a fault that could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("fault {index} ({kind} at {at:?}): {message}")]
pub struct FaultError {
    /// Position of the fault in the plan (0-based).
    pub index: usize,
    pub kind: &'static str,
    pub at: Duration,
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

/// A fault with its targets resolved to host names: what is applied, and what undoes it.
#[derive(Clone, Debug, PartialEq)]
enum Action {
    Partition(Vec<Vec<String>>),
    Unpartition(Vec<Vec<String>>),
    PartitionOneway(String, String),
    RepairOneway(String, String),
    Heal,
    Crash(Vec<String>, bool),
    Restart(Vec<String>),
    Pause(Vec<String>),
    Resume(Vec<String>),
    Skew(Vec<String>, Option<f64>, Option<Duration>),
    Link(Option<(String, String)>, LinkRule),
    Latency(Option<(String, String)>, Option<(Duration, Duration)>),
}

/// Resolves role targets the cluster cannot know about: `holder` (lock harness) and
/// `primary` (AP store).
pub trait RoleResolver {
    fn holder(&self) -> Option<String> {
        None
    }
    fn primary(&self) -> Option<String> {
        None
    }
}

/// No lock, no AP store.
pub struct NoRoles;
impl RoleResolver for NoRoles {}

/// Applies a [`FaultPlan`] to a [`Cluster`] as simulated time passes.
pub struct FaultInjector {
    plan: Vec<(usize, ScheduledFault)>,
    next: usize,
    /// Due faults whose role resolved to nobody yet, retried every call, in plan order.
    deferred: Vec<(usize, ScheduledFault)>,
    /// Inverses due, in (time, plan index) order.
    undo: Vec<(Duration, usize, Action)>,
    rng: ChaCha8Rng,
}

impl FaultInjector {
    /// `seed` drives the choices among equal candidates (which follower, which minority).
    pub fn new(plan: &FaultPlan, seed: u64) -> Self {
        let mut faults: Vec<(usize, ScheduledFault)> =
            plan.faults.iter().cloned().enumerate().collect();
        faults.sort_by_key(|(i, f)| (f.at, *i));
        Self {
            plan: faults,
            next: 0,
            deferred: Vec::new(),
            undo: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6661_756c_7473),
        }
    }

    /// Whether every fault and every inverse has been applied.
    pub fn is_done(&self) -> bool {
        self.next == self.plan.len() && self.undo.is_empty() && self.deferred.is_empty()
    }

    /// Apply every fault and inverse due at the cluster's current time.
    ///
    /// A fault aimed at a role that names nobody right now (no leader during an election,
    /// nobody holding the lock) waits for the first step at which it does: "pause the holder at
    /// 10 s" means the first moment from 10 s on that someone holds. Its `for` then counts from
    /// that moment.
    pub fn apply_due(
        &mut self,
        cluster: &mut Cluster,
        roles: &dyn RoleResolver,
    ) -> Result<(), FaultError> {
        let now = cluster.elapsed();
        for (index, fault) in std::mem::take(&mut self.deferred) {
            self.try_apply(cluster, roles, index, fault, now)?;
        }
        loop {
            let undo_due = self
                .undo
                .first()
                .map(|(at, ..)| *at <= now)
                .unwrap_or(false);
            let fault_due = self
                .plan
                .get(self.next)
                .map(|(_, f)| f.at <= now)
                .unwrap_or(false);
            if undo_due {
                let (_, _, action) = self.undo.remove(0);
                apply(cluster, &action);
            } else if fault_due {
                let (index, fault) = self.plan[self.next].clone();
                self.next += 1;
                self.try_apply(cluster, roles, index, fault, now)?;
            } else {
                return Ok(());
            }
        }
    }

    fn try_apply(
        &mut self,
        cluster: &mut Cluster,
        roles: &dyn RoleResolver,
        index: usize,
        fault: ScheduledFault,
        now: Duration,
    ) -> Result<(), FaultError> {
        match self.resolve(cluster, roles, &fault.fault) {
            Ok(Some((action, inverse))) => {
                apply(cluster, &action);
                if let (Some(d), Some(inverse)) = (fault.duration, inverse) {
                    let at = now.max(fault.at) + d;
                    let pos = self
                        .undo
                        .partition_point(|(t, i, _)| (*t, *i) <= (at, index));
                    self.undo.insert(pos, (at, index, inverse));
                }
                Ok(())
            }
            Ok(None) => {
                self.deferred.push((index, fault));
                Ok(())
            }
            Err(message) => Err(FaultError {
                index,
                kind: fault.fault.name(),
                at: fault.at,
                message,
            }),
        }
    }

    /// Faults still waiting for their role to name someone (see [`FaultInjector::apply_due`]).
    pub fn deferred(&self) -> usize {
        self.deferred.len()
    }

    /// Apply one fault now (an imperative call: `locksim ctl`, tests). Returns the hosts it hit;
    /// none when its role resolved to nobody.
    pub fn apply_now(
        &mut self,
        cluster: &mut Cluster,
        roles: &dyn RoleResolver,
        fault: &Fault,
    ) -> Result<Vec<String>, String> {
        match self.resolve(cluster, roles, fault)? {
            Some((action, _)) => {
                apply(cluster, &action);
                let mut hosts = action.hosts();
                if matches!(fault, Fault::Isolate { .. }) {
                    // The partition's first group is the isolated host; the rest is everyone.
                    hosts.truncate(1);
                }
                Ok(hosts)
            }
            None => Ok(Vec::new()),
        }
    }

    /// Resolve targets to hosts. `Ok(None)`: a role resolved to nobody.
    fn resolve(
        &mut self,
        cluster: &Cluster,
        roles: &dyn RoleResolver,
        fault: &Fault,
    ) -> Result<Option<(Action, Option<Action>)>, String> {
        let sides = self.minority_majority(cluster);
        let mut ctx = Resolve {
            cluster,
            roles,
            sides,
            rng: &mut self.rng,
        };
        let resolved = match fault {
            Fault::Partition { groups } => {
                let mut named = Vec::new();
                for group in groups {
                    let mut hosts = Vec::new();
                    for t in group {
                        hosts.extend(ctx.hosts(t)?);
                    }
                    if hosts.is_empty() {
                        return Ok(None);
                    }
                    named.push(hosts);
                }
                (
                    Action::Partition(named.clone()),
                    Some(Action::Unpartition(named)),
                )
            }
            Fault::Isolate { target } => {
                let Some(host) = ctx.one(target)? else {
                    return Ok(None);
                };
                let others: Vec<String> = cluster
                    .hosts()
                    .iter()
                    .filter(|h| **h != host)
                    .cloned()
                    .collect();
                let groups = vec![vec![host], others];
                (
                    Action::Partition(groups.clone()),
                    Some(Action::Unpartition(groups)),
                )
            }
            Fault::PartitionOneway { from, to } => {
                let (Some(a), Some(b)) = (ctx.one(from)?, ctx.one(to)?) else {
                    return Ok(None);
                };
                (
                    Action::PartitionOneway(a.clone(), b.clone()),
                    Some(Action::RepairOneway(a, b)),
                )
            }
            Fault::Heal => (Action::Heal, None),
            Fault::Crash {
                target,
                lose_unsynced,
            } => {
                let hosts = ctx.hosts(target)?;
                if let Some(h) = hosts.iter().find(|h| !cluster.is_restartable(h)) {
                    return Err(format!(
                        "{h} cannot be crashed: it runs as a one-shot client that could never restart"
                    ));
                }
                (
                    Action::Crash(hosts.clone(), *lose_unsynced),
                    Some(Action::Restart(hosts)),
                )
            }
            Fault::Restart { target } => {
                let hosts = ctx
                    .hosts(target)?
                    .into_iter()
                    .filter(|h| cluster.is_restartable(h))
                    .collect();
                (Action::Restart(hosts), None)
            }
            Fault::Pause { target } => {
                let hosts = ctx.hosts(target)?;
                (Action::Pause(hosts.clone()), Some(Action::Resume(hosts)))
            }
            Fault::Resume { target } => (Action::Resume(ctx.hosts(target)?), None),
            Fault::Skew {
                target,
                rate,
                offset,
            } => {
                let hosts = ctx.hosts(target)?;
                // The inverse restores the rate; a forward jump cannot be taken back.
                (
                    Action::Skew(hosts.clone(), *rate, *offset),
                    Some(Action::Skew(hosts, Some(1.0), None)),
                )
            }
            Fault::Loss { rate, link } | Fault::Duplicate { rate, link } => {
                let Some(link) = ctx.link(link)? else {
                    return Ok(None);
                };
                let rule = if matches!(fault, Fault::Loss { .. }) {
                    LinkRule {
                        loss_probability: *rate,
                        duplicate_probability: 0.0,
                    }
                } else {
                    LinkRule {
                        loss_probability: 0.0,
                        duplicate_probability: *rate,
                    }
                };
                (
                    Action::Link(link.clone(), rule),
                    Some(Action::Link(link, LinkRule::default())),
                )
            }
            Fault::Latency { min, max, link } => {
                let Some(link) = ctx.link(link)? else {
                    return Ok(None);
                };
                (
                    Action::Latency(link.clone(), Some((*min, *max))),
                    Some(Action::Latency(link, None)),
                )
            }
        };
        if resolved.0.hits_nobody() {
            return Ok(None);
        }
        Ok(Some(resolved))
    }

    fn minority_majority(&mut self, cluster: &Cluster) -> (Vec<String>, Vec<String>) {
        let members = cluster.member_names();
        // Saturating: a world with no etcd members (AP store only) has an empty minority.
        let size = members.len().saturating_sub(1) / 2;
        let leader = cluster.leader().map(|(id, _)| member_name(id));
        let mut rest: Vec<String> = members
            .iter()
            .filter(|m| Some(*m) != leader.as_ref())
            .cloned()
            .collect();
        rest.shuffle(&mut self.rng);
        let mut minority: Vec<String> = leader.into_iter().collect();
        while minority.len() < size {
            minority.push(rest.remove(0));
        }
        minority.sort();
        let majority = members
            .into_iter()
            .filter(|m| !minority.contains(m))
            .collect();
        (minority, majority)
    }
}

impl Action {
    /// The hosts the action touches, in order, without repeats.
    fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = match self {
            Action::Partition(g) | Action::Unpartition(g) => g.iter().flatten().cloned().collect(),
            Action::PartitionOneway(a, b) | Action::RepairOneway(a, b) => {
                vec![a.clone(), b.clone()]
            }
            Action::Heal => Vec::new(),
            Action::Crash(h, _) | Action::Restart(h) | Action::Pause(h) | Action::Resume(h) => {
                h.clone()
            }
            Action::Skew(h, ..) => h.clone(),
            Action::Link(l, _) | Action::Latency(l, _) => {
                l.iter().flat_map(|(a, b)| [a.clone(), b.clone()]).collect()
            }
        };
        let mut seen = BTreeSet::new();
        hosts.retain(|h| seen.insert(h.clone()));
        hosts
    }

    /// A host-targeted action whose targets resolved to no host.
    fn hits_nobody(&self) -> bool {
        match self {
            Action::Crash(h, _) | Action::Restart(h) | Action::Pause(h) | Action::Resume(h) => {
                h.is_empty()
            }
            Action::Skew(h, ..) => h.is_empty(),
            _ => false,
        }
    }
}

/// What target resolution needs, for one fault.
struct Resolve<'a> {
    cluster: &'a Cluster<'a>,
    roles: &'a dyn RoleResolver,
    /// (minority, majority), drawn once per fault so both name complementary sets.
    sides: (Vec<String>, Vec<String>),
    rng: &'a mut ChaCha8Rng,
}

impl Resolve<'_> {
    /// The hosts a target names now (possibly none, for a role nobody has).
    fn hosts(&mut self, target: &Target) -> Result<Vec<String>, String> {
        Ok(match target {
            Target::Host(h) if self.cluster.is_host(h) => vec![h.clone()],
            Target::Host(h) => return Err(format!("unknown host {h:?}")),
            Target::Leader => self
                .cluster
                .leader()
                .map(|(id, _)| member_name(id))
                .into_iter()
                .collect(),
            Target::Follower => {
                let followers: Vec<String> = self
                    .cluster
                    .status()
                    .iter()
                    .filter(|(_, s)| s.running && s.role != Role::Leader)
                    .map(|(id, _)| member_name(*id))
                    .collect();
                followers.choose(self.rng).cloned().into_iter().collect()
            }
            Target::Minority => self.sides.0.clone(),
            Target::Majority => self.sides.1.clone(),
            Target::Holder => self.roles.holder().into_iter().collect(),
            Target::Primary => self.roles.primary().into_iter().collect(),
        })
    }

    fn one(&mut self, target: &Target) -> Result<Option<String>, String> {
        Ok(self.hosts(target)?.into_iter().next())
    }

    /// `Ok(None)`: an end of the link resolved to nobody. `Ok(Some(None))`: every link.
    #[allow(clippy::type_complexity)]
    fn link(
        &mut self,
        link: &Option<(Target, Target)>,
    ) -> Result<Option<Option<(String, String)>>, String> {
        let Some((a, b)) = link else {
            return Ok(Some(None));
        };
        Ok(match (self.one(a)?, self.one(b)?) {
            (Some(a), Some(b)) => Some(Some((a, b))),
            _ => None,
        })
    }
}

fn apply(cluster: &mut Cluster, action: &Action) {
    match action {
        Action::Partition(groups) => cluster.partition(groups),
        Action::Unpartition(groups) => cluster.unpartition(groups),
        Action::PartitionOneway(a, b) => cluster.partition_oneway(a, b),
        Action::RepairOneway(a, b) => cluster.repair_oneway(a, b),
        Action::Heal => {
            cluster.heal();
        }
        Action::Crash(hosts, false) => hosts.iter().for_each(|h| cluster.crash(h)),
        Action::Crash(hosts, true) => hosts.iter().for_each(|h| cluster.crash_losing_unsynced(h)),
        Action::Restart(hosts) => hosts.iter().for_each(|h| cluster.restart(h)),
        Action::Pause(hosts) => hosts.iter().for_each(|h| cluster.pause(h)),
        Action::Resume(hosts) => hosts.iter().for_each(|h| cluster.resume(h)),
        Action::Skew(hosts, rate, offset) => {
            hosts.iter().for_each(|h| cluster.skew(h, *rate, *offset))
        }
        Action::Link(link, rule) => {
            cluster.set_link_rule(link.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), *rule)
        }
        Action::Latency(link, latency) => cluster.set_latency(
            link.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            *latency,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        ["n1", "n2", "n3", "c1"].map(String::from).to_vec()
    }

    fn at(secs: u64, fault: Fault, duration: Option<u64>) -> ScheduledFault {
        ScheduledFault {
            at: Duration::from_secs(secs),
            fault,
            duration: duration.map(Duration::from_secs),
        }
    }

    #[test]
    fn plan_round_trips_through_json_with_duration_strings() {
        let plan = FaultPlan {
            faults: vec![
                at(
                    10,
                    Fault::Pause {
                        target: Target::Holder,
                    },
                    Some(15),
                ),
                at(
                    12,
                    Fault::Skew {
                        target: Target::Host("n1".into()),
                        rate: Some(2.0),
                        offset: Some(Duration::from_millis(300)),
                    },
                    None,
                ),
                at(
                    20,
                    Fault::Partition {
                        groups: vec![vec![Target::Minority], vec![Target::Majority]],
                    },
                    Some(5),
                ),
            ],
        };
        let json = serde_json::to_string(&plan).unwrap();
        assert!(json.contains(r#""at":"10s""#), "{json}");
        assert!(json.contains(r#""for":"15s""#), "{json}");
        assert!(json.contains(r#""kind":"pause""#), "{json}");
        assert!(json.contains(r#""offset":"300ms""#), "{json}");
        let back: FaultPlan = serde_json::from_str(&json).unwrap();
        assert_eq!(back, plan);
    }

    #[test]
    fn validate_names_the_fault_and_says_what_is_allowed() {
        let bad =
            |faults: Vec<ScheduledFault>| FaultPlan { faults }.validate(&hosts(), 3).unwrap_err();

        let e = bad(vec![at(
            1,
            Fault::Crash {
                target: Target::Host("n9".into()),
                lose_unsynced: false,
            },
            None,
        )]);
        assert_eq!(e.index, 0);
        assert!(
            e.to_string()
                .contains(r#"unknown host "n9"; hosts are n1, n2, n3, c1"#),
            "{e}"
        );

        let e = bad(vec![at(1, Fault::Heal, None)]);
        assert!(e.message.contains("nothing to heal"), "{e}");

        let e = bad(vec![at(
            1,
            Fault::Resume {
                target: Target::Host("n1".into()),
            },
            Some(3),
        )]);
        assert!(e.message.contains("`for` is not allowed on resume"), "{e}");

        let e = bad(vec![at(
            1,
            Fault::Restart {
                target: Target::Host("n2".into()),
            },
            None,
        )]);
        assert!(e.message.contains("not crashed"), "{e}");

        let e = bad(vec![at(
            1,
            Fault::Loss {
                rate: 1.5,
                link: None,
            },
            Some(1),
        )]);
        assert!(e.message.contains("not a probability"), "{e}");

        let e = bad(vec![at(
            1,
            Fault::Skew {
                target: Target::Leader,
                rate: Some(0.0),
                offset: None,
            },
            None,
        )]);
        assert!(e.message.contains("must be > 0"), "{e}");

        // A partition whose `for` ran out leaves nothing to heal.
        let e = bad(vec![
            at(
                1,
                Fault::Isolate {
                    target: Target::Leader,
                },
                Some(2),
            ),
            at(5, Fault::Heal, None),
        ]);
        assert_eq!(e.index, 1, "{e}");
    }

    #[test]
    fn validate_accepts_paired_verbs_in_time_order() {
        let plan = FaultPlan {
            faults: vec![
                at(
                    8,
                    Fault::Restart {
                        target: Target::Host("n1".into()),
                    },
                    None,
                ),
                at(
                    2,
                    Fault::Crash {
                        target: Target::Host("n1".into()),
                        lose_unsynced: false,
                    },
                    None,
                ),
                at(
                    3,
                    Fault::Partition {
                        groups: vec![
                            vec![Target::Host("n2".into())],
                            vec![Target::Host("n3".into())],
                        ],
                    },
                    None,
                ),
                at(4, Fault::Heal, None),
                at(
                    5,
                    Fault::Pause {
                        target: Target::Host("c1".into()),
                    },
                    Some(1),
                ),
            ],
        };
        plan.validate(&hosts(), 3).unwrap();
    }
}
