//! `EtcdRoles`: etcd's answer to the fault plan's role questions — `leader` (the running leader
//! with the highest term), `follower` (a running non-leader), and the membership `minority` and
//! `majority` split — read from the members' status board and the world's crash state.

use crate::etcd::cluster::member_name;
use crate::etcd::member::{Role, StatusBoard};
use crate::world::fault::RoleResolver;
use crate::world::sim::World;

/// etcd's roles in a world (`Cluster::roles`, `EtcdCluster::roles`).
#[derive(Clone, Debug)]
pub struct EtcdRoles {
    board: StatusBoard,
    members: usize,
}

impl EtcdRoles {
    pub(crate) fn new(board: StatusBoard, members: usize) -> Self {
        EtcdRoles { board, members }
    }

    /// Running members and their roles, by id.
    fn running(&self, world: &World) -> Vec<(String, Role, u64)> {
        self.board
            .borrow()
            .iter()
            .map(|(id, s)| (member_name(*id), s))
            .filter(|(name, s)| s.running && !world.is_crashed(name))
            .map(|(name, s)| (name, s.role, s.term))
            .collect()
    }
}

impl RoleResolver for EtcdRoles {
    fn members(&self, _world: &World) -> Vec<String> {
        (1..=self.members as u64).map(member_name).collect()
    }

    fn leader(&self, world: &World) -> Option<String> {
        self.running(world)
            .into_iter()
            .filter(|(_, role, _)| *role == Role::Leader)
            .max_by_key(|(_, _, term)| *term)
            .map(|(name, _, _)| name)
    }

    fn followers(&self, world: &World) -> Vec<String> {
        self.running(world)
            .into_iter()
            .filter(|(_, role, _)| *role != Role::Leader)
            .map(|(name, _, _)| name)
            .collect()
    }
}
