//! Placeholder: filled in by the ingest stage.
fn main() {}
