//! Words for the hover titles and captions: operations (each store's own words, from
//! `sim::Operation::summary`'s parts), times.

use sim::Operation;

/// Simulated milliseconds as seconds for captions: `12.31 s`, `10 s`.
pub(crate) fn secs(ms: u64) -> String {
    format!("{} s", secs_bare(ms))
}

/// `12.31`, `10`: two decimals at most, trailing zeros dropped.
pub(crate) fn secs_bare(ms: u64) -> String {
    let s = format!("{:.2}", ms as f64 / 1000.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A span for captions: `10–25 s`.
pub(crate) fn span(from_ms: u64, to_ms: u64) -> String {
    format!("{}–{} s", secs_bare(from_ms), secs_bare(to_ms))
}

/// Exact simulated time for hover titles: `13.521 s`.
pub(crate) fn exact(ms: u64) -> String {
    format!("{:.3} s", ms as f64 / 1000.0)
}

/// A hover title for an operation: what, by whom, invoke/return, result.
pub(crate) fn operation(op: &Operation) -> String {
    let ret = match op.return_ms {
        Some(r) => format!("returned {} ({} ms)", exact(r), r - op.invoke_ms),
        None => "never returned".into(),
    };
    format!(
        "{} #{}: {}\ninvoked {}, {ret}\n{}",
        op.process,
        op.index,
        op.request.summary(),
        exact(op.invoke_ms),
        op.outcome.summary()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_naturally() {
        assert_eq!(secs(12_310), "12.31 s");
        assert_eq!(secs(10_000), "10 s");
        assert_eq!(span(10_000, 25_000), "10–25 s");
        assert_eq!(exact(13_521), "13.521 s");
    }
}
