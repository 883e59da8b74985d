//! Workloads as values: which clients send which requests with what think time, which
//! faults the run injects and when timed crashes strike. Generated from a seed by proptest
//! strategies (so a failing workload shrinks), printed as a timeline, and saved in
//! regression files, so a failure replays even after the code around it has changed.

use crate::Scenario;
use dosim_sim::faults::Decisions;
use dosim_sim::{DurableObject, FaultPlan, FaultPolicy, World};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// One call a client makes: wait `think_ms`, then send `request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Simulated milliseconds since the client's previous call returned.
    pub think_ms: u64,
    /// The request, as JSON of the model's request type.
    pub request: serde_json::Value,
}

/// Everything a run does that is not the model's code or the scheduler's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Which faults are injected, and how often.
    pub faults: FaultPlan,
    /// Simulated times (ms) at which a random object crashes.
    pub crashes: Vec<u64>,
    /// Each client's calls, in order.
    pub clients: Vec<Vec<Call>>,
}

/// How big generated workloads get.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Clients per run (inclusive range).
    pub clients: (usize, usize),
    /// Calls per client (inclusive range).
    pub calls: (usize, usize),
    /// Longest think time between calls, ms.
    pub max_think_ms: u64,
    /// Timed crashes are drawn inside `[1, chaos_window_ms]`.
    pub chaos_window_ms: u64,
}

impl Default for Shape {
    fn default() -> Self {
        Shape { clients: (2, 4), calls: (3, 8), max_think_ms: 4, chaos_window_ms: 50 }
    }
}

/// The future that runs a workload's clients.
pub type Driving = Pin<Box<dyn Future<Output = ()>>>;

impl Workload {
    /// Number of calls in all.
    pub fn calls(&self) -> usize {
        self.clients.iter().map(Vec::len).sum()
    }

    /// A short, readable account of the workload.
    pub fn timeline(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "faults: {}", self.faults);
        if !self.crashes.is_empty() {
            let times: Vec<String> = self.crashes.iter().map(|t| format!("{t}ms")).collect();
            let _ = writeln!(s, "timed crashes at: {}", times.join(", "));
        }
        for (i, calls) in self.clients.iter().enumerate() {
            let steps: Vec<String> = calls.iter().map(|c| format!("+{}ms {}", c.think_ms, c.request)).collect();
            let _ = writeln!(s, "client {i}: {}", steps.join(", "));
        }
        s
    }

    /// Checks every request against the scenario's model.
    pub fn validate(&self, scenario: &dyn Scenario) -> Result<(), String> {
        for (c, calls) in self.clients.iter().enumerate() {
            for (i, call) in calls.iter().enumerate() {
                scenario.accepts(&call.request).map_err(|e| {
                    format!("call {i} of client {c} ({}) does not fit scenario {}: {e}", call.request, scenario.name())
                })?;
            }
        }
        Ok(())
    }
}

/// The clients' calls of a scenario, as a shrinkable strategy.
pub fn clients_strategy(scenario: &dyn Scenario) -> BoxedStrategy<Vec<Vec<Call>>> {
    let shape = scenario.shape();
    let call = (0..=shape.max_think_ms, scenario.requests()).prop_map(|(think_ms, request)| Call { think_ms, request });
    let client = proptest::collection::vec(call, shape.calls.0..=shape.calls.1);
    proptest::collection::vec(client, shape.clients.0..=shape.clients.1).boxed()
}

/// A generated workload and the value tree it came from (for shrinking).
pub struct Generated {
    /// The workload.
    pub workload: Workload,
    /// proptest's tree over the clients' calls.
    pub tree: Box<dyn ValueTree<Value = Vec<Vec<Call>>>>,
}

/// The workload seed `seed` gives `scenario` under `faults`.
pub fn generate(scenario: &dyn Scenario, seed: u64, faults: FaultPolicy) -> Generated {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(b"dosim-wl");
    let config = Config { failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let tree = clients_strategy(scenario).new_tree(&mut runner).expect("workload strategies never reject");
    let plan = faults.plan(seed);
    let mut d = Decisions::new(seed, 0x6372_6173_6800);
    let mut crashes: Vec<u64> =
        (0..plan.timed_crashes).map(|_| d.between(1, scenario.shape().chaos_window_ms)).collect();
    crashes.sort_unstable();
    let workload = Workload { faults: plan, crashes, clients: tree.current() };
    Generated { workload, tree: Box::new(tree) }
}

/// Runs a workload against the object `id_name` of namespace `binding` (class `O`): one
/// task per client, each waiting its think time before each call.
pub fn drive<O: DurableObject>(
    world: &World,
    binding: &'static str,
    backend: dosim_sim::Backend,
    id_name: &'static str,
    workload: Workload,
) -> Driving {
    let world = world.clone();
    Box::pin(async move {
        let ns = world.namespace_with::<O>(binding, backend);
        let id = ns.id_from_name(id_name);
        let mut tasks = Vec::new();
        for (c, calls) in workload.clients.into_iter().enumerate() {
            let (w, ns, id, client) = (world.clone(), ns.clone(), id.clone(), world.client(c));
            tasks.push(world.spawn(async move {
                for call in calls {
                    w.sleep(Duration::from_millis(call.think_ms)).await;
                    // A stub per call, as Cloudflare advises: a stub that saw its object
                    // reset stays broken.
                    let stub = ns.get(&id);
                    // Requests were validated before the run; one that does not decode is skipped.
                    if let Ok(request) = serde_json::from_value::<O::Request>(call.request) {
                        let _ = client.call(&stub, request).await;
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    })
}

/// Whether `request` decodes as `O`'s request type.
pub fn accepts<O: DurableObject>(request: &serde_json::Value) -> Result<(), String> {
    serde_json::from_value::<O::Request>(request.clone()).map(drop).map_err(|e| e.to_string())
}
