//! The comparison as one self-contained page (XHTML, inline CSS, no script, nothing fetched): a
//! heat map — a row per lock, a column per fault family, each cell shaded by the share of seeds
//! in which mutual exclusion broke — with the numbers, the cost, and a link to the picture of
//! the cell's first breaking seed (written beside the page by the CLI).

use std::fmt::Write;

use super::{CellSummary, Comparison};
use crate::timeline::esc;

/// Where the picture of `cell`'s first breaking seed goes, relative to the page.
pub fn timeline_href(cell: &CellSummary) -> Option<String> {
    let seed = cell.first_violating_seed.or(cell.first_corrupted_seed)?;
    Some(format!("timelines/{}.seed-{seed}.html", cell.cell))
}

/// Red by the share of seeds with two believers: white at none, red at all (light enough to
/// read the text on).
fn shade(share: f64) -> String {
    let lightness = 97.0 - 35.0 * share.clamp(0.0, 1.0);
    format!("hsl(0, 75%, {lightness:.0}%)")
}

fn fencing_line(label: &str, s: &CellSummary) -> String {
    let link = match timeline_href(s) {
        Some(href) => format!(
            " <a href=\"{}\">seed {}</a>",
            esc(&href),
            s.first_violating_seed
                .or(s.first_corrupted_seed)
                .unwrap_or(0)
        ),
        None => String::new(),
    };
    format!(
        "<div class=\"f\">fencing {label}: ME {}/{} · corrupted {}/{}{link}</div>",
        s.violating, s.seeds, s.corrupted, s.seeds
    )
}

/// The page. `command` is the `locksim compare …` line that made it (shown, for replaying).
pub fn page(c: &Comparison, command: &str) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>locksim compare</title>\n<style>\n");
    s.push_str("body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:.4em .6em;vertical-align:top}th{background:#f3f3f3;text-align:left}td.na{color:#999;background:#fafafa}.n{font-weight:600;font-size:1.1em}.f{font-size:.85em}.cost{font-size:.8em;color:#333}a{color:#003a8c}th .d{font-weight:normal;font-size:.8em;color:#555;max-width:18em}code{background:#f3f3f3;padding:0 .2em}\n");
    s.push_str("</style>\n</head>\n<body>\n<h1>Locks × faults</h1>\n");
    let _ = writeln!(
        s,
        "<p>Every built-in lock on its store under the same faults, {} seeds per cell. <b>ME</b>: seeds in which two clients believed they held the lock at once; <b>corrupted</b>: seeds in which the protected counter took a stale write or lost an update. A cell's shade is its share of ME seeds with fencing off. Each link opens the picture of the cell's first breaking seed. Made by <code>{}</code>.</p>",
        c.seeds,
        esc(command)
    );
    s.push_str("<table class=\"heatmap\">\n<tr><th>lock</th>");
    for f in &c.families {
        let _ = write!(
            s,
            "<th>{}<div class=\"d\">{}</div></th>",
            esc(&f.title),
            esc(&f.description)
        );
    }
    s.push_str("</tr>\n");
    for lock in &c.locks {
        let _ = write!(s, "<tr><th>{}</th>", esc(lock));
        for f in &c.families {
            match (c.cell(&f.name, lock, false), c.cell(&f.name, lock, true)) {
                (Some(off), Some(on)) => {
                    let share = off.violating as f64 / off.seeds.max(1) as f64;
                    let cost = match (off.mean_acquire_ms, off.ops_per_acquisition) {
                        (Some(ms), Some(ops)) => {
                            format!("acquire {ms:.0} ms · {ops:.1} requests")
                        }
                        _ => "no acquisition".to_string(),
                    };
                    let _ = write!(
                        s,
                        "<td class=\"cell\" data-cell=\"{}\" style=\"background:{}\"><div class=\"n\">{}/{}</div>{}{}<div class=\"cost\">{}</div></td>",
                        esc(&format!("{}.{}", f.name, lock)),
                        shade(share),
                        off.violating,
                        off.seeds,
                        fencing_line("off", off),
                        fencing_line("on", on),
                        cost
                    );
                }
                _ => s.push_str("<td class=\"na\">n/a</td>"),
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n</body>\n</html>\n");
    s
}
