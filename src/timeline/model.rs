//! `Model`: what the picture draws, read out of a run's history — lanes, holds as believed,
//! acquire attempts, leases, resource accesses, roles and fault intervals. Pure data, no SVG.

use std::collections::BTreeMap;

use lock::checker::Interval;
use lock::LockEvent;
use sim::{ClientRequest, ClientResponse, ClusterEvent, FaultKind, Operation, Record};

use crate::scenario::{Backend, Scenario};

/// An `acquire` call: from invoke to its answer.
pub(crate) struct Attempt {
    pub client: String,
    pub from_ms: u64,
    /// `None`: still waiting when the run ended.
    pub to_ms: Option<u64>,
    /// `acquired, token N` or `failed: …`.
    pub result: String,
}

/// A `release` call.
pub(crate) struct Release {
    pub client: String,
    pub token: i64,
    pub from_ms: u64,
    pub to_ms: Option<u64>,
    pub ok: Option<bool>,
}

/// A client's session noticed its lease was gone.
pub(crate) struct Loss {
    pub client: String,
    pub at_ms: u64,
    pub lease: i64,
    pub reason: String,
}

/// One keepalive round trip.
pub(crate) struct KeepAlive {
    pub from_ms: u64,
    pub to_ms: Option<u64>,
    /// Whether the answer said the lease is alive (TTL > 0).
    pub alive: bool,
    pub result: String,
}

/// A lease a client was granted, as the history shows it.
pub(crate) struct Lease {
    pub client: String,
    pub id: i64,
    pub ttl_secs: i64,
    pub granted_ms: u64,
    /// Expired on the leader, revoked by the client, or `None`: alive at the end.
    pub end_ms: Option<u64>,
    /// `expired on n3` / `revoked by c1`.
    pub end: String,
    pub keepalives: Vec<KeepAlive>,
}

/// A resource read or write, on the lane of the client that made it.
pub(crate) struct Access {
    pub client: String,
    pub at_ms: u64,
    pub write: bool,
    pub token: i64,
    pub value: u64,
    pub previous: u64,
    pub accepted: bool,
    pub highest: i64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Role {
    /// An etcd member leading in `term`.
    Leader {
        term: u64,
    },
    /// A redis node that believes it is the primary, since the failover of `epoch` (0: the
    /// primary the store started with). Two at once is Redis's split brain, drawn as it is.
    Primary {
        epoch: u64,
    },
    Down,
}

/// A store host's role over an interval; its idle role elsewhere ([`Model::idle_role`]).
/// (The history records elections won and lost, not candidacy, so candidates are not shown.)
pub(crate) struct RoleSpan {
    pub member: String,
    pub role: Role,
    pub from_ms: u64,
    pub to_ms: u64,
}

/// A fault from when it was injected to when it was undone (or the end of the run): a
/// `sim::FaultSpan` (the one derivation, `sim::ActiveFaults`) with its end resolved.
pub(crate) struct FaultSpan {
    pub kind: FaultKind,
    /// `pause c3`, `partition n2 | n1,n3`, `loss 0.2 everywhere`.
    pub label: String,
    /// The lanes it hits; empty: every lane.
    pub hosts: Vec<String>,
    /// A partition's sides (empty for other faults): each hit lane says which side it is on.
    pub groups: Vec<Vec<String>>,
    pub from_ms: u64,
    pub to_ms: u64,
}

/// `(at_ms, member, lease)`: a leader expired a lease.
pub(crate) type Expiry = (u64, String, i64);

/// A ZooKeeper client's session while its connection was down: from `Disconnected` to its
/// reconnect, to the moment it learned `Expired`, or to the end of the run. On PostgreSQL, a
/// connection the server gave up (its backend ended, its locks released) until the client
/// learned it.
pub(crate) struct SessionGap {
    pub client: String,
    /// What was lost: `session 0x…`, `connection (backend 1003)`.
    pub what: String,
    /// How the gap began: `Disconnected from z1`, `p1 ended the backend (connection timed
    /// out)`.
    pub began: String,
    pub from_ms: u64,
    pub to_ms: u64,
    /// How it ended: `reconnected to z2`, `learned Expired (on reconnecting to z1)`, `the run
    /// ended`.
    pub end: String,
    /// Whether it ended in `Expired`.
    pub expired: bool,
}

pub(crate) struct Model {
    pub backend: Backend,
    pub clients: Vec<String>,
    /// The store's hosts, one lane each (`scenario::store_hosts`): etcd members `n1..`, or the
    /// AP nodes `r1..` and, for redis, the sentinels `s1..s3`.
    pub members: Vec<String>,
    /// Hosts hit by a fault that are neither clients nor members (the resource, `ctl`).
    pub others: Vec<String>,
    pub end_ms: u64,
    /// The lock's key, or the common prefix of the keys clients held (`lock/`).
    pub lock_key: String,
    pub holds: Vec<Interval>,
    /// The key each hold was acquired under, by (client, token).
    pub hold_keys: BTreeMap<(String, i64), String>,
    pub attempts: Vec<Attempt>,
    pub releases: Vec<Release>,
    pub losses: Vec<Loss>,
    pub leases: Vec<Lease>,
    pub accesses: Vec<Access>,
    /// Client operations other than lease grants and keepalives (those are on the lease row).
    pub ops: Vec<Operation>,
    pub roles: Vec<RoleSpan>,
    pub expiries: Vec<Expiry>,
    /// ZooKeeper clients' disconnected spans (empty on other backends).
    pub session_gaps: Vec<SessionGap>,
    /// ZooKeeper sessions the leader expired, as lease expiries: `(at_ms, leader, session)`.
    pub session_expiries: Vec<Expiry>,
    pub faults: Vec<FaultSpan>,
}

impl Model {
    /// What a store host is when no span says otherwise: an etcd follower, a redis replica or
    /// sentinel, a Redlock master.
    pub fn idle_role(&self, member: &str) -> &'static str {
        match self.backend {
            Backend::Etcd | Backend::Zk => "follower",
            Backend::Redis if member.starts_with('s') => "sentinel",
            Backend::Redis => "replica",
            Backend::Redlock => "master",
            Backend::Pg => "primary",
        }
    }
}

