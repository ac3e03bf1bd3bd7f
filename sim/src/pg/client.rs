//! `PgClient`: one libpq connection to a PostgreSQL server — typed statements in, answers out,
//! every statement in the history.
//!
//! What follows libpq (15) and why:
//! * **One connection, no reconnect.** A session is its connection: when it is lost the
//!   session's transaction and locks are gone (or will be, once the server notices), and an
//!   application must connect again and start over. The call in flight fails with SQLSTATE
//!   `08006`; later calls with `08003` "no connection to the server".
//! * **Connecting** tries `hosts` in order (a multi-host connection string); with
//!   `target_session_attrs=read-write` a standby is closed and the next host tried.
//!   `connect_timeout` bounds each host's attempt (without one, libpq leaves it to the kernel's
//!   SYN retries: 127 s on Linux).
//! * **No read timeout.** libpq waits for an answer as long as the connection lives: a statement
//!   blocked on a lock waits until it is granted or the server's `lock_timeout` fires, and a
//!   dead server is noticed only by TCP (retransmissions, or keepalive probes on an idle
//!   connection: libpq turns keepalives on with the kernel's timing). `query_timeout` is an
//!   application's deadline (JDBC's `socketTimeout`): when it passes, the client closes the
//!   connection.
//! * The kernel's part of the connection (acknowledgements, retransmissions, answering the
//!   server's keepalive probes) runs even while the client's process is paused; the process
//!   sees answers only when it runs again.
//!
//! Client-side errors carry the SQLSTATE PgJDBC gives them (libpq gives none): `08001` could
//! not connect, `08006` the connection broke, `08003` no connection; messages are libpq's.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use turmoil::net::UdpSocket;

use super::error::PgError;
use super::statement::{Answer, Reply, Statement};
use super::wire::{ClientBody, ServerBody, ToClient, ToServer, PG_PORT};
use crate::world::clock::Clock;
use crate::world::datagram::encode;
use crate::world::history::{sim_now, ClusterEvent, History, Outcome};
use crate::world::host_loop::receive_datagrams;
use crate::world::link_faults::LinkFaults;
use crate::world::stream::{reset_for, ConnectionEnd, Endpoint, Keepalive, StreamConfig};

/// Which server a connection accepts (`target_session_attrs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetSession {
    /// Any server (`any`, the default).
    Any,
    /// Only a primary (`read-write`): a standby is skipped.
    ReadWrite,
}

/// A client's connection settings (a libpq connection string).
#[derive(Clone, Debug)]
pub struct PgClientConfig {
    /// The servers to try, in order (`host=p1,p2`).
    pub hosts: Vec<String>,
    /// `target_session_attrs`.
    pub target_session_attrs: TargetSession,
    /// `connect_timeout` per host (default 127 s: Linux's SYN retries, libpq's own default
    /// being none).
    pub connect_timeout: Duration,
    /// `keepalives_idle/interval/count` (libpq's default: on, with the kernel's timing).
    pub keepalives: Option<Keepalive>,
    /// `tcp_user_timeout` (default: the kernel's rule).
    pub tcp_user_timeout: Option<Duration>,
    /// An application deadline per statement (JDBC's `socketTimeout`); `None`: wait as long as
    /// the connection lives, as libpq does.
    pub query_timeout: Option<Duration>,
    /// The client host's clock.
    pub clock: Clock,
    /// The world's link faults.
    pub links: LinkFaults,
}

impl PgClientConfig {
    /// libpq's defaults for `hosts`, from a client host with `clock` in a world with `links`.
    pub fn new(hosts: Vec<String>, clock: Clock, links: LinkFaults) -> Self {
        PgClientConfig {
            hosts,
            target_session_attrs: TargetSession::Any,
            connect_timeout: Duration::from_secs(127),
            keepalives: Some(Keepalive::default()),
            tcp_user_timeout: None,
            query_timeout: None,
            clock,
            links,
        }
    }

    fn stream(&self) -> StreamConfig {
        StreamConfig {
            keepalive: self.keepalives,
            user_timeout: self.tcp_user_timeout,
            ..StreamConfig::default()
        }
    }
}

/// What the kernel hands the process.
enum Delivery {
    Body(ServerBody),
    Ended(ConnectionEnd),
}

struct Conn {
    endpoint: Endpoint<ClientBody, ServerBody>,
    server: String,
    pid: u32,
}

#[derive(Default)]
struct State {
    conn: Option<Conn>,
    /// Connections ever opened: numbers each one.
    opened: u64,
    /// The call in flight (or the connect), waiting for the next thing the server sends.
    waiter: Option<oneshot::Sender<Delivery>>,
    /// Why the connection ended (and where it was), until the process learns it: the call in
    /// flight, or else the next call, reports it.
    lost: Option<(PgError, String, u32)>,
}

