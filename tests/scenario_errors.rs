//! Malformed scenarios: each bad input is refused with a message naming the file, the line and
//! the field, and saying what is allowed. Never a panic, never a silently ignored field.

use locksim::scenario::{parse, Expect};

const GOOD: &str = r#"
name = "pause-no-fencing"
description = "A paused holder outlives its lease."
duration = "60s"
[cluster]
backend = "etcd"
members = 3
election_timeout = "1s"
[network]
latency = "1ms..10ms"
[lock]
kind = "etcd-mutex"
ttl = "5s"
fencing = false
[workload]
clients = 3
hold = "100ms..2s"
think = "0ms..500ms"
[[fault]]
at = "10s"
kind = "pause"
target = "holder"
for = "15s"
[expect]
mutual_exclusion = "violated"
resource = "corrupted"
"#;

/// `GOOD` with `from` replaced by `to` (which must occur once).
fn with(from: &str, to: &str) -> String {
    assert_eq!(GOOD.matches(from).count(), 1, "{from:?} must occur once");
    GOOD.replace(from, to)
}

fn error(text: &str) -> String {
    parse("scenarios/x.toml", text).unwrap_err().to_string()
}

#[test]
fn good_scenario_parses_with_every_field() {
    let s = parse("scenarios/x.toml", GOOD).unwrap();
    assert_eq!(s.name, "pause-no-fencing");
    assert_eq!(s.faults.faults.len(), 1);
    assert_eq!(s.expect_mutual_exclusion, Expect::Violated);
    assert_eq!(s.lock.ttl, std::time::Duration::from_secs(5));
}

#[test]
fn unknown_field() {
    assert_eq!(
        error(&with("fencing = false", "fencin = false")),
        "scenarios/x.toml:14: field `fencin`: unknown field `fencin`, expected one of `kind`, `ttl`, `fencing`, `connection_listener`"
    );
}

#[test]
fn wrong_type() {
    let e = error(&with("members = 3", "members = \"three\""));
    assert!(e.starts_with("scenarios/x.toml:7: field `members`:"), "{e}");
    assert!(
        e.contains("invalid type: string \"three\", expected i64"),
        "{e}"
    );
}

#[test]
fn unknown_lock_kind() {
    assert_eq!(
        error(&with("kind = \"etcd-mutex\"", "kind = \"zookeeper\"")),
        format!(
            "scenarios/x.toml:12: field `lock.kind`: unknown lock kind \"zookeeper\"; allowed: lease-txn, put, etcd-mutex, redis-setnx, redlock, zk-curator, zk-naive, pg-row-lock, pg-advisory, pg-optimistic{}",
            grpc_kinds()
        )
    );
}

/// The etcd-client kinds a `--features grpc` build adds to the built-in list.
fn grpc_kinds() -> &'static str {
    if cfg!(feature = "grpc") {
        ", etcd-client-lock, etcd-client-election"
    } else {
        ""
    }
}

/// A lock of a user's own, for the registry tests: never acquires anything real.
struct Nothing;

impl lock::LockAlgorithm for Nothing {
    fn name(&self) -> &str {
        "my-lock"
    }
    async fn acquire(&mut self) -> lock::Result<lock::Guard> {
        Ok(lock::Guard::new("k", None))
    }
    async fn release(&mut self, _guard: lock::Guard) -> lock::Result<()> {
        Ok(())
    }
}

