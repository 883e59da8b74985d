//! Engines do not outlive their instances: after every run, crashes and all, no
//! JavaScript instance is left alive, whatever the code had in flight (transactions,
//! critical sections, timers, intervals, `waitUntil`). One test only: the count is
//! process-wide, and tests of one binary run in parallel.

use dosim_js::{live_instances, live_isolates, register, JsCall, JsClass, JsProgram};
use dosim_sim::{run, Backend, SimConfig};

const BUSY: &str = r#"
export class Busy extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => { this.n = (await ctx.storage.get("n")) ?? 0; });
    const every = setInterval(() => {
      this.ticks = (this.ticks ?? 0) + 1;
      if (this.ticks === 3) clearInterval(every);
    }, 7);
  }
  async work(i) {
    await this.ctx.storage.transaction(async (txn) => {
      const v = (await txn.get("n")) ?? 0;
      await txn.put("n", v + i);
    });
    this.ctx.waitUntil(new Promise((r) => setTimeout(r, 20)).then(() => this.ctx.storage.put("late", i)));
    await this.ctx.blockConcurrencyWhile(async () => { await this.ctx.storage.get("n"); });
    return i;
  }
  deep(n) { return n === 0 ? 0 : 1 + this.deep(n - 1); }
}
"#;

#[test]
fn no_engine_outlives_its_run() {
    let program = JsProgram::from_source("busy.js", BUSY).unwrap();
    assert_eq!((live_instances(), live_isolates()), (0, 0));
    let mut answered = 0;
    for seed in 0..200 {
        let p = program.clone();
        let backend = if seed % 2 == 0 { Backend::Sqlite } else { Backend::Kv };
        let report = run(SimConfig::new(seed), move |world| async move {
            let ns = register(&world, "BUSY", backend, JsClass::new(p, "Busy"));
            let mut clients = Vec::new();
            for c in 0..3 {
                let (w, ns) = (world.clone(), ns.clone());
                clients.push(world.spawn(async move {
                    for i in 0..4 {
                        let stub = ns.get(&ns.id_from_name("busy"));
                        let _ = w.client(c).call(&stub, JsCall::new("work", vec![serde_json::json!(i)])).await;
                    }
                }));
            }
            for t in clients {
                let _ = t.await;
            }
        });
        assert!(report.violations.is_empty(), "seed {seed}: {:?}", report.violations);
        answered += usize::from(report.history.iter().any(|op| op.ok_value().is_some()));
        assert_eq!(live_instances(), 0, "seed {seed}: an instance outlived its run");
        assert_eq!(live_isolates(), 0, "seed {seed}: an engine outlived its run");
    }
    // The runs did the work (heavy crash plans may leave a seed with no answer at all).
    assert!(answered > 150, "only {answered} of 200 runs answered a call");
}
