//! The JavaScript API as an object sees it: each test runs a small class on dosim-js and
//! checks one promise of the host (structured clone, seeded randomness, the simulated
//! clock, console, errors reaching the caller, a crash dropping the instance).

use dosim_js::{register, JsCall, JsClass, JsProgram};
use dosim_sim::{run, Backend, Completion, FaultPolicy, RunReport, SimConfig};
use serde_json::{json, Value};

const PROBE: &str = r#"
import { DurableObject } from "cloudflare:workers";
export class Probe extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.born = Date.now();
    this.calls = 0;
  }
  cloneFunction() {
    try {
      structuredClone({ f() {} });
      return "cloned";
    } catch (e) {
      return [e.name, e instanceof Error, e.message.length > 0];
    }
  }
  random() {
    return [Math.random(), Math.random(), crypto.randomUUID()];
  }
  async clock(ms) {
    const before = Date.now();
    await new Promise((resolve) => setTimeout(resolve, ms));
    return [before, Date.now(), new Date().getTime() === Date.now()];
  }
  log(text) {
    console.log("probe says", text, { n: 1 });
    console.warn("careful");
    return null;
  }
  fail(message) {
    throw new RangeError(message);
  }
  async failLater(message) {
    await this.ctx.storage.get("x");
    throw new Error(message);
  }
  async boom(which) {
    const u = undefined;
    if (which === "read") return u.x;
    if (which === "set") u.y = 1;
    if (which === "spread") return [...u];
    if (which === "symbol") return `${Symbol("s")}`;
    if (which === "callee") return u();
  }
  async errorsRoundTrip() {
    const custom = new Error("c");
    custom.name = "Custom";
    await this.ctx.storage.put("errors", [new RangeError("r"), new TypeError("t"), custom]);
    const back = [...(await this.ctx.storage.get("errors")), structuredClone(new SyntaxError("s"))];
    return back.map((e) => [e instanceof RangeError, e instanceof TypeError, e instanceof SyntaxError, e.name, e.message, Object.keys(e)]);
  }
  async limits() {
    const out = [];
    for (const f of [() => this.ctx.storage.put("k".repeat(2049), 1), () => this.ctx.storage.get("k".repeat(2049))]) {
      try {
        await f();
        out.push("ok");
      } catch (e) {
        out.push([e.name, e instanceof RangeError, e.message]);
      }
    }
    return out;
  }
  async remember(v) {
    this.calls += 1;
    await this.ctx.storage.put("kept", v);
    return { calls: this.calls, born: this.born };
  }
  async recall() {
    this.calls += 1;
    return { calls: this.calls, kept: await this.ctx.storage.get("kept") };
  }
}
"#;

/// Runs `calls` one after another on one Probe object (seed `seed`, no faults); `crash`
/// crashes the object before the call of that index. Returns the replies and the run.
fn probe(seed: u64, calls: Vec<JsCall>, crash: Option<usize>) -> (Vec<Completion>, RunReport) {
    probe_on(Backend::Sqlite, seed, calls, crash)
}

fn probe_on(backend: Backend, seed: u64, calls: Vec<JsCall>, crash: Option<usize>) -> (Vec<Completion>, RunReport) {
    let program = JsProgram::from_source("probe.js", PROBE).expect("it compiles");
    let report = run(SimConfig::new(seed).faults(FaultPolicy::Off), move |world| async move {
        let ns = register(&world, "PROBE", backend, JsClass::new(program, "Probe"));
        let stub = ns.get(&ns.id_from_name("p"));
        for (i, call) in calls.into_iter().enumerate() {
            if crash == Some(i) {
                for label in world.objects() {
                    world.crash(&label, "test");
                }
            }
            let _ = world.client(0).call(&stub, call).await;
        }
    });
    let replies = report.history.iter().map(|o| o.completion.clone()).collect();
    (replies, report)
}

