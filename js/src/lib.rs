//! Unmodified JavaScript and TypeScript Durable Objects inside dosim's simulation.
//!
//! A module is loaded from a file (TypeScript stripped with oxc), compiled once to QuickJS
//! bytecode, and run as workerd runs a Worker script: one isolate per script per run,
//! shared by every instance of its classes (module state too), dropped only by an isolate
//! restart (a fault drawn from the seed) or an overrun that condemns it.
//! The class runs as a dosim object: the input gate, output gate, write coalescing,
//! crashes, alarms and checkers are the Rust runtime's, not re-implemented. A JavaScript
//! turn is a host turn: an event's code runs until no microtask is left, and each host
//! promise (a storage read that misses the cache, a call to another object, a timer)
//! settles at a later turn of the strand that made it.
//!
//! ```no_run
//! use dosim_js::{register, JsCall, JsClass, JsProgram};
//! use dosim_sim::{run, Backend, SimConfig};
//!
//! let program = JsProgram::load(std::path::Path::new("counter.ts")).expect("it compiles");
//! let report = run(SimConfig::new(7), move |world| async move {
//!     let ns = register(&world, "COUNTER", Backend::Sqlite, JsClass::new(program, "Counter"));
//!     let stub = ns.get(&ns.id_from_name("c"));
//!     let _ = world.client(0).call(&stub, JsCall::new("increment", vec![])).await;
//! });
//! assert!(report.violations.is_empty());
//! ```
//!
//! | module     | owns                                                                  |
//! |------------|-----------------------------------------------------------------------|
//! | [`source`] | programs: loading a module graph, bytecode                              |
//! | `resolve`  | specifiers to files (`oxc_resolver`: packages, tsconfig paths) or built-ins |
//! | `module_text` | a file as an ES module: TypeScript stripped, specifiers relinked, CommonJS wrapped, JSON/text/data |
//! | `isolate`  | one engine per script per run: prelude, platform, modules, budgets, restarts |
//! | `instance` | one object in its isolate: constructor, the host's tables, reset        |
//! | `task`     | events as futures: host promises, turns, microtask draining            |
//! | `host`     | the host functions behind `ctx`, `env`, timers, clock and randomness   |
//! | [`net`]    | outbound `fetch`, WebSockets' host functions, responders on the network |
//! | `convert`  | errors and values across the boundary                                   |
//! | `budget`   | what an isolate may spend: steps per turn and run, memory              |
//! | [`inspect`] | a program's exports, and calling an exported hook outside any run      |
//! | [`object`] | `JsObject`, `JsCall`, and registering a class for a namespace           |
//! | `builtins` | built-in modules (`cloudflare:workers`, `node:*`) and the web platform's globals, with their Rust functions |
//! | `prelude.js` | the JavaScript side: `cloudflare:workers`' classes, storage, SQL cursor, stubs, structured clone |
//! | `platform/*.js` | one script per standard: URL, encoding, events, abort, crypto, blob, streams, FormData, fetch; `lazy.js` loads each on first use; `outbound.js` (global `fetch`) and `websocket.js` go into the prelude |
//! | `platform/node/*.js` | the `node:*` modules (assert, buffer, events, util, crypto, async_hooks, process, timers, url) |

mod budget;
mod builtins;
mod convert;
mod host;
pub mod inspect;
mod instance;
mod isolate;
mod module_text;
pub mod net;
pub mod object;
mod resolve;
pub mod source;
mod task;

pub use inspect::{call_export, exports, Export};
pub use instance::{live_instances, JsClass};
pub use isolate::{live_isolates, restart_isolates};
pub use net::{serve, websocket_request};
pub use object::{register, stringified, JsCall, JsObject};
pub use source::JsProgram;
