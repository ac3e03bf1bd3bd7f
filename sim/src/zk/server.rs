//! `Server`: one ZooKeeper server as a turmoil host — the shared Raft core replicating
//! [`ZkState`], the client connections it holds, its watches, and (while it leads) the session
//! tracker that alone expires sessions.
//!
//! What follows ZooKeeper (3.8) and why:
//! * Reads are answered from this server's own tree, at once (they may be stale); writes and
//!   session changes go through the log. A session's requests are answered strictly in order:
//!   a read behind the session's own pending write waits for it (`CommitProcessor`).
//! * `sync` is a Raft ReadIndex: answered once this server applied what the leader had
//!   committed when it was asked.
//! * A server serves clients only while it knows a leader; when its leader changes or goes away
//!   it drops every client connection (a ZooKeeper follower that loses its leader shuts its
//!   client side down), and the clients reconnect elsewhere.
//! * Sessions are kept alive by whatever their client sends; a follower relays that to the
//!   leader every half tick (the learner's ping answer). Reconnecting to a follower asks the
//!   leader whether the session still lives (`revalidateSession`).
//! * A request that makes no progress for `syncLimit × tickTime` (its forwarded proposal was
//!   lost) breaks the connection, as the real follower's broken leader link would: the client
//!   sees ConnectionLoss and the write is indeterminate.
//!
//! # Layout
//! * this file: the context, the host loop (Raft tick + learner relay; session pass), applying
//!   the log (`Replica`), role changes, status.
//! * `connections`: client connections — connect, ordered requests, replies, watch pushes.
//! * `sessions`: the leader's `SessionTracker`.
//! * `watches`: the server's `WatchTable`.

mod connections;
pub(crate) use connections::OUT_OF_BAND;
mod sessions;
mod watches;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::rc::Rc;

use raft::eraftpb::{Entry, EntryType, Message, Snapshot};
use raft::{ReadOnlyOption, ReadState, StateRole};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use turmoil::net::UdpSocket;

use crate::raft_core::status::{MemberStatus, Role, StatusBoard};
use crate::raft_core::{
    incarnation_seed, on_ready, receive_raft, NodeDisk, RaftCore, RaftSetup, Replica,
};
use crate::world::datagram::{decode, encode};
use crate::world::history::{sim_now, ClusterEvent, History};
use crate::world::host_loop::{receive_datagrams, serve, Host, Timer};
use crate::zk::ensemble::{server_name, ZkConfig};
use crate::zk::state::{Txn, ZkState};
use crate::zk::tree::SessionId;
use crate::zk::wire::{ConnId, LearnerMessage, ToServer, CLIENT_PORT, LEARNER_PORT, PEER_PORT};
use connections::{Connecting, Connection};
use sessions::SessionTracker;
use watches::WatchTable;

/// Everything a server host needs that outlives one incarnation of it.
#[derive(Clone)]
pub(crate) struct ServerContext {
    pub(crate) id: u64,
    pub(crate) servers: Vec<u64>,
    pub(crate) config: ZkConfig,
    /// Disk, page cache, clock, links, incarnation count: kept by the world across restarts.
    pub(crate) disk: NodeDisk,
    pub(crate) seed: u64,
    pub(crate) history: History,
    pub(crate) board: StatusBoard,
}

pub(crate) enum Inbound {
    Raft(Message),
    Client(SocketAddr, ToServer),
    Learner(SocketAddr, LearnerMessage),
}

/// A log entry as this code writes it: the txn and who proposed it, so that server (in the
/// same incarnation) answers its client when the entry is applied.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Proposal {
    origin: u64,
    incarnation: u64,
    pid: u64,
    txn: Txn,
}

/// What an own proposal, once applied, completes.
enum Waiting {
    /// A new session for this connection attempt.
    Connect(ConnId),
    /// The request at this connection's queue with this proposal id.
    Request(ConnId),
    /// The leader's expiry of this session.
    Expiry,
}

/// The host body of server `ctx.id`. Runs until the host is crashed.
pub(crate) async fn run(ctx: ServerContext) -> turmoil::Result {
    let peer_socket = Rc::new(UdpSocket::bind(("0.0.0.0", PEER_PORT)).await?);
    let client_socket = Rc::new(UdpSocket::bind(("0.0.0.0", CLIENT_PORT)).await?);
    let learner_socket = Rc::new(UdpSocket::bind(("0.0.0.0", LEARNER_PORT)).await?);
    let mut server = Server::start(
        ctx,
        peer_socket.clone(),
        client_socket.clone(),
        learner_socket.clone(),
    )?;

    let (tx, rx) = mpsc::unbounded_channel();
    receive_raft(peer_socket, tx.clone(), Inbound::Raft);
    receive_datagrams(client_socket, tx.clone(), Inbound::Client);
    receive_datagrams(learner_socket, tx, Inbound::Learner);

    let clock = server.ctx.disk.clock.clone();
    let tick = server.ctx.config.tick_time;
    let raft_tick = crate::zk::ensemble::RAFT_TICK;
    let timers = [
        Timer {
            first: clock.now() + raft_tick,
            period: raft_tick,
        },
        Timer {
            first: clock.now() + tick,
            period: tick,
        },
    ];
    serve(&mut server, clock, &timers, rx).await;
    Ok(())
}

