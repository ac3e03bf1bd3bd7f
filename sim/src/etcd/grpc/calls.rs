//! A member request sent through `etcd_client`, its answer read back into the member's types:
//! how [`Driver::over_grpc`](crate::Driver::over_grpc) (`locksim ctl --grpc`) and the
//! conformance scripts drive the cluster through etcd's gRPC API. Every request is built with
//! etcd-client's own builders, so what is checked is what its users send.

use etcd_client::proto::{
    PbCompactionResponse, PbDeleteResponse, PbEvent, PbKeyValue, PbLeaseGrantResponse,
    PbLeaseKeepAliveResponse, PbLeaseLeasesResponse, PbLeaseRevokeResponse,
    PbLeaseTimeToLiveResponse, PbPutResponse, PbRangeResponse, PbResponseHeader, PbResponseOp,
    PbStatusResponse, PbTxnOpResponse, PbTxnResponse,
};
use etcd_client::{
    Client, Compare as EcCompare, CompareOp, DeleteOptions, GetOptions, LeaseGrantOptions,
    LeaseTimeToLiveOptions, PutOptions, SortOrder as EcSortOrder, SortTarget as EcSortTarget, Txn,
    TxnOp,
};

use std::time::Duration;

use etcd_client::WatchOptions;

use super::connect::{connect, GrpcOptions};
use crate::etcd::driver::{Job, Slot};
use crate::etcd::error::{Error, Result};
use crate::etcd::request::*;
use crate::etcd::transport::{ClientRequest, ClientResponse, WatchRequest, WatchResponse};

/// Send `request` through `client` and read the answer back.
pub(crate) async fn call(client: &mut Client, request: ClientRequest) -> Result<ClientResponse> {
    let mutation = request.is_mutation();
    let failed = |e: etcd_client::Error| error(e, mutation);
    Ok(match request {
        ClientRequest::Range(r) => {
            let (key, options) = get(r);
            ClientResponse::Range(range_response(
                client.get(key, Some(options)).await.map_err(failed)?.0,
            ))
        }
        ClientRequest::Put(r) => {
            let (key, value, options) = put(r);
            ClientResponse::Put(put_response(
                client
                    .put(key, value, Some(options))
                    .await
                    .map_err(failed)?
                    .0,
            ))
        }
        ClientRequest::DeleteRange(r) => {
            let (key, options) = delete(r);
            let answer = client.delete(key, Some(options)).await.map_err(failed)?;
            ClientResponse::DeleteRange(delete_response(answer.0))
        }
        ClientRequest::Txn(r) => {
            ClientResponse::Txn(txn_response(client.txn(txn(r)).await.map_err(failed)?.0))
        }
        ClientRequest::Compact(r) => {
            let answer = client.compact(r.revision, None).await.map_err(failed)?;
            ClientResponse::Compact(compaction_response(answer.0))
        }
        ClientRequest::LeaseGrant(r) => {
            let options = LeaseGrantOptions::new().with_id(r.id);
            let answer = client
                .lease_grant(r.ttl, Some(options))
                .await
                .map_err(failed)?;
            ClientResponse::LeaseGrant(lease_grant_response(answer.0)?)
        }
        ClientRequest::LeaseRevoke(r) => {
            let answer = client.lease_revoke(r.id).await.map_err(failed)?;
            ClientResponse::LeaseRevoke(lease_revoke_response(answer.0))
        }
        ClientRequest::LeaseKeepAlive(r) => {
            let (mut keeper, mut answers) = client.lease_keep_alive(r.id).await.map_err(failed)?;
            keeper.keep_alive().await.map_err(failed)?;
            let answer = answers
                .message()
                .await
                .map_err(failed)?
                .ok_or(Error::Unavailable)?;
            let answer = keep_alive_response(answer.0);
            // etcd answers an unknown lease with TTL 0 on the stream; clientv3 (and the
            // member's own path) call that "lease not found".
            if answer.ttl <= 0 {
                return Err(Error::LeaseNotFound);
            }
            ClientResponse::LeaseKeepAlive(answer)
        }
        ClientRequest::LeaseTimeToLive(r) => {
            let options = r.keys.then(|| LeaseTimeToLiveOptions::new().with_keys());
            let answer = client
                .lease_time_to_live(r.id, options)
                .await
                .map_err(failed)?;
            ClientResponse::LeaseTimeToLive(time_to_live_response(answer.0))
        }
        ClientRequest::LeaseLeases => {
            ClientResponse::LeaseLeases(leases_response(client.leases().await.map_err(failed)?.0))
        }
        ClientRequest::Status => {
            ClientResponse::Status(status_response(client.status().await.map_err(failed)?.0))
        }
        ClientRequest::Watch(_) => {
            return Err(Error::InvalidArgument(
                "a watch poll has no gRPC form: use a watch stream".into(),
            ))
        }
    })
}

