//! Differential conformance (conformance/README.md): the storage programs on dosim and on
//! workerd, compared. The comparison itself needs Node.js (to install and run workerd); the
//! other tests check the programs and dosim's side on any machine, with a few of workerd's
//! answers recorded here (workerd 1.20261117.1) so that fixes made from the comparison stay
//! fixed without Node.js.

use dosim::conformance::{self, Options, Outcome, Runner};
use dosim::models::script::Program;
use serde_json::{json, Value};

fn programs() -> Vec<Program> {
    conformance::load_programs(&conformance::default_dir()).expect("the programs load")
}

fn program(id: &str) -> Program {
    programs().into_iter().find(|p| p.id == id).unwrap_or_else(|| panic!("no program {id}"))
}

#[test]
fn programs_load_and_known_differences_name_programs() {
    let programs = programs();
    assert!(programs.len() >= 60, "only {} programs", programs.len());
    assert!(programs.iter().filter(|p| p.concurrent.is_some()).count() >= 10);
    let known = conformance::load_known(&conformance::default_dir()).expect("the list loads");
    assert!(known.len() <= 5, "the known-differences list should stay short");
    for k in &known {
        assert!(programs.iter().any(|p| p.id == k.program), "known difference for no program: {}", k.program);
        assert!(!k.why.is_empty() && !k.what.is_empty(), "{}: say what differs and why", k.program);
    }
}

#[test]
fn every_program_runs_on_dosim_without_findings() {
    for p in programs() {
        let (answer, violations) = conformance::dosim_alone(&p, 0);
        assert!(answer["calls"].as_array().is_some_and(|c| c.len() == p.calls.len()), "{}: {answer}", p.id);
        assert!(violations.is_empty(), "{}: dosim's checkers found {violations:?}", p.id);
        if p.concurrent.is_some() {
            let (answer, violations) = conformance::dosim_concurrent(&p, 1);
            assert!(answer["copies"].is_array(), "{}: {answer}", p.id);
            assert!(violations.is_empty(), "{}: dosim's checkers found {violations:?}", p.id);
        }
    }
}

#[test]
fn script_js_on_the_js_host_answers_as_the_rust_script() {
    // tests/workerd/script.js, unmodified, on dosim-js: alone, every program must get the
    // Rust Script's answers (the report's js column counts this as "answered as rust").
    // Programs about JavaScript values only (`js_only`) are not the Rust Script's to run.
    for p in programs().into_iter().filter(|p| !p.js_only) {
        let (rust, _) = conformance::alone(Runner::Rust, &p, 0);
        let (js, violations) = conformance::alone(Runner::Js, &p, 0);
        assert_eq!(conformance::normalize(&js), conformance::normalize(&rust), "{}", p.id);
        assert!(violations.is_empty(), "{}: dosim's checkers found {violations:?}", p.id);
        if p.concurrent.is_some() {
            let (answer, violations) = conformance::concurrent(Runner::Js, &p, 1);
            assert!(answer["copies"].is_array(), "{}: {answer}", p.id);
            assert!(violations.is_empty(), "{}: dosim's checkers found {violations:?}", p.id);
        }
    }
}

/// The results of every call of `id` run alone on dosim, normalised.
fn dosim_results(id: &str) -> Vec<Value> {
    let (answer, _) = conformance::dosim_alone(&program(id), 0);
    let answer = conformance::normalize(&answer);
    answer["calls"].as_array().expect("calls").clone()
}

#[test]
fn recorded_workerd_answers() {
    // deleteAll() is durable at once: abort() right after it does not bring the data back.
    assert_eq!(dosim_results("abort-delete-all-lost")[1], json!({"results": [{"ok": null}]}));
    // abort(reason): the caller sees the reason, flagged as a reset, not remote.
    let aborted = &dosim_results("abort-unawaited-put-lost")[0]["error"];
    assert_eq!(aborted["message"], "reset now");
    assert_eq!((aborted["durableObjectReset"].as_bool(), aborted["remote"].as_bool()), (Some(true), Some(false)));
    // A thrown error reaches the caller as remote, and the object keeps its writes.
    let thrown = dosim_results("throw-keeps-writes");
    assert_eq!(thrown[0]["error"]["remote"], true);
    assert_eq!(thrown[1], json!({"results": [{"ok": 1}]}));
    // JavaScript numbers bind as REAL.
    let types = &dosim_results("sql-binding-types")[0]["results"][0]["ok"]["row"];
    assert_eq!(types, &json!({"a": "real", "b": "real", "c": "text", "d": "null", "e": "blob"}));
    // Inside the handler getAlarm() is null until the handler sets one; that one stays.
    let handler = &dosim_results("alarm-inside-handler")[0]["results"];
    assert_eq!(handler[2]["ok"][0]["results"], json!([{"ok": null}, {"ok": null}, {"ok": {"offset_ms": 60000}}]));
    assert_eq!(handler[3]["ok"], json!({"offset_ms": 60000}));
}

