//! Fault injection through the public API: process pause, clock skew, partitions aimed by role,
//! and random fault plans of every kind under a KV workload.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

mod common;

use common::{random_plan, PlanShape};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::{
    sim_now, Client, ClientRequest, ClientResponse, ClusterConfig, ClusterEvent, Driver, Fault,
    FaultInjector, FaultPlan, History, LeaseGrantRequest, Outcome, PutRequest, RangeRequest,
    Record, Role, ScheduledFault, Target,
};

fn config(seed: u64) -> ClusterConfig {
    ClusterConfig {
        seed,
        ..ClusterConfig::default()
    }
}

fn s(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

fn put(key: &str, lease: i64) -> ClientRequest {
    ClientRequest::Put(PutRequest {
        key: key.into(),
        value: b"v".to_vec(),
        lease,
        ..Default::default()
    })
}

fn prefix(p: &str) -> RangeRequest {
    RangeRequest {
        key: p.into(),
        range_end: sim::prefix_end(p.as_bytes()),
        ..Default::default()
    }
}

fn events(history: &History) -> Vec<(Duration, ClusterEvent)> {
    history
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Event { at_ms, event } => Some((Duration::from_millis(at_ms), event)),
            _ => None,
        })
        .collect()
}

fn expiry_of(history: &History, lease: i64) -> Option<Duration> {
    events(history).into_iter().find_map(|(at, e)| match e {
        ClusterEvent::LeaseExpired { lease: l, .. } if l == lease => Some(at),
        _ => None,
    })
}

fn assert_one_leader_per_term(history: &History) {
    let mut terms: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (_, e) in events(history) {
        if let ClusterEvent::BecameLeader { member, term } = e {
            terms.entry(term).or_default().push(member);
        }
    }
    for (term, members) in terms {
        assert_eq!(members.len(), 1, "term {term} had leaders {members:?}");
    }
}

/// A client host that writes `k/<name>/<i>` every 20 ms until `until`, keeping the acked ones.
fn add_writer(
    driver: &mut Driver,
    name: &str,
    id: u32,
    endpoints: Option<Vec<String>>,
    until: Duration,
    acked: Rc<RefCell<Vec<String>>>,
) {
    let mut cc = driver.cluster().client_config(name);
    if let Some(endpoints) = endpoints {
        cc.endpoints = endpoints;
    }
    let history = driver.cluster().history().clone();
    let host = name.to_string();
    // A restartable host, so plans may crash it; after a restart it starts over from key 0
    // of a new incarnation.
    let incarnation = Rc::new(std::cell::Cell::new(0));
    driver.cluster().add_host(name, move || {
        let (cc, history, acked, name) = (cc.clone(), history.clone(), acked.clone(), host.clone());
        let run = incarnation.get();
        incarnation.set(run + 1);
        async move {
            let client = Client::connect(&name, id, cc.clone(), history).await?;
            let mut i = 0;
            while sim_now() < until {
                let key = format!("k/{name}/{run}/{i:05}");
                if let Ok(ClientResponse::Put(_)) = client.call(put(&key, 0)).await {
                    acked.borrow_mut().push(key);
                }
                i += 1;
                cc.clock.sleep(Duration::from_millis(20)).await;
            }
            Ok(())
        }
    });
}

mod pause {
    use super::*;

