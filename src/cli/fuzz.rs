//! `dosim fuzz`: many seeds of many scenarios on a pool of worker threads (every core by
//! default), optionally one shard of the seed space; progress on a terminal (plain lines
//! otherwise), a summary with the "sometimes" coverage table, and the first unexpected
//! failure of each scenario shrunk and saved as a regression file. A first SIGINT/SIGTERM
//! stops it early with the summary so far.

use super::diagnose::Diagnosis;
use super::interrupt;
use super::summary::{self, ExpectName, FirstFailure, ScenarioCounts, SummaryLine};
use super::{replay_command, run_json, usage, RunOptions};
use crate::scenarios::regression::{Regression, VERSION};
use crate::scenarios::shrink::shrink;
use crate::scenarios::{self, check, Outcome, Scenario, Verdict};
use crate::sim::time::parse_duration;
use crate::sim::SOMETIMES;
use clap::Args;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Args)]
pub(super) struct FuzzArgs {
    /// Only this scenario (default: every built-in scenario).
    #[arg(long)]
    scenario: Option<String>,
    /// Number of seeds per scenario.
    #[arg(long)]
    seeds: Option<u64>,
    /// Wall-clock budget, like 30s or 10m (at most 30 days).
    #[arg(long)]
    time: Option<String>,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    base_seed: u64,
    /// Run only shard K of M of the seed space (seeds base + K-1, base + K-1 + M, ...).
    #[arg(long)]
    shard: Option<String>,
    /// Parallel runs, 1 to 1024 (default: every core the system offers). The results do
    /// not depend on it.
    #[arg(long)]
    jobs: Option<u64>,
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

#[derive(Clone, Copy)]
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
    diagnosis: Diagnosis,
    /// The scenario's runs until its first failure, and the wall time then.
    first_failure_at: Option<(u64, f64)>,
}

/// Every `DETERMINISM_SAMPLE`-th seed is run twice when checking determinism.
const DETERMINISM_SAMPLE: u64 = 16;
/// Runs spent shrinking each saved failure.
const SHRINK_BUDGET: u32 = 300;
/// The most parallel runs `--jobs` accepts: far above any machine's cores, far below
/// what would exhaust threads.
const MAX_JOBS: u64 = 1024;
/// The longest `--time`: a longer budget is a typo (a campaign beyond one machine is
/// split into shards; see `dosim merge`).
const MAX_TIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Runs a worker may start ahead of the oldest unreported one, per job: bounds the
/// results held back to report in order when one run is slow.
const WINDOW_PER_JOB: u64 = 64;

