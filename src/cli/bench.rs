//! `dosim bench`: runs the measurements of [`crate::bench`] and prints them as tables
//! (median [min .. max] of the repetitions) with the ratios to the baselines, or as one
//! JSON object with `--json`.

use super::{usage, EXIT_OK};
use crate::bench::{run_bench, BenchReport, Figure, Options};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
pub(super) struct BenchArgs {
    /// A fast smoke run: fewer seeds, repetitions and sizes (figures are rough).
    #[arg(long)]
    quick: bool,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Seeds per scenario per repetition (default 500; 40 with --quick).
    #[arg(long)]
    seeds: Option<u64>,
    /// Repetitions of every measurement (default 5; 3 with --quick).
    #[arg(long)]
    reps: Option<usize>,
    /// Requests/s of local workerd on the same workload, from `bench/workerd/run.sh`
    /// (also read from DOSIM_WORKERD_RPS).
    #[arg(long)]
    workerd_rps: Option<f64>,
    /// The output of `bench/workerd/run.sh --json`: its `single` median is the workerd figure.
    #[arg(long, conflicts_with = "workerd_rps")]
    workerd_json: Option<PathBuf>,
}

pub(super) fn bench(a: &BenchArgs) -> i32 {
    let mut opts = if a.quick { Options::quick() } else { Options::full() };
    if let Some(s) = a.seeds {
        opts.seeds = s;
    }
    if let Some(r) = a.reps {
        opts.reps = r;
    }
    if opts.seeds == 0 || opts.reps == 0 {
        return usage("--seeds and --reps must be at least 1");
    }
    opts.workerd_rps = match workerd_rps(a) {
        Ok(w) => w,
        Err(e) => return usage(e),
    };
    let tty = std::io::stderr().is_terminal();
    let report = run_bench(&opts, |phase| {
        if tty {
            eprintln!("bench: {phase}...");
        }
    });
    if a.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        print_tables(&report);
    }
    EXIT_OK
}

fn workerd_rps(a: &BenchArgs) -> Result<Option<f64>, String> {
    if let Some(w) = a.workerd_rps {
        return if w > 0.0 { Ok(Some(w)) } else { Err("--workerd-rps must be positive".into()) };
    }
    if let Some(path) = &a.workerd_json {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // run.sh prints its tables, then one JSON line; take the last line that parses.
        let single =
            text.lines().rev().filter_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok()).find_map(|v| {
                v.get("results")?
                    .as_array()?
                    .iter()
                    .find(|r| r["variant"] == "single")
                    .and_then(|r| r["median"].as_f64())
            });
        return single
            .map(Some)
            .ok_or_else(|| format!("{} holds no JSON line with a `single` result from bench/workerd", path.display()));
    }
    match std::env::var("DOSIM_WORKERD_RPS") {
        Ok(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|w| *w > 0.0)
            .map(Some)
            .ok_or_else(|| format!("DOSIM_WORKERD_RPS={s:?} is not a positive number")),
        Err(_) => Ok(None),
    }
}

/// `median [min .. max]`, with `digits` decimals.
fn fig(f: Figure, digits: usize) -> String {
    format!("{} [{} .. {}]", num(f.median, digits), num(f.min, digits), num(f.max, digits))
}

