//! `dosim fuzz`: many seeds of many scenarios, in parallel runs, optionally one shard of
//! the seed space; progress on a terminal (plain lines otherwise), a summary with the
//! "sometimes" coverage table, and the first unexpected failure of each scenario shrunk
//! and saved as a regression file.

use super::{replay_command, run_json, usage, RunOptions, EXIT_OK, EXIT_VIOLATION};
use crate::scenarios::regression::Regression;
use crate::scenarios::shrink::shrink;
use crate::scenarios::{self, check, Expect, Outcome, Scenario, Verdict};
use crate::sim::time::parse_duration;
use crate::sim::SOMETIMES;
use clap::Args;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args)]
pub(super) struct FuzzArgs {
    /// Only this scenario (default: every built-in scenario).
    #[arg(long)]
    scenario: Option<String>,
    /// Number of seeds per scenario.
    #[arg(long)]
    seeds: Option<u64>,
    /// Wall-clock budget, like 30s or 10m.
    #[arg(long)]
    time: Option<String>,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    base_seed: u64,
    /// Run only shard K of M of the seed space (seeds base + K-1, base + K-1 + M, ...).
    #[arg(long)]
    shard: Option<String>,
    /// Parallel runs (each on its own thread and runtime).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// JSON lines: one per failing run, then a summary line.
    #[arg(long)]
    json: bool,
    /// Folder for regression files of unexpected failures.
    #[arg(long, default_value = "regressions")]
    save: PathBuf,
    /// Do not shrink or save failures.
    #[arg(long)]
    no_save: bool,
    /// Run a sample of seeds twice and fail on any difference (always on when CI is set).
    #[arg(long)]
    check_determinism: bool,
    #[command(flatten)]
    options: RunOptions,
}

enum Budget {
    Seeds(u64),
    Time(Duration),
}

/// Shard K of M.
#[derive(Clone, Copy)]
struct Shard {
    index: u64,
    count: u64,
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    let bad = || format!("malformed shard {text:?}: expected K/M with 1 <= K <= M, like 2/4");
    let (k, m) = text.split_once('/').ok_or_else(bad)?;
    let (k, m): (u64, u64) = (k.trim().parse().map_err(|_| bad())?, m.trim().parse().map_err(|_| bad())?);
    if k == 0 || m == 0 || k > m {
        return Err(bad());
    }
    Ok(Shard { index: k - 1, count: m })
}

/// Per-scenario tally.
struct Tally {
    scenario: &'static dyn Scenario,
    runs: u64,
    failures: u64,
    first_failure: Option<Outcome>,
}

/// Every `DETERMINISM_SAMPLE`-th run is run twice when checking determinism.
const DETERMINISM_SAMPLE: u64 = 16;
/// Runs spent shrinking each saved failure.
const SHRINK_BUDGET: u32 = 300;

