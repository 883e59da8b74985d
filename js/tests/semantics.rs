//! What workerd does that the JS host once got wrong: each test pins one behaviour found
//! by running `tests/workerd/script.js` on the JS host against workerd (`dosim conformance`).

use dosim_js::{register, JsCall, JsClass, JsProgram};
use dosim_sim::{run, Backend, Completion, FaultPolicy, RunReport, SimConfig};
use serde_json::{json, Value};
use std::time::Duration;

const SUBJECT: &str = r#"
import { DurableObject } from "cloudflare:workers";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export class Subject extends DurableObject {
  async sectionTimer() {
    return this.ctx.blockConcurrencyWhile(async () => {
      const n = (await this.ctx.storage.get("n")) ?? 0;
      await sleep(50);
      await this.ctx.storage.put("n", n + 1);
      return n;
    });
  }
  async transactionTimer() {
    return this.ctx.storage.transaction(async (txn) => {
      const n = (await txn.get("n")) ?? 0;
      await sleep(50);
      await txn.put("n", n + 1);
      return n;
    });
  }
  async looseTimerInSection() {
    const t0 = Date.now();
    await this.ctx.blockConcurrencyWhile(async () => {
      setTimeout(() => (this.fired = Date.now() - t0), 1000);
    });
    return Date.now() - t0;
  }
  firedAfter() {
    return this.fired ?? null;
  }
  ticks(n) {
    this.count = 0;
    const id = setInterval(() => {
      this.count += 1;
      if (this.count === n) clearInterval(id);
    }, 10);
    setTimeout(() => {
      throw new Error("a timer threw");
    }, 5);
    return null;
  }
  tickCount() {
    return this.count;
  }
  async rejections() {
    const outcome = (f) => {
      let p;
      try {
        p = f();
      } catch (e) {
        return Promise.resolve(["threw", e.name, e.message]);
      }
      return p.then(() => "resolved", (e) => ["rejected", e.name, e.message]);
    };
    const out = [
      await outcome(() => this.ctx.storage.list({ limit: 0 })),
      await outcome(() => this.ctx.storage.put("f", () => 1)),
      await outcome(() => this.ctx.storage.setAlarm(-5)),
    ];
    await this.ctx.storage.transaction(async (txn) => {
      txn.rollback();
      out.push(await outcome(() => txn.get("k")));
    });
    return out;
  }
  rowsRead() {
    this.ctx.storage.sql.exec("CREATE TABLE r (a); INSERT INTO r VALUES (1), (2), (3), (4)");
    const c = this.ctx.storage.sql.exec("SELECT * FROM r");
    const seen = [c.rowsRead];
    c.next();
    seen.push(c.rowsRead);
    c.toArray();
    seen.push(c.rowsRead);
    const one = this.ctx.storage.sql.exec("SELECT * FROM r");
    try {
      one.one();
    } catch (e) {
      seen.push(e.message, one.rowsRead, one.next().done);
    }
    return seen;
  }
}
"#;

/// A call made at `at_ms` of simulated time by client `client`.
struct Planned {
    at_ms: u64,
    client: usize,
    call: JsCall,
}

fn at(at_ms: u64, client: usize, method: &str, args: Vec<Value>) -> Planned {
    Planned { at_ms, client, call: JsCall::new(method, args) }
}

/// Runs the planned calls on one Subject object (each client's calls in order); returns
/// the replies in the order the calls were made, and the run.
fn subject(seed: u64, plan: Vec<Planned>) -> (Vec<Completion>, RunReport) {
    let program = JsProgram::from_source("subject.js", SUBJECT).expect("it compiles");
    let report = run(SimConfig::new(seed).faults(FaultPolicy::Off), move |world| async move {
        let ns = register(&world, "SUBJECT", Backend::Sqlite, JsClass::new(program, "Subject"));
        let tasks: Vec<_> = plan
            .into_iter()
            .map(|p| {
                let (w, stub) = (world.clone(), ns.get(&ns.id_from_name("s")));
                world.spawn(async move {
                    w.sleep(Duration::from_millis(p.at_ms)).await;
                    let _ = w.client(p.client).call(&stub, p.call).await;
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
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
fn a_timer_inside_a_critical_section_fires_inside_it() {
    // workerd's timers carry the critical section they were set in: the timer's callback
    // is not another event waiting for the section to end (which would never happen).
    for method in ["sectionTimer", "transactionTimer"] {
        for seed in 0..5 {
            let plan = (0..3).map(|c| at(0, c, method, vec![])).collect();
            let (replies, report) = subject(seed, plan);
            let mut values: Vec<Value> = replies.iter().map(ok).collect();
            values.sort_by_key(Value::to_string);
            assert_eq!(Value::Array(values), json!([0, 1, 2]), "{method}, seed {seed}: nothing interleaves");
            assert!(report.violations.is_empty(), "{:?}", report.violations);
        }
    }
}

#[test]
fn a_timer_left_running_does_not_hold_the_section() {
    let plan = vec![at(0, 0, "looseTimerInSection", vec![]), at(2000, 0, "firedAfter", vec![])];
    let (replies, _) = subject(1, plan);
    assert!(ok(&replies[0]).as_f64().is_some_and(|ms| ms < 1000.0), "{:?}", replies[0]);
    assert!(ok(&replies[1]).as_f64().is_some_and(|ms| ms >= 1000.0), "the timer fired later: {:?}", replies[1]);
}

#[test]
fn intervals_repeat_until_cleared_and_timer_errors_are_logged() {
    let plan = vec![at(0, 0, "ticks", vec![json!(3)]), at(500, 0, "tickCount", vec![])];
    let (replies, report) = subject(2, plan);
    assert_eq!(ok(&replies[1]), json!(3));
    let text = report.trace_text();
    assert!(text.contains("uncaught exception in a timer callback: Error: a timer threw"), "{text}");
}

#[test]
fn storage_methods_reject_rather_than_throw() {
    let (replies, _) = subject(3, vec![at(0, 0, "rejections", vec![])]);
    assert_eq!(
        ok(&replies[0]),
        json!([
            ["rejected", "TypeError", "List limit must be positive."],
            ["rejected", "DataCloneError", "() => 1 could not be cloned."],
            ["rejected", "TypeError", "setAlarm() cannot be called with an alarm time <= 0"],
            ["rejected", "Error", "Cannot get() on rolled back transaction"],
        ])
    );
}

#[test]
fn rows_read_follows_the_cursor() {
    let (replies, _) = subject(4, vec![at(0, 0, "rowsRead", vec![])]);
    let multiple = "Expected exactly one result from SQL query, but got multiple results.";
    assert_eq!(ok(&replies[0]), json!([1, 2, 4, multiple, 2, true]));
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let plan = || {
        let mut plan: Vec<Planned> = (0..3).map(|c| at(0, c, "sectionTimer", vec![])).collect();
        plan.push(at(1, 3, "ticks", vec![json!(4)]));
        plan.push(at(2, 4, "transactionTimer", vec![]));
        plan
    };
    let (_, a) = subject(11, plan());
    let (_, b) = subject(11, plan());
    assert_eq!(a.trace_text(), b.trace_text());
    assert_eq!(a.trace_hash, b.trace_hash);
}
