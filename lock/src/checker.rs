//! Checkers: `trait Checker` over a [`Timeline`] parsed from the run's history, each returning
//! structured [`Violation`]s.
//!
//! * `mutual_exclusion`: belief intervals of different clients never overlap.
//! * `fencing`: accepted writes at the resource carry strictly increasing tokens.
//! * `lost_update`: every accepted write increments the counter it overwrote by exactly one, so
//!   the final counter equals the number of accepted writes.
//! * `liveness`: once every fault is healed, some client acquires within a bound (reported, not
//!   a failure by default).

mod fencing;
mod liveness;
mod lost_update;
mod mutual_exclusion;

use serde::{Deserialize, Serialize};
use sim::{ActiveFaults, ClusterConfig, ClusterEvent, Record};

use crate::event::LockEvent;

pub use fencing::Fencing;
pub use liveness::{Liveness, LivenessVerdict};
pub use lost_update::LostUpdate;
pub use mutual_exclusion::MutualExclusion;

/// Which property a [`Violation`] breaks. Serialized in snake_case (`mutual_exclusion`,
/// `fencing`, `lost_update`, `liveness`), as in `run --json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// Two clients believed they held the lock at the same simulated moment (the
    /// [`MutualExclusion`] checker). A belief, not yet damage: fencing may still have saved the
    /// resource.
    MutualExclusion,
    /// The resource accepted a write whose token was below that of an earlier accepted write (or
    /// equal to it, from another client): the [`Fencing`] checker.
    Fencing,
    /// An accepted write did not add exactly one to the counter it overwrote, or the final
    /// counter differs from the number of accepted writes: the [`LostUpdate`] checker.
    LostUpdate,
    /// No client acquired within the bound once every fault was healed (the [`Liveness`]
    /// checker). Reported, but not a failure by default: see [`ViolationKind::is_safety`].
    Liveness,
}

impl ViolationKind {
    /// Whether a violation of this kind fails a run by default (liveness is only reported).
    pub fn is_safety(self) -> bool {
        self != ViolationKind::Liveness
    }

    /// A violation a user of the protected resource would see (not only a belief).
    pub fn is_resource(self) -> bool {
        matches!(self, ViolationKind::Fencing | ViolationKind::LostUpdate)
    }
}

/// One violation with its evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Which property is violated; decides whether the violation fails the run by default
    /// ([`ViolationKind::is_safety`]).
    pub kind: ViolationKind,
    /// The clients involved, in the order the detail names them.
    pub clients: Vec<String>,
    /// Their fencing tokens, in the same order.
    pub tokens: Vec<i64>,
    /// Simulated milliseconds: when the violation starts and ends (the same for an instant).
    pub from_ms: u64,
    /// When it ends, in simulated milliseconds (see `from_ms`); equal to `from_ms` for an
    /// instant, such as a final-counter mismatch at the end of the run.
    pub to_ms: u64,
    /// Faults active at some moment while it built up, as `crash n1`, `pause c2`, `partition …`
    /// (`sim::ActiveFaults` labels): for mutual exclusion from the first holder's acquisition to
    /// `to_ms`, for the others during `from_ms..=to_ms`.
    pub faults: Vec<String>,
    /// One sentence for a person: who did what with which token, and when (simulated ms).
    pub detail: String,
}

/// A property checked over a whole run.
pub trait Checker {
    /// The property's stable snake_case name (`mutual_exclusion`, `fencing`, …), as reports
    /// print it.
    fn name(&self) -> &'static str;
    /// Every violation of the property in `timeline`; empty when the run satisfies it. Reads
    /// only the timeline, so the same history always gives the same violations.
    fn check(&self, timeline: &Timeline) -> Vec<Violation>;
}

/// One client's belief that it holds the lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    /// The client host that believed it held the lock (`c1`, `c2`, …).
    pub client: String,
    /// The fencing token of its guard; 0 ([`crate::FencingToken::NONE`]) for a lock without
    /// tokens.
    pub token: i64,
    /// The lease (or grant id) behind the hold, 0 when the lock has none. A `BelievedLost` of
    /// the same lease ends the interval; one of another lease does not.
    pub lease: i64,
    /// Simulated ms at which `acquire` returned the guard (the `Acquired` event).
    pub start_ms: u64,
    /// `None`: still believed when the run ended.
    pub end_ms: Option<u64>,
    /// `release`, `lost` (the session noticed), `crash`, or `end` (of the run).
    pub end_reason: String,
}