    /// The leader is paused past the election timeout: another member leads; on resume the old
    /// leader steps down and never acknowledges a write in its old term.
    #[test]
    fn leader_paused_is_replaced_and_never_acks_in_its_old_term() {
        for seed in 0..5 {
            let mut driver = Driver::new(config(seed)).unwrap();
            let (old, old_term) = driver.cluster().leader().unwrap();
            let old_name = sim::member_name(old);
            let acked = Rc::new(RefCell::new(Vec::new()));
            add_writer(
                &mut driver,
                "pinned",
                2,
                Some(vec![old_name.clone()]),
                s(12.0),
                acked.clone(),
            );
            add_writer(&mut driver, "free", 3, None, s(12.0), acked.clone());
            driver.sleep(s(1.0)).unwrap();
            let paused_at = driver.cluster().elapsed();
            driver.cluster().pause(&old_name);
            driver.sleep(s(4.0)).unwrap();
            let (new, new_term) = driver
                .cluster()
                .leader()
                .expect("a new leader while paused");
            assert_ne!(new, old, "seed {seed}");
            assert!(new_term > old_term, "seed {seed}");
            let resumed_at = driver.cluster().elapsed();
            driver.cluster().resume(&old_name);
            driver.sleep(s(7.0)).unwrap();

            let history = driver.cluster().history().clone();
            let stepped_down = events(&history).into_iter().any(|(at, e)| {
                matches!(e, ClusterEvent::SteppedDown { member, .. } if member == old)
                    && at >= resumed_at
            });
            assert!(
                stepped_down,
                "seed {seed}: old leader never stepped down after resume"
            );
            assert_ne!(
                driver.cluster().status()[&old].role,
                Role::Leader,
                "seed {seed}"
            );
            for op in history.operations() {
                if let Some(response) = op.outcome.etcd_response() {
                    let h = response.header();
                    if h.member_id == old && h.raft_term == old_term && op.request.is_write() {
                        // A reply sent just before the pause may still be on the wire: one hop
                        // takes up to the latency maximum plus two ticks (sent mid-tick,
                        // delivered at a tick boundary).
                        let c = driver.cluster().config();
                        let hop = c.latency_max + c.tick * 2;
                        assert!(
                            op.return_ms.unwrap() <= (paused_at + hop).as_millis() as u64,
                            "seed {seed}: old leader acknowledged {:?} in term {old_term} at {:?} ms",
                            op.request.name(),
                            op.return_ms
                        );
                    }
                }
            }
            assert!(acked.borrow().len() > 100, "seed {seed}");
            assert_one_leader_per_term(&history);
        }
    }
}

mod lease {
    use super::*;

    /// A client holds a lease with keepalives every second; its keepalives are then blocked
    /// (the client paused, or cut off). The leader expires the lease at TTL after the last
    /// renewal (within its 500 ms expiry pass) and deletes both keys in one revision.
    fn keepalives_blocked(block: fn(&mut sim::Cluster, &str)) {
        for seed in 0..5 {
            let mut driver = Driver::new(config(seed)).unwrap();
            let cc = driver.cluster().client_config("holder");
            let history = driver.cluster().history().clone();
            let lease_out: Rc<RefCell<i64>> = Rc::default();
            let out = lease_out.clone();
            let h = history.clone();
            driver.cluster().add_client("holder", async move {
                let client = Client::connect("holder", 2, cc.clone(), h).await?;
                let lease = client.lease_grant(5).await?.id;
                *out.borrow_mut() = lease;
                client.call(put("l/a", lease)).await?;
                client.call(put("l/b", lease)).await?;
                loop {
                    cc.clock.sleep(Duration::from_secs(1)).await;
                    let _ = client.lease_keep_alive(lease).await;
                }
            });
            driver.sleep(s(3.0)).unwrap();
            block(driver.cluster(), "holder");
            let lease = *lease_out.borrow();
            driver
                .cluster()
                .run_until(s(15.0), |_| expiry_of(&history, lease).is_some())
                .unwrap();
            let expired = expiry_of(&history, lease).expect("lease expired");
            let last_renewal = history
                .operations()
                .into_iter()
                .filter(|op| {
                    op.request.name() == "lease_keep_alive" && matches!(op.outcome, Outcome::Ok(_))
                })
                .map(|op| Duration::from_millis(op.return_ms.unwrap()))
                .max()
                .unwrap();
            let after = expired - last_renewal;
            println!("seed {seed}: expired {after:?} after the last renewal returned");
            assert!(
                after >= s(4.98) && after <= s(5.55),
                "seed {seed}: expired {after:?} after the last renewal returned"
            );
            let before = history
                .operations()
                .into_iter()
                .filter_map(|op| match op.outcome.etcd_response() {
                    Some(ClientResponse::Put(p)) => Some(p.header.revision),
                    _ => None,
                })
                .max()
                .unwrap();
            let ClientResponse::Range(range) = driver
                .call(ClientRequest::Range(prefix("l/")))
                .unwrap()
                .unwrap()
            else {
                panic!()
            };
            assert_eq!(range.count, 0, "seed {seed}");
            assert_eq!(
                range.header.revision,
                before + 1,
                "seed {seed}: both keys in one revision"
            );
        }
    }

