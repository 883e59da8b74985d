//! `schema-migration` (the pattern as written) and `schema-migration-fixed`: clients add
//! users (name and email) and read back the last one they added, on a fresh database,
//! while the fault plan crashes the object; once the faults stop, a probe adds and reads a
//! user. Judged from the user's side: every request after the first deploy can write and
//! read users, and a user whose addition was acknowledged reads back as it was written.

use crate::clients::{describe, error_text, probe, run_clients, sent_as, Complete, PROBE_CLIENT};
use crate::js_port::{plain, JsBinding, JsPort};
use crate::workload::{accepts, Driving, Shape, Workload};
use crate::{Expect, Scenario};
use dosim_js::{JsCall, JsObject, JsProgram};
use dosim_models::schema_migration::{User, UsersCall, UsersReply};
use dosim_models::{SchemaMigration, SchemaMigrationFixed};
use dosim_sim::{Backend, Completion, DurableObject, RunReport, Violation, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// The id of the probe's user (client ids stay below it).
const PROBE_ID: i64 = 1_000_000;

/// A schema-migration scenario: which port, under which binding.
pub struct SchemaScenario {
    name: &'static str,
    about: &'static str,
    binding: &'static str,
    expect: Expect,
    drive: fn(&World, Workload) -> Driving,
}

/// `schema-migration`: the constructor as written (`PRAGMA user_version`).
pub static SCHEMA_MIGRATION: SchemaScenario = SchemaScenario {
    name: "schema-migration",
    about:
        "Schema Migration as written: PRAGMA user_version is not authorized, so the constructor throws on every start",
    binding: "USERS",
    expect: Expect::Defect,
    drive: |w, wl| drive::<SchemaMigration>(w, "USERS", wl, Value::clone),
};

/// `schema-migration-fixed`: the version in a table, every pending migration run.
pub static SCHEMA_MIGRATION_FIXED: SchemaScenario = SchemaScenario {
    name: "schema-migration-fixed",
    about: "Schema Migration fixed: version kept in a table, each migration advances it, in transactionSync",
    binding: "USERS_FIXED",
    expect: Expect::Pass,
    drive: |w, wl| drive::<SchemaMigrationFixed>(w, "USERS_FIXED", wl, Value::clone),
};

/// `schema-migration-js`: the reference document's TypeScript, run by the JS host, with
/// the workload's `addUser`/`getUser` in a subclass (`SchemaMigration`). `addUser`
/// answers `{ id }` and `getUser` the row or `null`: read as `added` and `found`.
pub static SCHEMA_MIGRATION_JS: JsPort = JsPort {
    name: "schema-migration-js",
    about: "Schema Migration, the reference TypeScript run verbatim (judged like schema-migration)",
    expect: Expect::Defect,
    rust: &SCHEMA_MIGRATION,
    module: ("schema_migration.ts", include_str!("../../models/js/schema_migration.ts")),
    program: &SCHEMA_MIGRATION_PROGRAM,
    classes: &[JsBinding { binding: "USERS", class: "SchemaMigration", backend: Backend::Sqlite }],
    id_name: "users",
    to_js: |request| match serde_json::from_value(request.clone()) {
        Ok(UsersCall::AddUser { id, name, email }) => {
            JsCall::new("addUser", vec![id.into(), name.into(), email.into()])
        }
        Ok(UsersCall::GetUser { id }) => JsCall::new("getUser", vec![id.into()]),
        Err(_) => JsCall::new("getUser", vec![]),
    },
    to_rust: |call, reply| {
        let arg = |i: usize| call.args.get(i).cloned().unwrap_or(Value::Null);
        let reply = reply.map(plain);
        match call.method.as_str() {
            "addUser" => (
                json!({"add_user": {"id": arg(0), "name": arg(1), "email": arg(2)}}),
                reply.map(|r| json!({ "added": r })),
            ),
            _ => (json!({"get_user": {"id": arg(0)}}), reply.map(|r| json!({ "found": r }))),
        }
    },
    drive: Some(|port, w, wl| drive::<JsObject>(w, "USERS", wl, port.as_call())),
};
static SCHEMA_MIGRATION_PROGRAM: OnceLock<Arc<JsProgram>> = OnceLock::new();

/// Generated requests are placeholders; `drive` gives each its id and values.
fn requests() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => Just(json!({"add_user": {"id": 0, "name": "", "email": ""}})),
        2 => Just(json!({"get_user": {"id": 0}})),
    ]
    .boxed()
}

fn user(id: i64) -> UsersCall {
    UsersCall::AddUser { id, name: format!("user-{id}"), email: format!("user-{id}@example.com") }
}