#[test]
fn a_registered_lock_is_a_kind_on_any_backend_and_listed_when_a_kind_is_unknown() {
    use locksim::scenario::{parse_with, Locks};
    let locks = Locks::builtin().with("my-lock", |_ctx| Nothing);
    let ours = parse_with(
        "scenarios/x.toml",
        &with("kind = \"etcd-mutex\"", "kind = \"my-lock\""),
        &locks,
    )
    .unwrap();
    assert_eq!(ours.lock.kind.name(), "my-lock");
    assert_eq!(ours.lock.kind.builtin(), None);
    // The file's backend decides the store; a user lock takes what its context offers.
    let on_redis = with("kind = \"etcd-mutex\"", "kind = \"my-lock\"")
        .replace("backend = \"etcd\"", "backend = \"redis\"")
        .replace("election_timeout = \"1s\"\n", "");
    assert!(parse_with("scenarios/x.toml", &on_redis, &locks).is_ok());
    // Without the registry the name is unknown, and with it the error lists it.
    assert!(parse(
        "scenarios/x.toml",
        &with("kind = \"etcd-mutex\"", "kind = \"my-lock\"")
    )
    .is_err());
    assert_eq!(
        parse_with("scenarios/x.toml", &with("kind = \"etcd-mutex\"", "kind = \"zookeeper\""), &locks)
            .unwrap_err()
            .to_string(),
        format!(
            "scenarios/x.toml:12: field `lock.kind`: unknown lock kind \"zookeeper\"; allowed: lease-txn, put, etcd-mutex, redis-setnx, redlock, zk-curator, zk-naive, pg-row-lock, pg-advisory, pg-optimistic{}, my-lock",
            grpc_kinds()
        )
    );
}

#[test]
fn fault_naming_a_host_that_does_not_exist() {
    assert_eq!(
        error(&with("target = \"holder\"", "target = \"n7\"")),
        "scenarios/x.toml:22: field `fault[0].target`: no host \"n7\" in this scenario; hosts are n1, n2, n3, c1, c2, c3, resource, or use a role: leader, follower, minority, majority, holder"
    );
}

/// A role that names nobody in the scenario's world would make its fault wait forever (it fires
/// at the first moment the role names someone): refused instead, with the roles there are.
#[test]
fn fault_aimed_at_a_role_of_another_backend() {
    assert_eq!(
        error(&with("target = \"holder\"", "target = \"primary\"")),
        "scenarios/x.toml:22: field `fault[0].target`: role `primary` means nothing on the etcd backend: `primary` is the AP store's (backend redis); on etcd aim at the Raft `leader`; roles here: leader, follower, minority, majority, holder"
    );
    let redis = GOOD
        .replace("backend = \"etcd\"", "backend = \"redis\"")
        .replace("kind = \"etcd-mutex\"", "kind = \"redis-setnx\"");
    let on_redis = |from: &str, to: &str| {
        assert_eq!(redis.matches(from).count(), 1, "{from:?} must occur once");
        error(&redis.replace(from, to))
    };
    assert_eq!(
        on_redis("target = \"holder\"", "target = \"leader\""),
        "scenarios/x.toml:22: field `fault[0].target`: role `leader` means nothing on the redis backend: it names consensus members (etcd's, ZooKeeper's), and this world has none; roles here: primary, holder"
    );
    assert_eq!(
        on_redis(
            "kind = \"pause\"\ntarget = \"holder\"",
            "kind = \"partition\"\ngroups = [[\"minority\"], [\"majority\"]]"
        ),
        "scenarios/x.toml:22: field `fault[0].groups`: role `minority` means nothing on the redis backend: it names consensus members (etcd's, ZooKeeper's), and this world has none; roles here: primary, holder"
    );
    // The redis world's hosts, in the message for a host it does not have.
    assert_eq!(
        on_redis("target = \"holder\"", "target = \"n1\""),
        "scenarios/x.toml:22: field `fault[0].target`: no host \"n1\" in this scenario; hosts are r1, r2, r3, s1, s2, s3, c1, c2, c3, resource, or use a role: primary, holder"
    );
    let redlock = redis
        .replace("backend = \"redis\"", "backend = \"redlock\"")
        .replace("kind = \"redis-setnx\"", "kind = \"redlock\"")
        .replace("target = \"holder\"", "target = \"primary\"");
    assert_eq!(
        error(&redlock),
        "scenarios/x.toml:22: field `fault[0].target`: role `primary` means nothing on the redlock backend: Redlock's masters are independent, each its own primary; name one (r1, r2, …); roles here: holder"
    );
    // What each world has parses.
    assert!(parse(
        "x.toml",
        &redis.replace("target = \"holder\"", "target = \"primary\"")
    )
    .is_ok());
    assert!(parse(
        "x.toml",
        &redlock.replace("target = \"primary\"", "target = \"r2\"")
    )
    .is_ok());
}

