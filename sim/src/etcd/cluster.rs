//! `EtcdCluster`: N etcd members added to a [`World`], with their disks kept outside the
//! hosts; and `Cluster`, a world with an etcd cluster in it (what most callers want).
//!
//! turmoil rebuilds a crashed host from its closure and drops everything created inside it, so
//! each member's [`MemberStorage`] is created here and captured by the closure: a restart sees
//! the same disk, while the `RawNode`, lessor timers, watches and sockets start afresh — crash
//! as a process restart, not as amnesia (TigerBeetle: "leave the persistent storage untouched").

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use crate::etcd::client::ClientConfig;
use crate::etcd::member::{self, MemberConfig, MemberContext, MemberStatus, StatusBoard};
use crate::etcd::request::MemberId;
use crate::raft_core::add_nodes;
use crate::raft_core::roles::EtcdRoles;
use crate::world::sim::{SimError, World, WorldConfig};

/// Shape and timing of a simulated cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Number of etcd members (n1..nN). etcd runs 3 or 5; 1..=7 are allowed, and 0 for a
    /// world with no etcd at all (the AP store's hosts are added with `ap::ApStore::add_to`).
    pub members: usize,
    /// Seeds turmoil's RNG (latency, loss) and every member's election timeouts.
    pub seed: u64,
    /// Every member's configuration (timing, read mode, lease and watch settings).
    pub member: MemberConfig,
    /// Simulated time per `Sim::step`. Message latency is never below it.
    pub tick: Duration,
    /// Least one-way latency of a datagram while no latency fault is on (turmoil's
    /// `min_message_latency`); in effect never below one `tick`.
    pub latency_min: Duration,
    /// Greatest one-way latency of a datagram while no latency fault is on (turmoil's
    /// `max_message_latency`); turmoil draws each message's latency from `latency_min` up to it.
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
    /// The world's part of the configuration: seed, tick, latency.
    pub fn world(&self) -> WorldConfig {
        WorldConfig {
            seed: self.seed,
            tick: self.tick,
            latency_min: self.latency_min,
            latency_max: self.latency_max,
        }
    }
}

/// N etcd members on a world: their configuration and the status board they publish (their
/// disks and page caches live in the hosts' closures and the world's power-loss hooks).
pub struct EtcdCluster {
    config: MemberConfig,
    /// The status board and membership, read for `status`, `leader` and the fault roles.
    roles: EtcdRoles,
}

impl EtcdCluster {
    /// Register `members` etcd members `n1..nN` on `world` (in name order), each with its disk,
    /// and what a power loss does to its unsynced writes.
    pub fn add_to(world: &mut World, members: usize, config: MemberConfig) -> EtcdCluster {
        assert!(
            (0..=7).contains(&members),
            "members must be 0..=7 (validated by callers)"
        );
        let seed = world.world_config().seed;
        let board = StatusBoard::default();
        let etcd = EtcdCluster {
            config,
            roles: EtcdRoles::new(board.clone(), members, member_name),
        };
        let peers: Vec<MemberId> = (1..=members as u64).collect();
        // etcd is a Go program: its Raft ticks, lease expiries and request timeouts compare
        // monotonic readings, so a wall-clock step moves none of them (a fast clock does).
        let (config, history) = (etcd.config.clone(), world.history().clone());
        add_nodes(world, &peers, member_name, |id, disk| {
            let ctx = MemberContext {
                id,
                peers: peers.clone(),
                config: config.clone(),
                disk,
                seed,
                history: history.clone(),
                board: board.clone(),
            };
            move || member::run(ctx.clone())
        });
        etcd
    }

    /// Member host names, `n1`..`nN`.
    pub fn member_names(&self) -> Vec<String> {
        self.roles.member_names()
    }

    /// Every member's status as it last published it, `running` false for crashed ones.
    pub fn status(&self, world: &World) -> BTreeMap<MemberId, MemberStatus> {
        self.roles.status(world)
    }

    /// The running leader with the highest term, if any.
    pub fn leader(&self, world: &World) -> Option<(MemberId, u64)> {
        self.roles.leader(world)
    }

    /// A client configuration for a client running on `host`: every member as endpoint,
    /// timing matched to the members', and the host's clock and link faults, so faults aimed
    /// at `host` reach it.
    pub fn client_config(&self, world: &mut World, host: &str) -> ClientConfig {
        ClientConfig {
            endpoints: self.member_names(),
            watch_poll: self.config.watch_poll,
            clock: world.clock(host),
            links: world.links(),
            ..ClientConfig::default()
        }
    }

    /// etcd's roles for fault plans, as of each question (see [`EtcdRoles`]).
    pub fn roles(&self) -> EtcdRoles {
        self.roles.clone()
    }
}

/// A world with an etcd cluster in it: the [`World`]'s verbs (through `Deref`) and the etcd
/// questions (leader, status, client configurations).
pub struct Cluster<'a> {
    world: World<'a>,
    etcd: EtcdCluster,
    config: ClusterConfig,
}

impl<'a> Cluster<'a> {
    /// A world with `config.members` etcd members (0: a world for another store).
    pub fn new(config: ClusterConfig) -> Self {
        let mut world = World::new(config.world());
        let etcd = EtcdCluster::add_to(&mut world, config.members, config.member.clone());
        Cluster {
            world,
            etcd,
            config,
        }
    }

    /// The configuration the cluster was built with.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// The etcd members of this world.
    pub fn etcd(&self) -> &EtcdCluster {
        &self.etcd
    }

    /// Member host names, `n1`..`nN`.
    pub fn member_names(&self) -> Vec<String> {
        self.etcd.member_names()
    }

    /// A client configuration for a client running on `host` (see
    /// [`EtcdCluster::client_config`]).
    pub fn client_config(&mut self, host: &str) -> ClientConfig {
        self.etcd.client_config(&mut self.world, host)
    }

    /// Every member's status as it last published it, `running` false for crashed ones (see
    /// [`EtcdCluster::status`]).
    pub fn status(&self) -> BTreeMap<MemberId, MemberStatus> {
        self.etcd.status(&self.world)
    }

    /// The running leader with the highest term, if any.
    pub fn leader(&self) -> Option<(MemberId, u64)> {
        self.etcd.leader(&self.world)
    }

    /// etcd's roles for fault plans (see [`EtcdCluster::roles`]).
    pub fn roles(&self) -> EtcdRoles {
        self.etcd.roles()
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
}

impl<'a> Deref for Cluster<'a> {
    type Target = World<'a>;
    fn deref(&self) -> &World<'a> {
        &self.world
    }
}

impl DerefMut for Cluster<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.world
    }
}

/// Host name of member `id`.
pub fn member_name(id: MemberId) -> String {
    format!("n{id}")
}
