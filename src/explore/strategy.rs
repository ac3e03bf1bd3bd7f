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

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use sim::{Fault, FaultPlan, ScheduledFault, Target};

use crate::scenario::{Backend, DurationRange, Scenario, WorkloadSpec};

/// Times and durations are generated in steps of this size.
pub const STEP: Duration = Duration::from_millis(100);

/// A kind of fault a generated plan may use. The inverses (`restart`, `resume`, `heal`) come
/// with their fault: `crash` also generates `crash` … `restart` pairs, `pause` `pause` …
/// `resume`, `partition` `partition` … `heal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    Pause,
    Crash,
    Isolate,
    Partition,
    PartitionOneway,
    Skew,
    Loss,
    Duplicate,
    Latency,
}

impl FaultKind {
    /// Every kind, in the order the strategies try them (simplest first: shrinking moves there).
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Pause,
        FaultKind::Crash,
        FaultKind::Isolate,
        FaultKind::Partition,
        FaultKind::PartitionOneway,
        FaultKind::Skew,
        FaultKind::Loss,
        FaultKind::Duplicate,
        FaultKind::Latency,
    ];

    /// As scenario files spell the fault: `pause`, `partition-oneway`, ….
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Pause => "pause",
            FaultKind::Crash => "crash",
            FaultKind::Isolate => "isolate",
            FaultKind::Partition => "partition",
            FaultKind::PartitionOneway => "partition-oneway",
            FaultKind::Skew => "skew",
            FaultKind::Loss => "loss",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Latency => "latency",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The fault kinds generated plans may use (`locksim explore --faults crash,pause`): a set of
/// [`FaultKind`]s, never empty. To ask one question of a lock ("does a primary crash alone
/// break it?") rather than every question at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultKinds(u16);

impl FaultKinds {
    pub const ALL: FaultKinds = FaultKinds((1 << FaultKind::ALL.len()) - 1);

    /// Exactly these kinds.
    ///
    /// # Panics
    /// If `kinds` is empty: a plan needs at least one kind to draw from.
    pub fn of(kinds: &[FaultKind]) -> FaultKinds {
        assert!(!kinds.is_empty(), "at least one fault kind");
        FaultKinds(kinds.iter().fold(0, |bits, k| bits | k.bit()))
    }

    pub fn contains(self, kind: FaultKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// The kinds in the set, in [`FaultKind::ALL`]'s order.
    pub fn kinds(self) -> Vec<FaultKind> {
        FaultKind::ALL
            .into_iter()
            .filter(|k| self.contains(*k))
            .collect()
    }
}

impl Default for FaultKinds {
    fn default() -> Self {
        FaultKinds::ALL
    }
}

impl FromStr for FaultKinds {
    type Err = String;
    /// `crash,pause` (any non-empty subset, comma-separated) or `all`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut bits = 0;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" {
                bits = FaultKinds::ALL.0;
                continue;
            }
            match FaultKind::ALL.into_iter().find(|k| k.name() == part) {
                Some(k) => bits |= k.bit(),
                None => {
                    let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                    let hint = match part {
                        "restart" | "resume" | "heal" => format!(
                            " ({part} comes with {})",
                            match part {
                                "restart" => "crash",
                                "resume" => "pause",
                                _ => "partition",
                            }
                        ),
                        _ => String::new(),
                    };
                    return Err(format!(
                        "unknown fault kind {part:?}{hint}; allowed: {} (comma-separated), or all",
                        names.join(", ")
                    ));
                }
            }
        }
        if bits == 0 {
            return Err("no fault kind given; name one or more, e.g. crash,pause, or all".into());
        }
        Ok(FaultKinds(bits))
    }
}

impl fmt::Display for FaultKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == FaultKinds::ALL {
            return f.write_str("all");
        }
        let names: Vec<&str> = self.kinds().iter().map(|k| k.name()).collect();
        f.write_str(&names.join(","))
    }
}

/// The bounds a generated plan lives in, taken from the base scenario: which hosts and roles
/// its world has (per backend), how long it runs, which fault kinds to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    /// Faults start in `[0, duration)`.
    pub duration: Duration,
    /// Whose hosts and roles: etcd members `n1..nM` with `leader`, `follower`, `minority`,
    /// `majority`; redis nodes `r1..rM`, sentinels `s1..s3` and `primary`; redlock masters
    /// `r1..rM` and no store role. `holder` everywhere.
    pub backend: Backend,
    /// Store size: etcd members, or AP nodes (redis: the primary and its replicas).
    pub members: usize,
    /// Clients that exist in every variant, so faults may name them (`c1`, `c2`).
    pub clients: usize,
    /// Episodes per plan: 1 to this many (a pair counts once).
    pub max_faults: usize,
    /// The longest `for`.
    pub max_for: Duration,
    /// The kinds of fault to draw from.
    pub kinds: FaultKinds,
}

