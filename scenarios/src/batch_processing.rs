//! The batch processing scenarios: 2–4 clients add uniquely named items over up to 20 s,
//! so several 5 s batches form, while the fault plan crashes and resets the object. The
//! invariant, from the caller's side: every acknowledged `addItem` is processed exactly
//! once; an item whose call failed outright is never processed, one whose outcome is
//! unknown at most once. The liveness phase runs the alarms still due. Exactly once is
//! an honest claim here although alarms are at-least-once: processing is a row in the
//! object's own database, so a correct port can commit it with the item's removal.

use crate::evidence::{calls, drive_clients, story_since};
use crate::js_port::{as_json, plain, JsBinding, JsPort};
use crate::workload::{Driving, Shape, Workload};
use crate::{Expect, Scenario};
use dosim_js::{JsCall, JsObject, JsProgram};
use dosim_models::batch_processing::{BatchCall, BatchProcessor, FixedBatchProcessor};
use dosim_models::js::{Faithful, Patched};
use dosim_sim::{Backend, Completion, DurableObject, RunReport, Violation, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

const BINDING: &str = "BATCH";
const OBJECT: &str = "batch";
const LABEL: &str = "BATCH:batch";

/// A batch processing scenario: which port it drives.
pub struct BatchScenario {
    name: &'static str,
    about: &'static str,
    expect: Expect,
    drive: fn(&World, Workload) -> Driving,
}

/// `batch-processing`: the original.
pub static BATCH_PROCESSING: BatchScenario = BatchScenario {
    name: "batch-processing",
    about: "Batch Processing with Alarms as written: this.sql is undefined, so every alarm throws (must fail)",
    expect: Expect::Defect,
    drive: drive::<BatchProcessor<Faithful>>,
};

/// `batch-processing-patched`: the original with its runtime errors patched.
pub static BATCH_PROCESSING_PATCHED: BatchScenario = BatchScenario {
    name: "batch-processing-patched",
    about: "Batch Processing, runtime errors patched: pending items live in memory and die with it (must fail)",
    expect: Expect::Defect,
    drive: drive::<BatchProcessor<Patched>>,
};

/// `batch-processing-fixed`: pending items stored, moved by the alarm in one transaction.
pub static BATCH_PROCESSING_FIXED: BatchScenario = BatchScenario {
    name: "batch-processing-fixed",
    about: "Batch Processing fixed: items stored on arrival, moved to processed_items atomically by the alarm",
    expect: Expect::Pass,
    drive: drive::<FixedBatchProcessor>,
};

/// `batch-processing-js`: the reference document's TypeScript, run by the JS host.
/// `addItem` answers `undefined`, which the history records as `null`, the reply of the
/// Rust port's `()`.
pub static BATCH_PROCESSING_JS: JsPort = JsPort {
    name: "batch-processing-js",
    about: "Batch Processing with Alarms, the reference TypeScript run verbatim (judged like batch-processing)",
    expect: Expect::Defect,
    rust: &BATCH_PROCESSING,
    module: ("batch_processing.ts", include_str!("../../models/js/batch_processing.ts")),
    program: &BATCH_PROCESSING_PROGRAM,
    classes: &[JsBinding { binding: BINDING, class: "BatchProcessor", backend: Backend::Sqlite }],
    id_name: OBJECT,
    to_js: |request| match serde_json::from_value(request.clone()) {
        Ok(BatchCall::AddItem(item)) => JsCall::new("addItem", vec![item.into()]),
        Err(_) => JsCall::new("addItem", vec![]),
    },
    to_rust: |call, reply| {
        let item = call.args.first().cloned().unwrap_or(Value::Null);
        (serde_json::json!({ "add_item": item }), reply.map(plain))
    },
    drive: Some(|_port, world, workload| {
        let call =
            |c: usize, k: usize, step: &Value| Some((BATCH_PROCESSING_JS.to_js)(&as_json(concretize(c, k, step)?)));
        drive_clients::<JsObject>(world, BINDING, OBJECT, workload, call, |_| false)
    }),
};
static BATCH_PROCESSING_PROGRAM: OnceLock<Arc<JsProgram>> = OnceLock::new();

/// Every step is `"add_item"`; the item is named after its client and call (`c1-4`).
fn concretize(c: usize, k: usize, step: &Value) -> Option<BatchCall> {
    (step == "add_item").then(|| BatchCall::AddItem(format!("c{c}-{k}")))
}

fn drive<O: DurableObject<Request = BatchCall>>(world: &World, workload: Workload) -> Driving {
    // Not retried: the history then says plainly which items were acknowledged.
    drive_clients::<O>(world, BINDING, OBJECT, workload, concretize, |_| false)
}

impl Scenario for BatchScenario {
    crate::meta_from_fields!();

    fn shape(&self) -> Shape {
        // Think times up to 2.5 s spread the items over several 5 s batches; timed crashes
        // land anywhere in the first 10 s, between an item and its batch's alarm too.
        Shape { clients: (2, 4), calls: (3, 8), max_think_ms: 2500, chaos_window_ms: 10_000 }
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        Just(Value::from("add_item")).boxed()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        if request == "add_item" {
            Ok(())
        } else {
            Err(format!("expected \"add_item\", got {request}"))
        }
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        (self.drive)(&world, workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        check_batch(report)
    }
}

fn check_batch(report: &RunReport) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut say = |message: String| {
        found.push(Violation { checker: "batch-processing".into(), message, at: report.sim_time });
    };
    let mut processed: BTreeMap<String, usize> = BTreeMap::new();
    let rows = report.tables.get(LABEL).and_then(|t| t.get("processed_items"));
    for row in rows.into_iter().flatten() {
        let item = row.get("item").and_then(Value::as_str).unwrap_or_default();
        *processed.entry(item.to_owned()).or_default() += 1;
    }
    let ops = calls(report, LABEL);
    let mut lost = Vec::new();
    let mut acked = 0;
    for op in &ops {
        let Some(item) = op.request.get("add_item").and_then(Value::as_str) else { continue };
        let n = processed.remove(item).unwrap_or(0);
        match &op.completion {
            Completion::Ok { .. } => {
                acked += 1;
                if n == 0 {
                    lost.push((*op, item));
                }
            }
            Completion::Fail { error } if n > 0 => say(format!(
                "item {item:?} was processed although addItem #{} failed with {:?}: {}",
                op.index, error.kind, error.message
            )),
            _ => {}
        }
        if n > 1 {
            say(format!("item {item:?} (addItem #{}) was processed {n} times", op.index));
        }
    }
    if let Some((op, item)) = lost.first() {
        let at = op.completed_at.unwrap_or(op.invoked_at);
        let verb = if lost.len() == 1 { "was" } else { "were" };
        say(format!(
            "{} of the {acked} acknowledged items {verb} never processed; the first, {item:?} (addItem #{}, acknowledged at {at}): {}",
            lost.len(),
            op.index,
            story_since(report, LABEL, at)
        ));
    }
    for (item, n) in processed {
        say(format!("processed_items holds {item:?} ({n}x), which no client added"));
    }
    found
}
