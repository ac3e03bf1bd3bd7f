//! The AP contrast: a Redis-like store with asynchronous replication and Sentinel failover,
//! running in the same [`World`] as the etcd members.
//!
//! A primary acknowledges a write at once and streams it to its replicas later; sentinels
//! promote the most up-to-date reachable replica when the primary is unreachable for
//! `down_after`; an old primary that comes back is demoted and loses what it never replicated.
//! Redis behaves so, and this store does too, on purpose: locks built on it lose mutual
//! exclusion on failover, which is what the etcd side is contrasted with.
//!
//! # Layout
//! * `command`: `Command`, `Reply`, `ApError` — typed Redis commands and replies.
//! * `dataset`: `Dataset`, one node's keyspace with TTLs on the node's own clock; `Effect`s.
//! * `replication`: replication ids and offsets, the backlog, partial vs full resync.
//! * `message`: datagrams between clients, nodes and sentinels.
//! * `node`: `Node`, one Redis server host (primary or replica); its disk and persistence.
//! * `sentinel`: `Sentinel`, one monitor host: SDOWN/ODOWN, leader vote, promotion.
//! * `client`: `ApClient`, the API locks use: primary discovery, deadlines, recording.
//! * `record`: AP commands read back typed from the `History` (`operations`).
//! * `summary`: commands and replies in redis-cli's words (history summaries).
//!
//! [`ApStore`] (here) registers the hosts on a [`World`] and answers the harness's questions
//! (who is primary, each node's status), including [`RoleResolver::primary`] for fault plans.

mod client;
mod command;
mod dataset;
mod message;
mod node;
mod record;
mod replication;
mod sentinel;
pub(crate) mod summary;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

pub use client::{ApClient, ApClientConfig, ApEndpoint};
pub use command::{ApError, ApResult, Command, Reply};
pub use dataset::{Dataset, Effect, Entry};
pub use message::{NodeInfo, NodeRole, NODE_PORT, SENTINEL_PORT};
pub use node::{NodeConfig, NodeStatus, Persistence};
pub use record::{operations, ApOperation, ApOutcome};
pub use replication::{ReplId, ReplicationConfig};
pub use sentinel::{SentinelConf, SentinelConfig};

use crate::world::fault::RoleResolver;
use crate::world::sim::World;
use node::{DiskState, NodeBoard, NodeContext, NodeDisk};
use sentinel::{SentinelContext, SentinelDisk};

/// How the store's nodes are arranged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topology {
    /// One primary (`r1`), `replicas` replicas (`r2`…) and `sentinels` sentinels (`s1`…):
    /// Redis with replicas and Sentinel.
    Replicated {
        /// Number of replicas besides the primary (0: a lone primary, still monitored).
        replicas: usize,
        /// Number of sentinels, at least 1; a majority of them must agree to fail over.
        sentinels: usize,
    },
    /// `nodes` standalone primaries (`r1`…`rN`), no replication, no sentinel: Redlock's N
    /// independent masters.
    Independent {
        /// Number of primaries, at least 1.
        nodes: usize,
    },
}

/// Shape, timing and durability of the AP store.
#[derive(Clone, Debug, PartialEq)]
pub struct ApConfig {
    /// How many nodes and sentinels, and whether they replicate.
    pub topology: Topology,
    /// Applies to every node unless `persistence` overrides it for that node.
    pub node: NodeConfig,
    /// Per node (`"r1"` → AOF everysec, …).
    pub persistence: BTreeMap<String, Persistence>,
    /// Every sentinel's timing and quorum.
    pub sentinel: SentinelConfig,
}

impl Default for ApConfig {
    fn default() -> Self {
        Self {
            topology: Topology::Replicated {
                replicas: 2,
                sentinels: 3,
            },
            node: NodeConfig::default(),
            persistence: BTreeMap::new(),
            sentinel: SentinelConfig::default(),
        }
    }
}

/// Host name of node `i` (1-based).
pub fn node_name(i: usize) -> String {
    format!("r{i}")
}

/// Host name of sentinel `i` (1-based).
pub fn sentinel_name(i: usize) -> String {
    format!("s{i}")
}

/// The AP store's hosts in a world, and the harness's view of them. Keeps every node's and
/// sentinel's disk, so crash and restart through the [`World`] behave as for etcd members.
pub struct ApStore {
    config: ApConfig,
    nodes: Vec<String>,
    sentinels: Vec<String>,
    board: NodeBoard,
    sentinel_disks: BTreeMap<String, SentinelDisk>,
}

