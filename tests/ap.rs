//! The AP store through its public API: async replication, Sentinel failover, the seed story
//! (two holders of a SET NX lock after a failover), demotion of an old primary, expiry by a
//! skewed node's clock, and determinism under faults on AP hosts.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

mod common;

use sim::ap::{ApClient, ApConfig, ApStore, NodeRole};
use sim::{sim_now, Cluster, ClusterConfig};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn world(seed: u64, config: ApConfig) -> (Cluster<'static>, ApStore) {
    let mut cluster = Cluster::new(ClusterConfig {
        members: 0,
        seed,
        // These tests measure replication lags and failover windows of tens of milliseconds:
        // a 1 ms tick keeps the network's resolution well below what they measure.
        tick: Duration::from_millis(1),
        ..ClusterConfig::default()
    });
    let store = ApStore::add_to(&mut cluster, config);
    (cluster, store)
}

mod smoke {
    use super::*;

    #[test]
    fn set_then_get_through_the_sentinels() {
        let (mut cluster, store) = world(1, ApConfig::default());
        let cc = store.client_config(&mut cluster, "c1");
        let history = cluster.history().clone();
        let out = Rc::new(RefCell::new(None));
        let o = out.clone();
        cluster.add_client("c1", async move {
            let c = ApClient::connect("c1", 1, cc, history).await.unwrap();
            assert!(c.set(b"k", b"v", true, Some(ms(1000))).await.unwrap());
            let v = c.get(b"k").await.unwrap();
            *o.borrow_mut() = Some((v, c.last_node(), sim_now()));
            Ok(())
        });
        cluster.run_for(Duration::from_secs(2)).unwrap();
        let (v, node, _) = out.borrow().clone().unwrap();
        assert_eq!(v, Some(b"v".to_vec()));
        assert_eq!(node.as_deref(), Some("r1"));
        let status = store.node_status(&cluster);
        assert_eq!(status["r1"].role, NodeRole::Primary);
        // The SET, then the primary's expiry of the key (a replicated DEL) one second later.
        assert_eq!(status["r2"].offset, 2, "{status:?}");
        assert_eq!(status["r3"].offset, 2);
        assert_eq!(status["r3"].keys, 0);
        assert_eq!(store.operations(&cluster).len(), 2);
    }
}

/// Steps until `done` or `limit` of simulated time passed; returns when it held.
fn run_until(
    cluster: &mut Cluster,
    limit: Duration,
    mut done: impl FnMut(&Cluster) -> bool,
) -> Option<Duration> {
    let until = cluster.elapsed() + limit;
    while cluster.elapsed() < until {
        if done(cluster) {
            return Some(cluster.elapsed());
        }
        cluster.step().unwrap();
    }
    None
}

fn lagged(lo: u64, hi: u64) -> ApConfig {
    let mut config = ApConfig::default();
    config.node.replication.lag = (ms(lo), ms(hi));
    config
}

/// A one-shot client host running `script` with a connected client.
fn client<F, Fut>(cluster: &mut Cluster, store: &ApStore, name: &str, id: u32, script: F)
where
    F: FnOnce(ApClient) -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let cc = store.client_config(cluster, name);
    let history = cluster.history().clone();
    let name_owned = name.to_string();
    cluster.add_client(name, async move {
        let c = ApClient::connect(&name_owned, id, cc, history)
            .await
            .unwrap();
        script(c).await;
        Ok(())
    });
}

mod replication {
    use super::*;

    /// A write reaches a replica after the configured lag (20..40 ms here), not before, and a
    /// read of the replica right after the primary's ack is stale.
    #[test]
    fn replica_sees_a_write_after_the_lag() {
        let mut delays = Vec::new();
        for seed in 0..20 {
            let (mut cluster, store) = world(seed, lagged(20, 40));
            let acked = Rc::new(RefCell::new(None));
            let a = acked.clone();
            client(&mut cluster, &store, "c1", 1, move |c| async move {
                c.get(b"warm").await.unwrap();
                c.clock().sleep(ms(500)).await;
                let invoked = sim_now();
                assert!(c.set(b"k", b"v", false, None).await.unwrap());
                *a.borrow_mut() = Some((invoked, sim_now()));
                // Reading the replica directly right after the ack: not there yet.
                let r2 = c.with_endpoint(sim::ap::ApEndpoint::Node("r2".into()));
                assert_eq!(r2.get(b"k").await.unwrap(), None, "stale read expected");
            });
            run_until(&mut cluster, Duration::from_secs(3), |_| {
                acked.borrow().is_some()
            })
            .unwrap();
            let (invoked, _) = acked.borrow().unwrap();
            let base = store.node_status(&cluster)["r2"].offset;
            let seen = run_until(&mut cluster, Duration::from_secs(1), |c| {
                store.node_status(c)["r2"].offset > base
            })
            .expect("the write reaches r2");
            let delay = seen - invoked;
            // Lag 20..40 ms after the primary executed it (≤ 10 ms after the invoke), plus
            // ≤ 10 ms link latency and a 5 ms replication cron.
            assert!(
                delay >= ms(20) && delay <= ms(40 + 10 + 10 + 5 + 1),
                "seed {seed}: {delay:?}"
            );
            delays.push(delay.as_millis() as u64);
        }
        delays.sort();
        println!(
            "replica r2 applied the write {}..{} ms after the SET was invoked (lag 20..40 ms)",
            delays[0],
            delays[delays.len() - 1]
        );
    }
}

