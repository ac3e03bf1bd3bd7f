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

/// The longest simulated time a scenario may ask for, in any field (`duration`, `for`, TTLs,
/// timeouts, hold and think times), unless `LOCKSIM_MAX_SIM_TIME` raises it. Why a bound: a
/// slip like `100000h` would start a run that takes days and grows its history without end.
/// An hour of simulated time takes seconds; whole days are rarely what a story needs.
pub const MAX_SIM_TIME: Duration = Duration::from_secs(3600);

/// The environment variable that raises (or lowers) [`MAX_SIM_TIME`], e.g. `200h`.
pub const MAX_SIM_TIME_VAR: &str = "LOCKSIM_MAX_SIM_TIME";

/// [`MAX_SIM_TIME`], or what [`MAX_SIM_TIME_VAR`] says. `Err` when the variable is set but is
/// not a duration.
pub fn max_sim_time() -> Result<Duration, String> {
    match std::env::var(MAX_SIM_TIME_VAR) {
        Err(_) => Ok(MAX_SIM_TIME),
        Ok(text) => {
            crate::duration::parse(&text).map_err(|e| format!("{MAX_SIM_TIME_VAR}={text:?}: {e}"))
        }
    }
}
