//! The liveness phase ends as soon as nothing is pending (a healthy periodic alarm has run
//! to success in it), and judges what was unfinished at its deadline, given as long again
//! to finish: an attempt that never finishes is a finding, as are work and alarms that
//! never end.

use dosim::sim::{
    async_trait, run, AlarmInfo, DurableObject, Env, FaultPolicy, Result, RunReport, SimConfig, State, World,
};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Re-arms its alarm every `PERIOD_MS`; each attempt calls "SLOW:s" and stores the answer.
struct Ticker {
    state: State,
    env: Env,
}

const PERIOD_MS: u64 = 1000;

#[async_trait(?Send)]
impl DurableObject for Ticker {
    type Request = u64;
    type Response = ();
    fn new(state: State, env: Env) -> Self {
        Ticker { state, env }
    }
    /// Starts ticking; the callee will take `ms` to answer each tick.
    async fn call(&self, ms: u64) -> Result<()> {
        let slow = self.env.namespace::<Slow>("SLOW").unwrap();
        slow.get(&slow.id_from_name("s")).call(Some(ms)).await?;
        self.state.storage().set_alarm(self.state.now().as_millis() + PERIOD_MS);
        Ok(())
    }
    async fn alarm(&self, _: AlarmInfo) -> Result<()> {
        let s = self.state.storage();
        s.set_alarm(self.state.now().as_millis() + PERIOD_MS);
        let slow = self.env.namespace::<Slow>("SLOW").unwrap();
        let ticks = slow.get(&slow.id_from_name("s")).call(None).await?;
        s.put("ticks", &ticks);
        Ok(())
    }
}

/// Answers how often it was called, after sleeping as long as it was told to.
struct Slow {
    state: State,
}

#[async_trait(?Send)]
impl DurableObject for Slow {
    type Request = Option<u64>;
    type Response = u64;
    fn new(state: State, _: Env) -> Self {
        Slow { state }
    }
    async fn call(&self, set: Option<u64>) -> Result<u64> {
        let s = self.state.storage();
        if let Some(ms) = set {
            s.put("ms", &ms);
            return Ok(0);
        }
        let ms: u64 = s.get("ms").await?.unwrap_or(0);
        self.state.sleep(Duration::from_millis(ms)).await;
        let n = s.get::<u64>("n").await?.unwrap_or(0) + 1;
        s.put("n", &n);
        Ok(n)
    }
}

/// A ticker whose callee takes `ms`, with a liveness budget of 60 periods, so that an
/// attempt begins a few ms before the deadline. Returns the run and its deadline.
fn tick(ms: u64) -> (RunReport, u64) {
    let budget = 60 * PERIOD_MS;
    let ended = Arc::new(Mutex::new(0));
    let end = ended.clone();
    let config = SimConfig::new(1).faults(FaultPolicy::Off).liveness_budget(budget);
    let r = run(config, move |world: World| async move {
        world.namespace::<Slow>("SLOW");
        let ns = world.namespace::<Ticker>("TICK");
        world.client(0).call(&ns.get(&ns.id_from_name("t")), ms).await.unwrap();
        *end.lock().unwrap() = world.now().as_millis();
    });
    let deadline = *ended.lock().unwrap() + budget;
    (r, deadline)
}

#[test]
fn a_healthy_periodic_alarm_ends_the_liveness_phase_once_it_has_shown_it_settles() {
    // The phase used to run to its deadline (60 periods here, 15 minutes by default) for
    // an object whose alarm re-arms itself; it now ends once nothing is pending and the
    // alarm ran to success 48 times in it (a finite chain of alarms, one re-arming after
    // each item of a list, gets that long to finish its list).
    let (r, deadline) = tick(500);
    let began = deadline - 60 * PERIOD_MS;
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let ok_after: Vec<_> = r.alarms.iter().filter(|a| a.outcome == "ok" && a.at.as_millis() >= began).collect();
    assert!(ok_after.len() >= 48, "{} attempts succeeded in the liveness phase: {:?}", ok_after.len(), r.alarms);
    assert!(r.sim_time.as_millis() <= began + 51 * PERIOD_MS, "the phase ran to {} (began {began})", r.sim_time);
    assert!(r.sim_time.as_millis() < deadline, "the phase ran to its deadline {deadline}");
}

#[test]
fn an_attempt_that_never_finishes_is_a_finding() {
    // The callee takes a day: the first attempt never ends. (The control: this held
    // before the grace for work in progress too, and must still hold with it.)
    let (r, _) = tick(86_400_000);
    let found: Vec<(&str, &str)> = r.violations.iter().map(|v| (v.checker.as_str(), v.message.as_str())).collect();
    assert!(
        found.iter().any(|(c, m)| *c == "alarms" && m.contains("TICK:t") && m.contains("still running")),
        "{found:?}"
    );
    assert!(found.iter().any(|(c, m)| *c == "liveness" && m.contains("SLOW:s: work still running")), "{found:?}");
}

#[test]
fn a_typescript_periodic_alarm_awaiting_a_call_settles_in_every_seed() {
    let module = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/modules/periodic_alarm.ts");
    let o = Command::new(env!("CARGO_BIN_EXE_dosim"))
        .args(["fuzz", "--module", module, "--class", "Ticker", "--method", "start", "--bind", "ECHO=Echo"])
        .args(["--seeds", "20", "--no-save"])
        .output()
        .expect("run dosim");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("20 runs      0 failing"), "{out}");
}