pub(super) fn fuzz(a: &FuzzArgs) -> i32 {
    let budget = match (&a.seeds, &a.time) {
        (Some(0), None) => return usage("--seeds must be at least 1"),
        (Some(n), None) => Budget::Seeds(*n),
        (None, Some(t)) => match parse_duration(t) {
            Ok(d) if d.is_zero() => return usage(format!("--time {t}: the budget must be more than 0")),
            Ok(d) if d > MAX_TIME => {
                return usage(format!("--time {t}: at most 30 days (720h); split longer campaigns into --shard runs"))
            }
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
    let jobs = match a.jobs {
        None => std::thread::available_parallelism().map_or(1, |n| n.get() as u64).min(MAX_JOBS),
        Some(n) if (1..=MAX_JOBS).contains(&n) => n,
        Some(n) => return usage(format!("--jobs {n}: between 1 and {MAX_JOBS}")),
    };
    // Loading a user module compiles it and runs its top level: after the cheap checks.
    let chosen: Vec<&'static dyn Scenario> = match &a.scenario {
        Some(name) => match a.options.scenario(name) {
            Ok(s) => vec![s],
            Err(e) => return usage(e),
        },
        None if a.options.module.is_some() || a.options.project_config().is_some() => {
            match a.options.scenario(scenarios::user::GENERIC) {
                Ok(s) => vec![s],
                Err(e) => return usage(e),
            }
        }
        None => scenarios::all().to_vec(),
    };
    if let Err(e) = interrupt::install() {
        eprintln!("warning: {e}; an interruption will lose the summary");
    }
    let started = Instant::now();
    let pool = Pool {
        scenarios: &chosen,
        options: &a.options,
        base_seed: a.base_seed,
        shard,
        determinism: a.check_determinism || std::env::var_os("CI").is_some(),
    };
    let outcome = pool.run(budget, jobs, a.json, started);
    let interrupted = outcome.interrupted;
    let (tallies, sometimes, used) = (outcome.tallies, outcome.sometimes, outcome.used);
    let single = a.scenario.is_some();
    let saved = if a.no_save { Vec::new() } else { save_failures(&tallies, single, a) };
    let line = SummaryLine {
        summary: true,
        dosim_version: VERSION.to_owned(),
        shard: format!("{}/{}", shard.index + 1, shard.count),
        base_seed: a.base_seed,
        single,
        interrupted,
        runs: tallies.iter().map(|t| t.runs).sum(),
        failures: tallies.iter().map(|t| t.failures).sum(),
        scenarios: tallies
            .iter()
            .map(|t| {
                let expect = ExpectName::from(t.scenario.expect());
                ScenarioCounts {
                    scenario: t.scenario.name().to_owned(),
                    runs: t.runs,
                    failures: t.failures,
                    expect,
                    unexpected: summary::unexpected(expect, t.failures, single),
                    what_went_wrong: t.diagnosis.lines(t.runs),
                    first_failure_run: t.first_failure_at.map(|(run, _)| run),
                    first_failure_s: t.first_failure_at.map(|(_, secs)| secs),
                }
            })
            .collect(),
        // Only the states the scenarios' objects could reach: a KV-only state is no gap in
        // the exploration of objects that all run on SQLite.
        never_reached: SOMETIMES
            .iter()
            .filter(|p| !sometimes.contains_key(**p) && crate::sim::reachable(p, &used))
            .map(|p| (*p).to_owned())
            .collect(),
        sometimes,
        nondeterministic: outcome.nondeterministic,
        errors: outcome.errors,
        saved,
        wall_s: started.elapsed().as_secs_f64(),
    };
    report(&line, &tallies, a)
}

/// What the pool hands back.
struct Finished {
    tallies: Vec<Tally>,
    sometimes: BTreeMap<String, u64>,
    /// Features of the runtime some run's objects used (see `NEEDS`).
    used: std::collections::BTreeSet<String>,
    nondeterministic: Vec<String>,
    /// Panics of dosim itself.
    errors: Vec<String>,
    /// Whether a signal stopped it before the budget was spent.
    interrupted: bool,
}

/// One run's result, reduced to what the report needs (a passing run's report is dropped
/// on the worker).
struct Ran {
    sometimes: BTreeMap<String, u64>,
    used: std::collections::BTreeSet<String>,
    failure: Option<Outcome>,
    nondeterministic: Option<String>,
    diagnosis: Diagnosis,
}

/// Which runs to make. Run `i` is seed index `i / scenarios` of scenario `i % scenarios`:
/// every scenario advances together, so a time budget spreads evenly, and the order (and
/// so the output) is the same for any number of jobs.
struct Pool<'a> {
    scenarios: &'a [&'static dyn Scenario],
    options: &'a RunOptions,
    base_seed: u64,
    shard: Shard,
    determinism: bool,
}

/// Hand-out state shared by the workers.
struct Dispatch {
    /// The next run to start.
    next: u64,
    /// Runs reported so far (always a prefix: 0..reported).
    reported: u64,
    /// No new run is to start.
    stop: bool,
}

