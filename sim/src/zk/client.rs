//! `ZkClient`: a ZooKeeper 3.8 client handle (`org.apache.zookeeper.ZooKeeper`) inside a turmoil
//! host — one session, one connection at a time, failover to the next server, watches, and the
//! connection states as the real client learns them. Every call is recorded in the history.
//!
//! What follows ZooKeeper's `ClientCnxn` and why it matters to a lock:
//! * **Timeouts**: with the negotiated session timeout T the client pings after T/3 without
//!   sending, gives a connection up after 2T/3 without hearing anything (read timeout), and
//!   gives a connect attempt T/N (N servers). After trying every server it waits a second.
//! * **States**: `SyncConnected` → `Disconnected` when the connection breaks (Curator:
//!   SUSPENDED): requests in flight fail with `ConnectionLoss` (a write's fate unknown) and the
//!   session may well live on. The client learns `Expired` (Curator: LOST) **only when it
//!   reconnects** and the ensemble says the session is gone — a partitioned 3.8 client stays
//!   Disconnected however long it waits. After `Expired` the handle is dead.
//! * **Watches** are one-shot and re-registered on reconnect (`SetWatches` with the last zxid
//!   seen: what changed meanwhile fires at once). Every watcher is told `Disconnected` (its
//!   watch kept) and `Expired` (its watch gone).
//! * Requests are not queued while disconnected: they fail with `ConnectionLoss` at once, as
//!   ZooKeeper's would at its next cleanup; the recipe above retries (Curator's RetryLoop).
//!
//! Why not the world's `RpcSocket` (`world::rpc`), which etcd's and the AP store's clients
//! share: its unit is a request retried on its own until a deadline; ZooKeeper's is a session on
//! one ordered connection, where nothing is retried by the client and the connection's fate
//! (ping, read timeout, reconnect, `SetWatches`) decides every request's. It shares the rest:
//! the datagram codec, the host's `Clock` for every timer, `LinkFaults`, the `History`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use turmoil::net::UdpSocket;

use crate::world::clock::Clock;
use crate::world::datagram::{decode, encode, MAX_DATAGRAM};
use crate::world::history::{sim_now, ClusterEvent, History, Outcome};
use crate::world::link_faults::LinkFaults;
use crate::zk::server::OUT_OF_BAND;
use crate::zk::state::WriteOp;
use crate::zk::tree::{CreateMode, Data, MultiOp, SessionId, Stat, ZkError, Zxid};
use crate::zk::wire::{
    Answer, ClientBody, ConnId, EventType, InOrder, KeeperState, ServerBody, ToClient, ToServer,
    WatchedEvent, ZkRequest, CLIENT_PORT,
};

/// How a client connects. Defaults follow ZooKeeper's client and zkCli.
#[derive(Clone, Debug)]
pub struct ZkClientConfig {
    /// The connect string's servers, in the order tried (`z1,z2,z3`).
    pub servers: Vec<String>,
    /// The session timeout asked for (zkCli: 30 s; Curator: 60 s). The server clamps it to
    /// `[2, 20] × tickTime`.
    pub session_timeout: Duration,
    /// Local UDP port.
    pub port: u16,
    /// The client host's clock: its timers run on it, and a paused host learns nothing.
    pub clock: Clock,
    /// Loss and duplication of this client's datagrams (shared with the world).
    pub links: LinkFaults,
    /// `zookeeper.request.timeout` (3.6+; default 0, off): a call with no answer by then fails
    /// with `RequestTimeout`, and the client drops the connection (failing the other calls in
    /// flight with `ConnectionLoss`) and reconnects to the next server, as `ClientCnxn` does.
    pub request_timeout: Option<Duration>,
}

impl Default for ZkClientConfig {
    fn default() -> Self {
        ZkClientConfig {
            servers: vec!["z1".into(), "z2".into(), "z3".into()],
            session_timeout: Duration::from_secs(30),
            port: 4000,
            clock: Clock::new(),
            links: LinkFaults::new(0),
            request_timeout: None,
        }
    }
}

