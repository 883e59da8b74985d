//! Outbound `fetch` on the simulated network: requests go to JavaScript responders run
//! inside the simulation (a 404 without one); connection errors, timeouts and 5xx come
//! from the network's faults; every exchange is in the trace and the report; the output
//! gate holds a request until the writes before it are durable, and the input gate is
//! open while a request is in flight.

use dosim_js::{register, serve, JsCall, JsClass, JsObject, JsProgram};
use dosim_sim::{run, Backend, FaultPolicy, NetworkFaults, RunReport, SimConfig, Stub, World};
use serde_json::{json, Value};

const MODULE: &str = r#"
import { DurableObject } from "cloudflare:workers";

export class Sender extends DurableObject {
  async send(url, body) {
    try {
      const res = await fetch(url, { method: "POST", body, headers: { "x-id": "7" } });
      return { status: res.status, body: await res.text(), type: res.headers.get("content-type") };
    } catch (e) {
      return { error: `${e.name}: ${e.message}` };
    }
  }
  async saveThenSend(url) {
    this.ctx.storage.put("sent", true);
    const res = await fetch(url);
    return res.status;
  }
  ping() {
    return "pong";
  }
  relative() {
    return fetch("/nowhere").then(() => "resolved", (e) => `${e.name}: ${e.message}`);
  }
}

// A webhook receiver: counts deliveries in its own storage and echoes the body.
export const Hooks = {
  async fetch(request) {
    if (request.url.endsWith("/slow")) await scheduler.wait(1000);
    return new Response(`${request.method} ${request.headers.get("x-id")} ${await request.text()}`, {
      status: 201,
      headers: { "content-type": "text/plain" },
    });
  },
};

