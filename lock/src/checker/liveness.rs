//! `Liveness`: once every fault is healed, some client acquires the lock within `bound_ms`.
//! Reported, not a failure by default (`ViolationKind::is_safety` is false).
//!
//! Every run gets a [`LivenessVerdict`]: `ok` (healed when, acquired when), `stalled` (the window
//! in which nobody acquired), or `not_checked` with the reason — a fault still active at the end
//! (named), or a healed tail shorter than the bound. Never silently nothing.
//!
//! Does not verify: fairness (that every client gets a turn), or progress while faults are
//! active.

use serde::{Deserialize, Serialize};

use super::{Checker, Timeline, Violation, ViolationKind};
use crate::event::LockEvent;

/// Checker: once every fault is healed, some client acquires the lock within `bound_ms`.
///
/// A stall is a [`ViolationKind::Liveness`], which does not fail a run by default.
/// [`Liveness::verdict`] tells what it found in every case, including why it could not judge.
/// Does not verify fairness (that every client gets a turn) or progress while faults are active.
pub struct Liveness {
    /// How soon after the last fault is healed an acquisition must come, in simulated ms (the
    /// history's time, not a host's clock). A run sets it with [`crate::Run::liveness_bound`].
    pub bound_ms: u64,
}

/// What the liveness checker found (`run --json`'s `liveness`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LivenessVerdict {
    /// Every fault was healed by `healed_ms`, and a client acquired at `acquired_ms`, within
    /// `bound_ms` of it.
    Ok {
        /// Simulated ms since which no fault is active (0 if none ever was).
        healed_ms: u64,
        /// Simulated ms of the first `Acquired` at or after `healed_ms`.
        acquired_ms: u64,
        /// The bound it was judged against, in ms.
        bound_ms: u64,
    },
    /// Every fault was healed by `from_ms`, and nobody acquired up to `to_ms` (`from_ms` plus
    /// the bound).
    Stalled {
        /// Simulated ms since which no fault is active.
        from_ms: u64,
        /// `from_ms` plus the bound: the end of the window without an acquisition.
        to_ms: u64,
    },
    /// Liveness could not be judged: a fault was still active when the run ended, or the run
    /// ended less than the bound after the last heal without an acquisition. Not a pass.
    NotChecked {
        /// Why, for a person: names the faults still active, or how long the healed tail was.
        reason: String,
    },
}

impl LivenessVerdict {
    /// One phrase for a terminal: `ok: healed at 50000 ms, acquired at 50210 ms`.
    pub fn describe(&self) -> String {
        match self {
            LivenessVerdict::Ok {
                healed_ms,
                acquired_ms,
                bound_ms,
            } => format!(
                "ok: healed at {healed_ms} ms, acquired at {acquired_ms} ms (bound {bound_ms} ms)"
            ),
            LivenessVerdict::Stalled { from_ms, to_ms } => {
                format!("stalled: healed at {from_ms} ms, nobody acquired by {to_ms} ms")
            }
            LivenessVerdict::NotChecked { reason } => format!("not checked: {reason}"),
        }
    }
}

impl Liveness {
    /// Judge `timeline`: find since when every fault is healed, then the first acquisition
    /// within `bound_ms` of it. A run it cannot judge gets [`LivenessVerdict::NotChecked`] with
    /// the reason, never a silent pass.
    pub fn verdict(&self, timeline: &Timeline) -> LivenessVerdict {
        let faults = timeline.faults();
        let healed = match faults.healed_since() {
            Ok(at) => at,
            Err(active) => {
                let names: Vec<&str> = active.iter().map(|s| s.label.as_str()).collect();
                return LivenessVerdict::NotChecked {
                    reason: format!("still active at the end: {}", names.join("; ")),
                };
            }
        };
        let until = healed.saturating_add(self.bound_ms);
        let acquired = timeline.lock_events.iter().find_map(|(at, _, e)| {
            (matches!(e, LockEvent::Acquired { .. }) && *at >= healed && *at <= until)
                .then_some(*at)
        });
        match acquired {
            Some(acquired_ms) => LivenessVerdict::Ok {
                healed_ms: healed,
                acquired_ms,
                bound_ms: self.bound_ms,
            },
            None if timeline.end_ms < until => LivenessVerdict::NotChecked {
                reason: format!(
                    "the run ended {} ms after every fault was healed at {healed} ms, less than the bound of {} ms",
                    timeline.end_ms.saturating_sub(healed),
                    self.bound_ms
                ),
            },
            None => LivenessVerdict::Stalled {
                from_ms: healed,
                to_ms: until,
            },
        }
    }
}

