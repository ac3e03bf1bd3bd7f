//! `locksim sweep`: many seeds in parallel ([`crate::sweep`]), with a progress bar when
//! stderr is a terminal, and a summary; `--jsonl` writes a line per seed, and `locksim report`
//! merges such files from shards into the same summary.

use super::{bad_input, load};

pub fn sweep(
    scenario: &str,
    seeds: &str,
    jobs: Option<usize>,
    shard: Option<&str>,
    json: bool,
    jsonl: Option<&std::path::Path>,
    options: crate::runner::RunOptions,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let scenario = load(scenario);
    let seeds = crate::sweep::seeds(seeds, shard).unwrap_or_else(|e| bad_input(e));
    let jobs = jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let bar = if !json && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(seeds.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} seeds  {per_sec}  eta {eta}",
            )
            .expect("a valid template"),
        );
        Some(bar)
    } else {
        None
    };
    let (summary, lines) = crate::sweep::sweep(&scenario, &seeds, jobs, options, &|done| {
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(path) = jsonl {
        let mut text = String::new();
        for line in &lines {
            text.push_str(&serde_json::to_string(line)?);
            text.push('\n');
        }
        std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("writing the seed lines to {}: {e}", path.display()))?;
    }
    print_summary(&summary, json, Some(jobs))
}

/// `locksim report FILE…`: the shards' seed lines merged into one summary.
pub fn report(files: &[std::path::PathBuf], json: bool) -> anyhow::Result<()> {
    let mut texts = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f)
            .unwrap_or_else(|e| bad_input(format!("cannot read {}: {e}", f.display())));
        texts.push((f.display().to_string(), text));
    }
    let summary = crate::sweep::report(&texts).unwrap_or_else(|e| bad_input(e));
    print_summary(&summary, json, None)
}

/// Prints a summary (text or one JSON object) and exits 0 when every seed was as expected.
fn print_summary(
    summary: &crate::sweep::Summary,
    json: bool,
    jobs: Option<usize>,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{}: {} seeds, {} violating mutual exclusion, {} with a non-linearizable KV history, {} not as expected, {:.1} seeds/s ({})",
            summary.scenario,
            summary.seeds_run,
            summary.violating,
            summary.kv_violating,
            summary.mismatching,
            summary.seeds_per_sec,
            jobs.map_or("merged shards".to_string(), |j| format!("{j} jobs"))
        );
        if let Some(seed) = summary.first_violating_seed {
            println!(
                "first violating seed: {seed} (locksim run {} --seed {seed})",
                summary.scenario
            );
        }
        if let Some(seed) = summary.first_mismatching_seed {
            println!("first seed not as expected: {seed}");
        }
        for e in &summary.errors {
            println!("BUG: {e}");
        }
    }
    std::process::exit(if summary.mismatching == 0 { 0 } else { 1 });
}