mod failover {
    use super::*;

    /// The primary crashes: within down_after (1 s) + a bound, a sentinel promotes a replica,
    /// the others follow it, and a client that knew the old primary finds the new one.
    #[test]
    fn primary_crash_promotes_a_replica_and_clients_find_it() {
        let mut took = Vec::new();
        for seed in 0..20 {
            let (mut cluster, store) = world(seed, ApConfig::default());
            let writes = Rc::new(RefCell::new(Vec::new()));
            let w = writes.clone();
            client(&mut cluster, &store, "c1", 1, move |c| async move {
                for i in 0..200u32 {
                    let key = format!("k{i}");
                    let ok = c.set(key.as_bytes(), b"v", false, None).await;
                    w.borrow_mut().push((sim_now(), ok.is_ok(), c.last_node()));
                    c.clock().sleep(ms(50)).await;
                }
            });
            cluster.run_for(Duration::from_secs(2)).unwrap();
            let crashed_at = cluster.elapsed();
            assert_eq!(store.primary().as_deref(), Some("r1"));
            cluster.crash("r1");
            let promoted_at = run_until(&mut cluster, Duration::from_secs(15), |c| {
                store.primary().is_some_and(|p| p != "r1")
                    && store.node_status(c)[&store.primary().unwrap()].role == NodeRole::Primary
            })
            .unwrap_or_else(|| panic!("seed {seed}: no failover"));
            let new = store.primary().unwrap();
            let took_ms = (promoted_at - crashed_at).as_millis() as u64;
            // down_after 1 s + ODOWN + the desync (< 1 s) + election + promotion.
            assert!(took_ms <= 2_600, "seed {seed}: failover took {took_ms} ms");
            took.push(took_ms);
            // Everyone agrees within a hello round, and the other replica follows the new one.
            cluster.run_for(Duration::from_secs(1)).unwrap();
            for (s, conf) in store.sentinel_confs() {
                assert_eq!(conf.primary, new, "seed {seed}: sentinel {s}");
            }
            for (node, status) in store.node_status(&cluster) {
                if node != "r1" && node != new {
                    assert_eq!(
                        status.role,
                        NodeRole::Replica {
                            primary: new.clone()
                        },
                        "seed {seed}"
                    );
                }
            }
            // The writer's commands reach the new primary within 1.5 s of the promotion: a write
            // sent to the dead primary on a stale sentinel's word (before its hello round) waits
            // out its 1 s deadline first.
            cluster.run_for(Duration::from_secs(1)).unwrap();
            let found = writes.borrow().iter().find_map(|(at, ok, node)| {
                (*ok && node.as_deref() == Some(new.as_str())).then_some(*at)
            });
            let found = found.unwrap_or_else(|| panic!("seed {seed}: client never wrote to {new}"));
            assert!(found <= promoted_at + ms(1_500), "seed {seed}: {found:?}");
        }
        took.sort();
        println!(
            "failover after a primary crash: {}..{} ms (median {} ms) over {} seeds",
            took[0],
            took[took.len() - 1],
            took[took.len() / 2],
            took.len()
        );
    }
}

/// The seed story with a test-only SET NX PX lock (the `redis-setnx` acquire, without the lock
/// crate): A acquires on the primary; the primary (and, in the correlated variant, `also`)
/// crashes the moment A believes it holds the lock — before replicating, in most seeds; a
/// replica is promoted; B's SET NX succeeds on it while A's 10 s hold still runs.
mod story {
    use super::*;
    use sim::{Fault, FaultInjector, Target};

