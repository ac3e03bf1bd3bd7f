//! Which faults were active when: the one derivation of fault intervals from a history's
//! events, read by the lock checkers (the faults a violation lists, when the run was healed),
//! the timeline (the shaded bands) and the reports.
//!
//! Why one place: the world records *what happened* (`Partition`, then `Unpartition` when its
//! `for` ran out, or a `Heal`); turning that into intervals has rules — a partition ends by its
//! own repair or a heal, a skew by a reset to rate 1, a link rule by a rule of zero, a latency by
//! a return to the default — and two copies of those rules disagreed.

use serde::{Deserialize, Serialize};

use super::history::{ClusterEvent, Record};

/// The kinds of fault a [`FaultSpan`] can be, as the timeline groups them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A paused host.
    Pause,
    /// A crashed host, until its restart.
    Crash,
    /// A partition (including an isolation) or a one-way cut.
    Partition,
    /// A clock running at another rate (an interval), or a clock stepped forward (an instant).
    Skew,
    /// Loss or duplication of datagrams.
    Loss,
    /// Message latency other than the configured default.
    Latency,
}

impl FaultKind {
    /// A short lowercase name (CSS classes, JSON).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Pause => "pause",
            FaultKind::Crash => "crash",
            FaultKind::Partition => "partition",
            FaultKind::Skew => "skew",
            FaultKind::Loss => "loss",
            FaultKind::Latency => "latency",
        }
    }
}

/// A fault from when it was injected to when it was undone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpan {
    /// Which kind of fault.
    pub kind: FaultKind,
    /// `pause c3`, `partition n2 | n1,n3`, `loss 20% on n1–n2`, `clock jump r3 +10000 ms`.
    pub label: String,
    /// The hosts it hits; empty: every host.
    pub hosts: Vec<String>,
    /// A partition's sides (empty for other faults).
    pub groups: Vec<Vec<String>>,
    /// When it was injected, in simulated milliseconds since the start of the run.
    pub from_ms: u64,
    /// When it was undone; `None`: still active when the history ends. A clock jump is an
    /// instant (`to_ms == Some(from_ms)`): nothing undoes it, and nothing is left to heal.
    pub to_ms: Option<u64>,
}

impl FaultSpan {
    /// Whether the fault was active at some moment in `from..=to`. A fault is active from the
    /// millisecond it begins up to, not including, the one it is undone in; an instant only in
    /// its own.
    pub fn overlaps(&self, from: u64, to: u64) -> bool {
        self.from_ms <= to
            && match self.to_ms {
                None => true,
                Some(end) if end == self.from_ms => end >= from,
                Some(end) => end > from,
            }
    }
}

/// Every fault of a history as an interval, in the order they began.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveFaults {
    spans: Vec<FaultSpan>,
}

/// Spans still open, by identity; a `Vec` in opening order, so that what closes at the end closes
/// deterministically.
struct Open(Vec<(String, FaultSpan)>);

impl Open {
    fn open(&mut self, key: String, span: FaultSpan) {
        if !self.0.iter().any(|(k, _)| *k == key) {
            self.0.push((key, span));
        }
    }

    fn close(&mut self, key: &str, at: u64, done: &mut Vec<FaultSpan>) {
        if let Some(i) = self.0.iter().position(|(k, _)| k == key) {
            let (_, mut span) = self.0.remove(i);
            span.to_ms = Some(at);
            done.push(span);
        }
    }

    fn close_where(&mut self, at: u64, done: &mut Vec<FaultSpan>, pred: impl Fn(&str) -> bool) {
        let keys: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| pred(k))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            self.close(&key, at, done);
        }
    }
}

fn link_name(link: &Option<Vec<String>>) -> String {
    match link {
        Some(l) => format!("on {}", l.join("–")),
        None => "everywhere".to_string(),
    }
}

fn partition_key(groups: &[Vec<String>]) -> String {
    let names: Vec<String> = groups.iter().map(|g| g.join(",")).collect();
    format!("partition {}", names.join(" | "))
}

