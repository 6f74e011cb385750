//! `promlite parse FILE|- [--format text|openmetrics] [--tolerant] [--count]`: parses an
//! exposition file and prints one JSON object per sample, or totals with `--count`.
//!
//! Errors go to stderr as `FILE: line L, col C: message`; any error makes the exit code 1
//! (in `--tolerant` mode after printing every good sample).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use promlite::expfmt::{Event, Format, Mode, Parser, SampleEvent};
use promlite::model::format_value;

const HELP: &str = "\
usage: promlite parse FILE [--format text|openmetrics] [--tolerant] [--count]
       (FILE '-' reads standard input)

Parses a Prometheus text (0.0.4) or OpenMetrics 1.0 file and prints one JSON object
per sample:
  {\"name\": \"up\", \"labels\": {\"job\": \"kcm\"}, \"value\": \"1\", \"timestamp\": null}
Labels are printed as written (empty values included), the value as a string in the
Prometheus HTTP API's float format (\"NaN\", \"+Inf\" survive JSON), the timestamp in
milliseconds or null.

options:
  --format F   text or openmetrics (default: OpenMetrics if the file ends with '# EOF')
  --tolerant   report every bad line and keep the good ones (default: stop at the first)
  --count      print totals instead of samples
Errors go to stderr with line and column; exit code 1 on any error, 2 on bad usage.";

struct Args {
    file: std::path::PathBuf,
    format: Option<Format>,
    tolerant: bool,
    count: bool,
}

fn parse_args(args: &[String]) -> Result<Option<Args>, String> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args.iter().cloned());
    let mut file = None;
    let mut format = None;
    let mut tolerant = false;
    let mut count = false;
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("format") => {
                let v = p.value().map_err(|e| e.to_string())?;
                format = Some(match v.to_str() {
                    Some("text") => Format::Text,
                    Some("openmetrics") => Format::OpenMetrics,
                    _ => return Err(format!("--format must be text or openmetrics, not {v:?}")),
                });
            }
            Long("tolerant") => tolerant = true,
            Long("count") => count = true,
            Short('h') | Long("help") => return Ok(None),
            Value(v) if file.is_none() => file = Some(std::path::PathBuf::from(v)),
            other => return Err(other.unexpected().to_string()),
        }
    }
    let file = file.ok_or("missing FILE")?;
    Ok(Some(Args {
        file,
        format,
        tolerant,
        count,
    }))
}

/// Runs the subcommand with the arguments after its name.
pub fn run(args: &[String]) -> ExitCode {
    let args = match parse_args(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("promlite parse: {e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    let read = if args.file.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut b).map(|_| b)
    } else {
        std::fs::read(&args.file)
    };
    let body = match read {
        Ok(b) => b,
        Err(e) => {
            eprintln!("promlite parse: {}: {e}", args.file.display());
            return ExitCode::from(1);
        }
    };
    let format = args.format.unwrap_or_else(|| Format::sniff(&body));
    let mode = if args.tolerant {
        Mode::Tolerant
    } else {
        Mode::Strict
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut totals = Totals::default();
    let mut line = String::new();
    for ev in Parser::new(&body, format).mode(mode) {
        match ev {
            Ok(Event::Sample(s)) => {
                totals.samples += 1;
                if !args.count {
                    line.clear();
                    write_sample_json(&mut line, &s);
                    if out.write_all(line.as_bytes()).is_err() {
                        // Reader went away (e.g. `| head`): stop quietly.
                        return ExitCode::SUCCESS;
                    }
                }
            }
            Ok(Event::Help { .. }) => totals.help += 1,
            Ok(Event::Type { .. }) => totals.types += 1,
            Ok(Event::Unit { .. }) => totals.units += 1,
            Ok(Event::Comment(_)) => totals.comments += 1,
            Ok(_) => {}
            Err(e) => {
                totals.errors += 1;
                eprintln!("{}: {e}", args.file.display());
            }
        }
    }
    if args.count {
        let _ = writeln!(
            out,
            "{{\"samples\": {}, \"help\": {}, \"type\": {}, \"unit\": {}, \"comments\": {}, \"errors\": {}}}",
            totals.samples, totals.help, totals.types, totals.units, totals.comments, totals.errors
        );
    }
    if out.flush().is_err() {
        return ExitCode::SUCCESS;
    }
    if totals.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[derive(Default)]
struct Totals {
    samples: u64,
    help: u64,
    types: u64,
    units: u64,
    comments: u64,
    errors: u64,
}

/// Appends `{"name": ..., "labels": {...}, "value": "...", "timestamp": ...}\n`.
///
/// Written by hand rather than through `serde_json::Map` so that labels keep their
/// written order (the map would sort them). Strings go through serde_json for escaping.
fn write_sample_json(out: &mut String, s: &SampleEvent<'_>) {
    out.push_str("{\"name\": ");
    push_json_str(out, &s.name());
    out.push_str(", \"labels\": {");
    for (k, (name, value)) in s.labels().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        push_json_str(out, &name);
        out.push_str(": ");
        push_json_str(out, &value);
    }
    out.push_str("}, \"value\": ");
    // The value uses the Prometheus HTTP API's float format (Go's 'f', -1 with NaN, +Inf,
    // -Inf: `format_value`), the format every Prometheus query result uses, so that this
    // output compares directly with `promlite eval` and the API. As a string, the special
    // values survive JSON, and the shortest round-trip digits keep the exact f64.
    push_json_str(out, &format_value(s.value));
    out.push_str(", \"timestamp\": ");
    match s.timestamp {
        Some(t) => out.push_str(&t.to_string()),
        None => out.push_str("null"),
    }
    out.push_str("}\n");
}

fn push_json_str(out: &mut String, s: &str) {
    // Serializing a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}
