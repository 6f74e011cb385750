//! Scaffolding shared by this crate's integration tests.

use std::path::PathBuf;

/// Every `.prom` file of `../shared/fixtures/real` (real `/metrics` dumps), with
/// its path. Panics, naming what is missing, when the reference folder is absent.
pub fn real_fixtures() -> Vec<(PathBuf, Vec<u8>)> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: this test needs the reference folder ../shared beside the \
             repository (see README.md, \"Tests\")",
            dir.display()
        )
    });
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "prom") {
            continue;
        }
        let body = std::fs::read(&path).unwrap();
        out.push((path, body));
    }
    out
}
