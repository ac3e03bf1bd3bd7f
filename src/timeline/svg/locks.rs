//! The lock lane's holds and each client's holds, attempts and leases.

use super::layout::*;
use super::view::View;
use super::{color, f1};
use crate::timeline::describe::exact;
use crate::timeline::esc;

impl View<'_> {
    pub(super) fn holds(&self, items: &mut Vec<Item>) {
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

    pub(super) fn leases(&self, items: &mut Vec<Item>) {
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
}
