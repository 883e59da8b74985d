use dosim_js::{register, JsCall, JsClass, JsProgram};
use dosim_sim::{run, Backend, Completion, SimConfig};

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
