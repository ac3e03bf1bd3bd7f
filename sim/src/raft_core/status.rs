//! What the world sees of a Raft node without asking it over the network — its role, term,
//! leader and indexes on a shared status board — used by the harness (leader lookup, role
//! targets, `endpoint status` of a crashed member), never by the nodes themselves.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use raft::StateRole;

/// What the world can see of a member without asking it over the network: used by the harness
/// (leader lookup, role targets, `endpoint status` of a crashed member) — never by members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberStatus {
    /// False while the member's host is crashed; a paused member still shows true.
    pub running: bool,
    /// Its Raft role.
    pub role: Role,
    /// Its current Raft term.
    pub term: u64,
    /// The leader it knows of; 0 = none.
    pub leader: u64,
    /// Its Raft commit index.
    pub commit: u64,
    /// Last log index it applied to its state machine.
    pub applied: u64,
    /// Last index of its Raft log (committed or not).
    pub last_index: u64,
    /// Its store's current revision (etcd) or last zxid (ZooKeeper), as of what it applied.
    pub revision: i64,
}

/// A member's Raft role, as raft-rs's `StateRole`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Follows a leader, or waits for an election timeout (also the role of a fresh or restarted
    /// member).
    #[default]
    Follower,
    /// Running a pre-vote (Raft §9.6): asks whether it could win before raising its term.
    PreCandidate,
    /// Asking for votes in a new term.
    Candidate,
    /// The leader of its term.
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
pub type StatusBoard = Rc<RefCell<BTreeMap<u64, MemberStatus>>>;
