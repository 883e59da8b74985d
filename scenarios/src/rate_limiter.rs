//! `rate-limiter` (the pattern as written) and `rate-limiter-fixed`: clients check two keys
//! against a limit of 2 requests per 10 ms window, with crashes from the fault plan. The
//! invariant, from the caller's side: the limiter never admits more than `limit` requests
//! of a key in any `window` ms, and never refuses one it should admit (a call that fails
//! instead of answering counts as refused).

use crate::clients::{describe, error_text};
use crate::js_port::{JsBinding, JsPort};
use crate::workload::{accepts, drive, Driving, Shape, Workload};
use crate::{Expect, Scenario};
use dosim_js::{JsCall, JsProgram};
use dosim_models::rate_limiter::{Decision, RateLimiterCall};
use dosim_models::{RateLimiter, RateLimiterFixed};
use dosim_sim::{Backend, Completion, RunReport, Violation, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// Requests admitted per window.
const LIMIT: u64 = 2;
/// The window, ms.
const WINDOW: u64 = 10;
/// Wrong refusals described one by one, per key; the rest are counted.
const SHOWN: usize = 1;

/// A rate-limiter scenario: which port, under which binding.
pub struct RateLimiterScenario {
    name: &'static str,
    about: &'static str,
    binding: &'static str,
    expect: Expect,
    drive: fn(&World, Workload) -> Driving,
}

/// `rate-limiter`: the class as written (`this.sql` never assigned).
pub static RATE_LIMITER: RateLimiterScenario = RateLimiterScenario {
    name: "rate-limiter",
    about: "Rate Limiting as written: this.sql is never assigned, so every check throws a TypeError",
    binding: "LIMITER",
    expect: Expect::Defect,
    drive: |w, wl| drive::<RateLimiter>(w, "LIMITER", Backend::Sqlite, "limiter", wl),
};

/// `rate-limiter-fixed`: `this.sql` assigned, the table created, the window `window` ms wide.
pub static RATE_LIMITER_FIXED: RateLimiterScenario = RateLimiterScenario {
    name: "rate-limiter-fixed",
    about: "Rate Limiting fixed: this.sql assigned and the table created in the constructor, rows expire at the window's edge",
    binding: "LIMITER_FIXED",
    expect: Expect::Pass,
    drive: |w, wl| drive::<RateLimiterFixed>(w, "LIMITER_FIXED", Backend::Sqlite, "limiter", wl),
};

/// `rate-limiter-js`: the reference document's TypeScript, run by the JS host. It answers
/// only the boolean, so an admitted call's time is unknown to the checker (it counts as
/// "perhaps admitted", which can only hide over-admission, not invent it).
pub static RATE_LIMITER_JS: JsPort = JsPort {
    name: "rate-limiter-js",
    about: "Rate Limiting, the reference TypeScript run verbatim (judged like rate-limiter)",
    expect: Expect::Defect,
    rust: &RATE_LIMITER,
    module: ("rate_limiter.ts", include_str!("../../models/js/rate_limiter.ts")),
    program: &RATE_LIMITER_PROGRAM,
    classes: &[JsBinding { binding: "LIMITER", class: "RateLimiter", backend: Backend::Sqlite }],
    id_name: "limiter",
    to_js: |request| match serde_json::from_value(request.clone()) {
        Ok(RateLimiterCall::CheckLimit { key, limit, window }) => {
            JsCall::new("checkLimit", vec![key.into(), limit.into(), window.into()])
        }
        Err(_) => JsCall::new("checkLimit", vec![]),
    },
    to_rust: |call, reply| {
        let arg = |i: usize| call.args.get(i).cloned().unwrap_or(Value::Null);
        let request = serde_json::json!({"check_limit": {"key": arg(0), "limit": arg(1), "window": arg(2)}});
        (request, reply.cloned())
    },
    drive: None,
};
static RATE_LIMITER_PROGRAM: OnceLock<Arc<JsProgram>> = OnceLock::new();

fn requests() -> BoxedStrategy<Value> {
    prop_oneof![Just("a"), Just("b")]
        .prop_map(|key| {
            let call = RateLimiterCall::CheckLimit { key: key.into(), limit: LIMIT, window: WINDOW };
            serde_json::to_value(call).unwrap_or(Value::Null)
        })
        .boxed()
}

impl Scenario for RateLimiterScenario {
    crate::meta_from_fields!();

    fn shape(&self) -> Shape {
        Shape { clients: (2, 4), calls: (4, 10), max_think_ms: 6, chaos_window_ms: 80 }
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        requests()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        accepts::<RateLimiter>(request)
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        (self.drive)(&world, workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        check_limits(report, &format!("{}:limiter", self.binding))
    }
}

/// When a call took effect: exactly (the answer carries the time the object used), or
/// somewhere in `[from, to]` (the call failed or was never answered).
#[derive(Clone, Copy)]
struct Span {
    from: u64,
    to: u64,
}

impl Span {
    /// Whether the span meets `(lo, hi]`.
    fn meets(self, lo: i64, hi: u64) -> bool {
        (self.to as i64) > lo && self.from <= hi
    }
}

/// One key's calls, sorted out.
#[derive(Default)]
struct KeyCalls {
    /// Admitted, with the time the object admitted it.
    admitted: Vec<(usize, u64)>,
    /// Answered with a refusal (exact time) or failed with the object's own error.
    refused: Vec<(usize, Span, Option<String>)>,
    /// Effect unknown (reset, connection lost, no answer): perhaps admitted.
    unknown: Vec<(usize, Span)>,
}

fn check_limits(report: &RunReport, label: &str) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut say =
        |message: String| found.push(Violation { checker: "rate-limit".into(), message, at: report.sim_time });
    let end = report.sim_time.as_millis();
    let mut keys: BTreeMap<(String, u64, u64), KeyCalls> = BTreeMap::new();
    let mut descriptions: BTreeMap<usize, String> = BTreeMap::new();
    for op in report.history.iter().filter(|o| o.object == label) {
        let Ok(RateLimiterCall::CheckLimit { key, limit, window }) = serde_json::from_value(op.request.clone()) else {
            continue;
        };
        descriptions.insert(op.index, describe(op));
        let calls = keys.entry((key, limit, window)).or_default();
        let span = Span { from: op.invoked_at.as_millis(), to: op.completed_at.map_or(end, |t| t.as_millis()) };
        match &op.completion {
            Completion::Ok { value } => match serde_json::from_value::<Decision>(value.clone()) {
                Ok(Decision { allowed: true, now }) => calls.admitted.push((op.index, now)),
                Ok(Decision { allowed: false, now }) => {
                    calls.refused.push((op.index, Span { from: now, to: now }, None))
                }
                Err(_) => calls.unknown.push((op.index, span)),
            },
            Completion::Fail { error } => calls.refused.push((op.index, span, Some(error_text(error)))),
            Completion::Info { .. } | Completion::Pending => calls.unknown.push((op.index, span)),
        }
    }
    for ((key, limit, window), calls) in &keys {
        let w = *window as i64;
        // Never more than `limit` admitted in any window: the window ending at each admission.
        for &(_, t) in &calls.admitted {
            let inside: Vec<_> = calls.admitted.iter().filter(|(_, u)| (*u as i64) > t as i64 - w && *u <= t).collect();
            if inside.len() as u64 > *limit {
                let list: Vec<String> = inside.iter().map(|(i, u)| format!("#{i} at {u}ms")).collect();
                say(format!(
                    "key {key:?}: {} requests admitted in the {window} ms window ending at {t}ms ({}), limit {limit}",
                    inside.len(),
                    list.join(", ")
                ));
                break;
            }
        }
        // Never refuse one it should admit: a refusal is wrong if, even counting every call
        // that may have been admitted, fewer than `limit` fall in any window it could see.
        let mut wrong = 0;
        for (i, span, error) in &calls.refused {
            let lo = span.from as i64 - w;
            let at_most = calls.admitted.iter().filter(|(_, u)| (*u as i64) > lo && *u <= span.to).count()
                + calls.unknown.iter().filter(|(_, s)| s.meets(lo, span.to)).count();
            if (at_most as u64) < *limit {
                wrong += 1;
                if wrong > SHOWN {
                    continue;
                }
                let how = match error {
                    None => format!("was refused at {}ms", span.from),
                    Some(e) => format!("was not admitted: it failed ({e})"),
                };
                let what = descriptions.get(i).cloned().unwrap_or_default();
                say(format!(
                    "{what} {how}, though at most {at_most} of the {limit} requests allowed per {window} ms had been admitted"
                ));
            }
        }
        if wrong > SHOWN {
            say(format!("key {key:?}: {} more requests refused that should have been admitted", wrong - SHOWN));
        }
    }
    found
}
