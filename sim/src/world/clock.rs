//! `Clock`: a host's own view of time — what a process pause and clock skew act on.
//!
//! turmoil advances every host's clock together and polls every host every step; it has no
//! process pause and no skew (DESIGN §7). Both are built here, per host, and every piece of host
//! code reads time and sleeps through its `Clock`:
//!
//! * **Pause** stops the process: code awaiting [`Clock::running`] (the member's loop, every
//!   client call, every [`Clock::sleep`]) does not proceed while paused. Datagrams keep arriving
//!   and queue in the socket buffers, as they would in a real kernel; other hosts' clocks run on.
//!   On resume the process continues where it was, with whatever it believed before — the GC
//!   pause of Kleppmann's and Jepsen's lock findings.
//! * **Skew** maps simulated time to local time: `local = offset + rate × elapsed` piecewise, so
//!   a 2× fast clock makes the member's election ticks, its lessor's TTLs and a client's lease
//!   deadlines all run twice as fast; an offset jump moves local time forward at once — unless
//!   the host's software times itself on a monotonic clock ([`Clock::set_monotonic`]: etcd,
//!   written in Go, whose `time.Now` carries a monotonic reading that every duration and
//!   deadline comparison uses), which a wall-clock step does not move.
//!
//! The harness owns each host's `Clock` (kept outside the host, like its disk) and changes it
//! between steps; host code only reads it.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::watch;

use crate::world::history::sim_now;

struct State {
    paused: watch::Sender<bool>,
    /// Local time at the last rate change (or offset jump)...
    base_local: Cell<Duration>,
    /// ...and the simulated time it happened at.
    base_sim: Cell<Duration>,
    /// Local seconds per simulated second. Invariant: > 0 (validated by callers).
    rate: Cell<f64>,
    /// The software times itself on a monotonic clock: `jump` (a wall-clock step) leaves
    /// local time alone; `set_rate` (a clock running fast or slow) still applies.
    monotonic: Cell<bool>,
}

