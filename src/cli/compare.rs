//! `locksim compare`: run (or merge) the locks × fault families table ([`crate::compare`]),
//! print it, and write the cells, the JSON, the page and the pictures of the breaking seeds.

use std::path::Path;

use anyhow::Context;

use super::args::CompareArgs;
use super::bad_input;
use crate::compare::{self, Comparison, Family, Row};

pub fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    let options = super::options(args.no_check);
    use std::io::IsTerminal;
    let mut families = Family::bundled();
    for path in &args.families {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| bad_input(format!("cannot read {}: {e}", path.display())));
        let family =
            Family::parse(&path.display().to_string(), &text).unwrap_or_else(|e| bad_input(e));
        if families.iter().any(|f| f.name == family.name) {
            bad_input(format!(
                "{}: a family named {:?} is already a column",
                path.display(),
                family.name
            ));
        }
        families.push(family);
    }
    let locks = super::locks();
    let rows: Vec<Row> = if args.locks.is_empty() {
        Row::all(locks)
    } else {
        args.locks
            .iter()
            .map(|l| Row::parse(l, locks).unwrap_or_else(|e| bad_input(e)))
            .collect()
    };
    let cells = compare::cells(&families, &rows);
    let dir = args.out.display().to_string();

    let lines = if args.merge.is_empty() {
        let seeds = crate::sweep::seeds(&args.seeds, args.shard.as_deref())
            .unwrap_or_else(|e| bad_input(e));
        let jobs = args.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new((cells.len() * seeds.len()) as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} runs  {per_sec}  eta {eta}",
                )
                .expect("a valid template"),
            );
            bar
        });
        let lines = compare::run(&cells, &seeds, jobs, options, &|done, _| {
            if let Some(bar) = &bar {
                bar.set_position(done as u64);
            }
        })
        .unwrap_or_else(|e| bad_input(e));
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if let Some(path) = &args.jsonl {
            let mut text = String::new();
            for line in &lines {
                text.push_str(&serde_json::to_string(line)?);
                text.push('\n');
            }
            std::fs::write(path, text)
                .with_context(|| format!("writing the lines to {}", path.display()))?;
        }
        lines
    } else {
        let mut texts = Vec::new();
        for f in &args.merge {
            let text = std::fs::read_to_string(f)
                .unwrap_or_else(|e| bad_input(format!("cannot read {}: {e}", f.display())));
            texts.push((f.display().to_string(), text));
        }
        compare::merge(&texts).unwrap_or_else(|e| bad_input(e))
    };
    let comparison =
        Comparison::of(&families, &rows, &lines, &dir).unwrap_or_else(|e| bad_input(e));

    if args.json {
        println!("{}", serde_json::to_string_pretty(&comparison)?);
    } else {
        print!("{}", compare::text::table(&comparison));
    }
    if args.shard.is_some() {
        // A shard's table is partial: the merge writes the files.
        return Ok(());
    }
    write_outputs(args, options, &cells, &comparison)
}

/// DIR/cells/*.toml, DIR/compare.json, the page and the pictures of the breaking seeds.
fn write_outputs(
    args: &CompareArgs,
    options: crate::runner::RunOptions,
    cells: &[compare::Cell],
    comparison: &Comparison,
) -> anyhow::Result<()> {
    let cells_dir = args.out.join("cells");
    std::fs::create_dir_all(&cells_dir)
        .with_context(|| format!("creating {}", cells_dir.display()))?;
    for cell in cells {
        let path = cells_dir.join(format!("{}.toml", cell.id()));
        std::fs::write(&path, cell.text())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let json = args.out.join("compare.json");
    std::fs::write(&json, serde_json::to_string_pretty(comparison)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let page = args
        .html
        .clone()
        .unwrap_or_else(|| args.out.join("compare.html"));
    let page_dir = page.parent().unwrap_or(Path::new(".")).to_path_buf();
    let timelines = page_dir.join("timelines");
    std::fs::create_dir_all(&timelines)
        .with_context(|| format!("creating {}", timelines.display()))?;
    for (cell, summary) in cells.iter().zip(&comparison.cells) {
        let (Some(href), Some(seed)) = (
            compare::html::timeline_href(summary),
            summary
                .first_violating_seed
                .or(summary.first_corrupted_seed),
        ) else {
            continue;
        };
        let scenario = cell.scenario().unwrap_or_else(|e| bad_input(e));
        match crate::runner::run_with(&scenario, seed, options) {
            Ok(artifacts) => {
                let html = crate::timeline::Timeline::new(&scenario, &artifacts).render();
                let path = page_dir.join(&href);
                std::fs::write(&path, html)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Err(e) => eprintln!("{}: seed {seed}: no picture: {e}", cell.id()),
        }
    }
    let command = std::env::args()
        .map(|a| if a.contains(' ') { format!("{a:?}") } else { a })
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::create_dir_all(&page_dir).ok();
    std::fs::write(&page, compare::html::page(comparison, &command))
        .with_context(|| format!("writing {}", page.display()))?;
    if !args.json {
        println!(
            "\nwrote {} (cells, compare.json) and {} (with its timelines/)",
            args.out.display(),
            page.display()
        );
    }
    Ok(())
}
