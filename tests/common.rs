//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared/` beside the repository (read-only reference material: Prometheus's
/// test scripts, real `/metrics` fixtures, the oracle). A test that needs it
/// fails here, with one message naming the missing folder, when it is absent.
pub fn shared_dir() -> PathBuf {
    let dir = repo_root().join("../shared");
    if !dir.is_dir() {
        panic!(
            "this test needs the reference folder {} (Prometheus's test scripts, \
             fixtures/real, the oracle), which is missing; see README.md, \"Tests\"",
            dir.display()
        );
    }
    dir
}

/// The built `promlite` binary.
pub fn promlite_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_promlite"))
}

/// True when the real Prometheus oracle can run here. When it cannot, prints why and
/// returns false, unless PROMLITE_REQUIRE_ORACLE is set: then it panics, so CI never
/// skips an oracle test.
pub fn oracle_available(test: &str) -> bool {
    let have = which("prometheus")
        && which("promtool")
        && shared_dir().join("oracle/prom-oracle").exists();
    if !have {
        let why = "the oracle needs Debian's `prometheus` package (prometheus, promtool) and ../shared/oracle";
        if std::env::var_os("PROMLITE_REQUIRE_ORACLE").is_some() {
            panic!("{test}: {why}, and PROMLITE_REQUIRE_ORACLE is set");
        }
        eprintln!("SKIPPED {test}: {why}; install it with `apt-get install -y prometheus`");
    }
    have
}

/// True when `cmd` is on PATH.
pub fn which(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}

/// Runs `../shared/tools/gen-kcm` with `args` (`-q --out OUT` appended) and
/// asserts it succeeded.
pub fn gen_kcm(args: &[&str], out: &Path) {
    let st = std::process::Command::new("python3")
        .arg(shared_dir().join("tools/gen-kcm"))
        .args(args)
        .args(["-q", "--out"])
        .arg(out)
        .status()
        .expect("run gen-kcm");
    assert!(st.success(), "gen-kcm {args:?} failed");
}