/// A host's clock and run state. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Clock {
    state: Rc<State>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("paused", &self.is_paused())
            .field("rate", &self.rate())
            .finish()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A running clock that agrees with simulated time.
    pub fn new() -> Self {
        let (paused, _) = watch::channel(false);
        Self {
            state: Rc::new(State {
                paused,
                base_local: Cell::new(Duration::ZERO),
                base_sim: Cell::new(Duration::ZERO),
                rate: Cell::new(1.0),
                monotonic: Cell::new(false),
            }),
        }
    }

    /// Local time now. Must be called inside the simulation.
    pub fn now(&self) -> Duration {
        self.local_at(sim_now())
    }

    /// Local time at simulated time `sim`.
    pub fn local_at(&self, sim: Duration) -> Duration {
        let s = &self.state;
        let since = sim.saturating_sub(s.base_sim.get());
        s.base_local.get() + since.mul_f64(s.rate.get())
    }

    /// Whether the host's process is paused (local time keeps running meanwhile).
    pub fn is_paused(&self) -> bool {
        *self.state.paused.borrow()
    }

    /// Local seconds per simulated second now: 1.0 unless skewed.
    pub fn rate(&self) -> f64 {
        self.state.rate.get()
    }

    /// Wait until the host is not paused. Host code calls this wherever a real process could
    /// be stopped: before acting on anything it received or decided.
    pub async fn running(&self) {
        if !self.is_paused() {
            return;
        }
        let mut rx = self.state.paused.subscribe();
        // The sender lives as long as this clock, so this cannot fail.
        let _ = rx.wait_for(|paused| !*paused).await;
    }

    /// Sleep for `duration` of *local* time, and do not return while paused.
    pub async fn sleep(&self, duration: Duration) {
        let until = self.now() + duration;
        self.sleep_until(until).await;
    }

    /// Sleep until local time `until`, and do not return while paused. A rate change during
    /// the sleep is honoured: the remaining local time is re-converted on every wake.
    pub async fn sleep_until(&self, until: Duration) {
        self.kernel_sleep_until(until).await;
        self.running().await;
    }

    /// Sleep until local time `until` even while the process is paused: the host's *kernel*
    /// keeps its timers (TCP retransmissions, keepalive probes) when the process is stopped.
    pub(crate) async fn kernel_sleep_until(&self, until: Duration) {
        loop {
            let now = self.now();
            if now >= until {
                break;
            }
            let remaining = (until - now).div_f64(self.state.rate.get());
            // Whole simulated milliseconds, at least one, so the loop always makes progress.
            let wait = remaining.max(Duration::from_millis(1));
            tokio::time::sleep(wait).await;
        }
    }

    /// The pause state as a `Send` receiver, for I/O that tokio drives from `Send` code (a
    /// gRPC server's connections): true while paused.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) fn pause_state(&self) -> watch::Receiver<bool> {
        self.state.paused.subscribe()
    }

    /// Harness: stop the process. Idempotent.
    pub fn pause(&self) {
        self.state.paused.send_replace(true);
    }

    /// Harness: let the process run again. Idempotent.
    pub fn resume(&self) {
        self.state.paused.send_replace(false);
    }

    /// Harness: from simulated time `at` on, local time runs at `rate` × simulated time.
    ///
    /// # Panics
    /// If `rate` is not a finite positive number (callers validate user input).
    pub fn set_rate(&self, rate: f64, at: Duration) {
        assert!(
            rate.is_finite() && rate > 0.0,
            "clock rate must be > 0, got {rate}"
        );
        let s = &self.state;
        s.base_local.set(self.local_at(at));
        s.base_sim.set(at);
        s.rate.set(rate);
    }

    /// Harness: the host's software times itself on a monotonic clock, which a wall-clock step
    /// ([`Clock::jump`]) does not move (Go's `time.Now`; Linux `CLOCK_MONOTONIC`). Stores
    /// call it for their servers when the real server works that way. Kept across restarts,
    /// like the clock.
    pub fn set_monotonic(&self) {
        self.state.monotonic.set(true);
    }

    /// Harness: local time jumps forward by `offset` at simulated time `at` (an NTP step).
    /// Nothing moves on a monotonic clock ([`Clock::set_monotonic`]).
    pub fn jump(&self, offset: Duration, at: Duration) {
        let s = &self.state;
        if s.monotonic.get() {
            return;
        }
        s.base_local.set(self.local_at(at) + offset);
        s.base_sim.set(at);
    }
}

/// The next firing of a periodic timer on a host's clock: one period on, or one period from
/// now if the timer fell behind (a pause), like tokio's `MissedTickBehavior::Delay` — a resumed
/// process fires once, not once per missed period.
pub(crate) fn next_deadline(last: Duration, period: Duration, now: Duration) -> Duration {
    let next = last + period;
    if next <= now {
        now + period
    } else {
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_jump_are_piecewise_linear_and_monotone() {
        let clock = Clock::new();
        let s = Duration::from_secs;
        assert_eq!(clock.local_at(s(10)), s(10));
        clock.set_rate(2.0, s(10));
        assert_eq!(clock.local_at(s(12)), s(14));
        clock.jump(s(3), s(12));
        assert_eq!(clock.local_at(s(12)), s(17));
        clock.set_rate(0.5, s(14));
        assert_eq!(clock.local_at(s(14)), s(21));
        assert_eq!(clock.local_at(s(18)), s(23));
    }

    #[test]
    fn a_monotonic_clock_ignores_steps_but_not_rate() {
        let clock = Clock::new();
        clock.set_monotonic();
        let s = Duration::from_secs;
        clock.jump(s(10), s(5));
        assert_eq!(clock.local_at(s(6)), s(6));
        clock.set_rate(2.0, s(6));
        assert_eq!(clock.local_at(s(8)), s(10));
    }

    #[test]
    fn pause_and_resume_flip_the_state() {
        let clock = Clock::new();
        assert!(!clock.is_paused());
        clock.pause();
        clock.pause();
        assert!(clock.is_paused());
        clock.resume();
        assert!(!clock.is_paused());
    }
}
