//! proptest strategies for fault plans, workloads, seeds and whole scenario variants.
//!
//! Every strategy is ordered so that proptest's shrinking moves toward what a person reads most
//! easily: fewer faults (a plan is a `Vec` of episodes, and `Vec` shrinks by dropping
//! elements), earlier and shorter faults (times and `for` are integers of 100 ms that shrink
//! toward the lower bound), the simplest kind (`prop_oneof!` shrinks toward its first
//! alternative, so `pause` comes first and `holder` is the first target), fewer clients, and
//! the minimum TTL.
//!
//! Generated plans are always valid (`FaultPlan::validate` passes): an *episode* is one fault
//! that undoes itself (`for`), one that lasts to the end of the run (the runner heals
//! everything before its progress phase), or an explicit pair (`crash n2` … `restart n2`). A
//! pair's inverse can become invalid when episodes overlap (another episode's `heal` already
//! healed the cut); [`repair`] drops such faults instead of filtering the whole plan, because a
//! filter would make proptest reject shrunk plans rather than simplify them.

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::select;
use sim::{Fault, FaultPlan, ScheduledFault, Target};

use crate::scenario::{DurationRange, Scenario, WorkloadSpec};

/// Times and durations are generated in steps of this size.
pub const STEP: Duration = Duration::from_millis(100);

/// The bounds a generated plan lives in, taken from the base scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    /// Faults start in `[0, duration)`.
    pub duration: Duration,
    /// Cluster size: members are `n1..nM`; `minority`/`majority` need 3 or more.
    pub members: usize,
    /// Clients that exist in every variant, so faults may name them (`c1`, `c2`).
    pub clients: usize,
    /// Episodes per plan: 1 to this many (a pair counts once).
    pub max_faults: usize,
    /// The longest `for`.
    pub max_for: Duration,
}

impl Space {
    /// The space of a base scenario; `clients` is the smallest client count any variant has.
    pub fn of(scenario: &Scenario, clients: usize) -> Self {
        Space {
            duration: scenario.duration,
            members: scenario.cluster.members,
            clients,
            max_faults: 4,
            max_for: scenario.duration.min(Duration::from_secs(30)),
        }
    }

    fn member_hosts(&self) -> Vec<String> {
        (1..=self.members).map(|i| format!("n{i}")).collect()
    }

    fn named_hosts(&self) -> Vec<String> {
        let mut hosts = self.member_hosts();
        hosts.extend((1..=self.clients.min(2)).map(|i| format!("c{i}")));
        hosts
    }

    fn steps(d: Duration) -> u64 {
        (d.as_millis() / STEP.as_millis()) as u64
    }
}

/// A time in `[0, duration)`, in steps of 100 ms.
pub fn time(space: &Space) -> impl Strategy<Value = Duration> {
    (0..Space::steps(space.duration).max(1)).prop_map(|n| STEP * n as u32)
}

/// A `for`: 100 ms to `max_for`.
pub fn for_duration(space: &Space) -> impl Strategy<Value = Duration> {
    (1..=Space::steps(space.max_for).max(1)).prop_map(|n| STEP * n as u32)
}

/// A host by name or a role resolved when the fault fires. `holder` first: it shrinks there.
pub fn target(space: &Space) -> BoxedStrategy<Target> {
    let hosts = select(space.named_hosts()).prop_map(Target::Host);
    if space.members >= 3 {
        prop_oneof![
            Just(Target::Holder),
            Just(Target::Leader),
            Just(Target::Follower),
            hosts,
            Just(Target::Minority),
            Just(Target::Majority),
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(Target::Holder),
            Just(Target::Leader),
            Just(Target::Follower),
            hosts,
        ]
        .boxed()
    }
}

/// A target that names one host (for `isolate`, one-way cuts and link faults).
pub fn single_target(space: &Space) -> BoxedStrategy<Target> {
    let hosts = select(space.named_hosts()).prop_map(Target::Host);
    prop_oneof![
        Just(Target::Holder),
        Just(Target::Leader),
        Just(Target::Follower),
        hosts,
    ]
    .boxed()
}

