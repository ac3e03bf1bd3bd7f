//! `Node`: one Redis server as a turmoil host — primary or replica — with its dataset, its
//! replication history and, on a primary, the replicas it streams to.
//!
//! Everything in a `Node` is volatile. What survives a crash is its [`NodeDisk`], kept by the
//! store outside the host: the role configuration (Sentinel rewrites `redis.conf` with
//! `CONFIG REWRITE` when it reconfigures a node, so a restarted node comes back in the role it
//! last had) and, with `Persistence::AofEverySec`, the dataset as of the last fsync.
//! With persistence off a restarted node comes back empty — and a primary that restarts empty
//! before a failover wipes its replicas through a full resync, as Redis's replication docs
//! warn.
//!
//! Time: every timer and every TTL runs on the host's [`Clock`], so a skewed node expires keys
//! early or late by its own clock and a paused node does nothing while its peers move on.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use turmoil::net::UdpSocket;

use super::command::{ApError, Command, Reply};
use super::dataset::{Dataset, Effect};
use super::message::{ApMessage, NodeInfo, NodeRole, NODE_PORT};
use super::replication::{ReplState, Replicas, ReplicationConfig, SyncDecision};
use crate::etcd::request::RequestId;
use crate::world::clock::Clock;
use crate::world::datagram::encode;
use crate::world::history::History;
use crate::world::host_loop::{datagram_inbox, serve, Host, Timer};
use crate::world::link_faults::LinkFaults;

/// What a node keeps on disk across a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Persistence {
    /// No RDB, no AOF: a restarted node is empty.
    #[default]
    Off,
    /// `appendonly yes`, `appendfsync everysec`: the AOF is fsynced once a second (node-local
    /// time), so a crash loses up to the last second of writes.
    AofEverySec,
}

/// Timing and durability of one node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    /// What survives a crash of the node;
    /// [`ApConfig::persistence`](crate::ap::ApConfig::persistence) overrides it per node.
    pub persistence: Persistence,
    /// Replication timing: lag, acks, resends, backlog.
    pub replication: ReplicationConfig,
    /// How often the node's event loop runs its timers (replication sends, `WAIT` deadlines).
    pub cron_period: Duration,
    /// Active expiry runs this often (Redis `hz 10`).
    pub active_expire_period: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            persistence: Persistence::Off,
            replication: ReplicationConfig::default(),
            cron_period: Duration::from_millis(5),
            active_expire_period: Duration::from_millis(100),
        }
    }
}

/// A node's durable state, kept outside its host.
#[derive(Clone, Debug, Default)]
pub struct DiskState {
    /// `None` until the node first runs: it then takes its initial role from the store.
    pub role: Option<NodeRole>,
    pub config_epoch: u64,
    /// The dataset and offset as of the last AOF fsync (only with persistence on).
    pub aof: Option<(Dataset, u64)>,
}

pub type NodeDisk = Rc<RefCell<DiskState>>;

/// What the harness can see of a node without asking it over the network (tests, role
/// targets). Never read by hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// False while the node's host is crashed (a paused node still shows true).
    pub running: bool,
    /// Its role as it believes it.
    pub role: NodeRole,
    /// The replication history it is on.
    pub replid: u64,
    /// Its replication offset, counted in effects.
    pub offset: u64,
    /// The highest sentinel epoch whose `REPLICAOF` it obeyed.
    pub config_epoch: u64,
    /// Keys stored, logically expired ones included until deleted.
    pub keys: usize,
}

pub type NodeBoard = Rc<RefCell<BTreeMap<String, NodeStatus>>>;

/// Everything a node host needs that outlives one incarnation of it.
#[derive(Clone)]
pub(crate) struct NodeContext {
    pub(crate) name: String,
    pub(crate) index: u64,
    pub(crate) initial_role: NodeRole,
    pub(crate) seed: u64,
    pub(crate) config: NodeConfig,
    pub(crate) disk: NodeDisk,
    pub(crate) incarnation: Rc<Cell<u64>>,
    pub(crate) history: History,
    pub(crate) board: NodeBoard,
    pub(crate) clock: Clock,
    pub(crate) links: LinkFaults,
}

/// A `WAIT` blocked until enough replicas acknowledge `target`.
struct PendingWait {
    to: SocketAddr,
    id: RequestId,
    replicas: u32,
    target: u64,
    deadline: Option<Duration>,
}

struct Node {
    ctx: NodeContext,
    socket: Rc<UdpSocket>,
    role: NodeRole,
    config_epoch: u64,
    data: Dataset,
    repl: ReplState,
    /// Primary only: the replicas streaming from it.
    replicas: Replicas,
    rng: ChaCha8Rng,
    /// Replica only: local time it last heard from its primary.
    primary_contact: Duration,
    waits: Vec<PendingWait>,
    next_ack: Duration,
    next_expire: Duration,
    next_fsync: Duration,
}

