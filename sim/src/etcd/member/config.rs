//! What the cluster configures and sees of a member: its timing (`MemberConfig`, etcd's
//! defaults) and its read mode — kept apart from the host so the cluster depends on these alone
//! (the status it publishes is `raft_core::status`, every Raft store's).

use std::time::Duration;

/// The cluster id every response header carries (etcd derives one from the member URLs; a
/// simulated cluster has one fixed id).
pub const CLUSTER_ID: u64 = 0x6c6f_636b_7369_6d00; // "locksim\0"

/// How linearizable reads are served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadMode {
    /// ReadIndex confirmed by a quorum heartbeat (`ReadOnlyOption::Safe`), etcd's default.
    #[default]
    Safe,
    /// ReadIndex on the leader's lease (`ReadOnlyOption::LeaseBased`): cheaper, and stale when
    /// the old leader is paused and resumes — offered to show exactly that.
    LeaseBased,
}

/// Timing and sizing of one member. Defaults are etcd's.
#[derive(Clone, Debug)]
pub struct MemberConfig {
    /// Raft tick and leader heartbeat period, on the member's own clock (etcd
    /// `--heartbeat-interval`, default 100 ms).
    pub heartbeat_interval: Duration,
    /// Election timeout in heartbeats (etcd: 1000 ms / 100 ms = 10).
    pub election_ticks: usize,
    /// Applied entries between snapshots (etcd `--snapshot-count`, default 100 000).
    pub snapshot_count: u64,
    /// Entries kept behind a snapshot for slow followers (etcd: 5 000).
    pub snapshot_catchup_entries: u64,
    /// How often the leader looks for expired leases (etcd: 500 ms).
    pub lease_revoke_interval: Duration,
    /// How long a watch poll is held open without events.
    pub watch_poll: Duration,
    /// Pending proposals and reads are forgotten after this (the client gave up long before).
    pub request_timeout: Duration,
    /// How linearizable reads are confirmed (see [`ReadMode`]); etcd's is `Safe`.
    pub read_mode: ReadMode,
    /// Time an fsync of the Raft log takes (on the member's clock). 0: writes are durable at
    /// once. Above 0, a crash with `lose_unsynced` in that window loses them.
    pub fsync_latency: Duration,
    /// DELIBERATELY UNSAFE: send votes and append acks before the fsync that makes them true.
    /// Exists to show, with `crash --lose-unsynced`, the bug the normal order prevents.
    pub send_before_fsync: bool,
    /// Serve etcd's v3 gRPC API on TCP port 2379 (feature `grpc`; `etcd_client` code reaches it
    /// through `sim::grpc::connect`). Off by default: a run without gRPC
    /// clients spawns no server, so its history stays what it was.
    pub grpc: bool,
}

impl Default for MemberConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_millis(100),
            election_ticks: 10,
            snapshot_count: 100_000,
            snapshot_catchup_entries: 5_000,
            lease_revoke_interval: Duration::from_millis(500),
            watch_poll: Duration::from_millis(1000),
            request_timeout: Duration::from_secs(10),
            read_mode: ReadMode::Safe,
            fsync_latency: Duration::ZERO,
            send_before_fsync: false,
            grpc: false,
        }
    }
}

impl MemberConfig {
    /// The election timeout, `heartbeat_interval × election_ticks` (etcd `--election-timeout`,
    /// default 1 s). Each randomized timeout is drawn from `[1, 2)` times this, in whole ticks,
    /// from the member's seeded RNG.
    pub fn election_timeout(&self) -> Duration {
        self.heartbeat_interval * self.election_ticks as u32
    }

    /// etcd's minimum lease TTL: ceil(1.5 × election timeout) in seconds.
    pub fn min_lease_ttl_secs(&self) -> i64 {
        crate::etcd::lease::min_lease_ttl(self.election_ticks, self.heartbeat_interval)
    }
}
