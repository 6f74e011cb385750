//! A runner for Prometheus's PromQL test-script language (promqltest), as described in
//! `shared/promqltest/FORMAT.md`.

pub mod run;
pub mod script;
pub mod values;

pub use run::{run_script, Verdict};
pub use script::parse_script;