/// A number with thousands separators.
fn num(x: f64, digits: usize) -> String {
    let s = format!("{:.*}", digits, x.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    if x < 0.0 {
        out.insert(0, '-');
    }
    out
}

fn print_tables(r: &BenchReport) {
    let m = &r.machine;
    println!(
        "dosim bench: {} build, {} cores ({}), load average {:.2} before, {:.2} after",
        m.profile, m.cores, m.cpu, m.load_before, m.load_after
    );
    println!("every figure: median [min .. max] of {} repetitions; one thread", r.reps);
    if m.profile != "release" {
        println!("warning: a debug build; only --release figures mean anything");
    }

    println!(
        "\nExploration speed: {} seeds per scenario per repetition (dosim fuzz's work: generate, run, check)",
        r.seeds
    );
    println!(
        "{:<24} {:>26} {:>30} {:>30} {:>30}",
        "scenario", "runs/s", "requests/s", "storage ops/s", "sim ms per wall s"
    );
    let name = |s: &crate::bench::ScenarioFigures| match (s.trace, s.fresh_threads) {
        (false, _) => format!("{} (no trace)", s.scenario),
        (true, true) => format!("{} (fresh threads)", s.scenario),
        (true, false) => s.scenario.clone(),
    };
    for s in &r.scenarios {
        println!(
            "{:<24} {:>26} {:>30} {:>30} {:>30}",
            name(s),
            fig(s.runs_per_s, 0),
            fig(s.requests_per_s, 0),
            fig(s.storage_ops_per_s, 0),
            fig(s.sim_ms_per_wall_s, 0)
        );
    }
    println!("\nPer run (requests, storage ops and simulated time are the same in every repetition)");
    println!(
        "{:<24} {:>24} {:>9} {:>9} {:>11} {:>22}",
        "scenario", "wall µs per run", "requests", "ops", "sim ms", "cpu/wall"
    );
    for s in &r.scenarios {
        println!(
            "{:<22} {:>24} {:>9.1} {:>9.1} {:>11.1} {:>22}",
            name(s),
            fig(s.us_per_run, 1),
            s.requests_per_run,
            s.storage_ops_per_run,
            s.sim_ms_per_run,
            fig(s.cpu_per_wall, 2)
        );
    }
    let failing: Vec<String> = r
        .scenarios
        .iter()
        .filter(|s| s.failing_runs > 0)
        .map(|s| format!("{} {}", s.scenario, s.failing_runs))
        .collect();
    if !failing.is_empty() {
        println!(
            "runs with a violation, per repetition: {} (the racy scenarios are meant to fail)",
            failing.join(", ")
        );
    }

    let f = &r.fixed_cost;
    println!("\nFixed cost and per-call cost: counter, one client making N increments, no faults");
    println!("{:>7} {:>5} {:>30} {:>26}", "calls", "runs", "µs per run", "µs per call");
    for s in &f.sizes {
        println!("{:>7} {:>5} {:>30} {:>26}", s.calls, s.runs, fig(s.us_per_run, 1), fig(s.us_per_call, 2));
    }
    println!("least squares, time per run = fixed + per_call × calls (one fit per repetition):");
    println!("  weighted by 1/time² (each size by its relative error):");
    println!("    fixed    {} µs per run", fig(f.fixed_us, 1));
    println!("    per_call {} µs per call", fig(f.per_call_us, 3));
    println!("  unweighted (the largest size dominates):");
    println!("    fixed    {} µs per run", fig(f.plain_fixed_us, 1));
    println!("    per_call {} µs per call", fig(f.plain_per_call_us, 3));
    let p = &f.pieces;
    println!("pieces, each timed alone (µs):");
    println!("  OS thread spawn + join                         {}", fig(p.thread_us, 1));
    println!("  thread + madsim runtime + empty block_on       {}", fig(p.thread_runtime_us, 1));
    println!("  SQLite open_in_memory + _cf_KV table           {}", fig(p.sqlite_open_us, 1));
    println!("  counter workload generation (proptest)         {}", fig(p.workload_generation_us, 1));
    println!("  dosim run with an empty workload (no object)   {}", fig(p.empty_run_us, 1));

    let b = &r.baselines;
    println!("\nThe counter's increments: directly, in dosim, and in local workerd");
    println!("{:<92} {:>32} {:>10} {:>10}", "", "requests/s", "direct/x", "x/workerd");
    for row in &b.rows {
        let vs = row.vs_workerd.map_or("-".to_owned(), |v| format!("{v:.0}x"));
        println!("{:<92} {:>32} {:>9.1}x {:>10}", row.what, fig(row.requests_per_s, 0), row.overhead_vs_direct, vs);
    }
    match b.workerd_rps {
        Some(w) => println!(
            "{:<92} {:>32} {:>10} {:>10}",
            "workerd (local, SQLite-backed, 4 clients -> 1 object; as given, from bench/workerd/run.sh)",
            num(w, 0),
            "",
            "1x"
        ),
        None => println!(
            "workerd: not given (run bench/workerd/run.sh --json, then pass --workerd-json FILE or --workerd-rps N)"
        ),
    }

    println!("\nThe same counter (get, then put) as a Rust object and as a TypeScript object, one client making N increments, no faults");
    println!(
        "{:<24} {:<18} {:>30} {:>30} {:>10} {:>10}",
        "language", "scenario", "fixed µs per run", "µs per call", "fixed/x₀", "call/x₀"
    );
    for l in &r.languages {
        println!(
            "{:<24} {:<18} {:>30} {:>30} {:>9.2}x {:>9.2}x",
            l.language,
            l.scenario,
            fig(l.fixed_us, 1),
            fig(l.per_call_us, 2),
            l.fixed_vs_first,
            l.per_call_vs_first
        );
    }

    println!("\nAn hour of timer and alarm activity: one object waking every simulated second, no faults");
    println!("{:<56} {:>6} {:>10} {:>28}", "each wake", "wakes", "sim ms", "wall ms");
    for t in r.timers.iter().chain(std::iter::once(&r.alarm_hour)) {
        println!("{:<56} {:>6} {:>10} {:>28}", t.what, t.wakes, t.sim_ms, fig(t.wall_ms, 2));
        for v in &t.violations {
            println!("  violation: {v}");
        }
    }

    println!(
        "\nPeak memory (getrusage ru_maxrss): {} KiB at the start, {} KiB at the end",
        r.peak_rss_kib_start, r.peak_rss_kib
    );

    print_targets(r);
}

fn print_targets(r: &BenchReport) {
    println!("\nTargets (goals to measure against, not assertions)");
    let row = |target: &str, measured: String, met: Option<bool>| {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "-",
        };
        println!("  {target:<62} {measured:<28} {verdict}");
    };
    if let Some(c) = r.scenarios.iter().find(|s| s.scenario == "counter" && s.trace && !s.fresh_threads) {
        let v = c.storage_ops_per_s.median;
        row("storage ops/s per core, counter scenario >= 200,000", format!("{} /s", num(v, 0)), Some(v >= 200_000.0));
    }
    let fixed = r.fixed_cost.fixed_us.median;
    row("per-run fixed cost <= 100 µs (intercept, weighted fit)", format!("{fixed:.1} µs"), Some(fixed <= 100.0));
    if let Some(one) = r.fixed_cost.sizes.iter().find(|s| s.calls == 1) {
        let t = one.us_per_run.median;
        row("  (a whole counter run of one call, timed directly)", format!("{t:.1} µs"), Some(t <= 100.0));
    }
    let empty = r.fixed_cost.pieces.empty_run_us.median;
    row("  (an empty dosim run, timed directly)", format!("{empty:.1} µs"), Some(empty <= 100.0));
    for row_ in r.baselines.rows.iter().filter(|t| t.what.contains("clients x")) {
        let name = row_.what.split(':').next().unwrap_or("");
        match row_.vs_workerd {
            Some(x) => {
                row(&format!(">= 100x local workerd's requests/s ({name})"), format!("{x:.0}x"), Some(x >= 100.0))
            }
            None => {
                row(&format!(">= 100x local workerd's requests/s ({name})"), "workerd figure not given".into(), None)
            }
        }
    }
    if let Some(js) = r.languages.get(1) {
        let (f, c) = (js.fixed_vs_first, js.per_call_vs_first);
        row("JS fixed cost per run <= 2.0x the Rust counter's", format!("{f:.2}x"), Some(f <= 2.0));
        row("JS cost per call <= 1.5x the Rust counter's", format!("{c:.2}x"), Some(c <= 1.5));
    }
    let runs = |name: &str| {
        r.scenarios.iter().find(|s| s.scenario == name && s.trace && !s.fresh_threads).map(|s| s.runs_per_s.median)
    };
    if let (Some(js), Some(rust)) = (runs("safe-counter-js"), runs("safe-counter")) {
        let x = js / rust;
        row("safe-counter-js runs/s >= 0.5x safe-counter's", format!("{x:.2}x"), Some(x >= 0.5));
    }
    let a = &r.alarm_hour;
    let ms = a.wall_ms.median;
    // An hour is 3,600 firings: fewer means the run stopped early and the time says nothing.
    let hour = a.wakes >= 3600;
    row(
        &format!("an hour of alarm activity in < 50 ms ({} alarms)", a.wakes),
        format!("{ms:.2} ms"),
        Some(hour && ms < 50.0),
    );
    for t in &r.timers {
        let ms = t.wall_ms.median;
        row(&format!("  and 1 h of timers: {}", t.what), format!("{ms:.2} ms"), Some(ms < 50.0));
    }
}
