//! The counter scenarios: a few clients hammer one counter with concurrent increments
//! while the fault plan crashes it. Judged from the caller's side: no two acknowledged
//! increments got the same number, each acknowledged increment is in the durable count,
//! and the durable count never exceeds the increments attempted.

use crate::js_port::{JsBinding, JsPort};
use crate::workload::{accepts, drive, Driving, Workload};
use crate::{Expect, Scenario};
use dosim_js::{JsCall, JsProgram};
use dosim_models::{Counter, RacyCounter, SafeCounter};
use dosim_sim::{Backend, RunReport, Violation, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// What an acknowledged increment returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returns {
    /// The value after the increment (1, 2, ...).
    New,
    /// The value before it (0, 1, ...).
    Old,
}

/// A counter scenario: which model, which key holds the count, what a call returns.
pub struct CounterScenario {
    pub(crate) name: &'static str,
    pub(crate) about: &'static str,
    pub(crate) binding: &'static str,
    pub(crate) key: &'static str,
    pub(crate) returns: Returns,
    pub(crate) expect: Expect,
    pub(crate) requests: fn() -> BoxedStrategy<Value>,
    pub(crate) accepts: fn(&Value) -> Result<(), String>,
    pub(crate) drive: fn(&World, Workload) -> Driving,
}

pub(crate) fn just(v: &'static str) -> BoxedStrategy<Value> {
    Just(Value::from(v)).boxed()
}

/// `counter`: the Initialization pattern.
pub static COUNTER: CounterScenario = CounterScenario {
    name: "counter",
    about: "Initialization pattern: load in block_concurrency_while, increment with an un-awaited put",
    binding: "COUNTER",
    key: "value",
    returns: Returns::New,
    expect: Expect::Pass,
    requests: || just("increment"),
    accepts: accepts::<Counter>,
    drive: |w, wl| drive::<Counter>(w, "COUNTER", Backend::Sqlite, "counter", wl),
};

/// Both calls of the safe counter.
pub(crate) fn safe_requests() -> BoxedStrategy<Value> {
    prop_oneof![Just(Value::from("increment")), Just(Value::from("get_unique_number"))].boxed()
}

/// `safe-counter`: get then put, awaited and not.
pub static SAFE_COUNTER: CounterScenario = CounterScenario {
    name: "safe-counter",
    about: "Safe counter: get then put (awaited, and the un-awaited variant); the input gate makes it race-free",
    binding: "SAFE_COUNTER",
    key: "counter",
    returns: Returns::Old,
    expect: Expect::Pass,
    requests: safe_requests,
    accepts: accepts::<SafeCounter>,
    drive: |w, wl| drive::<SafeCounter>(w, "SAFE_COUNTER", Backend::Sqlite, "counter", wl),
};

/// `racy-counter`: the lost update the harness must find.
pub static RACY_COUNTER: CounterScenario = CounterScenario {
    name: "racy-counter",
    about: "Read, sleep, write: a lost update on purpose (must fail)",
    binding: "RACY_COUNTER",
    key: "value",
    returns: Returns::New,
    expect: Expect::Defect,
    requests: || just("increment"),
    accepts: accepts::<RacyCounter>,
    drive: |w, wl| drive::<RacyCounter>(w, "RACY_COUNTER", Backend::Sqlite, "counter", wl),
};

/// `safe-counter-kv`: the safe counter on the KV-backed back-end, where a cache miss is a
/// real storage round trip and the input gate must hold across it.
pub static SAFE_COUNTER_KV: CounterScenario = CounterScenario {
    name: "safe-counter-kv",
    about: "Safe counter on the KV-backed back-end: reads that miss the cache hold the input gate",
    binding: "SAFE_COUNTER_KV",
    key: "counter",
    returns: Returns::Old,
    expect: Expect::Pass,
    requests: safe_requests,
    accepts: accepts::<SafeCounter>,
    drive: |w, wl| drive::<SafeCounter>(w, "SAFE_COUNTER_KV", Backend::Kv, "counter", wl),
};

/// `racy-counter-kv`: the lost update on the KV-backed back-end.
pub static RACY_COUNTER_KV: CounterScenario = CounterScenario {
    name: "racy-counter-kv",
    about: "Read, sleep, write on the KV-backed back-end: a lost update on purpose (must fail)",
    binding: "RACY_COUNTER_KV",
    key: "value",
    returns: Returns::New,
    expect: Expect::Defect,
    requests: || just("increment"),
    accepts: accepts::<RacyCounter>,
    drive: |w, wl| drive::<RacyCounter>(w, "RACY_COUNTER_KV", Backend::Kv, "counter", wl),
};

impl Scenario for CounterScenario {
    crate::meta_from_fields!();

