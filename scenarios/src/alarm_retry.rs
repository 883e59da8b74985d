//! `alarm-retry`: each client arms the alarm of its own object, whose handler fails a
//! drawn number of times. Judged on the alarm history: retry counts go up by one after
//! each failure (not after a reset), each retry waits 2^n s plus at most 25% jitter, an
//! alarm that fails at most 6 times ends in success, and one that keeps failing is
//! abandoned after its 7th attempt. The runtime's liveness phase checks at-least-once.

use crate::workload::{accepts, Driving, Shape, Workload};
use crate::Scenario;
use dosim_models::flaky_alarm::{FlakyAlarm, FlakyAlarmCall};
use dosim_sim::{AlarmAttempt, RunReport, Violation, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The scenario.
pub struct AlarmRetry;

/// `alarm-retry`.
pub static ALARM_RETRY: AlarmRetry = AlarmRetry;

/// Slack for the time a failing handler itself takes (ms).
const HANDLER_SLACK_MS: u64 = 100;

impl Scenario for AlarmRetry {
    fn name(&self) -> &'static str {
        "alarm-retry"
    }

    fn about(&self) -> &'static str {
        "Alarm handlers that fail a drawn number of times: retry counts, backoff with jitter, abandonment"
    }

    fn shape(&self) -> Shape {
        Shape { clients: (1, 3), calls: (1, 1), max_think_ms: 4, chaos_window_ms: 3000 }
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        (0u32..=8, 1u64..=2000)
            .prop_map(|(fail, in_ms)| serde_json::to_value(FlakyAlarmCall::Arm { fail, in_ms }).unwrap_or_default())
            .boxed()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        accepts::<FlakyAlarm>(request)
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        Box::pin(async move {
            let ns = world.namespace::<FlakyAlarm>("FLAKY");
            let mut tasks = Vec::new();
            for (c, calls) in workload.clients.into_iter().enumerate() {
                let (w, ns, client) = (world.clone(), ns.clone(), world.client(c));
                tasks.push(world.spawn(async move {
                    let id = ns.id_from_name(&format!("a{c}"));
                    for call in calls {
                        w.sleep(Duration::from_millis(call.think_ms)).await;
                        if let Ok(request) = serde_json::from_value(call.request) {
                            let _ = client.call(&ns.get(&id), request).await;
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        })
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        let mut found = Vec::new();
        let mut say =
            |message: String| found.push(Violation { checker: "alarm-retry".into(), message, at: report.sim_time });
        // What each object was asked to do: the last acknowledged Arm.
        let mut wanted: BTreeMap<String, u32> = BTreeMap::new();
        for op in report.history.iter().filter(|o| o.ok_value().is_some()) {
            if let Ok(FlakyAlarmCall::Arm { fail, .. }) = serde_json::from_value(op.request.clone()) {
                wanted.insert(op.object.clone(), fail);
            }
        }
        let mut by_object: BTreeMap<&str, Vec<&AlarmAttempt>> = BTreeMap::new();
        for a in &report.alarms {
            by_object.entry(a.object.as_str()).or_default().push(a);
        }
        for (object, attempts) in &by_object {
            for pair in attempts.windows(2) {
                let (prev, next) = (pair[0], pair[1]);
                let gap = next.at.as_millis() - prev.at.as_millis();
                let failed = prev.outcome.starts_with("failed");
                let expected_count = if failed { prev.retry_count + 1 } else { prev.retry_count };
                if prev.outcome.starts_with("reset") && next.retry_count != prev.retry_count {
                    say(format!("{object}: a reset counted as a retry ({} -> {})", prev.retry_count, next.retry_count));
                }
                if failed && next.retry_count != expected_count {
                    say(format!(
                        "{object}: after a failure retry_count went {} -> {}",
                        prev.retry_count, next.retry_count
                    ));
                }
                if failed {
                    let base = 1000u64 << next.retry_count.clamp(1, 10);
                    if gap < base || gap > base + base / 4 + HANDLER_SLACK_MS {
                        say(format!(
                            "{object}: retry {} came {gap} ms after the failure, not within [{base}, {}] ms",
                            next.retry_count,
                            base + base / 4
                        ));
                    }
                }
            }
            let counted_failures = attempts.iter().filter(|a| a.outcome.starts_with("failed")).count();
            let succeeded = attempts.iter().any(|a| a.outcome == "ok");
            if let Some(fail) = wanted.get(*object) {
                if *fail <= 6 && !succeeded && counted_failures as u32 >= *fail {
                    say(format!("{object}: failed {counted_failures} times (wanted {fail}) and never succeeded"));
                }
                if *fail > 6 && counted_failures > 7 {
                    say(format!("{object}: {counted_failures} counted failures: not abandoned after 7 attempts"));
                }
            }
        }
        found
    }
}
