//! `LostUpdate`: each accepted write must add exactly one to the counter it overwrote (each
//! critical section writes what it read + 1), so the final counter equals the number of accepted
//! writes. A write that does not is a lost update: it overwrote the increments accepted since its
//! writer's read.
//!
//! Does not verify: which lock was held (a lost update is what the resource's user sees, whatever
//! the cause).

use super::{Checker, Timeline, Violation, ViolationKind};

/// Checker: each write the resource accepted adds exactly one to the counter it overwrote, so
/// the final counter equals the number of accepted writes; reported as
/// [`ViolationKind::LostUpdate`].
///
/// A violation names the offending writer first, then the other clients whose accepted writes
/// it overwrote since its read. Judges what the resource's user sees, whatever lock was (or was
/// not) held, so it also covers locks without fencing tokens.
pub struct LostUpdate;

impl Checker for LostUpdate {
    fn name(&self) -> &'static str {
        "lost_update"
    }

    fn check(&self, timeline: &Timeline) -> Vec<Violation> {
        let accesses = timeline.accesses();
        let accepted: Vec<_> = accesses.iter().filter(|a| a.write && a.accepted).collect();
        let final_value = timeline
            .final_value
            .unwrap_or_else(|| accepted.last().map_or(0, |w| w.value));
        let mut out = Vec::new();
        for (i, w) in accesses.iter().enumerate() {
            if !(w.write && w.accepted) || w.value == w.previous + 1 {
                continue;
            }
            // The writer's read: its last accepted read with the same token before this write.
            let read = accesses[..i].iter().rposition(|a| {
                !a.write && a.accepted && a.client == w.client && a.token == w.token
            });
            let since = read.map_or(0, |r| r + 1);
            let clobbered: Vec<_> = accesses[since..i]
                .iter()
                .filter(|a| a.write && a.accepted && a.client != w.client)
                .collect();
            let from = read.map_or(w.at_ms, |r| accesses[r].at_ms);
            let mut clients = vec![w.client.clone()];
            let mut tokens = vec![w.token];
            for c in &clobbered {
                clients.push(c.client.clone());
                tokens.push(c.token);
            }
            out.push(Violation {
                kind: ViolationKind::LostUpdate,
                clients,
                tokens,
                from_ms: from,
                to_ms: w.at_ms,
                faults: timeline.faults_during(from, w.at_ms),
                detail: format!(
                    "{} (token {}) wrote {} over {} at {} ms, losing {} accepted write(s) since its read; final counter {} after {} accepted writes",
                    w.client,
                    w.token,
                    w.value,
                    w.previous,
                    w.at_ms,
                    clobbered.len(),
                    final_value,
                    accepted.len()
                ),
            });
        }
        if out.is_empty() && final_value != accepted.len() as u64 {
            out.push(Violation {
                kind: ViolationKind::LostUpdate,
                clients: Vec::new(),
                tokens: Vec::new(),
                from_ms: timeline.end_ms,
                to_ms: timeline.end_ms,
                faults: Vec::new(),
                detail: format!(
                    "final counter {} after {} accepted writes",
                    final_value,
                    accepted.len()
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn stale_write_is_a_lost_update_naming_the_clobbered_write() {
        let v = LostUpdate.check(&Timeline::from_records(&paused_holder()));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].clients, vec!["c1", "c2"]);
        assert_eq!(v[0].tokens, vec![5, 9]);
        assert_eq!((v[0].from_ms, v[0].to_ms), (105, 6010));
    }

    #[test]
    fn sequential_and_fenced_histories_pass() {
        assert!(LostUpdate
            .check(&Timeline::from_records(&sequential()))
            .is_empty());
        let mut records = paused_holder();
        records[8] = write(6010, "c1", 5, 1, 1, false);
        assert!(LostUpdate
            .check(&Timeline::from_records(&records))
            .is_empty());
    }

    #[test]
    fn final_counter_mismatch_is_flagged() {
        let t = Timeline::from_records(&sequential()).with_final_value(2);
        assert_eq!(LostUpdate.check(&t).len(), 1);
    }
}
