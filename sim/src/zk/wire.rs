//! What travels between a ZooKeeper client and its server, and between servers besides Raft:
//! requests and answers (as the history records them), the connection's datagrams, watch
//! notifications, and the learner messages that carry session liveness to the leader.
//!
//! A ZooKeeper session lives on a TCP connection: requests are handled in the order sent,
//! answers and watch events arrive in the order the server produced them, and a connection
//! that stalls is given up by the client's read timeout. Over the world's datagrams that is a
//! *connection* with a sequence number per direction: the receiver handles datagrams strictly
//! in order and holds early ones back; a lost datagram stalls the connection until the read
//! timeout breaks it — as a TCP stream that cannot get a segment through.

use serde::{Deserialize, Serialize};

pub(crate) use crate::world::stream::{ConnId, InOrder};
use crate::zk::state::{MultiFailure, WriteOp};
use crate::zk::tree::{Data, MultiResult, SessionId, Stat, ZkError, Zxid};

/// The port clients connect to (`clientPort`).
pub const CLIENT_PORT: u16 = 2181;
/// Raft between servers (ZooKeeper's quorum port).
pub(crate) const PEER_PORT: u16 = 2888;
/// Learner → leader session touches and revalidation (ZooKeeper carries these on the quorum
/// connection; here they have their own socket so Raft's stays raft-rs's protobuf).
pub(crate) const LEARNER_PORT: u16 = 2889;

/// A client request, as the history records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZkRequest {
    /// A write: create, delete, setData or multi.
    #[serde(rename = "zk_write")]
    Write(WriteOp),
    /// `getData(path, watch)`.
    #[serde(rename = "zk_get_data")]
    GetData {
        /// The node.
        path: String,
        /// Leave a data watch.
        watch: bool,
    },
    /// `exists(path, watch)`.
    #[serde(rename = "zk_exists")]
    Exists {
        /// The node.
        path: String,
        /// Leave a data watch (fires on create if the node is missing).
        watch: bool,
    },
    /// `getChildren(path, watch)`.
    #[serde(rename = "zk_get_children")]
    GetChildren {
        /// The node.
        path: String,
        /// Leave a child watch.
        watch: bool,
    },
    /// `sync(path)`: the connected server catches up with the leader.
    #[serde(rename = "zk_sync")]
    Sync {
        /// The path (ZooKeeper ignores it beyond validation).
        path: String,
    },
    /// `close()`: end the session (its ephemerals go).
    #[serde(rename = "zk_close")]
    CloseSession,
}

impl ZkRequest {
    /// Whether it changes the ensemble (never resent; indeterminate on a lost connection).
    pub fn is_write(&self) -> bool {
        matches!(self, ZkRequest::Write(_) | ZkRequest::CloseSession)
    }

    /// ZooKeeper's name of the operation (`OpCode`).
    pub fn name(&self) -> &'static str {
        match self {
            ZkRequest::Write(WriteOp::Create { .. }) => "create",
            ZkRequest::Write(WriteOp::Delete { .. }) => "delete",
            ZkRequest::Write(WriteOp::SetData { .. }) => "setData",
            ZkRequest::Write(WriteOp::Multi(_)) => "multi",
            ZkRequest::GetData { .. } => "getData",
            ZkRequest::Exists { .. } => "exists",
            ZkRequest::GetChildren { .. } => "getChildren",
            ZkRequest::Sync { .. } => "sync",
            ZkRequest::CloseSession => "closeSession",
        }
    }
}

