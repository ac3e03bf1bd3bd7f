//! `Member`: one etcd server as a turmoil host — a raft-rs `RawNode`, the replicated
//! [`StateMachine`], the lessor's expiry loop and the watch hub, driven by the Ready loop.
//!
//! Everything in a `Member` is volatile: a crash drops it, and a restart rebuilds it from the
//! member's [`MemberStorage`] (HardState + log + snapshot), which the cluster keeps outside the
//! host. The Ready loop is synchronous from `ready()` to `advance()`, and turmoil crashes a host
//! only between steps, so "persist, then send" is atomic here.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, EntryType, Message, MessageType, Snapshot};
use raft::{RawNode, ReadOnlyOption, StateRole};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;
use turmoil::net::UdpSocket;

use crate::etcd::error::Error;
use crate::etcd::lease::{LeaseIdGenerator, EXPIRED_LEASE_RETRY_INTERVAL, LEASE_REVOKE_RATE};
use crate::etcd::page_cache::PageCache;
use crate::etcd::request::*;
use crate::etcd::state_machine::StateMachine;
use crate::etcd::storage::MemberStorage;
use crate::etcd::transport::{
    ClientMessage, ClientRequest, ClientResponse, Proposal, Reply, WriteOp, CLIENT_PORT, PEER_PORT,
};
use crate::etcd::watch::WatchHub;
use crate::world::clock::Clock;
use crate::world::datagram::{decode, encode, MAX_DATAGRAM};
use crate::world::history::{sim_now, ClusterEvent, History};
use crate::world::host_loop::{receive_datagrams, serve, Host, Timer};
use crate::world::link_faults::LinkFaults;

/// The cluster id every response header carries (etcd derives one from the member URLs; a
/// simulated cluster has one fixed id).
pub const CLUSTER_ID: u64 = 0x6c6f_636b_7369_6d00; // "locksim\0"

/// How linearizable reads are served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadMode {
    /// ReadIndex confirmed by a quorum heartbeat (`ReadOnlyOption::Safe`), etcd's default.
    #[default]
    Safe,
    /// ReadIndex on the leader's lease (`ReadOnlyOption::LeaseBased`): cheaper, and stale when
    /// the old leader is paused and resumes — offered to show exactly that.
    LeaseBased,
}

/// Timing and sizing of one member. Defaults are etcd's.
#[derive(Clone, Debug)]
pub struct MemberConfig {
    pub heartbeat_interval: Duration,
    /// Election timeout in heartbeats (etcd: 1000 ms / 100 ms = 10).
    pub election_ticks: usize,
    /// Applied entries between snapshots (etcd `--snapshot-count`, default 100 000).
    pub snapshot_count: u64,
    /// Entries kept behind a snapshot for slow followers (etcd: 5 000).
    pub snapshot_catchup_entries: u64,
    /// How often the leader looks for expired leases (etcd: 500 ms).
    pub lease_revoke_interval: Duration,
    /// How long a watch poll is held open without events.
    pub watch_poll: Duration,
    /// Pending proposals and reads are forgotten after this (the client gave up long before).
    pub request_timeout: Duration,
    pub read_mode: ReadMode,
    /// Time an fsync of the Raft log takes (on the member's clock). 0: writes are durable at
    /// once. Above 0, a crash with `lose_unsynced` in that window loses them.
    pub fsync_latency: Duration,
    /// DELIBERATELY UNSAFE: send votes and append acks before the fsync that makes them true.
    /// Exists to show, with `crash --lose-unsynced`, the bug the normal order prevents.
    pub send_before_fsync: bool,
}

impl Default for MemberConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_millis(100),
            election_ticks: 10,
            snapshot_count: 100_000,
            snapshot_catchup_entries: 5_000,
            lease_revoke_interval: Duration::from_millis(500),
            watch_poll: Duration::from_millis(1000),
            request_timeout: Duration::from_secs(10),
            read_mode: ReadMode::Safe,
            fsync_latency: Duration::ZERO,
            send_before_fsync: false,
        }
    }
}

impl MemberConfig {
    pub fn election_timeout(&self) -> Duration {
        self.heartbeat_interval * self.election_ticks as u32
    }