/// An access to the resource, in the order the resource served them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// Simulated ms at which the resource served it (not when the client sent it).
    pub at_ms: u64,
    /// The client host that sent it.
    pub client: String,
    /// The fencing token it carried; 0 when the client's lock gives none.
    pub token: i64,
    /// `true` for a write, `false` for a read.
    pub write: bool,
    /// Read: the value read. Write: the value written.
    pub value: u64,
    /// Write: the counter it overwrote. Read: the same as `value`.
    pub previous: u64,
    /// Whether the resource accepted it. With fencing off every access is accepted; a rejected
    /// write leaves the counter unchanged, a rejected read returns nothing to the client.
    pub accepted: bool,
}

/// The lock-level view of a history: what the checkers read.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// Every [`LockEvent`] in history order, as `(simulated ms, process, event)`: `process` is
    /// the client host for client events and `resource` for the accesses the resource served.
    pub lock_events: Vec<(u64, String, LockEvent)>,
    /// Every cluster event (crash, restart, pause, partition, latency, heal, …) with its
    /// simulated ms, in history order: what [`Timeline::faults`] derives the faults from.
    pub cluster_events: Vec<(u64, ClusterEvent)>,
    /// Simulated time the run ended (the last record's time if not given).
    pub end_ms: u64,
    /// The resource's counter at the end (the last accepted write's value if not given).
    pub final_value: Option<u64>,
    /// The `(min, max)` link latency with no fault: a `Latency` event back to it ends a latency
    /// fault (`WorldConfig::default_latency_ms`; the default config's unless given).
    pub default_latency_ms: (u64, u64),
}

impl Timeline {
    /// Parse a run's history records (`sim::History::records`). Lock and cluster events are
    /// kept; `end_ms` is the latest time any record shows (operations included). `final_value`
    /// stays `None` and `default_latency_ms` is the default config's: a run sets its own with
    /// the `with_*` methods.
    pub fn from_records(records: &[Record]) -> Self {
        let mut t = Timeline {
            lock_events: Vec::new(),
            cluster_events: Vec::new(),
            end_ms: 0,
            final_value: None,
            default_latency_ms: ClusterConfig::default().world().default_latency_ms(),
        };
        for record in records {
            match record {
                Record::Event { at_ms, event } => {
                    t.cluster_events.push((*at_ms, event.clone()));
                    t.end_ms = t.end_ms.max(*at_ms);
                }
                Record::App { .. } => {
                    if let Some((at, process, event)) = LockEvent::from_record(record) {
                        t.end_ms = t.end_ms.max(at);
                        t.lock_events.push((at, process, event));
                    }
                }
                Record::Op(op) => {
                    t.end_ms = t.end_ms.max(op.return_ms.unwrap_or(op.invoke_ms));
                }
            }
        }
        t
    }

    /// Extend `end_ms` to at least `end_ms` (simulated ms), e.g. the run's elapsed time when
    /// its last ticks recorded nothing; never moves it earlier. Liveness needs the real end to
    /// tell a stall from a run that ended too soon.
    pub fn with_end(mut self, end_ms: u64) -> Self {
        self.end_ms = self.end_ms.max(end_ms);
        self
    }

    /// Set the `(min, max)` link latency in ms that counts as "no latency fault": the run's
    /// `WorldConfig::default_latency_ms`. With a wrong value, a latency fault set back to the
    /// run's default is not seen to end.
    pub fn with_default_latency(mut self, default_latency_ms: (u64, u64)) -> Self {
        self.default_latency_ms = default_latency_ms;
        self
    }

    /// Set the resource's counter at the end of the run, which [`LostUpdate`] compares with
    /// the number of accepted writes (without it, the last accepted write's value stands in).
    pub fn with_final_value(mut self, value: u64) -> Self {
        self.final_value = Some(value);
        self
    }