/// The host body of a node. Runs until the host is crashed.
pub(crate) async fn run(ctx: NodeContext) -> turmoil::Result {
    let socket = Rc::new(UdpSocket::bind(("0.0.0.0", NODE_PORT)).await?);
    let mut node = Node::start(ctx, socket.clone());
    let clock = node.ctx.clock.clone();
    let period = node.ctx.config.cron_period;
    let first = clock.now() + period;
    let inbound = datagram_inbox(socket);
    serve(&mut node, clock, &[Timer { first, period }], inbound).await;
    Ok(())
}

impl Host for Node {
    type Inbound = (SocketAddr, ApMessage);

    fn on_timer(&mut self, _timer: usize) {
        self.cron();
    }
    fn on_inbound(&mut self, (from, msg): (SocketAddr, ApMessage)) {
        self.handle(from, msg);
    }
    async fn after_wake(&mut self) {
        self.publish();
    }
}

impl Node {
    fn start(ctx: NodeContext, socket: Rc<UdpSocket>) -> Node {
        let incarnation = ctx.incarnation.get();
        ctx.incarnation.set(incarnation + 1);
        let mut rng = ChaCha8Rng::seed_from_u64(
            ctx.seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(0x0072_6564_6973 ^ (ctx.index << 40))
                .wrapping_add(incarnation),
        );
        let now = ctx.clock.now();
        let (role, config_epoch, data, offset) = {
            let mut disk = ctx.disk.borrow_mut();
            let role = disk
                .role
                .get_or_insert_with(|| ctx.initial_role.clone())
                .clone();
            let (data, offset) = match (&ctx.config.persistence, &disk.aof) {
                (Persistence::AofEverySec, Some((data, offset))) => (data.clone(), *offset),
                _ => (Dataset::new(), 0),
            };
            (role, disk.config_epoch, data, offset)
        };
        // A restarted node starts a new replication history (Redis without an RDB preamble
        // carrying the replid): a replica of it needs a full resync, and it needs one itself.
        let replid = rng.gen::<u64>() | 1;
        if incarnation > 0 {
            ctx.history.app(
                &ctx.name,
                serde_json::json!({"ap": "node_started", "role": role, "keys": data.len(), "offset": offset}),
                crate::world::history::sim_now(),
            );
        }
        let limit = ctx.config.replication.backlog;
        let node = Node {
            socket,
            role,
            config_epoch,
            data,
            repl: ReplState::new(replid, offset, limit),
            replicas: Replicas::default(),
            rng,
            primary_contact: now,
            waits: Vec::new(),
            next_ack: now,
            next_expire: now + ctx.config.active_expire_period,
            next_fsync: now + Duration::from_secs(1),
            ctx,
        };
        node.publish();
        node
    }

    fn now(&self) -> Duration {
        self.ctx.clock.now()
    }

    fn now_ms(&self) -> u64 {
        self.now().as_millis() as u64
    }

    fn is_primary(&self) -> bool {
        self.role == NodeRole::Primary
    }

    fn publish(&self) {
        self.ctx.board.borrow_mut().insert(
            self.ctx.name.clone(),
            NodeStatus {
                running: true,
                role: self.role.clone(),
                replid: self.repl.replid,
                offset: self.repl.offset,
                config_epoch: self.config_epoch,
                keys: self.data.len(),
            },
        );
    }

    fn send_to_host(&self, host: &str, port: u16, msg: &ApMessage) {
        let bytes = encode(msg);
        for _ in 0..self.ctx.links.copies(&self.ctx.name, host) {
            // UDP: a send to a crashed or cut-off host is simply lost.
            let _ = self.socket.try_send_to(&bytes, (host, port));
        }
    }

    fn send_to_addr(&self, to: SocketAddr, msg: &ApMessage) {
        let bytes = encode(msg);
        let copies = self.ctx.links.copies_to(&self.ctx.name, || {
            turmoil::reverse_lookup(to.ip()).unwrap_or_default()
        });
        for _ in 0..copies {
            let _ = self.socket.try_send_to(&bytes, to);
        }
    }

    fn reply(&self, to: SocketAddr, id: RequestId, result: Result<Reply, ApError>) {
        let msg = ApMessage::Reply {
            id,
            role: self.role.clone(),
            result,
        };
        self.send_to_addr(to, &msg);
    }

