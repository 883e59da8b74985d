//! Running a small module on the JS host for the platform tests: the module exports a
//! class `T` whose methods are called in order, each result (or error) returned.

use dosim_js::{register, JsCall, JsClass, JsProgram};
use dosim_sim::{run, Backend, Completion, FaultPolicy, SimConfig};
use serde_json::Value;

/// Calls each of `methods` (no arguments) on one instance of class `T` of `source` (a module
/// named `t.js`), with faults off, and gives each call's value; a failed call panics
/// with its error, so a test cannot pass on a broken API.
pub fn call_all(source: &str, methods: &[&str]) -> Vec<Value> {
    call_all_seeded(source, methods, 1)
}

/// As [`call_all`], for seed `seed`.
pub fn call_all_seeded(source: &str, methods: &[&str], seed: u64) -> Vec<Value> {
    let program = JsProgram::from_source("t.js", source).unwrap_or_else(|e| panic!("does not load: {e}"));
    let methods: Vec<String> = methods.iter().map(|m| m.to_string()).collect();
    let count = methods.len();
    let report = run(SimConfig::new(seed).faults(FaultPolicy::Off), move |world| async move {
        let ns = register(&world, "T", Backend::Sqlite, JsClass::new(program, "T"));
        let stub = ns.get(&ns.id_from_name("t"));
        for m in methods {
            let _ = world.client(0).call(&stub, JsCall::new(&m, vec![])).await;
        }
    });
    assert_eq!(report.history.len(), count, "{}", report.trace_text());
    report
        .history
        .iter()
        .map(|o| match &o.completion {
            Completion::Ok { value } => value.clone(),
            other => panic!("{} failed: {other:?}\n{}", o.request, report.trace_text()),
        })
        .collect()
}

/// The value of method `run` of class `T` of `source`.
pub fn run_one(source: &str) -> Value {
    call_all(source, &["run"]).remove(0)
}
