//! `ZkEnsemble`: N ZooKeeper servers `z1..zN` added to a [`World`], each with its durable disk
//! kept outside its host (a crash is a process restart, as for etcd's members), and `ZkConfig`,
//! their timing with ZooKeeper's defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::raft_core::add_nodes;
use crate::raft_core::roles::RaftRoles;
use crate::raft_core::status::{MemberStatus, StatusBoard};
use crate::world::sim::World;
use crate::zk::server::{self, ServerContext};

/// The servers' Raft tick: fine enough that election timeouts drawn within one `tickTime`
/// rarely collide (heartbeats and expiry passes still run at ZooKeeper's half tick and tick).
pub(crate) const RAFT_TICK: Duration = Duration::from_millis(100);

/// Timing of the ensemble. Defaults are ZooKeeper's (and Debian's `zoo.cfg`).
#[derive(Clone, Debug)]
pub struct ZkConfig {
    /// `tickTime` (default 2 s): the unit of session timeouts, the leader's expiry pass and
    /// the quorum's heartbeats.
    pub tick_time: Duration,
    /// `syncLimit` (Debian: 5): ticks a follower may go without its leader before it gives it
    /// up. Here the Raft election timeout is `syncLimit × tickTime` (drawn from one to two
    /// times that), with heartbeats every half tick as ZooKeeper's leader pings.
    pub sync_limit: u32,
    /// `minSessionTimeout` (default `2 × tickTime`).
    pub min_session_timeout: Option<Duration>,
    /// `maxSessionTimeout` (default `20 × tickTime`).
    pub max_session_timeout: Option<Duration>,
    /// `snapCount` (default 100 000): transactions between snapshots.
    pub snap_count: u64,
    /// Time a log fsync takes, on the server's clock.
    pub fsync_latency: Duration,
}

impl Default for ZkConfig {
    fn default() -> Self {
        ZkConfig {
            tick_time: Duration::from_millis(2000),
            sync_limit: 5,
            min_session_timeout: None,
            max_session_timeout: None,
            snap_count: 100_000,
            fsync_latency: Duration::ZERO,
        }
    }
}

impl ZkConfig {
    /// Raft ticks (of [`RAFT_TICK`]) in one `tickTime` (at least 2).
    pub(crate) fn ticks_per_tick_time(&self) -> usize {
        ((self.tick_time.as_millis() / RAFT_TICK.as_millis()) as usize).max(2)
    }

    /// The election timeout in Raft ticks: `syncLimit` ticks of `tickTime`.
    pub(crate) fn election_ticks(&self) -> usize {
        self.sync_limit.max(1) as usize * self.ticks_per_tick_time()
    }

    /// How long a request may make no progress before its connection is given up.
    pub(crate) fn stall_limit(&self) -> Duration {
        self.tick_time * self.sync_limit.max(1)
    }

    /// The session timeout a server grants for `requested` ms: clamped to
    /// `[minSessionTimeout, maxSessionTimeout]`.
    pub fn negotiate(&self, requested_ms: u32) -> u32 {
        let min = self.min_session_timeout.unwrap_or(self.tick_time * 2);
        let max = self.max_session_timeout.unwrap_or(self.tick_time * 20);
        (requested_ms as u128).clamp(min.as_millis(), max.as_millis()) as u32
    }
}

/// N ZooKeeper servers on a world.
pub struct ZkEnsemble {
    config: ZkConfig,
    roles: RaftRoles,
}

impl ZkEnsemble {
    /// Register `servers` servers `z1..zN` on `world` (in name order), each with its disk and
    /// what a power loss does to its unsynced writes.
    pub fn add_to(world: &mut World, servers: usize, config: ZkConfig) -> ZkEnsemble {
        assert!(
            (1..=7).contains(&servers),
            "servers must be 1..=7 (validated by callers)"
        );
        let seed = world.world_config().seed;
        let board = StatusBoard::default();
        let ensemble = ZkEnsemble {
            config,
            roles: RaftRoles::new(board.clone(), servers, server_name),
        };
        let ids: Vec<u64> = (1..=servers as u64).collect();
        let (config, history) = (ensemble.config.clone(), world.history().clone());
        add_nodes(world, &ids, server_name, |id, disk| {
            let ctx = ServerContext {
                id,
                servers: ids.clone(),
                config: config.clone(),
                disk,
                seed,
                history: history.clone(),
                board: board.clone(),
            };
            move || server::run(ctx.clone())
        });
        ensemble
    }

    /// The ensemble's timing.
    pub fn config(&self) -> &ZkConfig {
        &self.config
    }

    /// Server host names, `z1`..`zN`.
    pub fn server_names(&self) -> Vec<String> {
        self.roles.member_names()
    }

    /// Every server's status as it last published it (`revision` is its last zxid).
    pub fn status(&self, world: &World) -> BTreeMap<u64, MemberStatus> {
        self.roles.status(world)
    }

    /// The running leader with the highest term, if any: (server id, term).
    pub fn leader(&self, world: &World) -> Option<(u64, u64)> {
        self.roles.leader(world)
    }

    /// The ensemble's roles for fault plans (leader, followers, minority, majority).
    pub fn roles(&self) -> RaftRoles {
        self.roles.clone()
    }
}

/// Host name of server `id`.
pub fn server_name(id: u64) -> String {
    format!("z{id}")
}