/// The client's connection state (`ZooKeeper.States`, and what Curator calls them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// Looking for a server (the first connect, or after a disconnect).
    Connecting,
    /// Connected (Curator: CONNECTED / RECONNECTED).
    Connected,
    /// The connection broke; reconnecting (Curator: SUSPENDED).
    Disconnected,
    /// The ensemble expired the session (Curator: LOST). Final.
    Expired,
    /// Closed by `close()`. Final.
    Closed,
}

/// A watch left by a read: receives the node's event once, and the connection-state changes
/// (`Disconnected`, then `Expired`) that concern every watcher.
pub struct Watch {
    rx: mpsc::UnboundedReceiver<WatchedEvent>,
}

impl Watch {
    /// The next event: the node's (the watch is then spent), or a state change. `None` once the
    /// client is gone.
    pub async fn next(&mut self) -> Option<WatchedEvent> {
        self.rx.recv().await
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum WatchKind {
    Data,
    Exist,
    Child,
}

struct Conn {
    id: ConnId,
    server: String,
    send_seq: u64,
    /// The server's datagrams, in order.
    inbox: InOrder<ServerBody>,
}

struct State {
    conn_state: ConnState,
    session: SessionId,
    timeout: Duration,
    last_zxid: Zxid,
    conn: Option<Conn>,
    /// Connections ever attempted: numbers each one.
    opened: u64,
    /// `close()` was called: the server's hang-up ends the handle.
    closing: bool,
    next_xid: i32,
    pending: BTreeMap<i32, oneshot::Sender<Result<Answer, ZkError>>>,
    watches: BTreeMap<(WatchKind, String), Vec<mpsc::UnboundedSender<WatchedEvent>>>,
    last_sent: Duration,
    last_heard: Duration,
}

struct Inner {
    name: String,
    id: u32,
    config: ZkClientConfig,
    socket: Rc<UdpSocket>,
    history: History,
    state: RefCell<State>,
    states: watch::Sender<ConnState>,
    /// Which server to try next.
    next_server: Cell<usize>,
    /// Into the connection task's inbox: a request timeout hangs up from here.
    wake: mpsc::UnboundedSender<ToClient>,
}

/// A ZooKeeper handle (see the module docs). Clones share the session.
#[derive(Clone)]
pub struct ZkClient {
    inner: Rc<Inner>,
}

impl ZkClient {
    /// Open a session: bind the socket, start the connection task, and wait until the first
    /// connect succeeds (a ZooKeeper constructor followed by waiting for `SyncConnected`).
    /// `name` is the host name the history shows; `id` must be unique in the run.
    ///
    /// Must be called inside a turmoil host.
    pub async fn connect(
        name: &str,
        id: u32,
        config: ZkClientConfig,
        history: History,
    ) -> Result<ZkClient, ZkError> {
        let socket = UdpSocket::bind(("0.0.0.0", config.port))
            .await
            .map_err(|e| ZkError::BadArguments(format!("cannot bind client socket: {e}")))?;
        let now = config.clock.now();
        let (states, mut watch_states) = watch::channel(ConnState::Connecting);
        let (tx, rx) = mpsc::unbounded_channel();
        let client = ZkClient {
            inner: Rc::new(Inner {
                name: name.to_string(),
                id,
                socket: Rc::new(socket),
                history,
                state: RefCell::new(State {
                    conn_state: ConnState::Connecting,
                    session: 0,
                    timeout: config.session_timeout,
                    last_zxid: 0,
                    conn: None,
                    opened: 0,
                    closing: false,
                    next_xid: 1,
                    pending: BTreeMap::new(),
                    watches: BTreeMap::new(),
                    last_sent: now,
                    last_heard: now,
                }),
                config,
                states,
                next_server: Cell::new(0),
                wake: tx.clone(),
            }),
        };
        tokio::task::spawn_local(receive(client.inner.socket.clone(), tx));
        tokio::task::spawn_local(drive(Rc::downgrade(&client.inner), rx));
        loop {
            match *watch_states.borrow_and_update() {
                ConnState::Connected => return Ok(client),
                ConnState::Expired => return Err(ZkError::SessionExpired),
                _ => {}
            }
            if watch_states.changed().await.is_err() {
                return Err(ZkError::ConnectionLoss);
            }
        }
    }

    /// The session id (0 before the first connect).
    pub fn session_id(&self) -> SessionId {
        self.inner.state.borrow().session
    }

    /// The negotiated session timeout.
    pub fn session_timeout(&self) -> Duration {
        self.inner.state.borrow().timeout
    }

    /// The connection state now.
    pub fn state(&self) -> ConnState {
        self.inner.state.borrow().conn_state
    }

    /// A receiver of every connection-state change (Curator's ConnectionStateListener).
    pub fn state_changes(&self) -> watch::Receiver<ConnState> {
        self.inner.states.subscribe()
    }

    /// The server connected to (or last tried).
    pub fn server(&self) -> Option<String> {
        self.inner
            .state
            .borrow()
            .conn
            .as_ref()
            .map(|c| c.server.clone())
    }

    /// The client host's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The client host's clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.config.clock
    }

    /// `create(path, data, mode)`: the actual path.
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        mode: CreateMode,
    ) -> Result<String, ZkError> {
        Ok(self.create_with_stat(path, data, mode).await?.0)
    }

