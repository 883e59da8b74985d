//! The parent-child scenarios: 2–4 clients create uniquely named documents in one
//! workspace (retrying a create up to 3 times after a reset or a lost connection) and list
//! them, while the fault plan crashes objects and breaks calls between them (refused,
//! reset mid-call, reply lost). Judged from the user's side once the run has settled:
//! every document the workspace lists has an initialized child; every acknowledged create
//! is listed; a retried create is listed once; no initialized child is left unlisted (an
//! orphan); and no call fails with the objects' own error (such a call fails forever).

use crate::clients::error_text;
use crate::evidence::{calls, count, drive_clients, id_hex, label_of, outcome, own_error};
use crate::js_port::{as_json, plain, JsBinding, JsPort};
use crate::workload::{Driving, Shape, Workload};
use crate::{Expect, Scenario};
use dosim_js::{JsCall, JsObject, JsProgram};
use dosim_models::js::{Faithful, Patched, Port};
use dosim_models::parent_child::{
    Document, FixedDocument, FixedWorkspace, FixedWorkspaceCall, Workspace, WorkspaceCall, DOCUMENT_BINDING,
};
use dosim_sim::{Backend, RunReport, Violation, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

const BINDING: &str = "WORKSPACE";
const OBJECT: &str = "ws";

/// A parent-child scenario: which port it drives, and which rows its workspace lists.
pub struct ParentChildScenario {
    name: &'static str,
    about: &'static str,
    expect: Expect,
    drive: fn(&World, Workload) -> Driving,
    /// Whether a row of `documents` is one `listDocuments` returns.
    listed: fn(&Value) -> bool,
}

fn every_row(_: &Value) -> bool {
    true
}

/// `parent-child`: the original pair.
pub static PARENT_CHILD: ParentChildScenario = ParentChildScenario {
    name: "parent-child",
    about: "Parent-Child Coordination as written: this.sql is undefined in both classes (must fail)",
    expect: Expect::Defect,
    drive: drive_original::<Faithful>,
    listed: every_row,
};

/// `parent-child-patched`: the original pair with its runtime errors patched.
pub static PARENT_CHILD_PATCHED: ParentChildScenario = ParentChildScenario {
    name: "parent-child-patched",
    about: "Parent-Child, runtime errors patched: a failed create leaves an orphan child, a retried one a duplicate (must fail)",
    expect: Expect::Defect,
    drive: drive_original::<Patched>,
    listed: every_row,
};

/// `parent-child-fixed`: idempotent creates recorded before the child is called.
pub static PARENT_CHILD_FIXED: ParentChildScenario = ParentChildScenario {
    name: "parent-child-fixed",
    about: "Parent-Child fixed: record first, initialize idempotently, mark ready; an alarm finishes what a crash left",
    expect: Expect::Pass,
    drive: drive_fixed,
    listed: |row| row.get("ready").and_then(Value::as_i64) == Some(1),
};

/// `parent-child-js`: the reference document's TypeScript, both classes run by the JS host
/// under the Rust port's bindings (`WORKSPACE`, and `DOCUMENT`, which `Workspace` calls
/// through `env.DOCUMENT`). Clients retry creates as for the Rust port.
pub static PARENT_CHILD_JS: JsPort = JsPort {
    name: "parent-child-js",
    about: "Parent-Child Coordination, the reference TypeScript run verbatim (judged like parent-child)",
    expect: Expect::Defect,
    rust: &PARENT_CHILD,
    module: ("parent_child.ts", include_str!("../../models/js/parent_child.ts")),
    program: &PARENT_CHILD_PROGRAM,
    classes: &[
        JsBinding { binding: BINDING, class: "Workspace", backend: Backend::Sqlite },
        JsBinding { binding: DOCUMENT_BINDING, class: "Document", backend: Backend::Sqlite },
    ],
    id_name: OBJECT,
    to_js: |request| match serde_json::from_value(request.clone()) {
        Ok(WorkspaceCall::CreateDocument { name }) => JsCall::new("createDocument", vec![name.into()]),
        Ok(WorkspaceCall::ListDocuments) | Err(_) => JsCall::new("listDocuments", vec![]),
    },
    to_rust: |call, reply| {
        let request = match call.method.as_str() {
            "createDocument" => {
                serde_json::json!({"create_document": {"name": call.args.first().cloned().unwrap_or(Value::Null)}})
            }
            _ => Value::from("list_documents"),
        };
        (request, reply.map(plain))
    },
    drive: Some(|_port, world, workload| {
        let call = |c: usize, k: usize, step: &Value| Some((PARENT_CHILD_JS.to_js)(&as_json(concretize(c, k, step)?)));
        let retry = |r: &JsCall| r.method == "createDocument";
        drive_clients::<JsObject>(world, BINDING, OBJECT, workload, call, retry)
    }),
};
static PARENT_CHILD_PROGRAM: OnceLock<Arc<JsProgram>> = OnceLock::new();

/// Each create names its document after its client and call (`doc-c1-4`).
fn name_of(c: usize, k: usize) -> String {
    format!("doc-c{c}-{k}")
}

fn concretize(c: usize, k: usize, step: &Value) -> Option<WorkspaceCall> {
    match step.as_str()? {
        "create" => Some(WorkspaceCall::CreateDocument { name: name_of(c, k) }),
        "list" => Some(WorkspaceCall::ListDocuments),
        _ => None,
    }
}

fn drive_original<P: Port>(world: &World, workload: Workload) -> Driving {
    world.namespace_with::<Document<P>>(DOCUMENT_BINDING, Backend::Sqlite);
    let retry = |r: &WorkspaceCall| matches!(r, WorkspaceCall::CreateDocument { .. });
    drive_clients::<Workspace<P>>(world, BINDING, OBJECT, workload, concretize, retry)
}

fn drive_fixed(world: &World, workload: Workload) -> Driving {
    world.namespace_with::<FixedDocument>(DOCUMENT_BINDING, Backend::Sqlite);
    let concretize = |c: usize, k: usize, step: &Value| match step.as_str()? {
        "create" => {
            Some(FixedWorkspaceCall::CreateDocument { name: name_of(c, k), request_id: format!("req-c{c}-{k}") })
        }
        "list" => Some(FixedWorkspaceCall::ListDocuments),
        _ => None,
    };
    let retry = |r: &FixedWorkspaceCall| matches!(r, FixedWorkspaceCall::CreateDocument { .. });
    drive_clients::<FixedWorkspace>(world, BINDING, OBJECT, workload, concretize, retry)
}

impl Scenario for ParentChildScenario {
    crate::meta_from_fields!();

    fn shape(&self) -> Shape {
        // A create is two hops of 1–3 ms each way; crashes land across the whole workload.
        Shape { clients: (2, 4), calls: (3, 8), max_think_ms: 20, chaos_window_ms: 200 }
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        prop_oneof![3 => Just(Value::from("create")), 1 => Just(Value::from("list"))].boxed()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        match request.as_str() {
            Some("create" | "list") => Ok(()),
            _ => Err(format!("expected \"create\" or \"list\", got {request}")),
        }
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        (self.drive)(&world, workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        check_parent_child(report, self.listed)
    }
}

fn str_at<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn check_parent_child(report: &RunReport, listed_row: fn(&Value) -> bool) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut say = |message: String| {
        found.push(Violation { checker: "parent-child".into(), message, at: report.sim_time });
    };
    let parent = label_of(BINDING, OBJECT);
    let parent_hex = id_hex(BINDING, OBJECT);
    let child_of = |doc_id: &str| label_of(DOCUMENT_BINDING, &format!("{parent_hex}:{doc_id}"));
    // What listDocuments would return now: (id, name) of each listed row.
    let rows = report.tables.get(&parent).and_then(|t| t.get("documents"));
    let listed: Vec<(String, String)> = rows
        .into_iter()
        .flatten()
        .filter(|r| listed_row(r))
        .map(|r| (str_at(r, "id").to_owned(), str_at(r, "name").to_owned()))
        .collect();
    // Every child that was initialized: its label and the name it holds.
    let children: BTreeMap<&str, &str> = report
        .tables
        .iter()
        .filter(|(label, _)| label.starts_with(&format!("{DOCUMENT_BINDING}:")))
        .filter_map(|(label, tables)| {
            let row = tables.get("content")?.iter().find(|r| str_at(r, "key") == "name")?;
            Some((label.as_str(), str_at(row, "value")))
        })
        .collect();
    let ops = calls(report, &parent);
    let creates_of = |name: &str| -> String {
        let attempts: Vec<String> = ops
            .iter()
            .filter(|o| o.request.pointer("/create_document/name").and_then(Value::as_str) == Some(name))
            .map(|o| format!("#{} {}", o.index, outcome(o)))
            .collect();
        attempts.join(", ")
    };

    for (id, name) in &listed {
        let child = child_of(id);
        if children.get(child.as_str()) != Some(&name.as_str()) {
            say(format!(
                "document {id} ({name:?}) is listed, but its child {child} was never initialized with that name"
            ));
        }
    }
    let listed_ids: BTreeSet<&str> = listed.iter().map(|(id, _)| id.as_str()).collect();
    let mut own: BTreeMap<&str, (usize, &dosim_sim::Op)> = BTreeMap::new();
    for op in &ops {
        let kind = if op.request.get("create_document").is_some() { "createDocument" } else { "listDocuments" };
        if op.error().is_some_and(own_error) {
            own.entry(kind).or_insert((0, op)).0 += 1;
        }
        match op.ok_value() {
            Some(Value::String(id)) if !listed_ids.contains(id.as_str()) => {
                let name = op.request.pointer("/create_document/name").and_then(Value::as_str).unwrap_or_default();
                say(format!(
                    "createDocument #{} ({name:?}) was acknowledged with id {id}, but the workspace does not list it",
                    op.index
                ));
            }
            Some(Value::Array(ids)) => {
                for id in ids.iter().filter_map(Value::as_str) {
                    let child = child_of(id);
                    if !children.contains_key(child.as_str()) {
                        say(format!(
                            "listDocuments #{} returned {id}, whose child {child} was never initialized",
                            op.index
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    let mut per_name: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, name) in &listed {
        *per_name.entry(name.as_str()).or_default() += 1;
    }
    for (name, n) in per_name.into_iter().filter(|(_, n)| *n > 1) {
        say(format!(
            "{name:?} is listed {n} times: the attempts of a retried createDocument each made a document ({})",
            creates_of(name)
        ));
    }
    let listed_children: BTreeSet<String> = listed.iter().map(|(id, _)| child_of(id)).collect();
    let orphans: Vec<(&str, &str)> =
        children.iter().filter(|(label, _)| !listed_children.contains(**label)).map(|(l, n)| (*l, *n)).collect();
    if let Some((label, name)) = orphans.first() {
        say(format!(
            "{}; the first, {label} ({name:?}), was made by: {}",
            count(
                orphans.len(),
                "initialized child is listed by no document (an orphan)",
                "initialized children are listed by no document (orphans)"
            ),
            creates_of(name)
        ));
    }
    for (kind, (n, op)) in own {
        let error = op.error().map(error_text).unwrap_or_default();
        say(format!(
            "{} failed with the objects' own error, which a retry meets again; the first, #{}: {error}",
            count(n, &format!("{kind} call"), &format!("{kind} calls")),
            op.index
        ));
    }
    found
}
