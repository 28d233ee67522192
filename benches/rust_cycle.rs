//! Uncontended acquire + release cycles from Rust, printed as one JSON line like the C and Node
//! cycle benchmarks: `cargo bench --bench rust_cycle -- <dir> <iterations>`.

use session_write_lock::{acquire, Options};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let dir = args
        .first()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let iterations: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let file = dir.join("s.jsonl");
    let options = Options::default();
    let cycle = || {
        let started = Instant::now();
        let guard = acquire(&file, &options).expect("uncontended acquire");
        guard.release().expect("release");
        started.elapsed().as_nanos() as u64
    };
    for _ in 0..(iterations / 10).max(100) {
        cycle();
    }
    let mut samples: Vec<u64> = (0..iterations).map(|_| cycle()).collect();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        r#"{{"impl":"swl-rust","iterations":{iterations},"median_ns_per_cycle":{},"p99_ns":{}}}"#,
        at(0.5),
        at(0.99)
    );
}
