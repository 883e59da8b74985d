//! Alarms: retries with backoff and jitter, `get_alarm()` inside the handler, at-least-once
//! across crashes, and simulated hours that cost no wall time.

use dosim::sim::{
    async_trait, run, AlarmInfo, DurableObject, Env, Error, FaultPolicy, Result, RunReport, SimConfig, State, World,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Arms an alarm; its handler logs what it saw, then fails the first `fail` times.
struct Alarmist {
    state: State,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Cmd {
    /// Store the number of failures wanted (and how long the handler sleeps), set the
    /// alarm `in_ms` from now.
    Arm { fail: u32, in_ms: u64, slow_ms: u64 },
    /// Read the alarm.
    Get,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Seen {
    retry_count: u32,
    is_retry: bool,
    get_alarm: Option<u64>,
    now: u64,
}

#[async_trait(?Send)]
impl DurableObject for Alarmist {
    type Request = Cmd;
    type Response = Option<u64>;
    fn new(state: State, _env: Env) -> Self {
        Alarmist { state }
    }
    async fn call(&self, cmd: Cmd) -> Result<Option<u64>> {
        let s = self.state.storage();
        match cmd {
            Cmd::Arm { fail, in_ms, slow_ms } => {
                s.put("fail", &fail);
                s.put("slow", &slow_ms);
                s.set_alarm(self.state.now().as_millis() + in_ms);
                Ok(None)
            }
            Cmd::Get => s.get_alarm().await,
        }
    }
    async fn alarm(&self, info: AlarmInfo) -> Result<()> {
        let s = self.state.storage();
        let mut log: Vec<Seen> = s.get("log").await?.unwrap_or_default();
        let seen = Seen {
            retry_count: info.retry_count,
            is_retry: info.is_retry,
            get_alarm: s.get_alarm().await?,
            now: self.state.now().as_millis(),
        };
        log.push(seen);
        s.put("log", &log);
        let slow: u64 = s.get("slow").await?.unwrap_or(0);
        if slow > 0 {
            self.state.sleep(Duration::from_millis(slow)).await;
        }
        let fail: u32 = s.get("fail").await?.unwrap_or(0);
        if info.retry_count < fail {
            return Err(Error::app("alarm handler failed on purpose"));
        }
        Ok(())
    }
}

fn arm(seed: u64, fail: u32, in_ms: u64) -> RunReport {
    run(SimConfig::new(seed).faults(FaultPolicy::Off), move |world: World| async move {
        let ns = world.namespace::<Alarmist>("ALARM");
        let stub = ns.get(&ns.id_from_name("a"));
        world.client(0).call(&stub, Cmd::Arm { fail, in_ms, slow_ms: 0 }).await.unwrap();
    })
}

fn log(r: &RunReport) -> Vec<Seen> {
    serde_json::from_value(r.durable_value("ALARM:a", "log").cloned().unwrap_or_default()).unwrap_or_default()
}

#[test]
fn failing_alarm_retries_after_2_4_8_seconds_with_jitter() {
    let r = arm(11, 3, 1000);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let attempts = &r.alarms;
    assert_eq!(attempts.len(), 4, "{attempts:?}");
    let seen = log(&r);
    assert_eq!(seen.iter().map(|s| s.retry_count).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(seen.iter().map(|s| s.is_retry).collect::<Vec<_>>(), [false, true, true, true]);
    assert!(seen.iter().all(|s| s.get_alarm.is_none()), "get_alarm() inside the handler must be None: {seen:?}");
    let t0 = attempts[0].at.as_millis();
    assert!(t0 >= attempts[0].scheduled.as_millis(), "fired before its time");
    for (i, base) in [(1, 2000u64), (2, 4000), (3, 8000)] {
        let gap = attempts[i].at.as_millis() - attempts[i - 1].at.as_millis();
        assert!((base..=base + base / 4 + 1).contains(&gap), "retry {i} came {gap} ms after the previous attempt");
    }
    assert_eq!(attempts.iter().map(|a| a.outcome.starts_with("failed")).collect::<Vec<_>>(), [true, true, true, false]);
    assert_eq!(attempts[3].outcome, "ok");
    assert_eq!(r.durable_value("ALARM:a", "log").map(|v| v.as_array().unwrap().len()), Some(4));
    // The same seed, the same history.
    let again = arm(11, 3, 1000);
    assert_eq!(again.alarms, r.alarms);
    assert_eq!(again.trace_hash, r.trace_hash);
}

#[test]
fn an_alarm_that_keeps_failing_is_abandoned_after_six_retries() {
    let r = arm(12, 100, 500);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(r.alarms.len(), 7, "1 attempt + 6 retries");
    assert!(r.trace_text().contains("abandoned after 6 retries"));
}

#[test]
fn a_crash_during_the_handler_runs_the_alarm_again() {
    let r = run(SimConfig::new(3).faults(FaultPolicy::Off), |world: World| async move {
        let ns = world.namespace::<Alarmist>("ALARM");
        let stub = ns.get(&ns.id_from_name("a"));
        world.client(0).call(&stub, Cmd::Arm { fail: 0, in_ms: 100, slow_ms: 50 }).await.unwrap();
        // Crash while the handler runs: wait until the attempt starts, then crash.
        for _ in 0..1000 {
            world.sleep(Duration::from_millis(1)).await;
            if world.now().as_millis() >= 120 {
                world.crash("ALARM:a", "test: crash during the alarm handler");
                break;
            }
        }
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert!(r.alarms.len() >= 2, "{:?}", r.alarms);
    assert!(r.alarms[0].outcome.starts_with("reset"), "{:?}", r.alarms);
    assert_eq!(r.alarms.last().unwrap().outcome, "ok");
    assert!(r.alarms.iter().all(|a| a.retry_count == 0), "a reset is retried without counting");
}

#[test]
fn alarms_hours_apart_cost_no_wall_time() {
    let started = std::time::Instant::now();
    let config = SimConfig::new(5).faults(FaultPolicy::Off).liveness_budget(6 * 3_600_000);
    let r = run(config, |world: World| async move {
        let ns = world.namespace::<Alarmist>("ALARM");
        for i in 0..5u64 {
            let stub = ns.get(&ns.id_from_name(&format!("a{i}")));
            world.client(0).call(&stub, Cmd::Arm { fail: 0, in_ms: (i + 1) * 3_600_000, slow_ms: 0 }).await.unwrap();
        }
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(r.alarms.iter().filter(|a| a.outcome == "ok").count(), 5);
    assert!(r.sim_time.as_millis() >= 5 * 3_600_000);
    // Not a timing assertion on dosim's speed: a sanity bound that fails only if simulated
    // time were slept for real.
    assert!(started.elapsed() < Duration::from_secs(60));
}