    #[test]
    fn expires_at_ttl_when_the_client_is_paused() {
        keepalives_blocked(|c, host| c.pause(host));
    }

    #[test]
    fn expires_at_ttl_when_the_client_is_isolated() {
        keepalives_blocked(|c, host| c.isolate(host));
    }

    /// The leader's clock runs 2× fast: a 10 s lease granted on it expires after 5 s of real
    /// (simulated) time, checked every 250 ms; on a true clock the same lease lasts 10 s.
    #[test]
    fn fast_leader_clock_expires_leases_early() {
        for seed in 0..5 {
            for (rate, lo, hi) in [(2.0, 5.0, 5.3), (1.0, 10.0, 10.55)] {
                let mut driver = Driver::new(config(seed)).unwrap();
                let (leader, _) = driver.cluster().leader().unwrap();
                driver
                    .cluster()
                    .skew(&sim::member_name(leader), Some(rate), None);
                let response = driver
                    .call(ClientRequest::LeaseGrant(LeaseGrantRequest {
                        ttl: 10,
                        id: 0,
                    }))
                    .unwrap()
                    .unwrap();
                let granted = driver.cluster().elapsed();
                let ClientResponse::LeaseGrant(g) = response else {
                    panic!()
                };
                let history = driver.cluster().history().clone();
                driver
                    .cluster()
                    .run_until(s(15.0), |_| expiry_of(&history, g.id).is_some())
                    .unwrap();
                let lived = expiry_of(&history, g.id).expect("expired") - granted;
                println!("seed {seed}: at clock rate {rate} a 10 s lease lived {lived:?}");
                assert!(
                    lived >= s(lo) && lived <= s(hi),
                    "seed {seed}, rate {rate}: a 10 s lease lived {lived:?}"
                );
                assert_eq!(driver.cluster().leader().map(|(l, _)| l), Some(leader));
            }
        }
    }
}

mod partition {
    use super::*;

    /// The leader is cut off with a minority: the minority side acknowledges no write; the
    /// majority elects within two election timeouts; after heal there is one leader.
    #[test]
    fn leader_in_minority() {
        for seed in 0..5 {
            let mut driver = Driver::new(ClusterConfig {
                members: 5,
                ..config(seed)
            })
            .unwrap();
            let (old, _) = driver.cluster().leader().unwrap();
            let acked_minority = Rc::new(RefCell::new(Vec::new()));
            let acked_majority = Rc::new(RefCell::new(Vec::new()));
            add_writer(
                &mut driver,
                "cmin",
                2,
                Some(vec![sim::member_name(old)]),
                s(9.0),
                acked_minority.clone(),
            );
            add_writer(&mut driver, "cmaj", 3, None, s(9.0), acked_majority.clone());
            driver.sleep(s(0.5)).unwrap();
            let plan = FaultPlan {
                faults: vec![ScheduledFault {
                    at: driver.cluster().elapsed(),
                    fault: Fault::Partition {
                        groups: vec![
                            vec![Target::Minority, Target::Host("cmin".into())],
                            vec![
                                Target::Majority,
                                Target::Host("cmaj".into()),
                                Target::Host("ctl".into()),
                            ],
                        ],
                    },
                    duration: Some(s(5.0)),
                }],
            };
            let cut_at = driver.cluster().elapsed();
            let acked_before = acked_minority.borrow().len();
            let mut injector = FaultInjector::new(&plan, seed);
            while driver.cluster().elapsed() < cut_at + s(9.0) {
                let roles = driver.cluster().roles();
                injector.apply_due(driver.cluster(), &[&roles]).unwrap();
                driver.cluster().step().unwrap();
            }
            assert!(injector.is_done());
            let history = driver.cluster().history().clone();
            // Writes acked to the minority client after the cut: only once healed (5 s later).
            let minority_ops: Vec<_> = history
                .operations()
                .into_iter()
                .filter(|op| op.process == "cmin" && matches!(op.outcome, Outcome::Ok(_)))
                .filter(|op| {
                    let r = Duration::from_millis(op.return_ms.unwrap());
                    r > cut_at + s(0.05) && r < cut_at + s(5.0)
                })
                .collect();
            assert!(
                minority_ops.is_empty(),
                "seed {seed}: minority acked {} writes",
                minority_ops.len()
            );
            let elected = events(&history).into_iter().find_map(|(at, e)| match e {
                ClusterEvent::BecameLeader { member, .. } if at > cut_at && member != old => {
                    Some(at)
                }
                _ => None,
            });
            let elected = elected.expect("the majority elects");
            // Followers time out 1–2 s (10–20 heartbeats) after the last heartbeat; the three
            // on the majority side must all vote for one candidate, so two candidates in one
            // term split the vote and cost one more randomized timeout (seed 1: term 3, 2.69 s).
            assert!(
                elected - cut_at <= s(4.0),
                "seed {seed}: elected after {:?}",
                elected - cut_at
            );
            let leaders = driver
                .cluster()
                .status()
                .values()
                .filter(|s| s.running && s.role == Role::Leader)
                .count();
            assert_eq!(leaders, 1, "seed {seed}: after heal");
            assert!(acked_minority.borrow().len() >= acked_before, "seed {seed}");
            // Progress only, not throughput: a write sent to a member that is now cut off waits
            // out its 5 s deadline before the client tries another endpoint.
            assert!(!acked_majority.borrow().is_empty(), "seed {seed}");
            assert_one_leader_per_term(&history);
        }
    }
}