/// etcd-client's error as the member's: an etcd status by its message; a lost connection
/// (transport error, or a status etcd never sends) as "no answer" — indeterminate for a write,
/// which may have been applied, as clientv3's "context deadline exceeded".
pub(crate) fn error(e: etcd_client::Error, mutation: bool) -> Error {
    if let etcd_client::Error::GRpcStatus(status) = &e {
        let known = [
            Error::Compacted {
                compact_revision: 0,
            },
            Error::FutureRevision,
            Error::LeaseNotFound,
            Error::LeaseExists,
            Error::LeaseTtlTooLarge,
            Error::KeyNotFound,
            Error::DuplicateKey,
            Error::TooManyOps,
            Error::EmptyKey,
            Error::ValueProvided,
            Error::LeaseProvided,
            Error::NotLeader { leader: None },
            Error::NoLeader,
            Error::LeaderChanged,
            Error::Timeout,
            Error::Unavailable,
        ];
        if let Some(known) = known
            .into_iter()
            .find(|k| k.to_string() == status.message())
        {
            return known;
        }
        // Not etcd's words: tonic's own status for a refused or broken connection ("transport
        // error", code Unavailable) or a call cut short; anything else is a refusal.
        let lost = matches!(
            status.code(),
            tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Cancelled
                | tonic::Code::Unknown
        );
        if !lost {
            return Error::InvalidArgument(status.message().to_string());
        }
    }
    // etcd-client reads the stream's first answer itself and calls TTL 0 this.
    if let etcd_client::Error::LeaseKeepAliveError(message) = &e {
        if message == "lease not found" {
            return Error::LeaseNotFound;
        }
    }
    if mutation {
        Error::Indeterminate
    } else {
        Error::Unavailable
    }
}

fn get(r: RangeRequest) -> (Vec<u8>, GetOptions) {
    let mut o = GetOptions::new();
    if !r.range_end.is_empty() {
        o = o.with_range(r.range_end);
    }
    if r.sort_order != SortOrder::None || r.sort_target != SortTarget::Key {
        let target = match r.sort_target {
            SortTarget::Key => EcSortTarget::Key,
            SortTarget::Version => EcSortTarget::Version,
            SortTarget::Create => EcSortTarget::Create,
            SortTarget::Mod => EcSortTarget::Mod,
            SortTarget::Value => EcSortTarget::Value,
        };
        let order = match r.sort_order {
            SortOrder::None => EcSortOrder::None,
            SortOrder::Ascend => EcSortOrder::Ascend,
            SortOrder::Descend => EcSortOrder::Descend,
        };
        o = o.with_sort(target, order);
    }
    o = o
        .with_limit(r.limit)
        .with_revision(r.revision)
        .with_min_mod_revision(r.min_mod_revision)
        .with_max_mod_revision(r.max_mod_revision)
        .with_min_create_revision(r.min_create_revision)
        .with_max_create_revision(r.max_create_revision);
    if r.serializable {
        o = o.with_serializable();
    }
    if r.keys_only {
        o = o.with_keys_only();
    }
    if r.count_only {
        o = o.with_count_only();
    }
    (r.key, o)
}

fn put(r: PutRequest) -> (Vec<u8>, Vec<u8>, PutOptions) {
    let mut o = PutOptions::new().with_lease(r.lease);
    if r.prev_kv {
        o = o.with_prev_key();
    }
    if r.ignore_value {
        o = o.with_ignore_value();
    }
    if r.ignore_lease {
        o = o.with_ignore_lease();
    }
    (r.key, r.value, o)
}

fn delete(r: DeleteRangeRequest) -> (Vec<u8>, DeleteOptions) {
    let mut o = DeleteOptions::new();
    if !r.range_end.is_empty() {
        o = o.with_range(r.range_end);
    }
    if r.prev_kv {
        o = o.with_prev_key();
    }
    (r.key, o)
}

fn compare(c: Compare) -> EcCompare {
    let op = match c.result {
        CompareResult::Equal => CompareOp::Equal,
        CompareResult::Greater => CompareOp::Greater,
        CompareResult::Less => CompareOp::Less,
        CompareResult::NotEqual => CompareOp::NotEqual,
    };
    let key = c.key;
    let compare = match c.target {
        CompareTarget::Version(v) => EcCompare::version(key, op, v),
        CompareTarget::Create(v) => EcCompare::create_revision(key, op, v),
        CompareTarget::Mod(v) => EcCompare::mod_revision(key, op, v),
        CompareTarget::Value(v) => EcCompare::value(key, op, v),
        CompareTarget::Lease(v) => EcCompare::lease(key, op, v),
    };
    if c.range_end.is_empty() {
        compare
    } else {
        compare.with_range(c.range_end)
    }
}