    /// `create(path, data, acl, mode, stat)` (ZooKeeper's create2): the actual path and the
    /// new node's stat — its `czxid` is a lock's fencing token.
    pub async fn create_with_stat(
        &self,
        path: &str,
        data: &[u8],
        mode: CreateMode,
    ) -> Result<(String, Stat), ZkError> {
        let op = WriteOp::Create {
            path: path.into(),
            data: Some(data.to_vec()),
            mode,
        };
        match self.call(ZkRequest::Write(op)).await? {
            Answer::Created { path, stat } => Ok((path, stat)),
            other => unexpected(other),
        }
    }

    /// `delete(path, version)`; -1 for any version.
    pub async fn delete(&self, path: &str, version: i32) -> Result<(), ZkError> {
        let op = WriteOp::Delete {
            path: path.into(),
            version,
        };
        self.call(ZkRequest::Write(op)).await.map(|_| ())
    }

    /// `setData(path, data, version)`: the new stat.
    pub async fn set_data(&self, path: &str, data: &[u8], version: i32) -> Result<Stat, ZkError> {
        let op = WriteOp::SetData {
            path: path.into(),
            data: Some(data.to_vec()),
            version,
        };
        match self.call(ZkRequest::Write(op)).await? {
            Answer::Stat(stat) => Ok(stat),
            other => unexpected(other),
        }
    }

    /// `multi(ops)`: one answer for the whole transaction.
    pub async fn multi(&self, ops: Vec<MultiOp>) -> Result<Answer, ZkError> {
        self.call(ZkRequest::Write(WriteOp::Multi(ops))).await
    }

    /// `getData(path)`: the data (`None`: null) and stat.
    pub async fn get_data(&self, path: &str) -> Result<(Data, Stat), ZkError> {
        let (data, stat, _) = self.get_data_inner(path, false).await?;
        Ok((data, stat))
    }

    /// `getData(path, watcher)`: the data and a data watch on the node.
    pub async fn get_data_w(&self, path: &str) -> Result<(Data, Stat, Watch), ZkError> {
        let (data, stat, watch) = self.get_data_inner(path, true).await?;
        Ok((data, stat, watch.expect("asked for")))
    }

    async fn get_data_inner(
        &self,
        path: &str,
        watch: bool,
    ) -> Result<(Data, Stat, Option<Watch>), ZkError> {
        let request = ZkRequest::GetData {
            path: path.into(),
            watch,
        };
        match self.call(request).await? {
            Answer::Data { data, stat } => {
                let w = watch.then(|| self.add_watch(WatchKind::Data, path));
                Ok((data, stat, w))
            }
            other => unexpected(other),
        }
    }

    /// `exists(path)`.
    pub async fn exists(&self, path: &str) -> Result<Option<Stat>, ZkError> {
        Ok(self.exists_inner(path, false).await?.0)
    }

