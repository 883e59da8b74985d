//! The summary of a fuzz run: the line `dosim fuzz --json` ends with, which `dosim merge`
//! reads back from each shard, the text table both commands print, and the rule that
//! turns per-scenario counts into an exit status.

use super::{EXIT_OK, EXIT_VIOLATION};
use crate::cli::interrupt::EXIT_INTERRUPTED;
use crate::sim::SOMETIMES;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a scenario is expected to do, as the JSON summary spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum ExpectName {
    /// Every seed must pass.
    Pass,
    /// A known defect the harness must find.
    Defect,
}

impl From<crate::scenarios::Expect> for ExpectName {
    fn from(e: crate::scenarios::Expect) -> Self {
        match e {
            crate::scenarios::Expect::Pass => ExpectName::Pass,
            crate::scenarios::Expect::Defect => ExpectName::Defect,
        }
    }
}

/// One scenario's counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ScenarioCounts {
    pub scenario: String,
    pub runs: u64,
    pub failures: u64,
    pub expect: ExpectName,
    /// Whether these counts are a surprise (see [`unexpected`]).
    pub unexpected: bool,
    /// What went wrong beyond the verdicts (see `diagnose`): methods that always threw a
    /// language or runtime error, abandoned alarms, a class nothing of which works.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub what_went_wrong: Vec<String>,
    /// Runs of this scenario up to and including its first failure (in run order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failure_run: Option<u64>,
    /// Wall-clock seconds from the start of the fuzz run until that failure was counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failure_s: Option<f64>,
}

/// The last line of `dosim fuzz --json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SummaryLine {
    /// Always true: tells the summary from the failing runs' lines.
    pub summary: bool,
    pub dosim_version: String,
    /// `K/M` (`1/1` without `--shard`).
    pub shard: String,
    pub base_seed: u64,
    /// Whether one scenario was named (then every failure is a finding, known defect or not).
    pub single: bool,
    /// Whether a SIGINT/SIGTERM stopped the run before its budget was spent.
    pub interrupted: bool,
    pub runs: u64,
    pub failures: u64,
    pub scenarios: Vec<ScenarioCounts>,
    pub sometimes: BTreeMap<String, u64>,
    pub never_reached: Vec<String>,
    pub nondeterministic: Vec<String>,
    /// Failures of dosim itself (a panic outside any run's simulation).
    #[serde(default)]
    pub errors: Vec<String>,
    pub saved: Vec<String>,
    pub wall_s: f64,
}

/// The first failure of a scenario, as the text summary shows it.
pub(super) struct FirstFailure {
    pub seed: u64,
    pub violation: Option<String>,
    pub replay: String,
    /// Failing runs of the scenario not shown (`dosim merge` prints only the first).
    pub more: u64,
}

/// Whether a scenario's failures are a surprise: with one scenario named, any failure is
/// a finding; over all built-ins, a known defect is expected to fail.
pub(super) fn unexpected(expect: ExpectName, failures: u64, single: bool) -> bool {
    match (single, expect) {
        (true, _) | (false, ExpectName::Pass) => failures > 0,
        (false, ExpectName::Defect) => failures == 0,
    }
}

/// The exit status of a fuzz run (or of merged shards) with these counts: 1 for a
/// surprise (an unexpected failure, a known defect not found, nondeterminism, a panic of
/// dosim itself), else 0.
/// When `interrupted`, a known defect not found is no surprise (the budget was not
/// spent), and the status without a surprise is `interrupted_status`.
pub(super) fn status(s: &SummaryLine, interrupted_status: i32) -> i32 {
    let failing = s.scenarios.iter().any(|c| c.failures > 0 && (s.single || c.expect == ExpectName::Pass));
    let missed = s.scenarios.iter().any(|c| unexpected(c.expect, c.failures, s.single) && c.failures == 0);
    if failing || !s.nondeterministic.is_empty() || !s.errors.is_empty() || (missed && !s.interrupted) {
        EXIT_VIOLATION
    } else if s.interrupted {
        interrupted_status
    } else {
        EXIT_OK
    }
}

/// The status of a fuzz run: as [`status`], 130 when interrupted without a surprise.
pub(super) fn fuzz_status(s: &SummaryLine) -> i32 {
    status(s, EXIT_INTERRUPTED)
}

/// Prints the per-scenario table, the sometimes table, saved files and nondeterminism.
pub(super) fn print_tables(s: &SummaryLine, firsts: &[Option<FirstFailure>]) {
    for (c, first) in s.scenarios.iter().zip(firsts) {
        let note = match (c.expect, c.failures) {
            (ExpectName::Defect, 0) if s.interrupted => "known defect not found yet (interrupted)",
            (ExpectName::Defect, 0) => "known defect NOT found",
            (ExpectName::Defect, _) if s.single => "FAILING (its known defect)",
            (ExpectName::Defect, _) => "known defect found, as expected",
            (ExpectName::Pass, 0) => "pass",
            (ExpectName::Pass, _) => "FAILING",
        };
        println!("  {:<16} {:>6} runs {:>6} failing  {note}", c.scenario, c.runs, c.failures);
        for line in &c.what_went_wrong {
            println!("      {line}");
        }
        if let Some(f) = first {
            if let Some(v) = &f.violation {
                println!("      first failure: seed {}: {v}", f.seed);
            }
            if let (Some(run), Some(secs)) = (c.first_failure_run, c.first_failure_s) {
                println!("      time to first failure: {secs:.2} s, run {run} of this scenario");
            }
            println!("      replay: {}", f.replay);
            if f.more > 0 {
                println!("      ({} more failing runs; --json lists every one)", f.more);
            }
        }
    }
    println!("sometimes (interesting states reached, over all runs):");
    // This dosim's points in their order, then any point only the input knows.
    let extra = s.sometimes.keys().filter(|k| !SOMETIMES.contains(&k.as_str())).map(String::as_str);
    for p in SOMETIMES.iter().copied().chain(extra) {
        match s.sometimes.get(p) {
            Some(n) => println!("  {n:>8}  {p}"),
            None if s.never_reached.iter().any(|n| n == p) => println!("  {:>8}  {p}   <- never reached", 0),
            None => {}
        }
    }
    for path in &s.saved {
        println!("saved: {path}  (replay: dosim replay {path} --trace)");
    }
    for n in &s.nondeterministic {
        println!("NONDETERMINISM: {n}");
    }
    for e in &s.errors {
        println!("ERROR: {e}");
    }
}