    /// Belief intervals: from `Acquired` to the client's next `ReleaseInvoked`, its session's
    /// `BelievedLost` (same lease), its crash, or the end of the run.
    pub fn intervals(&self) -> Vec<Interval> {
        let mut out = Vec::new();
        for (i, (at, client, event)) in self.lock_events.iter().enumerate() {
            let LockEvent::Acquired { token, lease, .. } = event else {
                continue;
            };
            let mut end = None;
            let mut reason = "end".to_string();
            for (at2, c2, e2) in &self.lock_events[i + 1..] {
                if c2 != client {
                    continue;
                }
                let ends = match e2 {
                    LockEvent::ReleaseInvoked { .. } => Some("release"),
                    LockEvent::BelievedLost { lease: l, .. } if l == lease => Some("lost"),
                    LockEvent::AcquireInvoked { .. } | LockEvent::Acquired { .. } => {
                        Some("release")
                    }
                    _ => None,
                };
                if let Some(r) = ends {
                    end = Some(*at2);
                    reason = r.to_string();
                    break;
                }
            }
            let crash = self.cluster_events.iter().find_map(|(t, e)| match e {
                ClusterEvent::Crash { host } if host == client && *t >= *at => Some(*t),
                _ => None,
            });
            if let Some(c) = crash {
                if end.is_none_or(|e| c < e) {
                    end = Some(c);
                    reason = "crash".into();
                }
            }
            out.push(Interval {
                client: client.clone(),
                token: *token,
                lease: *lease,
                start_ms: *at,
                end_ms: end,
                end_reason: reason,
            });
        }
        out
    }

    /// Resource accesses in the order served.
    pub fn accesses(&self) -> Vec<Access> {
        self.lock_events
            .iter()
            .filter_map(|(at, _, e)| match e {
                LockEvent::ResourceRead {
                    client,
                    token,
                    value,
                    accepted,
                    ..
                } => Some(Access {
                    at_ms: *at,
                    client: client.clone(),
                    token: *token,
                    write: false,
                    value: *value,
                    previous: *value,
                    accepted: *accepted,
                }),
                LockEvent::ResourceWrite {
                    client,
                    token,
                    value,
                    previous,
                    accepted,
                    ..
                } => Some(Access {
                    at_ms: *at,
                    client: client.clone(),
                    token: *token,
                    write: true,
                    value: *value,
                    previous: *previous,
                    accepted: *accepted,
                }),
                _ => None,
            })
            .collect()
    }

    /// Which faults were active when (the one derivation, `sim::ActiveFaults`).
    pub fn faults(&self) -> ActiveFaults {
        let events = self.cluster_events.iter().map(|(at, e)| (*at, e));
        ActiveFaults::from_events(events, self.default_latency_ms)
    }

    /// Every fault active at some moment in `from..=to` (simulated ms).
    pub fn faults_during(&self, from: u64, to: u64) -> Vec<String> {
        self.faults().during(from, to)
    }
}

/// The safety checkers a run applies (everything but liveness, which a run reports as a
/// verdict of its own and, when stalled, a violation after these).
pub fn safety() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(MutualExclusion),
        Box::new(Fencing),
        Box::new(LostUpdate),
    ]
}