pub(super) fn fuzz(a: &FuzzArgs) -> i32 {
    let chosen: Vec<&'static dyn Scenario> = match &a.scenario {
        Some(name) => match a.options.scenario(name) {
            Ok(s) => vec![s],
            Err(e) => return usage(e),
        },
        None if a.options.module.is_some() => match a.options.scenario(scenarios::user::GENERIC) {
            Ok(s) => vec![s],
            Err(e) => return usage(e),
        },
        None => scenarios::all().to_vec(),
    };
    let budget = match (&a.seeds, &a.time) {
        (Some(n), None) => Budget::Seeds(*n),
        (None, Some(t)) => match parse_duration(t) {
            Ok(d) => Budget::Time(d),
            Err(e) => return usage(e),
        },
        (None, None) => return usage("say how much to run: --seeds N or --time DURATION"),
        (Some(_), Some(_)) => return usage("--seeds and --time cannot be used together"),
    };
    let shard = match a.shard.as_deref().map(parse_shard).transpose() {
        Ok(s) => s.unwrap_or(Shard { index: 0, count: 1 }),
        Err(e) => return usage(e),
    };
    if a.jobs == 0 {
        return usage("--jobs must be at least 1");
    }
    let determinism = a.check_determinism || std::env::var_os("CI").is_some();
    let seed_of = |i: u64| a.base_seed.wrapping_add(i.wrapping_mul(shard.count)).wrapping_add(shard.index);
    let started = Instant::now();
    let mut tallies: Vec<Tally> =
        chosen.iter().map(|s| Tally { scenario: *s, runs: 0, failures: 0, first_failure: None }).collect();
    let mut sometimes: BTreeMap<String, u64> = BTreeMap::new();
    let mut nondeterministic: Vec<String> = Vec::new();
    let flags = a.options.flags();
    let terminal = std::io::stderr().is_terminal() && !a.json;
    let mut last_line = Instant::now();
    let mut next: u64 = 0;
    loop {
        let batch = match budget {
            Budget::Seeds(n) if next >= n => break,
            Budget::Seeds(n) => (n - next).min(32 * a.jobs as u64),
            Budget::Time(d) if started.elapsed() >= d => break,
            Budget::Time(_) => 4 * a.jobs as u64,
        };
        let seeds: Vec<u64> = (next..next + batch).map(seed_of).collect();
        next += batch;
        for t in tallies.iter_mut() {
            for (i, o) in run_many(t.scenario, &seeds, &a.options, a.jobs).into_iter().enumerate() {
                t.runs += 1;
                for (k, v) in &o.report.stats.sometimes {
                    *sometimes.entry(k.clone()).or_default() += v;
                }
                if determinism && (next - batch + i as u64) % DETERMINISM_SAMPLE == 0 {
                    let again = check(t.scenario, a.options.config(o.report.seed));
                    if again.report.trace_hash != o.report.trace_hash {
                        nondeterministic.push(format!(
                            "{} seed {}: trace hashes {} and {}",
                            t.scenario.name(),
                            o.report.seed,
                            o.report.trace_hash,
                            again.report.trace_hash
                        ));
                    }
                }
                if o.verdict() == Verdict::Fail {
                    t.failures += 1;
                    if a.json {
                        let mut j = run_json(&o, Duration::ZERO);
                        j["replay"] = replay_command(o.scenario, o.report.seed, &flags).into();
                        println!("{j}");
                    }
                    if t.first_failure.is_none() {
                        t.first_failure = Some(o);
                    }
                }
            }
        }
        let (runs, fails): (u64, u64) = tallies.iter().fold((0, 0), |(r, f), t| (r + t.runs, f + t.failures));
        let rate = runs as f64 / started.elapsed().as_secs_f64().max(1e-9);
        if terminal {
            eprint!("\r{runs} runs, {rate:.0} runs/s, {fails} failing ");
            let _ = std::io::stderr().flush();
        } else if last_line.elapsed() >= Duration::from_secs(2) {
            eprintln!(
                "progress: {runs} runs, {rate:.0} runs/s, {fails} failing, {:.0} s",
                started.elapsed().as_secs_f64()
            );
            last_line = Instant::now();
        }
    }
    if terminal {
        eprintln!();
    }
    let single = a.scenario.is_some();
    let saved = if a.no_save { Vec::new() } else { save_failures(&tallies, single, a) };
    report(&tallies, &sometimes, &nondeterministic, &saved, started.elapsed(), a, single)
}

/// Runs `seeds` on up to `jobs` threads; results come back in seed order.
fn run_many(scenario: &'static dyn Scenario, seeds: &[u64], options: &RunOptions, jobs: usize) -> Vec<Outcome> {
    if jobs <= 1 {
        return seeds.iter().map(|&s| check(scenario, options.config(s))).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(seeds.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else { break };
                let o = check(scenario, options.config(seed));
                results.lock().expect("a fuzz worker panicked").push((i, o));
            });
        }
    });
    let mut r = results.into_inner().expect("a fuzz worker panicked");
    r.sort_by_key(|(i, _)| *i);
    r.into_iter().map(|(_, o)| o).collect()
}

