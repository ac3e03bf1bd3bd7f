//! One PostgreSQL server as a turmoil host: the postmaster's socket, a backend per client
//! connection on the shared [`Engine`], and the kernel's view of each connection
//! ([`Endpoint`]: acknowledgements, retransmission, keepalive probes).
//!
//! What follows PostgreSQL 15 and why:
//! * A backend ends only when the server notices: the client's `Terminate`, a FATAL error
//!   (`idle_in_transaction_session_timeout`), or the kernel giving the connection up — unacked
//!   data retransmitted `tcp_retries2` times, or an idle connection's keepalive probes
//!   unanswered (`tcp_keepalives_idle/interval/count`, Linux's 7200 s/75 s/9 when 0). Until
//!   then its transaction stays open and its locks stay held: a partitioned client keeps its
//!   row locks for 2 h 11 min by default.
//! * One statement at a time per connection, in the order sent; a statement waiting for a lock
//!   holds back the ones behind it.
//! * Commits are durable when answered (unless `synchronous_commit = off`: then the WAL writer
//!   flushes every 200 ms and a crash loses what it had not): the WAL is on the server's disk,
//!   kept across a crash; a restart replays it. Advisory locks and open transactions are memory
//!   only: a crash loses them, and so does a promoted standby, which never had them.
//! * A standby (`replication`) refuses writes and locks, applies the primary's WAL, and can be
//!   promoted (a new timeline) or made to follow another primary (rewinding what it had beyond
//!   the new timeline's start: those commits are lost).

mod replication;

pub(crate) use replication::Control;

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;
use turmoil::net::UdpSocket;

use super::cluster::{PgConfig, SyncCommit};
use super::engine::{Answers, BackendId, Engine, Lsn, WalRecord};
use super::error::PgError;
use super::statement::{Answer, Statement};
use super::wire::{
    ClientBody, Replication, ServerBody, ToClient, ToServer, PG_PORT, REPLICATION_PORT,
};
use crate::world::clock::Clock;
use crate::world::datagram::encode;
use crate::world::history::{sim_now, ClusterEvent, History};
use crate::world::host_loop::{receive_datagrams, serve, Host, Timer};
use crate::world::link_faults::LinkFaults;
use crate::world::stream::{reset_for, ConnId, ConnectionEnd, Endpoint, SegmentKind};

/// How often the server looks at its timers: lock and idle timeouts, retransmissions, probes.
const TICK: Duration = Duration::from_millis(10);

/// What a server keeps on disk across crashes: its flushed WAL, its timeline and history, and
/// whether it is a standby (and of whom: `standby.signal` and `primary_conninfo`).
#[derive(Clone, Debug, Default)]
pub(crate) struct DiskState {
    pub(crate) wal: Vec<WalRecord>,
    pub(crate) timeline: u32,
    /// `(timeline, the position it began at)`, oldest first.
    pub(crate) history: Vec<(u32, Lsn)>,
    pub(crate) standby_of: Option<String>,
}

impl DiskState {
    /// The flushed WAL's end.
    pub(crate) fn lsn(&self) -> Lsn {
        self.wal
            .last()
            .map_or(super::engine::INITIAL_LSN, |r| r.lsn)
    }
}

/// A server's disk, kept by the world across crashes.
pub(crate) type PgDisk = Rc<RefCell<DiskState>>;

/// Everything a server host needs that outlives one incarnation of it.
#[derive(Clone)]
pub(crate) struct ServerContext {
    pub(crate) name: String,
    pub(crate) config: PgConfig,
    pub(crate) clock: Clock,
    pub(crate) links: LinkFaults,
    pub(crate) disk: PgDisk,
    /// Requests from this host's failover manager (or a test): promote, follow.
    pub(crate) control: Rc<RefCell<Vec<Control>>>,
    pub(crate) history: History,
    /// Backend pids handed out so far (pids keep growing across restarts, as the OS's do).
    pub(crate) pids: Rc<std::cell::Cell<BackendId>>,
    /// The failover manager beside the server, if the cluster has one.
    pub(crate) patroni: Option<super::patroni::AgentContext>,
}

