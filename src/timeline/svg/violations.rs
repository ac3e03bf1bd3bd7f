//! Violation markers: where each violation happened, on the lanes of the clients in it.

use lock::ViolationKind;

use super::f1;
use super::layout::*;
use super::view::View;
use crate::timeline::esc;

impl View<'_> {
    pub(super) fn violation_marks(&self, items: &mut Vec<Item>) {
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
