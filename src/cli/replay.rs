//! `dosim run`, `dosim replay` and `dosim shrink`: one run shown in full (text trace, or a
//! Chrome trace file), from a scenario and seed or from a regression file; and shrinking a
//! failing seed into a regression file.

use super::{print_outcome, replay_command, run_json, usage, verdict_status, RunOptions, EXIT_VIOLATION};
use crate::scenarios::regression::Regression;
use crate::scenarios::shrink::shrink as shrink_seed;
use crate::scenarios::{check, Outcome, Verdict};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(super) enum TraceFormat {
    /// One line per event on standard output.
    Text,
    /// A Chrome trace (JSON) file for Perfetto or chrome://tracing.
    Chrome,
}

/// How to show a run.
#[derive(Args)]
pub(super) struct Show {
    /// Print the runtime trace (or write it, with --trace-format chrome).
    #[arg(long)]
    trace: bool,
    /// Trace format.
    #[arg(long, value_enum, default_value = "text")]
    trace_format: TraceFormat,
    /// Where a Chrome trace goes (default: dosim-trace-<scenario>-<seed>.json).
    #[arg(long)]
    trace_out: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(super) struct RunArgs {
    /// Scenario name (see `dosim list`).
    scenario: String,
    /// The seed to run.
    #[arg(long)]
    seed: u64,
    #[command(flatten)]
    show: Show,
    #[command(flatten)]
    options: RunOptions,
}

#[derive(Args)]
pub(super) struct ReplayArgs {
    /// A regression file, or a scenario name (then --seed is required).
    target: String,
    /// The seed, when replaying a scenario.
    #[arg(long)]
    seed: Option<u64>,
    /// The scenario the file must belong to (a check).
    #[arg(long)]
    scenario: Option<String>,
    /// Replay a file written by a newer dosim (refused otherwise).
    #[arg(long)]
    allow_newer: bool,
    #[command(flatten)]
    show: Show,
    #[command(flatten)]
    options: RunOptions,
}

#[derive(Args)]
pub(super) struct ShrinkArgs {
    /// Scenario name.
    scenario: String,
    /// A seed whose run fails.
    #[arg(long)]
    seed: u64,
    /// Most runs to spend shrinking.
    #[arg(long, default_value_t = 500)]
    budget: u32,
    /// Folder the regression file is written to.
    #[arg(long, default_value = "regressions")]
    save: PathBuf,
    #[command(flatten)]
    options: RunOptions,
}

pub(super) fn run(a: &RunArgs) -> i32 {
    let scenario = match a.options.scenario(&a.scenario) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let started = Instant::now();
    let outcome = check(scenario, a.options.config(a.seed));
    show(&outcome, started.elapsed(), &a.show, &replay_command(&a.scenario, a.seed, &a.options.flags()))
}

pub(super) fn replay(a: &ReplayArgs) -> i32 {
    let looks_like_file = a.target.ends_with(".json") || Path::new(&a.target).is_file();
    if !looks_like_file {
        let Some(seed) = a.seed else {
            return usage(format!("{:?} is not a regression file; to replay a scenario give --seed N", a.target));
        };
        let run_args =
            RunArgs { scenario: a.target.clone(), seed, show: a.show.clone_flags(), options: a.options.clone() };
        return run(&run_args);
    }
    if a.seed.is_some() {
        return usage("--seed is for replaying a scenario; a regression file carries its own seed");
    }
    let path = Path::new(&a.target);
    let mut regression = match Regression::read(path, a.allow_newer) {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    // The file's compatibility date and flags, unless the command line names others.
    if a.options.names_compatibility() {
        match a.options.compatibility() {
            Ok(c) => regression.compatibility = c,
            Err(e) => return usage(e),
        }
    }
    if let Some(want) = &a.scenario {
        if *want != regression.scenario {
            return usage(format!("{} belongs to scenario {:?}, not {want:?}", a.target, regression.scenario));
        }
    }
    // The file chooses code to run: say so before anything of it runs (loading the
    // module runs its top level).
    if let Some(m) = &regression.module {
        let mut classes = vec![m.class.clone()];
        classes.extend(m.bindings.iter().filter_map(|b| b.split_once('=').map(|(_, c)| c.to_owned())));
        let what = if classes.len() == 1 { "class" } else { "classes" };
        eprintln!("note: {} runs the code of module {} ({what} {})", a.target, m.module, classes.join(", "));
    }
    if let Err(e) = regression.check(&a.target) {
        return usage(e);
    }
    let started = Instant::now();
    let outcome = match regression.replay() {
        Ok(o) => o,
        Err(e) => return usage(e),
    };
    let wall = started.elapsed();
    if !a.show.json {
        println!(
            "regression {} (recorded by dosim {}): {}",
            a.target, regression.dosim_version, regression.violation.message
        );
        print!("{}", regression.workload.timeline());
    }
    show(&outcome, wall, &a.show, &format!("dosim replay {} --trace", a.target))
}

impl Show {
    fn clone_flags(&self) -> Show {
        Show { trace: self.trace, trace_format: self.trace_format, trace_out: self.trace_out.clone(), json: self.json }
    }
}

/// Prints a run as asked; returns the exit status.
fn show(outcome: &Outcome, wall: Duration, show: &Show, replay: &str) -> i32 {
    if show.trace && show.trace_format == TraceFormat::Chrome {
        let path = show
            .trace_out
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("dosim-trace-{}-{}.json", outcome.scenario, outcome.report.seed)));
        let title = format!("{} seed {}", outcome.scenario, outcome.report.seed);
        let text = serde_json::to_string(&crate::chrome::chrome_trace(&title, &outcome.report)).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, text) {
            return usage(format!("cannot write {}: {e}", path.display()));
        }
        eprintln!("chrome trace written to {} (open it in https://ui.perfetto.dev)", path.display());
    }
    if show.json {
        println!("{}", run_json(outcome, wall));
    } else {
        if show.trace && show.trace_format == TraceFormat::Text {
            print!("{}", outcome.report.trace_text());
            println!();
        }
        print_outcome(outcome, wall, replay);
    }
    verdict_status(outcome)
}

pub(super) fn shrink(a: &ShrinkArgs) -> i32 {
    let scenario = match a.options.scenario(&a.scenario) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let Some(shrunk) = shrink_seed(scenario, a.options.config(a.seed), a.budget) else {
        println!("seed {} of {} passes: nothing to shrink", a.seed, a.scenario);
        return super::EXIT_OK;
    };
    let o = &shrunk.outcome;
    println!(
        "shrunk {} seed {} in {} runs: {} calls -> {}, {} timed crashes -> {}",
        a.scenario,
        a.seed,
        shrunk.runs,
        shrunk.original.calls(),
        o.workload.calls(),
        shrunk.original.crashes.len(),
        o.workload.crashes.len()
    );
    print!("{}", o.workload.timeline());
    println!("\ntimeline of the failing run:");
    print!("{}", o.report.trace_text());
    for v in &o.violations {
        println!("  {v}");
    }
    let Some(regression) = Regression::from_outcome(o) else { return super::EXIT_OK };
    match regression.save(&a.save) {
        Ok(path) => {
            println!("saved: {}", path.display());
            println!("replay: dosim replay {} --trace", path.display());
        }
        Err(e) => return usage(format!("cannot write the regression file into {}: {e}", a.save.display())),
    }
    if o.verdict() == Verdict::Fail {
        EXIT_VIOLATION
    } else {
        super::EXIT_OK
    }
}