/// Runs one seed: 3 writers under a random plan for 20 s, then everything healed and a final
/// read. Returns (acked writes lost, history digest).
fn random_faults_run(seed: u64) -> (Vec<String>, String) {
    let mut driver = Driver::new(config(seed)).unwrap();
    let acked = Rc::new(RefCell::new(Vec::new()));
    for (i, name) in ["c2", "c3", "c4"].iter().enumerate() {
        add_writer(
            &mut driver,
            name,
            i as u32 + 2,
            None,
            s(20.0),
            acked.clone(),
        );
    }
    let mut hosts = driver.cluster().member_names();
    hosts.extend(["c2", "c3", "c4"].map(String::from));
    let start = driver.cluster().elapsed();
    let mut plan = random_plan(
        seed,
        &hosts,
        s(18.0),
        &PlanShape {
            roles: vec![Target::Leader, Target::Follower],
            faults: 2..7,
            partition: |_, _| vec![vec![Target::Minority], vec![Target::Majority]],
        },
    );
    for f in &mut plan.faults {
        f.at += start;
    }
    plan.validate(driver.cluster().hosts(), 3).unwrap();
    let mut injector = FaultInjector::new(&plan, seed);
    while driver.cluster().elapsed() < start + s(21.0) {
        let roles = driver.cluster().roles();
        injector.apply_due(driver.cluster(), &[&roles]).unwrap();
        driver.cluster().step().unwrap();
    }
    // Liveness phase: undo everything that may still be in force, then let it settle.
    let cluster = driver.cluster();
    cluster.heal();
    for host in hosts.clone() {
        cluster.restart(&host);
        cluster.resume(&host);
        cluster.skew(&host, Some(1.0), None);
    }
    cluster.set_link_rule(None, sim::LinkRule::default());
    cluster.set_latency(None, None);
    driver.sleep(s(5.0)).unwrap();
    let ClientResponse::Range(range) = driver
        .call(ClientRequest::Range(prefix("k/")))
        .unwrap()
        .unwrap()
    else {
        panic!()
    };
    let stored: std::collections::BTreeSet<Vec<u8>> =
        range.kvs.into_iter().map(|kv| kv.key).collect();
    let lost = acked
        .borrow()
        .iter()
        .filter(|k| !stored.contains(k.as_bytes()))
        .cloned()
        .collect();
    let history = driver.cluster().history().clone();
    assert_one_leader_per_term(&history);
    history.close();
    (lost, history.digest())
}

mod random {
    use super::*;

    #[test]
    fn plans_lose_no_acknowledged_write() {
        for seed in 0..25 {
            let (lost, _) = random_faults_run(seed);
            assert!(lost.is_empty(), "seed {seed}: lost {lost:?}");
        }
    }