export class Counter extends DurableObject {
  async fetch(request) {
    const n = ((await this.ctx.storage.get("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return Response.json({ n });
  }
}
"#;

fn setup(world: &World, responders: &[(&str, &str)]) -> Stub<JsObject> {
    setup_on(world, responders, Backend::Sqlite)
}

fn setup_on(world: &World, responders: &[(&str, &str)], backend: Backend) -> Stub<JsObject> {
    let program = JsProgram::from_source("fetch.js", MODULE).unwrap();
    for (host, export) in responders {
        serve(world, host, JsClass::new(program.clone(), export));
    }
    let ns = register(world, "SENDER", backend, JsClass::new(program, "Sender"));
    ns.get(&ns.id_from_name("s"))
}

fn quiet(seed: u64) -> SimConfig {
    SimConfig::new(seed).faults(FaultPolicy::Off)
}

fn answers(r: &RunReport) -> Vec<Value> {
    assert!(r.violations.is_empty(), "{:?}\n{}", r.violations, r.trace_text());
    r.history.iter().map(|op| op.ok_value().cloned().unwrap_or_else(|| panic!("{op:?}\n{}", r.trace_text()))).collect()
}

fn send(url: &str, body: &str) -> JsCall {
    JsCall::new("send", vec![json!(url), json!(body)])
}

#[test]
fn a_request_reaches_its_hosts_responder_and_unknown_hosts_answer_404() {
    let r = run(quiet(1), |world| async move {
        let s = setup(&world, &[("api.example.com", "Hooks")]);
        let c = world.client(0);
        let _ = c.call(&s, send("https://api.example.com/hook", "hi")).await;
        let _ = c.call(&s, send("https://other.example.com/", "x")).await;
    });
    let got = answers(&r);
    assert_eq!(got[0], json!({ "status": 201, "body": "POST 7 hi", "type": "text/plain" }));
    assert_eq!(got[1], json!({ "status": 404, "body": "Not Found", "type": null }));
    assert_eq!(r.exchanges.len(), 2, "{:?}", r.exchanges);
    let first = &r.exchanges[0];
    assert_eq!((first.from.as_str(), first.request.method.as_str()), ("SENDER:s", "POST"));
    assert_eq!(first.request.body.as_deref(), Some("hi"));
    assert_eq!(first.response.as_ref().map(|r| r.status), Some(201));
    assert!(first.delivered && first.finished_at.is_some_and(|t| t > first.sent_at));
    let trace = r.trace_text();
    assert!(trace.contains("fetch#0 POST https://api.example.com/hook leaves"), "{trace}");
    assert!(trace.contains("fetch#1 answered 404"), "{trace}");
}

#[test]
fn a_responder_class_keeps_state_across_requests() {
    let r = run(quiet(2), |world| async move {
        let s = setup(&world, &[("count.example.com", "Counter")]);
        let c = world.client(0);
        for _ in 0..3 {
            let _ = c.call(&s, send("https://count.example.com/", "")).await;
        }
    });
    let bodies: Vec<Value> = answers(&r).iter().map(|a| a["body"].clone()).collect();
    assert_eq!(bodies, vec![json!("{\"n\":1}"), json!("{\"n\":2}"), json!("{\"n\":3}")]);
}

fn with_faults(faults: NetworkFaults, url: &'static str) -> RunReport {
    run(quiet(3), move |world| async move {
        world.set_network_faults(faults);
        let s = setup(&world, &[("api.example.com", "Hooks")]);
        let _ = world.client(0).call(&s, send(url, "x")).await;
    })
}

#[test]
fn a_failed_connection_rejects_with_a_type_error_and_never_reaches_the_responder() {
    let r = with_faults(NetworkFaults { connection_error: 1000, ..NetworkFaults::NONE }, "https://api.example.com/");
    assert_eq!(answers(&r)[0], json!({ "error": "TypeError: Network connection lost." }));
    assert!(!r.exchanges[0].delivered && r.exchanges[0].error.is_some());
    assert!(!r.trace_text().contains("__net_"), "the responder never ran:\n{}", r.trace_text());
}

#[test]
fn a_timeout_rejects_after_the_timeout_though_the_responder_ran() {
    let r = with_faults(NetworkFaults { timeout: 1000, ..NetworkFaults::NONE }, "https://api.example.com/");
    assert_eq!(answers(&r)[0], json!({ "error": "TypeError: The operation was aborted due to timeout" }));
    let ex = &r.exchanges[0];
    assert!(ex.delivered, "the request had its effect; only the answer was lost");
    assert!(ex.finished_at.unwrap() - ex.sent_at >= 100_000, "{ex:?}");
}

#[test]
fn an_injected_5xx_comes_back_as_a_response() {
    let r = with_faults(NetworkFaults { server_error: 1000, ..NetworkFaults::NONE }, "https://api.example.com/");
    assert_eq!(answers(&r)[0]["status"], json!(503));
    assert!(!r.exchanges[0].delivered);
}

#[test]
fn a_relative_url_is_refused_with_a_type_error() {
    let r = run(quiet(4), |world| async move {
        let s = setup(&world, &[]);
        let _ = world.client(0).call(&s, JsCall::new("relative", vec![])).await;
    });
    assert_eq!(answers(&r)[0], json!("TypeError: Fetch API cannot load: /nowhere"));
}

#[test]
fn other_calls_enter_while_a_request_is_in_flight() {
    let r = run(quiet(5), |world| async move {
        let s = setup(&world, &[("api.example.com", "Hooks")]);
        let (a, b) = (world.client(0), world.client(1));
        let slow = {
            let s = s.clone();
            world.spawn(async move { a.call(&s, send("https://api.example.com/slow", "")).await })
        };
        world.sleep(std::time::Duration::from_millis(100)).await;
        let _ = b.call(&s, JsCall::new("ping", vec![])).await;
        let _ = slow.await;
    });
    answers(&r);
    let (slow, ping) = (&r.history[0], &r.history[1]);
    assert!(ping.completed_at < slow.completed_at, "the input gate stays open during a fetch:\n{}", r.trace_text());
}

#[test]
fn a_request_waits_for_the_writes_before_it_to_be_durable() {
    let r = run(quiet(6), |world| async move {
        // KV: a flush takes a storage round trip, so the wait is visible.
        let s = setup_on(&world, &[("api.example.com", "Hooks")], Backend::Kv);
        let _ = world.client(0).call(&s, JsCall::new("saveThenSend", vec![json!("https://api.example.com/")])).await;
    });
    assert_eq!(answers(&r)[0], json!(201));
    let trace = r.trace_text();
    let commit = trace.find("commit").unwrap_or_else(|| panic!("no commit:\n{trace}"));
    let leaves = trace.find("fetch#0").unwrap();
    assert!(commit < leaves, "the request left before the write was durable:\n{trace}");
    let line = trace[..commit].lines().last().unwrap_or_default();
    let committed_at: u64 = line.split("ms").next().unwrap().trim().parse().unwrap();
    assert!(committed_at > 1 && r.exchanges[0].sent_at >= committed_at, "{trace}");
}

#[test]
fn network_faults_repeat_with_the_seed() {
    let once = |seed| {
        run(SimConfig::new(seed), |world| async move {
            let s = setup(&world, &[("api.example.com", "Hooks")]);
            for i in 0..6 {
                let _ = world.client(0).call(&s, send("https://api.example.com/", &i.to_string())).await;
            }
        })
    };
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in 0..12 {
        let (a, b) = (once(seed), once(seed));
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.exchanges, b.exchanges, "seed {seed}");
        for ex in &a.exchanges {
            outcomes.insert(
                ex.response.as_ref().map_or_else(|| ex.error.clone().unwrap_or_default(), |r| r.status.to_string()),
            );
        }
    }
    assert!(outcomes.len() >= 3, "the seeds should meet more than one kind of fault: {outcomes:?}");
}
