//! v3electionpb.Election, as etcd's `v3election` serves it on concurrency's election: the
//! leader is the oldest key under `name/`; Campaign queues the caller's key (on its lease) and
//! waits for every older one to go; Proclaim and Resign act only while the leader key still has
//! the create revision the caller was elected with; Observe streams each leader's values.

use std::rc::Rc;

use etcd_client::proto::{
    PbCampaignResponse, PbLeaderKey, PbLeaderResponse, PbProclaimResponse, PbResignResponse,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status};

use super::concurrency::{created_at, first_created, prefix_of, queue_key, unless_gone, Session};
use super::convert;
use super::local::{to_status, Front, Local};
use super::pb::v3electionpb::election_server::Election as ElectionService;
use super::pb::v3electionpb::{CampaignRequest, LeaderRequest, ProclaimRequest, ResignRequest};
use super::server::peer;
use crate::etcd::error::Result;
use crate::etcd::request::*;
use crate::etcd::transport::WatchRequest;

pub(crate) struct Election(pub(crate) Front);

/// concurrency's `ErrElectionNotLeader` (a plain Go error: code Unknown).
fn not_leader() -> Status {
    Status::unknown("election: not leader")
}

/// concurrency's `ErrElectionNoLeader`.
fn no_leader() -> Status {
    Status::unknown("election: no leader")
}

/// v3election's `ErrMissingLeaderKey`.
fn missing_leader() -> Status {
    Status::unknown("\"leader\" field must be provided")
}

/// Put `value` on the leader key if it still has the create revision it was elected with.
async fn proclaim(s: &Session<'_>, leader: &PbLeaderKey, value: Vec<u8>) -> Result<TxnResponse> {
    s.txn(TxnRequest {
        compare: vec![created_at(&leader.key, leader.rev)],
        success: vec![RequestOp::Put(PutRequest {
            key: leader.key.clone(),
            value,
            lease: leader.lease,
            ..Default::default()
        })],
        failure: Vec::new(),
    })
    .await
}

/// Delete the leader key if it still has the create revision it was elected with.
async fn resign(s: &Session<'_>, leader: &PbLeaderKey) -> Result<TxnResponse> {
    s.txn(TxnRequest {
        compare: vec![created_at(&leader.key, leader.rev)],
        success: vec![RequestOp::DeleteRange(DeleteRangeRequest {
            key: leader.key.clone(),
            ..Default::default()
        })],
        failure: Vec::new(),
    })
    .await
}

