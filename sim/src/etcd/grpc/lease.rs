//! etcdserverpb.Lease: Grant and Revoke through Raft; KeepAlive (a stream) and TimeToLive
//! answered by the leader, forwarded there by a follower as etcd forwards them; Leases from
//! the member's own lease table.

use etcd_client::proto::{
    PbLeaseGrantRequest, PbLeaseGrantResponse, PbLeaseKeepAliveRequest, PbLeaseKeepAliveResponse,
    PbLeaseLeasesRequest, PbLeaseLeasesResponse, PbLeaseRevokeRequest, PbLeaseRevokeResponse,
    PbLeaseService, PbLeaseTimeToLiveRequest, PbLeaseTimeToLiveResponse,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert;
use super::local::{expect_response, to_status, Front};
use super::server::peer;
use crate::etcd::error::Error;
use crate::etcd::request::*;
use crate::etcd::transport::ClientRequest;

pub(crate) struct Lease(pub(crate) Front);

#[tonic::async_trait]
impl PbLeaseService for Lease {
    async fn lease_grant(
        &self,
        request: Request<PbLeaseGrantRequest>,
    ) -> Result<Response<PbLeaseGrantResponse>, Status> {
        let process = peer(&request);
        let r = request.into_inner();
        self.0
            .run(move |local, _| async move {
                let grant = ClientRequest::LeaseGrant(LeaseGrantRequest {
                    ttl: r.ttl,
                    id: r.id,
                });
                let result = local.call(&process, grant).await;
                expect_response!(result, LeaseGrant)
                    .map(convert::lease_grant_response)
                    .map_err(to_status)
            })
            .await
            .map(Response::new)
    }

    async fn lease_revoke(
        &self,
        request: Request<PbLeaseRevokeRequest>,
    ) -> Result<Response<PbLeaseRevokeResponse>, Status> {
        let process = peer(&request);
        let id = request.into_inner().id;
        self.0
            .run(move |local, _| async move {
                let revoke = ClientRequest::LeaseRevoke(LeaseRevokeRequest { id });
                let result = local.call(&process, revoke).await;
                expect_response!(result, LeaseRevoke)
                    .map(convert::lease_revoke_response)
                    .map_err(to_status)
            })
            .await
            .map(Response::new)
    }

    type LeaseKeepAliveStream = UnboundedReceiverStream<Result<PbLeaseKeepAliveResponse, Status>>;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<PbLeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let process = peer(&request);
        let mut inbound = request.into_inner();
        let (out, rx) = mpsc::unbounded_channel();
        self.0.spawn(move |local| async move {
            while let Ok(Some(r)) = inbound.message().await {
                let renew = ClientRequest::LeaseKeepAlive(LeaseKeepAliveRequest { id: r.id });
                let answer =
                    match expect_response!(local.call(&process, renew).await, LeaseKeepAlive) {
                        Ok(r) => Ok(convert::keep_alive_response(r)),
                        // etcd answers an unknown or expired lease with TTL 0, not an error.
                        Err(Error::LeaseNotFound) => match local.header().await {
                            Ok(header) => Ok(PbLeaseKeepAliveResponse {
                                header: convert::header(header),
                                id: r.id,
                                ttl: 0,
                            }),
                            Err(e) => Err(to_status(e)),
                        },
                        Err(e) => Err(to_status(e)),
                    };
                let failed = answer.is_err();
                if out.send(answer).is_err() || failed {
                    return;
                }
            }
        })?;
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<PbLeaseTimeToLiveRequest>,
    ) -> Result<Response<PbLeaseTimeToLiveResponse>, Status> {
        let process = peer(&request);
        let r = request.into_inner();
        self.0
            .run(move |local, _| async move {
                let ttl = ClientRequest::LeaseTimeToLive(LeaseTimeToLiveRequest {
                    id: r.id,
                    keys: r.keys,
                });
                let result = local.call(&process, ttl).await;
                expect_response!(result, LeaseTimeToLive)
                    .map(convert::time_to_live_response)
                    .map_err(to_status)
            })
            .await
            .map(Response::new)
    }

    async fn lease_leases(
        &self,
        request: Request<PbLeaseLeasesRequest>,
    ) -> Result<Response<PbLeaseLeasesResponse>, Status> {
        let process = peer(&request);
        self.0
            .run(move |local, _| async move {
                let result = local.call(&process, ClientRequest::LeaseLeases).await;
                expect_response!(result, LeaseLeases)
                    .map(convert::leases_response)
                    .map_err(to_status)
            })
            .await
            .map(Response::new)
    }
}
