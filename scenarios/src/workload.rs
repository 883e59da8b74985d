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

    /// Checks the workload's bounds, then every request against the scenario's model.
    /// Messages name what is wrong, never the offending values (a workload may come from
    /// a stranger's file).
    pub fn validate(&self, scenario: &dyn Scenario) -> Result<(), String> {
        self.check_bounds()?;
        for (c, calls) in self.clients.iter().enumerate() {
            for (i, call) in calls.iter().enumerate() {
                if scenario.accepts(&call.request).is_err() {
                    return Err(format!("call {i} of client {c} does not fit scenario {}", scenario.name()));
                }
            }
        }
        Ok(())
    }

    /// Checks what any scenario needs of a workload read from a file: fault rates are per
    /// mille (at most 1000), the slowdown and simulated times stay far from overflow, and
    /// the sizes are those of a test case, not of a memory bomb.
    pub fn check_bounds(&self) -> Result<(), String> {
        let f = &self.faults;
        let rates = [
            ("crash_at_await", f.crash_at_await),
            ("crash_before_commit", f.crash_before_commit),
            ("read_failure", f.read_failure),
            ("flush_transient_failure", f.flush_transient_failure),
            ("flush_hard_failure", f.flush_hard_failure),
            ("commit_failure", f.commit_failure),
            ("call_refused", f.call_refused),
            ("call_reset", f.call_reset),
            ("reply_lost", f.reply_lost),
            ("alarm_reset", f.alarm_reset),
        ];
        if let Some((name, _)) = rates.iter().find(|(_, r)| *r > 1000) {
            return Err(format!("the fault rate {name} is above 1000\u{2030} (rates are per mille)"));
        }
        if !(1..=MAX_SLOWDOWN).contains(&f.storage_slowdown) {
            return Err(format!("storage_slowdown must be between 1 and {MAX_SLOWDOWN}"));
        }
        if f.timed_crashes as usize > MAX_CRASHES || self.crashes.len() > MAX_CRASHES {
            return Err(format!("more than {MAX_CRASHES} timed crashes"));
        }
        if [f.horizon_ms, f.outage_ms, f.alarm_late_ms].iter().any(|t| *t > MAX_TIME_MS) {
            return Err(format!("a horizon, outage or alarm delay is longer than {MAX_TIME_MS} ms"));
        }
        if [f.storage_outages, f.call_outages, f.fetch_outages].iter().any(|n| *n as usize > MAX_CRASHES) {
            return Err(format!("more than {MAX_CRASHES} outages"));
        }
        if self.crashes.iter().any(|t| *t > MAX_TIME_MS) {
            return Err(format!("a timed crash is later than {MAX_TIME_MS} ms"));
        }
        if self.clients.len() > MAX_CLIENTS || self.calls() > MAX_CALLS {
            return Err(format!("more than {MAX_CLIENTS} clients or {MAX_CALLS} calls"));
        }
        if self.clients.iter().flatten().any(|c| c.think_ms > MAX_TIME_MS) {
            return Err(format!("a think time is longer than {MAX_TIME_MS} ms"));
        }
        Ok(())
    }
}

/// Bounds of a workload read from a file ([`Workload::check_bounds`]): generous next to
/// what generation and shrinking produce (a few clients, calls and crashes, times in ms).
pub const MAX_CLIENTS: usize = 1_000;
/// See [`MAX_CLIENTS`].
pub const MAX_CALLS: usize = 100_000;
/// See [`MAX_CLIENTS`].
pub const MAX_CRASHES: usize = 10_000;
/// Latest timed crash and longest think time: a simulated day.
pub const MAX_TIME_MS: u64 = 24 * 3_600_000;
/// Largest storage slowdown factor.
pub const MAX_SLOWDOWN: u64 = 1_000;

/// The clients' calls of a scenario, as a shrinkable strategy.
pub fn clients_strategy(scenario: &dyn Scenario) -> BoxedStrategy<Vec<Vec<Call>>> {
    clients_strategy_paced(scenario, scenario.shape().max_think_ms)
}

/// Decision stream of a seed's pace (its own, so the older draws stayed as they were).
const PACE_STREAM: u64 = 0x5041_4345;

/// The longest think time of seed `seed`'s clients, swarm style: three seeds in four keep
/// the scenario's own (short and dense: races need calls that overlap), the rest think for
/// up to a second (an eighth of the seeds), half a minute (a sixteenth), ten minutes or an
/// hour (a thirty-second each): long and sparse, objects hibernate between calls and alarms
/// come due between them. The longest are the rarest: periodic alarms run all through them.
pub fn max_think_ms(scenario: &dyn Scenario, seed: u64) -> u64 {
    let own = scenario.shape().max_think_ms;
    let mut d = Decisions::new(seed, PACE_STREAM);
    if d.chance(750) {
        own
    } else {
        own.max([1_000, 1_000, 1_000, 1_000, 30_000, 30_000, 600_000, 3_600_000][d.index(8)])
    }
}

/// The clients' calls of a scenario with think times up to `max_think_ms`.
pub fn clients_strategy_paced(scenario: &dyn Scenario, max_think_ms: u64) -> BoxedStrategy<Vec<Vec<Call>>> {
    let shape = scenario.shape();
    let call = (0..=max_think_ms, scenario.requests()).prop_map(|(think_ms, request)| Call { think_ms, request });
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
    let tree = clients_strategy_paced(scenario, max_think_ms(scenario, seed))
        .new_tree(&mut runner)
        .expect("workload strategies never reject");
    let plan = faults.plan(seed);
    let mut d = Decisions::new(seed, 0x6372_6173_6800);
    // Timed crashes land anywhere in the chaos phase: the window, or the plan's horizon.
    let window = scenario.shape().chaos_window_ms.max(plan.horizon_ms);
    let mut crashes: Vec<u64> = (0..plan.timed_crashes).map(|_| d.between(1, window)).collect();
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
