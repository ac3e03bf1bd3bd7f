//! ZooKeeper sessions: a band under a client's lane while its connection was down (Curator's
//! SUSPENDED), ending where it reconnected or learned Expired (LOST), and a mark on the leader's
//! lane where it expired a session. PostgreSQL connections: a red band from where the server
//! ended the client's backend (its locks released) until the client learned it.

use super::f1;
use super::layout::*;
use super::view::View;
use crate::timeline::describe::exact;
use crate::timeline::esc;

impl View<'_> {
    pub(super) fn sessions(&self, items: &mut Vec<Item>) {
        for gap in &self.model.session_gaps {
            let Some(lane) = self.layout.lane(&gap.client, LaneKind::Client) else {
                continue;
            };
            let Some((x, w)) = self.clip(gap.from_ms, gap.to_ms, 2.0) else {
                continue;
            };
            let class = if gap.expired { "gap expired" } else { "gap" };
            items.push(Item {
                layer: Layer::Bars,
                tier: TIER_BARS,
                what: "session gaps",
                svg: format!(
                    r#"<rect class="session {class}" x="{}" y="{}" width="{}" height="4"><title>{}'s {}: {} at {}; {} at {}</title></rect>"#,
                    f1(x),
                    f1(lane.y + CLIENT_H - 6.0),
                    f1(w),
                    esc(&gap.client),
                    esc(&gap.what),
                    esc(&gap.began),
                    exact(gap.from_ms),
                    esc(&gap.end),
                    exact(gap.to_ms)
                ),
            });
        }
        for (at, leader, session) in &self.model.session_expiries {
            let (Some(x), Some(lane)) = (self.at(*at), self.layout.lane(leader, LaneKind::Member))
            else {
                continue;
            };
            items.push(Item {
                layer: Layer::Marks,
                tier: TIER_BARS,
                what: "session expiries",
                svg: format!(
                    r#"<path class="expiry" d="M{} {}l5 5l-5 5l-5 -5z"><title>{leader} (leader) expired session {session:#x} at {}: its ephemeral nodes are gone</title></path>"#,
                    f1(x),
                    f1(lane.y + 10.0),
                    exact(*at)
                ),
            });
        }
    }
}
