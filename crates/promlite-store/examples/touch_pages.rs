//! What fresh memory costs on this machine: `cargo run --release -p promlite-store
//! --example touch_pages -- [MIB]` (default 880, about what a first scrape of the
//! high-cardinality set touches) writes one byte per 4 KiB page of a new
//! allocation and prints the thread's user and system CPU time. The system time
//! is the kernel supplying pages, which a first scrape pays too.

#[path = "support/cpu.rs"]
mod cpu;
use cpu::user_sys;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(880);
    let n = mib << 20;
    let (u0, s0) = user_sys();
    // vec! of zeros maps zero pages lazily; the writes below fault each one in.
    let mut v = vec![0u8; n];
    for i in (0..n).step_by(4096) {
        v[i] = 1;
    }
    let (u1, s1) = user_sys();
    let pages = (n / 4096) as f64;
    println!(
        "touched {mib} MiB: user {:.2} s, system {:.2} s, {:.2} µs of system time per page ({})",
        u1 - u0,
        s1 - s0,
        (s1 - s0) * 1e6 / pages,
        v.iter()
            .step_by(4096)
            .map(|&b| usize::from(b))
            .sum::<usize>()
    );
}
