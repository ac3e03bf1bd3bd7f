//! `Layout` (where each lane sits) and `View` (one time window of the model drawn as SVG items).
//!
//! Why items with tiers rather than writing the SVG straight out: the size cap drops detail
//! (per-operation ticks first, then holds and bars) but never lanes, faults or violations, and it
//! can only choose once it knows what there is to draw.

use lock::{Violation, ViolationKind};

use super::describe::{exact, operation, secs};
use super::esc;
use super::model::{FaultSpan, Model, Role};

pub(crate) const WIDTH: f64 = 1560.0;
const PLOT_X0: f64 = 132.0;
const PLOT_X1: f64 = WIDTH - 16.0;
const AXIS_H: f64 = 26.0;
const BADGE_H: f64 = 22.0;
const FAULT_ROW_H: f64 = 15.0;
const MAX_FAULT_ROWS: usize = 8;
const CLIENT_H: f64 = 66.0;
const MEMBER_H: f64 = 30.0;
const OTHER_H: f64 = 24.0;
const LOCK_ROW_H: f64 = 7.0;

const PALETTE: [&str; 8] = [
    "#3b6fd1", "#e07b22", "#2e9e5b", "#8e5bd0", "#c0468a", "#6b8e23", "#1f9fb3", "#a0522d",
];

/// Drawn whatever the size cap: lanes, axis, faults, violations.
pub(crate) const TIER_ALWAYS: u8 = 0;
/// Holds, attempts, leases, roles, resource writes: dropped only in a huge run.
pub(crate) const TIER_BARS: u8 = 1;
/// One mark per operation: dropped first.
pub(crate) const TIER_OPS: u8 = 2;

/// Paint order, back to front.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Layer {
    Ground,
    Faults,
    Violations,
    Bars,
    Marks,
    Top,
}

pub(crate) struct Item {
    pub layer: Layer,
    pub tier: u8,
    /// What it counts as in the "not drawn" note: `operations`, `holds`, …
    pub what: &'static str,
    pub svg: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LaneKind {
    Lock,
    Client,
    Member,
    Other,
}

pub(crate) struct Lane {
    pub name: String,
    pub kind: LaneKind,
    pub y: f64,
    pub h: f64,
}

/// Where each lane sits; the same in every view, so the zoomed and the whole picture line up.
pub(crate) struct Layout {
    pub lanes: Vec<Lane>,
    /// Row of each fault in the fault strip (greedy packing by start time).
    pub fault_rows: Vec<usize>,
    pub faults_y: f64,
    pub height: f64,
}

impl Layout {
    pub fn new(model: &Model) -> Layout {
        let mut row_ends: Vec<u64> = Vec::new();
        let mut fault_rows = Vec::new();
        for f in &model.faults {
            let row = match row_ends.iter().position(|end| *end <= f.from_ms) {
                Some(r) => r,
                None if row_ends.len() < MAX_FAULT_ROWS => {
                    row_ends.push(0);
                    row_ends.len() - 1
                }
                None => MAX_FAULT_ROWS - 1,
            };
            row_ends[row] = row_ends[row].max(f.to_ms);
            fault_rows.push(row);
        }
        let faults_y = AXIS_H + BADGE_H;
        let mut y = faults_y + FAULT_ROW_H * row_ends.len().max(1) as f64 + 6.0;
        let mut lanes = Vec::new();
        let mut push = |name: &str, kind, h: f64| {
            lanes.push(Lane {
                name: name.to_string(),
                kind,
                y,
                h,
            });
            y += h;
        };
        push(
            &model.lock_key,
            LaneKind::Lock,
            10.0 + LOCK_ROW_H * model.clients.len().max(1) as f64,
        );
        for c in &model.clients {
            push(c, LaneKind::Client, CLIENT_H);
        }
        for m in &model.members {
            push(m, LaneKind::Member, MEMBER_H);
        }
        for o in &model.others {
            push(o, LaneKind::Other, OTHER_H);
        }
        Layout {
            lanes,
            fault_rows,
            faults_y,
            height: y + 8.0,
        }
    }

    pub fn lane(&self, name: &str, kind: LaneKind) -> Option<&Lane> {
        self.lanes.iter().find(|l| l.kind == kind && l.name == name)
    }

    /// The lane a host's faults are drawn over.
    fn host_lane(&self, host: &str) -> Option<&Lane> {
        self.lanes
            .iter()
            .find(|l| l.kind != LaneKind::Lock && l.name == host)
    }