#[tonic::async_trait]
impl ElectionService for Election {
    async fn campaign(
        &self,
        request: Request<CampaignRequest>,
    ) -> std::result::Result<Response<PbCampaignResponse>, Status> {
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
                let enter = TxnRequest {
                    compare: vec![created_at(&key, 0)],
                    success: vec![RequestOp::Put(PutRequest {
                        key: key.clone(),
                        value: r.value.clone(),
                        lease,
                        ..Default::default()
                    })],
                    failure: vec![RequestOp::Range(RangeRequest {
                        key: key.clone(),
                        ..Default::default()
                    })],
                };
                let entered = unless_gone(&mut gone, s.txn(enter)).await?;
                let mut leader = PbLeaderKey {
                    name: r.name,
                    key,
                    rev: entered.header.revision,
                    lease,
                };
                if !entered.succeeded {
                    let Some(ResponseOp::Range(own)) = entered.responses.first() else {
                        unreachable!("the failure branch is one range");
                    };
                    let kv = own
                        .kvs
                        .first()
                        .expect("the compare failed, so the key exists");
                    leader.rev = kv.create_revision;
                    if kv.value != r.value {
                        let proclaimed =
                            unless_gone(&mut gone, proclaim(&s, &leader, r.value)).await;
                        let failed = match proclaimed {
                            Ok(t) if t.succeeded => None,
                            Ok(_) => Some(not_leader()),
                            Err(status) => Some(status),
                        };
                        if let Some(status) = failed {
                            let _ = resign(&s, &leader).await;
                            return Err(status);
                        }
                    }
                }
                let waited = tokio::select! {
                    biased;
                    result = s.wait_deletes(&prefix, leader.rev - 1) => result.map_err(to_status),
                    _ = gone.wait() => {
                        // The caller gave up: leave the election again.
                        let _ = resign(&s, &leader).await;
                        Err(Status::cancelled("context canceled"))
                    }
                };
                waited?;
                Ok(PbCampaignResponse {
                    header: convert::header(entered.header),
                    leader: Some(leader),
                })
            })
            .await
            .map(Response::new)
    }

    async fn proclaim(
        &self,
        request: Request<ProclaimRequest>,
    ) -> std::result::Result<Response<PbProclaimResponse>, Status> {
        let process = peer(&request);
        let r = request.into_inner();
        let leader = r.leader.ok_or_else(missing_leader)?;
        self.0
            .run(move |local, _| async move {
                let s = Session {
                    local: &local,
                    process: &process,
                };
                let done = proclaim(&s, &leader, r.value).await.map_err(to_status)?;
                if !done.succeeded {
                    return Err(not_leader());
                }
                Ok(PbProclaimResponse {
                    header: convert::header(done.header),
                })
            })
            .await
            .map(Response::new)
    }

    async fn leader(
        &self,
        request: Request<LeaderRequest>,
    ) -> std::result::Result<Response<PbLeaderResponse>, Status> {
        let process = peer(&request);
        let name = request.into_inner().name;
        self.0
            .run(move |local, _| async move {
                let s = Session {
                    local: &local,
                    process: &process,
                };
                let head = s
                    .get(first_created(&prefix_of(&name)))
                    .await
                    .map_err(to_status)?;
                let kv = head.kvs.into_iter().next().ok_or_else(no_leader)?;
                Ok(PbLeaderResponse {
                    header: convert::header(head.header),
                    kv: Some(convert::key_value(kv)),
                })
            })
            .await
            .map(Response::new)
    }

    type ObserveStream = UnboundedReceiverStream<std::result::Result<PbLeaderResponse, Status>>;

    async fn observe(
        &self,
        request: Request<LeaderRequest>,
    ) -> std::result::Result<Response<Self::ObserveStream>, Status> {
        let process = peer(&request);
        let name = request.into_inner().name;
        let (out, rx) = mpsc::unbounded_channel();
        self.0.spawn(move |local| async move {
            if let Err(e) = observe(local, &process, &name, &out).await {
                let _ = out.send(Err(to_status(e)));
            }
        })?;
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }

    async fn resign(
        &self,
        request: Request<ResignRequest>,
    ) -> std::result::Result<Response<PbResignResponse>, Status> {
        let process = peer(&request);
        let leader = request.into_inner().leader.ok_or_else(missing_leader)?;
        self.0
            .run(move |local, _| async move {
                let s = Session {
                    local: &local,
                    process: &process,
                };
                let done = resign(&s, &leader).await.map_err(to_status)?;
                Ok(PbResignResponse {
                    header: convert::header(done.header),
                })
            })
            .await
            .map(Response::new)
    }
}

type Out = mpsc::UnboundedSender<std::result::Result<PbLeaderResponse, Status>>;

/// concurrency's `observe`: the current leader's value, then each new value of its key until it
/// is deleted, then the next leader's; returns when the caller has gone.
async fn observe(local: Rc<Local>, process: &str, name: &[u8], out: &Out) -> Result<()> {
    let s = Session {
        local: &local,
        process,
    };
    let prefix = prefix_of(name);
    loop {
        let head = s.get(first_created(&prefix)).await?;
        let (mut header, kv) = match head.kvs.into_iter().next() {
            Some(kv) => (head.header, kv),
            None => {
                // No leader yet: wait for the first put under the prefix.
                let mut poll = WatchRequest {
                    range_end: prefix_end(&prefix),
                    key: prefix.clone(),
                    start_revision: head.header.revision,
                    ..Default::default()
                };
                loop {
                    let batch = s.next_events(&mut poll).await?;
                    let put = batch.events.into_iter().find(|e| e.kind == EventType::Put);
                    if let Some(event) = put {
                        let mut header = batch.header;
                        header.revision = event.kv.mod_revision;
                        break (header, event.kv);
                    }
                }
            }
        };
        let send = |header: ResponseHeader, kv: KeyValue| {
            out.send(Ok(PbLeaderResponse {
                header: convert::header(header),
                kv: Some(convert::key_value(kv)),
            }))
            .is_ok()
        };
        let mut poll = WatchRequest {
            key: kv.key.clone(),
            start_revision: header.revision + 1,
            ..Default::default()
        };
        if !send(header, kv) {
            return Ok(());
        }
        'leader: loop {
            let batch = s.next_events(&mut poll).await?;
            header = batch.header;
            for event in batch.events {
                if event.kind == EventType::Delete {
                    break 'leader;
                }
                if !send(header, event.kv) {
                    return Ok(());
                }
            }
        }
    }
}
