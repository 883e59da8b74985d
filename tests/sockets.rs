//! Hibernatable WebSockets: connections and their attachments outlive the instance,
//! messages reach a fresh instance after hibernation, sends wait for the output gate, and
//! a crash closes every connection.

use dosim::sim::{
    async_trait, run, DurableObject, Env, FaultPolicy, Received, Result, SimConfig, State, WebSocket, World,
};
use std::cell::Cell;
use std::time::Duration;

/// A chat room: accepts everyone, tags them "room", remembers their name as an attachment.
struct Room {
    state: State,
    born: Cell<u64>,
}

#[async_trait(?Send)]
impl DurableObject for Room {
    type Request = ();
    type Response = ();
    fn new(state: State, _env: Env) -> Self {
        let born = state.now().as_millis();
        Room { state, born: Cell::new(born) }
    }
    async fn call(&self, _: ()) -> Result<()> {
        Ok(())
    }
    async fn web_socket_connect(&self, ws: WebSocket) -> Result<()> {
        self.state.accept_web_socket(&ws, &["room"])?;
        let n = self.state.get_web_sockets(Some("room")).len();
        ws.serialize_attachment(&format!("guest{n}"))
    }
    async fn web_socket_message(&self, ws: WebSocket, message: String) -> Result<()> {
        let name: String = ws.deserialize_attachment()?.unwrap_or_default();
        // A write, not awaited: the send below must wait until it is durable.
        self.state.storage().put("last", &message);
        for peer in self.state.get_web_sockets(Some("room")) {
            peer.send(format!("{name}: {message} (instance born at {}ms)", self.born.get()))?;
        }
        Ok(())
    }
}

fn quiet(seed: u64) -> SimConfig {
    SimConfig::new(seed).faults(FaultPolicy::Off)
}

fn message(r: Option<Received>) -> String {
    match r {
        Some(Received::Message(m)) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn connections_and_attachments_survive_hibernation() {
    let r = run(quiet(1), |world: World| async move {
        let ns = world.namespace::<Room>("ROOM");
        let stub = ns.get(&ns.id_from_name("lobby"));
        let alice = stub.connect().await.unwrap();
        let bob = stub.connect().await.unwrap();
        alice.send("hi").await.unwrap();
        let first = message(bob.recv().await);
        assert!(first.starts_with("guest1: hi"), "{first}");
        let _ = message(alice.recv().await);
        world.sleep(Duration::from_secs(15)).await; // idle: the instance hibernates
        bob.send("still here?").await.unwrap();
        let later = message(alice.recv().await);
        assert!(later.starts_with("guest2: still here?"), "attachment lost: {later}");
        assert!(!later.ends_with("born at 0ms)"), "the message reached the old instance: {later}");
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert!(r.trace_text().contains("hibernated after 10 s idle: instance dropped, storage kept, connections kept"));
    assert_eq!(r.stats.constructions, 2);
}

#[test]
fn sends_wait_for_the_output_gate() {
    let r = run(quiet(2), |world: World| async move {
        let ns = world.namespace::<Room>("ROOM");
        let stub = ns.get(&ns.id_from_name("lobby"));
        let alice = stub.connect().await.unwrap();
        alice.send("hello").await.unwrap();
        let _ = message(alice.recv().await);
        world.crash("ROOM:lobby", "test");
        assert_eq!(alice.recv().await, Some(Received::Closed { code: 1006, reason: "Durable Object reset".into() }));
        assert!(alice.send("anyone?").await.is_err());
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(r.durable_value("ROOM:lobby", "last"), Some(&serde_json::json!("hello")));
    let text = r.trace_text();
    let commit = text.find("commit batch #1 (1 writes: last)").expect("no commit");
    let sent = text.find("ws#1 message leaves the output gate").expect("no send");
    assert!(commit < sent, "the message left before the write it followed was durable:\n{text}");
}
