//! Where everything sits: the picture's sizes, the tiers the size cap drops by, the paint
//! layers, and [`Layout`], one lane per lock, client, member and other host.

use crate::timeline::model::Model;

pub(crate) const WIDTH: f64 = 1560.0;
pub(super) const PLOT_X0: f64 = 132.0;
pub(super) const PLOT_X1: f64 = WIDTH - 16.0;
pub(super) const AXIS_H: f64 = 26.0;
pub(super) const BADGE_H: f64 = 22.0;
pub(super) const FAULT_ROW_H: f64 = 15.0;
pub(super) const MAX_FAULT_ROWS: usize = 8;
pub(super) const CLIENT_H: f64 = 66.0;
pub(super) const MEMBER_H: f64 = 30.0;
pub(super) const OTHER_H: f64 = 24.0;
pub(super) const LOCK_ROW_H: f64 = 7.0;

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
    pub(super) fn host_lane(&self, host: &str) -> Option<&Lane> {
        self.lanes
            .iter()
            .find(|l| l.kind != LaneKind::Lock && l.name == host)
    }

    pub(super) fn lanes_top(&self) -> f64 {
        self.lanes.first().map(|l| l.y).unwrap_or(0.0)
    }
}
