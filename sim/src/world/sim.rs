//! `World`: the simulated world every store runs in — one `turmoil::Sim`, the hosts registered
//! on it, each host's clock, the links between hosts and their faults, and the history. It owns
//! the fault verbs (crash, restart, partition, pause, skew, link rules, latency); it knows no
//! store. A store registers its hosts (`EtcdCluster::add_to`, `ApStore::add_to`) and, where it
//! has volatile writes a power loss can take, what a power loss does to them.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use turmoil::{Builder, Sim};

use super::clock::Clock;
use super::history::{ClusterEvent, History};
use super::link_faults::{LinkFaults, LinkRule};

/// The world's timing: seed, tick and the network's latency.
#[derive(Clone, Copy, Debug)]
pub struct WorldConfig {
    /// Seeds turmoil's RNG (latency, loss) and, through the stores, their own choices.
    pub seed: u64,
    /// Simulated time per `Sim::step`. Message latency is never below it.
    pub tick: Duration,
    /// Least one-way latency of a datagram while no latency fault is on (turmoil's
    /// `min_message_latency`); in effect never below one `tick`.
    pub latency_min: Duration,
    /// Greatest one-way latency of a datagram while no latency fault is on (turmoil's
    /// `max_message_latency`); turmoil draws each message's latency from `latency_min` up to it.
    pub latency_max: Duration,
}

impl WorldConfig {
    /// The `(min, max)` latency a link gets when `requested` (or, for `None`, the configured
    /// default) is applied: never below one tick, so a message cannot arrive in the step it was
    /// sent in, and max never below min.
    pub fn link_latency(&self, requested: Option<(Duration, Duration)>) -> (Duration, Duration) {
        let (min, max) = requested.unwrap_or((self.latency_min, self.latency_max));
        let min = min.max(self.tick);
        (min, max.max(min))
    }

    /// The default latency as `ClusterEvent::Latency` records it, in ms: what a latency fault
    /// returns to when it ends (see `ActiveFaults::from_events`).
    pub fn default_latency_ms(&self) -> (u64, u64) {
        let (min, max) = self.link_latency(None);
        (min.as_millis() as u64, max.as_millis() as u64)
    }
}

/// The simulation failed: a host returned an error or panicked, or turmoil gave up.
#[derive(Debug, thiserror::Error)]
#[error("simulation failed at {elapsed:?}: {message}")]
pub struct SimError {
    /// Simulated time since the start of the run when it failed.
    pub elapsed: Duration,
    /// What failed: turmoil's error or the host's.
    pub message: String,
}

/// What a power loss does to one host's volatile writes: discards them, returns how many.
type PowerLoss = Rc<dyn Fn() -> usize>;

/// The running world. Owns the `Sim`; faults are applied between steps.
pub struct World<'a> {
    sim: Sim<'a>,
    config: WorldConfig,
    history: History,
    /// Every host registered, in registration order.
    hosts: Vec<String>,
    /// Pairs currently cut by `partition`, so `heal` repairs exactly those.
    cut: BTreeSet<(String, String)>,
    /// Directed links cut by `partition_oneway` (from, to).
    cut_oneway: BTreeSet<(String, String)>,
    crashed: BTreeSet<String>,
    /// Hosts registered with `add_client`: one-shot futures turmoil cannot restart or crash.
    one_shot: BTreeSet<String>,
    /// Each host's clock, kept here so pause and skew outlive a restart of the host.
    clocks: BTreeMap<String, Clock>,
    links: LinkFaults,
    power_loss: BTreeMap<String, PowerLoss>,
}

