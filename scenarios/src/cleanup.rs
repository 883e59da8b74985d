//! The cleanup scenario: 2–4 clients store uniquely named keys, arm alarms 1–1500 ms
//! ahead and clean up, over a few seconds, while the fault plan crashes the object.
//! Judged from the caller's side, for every acknowledged cleanup: no key whose put was
//! acknowledged before the cleanup began is left at the end, and no alarm fires after the
//! cleanup was acknowledged unless a call not finished before the cleanup began set it.

use crate::evidence::{calls, drive_clients};
use crate::js_port::{as_json, plain, JsBinding, JsPort};
use crate::workload::{Driving, Shape, Workload};
use crate::{Expect, Scenario};
use dosim_js::{JsCall, JsObject, JsProgram};
use dosim_models::cleanup::{Cleanup, CleanupCall, CleanupDeleteAllOnly};
use dosim_sim::{Backend, DurableObject, Op, RunReport, SimTime, Violation, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::{Arc, OnceLock};

const BINDING: &str = "CLEANUP";
const OBJECT: &str = "cleanup";
const LABEL: &str = "CLEANUP:cleanup";

/// A workload step: the drive function names each key after its client and call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Step {
    Put,
    Arm { in_ms: u64 },
    Cleanup,
}

/// A cleanup scenario: which variant it drives.
pub struct CleanupScenario {
    name: &'static str,
    about: &'static str,
    drive: fn(&World, Workload) -> Driving,
}

/// `cleanup`: the pattern as written, right, a negative control.
pub static CLEANUP: CleanupScenario = CleanupScenario {
    name: "cleanup",
    about: "Cleanup: deleteAlarm() then deleteAll(), one atomic batch; right as written (negative control)",
    drive: drive::<Cleanup>,
};

/// `deleteAll()` alone: right only while it deletes the alarm too (the compatibility flag
/// dosim enables by default). Not a built-in scenario; the tests run it with the flag off
/// to show that the invariant catches a surviving alarm.
pub static CLEANUP_DELETE_ALL_ONLY: CleanupScenario = CleanupScenario {
    name: "cleanup-delete-all-only",
    about: "Cleanup with deleteAll() alone: the alarm survives unless deleteAll() deletes it",
    drive: drive::<CleanupDeleteAllOnly>,
};

/// `cleanup-js`: the reference document's TypeScript, run by the JS host. The method is
/// wrapped in `class Cleanup`; the class clients call, `CleanupHarness`, adds what the
/// Rust port's class adds (`put`, `arm` answering the alarm time, an empty `alarm`), and
/// is not reference code. `put` and `cleanup` answer `undefined`, `null` as for the Rust
/// port.
pub static CLEANUP_JS: JsPort = JsPort {
    name: "cleanup-js",
    about: "Cleanup, the reference TypeScript run verbatim (judged like cleanup)",
    expect: Expect::Pass,
    rust: &CLEANUP,
    module: ("cleanup.ts", include_str!("../../models/js/cleanup.ts")),
    program: &CLEANUP_PROGRAM,
    classes: &[JsBinding { binding: BINDING, class: "CleanupHarness", backend: Backend::Sqlite }],
    id_name: OBJECT,
    to_js: |request| match serde_json::from_value(request.clone()) {
        Ok(CleanupCall::Put { key, value }) => JsCall::new("put", vec![key.into(), value.into()]),
        Ok(CleanupCall::Arm { in_ms }) => JsCall::new("arm", vec![in_ms.into()]),
        Ok(CleanupCall::Cleanup) | Err(_) => JsCall::new("cleanup", vec![]),
    },
    to_rust: |call, reply| {
        let arg = |i: usize| call.args.get(i).cloned().unwrap_or(Value::Null);
        let request = match call.method.as_str() {
            "put" => serde_json::json!({"put": {"key": arg(0), "value": arg(1)}}),
            "arm" => serde_json::json!({"arm": {"in_ms": arg(0)}}),
            _ => Value::from("cleanup"),
        };
        (request, reply.map(plain))
    },
    drive: Some(|_port, world, workload| {
        let call = |c: usize, k: usize, step: &Value| Some((CLEANUP_JS.to_js)(&as_json(concretize(c, k, step)?)));
        drive_clients::<JsObject>(world, BINDING, OBJECT, workload, call, |_| false)
    }),
};
static CLEANUP_PROGRAM: OnceLock<Arc<JsProgram>> = OnceLock::new();

