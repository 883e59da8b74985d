//! # dosim: deterministic simulation testing for Cloudflare Durable Objects
//!
//! dosim runs Durable Object code under a seeded scheduler and a simulated clock, with
//! the input gate, output gate and write coalescing of the real runtime (workerd), and
//! crashes the objects at points drawn from the seed. Checkers that hold for every
//! object run on every run; each scenario adds its own invariants. Any failure is a
//! seed, and a seed replays exactly.
//!
//! ## A tour
//!
//! An object is a type that implements [`sim::DurableObject`]. Handlers take `&self`;
//! state that must survive goes through `state.storage()`:
//!
//! ```
//! use dosim::sim::{DurableObject, Env, Result, State};
//!
//! struct Tally { state: State }
//!
//! #[dosim::sim::async_trait(?Send)]
//! impl DurableObject for Tally {
//!     type Request = u64;   // how much to add
//!     type Response = u64;  // the new total
//!     fn new(state: State, _env: Env) -> Self { Tally { state } }
//!     async fn call(&self, add: u64) -> Result<u64> {
//!         let s = self.state.storage();
//!         // Awaiting storage keeps the input gate closed: no other call can interleave.
//!         let total = s.get::<u64>("total").await?.unwrap_or(0) + add;
//!         s.put("total", &total);      // not awaited: the output gate holds the reply
//!         Ok(total)                    // until the write is durable
//!     }
//! }
//! ```
//!
//! A run is a seed, a configuration and a workload. The workload runs inside the
//! simulation: clients call objects through stubs, and every call lands in the history.
//!
//! ```
//! # use dosim::sim::{DurableObject, Env, Result, State};
//! # struct Tally { state: State }
//! # #[dosim::sim::async_trait(?Send)]
//! # impl DurableObject for Tally {
//! #     type Request = u64; type Response = u64;
//! #     fn new(state: State, _env: Env) -> Self { Tally { state } }
//! #     async fn call(&self, add: u64) -> Result<u64> {
//! #         let s = self.state.storage();
//! #         let total = s.get::<u64>("total").await?.unwrap_or(0) + add;
//! #         s.put("total", &total);
//! #         Ok(total)
//! #     }
//! # }
//! use dosim::sim::{run, SimConfig};
//!
//! let report = run(SimConfig::new(7), |world| async move {
//!     let ns = world.namespace::<Tally>("TALLY");
//!     let stub = ns.get(&ns.id_from_name("a"));
//!     let client = world.client(0);
//!     for _ in 0..5 {
//!         let _ = client.call(&stub, 2).await; // a crash may fail a call: it is recorded
//!     }
//! });
//! // The runtime's checkers (gates, coalescing, durability) found nothing...
//! assert!(report.violations.is_empty(), "{:?}", report.violations);
//! // ...and the same seed gives the same run, line for line.
//! let again = run(SimConfig::new(7), |world| async move {
//!     let ns = world.namespace::<Tally>("TALLY");
//!     let stub = ns.get(&ns.id_from_name("a"));
//!     let client = world.client(0);
//!     for _ in 0..5 {
//!         let _ = client.call(&stub, 2).await;
//!     }
//! });
//! assert_eq!(report.trace_hash, again.trace_hash);
//! ```
//!
//! Scenarios package a workload with the invariants that judge it; [`scenarios::check`]
//! runs one for a seed and gives a verdict:
//!
//! ```
//! use dosim::scenarios::{self, check, Verdict};
//! use dosim::sim::SimConfig;
//!
//! let racy = scenarios::find("racy-counter").unwrap();
//! let failing = (0..50).map(|seed| check(racy, SimConfig::new(seed))).find(|o| o.verdict() == Verdict::Fail);
//! assert!(failing.is_some(), "read-sleep-write loses updates, and dosim finds it");
//! ```
//!
//! JavaScript and TypeScript objects run unmodified on the JS host ([`js`]): the same
//! gates, crashes and checkers, with `ctx`, `env` and the storage APIs as Cloudflare
//! documents them.
//!
//! ```
//! use dosim::js::{register, JsCall, JsClass, JsProgram};
//! use dosim::sim::{run, Backend, SimConfig};
//!
//! let program = JsProgram::from_source("tally.ts", r#"
//!     import { DurableObject } from "cloudflare:workers";
//!     export class Tally extends DurableObject {
//!       async add(n: number): Promise<number> {
//!         const total: number = ((await this.ctx.storage.get("total")) ?? 0) + n;
//!         this.ctx.storage.put("total", total);
//!         return total;
//!       }
//!     }"#).unwrap();
//! let report = run(SimConfig::new(7), move |world| async move {
//!     let ns = register(&world, "TALLY", Backend::Sqlite, JsClass::new(program, "Tally"));
//!     let stub = ns.get(&ns.id_from_name("a"));
//!     for _ in 0..5 {
//!         let _ = world.client(0).call(&stub, JsCall::new("add", vec![2.into()])).await;
//!     }
//! });
//! assert!(report.violations.is_empty(), "{:?}", report.violations);
//! ```
//!
//! ## Layout
//!
//! | crate                 | re-exported as  | owns                                            |
//! |-----------------------|-----------------|-------------------------------------------------|
//! | `dosim-sim`           | [`sim`]         | the simulated runtime; knows no model           |
//! | `dosim-models`        | [`models`]      | Durable Object implementations                  |
//! | `dosim-js`            | [`js`]          | the JavaScript/TypeScript host (QuickJS, oxc)   |
//! | `dosim-scenarios`     | [`scenarios`]   | workloads and invariants                        |
//! | `dosim` (this crate)  |                 | the `dosim` command and this facade             |

pub use dosim_js as js;
pub use dosim_models as models;
pub use dosim_scenarios as scenarios;
pub use dosim_sim as sim;

/// `#[dosim::test]`: an `async fn(World)` run as a test over many seeds ([`testing`]).
pub use dosim_macros::test;
pub use testing::{check, Builder, Draw};

/// What a test file needs: `use dosim::prelude::*;`.
pub mod prelude {
    pub use crate::sim::{async_trait, DurableObject, Env, Error, Result, RunReport, State, Stub, World};
    pub use crate::testing::{Builder, Draw};
}

pub mod bench;
pub mod chrome;
pub mod cli;
pub mod conformance;
pub mod testing;
