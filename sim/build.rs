//! With the `grpc` feature: compile etcd's Lock and Election protos (`proto/`) with protox, a
//! pure-Rust protobuf compiler, into tonic servers. Their messages that etcd-client already
//! generates (headers, key-values, the responses and `LeaderKey`) are mapped to etcd-client's
//! types, so a response built here is the very type the client decodes.

fn main() {
    #[cfg(feature = "grpc")]
    compile_protos();
}

#[cfg(feature = "grpc")]
fn compile_protos() {
    let files = ["v3lockpb/v3lock.proto", "v3electionpb/v3election.proto"];
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(files, ["proto"]).expect("proto/ compiles");
    let pb = "::etcd_client::proto";
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .extern_path(
            ".etcdserverpb.ResponseHeader",
            format!("{pb}::PbResponseHeader"),
        )
        .extern_path(".mvccpb.KeyValue", format!("{pb}::PbKeyValue"))
        .extern_path(".v3lockpb.LockResponse", format!("{pb}::PbLockResponse"))
        .extern_path(
            ".v3lockpb.UnlockResponse",
            format!("{pb}::PbUnlockResponse"),
        )
        .extern_path(".v3electionpb.LeaderKey", format!("{pb}::PbLeaderKey"))
        .extern_path(
            ".v3electionpb.CampaignResponse",
            format!("{pb}::PbCampaignResponse"),
        )
        .extern_path(
            ".v3electionpb.ProclaimResponse",
            format!("{pb}::PbProclaimResponse"),
        )
        .extern_path(
            ".v3electionpb.LeaderResponse",
            format!("{pb}::PbLeaderResponse"),
        )
        .extern_path(
            ".v3electionpb.ResignResponse",
            format!("{pb}::PbResignResponse"),
        )
        .compile_fds(fds)
        .expect("tonic code generates");
}
