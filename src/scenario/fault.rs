//! The `[[fault]]` tables of a scenario file: each kind's fields, its times within the run, and
//! its targets, which must be hosts of this world or roles its backend has.

use std::time::Duration;

use sim::{Fault, ScheduledFault, Target};
use toml::Spanned;

use super::file::FaultSection;
use super::hosts::{role_allowed, role_names};
use super::schema::{Backend, ScenarioError};
use super::validate::Validator;

impl Validator<'_> {
    /// `fault[i]`, at a time inside the run of `duration`.
    pub(super) fn fault(
        &self,
        i: usize,
        f: &Spanned<FaultSection>,
        duration: Duration,
        backend: Backend,
        hosts: &[String],
    ) -> Result<ScheduledFault, ScenarioError> {
        let field = |name: &str| format!("fault[{i}].{name}");
        let raw = f.get_ref();
        let kind = raw.kind.get_ref().as_str();
        let at = self.time(&raw.at, &field("at"))?;
        if at >= duration {
            return self.err(
                raw.at.span(),
                &field("at"),
                format!(
                    "{} is not before the end of the run ({})",
                    raw.at.get_ref(),
                    humantime::format_duration(duration)
                ),
            );
        }
        let for_ = raw
            .duration
            .as_ref()
            .map(|d| self.duration(d, &field("for")))
            .transpose()?;

        // Which optional fields each kind takes; anything else set is an error, not ignored.
        let takes: &[&str] = match kind {
            "partition" => &["groups", "target"],
            "partition-oneway" => &["from", "to"],
            "heal" => &[],
            "isolate" | "restart" | "pause" | "resume" => &["target"],
            "crash" => &["target", "lose_unsynced"],
            "skew" => &["target", "rate", "offset"],
            "loss" | "duplicate" => &["rate", "from", "to"],
            "latency" => &["latency", "from", "to"],
            other => return self.err(raw.kind.span(), &field("kind"), format!(
                "unknown fault kind {other:?}; allowed: partition, partition-oneway, heal, isolate, crash, restart, pause, resume, skew, loss, duplicate, latency"
            )),
        };
        let set: [(&str, Option<std::ops::Range<usize>>); 9] = [
            ("target", raw.target.as_ref().map(|x| x.span())),
            ("groups", raw.groups.as_ref().map(|x| x.span())),
            ("from", raw.from.as_ref().map(|x| x.span())),
            ("to", raw.to.as_ref().map(|x| x.span())),
            ("rate", raw.rate.as_ref().map(|x| x.span())),
            ("offset", raw.offset.as_ref().map(|x| x.span())),
            ("latency", raw.latency.as_ref().map(|x| x.span())),
            (
                "lose_unsynced",
                raw.lose_unsynced.as_ref().map(|x| x.span()),
            ),
            ("for", raw.duration.as_ref().map(|x| x.span())),
        ];
        for (name, span) in set {
            if let Some(span) = span {
                if name != "for" && !takes.contains(&name) {
                    let allowed = if takes.is_empty() {
                        "no other fields".to_string()
                    } else {
                        takes.join(", ")
                    };
                    return self.err(span, &field(name), format!("`{name}` does not apply to a {kind} fault; it takes at, kind, for and {allowed}"));
                }
            }
        }
        let target = |name: &str, s: &Option<Spanned<String>>| -> Result<Target, ScenarioError> {
            match s {
                None => self.err(
                    raw.kind.span(),
                    &field(name),
                    format!(
                        "a {kind} fault needs `{name}`: a host ({}) or a role ({})",
                        hosts.join(", "),
                        role_names(backend)
                    ),
                ),
                Some(s) => self.target(s, &field(name), backend, hosts),
            }
        };
        let link = || -> Result<Option<(Target, Target)>, ScenarioError> {
            match (&raw.from, &raw.to) {
                (None, None) => Ok(None),
                (Some(a), Some(b)) => Ok(Some((
                    self.target(a, &field("from"), backend, hosts)?,
                    self.target(b, &field("to"), backend, hosts)?,
                ))),
                _ => self.err(
                    f.span(),
                    &field("from"),
                    "give both `from` and `to` (one link), or neither (every link)",
                ),
            }
        };
        let rate = |probability: bool| -> Result<f64, ScenarioError> {
            let Some(r) = &raw.rate else {
                return self.err(
                    raw.kind.span(),
                    &field("rate"),
                    format!("a {kind} fault needs `rate`"),
                );
            };
            let ok = if probability {
                (0.0..=1.0).contains(r.get_ref())
            } else {
                r.get_ref().is_finite() && *r.get_ref() > 0.0
            };
            if !ok {
                let allowed = if probability {
                    "a probability from 0.0 to 1.0"
                } else {
                    "a clock speed above 0 (1.0 = real time, 2.0 = twice as fast)"
                };
                return self.err(
                    r.span(),
                    &field("rate"),
                    format!("{} is not {allowed}", r.get_ref()),
                );
            }
            Ok(*r.get_ref())
        };
        let fault = match kind {
            "partition" => match (&raw.groups, &raw.target) {
                (Some(groups), None) => {
                    if groups.get_ref().len() < 2 {
                        return self.err(groups.span(), &field("groups"), "needs at least two groups, e.g. [[\"n1\"], [\"n2\", \"n3\"]]");
                    }
                    let mut parsed = Vec::new();
                    for g in groups.get_ref() {
                        let mut group = Vec::new();
                        for h in g {
                            group.push(self.target(&Spanned::new(groups.span(), h.clone()), &field("groups"), backend, hosts)?);
                        }
                        parsed.push(group);
                    }
                    Fault::Partition { groups: parsed }
                }
                (None, Some(t)) => Fault::Isolate { target: self.target(t, &field("target"), backend, hosts)? },
                _ => return self.err(f.span(), &field("groups"), "a partition takes either `groups` or a single `target` (cut from everyone else), not both"),
            },
            "partition-oneway" => Fault::PartitionOneway { from: target("from", &raw.from)?, to: target("to", &raw.to)? },
            "heal" => Fault::Heal,
            "isolate" => Fault::Isolate { target: target("target", &raw.target)? },
            "crash" => Fault::Crash { target: target("target", &raw.target)?, lose_unsynced: raw.lose_unsynced.as_ref().map(|b| *b.get_ref()).unwrap_or(false) },
            "restart" => Fault::Restart { target: target("target", &raw.target)? },
            "pause" => Fault::Pause { target: target("target", &raw.target)? },
            "resume" => Fault::Resume { target: target("target", &raw.target)? },
            "skew" => {
                if raw.rate.is_none() && raw.offset.is_none() {
                    return self.err(raw.kind.span(), &field("rate"), "a skew fault needs `rate` (clock speed) and/or `offset` (a jump forward, e.g. \"3s\")");
                }
                Fault::Skew {
                    target: target("target", &raw.target)?,
                    rate: raw.rate.as_ref().map(|_| rate(false)).transpose()?,
                    offset: raw.offset.as_ref().map(|o| self.duration(o, &field("offset"))).transpose()?,
                }
            }
            "loss" => Fault::Loss { rate: rate(true)?, link: link()? },
            "duplicate" => Fault::Duplicate { rate: rate(true)?, link: link()? },
            _ => {
                let Some(l) = &raw.latency else {
                    return self.err(raw.kind.span(), &field("latency"), "a latency fault needs `latency`, e.g. \"50ms..200ms\"");
                };
                let range = self.range(l, &field("latency"), false)?;
                Fault::Latency { min: range.min, max: range.max, link: link()? }
            }
        };
        Ok(ScheduledFault {
            at,
            fault,
            duration: for_,
        })
    }

    /// A host of this world (`hosts`) or a role `backend` has.
    fn target(
        &self,
        s: &Spanned<String>,
        field: &str,
        backend: Backend,
        hosts: &[String],
    ) -> Result<Target, ScenarioError> {
        let t = Target::parse(s.get_ref());
        if let Target::Host(h) = &t {
            if !hosts.contains(h) {
                return self.err(
                    s.span(),
                    field,
                    format!(
                        "no host {h:?} in this scenario; hosts are {}, or use a role: {}",
                        hosts.join(", "),
                        role_names(backend)
                    ),
                );
            }
        }
        role_allowed(backend, &t).or_else(|e| self.err(s.span(), field, e.to_string()))?;
        Ok(t)
    }
}