    /// etcd's minimum lease TTL: ceil(1.5 × election timeout) in seconds.
    pub fn min_lease_ttl_secs(&self) -> i64 {
        crate::etcd::lease::min_lease_ttl(self.election_ticks, self.heartbeat_interval)
    }
}

/// What the world can see of a member without asking it over the network: used by the harness
/// (leader lookup, role targets, `endpoint status` of a crashed member) — never by members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberStatus {
    pub running: bool,
    pub role: Role,
    pub term: u64,
    pub leader: MemberId,
    pub commit: u64,
    pub applied: u64,
    pub last_index: u64,
    pub revision: Revision,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    #[default]
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl From<StateRole> for Role {
    fn from(r: StateRole) -> Self {
        match r {
            StateRole::Follower => Role::Follower,
            StateRole::PreCandidate => Role::PreCandidate,
            StateRole::Candidate => Role::Candidate,
            StateRole::Leader => Role::Leader,
        }
    }
}

/// Shared view of every member's status, kept by the cluster.
pub type StatusBoard = Rc<RefCell<BTreeMap<MemberId, MemberStatus>>>;

/// Everything a member host needs that outlives one incarnation of it.
#[derive(Clone)]
pub(crate) struct MemberContext {
    pub(crate) id: MemberId,
    pub(crate) peers: Vec<MemberId>,
    pub(crate) config: MemberConfig,
    pub(crate) storage: MemberStorage,
    pub(crate) seed: u64,
    /// Counts starts, so each incarnation draws fresh (but seeded) election timeouts.
    pub(crate) incarnation: Rc<Cell<u64>>,
    pub(crate) history: History,
    pub(crate) board: StatusBoard,
    /// The host's clock: pause and skew act through it. Kept by the cluster across restarts.
    pub(crate) clock: Clock,
    pub(crate) links: LinkFaults,
    /// Written but not yet fsynced Raft state; survives a process crash, not a power loss.
    pub(crate) page_cache: PageCache,
}

enum Inbound {
    Raft(Message),
    Client(SocketAddr, ClientMessage),
}

struct Waiter {
    to: SocketAddr,
    deadline: Duration,
}

struct PendingRead {
    to: SocketAddr,
    id: RequestId,
    request: RangeRequest,
    /// The ReadIndex request this read waits on; `None` until the batch it arrived in is
    /// flushed.
    batch: Option<u64>,
    /// Set once Raft confirmed the read index.
    index: Option<u64>,
    deadline: Duration,
}

/// A client write waiting for the end of the inbound batch it arrived in.
struct QueuedProposal {
    from: SocketAddr,
    id: RequestId,
    data: Vec<u8>,
    deadline: Duration,
}

/// The host body of member `ctx.id`. Runs until the host is crashed.
pub(crate) async fn run(ctx: MemberContext) -> turmoil::Result {
    let peer_socket = Rc::new(UdpSocket::bind(("0.0.0.0", PEER_PORT)).await?);
    let client_socket = Rc::new(UdpSocket::bind(("0.0.0.0", CLIENT_PORT)).await?);
    let mut member = Member::start(ctx, peer_socket.clone(), client_socket.clone())?;

    let (tx, rx) = mpsc::unbounded_channel();
    tokio::task::spawn_local(receive_raft(peer_socket, tx.clone()));
    receive_datagrams(client_socket, tx, Inbound::Client);

    // Timers run on the host's own clock, so a skewed clock ticks Raft and expires leases at
    // its own pace.
    let clock = member.ctx.clock.clone();
    let timers = [
        Timer {
            first: clock.now() + member.ctx.config.heartbeat_interval,
            period: member.ctx.config.heartbeat_interval,
        },
        Timer {
            first: clock.now() + member.ctx.config.lease_revoke_interval,
            period: member.ctx.config.lease_revoke_interval,
        },
    ];
    serve(&mut member, clock, &timers, rx).await;
    Ok(())
}

/// The member's timers, in the order [`run`] gives them to [`serve`].
const TICK: usize = 0;
const LEASE_PASS: usize = 1;

impl Host for Member {
    type Inbound = Inbound;

    fn on_timer(&mut self, timer: usize) {
        match timer {
            TICK => self.tick(),
            LEASE_PASS => self.revoke_expired_leases(),
            _ => unreachable!("a member has two timers"),
        }
    }
    fn on_inbound(&mut self, inbound: Inbound) {
        self.handle(inbound);
    }
    fn flush_batch(&mut self) {
        Member::flush_batch(self);
    }
    async fn after_wake(&mut self) {
        self.on_ready().await;
    }
}

