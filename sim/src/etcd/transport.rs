//! What travels between etcd hosts: the peer and client ports and the wire types of client
//! RPCs and watch polls. The framing is [`crate::world::datagram`]'s, shared by every store.
//!
//! Client RPCs carry a [`RequestId`] and a deadline, so a lost datagram becomes a timeout the
//! client reasons about (retry a read, report a write as indeterminate) instead of a silent hang.

use serde::{Deserialize, Serialize};

use crate::etcd::error::Error;
use crate::etcd::request::*;

/// Port every member listens on for Raft messages (etcd's peer port).
pub const PEER_PORT: u16 = 2380;
/// Port every member listens on for client requests (etcd's client port).
pub const CLIENT_PORT: u16 = 2379;

/// A watch long-poll: "send me every event in this range from `start_revision` on".
///
/// Why long-polling instead of a server-pushed stream: a pushed datagram lost in a partition would
/// leave a gap the client cannot see. With polls the client always asks for exactly the next
/// revision it has not seen, so resuming on another member after a crash has no gap and no
/// duplicate by construction (etcd's Resumable guarantee).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRequest {
    /// First key watched (the only one when `range_end` is empty).
    pub key: Vec<u8>,
    /// End of the watched range `[key, range_end)`; empty: only `key`; `\0`: every key >= `key`
    /// (etcd's convention, as in [`RangeRequest::range_end`]).
    pub range_end: Vec<u8>,
    /// 0 = from the serving member's current revision + 1.
    pub start_revision: Revision,
    /// Attach each event's previous version of the key ([`Event::prev_kv`]).
    pub prev_kv: bool,
}

/// One batch of watch events: every event of each revision it covers, in revision order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchResponse {
    /// Header of the member that answered; `header.revision` is its current store revision.
    pub header: ResponseHeader,
    /// Every matching event of the revisions covered, in (revision, sub-revision) order; empty
    /// for a progress-only answer.
    pub events: Vec<Event>,
    /// The member has sent every matching event up to this revision (inclusive), so the next poll
    /// starts at `progress_revision + 1`. A poll that times out with no events still advances it.
    pub progress_revision: Revision,
}

/// A client request, one per etcd RPC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientRequest {
    /// `Range`: linearizable through ReadIndex, or served locally when `serializable`.
    Range(RangeRequest),
    /// `Put`, through Raft.
    Put(PutRequest),
    /// `DeleteRange`, through Raft.
    DeleteRange(DeleteRangeRequest),
    /// `Txn`, through Raft.
    Txn(TxnRequest),
    /// `Compact`, through Raft.
    Compact(CompactionRequest),
    /// `LeaseGrant`, through Raft.
    LeaseGrant(LeaseGrantRequest),
    /// `LeaseRevoke`, through Raft.
    LeaseRevoke(LeaseRevokeRequest),
    /// One `LeaseKeepAlive`, answered by the leader alone.
    LeaseKeepAlive(LeaseKeepAliveRequest),
    /// `LeaseTimeToLive`, answered by the leader alone.
    LeaseTimeToLive(LeaseTimeToLiveRequest),
    /// `LeaseLeases`: every lease id, answered by any member.
    LeaseLeases,
    /// One watch long-poll; see [`WatchRequest`].
    Watch(WatchRequest),
    /// `Status` of the member asked (etcdctl `endpoint status`).
    Status,
}

impl ClientRequest {
    /// Short name used in histories and logs.
    pub fn name(&self) -> &'static str {
        match self {
            ClientRequest::Range(_) => "range",
            ClientRequest::Put(_) => "put",
            ClientRequest::DeleteRange(_) => "delete",
            ClientRequest::Txn(_) => "txn",
            ClientRequest::Compact(_) => "compact",
            ClientRequest::LeaseGrant(_) => "lease_grant",
            ClientRequest::LeaseRevoke(_) => "lease_revoke",
            ClientRequest::LeaseKeepAlive(_) => "lease_keep_alive",
            ClientRequest::LeaseTimeToLive(_) => "lease_time_to_live",
            ClientRequest::LeaseLeases => "lease_leases",
            ClientRequest::Watch(_) => "watch",
            ClientRequest::Status => "status",
        }
    }

    /// Whether sending it twice can change the outcome. A retry of such a request after a
    /// timeout could apply it twice, so the client reports it as indeterminate instead.
    pub fn is_mutation(&self) -> bool {
        matches!(
            self,
            ClientRequest::Put(_)
                | ClientRequest::DeleteRange(_)
                | ClientRequest::Txn(_)
                | ClientRequest::Compact(_)
                | ClientRequest::LeaseGrant(_)
                | ClientRequest::LeaseRevoke(_)
        )
    }
}

