//! One isolate per Worker script per run, as workerd runs them: module state is shared
//! by every object of the script, kept across an object's reset, and lost only when the
//! isolate goes (the isolate-restart fault, or an object over its budget condemning it).

use dosim_js::{register, restart_isolates, JsCall, JsClass, JsProgram};
use dosim_sim::{run, Backend, FaultPolicy, SimConfig};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const MODULE: &str = r#"
import { DurableObject } from "cloudflare:workers";

// Module state: evaluated once per isolate.
let constructed = 0;
const bumps = new Map();

export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    constructed++;
  }
  bump() {
    const name = this.ctx.id.name;
    bumps.set(name, (bumps.get(name) ?? 0) + 1);
    return { constructed, total: [...bumps.values()].reduce((a, b) => a + b, 0) };
  }
  spin() {
    for (;;) {}
  }
}

// A second class of the same script sees the same module state.
export class Reader extends DurableObject {
  read() {
    return { constructed, total: [...bumps.values()].reduce((a, b) => a + b, 0) };
  }
}
"#;

fn counts(constructed: u64, total: u64) -> Value {
    json!({ "constructed": constructed, "total": total })
}

#[test]
fn module_state_is_shared_kept_across_a_reset_and_lost_with_the_isolate() {
    let program = JsProgram::from_source("shared.js", MODULE).unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let out = got.clone();
    let report = run(SimConfig::new(1).faults(FaultPolicy::Off), move |world| async move {
        let counters = register(&world, "COUNTER", Backend::Sqlite, JsClass::new(program.clone(), "Counter"));
        let readers = register(&world, "READER", Backend::Sqlite, JsClass::new(program, "Reader"));
        let (a, b) = (counters.get(&counters.id_from_name("a")), counters.get(&counters.id_from_name("b")));
        let reader = readers.get(&readers.id_from_name("r"));
        let c = world.client(0);
        let note = |v: dosim_sim::Result<Value>| out.lock().unwrap().push(v.unwrap_or_else(|e| json!(e.message)));
        note(c.call(&a, JsCall::new("bump", vec![])).await);
        note(c.call(&b, JsCall::new("bump", vec![])).await);
        note(c.call(&reader, JsCall::new("read", vec![])).await);
        // An object's reset (a crash) drops the instance, not the isolate.
        world.crash(&a.label(), "test");
        note(c.call(&a, JsCall::new("bump", vec![])).await);
        // An isolate restart drops module state: every object starts over.
        restart_isolates(&world);
        note(c.call(&b, JsCall::new("bump", vec![])).await);
        note(c.call(&reader, JsCall::new("read", vec![])).await);
    });
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let got = got.lock().unwrap().clone();
    let trace = report.trace_text();
    assert_eq!(got[0], counts(1, 1), "{trace}");
    assert_eq!(got[1], counts(2, 2), "the second object sees the first's module state:\n{trace}");
    assert_eq!(got[2], counts(2, 2), "so does an object of another class of the script:\n{trace}");
    assert_eq!(got[3], counts(3, 3), "module state survives an object's crash:\n{trace}");
    assert_eq!(got[4], counts(1, 1), "an isolate restart starts module state over:\n{trace}");
    assert_eq!(got[5], counts(1, 1), "for every class of the script:\n{trace}");
    assert!(trace.contains("isolate restart: the isolate of shared.js is dropped"), "{trace}");
}

#[test]
fn an_endless_loop_condemns_the_isolate_and_resets_every_object_of_the_script() {
    let program = JsProgram::from_source("shared.js", MODULE).unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let out = got.clone();
    let report = run(SimConfig::new(1).faults(FaultPolicy::Off), move |world| async move {
        let counters = register(&world, "COUNTER", Backend::Sqlite, JsClass::new(program, "Counter"));
        let (a, b) = (counters.get(&counters.id_from_name("a")), counters.get(&counters.id_from_name("b")));
        let c = world.client(0);
        let note = |v: dosim_sim::Result<Value>| out.lock().unwrap().push(v.unwrap_or_else(|e| json!(e.message)));
        note(c.call(&a, JsCall::new("bump", vec![])).await);
        note(c.call(&b, JsCall::new("spin", vec![])).await);
        note(c.call(&a, JsCall::new("bump", vec![])).await);
    });
    let got = got.lock().unwrap().clone();
    let trace = report.trace_text();
    assert_eq!(got[0], counts(1, 1), "{trace}");
    assert!(got[1].as_str().is_some_and(|e| e.contains("exceeded its CPU time limit")), "{:?}\n{trace}", got[1]);
    assert_eq!(got[2], counts(1, 1), "the other object came back in a fresh isolate:\n{trace}");
    assert!(trace.contains("isolate over budget js-turn-steps"), "{trace}");
}

#[test]
fn isolate_restarts_are_drawn_from_the_seed_and_replay() {
    let program = JsProgram::from_source("shared.js", MODULE).unwrap();
    let go = |seed: u64| {
        let p = program.clone();
        run(SimConfig::new(seed), move |world| async move {
            let counters = register(&world, "COUNTER", Backend::Sqlite, JsClass::new(p, "Counter"));
            let c = world.client(0);
            for i in 0..40 {
                let stub = counters.get(&counters.id_from_name(&format!("c{}", i % 3)));
                let _ = c.call(&stub, JsCall::new("bump", vec![])).await;
            }
        })
    };
    let mut restarted = 0;
    for seed in 0..40 {
        let (one, two) = (go(seed), go(seed));
        assert_eq!(one.trace_text(), two.trace_text(), "seed {seed} does not replay");
        restarted += usize::from(one.trace_text().contains("isolate restart: the isolate of"));
    }
    assert!(restarted > 0, "no seed of 40 restarted an isolate");
    assert!(restarted < 40, "every seed restarted an isolate");
}
