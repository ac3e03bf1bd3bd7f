//! Fault bands across the lanes they hit, and their labels in rows above the lanes.

use super::f1;
use super::layout::*;
use super::view::View;
use crate::timeline::describe::exact;
use crate::timeline::esc;
use crate::timeline::model::FaultSpan;

impl View<'_> {
    pub(super) fn faults(&self, items: &mut Vec<Item>) {
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
                    esc(&format!("{} ({})", f.label, crate::timeline::describe::span(f.from_ms, f.to_ms)))
                ),
            });
        }
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