/// A member's answer to a [`ClientRequest`]: the variant of the same name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientResponse {
    /// Answer to [`ClientRequest::Range`].
    Range(RangeResponse),
    /// Answer to [`ClientRequest::Put`].
    Put(PutResponse),
    /// Answer to [`ClientRequest::DeleteRange`].
    DeleteRange(DeleteRangeResponse),
    /// Answer to [`ClientRequest::Txn`].
    Txn(TxnResponse),
    /// Answer to [`ClientRequest::Compact`].
    Compact(CompactionResponse),
    /// Answer to [`ClientRequest::LeaseGrant`].
    LeaseGrant(LeaseGrantResponse),
    /// Answer to [`ClientRequest::LeaseRevoke`].
    LeaseRevoke(LeaseRevokeResponse),
    /// Answer to [`ClientRequest::LeaseKeepAlive`].
    LeaseKeepAlive(LeaseKeepAliveResponse),
    /// Answer to [`ClientRequest::LeaseTimeToLive`].
    LeaseTimeToLive(LeaseTimeToLiveResponse),
    /// Answer to [`ClientRequest::LeaseLeases`].
    LeaseLeases(LeaseLeasesResponse),
    /// Answer to [`ClientRequest::Watch`].
    Watch(WatchResponse),
    /// Answer to [`ClientRequest::Status`].
    Status(StatusResponse),
}

impl ClientResponse {
    /// The response's header, whatever its kind.
    pub fn header(&self) -> &ResponseHeader {
        match self {
            ClientResponse::Range(r) => &r.header,
            ClientResponse::Put(r) => &r.header,
            ClientResponse::DeleteRange(r) => &r.header,
            ClientResponse::Txn(r) => &r.header,
            ClientResponse::Compact(r) => &r.header,
            ClientResponse::LeaseGrant(r) => &r.header,
            ClientResponse::LeaseRevoke(r) => &r.header,
            ClientResponse::LeaseKeepAlive(r) => &r.header,
            ClientResponse::LeaseTimeToLive(r) => &r.header,
            ClientResponse::LeaseLeases(r) => &r.header,
            ClientResponse::Watch(r) => &r.header,
            ClientResponse::Status(r) => &r.header,
        }
    }

    /// The response's header, mutable: the member fills in cluster, member and term before
    /// replying.
    pub fn header_mut(&mut self) -> &mut ResponseHeader {
        match self {
            ClientResponse::Range(r) => &mut r.header,
            ClientResponse::Put(r) => &mut r.header,
            ClientResponse::DeleteRange(r) => &mut r.header,
            ClientResponse::Txn(r) => &mut r.header,
            ClientResponse::Compact(r) => &mut r.header,
            ClientResponse::LeaseGrant(r) => &mut r.header,
            ClientResponse::LeaseRevoke(r) => &mut r.header,
            ClientResponse::LeaseKeepAlive(r) => &mut r.header,
            ClientResponse::LeaseTimeToLive(r) => &mut r.header,
            ClientResponse::LeaseLeases(r) => &mut r.header,
            ClientResponse::Watch(r) => &mut r.header,
            ClientResponse::Status(r) => &mut r.header,
        }
    }
}

/// Client → member datagram.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientMessage {
    pub id: RequestId,
    pub request: ClientRequest,
}

/// Member → client datagram.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reply {
    pub id: RequestId,
    /// The leader as the answering member knows it (0 = none), so clients find the leader
    /// without a separate discovery round.
    pub leader: MemberId,
    pub result: Result<ClientResponse, Error>,
}

/// Where a member sends an answer: back to a client's datagram socket, or to the gRPC front on
/// the member's own host, which calls the member in-process as etcd's gRPC server calls its
/// `EtcdServer` (no network between them, so no loss and no partition).
#[derive(Clone, Debug)]
pub(crate) enum ReplyTo {
    /// A client host's socket.
    Datagram(std::net::SocketAddr),
    /// The member's own gRPC front; a closed receiver (the call was abandoned) drops the answer.
    Local(tokio::sync::mpsc::UnboundedSender<Reply>),
}

/// A write that goes through Raft: the payload of a normal log entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proposal {
    pub id: RequestId,
    /// The member that proposed it and answers the client when it applies the entry.
    pub origin: MemberId,
    pub op: WriteOp,
}

/// The operations that change replicated state, applied in log order on every member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteOp {
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact(CompactionRequest),
    /// `id` is chosen by the proposing member when the client gave 0 (etcd does the same).
    LeaseGrant(LeaseGrantRequest),
    LeaseRevoke(LeaseRevokeRequest),
}