    /// `exists(path, watcher)`: the stat and a watch for its creation, change or deletion.
    pub async fn exists_w(&self, path: &str) -> Result<(Option<Stat>, Watch), ZkError> {
        let (stat, w) = self.exists_inner(path, true).await?;
        Ok((stat, w.expect("asked for")))
    }

    async fn exists_inner(
        &self,
        path: &str,
        watch: bool,
    ) -> Result<(Option<Stat>, Option<Watch>), ZkError> {
        let request = ZkRequest::Exists {
            path: path.into(),
            watch,
        };
        match self.call(request).await? {
            Answer::Exists(stat) => {
                let kind = if stat.is_some() {
                    WatchKind::Data
                } else {
                    WatchKind::Exist
                };
                Ok((stat, watch.then(|| self.add_watch(kind, path))))
            }
            other => unexpected(other),
        }
    }

    /// `getChildren(path)`: names, sorted.
    pub async fn get_children(&self, path: &str) -> Result<(Vec<String>, Stat), ZkError> {
        let (children, stat, _) = self.get_children_inner(path, false).await?;
        Ok((children, stat))
    }

    /// `getChildren(path, watcher)`: names and a child watch.
    pub async fn get_children_w(&self, path: &str) -> Result<(Vec<String>, Stat, Watch), ZkError> {
        let (children, stat, w) = self.get_children_inner(path, true).await?;
        Ok((children, stat, w.expect("asked for")))
    }

    async fn get_children_inner(
        &self,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, Stat, Option<Watch>), ZkError> {
        let request = ZkRequest::GetChildren {
            path: path.into(),
            watch,
        };
        match self.call(request).await? {
            Answer::Children { children, stat } => {
                let w = watch.then(|| self.add_watch(WatchKind::Child, path));
                Ok((children, stat, w))
            }
            other => unexpected(other),
        }
    }

    /// `sync(path)`: the connected server catches up with the leader.
    pub async fn sync(&self, path: &str) -> Result<(), ZkError> {
        self.call(ZkRequest::Sync { path: path.into() })
            .await
            .map(|_| ())
    }

    /// `close()`: end the session; its ephemerals go at once.
    pub async fn close(&self) -> Result<(), ZkError> {
        self.inner.state.borrow_mut().closing = true;
        let result = self.call(ZkRequest::CloseSession).await.map(|_| ());
        self.inner.set_state(ConnState::Closed);
        result
    }

    fn add_watch(&self, kind: WatchKind, path: &str) -> Watch {
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner
            .state
            .borrow_mut()
            .watches
            .entry((kind, path.to_string()))
            .or_default()
            .push(tx);
        Watch { rx }
    }

    /// One request on the current connection, recorded in the history.
    pub async fn call(&self, request: ZkRequest) -> Result<Answer, ZkError> {
        let inner = &self.inner;
        let history = &inner.history;
        let handle = history.invoke(&inner.name, request.clone(), sim_now());
        let write = request.is_write();
        let (result, server) = self.send_request(request).await;
        let outcome = match &result {
            Ok(answer) => Outcome::Ok(answer.clone().into()),
            // Sent and the connection broke (or no answer came in time): it may have happened.
            // Never sent (`server` is `None`: no connection): it did not.
            Err(e) if !e.is_definite() && write && server.is_some() => Outcome::Indeterminate,
            Err(e) => Outcome::Fail(e.clone().into()),
        };
        history.complete_from(handle, server, outcome, sim_now());
        result
    }

