//! The lab the conformance cases run in: one object class, [`Probe`], whose requests name
//! programs that the test registers for the run (plain Rust against `State`), and whose
//! alarm handler runs the program registered under the reserved name [`ALARM`]; plus
//! helpers to read a run's report: outcomes by program name, commit times and trace
//! positions, and the notes programs and alarm handler runs left (see [`note`]).

use dosim::sim::{
    async_trait, run, AlarmInfo, Backend, DurableObject, Env, Error, FaultPlan, FaultPolicy, Namespace, Result,
    RunReport, SimConfig, SimTime, State, Stub, World,
};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Program = Rc<dyn Fn(State) -> Pin<Box<dyn Future<Output = Result<Value>>>>>;
type AlarmProgram = Rc<dyn Fn(State, AlarmInfo) -> Pin<Box<dyn Future<Output = Result<Value>>>>>;

/// An instance's in-memory state (a JavaScript object's fields): gone when the instance is.
pub type Memory = Rc<RefCell<BTreeMap<String, Value>>>;

/// The reserved program name of the alarm handler (see [`Lab::def_alarm`]).
pub const ALARM: &str = "alarm";

thread_local! {
    // Each run has a thread of its own, so programs and the stash never leak between runs.
    static PROGRAMS: RefCell<BTreeMap<String, Program>> = RefCell::new(BTreeMap::new());
    static ALARM_PROGRAM: RefCell<Option<AlarmProgram>> = const { RefCell::new(None) };
    static NOTES: RefCell<Option<Arc<Mutex<Vec<Value>>>>> = const { RefCell::new(None) };
    static STASH: RefCell<Option<State>> = const { RefCell::new(None) };
    static MEMORY: RefCell<Option<Memory>> = const { RefCell::new(None) };
}

/// The object every case talks to: a request is the name of a program to run.
pub struct Probe {
    state: State,
    memory: Memory,
}

impl Probe {
    /// Makes this instance's memory the one [`memory`] returns.
    fn enter(&self) {
        MEMORY.with(|m| *m.borrow_mut() = Some(self.memory.clone()));
    }
}

#[async_trait(?Send)]
impl DurableObject for Probe {
    type Request = String;
    type Response = Value;

    fn new(state: State, _env: Env) -> Self {
        Probe { state, memory: Memory::default() }
    }

    async fn call(&self, program: String) -> Result<Value> {
        let p = PROGRAMS.with(|p| p.borrow().get(&program).cloned());
        let p = p.unwrap_or_else(|| panic!("no program named {program:?} was registered"));
        self.enter();
        p(self.state.clone()).await
    }

    /// Runs the program registered with [`Lab::def_alarm`] and notes what it returned (or
    /// its error, as `{"error": message}`).
    async fn alarm(&self, info: AlarmInfo) -> Result<()> {
        let Some(p) = ALARM_PROGRAM.with(|p| p.borrow().clone()) else {
            return Err(Error::app("the lab has no alarm program"));
        };
        self.enter();
        let result = p(self.state.clone(), info).await;
        let entry = match &result {
            Ok(v) => v.clone(),
            Err(e) => json!({ "error": e.message }),
        };
        note(entry);
        result.map(drop)
    }
}

/// Leaves `value` in the run's notes, which [`run_lab_seen`] returns: what a program saw
/// survives the program, its instance and the run.
pub fn note(value: Value) {
    NOTES.with(|n| n.borrow().as_ref().map(|log| log.lock().expect("notes").push(value)));
}

/// The memory of the instance running the current program. Call it before the program's
/// first `await` (another instance's program may run at any await).
pub fn memory() -> Memory {
    MEMORY.with(|m| m.borrow().clone()).expect("called from a program of the lab")
}

/// Label of the object the lab's stub reaches.
pub const LABEL: &str = "PROBE:p";

/// No faults at all.
pub fn quiet(seed: u64) -> SimConfig {
    SimConfig::new(seed).faults(FaultPolicy::Off)
}

/// Exactly `plan`, whatever the seed.
pub fn with_plan(seed: u64, plan: FaultPlan) -> SimConfig {
    SimConfig::new(seed).faults(FaultPolicy::Fixed(plan))
}

/// Storage round trips take ten times longer (10–30 ms), and nothing fails: room to act
/// while a flush is in flight.
pub const SLOW: FaultPlan = FaultPlan { storage_slowdown: 10, ..FaultPlan::NONE };