/// The server's timers, in the order [`run`] gives them to [`serve`].
const RAFT_TICK: usize = 0;
const SESSION_PASS: usize = 1;

pub(crate) struct Server {
    ctx: ServerContext,
    name: String,
    core: RaftCore,
    state: ZkState,
    applied: u64,
    role: Role,
    client_socket: Rc<UdpSocket>,
    learner_socket: Rc<UdpSocket>,
    /// Open connections, and the one each session has here.
    conns: BTreeMap<ConnId, Connection>,
    by_session: BTreeMap<SessionId, ConnId>,
    /// Connection attempts waiting for their session to be created or revalidated.
    connecting: BTreeMap<ConnId, Connecting>,
    waiters: BTreeMap<u64, Waiting>,
    watches: WatchTable,
    /// The leader's session expiry; `None` on followers.
    tracker: Option<SessionTracker>,
    /// Sessions heard from since the last relay to the leader (followers).
    touched: BTreeSet<SessionId>,
    next_pid: u64,
    next_session: SessionId,
    /// The leader this server serves clients under; a change drops them.
    serving_under: u64,
    read_batches: u64,
    /// Raft ticks since this incarnation started.
    raft_ticks: u64,
}

impl Host for Server {
    type Inbound = Inbound;

    fn on_timer(&mut self, timer: usize) {
        match timer {
            RAFT_TICK => {
                self.core.tick();
                self.raft_ticks += 1;
                // Every half tickTime, as a learner answers its leader's ping.
                let half_tick = (self.ctx.config.ticks_per_tick_time() / 2).max(1) as u64;
                if self.raft_ticks.is_multiple_of(half_tick) {
                    self.relay_to_leader();
                    self.drop_stalled();
                }
            }
            SESSION_PASS => self.expire_sessions(),
            _ => unreachable!("a server has two timers"),
        }
    }

    fn on_inbound(&mut self, inbound: Inbound) {
        match inbound {
            Inbound::Raft(msg) => self.core.step(msg),
            Inbound::Client(from, msg) => self.on_client(from, msg),
            Inbound::Learner(from, msg) => self.on_learner(from, msg),
        }
    }

    async fn after_wake(&mut self) {
        on_ready(self).await;
        // A wake with nothing for Raft still may have answered reads or dropped clients.
        self.settle();
    }
}

impl Server {
    fn start(
        ctx: ServerContext,
        peer_socket: Rc<UdpSocket>,
        client_socket: Rc<UdpSocket>,
        learner_socket: Rc<UdpSocket>,
    ) -> raft::Result<Self> {
        let incarnation = ctx.disk.incarnation.get();
        ctx.disk.incarnation.set(incarnation + 1);
        ctx.disk.page_cache.fsync(&ctx.disk.storage);
        let (snap_index, state) = match ctx.disk.storage.snapshot_data() {
            Some((meta, data)) if !data.is_empty() => (meta.index, ZkState::from_bytes(&data)),
            _ => (0, ZkState::default()),
        };
        let name = server_name(ctx.id);
        // Salted "zk": not the election draws of an etcd member with the same id.
        let seed = incarnation_seed(ctx.seed, ctx.id, incarnation, 0x7a6b);
        let fresh = ctx.disk.storage.disk().hard_state().term == 0;
        let mut core = RaftCore::new(RaftSetup {
            id: ctx.id,
            name: name.clone(),
            peer_name: server_name,
            peer_port: PEER_PORT,
            peer_socket,
            disk: ctx.disk.clone(),
            applied: snap_index,
            election_ticks: ctx.config.election_ticks(),
            // ZooKeeper's followers give their leader up after syncLimit ticks, all alike, and
            // its fast leader election then settles within about a round of votes: the
            // timeouts spread over one tickTime (in Raft ticks of 100 ms, so two servers
            // rarely draw the same), not over another whole timeout as Raft's.
            max_election_ticks: ctx.config.election_ticks() + ctx.config.ticks_per_tick_time(),
            heartbeat_ticks: ctx.config.ticks_per_tick_time() / 2,
            read_only: ReadOnlyOption::Safe,
            seed,
            fsync_latency: ctx.config.fsync_latency,
            send_before_fsync: false,
        })?;
        // A fresh ensemble's fast leader election makes the highest server id the leader (all
        // zxids equal, the votes go to the largest `myid`): it campaigns at once.
        if fresh && ctx.id == *ctx.servers.iter().max().unwrap_or(&0) {
            let _ = core.raw.campaign();
        }
        // ZooKeeper's initializeNextSessionId: server id in the top byte, time below.
        let now_ms = ctx.disk.clock.now().as_millis() as u64;
        let next_session = (((now_ms << 24) >> 8) | (ctx.id << 56)) as i64;
        let server = Server {
            name,
            core,
            state,
            applied: snap_index,
            role: Role::Follower,
            client_socket,
            learner_socket,
            conns: BTreeMap::new(),
            by_session: BTreeMap::new(),
            connecting: BTreeMap::new(),
            waiters: BTreeMap::new(),
            watches: WatchTable::default(),
            tracker: None,
            touched: BTreeSet::new(),
            next_pid: 0,
            next_session,
            serving_under: raft::INVALID_ID,
            read_batches: 0,
            raft_ticks: 0,
            ctx,
        };
        server.publish_status(true);
        Ok(server)
    }