#[test]
fn negative_or_zero_duration() {
    assert_eq!(
        error(&with("for = \"15s\"", "for = \"-15s\"")),
        "scenarios/x.toml:23: field `fault[0].for`: \"-15s\" is negative; durations are 0 or more: 500ms, 5s, 2m"
    );
    assert_eq!(
        error(&with("duration = \"60s\"", "duration = \"0s\"")),
        "scenarios/x.toml:4: field `duration`: \"0s\" must be longer than 0"
    );
    assert_eq!(
        error(&with("ttl = \"5s\"", "ttl = \"5 seconds\"")),
        "scenarios/x.toml:13: field `lock.ttl`: bad duration \"5 seconds\"; write a whole number and a unit: 500ms, 5s, 2m"
    );
}

#[test]
fn ttl_below_the_minimum_lease_ttl() {
    assert_eq!(
        error(&with("ttl = \"5s\"", "ttl = \"1s\"")),
        "scenarios/x.toml:13: field `lock.ttl`: 1s is not a whole number of seconds of at least the minimum lease TTL 2s (ceil(1.5 × election_timeout)); etcd leases have whole-second TTLs and etcd would silently raise a smaller one"
    );
}

#[test]
fn for_on_a_fault_without_an_inverse() {
    let text = with(
        "kind = \"pause\"\ntarget = \"holder\"\nfor = \"15s\"",
        "kind = \"resume\"\ntarget = \"c1\"\nfor = \"15s\"",
    );
    assert_eq!(
        error(&text),
        "scenarios/x.toml:23: field `fault[0].for`: `for` is not allowed on resume: it has no inverse (it is itself an inverse)"
    );
}

#[test]
fn field_that_does_not_apply_to_the_fault_kind() {
    assert_eq!(
        error(&with("for = \"15s\"", "for = \"15s\"\nrate = 0.5")),
        "scenarios/x.toml:24: field `fault[0].rate`: `rate` does not apply to a pause fault; it takes at, kind, for and target"
    );
}

#[test]
fn missing_required_field_and_bad_expectation() {
    let e = error(&with("kind = \"etcd-mutex\"\n", ""));
    assert!(e.contains("missing field `kind`"), "{e}");
    assert_eq!(
        error(&with("resource = \"corrupted\"", "resource = \"broken\"")),
        "scenarios/x.toml:26: field `expect.resource`: \"broken\" is not an expectation; allowed: intact, corrupted, any"
    );
}

#[test]
fn lock_on_the_wrong_backend() {
    let e = error(&with("backend = \"etcd\"", "backend = \"redis\""));
    assert!(e.contains("does not run on the redis backend"), "{e}");
}

#[test]
fn arbitrary_text_never_panics() {
    use proptest::prelude::*;
    proptest!(|(junk in ".{0,200}")| {
        let _ = parse("fuzz.toml", &junk);
        let _ = parse("fuzz.toml", &format!("{GOOD}\n{junk}"));
    });
}

#[test]
fn tick_too_coarse() {
    assert_eq!(
        error(&with("[network]\n", "[network]\ntick = \"1s\"\n")),
        "scenarios/x.toml:10: field `network.tick`: 1s is too coarse; allowed: 1ms to 100ms (default 10ms)"
    );
}

/// `GOOD` with a `[kv]` section (header on line 19, fields from line 20) before the fault.
fn with_kv(kv: &str) -> String {
    with("[[fault]]", &format!("[kv]\n{kv}\n[[fault]]"))
}

#[test]
fn kv_section_parses_and_its_hosts_are_fault_targets() {
    let text =
        with_kv("writers = 2\nreaders = 3\ninterval = \"10ms..50ms\"\nrequest_timeout = \"1s\"")
            .replace("target = \"holder\"", "target = \"reader3\"");
    let s = parse("scenarios/x.toml", &text).unwrap();
    let kv = s.kv.unwrap();
    assert_eq!((kv.writers, kv.readers), (2, 3));
    assert_eq!(kv.request_timeout, std::time::Duration::from_secs(1));
    assert_eq!(
        error(&text.replace("target = \"reader3\"", "target = \"reader4\"")),
        "scenarios/x.toml:27: field `fault[0].target`: no host \"reader4\" in this scenario; hosts are n1, n2, n3, c1, c2, c3, resource, writer1, writer2, reader1, reader2, reader3, or use a role: leader, follower, minority, majority, holder"
    );
    // Defaults: one writer, one reader per member.
    let kv = parse("scenarios/x.toml", &with_kv("")).unwrap().kv.unwrap();
    assert_eq!((kv.writers, kv.readers), (1, 3));
}

