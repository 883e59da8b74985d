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
    /// What the run's objects used of the runtime (the features of [`NEEDS`]).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub used: std::collections::BTreeSet<String>,
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
    "work refused by an outage",
    "alarm delivered late",
    "reset while an alarm ran",
    "call outlived its caller's reset",
];

/// The "sometimes" points an object can reach only by using a feature of the runtime:
/// `(point, feature)`. A point whose feature no run used is out of the scenario's reach,
/// and a fuzz summary does not list it as never reached.
pub const NEEDS: &[(&str, &str)] = &[
    ("event queued behind a critical section", "critical section"),
    ("storage read held the input gate", "kv"),
    ("counted delete waited for its flush", "kv"),
    ("flush failed transiently", "kv"),
    ("transaction rolled back", "transaction"),
    ("alarm retried after a failure", "alarm"),
    ("alarm retried after a reset", "alarm"),
    ("alarm abandoned", "alarm"),
    ("alarm delivered late", "alarm"),
    ("reset while an alarm ran", "alarm"),
    ("call outlived its caller's reset", "call between objects"),
];

/// Whether `point` is within the reach of objects that used `used`.
pub fn reachable(point: &str, used: &std::collections::BTreeSet<String>) -> bool {
    NEEDS.iter().filter(|(p, _)| *p == point).all(|(_, feature)| used.contains(*feature))
}

/// Prefix of the user's own "sometimes" points in [`Stats::sometimes`]
/// ([`crate::World::user_sometimes`]).
pub const USER_POINT: &str = "user: ";

/// Something an object sent out of itself: a call to another object, an outbound `fetch`,
/// a WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// `call`, `fetch` or `websocket`.
    pub kind: String,
    /// The sender's label (`BINDING:name`).
    pub from: String,
    /// The receiver: an object's label, a URL, a socket.
    pub to: String,
    /// What was sent (the request as JSON).
    pub request: serde_json::Value,
    /// When it was sent.
    pub sent_at: SimTime,
    /// When its outcome was known.
    pub ended_at: Option<SimTime>,
    /// How it ended: `ok`, `error: <message>`, `refused: <why>`, `lost`, or `pending`.
    pub outcome: String,
}

/// Everything committed about one object, with what it sent: one entry of
/// [`RunReport::objects`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectView {
    /// Committed key-value data.
    pub storage: BTreeMap<String, serde_json::Value>,
    /// Committed SQL rows, by table.
    pub tables: BTreeMap<String, Vec<serde_json::Value>>,
    /// The alarm still set (ms), if any.
    pub alarm: Option<u64>,
    /// Its outgoing calls, fetches and WebSocket sends, in order.
    pub calls: Vec<Outgoing>,
}

/// Splits a label `BINDING:id` into the binding and the id (the name of an id made from a
/// name, else `#` and its first 8 hex digits).
pub fn split_label(label: &str) -> (&str, &str) {
    label.split_once(':').unwrap_or((label, ""))
}

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
    /// Every call, fetch and WebSocket send an object made, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outgoing: Vec<Outgoing>,
}

impl RunReport {
    /// The trace as text, one line per event.
    pub fn trace_text(&self) -> String {
        render_trace(&self.trace).0
    }

    /// The whole world: every object's committed storage, tables and alarm, with what it
    /// sent, keyed by binding and then id (see [`split_label`]).
    pub fn objects(&self) -> BTreeMap<String, BTreeMap<String, ObjectView>> {
        let mut all: BTreeMap<String, BTreeMap<String, ObjectView>> = BTreeMap::new();
        fn entry<'a>(all: &'a mut BTreeMap<String, BTreeMap<String, ObjectView>>, label: &str) -> &'a mut ObjectView {
            let (binding, id) = split_label(label);
            all.entry(binding.to_owned()).or_default().entry(id.to_owned()).or_default()
        }
        for (label, kv) in &self.durable {
            entry(&mut all, label).storage = kv.clone();
        }
        for (label, t) in &self.tables {
            entry(&mut all, label).tables = t.clone();
        }
        for (label, at) in &self.alarms_set {
            entry(&mut all, label).alarm = Some(*at);
        }
        for out in &self.outgoing {
            entry(&mut all, &out.from).calls.push(out.clone());
        }
        all
    }

    /// Committed value of `key` in the object labelled `object`.
    pub fn durable_value(&self, object: &str, key: &str) -> Option<&serde_json::Value> {
        self.durable.get(object)?.get(key)
    }
}
