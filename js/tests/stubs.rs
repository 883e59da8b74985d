//! Stubs in JavaScript break as workerd's do: once a call through a stub meets its
//! target's reset (a crash, `abort()`, a constructor that threw), every later call through
//! that same stub fails with that error, while a new stub from `env.X.get(id)` reaches
//! the fresh instance. So code that re-creates its stubs after a reset can be tested.

use dosim_js::{register, JsCall, JsClass, JsObject, JsProgram};
use dosim_sim::{run, Backend, FaultPolicy, RunReport, SimConfig, Stub, World};
use serde_json::{json, Value};
use std::time::Duration;

const MODULE: &str = r#"
import { DurableObject } from "cloudflare:workers";

export class Target extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    // Fails to start until 5 s into the run (the simulated clock starts at 0).
    if (env.PICKY && Date.now() < 5000) throw new Error("not ready yet");
  }
  async hello() {
    return "hello";
  }
  async quit() {
    this.ctx.abort("target quit");
  }
  async slow() {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return "slow";
  }
}

async function outcome(p) {
  try {
    return { ok: await p };
  } catch (e) {
    return { error: e.message, reset: e.durableObjectReset === true };
  }
}

export class Caller extends DurableObject {
  target() {
    return this.env.TARGET.get(this.env.TARGET.idFromName("t"));
  }
  // Keeps one stub, then calls `method` through it.
  keep(method) {
    this.stub = this.target();
    return outcome(this.stub[method]());
  }
  kept(method) {
    return outcome(this.stub[method]());
  }
  fresh(method) {
    return outcome(this.target()[method]());
  }
}
"#;

/// Registers Target (picky about starting if `picky`) and Caller; the Caller's stub.
fn setup(world: &World, picky: bool) -> Stub<JsObject> {
    let program = JsProgram::from_source("stubs.js", MODULE).unwrap();
    let mut target = JsClass::new(program.clone(), "Target");
    if picky {
        target.vars.insert("PICKY".into(), json!(true));
    }
    register(world, "TARGET", Backend::Sqlite, target);
    let ns = register(world, "CALLER", Backend::Sqlite, JsClass::new(program, "Caller"));
    ns.get(&ns.id_from_name("c"))
}

fn quiet() -> SimConfig {
    SimConfig::new(1).faults(FaultPolicy::Off)
}

/// What the Caller's methods answered, in order.
fn answers(r: &RunReport) -> Vec<Value> {
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    r.history
        .iter()
        .map(|op| op.ok_value().cloned().unwrap_or_else(|| panic!("{:?}\n{}", op, r.trace_text())))
        .collect()
}

fn call(method: &str, target_method: &str) -> JsCall {
    JsCall::new(method, vec![json!(target_method)])
}

fn reset(message: &str) -> Value {
    json!({ "error": message, "reset": true })
}

#[test]
fn a_stub_that_saw_its_target_abort_stays_broken_and_a_new_one_works() {
    let r = run(quiet(), |world| async move {
        let caller = setup(&world, false);
        let c = world.client(0);
        for (method, on) in
            [("keep", "hello"), ("kept", "quit"), ("kept", "hello"), ("fresh", "hello"), ("kept", "hello")]
        {
            let _ = c.call(&caller, call(method, on)).await;
        }
    });
    let got = answers(&r);
    assert_eq!(got[0], json!({ "ok": "hello" }));
    assert_eq!(got[1], reset("target quit"));
    assert_eq!(got[2], reset("target quit"), "the stub that saw the reset must stay broken:\n{}", r.trace_text());
    assert_eq!(got[3], json!({ "ok": "hello" }), "a new stub reaches the new instance");
    assert_eq!(got[4], reset("target quit"), "and the old one stays broken");
    // The broken stub's calls never reached the target: it ran hello twice and quit once.
    assert_eq!(r.trace_text().matches("construct (incarnation").count(), 3, "{}", r.trace_text());
}

#[test]
fn a_stub_whose_call_met_a_crash_stays_broken() {
    let r = run(quiet(), |world| async move {
        let caller = setup(&world, false);
        let c = world.client(0);
        let _ = c.call(&caller, call("keep", "hello")).await;
        let w = world.clone();
        let crash = world.spawn(async move {
            w.sleep(Duration::from_millis(20)).await;
            w.crash("TARGET:t", "test");
        });
        let _ = c.call(&caller, call("kept", "slow")).await;
        let _ = crash.await;
        for (method, on) in [("kept", "hello"), ("fresh", "hello")] {
            let _ = c.call(&caller, call(method, on)).await;
        }
    });
    let got = answers(&r);
    let crashed = got[1]["error"].as_str().unwrap_or_default().to_owned();
    assert!(crashed.contains("test (simulated crash)") && got[1]["reset"] == json!(true), "{:?}", got[1]);
    assert_eq!(got[2], reset(&crashed), "{}", r.trace_text());
    assert_eq!(got[3], json!({ "ok": "hello" }));
}

#[test]
fn a_stub_to_a_target_whose_constructor_threw_stays_broken_after_it_recovers() {
    let r = run(quiet(), |world| async move {
        let caller = setup(&world, true);
        let c = world.client(0);
        let _ = c.call(&caller, call("keep", "hello")).await;
        // The target can start now; the caller is still the same instance (< 10 s idle).
        world.sleep(Duration::from_secs(6)).await;
        for (method, on) in [("kept", "hello"), ("fresh", "hello")] {
            let _ = c.call(&caller, call(method, on)).await;
        }
    });
    let got = answers(&r);
    assert_eq!(got[0], reset("not ready yet"));
    assert_eq!(got[1], reset("not ready yet"), "{}", r.trace_text());
    assert_eq!(got[2], json!({ "ok": "hello" }));
}
