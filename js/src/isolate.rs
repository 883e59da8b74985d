//! One isolate per Worker script per run, as workerd runs them: a QuickJS runtime and
//! context with the prelude and the script's modules evaluated once, shared by every
//! instance of every class of that script. Module state lives here; instances come and go.
//! Owns the isolate-restart fault: drawn from its own stream, it drops the isolate and
//! resets every instance of the script.

use crate::budget::{metered_runtime, Meter, RunSteps};
use crate::convert::exception_text;
use crate::instance::{drain, Instance, JsClass, JsClasses, ProgramLoader, ProgramResolver, DATE_SCRIPT};
use crate::source::JsProgram;
use dosim_sim::faults::Decisions;
use dosim_sim::{Error, World};
use rquickjs::{Context, Ctx, Function, Module, Object, Persistent, Runtime, Value};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::{Arc, OnceLock};

const PRELUDE: &str = include_str!("prelude.js");
/// Platform scripts the prelude calls into, compiled into the same module (see each file).
const PRELUDE_PARTS: [&str; 2] = [include_str!("platform/outbound.js"), include_str!("platform/websocket.js")];
/// The prelude's module name (it exports the installer as `default`).
const PRELUDE_MODULE: &str = "dosim:prelude";

/// Bytes of stack JavaScript may use, measured from where each entry starts: run threads
/// have Rust's default 2 MiB, and the simulator's own frames sit above.
const JS_STACK: usize = 512 * 1024;

/// The isolate-restart fault's decision stream (separate, so that switching it on leaves
/// every other draw of a seed as it was).
const ISOLATE_STREAM: u64 = 0x1503_1a7e;

/// A built-in module as bytecode, compiled once per process: parsing JavaScript per
/// isolate (so per run) is QuickJS's parser and compiler on every run.
fn compiled(cell: &'static OnceLock<Vec<u8>>, name: &str, text: impl FnOnce() -> String) -> &'static [u8] {
    cell.get_or_init(|| {
        let compiled = Runtime::new().and_then(|rt| {
            let cx = Context::full(&rt)?;
            Ok(cx.with(|ctx| {
                Module::declare(ctx.clone(), name, text())
                    .and_then(|m| m.write(rquickjs::module::WriteOptions::default()))
                    .map_err(|e| exception_text(&ctx, e))
            }))
        });
        match compiled {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(text)) => panic!("dosim's built-in module {name} does not compile: {text}"),
            Err(e) => panic!("dosim could not start a JavaScript engine: {e}"),
        }
    })
}

/// The prelude (its installer as `default`).
fn prelude_bytecode() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    compiled(&BYTES, PRELUDE_MODULE, || format!("{}\nexport default {PRELUDE}", PRELUDE_PARTS.concat()))
}

/// `Date` on the simulated clock (it defines `__dosimInstallDate`), as a module.
fn date_bytecode() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    compiled(&BYTES, "dosim:date", || DATE_SCRIPT.to_owned())
}

/// Evaluates bytecode of [`compiled`].
fn evaluate<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> rquickjs::Result<Module<'js, rquickjs::module::Evaluated>> {
    // SAFETY: bytecode written by this QuickJS build (`compiled`).
    let (module, promise) = unsafe { Module::load(ctx.clone(), bytes) }?.eval()?;
    drop(promise);
    Ok(module)
}

/// Isolates alive in this process (every run's).
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many JavaScript isolates (engines) are alive in this process.
pub fn live_isolates() -> usize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

/// One Worker script's engine in one run.
pub(crate) struct Isolate {
    /// The prelude's helpers.
    helpers: RefCell<Option<Persistent<Object<'static>>>>,
    /// The script's root module, evaluated once.
    namespace: RefCell<Option<Persistent<Object<'static>>>>,
    /// `env` as the script's first class sees it (and `cloudflare:workers` exports it).
    env: RefCell<Option<Persistent<Value<'static>>>>,
    env_vars: serde_json::Map<String, serde_json::Value>,
    /// Why the script could not load: every instance's constructor fails with it.
    load_error: RefCell<Option<Error>>,
    /// The instances whose code is running, innermost last: host functions act for it.
    running: RefCell<Vec<Weak<Instance>>>,
    /// Every instance started in this isolate (a restart resets those still alive).
    instances: RefCell<Vec<Weak<Instance>>>,
    /// The isolate was dropped from the run (restarted or over a budget).
    condemned: Cell<bool>,
    pub(crate) meter: Rc<Meter>,
    pub(crate) program: Arc<JsProgram>,
    context: Context,
    /// The engine itself, dropped last (the context and every handle go first).
    _runtime: Runtime,
}

impl Drop for Isolate {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        // Handles before the engine: QuickJS aborts if a value outlives its runtime.
        self.helpers.borrow_mut().take();
        self.namespace.borrow_mut().take();
        self.env.borrow_mut().take();
    }
}

