//! `dosim zoo`: runs the bug zoo (`zoo/zoo.json`): every entry's mutant until a seed kills it
//! (within a wall-clock budget), its corrected twin and the negative controls over N seeds,
//! per scheduler; reports kill rates, runs and wall time to the first failure, and exits 1
//! when a mutant survives or a twin or control fails.

use super::zoo_manifest::{self, Entry, Role};
use super::{replay_command, usage, RunOptions, EXIT_OK, EXIT_VIOLATION};
use crate::scenarios::{check, user::GENERIC, Scenario, Verdict};
use crate::sim::time::parse_duration;
use clap::{Args, Parser};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Args)]
pub(super) struct ZooArgs {
    /// The manifest.
    #[arg(long, default_value = "zoo/zoo.json")]
    manifest: PathBuf,
    /// Seeds for each twin and control (all must pass), and over which a mutant's kill rate
    /// is counted.
    #[arg(long, default_value_t = 300)]
    seeds: u64,
    /// Wall-clock time a mutant gets to be killed, like 10s.
    #[arg(long, default_value = "10s")]
    budget: String,
    /// Only these entries (repeatable).
    #[arg(long = "entry", value_name = "NAME")]
    entries: Vec<String>,
    /// Schedulers to run each entry under, comma-separated (default: each one this build's
    /// `--scheduler` offers, else the one scheduler it has).
    #[arg(long, value_delimiter = ',')]
    scheduler: Vec<String>,
    /// Parallel entries (default: every core). Runs to the first failure do not depend on it;
    /// wall times do.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run the entries that need these features (objects, horizons) as if this build had
    /// them, instead of skipping them (repeatable).
    #[arg(long = "with", value_name = "FEATURE")]
    with: Vec<String>,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// The scheduler a build without `--scheduler` has.
const DEFAULT_SCHEDULER: &str = "random";
/// The schedulers compared by default when the build has `--scheduler`.
const COMPARED: &[&str] = &["random", "pct"];

/// `RunOptions` as the run commands' flags build it, so that options added to them later (a
/// scheduler) are taken here by name without this file knowing their fields.
#[derive(Parser)]
struct OptionsOnly {
    #[command(flatten)]
    options: RunOptions,
}

/// Whether this build's run options take `--scheduler NAME`.
fn has_scheduler_flag() -> bool {
    OptionsOnly::try_parse_from(["zoo", "--scheduler", DEFAULT_SCHEDULER]).is_ok()
}

fn options(
    entry: &Entry,
    folder: &std::path::Path,
    class: &str,
    scheduler: Option<&str>,
) -> Result<RunOptions, String> {
    let mut argv: Vec<String> = vec!["zoo".into()];
    let mut flag = |name: &str, value: &str| {
        argv.push(format!("--{name}"));
        argv.push(value.to_owned());
    };
    flag("module", &folder.join(&entry.module).display().to_string());
    flag("class", class);
    flag("backend", &entry.backend);
    for m in &entry.methods {
        flag("method", m);
    }
    for b in &entry.bind {
        flag("bind", b);
    }
    for e in &entry.env {
        flag("env", e);
    }
    if let Some(s) = scheduler {
        flag("scheduler", s);
    }
    OptionsOnly::try_parse_from(&argv).map(|o| o.options).map_err(|e| format!("zoo entry {:?}: {e}", entry.name))
}

/// One class of one entry under one scheduler.
struct Unit<'a> {
    entry: &'a Entry,
    role: Role,
    class: &'a str,
    scheduler: String,
    options: RunOptions,
    scenario: &'static dyn Scenario,
}

#[derive(Debug, Clone, Serialize)]
struct FirstFailure {
    seed: u64,
    /// Runs made up to and including it.
    runs: u64,
    wall_s: f64,
    checker: String,
    message: String,
    /// Whether running the seed again gave the same trace.
    replays: bool,
    replay: String,
}

#[derive(Debug, Clone, Serialize)]
struct UnitResult {
    entry: String,
    category: String,
    backend: String,
    role: Role,
    class: String,
    scheduler: String,
    /// Seeds counted (the first `--seeds`; a mutant may run further, until killed).
    seeds: u64,
    failures: u64,
    kill_rate: f64,
    /// Runs made in all (a surviving mutant keeps going until its budget is spent).
    runs: u64,
    wall_s: f64,
    first_failure: Option<FirstFailure>,
    /// Whether it did what the zoo expects of it.
    ok: bool,
    /// A known disagreement of dosim with workerd on this entry: not counted in the exit status.
    #[serde(skip_serializing_if = "Option::is_none")]
    divergence: Option<String>,
}

#[derive(Serialize)]
struct Skipped {
    entry: String,
    needs: Vec<String>,
}

#[derive(Serialize)]
struct Report {
    schedulers: Vec<String>,
    seeds: u64,
    budget_s: f64,
    results: Vec<UnitResult>,
    skipped: Vec<Skipped>,
    mutants: u64,
    mutants_killed: u64,
    twins_and_controls: u64,
    twins_and_controls_passing: u64,
    /// Results that did not do what the zoo expects, on entries with a known divergence.
    known_divergences: u64,
    wall_s: f64,
}

