//! The `dosim` command line: `list`, `run`, `fuzz`. Exit codes: 0 all as expected, 1 a
//! violation was found, 2 bad usage (with a message saying what was wrong).

use crate::scenarios::{self, check, Expect, Outcome, Scenario, Verdict};
use crate::sim::{time::parse_duration, FaultPolicy, GatePolicy, SimConfig};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Exit status when everything went as expected.
pub const EXIT_OK: i32 = 0;
/// Exit status when a checker found a violation.
pub const EXIT_VIOLATION: i32 = 1;
/// Exit status for bad usage.
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser)]
#[command(name = "dosim", version, about = "Deterministic simulation testing for Cloudflare Durable Objects")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the built-in scenarios.
    List,
    /// Run one scenario for one seed.
    Run(RunArgs),
    /// Run scenarios over many seeds.
    Fuzz(FuzzArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Switch {
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Faults {
    /// Drawn per seed (which faults, how often).
    Swarm,
    /// None.
    Off,
}

/// Options shared by `run` and `fuzz`.
#[derive(Args, Clone)]
struct RunOptions {
    /// Input gate. `off` is the tester's switch: the checkers must then complain.
    #[arg(long, value_enum, default_value = "on")]
    input_gate: Switch,
    /// Output gate. `off` is the tester's switch: the checkers must then complain.
    #[arg(long, value_enum, default_value = "on")]
    output_gate: Switch,
    /// Fault injection.
    #[arg(long, value_enum, default_value = "swarm")]
    faults: Faults,
}

impl RunOptions {
    fn config(&self, seed: u64) -> SimConfig {
        let gate = |s: Switch| {
            if s == Switch::On {
                GatePolicy::Enforced
            } else {
                GatePolicy::Disabled
            }
        };
        let faults = if self.faults == Faults::Swarm { FaultPolicy::Swarm } else { FaultPolicy::Off };
        SimConfig::new(seed).input_gate(gate(self.input_gate)).output_gate(gate(self.output_gate)).faults(faults)
    }

    /// The flags that reproduce these options (empty for the defaults).
    fn flags(&self) -> String {
        let mut s = String::new();
        if self.input_gate == Switch::Off {
            s.push_str(" --input-gate off");
        }
        if self.output_gate == Switch::Off {
            s.push_str(" --output-gate off");
        }
        if self.faults == Faults::Off {
            s.push_str(" --faults off");
        }
        s
    }
}

#[derive(Args)]
struct RunArgs {
    /// Scenario name (see `dosim list`).
    scenario: String,
    /// The seed to run.
    #[arg(long)]
    seed: u64,
    /// Print the runtime trace, one line per event.
    #[arg(long)]
    trace: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    options: RunOptions,
}

#[derive(Args)]
struct FuzzArgs {
    /// Only this scenario (default: every built-in scenario).
    #[arg(long)]
    scenario: Option<String>,
    /// Number of seeds per scenario.
    #[arg(long, conflicts_with = "time")]
    seeds: Option<u64>,
    /// Wall-clock budget, like 30s or 10m.
    #[arg(long)]
    time: Option<String>,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    base_seed: u64,
    /// Parallel runs (each on its own thread and runtime).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// JSON lines: one per failing run, then a summary line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    options: RunOptions,
}

/// Runs the command line; returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    match cli.command {
        Command::List => list(),
        Command::Run(a) => run_one(&a),
        Command::Fuzz(a) => fuzz(&a),
    }
}

fn usage(msg: impl std::fmt::Display) -> i32 {
    eprintln!("error: {msg}");
    EXIT_USAGE
}

fn find(name: &str) -> Result<&'static dyn Scenario, String> {
    scenarios::find(name).ok_or_else(|| {
        let names: Vec<_> = scenarios::all().iter().map(|s| s.name()).collect();
        format!("unknown scenario {name:?}; the scenarios are: {}", names.join(", "))
    })
}

fn list() -> i32 {
    for s in scenarios::all() {
        let tag = if s.expect() == Expect::Defect { "  (has a known defect: must fail)" } else { "" };
        println!("{:<16} {}{tag}", s.name(), s.about());
    }
    EXIT_OK
}

/// The command that replays one run.
pub fn replay_command(scenario: &str, seed: u64, flags: &str) -> String {
    format!("dosim run {scenario} --seed {seed}{flags} --trace")
}