/// The run's isolates, in the order they were built (one per program), and the restart
/// fault's stream (a world extension).
pub(crate) struct Isolates {
    live: RefCell<Vec<Rc<Isolate>>>,
    decisions: RefCell<Decisions>,
    /// Chance (per mille) that an isolate restarts as an event of one of its objects
    /// begins; 0 when the seed's plan is quiet.
    rate: u32,
    /// Whether the draw at the liveness boundary was made.
    boundary_drawn: Cell<bool>,
}

impl Isolates {
    fn of(world: &World) -> Rc<Isolates> {
        world.extension::<Isolates>().unwrap_or_else(|| {
            let config = world.config();
            let mut decisions = Decisions::new(config.seed, ISOLATE_STREAM);
            // Swarm style, as the other faults: on for about half the seeds whose plan
            // injects anything, off when faults are off.
            let rate = if config.faults.plan(config.seed).is_quiet() || !decisions.chance(500) {
                0
            } else {
                [5, 20, 50][decisions.index(3)]
            };
            let isolates = Rc::new(Isolates {
                live: RefCell::default(),
                decisions: RefCell::new(decisions),
                rate,
                boundary_drawn: Cell::new(false),
            });
            world.set_extension(isolates.clone());
            if rate > 0 {
                world.trace("world", format!("isolate restarts: {rate}‰ per event"));
            }
            isolates
        })
    }

    fn find(&self, program: &Arc<JsProgram>) -> Option<Rc<Isolate>> {
        self.live.borrow().iter().find(|i| Arc::ptr_eq(&i.program, program)).cloned()
    }
}

/// The isolate running `class`'s script in this run, built now if there is none.
pub(crate) fn isolate_for(world: &World, class: &JsClass) -> Rc<Isolate> {
    let isolates = Isolates::of(world);
    if let Some(i) = isolates.find(&class.program) {
        return i;
    }
    let isolate = Isolate::build(world, class);
    isolates.live.borrow_mut().push(isolate.clone());
    isolate
}

/// Draws whether the isolate of `inst` restarts as one of its events begins; if so it
/// restarts (and `inst` is reset with the others). Only while the run's faults are on.
pub(crate) fn maybe_restart(inst: &Instance) -> bool {
    let world = inst.state.world();
    let isolates = Isolates::of(world);
    if isolates.rate == 0 {
        return false;
    }
    let mut decisions = isolates.decisions.borrow_mut();
    let reason = if world.fault_plan().is_quiet() {
        // The liveness phase: no more faults, but the first event after the boundary
        // may still meet a restart (half the time), as a machine may go at any moment.
        if isolates.boundary_drawn.replace(true) || !decisions.chance(500) {
            return false;
        }
        "isolate restart at the liveness boundary"
    } else if decisions.chance(isolates.rate) {
        "isolate restart"
    } else {
        return false;
    };
    drop(decisions);
    restart(world, &inst.isolate, reason);
    true
}

/// Drops `isolate` from the run: every instance of its script resets as in a crash,
/// module state is gone, and the next event builds a fresh isolate.
pub(crate) fn restart(world: &World, isolate: &Rc<Isolate>, reason: &str) {
    if isolate.condemned.replace(true) {
        return;
    }
    let isolates = Isolates::of(world);
    isolates.live.borrow_mut().retain(|i| !Rc::ptr_eq(i, isolate));
    world.trace("world", format!("{reason}: the isolate of {} is dropped", isolate.program.root()));
    let instances: Vec<Rc<Instance>> = isolate.instances.borrow().iter().filter_map(Weak::upgrade).collect();
    for inst in instances {
        inst.state.crash(reason);
    }
}

impl Isolate {
    fn build(world: &World, class: &JsClass) -> Rc<Isolate> {
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
        runtime.set_loader(ProgramResolver, ProgramLoader(class.program.clone()));
        LIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Responders on the simulated network are no bindings of `env`.
        let bindings: Vec<String> = world
            .extension::<JsClasses>()
            .map(|c| c.0.borrow().keys().filter(|b| !b.starts_with(crate::net::RESPONDER_BINDING)).cloned().collect())
            .unwrap_or_default();
        let isolate = Rc::new(Isolate {
            helpers: RefCell::new(None),
            namespace: RefCell::new(None),
            env: RefCell::new(None),
            env_vars: class.vars.clone(),
            load_error: RefCell::new(None),
            running: RefCell::default(),
            instances: RefCell::default(),
            condemned: Cell::new(false),
            meter,
            program: class.program.clone(),
            context,
            _runtime: runtime,
        });
        let compat_states = world.config().compatibility.states();
        let installed = isolate.context.with(|ctx| isolate.install(&ctx, &bindings, &compat_states));
        if let Err(e) = installed {
            *isolate.load_error.borrow_mut() = Some(e);
        }
        isolate
    }