    fn is_leader(&self) -> bool {
        self.core.is_leader()
    }

    /// Propose `txn`; its application completes `waiting`. False when Raft refused it (no
    /// leader known).
    fn propose(&mut self, txn: Txn, waiting: Waiting) -> bool {
        self.next_pid += 1;
        let proposal = Proposal {
            origin: self.ctx.id,
            incarnation: self.ctx.disk.incarnation.get(),
            pid: self.next_pid,
            txn,
        };
        if self
            .core
            .raw
            .propose(Vec::new(), encode(&proposal))
            .is_err()
        {
            return false;
        }
        self.waiters.insert(self.next_pid, waiting);
        true
    }

    /// Followers: tell the leader which sessions were heard from, and ask again about the
    /// resumed sessions still waiting for its word. ZooKeeper sends a revalidation once, on the
    /// quorum connection's TCP stream, which delivers it once a partition heals; asking again
    /// each half tick is that delivery over datagrams (the leader's answer is idempotent).
    fn relay_to_leader(&mut self) {
        if self.is_leader() {
            return;
        }
        let leader = self.core.leader();
        if leader == raft::INVALID_ID {
            return;
        }
        let waiting: Vec<(SessionId, ConnId)> = self
            .connecting
            .iter()
            .filter(|(_, c)| c.revalidating)
            .map(|(conn, c)| (c.session, *conn))
            .collect();
        for (session, conn) in waiting {
            self.send_learner(leader, &LearnerMessage::Revalidate { session, conn });
        }
        if self.touched.is_empty() {
            return;
        }
        let sessions: Vec<SessionId> = std::mem::take(&mut self.touched).into_iter().collect();
        self.send_learner(leader, &LearnerMessage::Touch { sessions });
    }

    fn send_learner(&self, to: u64, msg: &LearnerMessage) {
        let host = server_name(to);
        let bytes = encode(msg);
        for _ in 0..self.ctx.disk.links.copies(&self.name, &host) {
            let _ = self
                .learner_socket
                .try_send_to(&bytes, (host.as_str(), LEARNER_PORT));
        }
    }

    fn on_learner(&mut self, from: SocketAddr, msg: LearnerMessage) {
        let now = self.ctx.disk.clock.now();
        match msg {
            LearnerMessage::Touch { sessions } => {
                if let Some(tracker) = &mut self.tracker {
                    for s in sessions {
                        tracker.touch(s, now);
                    }
                }
            }
            LearnerMessage::Revalidate { session, conn } => {
                // Only a leader answers: a stale one would vouch for an expired session.
                let Some(tracker) = &mut self.tracker else {
                    return;
                };
                let valid = tracker.touch(session, now);
                let reply = LearnerMessage::Revalidated {
                    session,
                    conn,
                    valid,
                };
                let bytes = encode(&reply);
                let _ = self.learner_socket.try_send_to(&bytes, from);
            }
            LearnerMessage::Revalidated {
                session,
                conn,
                valid,
            } => self.revalidated(session, conn, valid),
        }
    }

    /// The leader's expiry pass (every tick): propose `closeSession` for each expired session.
    fn expire_sessions(&mut self) {
        let now = self.ctx.disk.clock.now();
        let Some(tracker) = &mut self.tracker else {
            return;
        };
        for session in tracker.expire(now) {
            self.propose(Txn::CloseSession { session }, Waiting::Expiry);
        }
    }

    /// Serve what became answerable, drop clients if the leader changed, publish.
    fn settle(&mut self) {
        let leader = self.core.leader();
        if leader != self.serving_under {
            if self.serving_under != raft::INVALID_ID {
                self.drop_all_clients();
            }
            self.serving_under = leader;
        }
        self.answer_all();
        self.publish_status(true);
    }

