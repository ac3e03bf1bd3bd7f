//! The PostgreSQL server on the world through `PgClient`: a second locker waits and proceeds on
//! commit; a partitioned holder keeps its row lock until the server's keepalive gives the
//! connection up (and learns it on its next statement); a paused holder keeps it for good, its
//! kernel answering the probes; a crash keeps commits and loses advisory locks; determinism.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use sim::pg::{
    Keepalive, LockWait, PgClient, PgClientConfig, PgCluster, PgConfig, Reply, Scope, Statement,
    SyncCommit, SyncStandbys,
};
use sim::{ClusterEvent, History, Record, World, WorldConfig};

const S: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;

fn world(seed: u64, config: PgConfig) -> World<'static> {
    let mut world = World::new(WorldConfig {
        seed,
        tick: MS(10),
        latency_min: MS(1),
        latency_max: MS(20),
    });
    PgCluster::add_to(&mut world, 1, config);
    world
}

fn connect_config(world: &mut World, host: &str) -> PgClientConfig {
    PgClientConfig::new(vec!["p1".into()], world.clock(host), world.links())
}

/// Step until `at` of simulated time (or every client finished).
fn until(world: &mut World, at: Duration) {
    while world.elapsed() < at {
        if world.step().expect("no panic in the simulation") {
            return;
        }
    }
}

type Log = Rc<RefCell<Vec<String>>>;

fn say(log: &Log, client: &PgClient, line: impl AsRef<str>) {
    let at = sim::sim_now().as_millis();
    log.borrow_mut()
        .push(format!("{at:>6} {} {}", client.name(), line.as_ref()));
}

fn lock_row() -> Statement {
    Statement::SelectForUpdate {
        table: "locks".into(),
        ids: vec![1],
        version: None,
        wait: LockWait::Wait,
    }
}

fn show(r: &Result<Reply, sim::pg::PgError>) -> String {
    match r {
        Ok(reply) => reply.to_string(),
        Err(e) => format!("ERROR {e}"),
    }
}

/// `c1` locks row 1 and keeps it for `hold`, `c2` asks for it at 500 ms; `fault` runs on the
/// world at 1 s. Returns the log and the history.
fn holder_and_waiter(
    seed: u64,
    config: PgConfig,
    hold: Duration,
    c2_lock_timeout: Option<Duration>,
    fault: impl FnOnce(&mut World),
    run: Duration,
) -> (Vec<String>, History) {
    let mut world = world(seed, config);
    let history = world.history().clone();
    let log: Log = Rc::default();
    for (host, id) in [("c1", 1u32), ("c2", 2)] {
        let config = connect_config(&mut world, host);
        let (history, log) = (history.clone(), log.clone());
        world.add_client(host, async move {
            let clock = config.clock.clone();
            if host == "c2" {
                clock.sleep(MS(500)).await;
            }
            let c = PgClient::connect(host, id, config, history).await?;
            if host == "c1" {
                let insert = Statement::Insert {
                    table: "locks".into(),
                    id: 1,
                    value: "free".into(),
                };
                say(&log, &c, show(&c.execute(insert).await));
            }
            if let Some(t) = c2_lock_timeout.filter(|_| host == "c2") {
                c.execute(Statement::SetLockTimeout { timeout: t }).await?;
            }
            say(&log, &c, show(&c.execute(Statement::Begin).await));
            say(
                &log,
                &c,
                format!("locked: {}", show(&c.execute(lock_row()).await)),
            );
            if host == "c1" {
                clock.sleep(hold).await;
            }
            let update = Statement::Update {
                table: "locks".into(),
                id: 1,
                value: host.into(),
                expected_version: None,
                returning: false,
            };
            say(&log, &c, show(&c.execute(update).await));
            say(&log, &c, show(&c.execute(Statement::Commit).await));
            say(
                &log,
                &c,
                show(
                    &c.execute(Statement::Select {
                        table: "locks".into(),
                        ids: vec![1],
                    })
                    .await,
                ),
            );
            Ok(())
        });
    }
    until(&mut world, S(1));
    fault(&mut world);
    until(&mut world, run);
    let lines = log.borrow().clone();
    (lines, history)
}

