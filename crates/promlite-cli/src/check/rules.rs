//! `promlite check rules FILE...`: validates rule files as `promtool check rules`
//! does, with its output shape (`Checking F`, `  SUCCESS: N rules found` or
//! `  FAILED:` and one `F: error` line per problem on stderr) and exit codes
//! (0 when every file is valid, 1 otherwise).

use std::io::Write;
use std::process::ExitCode;

use promlite::rules::rulefmt::{parse_rule_file, RuleFile};

pub(super) const HELP: &str = "\
usage: promlite check rules [--lint=duplicate-rules|all|none] [--lint-fatal] FILE...

Checks Prometheus rule files: YAML structure, unknown fields, expressions, rule
names, labels, annotations and their templates, and (lint) rules with the same
name and labels. Output and exit codes follow `promtool check rules`: 0 valid,
1 invalid, 3 lint problems with --lint-fatal.";

/// promtool's duplicate-rules lint: rules with the same name and labels, each
/// reported once, sorted by name then labels.
fn duplicates(file: &RuleFile) -> Option<String> {
    let mut rules: Vec<(&str, Vec<(&String, &String)>)> = file
        .groups
        .iter()
        .flat_map(|g| &g.rules)
        .map(|r| (r.name(), r.labels.iter().collect()))
        .collect();
    rules.sort();
    let mut dups: Vec<&(&str, Vec<(&String, &String)>)> = Vec::new();
    for w in rules.windows(2) {
        if w[0] == w[1] && dups.last().is_none_or(|d| **d != w[0]) {
            dups.push(&w[1]);
        }
    }
    if dups.is_empty() {
        return None;
    }
    let mut msg = format!("lint error {} duplicate rule(s) found.\n", dups.len());
    for (metric, labels) in dups {
        msg.push_str(&format!("Metric: {metric}\nLabel(s):\n"));
        for (k, v) in labels {
            msg.push_str(&format!("\t{k}: {v}\n"));
        }
    }
    msg.push_str("Might cause inconsistency while recording expressions");
    Some(msg)
}

/// `promlite check rules [--lint=...] [--lint-fatal] FILE...`.
pub fn run(args: &[String]) -> ExitCode {
    let mut lint = true;
    let mut lint_fatal = false;
    let mut files = Vec::new();
    for a in args {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--lint=none" => lint = false,
            "--lint=all" | "--lint=duplicate-rules" => lint = true,
            "--lint-fatal" => lint_fatal = true,
            s if s.starts_with('-') => {
                eprintln!("promlite check rules: unknown option {s}\n{HELP}");
                return ExitCode::from(2);
            }
            f => files.push(f.to_string()),
        }
    }
    if files.is_empty() {
        eprintln!("{HELP}");
        return ExitCode::from(2);
    }
    if let Some(missing) = files.iter().find(|f| !std::path::Path::new(f).exists()) {
        eprintln!("promlite: error: path '{missing}' does not exist, try --help");
        return ExitCode::from(1);
    }
    let mut failed = false;
    let mut lint_failed = false;
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    for f in &files {
        let _ = writeln!(stdout.lock(), "Checking {f}");
        let result = std::fs::read_to_string(f)
            .map_err(|e| vec![e.to_string()])
            .and_then(|text| {
                parse_rule_file(&text).map_err(|errs| errs.iter().map(|e| e.to_string()).collect())
            });
        let result = result.and_then(|file| match duplicates(&file).filter(|_| lint) {
            Some(msg) => {
                lint_failed = true;
                Err(vec![msg])
            }
            None => Ok(file),
        });
        match result {
            Ok(file) => {
                let n: usize = file.groups.iter().map(|g| g.rules.len()).sum();
                let _ = writeln!(stdout.lock(), "  SUCCESS: {n} rules found");
            }
            Err(errs) => {
                let mut e = stderr.lock();
                let _ = writeln!(e, "  FAILED:");
                if errs.len() == 1 && errs[0].starts_with("lint error ") {
                    let _ = writeln!(e, "{}", errs[0]);
                } else {
                    failed = true;
                    for msg in errs {
                        let _ = writeln!(e, "{f}: {msg}");
                    }
                }
            }
        }
        let _ = writeln!(stdout.lock());
    }
    if failed {
        ExitCode::from(1)
    } else if lint_failed && lint_fatal {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}
