//! `promlite check config FILE...`: validates configuration files as
//! `promtool check config` does, with the same output shape and exit codes (0 when
//! every file is valid, 1 otherwise), and a line and column for every error.
//!
//! Besides the file itself it checks what the configuration points at: rule files
//! exist (their contents are not checked here), credential and TLS files exist, and
//! file_sd files that exist parse. `--syntax-only` skips those.

use std::path::Path;
use std::process::ExitCode;

use promlite::config::{discovery, Config, HttpClientConfig};

pub(super) const HELP: &str = "\
usage: promlite check config [--syntax-only] FILE...

Checks prometheus.yml files: syntax, fields, Prometheus's validation, and the files
they refer to (rule files, credential and TLS files, file_sd files).
  --syntax-only   check only the file's own syntax and validation";

/// `promlite check config [--syntax-only] FILE...`.
pub fn run(args: &[String]) -> ExitCode {
    let mut syntax_only = false;
    let mut files = Vec::new();
    for a in args {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--syntax-only" => syntax_only = true,
            s if s.starts_with('-') => {
                eprintln!("promlite check config: unknown option {s}\n{HELP}");
                return ExitCode::from(1);
            }
            f => files.push(f),
        }
    }
    if files.is_empty() {
        eprintln!("promlite check config: no file given\n{HELP}");
        return ExitCode::from(1);
    }
    let mut failed = false;
    for f in files {
        println!("Checking {f}");
        match check_file(Path::new(f), syntax_only) {
            Ok(notes) => {
                for n in notes {
                    println!("  {n}");
                }
                println!(" SUCCESS: {f} is valid prometheus config file syntax");
            }
            Err(e) => {
                eprintln!("  FAILED: {e}");
                failed = true;
            }
        }
        println!();
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Checks one file; on success returns the notes to print (counts, warnings).
fn check_file(path: &Path, syntax_only: bool) -> Result<Vec<String>, String> {
    let cfg = Config::load_file(path).map_err(|e| e.to_string())?;
    let mut notes = Vec::new();
    if syntax_only {
        return Ok(notes);
    }
    let mut rule_files = 0;
    for pat in &cfg.rule_files {
        let n = if pat.contains('*') {
            glob_count(pat)
        } else {
            usize::from(Path::new(pat).exists())
        };
        if n == 0 && !pat.contains('*') {
            return Err(format!("{pat:?} does not point to an existing file"));
        }
        rule_files += n;
    }
    if !cfg.rule_files.is_empty() {
        notes.push(format!("SUCCESS: {rule_files} rule files found"));
    }
    for sc in &cfg.scrape_configs {
        check_http_files(&sc.http_client).map_err(|e| format!("{e} (job {:?})", sc.job_name))?;
        for sd in &sc.kubernetes_sd_configs {
            check_http_files(&sd.http_client)
                .map_err(|e| format!("{e} (job {:?}, kubernetes_sd_configs)", sc.job_name))?;
        }
        for fsd in &sc.file_sd_configs {
            for pat in &fsd.files {
                let found = discovery::matching_files(&promlite::config::FileSdConfig {
                    files: vec![pat.clone()],
                    refresh_interval: fsd.refresh_interval,
                });
                if found.is_empty() {
                    notes.push(format!(
                        "WARNING: file {:?} for file_sd in scrape job {:?} does not exist",
                        pat.display().to_string(),
                        sc.job_name
                    ));
                }
                for file in found {
                    discovery::read_file(&file)
                        .map_err(|e| format!("checking SD file {e} (job {:?})", sc.job_name))?;
                }
            }
        }
    }
    Ok(notes)
}

fn glob_count(pat: &str) -> usize {
    let cfg = promlite::config::FileSdConfig {
        files: vec![pat.into()],
        refresh_interval: promlite::config::Duration::from_secs(1),
    };
    discovery::matching_files(&cfg).len()
}

/// The files an HTTP client config names must exist, as promtool checks.
fn check_http_files(h: &HttpClientConfig) -> Result<(), String> {
    let mut files: Vec<(&str, &Path)> = Vec::new();
    if let Some(a) = &h.authorization {
        if let Some(f) = &a.credentials_file {
            files.push(("authorization credentials file", f));
        }
    }
    if let Some(b) = &h.basic_auth {
        if let Some(f) = &b.password_file {
            files.push(("basic auth password file", f));
        }
        if let Some(f) = &b.username_file {
            files.push(("basic auth username file", f));
        }
    }
    let t = &h.tls_config;
    for (what, f) in [
        ("CA file", &t.ca_file),
        ("client cert file", &t.cert_file),
        ("client key file", &t.key_file),
    ] {
        if let Some(f) = f {
            files.push((what, f));
        }
    }
    for (what, f) in files {
        if let Err(e) = std::fs::metadata(f) {
            return Err(format!(
                "error checking {what} {:?}: {e}",
                f.display().to_string()
            ));
        }
    }
    Ok(())
}