impl ApStore {
    /// Register the store's hosts on `world` (nodes, then sentinels, in name order).
    ///
    /// # Panics
    /// If the topology has no node, or a replicated topology has no sentinel (validated by
    /// callers).
    pub fn add_to(world: &mut World, config: ApConfig) -> ApStore {
        let (n_nodes, n_sentinels) = match config.topology {
            Topology::Replicated {
                replicas,
                sentinels,
            } => {
                assert!(sentinels >= 1, "a replicated store needs a sentinel");
                (replicas + 1, sentinels)
            }
            Topology::Independent { nodes } => (nodes, 0),
        };
        assert!(n_nodes >= 1, "the store needs a node");
        let nodes: Vec<String> = (1..=n_nodes).map(node_name).collect();
        let sentinels: Vec<String> = (1..=n_sentinels).map(sentinel_name).collect();
        let replicated = matches!(config.topology, Topology::Replicated { .. });
        let seed = world.world_config().seed;
        let board = NodeBoard::default();
        for (i, name) in nodes.iter().enumerate() {
            let initial_role = if i == 0 || !replicated {
                NodeRole::Primary
            } else {
                NodeRole::Replica {
                    primary: nodes[0].clone(),
                }
            };
            let mut node_config = config.node.clone();
            if let Some(p) = config.persistence.get(name) {
                node_config.persistence = *p;
            }
            let disk: NodeDisk = Rc::new(std::cell::RefCell::new(DiskState::default()));
            let ctx = NodeContext {
                name: name.clone(),
                index: i as u64 + 1,
                initial_role,
                seed,
                config: node_config,
                disk,
                incarnation: Rc::new(Cell::new(0)),
                history: world.history().clone(),
                board: board.clone(),
                clock: world.clock(name),
                links: world.links(),
            };
            world.add_host(name, move || node::run(ctx.clone()));
        }
        let mut sentinel_disks = BTreeMap::new();
        for (i, name) in sentinels.iter().enumerate() {
            let disk: SentinelDisk = Rc::new(std::cell::RefCell::new(SentinelConf {
                primary: nodes[0].clone(),
                ..SentinelConf::default()
            }));
            sentinel_disks.insert(name.clone(), disk.clone());
            let ctx = SentinelContext {
                name: name.clone(),
                index: i as u64 + 1,
                seed,
                config: config.sentinel.clone(),
                nodes: nodes.clone(),
                sentinels: sentinels.clone(),
                disk,
                incarnation: Rc::new(Cell::new(0)),
                history: world.history().clone(),
                clock: world.clock(name),
                links: world.links(),
            };
            world.add_host(name, move || sentinel::run(ctx.clone()));
        }
        ApStore {
            config,
            nodes,
            sentinels,
            board,
            sentinel_disks,
        }
    }

    /// The configuration the store was built with.
    pub fn config(&self) -> &ApConfig {
        &self.config
    }

    /// Node host names, `r1`….
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Sentinel host names, `s1`… (none for an independent topology).
    pub fn sentinels(&self) -> &[String] {
        &self.sentinels
    }

    /// Every AP host: nodes, then sentinels.
    pub fn hosts(&self) -> Vec<String> {
        self.nodes.iter().chain(&self.sentinels).cloned().collect()
    }

    /// A client configuration for a client on `host`: through the sentinels for a replicated
    /// store, pinned to `r1` for an independent one (aim it elsewhere with
    /// [`ApClient::with_endpoint`]). Takes the host's clock and the world's link faults, so
    /// faults aimed at `host` reach the client.
    pub fn client_config(&self, world: &mut World, host: &str) -> ApClientConfig {
        let endpoint = if self.sentinels.is_empty() {
            ApEndpoint::Node(self.nodes[0].clone())
        } else {
            ApEndpoint::Sentinels(self.sentinels.clone())
        };
        ApClientConfig {
            endpoint,
            clock: world.clock(host),
            links: world.links(),
            ..ApClientConfig::default()
        }
    }

    /// The primary in the sentinels' view: the configuration with the highest epoch among the
    /// sentinels (it may be crashed or cut off: that is what a failover is for). `None` for an
    /// independent topology, where every node is a primary.
    pub fn primary(&self) -> Option<String> {
        self.sentinel_disks
            .values()
            .map(|d| d.borrow().clone())
            .max_by_key(|c| c.config_epoch)
            .map(|c| c.primary)
    }

    /// Each sentinel's configuration (its `sentinel.conf`).
    pub fn sentinel_confs(&self) -> BTreeMap<String, SentinelConf> {
        self.sentinel_disks
            .iter()
            .map(|(name, d)| (name.clone(), d.borrow().clone()))
            .collect()
    }

    /// What each node last published about itself; a crashed node shows `running: false`.
    pub fn node_status(&self, world: &World) -> BTreeMap<String, NodeStatus> {
        let mut status = self.board.borrow().clone();
        for (name, s) in status.iter_mut() {
            if world.is_crashed(name) {
                s.running = false;
            }
        }
        status
    }

    /// Every AP command recorded in the world's history so far.
    pub fn operations(&self, world: &World) -> Vec<ApOperation> {
        operations(world.history())
    }
}

impl RoleResolver for ApStore {
    fn primary(&self, _world: &World) -> Option<String> {
        ApStore::primary(self)
    }
}
