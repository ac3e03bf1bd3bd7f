//! `locksim explore`: generated variants of a scenario against a property
//! ([`crate::explore::Explorer`]), the first failure shrunk and printed as a scenario file.

use super::{bad_input, load};

pub fn explore(
    scenario: &str,
    cases: u32,
    (vary, faults, property): (&str, &str, &str),
    seed: u64,
    max_shrink_iters: u32,
    regressions: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    use crate::explore::{Explorer, Progress};
    use std::io::IsTerminal;
    let scenario = load(scenario);
    let vary = vary
        .parse()
        .unwrap_or_else(|e| bad_input(format!("--vary: {e}")));
    let kinds: crate::explore::FaultKinds = faults
        .parse()
        .unwrap_or_else(|e| bad_input(format!("--faults: {e}")));
    let property = property
        .parse()
        .unwrap_or_else(|e| bad_input(format!("--property: {e}")));
    let regressions = match regressions.as_deref() {
        Some("none") => None,
        Some(path) => Some(path.into()),
        None => Some(Explorer::default_regressions(&scenario)),
    };
    if !json {
        println!(
            "exploring {}: {cases} cases, vary {vary}, faults {kinds}, property {property}, exploration seed {seed}",
            scenario.name
        );
    }
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(cases as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}  {elapsed}")
                .expect("a valid template"),
        );
        bar
    });
    let explorer = Explorer::new(scenario)
        .vary(vary)
        .fault_kinds(kinds)
        .property(property)
        .cases(cases)
        .rng_seed(seed)
        .max_shrink_iters(max_shrink_iters)
        .regressions(regressions);
    let result = explorer.run(&|p| {
        let Some(bar) = &bar else { return };
        match p {
            Progress::Case { done, total } => {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message("cases");
            }
            Progress::Shrink { step, faults, .. } => {
                bar.set_message(format!("shrinking: step {step}, {faults} fault(s)"))
            }
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let exploration = result.unwrap_or_else(|e| bad_input(e));
    if json {
        println!("{}", serde_json::to_string(&exploration)?);
    } else {
        print!("{}", exploration.text());
    }
    std::process::exit(if exploration.failure.is_none() { 0 } else { 1 });
}
