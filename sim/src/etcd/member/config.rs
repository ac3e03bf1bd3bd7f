//! What the cluster configures and sees of a member: its timing (`MemberConfig`, etcd's
//! defaults), its read mode, and the status board the harness reads without the network —
//! kept apart from the host so the cluster and the fault plan depend on these alone.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use raft::StateRole;

use crate::etcd::request::*;

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
    pub read_mode: ReadMode,
    /// Time an fsync of the Raft log takes (on the member's clock). 0: writes are durable at
    /// once. Above 0, a crash with `lose_unsynced` in that window loses them.
    pub fsync_latency: Duration,
    /// DELIBERATELY UNSAFE: send votes and append acks before the fsync that makes them true.
    /// Exists to show, with `crash --lose-unsynced`, the bug the normal order prevents.
    pub send_before_fsync: bool,
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
        }
    }
}

impl MemberConfig {
    pub fn election_timeout(&self) -> Duration {
        self.heartbeat_interval * self.election_ticks as u32
    }

    /// etcd's minimum lease TTL: ceil(1.5 × election timeout) in seconds.
    pub fn min_lease_ttl_secs(&self) -> i64 {
        crate::etcd::lease::min_lease_ttl(self.election_ticks, self.heartbeat_interval)
    }
}

/// What the world can see of a member without asking it over the network: used by the harness
/// (leader lookup, role targets, `endpoint status` of a crashed member) — never by members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberStatus {
    pub running: bool,
    pub role: Role,
    pub term: u64,
    pub leader: MemberId,
    pub commit: u64,
    pub applied: u64,
    pub last_index: u64,
    pub revision: Revision,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    #[default]
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl From<StateRole> for Role {
    fn from(r: StateRole) -> Self {
        match r {
            StateRole::Follower => Role::Follower,
            StateRole::PreCandidate => Role::PreCandidate,
            StateRole::Candidate => Role::Candidate,
            StateRole::Leader => Role::Leader,
        }
    }
}

/// Shared view of every member's status, kept by the cluster.
pub type StatusBoard = Rc<RefCell<BTreeMap<MemberId, MemberStatus>>>;
