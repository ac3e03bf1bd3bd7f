//! Role resolution: what `leader`, `follower`, `minority`, `majority`, `holder` and `primary`
//! name right now. The world knows hosts, not roles; each store answers for its own roles
//! (etcd its Raft leader and members, the AP store its primary) and the lock harness for the
//! holder, by implementing [`RoleResolver`]. A fault plan is applied with the world's list of
//! resolvers; each question goes to them in order and the first that knows answers.

use crate::world::sim::World;

/// The roles one store (or harness) knows. Every method defaults to "nobody": a store answers
/// only for its own. `world` is the world as it is at this step (what is crashed, who is up).
pub trait RoleResolver {
    /// The consensus members in name order (etcd's, a ZooKeeper ensemble's): what `minority`
    /// and `majority` split. Crashed ones included: a minority is a share of the membership.
    fn members(&self, _world: &World) -> Vec<String> {
        Vec::new()
    }

    /// The running leader, if there is one now.
    fn leader(&self, _world: &World) -> Option<String> {
        None
    }

    /// Running members that are not the leader, in name order.
    fn followers(&self, _world: &World) -> Vec<String> {
        Vec::new()
    }

    /// The client that believes it holds the lock.
    fn holder(&self, _world: &World) -> Option<String> {
        None
    }

    /// The AP store's primary, in its sentinels' view.
    fn primary(&self, _world: &World) -> Option<String> {
        None
    }
}

/// A store that may be absent from a world (the AP store on an etcd run) answers nothing.
impl<R: RoleResolver> RoleResolver for Option<R> {
    fn members(&self, world: &World) -> Vec<String> {
        self.as_ref().map(|r| r.members(world)).unwrap_or_default()
    }
    fn leader(&self, world: &World) -> Option<String> {
        self.as_ref().and_then(|r| r.leader(world))
    }
    fn followers(&self, world: &World) -> Vec<String> {
        self.as_ref()
            .map(|r| r.followers(world))
            .unwrap_or_default()
    }
    fn holder(&self, world: &World) -> Option<String> {
        self.as_ref().and_then(|r| r.holder(world))
    }
    fn primary(&self, world: &World) -> Option<String> {
        self.as_ref().and_then(|r| r.primary(world))
    }
}

/// A world's resolvers asked as one: the first non-empty answer wins.
pub trait Roles {
    fn members(&self, world: &World) -> Vec<String>;
    fn leader(&self, world: &World) -> Option<String>;
    fn followers(&self, world: &World) -> Vec<String>;
    fn holder(&self, world: &World) -> Option<String>;
    fn primary(&self, world: &World) -> Option<String>;
}

fn first_list(
    roles: &[&dyn RoleResolver],
    ask: impl Fn(&dyn RoleResolver) -> Vec<String>,
) -> Vec<String> {
    roles
        .iter()
        .map(|r| ask(*r))
        .find(|l| !l.is_empty())
        .unwrap_or_default()
}

fn first_one(
    roles: &[&dyn RoleResolver],
    ask: impl Fn(&dyn RoleResolver) -> Option<String>,
) -> Option<String> {
    roles.iter().find_map(|r| ask(*r))
}

impl Roles for [&dyn RoleResolver] {
    fn members(&self, world: &World) -> Vec<String> {
        first_list(self, |r| r.members(world))
    }
    fn leader(&self, world: &World) -> Option<String> {
        first_one(self, |r| r.leader(world))
    }
    fn followers(&self, world: &World) -> Vec<String> {
        first_list(self, |r| r.followers(world))
    }
    fn holder(&self, world: &World) -> Option<String> {
        first_one(self, |r| r.holder(world))
    }
    fn primary(&self, world: &World) -> Option<String> {
        first_one(self, |r| r.primary(world))
    }
}
