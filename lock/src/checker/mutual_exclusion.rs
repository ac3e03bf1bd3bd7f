//! `MutualExclusion`: no two clients believe they hold the lock at the same simulated moment.
//!
//! Belief intervals (see `Timeline::intervals`) are compared pairwise; a touch (one ends in the
//! millisecond the other starts) is not an overlap.
//!
//! Does not verify: that the lock *service* granted the lock twice (a belief may outlive the
//! lease; that is exactly what this catches), nor anything about the resource.

use super::{Checker, Timeline, Violation, ViolationKind};

/// Checker: no two clients believe they hold the lock at the same simulated moment; reported
/// as [`ViolationKind::MutualExclusion`].
///
/// Compares the belief intervals of [`Timeline::intervals`] pairwise; one ending in the
/// millisecond the other starts is not an overlap. A belief may outlive its lease, so this
/// catches overlaps the lock service never granted twice. Says nothing about the resource.
pub struct MutualExclusion;

impl Checker for MutualExclusion {
    fn name(&self) -> &'static str {
        "mutual_exclusion"
    }

    fn check(&self, timeline: &Timeline) -> Vec<Violation> {
        let mut intervals = timeline.intervals();
        intervals.sort_by_key(|i| i.start_ms);
        let end = |e: Option<u64>| e.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for (i, a) in intervals.iter().enumerate() {
            for b in &intervals[i + 1..] {
                if b.start_ms >= end(a.end_ms) {
                    break;
                }
                if a.client == b.client {
                    continue;
                }
                let from = b.start_ms;
                let to = end(a.end_ms)
                    .min(end(b.end_ms))
                    .min(timeline.end_ms.max(from));
                out.push(Violation {
                    kind: ViolationKind::MutualExclusion,
                    clients: vec![a.client.clone(), b.client.clone()],
                    tokens: vec![a.token, b.token],
                    from_ms: from,
                    to_ms: to,
                    // From the first holder's acquisition: a fault that ended before the
                    // second acquired (a pause, a cut) is often what made the overlap.
                    faults: timeline.faults_during(a.start_ms, to),
                    detail: format!(
                        "{} (token {}) believed it held the lock from {} ms to {}; {} (token {}) acquired at {} ms",
                        a.client,
                        a.token,
                        a.start_ms,
                        a.end_ms.map_or("the end".to_string(), |e| format!("{e} ms ({})", a.end_reason)),
                        b.client,
                        b.token,
                        b.start_ms
                    ),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn overlapping_beliefs_are_flagged_with_evidence() {
        let t = Timeline::from_records(&paused_holder());
        let v = MutualExclusion.check(&t);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].clients, vec!["c1", "c2"]);
        assert_eq!(v[0].tokens, vec![5, 9]);
        assert_eq!((v[0].from_ms, v[0].to_ms), (3000, 3105));
        assert_eq!(v[0].faults, vec!["pause c1".to_string()]);
    }

    #[test]
    fn hand_written_overlap_is_flagged() {
        let t = Timeline::from_records(&[
            acquired(100, "c1", 5),
            acquired(150, "c2", 6),
            release(200, "c1", 5),
            release(250, "c2", 6),
        ]);
        assert_eq!(MutualExclusion.check(&t).len(), 1);
    }

    #[test]
    fn sequential_history_passes() {
        let t = Timeline::from_records(&sequential());
        assert!(MutualExclusion.check(&t).is_empty());
        // A handoff in the same millisecond is not an overlap.
        let t = Timeline::from_records(&[
            acquired(100, "c1", 5),
            release(200, "c1", 5),
            acquired(200, "c2", 6),
        ]);
        assert!(MutualExclusion.check(&t).is_empty());
    }
}
