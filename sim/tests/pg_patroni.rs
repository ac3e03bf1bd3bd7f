//! Failover by the Patroni-like managers, measured: a writer commits every 50 ms through a
//! multi-host connection (`target_session_attrs=read-write`, short keepalives and
//! `tcp_user_timeout` as applications behind a failover manager set them); the primary crashes
//! for good at 30 s. The leader key's lease (ttl 30 s) runs out, a standby is promoted at its
//! next loop (loop_wait 10 s), the writer reconnects to it. Measured: the failover time, and the
//! acknowledged commits the new primary does not have when the standbys were `lag` behind —
//! cut off from the primary (not from etcd or the writer) for that long before the crash.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use sim::pg::{
    Keepalive, PatroniConfig, PgClient, PgClientConfig, PgCluster, PgConfig, Reply, Statement,
    SyncCommit, SyncStandbys, TargetSession,
};
use sim::{Cluster, ClusterConfig, ClusterEvent, Record};

const S: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;

/// What happens to the primary at 30 s.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// It crashes for good.
    Crash,
    /// It is cut off from etcd (the DCS) and the standbys; the writer still reaches it.
    CutFromDcs,
}

struct Failover {
    /// From the crash to the promotion.
    promoted_after: Duration,
    /// Commits acknowledged on the old primary.
    acked: usize,
    /// Of those, the ones the new primary does not have.
    lost: usize,
    /// From the fault to the old primary's demotion, if it demoted.
    demoted_after: Option<Duration>,
    /// The digest of the history.
    digest: String,
}

fn failover(seed: u64, lag: Option<Duration>, config: PgConfig) -> Failover {
    fault_at_30s(seed, lag, config, Fault::Crash)
}

fn fault_at_30s(seed: u64, lag: Option<Duration>, config: PgConfig, fault: Fault) -> Failover {
    let mut cluster = Cluster::new(ClusterConfig {
        members: 3,
        seed,
        tick: MS(10),
        latency_min: MS(1),
        latency_max: MS(5),
        ..ClusterConfig::default()
    });
    let pg = PgCluster::add_with_patroni(&mut cluster, 3, config, PatroniConfig::default());
    let history = cluster.history().clone();
    // (server, version) of every acknowledged commit.
    let acked: Rc<RefCell<Vec<(String, i64)>>> = Rc::default();
    let mut client = PgClientConfig::new(pg.server_names(), cluster.clock("c1"), cluster.links());
    client.target_session_attrs = TargetSession::ReadWrite;
    client.connect_timeout = S(3);
    client.tcp_user_timeout = Some(S(5));
    client.keepalives = Some(Keepalive {
        idle: S(5),
        interval: S(1),
        count: 3,
    });
    let (h, a) = (history.clone(), acked.clone());
    cluster.add_client("c1", async move {
        let clock = client.clock.clone();
        // Patroni elects p1 in the first seconds.
        clock.sleep(S(5)).await;
        let mut connection = 0;
        let mut inserted = false;
        loop {
            connection += 1;
            let Ok(c) = PgClient::connect("c1", connection, client.clone(), h.clone()).await else {
                clock.sleep(S(1)).await;
                continue;
            };
            if !inserted {
                let insert = Statement::Insert {
                    table: "locks".into(),
                    id: 1,
                    value: "v".into(),
                };
                inserted = c.execute(insert).await.is_ok();
            }
            loop {
                let update = Statement::Update {
                    table: "locks".into(),
                    id: 1,
                    value: "w".into(),
                    expected_version: None,
                    returning: true,
                };
                match c.execute(update).await {
                    Ok(Reply::Returning { rows, .. }) if !rows.is_empty() => a
                        .borrow_mut()
                        .push((c.server().unwrap_or_default(), rows[0].version)),
                    Ok(_) => {}
                    Err(_) => break,
                }
                clock.sleep(MS(50)).await;
            }
        }
    });
    let until = |cluster: &mut Cluster, at: Duration| {
        while cluster.elapsed() < at {
            cluster.step().expect("no panic in the simulation");
        }
    };
    let standbys_cut = vec![
        vec!["p1".to_string()],
        vec!["p2".to_string(), "p3".to_string()],
    ];
    if let Some(lag) = lag {
        until(&mut cluster, S(30) - lag);
        assert_eq!(pg.primaries(), vec!["p1".to_string()]);
        cluster.partition(&standbys_cut);
    }
    until(&mut cluster, S(30));
    let primary = pg.primaries()[0].clone();
    if lag.is_some() {
        cluster.unpartition(&standbys_cut);
    }
    match fault {
        Fault::Crash => cluster.crash(&primary),
        Fault::CutFromDcs => cluster.partition(&[
            vec![primary.clone()],
            vec![
                "n1".to_string(),
                "n2".to_string(),
                "n3".to_string(),
                "p2".to_string(),
                "p3".to_string(),
            ],
        ]),
    }
    until(&mut cluster, S(90));
    let records = history.records();

    let (promoted_at, promoted) = records
        .iter()
        .find_map(|r| match r {
            Record::Event {
                at_ms,
                event: ClusterEvent::PgPromoted { server, .. },
            } if *at_ms > 30_000 => Some((*at_ms, server.clone())),
            _ => None,
        })
        .expect("a standby was promoted");
    // The first version the writer saw acknowledged by the new primary: every version the old
    // one acknowledged at or above it was lost (the new primary counted on from below it).
    let versions = acked.borrow();
    let on_old: Vec<i64> = versions
        .iter()
        .filter(|(s, _)| *s == primary)
        .map(|(_, v)| *v)
        .collect();
    let first_new = versions
        .iter()
        .find(|(s, _)| *s == promoted)
        .map_or(i64::MAX, |(_, v)| *v);
    let lost = on_old.iter().filter(|&&v| v >= first_new).count();
    let demoted_after = records.iter().find_map(|r| match r {
        Record::Event {
            at_ms,
            event: ClusterEvent::PgDemoted { .. },
        } if *at_ms > 30_000 => Some(Duration::from_millis(at_ms - 30_000)),
        _ => None,
    });
    Failover {
        demoted_after,
        promoted_after: Duration::from_millis(promoted_at - 30_000),
        lost,
        acked: on_old.len(),
        digest: history.digest(),
    }
}

