//! How a run is set up: seed, gate policies (the tester's switches), fault policy and
//! limits. Builder-style; fields default from documented environment variables where a
//! user would want to set them without touching code.

use crate::budget::Budgets;
use crate::compat::Compatibility;
use crate::faults::FaultPolicy;
use serde::{Deserialize, Serialize};

/// Whether a gate does its job. `Disabled` exists to test the tester: a harness whose
/// checkers stay quiet with a gate off would prove nothing with it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GatePolicy {
    /// The runtime's real behaviour.
    #[default]
    Enforced,
    /// Input gate off: every storage await becomes a 1 ms I/O wait that lets other events
    /// in, and critical sections exclude nothing (what a naive simulator does). Output
    /// gate off: responses leave as soon as the handler returns, before their writes
    /// are durable.
    Disabled,
}

/// Configuration of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimConfig {
    /// The seed: madsim's scheduler and the harness's decision stream both derive from it.
    pub seed: u64,
    /// Input gate policy (SEMANTICS.md §1).
    pub input_gate: GatePolicy,
    /// Output gate policy (SEMANTICS.md §2).
    pub output_gate: GatePolicy,
    /// Which faults to inject.
    pub faults: FaultPolicy,
    /// Simulated time after which the run is stopped and reported as not settling.
    pub time_limit_ms: u64,
    /// Timed crashes are drawn inside `[1, chaos_window_ms]` of simulated time.
    pub chaos_window_ms: u64,
    /// Exact times (ms) of timed crashes, when a workload fixes them (instead of drawing
    /// the plan's `timed_crashes` from the seed).
    pub crash_times: Option<Vec<u64>>,
    /// Simulated time the liveness phase may take to settle after the workload.
    pub liveness_budget_ms: u64,
    /// The compatibility date and flags (default: the pinned workerd's date, 2026-11-17):
    /// every date-dependent behaviour dosim models follows it (`compat`, SEMANTICS.md).
    #[serde(default)]
    pub compatibility: Compatibility,
    /// Keep the runtime trace (needed for `trace_hash`; off only for raw speed).
    pub record_trace: bool,
    /// How far object code may go before it is stopped and reported (`budget`).
    #[serde(default)]
    pub budgets: Budgets,
    /// Which strand runs first when several are ready (`random`, `pct`, or drawn per seed).
    #[serde(default)]
    pub scheduler: crate::schedule::Scheduler,
}

impl SimConfig {
    /// Defaults, with the seed from `DOSIM_SEED` when set (else 0).
    pub fn from_env() -> SimConfig {
        let seed = std::env::var("DOSIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
        SimConfig::new(seed)
    }

    /// Defaults for `seed`: both gates enforced, swarm faults, a week of simulated time at
    /// most, and 15 minutes for the liveness phase.
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            input_gate: GatePolicy::Enforced,
            output_gate: GatePolicy::Enforced,
            faults: FaultPolicy::Swarm,
            time_limit_ms: 7 * 24 * 3_600_000,
            liveness_budget_ms: 15 * 60_000,
            compatibility: Compatibility::default(),
            chaos_window_ms: 300,
            crash_times: None,
            record_trace: true,
            budgets: Budgets::default(),
            scheduler: crate::schedule::Scheduler::Swarm,
        }
    }

    /// Sets the input gate policy.
    pub fn input_gate(mut self, p: GatePolicy) -> Self {
        self.input_gate = p;
        self
    }

    /// Sets the output gate policy.
    pub fn output_gate(mut self, p: GatePolicy) -> Self {
        self.output_gate = p;
        self
    }

    /// Sets how long the liveness phase may take (simulated ms).
    pub fn liveness_budget(mut self, ms: u64) -> Self {
        self.liveness_budget_ms = ms;
        self
    }

    /// Sets the budgets.
    pub fn budgets(mut self, b: Budgets) -> Self {
        self.budgets = b;
        self
    }

    /// Sets the compatibility date and flags.
    pub fn compatibility(mut self, c: Compatibility) -> Self {
        self.compatibility = c;
        self
    }

    /// Sets the scheduler.
    pub fn scheduler(mut self, s: crate::schedule::Scheduler) -> Self {
        self.scheduler = s;
        self
    }

    /// Sets the fault policy.
    pub fn faults(mut self, f: FaultPolicy) -> Self {
        self.faults = f;
        self
    }
}