pub(super) fn zoo(a: &ZooArgs) -> i32 {
    if a.seeds == 0 {
        return usage("--seeds must be at least 1");
    }
    let budget = match parse_duration(&a.budget) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => return usage("--budget must be more than 0"),
        Err(e) => return usage(e),
    };
    let (manifest, folder) = match zoo_manifest::load(&a.manifest) {
        Ok(m) => m,
        Err(e) => return usage(e),
    };
    if let Some(unknown) = a.entries.iter().find(|n| !manifest.entries.iter().any(|e| &&e.name == n)) {
        return usage(format!("no zoo entry {unknown:?} in {}", a.manifest.display()));
    }
    if let Some(f) = a.with.iter().find(|f| !zoo_manifest::KNOWN_FEATURES.contains(&f.as_str())) {
        return usage(format!("--with {f}: the features are {}", zoo_manifest::KNOWN_FEATURES.join(", ")));
    }
    let flag = has_scheduler_flag();
    let schedulers: Vec<String> = match (&a.scheduler[..], flag) {
        ([], true) => COMPARED.iter().map(|s| (*s).to_owned()).collect(),
        ([], false) => vec![DEFAULT_SCHEDULER.to_owned()],
        (list, true) => list.to_vec(),
        (list, false) if list.iter().all(|s| s == DEFAULT_SCHEDULER) => vec![DEFAULT_SCHEDULER.to_owned()],
        (_, false) => return usage(format!("this build has one scheduler, {DEFAULT_SCHEDULER:?}")),
    };
    let chosen: Vec<&Entry> =
        manifest.entries.iter().filter(|e| a.entries.is_empty() || a.entries.contains(&e.name)).collect();
    let mut skipped = Vec::new();
    let mut units = Vec::new();
    for entry in &chosen {
        let missing = entry.missing(&a.with);
        if !missing.is_empty() {
            skipped
                .push(Skipped { entry: entry.name.clone(), needs: missing.iter().map(|s| (*s).to_owned()).collect() });
            continue;
        }
        for scheduler in &schedulers {
            for (role, class) in entry.roles() {
                let options = match options(entry, &folder, class, flag.then_some(scheduler.as_str())) {
                    Ok(o) => o,
                    Err(e) => return usage(e),
                };
                let scenario = match options.scenario(GENERIC) {
                    Ok(s) => s,
                    Err(e) => return usage(format!("zoo entry {:?}, class {class}: {e}", entry.name)),
                };
                units.push(Unit { entry, role, class, scheduler: scheduler.clone(), options, scenario });
            }
        }
    }
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).clamp(1, 1024);
    let started = Instant::now();
    let results = run_units(&units, a.seeds, budget, jobs);
    let report = Report {
        schedulers,
        seeds: a.seeds,
        budget_s: budget.as_secs_f64(),
        mutants: results.iter().filter(|r| r.role == Role::Mutant).count() as u64,
        mutants_killed: results.iter().filter(|r| r.role == Role::Mutant && r.ok).count() as u64,
        known_divergences: results.iter().filter(|r| !r.ok && r.divergence.is_some()).count() as u64,
        twins_and_controls: results.iter().filter(|r| r.role != Role::Mutant).count() as u64,
        twins_and_controls_passing: results.iter().filter(|r| r.role != Role::Mutant && r.ok).count() as u64,
        results,
        skipped,
        wall_s: started.elapsed().as_secs_f64(),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("a zoo report is JSON"));
    } else {
        print_report(&report);
    }
    if report.results.iter().all(|r| r.ok || r.divergence.is_some()) {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}

/// Runs every unit on `jobs` threads (each unit's seeds in order on one thread, so its runs
/// to the first failure are the same for any `jobs`); results in unit order.
fn run_units(units: &[Unit], seeds: u64, budget: Duration, jobs: usize) -> Vec<UnitResult> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<UnitResult>>> = Mutex::new(vec![None; units.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(units.len().max(1)) {
            // Run hosts: each worker runs its units' runs on itself (see `dosim_sim::run`).
            let spawned = crate::sim::run::spawn_host(scope, || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(unit) = units.get(i) else { return };
                // A panic of dosim itself fails this unit, not the whole zoo.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_unit(unit, seeds, budget)))
                    .unwrap_or_else(|panic| dosim_panicked(unit, panic));
                // Progress on stderr, in the order units finish (the report keeps unit order).
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                let verdict = if r.ok { "as expected" } else { "NOT as expected" };
                eprintln!("zoo: {n}/{} {} {} ({}): {verdict}", units.len(), r.entry, r.role.name(), r.scheduler);
                results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(r);
            });
            if let Err(e) = spawned {
                // The units no worker took are missing from the report, which says so.
                eprintln!("zoo: could not start a worker: {e}");
                break;
            }
        }
    });
    results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).into_iter().flatten().collect()
}