/// Orders `c2` before `c10`.
fn natural(name: &str) -> (String, u64, String) {
    let digits = name.trim_start_matches(|c: char| !c.is_ascii_digit());
    let prefix = &name[..name.len() - digits.len()];
    (
        prefix.to_string(),
        digits.parse().unwrap_or(u64::MAX),
        name.to_string(),
    )
}

fn sort_names(names: &mut Vec<String>) {
    names.sort_by_key(|n| natural(n));
    names.dedup();
}

impl Model {
    pub fn new(
        scenario: &Scenario,
        records: &[Record],
        faults: &[sim::FaultSpan],
        end_ms: u64,
    ) -> Model {
        let lock_timeline = lock::Timeline::from_records(records);
        let end_ms = end_ms.max(lock_timeline.end_ms);
        let backend = scenario.cluster.backend;
        let members = crate::scenario::store_hosts(backend, scenario.cluster.members);

        let mut clients: Vec<String> = Vec::new();
        for (_, process, event) in &lock_timeline.lock_events {
            match event {
                LockEvent::ResourceRead { client, .. }
                | LockEvent::ResourceWrite { client, .. } => clients.push(client.clone()),
                _ => clients.push(process.clone()),
            }
        }
        clients.retain(|c| c != lock::RESOURCE_HOST);
        sort_names(&mut clients);

        let holds = lock_timeline.intervals();
        let mut hold_keys = BTreeMap::new();
        let mut attempts = Vec::new();
        let mut releases: Vec<Release> = Vec::new();
        let mut losses = Vec::new();
        let mut accesses = Vec::new();
        let mut open_attempt: BTreeMap<String, usize> = BTreeMap::new();
        for (at, process, event) in &lock_timeline.lock_events {
            match event {
                LockEvent::AcquireInvoked { .. } => {
                    open_attempt.insert(process.clone(), attempts.len());
                    attempts.push(Attempt {
                        client: process.clone(),
                        from_ms: *at,
                        to_ms: None,
                        result: "no answer before the run ended".into(),
                    });
                }
                LockEvent::Acquired {
                    key, token, lease, ..
                } => {
                    hold_keys.insert((process.clone(), *token), key.clone());
                    if let Some(i) = open_attempt.remove(process) {
                        attempts[i].to_ms = Some(*at);
                        attempts[i].result =
                            format!("acquired `{key}` with token {token}, lease {lease:#x}");
                    }
                }
                LockEvent::AcquireFailed { error, .. } => {
                    if let Some(i) = open_attempt.remove(process) {
                        attempts[i].to_ms = Some(*at);
                        attempts[i].result = format!("failed: {error}");
                    }
                }
                LockEvent::BelievedLost { lease, reason } => losses.push(Loss {
                    client: process.clone(),
                    at_ms: *at,
                    lease: *lease,
                    reason: reason.clone(),
                }),
                LockEvent::ReleaseInvoked { token } => releases.push(Release {
                    client: process.clone(),
                    token: *token,
                    from_ms: *at,
                    to_ms: None,
                    ok: None,
                }),
                LockEvent::Released { token, ok } => {
                    if let Some(r) = releases
                        .iter_mut()
                        .rev()
                        .find(|r| r.client == *process && r.token == *token && r.ok.is_none())
                    {
                        r.to_ms = Some(*at);
                        r.ok = Some(*ok);
                    }
                }
                // A waiter's wake-up: counted by the herd report, not drawn.
                LockEvent::WatchWoke { .. } => {}
                LockEvent::ResourceRead {
                    client,
                    token,
                    value,
                    accepted,
                    highest,
                } => accesses.push(Access {
                    client: client.clone(),
                    at_ms: *at,
                    write: false,
                    token: *token,
                    value: *value,
                    previous: *value,
                    accepted: *accepted,
                    highest: *highest,
                }),
                LockEvent::ResourceWrite {
                    client,
                    token,
                    value,
                    previous,
                    accepted,
                    highest,
                } => accesses.push(Access {
                    client: client.clone(),
                    at_ms: *at,
                    write: true,
                    token: *token,
                    value: *value,
                    previous: *previous,
                    accepted: *accepted,
                    highest: *highest,
                }),
            }
        }
        let lock_key = common_key(hold_keys.values());

        let (leases, ops, expiries) = leases_and_ops(records, &clients, end_ms);
        let roles = roles(records, &members, backend, end_ms);
        let (session_gaps, session_expiries) = sessions(records, end_ms);
        let faults = drawn_faults(faults, end_ms);
        let mut others: Vec<String> = faults
            .iter()
            .flat_map(|f| f.hosts.iter())
            .filter(|h| !clients.contains(h) && !members.contains(h))
            .cloned()
            .collect();
        sort_names(&mut others);

        Model {
            backend,
            clients,
            members,
            others,
            end_ms,
            lock_key,
            holds,
            hold_keys,
            attempts,
            releases,
            losses,
            leases,
            accesses,
            ops,
            roles,
            expiries,
            session_gaps,
            session_expiries,
            faults,
        }
    }

