//! Placeholder: filled in by the query stage.
fn main() {}