/// Raft's peer port carries protobuf (raft-rs's own encoding), not bincode.
async fn receive_raft(socket: Rc<UdpSocket>, tx: mpsc::UnboundedSender<Inbound>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while let Ok((n, _)) = socket.recv_from(&mut buf).await {
        if let Ok(msg) = Message::parse_from_bytes(&buf[..n]) {
            if tx.send(Inbound::Raft(msg)).is_err() {
                return;
            }
        }
    }
}

struct Member {
    ctx: MemberContext,
    /// Host name, `n{id}`.
    name: String,
    raw: RawNode<MemberStorage>,
    sm: StateMachine,
    applied: u64,
    role: Role,
    rng: ChaCha8Rng,
    lease_ids: LeaseIdGenerator,
    peer_socket: Rc<UdpSocket>,
    client_socket: Rc<UdpSocket>,
    /// Proposals this member made for clients, answered when applied here.
    waiters: BTreeMap<RequestId, Waiter>,
    reads: Vec<PendingRead>,
    /// Writes handled since the last flush: proposed together as one `MsgPropose` (one entry
    /// each), so Raft sends one append per follower per batch instead of one per write.
    queued: Vec<QueuedProposal>,
    /// Sequence of this member's ReadIndex requests (the context Raft echoes back).
    read_batches: u64,
    watches: WatchHub,
    /// Expired leases whose revoke was proposed, and when (to retry like etcd).
    revoking: BTreeMap<LeaseId, Duration>,
    internal_seq: u64,
}

impl Member {
    fn start(
        ctx: MemberContext,
        peer_socket: Rc<UdpSocket>,
        client_socket: Rc<UdpSocket>,
    ) -> raft::Result<Self> {
        let incarnation = ctx.incarnation.get();
        ctx.incarnation.set(incarnation + 1);
        // After a process crash the kernel writes back what it still held.
        ctx.page_cache.fsync(&ctx.storage);
        let now = ctx.clock.now();

        // Volatile state is rebuilt from the disk: the state machine from the last snapshot,
        // then Raft replays committed entries after it through the first Readys.
        let min_ttl = ctx.config.min_lease_ttl_secs();
        let (snap_index, mut sm) = match ctx.storage.snapshot_data() {
            Some((meta, data)) if !data.is_empty() => (meta.index, StateMachine::from_bytes(&data)),
            _ => (0, StateMachine::new(min_ttl)),
        };
        sm.lessor.demote();

        let config = raft::Config {
            id: ctx.id,
            election_tick: ctx.config.election_ticks,
            heartbeat_tick: 1,
            applied: snap_index,
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
            read_only_option: match ctx.config.read_mode {
                ReadMode::Safe => ReadOnlyOption::Safe,
                ReadMode::LeaseBased => ReadOnlyOption::LeaseBased,
            },
            ..Default::default()
        };
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw = RawNode::new(&config, ctx.storage.clone(), &logger)?;
        let seed = ctx
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(ctx.id << 32)
            .wrapping_add(incarnation);
        let mut member = Member {
            lease_ids: LeaseIdGenerator::new(ctx.id, now),
            rng: ChaCha8Rng::seed_from_u64(seed),
            raw,
            sm,
            applied: snap_index,
            role: Role::Follower,
            peer_socket,
            client_socket,
            waiters: BTreeMap::new(),
            reads: Vec::new(),
            queued: Vec::new(),
            read_batches: 0,
            watches: WatchHub::default(),
            revoking: BTreeMap::new(),
            internal_seq: 0,
            name: crate::etcd::cluster::member_name(ctx.id),
            ctx,
        };
        member.reseed_election_timeout();
        member.publish_status(true);
        Ok(member)
    }

    /// raft-rs draws randomized election timeouts from `thread_rng` whenever it resets the
    /// election timer; replace each draw with one from the member's seeded RNG, so the same
    /// seed elects the same leader (DESIGN §7).
    fn reseed_election_timeout(&mut self) {
        if self.raw.raft.election_elapsed == 0 {
            let n = self.ctx.config.election_ticks;
            let timeout = self.rng.gen_range(n..2 * n);
            self.raw.raft.set_randomized_election_timeout(timeout);
        }
    }