    /// The full run for the resolve note:
    /// `cargo test --release --test faults -- --ignored --nocapture thousand`
    #[test]
    #[ignore = "1000 seeds: run explicitly"]
    fn thousand_seeds_lose_no_acknowledged_write() {
        let seeds = std::env::var("SEEDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        for seed in 0..seeds {
            let (lost, _) = random_faults_run(seed);
            assert!(lost.is_empty(), "seed {seed}: lost {lost:?}");
        }
        println!("{seeds} seeds: no acknowledged write lost, one leader per term");
    }

    #[test]
    fn every_fault_kind_replays_byte_for_byte() {
        for seed in [3, 11] {
            assert_eq!(
                random_faults_run(seed).1,
                random_faults_run(seed).1,
                "seed {seed}"
            );
        }
    }
}

mod fsync {
    use super::*;
    use sim::MemberConfig;

    /// Three writers; the whole cluster loses power (crash with `lose_unsynced`) four times.
    /// Returns the acknowledged writes lost and whether some term had two leaders.
    fn power_cuts(seed: u64, send_before_fsync: bool) -> (usize, bool) {
        let mut driver = Driver::new(ClusterConfig {
            member: MemberConfig {
                // Several ticks: with fsync within one 10 ms tick, no step boundary (where the
                // power cut lands) ever falls between a send and its fsync.
                fsync_latency: Duration::from_millis(50),
                send_before_fsync,
                ..MemberConfig::default()
            },
            ..config(seed)
        })
        .unwrap();
        let acked = Rc::new(RefCell::new(Vec::new()));
        for (i, name) in ["c2", "c3", "c4"].iter().enumerate() {
            add_writer(
                &mut driver,
                name,
                i as u32 + 2,
                None,
                s(14.0),
                acked.clone(),
            );
        }
        let start = driver.cluster().elapsed();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut faults = Vec::new();
        for k in 0..4 {
            let at = start + s(1.0 + 3.0 * k as f64 + rng.gen_range(0.0..1.0));
            for m in ["n1", "n2", "n3"] {
                faults.push(ScheduledFault {
                    at,
                    fault: Fault::Crash {
                        target: Target::Host(m.into()),
                        lose_unsynced: true,
                    },
                    duration: Some(s(0.3)),
                });
            }
        }
        let plan = FaultPlan { faults };
        plan.validate(driver.cluster().hosts(), 3).unwrap();
        let mut injector = FaultInjector::new(&plan, seed);
        while driver.cluster().elapsed() < start + s(16.0) {
            let roles = driver.cluster().roles();
            injector.apply_due(driver.cluster(), &[&roles]).unwrap();
            driver.cluster().step().unwrap();
        }
        let ClientResponse::Range(range) = driver
            .call(ClientRequest::Range(prefix("k/")))
            .unwrap()
            .unwrap()
        else {
            panic!()
        };
        let stored: std::collections::BTreeSet<Vec<u8>> =
            range.kvs.into_iter().map(|kv| kv.key).collect();
        let lost = acked
            .borrow()
            .iter()
            .filter(|k| !stored.contains(k.as_bytes()))
            .count();
        let mut terms: BTreeMap<u64, usize> = BTreeMap::new();
        for (_, e) in events(driver.cluster().history()) {
            if let ClusterEvent::BecameLeader { term, .. } = e {
                *terms.entry(term).or_default() += 1;
            }
        }
        (lost, terms.values().any(|&n| n > 1))
    }

    /// Votes and acks go out only after their fsync: a power loss never loses an acknowledged
    /// write nor lets a member vote twice in a term.
    #[test]
    fn power_loss_with_the_raft_order_loses_nothing() {
        for seed in 0..6 {
            let (lost, two_leaders) = power_cuts(seed, false);
            assert_eq!(lost, 0, "seed {seed}");
            assert!(!two_leaders, "seed {seed}");
        }
    }

    /// With acks sent before the fsync (deliberately unsafe), the same power cuts lose
    /// acknowledged writes or elect two leaders in one term.
    #[test]
    fn power_loss_with_send_before_fsync_breaks_raft() {
        let broken: Vec<u64> = (0..10)
            .filter(|&seed| {
                let (lost, two_leaders) = power_cuts(seed, true);
                lost > 0 || two_leaders
            })
            .collect();
        println!("send-before-fsync broke Raft in seeds {broken:?} of 0..10");
        assert!(broken.len() >= 3, "only seeds {broken:?} showed the bug");
    }
}
