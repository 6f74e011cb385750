//! `promlite eval`: not built yet.

use std::process::ExitCode;

/// Runs the subcommand with the arguments after its name.
pub fn run(_args: &[String]) -> ExitCode {
    eprintln!("promlite eval: not implemented yet");
    ExitCode::from(2)
}
