//! `locksim check FILE`: check a history file for linearizability.
//!
//! Exit codes are the CLI contract: 0 linearizable, 1 not, 3 unknown (budget exhausted),
//! 2 bad input (the message names the line).

use std::path::Path;
use std::time::Duration;

use sim::check::{check_text, CheckOptions, FailedCas, Format, ModelKind};

/// Exit code for input that cannot be read or parsed.
pub const EXIT_BAD_INPUT: i32 = 2;

/// What `locksim check` was asked to do.
pub struct CheckArgs<'a> {
    pub file: &'a Path,
    pub format: Format,
    pub model: Option<ModelKind>,
    /// What `:fail :cas` means; `None`: the format's reading.
    pub failed_cas: Option<FailedCas>,
    pub json: bool,
    pub max_steps: Option<u64>,
    pub timeout: Option<Duration>,
}

/// Run the check; returns the process exit code and what to print on stdout (or, for bad input,
/// on stderr).
pub fn run_check(args: &CheckArgs<'_>) -> (i32, String) {
    let text = match std::fs::read_to_string(args.file) {
        Ok(t) => t,
        Err(e) => {
            return (
                EXIT_BAD_INPUT,
                format!("locksim check: cannot read {}: {e}", args.file.display()),
            )
        }
    };
    let options = CheckOptions {
        max_steps: args.max_steps,
        timeout: args.timeout,
        threads: 0,
    };
    match check_text(&text, args.format, args.model, args.failed_cas, &options) {
        Ok(result) => {
            let out = if args.json {
                result.to_json()
            } else {
                result.to_string()
            };
            (result.verdict.exit_code(), out)
        }
        Err(e) => (
            EXIT_BAD_INPUT,
            format!("locksim check: {}: {e}", args.file.display()),
        ),
    }
}
