//! etcdserverpb.Cluster (MemberList) and etcdserverpb.Maintenance (Status, Alarm). The
//! simulated cluster's membership is fixed and it raises no alarms; the reconfiguration and
//! disk-management calls are answered with Unimplemented, naming what is not simulated.

use etcd_client::proto::{
    PbAlarmRequest, PbAlarmResponse, PbClusterService, PbDefragmentRequest, PbDefragmentResponse,
    PbDowngradeRequest, PbDowngradeResponse, PbHashKvRequest, PbHashKvResponse, PbHashRequest,
    PbHashResponse, PbMaintenanceService, PbMember, PbMemberAddRequest, PbMemberAddResponse,
    PbMemberListRequest, PbMemberListResponse, PbMemberPromoteRequest, PbMemberPromoteResponse,
    PbMemberRemoveRequest, PbMemberRemoveResponse, PbMemberUpdateRequest, PbMemberUpdateResponse,
    PbMoveLeaderRequest, PbMoveLeaderResponse, PbSnapshotRequest, PbSnapshotResponse,
    PbStatusRequest, PbStatusResponse,
};
use tonic::{Request, Response, Status};

use super::convert;
use super::local::{expect_response, to_status, Front};
use crate::etcd::transport::{ClientRequest, CLIENT_PORT, PEER_PORT};

fn not_simulated(what: &str) -> Status {
    Status::unimplemented(format!(
        "locksim: {what} is not simulated (the cluster's membership and disk are fixed)"
    ))
}

pub(crate) struct Cluster(pub(crate) Front);

#[tonic::async_trait]
impl PbClusterService for Cluster {
    async fn member_add(
        &self,
        _: Request<PbMemberAddRequest>,
    ) -> Result<Response<PbMemberAddResponse>, Status> {
        Err(not_simulated("MemberAdd"))
    }

    async fn member_remove(
        &self,
        _: Request<PbMemberRemoveRequest>,
    ) -> Result<Response<PbMemberRemoveResponse>, Status> {
        Err(not_simulated("MemberRemove"))
    }

    async fn member_update(
        &self,
        _: Request<PbMemberUpdateRequest>,
    ) -> Result<Response<PbMemberUpdateResponse>, Status> {
        Err(not_simulated("MemberUpdate"))
    }

    /// Served from the member's own view, as etcd 3.4 serves it (no linearizable option).
    async fn member_list(
        &self,
        _: Request<PbMemberListRequest>,
    ) -> Result<Response<PbMemberListResponse>, Status> {
        self.0
            .run(|local, _| async move {
                let header = local.header().await.map_err(to_status)?;
                let members = local
                    .members()
                    .iter()
                    .enumerate()
                    .map(|(i, name)| PbMember {
                        id: i as u64 + 1,
                        name: name.clone(),
                        peer_ur_ls: vec![format!("http://{name}:{PEER_PORT}")],
                        client_ur_ls: vec![format!("http://{name}:{CLIENT_PORT}")],
                        is_learner: false,
                    })
                    .collect();
                Ok(PbMemberListResponse {
                    header: convert::header(header),
                    members,
                })
            })
            .await
            .map(Response::new)
    }

    async fn member_promote(
        &self,
        _: Request<PbMemberPromoteRequest>,
    ) -> Result<Response<PbMemberPromoteResponse>, Status> {
        Err(not_simulated("MemberPromote"))
    }
}

pub(crate) struct Maintenance(pub(crate) Front);

#[tonic::async_trait]
impl PbMaintenanceService for Maintenance {
    /// No alarm is ever raised here (no quota, no corruption check): GET lists none.
    async fn alarm(&self, _: Request<PbAlarmRequest>) -> Result<Response<PbAlarmResponse>, Status> {
        self.0
            .run(|local, _| async move {
                let header = local.header().await.map_err(to_status)?;
                Ok(PbAlarmResponse {
                    header: convert::header(header),
                    alarms: Vec::new(),
                })
            })
            .await
            .map(Response::new)
    }

    async fn status(
        &self,
        _: Request<PbStatusRequest>,
    ) -> Result<Response<PbStatusResponse>, Status> {
        self.0
            .run(|local, _| async move {
                let result = local.ask(ClientRequest::Status).await;
                expect_response!(result, Status)
                    .map(convert::status_response)
                    .map_err(to_status)
            })
            .await
            .map(Response::new)
    }

    async fn defragment(
        &self,
        _: Request<PbDefragmentRequest>,
    ) -> Result<Response<PbDefragmentResponse>, Status> {
        Err(not_simulated("Defragment"))
    }

    async fn hash(&self, _: Request<PbHashRequest>) -> Result<Response<PbHashResponse>, Status> {
        Err(not_simulated("Hash"))
    }

    async fn hash_kv(
        &self,
        _: Request<PbHashKvRequest>,
    ) -> Result<Response<PbHashKvResponse>, Status> {
        Err(not_simulated("HashKV"))
    }

    type SnapshotStream = tonic::codegen::BoxStream<PbSnapshotResponse>;

    async fn snapshot(
        &self,
        _: Request<PbSnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        Err(not_simulated("Snapshot"))
    }

    async fn move_leader(
        &self,
        _: Request<PbMoveLeaderRequest>,
    ) -> Result<Response<PbMoveLeaderResponse>, Status> {
        Err(not_simulated("MoveLeader"))
    }

    async fn downgrade(
        &self,
        _: Request<PbDowngradeRequest>,
    ) -> Result<Response<PbDowngradeResponse>, Status> {
        Err(not_simulated("Downgrade"))
    }
}
