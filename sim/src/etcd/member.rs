//! `Member`: one etcd server as a turmoil host — a raft-rs `RawNode`, the replicated
//! [`StateMachine`], the lessor's expiry loop and the watch hub, driven by the Ready loop.
//!
//! Everything in a `Member` is volatile: a crash drops it, and a restart rebuilds it from the
//! member's [`MemberStorage`] (HardState + log + snapshot), which the cluster keeps outside the
//! host. The Ready loop is synchronous from `ready()` to `advance()`, and turmoil crashes a host
//! only between steps, so "persist, then send" is atomic here.
//!
//! # Layout
//! * `config`: `MemberConfig`, `ReadMode`, `MemberStatus`, `Role`, `StatusBoard`, `CLUSTER_ID`
//!   — what the cluster configures and sees.
//! * this file: `MemberContext`, `run` (the member on [`crate::world::host_loop`]: the Raft
//!   tick and the lease pass as its two timers), `Member::start`, inbound dispatch, the
//!   leader's lease-revoke pass.
//! * `requests`: client requests — proposals batched per inbound batch, ReadIndex reads,
//!   watches, replies.
//! * `ready`: the Ready loop — persist, send, apply, snapshots, role changes.

mod config;
mod ready;
mod requests;

pub use crate::raft_core::status::{MemberStatus, Role, StatusBoard};
pub use config::{MemberConfig, ReadMode, CLUSTER_ID};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use raft::eraftpb::Message;
use raft::ReadOnlyOption;
use tokio::sync::mpsc;
use turmoil::net::UdpSocket;

use crate::etcd::error::Error;
use crate::etcd::lease::{LeaseIdGenerator, EXPIRED_LEASE_RETRY_INTERVAL, LEASE_REVOKE_RATE};
use crate::etcd::request::*;
use crate::etcd::state_machine::StateMachine;
use crate::etcd::transport::{
    ClientMessage, Proposal, Reply, ReplyTo, WriteOp, CLIENT_PORT, PEER_PORT,
};
use crate::etcd::watch::WatchHub;
use crate::raft_core::{incarnation_seed, on_ready, receive_raft, NodeDisk, RaftCore, RaftSetup};
use crate::world::datagram::encode;
use crate::world::history::History;
use crate::world::host_loop::{receive_datagrams, serve, Host, Timer};
use requests::{PendingRead, QueuedProposal, Waiter};

/// Everything a member host needs that outlives one incarnation of it.
#[derive(Clone)]
pub(crate) struct MemberContext {
    pub(crate) id: MemberId,
    pub(crate) peers: Vec<MemberId>,
    pub(crate) config: MemberConfig,
    /// Disk, page cache, clock, links, incarnation count: kept by the world across restarts.
    pub(crate) disk: NodeDisk,
    pub(crate) seed: u64,
    pub(crate) history: History,
    pub(crate) board: StatusBoard,
}

enum Inbound {
    Raft(Message),
    Client(SocketAddr, ClientMessage),
    /// From the gRPC front on this host, answered in-process (built only with `grpc`).
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    Local(mpsc::UnboundedSender<Reply>, ClientMessage),
}

/// The gRPC front's way into its member: a request goes in with the channel its answer comes
/// back on. Cheap to clone; sends fail once the member's incarnation is gone.
#[derive(Clone)]
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(crate) struct LocalPort {
    tx: mpsc::UnboundedSender<Inbound>,
}

#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
impl LocalPort {
    /// Hand a request to the member; false when the member is gone.
    pub(crate) fn send(&self, msg: ClientMessage, reply: mpsc::UnboundedSender<Reply>) -> bool {
        self.tx.send(Inbound::Local(reply, msg)).is_ok()
    }
}

/// The host body of member `ctx.id`. Runs until the host is crashed.
pub(crate) async fn run(ctx: MemberContext) -> turmoil::Result {
    let peer_socket = Rc::new(UdpSocket::bind(("0.0.0.0", PEER_PORT)).await?);
    let client_socket = Rc::new(UdpSocket::bind(("0.0.0.0", CLIENT_PORT)).await?);
    let mut member = Member::start(ctx, peer_socket.clone(), client_socket.clone())?;

    let (tx, rx) = mpsc::unbounded_channel();
    #[cfg(feature = "grpc")]
    if member.ctx.config.grpc {
        let front = crate::etcd::grpc::FrontContext {
            port: LocalPort { tx: tx.clone() },
            member: member.ctx.id,
            members: member
                .ctx
                .peers
                .iter()
                .map(|id| crate::etcd::cluster::member_name(*id))
                .collect(),
            clock: member.ctx.disk.clock.clone(),
            history: member.ctx.history.clone(),
            links: member.ctx.disk.links.clone(),
            request_timeout: member.ctx.config.request_timeout,
            incarnation: member.ctx.disk.incarnation.get(),
        };
        tokio::task::spawn_local(crate::etcd::grpc::serve(front));
    }
    receive_raft(peer_socket, tx.clone(), Inbound::Raft);
    receive_datagrams(client_socket, tx, Inbound::Client);

    // Timers run on the host's own clock, so a skewed clock ticks Raft and expires leases at
    // its own pace.
    let clock = member.ctx.disk.clock.clone();
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
        on_ready(self).await;
    }
}

