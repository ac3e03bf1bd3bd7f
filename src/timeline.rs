//! The picture of a run: one self-contained HTML file (inline SVG and CSS, no script, no
//! network) on a shared simulated-time axis — a lane per client (holds as believed, acquire
//! attempts, releases, tokens, lease, resource accesses, operations), a lane per store host
//! (etcd members: leader and term, down; redis nodes: primary, down; sentinels and Redlock's
//! masters: down), the lock's own lane where overlapping holds stack up, faults as shaded bands
//! over the lanes they hit, and every violation highlighted and captioned.
//!
//! ```no_run
//! # let scenario = locksim::scenario::resolve("pause-no-fencing").unwrap();
//! let artifacts = locksim::runner::run(&scenario, 1).unwrap();
//! let html = locksim::timeline::Timeline::new(&scenario, &artifacts).render();
//! std::fs::write("pause.html", html).unwrap();
//! ```
//!
//! Two pictures in one file: the window around the first safety violation (the default view)
//! and the whole run below it, linked both ways. Why not one zoomable SVG: zooming needs
//! script, and a reader opening a file from a bug report should see the violation first.
//!
//! Deterministic: the same history renders the same bytes. The wall-clock time of the run
//! (`Outcome::wall_ms`) is deliberately not rendered.
//!
//! # Layout
//! * `model`: `Model`, what is drawn, read out of the history.
//! * `svg`: `Layout` (lane positions) and `View` (one time window as SVG items with tiers).
//! * `caption`: violation captions and the headline.
//! * `describe`: words for hover titles: operations, outcomes, times.

mod caption;
mod describe;
mod model;
mod svg;

use std::collections::BTreeMap;

use crate::runner::RunArtifacts;
use crate::scenario::Scenario;
use crate::verdict::{MutualExclusion, Resource};

use model::Model;
use svg::{Item, Layout, View, TIER_ALWAYS};

/// The default cap on the file's size: 2 MiB, room for about 8 000 operations with their hover
/// titles. Beyond it, per-operation marks (operations, keepalives, reads) are dropped first, then
/// bars (holds, attempts, leases, roles, writes), latest first, and the file says how many of
/// each were left out. Lanes, faults, violations and captions are never dropped, so a run with
/// a great many violations can exceed the cap.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;

/// Renders one run as HTML. Built from the scenario (for its member count, description and
/// default latency) and what the runner returned.
pub struct Timeline<'a> {
    scenario: &'a Scenario,
    artifacts: &'a RunArtifacts,
    max_bytes: usize,
}

impl<'a> Timeline<'a> {
    pub fn new(scenario: &'a Scenario, artifacts: &'a RunArtifacts) -> Self {
        Timeline {
            scenario,
            artifacts,
            max_bytes: MAX_BYTES,
        }
    }

    /// Cap on the file's size in bytes (default [`MAX_BYTES`]).
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The HTML document. Well-formed XML (XHTML with inline SVG) as well as HTML5, so tests
    /// can read it with an XML parser.
    pub fn render(&self) -> String {
        let outcome = &self.artifacts.outcome;
        let model = Model::new(
            self.scenario,
            &self.artifacts.records,
            &outcome.faults,
            outcome.sim_ms,
        );
        let violations = &outcome.violations;
        let captions: Vec<String> = violations
            .iter()
            .map(|v| caption::caption(v, &model))
            .collect();
        let layout = Layout::new(&model);
        let view = |id, (from_ms, to_ms)| View {
            id,
            from_ms,
            to_ms,
            model: &model,
            layout: &layout,
            violations,
            captions: &captions,
        };
        let whole = view("whole", (0, model.end_ms.max(1)));
        let zoom = caption::first_safety(violations).map(|first| {
            let window = zoom_window(&model, first);
            view("zoom", window)
        });

        let head = self.head(&model, zoom.as_ref(), &whole);
        let zoom_items = zoom.as_ref().map(|z| z.items()).unwrap_or_default();
        let whole_items = whole.items();
        let always: usize = zoom_items
            .iter()
            .chain(&whole_items)
            .filter(|i| i.tier == TIER_ALWAYS)
            .map(|i| i.svg.len())
            .sum();
        // Section headers, lists and notes besides the SVG items: measured generously.
        let sections = 4_096 + violations.len() * 2 * 600;
        let mut budget = self
            .max_bytes
            .saturating_sub(head.len() + FOOT.len() + always + sections);

        let mut html = head;
        if let Some(zoom) = &zoom {
            let (chosen, used, dropped) = choose(&zoom_items, budget / 2);
            budget -= used;
            html.push_str(&section(
                zoom,
                &chosen,
                &dropped,
                self.max_bytes,
                &captions,
                violations,
            ));
        }
        let (chosen, _, dropped) = choose(&whole_items, budget);
        html.push_str(&section(
            &whole,
            &chosen,
            &dropped,
            self.max_bytes,
            &captions,
            violations,
        ));
        html.push_str(FOOT);
        html
    }