    async fn send_request(&self, request: ZkRequest) -> (Result<Answer, ZkError>, Option<String>) {
        let (rx, server) = {
            let mut st = self.inner.state.borrow_mut();
            match st.conn_state {
                ConnState::Expired => return (Err(ZkError::SessionExpired), None),
                ConnState::Closed => return (Err(ZkError::SessionExpired), None),
                ConnState::Connected => {}
                ConnState::Connecting | ConnState::Disconnected => {
                    return (Err(ZkError::ConnectionLoss), None)
                }
            }
            let xid = st.next_xid;
            st.next_xid += 1;
            let (tx, rx) = oneshot::channel();
            st.pending.insert(xid, tx);
            let server = st.conn.as_ref().map(|c| c.server.clone());
            let conn = st.conn.as_ref().map(|c| c.id).unwrap_or_default();
            drop(st);
            self.inner.send(ClientBody::Request { xid, request });
            (rx, (server, xid, conn))
        };
        let (server, xid, conn) = server;
        let answer = match self.inner.config.request_timeout {
            None => rx.await,
            Some(timeout) => tokio::select! {
                biased;
                answer = rx => answer,
                _ = self.inner.config.clock.sleep(timeout) => {
                    self.request_timed_out(xid, conn);
                    return (Err(ZkError::RequestTimeout), server);
                }
            },
        };
        match answer {
            Ok(Ok(answer)) => (Ok(answer), server),
            Ok(Err(e)) => (Err(e), server),
            Err(_) => (Err(ZkError::ConnectionLoss), server),
        }
    }

    /// `ClientCnxn.submitRequest` after `waitForPacketFinish` gave up: this call fails with
    /// `RequestTimeout` and the connection is dropped (`cleanAndNotifyState`): the connection
    /// task hears a hang-up of connection `conn`, fails the rest with `ConnectionLoss`, tells
    /// the watchers `Disconnected` and moves to the next server.
    fn request_timed_out(&self, xid: i32, conn: ConnId) {
        self.inner.state.borrow_mut().pending.remove(&xid);
        let _ = self.inner.wake.send(ToClient {
            conn,
            seq: OUT_OF_BAND,
            body: ServerBody::Closed,
        });
    }
}

fn unexpected<T>(answer: Answer) -> Result<T, ZkError> {
    Err(ZkError::BadArguments(format!(
        "unexpected answer {answer:?}"
    )))
}

impl Inner {
    /// Send `body` down the current connection, in order.
    fn send(&self, body: ClientBody) {
        let mut st = self.state.borrow_mut();
        st.last_sent = self.config.clock.now();
        let Some(conn) = st.conn.as_mut() else {
            return;
        };
        let msg = ToServer {
            conn: conn.id,
            seq: conn.send_seq,
            body,
        };
        conn.send_seq += 1;
        let server = conn.server.clone();
        drop(st);
        let bytes = encode(&msg);
        for _ in 0..self.config.links.copies(&self.name, &server) {
            let _ = self
                .socket
                .try_send_to(&bytes, (server.as_str(), CLIENT_PORT));
        }
    }

    fn set_state(&self, state: ConnState) {
        let (session, server) = {
            let mut st = self.state.borrow_mut();
            if st.conn_state == state {
                return;
            }
            st.conn_state = state;
            let server = st.conn.as_ref().map(|c| c.server.clone());
            (st.session, server.unwrap_or_default())
        };
        let name = match state {
            ConnState::Connecting => "Connecting",
            ConnState::Connected => "SyncConnected",
            ConnState::Disconnected => "Disconnected",
            ConnState::Expired => "Expired",
            ConnState::Closed => "Closed",
        };
        self.history.event(
            ClusterEvent::ZkConnection {
                client: self.name.clone(),
                session,
                server,
                state: name.into(),
            },
            sim_now(),
        );
        self.states.send_replace(state);
    }

    /// The connection broke: fail what is in flight, tell every watcher.
    fn disconnected(&self) {
        let pending = {
            let mut st = self.state.borrow_mut();
            std::mem::take(&mut st.pending)
        };
        for (_, tx) in pending {
            let _ = tx.send(Err(ZkError::ConnectionLoss));
        }
        if self.state.borrow().conn_state == ConnState::Connected {
            self.notify_all(KeeperState::Disconnected, false);
            self.set_state(ConnState::Disconnected);
        }
    }

    /// Every watcher hears of a state change; `clear` ends their watches.
    fn notify_all(&self, state: KeeperState, clear: bool) {
        let mut st = self.state.borrow_mut();
        for senders in st.watches.values() {
            for tx in senders {
                let _ = tx.send(WatchedEvent {
                    kind: EventType::None,
                    state,
                    path: String::new(),
                });
            }
        }
        if clear {
            st.watches.clear();
        }
    }

