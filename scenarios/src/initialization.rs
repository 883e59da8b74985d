//! `initialization`: the Initialization pattern (the `counter` model) on the KV-backed
//! back-end, where the constructor's read is a storage round trip that early calls queue
//! behind. The clients make half their calls, go quiet for 11 s so the object hibernates,
//! then make the rest against an instance rebuilt from storage. Right as written.

use crate::clients::{as_generated, run_clients};
use crate::counters::{just, CounterScenario, Returns};
use crate::workload::{accepts, Driving, Workload};
use crate::Expect;
use dosim_models::Counter;
use dosim_sim::{Backend, World};
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
    drive: drive_with_pause,
};

fn drive_with_pause(world: &World, workload: Workload) -> Driving {
    let world = world.clone();
    Box::pin(async move {
        let ns = world.namespace_with::<Counter>("INIT_COUNTER", Backend::Kv);
        let id = ns.id_from_name("counter");
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for mut calls in workload.clients {
            second.push(calls.split_off(calls.len() / 2));
            first.push(calls);
        }
        run_clients(&world, &ns, &id, first, as_generated).await;
        world.sleep(QUIET).await;
        run_clients(&world, &ns, &id, second, as_generated).await;
    })
}
