//! A run as a Chrome trace (the Trace Event Format that Perfetto and `chrome://tracing`
//! open): each object is a process whose requests are async slices (they overlap) and
//! whose runtime steps (construct, commit, crash, gate waits, output-gate holds) are
//! instant events; each client is a thread of a "clients" process with one slice per call.

use crate::sim::{Completion, RunReport};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Microseconds, the unit of the format.
fn us(ms: u64) -> u64 {
    ms * 1000
}

/// The trace of `report` as a JSON value (`{"traceEvents": [...]}`).
pub fn chrome_trace(title: &str, report: &RunReport) -> Value {
    let mut events = Vec::new();
    let mut pids: BTreeMap<String, u64> = BTreeMap::new();
    let mut pid_of = |label: &str, events: &mut Vec<Value>| -> u64 {
        if let Some(p) = pids.get(label) {
            return *p;
        }
        let p = pids.len() as u64 + 2;
        pids.insert(label.to_owned(), p);
        events.push(json!({"name": "process_name", "ph": "M", "pid": p, "args": {"name": label}}));
        events.push(json!({"name": "thread_name", "ph": "M", "pid": p, "tid": 1, "args": {"name": "runtime"}}));
        p
    };
    events.push(json!({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": format!("clients ({title})")}}));
    let end = report.sim_time.as_millis();
    for op in &report.history {
        let done = op.completed_at.map_or(end, |t| t.as_millis());
        let name = format!("#{} {}", op.index, op.request);
        let outcome = match &op.completion {
            Completion::Ok { value } => json!({"ok": value}),
            Completion::Fail { error } | Completion::Info { error } => {
                json!({op.completion.label(): error.message, "kind": format!("{:?}", error.kind)})
            }
            Completion::Pending => json!("pending"),
        };
        let tid = op.client as u64 + 1;
        events.push(json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": format!("client-{}", op.client)}}));
        events.push(json!({"name": name, "cat": "call", "ph": "X", "pid": 1, "tid": tid,
            "ts": us(op.invoked_at.as_millis()), "dur": us(done - op.invoked_at.as_millis()), "args": outcome}));
        let pid = pid_of(&op.object, &mut events);
        let id = format!("req{}", op.index);
        events.push(json!({"name": name, "cat": "request", "ph": "b", "id": id, "pid": pid, "tid": 1, "ts": us(op.invoked_at.as_millis())}));
        events.push(json!({"name": name, "cat": "request", "ph": "e", "id": id, "pid": pid, "tid": 1, "ts": us(done), "args": outcome}));
    }
    for line in &report.trace {
        if line.actor.starts_with("client-") || line.actor == "world" {
            continue;
        }
        let pid = pid_of(&line.actor, &mut events);
        const KINDS: [&str; 9] = [
            "commit",
            "CRASH",
            "construct",
            "alarm",
            "hibernated",
            "output gate",
            "critical section",
            "reads from storage",
            "delete_all",
        ];
        let cat = KINDS.into_iter().find(|k| line.what.contains(k)).unwrap_or("step");
        events.push(json!({"name": line.what, "cat": cat, "ph": "i", "s": "t", "pid": pid, "tid": 1, "ts": us(line.at.as_millis())}));
    }
    // Metadata first, then by time: viewers do not require it, people reading the file do.
    events.sort_by_key(|e| (e["ph"] != "M", e["ts"].as_u64().unwrap_or(0)));
    json!({"traceEvents": events, "displayTimeUnit": "ms", "otherData": {"title": title, "trace_hash": report.trace_hash}})
}