    fn deliver_event(&self, kind: EventType, path: &str) {
        let kinds: &[WatchKind] = match kind {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                &[WatchKind::Data, WatchKind::Exist]
            }
            EventType::NodeDeleted => &[WatchKind::Data, WatchKind::Exist, WatchKind::Child],
            EventType::NodeChildrenChanged => &[WatchKind::Child],
            EventType::None => &[],
        };
        let mut st = self.state.borrow_mut();
        for k in kinds {
            for tx in st
                .watches
                .remove(&(*k, path.to_string()))
                .unwrap_or_default()
            {
                let _ = tx.send(WatchedEvent {
                    kind,
                    state: KeeperState::SyncConnected,
                    path: path.to_string(),
                });
            }
        }
    }

    /// Handle one in-order datagram of the current connection. False: the connection ended.
    fn on_body(&self, body: ServerBody) -> bool {
        match body {
            ServerBody::Connected {
                session,
                timeout_ms,
            } => {
                let resumed = {
                    let mut st = self.state.borrow_mut();
                    let resumed = st.session != 0;
                    st.session = session;
                    st.timeout = Duration::from_millis(timeout_ms as u64);
                    resumed
                };
                self.set_state(ConnState::Connected);
                if resumed {
                    self.set_watches();
                }
                true
            }
            ServerBody::Expired => {
                {
                    let pending = std::mem::take(&mut self.state.borrow_mut().pending);
                    for (_, tx) in pending {
                        let _ = tx.send(Err(ZkError::SessionExpired));
                    }
                }
                self.notify_all(KeeperState::Expired, true);
                self.set_state(ConnState::Expired);
                false
            }
            ServerBody::Reply { xid, zxid, result } => {
                let tx = {
                    let mut st = self.state.borrow_mut();
                    st.last_zxid = st.last_zxid.max(zxid);
                    st.pending.remove(&xid)
                };
                if let Some(tx) = tx {
                    let _ = tx.send(result);
                }
                true
            }
            ServerBody::Pong { zxid } => {
                let mut st = self.state.borrow_mut();
                st.last_zxid = st.last_zxid.max(zxid);
                true
            }
            ServerBody::Event { kind, path, zxid } => {
                {
                    let mut st = self.state.borrow_mut();
                    st.last_zxid = st.last_zxid.max(zxid);
                }
                self.deliver_event(kind, &path);
                true
            }
            ServerBody::Closed => {
                if self.state.borrow().closing {
                    self.set_state(ConnState::Closed);
                }
                false
            }
        }
    }

    /// After a reconnect: the watches still wanted, relative to the last zxid seen.
    fn set_watches(&self) {
        let (relative_zxid, data, exist, child) = {
            let st = self.state.borrow();
            let mut lists = (Vec::new(), Vec::new(), Vec::new());
            for (kind, path) in st.watches.keys() {
                match kind {
                    WatchKind::Data => lists.0.push(path.clone()),
                    WatchKind::Exist => lists.1.push(path.clone()),
                    WatchKind::Child => lists.2.push(path.clone()),
                }
            }
            (st.last_zxid, lists.0, lists.1, lists.2)
        };
        if data.is_empty() && exist.is_empty() && child.is_empty() {
            return;
        }
        self.send(ClientBody::SetWatches {
            relative_zxid,
            data,
            exist,
            child,
        });
    }

    /// Start a connection attempt to the next server.
    fn start_attempt(&self) -> Duration {
        let n = self.config.servers.len().max(1);
        let i = self.next_server.get();
        self.next_server.set((i + 1) % n);
        let server = self.config.servers[i % n].clone();
        let (session, timeout, last_zxid, conn_timeout) = {
            let mut st = self.state.borrow_mut();
            st.opened += 1;
            st.conn = Some(Conn {
                id: ((self.id as u64) << 32) | (st.opened & 0xffff_ffff),
                server,
                send_seq: 0,
                inbox: InOrder::from(0),
            });
            let now = self.config.clock.now();
            st.last_heard = now;
            (st.session, st.timeout, st.last_zxid, st.timeout / n as u32)
        };
        self.send(ClientBody::Connect {
            session,
            timeout_ms: timeout.as_millis() as u32,
            last_zxid,
        });
        conn_timeout
    }
}