    fn handle(&mut self, from: SocketAddr, msg: ApMessage) {
        let sender = turmoil::reverse_lookup(from.ip()).unwrap_or_default();
        match msg {
            ApMessage::Command { id, command } => self.command(from, id, command),
            ApMessage::Sync { replid, offset } => self.on_sync(&sender, replid, offset),
            ApMessage::Stream { replid, entries } => {
                if !self.is_from_primary(&sender) || replid != self.repl.replid {
                    // Not from our primary, or on a history we have not (yet) adopted: the
                    // next ack tells the primary where we are.
                    return;
                }
                let now = self.now();
                let mut applied = false;
                for entry in entries {
                    if entry.offset <= self.repl.offset {
                        continue;
                    }
                    if entry.offset != self.repl.offset + 1 {
                        break;
                    }
                    self.data.apply(&entry.effect);
                    self.repl.append(entry.effect, now);
                    applied = true;
                }
                if applied {
                    if cfg!(debug_assertions) {
                        self.repl.check_invariants();
                    }
                    self.ack();
                }
            }
            ApMessage::Continue { replid, offset } => {
                if self.is_from_primary(&sender) && offset == self.repl.offset {
                    self.repl.adopt(replid, offset, true);
                    self.ack();
                }
            }
            ApMessage::FullResync {
                replid,
                offset,
                dataset,
            } => {
                if !self.is_from_primary(&sender) || replid == self.repl.replid {
                    return;
                }
                self.ctx.history.app(
                    &self.ctx.name,
                    serde_json::json!({
                        "ap": "full_resync",
                        "primary": sender,
                        "discarded_keys": self.data.len(),
                        "discarded_offset": self.repl.offset,
                        "keys": dataset.len(),
                        "offset": offset,
                    }),
                    crate::world::history::sim_now(),
                );
                self.data = dataset;
                self.repl.adopt(replid, offset, false);
                self.ack();
            }
            ApMessage::Probe { id } => {
                let info = NodeInfo {
                    role: self.role.clone(),
                    replid: self.repl.replid,
                    offset: self.repl.offset,
                    link_down_ms: if self.is_primary() {
                        0
                    } else {
                        self.now().saturating_sub(self.primary_contact).as_millis() as u64
                    },
                    config_epoch: self.config_epoch,
                };
                self.send_to_addr(from, &ApMessage::Info { id, info });
            }
            ApMessage::Promote { epoch } => self.promote(epoch),
            ApMessage::Follow { primary, epoch } => self.follow(primary, epoch),
            // Not for nodes.
            ApMessage::Reply { .. }
            | ApMessage::Info { .. }
            | ApMessage::IsPrimaryDown { .. }
            | ApMessage::IsPrimaryDownReply { .. }
            | ApMessage::Hello { .. }
            | ApMessage::GetPrimary { .. }
            | ApMessage::PrimaryIs { .. } => {}
        }
    }

    fn is_from_primary(&mut self, sender: &str) -> bool {
        match &self.role {
            NodeRole::Replica { primary } if primary == sender => {
                self.primary_contact = self.now();
                true
            }
            _ => false,
        }
    }

    fn command(&mut self, from: SocketAddr, id: RequestId, command: Command) {
        let now_ms = self.now_ms();
        if !self.is_primary() {
            let result = match &command {
                Command::Wait { .. } => Err(ApError::InvalidArgument(
                    "WAIT cannot be used with replica instances.".into(),
                )),
                _ => self.data.read_command(&command, now_ms),
            };
            self.reply(from, id, result);
            return;
        }
        if let Command::Wait {
            replicas,
            timeout_ms,
        } = command
        {
            let target = self.repl.offset;
            let acked = self.replicas.acked_at_least(target);
            if acked >= replicas {
                self.reply(from, id, Ok(Reply::Integer(acked as i64)));
            } else {
                let deadline = (timeout_ms > 0).then(|| self.now() + ms(timeout_ms));
                self.waits.push(PendingWait {
                    to: from,
                    id,
                    replicas,
                    target,
                    deadline,
                });
            }
            return;
        }
        let (result, effects) = self.data.execute(&command, now_ms);
        self.propagate(effects);
        self.reply(from, id, result);
    }

    /// Append executed effects to the replication history.
    fn propagate(&mut self, effects: Vec<Effect>) {
        let now = self.now();
        for effect in effects {
            self.repl.append(effect, now);
        }
        if cfg!(debug_assertions) {
            self.repl.check_invariants();
        }
    }

