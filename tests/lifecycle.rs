//! Lifecycle and many objects: hibernation after 10 s idle (and an alarm that wakes the
//! object again), `abort()`, broken stubs, object-to-object calls held by the caller's
//! output gate, lost replies, and `wait_until` work that dies with the instance.

use dosim::sim::{
    async_trait, run, AlarmInfo, DurableObject, Env, ErrorKind, FaultPlan, FaultPolicy, Namespace, Result, SimConfig,
    State, World,
};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Cmd {
    /// Bump an in-memory counter and a stored one; answer both.
    Touch,
    /// Set the alarm `in_ms` from now.
    Alarm(u64),
    /// put "x", then abort.
    Abort,
    /// Write "sent", then call the other object ("B:b") with `Touch`.
    CallOther,
    /// Start wait_until work that writes "late" after `ms`.
    Later(u64),
}

struct Thing {
    state: State,
    env: Env,
    memory: Cell<u64>,
}

#[async_trait(?Send)]
impl DurableObject for Thing {
    type Request = Cmd;
    type Response = (u64, u64);
    fn new(state: State, env: Env) -> Self {
        Thing { state, env, memory: Cell::new(0) }
    }
    async fn call(&self, cmd: Cmd) -> Result<(u64, u64)> {
        let s = self.state.storage();
        match cmd {
            Cmd::Touch => {
                self.memory.set(self.memory.get() + 1);
                let n = s.get::<u64>("n").await?.unwrap_or(0) + 1;
                s.put("n", &n);
                Ok((self.memory.get(), n))
            }
            Cmd::Alarm(ms) => {
                s.set_alarm(self.state.now().as_millis() + ms);
                Ok((0, 0))
            }
            Cmd::Abort => {
                s.put("x", &1);
                Err(self.state.abort(Some("test broken")))
            }
            Cmd::CallOther => {
                s.put("sent", &true);
                let other: Namespace<Thing> = self.env.namespace("B").unwrap();
                other.get(&other.id_from_name("b")).call(Cmd::Touch).await
            }
            Cmd::Later(ms) => {
                let (st, storage) = (self.state.clone(), s.clone());
                self.state.wait_until(async move {
                    st.sleep(Duration::from_millis(ms)).await;
                    storage.put("late", &true).await
                });
                Ok((0, 0))
            }
        }
    }
    async fn alarm(&self, _: AlarmInfo) -> Result<()> {
        self.state.storage().put("alarm_ran_with_memory", &self.memory.get()).await
    }
}

fn quiet(seed: u64) -> SimConfig {
    SimConfig::new(seed).faults(FaultPolicy::Off)
}

#[test]
fn an_idle_object_hibernates_and_a_due_alarm_wakes_it() {
    let r = run(quiet(1), |world: World| async move {
        let ns = world.namespace::<Thing>("A");
        let stub = ns.get(&ns.id_from_name("a"));
        let c = world.client(0);
        assert_eq!(c.call(&stub, Cmd::Touch).await.unwrap(), (1, 1));
        c.call(&stub, Cmd::Alarm(60_000)).await.unwrap();
        assert_eq!(c.call(&stub, Cmd::Touch).await.unwrap(), (2, 2), "memory kept while active");
        world.sleep(Duration::from_secs(15)).await;
        // Hibernated: the constructor ran again, memory is gone, storage is not.
        assert_eq!(c.call(&stub, Cmd::Touch).await.unwrap(), (1, 3));
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let text = r.trace_text();
    assert!(text.matches("hibernated after 10 s idle").count() >= 2, "{text}");
    // The alarm fired after the object had hibernated again: a fresh instance ran it.
    assert_eq!(r.alarms.len(), 1);
    assert_eq!(r.alarms[0].outcome, "ok");
    assert_eq!(r.durable_value("A:a", "alarm_ran_with_memory"), Some(&serde_json::json!(0)));
}

#[test]
fn abort_resets_the_object_and_loses_what_was_not_durable() {
    let r = run(quiet(2), |world: World| async move {
        let ns = world.namespace::<Thing>("A");
        let stub = ns.get(&ns.id_from_name("a"));
        let c = world.client(0);
        c.call(&stub, Cmd::Touch).await.unwrap();
        let e = c.call(&stub, Cmd::Abort).await.unwrap_err();
        assert_eq!(e.message, "test broken");
        assert!(e.durable_object_reset);
        // The stub that saw the reset stays broken; a new stub reaches a fresh instance.
        let again = c.call(&stub, Cmd::Touch).await.unwrap_err();
        assert!(again.durable_object_reset);
        let fresh = ns.get(&ns.id_from_name("a"));
        assert_eq!(c.call(&fresh, Cmd::Touch).await.unwrap(), (1, 2));
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(r.durable_value("A:a", "x"), None, "the put before abort() never became durable");
}

#[test]
fn an_outgoing_call_waits_for_the_callers_writes() {
    let r = run(quiet(3), |world: World| async move {
        world.namespace::<Thing>("B");
        let ns = world.namespace::<Thing>("A");
        let stub = ns.get(&ns.id_from_name("a"));
        assert_eq!(world.client(0).call(&stub, Cmd::CallOther).await.unwrap(), (1, 1));
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let text = r.trace_text();
    let committed = text.find("A:a").and_then(|_| text.find("commit batch #1 (1 writes: sent)")).expect("no commit");
    let delivered = text.find("B:b").expect("B never reached");
    assert!(committed < delivered, "the call reached B before A's write was durable:\n{text}");
}

#[test]
fn a_lost_reply_hides_a_call_that_ran() {
    let plan = FaultPlan { reply_lost: 1000, ..FaultPlan::NONE };
    let r = run(SimConfig::new(4).faults(FaultPolicy::Fixed(plan)), |world: World| async move {
        let ns = world.namespace::<Thing>("A");
        let stub = ns.get(&ns.id_from_name("a"));
        let e = world.client(0).call(&stub, Cmd::Touch).await.unwrap_err();
        assert_eq!(e.message, "Network connection lost.");
        assert!(e.retryable && e.kind == ErrorKind::Network);
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(r.durable_value("A:a", "n"), Some(&serde_json::json!(1)), "the call ran");
    assert_eq!(r.history[0].completion.label(), "info");
}

#[test]
fn wait_until_work_outlives_the_handler_but_not_a_crash() {
    let survives = run(quiet(5), |world: World| async move {
        let ns = world.namespace::<Thing>("A");
        let stub = ns.get(&ns.id_from_name("a"));
        world.client(0).call(&stub, Cmd::Later(50)).await.unwrap();
    });
    assert_eq!(survives.durable_value("A:a", "late"), Some(&serde_json::json!(true)));
    let dies = run(quiet(5), |world: World| async move {
        let ns = world.namespace::<Thing>("A");
        let stub = ns.get(&ns.id_from_name("a"));
        world.client(0).call(&stub, Cmd::Later(50)).await.unwrap();
        world.crash("A:a", "test");
    });
    assert_eq!(dies.durable_value("A:a", "late"), None);
    assert!(survives.violations.is_empty() && dies.violations.is_empty());
}