    fn tick(&mut self) {
        self.raw.tick();
        self.reseed_election_timeout();
        let now = self.ctx.clock.now();
        self.answer_watches(now);
        // Forget requests whose clients gave up long ago.
        self.waiters.retain(|_, w| w.deadline > now);
        self.reads.retain(|r| r.deadline > now);
    }

    fn handle(&mut self, inbound: Inbound) {
        match inbound {
            Inbound::Raft(msg) => {
                // Errors here are messages from unknown peers or stale terms: dropped, as etcd does.
                let _ = self.raw.step(msg);
                self.reseed_election_timeout();
            }
            Inbound::Client(from, msg) => self.handle_client(from, msg),
        }
    }

    fn leader(&self) -> MemberId {
        self.raw.raft.leader_id
    }

    fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    fn handle_client(&mut self, from: SocketAddr, msg: ClientMessage) {
        let ClientMessage { id, request } = msg;
        let now = self.ctx.clock.now();
        let deadline = now + self.ctx.config.request_timeout;
        match request {
            ClientRequest::Range(req) if req.serializable => {
                let result = self.sm.mvcc.range(&req).map(ClientResponse::Range);
                self.reply(from, id, result);
            }
            ClientRequest::Range(req) => {
                if self.leader() == raft::INVALID_ID {
                    return self.reply(from, id, Err(Error::NoLeader));
                }
                self.reads.push(PendingRead {
                    to: from,
                    id,
                    request: req,
                    batch: None,
                    index: None,
                    deadline,
                });
            }
            ClientRequest::Put(req) => self.propose(from, id, WriteOp::Put(req), deadline),
            ClientRequest::DeleteRange(req) => {
                self.propose(from, id, WriteOp::DeleteRange(req), deadline)
            }
            ClientRequest::Txn(req) => self.propose(from, id, WriteOp::Txn(req), deadline),
            ClientRequest::Compact(req) => self.propose(from, id, WriteOp::Compact(req), deadline),
            ClientRequest::LeaseGrant(mut req) => {
                if req.id == NO_LEASE {
                    req.id = self.lease_ids.next();
                }
                self.propose(from, id, WriteOp::LeaseGrant(req), deadline)
            }
            ClientRequest::LeaseRevoke(req) => {
                self.propose(from, id, WriteOp::LeaseRevoke(req), deadline)
            }
            ClientRequest::LeaseKeepAlive(req) => {
                // Only the leader's lessor knows expiries (etcd forwards keepalives to it).
                let result = if !self.is_leader() {
                    Err(self.not_leader())
                } else {
                    self.sm.lessor.renew(req.id, now).map(|ttl| {
                        ClientResponse::LeaseKeepAlive(LeaseKeepAliveResponse {
                            header: ResponseHeader::default(),
                            id: req.id,
                            ttl,
                        })
                    })
                };
                self.reply(from, id, result);
            }
            ClientRequest::LeaseTimeToLive(req) => {
                let result = if !self.is_leader() {
                    Err(self.not_leader())
                } else {
                    // etcd answers a missing lease with TTL -1, not an error.
                    let (ttl, granted_ttl) =
                        self.sm.lessor.time_to_live(req.id, now).unwrap_or((-1, 0));
                    let keys = if req.keys && ttl >= 0 {
                        self.sm.mvcc.keys_with_lease(req.id)
                    } else {
                        Vec::new()
                    };
                    Ok(ClientResponse::LeaseTimeToLive(LeaseTimeToLiveResponse {
                        header: ResponseHeader::default(),
                        id: req.id,
                        ttl,
                        granted_ttl,
                        keys,
                    }))
                };
                self.reply(from, id, result);
            }
            ClientRequest::LeaseLeases => {
                let leases = self.sm.lessor.leases();
                let response = ClientResponse::LeaseLeases(LeaseLeasesResponse {
                    header: ResponseHeader::default(),
                    leases,
                });
                self.reply(from, id, Ok(response));
            }
            ClientRequest::Watch(req) => {
                let deadline = now + self.ctx.config.watch_poll;
                self.watches
                    .register(from, id, req, &self.sm.mvcc, deadline);
                self.answer_watches(now);
            }
            ClientRequest::Status => {
                let response = ClientResponse::Status(self.status_response());
                self.reply(from, id, Ok(response));
            }
        }
    }

