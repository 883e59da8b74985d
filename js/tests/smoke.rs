use dosim_js::{register, JsCall, JsClass, JsProgram};
use dosim_sim::{run, Backend, Completion, FaultPolicy, SimConfig};

const COUNTER: &str = r#"
import { DurableObject } from "cloudflare:workers";
export class Counter extends DurableObject {
  count: number = 0;
  async increment(by: number): Promise<number> {
    const v: number = (await this.ctx.storage.get("n")) ?? 0;
    await this.ctx.storage.put("n", v + by);
    console.log("now", v + by, Date.now());
    return v + by;
  }
}
"#;

#[test]
fn a_typescript_counter_runs() {
    let program = JsProgram::from_source("counter.ts", COUNTER).unwrap();
    let mut config = SimConfig::new(3);
    config.faults = dosim_sim::FaultPolicy::Off;
    let report = run(config, move |world| async move {
        let ns = register(&world, "COUNTER", Backend::Sqlite, JsClass::new(program, "Counter"));
        let stub = ns.get(&ns.id_from_name("c"));
        let client = world.client(0);
        for _ in 0..3 {
            let _ = client.call(&stub, JsCall::new("increment", vec![serde_json::json!(2)])).await;
        }
    });
    println!("{}", report.trace_text());
    let values: Vec<_> = report
        .history
        .iter()
        .map(|o| match &o.completion {
            Completion::Ok { value } => value.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(values, vec![serde_json::json!(2), serde_json::json!(4), serde_json::json!(6)]);
}

const DEEP: &str = "export class Deep extends DurableObject { deep(n) { return n === 0 ? 0 : 1 + this.deep(n - 1); } }";

#[test]
fn runaway_recursion_is_a_range_error_for_the_caller() {
    let program = JsProgram::from_source("deep.js", DEEP).unwrap();
    let report = run(SimConfig::new(1).faults(FaultPolicy::Off), move |world| async move {
        let ns = register(&world, "DEEP", Backend::Sqlite, JsClass::new(program, "Deep"));
        let stub = ns.get(&ns.id_from_name("deep"));
        let _ = world.client(0).call(&stub, JsCall::new("deep", vec![serde_json::json!(1_000_000)])).await;
        let _ = world.client(0).call(&stub, JsCall::new("deep", vec![serde_json::json!(10)])).await;
    });
    match &report.history[0].completion {
        Completion::Fail { error } => assert!(error.message.contains("stack"), "{}", error.message),
        other => panic!("expected a stack overflow error, got {other:?}"),
    }
    // The object is still usable afterwards.
    assert_eq!(report.history[1].ok_value(), Some(&serde_json::json!(10)));
}

const TIMERS: &str = r#"
export class T extends DurableObject {
  async inSection() {
    // A timer made inside a critical section fires inside it (workerd: timers carry it).
    return this.ctx.blockConcurrencyWhile(async () => {
      await new Promise((r) => setTimeout(r, 50));
      return "done";
    });
  }
  async later() {
    // A timer made by a call is a new event: the reply does not wait for it.
    setTimeout(() => this.ctx.storage.put("fired", Date.now()), 1000);
    return Date.now();
  }
  async fired() { return (await this.ctx.storage.get("fired")) ?? null; }
}
"#;

#[test]
fn timers_fire_inside_their_critical_section_or_as_new_events() {
    let program = JsProgram::from_source("t.js", TIMERS).unwrap();
    let report = run(SimConfig::new(2).faults(FaultPolicy::Off), move |world| async move {
        let ns = register(&world, "T", Backend::Sqlite, JsClass::new(program, "T"));
        let stub = ns.get(&ns.id_from_name("t"));
        let c = world.client(0);
        let _ = c.call(&stub, JsCall::new("inSection", vec![])).await;
        let _ = c.call(&stub, JsCall::new("later", vec![])).await;
        let _ = c.call(&stub, JsCall::new("fired", vec![])).await;
        world.sleep(std::time::Duration::from_secs(2)).await;
        let _ = c.call(&stub, JsCall::new("fired", vec![])).await;
    });
    let h = &report.history;
    assert_eq!(h[0].ok_value(), Some(&serde_json::json!("done")), "{}", report.trace_text());
    assert!(h[0].completed_at.unwrap().as_millis() - h[0].invoked_at.as_millis() < 1000);
    let set_at = h[1].ok_value().and_then(serde_json::Value::as_u64).expect("later() answers a time");
    assert!(h[1].completed_at.unwrap().as_millis() < set_at + 1000, "the reply waited for the timer");
    assert_eq!(h[2].ok_value(), Some(&serde_json::Value::Null));
    assert_eq!(h[3].ok_value(), Some(&serde_json::json!(set_at + 1000)), "{}", report.trace_text());
}

const THROWERS: &str = r#"
class Invalid extends Error { constructor(m) { super(m); this.name = "Invalid"; } }
class TooBig extends RangeError {}
export class Thrower extends DurableObject {
  async range() { throw new TooBig("too big"); }
  async custom() { throw new Invalid("bad input"); }
  async syntax() { throw new SyntaxError("odd"); }
}
export class Caller extends DurableObject {
  async probe(method) {
    try {
      await this.env.THROWER.get(this.env.THROWER.idFromName("t"))[method]();
      return null;
    } catch (e) {
      return { range: e instanceof RangeError, syntax: e instanceof SyntaxError, name: e.name, message: e.message, remote: e.remote === true };
    }
  }
}
"#;

#[test]
fn a_thrown_error_reaches_a_caller_as_v8_serializes_it() {
    let program = JsProgram::from_source("throwers.js", THROWERS).unwrap();
    let report = run(SimConfig::new(3).faults(FaultPolicy::Off), move |world| async move {
        register(&world, "THROWER", Backend::Sqlite, JsClass::new(program.clone(), "Thrower"));
        let ns = register(&world, "CALLER", Backend::Sqlite, JsClass::new(program, "Caller"));
        let stub = ns.get(&ns.id_from_name("c"));
        for m in ["range", "custom", "syntax"] {
            let _ = world.client(0).call(&stub, JsCall::new("probe", vec![m.into()])).await;
        }
    });
    let got: Vec<_> = report.history.iter().map(|op| op.ok_value().cloned()).collect();
    let want = |range: bool, syntax: bool, name: &str, message: &str| {
        Some(serde_json::json!({"range": range, "syntax": syntax, "name": name, "message": message, "remote": true}))
    };
    // A RangeError subclass arrives as a RangeError; another name as a plain Error, its
    // message unchanged; SyntaxError stays itself.
    assert_eq!(got[0], want(true, false, "RangeError", "too big"), "{}", report.trace_text());
    assert_eq!(got[1], want(false, false, "Error", "bad input"));
    assert_eq!(got[2], want(false, true, "SyntaxError", "odd"));
}

const FETCHERS: &str = r#"
export class Echo extends DurableObject {
  async fetch(request) {
    const body = await request.text();
    const n = ((await this.ctx.storage.get("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return Response.json({ method: request.method, path: request.url, body, n },
      { status: 201, headers: { "x-count": String(n) } });
  }
}
export class Front extends DurableObject {
  async relay(text) {
    const res = await this.env.ECHO.get(this.env.ECHO.idFromName("e")).fetch("https://echo/x", { method: "POST", body: text });
    return { status: res.status, ok: res.ok, count: res.headers.get("x-count"), json: await res.json() };
  }
}
"#;

#[test]
fn fetch_handlers_take_a_request_and_answer_a_response() {
    let program = JsProgram::from_source("fetchers.js", FETCHERS).unwrap();
    let report = run(SimConfig::new(4).faults(FaultPolicy::Off), move |world| async move {
        let echo = register(&world, "ECHO", Backend::Sqlite, JsClass::new(program.clone(), "Echo"));
        let front = register(&world, "FRONT", Backend::Sqlite, JsClass::new(program, "Front"));
        let c = world.client(0);
        let _ = c.call(&echo.get(&echo.id_from_name("e")), JsCall::fetch("https://echo/a", "PUT", Some("hello"))).await;
        let _ = c.call(&front.get(&front.id_from_name("f")), JsCall::new("relay", vec!["again".into()])).await;
    });
    // From a client: the reply is the Response, tagged.
    let direct = report.history[0].ok_value().expect("fetch answered");
    assert_eq!(direct["$js"], "Response", "{direct}");
    assert_eq!(direct["status"], 201);
    assert_eq!(direct["headers"]["x-count"], "1");
    let body: serde_json::Value = serde_json::from_str(direct["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, serde_json::json!({"method": "PUT", "path": "https://echo/a", "body": "hello", "n": 1}));
    // From another object through a stub: a Response object again.
    let relayed = report.history[1].ok_value().expect("relay answered");
    assert_eq!(
        relayed,
        &serde_json::json!({"status": 201, "ok": true, "count": "2",
            "json": {"method": "POST", "path": "https://echo/x", "body": "again", "n": 2}})
    );
}