impl Pool<'_> {
    fn seed_of(&self, index: u64) -> u64 {
        self.base_seed.wrapping_add(index.wrapping_mul(self.shard.count)).wrapping_add(self.shard.index)
    }

    /// Run `i`, on a worker.
    fn run_one(&self, i: u64) -> Ran {
        let n = self.scenarios.len() as u64;
        let (scenario, index) = (self.scenarios[(i % n) as usize], i / n);
        let o = check(scenario, self.options.config(self.seed_of(index)));
        let nondeterministic = (self.determinism && index % DETERMINISM_SAMPLE == 0)
            // Again on a fresh thread: the check also covers running on a run host.
            .then(|| crate::sim::run::on_fresh_threads(|| check(scenario, self.options.config(o.report.seed))))
            .filter(|again| again.report.trace_hash != o.report.trace_hash)
            .map(|again| {
                format!(
                    "{} seed {}: trace hashes {} and {}",
                    scenario.name(),
                    o.report.seed,
                    o.report.trace_hash,
                    again.report.trace_hash
                )
            });
        let sometimes = o.report.stats.sometimes.clone();
        let used = o.report.stats.used.clone();
        let diagnosis = Diagnosis::of(&o.report);
        let failure = (o.verdict() == Verdict::Fail).then_some(o);
        Ran { sometimes, used, failure, nondeterministic, diagnosis }
    }

    /// Runs until the budget is spent or a signal arrives, on `jobs` workers, and reports
    /// each run in run order on this thread.
    fn run(&self, budget: Budget, jobs: u64, json: bool, started: Instant) -> Finished {
        let n = self.scenarios.len() as u64;
        // Past u64::MAX runs the budget is endless anyway.
        let limit = match budget {
            Budget::Seeds(s) => s.saturating_mul(n),
            Budget::Time(_) => u64::MAX,
        };
        let deadline = match budget {
            Budget::Time(d) => started.checked_add(d),
            Budget::Seeds(_) => None,
        };
        // More workers than runs would only start and stop.
        let jobs = jobs.min(limit.max(1));
        let window = WINDOW_PER_JOB * jobs;
        let dispatch = Mutex::new(Dispatch { next: 0, reported: 0, stop: false });
        let wake = Condvar::new();
        let lock = || dispatch.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut fin = Finished {
            tallies: self
                .scenarios
                .iter()
                .map(|s| Tally {
                    scenario: *s,
                    runs: 0,
                    failures: 0,
                    first_failure: None,
                    first_failure_at: None,
                    diagnosis: Diagnosis::default(),
                })
                .collect(),
            sometimes: BTreeMap::new(),
            used: Default::default(),
            nondeterministic: Vec::new(),
            errors: Vec::new(),
            interrupted: false,
        };
        let flags = self.options.flags();
        let terminal = std::io::stderr().is_terminal() && !json;
        let mut last_line = Instant::now();
        let mut crashed: Option<String> = None;
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel::<(u64, std::thread::Result<Ran>)>();
            for _ in 0..jobs {
                let tx = tx.clone();
                let (lock, wake) = (&lock, &wake);
                // Run hosts: each worker runs its runs on itself (see `dosim_sim::run`).
                let spawned = crate::sim::run::spawn_host(scope, move || loop {
                    let i = {
                        let mut d = lock();
                        loop {
                            if d.stop || d.next >= limit {
                                return;
                            }
                            if d.next < d.reported.saturating_add(window) {
                                break;
                            }
                            d = wake.wait(d).unwrap_or_else(std::sync::PoisonError::into_inner);
                        }
                        d.next += 1;
                        d.next - 1
                    };
                    // A panic in dosim itself stops the pool instead of leaving a hole in
                    // the order that the others would wait on forever.
                    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_one(i)));
                    if tx.send((i, ran)).is_err() {
                        return;
                    }
                });
                if let Err(e) = spawned {
                    crashed.get_or_insert(format!("starting a worker: {e}"));
                    break;
                }
            }
            drop(tx);
            let mut held: BTreeMap<u64, std::thread::Result<Ran>> = BTreeMap::new();
            let mut reported = 0u64;
            let mut stopped = false;
            loop {
                let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
                let signalled = interrupt::requested();
                if !stopped && (timed_out || signalled || crashed.is_some()) {
                    stopped = true;
                    // A signal after the budget ran out interrupts nothing.
                    fin.interrupted = signalled && lock().next < limit;
                    lock().stop = true;
                    wake.notify_all();
                }
                match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok((i, ran)) => {
                        held.insert(i, ran);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    // Every worker is done: all they started has been received.
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                let before = reported;
                while let Some(ran) = held.remove(&reported) {
                    match ran {
                        Ok(ran) => self.tally(&mut fin, reported, ran, json, &flags, started),
                        Err(panic) => {
                            let what = panic
                                .downcast_ref::<&str>()
                                .map(|s| (*s).to_owned())
                                .or_else(|| panic.downcast_ref::<String>().cloned())
                                .unwrap_or_default();
                            crashed.get_or_insert(format!("run {reported}: {what}"));
                        }
                    }
                    reported += 1;
                }
                if reported > before {
                    lock().reported = reported;
                    wake.notify_all();
                }
                let runs: u64 = fin.tallies.iter().map(|t| t.runs).sum();
                let fails: u64 = fin.tallies.iter().map(|t| t.failures).sum();
                let rate = runs as f64 / started.elapsed().as_secs_f64().max(1e-9);
                if terminal && last_line.elapsed() >= Duration::from_millis(100) {
                    eprint!("\r{runs} runs, {rate:.0} runs/s, {fails} failing ");
                    let _ = std::io::stderr().flush();
                    last_line = Instant::now();
                } else if !terminal && last_line.elapsed() >= Duration::from_secs(2) {
                    eprintln!(
                        "progress: {runs} runs, {rate:.0} runs/s, {fails} failing, {:.0} s",
                        started.elapsed().as_secs_f64()
                    );
                    last_line = Instant::now();
                }
            }
        });
        if terminal {
            eprintln!();
        }
        if let Some(c) = crashed {
            fin.errors.push(format!("dosim itself panicked in {c}; the fuzz run stopped there (a bug in dosim)"));
        }
        fin
    }

    /// Adds run `i` to the tallies, in run order.
    fn tally(&self, fin: &mut Finished, i: u64, ran: Ran, json: bool, flags: &str, started: Instant) {
        let t = &mut fin.tallies[(i % self.scenarios.len() as u64) as usize];
        t.runs += 1;
        t.diagnosis.add(ran.diagnosis);
        for (k, v) in ran.sometimes {
            *fin.sometimes.entry(k).or_default() += v;
        }
        fin.used.extend(ran.used);
        fin.nondeterministic.extend(ran.nondeterministic);
        if let Some(o) = ran.failure {
            t.failures += 1;
            if json {
                let mut j = run_json(&o, Duration::ZERO);
                j["replay"] = replay_command(o.scenario, o.report.seed, flags).into();
                println!("{j}");
            }
            if t.first_failure.is_none() {
                t.first_failure = Some(o);
                t.first_failure_at = Some((t.runs, started.elapsed().as_secs_f64()));
            }
        }
    }
}

