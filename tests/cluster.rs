//! Integration tests of the simulated etcd cluster through its public API: elections, a leader
//! crash under load, catch-up by snapshot, watches across a member crash, determinism.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use sim::{
    sim_now, Client, ClientRequest, ClientResponse, ClusterConfig, ClusterEvent, Driver, History,
    MemberConfig, Outcome, PutRequest, RangeRequest, Record, WatchRequest,
};

/// A key and the revision that wrote it.
type KeyRevision = (Vec<u8>, i64);

fn config(seed: u64) -> ClusterConfig {
    ClusterConfig {
        seed,
        ..ClusterConfig::default()
    }
}

fn put(key: &str, value: &str) -> ClientRequest {
    ClientRequest::Put(PutRequest {
        key: key.into(),
        value: value.into(),
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

/// Members that became leader in each term, from the history.
fn leaders_by_term(history: &History) -> BTreeMap<u64, Vec<u64>> {
    let mut terms: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for record in history.records() {
        if let Record::Event {
            event: ClusterEvent::BecameLeader { member, term },
            ..
        } = record
        {
            terms.entry(term).or_default().push(member);
        }
    }
    terms
}

fn assert_one_leader_per_term(history: &History) {
    for (term, members) in leaders_by_term(history) {
        assert_eq!(members.len(), 1, "term {term} had leaders {members:?}");
    }
}

mod election {
    use super::*;

    #[test]
    fn elects_one_leader_within_two_election_timeouts() {
        for seed in 0..10 {
            let mut driver = Driver::new(config(seed)).unwrap();
            let cluster = driver.cluster();
            assert!(cluster.leader().is_some(), "seed {seed}: no leader");
            assert!(
                cluster.elapsed() <= Duration::from_secs(2) + Duration::from_millis(100),
                "seed {seed}: leader only after {:?}",
                cluster.elapsed()
            );
            assert_one_leader_per_term(cluster.history());
        }
    }
}

mod leader_crash {
    use super::*;

    /// Three writers put distinct keys while the leader crashes at 3 s and restarts at 6 s.
    /// A new leader is elected, and every acknowledged write is in the final store.
    #[test]
    fn under_load_loses_no_acknowledged_write() {
        for seed in 0..4 {
            let mut driver = Driver::new(config(seed)).unwrap();
            let acked: Rc<RefCell<Vec<(String, String)>>> = Rc::default();
            let history = driver.cluster().history().clone();
            for c in 0..3u32 {
                let acked = acked.clone();
                let name = format!("c{}", c + 2);
                let client_config = driver.cluster().client_config(&name);
                let history = history.clone();
                driver.cluster().add_client(&name.clone(), async move {
                    let client = Client::connect(&name, c + 2, client_config, history).await?;
                    let mut i = 0;
                    while sim_now() < Duration::from_secs(10) {
                        let key = format!("k/{name}/{i:04}");
                        let value = format!("v{i}");
                        if let Ok(ClientResponse::Put(_)) = client.call(put(&key, &value)).await {
                            acked.borrow_mut().push((key, value));
                        }
                        i += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Ok(())
                });
            }
            let cluster = driver.cluster();
            cluster.run_for(Duration::from_secs(3)).unwrap();
            let (old_leader, old_term) = cluster.leader().expect("leader before crash");
            let old_name = sim::member_name(old_leader);
            cluster.crash(&old_name);
            cluster.run_for(Duration::from_secs(3)).unwrap();
            let (new_leader, new_term) = cluster.leader().expect("new leader after crash");
            assert_ne!(new_leader, old_leader, "seed {seed}");
            assert!(new_term > old_term, "seed {seed}");
            cluster.restart(&old_name);
            cluster.run_for(Duration::from_secs(6)).unwrap();

            let response = driver
                .call(ClientRequest::Range(prefix("k/")))
                .unwrap()
                .unwrap();
            let ClientResponse::Range(range) = response else {
                panic!("range answered {response:?}")
            };
            let store: BTreeMap<Vec<u8>, Vec<u8>> =
                range.kvs.into_iter().map(|kv| (kv.key, kv.value)).collect();
            let acked = acked.borrow();
            assert!(
                acked.len() > 100,
                "seed {seed}: only {} writes acked",
                acked.len()
            );
            for (key, value) in acked.iter() {
                assert_eq!(
                    store.get(key.as_bytes()),
                    Some(&value.as_bytes().to_vec()),
                    "seed {seed}: acknowledged write {key}={value} lost"
                );
            }
            assert_one_leader_per_term(driver.cluster().history());
        }
    }
}

mod catch_up {
    use super::*;

    /// A follower is down while 400 writes go by and the others compact their logs behind
    /// snapshots; on restart it catches up by installing a snapshot and serves every key.
    #[test]
    fn restarted_member_catches_up_via_snapshot() {
        let config = ClusterConfig {
            seed: 3,
            member: MemberConfig {
                snapshot_count: 100,
                snapshot_catchup_entries: 20,
                ..MemberConfig::default()
            },
            ..ClusterConfig::default()
        };
        let mut driver = Driver::new(config).unwrap();
        let (leader, _) = driver.cluster().leader().unwrap();
        let follower = (1..=3).find(|&m| m != leader).unwrap();
        let follower_name = sim::member_name(follower);
        driver.cluster().crash(&follower_name);
        for i in 0..400 {
            let result = driver.call(put(&format!("s/{i:04}"), "x")).unwrap();
            assert!(result.is_ok(), "write {i}: {result:?}");
        }
        driver.cluster().restart(&follower_name);
        let caught_up = driver
            .cluster()
            .run_until(Duration::from_secs(10), |c| {
                let status = c.status();
                status[&follower].applied >= status[&leader].applied
                    && status[&follower].revision == status[&leader].revision
            })
            .unwrap();
        assert!(caught_up, "{:?}", driver.cluster().status());
        let installed = driver.cluster().history().records().into_iter().any(|r| {
            matches!(r, Record::Event { event: ClusterEvent::SnapshotInstalled { member, .. }, .. } if member == follower)
        });
        assert!(installed, "the follower caught up without a snapshot");

        // Read from the restarted member alone (serializable: its own store).
        let mut client_config = driver.cluster().client_config("reader");
        client_config.endpoints = vec![follower_name.clone()];
        let history = driver.cluster().history().clone();
        let seen: Rc<RefCell<Option<i64>>> = Rc::default();
        let out = seen.clone();
        driver.cluster().add_client("reader", async move {
            let client = Client::connect("reader", 9, client_config, history).await?;
            let mut req = prefix("s/");
            req.serializable = true;
            req.count_only = true;
            let response = client.get(req).await?;
            *out.borrow_mut() = Some(response.count);
            Ok(())
        });
        driver.cluster().run_for(Duration::from_secs(2)).unwrap();
        assert_eq!(*seen.borrow(), Some(400));
    }
}

mod watch {
    use super::*;

    /// A watcher follows prefix `w/` while 150 writes go by; the member serving it crashes
    /// mid-stream. The watcher resumes elsewhere: every write seen once, in revision order.
    #[test]
    fn survives_member_crash_without_gap_or_duplicate() {
        for seed in 0..3 {
            let mut driver = Driver::new(config(seed)).unwrap();
            let history = driver.cluster().history().clone();
            let events: Rc<RefCell<Vec<KeyRevision>>> = Rc::default();
            let cc = driver.cluster().client_config("watcher");
            let (h, out) = (history.clone(), events.clone());
            driver.cluster().add_client("watcher", async move {
                let client = Client::connect("watcher", 2, cc, h).await?;
                let mut watcher = client.watch(WatchRequest {
                    key: b"w/".to_vec(),
                    range_end: sim::prefix_end(b"w/"),
                    start_revision: 1,
                    prev_kv: false,
                });
                while sim_now() < Duration::from_secs(20) {
                    let Ok(Ok(batch)) =
                        tokio::time::timeout(Duration::from_secs(3), watcher.next()).await
                    else {
                        continue;
                    };
                    for e in batch.events {
                        out.borrow_mut().push((e.kv.key, e.kv.mod_revision));
                    }
                }
                Ok(())
            });
            let (cc, h) = (driver.cluster().client_config("writer"), history.clone());
            driver.cluster().add_client("writer", async move {
                let client = Client::connect("writer", 3, cc, h).await?;
                for i in 0..150 {
                    let _ = client.call(put(&format!("w/{i:03}"), "x")).await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(())
            });
            driver.cluster().run_for(Duration::from_secs(2)).unwrap();
            let (leader, _) = driver.cluster().leader().unwrap();
            let name = sim::member_name(leader);
            driver.cluster().crash(&name);
            driver.cluster().run_for(Duration::from_secs(3)).unwrap();
            driver.cluster().restart(&name);
            driver.cluster().run_for(Duration::from_secs(16)).unwrap();

            let events = events.borrow();
            for pair in events.windows(2) {
                assert!(
                    pair[0].1 < pair[1].1,
                    "seed {seed}: out of order or duplicate: {pair:?}"
                );
            }
            let response = driver
                .call(ClientRequest::Range(prefix("w/")))
                .unwrap()
                .unwrap();
            let ClientResponse::Range(range) = response else {
                panic!()
            };
            let stored: Vec<KeyRevision> = range
                .kvs
                .into_iter()
                .map(|kv| (kv.key, kv.mod_revision))
                .collect();
            assert!(stored.len() >= 100, "seed {seed}: {} writes", stored.len());
            assert_eq!(
                *events, stored,
                "seed {seed}: watched events differ from the writes"
            );
        }
    }
}

mod determinism {
    use super::*;

    fn script(seed: u64) -> (String, String) {
        let mut driver = Driver::new(config(seed)).unwrap();
        for i in 0..20 {
            driver.call(put(&format!("d/{i}"), "v")).unwrap().unwrap();
        }
        let (leader, _) = driver.cluster().leader().unwrap();
        driver.cluster().crash(&sim::member_name(leader));
        driver.sleep(Duration::from_secs(2)).unwrap();
        for i in 20..40 {
            let _ = driver.call(put(&format!("d/{i}"), "v")).unwrap();
        }
        driver.cluster().restart(&sim::member_name(leader));
        driver.sleep(Duration::from_secs(2)).unwrap();
        driver
            .call(ClientRequest::Range(prefix("d/")))
            .unwrap()
            .unwrap();
        let history = driver.cluster().history().clone();
        history.close();
        (history.digest(), history.to_jsonl())
    }

    #[test]
    fn same_seed_same_history_bytes() {
        let (a, a_log) = script(7);
        let (b, b_log) = script(7);
        assert_eq!(a_log, b_log);
        assert_eq!(a, b);
        let (c, _) = script(8);
        assert_ne!(a, c, "a different seed should change timings");
    }

    #[test]
    fn indeterminate_writes_are_recorded_as_such() {
        let mut driver = Driver::new(config(1)).unwrap();
        let members = driver.cluster().member_names();
        // Cut the ctl client off from every member: its write can get no answer.
        driver
            .cluster()
            .partition(&[vec![sim::CTL_HOST.to_string()], members]);
        let result = driver.call(put("x", "1")).unwrap();
        assert_eq!(result, Err(sim::Error::Indeterminate));
        let ops = driver.cluster().history().operations();
        assert_eq!(ops.last().unwrap().outcome, Outcome::Indeterminate);
        assert_eq!(ops.last().unwrap().return_ms, None);
    }
}

mod lease {
    use super::*;
    use sim::{LeaseGrantRequest, ResponseHeader};

    fn grant(driver: &mut Driver, ttl: i64) -> (i64, i64) {
        let response = driver
            .call(ClientRequest::LeaseGrant(LeaseGrantRequest { ttl, id: 0 }))
            .unwrap()
            .unwrap();
        let ClientResponse::LeaseGrant(g) = response else {
            panic!("{response:?}")
        };
        (g.id, g.ttl)
    }

    fn put_with_lease(driver: &mut Driver, key: &str, lease: i64) -> ResponseHeader {
        let request = ClientRequest::Put(PutRequest {
            key: key.into(),
            value: b"held".to_vec(),
            lease,
            ..Default::default()
        });
        *driver.call(request).unwrap().unwrap().header()
    }

    fn expiry_time(history: &History, lease: i64) -> Option<Duration> {
        history.records().into_iter().find_map(|r| match r {
            Record::Event {
                at_ms,
                event: ClusterEvent::LeaseExpired { lease: l, .. },
            } if l == lease => Some(Duration::from_millis(at_ms)),
            _ => None,
        })
    }

    /// No keepalives: the leader expires the lease at its TTL (its expiry check runs every
    /// 500 ms, as etcd's) and both attached keys go in one revision.
    #[test]
    fn expires_at_ttl_and_deletes_its_keys_in_one_revision() {
        for seed in 0..5 {
            let mut driver = Driver::new(config(seed)).unwrap();
            let (id, ttl) = grant(&mut driver, 1);
            assert_eq!(ttl, 2, "TTL 1 is raised to the minimum, ceil(1.5 × 1 s)");
            let granted_at = driver.cluster().elapsed();
            put_with_lease(&mut driver, "l/a", id);
            let header = put_with_lease(&mut driver, "l/b", id);
            let history = driver.cluster().history().clone();
            let expired = driver
                .cluster()
                .run_until(Duration::from_secs(10), |_| {
                    expiry_time(&history, id).is_some()
                })
                .unwrap();
            assert!(expired, "seed {seed}: lease never expired");
            let at = expiry_time(&history, id).unwrap() - granted_at;
            assert!(
                at >= Duration::from_secs(2) && at <= Duration::from_millis(2600),
                "seed {seed}: expired {at:?} after grant"
            );
            let response = driver
                .call(ClientRequest::Range(prefix("l/")))
                .unwrap()
                .unwrap();
            let ClientResponse::Range(range) = response else {
                panic!()
            };
            assert_eq!(range.count, 0, "seed {seed}");
            assert_eq!(
                range.header.revision,
                header.revision + 1,
                "seed {seed}: one revision"
            );
        }
    }

    /// A leader change promotes leases to now + election timeout + full TTL: the key outlives
    /// its TTL counted from the last keepalive (etcd 3.4 without checkpointing).
    #[test]
    fn leader_change_extends_the_hold_past_its_ttl() {
        for seed in 0..3 {
            let mut driver = Driver::new(config(seed)).unwrap();
            let (id, ttl) = grant(&mut driver, 3);
            let granted_at = driver.cluster().elapsed();
            put_with_lease(&mut driver, "p/a", id);
            driver.sleep(Duration::from_secs(2)).unwrap();
            let (leader, _) = driver.cluster().leader().unwrap();
            driver.cluster().crash(&sim::member_name(leader));
            let history = driver.cluster().history().clone();
            driver
                .cluster()
                .run_until(Duration::from_secs(15), |_| {
                    expiry_time(&history, id).is_some()
                })
                .unwrap();
            let promoted_at = history
                .records()
                .into_iter()
                .filter_map(|r| match r {
                    Record::Event {
                        at_ms,
                        event: ClusterEvent::BecameLeader { .. },
                    } => Some(Duration::from_millis(at_ms)),
                    _ => None,
                })
                .next_back()
                .unwrap();
            let expired_at = expiry_time(&history, id).expect("expires under the new leader");
            let ttl = Duration::from_secs(ttl as u64);
            assert!(
                expired_at > granted_at + ttl + Duration::from_secs(1),
                "seed {seed}: expired at {expired_at:?}, granted at {granted_at:?}"
            );
            assert!(
                expired_at >= promoted_at + Duration::from_secs(1) + ttl,
                "seed {seed}: expired at {expired_at:?}, promoted at {promoted_at:?}"
            );
        }
    }
}

/// A client's deadlines run on its host's own clock (the shared RPC layer), as the AP store's
/// client's do: a read that never gets an answer gives up after `request_timeout` of *local*
/// time, so on a clock running 2× fast it ends after half as much simulated time.
mod client_deadlines {
    use super::*;

    /// Simulated ms a read takes to time out on a client cut off from every member whose clock
    /// runs at `rate`.
    fn read_timeout_ms(rate: f64) -> u64 {
        let mut driver = Driver::new(config(5)).unwrap();
        let cluster = driver.cluster();
        cluster.skew("c1", Some(rate), None);
        let cc = cluster.client_config("c1");
        let history = cluster.history().clone();
        let took: Rc<RefCell<Option<(u64, String)>>> = Rc::default();
        let out = took.clone();
        cluster.add_client("c1", async move {
            let client = Client::connect("c1", 7, cc, history).await?;
            let start = sim_now();
            let result = client.get(prefix("k")).await;
            let error = result.expect_err("no member can answer").to_string();
            *out.borrow_mut() = Some(((sim_now() - start).as_millis() as u64, error));
            Ok(())
        });
        let members = cluster.member_names();
        cluster.partition(&[vec!["c1".to_string()], members]);
        cluster.run_for(Duration::from_secs(12)).unwrap();
        let (ms, error) = took.borrow().clone().expect("the read returned");
        assert_eq!(error, "etcdserver: request timed out");
        ms
    }

    #[test]
    fn a_fast_clock_times_out_early() {
        let normal = read_timeout_ms(1.0);
        let fast = read_timeout_ms(2.0);
        // 5 s request timeout; a tick (10 ms) of slack for the step the deadline falls in.
        assert!((5000..=5020).contains(&normal), "rate 1: {normal} ms");
        assert!((2500..=2520).contains(&fast), "rate 2: {fast} ms");
    }
}