    const TTL: Duration = Duration::from_secs(10);

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Outcome {
        /// When A entered its critical section (its SET NX, and WAIT if asked, succeeded).
        pub a_held_at: Option<Duration>,
        pub b_acquired_at: Option<Duration>,
    }

    impl Outcome {
        pub(super) fn two_holders(&self) -> bool {
            match (self.a_held_at, self.b_acquired_at) {
                (Some(a), Some(b)) => b < a + TTL,
                _ => false,
            }
        }
    }

    pub(super) fn run(seed: u64, wait: bool, also: &[&str]) -> (Outcome, String) {
        let (mut cluster, store) = world(seed, ApConfig::default());
        let a_state: Rc<RefCell<Option<Option<Duration>>>> = Rc::default();
        let b_state: Rc<RefCell<Option<Duration>>> = Rc::default();
        let a = a_state.clone();
        client(&mut cluster, &store, "a", 1, move |c| async move {
            c.get(b"warm").await.unwrap();
            c.clock().sleep(ms(1_500)).await;
            let mut held = c.set_nx_px(b"lock", b"A", TTL).await == Ok(true);
            if held && wait {
                // WAIT 1: do not enter the critical section before a replica has the lock.
                held = c.wait(1, ms(100)).await.is_ok_and(|n| n >= 1);
                if !held {
                    let _ = c.compare_and_delete(b"lock", b"A").await;
                }
            }
            let now = sim_now();
            if held {
                c.history()
                    .app("a", serde_json::json!({"lock": "acquired"}), now);
            }
            *a.borrow_mut() = Some(held.then_some(now));
        });
        let b = b_state.clone();
        client(&mut cluster, &store, "b", 2, move |c| async move {
            c.get(b"warm").await.unwrap();
            c.clock().sleep(ms(1_600)).await;
            while sim_now() < Duration::from_secs(9) {
                if c.set_nx_px(b"lock", b"B", TTL).await == Ok(true) {
                    let now = sim_now();
                    c.history()
                        .app("b", serde_json::json!({"lock": "acquired"}), now);
                    *b.borrow_mut() = Some(now);
                    return;
                }
                c.clock().sleep(ms(100)).await;
            }
        });
        // The fault: crash `primary` (resolved through the store) when A has decided.
        run_until(&mut cluster, Duration::from_secs(5), |_| {
            a_state.borrow().is_some()
        })
        .expect("A decides");
        let mut injector = FaultInjector::new(&sim::FaultPlan::default(), seed);
        let crash = Fault::Crash {
            target: Target::Primary,
            lose_unsynced: false,
        };
        let hit = injector.apply_now(&mut cluster, &[&store], &crash).unwrap();
        assert_eq!(hit, vec!["r1".to_string()]);
        for host in also {
            cluster.crash(host);
        }
        let rest = Duration::from_secs(10) - cluster.elapsed();
        cluster.run_for(rest).unwrap();
        let outcome = Outcome {
            a_held_at: a_state.borrow().unwrap(),
            b_acquired_at: *b_state.borrow(),
        };
        cluster.history().close();
        (outcome, cluster.history().digest())
    }

    pub(super) fn rate(seeds: std::ops::Range<u64>, wait: bool, also: &[&str]) -> (usize, usize) {
        let n = (seeds.end - seeds.start) as usize;
        let violations = seeds
            .filter(|&seed| run(seed, wait, also).0.two_holders())
            .count();
        (violations, n)
    }

    #[test]
    fn two_holders_after_failover_in_most_seeds() {
        let (bad, n) = rate(0..40, false, &[]);
        println!("SET NX PX, primary crashes after the acquire: two holders in {bad}/{n} seeds");
        assert!(bad * 2 > n, "expected most seeds, got {bad}/{n}");
        // One such seed, spelled out.
        let seed = (0..40)
            .find(|&s| run(s, false, &[]).0.two_holders())
            .unwrap();
        let (o, _) = run(seed, false, &[]);
        let (a, b) = (o.a_held_at.unwrap(), o.b_acquired_at.unwrap());
        assert!(b > a && b < a + TTL, "seed {seed}: {o:?}");
    }

    /// `WAIT 1` before entering the critical section: a lone primary crash no longer loses the
    /// lock (the promoted replica is the most up to date, and it has the key), but losing the
    /// primary together with the replica that acknowledged still does.
    #[test]
    fn wait_narrows_but_does_not_close_the_window() {
        let (without, n) = rate(0..30, false, &[]);
        let (with, _) = rate(0..30, true, &[]);
        println!("primary crash: two holders without WAIT {without}/{n}, with WAIT 1 {with}/{n}");
        assert!(with < without);
        let (with_correlated, _) = rate(0..30, true, &["r2"]);
        println!("primary and r2 crash: two holders with WAIT 1 {with_correlated}/{n}");
        assert!(with_correlated > 0);
    }