/// Client `c`'s `n`-th `add_user` adds user `1000 (c + 1) + n`; a `get_user` reads the
/// user the client added last (id 0, never added, before its first addition).
fn complete(client: usize) -> Complete {
    let mut last = 0i64;
    Box::new(move |n, request| {
        if request.get("add_user").is_some() {
            last = 1000 * (client as i64 + 1) + n as i64;
            serde_json::to_value(user(last)).unwrap_or(request)
        } else {
            json!({"get_user": {"id": last}})
        }
    })
}

/// Runs the clients, then the probe, against class `O`; `as_sent` turns each request (a
/// `UsersCall`) into `O`'s.
fn drive<O: DurableObject>(
    world: &World,
    binding: &'static str,
    workload: Workload,
    as_sent: impl Fn(&Value) -> Value + Copy + 'static,
) -> Driving {
    let world = world.clone();
    let chaos_window_ms = SCHEMA_MIGRATION.shape().chaos_window_ms;
    Box::pin(async move {
        let ns = world.namespace::<O>(binding);
        let id = ns.id_from_name("users");
        run_clients(&world, &ns, &id, workload.clients, sent_as(complete, as_sent)).await;
        let probes = [user(PROBE_ID), UsersCall::GetUser { id: PROBE_ID }]
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .filter_map(|r| serde_json::from_value::<O::Request>(as_sent(&r)).ok())
            .collect();
        probe(&world, &ns, &id, chaos_window_ms, probes).await;
    })
}

impl Scenario for SchemaScenario {
    crate::meta_from_fields!();

    fn shape(&self) -> Shape {
        Shape { clients: (2, 3), calls: (3, 6), max_think_ms: 4, chaos_window_ms: 50 }
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        requests()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        accepts::<SchemaMigration>(request)
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        (self.drive)(&world, workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        check_users(report, &format!("{}:users", self.binding))
    }
}

fn check_users(report: &RunReport, label: &str) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut say = |message: String| found.push(Violation { checker: "users".into(), message, at: report.sim_time });
    let ops: Vec<_> = report.history.iter().filter(|o| o.object == label).collect();
    // Each id is added at most once: the addition's op and what it wrote.
    let mut added: BTreeMap<i64, (usize, User, bool)> = BTreeMap::new();
    for op in &ops {
        if let Ok(UsersCall::AddUser { id, name, email }) = serde_json::from_value::<UsersCall>(op.request.clone()) {
            let acked = op.ok_value().is_some();
            added.insert(id, (op.index, User { id, name: Some(name), email: Some(email) }, acked));
        }
    }
    for op in &ops {
        match &op.completion {
            Completion::Ok { .. } => {}
            Completion::Info { error } | Completion::Fail { error } if op.client == PROBE_CLIENT => say(format!(
                "after the faults stopped, {} still failed ({}): no request can write and read users",
                describe(op),
                error_text(error)
            )),
            Completion::Pending if op.client == PROBE_CLIENT => {
                say(format!("after the faults stopped, {} was never answered", describe(op)))
            }
            // The object's own code threw: not an injected fault.
            Completion::Fail { error } => {
                say(format!("{} failed ({}): users cannot be written or read", describe(op), error_text(error)))
            }
            Completion::Info { .. } | Completion::Pending => {}
        }
        let Ok(UsersCall::GetUser { id }) = serde_json::from_value::<UsersCall>(op.request.clone()) else { continue };
        let Some(Ok(UsersReply::Found(read))) = op.ok_value().map(|v| serde_json::from_value::<UsersReply>(v.clone()))
        else {
            continue;
        };
        match (added.get(&id), read) {
            (None, Some(u)) => say(format!("{} read user {u:?}, which no request added", describe(op))),
            (Some((a, _, true)), None) => {
                say(format!("{} found no user {id}, though its addition #{a} was acknowledged", describe(op)))
            }
            (Some((a, wrote, _)), Some(u)) if u != *wrote => {
                say(format!("{} read {u:?}, but #{a} added {wrote:?}", describe(op)))
            }
            _ => {}
        }
    }
    let rows = report.tables.get(label).and_then(|t| t.get("users")).cloned().unwrap_or_default();
    let durable: BTreeMap<i64, &Value> = rows.iter().filter_map(|r| Some((r.get("id")?.as_i64()?, r))).collect();
    for (id, (a, wrote, acked)) in &added {
        if !acked {
            continue;
        }
        match durable.get(id) {
            None => say(format!("user {id}, whose addition #{a} was acknowledged, is not in the durable users table")),
            Some(row) if row.get("email").and_then(Value::as_str) != wrote.email.as_deref() => {
                say(format!("user {id} (#{a}) is durable as {row}, not with the email it was added with"))
            }
            _ => {}
        }
    }
    found
}
