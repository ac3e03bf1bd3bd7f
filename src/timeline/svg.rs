//! `Layout` (where each lane sits) and `View` (one time window of the model drawn as SVG items).
//!
//! Why items with tiers rather than writing the SVG straight out: the size cap drops detail
//! (per-operation ticks first, then holds and bars) but never lanes, faults or violations, and it
//! can only choose once it knows what there is to draw.
//!
//! # Layout
//! * this file: [`svg`], a view's chosen items as one `<svg>` element; the number format and
//!   client colours every part draws with.
//! * `layout`: sizes, tiers, [`Layer`], [`Item`], and [`Layout`], the lanes' places.
//! * `view`: [`View`], a time window: time → x, and [`View::items`], which asks each part below
//!   for its items; the ground (lanes, axis, captions).
//! * `faults`: fault bands and their labels.
//! * `locks`: the lock lane's holds and each client's holds, attempts and leases.
//! * `operations`: per-operation marks — resource accesses and client requests.
//! * `members`: members' role bars (leader, follower, down, paused).
//! * `sessions`: ZooKeeper clients' disconnected spans and the leader's session expiries.
//! * `violations`: violation markers, and [`kind_name`].

mod faults;
mod layout;
mod locks;
mod members;
mod operations;
mod sessions;
mod view;
mod violations;

pub(crate) use layout::{Item, Layer, Layout, TIER_ALWAYS, TIER_BARS, TIER_OPS, WIDTH};
pub(crate) use view::View;
pub(crate) use violations::kind_name;

use super::model::Model;

const PALETTE: [&str; 8] = [
    "#3b6fd1", "#e07b22", "#2e9e5b", "#8e5bd0", "#c0468a", "#6b8e23", "#1f9fb3", "#a0522d",
];

fn f1(x: f64) -> String {
    format!("{x:.1}")
}

fn color(model: &Model, client: &str) -> &'static str {
    let i = model.clients.iter().position(|c| c == client).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
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
