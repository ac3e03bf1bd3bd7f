//! A server's client connections: the connect handshake (a new session through the log, a
//! resumed one revalidated by the leader), each connection's ordered stream both ways, the
//! per-session request queue answered strictly in order, watch pushes and the drops.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use super::watches::WatchKind;
use super::{Server, Waiting};
use crate::world::datagram::encode;
use crate::zk::state::Txn;
use crate::zk::tree::{SessionId, ZkError, Zxid};
use crate::zk::wire::{
    Answer, ClientBody, ConnId, EventType, InOrder, LearnerMessage, ServerBody, ToClient, ToServer,
    ZkRequest,
};

/// Out of band: a close for a connection the server does not hold (a TCP reset), handled by
/// the client whatever its stream position.
pub(crate) const OUT_OF_BAND: u64 = u64::MAX;

/// A connect waiting for its session (created through the log, or revalidated by the leader).
pub(crate) struct Connecting {
    addr: SocketAddr,
    pub(super) session: SessionId,
    timeout_ms: u32,
    since: Duration,
    /// Waiting for the leader's word on a resumed session (not a `createSession`).
    pub(super) revalidating: bool,
}

/// An open connection: its session, both stream positions, and the requests not yet answered.
pub(crate) struct Connection {
    addr: SocketAddr,
    session: SessionId,
    out_seq: u64,
    /// The client's datagrams, in order.
    inbox: InOrder<ClientBody>,
    queue: VecDeque<Queued>,
}

struct Queued {
    xid: i32,
    work: Work,
    since: Duration,
}

enum Work {
    Read(ZkRequest),
    Ping,
    Proposed {
        pid: u64,
        close: bool,
    },
    Sync {
        path: String,
        batch: u64,
        index: Option<u64>,
    },
    Done {
        zxid: Zxid,
        result: Result<Answer, ZkError>,
        close: bool,
    },
}

/// What the front of a queue has become, answered once the queue is no longer borrowed.
enum Due {
    Reply(Zxid, Result<Answer, ZkError>),
    Pong,
    Read(ZkRequest),
}

impl Server {
    pub(super) fn on_client(&mut self, from: SocketAddr, msg: ToServer) {
        let ToServer { conn, seq, body } = msg;
        if seq == 0 {
            if let ClientBody::Connect {
                session,
                timeout_ms,
                last_zxid,
            } = body
            {
                self.on_connect(from, conn, session, timeout_ms, last_zxid);
            }
            return;
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            if !self.connecting.contains_key(&conn) {
                self.send_to(from, conn, OUT_OF_BAND, ServerBody::Closed);
            }
            return;
        };
        let ready = c.inbox.accept(seq, body);
        let session = c.session;
        if !ready.is_empty() {
            self.touch(session);
        }
        for body in ready {
            self.on_body(conn, body);
        }
    }

    fn touch(&mut self, session: SessionId) {
        let now = self.ctx.disk.clock.now();
        match &mut self.tracker {
            Some(tracker) => {
                tracker.touch(session, now);
            }
            None => {
                self.touched.insert(session);
            }
        }
    }

    fn on_connect(
        &mut self,
        from: SocketAddr,
        conn: ConnId,
        session: SessionId,
        timeout_ms: u32,
        last_zxid: Zxid,
    ) {
        if self.conns.contains_key(&conn) || self.connecting.contains_key(&conn) {
            return; // a duplicate
        }
        // Not serving without a leader; and never going back in time for a client
        // ("Refusing session request for client as it has seen zxid ... our last zxid is ...").
        if self.core.leader() == raft::INVALID_ID || last_zxid > self.state.last_zxid {
            self.send_to(from, conn, OUT_OF_BAND, ServerBody::Closed);
            return;
        }
        let timeout_ms = self.ctx.config.negotiate(timeout_ms);
        let now = self.ctx.disk.clock.now();
        let new = session == 0;
        let session = if new {
            self.next_session += 1;
            self.next_session
        } else {
            session
        };
        self.connecting.insert(
            conn,
            Connecting {
                addr: from,
                session,
                timeout_ms,
                since: now,
                revalidating: !new,
            },
        );
        if new {
            let txn = Txn::CreateSession {
                session,
                timeout_ms,
            };
            if !self.propose(txn, Waiting::Connect(conn)) {
                self.connecting.remove(&conn);
                self.send_to(from, conn, OUT_OF_BAND, ServerBody::Closed);
            }
            return;
        }
        match &mut self.tracker {
            Some(tracker) => {
                let valid = tracker.touch(session, now);
                self.revalidated(session, conn, valid);
            }
            None => {
                let leader = self.core.leader();
                self.send_learner(leader, &LearnerMessage::Revalidate { session, conn });
            }
        }
    }

