//! One run from seed to report: a fresh OS thread (std's `HashMap` seeds are per thread,
//! so only a fresh thread repeats them) or one of dosim's run hosts (`run_host`), a fresh
//! madsim runtime seeded with the run seed,
//! the workload, the chaos task that injects the plan's timed crashes, a settling phase,
//! and the final checks. Deadlocks and time-outs become findings, not hangs.

use crate::config::SimConfig;
use crate::report::{RunReport, Violation};
use crate::strand::panic_text;
use crate::time::SimTime;
use crate::trace::trace_hash;
use crate::world::World;
use std::cell::RefCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Once};
use std::time::Duration;

pub use crate::run_host::{on_fresh_threads, on_host, spawn_host, RunThreads, RUN_THREAD_STACK};
use crate::run_host::{Watched, RUN_THREAD};

/// [`run`] for a workload that can be made again: on a run host (see `run_host`) it
/// executes on the host's own thread; if dosim itself fails there, the run is made again
/// on a fresh thread and the host hosts no more.
pub fn run_repeatable<W, F>(config: SimConfig, workload: W) -> RunReport
where
    W: FnOnce(World) -> F + Clone + Send + 'static,
    F: Future<Output = ()> + 'static,
{
    if !crate::run_host::hosting() {
        return run(config, workload);
    }
    quiet_panics_on_run_threads();
    crate::storage::sqlite::prime_process();
    crate::strand::clear_thread_state();
    let watchdog = Duration::from_secs(config.budgets.watchdog_secs);
    let stop = Arc::new(AtomicBool::new(false));
    let watched = Watched::start(watchdog, stop.clone());
    let ran = catch_unwind(AssertUnwindSafe(|| run_on_this_thread(config.clone(), workload.clone(), stop.clone())));
    drop(watched);
    let mut report = match ran {
        Ok(report) => report,
        Err(_) => {
            // dosim itself failed on this thread: its thread-local state is not trusted
            // any more, and a fresh thread gives the run (and its report) a second go.
            crate::run_host::retire_host();
            return run(config, workload);
        }
    };
    if report.violations.iter().any(|v| v.checker == "harness") {
        crate::run_host::retire_host();
    } else if stop.load(Ordering::Relaxed) {
        report.violations.push(watchdog_violation(watchdog, "it was stopped"));
    }
    report
}

/// Runs `workload` under `config` and reports what happened.
pub fn run<W, F>(config: SimConfig, workload: W) -> RunReport
where
    W: FnOnce(World) -> F + Send + 'static,
    F: Future<Output = ()> + 'static,
{
    quiet_panics_on_run_threads();
    crate::storage::sqlite::prime_process();
    let seed = config.seed;
    let plan = config.faults.plan(seed);
    let watchdog = Duration::from_secs(config.budgets.watchdog_secs);
    let abandon = Arc::new(AtomicBool::new(false));
    let flag = abandon.clone();
    let (done, finished) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(RUN_THREAD.into())
        .stack_size(RUN_THREAD_STACK)
        .spawn(move || {
            let _ = done.send(run_on_this_thread(config, workload, flag));
        })
        .map_err(|e| format!("could not start a run thread: {e}"));
    let handle = match spawned {
        Ok(h) => h,
        Err(msg) => return harness_report(seed, plan, msg),
    };
    let outcome = if watchdog.is_zero() {
        finished.recv().map_err(|_| ())
    } else {
        match finished.recv_timeout(watchdog) {
            Ok(report) => Ok(report),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // The last resort: ask the run to stop (engines and strands poll the flag),
                // and give it a while to wind down with its report.
                abandon.store(true, Ordering::Relaxed);
                match finished.recv_timeout(WATCHDOG_GRACE) {
                    Ok(mut report) => {
                        if !report.violations.iter().any(|v| v.checker == "harness") {
                            report.violations.push(watchdog_violation(watchdog, "it was stopped"));
                        }
                        Ok(report)
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        // Object code that never yields (a Rust loop) cannot be stopped: its
                        // thread is left behind, and the rest of the fuzz run goes on.
                        drop(handle);
                        let mut r = harness_report(seed, plan, String::new());
                        r.violations = vec![watchdog_violation(
                            watchdog,
                            "it could not be stopped (object code that never yields?), and its thread was abandoned",
                        )];
                        return r;
                    }
                }
            }
        }
    };
    match outcome {
        Ok(report) => {
            let _ = handle.join();
            report
        }
        Err(()) => {
            let msg = match handle.join() {
                Err(p) => panic_text(p.as_ref()),
                Ok(()) => "the run thread ended without a report".into(),
            };
            harness_report(seed, plan, format!("dosim itself failed: {msg}"))
        }
    }
}