/// A server's answer to a [`ZkRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// A delete, a sync'd session change, `close()`.
    #[serde(rename = "zk_done")]
    Done,
    /// `create`: the actual path (sequential suffix included) and its stat.
    #[serde(rename = "zk_created")]
    Created {
        /// The node's path.
        path: String,
        /// Its stat right after the create.
        stat: Stat,
    },
    /// `setData`: the new stat.
    #[serde(rename = "zk_stat")]
    Stat(Stat),
    /// `getData`.
    #[serde(rename = "zk_data")]
    Data {
        /// The data (null: `None`).
        data: Data,
        /// Its stat.
        stat: Stat,
    },
    /// `exists`: the stat, or none.
    #[serde(rename = "zk_exists")]
    Exists(Option<Stat>),
    /// `getChildren`: names sorted, and the parent's stat.
    #[serde(rename = "zk_children")]
    Children {
        /// Child names (not paths), sorted.
        children: Vec<String>,
        /// The parent's stat.
        stat: Stat,
    },
    /// `sync`: the path.
    #[serde(rename = "zk_synced")]
    Synced(String),
    /// `multi`: every op's result, or the first failing op.
    #[serde(rename = "zk_multi")]
    Multi(Result<Vec<MultiResult>, MultiFailure>),
}

/// A watch notification's type (`Watcher.Event.EventType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    /// A connection-state change only (`None`): see the event's state.
    None,
    /// The node was created.
    NodeCreated,
    /// The node was deleted.
    NodeDeleted,
    /// The node's data changed.
    NodeDataChanged,
    /// A child was created or deleted.
    NodeChildrenChanged,
}

/// The session state a watcher is told with each event (`Watcher.Event.KeeperState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeeperState {
    /// Connected (ZooKeeper's `SyncConnected`).
    SyncConnected,
    /// The connection broke; the session may live on.
    Disconnected,
    /// The session is gone; learned on reconnecting.
    Expired,
    /// The client closed the session.
    Closed,
}

/// What a watcher receives (`WatchedEvent`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchedEvent {
    /// What happened to the node, or `None` for a state change.
    pub kind: EventType,
    /// The session's state.
    pub state: KeeperState,
    /// The node, empty for a state change.
    pub path: String,
}

/// A datagram from a client to its server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ToServer {
    pub(crate) conn: ConnId,
    /// Position in the connection, from 0 (the `Connect`).
    pub(crate) seq: u64,
    pub(crate) body: ClientBody,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum ClientBody {
    /// Open (`session` 0) or resume a session (`ConnectRequest`).
    Connect {
        session: SessionId,
        timeout_ms: u32,
        /// The last zxid the client saw: a server behind it refuses the connection.
        last_zxid: Zxid,
    },
    Request {
        xid: i32,
        request: ZkRequest,
    },
    Ping,
    /// Re-register the client's watches after a reconnect (`SetWatches`).
    SetWatches {
        relative_zxid: Zxid,
        data: Vec<String>,
        exist: Vec<String>,
        child: Vec<String>,
    },
}

/// A datagram from a server to a client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ToClient {
    pub(crate) conn: ConnId,
    /// Position in the connection, from 0 (the answer to `Connect`).
    pub(crate) seq: u64,
    pub(crate) body: ServerBody,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum ServerBody {
    /// The session is open on this connection (`ConnectResponse`).
    Connected {
        session: SessionId,
        timeout_ms: u32,
    },
    /// The session to resume is gone (`ConnectResponse` with timeout 0).
    Expired,
    Reply {
        xid: i32,
        zxid: Zxid,
        result: Result<Answer, ZkError>,
    },
    Pong {
        zxid: Zxid,
    },
    Event {
        kind: EventType,
        path: String,
        zxid: Zxid,
    },
    /// The server dropped the connection (it lost its leader, refused the connect, or the
    /// session was closed): the client's socket sees the close.
    Closed,
}

/// Between servers, beside Raft.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum LearnerMessage {
    /// A follower's clients were heard from: their sessions live on (ZooKeeper's learner
    /// piggybacks these on its pings).
    Touch { sessions: Vec<SessionId> },
    /// May this session be resumed on the asking server (a reconnect to a follower)?
    Revalidate { session: SessionId, conn: ConnId },
    /// The leader's answer.
    Revalidated {
        session: SessionId,
        conn: ConnId,
        valid: bool,
    },
}
