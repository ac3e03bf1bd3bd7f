//! `locksim run` (verdict, violations, a timeline around the first) and `locksim replay` (the
//! full event log): one seed each.

use super::{load, run_one, write_timeline};

pub fn run(
    scenario: &str,
    seed: u64,
    json: bool,
    options: crate::runner::RunOptions,
    timeline: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let scenario = load(scenario);
    if !json {
        println!("scenario {}  seed {seed}", scenario.name);
    }
    let artifacts = run_one(&scenario, seed, options);
    write_timeline(timeline, &scenario, &artifacts)?;
    let o = &artifacts.outcome;
    if json {
        println!("{}", serde_json::to_string(o)?);
    } else {
        println!(
            "verdict: mutual exclusion {}, resource {} (expected {}, {}) -> {}",
            o.verdict,
            o.resource,
            o.expected.mutual_exclusion,
            o.expected.resource,
            if o.matches {
                "as expected"
            } else {
                "NOT AS EXPECTED"
            }
        );
        println!("kv history: {} (expected {})", o.kv, o.expected.kv);
        print_stale(
            "stale reads: {} (a read returned a value older than a write acknowledged before it began)",
            &o.kv_stale_reads,
        );
        if let Some(zk) = &o.zk_check {
            print_stale(
                "stale reads without sync: {} (a read missed an operation completed before it began)",
                &zk.stale_local,
            );
        }
        if let Some(detail) = &o.kv_detail {
            println!("checker: {}", detail.trim_end());
        }
        if o.violations.is_empty() {
            println!("violations: none");
        } else {
            println!("violations:");
        }
        const SHOWN: usize = 10;
        if o.violations.len() > SHOWN {
            println!(
                "  (the first {SHOWN} of {}; --json lists them all)",
                o.violations.len()
            );
        }
        for v in o.violations.iter().take(SHOWN) {
            let faults = if v.faults.is_empty() {
                "no fault active".to_string()
            } else {
                format!("during {}", v.faults.join(", "))
            };
            println!(
                "  {:?} {} tokens {:?} at {:.3}s..{:.3}s, {faults}: {}",
                v.kind,
                v.clients.join(","),
                v.tokens,
                v.from_ms as f64 / 1000.0,
                v.to_ms as f64 / 1000.0,
                v.detail
            );
        }
        if let Some(first) = o.violations.iter().find(|v| v.kind.is_safety()) {
            println!("timeline around the first violation:");
            print!(
                "{}",
                crate::runner::text_timeline(&artifacts.records, first.from_ms, first.to_ms)
            );
        } else if let Some(stale) = o.kv_stale_reads.first() {
            println!("cluster events around the first stale read:");
            print!(
                "{}",
                crate::runner::cluster_timeline(
                    &artifacts.records,
                    stale.missed.return_ms.min(stale.invoke_ms),
                    stale.return_ms
                )
            );
        } else if let Some(stale) = o.zk_check.as_ref().and_then(|z| z.stale_local.first()) {
            println!("cluster events around the first stale read:");
            print!(
                "{}",
                crate::runner::cluster_timeline(
                    &artifacts.records,
                    stale.missed_at_ms.min(stale.invoke_ms),
                    stale.return_ms.unwrap_or(stale.invoke_ms)
                )
            );
        }
        println!("liveness: {}", o.liveness.describe());
        println!(
            "acquisitions {}, resource writes {} accepted / {} rejected, counter {}, ops {}",
            o.acquisitions, o.accepted_writes, o.rejected_writes, o.final_counter, o.ops
        );
        println!(
            "simulated {:.3}s in {:.3}s wall; history digest {}",
            o.sim_ms as f64 / 1000.0,
            o.wall_ms as f64 / 1000.0,
            o.history_digest
        );
        println!(
            "seed {seed}: replay with `locksim replay {} --seed {seed}`",
            scenario.name
        );
    }
    std::process::exit(if o.matches { 0 } else { 1 });
}

/// A count line (`title` with `{}` for the count) and the first few, when there are any.
fn print_stale<T: std::fmt::Display>(title: &str, stale: &[T]) {
    const SHOWN: usize = 3;
    if stale.is_empty() {
        return;
    }
    let more = if stale.len() > SHOWN {
        format!("; the first {SHOWN} (--json lists them all)")
    } else {
        String::new()
    };
    println!("{}{more}", title.replace("{}", &stale.len().to_string()));
    for s in stale.iter().take(SHOWN) {
        println!("  {s}");
    }
}

pub fn replay(scenario: &str, seed: u64, timeline: Option<&std::path::Path>) -> anyhow::Result<()> {
    let scenario = load(scenario);
    let artifacts = run_one(&scenario, seed, crate::runner::RunOptions::default());
    write_timeline(timeline, &scenario, &artifacts)?;
    let o = &artifacts.outcome;
    println!("scenario {}  seed {seed}", scenario.name);
    print!(
        "{}",
        crate::runner::text_timeline(&artifacts.records, 0, u64::MAX / 2)
    );
    println!(
        "verdict: mutual exclusion {}, resource {}, kv history {} ({} stale reads); {} violations; history digest {}",
        o.verdict,
        o.resource,
        o.kv,
        o.kv_stale_reads.len() + o.zk_check.as_ref().map_or(0, |z| z.stale_local.len()),
        o.violations.len(),
        o.history_digest
    );
    Ok(())
}
