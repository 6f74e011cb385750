//! The `promlite` command-line tool: a thin shell over the `promlite` crate.
//!
//! Each subcommand lives in its own module and receives the arguments after its name.
#![forbid(unsafe_code)]

use std::process::ExitCode;

mod check;
mod demo;
mod eval;
mod ingest;
mod parse;
mod scrape_args;
mod serve;
mod storage_args;
mod test_cmd;
mod test_rules;
mod watch;

const USAGE: &str = "\
usage: promlite <command> [args]

commands:
  check    check configuration and rule files (`check config|rules FILE...`, as promtool)
  demo     dashboard queries over simulated kube-controller-manager scrapes
  parse    parse an exposition file and print one JSON object per sample
  ingest   ingest scrape files into a store and print its stats as JSON
  eval     evaluate PromQL over data files (prom-oracle's protocol)
  test     run Prometheus promqltest scripts (`test rules FILE...`: promtool rule tests)
  serve    serve the Prometheus HTTP API over data files or live scrapes
  watch    scrape live endpoints and redraw the kube-controller-manager dashboard

`promlite <command> --help` describes each command.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(cmd) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest: Vec<String> = args.collect();
    match cmd.as_str() {
        "check" => check::run(&rest),
        "demo" => demo::run(&rest),
        "parse" => parse::run(&rest),
        "ingest" => ingest::run(&rest),
        "eval" => eval::run(&rest),
        "test" => test_cmd::run(&rest),
        "serve" => serve::run(&rest),
        "watch" => watch::run(&rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        "-V" | "--version" => {
            println!("promlite {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("promlite: unknown command {other:?}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
