//! `locksim check FILE`: the command line's formats and models to [`crate::check_cmd`]'s,
//! and its verdict to the exit code.

use std::io::{self, Write};

use super::args::{FailedCasArg, FormatArg, ModelArg};

/// Checks `file` and exits with the verdict's code (0 linearizable, 1 not, 3 unknown, 2 bad
/// input).
pub fn check(
    file: &std::path::Path,
    format: FormatArg,
    model: Option<ModelArg>,
    failed_cas: Option<FailedCasArg>,
    json: bool,
    max_steps: u64,
    timeout_secs: Option<u64>,
) -> ! {
    use sim::check::{FailedCas, Format, ModelKind};
    let (code, out) = crate::check_cmd::run_check(&crate::check_cmd::CheckArgs {
        file,
        format: match format {
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::JepsenLog => Format::JepsenLog,
            FormatArg::Edn => Format::Edn,
        },
        model: model.map(|m| match m {
            ModelArg::Register => ModelKind::Register,
            ModelArg::Kv => ModelKind::Kv,
            ModelArg::KvAppend => ModelKind::KvAppend,
        }),
        failed_cas: failed_cas.map(|f| match f {
            FailedCasArg::Observed => FailedCas::Observed,
            FailedCasArg::NotApplied => FailedCas::NotApplied,
        }),
        json,
        max_steps: Some(max_steps),
        timeout: timeout_secs.map(std::time::Duration::from_secs),
    });
    if code == crate::check_cmd::EXIT_BAD_INPUT {
        eprintln!("{out}");
    } else {
        // A closed pipe (`| head`) is not an error of the check.
        let _ = writeln!(io::stdout(), "{}", out.trim_end());
    }
    std::process::exit(code);
}