#[test]
fn a_standby_is_promoted_within_ttl_plus_loop_wait_of_the_crash() {
    for seed in 0..3 {
        let f = failover(seed, None, PgConfig::default());
        eprintln!(
            "seed {seed}: promoted {:?} after the crash; {} of {} acknowledged commits lost",
            f.promoted_after, f.lost, f.acked
        );
        // The lease was refreshed at most loop_wait before the crash and runs ttl; a standby
        // sees it gone at its next loop.
        assert!(f.promoted_after >= S(30 - 10), "{:?}", f.promoted_after);
        assert!(f.promoted_after <= S(30 + 10 + 1), "{:?}", f.promoted_after);
        assert!(f.acked > 50, "{}", f.acked);
    }
}

#[test]
fn commits_lost_grow_with_the_replication_lag_and_synchronous_commit_loses_none() {
    let lost = |lag: u64| failover(1, Some(S(lag)), PgConfig::default());
    let (small, large) = (lost(1), lost(5));
    eprintln!(
        "lag 1 s: {} of {} lost; lag 5 s: {} of {} lost",
        small.lost, small.acked, large.lost, large.acked
    );
    // About the commits of one lag: a commit every 50 ms plus its round trip (~16 a second).
    assert!((10..=25).contains(&small.lost), "{}", small.lost);
    assert!((60..=110).contains(&large.lost), "{}", large.lost);
    let sync = failover(
        1,
        Some(S(5)),
        PgConfig {
            synchronous_commit: SyncCommit::On,
            synchronous_standby_names: SyncStandbys::parse("ANY 1 (p2, p3)").unwrap(),
            ..PgConfig::default()
        },
    );
    eprintln!("synchronous (ANY 1): {} of {} lost", sync.lost, sync.acked);
    assert_eq!(sync.lost, 0);
    assert!(sync.acked > 5);
}

#[test]
fn a_failover_replays_to_the_same_digest() {
    let a = failover(4, Some(S(2)), PgConfig::default());
    let b = failover(4, Some(S(2)), PgConfig::default());
    assert_eq!(a.digest, b.digest);
    let c = failover(5, Some(S(2)), PgConfig::default());
    assert_ne!(a.digest, c.digest);
}

/// The primary cut off from etcd (clients still reach it) cannot renew its leader key: it
/// demotes itself once a DCS call has failed for retry_timeout, before its lease runs out, so
/// the promoted standby is never a second primary at the same time — but until the demotion it
/// keeps acknowledging commits the new primary will never have.
#[test]
fn a_primary_cut_off_from_the_dcs_demotes_itself_before_its_lease_runs_out() {
    for seed in 0..3 {
        let f = fault_at_30s(seed, None, PgConfig::default(), Fault::CutFromDcs);
        let demoted = f.demoted_after.expect("the old primary demoted");
        eprintln!(
            "seed {seed}: demoted {demoted:?} and a standby promoted {:?} after the cut; {} of {} acknowledged commits lost",
            f.promoted_after, f.lost, f.acked
        );
        // Its next loop (≤ loop_wait) fails after retry_timeout.
        assert!(demoted <= S(10 + 10 + 1), "{demoted:?}");
        assert!(
            demoted < f.promoted_after,
            "{demoted:?} vs {:?}",
            f.promoted_after
        );
        assert!(
            f.lost > 0,
            "commits acknowledged by the cut-off primary are lost"
        );
    }
}
