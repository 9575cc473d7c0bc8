//! orq-bench: claim + complete throughput of liborq against the minimal
//! hand-made SQL queue ("the ceiling"), measured side by side in one run.
//!
//! usage: orq-bench [--quick] [--ext PATH]
//!
//! Each figure runs several times; the table shows medians. The machine is
//! shared and noisy: compare the ratios, which come from the same run.

mod baseline;
mod dag;
mod drain;
mod setup;

use std::time::Instant;

pub struct Config {
    pub ext: std::path::PathBuf,
    pub runs: usize,
    pub big_backlog: usize,
    /// Record events (orq's audit trail) for the benchmark queue.
    pub events: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let ext = args
        .iter()
        .position(|a| a == "--ext")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| setup::root().join("target/release/liborq.so"));
    let mut config = Config {
        ext,
        runs: if quick { 1 } else { 5 },
        big_backlog: if quick { 100_000 } else { 1_000_000 },
        events: true,
    };
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        // One figure alone, long enough to profile: --profile BATCH
        let batch = args.get(i + 1).and_then(|b| b.parse().ok()).unwrap_or(100);
        config.events = std::env::var_os("ORQ_BENCH_EVENTS_OFF").is_none();
        let rate = drain::orq(&config, 100_000, batch, 50_000);
        println!("orq batch {batch}: {rate:.0} jobs/s");
        return;
    }
    let started = Instant::now();
    println!("{}", setup::machine_line(&config));
    println!();
    println!("| figure | orq jobs/s | ceiling jobs/s | orq / ceiling |");
    println!("|---|---:|---:|---:|");
    let big = config.big_backlog;
    for (label, pending, batch, drained, events) in [
        ("C: claim 1 + complete 1, 10k pending", 10_000, 1, 5_000, true),
        ("C: same, events off", 10_000, 1, 5_000, false),
        ("C: claim 100 + complete 100 per transaction, 10k pending", 10_000, 100, 10_000, true),
        ("C: same, events off", 10_000, 100, 10_000, false),
        ("F: claim 1 + complete 1, 1k pending", 1_000, 1, 500, true),
        ("F: claim 1 + complete 1, BIG pending", big, 1, 5_000, true),
        ("F: claim 100 + complete 100, 1k pending", 1_000, 100, 500, true),
        ("F: claim 100 + complete 100, BIG pending", big, 100, 20_000, true),
    ] {
        config.events = events;
        let label = label.replace("BIG", &setup::count(big));
        let orq = median((0..config.runs).map(|_| drain::orq(&config, pending, batch, drained)).collect());
        let ceiling = median((0..config.runs).map(|_| baseline::ceiling(pending, batch, drained)).collect());
        println!("| {label} | {orq:.0} | {ceiling:.0} | {:.2} |", orq / ceiling);
    }
    config.events = true;
    let runs: Vec<(f64, f64)> = (0..config.runs).map(|_| dag::submit_and_drain(&config, 10_000)).collect();
    let submit = median(runs.iter().map(|r| r.0).collect());
    let drain = median(runs.iter().map(|r| r.1).collect());
    println!();
    println!("DAG of 10,000 jobs (up to 3 parents each): submitted in {submit:.2} s, drained in {drain:.2} s ({:.0} jobs/s)", 10_000.0 / drain);
    println!();
    println!("({} runs per figure, median; {:.0} s in all)", config.runs, started.elapsed().as_secs_f64());
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}
