//! etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact, each one request on the member's
//! own path (Raft for writes, ReadIndex for linearizable reads), recorded under the peer.

use etcd_client::proto::{
    PbCompactionRequest, PbCompactionResponse, PbDeleteRequest, PbDeleteResponse, PbKvService,
    PbPutRequest, PbPutResponse, PbRangeRequest, PbRangeResponse, PbRangeStreamResponse,
    PbTxnRequest, PbTxnResponse,
};
use tonic::{Request, Response, Status};

use super::convert;
use super::local::{expect_response, to_status, Front};
use super::server::peer;
use crate::etcd::request::CompactionRequest;
use crate::etcd::transport::ClientRequest;

pub(crate) struct Kv(pub(crate) Front);

#[tonic::async_trait]
impl PbKvService for Kv {
    async fn range(
        &self,
        request: Request<PbRangeRequest>,
    ) -> Result<Response<PbRangeResponse>, Status> {
        let process = peer(&request);
        let range = convert::range_request(request.into_inner())?;
        self.0
            .run(move |local, _| async move {
                let result = local.call(&process, ClientRequest::Range(range)).await;
                expect_response!(result, Range)
                    .map(convert::range_response)
                    .map_err(to_status)
            })
            .await
            .map(Response::new)
    }

    type RangeStreamStream = tonic::codegen::BoxStream<PbRangeStreamResponse>;

    /// Not in etcd 3.4: its server answers an unknown method with Unimplemented, as here.
    async fn range_stream(
        &self,
        _request: Request<PbRangeRequest>,
    ) -> Result<Response<Self::RangeStreamStream>, Status> {
        Err(Status::unimplemented(
            "unknown method RangeStream for service etcdserverpb.KV",
        ))
    }

    async fn put(&self, request: Request<PbPutRequest>) -> Result<Response<PbPutResponse>, Status> {
        let process = peer(&request);
        let put = convert::put_request(request.into_inner());
        self.0
            .run(move |local, _| async move {
                let result = local.call(&process, ClientRequest::Put(put)).await;
                expect_response!(result, Put)
                    .map(convert::put_response)
                    .map_err(to_status)
            })
            .await
            .map(Response::new)
    }

    async fn delete_range(
        &self,
        request: Request<PbDeleteRequest>,
    ) -> Result<Response<PbDeleteResponse>, Status> {
        let process = peer(&request);
        let delete = convert::delete_request(request.into_inner());
        self.0
            .run(move |local, _| async move {
                let result = local
                    .call(&process, ClientRequest::DeleteRange(delete))
                    .await;
                expect_response!(result, DeleteRange)
                    .map(convert::delete_response)
                    .map_err(to_status)
            })
            .await
            .map(Response::new)
    }

    async fn txn(&self, request: Request<PbTxnRequest>) -> Result<Response<PbTxnResponse>, Status> {
        let process = peer(&request);
        let txn = convert::txn_request(request.into_inner())?;
        self.0
            .run(move |local, _| async move {
                let result = local.call(&process, ClientRequest::Txn(txn)).await;
                expect_response!(result, Txn)
                    .map(convert::txn_response)
                    .map_err(to_status)
            })
            .await
            .map(Response::new)
    }

    async fn compact(
        &self,
        request: Request<PbCompactionRequest>,
    ) -> Result<Response<PbCompactionResponse>, Status> {
        let process = peer(&request);
        let revision = request.into_inner().revision;
        self.0
            .run(move |local, _| async move {
                let compact = ClientRequest::Compact(CompactionRequest { revision });
                let result = local.call(&process, compact).await;
                expect_response!(result, Compact)
                    .map(|r| PbCompactionResponse {
                        header: convert::header(r.header),
                    })
                    .map_err(to_status)
            })
            .await
            .map(Response::new)
    }
}
