//! Hibernatable WebSockets in JavaScript: `WebSocketPair`, a 101 response carrying the
//! client end, `ctx.acceptWebSocket` with tags, `getWebSockets`, attachments, the
//! `webSocketMessage`/`webSocketClose` handlers, the runtime's auto-response, and the
//! connections outliving the instance (hibernation) but not a crash (1006).

use dosim_js::{register, websocket_request, JsClass, JsObject, JsProgram};
use dosim_sim::{run, Backend, FaultPolicy, Received, RunReport, SimConfig, Stub, World};
use serde_json::json;
use std::time::Duration;

const MODULE: &str = r#"
import { DurableObject } from "cloudflare:workers";

export class Room extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.born = Date.now();
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }
  async fetch(request) {
    if (request.headers.get("upgrade") !== "websocket") return new Response("expected a WebSocket", { status: 426 });
    const name = request.url.split("name=")[1];
    if (name === "nobody") return new Response("go away", { status: 403 });
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server, ["room", name]);
    server.serializeAttachment({ name });
    server.send(`welcome ${name}`);
    return new Response(null, { status: 101, webSocket: client });
  }
  async webSocketMessage(ws, message) {
    const { name } = ws.deserializeAttachment();
    if (message === "who") {
      ws.send(this.ctx.getWebSockets().map((w) => w.deserializeAttachment().name).join(","));
    } else if (message === "tags") {
      ws.send(this.ctx.getTags(ws).join(",") + " " + this.ctx.getWebSockets(name).length);
    } else if (message === "when") {
      const t = this.ctx.getWebSocketAutoResponseTimestamp(ws);
      ws.send(t === null ? "never" : `at ${t.getTime()}`);
    } else if (message === "bye") {
      ws.close(1000, "bye");
    } else {
      this.ctx.storage.put("last", message);
      for (const peer of this.ctx.getWebSockets("room")) peer.send(`${name}: ${message} (born ${this.born})`);
    }
  }
  async webSocketClose(ws, code, reason, wasClean) {
    await this.ctx.storage.put("closed", `${ws.deserializeAttachment().name} ${code} ${reason} ${wasClean}`);
  }
}
"#;

fn room(world: &World) -> Stub<JsObject> {
    let program = JsProgram::from_source("room.js", MODULE).unwrap();
    let ns = register(world, "ROOM", Backend::Sqlite, JsClass::new(program, "Room"));
    ns.get(&ns.id_from_name("lobby"))
}

fn quiet(seed: u64) -> SimConfig {
    SimConfig::new(seed).faults(FaultPolicy::Off)
}

fn url(name: &str) -> String {
    websocket_request(&format!("http://room/?name={name}"))
}

