//! One instance of a JavaScript class: the object its constructor built inside the
//! script's shared isolate, and the host's tables of what this object's JavaScript holds
//! (pending promises, kept values, timers, transactions). Dropping it is the object's
//! reset: its handles go, the isolate and its module state stay.

use crate::budget::Overrun;
use crate::convert::{exception_text, Helpers};
use crate::isolate::{isolate_for, restart, Isolate};
use crate::source::{resolve, JsProgram};
use crate::task::{Pending, TaskKey};
use dosim_sim::{Env, Error, State};
use rquickjs::loader::{Loader, Resolver};
use rquickjs::{Ctx, Function, Module, Object, Persistent, Value};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;

/// `Date` in UTC on the simulated clock, set up before the prelude (see the file).
pub(crate) const DATE_SCRIPT: &str = include_str!("platform/date.js");

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
    pub(crate) state: State,
    pub(crate) env: Env,
    pub(crate) me: Weak<Instance>,
    /// The script's isolate (its engine, module state and budgets), shared.
    pub(crate) isolate: Rc<Isolate>,
}

/// Instances alive in this process (every run's): a crash or the end of a run must bring
/// an object's count back down, or engines are leaking.
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many JavaScript instances are alive in this process.
pub fn live_instances() -> usize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

impl Drop for Instance {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        // Taken out first: dropping a pending future may touch these tables again.
        drop(std::mem::take(&mut *self.pending.borrow_mut()));
        drop(std::mem::take(&mut *self.kept.borrow_mut()));
        self.object.borrow_mut().take();
        self.txns.borrow_mut().clear();
    }
}

impl Instance {
    /// A fresh instance of `class` for `state` in the script's isolate (built now if the
    /// run has none): the constructor runs (its error kept, not raised).
    pub(crate) fn start(state: State, env: Env, class: &JsClass) -> Rc<Instance> {
        let seed = state.entropy_seed();
        let isolate = isolate_for(state.world(), class);
        LIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let inst = Rc::new_cyclic(|me| Instance {
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
            state,
            env,
            me: me.clone(),
            isolate,
        });
        inst.isolate.adopt(inst.me.clone());
        if let Err(e) = inst.construct(class) {
            inst.state.log(&format!("constructor threw: {}", e.message));
            *inst.constructor_error.borrow_mut() = Some(e);
        }
        crate::task::JsTask::continue_constructor(&inst);
        inst
    }

    fn construct(&self, class: &JsClass) -> Result<(), Error> {
        self.enter(0, |ctx| {
            let fail = |e: rquickjs::Error| Error::app(class.program.map_frames(&exception_text(&ctx, e)));
            let namespace = self.isolate.namespace(&ctx)?;
            let Some(helpers) = self.isolate.helpers(&ctx) else {
                return Err(Error::app("the isolate has no prelude"));
            };
            let constructor: Value = namespace.get(class.class.as_str()).map_err(fail)?;
            // A plain object with handlers (a Worker's `export default { fetch }`, as a
            // responder on the simulated network is written) is the object as it is.
            if let Some(handlers) = constructor.as_object().filter(|_| !constructor.is_function()) {
                *self.object.borrow_mut() = Some(Persistent::save(&ctx, handlers.clone()));
                return Ok(());
            }
            let Some(constructor) = constructor.as_constructor().cloned() else {
                return Err(Error::app(format!("{} exports no class named {}", class.program.root(), class.class)));
            };
            let h = Helpers(helpers.clone());
            let make_ctx: Function = helpers.get("makeCtx").map_err(fail)?;
            let state: Value = make_ctx.call(()).map_err(fail)?;
            let env = self.isolate.env(&ctx, &class.vars).map_err(fail)?;
            let object: Result<Object, _> = constructor.construct((state, env));
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

    /// Runs `f` inside the isolate as part of task `task`: host promises created meanwhile
    /// belong to it, and host functions act for this instance.
    pub(crate) fn enter<R>(&self, task: TaskKey, f: impl FnOnce(Ctx<'_>) -> R) -> R {
        let previous = self.current.replace(task);
        let out = self.isolate.with(self.me.clone(), f);
        self.current.set(previous);
        if let Some(over) = self.isolate.meter.take_overrun() {
            self.overran(over, task);
        }
        out
    }

    /// A budget ran out while task `task` ran: a finding, the object is reset and its
    /// isolate condemned (every object of the script resets, as workerd restarts an isolate
    /// over its limits); for the run's own budgets, the run stops.
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
                restart(world, &self.isolate, "isolate over budget js-turn-steps");
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
                restart(world, &self.isolate, "isolate over budget js-memory");
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
        self.isolate.helpers(ctx).map(Helpers)
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