/// The host body of one server. Runs until the host is crashed.
pub(crate) async fn run(ctx: ServerContext) -> turmoil::Result {
    let socket = Rc::new(UdpSocket::bind(("0.0.0.0", PG_PORT)).await?);
    let replication = Rc::new(UdpSocket::bind(("0.0.0.0", REPLICATION_PORT)).await?);
    let clock = ctx.clock.clone();
    if let Some(agent) = ctx.patroni.clone() {
        tokio::task::spawn_local(super::patroni::run(agent));
    }
    let mut server = Server::start(ctx, socket.clone(), replication.clone());
    let (tx, rx) = mpsc::unbounded_channel();
    receive_datagrams(socket, tx.clone(), Inbound::Client);
    receive_datagrams(replication, tx, |_, message| Inbound::Replication(message));
    let timers = [Timer {
        first: clock.now() + TICK,
        period: TICK,
    }];
    serve(&mut server, clock, &timers, rx).await;
    Ok(())
}

/// One client connection and its backend.
struct Connection {
    addr: SocketAddr,
    /// The client's `application_name` (its host).
    client: String,
    endpoint: Endpoint<ServerBody, ClientBody>,
    pid: BackendId,
    /// Statements received and not yet run.
    queue: VecDeque<Statement>,
    /// A statement is running (or waiting for a lock).
    busy: bool,
    /// The backend is gone; the kernel still delivers what was sent, then forgets it.
    closing: bool,
}

pub(crate) enum Inbound {
    Client(SocketAddr, ToServer),
    Replication(Replication),
}

pub(crate) struct Server {
    ctx: ServerContext,
    socket: Rc<UdpSocket>,
    engine: Engine,
    conns: BTreeMap<ConnId, Connection>,
    by_pid: BTreeMap<BackendId, ConnId>,
    repl: replication::State,
}

impl Host for Server {
    type Inbound = Inbound;

    fn on_timer(&mut self, _timer: usize) {
        let now = self.now();
        self.take_control();
        let answers = self.engine.tick(now);
        self.deliver(answers);
        self.replicate();
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            let addr = c.addr;
            let again = c.endpoint.poll(now);
            let ended = c.endpoint.ended();
            let done = c.closing && (c.endpoint.all_acked() || ended.is_some());
            for segment in again {
                self.send_segment(addr, &segment);
            }
            if done {
                self.conns.remove(&id);
            } else if let Some(end) = ended {
                let reason = match end {
                    ConnectionEnd::TimedOut => "connection timed out",
                    ConnectionEnd::Reset => "connection reset by peer",
                };
                self.end_backend(id, reason);
            }
        }
        self.pump();
        self.persist();
    }

    fn on_inbound(&mut self, inbound: Inbound) {
        match inbound {
            Inbound::Client(from, segment) => self.on_client(from, segment),
            Inbound::Replication(message) => self.on_replication(message),
        }
    }

    fn flush_batch(&mut self) {
        self.pump();
        self.persist();
    }
}