#[test]
fn kv_section_errors() {
    assert_eq!(
        error(&with_kv("writers = 17")),
        "scenarios/x.toml:20: field `kv.writers`: 17 is out of range; allowed: 0 to 16"
    );
    assert_eq!(
        error(&with_kv("readers = -1")),
        "scenarios/x.toml:20: field `kv.readers`: -1 is out of range; allowed: 0 to 16"
    );
    assert_eq!(
        error(&with_kv("reader = 3")),
        "scenarios/x.toml:20: field `reader`: unknown field `reader`, expected one of `writers`, `readers`, `interval`, `request_timeout`, `sync`"
    );
    assert_eq!(
        error(&with_kv("writers = 0\nreaders = 0")),
        "scenarios/x.toml:19: field `kv`: the [kv] workload has no clients; set writers and/or readers to 1 or more, or remove the section"
    );
    assert_eq!(
        error(&with_kv("interval = \"0ms\"")),
        "scenarios/x.toml:20: field `kv.interval`: \"0ms\" must be longer than 0"
    );
    assert_eq!(
        error(&with_kv("request_timeout = \"soon\"")),
        "scenarios/x.toml:20: field `kv.request_timeout`: bad duration \"soon\"; write a whole number and a unit: 500ms, 5s, 2m"
    );
    let redis = with_kv("readers = 1")
        .replace("backend = \"etcd\"", "backend = \"redis\"")
        .replace("kind = \"etcd-mutex\"", "kind = \"redis-setnx\"")
        .replace("target = \"holder\"", "target = \"c1\"");
    assert_eq!(
        error(&redis),
        "scenarios/x.toml:19: field `kv`: the [kv] workload reads and writes etcd or zookeeper; it does not run on the redis backend (use backend = \"etcd\" or \"zk\")"
    );
    // etcd's knobs on a ZooKeeper ensemble are refused, each saying what ZooKeeper has instead.
    let zk = |cluster: &str| {
        with_kv("sync = true")
            .replace("election_timeout = \"1s\"\n", "")
            .replace(
                "backend = \"etcd\"",
                &format!("backend = \"zk\"\n{cluster}"),
            )
            .replace("kind = \"etcd-mutex\"", "kind = \"zk-curator\"")
    };
    assert!(parse("scenarios/x.toml", &zk("")).unwrap().kv.unwrap().sync);
    assert_eq!(
        error(&zk("election_timeout = \"1s\"")),
        "scenarios/x.toml:7: field `cluster.election_timeout`: cluster.election_timeout is etcd's; ZooKeeper's elections follow tickTime (2s) × syncLimit (5), not an election timeout"
    );
    assert_eq!(
        error(&zk("read_mode = \"serializable\"")),
        "scenarios/x.toml:7: field `cluster.read_mode`: cluster.read_mode is etcd's; a ZooKeeper server answers reads from its own tree; for up-to-date reads set sync = true in [kv]"
    );
    assert_eq!(
        error(&zk("replication_lag = \"1ms..5ms\"")),
        "scenarios/x.toml:7: field `cluster.replication_lag`: cluster.replication_lag is the AP store's (backend redis or redlock); ZooKeeper replicates through its log"
    );
    // `sync` is ZooKeeper's: on etcd it is an error that says what etcd has instead.
    assert_eq!(
        error(&with_kv("sync = true")),
        "scenarios/x.toml:20: field `kv.sync`: sync is ZooKeeper's call before an up-to-date read (backend = \"zk\"); etcd's reads are linearizable unless cluster.read_mode = \"serializable\""
    );
    assert_eq!(
        error(&with_kv("sync = \"yes\"")),
        "scenarios/x.toml:20: field `sync`: invalid type: string \"yes\", expected a boolean"
    );
}

