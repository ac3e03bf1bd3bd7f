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
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    /// 0 = from the serving member's current revision + 1.
    pub start_revision: Revision,
    pub prev_kv: bool,
}

/// One batch of watch events: every event of each revision it covers, in revision order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchResponse {
    pub header: ResponseHeader,
    pub events: Vec<Event>,
    /// The member has sent every matching event up to this revision (inclusive), so the next poll
    /// starts at `progress_revision + 1`. A poll that times out with no events still advances it.
    pub progress_revision: Revision,
}

/// A client request, one per etcd RPC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientRequest {
    Range(RangeRequest),
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact(CompactionRequest),
    LeaseGrant(LeaseGrantRequest),
    LeaseRevoke(LeaseRevokeRequest),
    LeaseKeepAlive(LeaseKeepAliveRequest),
    LeaseTimeToLive(LeaseTimeToLiveRequest),
    LeaseLeases,
    Watch(WatchRequest),
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientResponse {
    Range(RangeResponse),
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    Compact(CompactionResponse),
    LeaseGrant(LeaseGrantResponse),
    LeaseRevoke(LeaseRevokeResponse),
    LeaseKeepAlive(LeaseKeepAliveResponse),
    LeaseTimeToLive(LeaseTimeToLiveResponse),
    LeaseLeases(LeaseLeasesResponse),
    Watch(WatchResponse),
    Status(StatusResponse),
}

impl ClientResponse {
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