impl Liveness {
    /// The violation a `stalled` verdict is reported as; none for the others.
    pub fn violation(&self, verdict: &LivenessVerdict) -> Option<Violation> {
        let LivenessVerdict::Stalled { from_ms, to_ms } = *verdict else {
            return None;
        };
        Some(Violation {
            kind: ViolationKind::Liveness,
            clients: Vec::new(),
            tokens: Vec::new(),
            from_ms,
            to_ms,
            faults: Vec::new(),
            detail: format!(
                "no client acquired the lock within {} ms after every fault was healed at {} ms",
                self.bound_ms, from_ms
            ),
        })
    }
}

impl Checker for Liveness {
    fn name(&self) -> &'static str {
        "liveness"
    }

    fn check(&self, timeline: &Timeline) -> Vec<Violation> {
        self.violation(&self.verdict(timeline))
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;
    use sim::ClusterEvent;

    fn groups() -> Vec<Vec<String>> {
        vec![
            vec!["n1".into()],
            vec!["n2".into(), "n3".into(), "c1".into()],
        ]
    }

    #[test]
    fn no_acquire_after_heal_is_reported() {
        let t = Timeline::from_records(&[
            acquired(100, "c1", 5),
            event(200, ClusterEvent::Crash { host: "n1".into() }),
            event(1000, ClusterEvent::Restart { host: "n1".into() }),
        ])
        .with_end(20_000);
        let live = Liveness { bound_ms: 10_000 };
        let v = live.check(&t);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].from_ms, 1000);
        assert_eq!(
            live.verdict(&t),
            LivenessVerdict::Stalled {
                from_ms: 1000,
                to_ms: 11_000
            }
        );
    }

    #[test]
    fn an_acquire_after_heal_is_ok_and_a_short_run_is_not_checked() {
        let t = Timeline::from_records(&[
            event(200, ClusterEvent::Crash { host: "n1".into() }),
            event(1000, ClusterEvent::Restart { host: "n1".into() }),
            acquired(4000, "c1", 5),
        ])
        .with_end(20_000);
        let live = Liveness { bound_ms: 10_000 };
        assert!(live.check(&t).is_empty());
        assert_eq!(
            live.verdict(&t),
            LivenessVerdict::Ok {
                healed_ms: 1000,
                acquired_ms: 4000,
                bound_ms: 10_000
            }
        );
        let short = Timeline::from_records(&[
            event(200, ClusterEvent::Crash { host: "n1".into() }),
            event(1000, ClusterEvent::Restart { host: "n1".into() }),
        ])
        .with_end(5000);
        assert!(live.check(&short).is_empty());
        assert!(
            matches!(live.verdict(&short), LivenessVerdict::NotChecked { reason }
            if reason.contains("ended 4000 ms after") && reason.contains("bound of 10000 ms"))
        );
    }

    /// A partition whose `for` ran out is repaired by `Unpartition`, not `Heal`: the run is
    /// healed from then, so liveness is judged (it once was silently skipped).
    #[test]
    fn a_partition_ended_by_its_own_for_is_healed() {
        let t = Timeline::from_records(&[
            event(1000, ClusterEvent::Partition { groups: groups() }),
            event(11_000, ClusterEvent::Unpartition { groups: groups() }),
            acquired(11_500, "c1", 7),
        ])
        .with_end(30_000);
        assert!(matches!(
            Liveness { bound_ms: 10_000 }.verdict(&t),
            LivenessVerdict::Ok {
                healed_ms: 11_000,
                acquired_ms: 11_500,
                ..
            }
        ));
    }

    #[test]
    fn a_fault_active_at_the_end_is_named() {
        let t = Timeline::from_records(&[
            event(1000, ClusterEvent::Pause { host: "c2".into() }),
            acquired(2000, "c1", 7),
        ])
        .with_end(30_000);
        assert_eq!(
            Liveness { bound_ms: 10_000 }.verdict(&t),
            LivenessVerdict::NotChecked {
                reason: "still active at the end: pause c2".into()
            }
        );
    }
}
