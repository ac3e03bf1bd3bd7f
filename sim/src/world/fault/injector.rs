//! `FaultInjector`: applies a [`FaultPlan`] between simulation steps — **where a fault reaches
//! a host**. Role targets are resolved when the fault fires, through the world's
//! [`RoleResolver`]s; a fault with a duration undoes itself later on exactly the hosts it hit.

use std::collections::BTreeSet;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::plan::{Fault, FaultError, FaultPlan, ScheduledFault, Target};
use super::roles::{RoleResolver, Roles};
use crate::world::link_faults::LinkRule;
use crate::world::sim::World;

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

/// Applies a [`FaultPlan`] to a [`World`] as simulated time passes.
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
        cluster: &mut World,
        roles: &[&dyn RoleResolver],
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
        cluster: &mut World,
        roles: &[&dyn RoleResolver],
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
        cluster: &mut World,
        roles: &[&dyn RoleResolver],
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
        cluster: &World,
        roles: &[&dyn RoleResolver],
        fault: &Fault,
    ) -> Result<Option<(Action, Option<Action>)>, String> {
        let sides = self.minority_majority(cluster, roles);
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

    fn minority_majority(
        &mut self,
        cluster: &World,
        roles: &[&dyn RoleResolver],
    ) -> (Vec<String>, Vec<String>) {
        let members = roles.members(cluster);
        // Saturating: a world with no consensus members (AP store only) has an empty minority.
        let size = members.len().saturating_sub(1) / 2;
        let leader = roles.leader(cluster);
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
    cluster: &'a World<'a>,
    roles: &'a [&'a dyn RoleResolver],
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
            Target::Leader => self.roles.leader(self.cluster).into_iter().collect(),
            Target::Follower => {
                let followers = self.roles.followers(self.cluster);
                followers.choose(self.rng).cloned().into_iter().collect()
            }
            Target::Minority => self.sides.0.clone(),
            Target::Majority => self.sides.1.clone(),
            Target::Holder => self.roles.holder(self.cluster).into_iter().collect(),
            Target::Primary => self.roles.primary(self.cluster).into_iter().collect(),
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

fn apply(cluster: &mut World, action: &Action) {
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
