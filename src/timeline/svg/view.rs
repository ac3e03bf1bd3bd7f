//! [`View`]: one time window of the model, time → x, and the items drawn in it: the ground
//! (lanes, axis, captions) here, every other kind from its own file.

use lock::Violation;

use super::f1;
use super::layout::*;
use crate::timeline::describe::secs;
use crate::timeline::esc;
use crate::timeline::model::Model;

/// One time window of the model.
pub(crate) struct View<'a> {
    /// `zoom` or `whole`: prefixes the ids inside its SVG.
    pub id: &'static str,
    pub from_ms: u64,
    pub to_ms: u64,
    pub model: &'a Model,
    pub layout: &'a Layout,
    pub violations: &'a [Violation],
    pub captions: &'a [String],
}

impl View<'_> {
    pub(super) fn x(&self, ms: u64) -> f64 {
        let span = (self.to_ms - self.from_ms).max(1) as f64;
        let ms = ms.clamp(self.from_ms, self.to_ms);
        PLOT_X0 + (ms - self.from_ms) as f64 / span * (PLOT_X1 - PLOT_X0)
    }

    /// The x extent of `[from, to]` inside the window, at least `min_w` wide; `None` if outside.
    pub(super) fn clip(&self, from: u64, to: u64, min_w: f64) -> Option<(f64, f64)> {
        if to < self.from_ms || from > self.to_ms {
            return None;
        }
        let (a, b) = (self.x(from), self.x(to.max(from)));
        Some((a, (b - a).max(min_w)))
    }

    pub(super) fn at(&self, ms: u64) -> Option<f64> {
        (self.from_ms..=self.to_ms)
            .contains(&ms)
            .then(|| self.x(ms))
    }

    /// Every item of this view, in no particular tier order.
    pub fn items(&self) -> Vec<Item> {
        let mut items = Vec::new();
        self.ground(&mut items);
        self.faults(&mut items);
        self.holds(&mut items);
        self.leases(&mut items);
        self.resource(&mut items);
        self.ops(&mut items);
        self.members(&mut items);
        self.sessions(&mut items);
        self.violation_marks(&mut items);
        items
    }

    fn ground(&self, items: &mut Vec<Item>) {
        let mut s = String::new();
        for (i, lane) in self.layout.lanes.iter().enumerate() {
            let shade = if i % 2 == 0 { "#fafafa" } else { "#f1f3f5" };
            let kind = match lane.kind {
                LaneKind::Lock => "lock",
                LaneKind::Client => "client",
                LaneKind::Member => "member",
                LaneKind::Other => "other",
            };
            s.push_str(&format!(
                r#"<g class="lane {kind}" data-lane="{}" id="{}-lane-{}"><rect class="lane-bg" x="0" y="{}" width="{WIDTH}" height="{}" fill="{shade}"/>"#,
                esc(&lane.name),
                self.id,
                esc(&lane.name.replace('/', "_")),
                f1(lane.y),
                f1(lane.h)
            ));
            let label_y = lane.y + 15.0;
            let title = match lane.kind {
                LaneKind::Lock => lane.name.clone(),
                _ => lane.name.clone(),
            };
            s.push_str(&format!(
                r#"<text class="lane-name" x="8" y="{}">{}</text>"#,
                f1(label_y),
                esc(&title)
            ));
            let rows: &[(&str, f64)] = match lane.kind {
                LaneKind::Lock => &[("holders", 14.0)],
                LaneKind::Client => &[
                    ("lock", 17.0),
                    ("lease", 36.0),
                    ("resource", 50.0),
                    ("ops", 62.0),
                ],
                LaneKind::Member => &[("role", 19.0)],
                LaneKind::Other => &[],
            };
            for (row, dy) in rows {
                s.push_str(&format!(
                    r#"<text class="row-name" x="{}" y="{}">{row}</text>"#,
                    f1(PLOT_X0 - 6.0),
                    f1(lane.y + dy)
                ));
            }
            if lane.kind == LaneKind::Member {
                let idle = self.model.idle_role(&lane.name);
                let over = match idle {
                    "follower" => "leader and down spans drawn over it",
                    "replica" => "primary and down spans drawn over it",
                    _ => "down spans drawn over it",
                };
                s.push_str(&format!(
                    r#"<rect class="follower {idle}" x="{}" y="{}" width="{}" height="4"><title>{} {idle} ({over})</title></rect>"#,
                    f1(PLOT_X0),
                    f1(lane.y + 13.0),
                    f1(self.x(self.to_ms.min(self.model.end_ms)) - PLOT_X0),
                    esc(&lane.name)
                ));
            }
            s.push_str("</g>");
        }
        // Axis: ticks at a round step, grid lines through every lane.
        let span = self.to_ms - self.from_ms;
        let step = [
            100u64, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000,
            300_000, 600_000, 1_200_000, 3_600_000,
        ]
        .into_iter()
        .find(|s| span / s <= 16)
        .unwrap_or(7_200_000);
        let mut t = self.from_ms.div_ceil(step) * step;
        s.push_str(r#"<g class="axis">"#);
        while t <= self.to_ms {
            let x = f1(self.x(t));
            s.push_str(&format!(
                r#"<line class="grid" x1="{x}" y1="{}" x2="{x}" y2="{}"/><text class="tick" x="{x}" y="16">{}</text>"#,
                f1(AXIS_H - 6.0),
                f1(self.layout.height),
                esc(&secs(t))
            ));
            t += step;
        }
        s.push_str(&format!(
            r#"<text class="axis-name" x="8" y="16">simulated time</text><text class="row-name" x="{}" y="{}">violations</text><text class="row-name" x="{}" y="{}">faults</text></g>"#,
            f1(PLOT_X0 - 6.0),
            f1(AXIS_H + 15.0),
            f1(PLOT_X0 - 6.0),
            f1(self.layout.faults_y + 11.0),
        ));
        items.push(Item {
            layer: Layer::Ground,
            tier: TIER_ALWAYS,
            what: "lanes",
            svg: s,
        });
    }
}
