//! etcd's v3 gRPC API inside the simulation (feature `grpc`): unmodified `etcd-client` code
//! against the simulated Raft cluster.
//!
//! Every member with [`MemberConfig::grpc`](crate::MemberConfig::grpc) serves KV, Watch,
//! Lease, Cluster, Maintenance, Lock and Election on port 2379 over turmoil TCP, each request
//! going through the member's own path (Raft, MVCC, lessor, watch polls) as `locksim ctl`'s do,
//! with etcd's gRPC codes and messages. Code in any simulated host gets an
//! `etcd_client::Client` from [`connect`].
//!
//! # Layout
//! * `server`: the tonic server on turmoil TCP, the peer's host name on every request.
//! * `local`: the member-side half (`Local`: in-process calls, the history records) and the
//!   `Send` half tonic's handlers hold (`Front`).
//! * `kv`, `lease`, `watch`, `maintenance` (Cluster + Maintenance): etcdserverpb's services.
//! * `concurrency`, `lock`, `election`: v3lock and v3election on concurrency's recipes.
//! * `convert`, `status`: etcd's wire types and statuses.
//! * `connect`: the client side, a deterministic failover channel over turmoil TCP.
//! * `calls`: member requests sent through `etcd_client` (`Driver::over_grpc`).

mod calls;
mod concurrency;
mod connect;
mod convert;
mod election;
mod kv;
mod lease;
mod local;
mod lock;
mod maintenance;
mod server;
mod status;
mod watch;

pub(crate) use calls::serve_ctl;
pub use connect::{connect, GrpcOptions};
pub(crate) use local::FrontContext;
pub(crate) use server::serve;

/// The Lock and Election services, compiled from `sim/proto` by `build.rs`.
#[allow(missing_docs, clippy::all)]
pub(crate) mod pb {
    pub(crate) mod v3lockpb {
        tonic::include_proto!("v3lockpb");
    }
    pub(crate) mod v3electionpb {
        tonic::include_proto!("v3electionpb");
    }
}
