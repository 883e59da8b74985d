//! Running a scenario for one seed (or one workload) and judging it: the runtime's violations plus the
//! scenario's own, a verdict, and a short summary (what the snapshots record).

use crate::workload::{generate, Workload};
use crate::Scenario;
use dosim_sim::trace::Fnv64;
use dosim_sim::{run_repeatable, Completion, FaultPolicy, RunReport, SimConfig, Violation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Pass or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No checker found anything.
    Pass,
    /// At least one violation.
    Fail,
}

/// A judged run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The scenario's name.
    pub scenario: &'static str,
    /// The configuration it ran with.
    pub config: SimConfig,
    /// The workload it ran.
    pub workload: Workload,
    /// Everything the run produced.
    pub report: RunReport,
    /// Runtime and scenario violations together.
    pub violations: Vec<Violation>,
}

impl Outcome {
    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        if self.violations.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }

    /// The short, stable summary of the run.
    pub fn summary(&self) -> Summary {
        let r = &self.report;
        let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
        let (mut ok, mut fail, mut info, mut pending) = (0, 0, 0, 0);
        for op in &r.history {
            match &op.completion {
                Completion::Ok { .. } => ok += 1,
                Completion::Fail { error } => {
                    fail += 1;
                    *by_kind.entry(format!("{:?}", error.kind)).or_default() += 1;
                }
                Completion::Info { error } => {
                    info += 1;
                    *by_kind.entry(format!("{:?}", error.kind)).or_default() += 1;
                }
                Completion::Pending => pending += 1,
            }
        }
        let durable_json = serde_json::to_string(&r.durable).unwrap_or_default();
        let mut h = Fnv64::default();
        h.write(durable_json.as_bytes());
        Summary {
            scenario: self.scenario.to_owned(),
            seed: r.seed,
            faults: r.faults.to_string(),
            requests: r.history.len() as u64,
            ok,
            fail,
            info,
            pending,
            errors_by_kind: by_kind,
            crashes: r.stats.crashes,
            constructions: r.stats.constructions,
            commits: r.stats.commits,
            held_replies: r.stats.held_responses,
            gate_waits: r.stats.gate_waits,
            alarm_attempts: r.alarms.iter().fold(BTreeMap::new(), |mut m, a| {
                let kind = a.outcome.split(':').next().unwrap_or("").to_owned();
                *m.entry(kind).or_default() += 1;
                m
            }),
            durable: r.durable.clone(),
            tables: r
                .tables
                .iter()
                .map(|(label, tables)| {
                    (label.clone(), tables.iter().map(|(t, rows)| (t.clone(), rows.len())).collect())
                })
                .collect(),
            durable_digest: format!("{:016x}", h.finish()),
            sim_time_ms: r.sim_time.as_millis(),
            verdict: self.verdict(),
            violations: self.violations.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The outcome of a run in a few stable numbers (snapshotted per scenario and seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// The fault plan.
    pub faults: String,
    /// Calls made.
    pub requests: u64,
    /// Acknowledged.
    pub ok: u64,
    /// Failed, effects known.
    pub fail: u64,
    /// Failed, effects unknown.
    pub info: u64,
    /// Not answered.
    pub pending: u64,
    /// Failures by error kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Crashes and resets.
    pub crashes: u64,
    /// Constructor runs.
    pub constructions: u64,
    /// Batches committed.
    pub commits: u64,
    /// Replies the output gate held back.
    pub held_replies: u64,
    /// Times an event waited at a closed input gate.
    pub gate_waits: u64,
    /// Alarm attempts by outcome (`ok`, `failed`, `reset`), when there were any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alarm_attempts: BTreeMap<String, u64>,
    /// Committed state per object.
    pub durable: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Committed SQL tables per object: rows per table (absent when no object has any).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, BTreeMap<String, usize>>,
    /// Hash of the committed state.
    pub durable_digest: String,
    /// Simulated time at the end.
    pub sim_time_ms: u64,
    /// Verdict.
    pub verdict: Verdict,
    /// What was found.
    pub violations: Vec<String>,
}

/// Runs `scenario` for `config.seed`: the workload is generated from the seed (and the
/// fault policy), then run and judged.
pub fn check(scenario: &'static dyn Scenario, config: SimConfig) -> Outcome {
    let workload = generate(scenario, config.seed, config.faults).workload;
    check_workload(scenario, config, workload)
}

/// Runs `scenario` with exactly this workload (its faults and crash times included).
pub fn check_workload(scenario: &'static dyn Scenario, config: SimConfig, workload: Workload) -> Outcome {
    let mut config = config;
    config.faults = FaultPolicy::Fixed(workload.faults);
    config.crash_times = Some(workload.crashes.clone());
    config.chaos_window_ms = scenario.shape().chaos_window_ms;
    let w = workload.clone();
    let report = run_repeatable(config.clone(), move |world| scenario.drive(world, w));
    let mut violations = report.violations.clone();
    // A run that dosim itself failed has a truncated history; the scenario's invariants
    // would only add noise.
    if !violations.iter().any(|v| v.checker == "harness") {
        violations.extend(scenario.check(&report));
    }
    Outcome { scenario: scenario.name(), config, workload, report, violations }
}

/// Runs `scenario` for each seed with otherwise default configuration.
pub fn check_seeds(scenario: &'static dyn Scenario, seeds: impl IntoIterator<Item = u64>) -> Vec<Outcome> {
    seeds.into_iter().map(|seed| check(scenario, SimConfig::new(seed))).collect()
}