    /// Where a hold ends on the picture: its end, or the end of the run.
    pub fn hold_end(&self, hold: &Interval) -> u64 {
        hold.end_ms.unwrap_or(self.end_ms)
    }
}

/// The one key every hold used, or their common prefix cut after its last `/` (etcd-mutex
/// clients each hold `lock/<lease>`: the lock is `lock/`).
fn common_key<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let mut prefix: Option<String> = None;
    for key in keys {
        prefix = Some(match prefix {
            None => key.clone(),
            Some(p) => p
                .chars()
                .zip(key.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    let Some(prefix) = prefix else {
        return "lock".into();
    };
    match prefix.rfind('/') {
        Some(i) if !prefix.ends_with('/') && i + 1 < prefix.len() => {
            // Keys that merely share leading digits after the slash are different keys.
            prefix[..=i].to_string()
        }
        _ => prefix,
    }
}

fn leases_and_ops(
    records: &[Record],
    clients: &[String],
    end_ms: u64,
) -> (Vec<Lease>, Vec<Operation>, Vec<Expiry>) {
    let mut leases: Vec<Lease> = Vec::new();
    let mut by_id: BTreeMap<i64, usize> = BTreeMap::new();
    let mut ops = Vec::new();
    let mut expiries = Vec::new();
    for record in records {
        match record {
            Record::Op(op) if clients.contains(&op.process) => {
                match (op.request.as_etcd(), op.outcome.etcd_response()) {
                    (Some(ClientRequest::LeaseGrant(_)), Some(ClientResponse::LeaseGrant(r))) => {
                        by_id.insert(r.id, leases.len());
                        leases.push(Lease {
                            client: op.process.clone(),
                            id: r.id,
                            ttl_secs: r.ttl,
                            granted_ms: op.return_ms.unwrap_or(op.invoke_ms),
                            end_ms: None,
                            end: "alive at the end of the run".into(),
                            keepalives: Vec::new(),
                        });
                    }
                    (Some(ClientRequest::LeaseKeepAlive(req)), response) => {
                        let Some(&i) = by_id.get(&req.id) else {
                            ops.push(op.clone());
                            continue;
                        };
                        let (alive, result) = match response {
                            Some(ClientResponse::LeaseKeepAlive(r)) if r.ttl > 0 => {
                                (true, format!("alive, TTL {} s", r.ttl))
                            }
                            Some(ClientResponse::LeaseKeepAlive(r)) => {
                                (false, format!("gone (TTL {})", r.ttl))
                            }
                            _ => (false, op.outcome.summary()),
                        };
                        leases[i].keepalives.push(KeepAlive {
                            from_ms: op.invoke_ms,
                            to_ms: op.return_ms,
                            alive,
                            result,
                        });
                    }
                    (Some(ClientRequest::LeaseRevoke(req)), Some(_)) => {
                        if let Some(&i) = by_id.get(&req.id) {
                            let lease = &mut leases[i];
                            if lease.end_ms.is_none() {
                                lease.end_ms = op.return_ms;
                                lease.end = format!("revoked by {}", op.process);
                            }
                        }
                        ops.push(op.clone());
                    }
                    _ => ops.push(op.clone()),
                }
            }
            Record::Event {
                at_ms,
                event: ClusterEvent::LeaseExpired { member, lease },
            } => {
                let member = sim::member_name(*member);
                if let Some(&i) = by_id.get(lease) {
                    let l = &mut leases[i];
                    if l.end_ms.is_none() {
                        l.end_ms = Some(*at_ms);
                        l.end = format!("expired on the leader {member}");
                    }
                }
                expiries.push((*at_ms, member, *lease));
            }
            _ => {}
        }
    }
    for lease in &mut leases {
        lease.end_ms = lease.end_ms.map(|e| e.min(end_ms));
    }
    (leases, ops, expiries)
}

/// ZooKeeper sessions from the history: each client's disconnected spans (its
/// `zk_connection` events) and the leader's expiries (`session_expired`).
fn sessions(records: &[Record], end_ms: u64) -> (Vec<SessionGap>, Vec<Expiry>) {
    let mut open: BTreeMap<String, SessionGap> = BTreeMap::new();
    let mut gaps = Vec::new();
    let mut expiries = Vec::new();
    for record in records {
        let Record::Event { at_ms, event } = record else {
            continue;
        };
        match event {
            ClusterEvent::ZkConnection {
                client,
                session,
                server,
                state,
            } => match state.as_str() {
                "Disconnected" => {
                    open.entry(client.clone()).or_insert(SessionGap {
                        client: client.clone(),
                        what: format!("session {session:#x}"),
                        began: format!("Disconnected from {server}"),
                        from_ms: *at_ms,
                        to_ms: end_ms,
                        end: "the run ended".into(),
                        expired: false,
                    });
                }
                "SyncConnected" | "Expired" | "Closed" => {
                    if let Some(mut gap) = open.remove(client) {
                        gap.to_ms = *at_ms;
                        gap.expired = state == "Expired";
                        gap.end = if gap.expired {
                            format!("learned Expired (on reconnecting to {server})")
                        } else {
                            format!("reconnected to {server}")
                        };
                        gaps.push(gap);
                    }
                }
                _ => {}
            },
            ClusterEvent::SessionExpired { server, session } => {
                expiries.push((*at_ms, server.clone(), *session));
            }
            // PostgreSQL: the server ended a backend whose client had not closed it; the gap
            // lasts until the client learns (its connection event).
            ClusterEvent::PgBackendEnded {
                server,
                pid,
                client,
                reason,
            } if reason != "client closed the connection" => {
                open.entry(client.clone()).or_insert(SessionGap {
                    client: client.clone(),
                    what: format!("connection (backend {pid})"),
                    began: format!("{server} ended the backend ({reason}), releasing its locks"),
                    from_ms: *at_ms,
                    to_ms: end_ms,
                    end: "the run ended".into(),
                    expired: true,
                });
            }
            ClusterEvent::PgConnection { client, state, .. } => {
                if let Some(mut gap) = open.remove(client) {
                    gap.to_ms = *at_ms;
                    gap.end = format!("the client learned it: {state}");
                    gaps.push(gap);
                }
            }
            _ => {}
        }
    }
    gaps.extend(open.into_values());
    (gaps, expiries)
}

/// Role spans from the history: etcd's and ZooKeeper's elections and steps down (cluster
/// events), a redis
/// node's promotions, demotions and restarts as primary (its `app` records), crashes and
/// restarts of any store host.
fn roles(records: &[Record], members: &[String], backend: Backend, end_ms: u64) -> Vec<RoleSpan> {
    let mut open: BTreeMap<(String, Role), u64> = BTreeMap::new();
    let mut spans = Vec::new();
    let mut close = |open: &mut BTreeMap<(String, Role), u64>,
                     member: &str,
                     pick: &dyn Fn(Role) -> bool,
                     at: u64| {
        let keys: Vec<(String, Role)> = open
            .keys()
            .filter(|(m, r)| m == member && pick(*r))
            .cloned()
            .collect();
        for key in keys {
            let from = open.remove(&key).expect("listed");
            spans.push(RoleSpan {
                member: key.0,
                role: key.1,
                from_ms: from,
                to_ms: at,
            });
        }
    };
    let is_leader = |r: Role| matches!(r, Role::Leader { .. });
    let is_primary = |r: Role| matches!(r, Role::Primary { .. });
    let is_up = |r: Role| r != Role::Down;
    // A redis store starts with `r1` as its primary (`sim::ap::ApStore::add_to`); Redlock's
    // masters are all primaries, all the time, so no span says so.
    let redis = backend == Backend::Redis;
    // The epoch each node was last primary in: a node restarted as primary keeps it.
    let mut epochs: BTreeMap<String, u64> = BTreeMap::new();
    if redis {
        if let Some(first) = members.first() {
            open.insert((first.clone(), Role::Primary { epoch: 0 }), 0);
        }
    }
    for record in records {
        match record {
            Record::Event { at_ms, event } => {
                let at = *at_ms;
                match event {
                    ClusterEvent::BecameLeader { member, term } => {
                        let m = sim::member_name(*member);
                        close(&mut open, &m, &is_leader, at);
                        open.insert((m, Role::Leader { term: *term }), at);
                    }
                    ClusterEvent::SteppedDown { member, .. } => {
                        close(&mut open, &sim::member_name(*member), &is_leader, at);
                    }
                    ClusterEvent::ServerLeads { server, term } => {
                        close(&mut open, server, &is_leader, at);
                        open.insert((server.clone(), Role::Leader { term: *term }), at);
                    }
                    ClusterEvent::ServerStepsDown { server, .. } => {
                        close(&mut open, server, &is_leader, at);
                    }
                    ClusterEvent::Crash { host } if members.contains(host) => {
                        close(&mut open, host, &is_up, at);
                        open.entry((host.clone(), Role::Down)).or_insert(at);
                    }
                    ClusterEvent::Restart { host } => {
                        close(&mut open, host, &|r| r == Role::Down, at);
                    }
                    _ => {}
                }
            }
            Record::App {
                at_ms,
                process,
                event,
            } if redis && members.contains(process) => {
                let at = *at_ms;
                let primary = |epoch| (process.clone(), Role::Primary { epoch });
                match event.get("ap").and_then(|a| a.as_str()) {
                    Some("promoted") => {
                        let epoch = event.get("epoch").and_then(|e| e.as_u64()).unwrap_or(0);
                        close(&mut open, process, &is_primary, at);
                        epochs.insert(process.clone(), epoch);
                        open.insert(primary(epoch), at);
                    }
                    Some("follow") => close(&mut open, process, &is_primary, at),
                    Some("node_started") if event.get("role") == Some(&"primary".into()) => {
                        let epoch = epochs.get(process).copied().unwrap_or(0);
                        open.entry(primary(epoch)).or_insert(at);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let rest: Vec<String> = open.keys().map(|(m, _)| m.clone()).collect();
    for m in rest {
        close(&mut open, &m, &|_| true, end_ms);
    }
    spans.sort_by_key(|s| (s.from_ms, natural(&s.member), s.role));
    spans
}

/// The run's faults as drawn: a fault still active at the end is drawn to the end.
fn drawn_faults(faults: &[sim::FaultSpan], end_ms: u64) -> Vec<FaultSpan> {
    faults
        .iter()
        .map(|f| FaultSpan {
            kind: f.kind,
            label: f.label.clone(),
            hosts: f.hosts.clone(),
            groups: f.groups.clone(),
            from_ms: f.from_ms,
            to_ms: f.to_ms.unwrap_or(end_ms),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_key_is_the_common_directory() {
        let keys = [
            "lock/300000000000f".to_string(),
            "lock/3000000000010".into(),
        ];
        assert_eq!(common_key(keys.iter()), "lock/");
        let one = ["lock".to_string(), "lock".into()];
        assert_eq!(common_key(one.iter()), "lock");
    }

    #[test]
    fn names_sort_naturally() {
        let mut names = vec!["c10".to_string(), "c2".into(), "c1".into(), "c2".into()];
        sort_names(&mut names);
        assert_eq!(names, ["c1", "c2", "c10"]);
    }
}