fn run_json(o: &Outcome, wall: Duration) -> serde_json::Value {
    let r = &o.report;
    serde_json::json!({
        "scenario": o.scenario,
        "seed": r.seed,
        "verdict": o.verdict(),
        "trace_hash": r.trace_hash,
        "violations": o.violations.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "faults": r.faults.to_string(),
        "requests": r.history.len(),
        "stats": r.stats,
        "sim_time_ms": r.sim_time.as_millis(),
        "wall_ms": (wall.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
    })
}

fn run_one(a: &RunArgs) -> i32 {
    let scenario = match find(&a.scenario) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let started = Instant::now();
    let outcome = check(scenario, a.options.config(a.seed));
    let wall = started.elapsed();
    if a.json {
        println!("{}", run_json(&outcome, wall));
    } else {
        if a.trace {
            print!("{}", outcome.report.trace_text());
            println!();
        }
        print_outcome(&outcome, wall, &a.options.flags());
    }
    if outcome.verdict() == Verdict::Pass {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}

fn print_outcome(o: &Outcome, wall: Duration, flags: &str) {
    let s = o.summary();
    let r = &o.report;
    println!("scenario {}  seed {}  faults: {}", o.scenario, r.seed, s.faults);
    println!(
        "calls {} (ok {}, fail {}, info {}, pending {})  crashes {}  commits {}  held replies {}  gate waits {}",
        s.requests, s.ok, s.fail, s.info, s.pending, s.crashes, s.commits, s.held_replies, s.gate_waits
    );
    println!(
        "simulated {} ms in {:.2} ms of wall time  trace_hash {}",
        s.sim_time_ms,
        wall.as_secs_f64() * 1000.0,
        r.trace_hash
    );
    match o.verdict() {
        Verdict::Pass => println!("verdict: pass"),
        Verdict::Fail => {
            println!("verdict: FAIL");
            for v in &o.violations {
                println!("  {v}");
            }
            println!("replay: {}", replay_command(o.scenario, r.seed, flags));
        }
    }
}

/// Per-scenario tally of a fuzz run.
struct Tally {
    scenario: &'static dyn Scenario,
    runs: u64,
    failures: u64,
    first_failure: Option<Outcome>,
}

fn fuzz(a: &FuzzArgs) -> i32 {
    let chosen: Vec<&'static dyn Scenario> = match &a.scenario {
        Some(name) => match find(name) {
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
    if a.jobs == 0 {
        return usage("--jobs must be at least 1");
    }
    let started = Instant::now();
    let mut tallies: Vec<Tally> =
        chosen.iter().map(|s| Tally { scenario: *s, runs: 0, failures: 0, first_failure: None }).collect();
    let flags = a.options.flags();
    let progress = std::io::stderr().is_terminal() && !a.json;
    let mut round: u64 = 0;
    loop {
        let batch = match budget {
            Budget::Seeds(n) if round >= n => break,
            Budget::Seeds(n) => (n - round).min(64 * a.jobs as u64),
            Budget::Time(d) if started.elapsed() >= d => break,
            Budget::Time(_) => 8 * a.jobs as u64,
        };
        let seeds: Vec<u64> = (round..round + batch).map(|i| a.base_seed.wrapping_add(i)).collect();
        round += batch;
        for t in tallies.iter_mut() {
            for o in run_many(t.scenario, &seeds, &a.options, a.jobs) {
                t.runs += 1;
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
        if progress {
            let runs: u64 = tallies.iter().map(|t| t.runs).sum();
            let fails: u64 = tallies.iter().map(|t| t.failures).sum();
            let secs = started.elapsed().as_secs_f64();
            eprint!("\r{runs} runs, {:.0} runs/s, {fails} failing", runs as f64 / secs.max(1e-9));
            let _ = std::io::stderr().flush();
        }
    }
    if progress {
        eprintln!();
    }
    report_fuzz(&tallies, started.elapsed(), a.json, &flags, a.scenario.is_some())
}

enum Budget {
    Seeds(u64),
    Time(Duration),
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

fn report_fuzz(tallies: &[Tally], wall: Duration, json: bool, flags: &str, single: bool) -> i32 {
    let runs: u64 = tallies.iter().map(|t| t.runs).sum();
    let failures: u64 = tallies.iter().map(|t| t.failures).sum();
    // One scenario named on the command line: any failure is a finding (exit 1).
    // All built-ins: a scenario with a known defect is expected to fail, and one that
    // never fails is the surprise.
    let unexpected: Vec<&Tally> = tallies
        .iter()
        .filter(|t| match (single, t.scenario.expect()) {
            (true, _) | (false, Expect::Pass) => t.failures > 0,
            (false, Expect::Defect) => t.failures == 0,
        })
        .collect();
    if json {
        let per: Vec<_> = tallies
            .iter()
            .map(|t| serde_json::json!({"scenario": t.scenario.name(), "runs": t.runs, "failures": t.failures}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"summary": true, "runs": runs, "failures": failures, "scenarios": per, "wall_s": wall.as_secs_f64()})
        );
    } else {
        println!(
            "{runs} runs in {:.2} s ({:.0} runs/s)",
            wall.as_secs_f64(),
            runs as f64 / wall.as_secs_f64().max(1e-9)
        );
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
                println!("      replay: {}", replay_command(o.scenario, o.report.seed, flags));
            }
        }
    }
    if unexpected.is_empty() {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}