    /// The date script and the prelude, evaluated once; `env` from the first class's vars.
    fn install(
        self: &Rc<Isolate>,
        ctx: &Ctx<'_>,
        bindings: &[String],
        compat_states: &[(&'static str, bool)],
    ) -> Result<(), Error> {
        let fail = |e: rquickjs::Error| Error::app(exception_text(ctx, e));
        evaluate(ctx, date_bytecode()).map_err(fail)?;
        let module = evaluate(ctx, prelude_bytecode()).map_err(fail)?;
        drain(ctx);
        let prelude: Function = module.get("default").map_err(fail)?;
        let host = crate::host::install(ctx, Rc::downgrade(self), bindings, compat_states).map_err(fail)?;
        let helpers: Object = prelude.call((host,)).map_err(fail)?;
        // The web platform's globals; `node:async_hooks` follows the running object's task.
        let me = Rc::downgrade(self);
        crate::builtins::install_globals(ctx, move || {
            me.upgrade().and_then(|isolate| isolate.current()).map_or(0, |inst| inst.current.get())
        })
        .map_err(fail)?;
        let make_env: Function = helpers.get("makeEnv").map_err(fail)?;
        let vars = serde_json::Value::Object(self.env_vars.clone()).to_string();
        let env: Value = make_env.call((vars,)).map_err(fail)?;
        let workers: Object = helpers.get("workers").map_err(fail)?;
        workers.set("env", env.clone()).map_err(fail)?;
        ctx.globals().set("__dosimWorkers", workers).map_err(fail)?;
        *self.helpers.borrow_mut() = Some(Persistent::save(ctx, helpers));
        *self.env.borrow_mut() = Some(Persistent::save(ctx, env));
        Ok(())
    }

    /// The script's root module namespace: evaluated at the first use (inside the first
    /// instance's constructor, so its top-level code runs on that object's behalf).
    pub(crate) fn namespace<'js>(&self, ctx: &Ctx<'js>) -> Result<Object<'js>, Error> {
        if let Some(e) = self.load_error.borrow().clone() {
            return Err(e);
        }
        if let Some(ns) = self.namespace.borrow().clone() {
            return ns.restore(ctx).map_err(|e| Error::app(e.to_string()));
        }
        let fail = |e: rquickjs::Error| Error::app(self.program.map_frames(&exception_text(ctx, e)));
        let namespace = match Module::import(ctx, self.program.root()) {
            Err(e) => Err(fail(e)),
            Ok(loaded) => {
                drain(ctx);
                match loaded.result::<Object>() {
                    Some(Ok(ns)) => Ok(ns),
                    Some(Err(e)) => Err(fail(e)),
                    None => Err(Error::app("the module did not finish loading (top-level await?)")),
                }
            }
        };
        // A script that failed to load stays broken in this isolate.
        match namespace {
            Ok(ns) => {
                *self.namespace.borrow_mut() = Some(Persistent::save(ctx, ns.clone()));
                Ok(ns)
            }
            Err(e) => {
                *self.load_error.borrow_mut() = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The prelude's helpers.
    pub(crate) fn helpers<'js>(&self, ctx: &Ctx<'js>) -> Option<Object<'js>> {
        self.helpers.borrow().clone()?.restore(ctx).ok()
    }

    /// `env` for a class with `vars`: the isolate's own, or one of its own if they differ.
    pub(crate) fn env<'js>(
        &self,
        ctx: &Ctx<'js>,
        vars: &serde_json::Map<String, serde_json::Value>,
    ) -> rquickjs::Result<Value<'js>> {
        if *vars == self.env_vars {
            if let Some(env) = self.env.borrow().clone() {
                return env.restore(ctx);
            }
        }
        let helpers = self.helpers(ctx).ok_or(rquickjs::Error::Unknown)?;
        let make_env: Function = helpers.get("makeEnv")?;
        make_env.call((serde_json::Value::Object(vars.clone()).to_string(),))
    }

    /// Adds an instance (a restart resets it).
    pub(crate) fn adopt(&self, inst: Weak<Instance>) {
        let mut all = self.instances.borrow_mut();
        all.retain(|w| w.strong_count() > 0);
        all.push(inst);
    }

    /// Runs `f` in the engine on behalf of `inst`: host functions act for it meanwhile.
    pub(crate) fn with<R>(&self, inst: Weak<Instance>, f: impl FnOnce(Ctx<'_>) -> R) -> R {
        self.running.borrow_mut().push(inst);
        self.meter.new_turn();
        let out = self.context.with(f);
        self.running.borrow_mut().pop();
        out
    }

    /// The instance whose code is running.
    pub(crate) fn current(&self) -> Option<Rc<Instance>> {
        self.running.borrow().last().and_then(Weak::upgrade)
    }
}

/// Restarts every isolate of the run now (as the isolate-restart fault does): each
/// JavaScript object resets as in a crash, and module state is gone.
pub fn restart_isolates(world: &World) {
    let isolates = Isolates::of(world);
    let all: Vec<Rc<Isolate>> = isolates.live.borrow().clone();
    for isolate in all {
        restart(world, &isolate, "isolate restart");
    }
}
