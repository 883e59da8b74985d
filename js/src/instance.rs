//! One instance of a JavaScript class: its own QuickJS runtime and context, the object
//! built by the class's constructor, and the host's tables of what JavaScript holds
//! (pending promises, timers, transactions). Dropping it is the crash: every handle goes
//! first, then the context, then the engine.

use crate::budget::{metered_runtime, Meter, Overrun, RunSteps};
use crate::convert::{exception_text, Helpers};
use crate::source::{resolve, JsProgram};
use crate::task::{Pending, TaskKey};
use dosim_sim::{Env, Error, State};
use rquickjs::loader::{Loader, Resolver};
use rquickjs::{Context, Ctx, Function, Module, Object, Persistent, Runtime, Value};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;

const PRELUDE: &str = include_str!("prelude.js");
/// `Date` in UTC on the simulated clock, set up before the prelude (see the file).
pub(crate) const DATE_SCRIPT: &str = include_str!("platform/date.js");
/// The prelude's module name (it exports the installer as `default`).
const PRELUDE_MODULE: &str = "dosim:prelude";

/// The prelude as bytecode, compiled once per process: parsing it per instance would be
/// most of what starting an instance costs.
fn prelude_bytecode() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let compiled = Runtime::new().and_then(|rt| {
            let cx = Context::full(&rt)?;
            Ok(cx.with(|ctx| {
                let text = format!("export default {PRELUDE}");
                Module::declare(ctx.clone(), PRELUDE_MODULE, text)
                    .and_then(|m| m.write(rquickjs::module::WriteOptions::default()))
                    .map_err(|e| exception_text(&ctx, e))
            }))
        });
        match compiled {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(text)) => panic!("dosim's JavaScript prelude does not compile: {text}"),
            Err(e) => panic!("dosim could not start a JavaScript engine: {e}"),
        }
    })
}

/// Bytes of stack JavaScript may use, measured from where each entry starts: run threads
/// have Rust's default 2 MiB, and the simulator's own frames sit above.
const JS_STACK: usize = 512 * 1024;

/// A class to run: a compiled program, the class it exports, and plain `env` values.
#[derive(Clone, Debug)]
pub struct JsClass {
    /// The compiled program.
    pub program: Arc<JsProgram>,
    /// The exported class's name.
    pub class: String,
    /// Plain `env` values (variables), as a JSON object.
    pub vars: serde_json::Map<String, serde_json::Value>,
}

impl JsClass {
    /// Class `class` of `program`, with no variables in `env`.
    pub fn new(program: Arc<JsProgram>, class: &str) -> JsClass {
        JsClass { program, class: class.to_owned(), vars: serde_json::Map::new() }
    }
}

/// Which class each JavaScript namespace of a run runs (a world extension).
#[derive(Default)]
pub(crate) struct JsClasses(pub(crate) RefCell<BTreeMap<String, JsClass>>);

pub(crate) struct Instance {
    /// The prelude's helpers, once it ran.
    helpers: RefCell<Option<Persistent<Object<'static>>>>,
    /// The object (none if the constructor threw).
    object: RefCell<Option<Persistent<Object<'static>>>>,
    /// Host promises not yet settled, by the task whose turn created them.
    pub(crate) pending: RefCell<BTreeMap<TaskKey, Vec<Pending>>>,
    /// JavaScript values the host keeps for a while (callbacks, results), by number.
    pub(crate) kept: RefCell<BTreeMap<u64, Persistent<Value<'static>>>>,
    /// Live timers: their callbacks' numbers in `kept`.
    pub(crate) timers: RefCell<BTreeMap<u64, u64>>,
    /// Open transactions handed to `transaction()` closures.
    pub(crate) txns: RefCell<BTreeMap<u64, dosim_sim::Txn>>,
    /// The task whose turn is running JavaScript (0: none, as in the constructor).
    pub(crate) current: Cell<TaskKey>,
    next: Cell<u64>,
    rng: Cell<u64>,
    /// The constructor's error: every event rethrows it (see `JsObject::call`).
    pub(crate) constructor_error: RefCell<Option<Error>>,
    /// What each task runs (`call book`, `alarm`), for findings that name the event.
    pub(crate) events: RefCell<BTreeMap<TaskKey, String>>,
    /// The engine's steps and memory against the run's budgets.
    meter: Rc<Meter>,
    pub(crate) state: State,
    pub(crate) env: Env,
    pub(crate) me: Weak<Instance>,
    context: Context,
    runtime: Runtime,
}

/// Instances alive in this process (every run's): a crash or the end of a run must bring
/// an object's count back down, or engines are leaking.
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many JavaScript instances (engines) are alive in this process.
pub fn live_instances() -> usize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

impl Drop for Instance {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        // Handles before the engine: QuickJS aborts if a value outlives its runtime.
        // Taken out first: dropping a pending future may touch these tables again.
        drop(std::mem::take(&mut *self.pending.borrow_mut()));
        drop(std::mem::take(&mut *self.kept.borrow_mut()));
        self.object.borrow_mut().take();
        self.helpers.borrow_mut().take();
        self.txns.borrow_mut().clear();
    }
}