/// The run's world with one namespace `PROBE` of [`Probe`] objects on one back-end.
#[derive(Clone)]
pub struct Lab {
    pub world: World,
    pub stub: Stub<Probe>,
    ns: Namespace<Probe>,
}

impl Lab {
    fn new(world: &World, backend: Backend) -> Lab {
        let ns = world.namespace_with::<Probe>("PROBE", backend);
        let stub = ns.get(&ns.id_from_name("p"));
        Lab { world: world.clone(), stub, ns }
    }

    /// A stub of another object of the namespace (labelled `PROBE:<name>`).
    pub fn stub_named(&self, name: &str) -> Stub<Probe> {
        self.ns.get(&self.ns.id_from_name(name))
    }

    /// Registers `program` under `name` for this run.
    pub fn def<F, Fut>(&self, name: &str, program: F)
    where
        F: Fn(State) -> Fut + 'static,
        Fut: Future<Output = Result<Value>> + 'static,
    {
        assert_ne!(name, ALARM, "the alarm handler is registered with def_alarm");
        let p: Program = Rc::new(move |st| Box::pin(program(st)));
        PROGRAMS.with(|m| m.borrow_mut().insert(name.to_owned(), p));
    }

    /// Registers `program` as the alarm handler (the reserved name [`ALARM`]): it gets the
    /// handler's `alarmInfo`; an error fails the attempt. Without one, `alarm()` fails.
    pub fn def_alarm<F, Fut>(&self, program: F)
    where
        F: Fn(State, AlarmInfo) -> Fut + 'static,
        Fut: Future<Output = Result<Value>> + 'static,
    {
        let p: AlarmProgram = Rc::new(move |st, info| Box::pin(program(st, info)));
        ALARM_PROGRAM.with(|m| *m.borrow_mut() = Some(p));
    }

    /// Client `client` runs `program` on the lab's object, through a new stub each time
    /// (as Cloudflare advises: a stub that saw its object reset stays broken).
    pub async fn call(&self, client: usize, program: &str) -> Result<Value> {
        let stub = self.stub_named("p");
        self.world.client(client).call(&stub, program.to_owned()).await
    }

    /// Client `client` runs `program` on `stub`.
    pub async fn call_on(&self, client: usize, stub: &Stub<Probe>, program: &str) -> Result<Value> {
        self.world.client(client).call(stub, program.to_owned()).await
    }

    /// Starts a call that client `client` sends at simulated time `at_ms`; await the result
    /// whenever convenient (the call is under way either way).
    pub fn send_at(&self, client: usize, program: &str, at_ms: u64) -> impl Future<Output = Result<Value>> {
        let (lab, program) = (self.clone(), program.to_owned());
        let task = self.world.spawn(async move {
            lab.world.sleep_until(SimTime(at_ms)).await;
            lab.call(client, &program).await
        });
        async move { task.await.expect("the call task ran to completion") }
    }

    /// Leaves `entries` in storage and nothing in memory: the entries are written and
    /// acknowledged (so durable), then the object is crashed, which empties the KV cache.
    pub async fn preload(&self, entries: &[(&str, Value)]) {
        let owned: Vec<(String, Value)> = entries.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        self.def("preload", move |st| {
            let owned = owned.clone();
            async move {
                let rows: Vec<(&str, &Value)> = owned.iter().map(|(k, v)| (k.as_str(), v)).collect();
                st.storage().put_many(&rows).await?;
                Ok(Value::Null)
            }
        });
        if self.call(99, "preload").await.is_ok() {
            self.world.crash(LABEL, "setup: empty the cache");
        }
    }

    /// Registers the program `stash`, which keeps the instance's `State` for [`stashed`].
    pub fn def_stash(&self) {
        self.def("stash", |st| async move {
            STASH.with(|s| *s.borrow_mut() = Some(st.clone()));
            Ok(Value::Null)
        });
    }

    /// Sleeps `ms` of simulated time (outside any object).
    pub async fn sleep(&self, ms: u64) {
        self.world.sleep(Duration::from_millis(ms)).await;
    }
}

/// The `State` the program `stash` kept (an instance that may be dead by now).
pub fn stashed() -> State {
    STASH.with(|s| s.borrow().clone()).expect("the program `stash` ran")
}

/// Runs `workload` in a fresh lab on `backend`.
pub fn run_lab<W, F>(config: SimConfig, backend: Backend, workload: W) -> RunReport
where
    W: FnOnce(Lab) -> F + Send + 'static,
    F: Future<Output = ()> + 'static,
{
    run_lab_seen(config, backend, workload).0
}

