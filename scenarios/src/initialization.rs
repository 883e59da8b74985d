//! `initialization`: the Initialization pattern (the `counter` model) on the KV-backed
//! back-end, where the constructor's read is a storage round trip that early calls queue
//! behind. The clients make half their calls, go quiet for 11 s so the object hibernates,
//! then make the rest against an instance rebuilt from storage. Right as written.

use crate::clients::{as_generated, run_clients, sent_as};
use crate::counters::{just, CounterScenario, Returns};
use crate::js_port::{plain, JsBinding, JsPort};
use crate::workload::{accepts, Driving, Workload};
use crate::Expect;
use dosim_js::{JsCall, JsObject, JsProgram};
use dosim_models::Counter;
use dosim_sim::{Backend, DurableObject, World};
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Longer than the 10 s after which an idle object hibernates.
const QUIET: Duration = Duration::from_secs(11);

/// `initialization`.
pub static INITIALIZATION: CounterScenario = CounterScenario {
    name: "initialization",
    about: "Initialization pattern (counter model) on the KV back-end, with an 11 s pause that hibernates the object",
    binding: "INIT_COUNTER",
    key: "value",
    returns: Returns::New,
    expect: Expect::Pass,
    requests: || just("increment"),
    accepts: accepts::<Counter>,
    drive: |w, wl| drive_with_pause::<Counter>(w, wl, Value::clone),
};

/// `initialization-js`: the reference document's TypeScript (`Counter`), run by the JS
/// host. `increment()` answers `this.value`, a number, as the Rust port does.
pub static INITIALIZATION_JS: JsPort = JsPort {
    name: "initialization-js",
    about: "Initialization pattern, the reference TypeScript run verbatim (judged like initialization)",
    expect: Expect::Pass,
    rust: &INITIALIZATION,
    module: ("initialization.ts", include_str!("../../models/js/initialization.ts")),
    program: &INITIALIZATION_PROGRAM,
    classes: &[JsBinding { binding: "INIT_COUNTER", class: "Counter", backend: Backend::Kv }],
    id_name: "counter",
    to_js: |_| JsCall::new("increment", vec![]),
    to_rust: |_, reply| (Value::from("increment"), reply.map(plain)),
    drive: Some(|port, w, wl| drive_with_pause::<JsObject>(w, wl, port.as_call())),
};
static INITIALIZATION_PROGRAM: OnceLock<Arc<JsProgram>> = OnceLock::new();

/// The first half of each client's calls, a pause, the rest, against class `O`;
/// `as_sent` turns each request into `O`'s.
fn drive_with_pause<O: DurableObject>(
    world: &World,
    workload: Workload,
    as_sent: impl Fn(&Value) -> Value + Copy + 'static,
) -> Driving {
    let world = world.clone();
    Box::pin(async move {
        let ns = world.namespace_with::<O>("INIT_COUNTER", Backend::Kv);
        let id = ns.id_from_name("counter");
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for mut calls in workload.clients {
            second.push(calls.split_off(calls.len() / 2));
            first.push(calls);
        }
        run_clients(&world, &ns, &id, first, sent_as(as_generated, as_sent)).await;
        world.sleep(QUIET).await;
        run_clients(&world, &ns, &id, second, sent_as(as_generated, as_sent)).await;
    })
}
