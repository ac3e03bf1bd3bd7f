//! Defaults for every optional field (documented in the README's scenario reference): what a
//! scenario gets when it leaves a field out.

use std::time::Duration;

pub const MEMBERS: usize = 3;
pub const ELECTION_TIMEOUT: Duration = Duration::from_secs(1);
pub const REPLICATION_LAG: (Duration, Duration) =
    (Duration::from_millis(1), Duration::from_millis(50));
pub const LATENCY: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(10));
/// TigerBeetle's simulator ticks in 10 ms too; see the README on what a tick changes.
pub const TICK: Duration = Duration::from_millis(10);
pub const TTL: Duration = Duration::from_secs(5);
pub const CLIENTS: usize = 3;
pub const HOLD: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));
pub const THINK: (Duration, Duration) = (Duration::from_millis(0), Duration::from_millis(500));
/// `[kv] readers` has no constant: one per member, so every member has a reader bound to it.
pub const KV_WRITERS: usize = 1;
pub const KV_INTERVAL: (Duration, Duration) =
    (Duration::from_millis(20), Duration::from_millis(100));
/// etcdctl's `--command-timeout`.
pub const KV_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
