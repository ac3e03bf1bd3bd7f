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

use crate::client::ClientConfig;
use crate::history::{ClusterEvent, History};
use crate::member::{self, MemberConfig, MemberContext, MemberStatus, Role, StatusBoard};
use crate::request::MemberId;
use crate::storage::MemberStorage;

/// Shape and timing of a simulated cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Number of etcd members (n1..nN). etcd runs 3 or 5; 1..=7 are allowed.
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
            tick: Duration::from_millis(1),
            latency_min: Duration::from_millis(1),
            latency_max: Duration::from_millis(10),
        }
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
    board: StatusBoard,
    history: History,
    /// Every host registered, members first, in registration order.
    hosts: Vec<String>,
    /// Pairs currently cut by `partition`, so `heal` repairs exactly those.
    cut: BTreeSet<(String, String)>,
    crashed: BTreeSet<String>,
}

impl<'a> Cluster<'a> {
    pub fn new(config: ClusterConfig) -> Self {
        assert!(
            (1..=7).contains(&config.members),
            "members must be 1..=7 (validated by callers)"
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
            board: StatusBoard::default(),
            history: History::new(),
            hosts: Vec::new(),
            cut: BTreeSet::new(),
            crashed: BTreeSet::new(),
            config,
        };
        let peers: Vec<MemberId> = (1..=cluster.config.members as u64).collect();
        for &id in &peers {
            let storage = MemberStorage::new_with_conf_state(peers.clone());
            cluster.storages.push(storage.clone());
            let ctx = MemberContext {
                id,
                peers: peers.clone(),
                config: cluster.config.member.clone(),
                storage,
                seed: cluster.config.seed,
                incarnation: Rc::new(Cell::new(0)),
                history: cluster.history.clone(),
                board: cluster.board.clone(),
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

    /// A client configuration pointing at every member, with timing matched to the members'.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            endpoints: self.member_names(),
            watch_poll: self.config.member.watch_poll,
            ..ClientConfig::default()
        }
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// Register a client host running `future` (which typically connects a `Client`).
    pub fn add_client<F>(&mut self, name: &str, future: F)
    where
        F: Future<Output = turmoil::Result> + 'static,
    {
        self.hosts.push(name.to_string());
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

    /// Repair every link cut by `partition`. Returns how many links were repaired.
    pub fn heal(&mut self) -> usize {
        let cut = std::mem::take(&mut self.cut);
        for (a, b) in &cut {
            self.sim.repair(a.as_str(), b.as_str());
        }
        self.history.event(ClusterEvent::Heal, self.elapsed());
        cut.len()
    }

    /// Direct access for what this type does not wrap (used sparingly by the fault layer).
    pub fn sim(&mut self) -> &mut Sim<'a> {
        &mut self.sim
    }
}

/// Host name of member `id`.
pub fn member_name(id: MemberId) -> String {
    format!("n{id}")
}