    /// The leader said whether `session` lives: open the connection, or tell it it expired.
    pub(super) fn revalidated(&mut self, session: SessionId, conn: ConnId, valid: bool) {
        let Some(c) = self.connecting.remove(&conn) else {
            return;
        };
        if c.session != session {
            return;
        }
        if valid {
            self.open(conn, c);
        } else {
            self.send_to(c.addr, conn, 0, ServerBody::Expired);
        }
    }

    /// The `createSession` of this attempt was applied.
    pub(super) fn session_created(&mut self, conn: ConnId) {
        if let Some(c) = self.connecting.remove(&conn) {
            self.open(conn, c);
        }
    }

    fn open(&mut self, conn: ConnId, c: Connecting) {
        if let Some(old) = self.by_session.get(&c.session).copied() {
            // The client moved its session to a new connection: the old one is dead.
            self.drop_connection(old, false);
        }
        self.by_session.insert(c.session, conn);
        self.conns.insert(
            conn,
            Connection {
                addr: c.addr,
                session: c.session,
                out_seq: 0,
                inbox: InOrder::from(1),
                queue: VecDeque::new(),
            },
        );
        self.touch(c.session);
        self.send(
            conn,
            ServerBody::Connected {
                session: c.session,
                timeout_ms: c.timeout_ms,
            },
        );
    }

    fn on_body(&mut self, conn: ConnId, body: ClientBody) {
        let now = self.ctx.disk.clock.now();
        let Some(session) = self.conns.get(&conn).map(|c| c.session) else {
            return;
        };
        let (xid, work) = match body {
            ClientBody::Connect { .. } => return,
            ClientBody::Ping => (-2, Work::Ping),
            ClientBody::SetWatches {
                relative_zxid,
                data,
                exist,
                child,
            } => {
                let fired = self.watches.set_watches(
                    &self.state.tree,
                    session,
                    relative_zxid,
                    &data,
                    &exist,
                    &child,
                );
                let zxid = self.state.last_zxid;
                for (kind, path) in fired {
                    self.send(conn, ServerBody::Event { kind, path, zxid });
                }
                return;
            }
            ClientBody::Request { xid, request } => {
                let work = match request {
                    ZkRequest::Write(op) => {
                        let txn = Txn::Write {
                            session,
                            op,
                            time: now.as_millis() as i64,
                        };
                        self.propose_for(conn, txn, false)
                    }
                    ZkRequest::CloseSession => {
                        self.propose_for(conn, Txn::CloseSession { session }, true)
                    }
                    ZkRequest::Sync { path } => {
                        self.read_batches += 1;
                        let batch = self.read_batches;
                        let ctx = (self.ctx.id, self.ctx.disk.incarnation.get(), batch);
                        self.core.raw.read_index(encode(&ctx));
                        Some(Work::Sync {
                            path,
                            batch,
                            index: None,
                        })
                    }
                    read => Some(Work::Read(read)),
                };
                let Some(work) = work else {
                    // Raft took no proposal: no leader, so no service.
                    self.drop_connection(conn, true);
                    return;
                };
                (xid, work)
            }
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(Queued {
                xid,
                work,
                since: now,
            });
        }
    }

    fn propose_for(&mut self, conn: ConnId, txn: Txn, close: bool) -> Option<Work> {
        let pid = self.next_pid + 1;
        self.propose(txn, Waiting::Request(conn))
            .then_some(Work::Proposed { pid, close })
    }

    /// An own proposal for `conn` was applied.
    pub(super) fn complete(
        &mut self,
        conn: ConnId,
        pid: u64,
        zxid: Zxid,
        result: Result<Answer, ZkError>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        for q in c.queue.iter_mut() {
            if let Work::Proposed { pid: p, close } = q.work {
                if p == pid {
                    q.work = Work::Done {
                        zxid,
                        result,
                        close,
                    };
                    return;
                }
            }
        }
    }

    /// A ReadIndex answer: the sync waits for this server to apply up to `index`.
    pub(super) fn synced(&mut self, batch: u64, index: u64) {
        for c in self.conns.values_mut() {
            for q in c.queue.iter_mut() {
                if let Work::Sync {
                    batch: b, index: i, ..
                } = &mut q.work
                {
                    if *b == batch {
                        *i = Some(index);
                    }
                }
            }
        }
    }

    /// The session closed (its client's `close()`, or expiry): its connection here ends.
    pub(super) fn session_closed(&mut self, session: SessionId) {
        self.connecting.retain(|_, c| c.session != session);
        // Answer what can be answered first (the `close()` itself), then hang up.
        if let Some(conn) = self.by_session.get(&session).copied() {
            self.answer(conn);
            self.drop_connection(conn, true);
        }
    }

