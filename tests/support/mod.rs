//! Test infrastructure beyond `common`: an in-process HTTP(S) server.
pub mod https;
