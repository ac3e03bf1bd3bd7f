//! `RaftRoles`: a Raft store's nodes (etcd's members, a ZooKeeper ensemble's servers) as the
//! world sees them — the status board they publish plus the world's crash state — and its
//! answer to the fault plan's role questions: `leader` (the running leader with the highest
//! term), `follower` (a running non-leader), and the membership `minority` and `majority` split.

use std::collections::BTreeMap;

use crate::raft_core::status::{MemberStatus, Role, StatusBoard};
use crate::world::fault::RoleResolver;
use crate::world::sim::World;

type MemberId = u64;

/// A Raft store's nodes in a world (`Cluster::roles`, `EtcdCluster::roles`, `ZkEnsemble::roles`).
/// Cheap to clone: the board is shared with the nodes that publish to it.
#[derive(Clone, Debug)]
pub struct RaftRoles {
    board: StatusBoard,
    members: usize,
    name: fn(MemberId) -> String,
}

/// etcd's roles: its members `n1..nN`.
pub type EtcdRoles = RaftRoles;

impl RaftRoles {
    /// `members` nodes publishing on `board`, node `id` being host `name(id)`.
    pub(crate) fn new(board: StatusBoard, members: usize, name: fn(MemberId) -> String) -> Self {
        RaftRoles {
            board,
            members,
            name,
        }
    }

    /// Node host names (`n1`..`nN`, `z1`..`zN`).
    pub fn member_names(&self) -> Vec<String> {
        (1..=self.members as u64).map(self.name).collect()
    }

    /// Every member's status as it last published it, `running` false for crashed ones.
    pub fn status(&self, world: &World) -> BTreeMap<MemberId, MemberStatus> {
        let mut status = self.board.borrow().clone();
        for (id, s) in status.iter_mut() {
            if world.is_crashed(&(self.name)(*id)) {
                s.running = false;
            }
        }
        status
    }

    /// The running leader with the highest term, if any.
    pub fn leader(&self, world: &World) -> Option<(MemberId, u64)> {
        self.status(world)
            .into_iter()
            .filter(|(_, s)| s.running && s.role == Role::Leader)
            .map(|(id, s)| (id, s.term))
            .max_by_key(|&(_, term)| term)
    }
}

impl RoleResolver for RaftRoles {
    fn members(&self, _world: &World) -> Vec<String> {
        self.member_names()
    }

    fn leader(&self, world: &World) -> Option<String> {
        RaftRoles::leader(self, world).map(|(id, _)| (self.name)(id))
    }

    fn followers(&self, world: &World) -> Vec<String> {
        self.status(world)
            .iter()
            .filter(|(_, s)| s.running && s.role != Role::Leader)
            .map(|(id, _)| (self.name)(*id))
            .collect()
    }
}