impl<'a> World<'a> {
    /// An empty world: no hosts yet.
    pub fn new(config: WorldConfig) -> Self {
        let sim = Builder::new()
            .rng_seed(config.seed)
            // A fixed epoch: turmoil otherwise starts from the wall clock.
            .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .tick_duration(config.tick)
            .simulation_duration(Duration::from_secs(u32::MAX as u64))
            .min_message_latency(config.latency_min)
            .max_message_latency(config.latency_max)
            // Default 64 datagrams silently drops bursts (DESIGN §7).
            .udp_capacity(1 << 16)
            .build();
        World {
            sim,
            history: History::new(),
            hosts: Vec::new(),
            cut: BTreeSet::new(),
            cut_oneway: BTreeSet::new(),
            crashed: BTreeSet::new(),
            one_shot: BTreeSet::new(),
            clocks: BTreeMap::new(),
            links: LinkFaults::new(config.seed),
            power_loss: BTreeMap::new(),
            config,
        }
    }

    /// The configuration the world was built with.
    pub fn world_config(&self) -> &WorldConfig {
        &self.config
    }

    /// Register what a power loss of `host` does to its volatile writes (see
    /// [`World::crash_losing_unsynced`]).
    pub fn on_power_loss(&mut self, host: &str, discard: impl Fn() -> usize + 'static) {
        self.power_loss.insert(host.to_string(), Rc::new(discard));
    }

    /// Every registered host in registration order (a store's servers first, as the stores register them).
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The clock of `host` (created on first use). Host software must read time and sleep
    /// through it for pause and skew to reach it.
    pub fn clock(&mut self, host: &str) -> Clock {
        self.clocks.entry(host.to_string()).or_default().clone()
    }

    /// The run's history: every store's operations and every world event.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The per-datagram loss/duplication rules every host's sends consult. Host software that
    /// is not a member (e.g. the AP store's nodes) takes it from here so `loss`/`duplicate`
    /// faults reach it.
    pub fn links(&self) -> LinkFaults {
        self.links.clone()
    }

    /// Register a client host running `future` (which typically connects a `Client`).
    pub fn add_client<F>(&mut self, name: &str, future: F)
    where
        F: Future<Output = turmoil::Result> + 'static,
    {
        self.hosts.push(name.to_string());
        self.one_shot.insert(name.to_string());
        self.sim.client(name, future);
    }

    /// Register a restartable host (e.g. a lock client that faults may crash).
    pub fn add_host<F, Fut>(&mut self, name: &str, software: F)
    where
        F: Fn() -> Fut + 'a,
        Fut: Future<Output = turmoil::Result> + 'static,
    {
        self.hosts.push(name.to_string());
        self.sim.host(name, software);
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.sim.elapsed()
    }

    /// Advance one tick. Returns whether every client host has finished.
    pub fn step(&mut self) -> Result<bool, SimError> {
        self.sim.step().map_err(|e| SimError {
            elapsed: self.sim.elapsed(),
            message: e.to_string(),
        })
    }