    fn not_leader(&self) -> Error {
        match self.leader() {
            raft::INVALID_ID => Error::NoLeader,
            leader => Error::NotLeader {
                leader: Some(leader),
            },
        }
    }

    fn propose(&mut self, from: SocketAddr, id: RequestId, op: WriteOp, deadline: Duration) {
        let proposal = Proposal {
            id,
            origin: self.ctx.id,
            op,
        };
        if self.leader() == raft::INVALID_ID {
            return self.reply(from, id, Err(Error::NoLeader));
        }
        self.queued.push(QueuedProposal {
            from,
            id,
            data: encode(&proposal),
            deadline,
        });
    }

    /// End of an inbound batch: propose the queued writes, one entry each, in one `MsgPropose`
    /// (a follower forwards it to the leader inside Raft, as etcd does), and ask for one read
    /// index for every linearizable read that arrived — etcd's read loop likewise serves all
    /// reads pending at once with a single ReadIndex.
    fn flush_batch(&mut self) {
        if !self.queued.is_empty() {
            let mut queued = std::mem::take(&mut self.queued);
            let mut msg = Message::default();
            msg.set_msg_type(MessageType::MsgPropose);
            msg.from = self.ctx.id;
            let entries: Vec<Entry> = queued
                .iter_mut()
                .map(|q| Entry {
                    data: std::mem::take(&mut q.data).into(),
                    ..Default::default()
                })
                .collect();
            msg.set_entries(entries.into());
            let accepted = self.raw.step(msg).is_ok();
            for q in queued {
                if accepted {
                    self.waiters.insert(
                        q.id,
                        Waiter {
                            to: q.from,
                            deadline: q.deadline,
                        },
                    );
                } else {
                    self.reply(q.from, q.id, Err(Error::NoLeader));
                }
            }
        }
        if self.reads.iter().any(|r| r.batch.is_none()) {
            self.read_batches += 1;
            let batch = self.read_batches;
            for read in self.reads.iter_mut().filter(|r| r.batch.is_none()) {
                read.batch = Some(batch);
            }
            // Unique across members and restarts: the leader keys pending reads by context.
            let context = (self.ctx.id, self.ctx.incarnation.get(), batch);
            self.raw.read_index(encode(&context));
        }
    }

    /// Leader only: propose the revoke of every expired lease (etcd's revokeExpiredLeases).
    fn revoke_expired_leases(&mut self) {
        if !self.is_leader() {
            self.revoking.clear();
            return;
        }
        let now = self.ctx.clock.now();
        for lease in self.sm.lessor.expired(now, LEASE_REVOKE_RATE / 2) {
            if let Some(at) = self.revoking.get(&lease) {
                if now < *at + EXPIRED_LEASE_RETRY_INTERVAL {
                    continue;
                }
            }
            self.revoking.insert(lease, now);
            self.internal_seq += 1;
            let proposal = Proposal {
                id: RequestId {
                    client: 0,
                    seq: self.internal_seq,
                },
                origin: self.ctx.id,
                op: WriteOp::LeaseRevoke(LeaseRevokeRequest { id: lease }),
            };
            let _ = self.raw.propose(Vec::new(), encode(&proposal));
        }
    }

