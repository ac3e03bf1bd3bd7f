//! etcd's wire messages (etcd-client's generated `Pb*` types) to and from the member's typed
//! requests and responses. Enum numbers are etcdserverpb's; an unknown number is refused with
//! etcd's own message, as etcd's gRPC layer refuses it.

use etcd_client::proto::{
    PbCompare, PbCompareTarget, PbDeleteResponse, PbEvent, PbKeyValue, PbLeaseGrantResponse,
    PbLeaseKeepAliveResponse, PbLeaseLeasesResponse, PbLeaseRevokeResponse, PbLeaseStatus,
    PbLeaseTimeToLiveResponse, PbPutResponse, PbRangeResponse, PbResponseHeader, PbResponseOp,
    PbStatusResponse, PbTargetUnion, PbTxnOpRequest, PbTxnOpResponse, PbTxnRequest, PbTxnRequestOp,
    PbTxnResponse,
};
use etcd_client::proto::{PbDeleteRequest, PbPutRequest, PbRangeRequest};
use tonic::Status;

use crate::etcd::request::*;

/// etcd's `ErrGRPCInvalidSortOption`.
fn invalid_sort() -> Status {
    Status::invalid_argument("etcdserver: invalid sort option")
}

pub(crate) fn header(h: ResponseHeader) -> Option<PbResponseHeader> {
    Some(PbResponseHeader {
        cluster_id: h.cluster_id,
        member_id: h.member_id,
        revision: h.revision,
        raft_term: h.raft_term,
    })
}

pub(crate) fn key_value(kv: KeyValue) -> PbKeyValue {
    PbKeyValue {
        key: kv.key,
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value,
        lease: kv.lease,
    }
}

pub(crate) fn range_request(r: PbRangeRequest) -> Result<RangeRequest, Status> {
    let sort_order = match r.sort_order {
        0 => SortOrder::None,
        1 => SortOrder::Ascend,
        2 => SortOrder::Descend,
        _ => return Err(invalid_sort()),
    };
    let sort_target = match r.sort_target {
        0 => SortTarget::Key,
        1 => SortTarget::Version,
        2 => SortTarget::Create,
        3 => SortTarget::Mod,
        4 => SortTarget::Value,
        _ => return Err(invalid_sort()),
    };
    Ok(RangeRequest {
        key: r.key,
        range_end: r.range_end,
        limit: r.limit,
        revision: r.revision,
        sort_order,
        sort_target,
        serializable: r.serializable,
        keys_only: r.keys_only,
        count_only: r.count_only,
        min_mod_revision: r.min_mod_revision,
        max_mod_revision: r.max_mod_revision,
        min_create_revision: r.min_create_revision,
        max_create_revision: r.max_create_revision,
    })
}

pub(crate) fn range_response(r: RangeResponse) -> PbRangeResponse {
    PbRangeResponse {
        header: header(r.header),
        kvs: r.kvs.into_iter().map(key_value).collect(),
        more: r.more,
        count: r.count,
    }
}

pub(crate) fn put_request(r: PbPutRequest) -> PutRequest {
    PutRequest {
        key: r.key,
        value: r.value,
        lease: r.lease,
        prev_kv: r.prev_kv,
        ignore_value: r.ignore_value,
        ignore_lease: r.ignore_lease,
    }
}

pub(crate) fn put_response(r: PutResponse) -> PbPutResponse {
    PbPutResponse {
        header: header(r.header),
        prev_kv: r.prev_kv.map(key_value),
    }
}

pub(crate) fn delete_request(r: PbDeleteRequest) -> DeleteRangeRequest {
    DeleteRangeRequest {
        key: r.key,
        range_end: r.range_end,
        prev_kv: r.prev_kv,
    }
}

pub(crate) fn delete_response(r: DeleteRangeResponse) -> PbDeleteResponse {
    PbDeleteResponse {
        header: header(r.header),
        deleted: r.deleted,
        prev_kvs: r.prev_kvs.into_iter().map(key_value).collect(),
    }
}

fn compare(c: PbCompare) -> Result<Compare, Status> {
    let result = match c.result {
        0 => CompareResult::Equal,
        1 => CompareResult::Greater,
        2 => CompareResult::Less,
        3 => CompareResult::NotEqual,
        n => {
            return Err(Status::invalid_argument(format!(
                "unknown compare result {n}"
            )))
        }
    };
    // etcd reads the operand from the union member the target names; a missing one is zero.
    let union = c.target_union;
    let int = |want: fn(&PbTargetUnion) -> Option<i64>| union.as_ref().and_then(want).unwrap_or(0);
    let target = match PbCompareTarget::try_from(c.target) {
        Ok(PbCompareTarget::Version) => CompareTarget::Version(int(|u| match u {
            PbTargetUnion::Version(v) => Some(*v),
            _ => None,
        })),
        Ok(PbCompareTarget::Create) => CompareTarget::Create(int(|u| match u {
            PbTargetUnion::CreateRevision(v) => Some(*v),
            _ => None,
        })),
        Ok(PbCompareTarget::Mod) => CompareTarget::Mod(int(|u| match u {
            PbTargetUnion::ModRevision(v) => Some(*v),
            _ => None,
        })),
        Ok(PbCompareTarget::Lease) => CompareTarget::Lease(int(|u| match u {
            PbTargetUnion::Lease(v) => Some(*v),
            _ => None,
        })),
        Ok(PbCompareTarget::Value) => CompareTarget::Value(match union {
            Some(PbTargetUnion::Value(v)) => v,
            _ => Vec::new(),
        }),
        Err(_) => {
            let n = c.target;
            return Err(Status::invalid_argument(format!(
                "unknown compare target {n}"
            )));
        }
    };
    Ok(Compare {
        result,
        target,
        key: c.key,
        range_end: c.range_end,
    })
}

