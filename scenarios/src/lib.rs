//! Scenarios: a workload (clients, request mix, timing) that drives one model, and the
//! invariants that judge the history it leaves, stated from the user's point of view.
//! The runtime's own checkers (gates, coalescing, panics, liveness) run on every
//! scenario; a scenario adds what only it knows.
//!
//! | module       | owns                                                         |
//! |--------------|--------------------------------------------------------------|
//! | [`outcome`]  | running a scenario for a seed: verdict, summary, `check_*`   |
//! | [`counters`] | `counter`, `safe-counter`, `racy-counter` (+ `-kv` variants)  |

pub mod counters;
pub mod outcome;

use dosim_sim::{RunReport, SimConfig, Violation, World};
use std::future::Future;
use std::pin::Pin;

pub use outcome::{check, check_seeds, Outcome, Summary, Verdict};

/// The workload's future (runs inside the simulation, on the run's thread).
pub type Workload = Pin<Box<dyn Future<Output = ()>>>;

/// What a scenario's model is expected to do under the harness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The model is right: every seed must pass.
    Pass,
    /// The model has a known defect: the harness must find it within a budget of seeds.
    Defect,
}

/// A workload plus the invariants that judge it.
pub trait Scenario: Sync {
    /// Name on the command line.
    fn name(&self) -> &'static str;
    /// One line for `dosim list`.
    fn about(&self) -> &'static str;
    /// Whether the model is right or carries a known defect (a negative control).
    fn expect(&self) -> Expect {
        Expect::Pass
    }
    /// Adjusts the run's configuration (chaos window, limits) to the workload.
    fn configure(&self, config: SimConfig) -> SimConfig {
        config
    }
    /// Builds the workload for one run.
    fn workload(&self, world: World) -> Workload;
    /// Judges a finished run; returns what it found wrong.
    fn check(&self, report: &RunReport) -> Vec<Violation>;
}

/// Every built-in scenario, in the order `dosim list` shows them.
pub fn all() -> &'static [&'static dyn Scenario] {
    static ALL: [&dyn Scenario; 5] = [
        &counters::COUNTER,
        &counters::SAFE_COUNTER,
        &counters::RACY_COUNTER,
        &counters::SAFE_COUNTER_KV,
        &counters::RACY_COUNTER_KV,
    ];
    &ALL
}

/// The built-in scenario called `name`.
pub fn find(name: &str) -> Option<&'static dyn Scenario> {
    all().iter().copied().find(|s| s.name() == name)
}