#[test]
fn a_second_locker_waits_and_proceeds_on_commit() {
    let (log, _) = holder_and_waiter(1, PgConfig::default(), S(2), None, |_| {}, S(10));
    let text = log.join("\n");
    let c1_commit = log.iter().position(|l| l.contains("c1 COMMIT")).unwrap();
    let c2_locked = log.iter().position(|l| l.contains("c2 locked")).unwrap();
    assert!(c1_commit < c2_locked, "{text}");
    assert!(
        log[c2_locked].contains("(1, \"c1\", v1)"),
        "the waiter sees the holder's commit: {text}"
    );
    assert!(log.last().unwrap().contains("(1, \"c2\", v2)"), "{text}");
}

fn short_keepalive() -> PgConfig {
    PgConfig {
        tcp_keepalives: Keepalive {
            idle: S(10),
            interval: S(2),
            count: 3,
        },
        ..PgConfig::default()
    }
}

fn backend_ends(history: &History) -> Vec<(u64, String, String)> {
    history
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Event {
                at_ms,
                event: ClusterEvent::PgBackendEnded { client, reason, .. },
            } => Some((at_ms, client, reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_partitioned_holder_keeps_its_row_lock_until_the_keepalive_gives_it_up() {
    let cut = |w: &mut World| w.partition(&[vec!["c1".into()], vec!["p1".into()]]);
    let (log, history) = holder_and_waiter(2, short_keepalive(), S(40), None, cut, S(45));
    let text = log.join("\n");
    // c1 was last heard just after 0 s; the server probes at 10, 12, 14 s and gives up at 16 s.
    let ends = backend_ends(&history);
    let (at, client, reason) = &ends[0];
    assert_eq!(
        (client.as_str(), reason.as_str()),
        ("c1", "connection timed out")
    );
    assert!((10_000..17_500).contains(at), "{ends:?}");
    let granted: u64 = log
        .iter()
        .find(|l| l.contains("c2 locked"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .expect(&text);
    assert!((*at..at + 200).contains(&granted), "{text}");
    // c1 still believes it holds the lock until it speaks again: its UPDATE (after the
    // partition, still on) is retransmitted, so it hears nothing yet.
    assert!(!text.contains("c1 UPDATE"), "{text}");
}

#[test]
fn after_the_partition_heals_the_old_holder_learns_its_connection_is_gone() {
    let mut world = world(3, short_keepalive());
    let history = world.history().clone();
    let result: Rc<RefCell<Option<String>>> = Rc::default();
    let config = connect_config(&mut world, "c1");
    let (h, r) = (history.clone(), result.clone());
    world.add_client("c1", async move {
        let clock = config.clock.clone();
        let c = PgClient::connect("c1", 1, config, h).await?;
        c.execute(Statement::AdvisoryLock {
            key: 7,
            scope: Scope::Session,
        })
        .await?;
        clock.sleep(S(40)).await;
        let unlock = c.execute(Statement::AdvisoryUnlock { key: 7 }).await;
        let again = c.execute(Statement::AdvisoryUnlock { key: 7 }).await;
        *r.borrow_mut() = Some(format!("{} / {}", show(&unlock), show(&again)));
        Ok(())
    });
    until(&mut world, S(1));
    world.partition(&[vec!["c1".into()], vec!["p1".into()]]);
    until(&mut world, S(30));
    world.heal();
    until(&mut world, S(60));
    assert_eq!(
        result.borrow().as_deref(),
        Some(
            "ERROR 08006: server closed the connection unexpectedly\n\tThis probably means the \
             server terminated abnormally\n\tbefore or while processing the request. / ERROR \
             08003: no connection to the server"
        )
    );
    assert_eq!(backend_ends(&history)[0].2, "connection timed out");
}

#[test]
fn a_paused_holder_keeps_its_lock_because_its_kernel_answers_the_probes() {
    let pause = |w: &mut World| w.pause("c1");
    let (log, history) = holder_and_waiter(4, short_keepalive(), S(5), Some(S(30)), pause, S(40));
    let text = log.join("\n");
    assert!(backend_ends(&history).is_empty(), "{text}");
    assert!(
        text.contains("c2 locked: ERROR 55P03: canceling statement due to lock timeout"),
        "{text}"
    );
}

#[test]
fn a_crash_keeps_commits_and_loses_advisory_locks() {
    let mut world = world(5, PgConfig::default());
    let history = world.history().clone();
    let log: Log = Rc::default();
    let config = connect_config(&mut world, "c1");
    let (h, l) = (history.clone(), log.clone());
    world.add_client("c1", async move {
        let clock = config.clock.clone();
        let c = PgClient::connect("c1", 1, config.clone(), h.clone()).await?;
        let insert = Statement::Insert {
            table: "locks".into(),
            id: 1,
            value: "kept".into(),
        };
        say(&l, &c, show(&c.execute(insert).await));
        let lock = Statement::AdvisoryLock {
            key: 7,
            scope: Scope::Session,
        };
        say(&l, &c, show(&c.execute(lock).await));
        clock.sleep(S(3)).await;
        say(&l, &c, show(&c.execute(Statement::Begin).await));
        drop(c);
        let c = PgClient::connect("c1", 1, config, h).await?;
        let select = Statement::Select {
            table: "locks".into(),
            ids: vec![1],
        };
        say(&l, &c, show(&c.execute(select).await));
        let try_lock = Statement::AdvisoryTryLock {
            key: 7,
            scope: Scope::Session,
        };
        say(&l, &c, show(&c.execute(try_lock).await));
        Ok(())
    });
    until(&mut world, S(1));
    world.crash("p1");
    until(&mut world, S(2));
    world.restart("p1");
    until(&mut world, S(10));
    let text = log.borrow().join("\n");
    assert!(
        text.contains("c1 ERROR 08006: server closed the connection"),
        "{text}"
    );
    assert!(text.contains("(1, \"kept\", v0)"), "{text}");
    assert!(
        text.ends_with("c1 t"),
        "the advisory lock died with the server: {text}"
    );
}

#[test]
fn same_seed_same_history() {
    let run = |seed| {
        let cut = |w: &mut World| w.partition(&[vec!["c1".into()], vec!["p1".into()]]);
        let (log, history) = holder_and_waiter(seed, short_keepalive(), S(40), None, cut, S(30));
        (log, history.digest())
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11).1, run(12).1);
}

/// A writer commits `UPDATE … RETURNING *` every 50 ms on `p1` (a multi-host connection that
/// follows the primary); the link to the standby `p2` is 400–600 ms slow. At 6 s `p1` crashes
/// and `p2` is promoted; `p1` comes back at 8 s and follows it. Returns the versions the writer
/// saw acknowledged on `p1`, the row's version on the new primary, and the commits `p1` lost
/// when it rewound.
fn failover(config: PgConfig) -> (Vec<i64>, i64, u64, History) {
    let mut world = World::new(WorldConfig {
        seed: 7,
        tick: MS(10),
        latency_min: MS(1),
        latency_max: MS(5),
    });
    let cluster = PgCluster::add_to(&mut world, 2, config);
    world.set_latency(Some(("p1", "p2")), Some((MS(400), MS(600))));
    let history = world.history().clone();
    let acked: Rc<RefCell<Vec<i64>>> = Rc::default();
    let after: Rc<RefCell<i64>> = Rc::default();
    let mut config = connect_config(&mut world, "c1");
    config.hosts = vec!["p1".into(), "p2".into()];
    config.target_session_attrs = sim::pg::TargetSession::ReadWrite;
    config.connect_timeout = S(2);
    // An answer that never comes (the server crashed after acknowledging the request) is
    // noticed only by keepalive: libpq's keepalives_idle/interval/count, set short as
    // applications behind a failover manager do.
    config.keepalives = Some(Keepalive {
        idle: S(1),
        interval: S(1),
        count: 2,
    });
    let (h, a, v) = (history.clone(), acked.clone(), after.clone());
    world.add_client("c1", async move {
        let clock = config.clock.clone();
        let c = PgClient::connect("c1", 1, config.clone(), h.clone()).await?;
        let insert = Statement::Insert {
            table: "locks".into(),
            id: 1,
            value: "v".into(),
        };
        c.execute(insert).await?;
        loop {
            let update = Statement::Update {
                table: "locks".into(),
                id: 1,
                value: "w".into(),
                expected_version: None,
                returning: true,
            };
            match c.execute(update).await {
                Ok(Reply::Returning { rows, .. }) => a.borrow_mut().push(rows[0].version),
                _ => break,
            }
            clock.sleep(MS(50)).await;
        }
        clock.sleep(S(3)).await;
        let c = PgClient::connect("c1", 2, config, h).await?;
        let read = Statement::Select {
            table: "locks".into(),
            ids: vec![1],
        };
        if let Ok(Reply::Rows { rows }) = c.execute(read).await {
            *v.borrow_mut() = rows[0].version;
        }
        assert_eq!(c.server().as_deref(), Some("p2"));
        Ok(())
    });
    until(&mut world, S(6));
    world.crash("p1");
    cluster.promote("p2");
    until(&mut world, S(8));
    world.restart("p1");
    cluster.follow("p1", "p2");
    until(&mut world, S(16));
    assert_eq!(cluster.primaries(), vec!["p2".to_string()]);
    assert_eq!(cluster.timelines(), vec![2, 2]);
    let lost = history
        .records()
        .into_iter()
        .find_map(|r| match r {
            Record::Event {
                event: ClusterEvent::PgRewound { lost_commits, .. },
                ..
            } => Some(lost_commits),
            _ => None,
        })
        .unwrap_or(0);
    let acked = acked.borrow().clone();
    let after = *after.borrow();
    (acked, after, lost, history)
}

#[test]
fn an_async_standby_promoted_loses_the_last_acknowledged_commits() {
    let (acked, after, lost, _) = failover(PgConfig::default());
    let last = *acked.last().unwrap();
    eprintln!(
        "acknowledged {} commits up to v{last}; the new primary has v{after}; p1's rewind dropped {lost}",
        acked.len()
    );
    assert!(
        after < last,
        "acked up to v{last}, the new primary has v{after}"
    );
    assert!(
        lost >= (last - after) as u64,
        "lost {lost}, acked {last}, after {after}"
    );
}

#[test]
fn synchronous_commit_keeps_every_acknowledged_commit_through_a_failover() {
    for level in [
        SyncCommit::RemoteWrite,
        SyncCommit::On,
        SyncCommit::RemoteApply,
    ] {
        let config = PgConfig {
            synchronous_commit: level,
            synchronous_standby_names: SyncStandbys::parse("FIRST 1 (p2)").unwrap(),
            ..PgConfig::default()
        };
        let (acked, after, _, history) = failover(config);
        let Some(&last) = acked.last() else {
            panic!("{level:?}: nothing acknowledged\n{}", history.to_jsonl());
        };
        assert!(
            after >= last,
            "{level:?}: acked up to v{last}, the new primary has v{after}"
        );
        // Each commit waited a round trip to p2 (≥ 800 ms): few commits in 6 s.
        assert!(acked.len() <= 6, "{level:?}: {acked:?}");
    }
}
