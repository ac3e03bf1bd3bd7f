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
    /// The key. Never empty: every request refuses an empty key
    /// ([`Error::EmptyKey`](crate::Error::EmptyKey)).
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// Revision of the put that created the key in its current generation.
    pub create_revision: Revision,
    /// Revision of the latest put to the key.
    pub mod_revision: Revision,
    /// Number of puts since the key was (re)created; 1 after creation.
    pub version: i64,
    /// The value. Empty in a `keys_only` range answer and in a watch's delete event.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    /// The lease the key is attached to ([`NO_LEASE`] for none): revoking or expiring that lease
    /// deletes the key.
    pub lease: LeaseId,
}

/// Header on every response, as etcd's `ResponseHeader`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseHeader {
    /// The id of the cluster that answered; always [`CLUSTER_ID`](crate::CLUSTER_ID) here (etcd
    /// derives it from the initial membership).
    pub cluster_id: u64,
    /// The Raft id of the member that answered (which member served a read matters for staleness).
    pub member_id: MemberId,
    /// Store revision when the request was served (after the write, for writes).
    pub revision: Revision,
    /// The answering member's Raft term when it sent the reply.
    pub raft_term: u64,
}

/// Order of a range's results, as etcd's `RangeRequest.SortOrder`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortOrder {
    /// No sorting requested: key order, except that with a [`SortTarget`] other than `Key` etcd
    /// sorts ascending (so does this store).
    #[default]
    None,
    /// Lowest first by the [`SortTarget`]; ties keep key order.
    Ascend,
    /// Highest first by the [`SortTarget`]; ties keep key order.
    Descend,
}

/// Which field of a [`KeyValue`] a range sorts by, as etcd's `RangeRequest.SortTarget`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortTarget {
    /// The key, bytewise.
    #[default]
    Key,
    /// `version`, the number of puts in the key's current generation.
    Version,
    /// `create_revision`.
    Create,
    /// `mod_revision`.
    Mod,
    /// The value, bytewise.
    Value,
}

/// `Range`: a key, a prefix or `[key, range_end)`.
///
/// `range_end` follows etcd: empty = just `key`; `[0]` with key `[0]` = every key; `[0]` with
/// another key = every key ≥ `key`; otherwise the half-open interval. A prefix is expressed with
/// [`prefix_end`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeRequest {
    /// First key of the range (or the only key when `range_end` is empty). Must not be empty.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// End of the range `[key, range_end)`; empty: only `key`; `\0`: every key >= `key` (etcd's
    /// convention). Use [`prefix_end`] for a prefix.
    #[serde(with = "serde_bytes")]
    pub range_end: Vec<u8>,
    /// 0 = no limit.
    pub limit: i64,
    /// 0 = current revision; otherwise read the store as of this revision.
    pub revision: Revision,
    /// Order of `kvs` (see [`SortOrder`]); applied before `limit`.
    pub sort_order: SortOrder,
    /// Field `sort_order` sorts by.
    pub sort_target: SortTarget,
    /// Serve from the local member without ReadIndex (may be stale).
    pub serializable: bool,
    /// Return keys without their values (`value` left empty).
    pub keys_only: bool,
    /// Return only `count`; `kvs` stays empty.
    pub count_only: bool,
    /// 0 = no bound.
    pub min_mod_revision: Revision,
    /// Keep only keys with `mod_revision <=` this; 0 = no bound. Applied after `count`.
    pub max_mod_revision: Revision,
    /// Keep only keys with `create_revision >=` this; 0 = no bound. Applied after `count`.
    pub min_create_revision: Revision,
    /// Keep only keys with `create_revision <=` this; 0 = no bound. Applied after `count`.
    pub max_create_revision: Revision,
}

/// Answer to a [`RangeRequest`], as etcd's `RangeResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeResponse {
    /// `header.revision` is the store's current revision, even for a read in the past.
    pub header: ResponseHeader,
    /// The matching keys as of the read revision, filtered, sorted and cut to `limit`; empty for
    /// `count_only`.
    pub kvs: Vec<KeyValue>,
    /// More keys matched than `limit` returned.
    pub more: bool,
    /// Number of keys in the range (before `limit`).
    pub count: i64,
}

/// `Put`: set one key's value, as etcd's `PutRequest`. One new revision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutRequest {
    /// The key to write. Must not be empty.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The new value; must be empty with `ignore_value`
    /// ([`Error::ValueProvided`](crate::Error::ValueProvided)).
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    /// Lease to attach the key to; [`NO_LEASE`] detaches it. Must exist
    /// ([`Error::LeaseNotFound`](crate::Error::LeaseNotFound)), and must be [`NO_LEASE`] with
    /// `ignore_lease` ([`Error::LeaseProvided`](crate::Error::LeaseProvided)).
    pub lease: LeaseId,
    /// Return the key's state before this put in [`PutResponse::prev_kv`].
    pub prev_kv: bool,
    /// Keep the current value (key must exist).
    pub ignore_value: bool,
    /// Keep the current lease (key must exist).
    pub ignore_lease: bool,
}

