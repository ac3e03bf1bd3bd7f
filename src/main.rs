//! The `locksim` binary: parse the command line, run, exit. The subcommands live in `cli/`
//! (see `cli.rs` for the layout).

fn main() -> anyhow::Result<()> {
    locksim::cli::main_with(locksim::scenario::Locks::builtin())
}