    fn head(&self, model: &Model, zoom: Option<&View>, whole: &View) -> String {
        let o = &self.artifacts.outcome;
        let mut h = String::from(
            "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n",
        );
        h.push_str(&format!(
            "<title>locksim {} seed {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>\n",
            esc(&o.scenario),
            o.seed
        ));
        h.push_str(&format!(
            "<h1>locksim · {} · seed {}</h1>\n",
            esc(&o.scenario),
            o.seed
        ));
        h.push_str(&format!(
            "<p class=\"verdict {}\" id=\"verdict\">mutual exclusion <b class=\"{}\">{}</b>, resource <b class=\"{}\">{}</b> — expected {}, {}: <b>{}</b></p>\n",
            if o.matches { "as-expected" } else { "unexpected" },
            if o.verdict == MutualExclusion::Holds {
                "good"
            } else {
                "bad"
            },
            o.verdict,
            if o.resource == Resource::Intact {
                "good"
            } else {
                "bad"
            },
            o.resource,
            o.expected.mutual_exclusion,
            o.expected.resource,
            if o.matches { "as expected" } else { "NOT as expected" }
        ));
        h.push_str(&format!(
            "<p class=\"stats\">{} acquisitions · resource writes {} accepted, {} rejected · counter {} · {} operations · simulated {} · history digest <code>{}</code></p>\n",
            o.acquisitions,
            o.accepted_writes,
            o.rejected_writes,
            o.final_counter,
            o.ops,
            describe::secs(o.sim_ms),
            esc(&o.history_digest)
        ));
        let description: String = self
            .scenario
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        h.push_str(&format!(
            "<p class=\"description\">{}</p>\n",
            esc(&description)
        ));
        match caption::headline(&o.violations, model) {
            Some(text) => h.push_str(&format!(
                "<p class=\"headline\" id=\"headline\">{}</p>\n",
                code(&text)
            )),
            None => h.push_str(
                "<p class=\"headline none\" id=\"headline\">No safety violation in this run.</p>\n",
            ),
        }
        h.push_str("<nav>");
        if let Some(z) = zoom {
            h.push_str(&format!(
                "<a href=\"#zoom\">around the first violation ({})</a> · ",
                describe::span(z.from_ms, z.to_ms)
            ));
        }
        h.push_str(&format!(
            "<a href=\"#whole\">the whole run ({})</a></nav>\n",
            describe::span(whole.from_ms, whole.to_ms)
        ));
        h.push_str(LEGEND);
        h.push_str("</header>\n");
        h
    }
}

/// Picks the items of one view within `budget` bytes (beyond those always drawn): bars before
/// operation marks, each in time order until the first that does not fit.
fn choose(items: &[Item], budget: usize) -> (Vec<&Item>, usize, BTreeMap<&'static str, usize>) {
    let mut chosen: Vec<bool> = items.iter().map(|i| i.tier == TIER_ALWAYS).collect();
    let mut used = 0;
    let mut dropped: BTreeMap<&'static str, usize> = BTreeMap::new();
    for tier in [svg::TIER_BARS, svg::TIER_OPS] {
        let mut full = false;
        for (i, item) in items.iter().enumerate().filter(|(_, i)| i.tier == tier) {
            if !full && used + item.svg.len() <= budget {
                used += item.svg.len();
                chosen[i] = true;
            } else {
                full = true;
                *dropped.entry(item.what).or_default() += 1;
            }
        }
    }
    let chosen = items
        .iter()
        .zip(chosen)
        .filter_map(|(i, c)| c.then_some(i))
        .collect();
    (chosen, used, dropped)
}

/// The window the picture opens on: the first violation, the whole holds involved in it and
/// the faults that hit its clients (each stretched by at most 30 s), padded on both sides.
fn zoom_window(model: &Model, first: &lock::Violation) -> (u64, u64) {
    const REACH: u64 = 30_000;
    let (mut from, mut to) = (first.from_ms, first.to_ms);
    for hold in &model.holds {
        let involved = first
            .clients
            .iter()
            .zip(&first.tokens)
            .any(|(c, t)| *c == hold.client && *t == hold.token);
        if involved {
            from = from.min(hold.start_ms.max(first.from_ms.saturating_sub(REACH)));
            to = to.max(model.hold_end(hold).min(first.to_ms + REACH));
        }
    }
    for f in &model.faults {
        let overlaps = f.from_ms <= first.to_ms && f.to_ms >= first.from_ms;
        let hits = f.hosts.iter().any(|h| first.clients.contains(h));
        if overlaps && hits {
            from = from.min(f.from_ms.max(first.from_ms.saturating_sub(REACH)));
            to = to.max(f.to_ms.min(first.to_ms + REACH));
        }
    }
    let pad = ((to - from) / 20).max(1_000);
    let (from, to) = (from.saturating_sub(pad), (to + pad).min(model.end_ms));
    if to - from < 4_000 {
        let mid = (from + to) / 2;
        let from = mid.saturating_sub(2_000);
        (from, (from + 4_000).min(model.end_ms.max(from + 1)))
    } else {
        (from, to)
    }
}

