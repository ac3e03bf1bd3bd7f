//! The hosts and roles of a scenario's world, as the runner registers them, and the check a
//! fault plan goes through against them. Why public: the runner, the explorer and the timeline
//! name hosts the same way.

use sim::{FaultPlan, Target};

use super::schema::Backend;

/// The roles a fault may aim at on `backend`, each of which names a host of that world at
/// some moment: `leader`, `follower`, `minority`, `majority` name etcd members or ZooKeeper
/// servers; `primary`
/// the redis backend's primary in the Sentinels' view; `holder` a client, on every backend.
/// Redlock has neither: its masters are independent, every one a primary.
///
/// Why an error rather than a fault that never fires: a role that names nobody makes its fault
/// wait for the first moment it does (`FaultInjector::apply_due`), so `crash leader` on a
/// Redis world would wait forever and the scenario would silently test nothing.
pub fn roles(backend: Backend) -> Vec<Target> {
    match backend {
        Backend::Etcd | Backend::Zk => vec![
            Target::Leader,
            Target::Follower,
            Target::Minority,
            Target::Majority,
            Target::Holder,
        ],
        Backend::Redis => vec![Target::Primary, Target::Holder],
        Backend::Redlock => vec![Target::Holder],
        Backend::Pg => vec![Target::Primary, Target::Holder],
    }
}

/// [`roles`] as a list for messages: `leader, follower, minority, majority, holder`.
pub fn role_names(backend: Backend) -> String {
    roles(backend)
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Err` (a message saying which roles the backend has) when `target` is a role that names
/// nobody on `backend`. Host names are checked against the host list elsewhere.
pub fn role_allowed(backend: Backend, target: &Target) -> Result<(), String> {
    if matches!(target, Target::Host(_)) || roles(backend).contains(target) {
        return Ok(());
    }
    let why = match (backend, target) {
        (Backend::Etcd, Target::Primary) => {
            "`primary` is the AP store's (backend redis); on etcd aim at the Raft `leader`"
        }
        (Backend::Redlock, Target::Primary) => {
            "Redlock's masters are independent, each its own primary; name one (r1, r2, …)"
        }
        (Backend::Pg, _) => {
            "PostgreSQL has a primary and standbys (p1, p2, …), and with standbys the etcd members n1..n3 its failover manager keeps the leader key in"
        }
        _ => "it names consensus members (etcd's, ZooKeeper's), and this world has none",
    };
    Err(format!(
        "role `{target}` means nothing on the {} backend: {why}; roles here: {}",
        backend.name(),
        role_names(backend)
    ))
}

/// Checks a fault plan as a scenario file's would be checked: hosts, roles, inverses
/// ([`FaultPlan::validate`]). What the explorer's generated plans go through, so that every
/// plan it prints is one `locksim run` accepts.
pub fn check_plan(
    backend: Backend,
    members: usize,
    clients: usize,
    plan: &FaultPlan,
) -> Result<(), sim::FaultError> {
    for (index, f) in plan.faults.iter().enumerate() {
        for t in f.fault.targets() {
            role_allowed(backend, t).map_err(|message| sim::FaultError {
                index,
                kind: f.fault.name(),
                at: f.at,
                message,
            })?;
        }
    }
    plan.validate(&hosts(backend, members, clients), members)
}

/// etcd members `n1..n3` of a `pg` backend with standbys: the failover manager's DCS.
pub const PATRONI_DCS: usize = 3;

/// Sentinels of the `redis` backend, `s1..s3`.
pub const SENTINELS: usize = 3;

/// The store's hosts, as the world registers them: etcd members `n1..nM`; AP nodes `r1..rM`
/// (`sim::ap::ApStore`), plus the sentinels `s1..s3` for `redis`. Named by the functions the
/// world registers them with, so the two cannot drift.
pub fn store_hosts(backend: Backend, members: usize) -> Vec<String> {
    let mut hosts: Vec<String> = match backend {
        Backend::Etcd => (1..=members as u64).map(sim::member_name).collect(),
        Backend::Zk => (1..=members as u64).map(sim::zk::server_name).collect(),
        Backend::Pg => {
            let mut hosts: Vec<String> = (1..=members as u64).map(sim::pg::server_name).collect();
            if members > 1 {
                hosts.extend((1..=PATRONI_DCS as u64).map(sim::member_name));
            }
            hosts
        }
        Backend::Redis | Backend::Redlock => (1..=members).map(sim::ap::node_name).collect(),
    };
    if backend == Backend::Redis {
        hosts.extend((1..=SENTINELS).map(sim::ap::sentinel_name));
    }
    hosts
}

/// The hosts a scenario has: the store's ([`store_hosts`]), clients `c1..cN`, and `resource`.
pub fn hosts(backend: Backend, members: usize, clients: usize) -> Vec<String> {
    let mut hosts = store_hosts(backend, members);
    hosts.extend((0..clients).map(lock::client_name));
    hosts.push(lock::RESOURCE_HOST.to_string());
    hosts
}
