//! Placeholder: filled in by the parse stage.
fn main() {}
