//! `promlite check config FILE...` and `promlite check rules FILE...`: validate
//! configuration and rule files as `promtool check` does, with its output shapes and
//! exit codes, and a line and column for every error.

use std::process::ExitCode;

mod config;
mod rules;

/// Runs the subcommand with the arguments after `check`.
pub fn run(args: &[String]) -> ExitCode {
    match args.first().map(String::as_str) {
        Some("config") => config::run(&args[1..]),
        Some("rules") => rules::run(&args[1..]),
        Some("-h" | "--help") => {
            println!("{}\n\n{}", config::HELP, rules::HELP);
            ExitCode::SUCCESS
        }
        other => {
            eprintln!(
                "promlite check: expected `config` or `rules`, got {other:?}\n\n{}\n\n{}",
                config::HELP,
                rules::HELP
            );
            ExitCode::from(1)
        }
    }
}