/// Datagrams from servers, as they arrive.
async fn receive(socket: Rc<UdpSocket>, tx: mpsc::UnboundedSender<ToClient>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while let Ok((n, _)) = socket.recv_from(&mut buf).await {
        if let Some(msg) = decode::<ToClient>(&buf[..n]) {
            if tx.send(msg).is_err() {
                return;
            }
        }
    }
}

/// The connection task: connect, keep the connection (pings, read timeout), hand datagrams
/// over in order, reconnect on failure; ends when the session is over or the handle dropped.
async fn drive(inner: std::rc::Weak<Inner>, mut inbox: mpsc::UnboundedReceiver<ToClient>) {
    let mut tried_in_cycle = 0usize;
    'attempts: loop {
        let Some(client) = inner.upgrade() else {
            return;
        };
        if matches!(
            client.state.borrow().conn_state,
            ConnState::Expired | ConnState::Closed
        ) {
            return;
        }
        let n = client.config.servers.len().max(1);
        if tried_in_cycle == n {
            // StaticHostProvider: a second's rest after every server was tried.
            tried_in_cycle = 0;
            let clock = client.config.clock.clone();
            drop(client);
            clock.sleep(Duration::from_secs(1)).await;
            continue;
        }
        tried_in_cycle += 1;
        let connect_timeout = client.start_attempt();
        let clock = client.config.clock.clone();
        let connect_deadline = clock.now() + connect_timeout;
        drop(client);
        // Until this connection ends.
        loop {
            let Some(client) = inner.upgrade() else {
                return;
            };
            let (connected, deadline, ping_at, conn_id) = {
                let st = client.state.borrow();
                let connected = st.conn_state == ConnState::Connected;
                let read_timeout = st.timeout * 2 / 3;
                let deadline = if connected {
                    st.last_heard + read_timeout
                } else {
                    connect_deadline
                };
                let ping_at = st.last_sent + read_timeout / 2;
                let conn_id = st.conn.as_ref().map(|c| c.id).unwrap_or_default();
                (connected, deadline, ping_at, conn_id)
            };
            drop(client);
            let wake_at = if connected {
                deadline.min(ping_at)
            } else {
                deadline
            };
            let msg = tokio::select! {
                biased;
                msg = inbox.recv() => match msg {
                    Some(m) => Some(m),
                    None => return,
                },
                _ = clock.sleep_until(wake_at) => None,
            };
            clock.running().await;
            let Some(client) = inner.upgrade() else {
                return;
            };
            let now = clock.now();
            let Some(msg) = msg else {
                if now >= deadline {
                    // "Client session timed out, have not heard from server": give it up.
                    client.disconnected();
                    continue 'attempts;
                }
                if connected && now >= ping_at {
                    client.send(ClientBody::Ping);
                }
                continue;
            };
            if msg.conn != conn_id {
                continue; // an earlier connection's
            }
            client.state.borrow_mut().last_heard = now;
            if msg.seq == OUT_OF_BAND {
                // Refused or reset: try the next server.
                client.disconnected();
                continue 'attempts;
            }
            let ready = {
                let mut st = client.state.borrow_mut();
                let Some(conn) = st.conn.as_mut() else {
                    continue;
                };
                conn.inbox.accept(msg.seq, msg.body)
            };
            for body in ready {
                let was_connected = client.state.borrow().conn_state == ConnState::Connected;
                if !client.on_body(body) {
                    let st = client.state.borrow().conn_state;
                    if matches!(st, ConnState::Expired | ConnState::Closed) {
                        return;
                    }
                    if was_connected {
                        client.disconnected();
                    }
                    continue 'attempts;
                }
                if !was_connected && client.state.borrow().conn_state == ConnState::Connected {
                    tried_in_cycle = 0;
                }
            }
        }
    }
}
