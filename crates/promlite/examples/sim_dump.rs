//! Prints one simulated kube-controller-manager scrape (instance 0) to stdout, so the
//! simulator's output can be checked with other tools (`promtool check metrics`).
use std::io::Write;

fn main() {
    let mut sim = promlite::sim::KcmSim::new(promlite::sim::SimConfig::default());
    let mut last = Vec::new();
    for _ in 0..5 {
        last = sim.next_scrape();
    }
    std::io::stdout().write_all(&last[0].body).expect("stdout");
}