/// Partition groups: roles (`[[minority], [majority]]`, `[[leader], [majority]]`) or one
/// member cut from the others, optionally with a client on its side.
pub fn groups(space: &Space) -> BoxedStrategy<Vec<Vec<Target>>> {
    let members = space.member_hosts();
    let clients: Vec<String> = (1..=space.clients.min(2))
        .map(|i| format!("c{i}"))
        .collect();
    let by_host = (
        select(members.clone()),
        proptest::option::of(select(clients)),
    )
        .prop_map(move |(alone, client)| {
            let mut side: Vec<Target> = vec![Target::Host(alone.clone())];
            side.extend(client.map(Target::Host));
            let rest = members
                .iter()
                .filter(|m| **m != alone)
                .map(|m| Target::Host(m.clone()))
                .collect();
            vec![side, rest]
        });
    if space.members >= 3 {
        prop_oneof![
            Just(vec![vec![Target::Minority], vec![Target::Majority]]),
            Just(vec![vec![Target::Leader], vec![Target::Majority]]),
            by_host,
        ]
        .boxed()
    } else {
        by_host.boxed()
    }
}

/// `None` (every link) or one link between two single targets.
pub fn link(space: &Space) -> impl Strategy<Value = Option<(Target, Target)>> {
    proptest::option::of((single_target(space), single_target(space)))
}

/// One fault of any kind that has an inverse (so it can take a `for`). Simplest first.
pub fn fault(space: &Space) -> BoxedStrategy<Fault> {
    let s = space;
    prop_oneof![
        target(s).prop_map(|target| Fault::Pause { target }),
        (target(s), any::<bool>()).prop_map(|(target, lose_unsynced)| Fault::Crash {
            target,
            lose_unsynced
        }),
        single_target(s).prop_map(|target| Fault::Isolate { target }),
        groups(s).prop_map(|groups| Fault::Partition { groups }),
        (single_target(s), single_target(s))
            .prop_map(|(from, to)| Fault::PartitionOneway { from, to }),
        (
            target(s),
            proptest::option::of(select(vec![2.0, 0.5, 1.25, 0.8])),
            proptest::option::of((1u32..=50).prop_map(|n| STEP * n)),
        )
            .prop_map(|(target, rate, offset)| Fault::Skew {
                target,
                // A skew needs a rate or an offset.
                rate: if rate.is_none() && offset.is_none() {
                    Some(2.0)
                } else {
                    rate
                },
                offset,
            }),
        (select(vec![0.1, 0.3, 0.5, 1.0]), link(s))
            .prop_map(|(rate, link)| Fault::Loss { rate, link }),
        (select(vec![0.1, 0.3, 0.5]), link(s))
            .prop_map(|(rate, link)| Fault::Duplicate { rate, link }),
        (1u64..=50, 0u64..=500, link(s)).prop_map(|(min, extra, link)| Fault::Latency {
            min: Duration::from_millis(min),
            max: Duration::from_millis(min + extra),
            link,
        }),
    ]
    .boxed()
}

