//! Members' role bars: leader, follower, down, paused, in each term.

use super::f1;
use super::layout::*;
use super::view::View;
use crate::timeline::describe::exact;
use crate::timeline::esc;
use crate::timeline::model::Role;

impl View<'_> {
    pub(super) fn members(&self, items: &mut Vec<Item>) {
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
}
