//! The simulated Durable Object runtime of dosim: it runs object code under a seeded
//! scheduler and clock, with the input gate, output gate and write coalescing of the real
//! runtime, injects crashes drawn from the seed, and records everything it does.
//!
//! Module map:
//!
//! | module        | owns                                                              |
//! |---------------|-------------------------------------------------------------------|
//! | [`run`](mod@run) | one run: fresh thread and madsim runtime, chaos, liveness, report |
//! | [`alarm`]     | the per-object alarm scheduler: firing, retries, abandonment      |
//! | [`world`]     | the run's shared state: clock, decisions, objects, history, trace |
//! | [`config`]    | seed, gate policies (the tester's switches), faults, limits       |
//! | [`budget`]    | how far object code may go: steps, memory, depth, turns, watchdog |
//! | [`faults`]    | the decision stream and the per-seed fault plan                   |
//! | [`namespace`] | namespaces, ids, stubs and call delivery                          |
//! | [`object`]    | the `DurableObject` trait, `State` (`ctx`) and `Env`              |
//! | [`client`]    | simulated callers and the call history                            |
//! | [`storage`]   | the storage API: KV (both back-ends), SQL, transactions, alarms   |
//! | [`network`]   | outbound `fetch`: responders per host, network faults, exchanges  |
//! | [`socket`]    | hibernatable WebSockets: connections, attachments, gated sends    |
//! | [`gate`]      | the input gate's bookkeeping                                      |
//! | [`strand`]    | strands: turns, the gate on each, critical sections, panics       |
//! | `host`        | the object host: instance, commits, output gate, crash, checkers  |
//! | [`trace`]     | history entries, trace lines, `trace_hash`                        |
//! | [`report`]    | what a run leaves: violations, durable state, counters            |
//! | [`time`]      | simulated milliseconds, durations, one-turn yields                |
//! | [`task`]      | the run's tasks, cancelled when it ends (nothing outlives a run)  |
//! | `timers`      | the run's sleeps: one ticker on madsim's clock wakes what is due  |
//! | [`error`]     | errors with workerd's texts and flags                             |

// Without the switch madsim is the real runtime, and the errors that follow name madsim's
// internals; say what is missing first. (rustdoc reads the crate without the build's
// rustflags, when it documents it and when it collects doc tests: not there.)
#[cfg(not(any(madsim, doc, doctest)))]
compile_error!(
    "dosim needs `--cfg madsim` in every build that uses it: add `[build] rustflags = [\"--cfg\", \"madsim\"]` to .cargo/config.toml (see the README, \"In your own crate\")"
);

pub mod alarm;
pub mod budget;
pub mod client;
pub mod compat;
pub mod config;
pub mod error;
pub mod faults;
pub mod gate;
mod host;
pub mod namespace;
pub mod network;
pub mod object;
pub mod report;
pub mod run;
mod run_host;
mod schedule;
pub mod socket;
pub mod storage;
pub mod strand;
pub mod task;
pub mod time;
mod timers;
pub mod trace;
pub mod world;

pub use alarm::{AlarmAttempt, AlarmInfo};
pub use budget::Budgets;
pub use client::Client;
pub use compat::Compatibility;
pub use config::{GatePolicy, SimConfig};
pub use error::{Error, ErrorKind, Result};
pub use faults::{FaultPlan, FaultPolicy, Outage, OutageWindow};
pub use namespace::{Namespace, ObjectId, Stub};
pub use network::{Exchange, HttpRequest, HttpResponse, NetworkFaults, Responder};
pub use object::{AbortOptions, DurableObject, Env, State};
pub use report::{reachable, ObjectView, Outgoing, RunReport, Stats, Violation, NEEDS, SOMETIMES, USER_POINT};
pub use run::{run, run_repeatable};
pub use schedule::Scheduler;
pub use socket::{Connection, Received, WebSocket};
pub use storage::{
    Backend, Cursor, ListOptions, ReadOptions, Row, Sql, SqlValue, Storage, StorageOp, Txn, WriteOptions,
};
pub use strand::CriticalSection;
pub use task::{Cancelled, Task};
pub use time::SimTime;
pub use trace::{Completion, Op, TraceLine};
pub use world::World;

/// `#[async_trait(?Send)]` for `impl DurableObject` blocks.
pub use async_trait::async_trait;
