//! The write coalescing scenarios: 2–4 clients record actions for two users
//! (`updateMetrics`) and write batches of uniquely named items (`batchUpdate`) while the
//! fault plan crashes the object. Judged from the caller's side: each user's stored count
//! is the number of actions of the calls that took effect (between the acknowledged ones
//! and those plus the ones whose outcome is unknown), and their last action is the last
//! action of one of those calls; an acknowledged batch is stored whole, a failed one not at
//! all, an unknown one whole or not at all; and no call fails with the object's own error.

use crate::clients::error_text;
use crate::evidence::{calls, count, drive_clients, own_error};
use crate::js_port::{as_json, plain, JsBinding, JsPort};
use crate::workload::{Driving, Shape, Workload};
use crate::{Expect, Scenario};
use dosim_js::{JsCall, JsObject, JsProgram};
use dosim_models::write_coalescing::{Action, FixedMetrics, Item, Metrics, MetricsCall};
use dosim_sim::{Backend, Completion, DurableObject, Op, RunReport, Violation, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

const BINDING: &str = "METRICS";
const OBJECT: &str = "metrics";
const LABEL: &str = "METRICS:metrics";

/// A workload step: the drive function makes it a request with unique item ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Step {
    /// `updateMetrics("u<user>", actions)`.
    Update { user: u8, actions: Vec<String> },
    /// `batchUpdate` of this many items.
    Batch { items: u8 },
}

/// A write coalescing scenario: which port it drives.
pub struct MetricsScenario {
    name: &'static str,
    about: &'static str,
    expect: Expect,
    drive: fn(&World, Workload) -> Driving,
}

/// `write-coalescing`: the original methods.
pub static WRITE_COALESCING: MetricsScenario = MetricsScenario {
    name: "write-coalescing",
    about:
        "Write Coalescing as written: counts start at undefined + 1 = NaN, BEGIN via sql.exec is refused (must fail)",
    expect: Expect::Defect,
    drive: drive::<Metrics>,
};

/// `write-coalescing-fixed`: counts default to 0, batches run in `transactionSync`.
pub static WRITE_COALESCING_FIXED: MetricsScenario = MetricsScenario {
    name: "write-coalescing-fixed",
    about: "Write Coalescing fixed: a missing count reads as 0, batchUpdate runs in transactionSync",
    expect: Expect::Pass,
    drive: drive::<FixedMetrics>,
};

/// `write-coalescing-js`: the reference document's TypeScript, run by the JS host. Its
/// methods are wrapped in `class Metrics`, and the class clients call, `MetricsHarness`,
/// assigns `this.sql` as the Rust port's class does. `updateMetrics` answers
/// `new Response("OK")`, which the history gives back as its body, `"OK"`, the Rust port's
/// reply; `batchUpdate` answers `undefined`, `null` as for the Rust port. The count the
/// checker reads from storage is `{"$js": "NaN"}` where the Rust port stores `"NaN"`: a
/// value that is not a number either way, judged alike.
pub static WRITE_COALESCING_JS: JsPort = JsPort {
    name: "write-coalescing-js",
    about: "Write Coalescing, the reference TypeScript run verbatim (judged like write-coalescing)",
    expect: Expect::Defect,
    rust: &WRITE_COALESCING,
    module: ("write_coalescing.ts", include_str!("../../models/js/write_coalescing.ts")),
    program: &WRITE_COALESCING_PROGRAM,
    classes: &[JsBinding { binding: BINDING, class: "MetricsHarness", backend: Backend::Sqlite }],
    id_name: OBJECT,
    to_js: |request| match serde_json::from_value(request.clone()) {
        Ok(MetricsCall::UpdateMetrics { user_id, actions }) => {
            JsCall::new("updateMetrics", vec![user_id.into(), as_json(actions)])
        }
        Ok(MetricsCall::BatchUpdate { items }) => JsCall::new("batchUpdate", vec![as_json(items)]),
        Err(_) => JsCall::new("updateMetrics", vec![]),
    },
    to_rust: |call, reply| {
        let arg = |i: usize| call.args.get(i).cloned().unwrap_or(Value::Null);
        let request = match call.method.as_str() {
            "batchUpdate" => serde_json::json!({"batch_update": {"items": arg(0)}}),
            _ => serde_json::json!({"update_metrics": {"user_id": arg(0), "actions": arg(1)}}),
        };
        let reply = reply.map(|v| match v.get("$js").and_then(Value::as_str) {
            Some("Response") => v.get("body").cloned().unwrap_or(Value::Null),
            _ => plain(v),
        });
        (request, reply)
    },
    drive: Some(|_port, world, workload| {
        let call =
            |c: usize, k: usize, step: &Value| Some((WRITE_COALESCING_JS.to_js)(&as_json(concretize(c, k, step)?)));
        drive_clients::<JsObject>(world, BINDING, OBJECT, workload, call, |_| false)
    }),
};
static WRITE_COALESCING_PROGRAM: OnceLock<Arc<JsProgram>> = OnceLock::new();

fn concretize(c: usize, k: usize, step: &Value) -> Option<MetricsCall> {
    match serde_json::from_value::<Step>(step.clone()).ok()? {
        Step::Update { user, actions } => Some(MetricsCall::UpdateMetrics {
            user_id: format!("u{user}"),
            actions: actions.into_iter().map(|kind| Action { kind }).collect(),
        }),
        Step::Batch { items } => Some(MetricsCall::BatchUpdate {
            items: (0..items).map(|j| Item { id: format!("c{c}-{k}-{j}"), value: format!("v{c}-{k}-{j}") }).collect(),
        }),
    }
}