fn ok(c: &Completion) -> Value {
    match c {
        Completion::Ok { value } => value.clone(),
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn structured_clone_refuses_a_function() {
    let (replies, _) = probe(1, vec![JsCall::new("cloneFunction", vec![])], None);
    assert_eq!(ok(&replies[0]), json!(["DataCloneError", true, true]));
}

#[test]
fn randomness_is_the_seeds() {
    let draw = |seed| ok(&probe(seed, vec![JsCall::new("random", vec![])], None).0[0]);
    let (a, again, other) = (draw(5), draw(5), draw(6));
    assert_eq!(a, again, "the same seed draws the same numbers");
    assert_ne!(a, other, "another seed draws others");
    let [x, y, uuid] = [&a[0], &a[1], &a[2]];
    assert!(x.as_f64().is_some_and(|x| (0.0..1.0).contains(&x)) && x != y);
    let uuid = uuid.as_str().expect("a string");
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4", "a version 4 UUID: {uuid}");
}

#[test]
fn a_restarted_instance_draws_a_stream_of_its_own() {
    let draws = |crash| {
        let (replies, _) = probe(5, vec![JsCall::new("random", vec![]), JsCall::new("random", vec![])], crash);
        (ok(&replies[0]), ok(&replies[1]))
    };
    let (first, after_crash) = draws(Some(1));
    assert_ne!(first, after_crash, "the instance after the crash replayed its predecessor's numbers");
    assert_eq!(draws(Some(1)), (first, after_crash), "the same seed, the same draws");
}

#[test]
fn date_now_follows_the_simulated_clock() {
    let (replies, report) = probe(2, vec![JsCall::new("clock", vec![json!(250)])], None);
    let v = ok(&replies[0]);
    let (before, after) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
    assert!(after - before >= 250.0, "the timer took 250 ms of simulated time: {v}");
    assert!(after - before < 300.0, "and not much more: {v}");
    assert_eq!(v[2], json!(true));
    assert!(after <= report.sim_time.as_millis() as f64, "no wall clock: {after}");
}

#[test]
fn console_lines_land_in_the_trace() {
    let (_, report) = probe(3, vec![JsCall::new("log", vec![json!("hi")])], None);
    let text = report.trace_text();
    assert!(text.contains("console: probe says hi {\"n\":1}"), "{text}");
    assert!(text.contains("console: warn: careful"), "{text}");
}

#[test]
fn a_thrown_error_reaches_the_caller() {
    let calls = vec![JsCall::new("fail", vec![json!("too far")]), JsCall::new("failLater", vec![json!("later")])];
    let (replies, _) = probe(4, calls, None);
    for (reply, message) in replies.iter().zip(["too far", "later"]) {
        let Completion::Fail { error } = reply else { panic!("expected a failure, got {reply:?}") };
        assert_eq!(error.message, message);
        assert!(error.remote && !error.durable_object_reset, "{error:?}");
    }
}

#[test]
fn a_crash_drops_the_instance_and_keeps_storage() {
    let calls = vec![JsCall::new("remember", vec![json!("v1")]), JsCall::new("recall", vec![])];
    // Without a crash the second call sees the first call's in-memory count.
    let (replies, _) = probe(7, calls.clone(), None);
    assert_eq!(ok(&replies[1]), json!({"calls": 2, "kept": "v1"}));
    // A crash between them: a fresh instance (its constructor ran again), storage kept.
    let (replies, report) = probe(7, calls, Some(1));
    assert_eq!(ok(&replies[1]), json!({"calls": 1, "kept": "v1"}));
    assert_eq!(report.stats.constructions, 2, "{}", report.trace_text());
}

#[test]
fn replies_stringify_as_json_stringify_does() {
    use dosim_js::stringified;
    let reply = json!({
        "u": {"$js": "undefined"},
        "list": [{"$js": "undefined"}, {"$js": "NaN"}, {"$js": "-0"}, 1.5],
        "when": {"$js": "Date", "v": 1_700_000_000_123u64},
        "map": {"$js": "Map", "v": [["a", 1]]},
        "bytes": {"$js": "Uint8Array", "v": "AQI="},
        "escaped": {"$js": "Object", "v": {"$js": "plain"}},
    });
    assert_eq!(
        stringified(&reply).unwrap(),
        json!({
            "list": [null, null, 0, 1.5],
            "when": "2023-11-14T22:13:20.123Z",
            "map": {},
            "bytes": {"0": 1, "1": 2},
            "escaped": {"$js": "plain"},
        })
    );
    assert_eq!(stringified(&json!({"$js": "Date", "v": -1})).unwrap(), json!("1969-12-31T23:59:59.999Z"));
    assert!(stringified(&json!([{"$js": "bigint", "v": "1"}])).is_err());
}

#[test]
fn engine_errors_leave_the_object_in_v8s_words() {
    let cases = [
        ("read", "Cannot read properties of undefined (reading 'x')"),
        ("set", "Cannot set properties of undefined (setting 'y')"),
        ("spread", "undefined is not iterable (cannot read property Symbol(Symbol.iterator))"),
        ("symbol", "Cannot convert a Symbol value to a string"),
        // QuickJS does not name the callee, so its text stays.
        ("callee", "not a function"),
    ];
    let calls = cases.iter().map(|(which, _)| JsCall::new("boom", vec![json!(which)])).collect();
    let (replies, _) = probe(8, calls, None);
    for (reply, (which, message)) in replies.iter().zip(cases) {
        let Completion::Fail { error } = reply else { panic!("{which}: expected a failure, got {reply:?}") };
        assert_eq!((error.kind, error.message.as_str()), (dosim_sim::ErrorKind::Usage, message), "{which}");
    }
}

#[test]
fn errors_round_trip_as_v8_serializes_them() {
    let (replies, _) = probe(9, vec![JsCall::new("errorsRoundTrip", vec![])], None);
    assert_eq!(
        ok(&replies[0]),
        json!([
            [true, false, false, "RangeError", "r", []],
            [false, true, false, "TypeError", "t", []],
            // A name that is no standard class: an Error (V8 picks the prototype by name).
            [false, false, false, "Error", "c", []],
            [false, false, true, "SyntaxError", "s", []],
        ])
    );
}

#[test]
fn size_limits_are_range_errors() {
    // The KV-backed back-end's limits (the SQLite back-end has none for keys).
    let (replies, _) = probe_on(Backend::Kv, 10, vec![JsCall::new("limits", vec![])], None);
    let text = "Keys cannot be larger than 2048 bytes. A key of size 2049 was provided.";
    assert_eq!(ok(&replies[0]), json!([["RangeError", true, text], ["RangeError", true, text]]));
}
