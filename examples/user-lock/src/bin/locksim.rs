//! locksim's command line, knowing this crate's locks: `cargo run --bin locksim -- run
//! scenarios/long-holds.toml --seed 1`, or the file a failing test printed.

fn main() -> anyhow::Result<()> {
    locksim::cli::main_with(user_lock::locks())
}
