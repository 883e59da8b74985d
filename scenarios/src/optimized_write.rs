//! `optimized-write` (the Safe Counter / Optimized Write pattern exactly as the reference
//! document writes it: `val + 1` on a missing counter) and `optimized-write-fixed` (the
//! `|| 0` fix, which is the `SafeCounter` model that `safe-counter` also runs). Clients
//! call `getUniqueNumber` and `increment` concurrently, with crashes from the fault plan.
//! Judged from the caller's side: every call is handed a number (0, 1, 2, ...), no number
//! twice, and the durable counter counts every acknowledged call.

use crate::clients::describe;
use crate::counters::{check_counter, safe_requests, CounterScenario, Returns};
use crate::js_port::{plain, JsBinding, JsPort};
use crate::workload::{accepts, drive, Driving, Workload};
use crate::{Expect, Scenario};
use dosim_js::{JsCall, JsProgram};
use dosim_models::js::JsNumber;
use dosim_models::optimized_write::OptimizedWriteReply;
use dosim_models::safe_counter::SafeCounterCall;
use dosim_models::{OptimizedWrite, SafeCounter};
use dosim_sim::{Backend, RunReport, Violation, World};
use proptest::strategy::BoxedStrategy;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// `optimized-write`: the pattern as written.
pub struct OptimizedWriteScenario;

/// `optimized-write`.
pub static OPTIMIZED_WRITE: OptimizedWriteScenario = OptimizedWriteScenario;

const BINDING: &str = "OPTIMIZED_WRITE";

/// `optimized-write-fixed`: `SafeCounter`, the same model as `safe-counter`.
pub static OPTIMIZED_WRITE_FIXED: CounterScenario = CounterScenario {
    name: "optimized-write-fixed",
    about: "Safe Counter / Optimized Write fixed with `|| 0`: the SafeCounter model, which safe-counter also runs",
    binding: "OPTIMIZED_WRITE_FIXED",
    key: "counter",
    returns: Returns::Old,
    expect: Expect::Pass,
    requests: safe_requests,
    accepts: accepts::<SafeCounter>,
    drive: |w, wl| drive::<SafeCounter>(w, "OPTIMIZED_WRITE_FIXED", Backend::Sqlite, "counter", wl),
};

/// `optimized-write-js`: the reference document's TypeScript (the two methods wrapped in
/// `OptimizedWrite`), run by the JS host. `getUniqueNumber` answers `val` (`undefined` is
/// read as `null`, `NaN` as `"NaN"`, as `JsNumber` says them); `increment` a `Response`,
/// read as its body text, as the Rust port answers it.
pub static OPTIMIZED_WRITE_JS: JsPort = JsPort {
    name: "optimized-write-js",
    about: "Safe Counter / Optimized Write, the reference TypeScript run verbatim (judged like optimized-write)",
    expect: Expect::Defect,
    rust: &OPTIMIZED_WRITE,
    module: ("optimized_write.ts", include_str!("../../models/js/optimized_write.ts")),
    program: &OPTIMIZED_WRITE_PROGRAM,
    classes: &[JsBinding { binding: BINDING, class: "OptimizedWrite", backend: Backend::Sqlite }],
    id_name: "counter",
    to_js: |request| match serde_json::from_value(request.clone()) {
        Ok(SafeCounterCall::GetUniqueNumber) => JsCall::new("getUniqueNumber", vec![]),
        Ok(SafeCounterCall::Increment) | Err(_) => JsCall::new("increment", vec![]),
    },
    to_rust: |call, reply| {
        let request = match call.method.as_str() {
            "getUniqueNumber" => SafeCounterCall::GetUniqueNumber,
            _ => SafeCounterCall::Increment,
        };
        let reply = reply.map(|r| match r.get("$js").and_then(Value::as_str) {
            Some("Response") => json!({ "body": r.get("body").cloned().unwrap_or(Value::Null) }),
            _ => plain(r),
        });
        (serde_json::to_value(request).unwrap_or(Value::Null), reply)
    },
    drive: None,
};
static OPTIMIZED_WRITE_PROGRAM: OnceLock<Arc<JsProgram>> = OnceLock::new();

impl Scenario for OptimizedWriteScenario {
    fn name(&self) -> &'static str {
        "optimized-write"
    }

    fn about(&self) -> &'static str {
        "Safe Counter / Optimized Write, the document's code (safe-counter is the fixed model): val + 1 on a missing counter hands out undefined, then NaN"
    }

    fn expect(&self) -> Expect {
        Expect::Defect
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        safe_requests()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        accepts::<OptimizedWrite>(request)
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        drive::<OptimizedWrite>(&world, BINDING, Backend::Sqlite, "counter", workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        let label = format!("{BINDING}:counter");
        let mut found = check_numbers(report, &label);
        found.extend(check_counter(report, &label, "counter", Returns::Old));
        found
    }
}

/// What the caller was handed, as JavaScript would see it.
fn handed(value: &Value) -> Option<JsNumber> {
    match serde_json::from_value::<OptimizedWriteReply>(value.clone()).ok()? {
        OptimizedWriteReply::Number(n) => Some(n),
        // `increment` answers `String(val)`: read the number back out of the body.
        OptimizedWriteReply::Response { body } => Some(match body.as_str() {
            "undefined" => JsNumber::Undefined,
            text => JsNumber::Number(text.parse().unwrap_or(f64::NAN)),
        }),
    }
}

/// Every acknowledged call must be handed a whole number; the rest, grouped by what they
/// were handed instead.
fn check_numbers(report: &RunReport, label: &str) -> Vec<Violation> {
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for op in report.history.iter().filter(|o| o.object == label) {
        let Some(n) = op.ok_value().and_then(handed) else { continue };
        let whole = matches!(n, JsNumber::Number(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0);
        if !whole {
            wrong.entry(n.to_js_string()).or_default().push(describe(op));
        }
    }
    let mut found = Vec::new();
    // The cause first: `undefined`, then the `NaN` it turns into.
    let mut groups: Vec<(String, Vec<String>)> = wrong.into_iter().collect();
    groups.sort_by_key(|(what, _)| what != "undefined");
    for (what, calls) in groups {
        let why = match what.as_str() {
            "undefined" => "the counter was never set, so `get` read undefined",
            "NaN" => "a call stored `undefined + 1`, which is NaN, and `NaN + 1` is NaN again",
            _ => "not a count",
        };
        let shown: Vec<&str> = calls.iter().take(3).map(String::as_str).collect();
        let more = if calls.len() > 3 { format!(" and {} more", calls.len() - 3) } else { String::new() };
        found.push(Violation {
            checker: "unique-number".into(),
            message: format!("{}{more} handed {what}, not a number: {why}", shown.join(", ")),
            at: report.sim_time,
        });
    }
    if let Some(v) = report.durable_value(label, "counter").filter(|v| !v.is_u64()) {
        found.push(Violation {
            checker: "unique-number".into(),
            message: format!("the durable counter is {v}, not a count"),
            at: report.sim_time,
        });
    }
    found
}
