//! v3lockpb.Lock, as etcd's `v3lock` serves it: `Lock` runs concurrency's mutex on the caller's
//! lease (the session is orphaned: the caller keeps the lease alive, or it expires and the
//! lock with it) and answers with the key that holds the lock; `Unlock` deletes that key.

use etcd_client::proto::{PbLockResponse, PbUnlockResponse};
use tonic::{Request, Response, Status};

use super::concurrency::{created_at, first_created, prefix_of, queue_key, unless_gone, Session};
use super::convert;
use super::local::{to_status, Front};
use super::pb::v3lockpb::lock_server::Lock as LockService;
use super::pb::v3lockpb::{LockRequest, UnlockRequest};
use super::server::peer;
use crate::etcd::request::*;

pub(crate) struct Lock(pub(crate) Front);

/// concurrency's `ErrSessionExpired`: the caller's key vanished (its lease ended) while it
/// waited. A plain Go error, so gRPC's code is Unknown.
fn session_expired() -> Status {
    Status::unknown("mutex: session is expired")
}

#[tonic::async_trait]
impl LockService for Lock {
    async fn lock(
        &self,
        request: Request<LockRequest>,
    ) -> Result<Response<PbLockResponse>, Status> {
        let process = peer(&request);
        let r = request.into_inner();
        self.0
            .run(move |local, mut gone| async move {
                let s = Session {
                    local: &local,
                    process: &process,
                };
                let lease = unless_gone(&mut gone, s.lease(r.lease)).await?;
                let prefix = prefix_of(&r.name);
                let key = queue_key(&prefix, lease);
                // Enter the queue (or find our key from an earlier call) and read the head.
                let enter = TxnRequest {
                    compare: vec![created_at(&key, 0)],
                    success: vec![
                        RequestOp::Put(PutRequest {
                            key: key.clone(),
                            lease,
                            ..Default::default()
                        }),
                        RequestOp::Range(first_created(&prefix)),
                    ],
                    failure: vec![
                        RequestOp::Range(RangeRequest {
                            key: key.clone(),
                            ..Default::default()
                        }),
                        RequestOp::Range(first_created(&prefix)),
                    ],
                };
                let entered = unless_gone(&mut gone, s.txn(enter)).await?;
                let ranges: Vec<_> = entered
                    .responses
                    .iter()
                    .map(|r| match r {
                        ResponseOp::Range(r) => r.kvs.first().cloned(),
                        _ => None,
                    })
                    .collect();
                let mine = match (&ranges[0], entered.succeeded) {
                    (_, true) => entered.header.revision,
                    (Some(kv), false) => kv.create_revision,
                    (None, false) => unreachable!("the compare failed, so the key exists"),
                };
                let head = ranges[1].as_ref().map(|kv| kv.create_revision);
                if head.is_none() || head == Some(mine) {
                    return Ok(PbLockResponse {
                        header: convert::header(entered.header),
                        key,
                    });
                }
                // Wait for every older key to go; on any failure leave the queue again.
                let waited = unless_gone(&mut gone, s.wait_deletes(&prefix, mine - 1)).await;
                let checked = match waited {
                    Ok(()) => {
                        let own = RangeRequest {
                            key: key.clone(),
                            ..Default::default()
                        };
                        unless_gone(&mut gone, s.get(own)).await
                    }
                    Err(e) => Err(e),
                };
                match checked {
                    Ok(own) if own.kvs.is_empty() => Err(session_expired()),
                    Ok(own) => Ok(PbLockResponse {
                        header: convert::header(own.header),
                        key,
                    }),
                    Err(status) => {
                        let _ = s.delete(key).await;
                        Err(status)
                    }
                }
            })
            .await
            .map(Response::new)
    }

    async fn unlock(
        &self,
        request: Request<UnlockRequest>,
    ) -> Result<Response<PbUnlockResponse>, Status> {
        let process = peer(&request);
        let key = request.into_inner().key;
        self.0
            .run(move |local, _| async move {
                let s = Session {
                    local: &local,
                    process: &process,
                };
                let deleted = s.delete(key).await.map_err(to_status)?;
                Ok(PbUnlockResponse {
                    header: convert::header(deleted.header),
                })
            })
            .await
            .map(Response::new)
    }
}