/// Every checker a run applies, with their default settings: [`safety`], then liveness.
pub fn all(liveness_bound_ms: u64) -> Vec<Box<dyn Checker>> {
    let mut checkers = safety();
    checkers.push(Box::new(Liveness {
        bound_ms: liveness_bound_ms,
    }));
    checkers
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn acquired(at: u64, c: &str, token: i64) -> Record {
        LockEvent::Acquired {
            algorithm: "test".into(),
            key: "lock".into(),
            lease: token * 100,
            token,
        }
        .at(at, c)
    }

    pub fn release(at: u64, c: &str, token: i64) -> Record {
        LockEvent::ReleaseInvoked { token }.at(at, c)
    }

    pub fn lost(at: u64, c: &str, token: i64) -> Record {
        LockEvent::BelievedLost {
            lease: token * 100,
            reason: "deadline".into(),
        }
        .at(at, c)
    }

    pub fn read(at: u64, c: &str, token: i64, value: u64) -> Record {
        LockEvent::ResourceRead {
            client: c.into(),
            token,
            value,
            accepted: true,
            highest: 0,
        }
        .at(at, "resource")
    }

    pub fn write(
        at: u64,
        c: &str,
        token: i64,
        previous: u64,
        value: u64,
        accepted: bool,
    ) -> Record {
        LockEvent::ResourceWrite {
            client: c.into(),
            token,
            value,
            previous,
            accepted,
            highest: 0,
        }
        .at(at, "resource")
    }

    pub fn event(at_ms: u64, event: ClusterEvent) -> Record {
        Record::Event { at_ms, event }
    }

    /// A correct run: a then b then a, each read → write → release.
    pub fn sequential() -> Vec<Record> {
        vec![
            acquired(100, "c1", 5),
            read(105, "c1", 5, 0),
            write(200, "c1", 5, 0, 1, true),
            release(205, "c1", 5),
            acquired(300, "c2", 8),
            read(305, "c2", 8, 1),
            write(400, "c2", 8, 1, 2, true),
            release(405, "c2", 8),
            acquired(500, "c1", 11),
            read(505, "c1", 11, 2),
            write(600, "c1", 11, 2, 3, true),
            release(605, "c1", 11),
        ]
    }

    /// Kleppmann's story: c1 acquires and reads, is paused past its TTL, c2 acquires, reads,
    /// writes; c1 resumes, writes its stale value with its old token, then notices the loss.
    pub fn paused_holder() -> Vec<Record> {
        vec![
            acquired(100, "c1", 5),
            read(105, "c1", 5, 0),
            event(110, ClusterEvent::Pause { host: "c1".into() }),
            acquired(3000, "c2", 9),
            read(3005, "c2", 9, 0),
            write(3100, "c2", 9, 0, 1, true),
            release(3105, "c2", 9),
            event(6000, ClusterEvent::Resume { host: "c1".into() }),
            write(6010, "c1", 5, 1, 1, true),
            lost(6020, "c1", 5),
        ]
    }

    #[test]
    fn intervals_end_at_release_loss_or_crash() {
        let mut records = paused_holder();
        records.push(acquired(7000, "c3", 12));
        records.push(event(7100, ClusterEvent::Crash { host: "c3".into() }));
        let t = Timeline::from_records(&records);
        let iv: Vec<_> = t
            .intervals()
            .into_iter()
            .map(|i| (i.client, i.start_ms, i.end_ms, i.end_reason))
            .collect();
        assert_eq!(
            iv,
            vec![
                ("c1".into(), 100, Some(6020), "lost".into()),
                ("c2".into(), 3000, Some(3105), "release".into()),
                ("c3".into(), 7000, Some(7100), "crash".into()),
            ]
        );
        assert_eq!(t.faults_during(3000, 3100), vec!["pause c1".to_string()]);
        assert!(t.faults().healed_since().is_err(), "c3 is still down");
    }

    /// `lease-txn-partition-safe`'s shape: a partition with `for` is repaired by `Unpartition`
    /// before the overlap starts; a violation later must not list it as active.
    #[test]
    fn a_partition_that_ended_is_not_listed_in_a_later_violation() {
        let groups = vec![vec!["n1".to_string()], vec!["n2".into(), "n3".into()]];
        let t = Timeline::from_records(&[
            event(
                1000,
                ClusterEvent::Partition {
                    groups: groups.clone(),
                },
            ),
            event(11_000, ClusterEvent::Unpartition { groups }),
            acquired(12_000, "c1", 5),
            acquired(12_500, "c2", 6),
            release(13_000, "c1", 5),
        ]);
        let v = MutualExclusion.check(&t);
        assert_eq!(v.len(), 1);
        assert!(v[0].faults.is_empty(), "{:?}", v[0].faults);
        assert_eq!(t.faults().healed_since(), Ok(11_000));
        assert_eq!(t.faults_during(5000, 5000), ["partition n1 | n2,n3"]);
    }
}