    /// The Ready loop, in raft-rs's documented order.
    async fn on_ready(&mut self) {
        if !self.raw.has_ready() {
            return;
        }
        let mut ready = self.raw.ready();

        // 1. A leader may send appends before persisting (Raft thesis §10.2.1).
        self.send(ready.take_messages());

        // 2. A snapshot from the leader replaces the state machine.
        if !ready.snapshot().is_empty() {
            let snapshot = ready.snapshot().clone();
            self.install_snapshot(snapshot);
        }

        // 3. Apply what is committed.
        let committed = ready.take_committed_entries();
        self.apply(committed);

        // 4. Persist new entries and the HardState: write, then fsync...
        self.ctx.page_cache.write_entries(ready.entries());
        if let Some(hs) = ready.hs() {
            self.ctx.page_cache.write_hard_state(hs.clone());
        }
        if self.ctx.config.send_before_fsync {
            // The bug this option exists to show: promises sent before they are durable.
            self.send(ready.take_persisted_messages());
        }
        let fsync = self.ctx.config.fsync_latency;
        if fsync > Duration::ZERO && (!ready.entries().is_empty() || ready.hs().is_some()) {
            // Nothing else runs meanwhile: the loop waits here as a real fsync blocks.
            self.ctx.clock.sleep(fsync).await;
        }
        self.ctx.page_cache.fsync(&self.ctx.storage);
        if let Some(ss) = ready.ss() {
            self.on_role_change(ss.raft_state.into());
        }
        for rs in ready.take_read_states() {
            if let Some((member, incarnation, batch)) = decode::<(u64, u64, u64)>(&rs.request_ctx) {
                if member != self.ctx.id || incarnation != self.ctx.incarnation.get() {
                    continue;
                }
                for read in self.reads.iter_mut().filter(|r| r.batch == Some(batch)) {
                    read.index = Some(rs.index);
                }
            }
        }

        // 5. ...and only then send what depends on them (votes, append acks).
        self.send(ready.take_persisted_messages());

        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.ctx.storage.set_commit(commit);
        }
        self.send(light.take_messages());
        let committed = light.take_committed_entries();
        self.apply(committed);
        self.raw.advance_apply();

