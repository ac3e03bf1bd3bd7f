//! The Raft core every replicated store shares — etcd's members and ZooKeeper's servers: a
//! raft-rs `RawNode` on a durable [`MemberStorage`] with its [`PageCache`], seeded election
//! timeouts, peer messages over simulated UDP, and the one Ready loop ([`on_ready`]) that
//! persists before it sends. A store supplies what committed entries *mean* (a [`Replica`]).
//!
//! Why one core: the Ready order (send appends, install a snapshot, apply, write, fsync, then
//! send what promises durability) is where Raft implementations go wrong; written once, every
//! store gets the same order, the same crash model and the same determinism.

pub(crate) mod page_cache;
pub(crate) mod roles;
pub(crate) mod status;
pub(crate) mod storage;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, Message, Snapshot};
use raft::{RawNode, ReadOnlyOption, ReadState, StateRole};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;
use turmoil::net::UdpSocket;

use crate::world::clock::Clock;
use crate::world::datagram::MAX_DATAGRAM;
use crate::world::history::{sim_now, ClusterEvent, History};
use crate::world::link_faults::LinkFaults;
use crate::world::sim::World;
use page_cache::PageCache;
use storage::MemberStorage;

/// What a Raft node of a store keeps across its incarnations, made once by [`add_nodes`]: its
/// durable disk and page cache (outside the host, so a crash keeps them, a power loss the
/// disk only), its clock (monotonic: Go's and Java's timers ignore a wall-clock step) and links.
#[derive(Clone)]
pub(crate) struct NodeDisk {
    pub(crate) storage: MemberStorage,
    pub(crate) page_cache: PageCache,
    pub(crate) clock: Clock,
    pub(crate) links: LinkFaults,
    /// Counts starts, so each incarnation draws fresh (but seeded) election timeouts.
    pub(crate) incarnation: Rc<Cell<u64>>,
}

/// Register Raft nodes `ids` on `world` (host `name(id)`, in id order), each with its
/// [`NodeDisk`] and what a power loss does to its unsynced writes; `software(id, disk)` is the
/// host body, run again from the same disk after a restart.
pub(crate) fn add_nodes<F, Fut>(
    world: &mut World,
    ids: &[u64],
    name: fn(u64) -> String,
    software: impl Fn(u64, NodeDisk) -> F,
) where
    F: Fn() -> Fut + 'static,
    Fut: std::future::Future<Output = turmoil::Result> + 'static,
{
    for &id in ids {
        let host = name(id);
        let clock = world.clock(&host);
        clock.set_monotonic();
        let disk = NodeDisk {
            storage: MemberStorage::new_with_conf_state(ids.to_vec()),
            page_cache: PageCache::default(),
            clock,
            links: world.links(),
            incarnation: Rc::new(Cell::new(0)),
        };
        let page_cache = disk.page_cache.clone();
        world.on_power_loss(&host, move || page_cache.discard());
        world.add_host(&host, software(id, disk));
    }
}

/// The seed of one incarnation's election draws: the run's seed mixed with the node's id, its
/// incarnation and a store's `salt` (two stores' nodes with one id draw apart).
pub(crate) fn incarnation_seed(seed: u64, id: u64, incarnation: u64, salt: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(id << 32)
        .wrapping_add(incarnation)
        ^ salt
}

/// What a [`RaftCore`] is built from: the node's identity and disk, its timing, and how its
/// peers are reached.
pub(crate) struct RaftSetup {
    /// The Raft id (1..=N).
    pub(crate) id: u64,
    /// This host's name (link faults are looked up by it).
    pub(crate) name: String,
    /// A peer's host name from its Raft id (`n2`, `z2`).
    pub(crate) peer_name: fn(u64) -> String,
    /// The UDP port every peer's Raft socket listens on.
    pub(crate) peer_port: u16,
    pub(crate) peer_socket: Rc<UdpSocket>,
    /// Disk, page cache, clock and links.
    pub(crate) disk: NodeDisk,
    /// The index the state machine was restored to (its snapshot's).
    pub(crate) applied: u64,
    /// Election timeout in ticks; each timeout is drawn from `[n, max_election_ticks)`.
    pub(crate) election_ticks: usize,
    /// The exclusive upper bound of the drawn timeouts (Raft's and etcd's: `2n`).
    pub(crate) max_election_ticks: usize,
    /// Ticks between a leader's heartbeats (etcd: 1).
    pub(crate) heartbeat_ticks: usize,
    pub(crate) read_only: ReadOnlyOption,
    /// Seeds this incarnation's election timeouts (mixed from run seed, id, incarnation).
    pub(crate) seed: u64,
    /// Time an fsync takes, on the host's clock.
    pub(crate) fsync_latency: Duration,
    /// DELIBERATELY UNSAFE: send votes and acks before their fsync (see etcd's `MemberConfig`).
    pub(crate) send_before_fsync: bool,
}