fn message(r: Option<Received>) -> String {
    match r {
        Some(Received::Message(m)) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn clean(r: &RunReport) {
    assert!(r.violations.is_empty(), "{:?}\n{}", r.violations, r.trace_text());
}

#[test]
fn clients_connect_through_fetch_and_messages_reach_every_tagged_peer() {
    let r = run(quiet(1), |world| async move {
        let stub = room(&world);
        let alice = stub.connect_with(url("alice")).await.unwrap();
        assert_eq!(message(alice.recv().await), "welcome alice");
        let bob = stub.connect_with(url("bob")).await.unwrap();
        assert_eq!(message(bob.recv().await), "welcome bob");
        alice.send("hi").await.unwrap();
        assert!(message(bob.recv().await).starts_with("alice: hi (born"));
        assert!(message(alice.recv().await).starts_with("alice: hi (born"));
        bob.send("who").await.unwrap();
        assert_eq!(message(bob.recv().await), "alice,bob");
        bob.send("tags").await.unwrap();
        assert_eq!(message(bob.recv().await), "room,bob 1");
    });
    clean(&r);
    assert_eq!(r.durable_value("ROOM:lobby", "last"), Some(&json!("hi")));
}

#[test]
fn an_upgrade_answered_without_101_refuses_the_connection() {
    let r = run(quiet(2), |world| async move {
        let stub = room(&world);
        let refused = stub.connect_with(url("nobody")).await;
        assert!(refused.is_err(), "a 403 must refuse the connection");
        let plain = stub.connect_with(websocket_request("http://room/").replace("websocket", "h2c")).await;
        assert!(plain.is_err());
    });
    clean(&r);
}

#[test]
fn connections_and_attachments_survive_hibernation() {
    let r = run(quiet(3), |world| async move {
        let stub = room(&world);
        let alice = stub.connect_with(url("alice")).await.unwrap();
        let bob = stub.connect_with(url("bob")).await.unwrap();
        let _ = (message(alice.recv().await), message(bob.recv().await));
        world.sleep(Duration::from_secs(15)).await; // idle: the instance hibernates
        bob.send("still here?").await.unwrap();
        let later = message(alice.recv().await);
        assert!(later.starts_with("bob: still here? (born"), "attachment lost: {later}");
        assert!(!later.ends_with("(born 0)"), "the message reached the old instance: {later}");
        alice.send("who").await.unwrap();
        assert_eq!(message(alice.recv().await), "alice,bob");
    });
    clean(&r);
    assert!(r.trace_text().contains("hibernated after 10 s idle: instance dropped, storage kept, connections kept"));
    assert_eq!(r.stats.constructions, 2);
}

#[test]
fn the_runtime_answers_the_auto_response_without_waking_the_object() {
    let r = run(quiet(4), |world| async move {
        let stub = room(&world);
        let alice = stub.connect_with(url("alice")).await.unwrap();
        let _ = message(alice.recv().await);
        world.sleep(Duration::from_secs(15)).await;
        alice.send("ping").await.unwrap();
        assert_eq!(message(alice.recv().await), "pong");
        let pinged = world.now().as_millis();
        world.sleep(Duration::from_secs(15)).await;
        alice.send("when").await.unwrap();
        let when = message(alice.recv().await);
        let at: u64 = when.trim_start_matches("at ").parse().unwrap_or_else(|_| panic!("{when}"));
        assert!(at <= pinged && at + 10 > pinged, "{when} vs {pinged}");
    });
    clean(&r);
    // Built for the connection and for "when"; the ping woke nothing.
    assert_eq!(r.stats.constructions, 2, "{}", r.trace_text());
    assert!(r.trace_text().contains("auto-response sent by the runtime"));
}

#[test]
fn closes_run_the_handler_and_a_crash_closes_with_1006() {
    let r = run(quiet(5), |world| async move {
        let stub = room(&world);
        let alice = stub.connect_with(url("alice")).await.unwrap();
        let bob = stub.connect_with(url("bob")).await.unwrap();
        let carol = stub.connect_with(url("carol")).await.unwrap();
        alice.close(1000, "done").await.unwrap();
        bob.send("bye").await.unwrap();
        let _ = message(bob.recv().await);
        assert_eq!(bob.recv().await, Some(Received::Closed { code: 1000, reason: "bye".into() }));
        world.crash("ROOM:lobby", "test");
        let _ = message(carol.recv().await);
        assert_eq!(carol.recv().await, Some(Received::Closed { code: 1006, reason: "Durable Object reset".into() }));
        assert!(carol.send("anyone?").await.is_err());
    });
    clean(&r);
    assert_eq!(r.durable_value("ROOM:lobby", "closed"), Some(&json!("alice 1000 done true")));
}

#[test]
fn socket_runs_repeat_with_the_seed() {
    let once = |seed| {
        run(SimConfig::new(seed), |world| async move {
            let stub = room(&world);
            let Ok(a) = stub.connect_with(url("a")).await else { return };
            for i in 0..5 {
                let _ = a.send(format!("m{i}")).await;
            }
            world.sleep(Duration::from_millis(500)).await;
        })
    };
    for seed in 0..8 {
        assert_eq!(once(seed).trace_hash, once(seed).trace_hash, "seed {seed}");
    }
}