        self.reseed_election_timeout();
        let now = self.ctx.clock.now();
        self.serve_reads();
        self.answer_watches(now);
        self.maybe_snapshot();
        if cfg!(debug_assertions) {
            self.sm.check_invariants();
        }
        self.publish_status(true);
    }

    fn send(&self, messages: Vec<Message>) {
        for msg in messages {
            let to = format!("n{}", msg.to);
            let bytes = msg
                .write_to_bytes()
                .expect("raft message serialization cannot fail");
            // UDP: a send to a crashed or cut-off peer is simply lost, as on a real network;
            // loss and duplication faults decide how many copies leave.
            for _ in 0..self.ctx.links.copies(&self.name, &to) {
                let _ = self
                    .peer_socket
                    .try_send_to(&bytes, (to.as_str(), PEER_PORT));
            }
        }
    }

    fn install_snapshot(&mut self, snapshot: Snapshot) {
        let index = snapshot.get_metadata().index;
        self.sm = StateMachine::from_bytes(&snapshot.data);
        if self.is_leader() {
            let now = self.ctx.clock.now();
            self.sm
                .lessor
                .promote(now, self.ctx.config.election_timeout());
        } else {
            self.sm.lessor.demote();
        }
        self.ctx
            .storage
            .apply_snapshot(snapshot)
            .expect("a snapshot from the leader is newer than ours (raft-rs checks)");
        self.applied = index;
        self.ctx.history.event(
            ClusterEvent::SnapshotInstalled {
                member: self.ctx.id,
                index,
            },
            sim_now(),
        );
    }

    fn apply(&mut self, entries: Vec<Entry>) {
        // The lessor runs on this member's clock; the history on simulated time.
        let now = self.ctx.clock.now();
        let at = sim_now();
        for entry in entries {
            self.applied = entry.index;
            if entry.get_entry_type() != EntryType::EntryNormal || entry.data.is_empty() {
                // The new leader's empty entry, or a conf change (membership is static here).
                continue;
            }
            let Some(proposal) = decode::<Proposal>(&entry.data) else {
                panic!("entry {} is not a proposal this code wrote", entry.index);
            };
            let mut result = self.sm.apply(&proposal.op, now);
            if let WriteOp::LeaseRevoke(req) = &proposal.op {
                self.revoking.remove(&req.id);
                if proposal.id.client == 0 && result.is_ok() && proposal.origin == self.ctx.id {
                    self.ctx.history.event(
                        ClusterEvent::LeaseExpired {
                            member: self.ctx.id,
                            lease: req.id,
                        },
                        at,
                    );
                }
            }
            if proposal.origin != self.ctx.id {
                continue;
            }
            if let Some(waiter) = self.waiters.remove(&proposal.id) {
                if let Ok(response) = &mut result {
                    self.fill_header(response.header_mut());
                }
                self.send_reply(waiter.to, proposal.id, result);
            }
        }
    }

    fn serve_reads(&mut self) {
        let applied = self.applied;
        let mut ready = Vec::new();
        self.reads.retain(|read| match read.index {
            Some(index) if index <= applied => {
                ready.push((read.to, read.id, read.request.clone()));
                false
            }
            _ => true,
        });
        for (to, id, request) in ready {
            let result = self.sm.mvcc.range(&request).map(ClientResponse::Range);
            self.reply(to, id, result);
        }
    }

    fn answer_watches(&mut self, now: Duration) {
        if self.watches.len() == 0 {
            return;
        }
        for answer in self.watches.answer_ready(&self.sm.mvcc, now) {
            let result = answer.result.map(ClientResponse::Watch);
            self.reply(answer.to, answer.id, result);
        }
    }

    fn maybe_snapshot(&mut self) {
        let snap_index = self.ctx.storage.disk().snapshot_metadata().index;
        if self.applied < snap_index + self.ctx.config.snapshot_count {
            return;
        }
        let conf_state = ConfState {
            voters: self.ctx.peers.clone(),
            ..Default::default()
        };
        let data = self.sm.to_bytes();
        self.ctx
            .storage
            .create_snapshot(self.applied, conf_state, data)
            .expect("the applied index is committed and newer than the last snapshot");
        let keep_from = self
            .applied
            .saturating_sub(self.ctx.config.snapshot_catchup_entries)
            .max(1);
        self.ctx.storage.compact(keep_from);
        self.ctx.history.event(
            ClusterEvent::Snapshot {
                member: self.ctx.id,
                index: self.applied,
            },
            sim_now(),
        );
    }

    fn on_role_change(&mut self, role: Role) {
        let was = self.role;
        self.role = role;
        let now = self.ctx.clock.now();
        let at = sim_now();
        let term = self.raw.raft.term;
        if role == Role::Leader && was != Role::Leader {
            // etcd's Promote: every lease gets a full TTL plus an election timeout from now.
            self.sm
                .lessor
                .promote(now, self.ctx.config.election_timeout());
            self.ctx.history.event(
                ClusterEvent::BecameLeader {
                    member: self.ctx.id,
                    term,
                },
                at,
            );
        } else if was == Role::Leader && role != Role::Leader {
            self.sm.lessor.demote();
            self.revoking.clear();
            self.ctx.history.event(
                ClusterEvent::SteppedDown {
                    member: self.ctx.id,
                    term,
                },
                at,
            );
        }
    }

    fn fill_header(&self, header: &mut ResponseHeader) {
        header.cluster_id = CLUSTER_ID;
        header.member_id = self.ctx.id;
        header.raft_term = self.raw.raft.term;
        if header.revision == 0 {
            header.revision = self.sm.mvcc.revision();
        }
    }

    fn reply(&self, to: SocketAddr, id: RequestId, mut result: Result<ClientResponse, Error>) {
        if let Ok(response) = &mut result {
            self.fill_header(response.header_mut());
        }
        self.send_reply(to, id, result);
    }

    fn send_reply(&self, to: SocketAddr, id: RequestId, result: Result<ClientResponse, Error>) {
        let reply = Reply {
            id,
            leader: self.leader(),
            result,
        };
        let bytes = encode(&reply);
        let copies = self.ctx.links.copies_to(&self.name, || {
            turmoil::reverse_lookup(to.ip()).unwrap_or_default()
        });
        for _ in 0..copies {
            let _ = self.client_socket.try_send_to(&bytes, to);
        }
    }

    fn status_response(&self) -> StatusResponse {
        let last_index = self.raw.raft.raft_log.last_index();
        StatusResponse {
            header: ResponseHeader::default(),
            version: "3.4.23".to_string(),
            db_size: self.sm.to_bytes().len() as i64,
            leader: self.leader(),
            raft_index: last_index,
            raft_term: self.raw.raft.term,
            raft_applied_index: self.applied,
        }
    }

    fn publish_status(&self, running: bool) {
        let status = MemberStatus {
            running,
            role: self.raw.raft.state.into(),
            term: self.raw.raft.term,
            leader: self.leader(),
            commit: self.raw.raft.raft_log.committed,
            applied: self.applied,
            last_index: self.raw.raft.raft_log.last_index(),
            revision: self.sm.mvcc.revision(),
        };
        self.ctx.board.borrow_mut().insert(self.ctx.id, status);
    }
}