/// A mutant runs its `seeds`, and past them until killed or its budget is spent; a twin or
/// control runs its `seeds`.
fn run_unit(unit: &Unit, seeds: u64, budget: Duration) -> UnitResult {
    let started = Instant::now();
    let (mut runs, mut failures) = (0u64, 0u64);
    let mut first: Option<FirstFailure> = None;
    let mut seed = 0u64;
    loop {
        let counted = seed < seeds;
        let searching = unit.role == Role::Mutant && first.is_none() && started.elapsed() < budget;
        if !counted && !searching {
            break;
        }
        let o = check(unit.scenario, unit.options.config(seed));
        runs += 1;
        if o.verdict() == Verdict::Fail {
            if counted {
                failures += 1;
            }
            if first.is_none() {
                let wall_s = started.elapsed().as_secs_f64();
                let again = check(unit.scenario, unit.options.config(seed));
                let v = o.violations.first();
                first = Some(FirstFailure {
                    seed,
                    runs,
                    wall_s,
                    checker: v.map(|v| v.checker.clone()).unwrap_or_default(),
                    message: v.map(|v| v.message.clone()).unwrap_or_default(),
                    replays: again.report.trace_hash == o.report.trace_hash,
                    replay: replay_command(GENERIC, seed, &unit.options.flags()),
                });
            }
        }
        seed += 1;
    }
    let ok = match unit.role {
        Role::Mutant => first.as_ref().is_some_and(|f| f.wall_s <= budget.as_secs_f64() && f.replays),
        Role::Twin | Role::Control => failures == 0 && first.is_none(),
    };
    UnitResult {
        entry: unit.entry.name.clone(),
        category: unit.entry.category.clone(),
        backend: unit.entry.backend.clone(),
        role: unit.role,
        class: unit.class.to_owned(),
        scheduler: unit.scheduler.clone(),
        seeds: seeds.min(runs),
        failures,
        kill_rate: failures as f64 / seeds.min(runs).max(1) as f64,
        runs,
        wall_s: started.elapsed().as_secs_f64(),
        first_failure: first,
        ok,
        divergence: unit.entry.divergence.clone(),
    }
}

/// The result of a unit during which dosim itself panicked (a bug in dosim).
fn dosim_panicked(unit: &Unit, panic: Box<dyn std::any::Any + Send>) -> UnitResult {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    UnitResult {
        entry: unit.entry.name.clone(),
        category: unit.entry.category.clone(),
        backend: unit.entry.backend.clone(),
        role: unit.role,
        class: unit.class.to_owned(),
        scheduler: unit.scheduler.clone(),
        seeds: 0,
        failures: 0,
        kill_rate: 0.0,
        runs: 0,
        wall_s: 0.0,
        first_failure: Some(FirstFailure {
            seed: 0,
            runs: 0,
            wall_s: 0.0,
            checker: "harness".into(),
            message: format!("dosim itself panicked (a bug in dosim): {what}"),
            replays: false,
            replay: String::new(),
        }),
        ok: false,
        divergence: None,
    }
}

fn print_report(r: &Report) {
    println!(
        "bug zoo: schedulers {}; twins and controls over {} seeds; a mutant has {:.0} s to be killed",
        r.schedulers.join(", "),
        r.seeds,
        r.budget_s
    );
    println!(
        "{:<28} {:<8} {:<8} {:<7} {:>6} {:>7}  {:<34} verdict",
        "entry", "role", "sched", "backend", "runs", "failing", "first failure (seed, runs, wall)"
    );
    for u in &r.results {
        let first = u.first_failure.as_ref().map_or_else(
            || "none".to_owned(),
            |f| {
                format!(
                    "seed {} after {} run{} in {:.3} s",
                    f.seed,
                    f.runs,
                    if f.runs == 1 { "" } else { "s" },
                    f.wall_s
                )
            },
        );
        let verdict = match (u.role, u.ok) {
            (Role::Mutant, true) => "killed",
            (Role::Mutant, false) => "SURVIVED",
            (_, true) => "passes",
            (_, false) => "FAILS",
        };
        println!(
            "{:<28} {:<8} {:<8} {:<7} {:>6} {:>6.1}%  {:<34} {verdict}",
            u.entry,
            u.role.name(),
            u.scheduler,
            u.backend,
            u.runs,
            u.kill_rate * 100.0,
            first
        );
        if let (Some(d), false) = (&u.divergence, u.ok) {
            println!("    known divergence, not counted: {d}");
        }
        if let Some(f) = &u.first_failure {
            // A mutant's first failure is shown too: a kill by the wrong checker is no kill.
            println!("    [{}] {}", f.checker, f.message);
            if u.role != Role::Mutant || !u.ok {
                println!("    replay: {}", f.replay);
            }
            if !f.replays {
                println!("    the first failing seed did NOT replay to the same trace");
            }
        }
    }
    for s in &r.skipped {
        println!("{:<28} skipped: needs {} (not in this build; --with runs it anyway)", s.entry, s.needs.join(", "));
    }
    println!(
        "{} of {} mutants killed; {} of {} twins and controls pass; {} known divergence(s) not counted; {} skipped; {:.1} s",
        r.mutants_killed,
        r.mutants,
        r.twins_and_controls_passing,
        r.twins_and_controls,
        r.known_divergences,
        r.skipped.len(),
        r.wall_s
    );
}
