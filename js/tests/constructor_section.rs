//! A critical section the constructor opens (`ctx.blockConcurrencyWhile` not awaited, as
//! the Initialization pattern does) must finish, and release the events queued behind it,
//! also when its storage read is a real round trip (the KV-backed back-end).

use dosim_js::{register, JsCall, JsClass, JsProgram};
use dosim_sim::{run, Backend, Completion, FaultPolicy, SimConfig};

const COUNTER: &str = r#"
export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.value = (await ctx.storage.get("value")) || 0;
    });
  }
  async increment() {
    this.value++;
    this.ctx.storage.put("value", this.value);
    return this.value;
  }
}
"#;

fn increments(backend: Backend) -> Vec<Completion> {
    let program = JsProgram::from_source("counter.js", COUNTER).unwrap();
    let mut config = SimConfig::new(5);
    config.faults = FaultPolicy::Off;
    let report = run(config, move |world| async move {
        let ns = register(&world, "COUNTER", backend, JsClass::new(program, "Counter"));
        let client = world.client(0);
        for _ in 0..3 {
            let _ = client.call(&ns.get(&ns.id_from_name("c")), JsCall::new("increment", vec![])).await;
        }
    });
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    report.history.iter().map(|o| o.completion.clone()).collect()
}

fn ok(v: u64) -> Completion {
    Completion::Ok { value: serde_json::json!(v) }
}

#[test]
fn a_constructor_section_with_a_cached_read_finishes() {
    assert_eq!(increments(Backend::Sqlite), vec![ok(1), ok(2), ok(3)]);
}

#[test]
fn a_constructor_section_with_a_storage_round_trip_finishes() {
    assert_eq!(increments(Backend::Kv), vec![ok(1), ok(2), ok(3)]);
}
