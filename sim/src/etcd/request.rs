//! Typed etcd v3 requests and responses, named and shaped like `etcdserverpb`.
//!
//! Why typed structs and not strings: raft-rs's `five_mem_node` regex-parses `put …` entries and
//! matches replies by queue position, which breaks on leader change. Every request that goes
//! through Raft travels inside an [`Envelope`] with a [`RequestId`], and the member that proposed
//! it answers the waiting client when the entry with that id is applied.

use serde::{Deserialize, Serialize};

/// An etcd main revision. Starts at 1 on a fresh cluster; each write txn adds one.
pub type Revision = i64;

/// A lease id as etcd shows it (int64; printed in hex by etcdctl). 0 means "no lease".
pub type LeaseId = i64;

/// The "no lease" sentinel, as in etcd's `lease.NoLease`.
pub const NO_LEASE: LeaseId = 0;

/// Raft member id (1-based: n1 has id 1). Raft-rs reserves 0 for "none".
pub type MemberId = u64;

pub use crate::world::rpc::RequestId;

/// One key's state at a revision, as etcd's `mvccpb.KeyValue`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// Revision of the put that created the key in its current generation.
    pub create_revision: Revision,
    /// Revision of the latest put to the key.
    pub mod_revision: Revision,
    /// Number of puts since the key was (re)created; 1 after creation.
    pub version: i64,
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    pub lease: LeaseId,
}

/// Header on every response, as etcd's `ResponseHeader`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseHeader {
    pub cluster_id: u64,
    pub member_id: MemberId,
    /// Store revision when the request was served (after the write, for writes).
    pub revision: Revision,
    pub raft_term: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortOrder {
    #[default]
    None,
    Ascend,
    Descend,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortTarget {
    #[default]
    Key,
    Version,
    Create,
    Mod,
    Value,
}

/// `Range`: a key, a prefix or `[key, range_end)`.
///
/// `range_end` follows etcd: empty = just `key`; `[0]` with key `[0]` = every key; `[0]` with
/// another key = every key ≥ `key`; otherwise the half-open interval. A prefix is expressed with
/// [`prefix_end`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeRequest {
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub range_end: Vec<u8>,
    /// 0 = no limit.
    pub limit: i64,
    /// 0 = current revision; otherwise read the store as of this revision.
    pub revision: Revision,
    pub sort_order: SortOrder,
    pub sort_target: SortTarget,
    /// Serve from the local member without ReadIndex (may be stale).
    pub serializable: bool,
    pub keys_only: bool,
    pub count_only: bool,
    /// 0 = no bound.
    pub min_mod_revision: Revision,
    pub max_mod_revision: Revision,
    pub min_create_revision: Revision,
    pub max_create_revision: Revision,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeResponse {
    pub header: ResponseHeader,
    pub kvs: Vec<KeyValue>,
    /// More keys matched than `limit` returned.
    pub more: bool,
    /// Number of keys in the range (before `limit`).
    pub count: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutRequest {
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    pub lease: LeaseId,
    pub prev_kv: bool,
    /// Keep the current value (key must exist).
    pub ignore_value: bool,
    /// Keep the current lease (key must exist).
    pub ignore_lease: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutResponse {
    pub header: ResponseHeader,
    pub prev_kv: Option<KeyValue>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRangeRequest {
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub range_end: Vec<u8>,
    pub prev_kv: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRangeResponse {
    pub header: ResponseHeader,
    pub deleted: i64,
    pub prev_kvs: Vec<KeyValue>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareResult {
    Equal,
    Greater,
    Less,
    NotEqual,
}

/// What a [`Compare`] looks at, with the operand. A missing key compares as version 0,
/// create 0, mod 0, lease 0 (etcd); a value compare on a missing key is false.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareTarget {
    Version(i64),
    Create(Revision),
    Mod(Revision),
    Value(Vec<u8>),
    Lease(LeaseId),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    pub result: CompareResult,
    pub target: CompareTarget,
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// Non-empty: the compare must hold for every key in `[key, range_end)`.
    #[serde(with = "serde_bytes")]
    pub range_end: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestOp {
    Range(RangeRequest),
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseOp {
    Range(RangeResponse),
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRequest {
    pub compare: Vec<Compare>,
    pub success: Vec<RequestOp>,
    pub failure: Vec<RequestOp>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResponse {
    pub header: ResponseHeader,
    pub succeeded: bool,
    pub responses: Vec<ResponseOp>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionRequest {
    pub revision: Revision,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionResponse {
    pub header: ResponseHeader,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseGrantRequest {
    /// Seconds. Raised to the minimum lease TTL when below it, as etcd does.
    pub ttl: i64,
    /// 0 = the server chooses.
    pub id: LeaseId,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseGrantResponse {
    pub header: ResponseHeader,
    pub id: LeaseId,
    pub ttl: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRevokeRequest {
    pub id: LeaseId,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRevokeResponse {
    pub header: ResponseHeader,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseKeepAliveRequest {
    pub id: LeaseId,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseKeepAliveResponse {
    pub header: ResponseHeader,
    pub id: LeaseId,
    /// New TTL in seconds; etcd's clientv3 treats TTL <= 0 as "lease gone".
    pub ttl: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseTimeToLiveRequest {
    pub id: LeaseId,
    pub keys: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseTimeToLiveResponse {
    pub header: ResponseHeader,
    pub id: LeaseId,
    /// Remaining seconds; -1 when the lease does not exist (etcd answers so, not an error).
    pub ttl: i64,
    pub granted_ttl: i64,
    pub keys: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseLeasesResponse {
    pub header: ResponseHeader,
    pub leases: Vec<LeaseId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    Put,
    Delete,
}

/// A watch event, as etcd's `mvccpb.Event`. For a delete, `kv` holds only the key and
/// `mod_revision` = the delete's revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventType,
    pub kv: KeyValue,
    pub prev_kv: Option<KeyValue>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub header: ResponseHeader,
    pub version: String,
    pub db_size: i64,
    /// 0 when the member knows no leader.
    pub leader: MemberId,
    pub raft_index: u64,
    pub raft_term: u64,
    pub raft_applied_index: u64,
}

/// The end of the range that covers every key with `prefix`, as clientv3's `GetPrefixRangeEnd`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): every key from `prefix` on.
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_matches_clientv3() {
        assert_eq!(prefix_end(b"a"), b"b".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }
}