/// The results of every call of `id` run alone on dosim's JS host, normalised.
fn js_results(id: &str) -> Vec<Value> {
    let (answer, _) = conformance::alone(Runner::Js, &program(id), 0);
    let answer = conformance::normalize(&answer);
    answer["calls"].as_array().expect("calls").clone()
}

#[test]
fn recorded_workerd_answers_of_the_areas_of_issue_14() {
    // What workerd 1.20261117.1 answered, pinned here so that a machine without Node.js
    // still holds dosim to it (SEMANTICS.md names each program).
    let wiped = dosim_results("txn-sync-delete-all");
    let err = &wiped[0]["results"][4]["error"];
    assert_eq!(
        (err["name"].as_str(), err["message"].as_str()),
        (Some("Error"), Some("internal error; reference = <id>"))
    );
    assert_eq!(wiped[1], json!({"results": [{"ok": null}, {"ok": {"columns": ["name"], "rows": []}}]}));
    // A 0 ms timer runs after the implicit commit: its abort() keeps the handler's put.
    assert_eq!(dosim_results("gate-timer-after-commit")[1], json!({"results": [{"ok": 1}]}));
    // The runtime's tables appear when first written: 4096, 8192, 12288 bytes.
    let sizes = &dosim_results("sql-internal-tables-and-size")[0]["results"];
    assert_eq!([&sizes[1]["ok"], &sizes[4]["ok"], &sizes[7]["ok"]], [&json!(4096), &json!(8192), &json!(12288)]);
    // A transaction kept past its closure names the committed case.
    let kept = &dosim_results("txn-used-after-commit")[0]["results"];
    assert_eq!(
        kept[2]["error"]["message"],
        "Cannot call put() on transaction that has already committed: did you move `txn` outside of the closure?"
    );
    // KV argument checks and SQL bindings on the JS host.
    let limits = &js_results("kv-list-odd-limits")[0]["results"];
    assert_eq!(limits[1], json!({"ok": [["a", 1]]}));
    assert_eq!(limits[4]["error"]["message"], "List limit must be positive.");
    let clone = &js_results("kv-data-clone-error")[0]["results"][0]["error"];
    assert_eq!((clone["name"].as_str(), clone["code"].as_i64()), (Some("DataCloneError"), Some(25)));
    let bound = &js_results("sql-bind-js-values")[0]["results"];
    assert_eq!(bound[0]["ok"]["row"], json!({"v": "true", "t": "text"}));
    // The cursor's shape at 2025-12-02 and at the default date.
    let old = &js_results("compat-cursor-shape-2025-12-02")[0]["results"][0]["ok"];
    assert_eq!((old["done_keys"].clone(), old["iterator_is_cursor"].clone()), (json!(["done"]), json!(false)));
    let now = &js_results("sql-cursor-shape")[0]["results"][0]["ok"];
    assert_eq!((now["done_keys"].clone(), now["tag"].clone()), (json!(["done", "value"]), json!("[object Cursor]")));
    // A reset reached through stub.fetch() is remote too.
    let fetched = &js_results("abort-through-fetch")[0]["results"][0]["error"];
    assert_eq!((fetched["durableObjectReset"].as_bool(), fetched["remote"].as_bool()), (Some(true), Some(true)));
}

#[test]
fn agrees_with_workerd() {
    let opts = Options::new();
    match conformance::run(&opts, true).expect("the comparison runs") {
        Outcome::Skipped(why) => println!("differential conformance {why}"),
        Outcome::Done(report) => {
            assert!(report.programs >= 60);
            assert_eq!(report.unexplained(), 0, "unexplained disagreements with workerd (see the report above)");
        }
    }
}