    fn publish_status(&self, running: bool) {
        let raft = &self.core.raw.raft;
        let status = MemberStatus {
            running,
            role: raft.state.into(),
            term: raft.term,
            leader: raft.leader_id,
            commit: raft.raft_log.committed,
            applied: self.applied,
            last_index: raft.raft_log.last_index(),
            revision: self.state.last_zxid,
        };
        self.ctx.board.borrow_mut().insert(self.ctx.id, status);
    }
}

impl Replica for Server {
    fn core(&mut self) -> &mut RaftCore {
        &mut self.core
    }

    fn install_snapshot(&mut self, snapshot: &Snapshot) {
        self.state = ZkState::from_bytes(&snapshot.data);
        self.applied = snapshot.get_metadata().index;
        if let Some(tracker) = &mut self.tracker {
            let now = self.ctx.disk.clock.now();
            for (&s, &timeout) in &self.state.sessions {
                if !tracker.is_valid(s) {
                    tracker.add(s, timeout, now);
                }
            }
        }
    }

    fn apply(&mut self, entries: Vec<Entry>) {
        let at = sim_now();
        for entry in entries {
            self.applied = entry.index;
            let zxid = self.state.advance(entry.term, entry.index);
            if entry.get_entry_type() != EntryType::EntryNormal || entry.data.is_empty() {
                continue;
            }
            let Some(proposal) = decode::<Proposal>(&entry.data) else {
                panic!("entry {} is not a proposal this code wrote", entry.index);
            };
            let applied = self.state.apply(&proposal.txn, zxid);
            let own = proposal.origin == self.ctx.id
                && proposal.incarnation == self.ctx.disk.incarnation.get();
            let waiting = if own {
                self.waiters.remove(&proposal.pid)
            } else {
                None
            };
            match &proposal.txn {
                Txn::CreateSession {
                    session,
                    timeout_ms,
                } => {
                    if let Some(tracker) = &mut self.tracker {
                        tracker.add(*session, *timeout_ms, self.ctx.disk.clock.now());
                    }
                }
                Txn::CloseSession { session } => {
                    if let Some(tracker) = &mut self.tracker {
                        tracker.remove(*session);
                    }
                    if matches!(waiting, Some(Waiting::Expiry)) {
                        self.ctx.history.event(
                            ClusterEvent::SessionExpired {
                                server: self.name.clone(),
                                session: *session,
                            },
                            at,
                        );
                    }
                }
                Txn::Write { .. } => {}
            }
            for event in &applied.events {
                for (session, kind, path) in self.watches.fire(event) {
                    self.push_event(session, kind, path, zxid);
                }
            }
            match waiting {
                Some(Waiting::Connect(conn)) => self.session_created(conn),
                Some(Waiting::Request(conn)) => {
                    self.complete(conn, proposal.pid, applied.zxid, applied.result)
                }
                Some(Waiting::Expiry) | None => {}
            }
            if let Txn::CloseSession { session } = proposal.txn {
                // Whoever closed it, its connection here ends (after any answer to `close()`).
                self.session_closed(session);
            }
        }
    }

    fn on_role_change(&mut self, role: StateRole) {
        let role: Role = role.into();
        let was = self.role;
        self.role = role;
        let at = sim_now();
        let term = self.core.term();
        if role == Role::Leader && was != Role::Leader {
            // A new leader restarts every session's timer at its full timeout.
            self.tracker = Some(SessionTracker::start(
                self.ctx.config.tick_time,
                self.state.sessions.iter().map(|(&s, &t)| (s, t)),
                self.ctx.disk.clock.now(),
            ));
            self.ctx.history.event(
                ClusterEvent::ServerLeads {
                    server: self.name.clone(),
                    term,
                },
                at,
            );
        } else if was == Role::Leader && role != Role::Leader {
            self.tracker = None;
            self.ctx.history.event(
                ClusterEvent::ServerStepsDown {
                    server: self.name.clone(),
                    term,
                },
                at,
            );
        }
    }

    fn on_read_states(&mut self, states: Vec<ReadState>) {
        for rs in states {
            if let Some((server, incarnation, batch)) = decode::<(u64, u64, u64)>(&rs.request_ctx) {
                if server == self.ctx.id && incarnation == self.ctx.disk.incarnation.get() {
                    self.synced(batch, rs.index);
                }
            }
        }
    }

    fn after_ready(&mut self) {
        let state = &self.state;
        let config = &self.ctx.config;
        self.core.maybe_snapshot(
            self.applied,
            &self.ctx.servers,
            config.snap_count,
            config.snap_count / 20,
            || state.to_bytes(),
        );
    }
}
