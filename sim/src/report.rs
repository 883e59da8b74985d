//! What a run leaves behind: the verdict's raw material (violations found by the runtime
//! checkers), the history, the trace and its hash, the durable state and counters.

use crate::faults::FaultPlan;
use crate::time::SimTime;
use crate::trace::{render_trace, Op, TraceLine};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A checker's finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Which checker: `input-gate`, `output-gate`, `coalescing`, `panic`, `liveness`, or
    /// the scenario's invariant name.
    pub checker: String,
    /// What it saw.
    pub message: String,
    /// When (simulated time).
    pub at: SimTime,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] at {}: {}", self.checker, self.at, self.message)
    }
}

/// Counters of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Calls made by clients.
    pub requests: u64,
    /// Instances constructed.
    pub constructions: u64,
    /// Crashes (and other resets).
    pub crashes: u64,
    /// Batches committed.
    pub commits: u64,
    /// Storage operations (reads and writes) executed.
    pub storage_ops: u64,
    /// Turns run inside objects.
    pub turns: u64,
    /// Times a ready strand had to wait at a closed input gate.
    pub gate_waits: u64,
    /// Responses the output gate held back until a commit.
    pub held_responses: u64,
    /// How often each interesting state ([`SOMETIMES`]) was reached.
    pub sometimes: BTreeMap<String, u64>,
}

/// Interesting states the runtime can reach ("sometimes" points). A fuzz run reports how
/// often it reached each, and flags those it never reached: a point never reached is a
/// part of the runtime the workloads never exercised.
pub const SOMETIMES: &[&str] = &[
    "crash between a write and its commit",
    "crash while a handler was suspended",
    "event queued behind a closed input gate",
    "event queued behind a critical section",
    "reply held by the output gate",
    "reply lost to a crash while held",
    "storage read held the input gate",
    "counted delete waited for its flush",
    "flush failed transiently",
    "object reset by a failed write",
    "transaction rolled back",
    "instance rebuilt after a crash",
    "object hibernated after 10 s idle",
    "alarm retried after a failure",
    "alarm retried after a reset",
    "alarm abandoned",
    "reply lost after the call ran",
];

/// Everything a run produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// The fault plan the run used.
    pub faults: FaultPlan,
    /// Client calls, in invoke order.
    pub history: Vec<Op>,
    /// The runtime trace.
    pub trace: Vec<TraceLine>,
    /// Hash of the trace text: equal hashes, equal runs.
    pub trace_hash: String,
    /// Findings of the runtime checkers (the scenario adds its own).
    pub violations: Vec<Violation>,
    /// Committed key-value state of every object, by label.
    pub durable: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Committed SQL tables of every object that has any, by label, then table: rows as
    /// JSON objects.
    pub tables: BTreeMap<String, BTreeMap<String, Vec<serde_json::Value>>>,
    /// The alarm each object still has set at the end, by label.
    pub alarms_set: BTreeMap<String, u64>,
    /// Counters.
    pub stats: Stats,
    /// Every alarm attempt, in order.
    pub alarms: Vec<crate::alarm::AlarmAttempt>,
    /// Simulated time at the end of the run.
    pub sim_time: SimTime,
    /// Outbound `fetch` requests on the simulated network, in the order they were sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<crate::network::Exchange>,
}

impl RunReport {
    /// The trace as text, one line per event.
    pub fn trace_text(&self) -> String {
        render_trace(&self.trace).0
    }

    /// Committed value of `key` in the object labelled `object`.
    pub fn durable_value(&self, object: &str, key: &str) -> Option<&serde_json::Value> {
        self.durable.get(object)?.get(key)
    }
}