impl ActiveFaults {
    /// Derives the intervals from `(at_ms, event)` pairs in history order. `default_latency_ms`
    /// is the `(min, max)` a link has when no fault set one, as the world records it
    /// (`WorldConfig::default_latency_ms`): a `Latency` event back to it ends a latency fault.
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = (u64, &'a ClusterEvent)>,
        default_latency_ms: (u64, u64),
    ) -> Self {
        let mut open = Open(Vec::new());
        let mut done: Vec<FaultSpan> = Vec::new();
        let span = |kind, label: String, hosts: Vec<String>, at| FaultSpan {
            kind,
            label,
            hosts,
            groups: Vec::new(),
            from_ms: at,
            to_ms: None,
        };
        for (at, event) in events {
            match event {
                ClusterEvent::Pause { host } => {
                    let key = format!("pause {host}");
                    open.open(
                        key.clone(),
                        span(FaultKind::Pause, key, vec![host.clone()], at),
                    );
                }
                ClusterEvent::Resume { host } => {
                    open.close(&format!("pause {host}"), at, &mut done)
                }
                ClusterEvent::Crash { host } => {
                    let key = format!("crash {host}");
                    open.open(
                        key.clone(),
                        span(FaultKind::Crash, key, vec![host.clone()], at),
                    );
                }
                ClusterEvent::Restart { host } => {
                    open.close(&format!("crash {host}"), at, &mut done)
                }
                ClusterEvent::Partition { groups } => {
                    let key = partition_key(groups);
                    let hosts = groups.iter().flatten().cloned().collect();
                    let partition = FaultSpan {
                        groups: groups.clone(),
                        ..span(FaultKind::Partition, key.clone(), hosts, at)
                    };
                    open.open(key, partition);
                }
                ClusterEvent::Unpartition { groups } => {
                    open.close(&partition_key(groups), at, &mut done)
                }
                ClusterEvent::PartitionOneway { from, to } => {
                    let key = format!("partition {from} → {to}");
                    let hosts = vec![from.clone(), to.clone()];
                    open.open(key.clone(), span(FaultKind::Partition, key, hosts, at));
                }
                ClusterEvent::RepairOneway { from, to } => {
                    open.close(&format!("partition {from} → {to}"), at, &mut done)
                }
                ClusterEvent::Heal => {
                    open.close_where(at, &mut done, |k| k.starts_with("partition "))
                }
                ClusterEvent::Skew {
                    host,
                    rate,
                    offset_ms,
                } => {
                    let key = format!("skew {host}");
                    open.close(&key, at, &mut done);
                    if *rate != 1.0 {
                        let jump = match offset_ms {
                            0 => String::new(),
                            ms => format!(", +{ms} ms"),
                        };
                        let label = format!("skew {host} ×{rate}{jump}");
                        open.open(key, span(FaultKind::Skew, label, vec![host.clone()], at));
                    } else if *offset_ms != 0 {
                        let label = format!("clock jump {host} +{offset_ms} ms");
                        done.push(FaultSpan {
                            to_ms: Some(at),
                            ..span(FaultKind::Skew, label, vec![host.clone()], at)
                        });
                    }
                }
                ClusterEvent::LinkRule {
                    link,
                    loss,
                    duplicate,
                } => {
                    let key = format!("link {}", link_name(link));
                    open.close(&key, at, &mut done);
                    if *loss > 0.0 || *duplicate > 0.0 {
                        let mut what = Vec::new();
                        if *loss > 0.0 {
                            what.push(format!("loss {:.0}%", loss * 100.0));
                        }
                        if *duplicate > 0.0 {
                            what.push(format!("duplicate {:.0}%", duplicate * 100.0));
                        }
                        let label = format!("{} {}", what.join(", "), link_name(link));
                        let hosts = link.clone().unwrap_or_default();
                        open.open(key, span(FaultKind::Loss, label, hosts, at));
                    }
                }
                ClusterEvent::Latency {
                    link,
                    min_ms,
                    max_ms,
                } => {
                    let key = format!("latency {}", link_name(link));
                    // A latency everywhere replaces every per-link one too.
                    if link.is_none() {
                        open.close_where(at, &mut done, |k| k.starts_with("latency "));
                    } else {
                        open.close(&key, at, &mut done);
                    }
                    if (*min_ms, *max_ms) != default_latency_ms {
                        let label = format!("latency {min_ms}–{max_ms} ms {}", link_name(link));
                        let hosts = link.clone().unwrap_or_default();
                        open.open(key, span(FaultKind::Latency, label, hosts, at));
                    }
                }
                ClusterEvent::BecameLeader { .. }
                | ClusterEvent::SteppedDown { .. }
                | ClusterEvent::LeaseExpired { .. }
                | ClusterEvent::ServerLeads { .. }
                | ClusterEvent::ServerStepsDown { .. }
                | ClusterEvent::SessionExpired { .. }
                | ClusterEvent::ZkConnection { .. }
                | ClusterEvent::PgBackendEnded { .. }
                | ClusterEvent::PgConnection { .. }
                | ClusterEvent::PgPromoted { .. }
                | ClusterEvent::PgDemoted { .. }
                | ClusterEvent::PgRewound { .. }
                | ClusterEvent::Snapshot { .. }
                | ClusterEvent::SnapshotInstalled { .. } => {}
            }
        }
        done.extend(open.0.into_iter().map(|(_, span)| span));
        done.sort_by(|a, b| {
            (a.from_ms, a.to_ms.unwrap_or(u64::MAX), &a.label).cmp(&(
                b.from_ms,
                b.to_ms.unwrap_or(u64::MAX),
                &b.label,
            ))
        });
        ActiveFaults { spans: done }
    }