/// [`run_lab`], also returning the run's notes in order: what each run of the alarm
/// handler returned (`{"error": message}` for a run that failed) and what programs noted.
pub fn run_lab_seen<W, F>(config: SimConfig, backend: Backend, workload: W) -> (RunReport, Vec<Value>)
where
    W: FnOnce(Lab) -> F + Send + 'static,
    F: Future<Output = ()> + 'static,
{
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let report = run(config, move |world: World| {
        NOTES.with(|n| *n.borrow_mut() = Some(log));
        ALARM_PROGRAM.with(|p| *p.borrow_mut() = None);
        let lab = Lab::new(&world, backend);
        workload(lab)
    });
    let seen = seen.lock().expect("notes").clone();
    (report, seen)
}

/// `now()` in milliseconds.
pub fn ms(st: &State) -> u64 {
    st.now().as_millis()
}

/// Asserts the runtime checkers (and the workload's own asserts) found nothing.
pub fn clean(r: &RunReport) {
    assert!(r.violations.is_empty(), "seed {}: {:#?}\n{}", r.seed, r.violations, r.trace_text());
}

fn calls_of<'a>(r: &'a RunReport, program: &str) -> Vec<&'a dosim::sim::Op> {
    r.history.iter().filter(|o| o.request == Value::String(program.to_owned())).collect()
}

/// How the one call of `program` ended.
pub fn outcome<'a>(r: &'a RunReport, program: &str) -> std::result::Result<&'a Value, &'a Error> {
    let calls = calls_of(r, program);
    assert_eq!(calls.len(), 1, "expected one call of {program}\n{}", r.trace_text());
    match (calls[0].ok_value(), calls[0].error()) {
        (Some(v), _) => Ok(v),
        (None, Some(e)) => Err(e),
        (None, None) => panic!("{program} never completed\n{}", r.trace_text()),
    }
}

/// The value the one call of `program` returned.
pub fn value<'a>(r: &'a RunReport, program: &str) -> &'a Value {
    outcome(r, program).unwrap_or_else(|e| panic!("{program} failed: {e:?}\n{}", r.trace_text()))
}

/// The error the one call of `program` failed with.
pub fn failure<'a>(r: &'a RunReport, program: &str) -> &'a Error {
    match outcome(r, program) {
        Ok(v) => panic!("{program} succeeded with {v}, expected an error\n{}", r.trace_text()),
        Err(e) => e,
    }
}

/// The values of every call of `program`, in invoke order (`None` for a failed call).
pub fn values<'a>(r: &'a RunReport, program: &str) -> Vec<Option<&'a Value>> {
    calls_of(r, program).into_iter().map(|o| o.ok_value()).collect()
}

/// When the answer to the one call of `program` reached its client.
pub fn completed_at(r: &RunReport, program: &str) -> u64 {
    let calls = calls_of(r, program);
    assert_eq!(calls.len(), 1, "expected one call of {program}");
    calls[0].completed_at.expect("completed").as_millis()
}

/// The lab object's trace line committing batch `n`, if any.
pub fn commit_line(r: &RunReport, n: u64) -> Option<String> {
    let prefix = format!("commit batch #{n} (");
    r.trace.iter().find(|l| l.actor == LABEL && l.what.starts_with(&prefix)).map(|l| l.what.clone())
}

/// When batch `n` of the lab object was committed.
pub fn commit_at(r: &RunReport, n: u64) -> u64 {
    let prefix = format!("commit batch #{n} (");
    r.trace
        .iter()
        .find(|l| l.actor == LABEL && l.what.starts_with(&prefix))
        .unwrap_or_else(|| panic!("batch #{n} was never committed\n{}", r.trace_text()))
        .at
        .as_millis()
}

/// Position of the first trace line containing `needle`.
pub fn line_index(r: &RunReport, needle: &str) -> Option<usize> {
    r.trace.iter().position(|l| l.what.contains(needle))
}

/// Time of the first trace line containing `needle`.
pub fn line_at(r: &RunReport, needle: &str) -> Option<u64> {
    r.trace.iter().find(|l| l.what.contains(needle)).map(|l| l.at.as_millis())
}

/// The committed KV state of the lab object.
pub fn durable(r: &RunReport) -> Value {
    serde_json::to_value(r.durable.get(LABEL).cloned().unwrap_or_default()).expect("JSON")
}

/// A JSON number from a program's result.
pub fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("expected a number, got {v}"))
}
