//! The scenarios shipped in `scenarios/`, compiled in: `locksim run NAME` and `locksim list`
//! work from any directory.

/// The scenarios shipped in `scenarios/`, compiled in so `locksim run NAME` works anywhere.
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "put-lock-race",
        include_str!("../../scenarios/put-lock-race.toml"),
    ),
    (
        "lease-txn-partition-safe",
        include_str!("../../scenarios/lease-txn-partition-safe.toml"),
    ),
    (
        "etcd-mutex-leader-crash-safe",
        include_str!("../../scenarios/etcd-mutex-leader-crash-safe.toml"),
    ),
    (
        "pause-no-fencing",
        include_str!("../../scenarios/pause-no-fencing.toml"),
    ),
    (
        "pause-with-fencing",
        include_str!("../../scenarios/pause-with-fencing.toml"),
    ),
    (
        "lease-promotion-failover",
        include_str!("../../scenarios/lease-promotion-failover.toml"),
    ),
    (
        "ap-failover",
        include_str!("../../scenarios/ap-failover.toml"),
    ),
    (
        "ap-failover-etcd",
        include_str!("../../scenarios/ap-failover-etcd.toml"),
    ),
    (
        "redlock-clock-jump",
        include_str!("../../scenarios/redlock-clock-jump.toml"),
    ),
    (
        "serializable-stale-read",
        include_str!("../../scenarios/serializable-stale-read.toml"),
    ),
    (
        "lease-based-read-pause",
        include_str!("../../scenarios/lease-based-read-pause.toml"),
    ),
];

/// The ZooKeeper stories, in `scenarios/zk/`.
pub const BUNDLED_ZK: &[(&str, &str)] = &[
    (
        "zk-pause-no-fencing",
        include_str!("../../scenarios/zk/zk-pause-no-fencing.toml"),
    ),
    (
        "zk-pause-with-fencing",
        include_str!("../../scenarios/zk/zk-pause-with-fencing.toml"),
    ),
    (
        "zk-leader-minority",
        include_str!("../../scenarios/zk/zk-leader-minority.toml"),
    ),
    (
        "zk-client-partitioned",
        include_str!("../../scenarios/zk/zk-client-partitioned.toml"),
    ),
    (
        "zk-client-partitioned-listener",
        include_str!("../../scenarios/zk/zk-client-partitioned-listener.toml"),
    ),
    (
        "zk-naive-herd",
        include_str!("../../scenarios/zk/zk-naive-herd.toml"),
    ),
    (
        "zk-stale-read",
        include_str!("../../scenarios/zk/zk-stale-read.toml"),
    ),
    (
        "zk-sync-read",
        include_str!("../../scenarios/zk/zk-sync-read.toml"),
    ),
];

/// The PostgreSQL stories, in `scenarios/pg/`.
pub const BUNDLED_PG: &[(&str, &str)] = &[
    (
        "pg-row-lock-keepalive",
        include_str!("../../scenarios/pg/pg-row-lock-keepalive.toml"),
    ),
    (
        "pg-row-lock-default-keepalive",
        include_str!("../../scenarios/pg/pg-row-lock-default-keepalive.toml"),
    ),
    (
        "pg-idle-in-transaction",
        include_str!("../../scenarios/pg/pg-idle-in-transaction.toml"),
    ),
    (
        "pg-optimistic-pause",
        include_str!("../../scenarios/pg/pg-optimistic-pause.toml"),
    ),
    (
        "pg-failover-async",
        include_str!("../../scenarios/pg/pg-failover-async.toml"),
    ),
    (
        "pg-failover-remote-apply",
        include_str!("../../scenarios/pg/pg-failover-remote-apply.toml"),
    ),
    (
        "pg-optimistic-failover",
        include_str!("../../scenarios/pg/pg-optimistic-failover.toml"),
    ),
];

/// The stories of the etcd-client locks (feature `grpc`), in `scenarios/grpc/`.
#[cfg(feature = "grpc")]
pub const BUNDLED_GRPC: &[(&str, &str)] = &[
    (
        "etcd-client-election-two-leaders",
        include_str!("../../scenarios/grpc/etcd-client-election-two-leaders.toml"),
    ),
    (
        "etcd-client-election-fenced",
        include_str!("../../scenarios/grpc/etcd-client-election-fenced.toml"),
    ),
    (
        "etcd-client-lock-leader-crash-safe",
        include_str!("../../scenarios/grpc/etcd-client-lock-leader-crash-safe.toml"),
    ),
];

/// Every scenario this build bundles, with the file it came from: `scenarios/`,
/// `scenarios/zk/`, `scenarios/pg/`, and with the `grpc` feature `scenarios/grpc/`.
pub fn bundled() -> impl Iterator<Item = (&'static str, &'static str, String)> {
    let plain = BUNDLED
        .iter()
        .map(|(name, text)| (*name, *text, format!("scenarios/{name}.toml")))
        .chain(
            BUNDLED_ZK
                .iter()
                .map(|(name, text)| (*name, *text, format!("scenarios/zk/{name}.toml"))),
        )
        .chain(
            BUNDLED_PG
                .iter()
                .map(|(name, text)| (*name, *text, format!("scenarios/pg/{name}.toml"))),
        );
    #[cfg(feature = "grpc")]
    let plain = plain.chain(
        BUNDLED_GRPC
            .iter()
            .map(|(name, text)| (*name, *text, format!("scenarios/grpc/{name}.toml"))),
    );
    plain
}