fn op(o: RequestOp) -> TxnOp {
    match o {
        RequestOp::Range(r) => {
            let (key, options) = get(r);
            TxnOp::get(key, Some(options))
        }
        RequestOp::Put(r) => {
            let (key, value, options) = put(r);
            TxnOp::put(key, value, Some(options))
        }
        RequestOp::DeleteRange(r) => {
            let (key, options) = delete(r);
            TxnOp::delete(key, Some(options))
        }
        RequestOp::Txn(r) => TxnOp::txn(txn(r)),
    }
}

fn txn(r: TxnRequest) -> Txn {
    let compares: Vec<EcCompare> = r.compare.into_iter().map(compare).collect();
    let success: Vec<TxnOp> = r.success.into_iter().map(op).collect();
    let failure: Vec<TxnOp> = r.failure.into_iter().map(op).collect();
    Txn::new().when(compares).and_then(success).or_else(failure)
}

fn header(h: Option<PbResponseHeader>) -> ResponseHeader {
    let h = h.unwrap_or_default();
    ResponseHeader {
        cluster_id: h.cluster_id,
        member_id: h.member_id,
        revision: h.revision,
        raft_term: h.raft_term,
    }
}

fn key_value(kv: PbKeyValue) -> KeyValue {
    KeyValue {
        key: kv.key,
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value,
        lease: kv.lease,
    }
}

fn range_response(r: PbRangeResponse) -> RangeResponse {
    RangeResponse {
        header: header(r.header),
        kvs: r.kvs.into_iter().map(key_value).collect(),
        more: r.more,
        count: r.count,
    }
}

fn put_response(r: PbPutResponse) -> PutResponse {
    PutResponse {
        header: header(r.header),
        prev_kv: r.prev_kv.map(key_value),
    }
}

fn delete_response(r: PbDeleteResponse) -> DeleteRangeResponse {
    DeleteRangeResponse {
        header: header(r.header),
        deleted: r.deleted,
        prev_kvs: r.prev_kvs.into_iter().map(key_value).collect(),
    }
}

fn response_op(r: PbResponseOp) -> Option<ResponseOp> {
    Some(match r.response? {
        PbTxnOpResponse::ResponseRange(r) => ResponseOp::Range(range_response(r)),
        PbTxnOpResponse::ResponsePut(r) => ResponseOp::Put(put_response(r)),
        PbTxnOpResponse::ResponseDeleteRange(r) => ResponseOp::DeleteRange(delete_response(r)),
        PbTxnOpResponse::ResponseTxn(r) => ResponseOp::Txn(txn_response(r)),
    })
}

fn txn_response(r: PbTxnResponse) -> TxnResponse {
    TxnResponse {
        header: header(r.header),
        succeeded: r.succeeded,
        responses: r.responses.into_iter().filter_map(response_op).collect(),
    }
}

fn compaction_response(r: PbCompactionResponse) -> CompactionResponse {
    CompactionResponse {
        header: header(r.header),
    }
}

fn lease_grant_response(r: PbLeaseGrantResponse) -> Result<LeaseGrantResponse> {
    if !r.error.is_empty() {
        return Err(Error::InvalidArgument(r.error));
    }
    Ok(LeaseGrantResponse {
        header: header(r.header),
        id: r.id,
        ttl: r.ttl,
    })
}

fn lease_revoke_response(r: PbLeaseRevokeResponse) -> LeaseRevokeResponse {
    LeaseRevokeResponse {
        header: header(r.header),
    }
}

fn keep_alive_response(r: PbLeaseKeepAliveResponse) -> LeaseKeepAliveResponse {
    LeaseKeepAliveResponse {
        header: header(r.header),
        id: r.id,
        ttl: r.ttl,
    }
}

fn time_to_live_response(r: PbLeaseTimeToLiveResponse) -> LeaseTimeToLiveResponse {
    LeaseTimeToLiveResponse {
        header: header(r.header),
        id: r.id,
        ttl: r.ttl,
        granted_ttl: r.granted_ttl,
        keys: r.keys,
    }
}

fn leases_response(r: PbLeaseLeasesResponse) -> LeaseLeasesResponse {
    LeaseLeasesResponse {
        header: header(r.header),
        leases: r.leases.into_iter().map(|l| l.id).collect(),
    }
}

fn status_response(r: PbStatusResponse) -> StatusResponse {
    StatusResponse {
        header: header(r.header),
        version: r.version,
        db_size: r.db_size,
        leader: r.leader,
        raft_index: r.raft_index,
        raft_term: r.raft_term,
        raft_applied_index: r.raft_applied_index,
    }
}