    /// Measured figures for the resolve note:
    /// `SEEDS=200 cargo test --release --test ap -- --ignored --nocapture story::rates`
    #[test]
    #[ignore = "many seeds: run explicitly"]
    fn rates() {
        let seeds = std::env::var("SEEDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200);
        for (label, also) in [
            ("primary crashes", &[][..]),
            ("primary and r2 crash together", &["r2"][..]),
        ] {
            let (without, n) = rate(0..seeds, false, also);
            let (with, _) = rate(0..seeds, true, also);
            println!(
                "{label}: two holders without WAIT {without}/{n} ({:.1}%), with WAIT 1 {with}/{n} ({:.1}%)",
                100.0 * without as f64 / n as f64,
                100.0 * with as f64 / n as f64
            );
        }
    }
}

mod demotion {
    use super::*;
    use sim::ap::{ApEndpoint, Persistence};

    fn full_resyncs_of(cluster: &Cluster, node: &str) -> Vec<serde_json::Value> {
        cluster
            .history()
            .records()
            .into_iter()
            .filter_map(|r| match r {
                sim::Record::App { process, event, .. }
                    if process == node && event["ap"] == "full_resync" =>
                {
                    Some(event)
                }
                _ => None,
            })
            .collect()
    }

    /// Split brain: the primary is cut off with one client, keeps acknowledging its writes, a
    /// replica is promoted on the other side; on heal the old primary is demoted, resyncs from
    /// the new one, and every write it acknowledged alone is gone.
    #[test]
    fn old_primary_is_demoted_and_loses_what_it_acknowledged_alone() {
        for seed in 0..10 {
            let (mut cluster, store) = world(seed, ApConfig::default());
            let acked = Rc::new(RefCell::new(Vec::new()));
            let w = acked.clone();
            client(&mut cluster, &store, "a", 1, move |c| async move {
                for i in 0..40u32 {
                    let key = format!("k{i}");
                    if c.set(key.as_bytes(), b"v", false, None).await.is_ok() {
                        w.borrow_mut().push((sim_now(), key, c.last_node()));
                    }
                    c.clock().sleep(ms(100)).await;
                }
            });
            cluster.run_for(Duration::from_secs(1)).unwrap();
            let mut others = store.hosts();
            others.retain(|h| h != "r1");
            cluster.partition(&[vec!["r1".into(), "a".into()], others]);
            let cut_at = cluster.elapsed();
            run_until(&mut cluster, Duration::from_secs(10), |_| {
                store.primary().is_some_and(|p| p != "r1")
            })
            .unwrap();
            let new = store.primary().unwrap();
            let promoted_offset = store.node_status(&cluster)[&new].offset;
            cluster.run_for(Duration::from_secs(1)).unwrap();
            cluster.heal();
            run_until(&mut cluster, Duration::from_secs(5), |c| {
                store.node_status(c)["r1"].role
                    == NodeRole::Replica {
                        primary: new.clone(),
                    }
            })
            .unwrap_or_else(|| panic!("seed {seed}: r1 not demoted"));
            cluster.run_for(Duration::from_secs(1)).unwrap();
            let resyncs = full_resyncs_of(&cluster, "r1");
            let last = resyncs.last().expect("r1 resynced fully");
            assert_eq!(last["primary"], serde_json::json!(new));
            assert!(last["discarded_offset"].as_u64().unwrap() > promoted_offset);
            // Acked by r1 while cut off (allowing for replication in flight at the cut):
            let lost: Vec<String> = acked
                .borrow()
                .iter()
                .filter(|(at, _, node)| *at > cut_at + ms(100) && node.as_deref() == Some("r1"))
                .map(|(_, k, _)| k.clone())
                .collect();
            assert!(!lost.is_empty(), "seed {seed}");
            let found = Rc::new(RefCell::new(Vec::new()));
            let f = found.clone();
            let keys = lost.clone();
            client(&mut cluster, &store, "check", 9, move |c| async move {
                for k in keys {
                    let value = c.get(k.as_bytes()).await.unwrap();
                    f.borrow_mut().push(value);
                }
            });
            cluster.run_for(Duration::from_secs(2)).unwrap();
            assert_eq!(found.borrow().len(), lost.len());
            assert!(
                found.borrow().iter().all(|v| v.is_none()),
                "seed {seed}: acknowledged writes survived demotion"
            );
        }
    }

