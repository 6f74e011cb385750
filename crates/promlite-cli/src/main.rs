//! The `promlite` command-line tool.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("promlite: no commands yet");
    std::process::exit(2);
}