/// Shrinks the first unexpected failure of each scenario and saves it; once interrupted,
/// saves the failures as they are, unshrunk.
fn save_failures(tallies: &[Tally], single: bool, a: &FuzzArgs) -> Vec<String> {
    let mut saved = Vec::new();
    for t in tallies {
        if !summary::unexpected(t.scenario.expect().into(), t.failures, single) {
            continue;
        }
        let Some(first) = &t.first_failure else { continue };
        let shrunk = if interrupt::requested() {
            None
        } else {
            shrink(t.scenario, a.options.config(first.report.seed), SHRINK_BUDGET)
        };
        let outcome = shrunk.as_ref().map_or(first, |s| &s.outcome);
        let Some(regression) = Regression::from_outcome(outcome) else { continue };
        match regression.save(&a.save) {
            Ok(path) => saved.push(path.display().to_string()),
            Err(e) => eprintln!("warning: could not save a regression file in {}: {e}", a.save.display()),
        }
    }
    saved
}

fn report(line: &SummaryLine, tallies: &[Tally], a: &FuzzArgs) -> i32 {
    if a.json {
        println!("{}", serde_json::to_string(line).expect("a summary is JSON"));
    } else {
        let rate = line.runs as f64 / line.wall_s.max(1e-9);
        if line.interrupted {
            println!("interrupted after {} runs: the summary covers those runs only", line.runs);
        }
        println!("{} runs in {:.2} s ({rate:.0} runs/s)", line.runs, line.wall_s);
        let flags = a.options.flags();
        let firsts: Vec<Option<FirstFailure>> = tallies
            .iter()
            .map(|t| {
                t.first_failure.as_ref().map(|o| FirstFailure {
                    seed: o.report.seed,
                    violation: o.violations.first().map(ToString::to_string),
                    replay: replay_command(o.scenario, o.report.seed, &flags),
                    more: 0,
                })
            })
            .collect();
        summary::print_tables(line, &firsts);
    }
    let status = summary::fuzz_status(line);
    if line.interrupted {
        eprintln!("interrupted: exit status {status}");
    }
    status
}