impl Space {
    /// The space of a base scenario; `clients` is the smallest client count any variant has.
    pub fn of(scenario: &Scenario, clients: usize) -> Self {
        Space {
            duration: scenario.duration,
            backend: scenario.cluster.backend,
            members: scenario.cluster.members,
            clients,
            max_faults: 4,
            max_for: scenario.duration.min(Duration::from_secs(30)),
            kinds: FaultKinds::ALL,
        }
    }

    /// The store's nodes: etcd members `n1..`, or AP nodes `r1..`.
    pub fn store_hosts(&self) -> Vec<String> {
        let mut hosts = crate::scenario::store_hosts(self.backend, self.members);
        hosts.truncate(self.members);
        hosts
    }

    /// The redis backend's sentinels `s1..s3`; none elsewhere.
    pub fn sentinel_hosts(&self) -> Vec<String> {
        crate::scenario::store_hosts(self.backend, self.members).split_off(self.members)
    }

    fn client_hosts(&self) -> Vec<String> {
        (0..self.clients.min(2)).map(lock::client_name).collect()
    }

    /// Hosts a fault may name: the store's nodes, sentinels, and the first two clients.
    pub fn named_hosts(&self) -> Vec<String> {
        let mut hosts = crate::scenario::store_hosts(self.backend, self.members);
        hosts.extend(self.client_hosts());
        hosts
    }

    fn steps(d: Duration) -> u64 {
        (d.as_millis() / STEP.as_millis()) as u64
    }
}

/// A union of `options` (simplest first: proptest shrinks a union toward its first option),
/// with their weights. `prop_oneof!` cannot take a list built at run time.
fn union<T: std::fmt::Debug + 'static>(options: Vec<(u32, BoxedStrategy<T>)>) -> BoxedStrategy<T> {
    Union::new_weighted(options).boxed()
}

/// `Target::Host` over `hosts`.
fn host_targets(hosts: Vec<String>) -> BoxedStrategy<Target> {
    select(hosts).prop_map(Target::Host).boxed()
}

/// A time in `[0, duration)`, in steps of 100 ms.
pub fn time(space: &Space) -> impl Strategy<Value = Duration> {
    (0..Space::steps(space.duration).max(1)).prop_map(|n| STEP * n as u32)
}

/// A `for`: 100 ms to `max_for`.
pub fn for_duration(space: &Space) -> impl Strategy<Value = Duration> {
    (1..=Space::steps(space.max_for).max(1)).prop_map(|n| STEP * n as u32)
}

/// The roles of the space's world that name one host (`holder` first: it shrinks there).
fn single_roles(space: &Space) -> Vec<Target> {
    match space.backend {
        Backend::Etcd | Backend::Zk => vec![Target::Holder, Target::Leader, Target::Follower],
        Backend::Redis => vec![Target::Holder, Target::Primary],
        Backend::Redlock | Backend::Pg => vec![Target::Holder],
    }
}

/// A host by name or a role resolved when the fault fires, of the space's world (etcd's
/// `leader`, `follower`, `minority`, `majority`; redis's `primary`; `holder` on all). `holder`
/// first: it shrinks there.
pub fn target(space: &Space) -> BoxedStrategy<Target> {
    let mut options: Vec<(u32, BoxedStrategy<Target>)> = single_roles(space)
        .into_iter()
        .map(|r| (1, Just(r).boxed()))
        .collect();
    options.push((1, host_targets(space.named_hosts())));
    if matches!(space.backend, Backend::Etcd | Backend::Zk) && space.members >= 3 {
        options.push((1, Just(Target::Minority).boxed()));
        options.push((1, Just(Target::Majority).boxed()));
    }
    union(options)
}

/// A target that names one host (for `isolate`, one-way cuts and link faults).
pub fn single_target(space: &Space) -> BoxedStrategy<Target> {
    let mut options: Vec<(u32, BoxedStrategy<Target>)> = single_roles(space)
        .into_iter()
        .map(|r| (1, Just(r).boxed()))
        .collect();
    options.push((1, host_targets(space.named_hosts())));
    union(options)
}

