//! orq-bench: orq's throughput from Rust against the minimal hand-made SQL
//! queue ("the ceiling", figure G), measured side by side in one run.
//!
//! usage: orq-bench [--quick] [--json] [--ext PATH]
//!        orq-bench --profile BATCH      (one drain, long enough to profile)
//!        orq-bench --retention [JOBS]   (bytes per job; JOBS, default 10M,
//!                                        through retention at 1 h: minutes)
//!
//! Each figure runs several times and reports the median. The machine is
//! shared and noisy: compare ratios, which come from the same run.
//! benches/run drives this and the Python figures, and writes RESULTS.md.

mod baseline;
mod dag;
mod drain;
mod insert;
mod retention;
mod setup;

use std::time::Instant;

pub struct Config {
    pub ext: std::path::PathBuf,
    pub runs: usize,
    pub big_backlog: usize,
    /// Record events (orq's audit trail) for the benchmark queue.
    pub events: bool,
}

/// One measured figure: orq's median and the ceiling's, in jobs per second.
struct Figure {
    id: &'static str,
    label: String,
    orq: f64,
    ceiling: Option<f64>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let ext = args
        .iter()
        .position(|a| a == "--ext")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| setup::root().join("target/release/liborq.so"));
    let quick = flag("--quick");
    let mut config = Config {
        ext,
        runs: if quick { 1 } else { 5 },
        big_backlog: if quick { 100_000 } else { 1_000_000 },
        events: true,
    };
    if flag("--profile-enqueue") {
        let rate = insert::orq_batch(&config, 300_000, insert::Batch::Many);
        println!("orq batch enqueue: {rate:.0} jobs/s");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        let batch = args.get(i + 1).and_then(|b| b.parse().ok()).unwrap_or(100);
        config.events = std::env::var_os("ORQ_BENCH_EVENTS_OFF").is_none();
        let rate = drain::orq(&config, 100_000, batch, 50_000);
        println!("orq batch {batch}: {rate:.0} jobs/s");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--retention") {
        let jobs = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(10_000_000);
        println!("{}\n", setup::machine_line(&config));
        retention::run(&config, jobs);
        return;
    }
    let started = Instant::now();
    let figures = measure(&mut config);
    if flag("--json") {
        println!("{}", serde_json::json!({"machine": setup::machine_line(&config)}));
        for f in &figures {
            println!(
                "{}",
                serde_json::json!({"id": f.id, "label": f.label, "orq": f.orq, "ceiling": f.ceiling})
            );
        }
        return;
    }
    println!("{}\n", setup::machine_line(&config));
    println!("| figure | orq | ceiling | orq / ceiling |");
    println!("|---|---:|---:|---:|");
    for f in &figures {
        match f.ceiling {
            Some(c) => println!("| {} {} | {:.0} | {c:.0} | {:.2} |", f.id, f.label, f.orq, f.orq / c),
            None => println!("| {} {} | {:.2} | | |", f.id, f.label, f.orq),
        }
    }
    println!("\n({} runs per figure, median; {:.0} s in all)", config.runs, started.elapsed().as_secs_f64());
}

fn measure(config: &mut Config) -> Vec<Figure> {
    let runs = config.runs;
    let med = |f: &mut dyn FnMut() -> f64| median((0..runs).map(|_| f()).collect());
    let mut out = Vec::new();
    let a = med(&mut || insert::orq_single(config, 10_000));
    out.push(Figure {
        id: "A",
        label: "enqueue 10,000, one transaction each (jobs/s)".into(),
        orq: a,
        ceiling: Some(med(&mut || baseline::insert_single(10_000))),
    });
    let b_ceiling = med(&mut || baseline::insert_batch(100_000));
    for (how, label) in [
        (insert::Batch::Many, "enqueue 100,000 in one transaction (jobs/s)"),
        (insert::Batch::Calls, "enqueue 100,000 in one transaction, a queue_enqueue call per job"),
    ] {
        let orq = med(&mut || insert::orq_batch(config, 100_000, how));
        out.push(Figure { id: "B", label: label.into(), orq, ceiling: Some(b_ceiling) });
    }
    let big = config.big_backlog;
    for (id, label, pending, batch, drained, events) in [
        ("C", "claim 1 + complete 1, 10k pending (jobs/s)", 10_000, 1, 5_000, true),
        ("C", "claim 1 + complete 1, events off", 10_000, 1, 5_000, false),
        ("C", "claim 100 + complete 100 per transaction (jobs/s)", 10_000, 100, 10_000, true),
        ("C", "claim 100 + complete 100, events off", 10_000, 100, 10_000, false),
        ("F", "claim 1 + complete 1, 1k pending", 1_000, 1, 500, true),
        ("F", "claim 1 + complete 1, 100k pending", 100_000, 1, 5_000, true),
        ("F", "claim 1 + complete 1, BIG pending", big, 1, 5_000, true),
        ("F", "claim 100 + complete 100, 1k pending", 1_000, 100, 500, true),
        ("F", "claim 100 + complete 100, 100k pending", 100_000, 100, 20_000, true),
        ("F", "claim 100 + complete 100, BIG pending", big, 100, 20_000, true),
    ] {
        if big == 100_000 && pending == big && label.contains("BIG") {
            continue; // --quick: 100k is already measured
        }
        config.events = events;
        let orq = med(&mut || drain::orq(config, pending, batch, drained));
        let ceiling = med(&mut || baseline::ceiling(pending, batch, drained));
        out.push(Figure { id, label: label.replace("BIG", &setup::count(big)), orq, ceiling: Some(ceiling) });
    }
    config.events = true;
    let dag: Vec<(f64, f64)> = (0..runs).map(|_| dag::submit_and_drain(config, 10_000)).collect();
    out.push(Figure {
        id: "DAG",
        label: "submit a 10,000-job DAG (seconds)".into(),
        orq: median(dag.iter().map(|r| r.0).collect()),
        ceiling: None,
    });
    out.push(Figure {
        id: "DAG",
        label: "drain it, claims of 100 (seconds)".into(),
        orq: median(dag.iter().map(|r| r.1).collect()),
        ceiling: None,
    });
    out
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}
