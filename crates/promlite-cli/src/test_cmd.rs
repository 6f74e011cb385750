//! `promlite test FILE.test...`: runs Prometheus promqltest scripts against promlite's
//! engine (with delayed `__name__` removal on, as upstream's runner does).
//!
//! Every case is reported as passed, failed (with file:line, the query, expected and
//! got) or skipped with its reason. The last line is `N passed, N failed, N skipped`.
//! Exit status: 0 when nothing failed, 1 otherwise, 2 on usage or script errors.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

pub mod promqltest;

use promqltest::{parse_script, run_script, Verdict};

const HELP: &str = "\
usage: promlite test [--quiet] [--skips] FILE.test...
       promlite test rules FILE.yml...   (promtool rule unit tests)

Runs Prometheus promqltest scripts (load / clear / eval ...) against promlite.
  --quiet   print only failures and the summary
  --skips   list every skipped case with its reason (default: a summary by reason)";

/// Runs the subcommand with the arguments after its name.
pub fn run(args: &[String]) -> ExitCode {
    if args.first().map(String::as_str) == Some("rules") {
        return crate::test_rules::run(&args[1..]);
    }
    let mut files = Vec::new();
    let mut quiet = false;
    let mut list_skips = false;
    for a in args {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "-q" | "--quiet" => quiet = true,
            "--skips" => list_skips = true,
            s if s.starts_with('-') => {
                eprintln!("promlite test: unknown option {s}\n{HELP}");
                return ExitCode::from(2);
            }
            f => files.push(f.to_string()),
        }
    }
    if files.is_empty() {
        eprintln!("{HELP}");
        return ExitCode::from(2);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut script_errors = 0usize;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("promlite test: {f}: {e}");
                script_errors += 1;
                continue;
            }
        };
        let cmds = match parse_script(&text) {
            Ok(c) => c,
            Err(e) => {
                let _ = writeln!(out, "ERROR {f}:{}: {}", e.line, e.msg);
                script_errors += 1;
                continue;
            }
        };
        let (mut fp, mut ff, mut fs) = (0, 0, 0);
        for r in run_script(&cmds) {
            match &r.verdict {
                Verdict::Pass => fp += 1,
                Verdict::Fail(why) => {
                    ff += 1;
                    let _ = writeln!(
                        out,
                        "FAIL {f}:{}: {}\n  {}",
                        r.line,
                        r.expr,
                        why.trim_end().replace('\n', "\n  ")
                    );
                }
                Verdict::Skip(why) => {
                    fs += 1;
                    // Group reasons without their variable parts for the summary.
                    let key = why
                        .split(['(', ':'])
                        .next()
                        .unwrap_or(why)
                        .trim()
                        .to_string();
                    *reasons.entry(key).or_default() += 1;
                    if list_skips {
                        let _ = writeln!(out, "SKIP {f}:{}: {} -- {why}", r.line, r.expr);
                    }
                }
            }
        }
        if !quiet {
            let _ = writeln!(out, "{f}: {fp} passed, {ff} failed, {fs} skipped");
        }
        passed += fp;
        failed += ff;
        skipped += fs;
    }
    if !quiet && !reasons.is_empty() {
        let _ = writeln!(out, "skipped cases by reason:");
        for (r, n) in &reasons {
            let _ = writeln!(out, "  {n:5}  {r}");
        }
    }
    if script_errors > 0 {
        let _ = writeln!(out, "{script_errors} file(s) could not be run");
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped");
    if script_errors > 0 {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
