//! `locksim list`: the bundled scenarios, with the first sentence of each description.

use std::io;

pub fn list(json: bool, mut out: impl io::Write) -> io::Result<()> {
    use crate::scenario::{bundled, parse};
    for (name, text, _) in bundled() {
        let scenario = parse(name, text).expect("bundled scenarios parse (tested)");
        // The first sentence is the one-line description.
        let summary: String = scenario
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let summary = summary
            .split(". ")
            .next()
            .unwrap_or("")
            .trim_end_matches('.');
        if json {
            let line = serde_json::json!({
                "name": name,
                "summary": summary,
                "description": scenario.description,
                "backend": format!("{:?}", scenario.cluster.backend).to_lowercase(),
                "lock": scenario.lock.kind,
                "faults": scenario.faults.faults.len(),
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{name:<30} {summary}.")?;
        }
    }
    Ok(())
}