fn section(
    view: &View,
    items: &[&Item],
    dropped: &BTreeMap<&'static str, usize>,
    max_bytes: usize,
    captions: &[String],
    violations: &[lock::Violation],
) -> String {
    let id = view.id;
    let range = describe::span(view.from_ms, view.to_ms);
    let mut s = format!("<section id=\"{id}\">\n");
    if id == "zoom" {
        s.push_str(&format!(
            "<h2>Around the first violation: {range}</h2>\n<p class=\"nav\"><a href=\"#whole\">↓ the whole run</a></p>\n"
        ));
    } else {
        s.push_str(&format!("<h2>The whole run: {range}</h2>\n"));
        if violations.iter().any(|v| v.kind.is_safety()) {
            s.push_str(
                "<p class=\"nav\"><a href=\"#zoom\">↑ back to the first violation</a></p>\n",
            );
        }
    }
    s.push_str(&svg::svg(view, items));
    s.push('\n');
    let shown: Vec<usize> = (0..violations.len())
        .filter(|&i| violations[i].from_ms <= view.to_ms && violations[i].to_ms >= view.from_ms)
        .collect();
    if !shown.is_empty() {
        s.push_str("<ol class=\"violations\">\n");
        for i in shown {
            let v = &violations[i];
            s.push_str(&format!(
                "<li class=\"violation {}\" id=\"{id}-v{}\" value=\"{}\">{}<br/><span class=\"detail\">{}</span></li>\n",
                svg::kind_name(v.kind),
                i + 1,
                i + 1,
                code(&captions[i]),
                esc(&v.detail)
            ));
        }
        s.push_str("</ol>\n");
    }
    if !dropped.is_empty() {
        let what: Vec<String> = dropped.iter().map(|(w, n)| format!("{n} {w}")).collect();
        s.push_str(&format!(
            "<p class=\"dropped\">Not drawn, to keep the file under {} KiB: {} (the latest first). Violations, faults and lanes are always drawn.</p>\n",
            max_bytes / 1024,
            esc(&what.join(", "))
        ));
    }
    s.push_str("</section>\n");
    s
}