/// One Raft node: the `RawNode` and what drives it (see the module docs).
pub(crate) struct RaftCore {
    pub(crate) raw: RawNode<MemberStorage>,
    pub(crate) storage: MemberStorage,
    pub(crate) history: Option<History>,
    name: String,
    peer_name: fn(u64) -> String,
    peer_port: u16,
    peer_socket: Rc<UdpSocket>,
    page_cache: PageCache,
    clock: Clock,
    links: LinkFaults,
    rng: ChaCha8Rng,
    election_ticks: usize,
    max_election_ticks: usize,
    fsync_latency: Duration,
    send_before_fsync: bool,
}

impl RaftCore {
    /// A node on `setup.storage`, with the settings every store here runs Raft with.
    pub(crate) fn new(setup: RaftSetup) -> raft::Result<Self> {
        let config = raft::Config {
            id: setup.id,
            election_tick: setup.election_ticks,
            min_election_tick: setup.election_ticks,
            max_election_tick: setup.max_election_ticks,
            heartbeat_tick: setup.heartbeat_ticks,
            applied: setup.applied,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            pre_vote: true,
            check_quorum: true,
            // Not `batch_append`: raft-rs 0.7's `try_batching` merges entries into a pending
            // MsgAppend to the same peer when that message has *no* entries, without checking its
            // index. After a rejection (entries resent from 12) merged into an empty append with
            // index 13, the follower got "index 13, entries 12..13", acknowledged 15, and the
            // leader's heartbeat then committed past the follower's log: raft panicked
            // ("to_commit 14 is out of range [last_index 13]", seed 8, no faults, 1-10 ms
            // latency). Unbatched appends cost more messages, never correctness.
            batch_append: false,
            read_only_option: setup.read_only,
            ..Default::default()
        };
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw = RawNode::new(&config, setup.disk.storage.clone(), &logger)?;
        let mut core = RaftCore {
            raw,
            storage: setup.disk.storage,
            history: None,
            name: setup.name,
            peer_name: setup.peer_name,
            peer_port: setup.peer_port,
            peer_socket: setup.peer_socket,
            page_cache: setup.disk.page_cache,
            clock: setup.disk.clock,
            links: setup.disk.links,
            rng: ChaCha8Rng::seed_from_u64(setup.seed),
            election_ticks: setup.election_ticks,
            max_election_ticks: setup.max_election_ticks,
            fsync_latency: setup.fsync_latency,
            send_before_fsync: setup.send_before_fsync,
        };
        core.reseed_election_timeout();
        Ok(core)
    }

    /// raft-rs draws randomized election timeouts from `thread_rng` whenever it resets the
    /// election timer; replace each draw with one from the node's seeded RNG, so the same
    /// seed elects the same leader (DESIGN §7).
    pub(crate) fn reseed_election_timeout(&mut self) {
        if self.raw.raft.election_elapsed == 0 {
            let timeout = self
                .rng
                .gen_range(self.election_ticks..self.max_election_ticks);
            self.raw.raft.set_randomized_election_timeout(timeout);
        }
    }

    /// One Raft tick.
    pub(crate) fn tick(&mut self) {
        self.raw.tick();
        self.reseed_election_timeout();
    }

    /// A message from a peer. Errors are messages from unknown peers or stale terms: dropped,
    /// as etcd does.
    pub(crate) fn step(&mut self, msg: Message) {
        let _ = self.raw.step(msg);
        self.reseed_election_timeout();
    }

    /// The leader this node knows, `raft::INVALID_ID` when none.
    pub(crate) fn leader(&self) -> u64 {
        self.raw.raft.leader_id
    }

    pub(crate) fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    pub(crate) fn term(&self) -> u64 {
        self.raw.raft.term
    }

    pub(crate) fn id(&self) -> u64 {
        self.raw.raft.id
    }

    /// Send Raft messages to their peers.
    pub(crate) fn send(&self, messages: Vec<Message>) {
        for msg in messages {
            let to = (self.peer_name)(msg.to);
            let bytes = msg
                .write_to_bytes()
                .expect("raft message serialization cannot fail");
            // UDP: a send to a crashed or cut-off peer is simply lost, as on a real network;
            // loss and duplication faults decide how many copies leave.
            for _ in 0..self.links.copies(&self.name, &to) {
                let _ = self
                    .peer_socket
                    .try_send_to(&bytes, (to.as_str(), self.peer_port));
            }
        }
    }