    fn lanes_top(&self) -> f64 {
        self.lanes.first().map(|l| l.y).unwrap_or(0.0)
    }
}

fn f1(x: f64) -> String {
    format!("{x:.1}")
}

fn color(model: &Model, client: &str) -> &'static str {
    let i = model.clients.iter().position(|c| c == client).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

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
    fn x(&self, ms: u64) -> f64 {
        let span = (self.to_ms - self.from_ms).max(1) as f64;
        let ms = ms.clamp(self.from_ms, self.to_ms);
        PLOT_X0 + (ms - self.from_ms) as f64 / span * (PLOT_X1 - PLOT_X0)
    }

    /// The x extent of `[from, to]` inside the window, at least `min_w` wide; `None` if outside.
    fn clip(&self, from: u64, to: u64, min_w: f64) -> Option<(f64, f64)> {
        if to < self.from_ms || from > self.to_ms {
            return None;
        }
        let (a, b) = (self.x(from), self.x(to.max(from)));
        Some((a, (b - a).max(min_w)))
    }

    fn at(&self, ms: u64) -> Option<f64> {
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

    fn faults(&self, items: &mut Vec<Item>) {
        let top = self.layout.lanes_top();
        let bottom = self.layout.height - 8.0;
        for (i, f) in self.model.faults.iter().enumerate() {
            let Some((x, w)) = self.clip(f.from_ms, f.to_ms, 2.0) else {
                continue;
            };
            let class = f.kind.name();
            let title = fault_title(f);
            let mut s = String::new();
            let data = format!(
                r#"class="fault {class}" data-fault="{}" data-from-ms="{}" data-to-ms="{}""#,
                esc(&f.label),
                f.from_ms,
                f.to_ms
            );
            if f.hosts.is_empty() {
                s.push_str(&format!(
                    r#"<rect {data} data-lane="*" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>"#,
                    f1(x),
                    f1(top),
                    f1(w),
                    f1(bottom - top),
                    esc(&title)
                ));
            }
            for host in &f.hosts {
                let Some(lane) = self.layout.host_lane(host) else {
                    continue;
                };
                if let Some(side) = f.groups.iter().find(|g| g.contains(host)) {
                    s.push_str(&format!(
                        r#"<text class="side" x="{}" y="{}">side {}</text>"#,
                        f1(x + 3.0),
                        f1(lane.y + lane.h - 3.0),
                        esc(&side.join(","))
                    ));
                }
                s.push_str(&format!(
                    r#"<rect {data} data-lane="{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>"#,
                    esc(host),
                    f1(x),
                    f1(lane.y),
                    f1(w),
                    f1(lane.h),
                    esc(&title)
                ));
            }
            items.push(Item {
                layer: Layer::Faults,
                tier: TIER_ALWAYS,
                what: "faults",
                svg: s,
            });
            // Its labelled bar in the fault strip.
            let y = self.layout.faults_y + FAULT_ROW_H * self.layout.fault_rows[i] as f64;
            items.push(Item {
                layer: Layer::Top,
                tier: TIER_ALWAYS,
                what: "faults",
                svg: format!(
                    r#"<g class="fault-label {class}"><rect x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect><text x="{}" y="{}">{}</text></g>"#,
                    f1(x),
                    f1(y + 1.0),
                    f1(w),
                    f1(FAULT_ROW_H - 2.0),
                    esc(&title),
                    f1(x + 3.0),
                    f1(y + 11.0),
                    esc(&format!("{} ({})", f.label, super::describe::span(f.from_ms, f.to_ms)))
                ),
            });
        }
    }

    fn holds(&self, items: &mut Vec<Item>) {
        let model = self.model;
        let lock_lane = &self.layout.lanes[0];
        for hold in &model.holds {
            let end = model.hold_end(hold);
            let Some((x, w)) = self.clip(hold.start_ms, end, 2.0) else {
                continue;
            };
            let Some(lane) = self.layout.lane(&hold.client, LaneKind::Client) else {
                continue;
            };
            let c = color(model, &hold.client);
            let key = model
                .hold_keys
                .get(&(hold.client.clone(), hold.token))
                .cloned()
                .unwrap_or_default();
            let ended = match (hold.end_ms, hold.end_reason.as_str()) {
                (Some(e), "release") => format!("until it released at {}", exact(e)),
                (Some(e), "lost") => format!(
                    "until its session noticed the lease was gone at {}",
                    exact(e)
                ),
                (Some(e), "crash") => format!("until it crashed at {}", exact(e)),
                _ => "until the end of the run".into(),
            };
            let title = format!(
                "{} believed it held `{key}` with token {} (lease {:#x}) from {} {ended}",
                hold.client,
                hold.token,
                hold.lease,
                exact(hold.start_ms)
            );
            let label = if w >= 64.0 {
                format!("token {}", hold.token)
            } else if w >= 18.0 {
                hold.token.to_string()
            } else {
                String::new()
            };
            let mut s = format!(
                r#"<g class="hold" data-client="{}" data-token="{}"><rect x="{}" y="{}" width="{}" height="20" rx="2" fill="{c}"><title>{}</title></rect>"#,
                esc(&hold.client),
                hold.token,
                f1(x),
                f1(lane.y + 5.0),
                f1(w),
                esc(&title)
            );
            if !label.is_empty() {
                s.push_str(&format!(
                    r#"<text class="token" x="{}" y="{}">{label}</text>"#,
                    f1(x + w / 2.0),
                    f1(lane.y + 19.0)
                ));
            }
            s.push_str("</g>");
            // The same hold on the lock's own lane, one row per client: overlaps stack up.
            let row = model
                .clients
                .iter()
                .position(|cl| *cl == hold.client)
                .unwrap_or(0);
            s.push_str(&format!(
                r#"<rect class="lock-hold" x="{}" y="{}" width="{}" height="{}" fill="{c}"><title>{}</title></rect>"#,
                f1(x),
                f1(lock_lane.y + 5.0 + LOCK_ROW_H * row as f64),
                f1(w),
                f1(LOCK_ROW_H - 1.5),
                esc(&title)
            ));
            items.push(Item {
                layer: Layer::Bars,
                tier: TIER_BARS,
                what: "holds",
                svg: s,
            });
        }
        for a in &model.attempts {
            let end = a.to_ms.unwrap_or(model.end_ms);
            let Some((x, w)) = self.clip(a.from_ms, end, 1.0) else {
                continue;
            };
            let Some(lane) = self.layout.lane(&a.client, LaneKind::Client) else {
                continue;
            };
            let title = format!(
                "{} acquire invoked {}{}: {}",
                a.client,
                exact(a.from_ms),
                a.to_ms
                    .map(|t| format!(", answered {}", exact(t)))
                    .unwrap_or_default(),
                a.result
            );
            items.push(Item {
                layer: Layer::Bars,
                tier: TIER_BARS,
                what: "acquire attempts",
                svg: format!(
                    r#"<rect class="attempt" x="{}" y="{}" width="{}" height="6"><title>{}</title></rect>"#,
                    f1(x),
                    f1(lane.y + 12.0),
                    f1(w),
                    esc(&title)
                ),
            });
        }
        for r in &model.releases {
            let (Some(x), Some(lane)) = (
                self.at(r.from_ms),
                self.layout.lane(&r.client, LaneKind::Client),
            ) else {
                continue;
            };
            let title = format!(
                "{} release token {} invoked {}{}",
                r.client,
                r.token,
                exact(r.from_ms),
                match (r.to_ms, r.ok) {
                    (Some(t), Some(ok)) => format!(
                        ", returned {} ({})",
                        exact(t),
                        if ok { "ok" } else { "failed" }
                    ),
                    _ => ", no answer".into(),
                }
            );
            items.push(Item {
                layer: Layer::Marks,
                tier: TIER_BARS,
                what: "releases",
                svg: format!(
                    r#"<path class="release" d="M{} {}v24"><title>{}</title></path>"#,
                    f1(x),
                    f1(lane.y + 3.0),
                    esc(&title)
                ),
            });
        }
        for l in &model.losses {
            let (Some(x), Some(lane)) = (
                self.at(l.at_ms),
                self.layout.lane(&l.client, LaneKind::Client),
            ) else {
                continue;
            };
            let title = format!(
                "{}'s session noticed lease {:#x} was gone at {} ({}): its belief ends",
                l.client,
                l.lease,
                exact(l.at_ms),
                match l.reason.as_str() {
                    "deadline" => "its local deadline passed",
                    "ttl" => "a keepalive answer said so",
                    other => other,
                }
            );
            items.push(Item {
                layer: Layer::Marks,
                tier: TIER_BARS,
                what: "losses",
                svg: format!(
                    r#"<text class="lost" x="{}" y="{}">✕<title>{}</title></text>"#,
                    f1(x),
                    f1(lane.y + 20.0),
                    esc(&title)
                ),
            });
        }
    }

    fn leases(&self, items: &mut Vec<Item>) {
        for lease in &self.model.leases {
            let Some(lane) = self.layout.lane(&lease.client, LaneKind::Client) else {
                continue;
            };
            let end = lease.end_ms.unwrap_or(self.model.end_ms);
            let y = lane.y + 28.0;
            if let Some((x, w)) = self.clip(lease.granted_ms, end, 1.0) {
                let title = format!(
                    "{} lease {:#x} (TTL {} s): granted {}, {} keepalives, {}{}",
                    lease.client,
                    lease.id,
                    lease.ttl_secs,
                    exact(lease.granted_ms),
                    lease.keepalives.len(),
                    lease.end,
                    lease
                        .end_ms
                        .map(|e| format!(" at {}", exact(e)))
                        .unwrap_or_default()
                );
                let mut s = format!(
                    r#"<g class="lease" data-client="{}"><rect x="{}" y="{}" width="{}" height="10" fill="{}"><title>{}</title></rect>"#,
                    esc(&lease.client),
                    f1(x),
                    f1(y),
                    f1(w),
                    color(self.model, &lease.client),
                    esc(&title)
                );
                if let (Some(e), Some(ex)) = (lease.end_ms, lease.end_ms.and_then(|e| self.at(e))) {
                    let class = if lease.end.starts_with("expired") {
                        "lease-expired"
                    } else {
                        "lease-revoked"
                    };
                    s.push_str(&format!(
                        r#"<rect class="{class}" x="{}" y="{}" width="4" height="14"><title>{} lease {:#x} {} at {}</title></rect>"#,
                        f1(ex - 2.0),
                        f1(y - 2.0),
                        esc(&lease.client),
                        lease.id,
                        esc(&lease.end),
                        exact(e)
                    ));
                }
                s.push_str("</g>");
                items.push(Item {
                    layer: Layer::Bars,
                    tier: TIER_BARS,
                    what: "leases",
                    svg: s,
                });
            }
            for k in &lease.keepalives {
                let Some(x) = self.at(k.to_ms.unwrap_or(k.from_ms)) else {
                    continue;
                };
                let title = format!(
                    "{} lease keep-alive {:#x} invoked {}{}: {}",
                    lease.client,
                    lease.id,
                    exact(k.from_ms),
                    k.to_ms
                        .map(|t| format!(", returned {}", exact(t)))
                        .unwrap_or_else(|| ", never returned".into()),
                    k.result
                );
                items.push(Item {
                    layer: Layer::Marks,
                    tier: TIER_OPS,
                    what: "keepalives",
                    svg: format!(
                        r#"<path class="keepalive {}" d="M{} {}v10"><title>{}</title></path>"#,
                        if k.alive { "alive" } else { "gone" },
                        f1(x),
                        f1(y),
                        esc(&title)
                    ),
                });
            }
        }
    }

    fn resource(&self, items: &mut Vec<Item>) {
        for a in &self.model.accesses {
            let (Some(x), Some(lane)) = (
                self.at(a.at_ms),
                self.layout.lane(&a.client, LaneKind::Client),
            ) else {
                continue;
            };
            let y = lane.y + 46.0;
            if a.write {
                let verdict = if a.accepted {
                    "accepted".to_string()
                } else {
                    format!(
                        "REJECTED by fencing (token {} was accepted before)",
                        a.highest
                    )
                };
                let title = format!(
                    "{} wrote {} over {} with token {} at {}: {verdict}",
                    a.client,
                    a.value,
                    a.previous,
                    a.token,
                    exact(a.at_ms)
                );
                let svg = if a.accepted {
                    format!(
                        r#"<rect class="write accepted" data-token="{}" x="{}" y="{}" width="5" height="10"><title>{}</title></rect>"#,
                        a.token,
                        f1(x - 2.5),
                        f1(y - 5.0),
                        esc(&title)
                    )
                } else {
                    format!(
                        r#"<path class="write rejected" data-token="{}" d="M{} {}l8 8m0 -8l-8 8"><title>{}</title></path>"#,
                        a.token,
                        f1(x - 4.0),
                        f1(y - 4.0),
                        esc(&title)
                    )
                };
                items.push(Item {
                    layer: Layer::Marks,
                    tier: TIER_BARS,
                    what: "resource writes",
                    svg,
                });
            } else {
                let title = format!(
                    "{} read {} with token {} at {}: {}",
                    a.client,
                    a.value,
                    a.token,
                    exact(a.at_ms),
                    if a.accepted {
                        "served"
                    } else {
                        "rejected by fencing"
                    }
                );
                items.push(Item {
                    layer: Layer::Marks,
                    tier: TIER_OPS,
                    what: "resource reads",
                    svg: format!(
                        r#"<circle class="read" cx="{}" cy="{}" r="2.5"><title>{}</title></circle>"#,
                        f1(x),
                        f1(y),
                        esc(&title)
                    ),
                });
            }
        }
    }

    fn ops(&self, items: &mut Vec<Item>) {
        for op in &self.model.ops {
            let Some(lane) = self.layout.lane(&op.process, LaneKind::Client) else {
                continue;
            };
            let (class, end, min_w) = match (&op.outcome, op.return_ms) {
                (sim::Outcome::Ok(_), Some(r)) => ("ok", r, 1.5),
                (sim::Outcome::Fail(_), Some(r)) => ("fail", r, 2.0),
                _ => ("indeterminate", op.invoke_ms, 6.0),
            };
            let Some((x, w)) = self.clip(op.invoke_ms, end, min_w) else {
                continue;
            };
            items.push(Item {
                layer: Layer::Marks,
                tier: TIER_OPS,
                what: "operations",
                svg: format!(
                    r#"<rect class="op {class}" x="{}" y="{}" width="{}" height="6"><title>{}</title></rect>"#,
                    f1(x),
                    f1(lane.y + 56.0),
                    f1(w),
                    esc(&operation(op))
                ),
            });
        }
    }

    fn members(&self, items: &mut Vec<Item>) {
        for r in &self.model.roles {
            let Some(lane) = self.layout.lane(&r.member, LaneKind::Member) else {
                continue;
            };
            let Some((x, w)) = self.clip(r.from_ms, r.to_ms, 2.0) else {
                continue;
            };
            let (class, label, title) = match r.role {
                Role::Leader { term } => (
                    "leader",
                    format!("leader, term {term}"),
                    format!(
                        "{} leader in term {term} from {} to {}",
                        r.member,
                        exact(r.from_ms),
                        exact(r.to_ms)
                    ),
                ),
                Role::Primary { epoch } => (
                    "primary",
                    if epoch == 0 {
                        "primary".to_string()
                    } else {
                        format!("primary, epoch {epoch}")
                    },
                    format!(
                        "{} believes it is the primary (epoch {epoch}{}) from {} to {}",
                        r.member,
                        if epoch == 0 {
                            ": the store's configuration at the start"
                        } else {
                            ": promoted by the Sentinels' failover"
                        },
                        exact(r.from_ms),
                        exact(r.to_ms)
                    ),
                ),
                Role::Down => (
                    "down",
                    "down".to_string(),
                    format!(
                        "{} crashed at {}, restarted at {}",
                        r.member,
                        exact(r.from_ms),
                        exact(r.to_ms)
                    ),
                ),
            };
            let mut s = format!(
                r#"<g class="role {class}" data-member="{}"><rect x="{}" y="{}" width="{}" height="16" rx="2"><title>{}</title></rect>"#,
                esc(&r.member),
                f1(x),
                f1(lane.y + 7.0),
                f1(w),
                esc(&title)
            );
            let label = if w >= 7.0 * label.chars().count() as f64 {
                label
            } else if w >= 26.0 {
                match r.role {
                    Role::Leader { term } => format!("t{term}"),
                    Role::Primary { epoch } => format!("p{epoch}"),
                    Role::Down => String::new(),
                }
            } else {
                String::new()
            };
            if !label.is_empty() {
                s.push_str(&format!(
                    r#"<text x="{}" y="{}">{}</text>"#,
                    f1(x + 4.0),
                    f1(lane.y + 19.0),
                    esc(&label)
                ));
            }
            s.push_str("</g>");
            items.push(Item {
                layer: Layer::Bars,
                tier: TIER_BARS,
                what: "roles",
                svg: s,
            });
        }
        for (at, member, lease) in &self.model.expiries {
            let (Some(x), Some(lane)) = (self.at(*at), self.layout.lane(member, LaneKind::Member))
            else {
                continue;
            };
            let holder = self
                .model
                .leases
                .iter()
                .find(|l| l.id == *lease)
                .map(|l| format!(" (held by {})", l.client))
                .unwrap_or_default();
            items.push(Item {
                layer: Layer::Marks,
                tier: TIER_BARS,
                what: "lease expiries",
                svg: format!(
                    r#"<path class="expiry" d="M{} {}l5 5l-5 5l-5 -5z"><title>{member} (leader) expired lease {lease:#x}{holder} at {}</title></path>"#,
                    f1(x),
                    f1(lane.y + 10.0),
                    exact(*at)
                ),
            });
        }
    }

    fn violation_marks(&self, items: &mut Vec<Item>) {
        let lock_lane = &self.layout.lanes[0];
        for (i, v) in self.violations.iter().enumerate() {
            let n = i + 1;
            let Some((x, w)) = self.clip(v.from_ms, v.to_ms, 3.0) else {
                continue;
            };
            let caption = esc(&format!("{n}. {}", self.captions[i]));
            let kind = kind_name(v.kind);
            let mut s = format!(
                r##"<g class="violation {kind}" data-violation="{n}"><a href="#{}-v{n}">"##,
                self.id
            );
            match v.kind {
                ViolationKind::MutualExclusion | ViolationKind::Liveness => {
                    let mut lanes = vec![lock_lane];
                    for c in &v.clients {
                        if let Some(l) = self.layout.lane(c, LaneKind::Client) {
                            if !lanes.iter().any(|x| x.name == l.name && x.kind == l.kind) {
                                lanes.push(l);
                            }
                        }
                    }
                    for l in lanes {
                        // Filled on the lock's lane, outlined on the clients': a pause band under
                        // a client stays readable.
                        let class = if l.kind == LaneKind::Lock {
                            "band lock"
                        } else {
                            "band"
                        };
                        s.push_str(&format!(
                            r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}"><title>{caption}</title></rect>"#,
                            f1(x),
                            f1(l.y + 1.0),
                            f1(w),
                            f1(l.h - 2.0)
                        ));
                    }
                }
                ViolationKind::Fencing | ViolationKind::LostUpdate => {
                    let writer = if v.kind == ViolationKind::Fencing {
                        v.clients.last()
                    } else {
                        v.clients.first()
                    };
                    if let Some(l) = writer.and_then(|c| self.layout.lane(c, LaneKind::Client)) {
                        let y = l.y + 46.0;
                        s.push_str(&format!(
                            r#"<path class="span" d="M{} {}H{}"><title>{caption}</title></path>"#,
                            f1(x),
                            f1(y),
                            f1(x + w)
                        ));
                        if let Some(xe) = self.at(v.to_ms) {
                            s.push_str(&format!(
                                r#"<circle class="ring" cx="{}" cy="{}" r="8"><title>{caption}</title></circle>"#,
                                f1(xe),
                                f1(y)
                            ));
                        }
                    }
                }
            }
            // The numbered badge on the violations strip, at the start of the violation.
            s.push_str(&format!(
                r#"<circle class="badge" cx="{}" cy="{}" r="8"><title>{caption}</title></circle><text class="badge-n" x="{}" y="{}">{n}</text></a></g>"#,
                f1(x),
                f1(AXIS_H + 10.0),
                f1(x),
                f1(AXIS_H + 14.0)
            ));
            items.push(Item {
                layer: if v.kind.is_resource() {
                    Layer::Top
                } else {
                    Layer::Violations
                },
                tier: TIER_ALWAYS,
                what: "violations",
                svg: s,
            });
        }
    }
}