struct Inner {
    name: String,
    id: u32,
    config: PgClientConfig,
    socket: Rc<UdpSocket>,
    history: History,
    state: RefCell<State>,
    /// Tells the kernel task that a timer may have changed.
    kick: Rc<Notify>,
    tasks: RefCell<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in self.tasks.borrow().iter() {
            task.abort();
        }
    }
}

/// A PostgreSQL connection (see the module docs). Clones share it.
#[derive(Clone)]
pub struct PgClient {
    inner: Rc<Inner>,
}

impl PgClient {
    /// Connect as libpq does (see the module docs). `name` is the client host's name (the
    /// history's process, the server's `application_name`); `id` must be unique in the run.
    ///
    /// Must be called inside a turmoil host.
    pub async fn connect(
        name: &str,
        id: u32,
        config: PgClientConfig,
        history: History,
    ) -> Result<PgClient, PgError> {
        // An ephemeral port, as every new connection gets.
        let socket = UdpSocket::bind(("0.0.0.0", 0))
            .await
            .map_err(|e| PgError::connection_failed(format!("cannot bind client socket: {e}")))?;
        let client = PgClient {
            inner: Rc::new(Inner {
                name: name.to_string(),
                id,
                config,
                socket: Rc::new(socket),
                history,
                state: RefCell::default(),
                kick: Rc::new(Notify::new()),
                tasks: RefCell::default(),
            }),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let receive = receive_datagrams(client.inner.socket.clone(), tx, |from, s| (from, s));
        let kernel = tokio::task::spawn_local(kernel(
            Rc::downgrade(&client.inner),
            client.inner.kick.clone(),
            client.inner.config.clock.clone(),
            rx,
        ));
        client.inner.tasks.borrow_mut().extend([receive, kernel]);
        let mut failures = Vec::new();
        for host in client.inner.config.hosts.clone() {
            match client.try_host(&host).await {
                Ok(()) => return Ok(client),
                Err(message) => failures.push(format!(
                    "connection to server at \"{host}\", port {PG_PORT} failed: {message}"
                )),
            }
        }
        Err(PgError::connection_failed(failures.join("\n")))
    }

    /// One host of [`PgClient::connect`]: `Err` is libpq's reason.
    async fn try_host(&self, host: &str) -> Result<(), String> {
        let inner = &self.inner;
        let clock = inner.config.clock.clone();
        let rx = {
            let mut st = inner.state.borrow_mut();
            st.opened += 1;
            let conn = ((inner.id as u64) << 32) | (st.opened & 0xffff_ffff);
            st.conn = Some(Conn {
                endpoint: Endpoint::new(conn, inner.config.stream(), clock.now()),
                server: host.to_string(),
                pid: 0,
            });
            st.lost = None;
            let (tx, rx) = oneshot::channel();
            st.waiter = Some(tx);
            rx
        };
        inner.send(ClientBody::Startup {
            application_name: inner.name.clone(),
        });
        let delivery = tokio::select! {
            biased;
            d = rx => d.ok(),
            _ = clock.sleep(inner.config.connect_timeout) => None,
        };
        clock.running().await;
        let reason = match delivery {
            Some(Delivery::Body(ServerBody::Ready { pid, in_recovery })) => {
                if in_recovery && inner.config.target_session_attrs == TargetSession::ReadWrite {
                    inner.send(ClientBody::Terminate);
                    "session is read-only".to_string()
                } else {
                    if let Some(c) = inner.state.borrow_mut().conn.as_mut() {
                        c.pid = pid;
                    }
                    inner.event(host, pid, "connected");
                    return Ok(());
                }
            }
            Some(Delivery::Body(ServerBody::Fatal(e))) => format!("FATAL:  {}", e.message),
            Some(Delivery::Body(_)) => "unexpected message from server".to_string(),
            Some(Delivery::Ended(ConnectionEnd::Reset)) => "Connection refused".to_string(),
            Some(Delivery::Ended(ConnectionEnd::TimedOut)) => "Connection timed out".to_string(),
            None => "timeout expired".to_string(),
        };
        let mut st = inner.state.borrow_mut();
        st.conn = None;
        st.waiter = None;
        Err(reason)
    }

    /// The client host's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The client host's clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.config.clock
    }

    /// The server connected to, while connected.
    pub fn server(&self) -> Option<String> {
        let st = self.inner.state.borrow();
        st.conn.as_ref().map(|c| c.server.clone())
    }

