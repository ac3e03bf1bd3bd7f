//! The AP store through its public API: async replication, Sentinel failover, the seed story
//! (two holders of a SET NX lock after a failover), demotion of an old primary, expiry by a
//! skewed node's clock, and determinism under faults on AP hosts.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use sim::ap::{ApClient, ApConfig, ApStore, NodeRole};
use sim::{sim_now, Cluster, ClusterConfig};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn world(seed: u64, config: ApConfig) -> (Cluster<'static>, ApStore) {
    let mut cluster = Cluster::new(ClusterConfig {
        members: 0,
        seed,
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
        let c = ApClient::connect(&name_owned, id, cc, history).await.unwrap();
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
            assert!(
                found <= promoted_at + ms(1_500),
                "seed {seed}: {found:?}"
            );
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
        run_until(&mut cluster, Duration::from_secs(5), |_| a_state.borrow().is_some())
            .expect("A decides");
        let mut injector = FaultInjector::new(&sim::FaultPlan::default(), seed);
        let crash = Fault::Crash {
            target: Target::Primary,
            lose_unsynced: false,
        };
        let hit = injector.apply_now(&mut cluster, &store, &crash).unwrap();
        assert_eq!(hit, vec!["r1".to_string()]);
        for host in also {
            cluster.crash(host);
        }
        cluster.run_for(Duration::from_secs(10) - cluster.elapsed()).unwrap();
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
        let seed = (0..40).find(|&s| run(s, false, &[]).0.two_holders()).unwrap();
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