    /// [`ActiveFaults::from_events`] over a history's event records.
    pub fn from_records(records: &[Record], default_latency_ms: (u64, u64)) -> Self {
        let events = records.iter().filter_map(|r| match r {
            Record::Event { at_ms, event } => Some((*at_ms, event)),
            Record::Op(_) | Record::App { .. } => None,
        });
        Self::from_events(events, default_latency_ms)
    }

    /// Every fault, in the order they began (ties: the one ending first).
    pub fn spans(&self) -> &[FaultSpan] {
        &self.spans
    }

    /// Every fault, in the order they began, by value.
    pub fn into_spans(self) -> Vec<FaultSpan> {
        self.spans
    }

    /// The labels of every fault active at some moment in `from..=to`, sorted, each once.
    pub fn during(&self, from: u64, to: u64) -> Vec<String> {
        let mut labels: Vec<String> = self
            .spans
            .iter()
            .filter(|s| s.overlaps(from, to))
            .map(|s| s.label.clone())
            .collect();
        labels.sort();
        labels.dedup();
        labels
    }

    /// Since when no fault has been active: `Ok(0)` if none ever was, `Err` with the faults
    /// still active when the history ends.
    pub fn healed_since(&self) -> Result<u64, Vec<&FaultSpan>> {
        let active: Vec<&FaultSpan> = self.spans.iter().filter(|s| s.to_ms.is_none()).collect();
        if !active.is_empty() {
            return Err(active);
        }
        Ok(self.spans.iter().filter_map(|s| s.to_ms).max().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: (u64, u64) = (10, 10);

    fn spans(events: &[(u64, ClusterEvent)]) -> ActiveFaults {
        ActiveFaults::from_events(events.iter().map(|(at, e)| (*at, e)), DEFAULT)
    }

    fn groups() -> Vec<Vec<String>> {
        vec![vec!["n1".into()], vec!["n2".into(), "n3".into()]]
    }

    #[test]
    fn a_partition_ends_with_its_own_repair() {
        let f = spans(&[
            (1000, ClusterEvent::Partition { groups: groups() }),
            (11_000, ClusterEvent::Unpartition { groups: groups() }),
        ]);
        assert_eq!(f.spans().len(), 1);
        assert_eq!(f.spans()[0].label, "partition n1 | n2,n3");
        assert_eq!(f.spans()[0].to_ms, Some(11_000));
        assert_eq!(f.during(5000, 6000), ["partition n1 | n2,n3"]);
        assert!(f.during(11_000, 12_000).is_empty(), "repaired in 11000");
        assert_eq!(f.healed_since(), Ok(11_000));
    }

    #[test]
    fn heal_ends_every_partition_and_oneway_repair_ends_its_own() {
        let oneway = |from: &str, to: &str| (from.to_string(), to.to_string());
        let (a, b) = oneway("n1", "c1");
        let f = spans(&[
            (100, ClusterEvent::Partition { groups: groups() }),
            (
                200,
                ClusterEvent::PartitionOneway {
                    from: a.clone(),
                    to: b.clone(),
                },
            ),
            (300, ClusterEvent::RepairOneway { from: a, to: b }),
            (400, ClusterEvent::Heal),
        ]);
        let ends: Vec<_> = f
            .spans()
            .iter()
            .map(|s| (s.label.as_str(), s.to_ms))
            .collect();
        assert_eq!(
            ends,
            [
                ("partition n1 | n2,n3", Some(400)),
                ("partition n1 → c1", Some(300))
            ]
        );
    }

    #[test]
    fn still_active_at_the_end_means_not_healed() {
        let f = spans(&[
            (100, ClusterEvent::Pause { host: "c1".into() }),
            (200, ClusterEvent::Crash { host: "n2".into() }),
            (300, ClusterEvent::Resume { host: "c1".into() }),
        ]);
        let active: Vec<_> = f
            .healed_since()
            .unwrap_err()
            .iter()
            .map(|s| s.label.clone())
            .collect();
        assert_eq!(active, ["crash n2"]);
        assert_eq!(spans(&[]).healed_since(), Ok(0));
    }

    #[test]
    fn skew_resets_link_rules_clear_latency_returns_to_default() {
        let skew = |rate, offset_ms| ClusterEvent::Skew {
            host: "r3".into(),
            rate,
            offset_ms,
        };
        let link = |loss| ClusterEvent::LinkRule {
            link: None,
            loss,
            duplicate: 0.0,
        };
        let latency = |min_ms, max_ms| ClusterEvent::Latency {
            link: Some(vec!["n1".into(), "n2".into()]),
            min_ms,
            max_ms,
        };
        let f = spans(&[
            (100, skew(1.5, 0)),
            (200, link(0.2)),
            (300, latency(50, 80)),
            (400, skew(1.0, 0)),
            (500, link(0.0)),
            (600, latency(10, 10)),
            (700, skew(1.0, 10_000)),
        ]);
        let got: Vec<_> = f
            .spans()
            .iter()
            .map(|s| (s.label.as_str(), s.from_ms, s.to_ms))
            .collect();
        assert_eq!(
            got,
            [
                ("skew r3 ×1.5", 100, Some(400)),
                ("loss 20% everywhere", 200, Some(500)),
                ("latency 50–80 ms on n1–n2", 300, Some(600)),
                ("clock jump r3 +10000 ms", 700, Some(700)),
            ]
        );
        assert_eq!(f.during(650, 700), ["clock jump r3 +10000 ms"]);
        assert!(f.during(701, 900).is_empty());
        assert_eq!(f.healed_since(), Ok(700));
    }

    #[test]
    fn a_fault_ending_as_the_window_opens_is_not_in_it() {
        let f = spans(&[
            (100, ClusterEvent::Pause { host: "c1".into() }),
            (200, ClusterEvent::Resume { host: "c1".into() }),
        ]);
        assert_eq!(f.during(150, 150), ["pause c1"]);
        assert_eq!(f.during(0, 100), ["pause c1"]);
        assert!(f.during(200, 300).is_empty());
    }
}
