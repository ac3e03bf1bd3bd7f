//! One-line captions for violations, in the words a reader checks against the picture:
//! "c1 and c3 both held `lock/` from 12.31 s to 13.02 s; c1 was paused 10–25 s".

use lock::{Violation, ViolationKind};

use super::describe::{secs, span};
use super::model::{FaultSpan, Model};
use sim::FaultKind;

/// The caption of one violation.
pub(crate) fn caption(v: &Violation, model: &Model) -> String {
    let what = match v.kind {
        ViolationKind::MutualExclusion => {
            let key = held_key(v, model);
            let who = match v.clients.as_slice() {
                [a, b] => format!("{a} and {b}"),
                many => many.join(", "),
            };
            format!(
                "{who} both held `{key}` from {} to {}",
                secs(v.from_ms),
                secs(v.to_ms)
            )
        }
        _ => resource_phrase(v),
    };
    let faults = fault_phrases(v, model);
    if faults.is_empty() {
        format!("{what}; no fault was active")
    } else {
        format!("{what}; {}", faults.join("; "))
    }
}

/// The headline over the picture: the first safety violation's caption and, if it is a double
/// hold, what happened at the resource because of it.
pub(crate) fn headline(violations: &[Violation], model: &Model) -> Option<String> {
    let first = first_safety(violations)?;
    let mut text = caption(first, model);
    if first.kind == ViolationKind::MutualExclusion {
        // The damage it did, lost updates (what a user sees) before broken fencing.
        let involved = |v: &&Violation| v.clients.iter().any(|c| first.clients.contains(c));
        let resource = [ViolationKind::LostUpdate, ViolationKind::Fencing]
            .iter()
            .find_map(|k| violations.iter().filter(|v| v.kind == *k).find(involved))
            .or_else(|| violations.iter().find(|v| v.kind.is_resource()));
        match resource {
            Some(r) => {
                text.push_str("; ");
                text.push_str(&resource_phrase(r));
            }
            None => {
                if let Some(w) = model.accesses.iter().find(|a| {
                    a.write
                        && !a.accepted
                        && a.at_ms >= first.from_ms
                        && first.clients.contains(&a.client)
                }) {
                    text.push_str(&format!(
                        "; {}'s token {} write rejected at {} (fencing: token {} was accepted before) → the resource stays intact",
                        w.client,
                        w.token,
                        secs(w.at_ms),
                        w.highest
                    ));
                }
            }
        }
    }
    Some(text)
}

/// The violation the picture opens on: the first double hold in time, else the first other
/// safety violation. Why double holds first: a lost update starts at its read, often before the
/// double hold that caused it, and the hold is the cause a reader should see first.
pub(crate) fn first_safety(violations: &[Violation]) -> Option<&Violation> {
    let first = |kind: Option<ViolationKind>| {
        violations
            .iter()
            .filter(|v| v.kind.is_safety() && kind.is_none_or(|k| v.kind == k))
            .min_by_key(|v| (v.from_ms, v.to_ms))
    };
    first(Some(ViolationKind::MutualExclusion)).or_else(|| first(None))
}

fn held_key(v: &Violation, model: &Model) -> String {
    let keys: Vec<&String> = v
        .clients
        .iter()
        .zip(&v.tokens)
        .filter_map(|(c, t)| model.hold_keys.get(&(c.clone(), *t)))
        .collect();
    match keys.as_slice() {
        [a, rest @ ..] if rest.iter().all(|k| k == a) => (*a).clone(),
        _ => model.lock_key.clone(),
    }
}

/// "token 10 write accepted after token 23 → lost update".
fn resource_phrase(v: &Violation) -> String {
    match v.kind {
        ViolationKind::Fencing => {
            // clients/tokens: the earlier write with the higher token, then the late one.
            let (hi, lo) = (v.tokens.first(), v.tokens.last());
            let writer = v.clients.last().map(String::as_str).unwrap_or("?");
            format!(
                "{writer}'s token {} write accepted at {} after token {} → fencing broken",
                lo.copied().unwrap_or_default(),
                secs(v.to_ms),
                hi.copied().unwrap_or_default()
            )
        }
        ViolationKind::LostUpdate => {
            // clients/tokens: the writer first, then the writes it overwrote since its read.
            let writer = v.clients.first().map(String::as_str).unwrap_or("?");
            let token = v.tokens.first().copied().unwrap_or_default();
            let lost = v.tokens.len().saturating_sub(1);
            let after = v.tokens.iter().skip(1).max().copied().unwrap_or_default();
            format!(
                "token {token} write ({writer}) accepted at {} after token {after} → lost update ({lost} write{} lost)",
                secs(v.to_ms),
                if lost == 1 { "" } else { "s" }
            )
        }
        ViolationKind::Liveness => format!(
            "no client acquired from {} to {}",
            secs(v.from_ms),
            secs(v.to_ms)
        ),
        ViolationKind::MutualExclusion => v.detail.clone(),
    }
}

/// The faults active during the violation, as "c1 was paused 10–25 s".
fn fault_phrases(v: &Violation, model: &Model) -> Vec<String> {
    model
        .faults
        .iter()
        .filter(|f| f.from_ms <= v.to_ms && f.to_ms >= v.from_ms)
        .map(fault_phrase)
        .collect()
}

pub(crate) fn fault_phrase(f: &FaultSpan) -> String {
    let when = span(f.from_ms, f.to_ms);
    let host = f.hosts.first().map(String::as_str).unwrap_or("");
    match f.kind {
        FaultKind::Pause => format!("{host} was paused {when}"),
        FaultKind::Crash => format!("{host} was down {when}"),
        FaultKind::Skew => format!("{} {when}", f.label),
        FaultKind::Partition | FaultKind::Loss | FaultKind::Latency => {
            format!("{} {when}", f.label)
        }
    }
}