/// Answer to a [`PutRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutResponse {
    /// `header.revision` is the revision of this put.
    pub header: ResponseHeader,
    /// The key before the put, when `prev_kv` was asked and the key existed.
    pub prev_kv: Option<KeyValue>,
}

/// `DeleteRange`: delete a key or range, as etcd's `DeleteRangeRequest`. One new revision when
/// anything was deleted, none otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRangeRequest {
    /// First key of the range (or the only key when `range_end` is empty). Must not be empty.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// End of the range `[key, range_end)`; empty: only `key`; `\0`: every key >= `key` (etcd's
    /// convention, as in [`RangeRequest::range_end`]).
    #[serde(with = "serde_bytes")]
    pub range_end: Vec<u8>,
    /// Return the deleted keys' last states in [`DeleteRangeResponse::prev_kvs`].
    pub prev_kv: bool,
}

/// Answer to a [`DeleteRangeRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRangeResponse {
    /// `header.revision` is the delete's revision, or the unchanged current one if nothing matched.
    pub header: ResponseHeader,
    /// Number of keys deleted (0 when nothing matched: not an error, as in etcd).
    pub deleted: i64,
    /// The deleted keys as they were, in key order, when `prev_kv` was asked.
    pub prev_kvs: Vec<KeyValue>,
}

/// How a [`Compare`] relates the key's field to the operand: `field <result> operand`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareResult {
    /// The field equals the operand.
    Equal,
    /// The field is greater than the operand.
    Greater,
    /// The field is less than the operand.
    Less,
    /// The field differs from the operand.
    NotEqual,
}

/// What a [`Compare`] looks at, with the operand. A missing key compares as version 0,
/// create 0, mod 0, lease 0 (etcd); a value compare on a missing key is false.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareTarget {
    /// The key's `version` (0 for a missing key); `Version(0)` + `Equal` tests that it does not
    /// exist.
    Version(i64),
    /// The key's `create_revision` (0 for a missing key).
    Create(Revision),
    /// The key's `mod_revision` (0 for a missing key).
    Mod(Revision),
    /// The key's value, bytewise; false for a missing key whatever the result.
    Value(Vec<u8>),
    /// The key's lease id ([`NO_LEASE`] for a missing key or one without a lease).
    Lease(LeaseId),
}

/// One condition of a [`TxnRequest`], as etcd's `Compare`: holds when the `target` field of
/// every key in the range compares to the operand as `result` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    /// The relation that must hold.
    pub result: CompareResult,
    /// The field compared, with the operand.
    pub target: CompareTarget,
    /// The key compared (the first of the range when `range_end` is set). Must not be empty.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// Non-empty: the compare must hold for every key in `[key, range_end)`.
    #[serde(with = "serde_bytes")]
    pub range_end: Vec<u8>,
}

/// One operation of a txn branch, as etcd's `RequestOp`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestOp {
    /// A read; it sees the txn's own earlier writes.
    Range(RangeRequest),
    /// A put.
    Put(PutRequest),
    /// A delete.
    DeleteRange(DeleteRangeRequest),
    /// A nested txn; its compares are decided on the state before the outer txn, as in etcd.
    Txn(TxnRequest),
}

/// The answer to one [`RequestOp`], in the same position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseOp {
    /// Answer to a [`RequestOp::Range`].
    Range(RangeResponse),
    /// Answer to a [`RequestOp::Put`].
    Put(PutResponse),
    /// Answer to a [`RequestOp::DeleteRange`].
    DeleteRange(DeleteRangeResponse),
    /// Answer to a [`RequestOp::Txn`] (its header is empty, as etcd's).
    Txn(TxnResponse),
}

/// `Txn`: compares, then one branch, atomically at one new revision (none if nothing is written),
/// as etcd's `TxnRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRequest {
    /// Conditions, all of which must hold (an empty list holds).
    pub compare: Vec<Compare>,
    /// Operations run when every compare holds. At most 128 (etcd's `--max-txn-ops`), and no key
    /// written twice ([`Error::DuplicateKey`](crate::Error::DuplicateKey)).
    pub success: Vec<RequestOp>,
    /// Operations run otherwise; same limits as `success`.
    pub failure: Vec<RequestOp>,
}

/// Answer to a [`TxnRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResponse {
    /// `header.revision` is the txn's revision (the unchanged one if it wrote nothing).
    pub header: ResponseHeader,
    /// True when every compare held, so `success` ran; false when `failure` ran.
    pub succeeded: bool,
    /// One response per operation of the branch that ran, in order.
    pub responses: Vec<ResponseOp>,
}

/// `Compact`: forget the history before a revision, as etcd's `CompactionRequest` (always
/// applied physically here: there is no `physical` flag).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionRequest {
    /// Keep, for every key, only its latest version `<=` this and everything after. Must be above
    /// the last compaction ([`Error::Compacted`](crate::Error::Compacted)) and at most the current
    /// revision ([`Error::FutureRevision`](crate::Error::FutureRevision)).
    pub revision: Revision,
}

