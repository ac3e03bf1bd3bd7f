//! The comparison as a terminal table: a row per lock, a column per fault family; each cell
//! `ME v/n · C off|on`, then the cost and the replay command of every cell that broke.

use std::fmt::Write;

use super::{CellSummary, Comparison};

/// `ME 3/20 C 3|0`: seeds with two believers (fencing off), seeds corrupted fencing off | on.
fn cell_text(off: Option<&CellSummary>, on: Option<&CellSummary>) -> String {
    match (off, on) {
        (Some(off), Some(on)) => format!(
            "ME {}/{} C {}|{}",
            off.violating, off.seeds, off.corrupted, on.corrupted
        ),
        _ => "n/a".to_string(),
    }
}

/// The table, the cost of each lock (mean over its cells with fencing off), and one replay
/// command per broken cell.
pub fn table(c: &Comparison) -> String {
    let mut out = String::new();
    let lock_w = c.locks.iter().map(String::len).max().unwrap_or(4).max(4);
    let col_w = c
        .families
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0)
        .max(16);
    let _ = writeln!(
        out,
        "{} seeds per cell; ME = seeds where two clients believed they held the lock (fencing off); C = seeds with the resource corrupted, fencing off|on",
        c.seeds
    );
    let _ = write!(out, "{:lock_w$}", "lock");
    for f in &c.families {
        let _ = write!(out, "  {:col_w$}", f.name);
    }
    out.push('\n');
    for lock in &c.locks {
        let _ = write!(out, "{lock:lock_w$}");
        for f in &c.families {
            let text = cell_text(c.cell(&f.name, lock, false), c.cell(&f.name, lock, true));
            let _ = write!(out, "  {text:col_w$}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\ncost (fencing off, no fault): mean acquire latency, store requests per acquisition"
    );
    for lock in &c.locks {
        if let Some(cell) = c.cell("none", lock, false) {
            let _ = writeln!(
                out,
                "  {lock:lock_w$}  {}  {}",
                cell.mean_acquire_ms
                    .map(|ms| format!("{ms:>7.1} ms"))
                    .unwrap_or_else(|| "      - ms".into()),
                cell.ops_per_acquisition
                    .map(|r| format!("{r:>6.1} req"))
                    .unwrap_or_else(|| "     - req".into()),
            );
        }
    }
    let broken: Vec<&CellSummary> = c.cells.iter().filter(|s| s.command.is_some()).collect();
    if !broken.is_empty() {
        let _ = writeln!(
            out,
            "\nfirst breaking seed of each broken cell (exits 1 while it breaks):"
        );
        for s in broken {
            let _ = writeln!(out, "  {}", s.command.as_deref().unwrap_or_default());
        }
    }
    let errors: Vec<&String> = c.cells.iter().flat_map(|s| &s.errors).collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\nsimulation errors (bugs):");
        for e in errors {
            let _ = writeln!(out, "  {e}");
        }
    }
    out
}
