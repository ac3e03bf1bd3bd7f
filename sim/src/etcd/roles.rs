//! `EtcdRoles`: etcd's members as the world sees them — the status board they publish plus
//! the world's crash state — and its answer to the fault plan's role questions: `leader` (the
//! running leader with the highest term), `follower` (a running non-leader), and the
//! membership `minority` and `majority` split.

use std::collections::BTreeMap;

use crate::etcd::cluster::member_name;
use crate::etcd::member::{MemberStatus, Role, StatusBoard};
use crate::etcd::request::MemberId;
use crate::world::fault::RoleResolver;
use crate::world::sim::World;

/// etcd's members in a world (`Cluster::roles`, `EtcdCluster::roles`). Cheap to clone: the
/// board is shared with the members that publish to it.
#[derive(Clone, Debug)]
pub struct EtcdRoles {
    board: StatusBoard,
    members: usize,
}

impl EtcdRoles {
    pub(crate) fn new(board: StatusBoard, members: usize) -> Self {
        EtcdRoles { board, members }
    }

    /// Member host names, `n1`..`nN`.
    pub fn member_names(&self) -> Vec<String> {
        (1..=self.members as u64).map(member_name).collect()
    }

    /// Every member's status as it last published it, `running` false for crashed ones.
    pub fn status(&self, world: &World) -> BTreeMap<MemberId, MemberStatus> {
        let mut status = self.board.borrow().clone();
        for (id, s) in status.iter_mut() {
            if world.is_crashed(&member_name(*id)) {
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

impl RoleResolver for EtcdRoles {
    fn members(&self, _world: &World) -> Vec<String> {
        self.member_names()
    }

    fn leader(&self, world: &World) -> Option<String> {
        EtcdRoles::leader(self, world).map(|(id, _)| member_name(id))
    }

    fn followers(&self, world: &World) -> Vec<String> {
        self.status(world)
            .iter()
            .filter(|(_, s)| s.running && s.role != Role::Leader)
            .map(|(id, _)| member_name(*id))
            .collect()
    }
}