impl Server {
    fn on_client(&mut self, from: SocketAddr, segment: ToServer) {
        let now = self.now();
        let id = segment.conn;
        if !self.conns.contains_key(&id) {
            let startup = matches!(
                &segment.kind,
                SegmentKind::Data {
                    seq: 0,
                    body: ClientBody::Startup { .. },
                    ..
                }
            );
            if !startup {
                if let Some(reset) = reset_for::<ClientBody, ServerBody>(&segment) {
                    self.send_segment(from, &reset);
                }
                return;
            }
            let pid = self.ctx.pids.get() + 1;
            self.ctx.pids.set(pid);
            let stream = self.ctx.config.stream();
            self.conns.insert(
                id,
                Connection {
                    addr: from,
                    client: String::new(),
                    endpoint: Endpoint::new(id, stream, now),
                    pid,
                    queue: VecDeque::new(),
                    busy: false,
                    closing: false,
                },
            );
            self.by_pid.insert(pid, id);
        }
        let c = self.conns.get_mut(&id).expect("just checked");
        if c.closing {
            // The backend exited and closed its socket: the kernel answers with a reset.
            if let Some(reset) = reset_for::<ClientBody, ServerBody>(&segment) {
                self.send_segment(from, &reset);
            }
            return;
        }
        let received = c.endpoint.receive(segment.kind, now);
        if let Some(reply) = received.reply {
            self.send_segment(from, &reply);
        }
        for body in received.data {
            match body {
                ClientBody::Startup { application_name } => {
                    let Some(c) = self.conns.get_mut(&id) else {
                        break;
                    };
                    c.client = application_name;
                    let pid = c.pid;
                    let in_recovery = self.is_standby();
                    self.send(id, ServerBody::Ready { pid, in_recovery });
                }
                ClientBody::Query(statement) => {
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.queue.push_back(statement);
                    }
                }
                ClientBody::Terminate => {
                    self.end_backend(id, "client closed the connection");
                    break;
                }
            }
        }
        if self
            .conns
            .get(&id)
            .is_some_and(|c| c.endpoint.ended().is_some())
        {
            self.end_backend(id, "connection reset by peer");
        }
    }

    fn start(ctx: ServerContext, socket: Rc<UdpSocket>, replication: Rc<UdpSocket>) -> Self {
        let engine = recovered_engine(&ctx);
        let mut server = Server {
            repl: replication::State::new(replication, ctx.clock.now()),
            ctx,
            socket,
            engine,
            conns: BTreeMap::new(),
            by_pid: BTreeMap::new(),
        };
        server.role_changed();
        server
    }

    fn now(&self) -> Duration {
        self.ctx.clock.now()
    }

    /// Run the next statement of every connection that is not busy, until nothing moves.
    fn pump(&mut self) {
        loop {
            let ready: Vec<(ConnId, BackendId)> = self
                .conns
                .iter()
                .filter(|(_, c)| !c.busy && !c.closing && !c.queue.is_empty())
                .map(|(&id, c)| (id, c.pid))
                .collect();
            if ready.is_empty() {
                return;
            }
            for (id, pid) in ready {
                let Some(c) = self.conns.get_mut(&id) else {
                    continue;
                };
                let Some(statement) = c.queue.pop_front() else {
                    continue;
                };
                c.busy = true;
                let now = self.now();
                let answers = match self.refused_in_recovery(&statement) {
                    Some(e) => vec![(pid, Answer::err(e))],
                    None => self.engine.execute(pid, statement, now),
                };
                self.deliver(answers);
            }
        }
    }

    /// Send each answer to its backend's client; a FATAL one ends the backend.
    fn deliver(&mut self, answers: Answers) {
        for (pid, answer) in answers {
            let Some(&id) = self.by_pid.get(&pid) else {
                continue;
            };
            match &answer.result {
                Err(e) if e.is_fatal() => {
                    let e = e.clone();
                    self.send(id, ServerBody::Fatal(e.clone()));
                    self.close(id, &e.message);
                }
                _ => {
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.busy = false;
                    }
                    self.send(id, ServerBody::Result(answer));
                }
            }
        }
    }

    /// The server noticed the client is gone: the backend ends, its transaction rolls back
    /// and its locks are released.
    fn end_backend(&mut self, id: ConnId, reason: &str) {
        let Some(c) = self.conns.get(&id) else {
            return;
        };
        if c.closing {
            return;
        }
        let pid = c.pid;
        let now = self.now();
        let answers = self.engine.terminate(pid, now);
        self.deliver(answers);
        self.close(id, reason);
        if let Some(c) = self.conns.get(&id) {
            if c.endpoint.ended().is_some() || c.endpoint.all_acked() {
                self.conns.remove(&id);
            }
        }
    }

    /// The backend is gone: record it, keep the connection only to deliver what was sent.
    fn close(&mut self, id: ConnId, reason: &str) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.closing = true;
        c.queue.clear();
        self.by_pid.remove(&c.pid);
        let (pid, client) = (c.pid, c.client.clone());
        self.ctx.history.event(
            ClusterEvent::PgBackendEnded {
                server: self.ctx.name.clone(),
                pid,
                client,
                reason: reason.to_string(),
            },
            sim_now(),
        );
    }

    fn send(&mut self, id: ConnId, body: ServerBody) {
        let now = self.now();
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.endpoint.ended().is_some() {
            return;
        }
        let addr = c.addr;
        let segment = c.endpoint.send(body, now);
        self.send_segment(addr, &segment);
    }

    fn send_segment(&self, addr: SocketAddr, segment: &ToClient) {
        let copies = self.ctx.links.copies_to(&self.ctx.name, || {
            turmoil::reverse_lookup(addr.ip()).unwrap_or_default()
        });
        let bytes = encode(segment);
        for _ in 0..copies {
            let _ = self.socket.try_send_to(&bytes, addr);
        }
    }

    /// A primary's commits are flushed before they are answered (with `synchronous_commit =
    /// off`, by the WAL writer every 200 ms): the new WAL records reach the disk. A standby's
    /// disk is written by its walreceiver.
    fn persist(&mut self) {
        if self.is_standby() {
            return;
        }
        let now = self.now();
        if self.ctx.config.synchronous_commit == SyncCommit::Off
            && now < self.repl.last_flush + WAL_WRITER_DELAY
        {
            return;
        }
        self.repl.last_flush = now;
        let written = self.engine.take_wal();
        self.ctx.disk.borrow_mut().wal.extend(written);
    }

    /// Whether this server is a standby (in recovery).
    fn is_standby(&self) -> bool {
        self.ctx.disk.borrow().standby_of.is_some()
    }

    /// What a standby answers instead of running a statement that writes or locks.
    fn refused_in_recovery(&self, statement: &Statement) -> Option<PgError> {
        if !self.is_standby() {
            return None;
        }
        match statement {
            Statement::Begin
            | Statement::Commit
            | Statement::Rollback
            | Statement::Select { .. }
            | Statement::SetLockTimeout { .. }
            | Statement::SetIdleInTransactionTimeout { .. } => None,
            Statement::AdvisoryLock { .. }
            | Statement::AdvisoryTryLock { .. }
            | Statement::AdvisoryUnlock { .. }
            | Statement::AdvisoryUnlockAll => Some(PgError::lock_in_recovery()),
            other => Some(PgError::read_only_transaction(other.name())),
        }
    }

    /// Every backend ends with a FATAL error (a shutdown or restart of the server process).
    fn terminate_all(&mut self, error: PgError) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            if self.conns.get(&id).is_some_and(|c| !c.closing) {
                self.send(id, ServerBody::Fatal(error.clone()));
                self.end_backend(id, &error.message);
            }
        }
    }
}

/// The WAL writer's period (`wal_writer_delay`): how often `synchronous_commit = off` commits
/// reach the disk.
const WAL_WRITER_DELAY: Duration = Duration::from_millis(200);

/// The engine as crash recovery (or a restart as standby) leaves it: the disk's WAL replayed.
fn recovered_engine(ctx: &ServerContext) -> Engine {
    let tables: Vec<&str> = ctx.config.tables.iter().map(String::as_str).collect();
    let mut engine = Engine::new(ctx.config.engine.clone(), &tables);
    for record in ctx.disk.borrow().wal.iter() {
        engine.apply(record);
    }
    engine
}