    /// Take a snapshot of `data` at `applied` when `count` entries were applied since the last
    /// one, keeping `catchup` entries behind it for slow followers. True when one was taken.
    pub(crate) fn maybe_snapshot(
        &mut self,
        applied: u64,
        voters: &[u64],
        count: u64,
        catchup: u64,
        data: impl FnOnce() -> Vec<u8>,
    ) -> bool {
        let snap_index = self.storage.disk().snapshot_metadata().index;
        if applied < snap_index + count {
            return false;
        }
        let conf_state = ConfState {
            voters: voters.to_vec(),
            ..Default::default()
        };
        self.storage
            .create_snapshot(applied, conf_state, data())
            .expect("the applied index is committed and newer than the last snapshot");
        self.storage.compact(applied.saturating_sub(catchup).max(1));
        if let Some(history) = &self.history {
            history.event(
                ClusterEvent::Snapshot {
                    member: self.id(),
                    index: applied,
                },
                sim_now(),
            );
        }
        true
    }
}

/// What a store's server does with what Raft hands it; [`on_ready`] calls these in Raft's order.
pub(crate) trait Replica {
    fn core(&mut self) -> &mut RaftCore;
    /// A snapshot from the leader: replace the state machine (the core saves it to disk after).
    fn install_snapshot(&mut self, snapshot: &Snapshot);
    /// Committed entries, in order.
    fn apply(&mut self, entries: Vec<Entry>);
    /// The node's Raft role changed.
    fn on_role_change(&mut self, role: StateRole);
    /// ReadIndex answers (after the fsync, before the durable promises are sent).
    fn on_read_states(&mut self, _states: Vec<ReadState>) {}
    /// After the Ready was advanced and its committed entries applied: serve what became ready.
    fn after_ready(&mut self);
}

/// The Ready loop, in raft-rs's documented order.
pub(crate) async fn on_ready<R: Replica>(replica: &mut R) {
    let core = replica.core();
    if !core.raw.has_ready() {
        return;
    }
    let mut ready = core.raw.ready();

    // 1. A leader may send appends before persisting (Raft thesis §10.2.1).
    core.send(ready.take_messages());

    // 2. A snapshot from the leader replaces the state machine.
    if !ready.snapshot().is_empty() {
        let snapshot = ready.snapshot().clone();
        replica.install_snapshot(&snapshot);
        let core = replica.core();
        let index = snapshot.get_metadata().index;
        core.storage
            .apply_snapshot(snapshot)
            .expect("a snapshot from the leader is newer than ours (raft-rs checks)");
        if let Some(history) = &core.history {
            history.event(
                ClusterEvent::SnapshotInstalled {
                    member: core.id(),
                    index,
                },
                sim_now(),
            );
        }
    }

    // 3. Apply what is committed.
    replica.apply(ready.take_committed_entries());

    // 4. Persist new entries and the HardState: write, then fsync...
    let core = replica.core();
    core.page_cache.write_entries(ready.entries());
    if let Some(hs) = ready.hs() {
        core.page_cache.write_hard_state(hs.clone());
    }
    if core.send_before_fsync {
        // The bug this option exists to show: promises sent before they are durable.
        core.send(ready.take_persisted_messages());
    }
    if core.fsync_latency > Duration::ZERO && (!ready.entries().is_empty() || ready.hs().is_some())
    {
        // Nothing else runs meanwhile: the loop waits here as a real fsync blocks.
        let clock = core.clock.clone();
        clock.sleep(core.fsync_latency).await;
    }
    let core = replica.core();
    core.page_cache.fsync(&core.storage);
    if let Some(ss) = ready.ss() {
        replica.on_role_change(ss.raft_state);
    }
    replica.on_read_states(ready.take_read_states());

    // 5. ...and only then send what depends on them (votes, append acks).
    let core = replica.core();
    core.send(ready.take_persisted_messages());

    let mut light = core.raw.advance(ready);
    if let Some(commit) = light.commit_index() {
        core.storage.set_commit(commit);
    }
    core.send(light.take_messages());
    replica.apply(light.take_committed_entries());
    let core = replica.core();
    core.raw.advance_apply();
    core.reseed_election_timeout();
    replica.after_ready();
}

/// Raft's peer port carries protobuf (raft-rs's own encoding), not bincode: each message that
/// parses goes to `tx` as `wrap(message)`.
pub(crate) fn receive_raft<I: 'static>(
    socket: Rc<UdpSocket>,
    tx: mpsc::UnboundedSender<I>,
    wrap: fn(Message) -> I,
) {
    tokio::task::spawn_local(async move {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        while let Ok((n, _)) = socket.recv_from(&mut buf).await {
            if let Ok(msg) = Message::parse_from_bytes(&buf[..n]) {
                if tx.send(wrap(msg)).is_err() {
                    return;
                }
            }
        }
    });
}