#[test]
fn heartbeat_below_two_ticks() {
    assert_eq!(
        error(&with("election_timeout = \"1s\"", "election_timeout = \"150ms\"")),
        "scenarios/x.toml:8: field `cluster.election_timeout`: the heartbeat (election_timeout / 10 = 15ms) must be at least 2 ticks of network.tick (10ms); raise cluster.election_timeout or lower network.tick"
    );
    // A finer tick allows it.
    let fine = with("election_timeout = \"1s\"", "election_timeout = \"150ms\"")
        .replace("[network]\n", "[network]\ntick = \"1ms\"\n");
    let s = parse("scenarios/x.toml", &fine).unwrap();
    assert_eq!(s.tick, std::time::Duration::from_millis(1));
}

#[test]
fn read_mode() {
    assert_eq!(
        error(&with(
            "election_timeout = \"1s\"",
            "election_timeout = \"1s\"\nread_mode = \"stale\""
        )),
        "scenarios/x.toml:9: field `cluster.read_mode`: unknown read mode \"stale\"; allowed: linearizable, serializable, lease-based"
    );
    // Serializable is a request option of the [kv] readers: without one it would test nothing.
    let serializable = with(
        "election_timeout = \"1s\"",
        "election_timeout = \"1s\"\nread_mode = \"serializable\"",
    );
    assert_eq!(
        error(&serializable),
        "scenarios/x.toml:9: field `cluster.read_mode`: \"serializable\" applies to the [kv] readers' reads (lock clients read linearizably, as etcd's concurrency package does), and this scenario has none; add a [kv] section with readers = 1 or more"
    );
    let with_readers = serializable.replace("[[fault]]", "[kv]\nreaders = 1\n[[fault]]");
    let s = parse("scenarios/x.toml", &with_readers).unwrap();
    assert_eq!(
        s.cluster.read_mode,
        locksim::scenario::ReadMode::Serializable
    );
    let no_readers = serializable.replace("[[fault]]", "[kv]\nreaders = 0\n[[fault]]");
    assert!(error(&no_readers).contains("add a [kv] section with readers = 1 or more"));
}

/// Durations longer than a run may simulate are refused with the field, the bound and how to
/// raise it — never a run that takes days (`100000h` was once accepted), never a wrapped value.
#[test]
fn durations_beyond_the_simulated_time_bound() {
    assert_eq!(
        error(&with("duration = \"60s\"", "duration = \"100000h\"")),
        "scenarios/x.toml:4: field `duration`: \"100000h\" is longer than the 3600s of simulated time a run may cover; raise the bound with LOCKSIM_MAX_SIM_TIME=100000h if that is meant"
    );
    let e = error(&with("for = \"15s\"", "for = \"2h\""));
    assert!(
        e.starts_with("scenarios/x.toml:23: field `fault[0].for`:"),
        "{e}"
    );
    assert!(e.contains("LOCKSIM_MAX_SIM_TIME"), "{e}");
    let e = error(&with("hold = \"100ms..2s\"", "hold = \"100ms..90m\""));
    assert!(e.contains("field `workload.hold`"), "{e}");
    for wrapped in ["307445734561825861m", "99999999999999999h"] {
        let e = error(&with(
            "duration = \"60s\"",
            &format!("duration = \"{wrapped}\""),
        ));
        assert!(e.contains("too long"), "{e}");
    }
}

/// A sweep's seed range is counted before it is collected: an enormous one is refused at once.
#[test]
fn enormous_seed_ranges_are_refused() {
    let e = locksim::sweep::seeds("0..18446744073709551615", None).unwrap_err();
    assert!(e.contains("one sweep runs at most 10000000"), "{e}");
    // Counted after sharding: 40 000 008 seeds over 4 shards is 10 000 002 for shard 1.
    let sharded = locksim::sweep::seeds("0..40000008", Some("1/4"));
    let e = sharded.as_ref().map(|s| s.len()).unwrap_err();
    assert!(e.contains("--shard 1/4 is 10000002 seeds"), "{e}");
    assert_eq!(
        locksim::sweep::seeds("10..20", Some("1/4")).unwrap(),
        vec![11, 15, 19]
    );
    let quarter = locksim::sweep::seeds("0..30000000", Some("0/4")).map(|s| s.len());
    assert_eq!(quarter, Ok(7_500_000));
}
