//! What the pattern scenarios share: a driver whose clients turn abstract workload steps
//! into concrete requests (unique names per call, retries on indeterminate errors), and
//! the evidence a violation message cites (the object's own errors, crashes, alarm runs).

use crate::workload::{Driving, Workload};
use dosim_sim::trace::Fnv64;
use dosim_sim::{Backend, DurableObject, Error, ErrorKind, Op, RunReport, SimTime, World};
use serde_json::Value;
use std::fmt::Write as _;
use std::time::Duration;

/// Turns workload step `step` of client `client` (its `call`-th) into a request.
pub(crate) type Concretize<R> = fn(client: usize, call: usize, step: &Value) -> Option<R>;

/// Attempts a client makes of a request it may retry, when the earlier ones failed in a
/// way that hides whether they ran (reset, connection lost).
pub(crate) const ATTEMPTS: u32 = 3;

/// Runs the workload against object `id_name` of `binding`: one task per client; a request
/// `retry` accepts is sent again (with a fresh stub, 10 ms later) after an indeterminate
/// failure, up to [`ATTEMPTS`] times in all.
pub(crate) fn drive_clients<O: DurableObject>(
    world: &World,
    binding: &'static str,
    id_name: &'static str,
    workload: Workload,
    concretize: Concretize<O::Request>,
    retry: fn(&O::Request) -> bool,
) -> Driving
where
    O::Request: Clone,
{
    let world = world.clone();
    Box::pin(async move {
        let ns = world.namespace_with::<O>(binding, Backend::Sqlite);
        let id = ns.id_from_name(id_name);
        let mut tasks = Vec::new();
        for (c, calls) in workload.clients.into_iter().enumerate() {
            let (w, ns, id, client) = (world.clone(), ns.clone(), id.clone(), world.client(c));
            tasks.push(world.spawn(async move {
                for (k, call) in calls.into_iter().enumerate() {
                    w.sleep(Duration::from_millis(call.think_ms)).await;
                    // Steps were validated before the run; one that does not fit is skipped.
                    let Some(request) = concretize(c, k, &call.request) else { continue };
                    let attempts = if retry(&request) { ATTEMPTS } else { 1 };
                    for attempt in 1..=attempts {
                        // A stub per attempt: a stub that saw its object reset stays broken.
                        match client.call(&ns.get(&id), request.clone()).await {
                            Err(e) if e.is_indeterminate() && attempt < attempts => {
                                w.sleep(Duration::from_millis(10)).await;
                            }
                            _ => break,
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    })
}

/// `n` and the noun for it: `1 item`, `2 items`.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Whether `e` was thrown by the object's own code (or by a storage call it made), so a
/// retry would meet it again; resets, lost connections and overload are the runtime's.
pub(crate) fn own_error(e: &Error) -> bool {
    matches!(e.kind, ErrorKind::App | ErrorKind::Usage | ErrorKind::Storage)
}

/// How a call ended, in a few words.
pub(crate) fn outcome(op: &Op) -> String {
    match (&op.ok_value(), op.error()) {
        (Some(v), _) => format!("acknowledged ({v})"),
        (None, Some(e)) => format!("{} ({:?}: {})", op.completion.label(), e.kind, e.message),
        (None, None) => "never answered".into(),
    }
}

/// The calls made to the object labelled `label`.
pub(crate) fn calls<'r>(report: &'r RunReport, label: &str) -> Vec<&'r Op> {
    report.history.iter().filter(|o| o.object == label).collect()
}

/// What happened to the object labelled `label` from `since` on, in order: crashes,
/// hibernations and alarm runs (consecutive runs with one outcome folded together), as a
/// short sentence: the cause a violation message cites.
pub(crate) fn story_since(report: &RunReport, label: &str, since: SimTime) -> String {
    enum Event<'r> {
        Said(String),
        Alarm { first: SimTime, last: SimTime, n: usize, outcome: &'r str },
    }
    let mut attempts = report.alarms.iter().filter(|a| a.object == label);
    let mut events: Vec<Event> = Vec::new();
    for line in report.trace.iter().filter(|l| l.actor == label) {
        // The trace says when an alarm fires, the report how each attempt ended, in order.
        let attempt = if line.what.starts_with("alarm fires") { attempts.next() } else { None };
        if line.at < since {
            continue;
        }
        if let Some(a) = attempt {
            match events.last_mut() {
                Some(Event::Alarm { last, n, outcome, .. }) if *outcome == a.outcome => {
                    *last = a.at;
                    *n += 1;
                }
                _ => events.push(Event::Alarm { first: a.at, last: a.at, n: 1, outcome: &a.outcome }),
            }
        } else if let Some(rest) = line.what.strip_prefix("CRASH ") {
            let reason = rest.split(": instance dropped").next().unwrap_or(rest);
            let reason = reason.split(": nothing in memory").next().unwrap_or(reason);
            events.push(Event::Said(format!("the object crashed at {} ({reason})", line.at)));
        } else if line.what.starts_with("hibernated") && !events.iter().any(|e| matches!(e, Event::Alarm { .. })) {
            // Once an alarm ran, the batch it took decided the item's fate: later
            // hibernations (between retries) only break up the story.
            events.push(Event::Said(format!("the object was hibernated at {} (its memory dropped)", line.at)));
        } else if line.what.contains("abandoned after") {
            events.push(Event::Said(format!("the alarm was abandoned at {}", line.at)));
        }
    }
    if events.is_empty() {
        return "nothing happened to the object after it".into();
    }
    const SHOWN: usize = 5;
    let mut told: Vec<String> = events
        .iter()
        .take(SHOWN)
        .map(|e| match e {
            Event::Said(s) => s.clone(),
            Event::Alarm { first, n: 1, outcome, .. } => format!("the alarm ran at {first}: {outcome}"),
            Event::Alarm { first, last, n, outcome } => {
                format!("the alarm ran {n} times from {first} to {last}: {outcome}")
            }
        })
        .collect();
    if events.len() > SHOWN {
        told.push(format!("{} more events", events.len() - SHOWN));
    }
    format!("after it, {}", told.join("; "))
}

/// The 64 hex digits of `idFromName(name)` in namespace `binding`. This mirrors
/// `Namespace::id_from_name` (the checkers run after the run, with no namespace at hand);
/// a test compares the two.
pub fn id_hex(binding: &str, name: &str) -> String {
    let mut hex = String::with_capacity(64);
    for salt in 0u8..4 {
        let mut h = Fnv64::default();
        h.write(&[salt]);
        h.write(binding.as_bytes());
        h.write(&[0]);
        h.write(name.as_bytes());
        let _ = write!(hex, "{:016x}", h.finish());
    }
    hex
}

/// The label the report files object `idFromName(name)` of `binding` under (mirrors the
/// namespace's labels; a test compares the two).
pub fn label_of(binding: &str, name: &str) -> String {
    if name.len() <= 24 && !name.contains(char::is_whitespace) {
        format!("{binding}:{name}")
    } else {
        format!("{binding}:#{}", &id_hex(binding, name)[..8])
    }
}