    pub(super) fn push_event(
        &mut self,
        session: SessionId,
        kind: EventType,
        path: String,
        zxid: Zxid,
    ) {
        if let Some(conn) = self.by_session.get(&session).copied() {
            // Answers already due go first: the client must see them before the event.
            self.answer(conn);
            self.send(conn, ServerBody::Event { kind, path, zxid });
        }
    }

    pub(super) fn answer_all(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.answer(conn);
        }
    }

    /// Answer `conn`'s queue from the front, as far as it is answerable.
    fn answer(&mut self, conn: ConnId) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let session = c.session;
            let Some(front) = c.queue.front_mut() else {
                return;
            };
            let xid = front.xid;
            let last_zxid = self.state.last_zxid;
            let (due, close) = match &mut front.work {
                Work::Proposed { .. } | Work::Sync { index: None, .. } => return,
                Work::Sync {
                    index: Some(i),
                    path,
                    ..
                } => {
                    if self.applied < *i {
                        return;
                    }
                    let answer = Ok(Answer::Synced(std::mem::take(path)));
                    (Due::Reply(last_zxid, answer), false)
                }
                Work::Ping => (Due::Pong, false),
                Work::Done {
                    zxid,
                    result,
                    close,
                } => (Due::Reply(*zxid, result.clone()), *close),
                Work::Read(request) => (Due::Read(request.clone()), false),
            };
            c.queue.pop_front();
            let body = match due {
                Due::Reply(zxid, result) => ServerBody::Reply { xid, zxid, result },
                Due::Pong => ServerBody::Pong { zxid: last_zxid },
                Due::Read(request) => ServerBody::Reply {
                    xid,
                    zxid: last_zxid,
                    result: self.read(session, &request),
                },
            };
            self.send(conn, body);
            if close {
                self.drop_connection(conn, true);
                return;
            }
        }
    }

    /// A read from this server's own tree, leaving the watch it asks for.
    fn read(&mut self, session: SessionId, request: &ZkRequest) -> Result<Answer, ZkError> {
        let tree = &self.state.tree;
        match request {
            ZkRequest::GetData { path, watch } => {
                let (data, stat) = tree.get_data(path)?;
                if *watch {
                    self.watches.add(WatchKind::Data, path, session);
                }
                Ok(Answer::Data { data, stat })
            }
            ZkRequest::Exists { path, watch } => {
                let stat = tree.exists(path)?;
                if *watch {
                    self.watches.add(WatchKind::Data, path, session);
                }
                Ok(Answer::Exists(stat))
            }
            ZkRequest::GetChildren { path, watch } => {
                let (children, stat) = tree.get_children(path)?;
                if *watch {
                    self.watches.add(WatchKind::Child, path, session);
                }
                Ok(Answer::Children { children, stat })
            }
            ZkRequest::Write(_) | ZkRequest::Sync { .. } | ZkRequest::CloseSession => {
                unreachable!("writes and syncs are not reads")
            }
        }
    }

    /// Break connections whose front request made no progress for `syncLimit × tickTime`,
    /// and forget connects that got no session in that time.
    pub(super) fn drop_stalled(&mut self) {
        let now = self.ctx.disk.clock.now();
        let limit = self.ctx.config.stall_limit();
        let stalled: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.queue.front().is_some_and(|q| now >= q.since + limit))
            .map(|(id, _)| *id)
            .collect();
        for conn in stalled {
            self.drop_connection(conn, true);
        }
        self.connecting.retain(|_, c| now < c.since + limit);
    }

    pub(super) fn drop_all_clients(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.drop_connection(conn, true);
        }
        let connecting = std::mem::take(&mut self.connecting);
        for (conn, c) in connecting {
            self.send_to(c.addr, conn, OUT_OF_BAND, ServerBody::Closed);
        }
    }

    /// End a connection: its watches go; `notify` sends the close down its stream.
    pub(super) fn drop_connection(&mut self, conn: ConnId, notify: bool) {
        if notify {
            self.send(conn, ServerBody::Closed);
        }
        if let Some(c) = self.conns.remove(&conn) {
            if self.by_session.get(&c.session) == Some(&conn) {
                self.by_session.remove(&c.session);
                self.watches.remove_session(c.session);
            }
        }
    }

    /// Send down `conn`'s stream, in order.
    fn send(&mut self, conn: ConnId, body: ServerBody) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let seq = c.out_seq;
        c.out_seq += 1;
        let addr = c.addr;
        self.send_to(addr, conn, seq, body);
    }

    fn send_to(&self, addr: SocketAddr, conn: ConnId, seq: u64, body: ServerBody) {
        let bytes = encode(&ToClient { conn, seq, body });
        let copies = self.ctx.disk.links.copies_to(&self.name, || {
            turmoil::reverse_lookup(addr.ip()).unwrap_or_default()
        });
        for _ in 0..copies {
            let _ = self.client_socket.try_send_to(&bytes, addr);
        }
    }
}
