//! `Liveness`: once every fault is healed, some client acquires the lock within `bound_ms`.
//! Reported, not a failure by default (`ViolationKind::is_safety` is false).
//!
//! Does not verify: fairness (that every client gets a turn), or progress while faults are
//! active. Gives no verdict when the run ends less than `bound_ms` after the last heal, or with
//! a fault still active.

use super::{Checker, Timeline, Violation, ViolationKind};
use crate::event::LockEvent;

pub struct Liveness {
    pub bound_ms: u64,
}

impl Checker for Liveness {
    fn name(&self) -> &'static str {
        "liveness"
    }

    fn check(&self, timeline: &Timeline) -> Vec<Violation> {
        let Some(healed) = timeline.healed_since() else {
            return Vec::new();
        };
        let until = healed + self.bound_ms;
        if timeline.end_ms < until {
            return Vec::new();
        }
        let progressed = timeline.lock_events.iter().any(|(at, _, e)| {
            matches!(e, LockEvent::Acquired { .. }) && *at >= healed && *at <= until
        });
        if progressed {
            return Vec::new();
        }
        vec![Violation {
            kind: ViolationKind::Liveness,
            clients: Vec::new(),
            tokens: Vec::new(),
            from_ms: healed,
            to_ms: until,
            faults: Vec::new(),
            detail: format!(
                "no client acquired the lock within {} ms after every fault was healed at {} ms",
                self.bound_ms, healed
            ),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;
    use sim::ClusterEvent;

    #[test]
    fn no_acquire_after_heal_is_reported() {
        let t = Timeline::from_records(&[
            acquired(100, "c1", 5),
            event(200, ClusterEvent::Crash { host: "n1".into() }),
            event(1000, ClusterEvent::Restart { host: "n1".into() }),
        ])
        .with_end(20_000);
        let v = Liveness { bound_ms: 10_000 }.check(&t);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].from_ms, 1000);
    }

    #[test]
    fn an_acquire_after_heal_or_a_short_run_passes() {
        let t = Timeline::from_records(&[
            event(200, ClusterEvent::Crash { host: "n1".into() }),
            event(1000, ClusterEvent::Restart { host: "n1".into() }),
            acquired(4000, "c1", 5),
        ])
        .with_end(20_000);
        assert!(Liveness { bound_ms: 10_000 }.check(&t).is_empty());
        let short = Timeline::from_records(&sequential()).with_end(700);
        assert!(Liveness { bound_ms: 10_000 }.check(&short).is_empty());
    }
}