/// Whether a scenario's failures are a surprise: with one scenario named, any failure
/// is a finding; over all built-ins, a known defect is expected to fail.
fn unexpected(t: &Tally, single: bool) -> bool {
    match (single, t.scenario.expect()) {
        (true, _) | (false, Expect::Pass) => t.failures > 0,
        (false, Expect::Defect) => t.failures == 0,
    }
}

/// Shrinks the first unexpected failure of each scenario and saves it.
fn save_failures(tallies: &[Tally], single: bool, a: &FuzzArgs) -> Vec<String> {
    let mut saved = Vec::new();
    for t in tallies.iter().filter(|t| unexpected(t, single)) {
        let Some(first) = &t.first_failure else { continue };
        let shrunk = shrink(t.scenario, a.options.config(first.report.seed), SHRINK_BUDGET);
        let outcome = shrunk.as_ref().map_or(first, |s| &s.outcome);
        let Some(regression) = Regression::from_outcome(outcome) else { continue };
        match regression.save(&a.save) {
            Ok(path) => saved.push(path.display().to_string()),
            Err(e) => eprintln!("warning: could not save a regression file in {}: {e}", a.save.display()),
        }
    }
    saved
}

fn report(
    tallies: &[Tally],
    sometimes: &BTreeMap<String, u64>,
    nondeterministic: &[String],
    saved: &[String],
    wall: Duration,
    a: &FuzzArgs,
    single: bool,
) -> i32 {
    let runs: u64 = tallies.iter().map(|t| t.runs).sum();
    let failures: u64 = tallies.iter().map(|t| t.failures).sum();
    let never: Vec<&str> = SOMETIMES.iter().copied().filter(|p| !sometimes.contains_key(*p)).collect();
    let flags = a.options.flags();
    if a.json {
        let per: Vec<_> = tallies
            .iter()
            .map(|t| serde_json::json!({"scenario": t.scenario.name(), "runs": t.runs, "failures": t.failures}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"summary": true, "runs": runs, "failures": failures, "scenarios": per,
                "sometimes": sometimes, "never_reached": never, "nondeterministic": nondeterministic,
                "saved": saved, "wall_s": wall.as_secs_f64()})
        );
    } else {
        let rate = runs as f64 / wall.as_secs_f64().max(1e-9);
        println!("{runs} runs in {:.2} s ({rate:.0} runs/s)", wall.as_secs_f64());
        for t in tallies {
            let note = match (t.scenario.expect(), t.failures) {
                (Expect::Defect, 0) => "known defect NOT found",
                (Expect::Defect, _) if single => "FAILING (its known defect)",
                (Expect::Defect, _) => "known defect found, as expected",
                (Expect::Pass, 0) => "pass",
                (Expect::Pass, _) => "FAILING",
            };
            println!("  {:<16} {:>6} runs {:>6} failing  {note}", t.scenario.name(), t.runs, t.failures);
            if let Some(o) = &t.first_failure {
                if let Some(v) = o.violations.first() {
                    println!("      first failure: seed {}: {v}", o.report.seed);
                }
                println!("      replay: {}", replay_command(o.scenario, o.report.seed, &flags));
            }
        }
        println!("sometimes (interesting states reached, over all runs):");
        for p in SOMETIMES {
            match sometimes.get(*p) {
                Some(n) => println!("  {n:>8}  {p}"),
                None => println!("  {:>8}  {p}   <- never reached", 0),
            }
        }
        for path in saved {
            println!("saved: {path}  (replay: dosim replay {path} --trace)");
        }
        for n in nondeterministic {
            println!("NONDETERMINISM: {n}");
        }
    }
    let surprise = tallies.iter().any(|t| unexpected(t, single));
    if surprise || !nondeterministic.is_empty() {
        EXIT_VIOLATION
    } else {
        EXIT_OK
    }
}
