//! `promlite check rules FILE...`: validates rule files as `promtool check rules`
//! does, with its output shape (`Checking F`, `  SUCCESS: N rules found` or
//! `  FAILED:` and one `F: error` line per problem on stderr) and exit codes
//! (0 when every file is valid, 1 otherwise).

use std::io::Write;
use std::process::ExitCode;

use promlite::rules::rulefmt::parse_rule_file;

pub(super) const HELP: &str = "\
usage: promlite check rules FILE...

Checks Prometheus rule files: YAML structure, unknown fields, expressions, rule
names, labels, annotations and their templates. Output and exit codes follow
`promtool check rules`.";

/// `promlite check rules FILE...`.
pub fn run(files: &[String]) -> ExitCode {
    if files.is_empty() || files.iter().any(|f| f == "-h" || f == "--help") {
        println!("{HELP}");
        return ExitCode::from(if files.is_empty() { 2 } else { 0 });
    }
    if let Some(missing) = files.iter().find(|f| !std::path::Path::new(f).exists()) {
        eprintln!("promlite: error: path '{missing}' does not exist, try --help");
        return ExitCode::from(1);
    }
    let mut failed = false;
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    for f in files {
        let _ = writeln!(stdout.lock(), "Checking {f}");
        let result = std::fs::read_to_string(f)
            .map_err(|e| vec![e.to_string()])
            .and_then(|text| {
                parse_rule_file(&text).map_err(|errs| errs.iter().map(|e| e.to_string()).collect())
            });
        match result {
            Ok(file) => {
                let n: usize = file.groups.iter().map(|g| g.rules.len()).sum();
                let _ = writeln!(stdout.lock(), "  SUCCESS: {n} rules found");
            }
            Err(errs) => {
                failed = true;
                let mut e = stderr.lock();
                let _ = writeln!(e, "  FAILED:");
                for msg in errs {
                    let _ = writeln!(e, "{f}: {msg}");
                }
            }
        }
        let _ = writeln!(stdout.lock());
    }
    ExitCode::from(u8::from(failed))
}