/// Partition groups. etcd: roles (`[[minority], [majority]]`, `[[leader], [majority]]`);
/// redis: the primary cut off from the sentinels only (they fail over while clients still
/// write to it: Redis's split brain). Everywhere: one store node cut from the other nodes (and
/// the sentinels), optionally with a client on its side; a store of one node is cut from the
/// clients.
pub fn groups(space: &Space) -> BoxedStrategy<Vec<Vec<Target>>> {
    let nodes = space.store_hosts();
    let sentinels = space.sentinel_hosts();
    let clients = space.client_hosts();
    let single = nodes.len() == 1;
    let by_host = (
        select(nodes.clone()),
        proptest::option::of(select(clients.clone())),
    )
        .prop_map(move |(alone, client)| {
            let mut side: Vec<Target> = vec![Target::Host(alone.clone())];
            let rest: Vec<Target> = if single {
                // Nobody else in the store: cut it from the clients instead.
                clients.iter().cloned().map(Target::Host).collect()
            } else {
                side.extend(client.map(Target::Host));
                nodes
                    .iter()
                    .filter(|m| **m != alone)
                    .chain(&sentinels)
                    .map(|m| Target::Host(m.clone()))
                    .collect()
            };
            vec![side, rest]
        })
        .boxed();
    match space.backend {
        Backend::Etcd if space.members >= 3 => union(vec![
            (
                1,
                Just(vec![vec![Target::Minority], vec![Target::Majority]]).boxed(),
            ),
            (
                1,
                Just(vec![vec![Target::Leader], vec![Target::Majority]]).boxed(),
            ),
            (1, by_host),
        ]),
        Backend::Redis => {
            let sentinels = space
                .sentinel_hosts()
                .into_iter()
                .map(Target::Host)
                .collect();
            union(vec![
                (1, Just(vec![vec![Target::Primary], sentinels]).boxed()),
                (1, by_host),
            ])
        }
        _ => by_host,
    }
}

/// `None` (every link) or one link between two single targets.
pub fn link(space: &Space) -> impl Strategy<Value = Option<(Target, Target)>> {
    proptest::option::of((single_target(space), single_target(space)))
}

/// One fault of the space's kinds that has an inverse (so it can take a `for`). Simplest
/// first.
pub fn fault(space: &Space) -> BoxedStrategy<Fault> {
    let s = space;
    // `lose_unsynced` drops a member's unsynced Raft writes; an AP node has none to lose.
    let lose_unsynced = if s.backend == Backend::Etcd {
        any::<bool>().boxed()
    } else {
        Just(false).boxed()
    };
    let options: Vec<(u32, BoxedStrategy<Fault>)> = s
        .kinds
        .kinds()
        .into_iter()
        .map(|kind| {
            let strategy = match kind {
                FaultKind::Pause => target(s).prop_map(|target| Fault::Pause { target }).boxed(),
                FaultKind::Crash => (target(s), lose_unsynced.clone())
                    .prop_map(|(target, lose_unsynced)| Fault::Crash {
                        target,
                        lose_unsynced,
                    })
                    .boxed(),
                FaultKind::Isolate => single_target(s)
                    .prop_map(|target| Fault::Isolate { target })
                    .boxed(),
                FaultKind::Partition => groups(s)
                    .prop_map(|groups| Fault::Partition { groups })
                    .boxed(),
                FaultKind::PartitionOneway => (single_target(s), single_target(s))
                    .prop_map(|(from, to)| Fault::PartitionOneway { from, to })
                    .boxed(),
                FaultKind::Skew => (
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
                    })
                    .boxed(),
                FaultKind::Loss => (select(vec![0.1, 0.3, 0.5, 1.0]), link(s))
                    .prop_map(|(rate, link)| Fault::Loss { rate, link })
                    .boxed(),
                FaultKind::Duplicate => (select(vec![0.1, 0.3, 0.5]), link(s))
                    .prop_map(|(rate, link)| Fault::Duplicate { rate, link })
                    .boxed(),
                FaultKind::Latency => (1u64..=50, 0u64..=500, link(s))
                    .prop_map(|(min, extra, link)| Fault::Latency {
                        min: Duration::from_millis(min),
                        max: Duration::from_millis(min + extra),
                        link,
                    })
                    .boxed(),
            };
            (1, strategy)
        })
        .collect();
    union(options)
}