    /// With AOF everysec, a crashed primary restarts with its fsynced, never-replicated write,
    /// comes back believing it is primary, and is demoted: the write is discarded.
    #[test]
    fn restarted_primary_with_aof_is_demoted_and_its_write_is_lost() {
        for seed in 0..5 {
            let mut config = lagged(1500, 1500);
            config
                .persistence
                .insert("r1".into(), Persistence::AofEverySec);
            let (mut cluster, store) = world(seed, config);
            client(&mut cluster, &store, "a", 1, move |c| async move {
                c.clock().sleep(ms(300)).await;
                assert!(c.set(b"k", b"v", false, None).await.unwrap());
            });
            // Past the 1 s fsync, before the 1.5 s replication lag.
            cluster.run_for(ms(1_700)).unwrap();
            assert_eq!(store.node_status(&cluster)["r2"].keys, 0);
            cluster.crash("r1");
            run_until(&mut cluster, Duration::from_secs(10), |_| {
                store.primary().is_some_and(|p| p != "r1")
            })
            .unwrap();
            let new = store.primary().unwrap();
            cluster.restart("r1");
            cluster.step().unwrap();
            let status = store.node_status(&cluster)["r1"].clone();
            assert_eq!(status.keys, 1, "seed {seed}: the AOF had the write");
            assert_eq!(status.role, NodeRole::Primary, "its config says primary");
            run_until(&mut cluster, Duration::from_secs(3), |c| {
                store.node_status(c)["r1"].keys == 0
            })
            .unwrap_or_else(|| panic!("seed {seed}: r1 kept the write"));
            assert_eq!(
                store.node_status(&cluster)["r1"].role,
                NodeRole::Replica { primary: new }
            );
            let got = Rc::new(RefCell::new(None));
            let g = got.clone();
            client(&mut cluster, &store, "check", 9, move |c| async move {
                let r1 = c.with_endpoint(ApEndpoint::Node("r1".into()));
                *g.borrow_mut() = Some((c.get(b"k").await.unwrap(), r1.get(b"k").await.unwrap()));
            });
            cluster.run_for(Duration::from_secs(1)).unwrap();
            assert_eq!(*got.borrow(), Some((None, None)), "seed {seed}");
        }
    }
}

mod skew {
    use super::*;

    /// Sets `k PX 1000` on the primary after skewing its clock, polls GET every 5 ms, and
    /// returns how long (simulated) after the SET's ack the key read as gone.
    fn expiry_after(seed: u64, rate: Option<f64>, offset_after_set: Option<Duration>) -> u64 {
        let (mut cluster, store) = world(seed, ApConfig::default());
        if let Some(rate) = rate {
            cluster.skew("r1", Some(rate), None);
        }
        let out = Rc::new(RefCell::new((None, None)));
        let o = out.clone();
        client(&mut cluster, &store, "c1", 1, move |c| async move {
            c.get(b"warm").await.unwrap();
            assert!(c.set(b"k", b"v", false, Some(ms(1000))).await.unwrap());
            o.borrow_mut().0 = Some(sim_now());
            loop {
                if c.get(b"k").await.unwrap().is_none() {
                    o.borrow_mut().1 = Some(sim_now());
                    return;
                }
                c.clock().sleep(ms(5)).await;
            }
        });
        run_until(&mut cluster, Duration::from_secs(2), |_| {
            out.borrow().0.is_some()
        })
        .unwrap();
        if let Some(offset) = offset_after_set {
            cluster.skew("r1", None, Some(offset));
        }
        run_until(&mut cluster, Duration::from_secs(5), |_| {
            out.borrow().1.is_some()
        })
        .unwrap();
        let (set, gone) = *out.borrow();
        (gone.unwrap() - set.unwrap()).as_millis() as u64
    }