/// Escapes text for XML content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes `text` and sets its `backticked` parts as code.
fn code(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{}</code>", esc(part)));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

const FOOT: &str = "<footer><p>Hover a bar or mark for the exact operation, its invoke and return times (simulated) and its result. Rendered by <code>locksim run … --timeline</code>; the same seed renders the same file.</p></footer>\n</body>\n</html>\n";

const LEGEND: &str = r#"<div class="legend"><span><i class="sw hold"></i>hold, as the client believed it (token inside)</span><span><i class="sw attempt"></i>waiting in acquire</span><span><i class="sw release"></i>release</span><span><b class="lost">✕</b> session noticed its lease was gone</span><span><i class="sw lease"></i>lease (ticks: keepalives)</span><span><i class="sw lease-expired"></i>lease expired on the leader</span><span><i class="sw write-ok"></i>write accepted</span><span><b class="rej">✕</b> write rejected by fencing</span><span><i class="sw op"></i>operation (orange: failed, purple: no answer)</span><span><i class="sw leader"></i>leader (etcd) / primary (redis)</span><span><i class="sw down"></i>down</span><span><i class="sw f-pause"></i>pause</span><span><i class="sw f-crash"></i>crash</span><span><i class="sw f-partition"></i>partition</span><span><i class="sw f-skew"></i>clock skew</span><span><i class="sw f-loss"></i>loss / duplication</span><span><i class="sw viol"></i>violation</span></div>
"#;

const CSS: &str = r#"
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:14px 18px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:16px 0 2px}
p{margin:3px 0}.stats,.description{color:#555;max-width:1500px}.stats code{font-size:11px}
.verdict b.bad{color:#c00}.verdict b.good{color:#1b873f}.verdict.unexpected{background:#fff3cd}
.headline{margin:8px 0;padding:6px 10px;border-left:5px solid #d00;background:#fdecec;font-weight:600;max-width:1500px}
.headline.none{border-color:#1b873f;background:#eaf6ee}
nav,.nav{margin:4px 0}a{color:#1c5bb8}
.legend{margin:6px 0;font-size:11.5px;color:#444;max-width:1540px}.legend span{display:inline-block;margin:0 12px 2px 0;white-space:nowrap}
.sw{display:inline-block;width:16px;height:10px;vertical-align:-1px;margin-right:4px;border-radius:2px}
.sw.hold{background:#3b6fd1}.sw.attempt{background:#c8cdd2;height:5px}.sw.release{width:2px;background:#222}
.sw.lease{background:#3b6fd1;opacity:.35}.sw.lease-expired{width:4px;background:#c00}.sw.write-ok{width:5px;background:#1b873f}
.sw.op{background:#9aa3ab;height:5px}.sw.leader{background:#d9a400}.sw.down{background:#343a40}
.sw.f-pause{background:#ffb300;opacity:.5}.sw.f-crash{background:#000;opacity:.3}.sw.f-partition{background:#7b2cbf;opacity:.3}
.sw.f-skew{background:#00897b;opacity:.35}.sw.f-loss{background:#1e88e5;opacity:.3}.sw.viol{background:#e00;opacity:.25;outline:1.5px dashed #d00}
.lost,.rej{color:#c00}
ol.violations{margin:4px 0 8px;padding-left:30px;max-width:1520px}ol.violations li{margin:2px 0}
li.violation .detail{color:#777;font-size:11.5px}li.violation:target{background:#fff3cd}
.dropped{color:#8a5a00;background:#fff3cd;padding:3px 8px}
svg.timeline{display:block;border:1px solid #d0d4d8;margin:6px 0}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif}
.lane-name{font-size:12px;font-weight:700;fill:#222}.row-name{font-size:9px;fill:#8a9096;text-anchor:end}
.axis-name{font-size:10px;fill:#8a9096}.tick{font-size:10px;fill:#555;text-anchor:middle}.grid{stroke:#000;stroke-opacity:.08}
.follower{fill:#cfd4da}.role.leader rect,.role.primary rect{fill:#d9a400}.role.down rect{fill:#343a40}.role text{font-size:10px;fill:#fff;font-weight:600}
.hold text.token{font-size:10px;fill:#fff;font-weight:700;text-anchor:middle}
.attempt{fill:#c8cdd2}.release{stroke:#222;stroke-width:1.5}.lost{fill:#c00;font-size:14px;font-weight:700;text-anchor:middle}
.lease rect:first-child{fill-opacity:.35}.lease-expired{fill:#c00}.lease-revoked{fill:#555}
.keepalive{stroke-width:1.2}.keepalive.alive{stroke:#1b873f}.keepalive.gone{stroke:#d00;stroke-width:2}
.write.accepted{fill:#1b873f}.write.rejected{stroke:#d00;stroke-width:2.2;fill:none}.read{fill:#9aa3ab}
.op.ok{fill:#9aa3ab}.op.fail{fill:#f08c00}.op.indeterminate{fill:#9c36b5}.expiry{fill:#c00}.session.gap{fill:#f08c00}.session.gap.expired{fill:#c00}
.fault.pause{fill:#ffb300;fill-opacity:.28}.fault.crash{fill:#000;fill-opacity:.22}.fault.partition{fill:#7b2cbf;fill-opacity:.13}
.fault.skew{fill:#00897b;fill-opacity:.18}.fault.loss{fill:#1e88e5;fill-opacity:.1}.fault.latency{fill:#26c6da;fill-opacity:.12}
.side{font-size:9px;fill:#5a189a}.fault-label rect{fill-opacity:.5}.fault-label text{font-size:10px;fill:#222}
.fault-label.pause rect{fill:#ffb300}.fault-label.crash rect{fill:#6c757d}.fault-label.partition rect{fill:#b48be0}
.fault-label.skew rect{fill:#4db6ac}.fault-label.loss rect{fill:#64b5f6}.fault-label.latency rect{fill:#80deea}
.violation .band{fill:none;stroke:#d00;stroke-width:1.5;stroke-dasharray:5 3}.violation .band.lock{fill:#e00;fill-opacity:.18}
.violation .span{stroke:#d00;stroke-width:2;stroke-dasharray:3 3}.violation .ring{fill:none;stroke:#d00;stroke-width:2.5}
.badge{fill:#d00}.badge-n{fill:#fff;font-size:10px;font-weight:700;text-anchor:middle}
g.hold:hover rect,rect.op:hover,g.role:hover rect{stroke:#000;stroke-width:1}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