/// One episode: one to two scheduled faults that belong together.
pub fn episode(space: &Space) -> BoxedStrategy<Vec<ScheduledFault>> {
    let s = space.clone();
    let nodes = space.store_hosts();
    let named = space.named_hosts();
    let lose_unsynced = if s.backend == Backend::Etcd {
        any::<bool>().boxed()
    } else {
        Just(false).boxed()
    };
    let mut options: Vec<(u32, BoxedStrategy<Vec<ScheduledFault>>)> = vec![
        // A fault that undoes itself after `for`: the common case, and the simplest to read.
        (
            6,
            (time(&s), fault(&s), for_duration(&s))
                .prop_map(|(at, fault, d)| {
                    vec![ScheduledFault {
                        at,
                        fault,
                        duration: Some(d),
                    }]
                })
                .boxed(),
        ),
        // A fault that lasts until the run heals everything at its end.
        (
            1,
            (time(&s), fault(&s))
                .prop_map(|(at, fault)| {
                    vec![ScheduledFault {
                        at,
                        fault,
                        duration: None,
                    }]
                })
                .boxed(),
        ),
    ];
    if s.kinds.contains(FaultKind::Crash) {
        // crash … restart of a named store node.
        options.push((
            1,
            (time(&s), for_duration(&s), select(nodes), lose_unsynced)
                .prop_map(|(at, d, host, lose_unsynced)| {
                    let target = Target::Host(host);
                    vec![
                        ScheduledFault {
                            at,
                            fault: Fault::Crash {
                                target: target.clone(),
                                lose_unsynced,
                            },
                            duration: None,
                        },
                        ScheduledFault {
                            at: at + d,
                            fault: Fault::Restart { target },
                            duration: None,
                        },
                    ]
                })
                .boxed(),
        ));
    }
    if s.kinds.contains(FaultKind::Pause) {
        // pause … resume of a named host.
        options.push((
            1,
            (time(&s), for_duration(&s), select(named))
                .prop_map(|(at, d, host)| {
                    let target = Target::Host(host);
                    vec![
                        ScheduledFault {
                            at,
                            fault: Fault::Pause {
                                target: target.clone(),
                            },
                            duration: None,
                        },
                        ScheduledFault {
                            at: at + d,
                            fault: Fault::Resume { target },
                            duration: None,
                        },
                    ]
                })
                .boxed(),
        ));
    }
    if s.kinds.contains(FaultKind::Partition) {
        // partition … heal.
        options.push((
            1,
            (time(&s), for_duration(&s), groups(&s))
                .prop_map(|(at, d, groups)| {
                    vec![
                        ScheduledFault {
                            at,
                            fault: Fault::Partition { groups },
                            duration: None,
                        },
                        ScheduledFault {
                            at: at + d,
                            fault: Fault::Heal,
                            duration: None,
                        },
                    ]
                })
                .boxed(),
        ));
    }
    union(options)
}

/// A valid fault plan of 1 to `max_faults` episodes, in time order.
pub fn fault_plan(space: &Space) -> impl Strategy<Value = FaultPlan> {
    let s = space.clone();
    proptest::collection::vec(episode(space), 1..=space.max_faults.max(1))
        .prop_map(move |episodes| repair(episodes.into_iter().flatten().collect(), &s))
}

/// Sort by time, drop faults at or after the end, then drop each fault the scenario check
/// rejects (`scenario::check_plan`, as `locksim run` checks a file) until the plan is valid:
/// an inverse whose fault another episode already undid.
pub fn repair(mut faults: Vec<ScheduledFault>, space: &Space) -> FaultPlan {
    faults.retain(|f| f.at < space.duration);
    faults.sort_by_key(|f| f.at);
    let mut plan = FaultPlan { faults };
    while let Err(e) =
        crate::scenario::check_plan(space.backend, space.members, space.clients, &plan)
    {
        plan.faults.remove(e.index);
    }
    plan
}