impl Instance {
    /// A fresh instance of `class` for `state`: a new engine, the prelude, the program
    /// loaded from bytecode, and the constructor run (its error kept, not raised).
    pub(crate) fn start(state: State, env: Env, class: Option<JsClass>) -> Rc<Instance> {
        let seed = state.entropy_seed();
        let world = state.world().clone();
        let budgets = &world.config().budgets;
        let run_steps = world.extension::<RunSteps>().unwrap_or_else(|| {
            let steps = Rc::new(RunSteps::default());
            world.set_extension(steps.clone());
            steps
        });
        let made = metered_runtime(budgets, run_steps, world.abandon_flag())
            .and_then(|(rt, meter)| Context::full(&rt).map(|cx| (rt, cx, meter)));
        let (runtime, context, meter) = match made {
            Ok(parts) => parts,
            Err(e) => panic!("dosim could not start a JavaScript engine: {e}"),
        };
        runtime.set_max_stack_size(JS_STACK);
        LIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let inst = Rc::new_cyclic(|me| Instance {
            helpers: RefCell::new(None),
            object: RefCell::new(None),
            pending: RefCell::default(),
            kept: RefCell::default(),
            timers: RefCell::default(),
            txns: RefCell::default(),
            current: Cell::new(0),
            next: Cell::new(1),
            rng: Cell::new(seed),
            constructor_error: RefCell::new(None),
            events: RefCell::default(),
            meter,
            state,
            env,
            me: me.clone(),
            context,
            runtime,
        });
        let Some(class) = class else {
            let binding = inst.state.binding();
            *inst.constructor_error.borrow_mut() =
                Some(Error::app(format!("no JavaScript class is registered for binding {binding}")));
            return inst;
        };
        inst.runtime.set_loader(ProgramResolver, ProgramLoader(class.program.clone()));
        if let Err(e) = inst.construct(&class) {
            inst.state.log(&format!("constructor threw: {}", e.message));
            *inst.constructor_error.borrow_mut() = Some(e);
        }
        crate::task::JsTask::continue_constructor(&inst);
        inst
    }

    fn construct(&self, class: &JsClass) -> Result<(), Error> {
        self.enter(0, |ctx| {
            let fail = |e: rquickjs::Error| Error::app(exception_text(&ctx, e));
            ctx.eval::<(), _>(DATE_SCRIPT).map_err(fail)?;
            // SAFETY: bytecode written by this QuickJS build (prelude_bytecode).
            let module = unsafe { Module::load(ctx.clone(), prelude_bytecode()) }.map_err(fail)?;
            let (module, _) = module.eval().map_err(fail)?;
            drain(&ctx);
            let prelude: Function = module.get("default").map_err(fail)?;
            let host = crate::host::install(&ctx, self.me.clone(), &class.vars).map_err(fail)?;
            let helpers: Object = prelude.call((host,)).map_err(fail)?;
            *self.helpers.borrow_mut() = Some(Persistent::save(&ctx, helpers.clone()));
            let me = self.me.clone();
            crate::builtins::install_globals(&ctx, move || me.upgrade().map_or(0, |i| i.current.get()))
                .map_err(fail)?;
            let workers: Object = helpers.get("workers").map_err(fail)?;
            ctx.globals().set("__dosimWorkers", workers).map_err(fail)?;
            let loaded = Module::import(&ctx, class.program.root()).map_err(fail)?;
            drain(&ctx);
            let namespace: Object = match loaded.result::<Object>() {
                Some(r) => r.map_err(fail)?,
                None => return Err(Error::app("the module did not finish loading (top-level await?)")),
            };
            let constructor: Value = namespace.get(class.class.as_str()).map_err(fail)?;
            let Some(constructor) = constructor.as_constructor().cloned() else {
                return Err(Error::app(format!("{} exports no class named {}", class.program.root(), class.class)));
            };
            let h = Helpers(helpers.clone());
            let args: (Value, Value) = (helpers.get("ctx").map_err(fail)?, helpers.get("env").map_err(fail)?);
            let object: Result<Object, _> = constructor.construct(args);
            let object = match object {
                Ok(o) => o,
                Err(rquickjs::Error::Exception) => return Err(h.to_error(ctx.catch())),
                Err(e) => return Err(fail(e)),
            };
            drain(&ctx);
            *self.object.borrow_mut() = Some(Persistent::save(&ctx, object));
            Ok(())
        })
    }