    /// The backend's pid (`pg_backend_pid()`), while connected.
    pub fn pid(&self) -> Option<u32> {
        let st = self.inner.state.borrow();
        st.conn.as_ref().map(|c| c.pid)
    }

    /// Whether the connection is usable (libpq's `CONNECTION_OK`, as far as the client knows).
    pub fn is_connected(&self) -> bool {
        let st = self.inner.state.borrow();
        st.conn.is_some()
    }

    /// Run `statement`: its result or the server's error. See [`PgClient::query`] for the
    /// notices too.
    pub async fn execute(&self, statement: Statement) -> Result<Reply, PgError> {
        self.query(statement).await?.result
    }

    /// Run `statement`, recorded in the history: the server's answer (result or error, with
    /// its notices), or `Err` when the connection failed.
    pub async fn query(&self, statement: Statement) -> Result<Answer, PgError> {
        let inner = &self.inner;
        let handle = inner
            .history
            .invoke(&inner.name, statement.clone(), sim_now());
        let write = statement.is_write();
        let (result, server) = self.send_query(statement).await;
        let outcome = match &result {
            Ok(Answer { result: Ok(r), .. }) => Outcome::Ok(r.clone().into()),
            Ok(Answer { result: Err(e), .. }) => Outcome::Fail(e.clone().into()),
            Err(e) if e.is_connection_lost() && write => Outcome::Indeterminate,
            Err(e) => Outcome::Fail(e.clone().into()),
        };
        inner
            .history
            .complete_from(handle, server, outcome, sim_now());
        result
    }

    async fn send_query(&self, statement: Statement) -> (Result<Answer, PgError>, Option<String>) {
        let inner = &self.inner;
        let (rx, server) = {
            if let Some(e) = inner.learn_lost() {
                return (Err(e), None);
            }
            let mut st = inner.state.borrow_mut();
            let Some(server) = st.conn.as_ref().map(|c| c.server.clone()) else {
                return (Err(PgError::no_connection()), None);
            };
            let (tx, rx) = oneshot::channel();
            st.waiter = Some(tx);
            (rx, server)
        };
        inner.send(ClientBody::Query(statement));
        let clock = inner.config.clock.clone();
        let delivery = match inner.config.query_timeout {
            None => rx.await.ok(),
            Some(timeout) => tokio::select! {
                biased;
                d = rx => d.ok(),
                _ = clock.sleep(timeout) => {
                    // The application gives up and closes the socket: the server's backend
                    // ends when the close reaches it.
                    inner.send(ClientBody::Terminate);
                    let e = PgError::connection_lost("query timeout expired: connection closed");
                    inner.connection_gone(&e.message);
                    return (Err(e), Some(server));
                }
            },
        };
        clock.running().await;
        let result = match delivery {
            Some(Delivery::Body(ServerBody::Result(answer))) => Ok(answer),
            Some(Delivery::Body(ServerBody::Fatal(e))) => Err(e),
            Some(Delivery::Body(ServerBody::Ready { .. })) | None => {
                Err(PgError::connection_lost("unexpected message from server"))
            }
            Some(Delivery::Ended(end)) => Err(PgError::lost_by(end)),
        };
        if result.is_err() {
            inner.learn_lost();
        }
        (result, Some(server))
    }

    /// Close the connection (`PQfinish`: `Terminate`, then the socket is closed). The server
    /// ends the backend when it gets the message.
    pub fn close(&self) {
        let inner = &self.inner;
        if inner.learn_lost().is_some() || inner.state.borrow().conn.is_none() {
            return;
        }
        inner.send(ClientBody::Terminate);
        inner.connection_gone("closed");
    }
}

impl Inner {
    /// Send `body` on the current connection.
    fn send(&self, body: ClientBody) {
        let now = self.config.clock.now();
        let (segment, server) = {
            let mut st = self.state.borrow_mut();
            let Some(c) = st.conn.as_mut() else {
                return;
            };
            (c.endpoint.send(body, now), c.server.clone())
        };
        self.send_segment(&server, &segment);
        self.kick.notify_one();
    }

    fn send_segment(&self, server: &str, segment: &ToServer) {
        let bytes = encode(segment);
        for _ in 0..self.config.links.copies(&self.name, server) {
            let _ = self.socket.try_send_to(&bytes, (server, PG_PORT));
        }
    }

    /// The kernel's reset to a segment for no connection of ours (its sender's name looked up
    /// only if a link rule may apply).
    fn send_reset(&self, to: SocketAddr, reset: &ToServer) {
        let copies = self.config.links.copies_to(&self.name, || {
            turmoil::reverse_lookup(to.ip()).unwrap_or_default()
        });
        let bytes = encode(reset);
        for _ in 0..copies {
            let _ = self.socket.try_send_to(&bytes, to);
        }
    }