fn request_op(op: PbTxnRequestOp) -> Result<RequestOp, Status> {
    Ok(match op.request {
        Some(PbTxnOpRequest::RequestRange(r)) => RequestOp::Range(range_request(r)?),
        Some(PbTxnOpRequest::RequestPut(r)) => RequestOp::Put(put_request(r)),
        Some(PbTxnOpRequest::RequestDeleteRange(r)) => RequestOp::DeleteRange(delete_request(r)),
        Some(PbTxnOpRequest::RequestTxn(r)) => RequestOp::Txn(txn_request(r)?),
        // etcd's checkRequestOp: an empty RequestOp is refused.
        None => return Err(Status::invalid_argument("etcdserver: key is not provided")),
    })
}

pub(crate) fn txn_request(r: PbTxnRequest) -> Result<TxnRequest, Status> {
    Ok(TxnRequest {
        compare: r
            .compare
            .into_iter()
            .map(compare)
            .collect::<Result<_, _>>()?,
        success: r
            .success
            .into_iter()
            .map(request_op)
            .collect::<Result<_, _>>()?,
        failure: r
            .failure
            .into_iter()
            .map(request_op)
            .collect::<Result<_, _>>()?,
    })
}

fn response_op(op: ResponseOp) -> PbResponseOp {
    let response = match op {
        ResponseOp::Range(r) => PbTxnOpResponse::ResponseRange(range_response(r)),
        ResponseOp::Put(r) => PbTxnOpResponse::ResponsePut(put_response(r)),
        ResponseOp::DeleteRange(r) => PbTxnOpResponse::ResponseDeleteRange(delete_response(r)),
        ResponseOp::Txn(r) => PbTxnOpResponse::ResponseTxn(txn_response(r)),
    };
    PbResponseOp {
        response: Some(response),
    }
}

pub(crate) fn txn_response(r: TxnResponse) -> PbTxnResponse {
    PbTxnResponse {
        header: header(r.header),
        succeeded: r.succeeded,
        responses: r.responses.into_iter().map(response_op).collect(),
    }
}

pub(crate) fn event(e: Event) -> PbEvent {
    PbEvent {
        r#type: match e.kind {
            EventType::Put => 0,
            EventType::Delete => 1,
        },
        kv: Some(key_value(e.kv)),
        prev_kv: e.prev_kv.map(key_value),
    }
}

pub(crate) fn lease_grant_response(r: LeaseGrantResponse) -> PbLeaseGrantResponse {
    PbLeaseGrantResponse {
        header: header(r.header),
        id: r.id,
        ttl: r.ttl,
        error: String::new(),
    }
}

pub(crate) fn lease_revoke_response(r: LeaseRevokeResponse) -> PbLeaseRevokeResponse {
    PbLeaseRevokeResponse {
        header: header(r.header),
    }
}

pub(crate) fn keep_alive_response(r: LeaseKeepAliveResponse) -> PbLeaseKeepAliveResponse {
    PbLeaseKeepAliveResponse {
        header: header(r.header),
        id: r.id,
        ttl: r.ttl,
    }
}

pub(crate) fn time_to_live_response(r: LeaseTimeToLiveResponse) -> PbLeaseTimeToLiveResponse {
    PbLeaseTimeToLiveResponse {
        header: header(r.header),
        id: r.id,
        ttl: r.ttl,
        granted_ttl: r.granted_ttl,
        keys: r.keys,
    }
}

pub(crate) fn leases_response(r: LeaseLeasesResponse) -> PbLeaseLeasesResponse {
    PbLeaseLeasesResponse {
        header: header(r.header),
        leases: r
            .leases
            .into_iter()
            .map(|id| PbLeaseStatus { id })
            .collect(),
    }
}

pub(crate) fn status_response(r: StatusResponse) -> PbStatusResponse {
    PbStatusResponse {
        header: header(r.header),
        version: r.version,
        db_size: r.db_size,
        leader: r.leader,
        raft_index: r.raft_index,
        raft_term: r.raft_term,
        raft_applied_index: r.raft_applied_index,
        ..Default::default()
    }
}
