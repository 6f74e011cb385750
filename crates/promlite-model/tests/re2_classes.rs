//! Regex classes mean what they mean in Go RE2 (issue 13, 1d): Prometheus compiles
//! matchers and `label_replace` regexes with Go's `regexp`, where `\d` is `[0-9]`,
//! `\w` is `[0-9A-Za-z_]`, `\s` is `[\t\n\f\r ]` and `\b` is an ASCII word boundary
//! (regexp/syntax documentation), while `.`, literals and `\pL` are Unicode.
//!
//! The table's expected answers are written from that documentation; the same table is
//! then also run through Go's `regexp` itself (a tiny Go program built in the test, as
//! in `go_float_format.rs`) so that a wrong expectation cannot hide.

use std::io::Write;
use std::process::{Command, Stdio};

use promlite_model::{compile_anchored_regex, MatchOp, Matcher};

/// (pattern, label value, does `^(?s:pattern)$` match in RE2?)
const TABLE: &[(&str, &str, bool)] = &[
    (r"\w", "a", true),
    (r"\w", "_", true),
    (r"\w", "é", false),
    (r"\w", "\u{0663}", false), // ARABIC-INDIC DIGIT THREE
    (r"\W", "é", true),
    (r"\W", "a", false),
    (r"\d", "7", true),
    (r"\d", "\u{0663}", false),
    (r"\d", "\u{FF17}", false), // FULLWIDTH DIGIT SEVEN
    (r"\D", "\u{0663}", true),
    (r"\s", " ", true),
    (r"\s", "\t", true),
    (r"\s", "\u{00A0}", false), // NO-BREAK SPACE
    (r"\s", "\u{2003}", false), // EM SPACE
    (r"\s", "\u{000B}", false), // vertical tab: not in RE2's \s
    (r"\S", "\u{00A0}", true),
    (r"[\w]+", "héllo", false),
    (r"[^\w]", "é", true),
    (r"[\d\s]+", "1 \u{0663}", false),
    (r"[\d\s]+", "1 2", true),
    (r"x\bé", "xé", true), // x is a word character, é is not: a boundary
    (r"é\b", "é", false),  // é then the end: no word character, no boundary
    (r"\bé", "é", false),
    (r"a\Bé", "aé", false), // a|é is a boundary, so \B fails
    (r"\b\w+\b", "abc", true),
    (r".", "é", true), // `.` and literals stay Unicode
    ("é+", "éé", true),
    (r"\pL", "é", true),
    (r"[[:alpha:]]", "é", false),
    ("2..", "200", true),
    ("2..", "2é0", true),
];

#[test]
fn perl_classes_and_boundaries_are_ascii_as_in_re2() {
    let mut wrong = Vec::new();
    for (pattern, value, want) in TABLE {
        let m = Matcher::new(MatchOp::RegexMatch, "l", *pattern).expect("compiles");
        let nm = Matcher::new(MatchOp::RegexNoMatch, "l", *pattern).expect("compiles");
        if m.matches(value) != *want || nm.matches(value) == *want {
            wrong.push(format!("{pattern:?} on {value:?}: want {want}"));
        }
    }
    assert!(wrong.is_empty(), "differs from RE2:\n{}", wrong.join("\n"));
}

#[test]
fn the_table_is_what_go_regexp_answers() {
    let have_go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        have_go,
        "re2_classes needs the Go toolchain (`go` on PATH; Debian package `golang-go`)"
    );
    let dir = std::env::temp_dir().join(format!("promlite-go-re2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("main.go"),
        r#"package main

import (
	"bufio"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
)

// Each line: hex(pattern) SPACE hex(value); prints true or false per line.
func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		f := strings.Fields(in.Text())
		p, _ := hex.DecodeString(f[0])
		v, _ := hex.DecodeString(f[1])
		re := regexp.MustCompile("^(?s:" + string(p) + ")$")
		if re.MatchString(string(v)) {
			out.WriteString("true\n")
		} else {
			out.WriteString("false\n")
		}
	}
}
"#,
    )
    .expect("write main.go");
    let bin = dir.join("re2check");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg("main.go")
        .current_dir(&dir)
        .env("GOCACHE", dir.join("cache"))
        .env("GOPATH", dir.join("gopath"))
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .env("CGO_ENABLED", "0")
        .output()
        .expect("go build");
    assert!(
        built.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    let input: String = TABLE
        .iter()
        .map(|(p, v, _)| format!("{} {}\n", hex(p), hex(v)))
        .collect();
    let mut child = Command::new(&bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run Go");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("Go output");
    let _ = std::fs::remove_dir_all(&dir);
    let answers: Vec<bool> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l == "true")
        .collect();
    assert_eq!(answers.len(), TABLE.len(), "one Go answer per row");
    for ((p, v, want), go) in TABLE.iter().zip(answers) {
        assert_eq!(go, *want, "Go's regexp answers {go} for {p:?} on {v:?}");
    }
}

#[test]
fn seed_matcher_compiles_to_the_same_program_as_before() {
    // `code=~"2.."` has no Perl class: the pattern handed to the regex crate is
    // byte-for-byte what it was before RE2 translation existed, so the compiled
    // program, and the cost of every match, is unchanged.
    let re = compile_anchored_regex("2..").expect("compiles");
    assert_eq!(re.as_str(), "^(?s:2..)$");
    let re = compile_anchored_regex("4..|5..").expect("compiles");
    assert_eq!(re.as_str(), "^(?s:4..|5..)$");
}