    fn on_sync(&mut self, sender: &str, replid: u64, offset: u64) {
        if !self.is_primary() || sender.is_empty() {
            return;
        }
        let now = self.now();
        let (lo, hi) = self.ctx.config.replication.lag;
        let (lo, hi) = (lo.as_millis() as u64, hi.as_millis() as u64);
        let lag = ms(self.rng.gen_range(lo..=hi.max(lo)));
        match self
            .replicas
            .on_sync(&self.repl, sender, replid, offset, now, lag)
        {
            SyncDecision::Acked => self.answer_waits(),
            SyncDecision::Continue => {
                let msg = ApMessage::Continue {
                    replid: self.repl.replid,
                    offset,
                };
                self.send_to_host(sender, NODE_PORT, &msg);
            }
            SyncDecision::FullResync => {
                let msg = ApMessage::FullResync {
                    replid: self.repl.replid,
                    offset: self.repl.offset,
                    dataset: self.data.clone(),
                };
                self.send_to_host(sender, NODE_PORT, &msg);
            }
        }
    }

    fn ack(&mut self) {
        if let NodeRole::Replica { primary } = &self.role {
            let msg = ApMessage::Sync {
                replid: self.repl.replid,
                offset: self.repl.offset,
            };
            self.send_to_host(&primary.clone(), NODE_PORT, &msg);
        }
        self.next_ack = self.now() + self.ctx.config.replication.ack_period;
    }

    fn promote(&mut self, epoch: u64) {
        if epoch < self.config_epoch {
            return;
        }
        self.config_epoch = epoch;
        if !self.is_primary() {
            let replid = self.rng.gen::<u64>() | 1;
            self.repl.promote(replid);
            self.role = NodeRole::Primary;
            self.replicas = Replicas::default();
            self.ctx.history.app(
                &self.ctx.name,
                serde_json::json!({"ap": "promoted", "epoch": epoch, "offset": self.repl.offset}),
                crate::world::history::sim_now(),
            );
        }
        self.persist_role();
    }

    fn follow(&mut self, primary: String, epoch: u64) {
        if epoch < self.config_epoch || primary == self.ctx.name {
            return;
        }
        self.config_epoch = epoch;
        let new_role = NodeRole::Replica { primary };
        if self.role != new_role {
            self.ctx.history.app(
                &self.ctx.name,
                serde_json::json!({
                    "ap": "follow",
                    "epoch": epoch,
                    "was": self.role,
                    "now": new_role,
                    "offset": self.repl.offset,
                }),
                crate::world::history::sim_now(),
            );
            self.role = new_role;
            self.replicas = Replicas::default();
            // Redis disconnects blocked clients on a role change; they see a timeout.
            self.waits.clear();
            self.primary_contact = self.now();
            self.ack();
        }
        self.persist_role();
    }

    fn persist_role(&self) {
        let mut disk = self.ctx.disk.borrow_mut();
        disk.role = Some(self.role.clone());
        disk.config_epoch = self.config_epoch;
    }

    fn cron(&mut self) {
        let now = self.now();
        if self.is_primary() {
            if now >= self.next_expire {
                self.next_expire = now + self.ctx.config.active_expire_period;
                let effects = self.data.expire_due(now.as_millis() as u64);
                self.propagate(effects);
            }
            self.stream(now);
            self.answer_waits();
        } else if now >= self.next_ack {
            self.ack();
        }
        if now >= self.next_fsync {
            self.next_fsync = now + Duration::from_secs(1);
            if self.ctx.config.persistence == Persistence::AofEverySec {
                self.ctx.disk.borrow_mut().aof = Some((self.data.clone(), self.repl.offset));
            }
        }
    }

    /// Send each replica what is ready after what it was sent; heartbeats keep idle links
    /// alive (Redis `repl-ping-replica-period`).
    fn stream(&mut self, now: Duration) {
        let config = self.ctx.config.replication.clone();
        self.replicas.rewind_stalled(now, config.resend_after);
        let heartbeat = now >= self.next_ack;
        if heartbeat {
            self.next_ack = now + config.ack_period;
        }
        let hosts: Vec<String> = self.replicas.links.keys().cloned().collect();
        for host in hosts {
            let link = self.replicas.links.get_mut(&host).expect("listed above");
            let entries = self.repl.ready_after(link.sent, now, link.lag, 256);
            if entries.is_empty() && !heartbeat {
                continue;
            }
            if let Some(last) = entries.last() {
                if link.sent == link.acked {
                    link.progress_at = now;
                }
                link.sent = last.offset;
            }
            let msg = ApMessage::Stream {
                replid: self.repl.replid,
                entries,
            };
            self.send_to_host(&host, NODE_PORT, &msg);
        }
    }

    fn answer_waits(&mut self) {
        if self.waits.is_empty() {
            return;
        }
        let now = self.now();
        let waits = std::mem::take(&mut self.waits);
        for wait in waits {
            let acked = self.replicas.acked_at_least(wait.target);
            if acked >= wait.replicas || wait.deadline.is_some_and(|d| now >= d) {
                self.reply(wait.to, wait.id, Ok(Reply::Integer(acked as i64)));
            } else {
                self.waits.push(wait);
            }
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