pub(crate) fn kind_name(kind: ViolationKind) -> &'static str {
    match kind {
        ViolationKind::MutualExclusion => "mutual_exclusion",
        ViolationKind::Fencing => "fencing",
        ViolationKind::LostUpdate => "lost_update",
        ViolationKind::Liveness => "liveness",
    }
}

fn fault_title(f: &FaultSpan) -> String {
    let hits = if f.hosts.is_empty() {
        "every host".to_string()
    } else {
        f.hosts.join(", ")
    };
    format!(
        "{} from {} to {} (hits {hits})",
        f.label,
        exact(f.from_ms),
        exact(f.to_ms)
    )
}

/// The `<svg>` element of a view from its chosen items, back to front.
pub(crate) fn svg(view: &View, items: &[&Item]) -> String {
    let h = view.layout.height;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" id="{}-svg" width="{WIDTH}" height="{}" viewBox="0 0 {WIDTH} {}" data-from-ms="{}" data-to-ms="{}">"#,
        view.id,
        f1(h),
        f1(h),
        view.from_ms,
        view.to_ms
    );
    for layer in [
        Layer::Ground,
        Layer::Faults,
        Layer::Violations,
        Layer::Bars,
        Layer::Marks,
        Layer::Top,
    ] {
        for item in items.iter().filter(|i| i.layer == layer) {
            out.push_str(&item.svg);
        }
    }
    out.push_str("</svg>");
    out
}
