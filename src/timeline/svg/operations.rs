//! One mark per operation: accesses on the resource lane and each client's requests.

use super::f1;
use super::layout::*;
use super::view::View;
use crate::timeline::describe::{exact, operation};
use crate::timeline::esc;

impl View<'_> {
    pub(super) fn resource(&self, items: &mut Vec<Item>) {
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

    pub(super) fn ops(&self, items: &mut Vec<Item>) {
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
}