struct Member {
    ctx: MemberContext,
    /// Host name, `n{id}`.
    name: String,
    core: RaftCore,
    sm: StateMachine,
    applied: u64,
    role: Role,
    lease_ids: LeaseIdGenerator,
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
        let incarnation = ctx.disk.incarnation.get();
        ctx.disk.incarnation.set(incarnation + 1);
        // After a process crash the kernel writes back what it still held.
        ctx.disk.page_cache.fsync(&ctx.disk.storage);
        let now = ctx.disk.clock.now();

        // Volatile state is rebuilt from the disk: the state machine from the last snapshot,
        // then Raft replays committed entries after it through the first Readys.
        let min_ttl = ctx.config.min_lease_ttl_secs();
        let (snap_index, mut sm) = match ctx.disk.storage.snapshot_data() {
            Some((meta, data)) if !data.is_empty() => (meta.index, StateMachine::from_bytes(&data)),
            _ => (0, StateMachine::new(min_ttl)),
        };
        sm.lessor.demote();

        let seed = incarnation_seed(ctx.seed, ctx.id, incarnation, 0);
        let name = crate::etcd::cluster::member_name(ctx.id);
        let mut core = RaftCore::new(RaftSetup {
            id: ctx.id,
            name: name.clone(),
            peer_name: crate::etcd::cluster::member_name,
            peer_port: PEER_PORT,
            peer_socket,
            disk: ctx.disk.clone(),
            applied: snap_index,
            election_ticks: ctx.config.election_ticks,
            max_election_ticks: 2 * ctx.config.election_ticks,
            heartbeat_ticks: 1,
            read_only: match ctx.config.read_mode {
                ReadMode::Safe => ReadOnlyOption::Safe,
                ReadMode::LeaseBased => ReadOnlyOption::LeaseBased,
            },
            seed,
            fsync_latency: ctx.config.fsync_latency,
            send_before_fsync: ctx.config.send_before_fsync,
        })?;
        core.history = Some(ctx.history.clone());
        let member = Member {
            lease_ids: LeaseIdGenerator::new(ctx.id, now),
            core,
            sm,
            applied: snap_index,
            role: Role::Follower,
            client_socket,
            waiters: BTreeMap::new(),
            reads: Vec::new(),
            queued: Vec::new(),
            read_batches: 0,
            watches: WatchHub::default(),
            revoking: BTreeMap::new(),
            internal_seq: 0,
            name,
            ctx,
        };
        member.publish_status(true);
        Ok(member)
    }

    fn tick(&mut self) {
        self.core.tick();
        let now = self.ctx.disk.clock.now();
        self.answer_watches(now);
        // Forget requests whose clients gave up long ago.
        self.waiters.retain(|_, w| w.deadline > now);
        self.reads.retain(|r| r.deadline > now);
    }

    fn handle(&mut self, inbound: Inbound) {
        match inbound {
            Inbound::Raft(msg) => {
                self.core.step(msg);
            }
            Inbound::Client(from, msg) => self.handle_client(ReplyTo::Datagram(from), msg),
            Inbound::Local(front, msg) => self.handle_client(ReplyTo::Local(front), msg),
        }
    }

    fn leader(&self) -> MemberId {
        self.core.leader()
    }

    fn is_leader(&self) -> bool {
        self.core.is_leader()
    }

    fn not_leader(&self) -> Error {
        match self.leader() {
            raft::INVALID_ID => Error::NoLeader,
            leader => Error::NotLeader {
                leader: Some(leader),
            },
        }
    }

    /// Leader only: propose the revoke of every expired lease (etcd's revokeExpiredLeases).
    fn revoke_expired_leases(&mut self) {
        if !self.is_leader() {
            self.revoking.clear();
            return;
        }
        let now = self.ctx.disk.clock.now();
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
            let _ = self.core.raw.propose(Vec::new(), encode(&proposal));
        }
    }

    fn publish_status(&self, running: bool) {
        let status = MemberStatus {
            running,
            role: self.core.raw.raft.state.into(),
            term: self.core.raw.raft.term,
            leader: self.leader(),
            commit: self.core.raw.raft.raft_log.committed,
            applied: self.applied,
            last_index: self.core.raw.raft.raft_log.last_index(),
            revision: self.sm.mvcc.revision(),
        };
        self.ctx.board.borrow_mut().insert(self.ctx.id, status);
    }
}
