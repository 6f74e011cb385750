//! Rules and alerts: Go templates against Go itself, `promlite test rules` and
//! `promlite check rules` against the real promtool 2.42, file by file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use promlite::rules::template::{AlertData, NoQuery, Template};

use crate::common::{promlite_bin, repo_root, which};

/// True when `tool` is installed; otherwise prints why the test is skipped, or
/// panics when PROMLITE_REQUIRE_ORACLE is set (CI).
fn require(tool: &str, package: &str, test: &str) -> bool {
    if which(tool) {
        return true;
    }
    let why = format!("`{tool}` is not installed (Debian package `{package}`)");
    if std::env::var_os("PROMLITE_REQUIRE_ORACLE").is_some() {
        panic!("{test}: {why}, and PROMLITE_REQUIRE_ORACLE is set");
    }
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// Template cases: (text, labels, value). Expected output comes from Go's
/// text/template (tests/support/gotemplate.go), never from promlite.
/// (template text, alert labels, alert value).
type Case = (&'static str, &'static [(&'static str, &'static str)], f64);

const CASES: &[Case] = &[
    ("{{ $labels.job }} on {{ $labels.instance }}", &[("job", "api"), ("instance", "a:9090")], 1.0),
    ("{{ $labels.missing }}|{{ .Labels.job }}", &[("job", "api")], 1.0),
    ("{{ $value }}", &[], 1234567.0),
    ("{{ $value }}", &[], 0.1),
    ("{{ $value }}", &[], 123456.0),
    ("{{ $value }}", &[], 1e21),
    ("{{ $value }}", &[], -2.5e-7),
    ("{{ $labels }}", &[("b", "2"), ("a", "1")], 0.0),
    ("{{ printf \"%.2f\" $value }}", &[], 0.125),
    ("{{ printf \"%.2f\" $value }}", &[], 0.375),
    ("{{ printf \"%.1f%%\" $value }}", &[], 99.95),
    ("{{ printf \"%g|%e|%E|%G\" $value $value $value $value }}", &[], 1234567.0),
    ("{{ printf \"%.3g|%.4g|%.1g|%.10g\" $value $value $value $value }}", &[], 0.000123456),
    ("{{ printf \"%.4g\" $value }}", &[], 100000.0),
    ("{{ printf \"%.3g|%.3g|%.2g\" $value 999.5 99.0 }}", &[], 1234.0),
    ("{{ printf \"%8.3f|%-8.2f|%08.3f|%+.1f\" $value $value $value $value }}", &[], 2.64575),
    ("{{ printf \"%d %s %q %v %t\" 42 \"x\" \"a\\\"b\" 1.5 true }}", &[], 0.0),
    ("{{ printf \"%5d|%-5d|%05d|%x|%X|%o|%b\" 42 42 42 255 255 8 5 }}", &[], 0.0),
    ("{{ printf \"%d\" \"a\" }}{{ printf \"%s\" 1 }}", &[], 0.0),
    ("{{ printf \"%d %d\" 1 }}", &[], 0.0),
    ("{{ printf \"%d\" 1 2 }}", &[], 0.0),
    ("{{ printf \"%s\" $labels.job | toUpper }}", &[("job", "api")], 0.0),
    ("{{ printf \"%v\" $labels }}", &[("x", "y")], 0.0),
    ("{{ printf \"%T %T %T\" 1 1.5 \"s\" }}", &[], 0.0),
    ("{{ print 1 2 \"a\" 3 \"b\" \"c\" }}", &[], 0.0),
    ("{{ println 1 \"a\" }}", &[], 0.0),
    ("{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}", &[], 7.0),
    ("{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}", &[], 70.0),
    ("{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}", &[], 1.0),
    ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", &[("b", "2"), ("a", "1"), ("c", "3")], 0.0),
    ("{{ range $labels }}[{{ . }}]{{ else }}none{{ end }}", &[], 0.0),
    ("{{ range $k, $v := $labels }}{{ if eq $k \"b\" }}{{ break }}{{ end }}{{ $k }}{{ end }}", &[("a", "1"), ("b", "2"), ("c", "3")], 0.0),
    ("{{ range $k, $v := $labels }}{{ if eq $k \"b\" }}{{ continue }}{{ end }}{{ $k }}{{ end }}", &[("a", "1"), ("b", "2"), ("c", "3")], 0.0),
    ("{{ with $labels.job }}job={{ . }}{{ else }}no job{{ end }}", &[("job", "x")], 0.0),
    ("{{ with $labels.job }}job={{ . }}{{ else }}no job{{ end }}", &[], 0.0),
    ("{{ and 1 0 }}|{{ and 1 2 }}|{{ or 0 \"\" }}|{{ or 0 3 }}|{{ not 0 }}|{{ not \"x\" }}", &[], 0.0),
    ("{{ eq 1 1 }}{{ eq \"a\" \"b\" }}{{ eq 1 2 3 1 }}{{ ne 1 2 }}{{ lt 1 2 }}{{ le 2 2 }}{{ gt 1.5 2.5 }}{{ ge \"b\" \"a\" }}", &[], 0.0),
    ("{{ eq $value 1 }}", &[], 1.0),
    ("{{ lt true false }}", &[], 0.0),
    ("{{ len $labels }} {{ len \"héllo\" }}", &[("a", "1"), ("b", "2")], 0.0),
    ("{{ index $labels \"job\" }}|{{ index $labels \"nope\" }}|{{ index \"abc\" 1 }}", &[("job", "j")], 0.0),
    ("{{ slice \"abcdef\" 1 3 }}|{{ slice \"abcdef\" 2 }}", &[], 0.0),
    ("{{ toUpper \"abc\" }} {{ toLower \"ÀBC\" }} {{ title \"hello big world\" }}", &[], 0.0),
    ("{{ reReplaceAll \"(a+)(b)\" \"${2}-$1\" \"xaab aaab\" }}", &[], 0.0),
    ("{{ reReplaceAll \":[0-9]+$\" \"\" $labels.instance }}", &[("instance", "host:9100")], 0.0),
    ("{{ match \"^ku.e\" \"kube-controller\" }} {{ match \"x$\" \"abc\" }}", &[], 0.0),
    ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", &[], 0.0),
    ("{{ $x := \"outer\" }}{{ with \"inner\" }}{{ $x := . }}{{ $x }}{{ end }} {{ $x }}", &[], 0.0),
    ("a  {{- \" b \" -}}  c", &[], 0.0),
    ("x{{/* a comment */}}y{{- /* trimmed */ -}} z", &[], 0.0),
    ("{{ \"\\t\\x41\\u00e9\" }}{{ `raw\\n` }}{{ 'a' }}{{ 0x1F }}{{ 1e3 }}{{ -2 }}", &[], 0.0),
    ("{{ (printf \"%s-%s\" \"a\" \"b\") | toUpper }}", &[], 0.0),
    ("{{ $labels.job | printf \"%q\" }}", &[("job", "a b")], 0.0),
    ("{{ args 1 \"two\" }}{{ (args 1 \"two\").arg1 }}", &[], 0.0),
    ("{{ html \"<a href='x'>&</a>\" }} {{ urlquery \"a b&c/d\" }}", &[], 0.0),
    ("{{ safeHtml \"<b>\" }}", &[], 0.0),
    ("multi\nline {{ $labels.a }}\n{{ if true }}\nyes\n{{ end }}", &[("a", "1")], 0.0),
    // Parse errors.
    ("{{ $labels.job ", &[], 0.0),
    ("{{ if 1 }}a{{ else }}", &[], 0.0),
    ("{{ nosuchfunc 1 }}", &[], 0.0),
    ("{{ end }}", &[], 0.0),
    ("{{ $undefined }}", &[], 0.0),
    ("{{ if }}{{ end }}", &[], 0.0),
    ("{{ \"unterminated }}", &[], 0.0),
    ("line1\nline2 {{ .Labels.x", &[], 0.0),
    ("{{ break }}", &[], 0.0),
    ("{{ 1 | 2 }}", &[], 0.0),
    // Execution errors.
    ("{{ $labels.job.sub }}", &[("job", "x")], 0.0),
    ("abc\n  {{ .Nope }}", &[], 0.0),
    ("{{ toUpper 1 }}", &[], 0.0),
    ("{{ toUpper $value }}", &[], 1.0),
    ("{{ eq 1.5 1 }}", &[], 0.0),
    ("{{ index $labels 1 }}", &[], 0.0),
    ("{{ len 3 }}", &[], 0.0),
    ("{{ printf }}", &[], 0.0),
    ("{{ $labels.job 1 }}", &[("job", "x")], 0.0),
    ("{{ range 1.5 }}{{ end }}", &[], 0.0),
];

fn go_expected(cases: &[Case]) -> Vec<(String, String)> {
    let prog = repo_root().join("tests/support/gotemplate.go");
    let cache = std::env::temp_dir().join("promlite-go-cache");
    let mut child = Command::new("go")
        .arg("run")
        .arg(&prog)
        .env("GOCACHE", &cache)
        .env("GO111MODULE", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn go run");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for (i, (text, labels, value)) in cases.iter().enumerate() {
            let case = serde_json::json!({
                "name": format!("__alert_T{i}"),
                "text": text,
                "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
                "ext": {},
                "value": value,
            });
            writeln!(stdin, "{case}").expect("write case");
        }
    }
    let out = child.wait_with_output().expect("go run");
    assert!(
        out.status.success(),
        "go run gotemplate.go failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            (
                v["out"].as_str().unwrap_or_default().to_string(),
                v["err"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn templates_render_as_go_does() {
    if !require("go", "golang-go", "templates_render_as_go_does") {
        return;
    }
    let expected = go_expected(CASES);
    assert_eq!(expected.len(), CASES.len(), "go printed one line per case");
    let mut failures = Vec::new();
    for (i, ((text, labels, value), (want_out, want_err))) in
        CASES.iter().zip(&expected).enumerate()
    {
        let name = format!("__alert_T{i}");
        let data = AlertData::new(labels.iter().copied(), [], *value);
        let got =
            Template::parse_with_defs(&name, text).and_then(|t| t.render_alert(&data, &NoQuery));
        let (got_out, got_err) = match got {
            Ok(s) => (s, String::new()),
            Err(e) => (String::new(), e.to_string()),
        };
        if (&got_out, &got_err) != (want_out, want_err) {
            failures.push(format!(
                "case {i} {text:?}\n  go:       out={want_out:?} err={want_err:?}\n  promlite: out={got_out:?} err={got_err:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Go:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

/// Runs `cmd args file` in `dir`; returns stdout, stderr and the exit code.
fn run_in(dir: &Path, cmd: &Path, args: &[&str], file: &str) -> (String, String, i32) {
    let out = Command::new(cmd)
        .args(args)
        .arg(file)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", cmd.display()));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn files_in(dir: &Path, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn differential(dir: PathBuf, suffix: &str, args: &[&str], min_files: usize) {
    let files = files_in(&dir, suffix);
    assert!(
        files.len() >= min_files,
        "expected at least {min_files} files in {}",
        dir.display()
    );
    let promtool = PathBuf::from("promtool");
    let mut diffs = Vec::new();
    let (mut pass, mut fail) = (0, 0);
    for f in &files {
        let want = run_in(&dir, &promtool, args, f);
        let got = run_in(&dir, &promlite_bin(), args, f);
        if want.2 == 0 {
            pass += 1;
        } else {
            fail += 1;
        }
        if want != got {
            diffs.push(format!(
                "{f}:\n--- promtool (exit {}):\n{}{}\n--- promlite (exit {}):\n{}{}",
                want.2, want.0, want.1, got.2, got.0, got.1
            ));
        }
    }
    eprintln!(
        "{}: {} files, promtool passed {pass} and failed {fail}",
        dir.display(),
        files.len()
    );
    assert!(
        diffs.is_empty(),
        "{} of {} files differ:\n{}",
        diffs.len(),
        files.len(),
        diffs.join("\n")
    );
}

#[test]
fn rule_unit_tests_match_promtool() {
    if !require("promtool", "promtool", "rule_unit_tests_match_promtool") {
        return;
    }
    differential(
        repo_root().join("tests/rules"),
        "_test.yml",
        &["test", "rules"],
        30,
    );
}

#[test]
fn rule_checks_match_promtool() {
    if !require("promtool", "promtool", "rule_checks_match_promtool") {
        return;
    }
    differential(
        repo_root().join("tests/rules/check"),
        ".yml",
        &["check", "rules"],
        5,
    );
}