/// Answer to a [`CompactionRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionResponse {
    /// `header.revision` is the store's revision (a compaction makes none).
    pub header: ResponseHeader,
}

/// `LeaseGrant`: create a lease, as etcd's `LeaseGrantRequest`. Goes through Raft.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseGrantRequest {
    /// Seconds. Raised to the minimum lease TTL when below it, as etcd does.
    pub ttl: i64,
    /// 0 = the server chooses.
    pub id: LeaseId,
}

/// Answer to a [`LeaseGrantRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseGrantResponse {
    /// `header.revision` is the store's revision (a grant makes none).
    pub header: ResponseHeader,
    /// The new lease's id (the server's choice when the request said 0).
    pub id: LeaseId,
    /// The granted TTL in seconds, after raising to the minimum lease TTL.
    pub ttl: i64,
}

/// `LeaseRevoke`: end a lease now, as etcd's `LeaseRevokeRequest`. Goes through Raft.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRevokeRequest {
    /// The lease to revoke; [`Error::LeaseNotFound`](crate::Error::LeaseNotFound) if it does not
    /// exist. Its keys are deleted in one revision.
    pub id: LeaseId,
}

/// Answer to a [`LeaseRevokeRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRevokeResponse {
    /// `header.revision` is the store's revision after the keys were deleted.
    pub header: ResponseHeader,
}

/// `LeaseKeepAlive`: restart a lease's TTL, as one message of etcd's keepalive stream. Served by
/// the leader alone, outside Raft; a follower answers
/// [`Error::NotLeader`](crate::Error::NotLeader).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseKeepAliveRequest {
    /// The lease to renew; [`Error::LeaseNotFound`](crate::Error::LeaseNotFound) if it does not
    /// exist or has already expired.
    pub id: LeaseId,
}

/// Answer to a [`LeaseKeepAliveRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseKeepAliveResponse {
    /// The leader's header; `header.revision` is its current store revision.
    pub header: ResponseHeader,
    /// The renewed lease.
    pub id: LeaseId,
    /// New TTL in seconds; etcd's clientv3 treats TTL <= 0 as "lease gone".
    pub ttl: i64,
}

/// `LeaseTimeToLive`: a lease's remaining time, as etcd's `LeaseTimeToLiveRequest`. Served by the
/// leader (its lessor alone knows expiries); a follower answers
/// [`Error::NotLeader`](crate::Error::NotLeader).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseTimeToLiveRequest {
    /// The lease asked about.
    pub id: LeaseId,
    /// Also list the keys attached to the lease.
    pub keys: bool,
}

/// Answer to a [`LeaseTimeToLiveRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseTimeToLiveResponse {
    /// The leader's header; `header.revision` is its current store revision.
    pub header: ResponseHeader,
    /// The lease asked about.
    pub id: LeaseId,
    /// Remaining seconds; -1 when the lease does not exist (etcd answers so, not an error).
    pub ttl: i64,
    /// The TTL the lease was granted, in seconds (after raising to the minimum); 0 when it does not
    /// exist.
    pub granted_ttl: i64,
    /// The keys attached to the lease, sorted, when `keys` was asked and the lease exists.
    pub keys: Vec<Vec<u8>>,
}

/// Answer to `LeaseLeases` (etcdctl `lease list`), as etcd's `LeaseLeasesResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseLeasesResponse {
    /// Header of the member that answered (any member answers, from its replicated lease table).
    pub header: ResponseHeader,
    /// Every lease id the answering member knows, ascending.
    pub leases: Vec<LeaseId>,
}

/// What a watch [`Event`] did to its key, as etcd's `mvccpb.Event.EventType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    /// The key was created or overwritten.
    Put,
    /// The key was deleted (by a delete, or by the revoke of its lease).
    Delete,
}

/// A watch event, as etcd's `mvccpb.Event`. For a delete, `kv` holds only the key and
/// `mod_revision` = the delete's revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// A put or a delete.
    pub kind: EventType,
    /// The key after the change; for a delete, only `key` and `mod_revision` are set.
    pub kv: KeyValue,
    /// The key before the change, when the watch asked for it; `None` for a creation and when that
    /// revision has been compacted away.
    pub prev_kv: Option<KeyValue>,
}

/// Answer to `Status` (etcdctl `endpoint status`), as etcd's `StatusResponse`: the state of the
/// one member asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// That member's header.
    pub header: ResponseHeader,
    /// The etcd version the simulator follows: always `"3.4.23"`.
    pub version: String,
    /// Size in bytes of the member's serialized state machine (the MVCC store and the lease table),
    /// standing in for etcd's bolt database size.
    pub db_size: i64,
    /// 0 when the member knows no leader.
    pub leader: MemberId,
    /// Last index of the member's Raft log (committed or not).
    pub raft_index: u64,
    /// The member's current Raft term.
    pub raft_term: u64,
    /// Last Raft log index the member has applied to its state machine.
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