    /// Runs `f` inside the engine as part of task `task`: host promises created meanwhile
    /// belong to it. The stack limit is measured from here.
    pub(crate) fn enter<R>(&self, task: TaskKey, f: impl FnOnce(Ctx<'_>) -> R) -> R {
        let previous = self.current.replace(task);
        self.meter.new_turn();
        let out = self.context.with(|ctx| {
            // SAFETY: the runtime is alive (we hold its context) and used from this thread.
            unsafe { rquickjs::qjs::JS_UpdateStackTop(rquickjs::qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) };
            f(ctx)
        });
        self.current.set(previous);
        if let Some(over) = self.meter.take_overrun() {
            self.overran(over, task);
        }
        out
    }

    /// A budget ran out while task `task` ran: a finding, and the object is reset (or, for
    /// the run's own budgets, the run stops).
    fn overran(&self, over: Overrun, task: TaskKey) {
        let event = match self.events.borrow().get(&task) {
            Some(e) => e.clone(),
            None => "the module's top-level code or constructor".to_owned(),
        };
        let budgets = self.state.world().config().budgets.clone();
        let world = self.state.world();
        match over {
            Overrun::Turn => {
                let detail = format!(
                    "ran more than {} JavaScript steps in one turn (an endless loop?); the object was reset",
                    budgets.js_turn_steps
                );
                self.state.overran(
                    "js-turn-steps",
                    &event,
                    &detail,
                    "Durable Object's isolate exceeded its CPU time limit and was reset.",
                );
            }
            Overrun::Memory => {
                let detail = format!(
                    "needed more than {} bytes of JavaScript memory; the object was reset",
                    budgets.js_memory_bytes
                );
                self.state.overran(
                    "js-memory",
                    &event,
                    &detail,
                    "Durable Object's isolate exceeded its memory limit and was reset.",
                );
            }
            Overrun::Run => world.stop(
                "budget",
                format!(
                    "{}: {event}: the run's JavaScript took more than {} steps (budget js-run-steps); the run was stopped",
                    self.state.label(),
                    budgets.js_run_steps
                ),
            ),
            Overrun::Watchdog => world.stop_by_watchdog(),
        }
    }

    /// The object and helpers, inside the engine.
    pub(crate) fn parts<'js>(&self, ctx: &Ctx<'js>) -> Option<(Object<'js>, Helpers<'js>)> {
        let object = self.object.borrow().clone()?.restore(ctx).ok()?;
        Some((object, self.helpers(ctx)?))
    }

    /// The prelude's helpers.
    pub(crate) fn helpers<'js>(&self, ctx: &Ctx<'js>) -> Option<Helpers<'js>> {
        self.helpers.borrow().clone()?.restore(ctx).ok().map(Helpers)
    }

    /// A fresh number (tasks, kept values, timers, transactions).
    pub(crate) fn fresh(&self) -> u64 {
        let n = self.next.get();
        self.next.set(n + 1);
        n
    }

    /// Keeps a JavaScript value until `take_kept`.
    pub(crate) fn keep<'js>(&self, ctx: &Ctx<'js>, v: Value<'js>) -> u64 {
        let n = self.fresh();
        self.kept.borrow_mut().insert(n, Persistent::save(ctx, v));
        n
    }

    pub(crate) fn kept<'js>(&self, ctx: &Ctx<'js>, n: u64) -> Option<Value<'js>> {
        let v = self.kept.borrow().get(&n).cloned()?;
        v.restore(ctx).ok()
    }

    pub(crate) fn take_kept<'js>(&self, ctx: &Ctx<'js>, n: u64) -> Option<Value<'js>> {
        let v = self.kept.borrow_mut().remove(&n)?;
        v.restore(ctx).ok()
    }

    /// `Math.random()`: splitmix64 over the object's seed.
    pub(crate) fn random(&self) -> f64 {
        let mut z = self.rng.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.rng.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Adds a pending host promise to the running task.
    pub(crate) fn add_pending(&self, p: Pending) {
        self.pending.borrow_mut().entry(self.current.get()).or_default().push(p);
    }
}

/// Runs every queued microtask: a turn ends only when none is left.
pub(crate) fn drain(ctx: &Ctx<'_>) {
    while !crate::budget::interrupted() && ctx.execute_pending_job() {}
}

pub(crate) struct ProgramResolver;

impl Resolver for ProgramResolver {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<rquickjs::loader::ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        Ok(resolve(base, name))
    }
}

pub(crate) struct ProgramLoader(pub(crate) Arc<JsProgram>);

impl Loader for ProgramLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<rquickjs::loader::ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, rquickjs::module::Declared>> {
        if let Some(text) = crate::builtins::module_source(name) {
            return Module::declare(ctx.clone(), name, text);
        }
        match self.0.bytecode(name) {
            // SAFETY: the bytecode was written by this same QuickJS build (JsProgram::compile).
            Some(bytes) => unsafe { Module::load(ctx.clone(), bytes) },
            None => Err(rquickjs::Error::new_loading(name)),
        }
    }
}

impl Instance {
    /// Whether the object has a method called `name`.
    pub(crate) fn has_method(&self, name: &str) -> bool {
        self.enter(self.current.get(), |ctx| {
            let Some((object, h)) = self.parts(&ctx) else { return false };
            let check: rquickjs::Result<Function> = h.0.get("hasMethod");
            check.and_then(|f| f.call((object, name))).unwrap_or(false)
        })
    }
}
