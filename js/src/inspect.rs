//! A program seen from outside a run: which classes and functions it exports (so bad
//! input is a clear message before any run), and calling an exported function on JSON,
//! for hooks like a user's `invariant`. Both use a scratch engine with a stand-in
//! `DurableObject`, a clock frozen at 0 and a fixed random stream: no storage, no run.

use crate::budget::{metered_runtime, Overrun, RunSteps};
use crate::convert::exception_text;
use crate::instance::{drain, ProgramLoader, ProgramResolver};
use crate::source::JsProgram;
use dosim_sim::Budgets;
use rquickjs::{Context, Ctx, Function, Module, Object, Value};
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One export of a program's entry module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Its name.
    pub name: String,
    /// Whether it is a class (a constructor).
    pub is_class: bool,
    /// For a class: its methods, own and inherited (up to `DurableObject`), sorted.
    pub methods: Vec<String>,
    /// For a class: how many parameters each of `methods` declares (its `length`).
    pub arity: Vec<u32>,
}

const STAND_IN: &str = r#"
class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }
globalThis.DurableObject = DurableObject;
globalThis.__dosimWorkers = { DurableObject, WorkerEntrypoint: class extends DurableObject {}, env: {} };
globalThis.__dosimInstallDate(() => 0);
// What top-level code may read of WebSockets (partyserver checks `"OPEN" in WebSocket`).
class WebSocket { constructor() { throw new TypeError("no WebSocket while dosim inspects a module"); } }
Object.assign(WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
globalThis.WebSocket = WebSocket;
globalThis.WebSocketPair = class WebSocketPair {};
globalThis.WebSocketRequestResponsePair = class WebSocketRequestResponsePair {};
// Timers exist (libraries keep references at top level) but never fire outside a run.
let timer = 0;
globalThis.setTimeout = globalThis.setInterval = () => ++timer;
globalThis.clearTimeout = globalThis.clearInterval = () => {};
let seed = 1;
Math.random = () => { seed = (seed * 48271) % 2147483647; return seed / 2147483647; };
// A class's `prototype` is read-only; a plain function's is writable.
globalThis.__dosimIsClass = (v) =>
  typeof v === "function" && Object.getOwnPropertyDescriptor(v, "prototype")?.writable === false;
globalThis.__dosimMethods = (C) => {
  const names = new Set();
  for (let p = C.prototype; p && p !== DurableObject.prototype && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) if (k !== "constructor" && typeof Object.getOwnPropertyDescriptor(p, k).value === "function") names.add(k);
  }
  return [...names].sort();
};
globalThis.__dosimArity = (C, names) => names.map((n) => C.prototype[n].length);
"#;

/// Runs `f` on the program's entry module's namespace in a scratch engine.
fn with_namespace<R>(
    program: &Arc<JsProgram>,
    f: impl for<'js> FnOnce(&Ctx<'js>, Object<'js>) -> Result<R, String>,
) -> Result<R, String> {
    // The same budgets as an object's engine: a loop in top-level code or in a hook ends.
    let budgets = Budgets::default();
    let (rt, meter) = metered_runtime(&budgets, Rc::new(RunSteps::default()), Arc::new(AtomicBool::new(false)))
        .map_err(|e| e.to_string())?;
    rt.set_loader(ProgramResolver, ProgramLoader(program.clone()));
    let cx = Context::full(&rt).map_err(|e| e.to_string())?;
    meter.new_turn();
    let out = cx.with(|ctx| {
        let fail = |e| format!("{}: {}", program.root(), program.map_frames(&exception_text(&ctx, e)));
        ctx.eval::<(), _>(crate::instance::DATE_SCRIPT).map_err(fail)?;
        ctx.eval::<(), _>(STAND_IN).map_err(fail)?;
        crate::builtins::install_globals(&ctx, || 0).map_err(fail)?;
        let loaded = Module::import(&ctx, program.root()).map_err(fail)?;
        drain(&ctx);
        let namespace: Object = match loaded.result::<Object>() {
            Some(r) => r.map_err(fail)?,
            None => return Err(format!("{}: the module did not finish loading (top-level await?)", program.root())),
        };
        f(&ctx, namespace)
    });
    match meter.take_overrun() {
        Some(over) => Err(overrun_text(over, &budgets)),
        None => out,
    }
}

/// Where [`exports`] and [`call_export`] say a budget ran out (the text starts with it).
pub const OVER_BUDGET: &str = "over budget";

fn overrun_text(over: Overrun, budgets: &Budgets) -> String {
    match over {
        Overrun::Turn | Overrun::Run | Overrun::Watchdog => format!(
            "{OVER_BUDGET} js-turn-steps: it ran more than {} JavaScript steps (an endless loop?)",
            budgets.js_turn_steps
        ),
        Overrun::Memory => {
            format!("{OVER_BUDGET} js-memory: it needed more than {} bytes of memory", budgets.js_memory_bytes)
        }
    }
}

/// The entry module's exports.
pub fn exports(program: &Arc<JsProgram>) -> Result<Vec<Export>, String> {
    with_namespace(program, |ctx, namespace| {
        let methods_of: Function = ctx.globals().get("__dosimMethods").map_err(|e| e.to_string())?;
        let is_class_fn: Function = ctx.globals().get("__dosimIsClass").map_err(|e| e.to_string())?;
        let arity_of: Function = ctx.globals().get("__dosimArity").map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for key in namespace.keys::<String>() {
            let name = key.map_err(|e| e.to_string())?;
            let value: Value = namespace.get(name.as_str()).map_err(|e| e.to_string())?;
            let is_class: bool = is_class_fn.call((value.clone(),)).unwrap_or(false);
            let methods: Vec<String> =
                if is_class { methods_of.call((value.clone(),)).unwrap_or_default() } else { Vec::new() };
            let arity = if is_class { arity_of.call((value, methods.clone())).unwrap_or_default() } else { Vec::new() };
            out.push(Export { name, is_class, methods, arity });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    })
}

/// Calls the exported function `name` with `arg` (as JSON) and returns its result as JSON
/// (`null` for `undefined`); a throw is an `Err` with its message.
pub fn call_export(program: &Arc<JsProgram>, name: &str, arg: &serde_json::Value) -> Result<serde_json::Value, String> {
    with_namespace(program, |ctx, namespace| {
        let fail = |e| program.map_frames(&exception_text(ctx, e));
        let f: Function = namespace.get(name).map_err(|_| format!("{} exports no function {name}", program.root()))?;
        let arg = ctx.json_parse(arg.to_string()).map_err(fail)?;
        let result: Value = f.call((arg,)).map_err(fail)?;
        drain(ctx);
        let result = match result.as_promise() {
            Some(p) => p.result::<Value>().ok_or_else(|| format!("{name}() did not settle"))?.map_err(fail)?,
            None => result,
        };
        if result.is_undefined() || result.is_null() {
            return Ok(serde_json::Value::Null);
        }
        let text = ctx.json_stringify(result).map_err(fail)?.map(|s| s.to_string().unwrap_or_default());
        serde_json::from_str(&text.unwrap_or_else(|| "null".into())).map_err(|e| e.to_string())
    })
}