/// A watch event read back.
pub(crate) fn event(e: PbEvent) -> Event {
    Event {
        kind: if e.r#type == 1 {
            EventType::Delete
        } else {
            EventType::Put
        },
        kv: key_value(e.kv.unwrap_or_default()),
        prev_kv: e.prev_kv.map(key_value),
    }
}

/// A watch answer's header, read back.
pub(crate) fn watch_header(h: Option<PbResponseHeader>) -> ResponseHeader {
    header(h)
}

/// The `ctl` host of a [`Driver::over_grpc`](crate::Driver::over_grpc): each job through
/// `etcd_client`, its answer in `out`.
pub(crate) async fn serve_ctl(
    endpoints: Vec<String>,
    mut jobs: tokio::sync::mpsc::UnboundedReceiver<Job>,
    out: Slot,
) -> turmoil::Result {
    let options = GrpcOptions {
        endpoints,
        ..GrpcOptions::default()
    };
    let mut client = connect(options).await?;
    while let Some(job) = jobs.recv().await {
        let result = match job {
            Job::Call(request) => call(&mut client, request).await,
            Job::Status(endpoint) => status_of(endpoint).await,
            Job::WatchPoll(request) => watch_poll(&mut client, request)
                .await
                .map(ClientResponse::Watch),
        };
        *out.borrow_mut() = Some(result);
    }
    Ok(())
}

/// `Status` of one member, through a client that knows only it.
async fn status_of(endpoint: String) -> Result<ClientResponse> {
    let options = GrpcOptions {
        endpoints: vec![endpoint],
        request_timeout: Some(Duration::from_secs(1)),
        ..GrpcOptions::default()
    };
    let mut client = connect(options).await.map_err(|e| error(e, false))?;
    call(&mut client, ClientRequest::Status).await
}

/// How long a catching-up watch waits for more before it counts as caught up (the member
/// answers at once when it has events; it holds a poll without any for a second).
const CAUGHT_UP: Duration = Duration::from_millis(1500);

/// Every event from `request.start_revision` up to the revision the watch was created at, as
/// one answer (see [`Driver::watch_until_now`](crate::Driver::watch_until_now)).
async fn watch_poll(client: &mut Client, request: WatchRequest) -> Result<WatchResponse> {
    let mut options = WatchOptions::new().with_start_revision(request.start_revision);
    if !request.range_end.is_empty() {
        options = options.with_range(request.range_end);
    }
    if request.prev_kv {
        options = options.with_prev_key();
    }
    let lost = |e| error(e, false);
    let mut stream = client
        .watch(request.key, Some(options))
        .await
        .map_err(lost)?;
    let created = stream
        .message()
        .await
        .map_err(lost)?
        .ok_or(Error::Unavailable)?;
    let now = watch_header(created.0.header).revision;
    let mut answer = WatchResponse {
        header: watch_header(created.0.header),
        events: Vec::new(),
        progress_revision: now,
    };
    if request.start_revision > now {
        return Ok(answer);
    }
    loop {
        let batch = match tokio::time::timeout(CAUGHT_UP, stream.message()).await {
            Err(_) => return Ok(answer),
            Ok(Ok(Some(batch))) => batch.0,
            Ok(Ok(None)) => return Err(Error::Unavailable),
            Ok(Err(e)) => return Err(lost(e)),
        };
        if batch.canceled {
            return Err(match batch.compact_revision {
                0 => Error::InvalidArgument(batch.cancel_reason),
                compact_revision => Error::Compacted { compact_revision },
            });
        }
        answer.events.extend(batch.events.into_iter().map(event));
        if answer
            .events
            .last()
            .is_some_and(|e| e.kv.mod_revision >= now)
        {
            return Ok(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: tonic::Code, message: &str) -> etcd_client::Error {
        etcd_client::Error::GRpcStatus(tonic::Status::new(code, message))
    }

    #[test]
    fn etcd_messages_read_back_and_lost_connections_are_no_answer() {
        let not_leader = status(tonic::Code::FailedPrecondition, "etcdserver: not leader");
        assert_eq!(error(not_leader, true), Error::NotLeader { leader: None });
        let compacted = status(
            tonic::Code::OutOfRange,
            "etcdserver: mvcc: required revision has been compacted",
        );
        assert!(matches!(error(compacted, false), Error::Compacted { .. }));
        let lost = || status(tonic::Code::Unavailable, "transport error");
        assert_eq!(error(lost(), true), Error::Indeterminate);
        assert_eq!(error(lost(), false), Error::Unavailable);
        let refused = status(tonic::Code::InvalidArgument, "bad");
        assert_eq!(error(refused, true), Error::InvalidArgument("bad".into()));
        let gone = etcd_client::Error::LeaseKeepAliveError("lease not found".into());
        assert_eq!(error(gone, false), Error::LeaseNotFound);
    }
}
