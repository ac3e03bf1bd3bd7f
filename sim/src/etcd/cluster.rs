//! `Cluster`: N etcd members on one `turmoil::Sim`, with their disks kept outside the hosts.
//!
//! turmoil rebuilds a crashed host from its closure and drops everything created inside it, so
//! each member's [`MemberStorage`] is created here and captured by the closure: a restart sees
//! the same disk, while the `RawNode`, lessor timers, watches and sockets start afresh — crash
//! as a process restart, not as amnesia (TigerBeetle: "leave the persistent storage untouched").

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use turmoil::{Builder, Sim};

use crate::etcd::client::ClientConfig;
use crate::etcd::member::{self, MemberConfig, MemberContext, MemberStatus, Role, StatusBoard};
use crate::etcd::page_cache::PageCache;
use crate::etcd::request::MemberId;
use crate::etcd::storage::MemberStorage;
use crate::world::clock::Clock;
use crate::world::history::{ClusterEvent, History};
use crate::world::link_faults::{LinkFaults, LinkRule};

/// Shape and timing of a simulated cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Number of etcd members (n1..nN). etcd runs 3 or 5; 1..=7 are allowed, and 0 for a
    /// world with no etcd at all (the AP store's hosts are added with `ap::ApStore::add_to`).
    pub members: usize,
    /// Seeds turmoil's RNG (latency, loss) and every member's election timeouts.
    pub seed: u64,
    pub member: MemberConfig,
    /// Simulated time per `Sim::step`. Message latency is never below it.
    pub tick: Duration,
    pub latency_min: Duration,
    pub latency_max: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            members: 3,
            seed: 0,
            member: MemberConfig::default(),
            // 10 ms, as TigerBeetle's simulator: a message takes 1–2 ticks per hop, timers inside
            // a host stay exact, and a simulated second costs 100 steps instead of 1000.
            tick: Duration::from_millis(10),
            latency_min: Duration::from_millis(1),
            latency_max: Duration::from_millis(10),
        }
    }
}

impl ClusterConfig {
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
    pub elapsed: Duration,
    pub message: String,
}

/// A running simulated cluster. Owns the `Sim`; faults are applied between steps.
pub struct Cluster<'a> {
    sim: Sim<'a>,
    config: ClusterConfig,
    storages: Vec<MemberStorage>,
    page_caches: Vec<PageCache>,
    board: StatusBoard,
    history: History,
    /// Every host registered, members first, in registration order.
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
}

impl<'a> Cluster<'a> {
    pub fn new(config: ClusterConfig) -> Self {
        assert!(
            (0..=7).contains(&config.members),
            "members must be 0..=7 (validated by callers)"
        );
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
        let mut cluster = Cluster {
            sim,
            storages: Vec::new(),
            page_caches: Vec::new(),
            board: StatusBoard::default(),
            history: History::new(),
            hosts: Vec::new(),
            cut: BTreeSet::new(),
            cut_oneway: BTreeSet::new(),
            crashed: BTreeSet::new(),
            one_shot: BTreeSet::new(),
            clocks: BTreeMap::new(),
            links: LinkFaults::new(config.seed),
            config,
        };
        let peers: Vec<MemberId> = (1..=cluster.config.members as u64).collect();
        for &id in &peers {
            let storage = MemberStorage::new_with_conf_state(peers.clone());
            cluster.storages.push(storage.clone());
            let page_cache = PageCache::default();
            cluster.page_caches.push(page_cache.clone());
            let ctx = MemberContext {
                id,
                peers: peers.clone(),
                config: cluster.config.member.clone(),
                storage,
                seed: cluster.config.seed,
                incarnation: Rc::new(Cell::new(0)),
                history: cluster.history.clone(),
                board: cluster.board.clone(),
                clock: cluster.clock(&member_name(id)),
                links: cluster.links.clone(),
                page_cache,
            };
            let name = member_name(id);
            cluster.hosts.push(name.clone());
            cluster.sim.host(name, move || member::run(ctx.clone()));
        }
        cluster
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Member host names, `n1`..`nN`.
    pub fn member_names(&self) -> Vec<String> {
        (1..=self.config.members as u64).map(member_name).collect()
    }

    /// Every registered host (members, then clients in registration order).
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// A client configuration for a client running on `host`: every member as endpoint,
    /// timing matched to the members', and the host's clock and link faults, so faults aimed
    /// at `host` reach it.
    pub fn client_config(&mut self, host: &str) -> ClientConfig {
        ClientConfig {
            endpoints: self.member_names(),
            watch_poll: self.config.member.watch_poll,
            clock: self.clock(host),
            links: self.links.clone(),
            ..ClientConfig::default()
        }
    }

    /// The clock of `host` (created on first use). Host software must read time and sleep
    /// through it for pause and skew to reach it.
    pub fn clock(&mut self, host: &str) -> Clock {
        self.clocks.entry(host.to_string()).or_default().clone()
    }

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

    /// Step until `done` holds or `limit` of simulated time passed. Returns whether it held.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Result<bool, SimError> {
        let until = self.elapsed() + limit;
        while self.elapsed() < until {
            if done(self) {
                return Ok(true);
            }
            self.step()?;
        }
        Ok(done(self))
    }

    /// What each member last published about itself. A crashed member shows `running: false`.
    pub fn status(&self) -> BTreeMap<MemberId, MemberStatus> {
        let mut status = self.board.borrow().clone();
        for (id, s) in status.iter_mut() {
            if self.crashed.contains(&member_name(*id)) {
                s.running = false;
            }
        }
        status
    }

    /// The running leader with the highest term, if any.
    pub fn leader(&self) -> Option<(MemberId, u64)> {
        self.status()
            .into_iter()
            .filter(|(_, s)| s.running && s.role == Role::Leader)
            .map(|(id, s)| (id, s.term))
            .max_by_key(|&(_, term)| term)
    }

    pub fn is_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h == host)
    }

    /// Whether `host` can be crashed and restarted: members and hosts added with
    /// [`Cluster::add_host`] can; one-shot clients from [`Cluster::add_client`] cannot.
    pub fn is_restartable(&self, host: &str) -> bool {
        self.is_host(host) && !self.one_shot.contains(host)
    }

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

    /// Crash a host as a power loss: besides the process, a member loses every Raft write it
    /// had not fsynced yet (see `MemberConfig::fsync_latency`).
    pub fn crash_losing_unsynced(&mut self, host: &str) {
        self.crash(host);
        if let Some(i) = self.member_names().iter().position(|m| m == host) {
            let lost = self.page_caches[i].discard();
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

    /// Stop `host`'s process: it runs nothing until [`Cluster::resume`], while every other
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

    pub fn resume(&mut self, host: &str) {
        self.clock(host).resume();
        self.history.event(
            ClusterEvent::Resume {
                host: host.to_string(),
            },
            self.elapsed(),
        );
    }

    pub fn is_paused(&mut self, host: &str) -> bool {
        self.clock(host).is_paused()
    }

    /// Skew `host`'s clock: from now on it runs at `rate` × real time (if given), after
    /// jumping forward by `offset` (if given).
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

/// Host name of member `id`.
pub fn member_name(id: MemberId) -> String {
    format!("n{id}")
}
