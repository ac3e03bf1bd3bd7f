//! The one duration syntax of locksim: a whole number and one unit (`500ms`, `5s`, `2m`, `1h`).
//!
//! Scenario files (`lock.ttl = "5s"`, ranges `"1ms..20ms"`) and `locksim ctl` lines (`sleep 2s`,
//! `latency 5ms..50ms`) read durations with [`parse`]; the explorer writes them back with
//! [`format()`], which prints only what [`parse`] reads. Why one unit and no fractions: the
//! simulation counts whole milliseconds, and `1.5s` or humantime's `1s 500ms` would invite
//! spellings that mean something else to the next reader.
//!
//! Why checked arithmetic: `307445734561825861m` is more seconds than a `u64` holds; wrapping
//! would turn a typo into a short duration that silently tests something else.

use std::fmt;
use std::time::Duration;

/// Why a text is not a duration; each variant holds the text as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DurationError {
    /// Not a whole number followed by one of the units `ms`, `s`, `m`, `h`.
    Malformed(String),
    /// Starts with `-`: durations are 0 or more.
    Negative(String),
    /// A whole number and a unit, but longer than a [`Duration`] of `u64` seconds holds.
    TooLong(String),
}

impl DurationError {
    /// The text that failed to parse.
    pub fn text(&self) -> &str {
        match self {
            DurationError::Malformed(t)
            | DurationError::Negative(t)
            | DurationError::TooLong(t) => t,
        }
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Malformed(text) => write!(
                f,
                "bad duration {text:?}; write a whole number and a unit: 500ms, 5s, 2m"
            ),
            DurationError::Negative(text) => write!(
                f,
                "{text:?} is negative; durations are 0 or more: 500ms, 5s, 2m"
            ),
            DurationError::TooLong(text) => write!(
                f,
                "bad duration {text:?}: too long; at most {}s, {}m or {}h",
                u64::MAX,
                u64::MAX / 60,
                u64::MAX / 3600
            ),
        }
    }
}

impl std::error::Error for DurationError {}

/// `"500ms"`, `"5s"`, `"2m"`, `"1h"`, `"0s"`: a whole number and one unit, surrounding
/// whitespace ignored.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(DurationError::Negative(trimmed.to_string()));
    }
    let malformed = || DurationError::Malformed(trimmed.to_string());
    let too_long = || DurationError::TooLong(trimmed.to_string());
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(malformed)?;
    let (digits, unit) = trimmed.split_at(split);
    if digits.is_empty() {
        return Err(malformed());
    }
    let n = digits.bytes().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    let secs_per_unit = match unit {
        "ms" => return n.map(Duration::from_millis).ok_or_else(too_long),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(malformed()),
    };
    n.and_then(|n| n.checked_mul(secs_per_unit))
        .map(Duration::from_secs)
        .ok_or_else(too_long)
}

/// `"6s"` when whole seconds, else `"5500ms"`: one unit, as [`parse`] reads it back. Sub-
/// millisecond parts are dropped ([`parse`] never produces them).
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    let (secs, rest) = (ms / 1000, ms % 1000);
    if rest == 0 {
        format!("{secs}s")
    } else {
        format!("{ms}ms")
    }
}

/// The longest simulated time a scenario may ask for in any field (`duration`, `for`, TTLs,
/// timeouts, hold and think times), and a `locksim ctl` `sleep`, unless `LOCKSIM_MAX_SIM_TIME`
/// raises it. Why a bound: a
/// slip like `100000h` would start a run that takes days and grows its history without end.
/// An hour of simulated time takes seconds; whole days are rarely what a story needs.
pub const MAX_SIM_TIME: Duration = Duration::from_secs(3600);

/// The environment variable that raises (or lowers) [`MAX_SIM_TIME`], e.g. `200h`.
pub const MAX_SIM_TIME_VAR: &str = "LOCKSIM_MAX_SIM_TIME";

/// [`MAX_SIM_TIME`], or what [`MAX_SIM_TIME_VAR`] says. `Err` when the variable is set but is
/// not a duration.
pub fn max_sim_time() -> Result<Duration, String> {
    match std::env::var(MAX_SIM_TIME_VAR) {
        Err(_) => Ok(MAX_SIM_TIME),
        Ok(text) => parse(&text).map_err(|e| format!("{MAX_SIM_TIME_VAR}={text:?}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_unit_forms() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse(" 007s "), Ok(Duration::from_secs(7)));
    }

    #[test]
    fn malformed_and_negative() {
        for text in [
            "",
            "5",
            "s",
            "1.5s",
            "2d",
            "5 seconds",
            "+5s",
            "5S",
            "1s 500ms",
        ] {
            assert_eq!(
                parse(text),
                Err(DurationError::Malformed(text.trim().into())),
                "{text:?}"
            );
        }
        assert_eq!(parse("-15s"), Err(DurationError::Negative("-15s".into())));
        assert_eq!(
            parse("5 seconds").unwrap_err().to_string(),
            "bad duration \"5 seconds\"; write a whole number and a unit: 500ms, 5s, 2m"
        );
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        for text in [
            "307445734561825861m",
            "99999999999999999h",
            "5124095576030432h",
            "18446744073709551616s",
            "18446744073709551616ms",
            "99999999999999999999999999s",
        ] {
            assert_eq!(
                parse(text),
                Err(DurationError::TooLong(text.into())),
                "{text:?}"
            );
        }
        assert!(parse("307445734561825861m")
            .unwrap_err()
            .to_string()
            .contains("too long; at most 18446744073709551615s"));
        // The largest of each unit still parses.
        assert_eq!(
            parse("18446744073709551615s"),
            Ok(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse("307445734561825860m"),
            Ok(Duration::from_secs(307445734561825860 * 60))
        );
        assert_eq!(
            parse("5124095576030431h"),
            Ok(Duration::from_secs(5124095576030431 * 3600))
        );
        assert_eq!(
            parse("18446744073709551615ms"),
            Ok(Duration::from_millis(u64::MAX))
        );
    }

    #[test]
    fn format_round_trips() {
        for ms in [0, 1, 999, 1000, 1500, 60_000, 3_600_000, 5500, u64::MAX] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse(&format(d)), Ok(d), "{ms}ms");
        }
        assert_eq!(format(Duration::from_millis(5500)), "5500ms");
        assert_eq!(format(Duration::from_secs(6)), "6s");
    }
}
