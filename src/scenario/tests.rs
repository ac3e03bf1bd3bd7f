//! Unit tests of the scenario schema.

use std::time::Duration;

use super::*;

/// Every `DurationRange` a scenario can hold prints as text the scenario parser reads back
/// as the same range (the explorer writes scenario files with this `Display`).
#[test]
fn duration_range_display_round_trips() {
    let ms = [0, 1, 500, 999, 1000, 1500, 60_000, 90_500, 3_600_000];
    for &min in &ms {
        for &max in ms.iter().filter(|&&max| max >= min) {
            let range = DurationRange {
                min: Duration::from_millis(min),
                max: Duration::from_millis(max),
            };
            let text = format!(
                "name = \"r\"\nduration = \"20s\"\n[lock]\nkind = \"put\"\nttl = \"5s\"\n\
                 [workload]\nthink = \"{range}\"\n"
            );
            let parsed = parse("r.toml", &text).unwrap_or_else(|e| panic!("{range}: {e}"));
            assert_eq!(parsed.workload.think, range, "{range}");
        }
    }
    let range = DurationRange {
        min: Duration::from_millis(1500),
        max: Duration::from_secs(2),
    };
    assert_eq!(range.to_string(), "1500ms..2s");
}