    /// The process let the connection go (closed it, or gave up on it).
    fn connection_gone(&self, state: &str) {
        let gone = {
            let mut st = self.state.borrow_mut();
            st.waiter = None;
            st.lost = None;
            st.conn.take()
        };
        if let Some(c) = gone {
            self.event(&c.server, c.pid, state);
        }
    }

    fn event(&self, server: &str, pid: u32, state: &str) {
        self.history.event(
            ClusterEvent::PgConnection {
                client: self.name.clone(),
                server: server.to_string(),
                pid,
                state: state.to_string(),
            },
            sim_now(),
        );
    }

    /// The kernel got a segment of the current connection.
    fn on_segment(&self, segment: ToClient) {
        let now = self.config.clock.now();
        let (received, ended, server) = {
            let mut st = self.state.borrow_mut();
            let Some(c) = st.conn.as_mut() else {
                return;
            };
            let received = c.endpoint.receive(segment.kind, now);
            (received, c.endpoint.ended(), c.server.clone())
        };
        if let Some(reply) = received.reply {
            self.send_segment(&server, &reply);
        }
        for body in received.data {
            self.deliver(Delivery::Body(body));
        }
        if let Some(end) = ended {
            self.deliver(Delivery::Ended(end));
        }
    }

    /// Hand what arrived to the call waiting for it. A FATAL error or the connection's end
    /// closes the connection; with no call in flight the next call reports it.
    fn deliver(&self, delivery: Delivery) {
        let ends = match &delivery {
            Delivery::Body(ServerBody::Fatal(e)) => Some(e.clone()),
            Delivery::Ended(end) => Some(PgError::lost_by(*end)),
            Delivery::Body(_) => None,
        };
        let waiter = {
            let mut st = self.state.borrow_mut();
            let Some((server, pid)) = st.conn.as_ref().map(|c| (c.server.clone(), c.pid)) else {
                return;
            };
            if let Some(e) = ends {
                st.lost = Some((e, server, pid));
                st.conn = None;
            }
            st.waiter.take()
        };
        if let Some(tx) = waiter {
            let _ = tx.send(delivery);
        }
    }

    /// The process learns that its connection is gone (the error, once): the history records
    /// the moment, which may be long after the kernel knew.
    fn learn_lost(&self) -> Option<PgError> {
        let (e, server, pid) = self.state.borrow_mut().lost.take()?;
        self.event(&server, pid, &e.message);
        Some(e)
    }

    /// The kernel's timers: retransmissions and keepalive probes.
    fn poll(&self) {
        let now = self.config.clock.now();
        let (again, server, ended) = {
            let mut st = self.state.borrow_mut();
            let Some(c) = st.conn.as_mut() else {
                return;
            };
            (c.endpoint.poll(now), c.server.clone(), c.endpoint.ended())
        };
        for segment in again {
            self.send_segment(&server, &segment);
        }
        if let Some(end) = ended {
            self.deliver(Delivery::Ended(end));
        }
    }

    fn next_deadline(&self) -> Option<Duration> {
        let st = self.state.borrow();
        st.conn.as_ref().and_then(|c| c.endpoint.next_deadline())
    }
}

/// The client host's kernel: segments in, timers; it runs while the process is paused.
async fn kernel(
    inner: Weak<Inner>,
    kick: Rc<Notify>,
    clock: Clock,
    mut inbox: mpsc::UnboundedReceiver<(SocketAddr, ToClient)>,
) {
    loop {
        let Some(deadline) = inner.upgrade().map(|c| c.next_deadline()) else {
            return;
        };
        // Nothing to time: wait for a segment or a kick.
        let until = deadline.unwrap_or(clock.now() + Duration::from_secs(1 << 30));
        let arrived = tokio::select! {
            biased;
            msg = inbox.recv() => match msg {
                Some(m) => Some(m),
                None => return,
            },
            _ = kick.notified() => None,
            _ = clock.kernel_sleep_until(until) => None,
        };
        let Some(client) = inner.upgrade() else {
            return;
        };
        match arrived {
            Some((from, segment)) => {
                let ours = client
                    .state
                    .borrow()
                    .conn
                    .as_ref()
                    .is_some_and(|c| c.endpoint.conn() == segment.conn);
                if ours {
                    client.on_segment(segment);
                } else if let Some(reset) = reset_for::<ServerBody, ClientBody>(&segment) {
                    // No such socket (closed, or from before a restart): a reset.
                    client.send_reset(from, &reset);
                }
            }
            None => client.poll(),
        }
    }
}