    fn requests(&self) -> BoxedStrategy<Value> {
        (self.requests)()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        (self.accepts)(request)
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        (self.drive)(&world, workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        let label = format!("{}:counter", self.binding);
        check_counter(report, &label, self.key, self.returns)
    }
}

pub(crate) fn check_counter(report: &RunReport, label: &str, key: &str, returns: Returns) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut say = |message: String| found.push(Violation { checker: "counter".into(), message, at: report.sim_time });
    let ops: Vec<_> = report.history.iter().filter(|o| o.object == label).collect();
    let attempted = ops.len() as u64;
    let final_value = report.durable_value(label, key).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    let mut acked = 0u64;
    for op in &ops {
        let Some(v) = op.ok_value().and_then(serde_json::Value::as_u64) else {
            continue;
        };
        acked += 1;
        if let Some(first) = seen.insert(v, op.index) {
            say(format!("value {v} was acknowledged to two increments, #{first} and #{} (a lost update)", op.index));
        }
        let counted = match returns {
            Returns::New => v <= final_value,
            Returns::Old => v < final_value,
        };
        if !counted {
            say(format!(
                "increment #{} was acknowledged with {v}, but the durable counter is {final_value}: the acknowledged write was lost",
                op.index
            ));
        }
    }
    if final_value > attempted {
        say(format!("the durable counter is {final_value}, more than the {attempted} increments attempted"));
    }
    if final_value < acked {
        say(format!("the durable counter is {final_value}, fewer than the {acked} acknowledged increments"));
    }
    found
}

/// The JavaScript counters (`models/js/counters.ts`), compiled once per process.
static COUNTERS_PROGRAM: OnceLock<Arc<JsProgram>> = OnceLock::new();
const COUNTERS_TS: (&str, &str) = ("counters.ts", include_str!("../../models/js/counters.ts"));

/// The safe counter's calls as methods: `"get_unique_number"` is `getUniqueNumber()`.
fn safe_to_js(request: &Value) -> JsCall {
    match request.as_str() {
        Some("get_unique_number") => JsCall::new("getUniqueNumber", vec![]),
        _ => JsCall::new("increment", vec![]),
    }
}

fn safe_to_rust(call: &JsCall, reply: Option<&Value>) -> (Value, Option<Value>) {
    let name = if call.method == "getUniqueNumber" { "get_unique_number" } else { "increment" };
    (Value::from(name), reply.cloned())
}

fn racy_to_js(_request: &Value) -> JsCall {
    JsCall::new("increment", vec![])
}

fn racy_to_rust(_call: &JsCall, reply: Option<&Value>) -> (Value, Option<Value>) {
    (Value::from("increment"), reply.cloned())
}

macro_rules! js_counter {
    ($name:ident, $cli:literal, $about:literal, $rust:ident, $binding:literal, $class:literal, $backend:expr, $to_js:ident, $to_rust:ident) => {
        #[doc = $about]
        pub static $name: JsPort = JsPort {
            name: $cli,
            about: $about,
            expect: $rust.expect,
            rust: &$rust,
            module: COUNTERS_TS,
            program: &COUNTERS_PROGRAM,
            classes: &[JsBinding { binding: $binding, class: $class, backend: $backend }],
            id_name: "counter",
            to_js: $to_js,
            to_rust: $to_rust,
            drive: None,
        };
    };
}

js_counter!(
    SAFE_COUNTER_JS,
    "safe-counter-js",
    "Safe counter in TypeScript (JS host): get then put; the input gate makes it race-free",
    SAFE_COUNTER,
    "SAFE_COUNTER",
    "SafeCounter",
    Backend::Sqlite,
    safe_to_js,
    safe_to_rust
);
js_counter!(
    SAFE_COUNTER_KV_JS,
    "safe-counter-kv-js",
    "Safe counter in TypeScript on the KV-backed back-end: reads that miss the cache hold the gate",
    SAFE_COUNTER_KV,
    "SAFE_COUNTER_KV",
    "SafeCounter",
    Backend::Kv,
    safe_to_js,
    safe_to_rust
);
js_counter!(
    RACY_COUNTER_JS,
    "racy-counter-js",
    "Read, setTimeout, write in TypeScript: the timer opens the input gate, updates are lost (must fail)",
    RACY_COUNTER,
    "RACY_COUNTER",
    "RacyCounter",
    Backend::Sqlite,
    racy_to_js,
    racy_to_rust
);
js_counter!(
    RACY_COUNTER_KV_JS,
    "racy-counter-kv-js",
    "Read, setTimeout, write in TypeScript on the KV-backed back-end (must fail)",
    RACY_COUNTER_KV,
    "RACY_COUNTER_KV",
    "RacyCounter",
    Backend::Kv,
    racy_to_js,
    racy_to_rust
);