fn concretize(c: usize, k: usize, step: &Value) -> Option<CleanupCall> {
    match serde_json::from_value::<Step>(step.clone()).ok()? {
        Step::Put => Some(CleanupCall::Put { key: format!("k-c{c}-{k}"), value: format!("v-c{c}-{k}") }),
        Step::Arm { in_ms } => Some(CleanupCall::Arm { in_ms }),
        Step::Cleanup => Some(CleanupCall::Cleanup),
    }
}

fn drive<O: DurableObject<Request = CleanupCall>>(world: &World, workload: Workload) -> Driving {
    drive_clients::<O>(world, BINDING, OBJECT, workload, concretize, |_| false)
}

impl Scenario for CleanupScenario {
    fn name(&self) -> &'static str {
        self.name
    }

    fn about(&self) -> &'static str {
        self.about
    }

    fn expect(&self) -> Expect {
        Expect::Pass
    }

    fn shape(&self) -> Shape {
        Shape { clients: (2, 4), calls: (3, 8), max_think_ms: 400, chaos_window_ms: 3000 }
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        let arm = (1u64..=1500).prop_map(|in_ms| Step::Arm { in_ms });
        prop_oneof![2 => Just(Step::Put), 1 => arm, 1 => Just(Step::Cleanup)]
            .prop_map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
            .boxed()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        serde_json::from_value::<Step>(request.clone()).map(drop).map_err(|e| e.to_string())
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        (self.drive)(&world, workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        check_cleanup(report)
    }
}

/// Whether `a` was acknowledged no later than `b` was invoked: its effect then came first.
fn acked_before(a: &Op, b: &Op) -> bool {
    a.ok_value().is_some() && a.completed_at.is_some_and(|t| t <= b.invoked_at)
}

/// Whether the `arm` call could have set the alarm for `t`: its own answer if it has one,
/// else any time its delay reaches from when it was sent until it failed (or the end).
fn could_have_set(arm: &Op, t: u64) -> bool {
    if let Some(set) = arm.ok_value().and_then(Value::as_u64) {
        return set == t;
    }
    let Some(in_ms) = arm.request.pointer("/arm/in_ms").and_then(Value::as_u64) else { return false };
    let until = arm.completed_at.map_or(u64::MAX, SimTime::as_millis);
    (arm.invoked_at.as_millis() + in_ms..=until.saturating_add(in_ms)).contains(&t)
}

fn check_cleanup(report: &RunReport) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut say = |message: String| found.push(Violation { checker: "cleanup".into(), message, at: report.sim_time });
    let ops = calls(report, LABEL);
    let durable = report.durable.get(LABEL);
    let arms: Vec<&Op> = ops.iter().copied().filter(|o| o.request.get("arm").is_some()).collect();
    let cleanups: Vec<&Op> = ops.iter().copied().filter(|o| o.request == "cleanup" && o.ok_value().is_some()).collect();
    for cleanup in &cleanups {
        for put in ops.iter().filter(|o| o.request.get("put").is_some() && acked_before(o, cleanup)) {
            let key = put.request.pointer("/put/key").and_then(Value::as_str).unwrap_or_default();
            if durable.is_some_and(|d| d.contains_key(key)) {
                say(format!(
                    "key {key:?} (put #{}, acknowledged before cleanup #{} began) is still stored after the cleanup",
                    put.index, cleanup.index
                ));
            }
        }
    }
    for run in report.alarms.iter().filter(|a| a.object == LABEL) {
        let t = run.scheduled.as_millis();
        // The last acknowledged cleanup before this run that no later arm could explain it by.
        let survived = cleanups.iter().rev().find(|c| {
            c.completed_at.is_some_and(|done| done < run.at)
                && !arms.iter().any(|arm| !acked_before(arm, c) && could_have_set(arm, t))
        });
        if let Some(cleanup) = survived {
            let by = arms.iter().find(|arm| could_have_set(arm, t)).map(|a| format!(" by arm #{}", a.index));
            say(format!(
                "the alarm set for {t}ms{} (before cleanup #{} began) fired at {}, after the cleanup was acknowledged at {}",
                by.unwrap_or_default(),
                cleanup.index,
                run.at,
                cleanup.completed_at.unwrap_or(cleanup.invoked_at)
            ));
        }
    }
    found
}
