//! Driving and reading helpers of the pattern scenarios: clients whose generated requests
//! are completed per call (unique ids and values, which the invariants rely on), a probe
//! made once the faults have stopped, and short descriptions of calls for messages.

use crate::workload::Call;
use dosim_sim::{DurableObject, Error, ErrorKind, Namespace, ObjectId, Op, SimTime, World};
use serde_json::Value;
use std::time::Duration;

/// Turns the `n`-th generated request of one client into the request sent.
pub(crate) type Complete = Box<dyn FnMut(usize, Value) -> Value>;

/// The client number of the probe made after the faults stop.
pub(crate) const PROBE_CLIENT: usize = 99;

/// Runs each client's calls against object `id`: wait the think time, then call through a
/// fresh stub (a stub that saw a reset stays broken). `complete(c)` gives client `c`'s
/// completion function; a request that then does not decode is skipped.
pub(crate) async fn run_clients<O: DurableObject>(
    world: &World,
    ns: &Namespace<O>,
    id: &ObjectId,
    clients: Vec<Vec<Call>>,
    complete: impl Fn(usize) -> Complete,
) {
    let mut tasks = Vec::new();
    for (c, calls) in clients.into_iter().enumerate() {
        let (w, ns, id, client, mut complete) = (world.clone(), ns.clone(), id.clone(), world.client(c), complete(c));
        tasks.push(world.spawn(async move {
            for (n, call) in calls.into_iter().enumerate() {
                w.sleep(Duration::from_millis(call.think_ms)).await;
                let stub = ns.get(&id);
                if let Ok(request) = serde_json::from_value::<O::Request>(complete(n, call.request)) {
                    let _ = client.call(&stub, request).await;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Every request unchanged.
pub(crate) fn as_generated(_client: usize) -> Complete {
    Box::new(|_, request| request)
}

/// Once the chaos window is over, stops the faults and makes `requests` in order as client
/// [`PROBE_CLIENT`]: with nothing injected any more, each must succeed.
pub(crate) async fn probe<O: DurableObject>(
    world: &World,
    ns: &Namespace<O>,
    id: &ObjectId,
    chaos_window_ms: u64,
    requests: Vec<O::Request>,
) {
    // Timed crashes are drawn inside [1, chaos_window_ms]; calm() stops every other fault.
    world.sleep_until(SimTime(world.now().as_millis().max(chaos_window_ms + 1))).await;
    world.calm();
    let client = world.client(PROBE_CLIENT);
    for request in requests {
        let _ = client.call(&ns.get(id), request).await;
    }
}

/// `#index method {arguments}`, for messages.
pub(crate) fn describe(op: &Op) -> String {
    match (&op.request, op.request.as_object().and_then(|m| m.iter().next())) {
        (_, Some((method, args))) => format!("#{} {method} {args}", op.index),
        (Value::String(method), None) => format!("#{} {method}", op.index),
        (other, None) => format!("#{} {other}", op.index),
    }
}

/// An error as a JavaScript caller sees it: class, message, and the reset flag.
pub(crate) fn error_text(e: &Error) -> String {
    let class = if e.kind == ErrorKind::Usage { "TypeError" } else { "Error" };
    let flag = if e.durable_object_reset { " (durableObjectReset)" } else { "" };
    format!("{class}: {}{flag}", e.message)
}

/// `complete`, with each completed request then translated by `as_sent` (the identity for
/// a Rust port, `JsPort::as_call` for its JavaScript port).
pub(crate) fn sent_as(
    complete: fn(usize) -> Complete,
    as_sent: impl Fn(&Value) -> Value + Copy + 'static,
) -> impl Fn(usize) -> Complete {
    move |client| {
        let mut inner = complete(client);
        Box::new(move |n, request| as_sent(&inner(n, request)))
    }
}