/// Clients, hold, think and TTL. Clients shrink toward 2 (the fewest that can conflict), TTL
/// toward the minimum (etcd: the minimum lease TTL; the AP locks: 1 s), holds toward 0. Holds
/// reach up to 3 s, or the base's longest hold when that is longer (the AP stories hold for
/// seconds, to outlast a failover).
pub fn workload(base: &Scenario) -> impl Strategy<Value = (WorkloadSpec, Duration)> {
    let max_clients = base.workload.clients.max(3);
    let min_ttl = match base.cluster.backend {
        Backend::Etcd => sim::min_lease_ttl(10, base.cluster.election_timeout / 10).max(1) as u64,
        // The database locks have no TTL: the lock lives as long as the connection.
        Backend::Redis | Backend::Redlock | Backend::Pg => 1,
        // The session timeout the ensemble grants at least: 2 × tickTime.
        Backend::Zk => sim::zk::ZkConfig::default().negotiate(0) as u64 / 1000,
    };
    let max_ttl = (base.lock.ttl.as_secs()).max(min_ttl).max(10);
    let hold_steps = Space::steps(base.workload.hold.max).max(30);
    (
        2..=max_clients,
        (0u64..=hold_steps / 3, 0u64..=hold_steps * 2 / 3),
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

    fn space(backend: Backend) -> Space {
        Space {
            duration: Duration::from_secs(40),
            backend,
            members: if backend == Backend::Pg { 1 } else { 3 },
            clients: 2,
            max_faults: 4,
            max_for: Duration::from_secs(30),
            kinds: FaultKinds::ALL,
        }
    }

    fn names(plan: &FaultPlan) -> Vec<&'static str> {
        plan.faults.iter().map(|f| f.fault.name()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn generated_plans_are_valid_and_in_time_order(
            (backend, plan) in select(vec![Backend::Etcd, Backend::Redis, Backend::Redlock, Backend::Zk])
                .prop_flat_map(|b| (Just(b), fault_plan(&space(b))))
        ) {
            prop_assert!(crate::scenario::check_plan(backend, 3, 2, &plan).is_ok(), "{plan:?}");
            prop_assert!(plan.faults.windows(2).all(|w| w[0].at <= w[1].at));
            prop_assert!(plan.faults.iter().all(|f| f.at < Duration::from_secs(40)));
        }

        /// `--faults crash` draws crashes (and their restarts) only.
        #[test]
        fn only_the_chosen_kinds(plan in fault_plan(&Space { kinds: "crash".parse().unwrap(), ..space(Backend::Redis) })) {
            prop_assert!(names(&plan).iter().all(|n| *n == "crash" || *n == "restart"), "{plan:?}");
        }
    }

    #[test]
    fn fault_kinds_parse_and_print() {
        let kinds: FaultKinds = "crash, partition-oneway".parse().unwrap();
        assert!(kinds.contains(FaultKind::Crash) && kinds.contains(FaultKind::PartitionOneway));
        assert!(!kinds.contains(FaultKind::Pause));
        assert_eq!(kinds.to_string(), "crash,partition-oneway");
        assert_eq!("all".parse::<FaultKinds>().unwrap(), FaultKinds::ALL);
        assert_eq!(FaultKinds::ALL.to_string(), "all");
        let e = "restart".parse::<FaultKinds>().unwrap_err();
        assert!(
            e.contains("comes with crash") && e.contains("allowed: pause, crash"),
            "{e}"
        );
        assert!(",".parse::<FaultKinds>().is_err());
    }

    /// Each backend's roles and hosts, and nothing of another world's.
    #[test]
    fn targets_belong_to_the_backend() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        for backend in [
            Backend::Etcd,
            Backend::Redis,
            Backend::Redlock,
            Backend::Zk,
            Backend::Pg,
        ] {
            let s = space(backend);
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..400 {
                let t = target(&s).new_tree(&mut runner).unwrap().current();
                seen.insert(t.to_string());
                let g = groups(&s).new_tree(&mut runner).unwrap().current();
                for t in g.iter().flatten() {
                    seen.insert(t.to_string());
                }
            }
            let want: Vec<&str> = match backend {
                Backend::Etcd => vec![
                    "c1", "c2", "follower", "holder", "leader", "majority", "minority", "n1", "n2",
                    "n3",
                ],
                Backend::Redis => vec![
                    "c1", "c2", "holder", "primary", "r1", "r2", "r3", "s1", "s2", "s3",
                ],
                Backend::Redlock => vec!["c1", "c2", "holder", "r1", "r2", "r3"],
                Backend::Zk => vec![
                    "c1", "c2", "follower", "holder", "leader", "majority", "minority", "z1", "z2",
                    "z3",
                ],
                Backend::Pg => vec!["c1", "c2", "holder", "p1"],
            };
            assert_eq!(
                seen.iter().map(String::as_str).collect::<Vec<_>>(),
                want,
                "{backend:?}"
            );
        }
    }
}