/// How long a run the watchdog asked to stop may take to wind down.
const WATCHDOG_GRACE: Duration = Duration::from_secs(10);

fn watchdog_violation(limit: Duration, what: &str) -> Violation {
    Violation {
        checker: "harness".into(),
        message: format!(
            "the run did not end within {} s of wall-clock time and {what} (watchdog; the verdict is not reproducible)",
            limit.as_secs()
        ),
        at: SimTime(0),
    }
}

/// A report for a run that left none: only a `harness` finding.
fn harness_report(seed: u64, plan: crate::faults::FaultPlan, msg: String) -> RunReport {
    let mut r = RunReport {
        seed,
        faults: plan,
        history: Vec::new(),
        trace: Vec::new(),
        trace_hash: String::new(),
        violations: Vec::new(),
        durable: Default::default(),
        tables: Default::default(),
        alarms_set: Default::default(),
        stats: Default::default(),
        alarms: Vec::new(),
        sim_time: SimTime(0),
        exchanges: Vec::new(),
        outgoing: Vec::new(),
    };
    if !msg.is_empty() {
        r.violations.push(Violation { checker: "harness".into(), message: msg, at: SimTime(0) });
    }
    r
}

fn run_on_this_thread<W, F>(config: SimConfig, workload: W, abandon: Arc<AtomicBool>) -> RunReport
where
    W: FnOnce(World) -> F,
    F: Future<Output = ()> + 'static,
{
    let limit = Duration::from_millis(config.time_limit_ms);
    let mut rt = madsim::runtime::Runtime::with_seed_and_config(config.seed, madsim::Config::default());
    rt.set_time_limit(limit);
    let slot: Rc<RefCell<Option<World>>> = Rc::default();
    let keep = slot.clone();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async move {
            let world = World::new(config, abandon);
            *keep.borrow_mut() = Some(world.clone());
            world.trace("world", format!("seed {} faults: {}", world.seed(), world.fault_plan()));
            if let Some(pct) = world.pct_description() {
                world.trace("world", pct);
            }
            spawn_chaos(&world);
            let main = async {
                workload(world.clone()).await;
                hold_chaos(&world).await;
                settle(&world).await;
            };
            // A budget (or the watchdog) may stop the run: it then ends with what it has.
            first_of(main, world.until_stopped()).await;
        })
    }));
    let world = slot.borrow_mut().take().expect("the world is created first thing in the run");
    if let Err(payload) = outcome {
        let msg = panic_text(payload.as_ref());
        if msg.contains("no events, all tasks will block forever") {
            world.violation("liveness", "deadlock: every task is blocked and no timer is pending");
        } else if msg.contains("time limit exceeded") {
            world.violation(
                "liveness",
                format!("the run did not finish within {} ms of simulated time", limit.as_millis()),
            );
        } else {
            world.violation("harness", format!("the workload or dosim panicked: {msg}"));
        }
    }
    let report = finish(&world);
    world.teardown();
    // Cancel what is still pending and let the runtime poll it once more, so every task
    // drops its future before the runtime goes (madsim would keep unfinished tasks, and all
    // they hold, alive forever). Nothing of the run executes: each task only ends.
    if world.cancel_tasks() > 0 {
        let _ = catch_unwind(AssertUnwindSafe(|| rt.block_on(async {})));
    }
    drop(world);
    drop(rt);
    report
}