    /// PX 1000 on a primary whose clock runs 2× fast expires after ~500 ms of real (simulated)
    /// time, 0.5× after ~2000 ms, and a +800 ms jump right after the SET leaves ~200 ms.
    #[test]
    fn a_skewed_node_expires_keys_by_its_own_clock() {
        for seed in 0..5 {
            let normal = expiry_after(seed, None, None);
            let fast = expiry_after(seed, Some(2.0), None);
            let slow = expiry_after(seed, Some(0.5), None);
            let jump = expiry_after(seed, None, Some(ms(800)));
            println!("seed {seed}: PX 1000 gone after {normal} ms (no skew), {fast} ms (rate 2.0), {slow} ms (rate 0.5), {jump} ms (+800 ms jump)");
            // The ack and each poll add up to 2 × 10 ms latency and a 5 ms poll period.
            let near = |got: u64, want: u64| got + 5 >= want && got <= want + 30;
            assert!(near(normal, 1000), "seed {seed}: {normal}");
            assert!(near(fast, 500), "seed {seed}: {fast}");
            assert!(near(slow, 2000), "seed {seed}: {slow}");
            assert!(near(jump, 200), "seed {seed}: {jump}");
        }
    }
}

mod determinism {
    use super::common::{random_plan, PlanShape};
    use super::*;
    use sim::{FaultInjector, Target};

    /// Lock-like traffic from two restartable clients under a random plan for 15 s, then
    /// everything healed; returns whether a write succeeded after healing, and the digest.
    fn run(seed: u64) -> (bool, String) {
        let mut config = ApConfig::default();
        config
            .persistence
            .insert("r2".into(), sim::ap::Persistence::AofEverySec);
        let (mut cluster, store) = world(seed, config);
        for (i, name) in ["c1", "c2"].into_iter().enumerate() {
            let cc = store.client_config(&mut cluster, name);
            let history = cluster.history().clone();
            cluster.add_host(name, move || {
                let (cc, history) = (cc.clone(), history.clone());
                async move {
                    let c = ApClient::connect(name, i as u32 + 1, cc, history).await?;
                    let token = name.as_bytes();
                    while sim_now() < Duration::from_secs(16) {
                        if c.set_nx_px(b"lock", token, ms(500)).await == Ok(true) {
                            let _ = c.incr(b"fence").await;
                            let _ = c.wait(1, ms(50)).await;
                            c.clock().sleep(ms(100)).await;
                            let _ = c.compare_and_delete(b"lock", token).await;
                        }
                        c.clock().sleep(ms(30)).await;
                    }
                    Ok(())
                }
            });
        }
        let mut hosts = store.hosts();
        hosts.extend(["c1".to_string(), "c2".to_string()]);
        let mut plan = random_plan(
            seed,
            &hosts,
            Duration::from_secs(12),
            &PlanShape {
                // `primary` twice: drawn as often as two hosts.
                roles: vec![Target::Primary, Target::Primary],
                faults: 3..8,
                partition: |a, b| vec![vec![a], vec![b]],
            },
        );
        for f in &mut plan.faults {
            f.at += Duration::from_secs(1);
        }
        plan.validate(cluster.hosts(), 0).unwrap();
        let mut injector = FaultInjector::new(&plan, seed);
        while cluster.elapsed() < Duration::from_secs(16) {
            injector.apply_due(&mut cluster, &[&store]).unwrap();
            cluster.step().unwrap();
        }
        cluster.heal();
        for host in hosts {
            cluster.restart(&host);
            cluster.resume(&host);
            cluster.skew(&host, Some(1.0), None);
        }
        cluster.set_link_rule(None, sim::LinkRule::default());
        cluster.set_latency(None, None);
        // Liveness: after healing, the store takes a write again (a failover may be needed).
        let ok = Rc::new(RefCell::new(false));
        let o = ok.clone();
        client(&mut cluster, &store, "check", 9, move |c| async move {
            for _ in 0..20 {
                if c.set(b"after", b"heal", false, None).await.is_ok() {
                    *o.borrow_mut() = true;
                    return;
                }
                c.clock().sleep(ms(500)).await;
            }
        });
        cluster.run_for(Duration::from_secs(15)).unwrap();
        cluster.history().close();
        let written = *ok.borrow();
        (written, cluster.history().digest())
    }

    #[test]
    fn same_seed_same_history_digest_under_faults_on_ap_hosts() {
        let mut digests = Vec::new();
        for seed in [1, 7, 12] {
            let (live, first) = run(seed);
            let (_, second) = run(seed);
            assert_eq!(first, second, "seed {seed}");
            assert!(live, "seed {seed}: no write accepted after healing");
            digests.push(first);
        }
        digests.dedup();
        assert_eq!(digests.len(), 3, "different seeds, different runs");
    }

    /// Liveness after random faults over more seeds.
    #[test]
    fn heals_and_accepts_writes_after_random_faults() {
        for seed in 0..15 {
            assert!(run(seed).0, "seed {seed}");
        }
    }
}
