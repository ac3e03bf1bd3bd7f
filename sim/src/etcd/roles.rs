//! `EtcdRoles`: etcd's answer to the fault plan's role questions — `leader` (the running leader
//! with the highest term), `follower` (a running non-leader), and the membership `minority` and
//! `majority` split — read from the members' status board.

use crate::etcd::cluster::{member_name, Cluster};
use crate::etcd::member::Role;
use crate::world::fault::RoleResolver;

/// etcd's roles in a world with etcd members (none in a world without).
#[derive(Clone, Copy, Debug, Default)]
pub struct EtcdRoles;

impl RoleResolver for EtcdRoles {
    fn members(&self, world: &Cluster) -> Vec<String> {
        world.member_names()
    }

    fn leader(&self, world: &Cluster) -> Option<String> {
        world.leader().map(|(id, _)| member_name(id))
    }

    fn followers(&self, world: &Cluster) -> Vec<String> {
        world
            .status()
            .iter()
            .filter(|(_, s)| s.running && s.role != Role::Leader)
            .map(|(id, _)| member_name(*id))
            .collect()
    }
}