/// Waits for whichever of `a` and `b` finishes first.
async fn first_of(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    std::future::poll_fn(move |cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// Crashes drawn by the fault plan, at drawn times inside the chaos window.
fn spawn_chaos(world: &World) {
    let mut times: Vec<u64> = match &world.config().crash_times {
        Some(fixed) => fixed.clone(),
        None => {
            // Spread over the whole horizon when the plan has one.
            let window = world.config().chaos_window_ms.max(world.fault_plan().horizon_ms);
            (0..world.fault_plan().timed_crashes).map(|_| world.decide().between(1, window)).collect()
        }
    };
    if times.is_empty() {
        return;
    }
    times.sort_unstable();
    let w = world.clone();
    world.spawn(async move {
        for t in times {
            w.sleep_until(SimTime(t)).await;
            let objects = w.objects();
            if objects.is_empty() {
                continue;
            }
            let pick = w.decide().index(objects.len());
            w.crash(&objects[pick], "injected: timed crash");
        }
    });
}

/// After the workload: the chaos phase goes on until the plan's horizon and every outage
/// are over (the clock jumps; alarms and timers run meanwhile, under the plan's faults).
/// The hold ends early once this many alarm attempts ran in it: a horizon is for alarms set
/// far ahead, and a periodic alarm has shown its faults by then (an hour of a 1 s alarm
/// would cost thousands of attempts per run).
const HOLD_ALARM_ATTEMPTS: usize = 48;

/// How often the hold looks at the alarm attempts (simulated ms).
const HOLD_STEP_MS: u64 = 60_000;

async fn hold_chaos(world: &World) {
    let until = world.chaos_until();
    if world.calm_since().is_some() || world.now().as_millis() >= until {
        return;
    }
    world.trace("world", format!("workload done; faults go on until {until}ms (the plan's horizon)"));
    let before = world.0.alarms.borrow().len();
    while world.now().as_millis() < until {
        if world.0.alarms.borrow().len() - before >= HOLD_ALARM_ATTEMPTS {
            world.trace("world", format!("horizon cut short: {HOLD_ALARM_ATTEMPTS} alarm attempts ran in it"));
            return;
        }
        let next = (world.now().as_millis() + HOLD_STEP_MS).min(until);
        world.sleep_until(SimTime(next)).await;
    }
}

/// The liveness phase: once the workload is done, faults stop and the run must settle
/// within the budget: every batch committed, every strand finished, every alarm due by
/// then run to success or abandoned. Work still in progress at that deadline (an attempt
/// of a periodic alarm that began just before it and awaits a call) is not yet a finding:
/// it gets as long again to finish, and only what was unfinished at the deadline and is
/// still unfinished then is one. What starts after the deadline is not judged, so a
/// healthy periodic alarm settles, and an attempt that never ends does not.
async fn settle(world: &World) {
    world.calm();
    let budget = world.config().liveness_budget_ms;
    let deadline = world.now().as_millis() + budget;
    loop {
        let objects = world.0.objects.borrow().clone();
        let busy = objects.iter().any(|o| o.has_open_batch());
        let working = objects.iter().any(|o| o.has_live_strands());
        // A periodic alarm is always owed; once it ran to success in this phase (and no
        // attempt or retry of it is under way) the object has shown it settles.
        let owed = objects.iter().any(|o| crate::alarm::owes(o, deadline).is_some() && !settled_alarm(world, o));
        if !busy && !working && !owed {
            return;
        }
        let now = world.now().as_millis();
        if now >= deadline {
            break;
        }
        // Wake at the next alarm time or in a second, whichever is sooner.
        let next = objects.iter().filter_map(|o| o.alarm.borrow().persisted).filter(|t| *t > now).min();
        let step = match (busy, working) {
            (true, _) => 1,
            (false, true) => next.map_or(100, |t| (t - now).clamp(1, 100)),
            (false, false) => next.map_or(1000, |t| (t - now).clamp(1, 1000)),
        };
        world.sleep(Duration::from_millis(step.min(deadline - now))).await;
    }
    let unfinished: Vec<Unfinished> =
        world.0.objects.borrow().iter().filter_map(|o| Unfinished::at(o, deadline)).collect();
    let grace_end = deadline + budget;
    loop {
        let now = world.now().as_millis();
        let left: Vec<&Unfinished> = unfinished.iter().filter(|u| !u.done()).collect();
        if left.is_empty() {
            return;
        }
        if now >= grace_end {
            let after = format!("{budget} ms after the workload ended and {budget} ms more");
            if left.iter().any(|u| u.batch.is_some_and(|b| !u.committed(b))) {
                world.violation("liveness", format!("batches still uncommitted {after}"));
            }
            for u in left.iter().filter(|u| u.strands.iter().any(|s| u.core.is_live(*s))) {
                world.violation("liveness", format!("{}: work still running {after}", u.core.label));
            }
            for u in &left {
                let Some(t) = u.alarm.filter(|t| crate::alarm::still_owes(&u.core, *t)) else { continue };
                let running =
                    if u.core.alarm.borrow().running == Some(t) { " (an attempt is still running)" } else { "" };
                world.violation(
                    "alarms",
                    format!(
                        "{}: the alarm set for {t}ms neither ran to success nor was abandoned {after}{running}",
                        u.core.label
                    ),
                );
            }
            return;
        }
        let busy = left.iter().any(|u| u.batch.is_some_and(|b| !u.committed(b)));
        let step: u64 = if busy { 1 } else { 100 };
        world.sleep(Duration::from_millis(step.min(grace_end - now))).await;
    }
}

/// Successful alarm runs in the liveness phase after which an alarm that keeps re-arming
/// counts as periodic (settled). One is not enough: a chain of alarms that works through
/// a finite list (the next reminder, the next job) also re-arms after each run, and
/// ending the run early would leave its last links unrun.
const PERIODIC_PROOF: usize = 48;

/// Whether `core`'s alarm ran to success [`PERIODIC_PROOF`] times since the liveness phase
/// began, and nothing of it runs or waits for a retry now.
fn settled_alarm(world: &World, core: &crate::host::ObjectCore) -> bool {
    if crate::alarm::busy(core) {
        return false;
    }
    let since = world.calm_since().unwrap_or(0);
    let runs = world.0.alarms.borrow();
    runs.iter().filter(|a| a.object == core.label && a.at.as_millis() >= since && a.outcome == "ok").count()
        >= PERIODIC_PROOF
}

/// What one object had not finished at the liveness deadline.
struct Unfinished {
    core: Rc<crate::host::ObjectCore>,
    /// Strands in flight then.
    strands: Vec<crate::gate::StrandId>,
    /// The newest batch written or open then, if it was not yet durable.
    batch: Option<u64>,
    /// The alarm owed then (running, or due and not yet run to success nor abandoned).
    alarm: Option<u64>,
}

impl Unfinished {
    fn at(core: &Rc<crate::host::ObjectCore>, deadline: u64) -> Option<Unfinished> {
        let u = Unfinished {
            core: core.clone(),
            strands: core.live_strands(),
            batch: core.pending_batch(),
            alarm: crate::alarm::owes(core, deadline),
        };
        (!u.strands.is_empty() || u.batch.is_some() || u.alarm.is_some()).then_some(u)
    }

    /// Whether batch `b` (and every batch before it) is durable, or nothing is left open.
    fn committed(&self, b: u64) -> bool {
        !self.core.has_open_batch() || self.core.output.borrow().durable >= b
    }

    /// Whether all of it has finished (work begun since is not this one's to wait for).
    fn done(&self) -> bool {
        self.strands.iter().all(|s| !self.core.is_live(*s))
            && self.batch.is_none_or(|b| self.committed(b))
            && self.alarm.is_none_or(|t| !crate::alarm::still_owes(&self.core, t))
    }
}

fn finish(world: &World) -> RunReport {
    let objects = world.0.objects.borrow().clone();
    for o in &objects {
        o.check_coalescing("at the end of the run");
    }
    let durable = objects.iter().map(|o| (o.label.clone(), o.durable_kv())).collect();
    let tables = objects.iter().map(|o| (o.label.clone(), o.durable_tables())).filter(|(_, t)| !t.is_empty()).collect();
    let alarms_set = objects.iter().filter_map(|o| o.persisted_alarm().map(|t| (o.label.clone(), t))).collect();
    let mut trace = std::mem::take(&mut *world.0.trace.borrow_mut());
    let trace_hash = match world.trace_overflow() {
        Some((hash, dropped)) => {
            let at = trace.last().map_or(SimTime(0), |l| l.at);
            let what = format!("trace cut: {dropped} more lines not kept (budget trace-lines; trace_hash covers them)");
            trace.push(crate::trace::TraceLine { at, actor: "world".into(), what });
            hash
        }
        None => trace_hash(&trace),
    };
    RunReport {
        seed: world.seed(),
        faults: world.0.plan,
        history: std::mem::take(&mut *world.0.history.borrow_mut()),
        trace,
        trace_hash,
        violations: std::mem::take(&mut *world.0.violations.borrow_mut()),
        durable,
        tables,
        alarms_set,
        stats: world.stats().clone(),
        alarms: std::mem::take(&mut *world.0.alarms.borrow_mut()),
        sim_time: world.now(),
        exchanges: world.exchanges(),
        outgoing: std::mem::take(&mut *world.0.outgoing.borrow_mut()),
    }
}

/// Panics inside runs are findings, caught and reported; keep the default hook from
/// printing them a second time. Panics anywhere else print as usual.
fn quiet_panics_on_run_threads() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(RUN_THREAD) {
                default(info);
            }
        }));
    });
}