/// One episode: one to two scheduled faults that belong together.
pub fn episode(space: &Space) -> BoxedStrategy<Vec<ScheduledFault>> {
    let s = space.clone();
    let members = space.member_hosts();
    let named = space.named_hosts();
    prop_oneof![
        // A fault that undoes itself after `for`: the common case, and the simplest to read.
        6 => (time(&s), fault(&s), for_duration(&s)).prop_map(|(at, fault, d)| vec![ScheduledFault {
            at,
            fault,
            duration: Some(d),
        }]),
        // A fault that lasts until the run heals everything at its end.
        1 => (time(&s), fault(&s)).prop_map(|(at, fault)| vec![ScheduledFault {
            at,
            fault,
            duration: None,
        }]),
        // crash … restart of a named member.
        1 => (time(&s), for_duration(&s), select(members), any::<bool>()).prop_map(
            |(at, d, host, lose_unsynced)| {
                let target = Target::Host(host);
                vec![
                    ScheduledFault { at, fault: Fault::Crash { target: target.clone(), lose_unsynced }, duration: None },
                    ScheduledFault { at: at + d, fault: Fault::Restart { target }, duration: None },
                ]
            }
        ),
        // pause … resume of a named host.
        1 => (time(&s), for_duration(&s), select(named)).prop_map(|(at, d, host)| {
            let target = Target::Host(host);
            vec![
                ScheduledFault { at, fault: Fault::Pause { target: target.clone() }, duration: None },
                ScheduledFault { at: at + d, fault: Fault::Resume { target }, duration: None },
            ]
        }),
        // partition … heal.
        1 => (time(&s), for_duration(&s), groups(&s)).prop_map(|(at, d, groups)| vec![
            ScheduledFault { at, fault: Fault::Partition { groups }, duration: None },
            ScheduledFault { at: at + d, fault: Fault::Heal, duration: None },
        ]),
    ]
    .boxed()
}

/// A valid fault plan of 1 to `max_faults` episodes, in time order.
pub fn fault_plan(space: &Space) -> impl Strategy<Value = FaultPlan> {
    let s = space.clone();
    proptest::collection::vec(episode(space), 1..=space.max_faults.max(1))
        .prop_map(move |episodes| repair(episodes.into_iter().flatten().collect(), &s))
}

/// Sort by time, drop faults at or after the end, then drop each fault `validate` rejects
/// until the plan is valid (an inverse whose fault another episode already undid).
pub fn repair(mut faults: Vec<ScheduledFault>, space: &Space) -> FaultPlan {
    faults.retain(|f| f.at < space.duration);
    faults.sort_by_key(|f| f.at);
    let mut plan = FaultPlan { faults };
    let hosts =
        crate::scenario::hosts(crate::scenario::Backend::Etcd, space.members, space.clients);
    while let Err(e) = plan.validate(&hosts, space.members) {
        plan.faults.remove(e.index);
    }
    plan
}

/// Clients, hold, think and TTL. Clients shrink toward 2 (the fewest that can conflict), TTL
/// toward the minimum lease TTL.
pub fn workload(base: &Scenario) -> impl Strategy<Value = (WorkloadSpec, Duration)> {
    let max_clients = base.workload.clients.max(3);
    let min_ttl = sim::min_lease_ttl(10, base.cluster.election_timeout / 10).max(1) as u64;
    let max_ttl = (base.lock.ttl.as_secs()).max(min_ttl).max(10);
    (
        2..=max_clients,
        (0u64..=10, 0u64..=20),
        (0u64..=5, 0u64..=5),
        min_ttl..=max_ttl,
    )
        .prop_map(
            |(clients, (hold_min, hold_extra), (think_min, think_extra), ttl)| {
                let range = |min: u64, extra: u64| DurationRange {
                    min: STEP * min as u32,
                    max: STEP * (min + extra) as u32,
                };
                (
                    WorkloadSpec {
                        clients,
                        hold: range(hold_min, hold_extra),
                        think: range(think_min, think_extra),
                    },
                    Duration::from_secs(ttl),
                )
            },
        )
}

/// A simulation seed. Not shrunk: no seed is simpler than another.
pub fn seed() -> impl Strategy<Value = u64> {
    (0u64..1_000_000).no_shrink()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> Space {
        Space {
            duration: Duration::from_secs(40),
            members: 3,
            clients: 2,
            max_faults: 4,
            max_for: Duration::from_secs(30),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn generated_plans_are_valid_and_in_time_order(plan in fault_plan(&space())) {
            let hosts = crate::scenario::hosts(crate::scenario::Backend::Etcd, 3, 2);
            prop_assert!(plan.validate(&hosts, 3).is_ok());
            prop_assert!(plan.faults.windows(2).all(|w| w[0].at <= w[1].at));
            prop_assert!(plan.faults.iter().all(|f| f.at < Duration::from_secs(40)));
        }
    }
}
