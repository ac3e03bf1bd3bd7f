//! Datagrams between AP hosts (clients, nodes, sentinels), framed with the crate's bincode
//! codec over `turmoil::net::UdpSocket` — UDP for the same reason as the etcd side: turmoil's
//! TCP has no retransmission, so a partition would hang a replication link forever.

use serde::{Deserialize, Serialize};

use super::command::{ApError, Command, Reply};
use super::dataset::Dataset;
use super::replication::{ReplEntry, ReplId};
use crate::etcd::request::RequestId;

/// Port every node listens on (clients, replication, sentinel probes): Redis's port.
pub const NODE_PORT: u16 = 6379;
/// Port every sentinel listens on: Sentinel's port.
pub const SENTINEL_PORT: u16 = 26379;

/// A node's role as it reports it (`ROLE`/`INFO replication`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// Accepts writes and streams them to its replicas (`role:master`).
    Primary,
    /// Follows a primary: applies its stream and refuses writes (`role:slave`).
    Replica {
        /// The host name of the primary it follows (`r1`, …).
        primary: String,
    },
}

/// What a node answers a sentinel's probe with (`INFO replication`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's role as it believes it now.
    pub role: NodeRole,
    /// The replication history it is on (`master_replid`).
    pub replid: ReplId,
    /// Its replication offset in that history, counted in effects (Redis counts bytes): what a
    /// sentinel ranks replicas by when it picks one to promote.
    pub offset: u64,
    /// A replica: local milliseconds since it last heard from its primary.
    pub link_down_ms: u64,
    /// The highest sentinel epoch whose `REPLICAOF` this node obeyed.
    pub config_epoch: u64,
}

/// One datagram. Each host ignores the kinds that are not for it.
#[derive(Clone, Debug, Serialize, Deserialize)]
// A full resync carries the dataset; boxing it would save nothing on the hot path.
#[allow(clippy::large_enum_variant)]
pub enum ApMessage {
    // client → node
    Command {
        id: RequestId,
        command: Command,
    },
    // node → client
    Reply {
        id: RequestId,
        /// The answering node's role, so a client that expected the primary learns at once
        /// that it reached a replica (Sentinel also kills client connections on a role change
        /// so that clients rediscover; this is that signal).
        role: NodeRole,
        result: Result<Reply, ApError>,
    },
    // replica → primary: PSYNC on (re)attach, REPLCONF ACK afterwards.
    Sync {
        replid: ReplId,
        offset: u64,
    },
    // primary → replica
    Stream {
        replid: ReplId,
        entries: Vec<ReplEntry>,
    },
    /// `+CONTINUE replid`: the replica's history continues as `replid` from `offset`.
    Continue {
        replid: ReplId,
        offset: u64,
    },
    /// `+FULLRESYNC replid offset` and the RDB.
    FullResync {
        replid: ReplId,
        offset: u64,
        dataset: Dataset,
    },
    // sentinel → node
    Probe {
        id: u64,
    },
    /// `REPLICAOF NO ONE`, as the failover leader sends it.
    Promote {
        epoch: u64,
    },
    /// `REPLICAOF primary`.
    Follow {
        primary: String,
        epoch: u64,
    },
    // node → sentinel
    Info {
        id: u64,
        info: NodeInfo,
    },
    // sentinel → sentinel: `SENTINEL is-master-down-by-addr`, asking for an opinion and,
    // with `vote_for`, for a vote in `epoch`.
    IsPrimaryDown {
        id: u64,
        primary: String,
        epoch: u64,
        vote_for: Option<String>,
    },
    IsPrimaryDownReply {
        id: u64,
        down: bool,
        leader: Option<String>,
        leader_epoch: u64,
    },
    /// The hello message sentinels publish: "the primary is `primary` as of `config_epoch`".
    Hello {
        sentinel: String,
        primary: String,
        config_epoch: u64,
        current_epoch: u64,
    },
    // client → sentinel: `SENTINEL get-master-addr-by-name`
    GetPrimary {
        id: RequestId,
    },
    PrimaryIs {
        id: RequestId,
        primary: Option<String>,
        config_epoch: u64,
    },
}