    /// Advance simulated time by `duration`.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), SimError> {
        let until = self.elapsed() + duration;
        while self.elapsed() < until {
            self.step()?;
        }
        Ok(())
    }

    /// Whether `host` has been registered (by [`World::add_host`] or [`World::add_client`]).
    pub fn is_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h == host)
    }

    /// Whether `host` can be crashed and restarted: members and hosts added with
    /// [`World::add_host`] can; one-shot clients from [`World::add_client`] cannot.
    pub fn is_restartable(&self, host: &str) -> bool {
        self.is_host(host) && !self.one_shot.contains(host)
    }

    /// Whether `host` is crashed now (and not yet restarted).
    pub fn is_crashed(&self, host: &str) -> bool {
        self.crashed.contains(host)
    }

    /// Crash a host: its process and everything volatile are gone; a member's disk stays.
    pub fn crash(&mut self, host: &str) {
        assert!(
            self.is_host(host),
            "unknown host {host} (validated by callers)"
        );
        if !self.crashed.insert(host.to_string()) {
            return;
        }
        self.sim.crash(host);
        self.history.event(
            ClusterEvent::Crash {
                host: host.to_string(),
            },
            self.elapsed(),
        );
    }

    /// Crash a host as a power loss: besides the process, the host loses the writes its store
    /// had not made durable yet (what it registered with [`World::on_power_loss`]; for an etcd
    /// member, the Raft writes it had not fsynced, see `MemberConfig::fsync_latency`).
    pub fn crash_losing_unsynced(&mut self, host: &str) {
        self.crash(host);
        if let Some(discard) = self.power_loss.get(host) {
            let lost = discard();
            self.history.app(
                host,
                serde_json::json!({ "power_loss": { "unsynced_writes_lost": lost } }),
                self.elapsed(),
            );
        }
    }

    /// Restart a crashed host from its disk.
    pub fn restart(&mut self, host: &str) {
        assert!(
            self.is_host(host),
            "unknown host {host} (validated by callers)"
        );
        if !self.crashed.remove(host) {
            return;
        }
        self.sim.bounce(host);
        self.history.event(
            ClusterEvent::Restart {
                host: host.to_string(),
            },
            self.elapsed(),
        );
    }

    /// Cut every link between hosts of different groups. Hosts in no group keep their links.
    pub fn partition(&mut self, groups: &[Vec<String>]) {
        for (i, a_group) in groups.iter().enumerate() {
            for b_group in &groups[i + 1..] {
                for a in a_group {
                    for b in b_group {
                        if a == b {
                            continue;
                        }
                        self.sim.partition(a.as_str(), b.as_str());
                        let pair = if a < b {
                            (a.clone(), b.clone())
                        } else {
                            (b.clone(), a.clone())
                        };
                        self.cut.insert(pair);
                    }
                }
            }
        }
        self.history.event(
            ClusterEvent::Partition {
                groups: groups.to_vec(),
            },
            self.elapsed(),
        );
    }

    /// Cut the link from `from` to `to` only: `to` hears nothing from `from`, while `from`
    /// still hears `to` (a broken NIC transmit queue, an asymmetric firewall rule).
    pub fn partition_oneway(&mut self, from: &str, to: &str) {
        self.sim.partition_oneway(from, to);
        self.cut_oneway.insert((from.to_string(), to.to_string()));
        self.history.event(
            ClusterEvent::PartitionOneway {
                from: from.to_string(),
                to: to.to_string(),
            },
            self.elapsed(),
        );
    }

    /// Repair the links between hosts of different `groups` (the inverse of one `partition`).
    /// A link cut by an overlapping partition too is repaired as well: turmoil keeps one state
    /// per link, not a count of cuts.
    pub fn unpartition(&mut self, groups: &[Vec<String>]) {
        for (i, a_group) in groups.iter().enumerate() {
            for b_group in &groups[i + 1..] {
                for a in a_group {
                    for b in b_group {
                        let pair = if a < b {
                            (a.clone(), b.clone())
                        } else {
                            (b.clone(), a.clone())
                        };
                        if self.cut.remove(&pair) {
                            self.sim.repair(a.as_str(), b.as_str());
                        }
                    }
                }
            }
        }
        self.history.event(
            ClusterEvent::Unpartition {
                groups: groups.to_vec(),
            },
            self.elapsed(),
        );
    }

    /// Repair the one-way cut `from` → `to`.
    pub fn repair_oneway(&mut self, from: &str, to: &str) {
        if self.cut_oneway.remove(&(from.to_string(), to.to_string())) {
            self.sim.repair_oneway(from, to);
        }
        self.history.event(
            ClusterEvent::RepairOneway {
                from: from.to_string(),
                to: to.to_string(),
            },
            self.elapsed(),
        );
    }

    /// Cut `host` off from every other host.
    pub fn isolate(&mut self, host: &str) {
        let others: Vec<String> = self.hosts.iter().filter(|h| *h != host).cloned().collect();
        self.partition(&[vec![host.to_string()], others]);
    }

    /// Whether any link is cut by `partition`, `partition_oneway` or `isolate`.
    pub fn is_partitioned(&self) -> bool {
        !self.cut.is_empty() || !self.cut_oneway.is_empty()
    }

    /// Repair every link cut by `partition`, `partition_oneway` or `isolate`. Returns how
    /// many links were repaired.
    pub fn heal(&mut self) -> usize {
        let cut = std::mem::take(&mut self.cut);
        for (a, b) in &cut {
            self.sim.repair(a.as_str(), b.as_str());
        }
        let oneway = std::mem::take(&mut self.cut_oneway);
        for (from, to) in &oneway {
            self.sim.repair_oneway(from.as_str(), to.as_str());
        }
        self.history.event(ClusterEvent::Heal, self.elapsed());
        cut.len() + oneway.len()
    }

    /// Stop `host`'s process: it runs nothing until [`World::resume`], while every other
    /// clock runs on and datagrams queue for it.
    pub fn pause(&mut self, host: &str) {
        self.clock(host).pause();
        self.history.event(
            ClusterEvent::Pause {
                host: host.to_string(),
            },
            self.elapsed(),
        );
    }

    /// Let a [`paused`](World::pause) host run again: it continues where it stopped, and sees the
    /// datagrams that queued meanwhile and the local time that passed.
    pub fn resume(&mut self, host: &str) {
        self.clock(host).resume();
        self.history.event(
            ClusterEvent::Resume {
                host: host.to_string(),
            },
            self.elapsed(),
        );
    }

    /// Whether `host` is paused now.
    pub fn is_paused(&mut self, host: &str) -> bool {
        self.clock(host).is_paused()
    }

    /// Skew `host`'s clock: from now on it runs at `rate` × real time (if given), after
    /// jumping forward by `offset` (if given). A jump is a wall-clock step: software on a
    /// monotonic clock (etcd's members, [`Clock::set_monotonic`]) does not see it.
    pub fn skew(&mut self, host: &str, rate: Option<f64>, offset: Option<Duration>) {
        let now = self.elapsed();
        let clock = self.clock(host);
        if let Some(offset) = offset {
            clock.jump(offset, now);
        }
        if let Some(rate) = rate {
            clock.set_rate(rate, now);
        }
        self.history.event(
            ClusterEvent::Skew {
                host: host.to_string(),
                rate: clock.rate(),
                offset_ms: offset.map(|o| o.as_millis() as u64).unwrap_or(0),
            },
            now,
        );
    }

    /// Loss and duplication on one link, or everywhere with `link = None`. Probabilities
    /// 0 clear the fault.
    pub fn set_link_rule(&mut self, link: Option<(&str, &str)>, rule: LinkRule) {
        match link {
            Some((a, b)) => self.links.set_link(a, b, rule),
            None => self.links.set_global(rule),
        }
        self.history.event(
            ClusterEvent::LinkRule {
                link: link.map(|(a, b)| vec![a.to_string(), b.to_string()]),
                loss: rule.loss_probability,
                duplicate: rule.duplicate_probability,
            },
            self.elapsed(),
        );
    }

    /// Message latency on one link, or everywhere with `link = None`; `None` restores the
    /// cluster's configured latency.
    pub fn set_latency(
        &mut self,
        link: Option<(&str, &str)>,
        latency: Option<(Duration, Duration)>,
    ) {
        let (min, max) = self.config.link_latency(latency);
        match link {
            Some((a, b)) => {
                self.sim.set_link_latency(a, b, min);
                self.sim.set_link_max_message_latency(a, b, max);
            }
            None => {
                self.sim.set_max_message_latency(max);
                for a in &self.hosts {
                    for b in &self.hosts {
                        if a < b {
                            self.sim.set_link_latency(a.as_str(), b.as_str(), min);
                        }
                    }
                }
            }
        }
        self.history.event(
            ClusterEvent::Latency {
                link: link.map(|(a, b)| vec![a.to_string(), b.to_string()]),
                min_ms: min.as_millis() as u64,
                max_ms: max.as_millis() as u64,
            },
            self.elapsed(),
        );
    }
}