fn drive<O: DurableObject<Request = MetricsCall>>(world: &World, workload: Workload) -> Driving {
    drive_clients::<O>(world, BINDING, OBJECT, workload, concretize, |_| false)
}

impl Scenario for MetricsScenario {
    crate::meta_from_fields!();

    fn shape(&self) -> Shape {
        Shape::default()
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        let kind = prop_oneof![Just("click".to_owned()), Just("view".to_owned()), Just("buy".to_owned())];
        let update =
            (0u8..2, proptest::collection::vec(kind, 1..=3)).prop_map(|(user, actions)| Step::Update { user, actions });
        let batch = (1u8..=4).prop_map(|items| Step::Batch { items });
        prop_oneof![2 => update, 1 => batch].prop_map(|s| serde_json::to_value(s).unwrap_or(Value::Null)).boxed()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        serde_json::from_value::<Step>(request.clone()).map(drop).map_err(|e| e.to_string())
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        (self.drive)(&world, workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        check_metrics(report)
    }
}

/// Whether the call may have taken effect: acknowledged, or its outcome unknown.
fn may_have_run(op: &Op) -> bool {
    !matches!(op.completion, Completion::Fail { .. })
}

fn check_metrics(report: &RunReport) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut say = |message: String| {
        found.push(Violation { checker: "write-coalescing".into(), message, at: report.sim_time });
    };
    let ops = calls(report, LABEL);
    let durable = report.durable.get(LABEL);
    // Per user: the update calls, in invoke order.
    let mut users: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in &ops {
        if let Some(user) = op.request.pointer("/update_metrics/user_id").and_then(Value::as_str) {
            users.entry(user).or_default().push(op);
        }
    }
    let actions_of = |op: &Op| -> Vec<String> {
        let list = op.request.pointer("/update_metrics/actions").and_then(Value::as_array);
        list.into_iter().flatten().filter_map(|a| a.get("type").and_then(Value::as_str).map(str::to_owned)).collect()
    };
    for (user, updates) in &users {
        let acked: usize = updates.iter().filter(|o| o.ok_value().is_some()).map(|o| actions_of(o).len()).sum();
        let most: usize = updates.iter().filter(|o| may_have_run(o)).map(|o| actions_of(o).len()).sum();
        let stored = durable.and_then(|d| d.get(&format!("user:{user}:count")));
        match stored {
            None if acked > 0 => say(format!("user {user} has no stored count after {acked} acknowledged actions")),
            None => {}
            Some(Value::Number(n)) => {
                let n = n.as_f64().unwrap_or(f64::NAN);
                if n.fract() != 0.0 || n < acked as f64 || n > most as f64 {
                    say(format!(
                        "user {user}'s stored count is {n}, but {acked} actions were acknowledged and at most {most} may have run"
                    ));
                }
            }
            Some(other) => say(format!(
                "user {user}'s stored count is {other} after {acked} acknowledged actions: the first update read \
                 undefined, undefined + 1 is NaN, and NaN + 1 stays NaN"
            )),
        }
        let last = durable.and_then(|d| d.get(&format!("user:{user}:lastAction"))).and_then(Value::as_str);
        let possible: Vec<String> =
            updates.iter().filter(|o| may_have_run(o)).filter_map(|o| actions_of(o).pop()).collect();
        if let Some(last) = last {
            if !possible.iter().any(|p| p == last) {
                say(format!("user {user}'s last action is {last:?}, the last action of no call that may have run"));
            }
        }
    }
    let items: BTreeMap<&str, &str> = report
        .tables
        .get(LABEL)
        .and_then(|t| t.get("items"))
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r.get("id")?.as_str()?, r.get("value")?.as_str()?)))
        .collect();
    for op in &ops {
        let Some(batch) = op.request.pointer("/batch_update/items").and_then(Value::as_array) else { continue };
        let present = batch
            .iter()
            .filter(|i| {
                let (id, value) = (i.get("id").and_then(Value::as_str), i.get("value").and_then(Value::as_str));
                id.and_then(|id| items.get(id)).copied() == value
            })
            .count();
        let whole = present == batch.len();
        let problem = match &op.completion {
            Completion::Ok { .. } if !whole => Some("acknowledged"),
            Completion::Fail { .. } if present > 0 => Some("failed"),
            Completion::Info { .. } | Completion::Pending if present > 0 && !whole => Some("of unknown outcome"),
            _ => None,
        };
        if let Some(what) = problem {
            say(format!("batchUpdate #{} ({what}) left {present} of its {} items stored", op.index, batch.len()));
        }
    }
    let mut own: BTreeMap<&str, (usize, &Op)> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.error().is_some_and(own_error)) {
        let kind = if op.request.get("batch_update").is_some() { "batchUpdate" } else { "updateMetrics" };
        own.entry(kind).or_insert((0, op)).0 += 1;
    }
    for (kind, (n, op)) in own {
        let error = op.error().map(error_text).unwrap_or_default();
        say(format!(
            "{} failed with the object's own error, which a retry meets again; the first, #{}: {error}",
            count(n, &format!("{kind} call"), &format!("{kind} calls")),
            op.index
        ));
    }
    found
}
