//! The world of one run: the simulated clock, the harness's decision stream, the fault
//! plan, every object host, the history and the trace. Shared by everything in the run
//! through a cheap `Rc` handle; a run lives on one thread, so nothing here is `Send`.

use crate::config::SimConfig;
use crate::faults::{Decisions, FaultPlan};
use crate::host::ObjectCore;
use crate::report::{Stats, Violation};
use crate::time::SimTime;
use crate::trace::{Completion, Op, TraceLine};
use std::any::Any;
use std::cell::{Cell, RefCell, RefMut};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Handle to the world of the current run.
#[derive(Clone)]
pub struct World(pub(crate) Rc<WorldInner>);

pub(crate) struct WorldInner {
    pub(crate) config: SimConfig,
    pub(crate) plan: FaultPlan,
    pub(crate) start: madsim::time::Instant,
    pub(crate) clock: Cell<u64>,
    pub(crate) timers: RefCell<crate::timers::Timers>,
    pub(crate) tasks: RefCell<BTreeMap<u64, std::task::Waker>>,
    pub(crate) next_task: Cell<u64>,
    pub(crate) shutting_down: Cell<bool>,
    decisions: RefCell<Decisions>,
    pub(crate) trace: RefCell<Vec<TraceLine>>,
    pub(crate) history: RefCell<Vec<Op>>,
    pub(crate) violations: RefCell<Vec<Violation>>,
    pub(crate) objects: RefCell<Vec<Rc<ObjectCore>>>,
    pub(crate) namespaces: RefCell<BTreeMap<String, Rc<dyn Any>>>,
    extensions: RefCell<Vec<Rc<dyn Any>>>,
    pub(crate) stats: RefCell<Stats>,
    pub(crate) alarms: RefCell<Vec<crate::alarm::AlarmAttempt>>,
    calm: std::cell::Cell<bool>,
    next_strand: Cell<u64>,
    /// Set when a budget (or the watchdog) stopped the run: object code runs no more.
    stopped: Cell<bool>,
    /// The run's main future, woken when the run is stopped.
    stop_waker: RefCell<Option<std::task::Waker>>,
    /// Set from outside the run's thread by the watchdog.
    abandon: Arc<AtomicBool>,
    /// Once the trace is over its cap: the hash of every line so far, and lines not kept.
    trace_overflow: RefCell<Option<(crate::trace::Fnv64, u64)>>,
    /// How many objects deep each strand's request is (absent: 0, a client's call).
    strand_depth: RefCell<BTreeMap<u64, u32>>,
    /// Costly budget overruns so far (see [`World::overran`]).
    overruns: Cell<u32>,
    /// The run's outages (drawn from their own stream when the world is made).
    outages: Vec<crate::faults::OutageWindow>,
    /// Which outages the trace has announced.
    outages_seen: RefCell<std::collections::BTreeSet<usize>>,
    /// When the liveness phase began (set by [`World::calm`]).
    calm_at: Cell<Option<u64>>,
    /// Every call, fetch and WebSocket send an object made, in order.
    pub(crate) outgoing: RefCell<Vec<crate::report::Outgoing>>,
    /// The PCT scheduler's state, when the run uses it.
    pct: RefCell<Option<crate::schedule::Pct>>,
    /// Alarm faults: late deliveries, resets while a handler runs.
    alarm_faults: RefCell<Decisions>,
}

/// At most this many violations of one checker are kept; the rest are counted.
const MAX_VIOLATIONS_PER_CHECKER: usize = 20;

impl World {
    pub(crate) fn new(config: SimConfig, abandon: Arc<AtomicBool>) -> World {
        let plan = config.faults.plan(config.seed);
        let outages = plan.outage_windows(config.seed, config.chaos_window_ms);
        World(Rc::new(WorldInner {
            outages,
            outages_seen: RefCell::default(),
            calm_at: Cell::new(None),
            outgoing: RefCell::default(),
            pct: RefCell::new(config.scheduler.pct_for(config.seed).then(|| crate::schedule::Pct::new(config.seed))),
            alarm_faults: RefCell::new(Decisions::new(config.seed, crate::faults::ALARM_STREAM)),
            plan,
            // madsim's simulated clock (inside the run's runtime), not the wall clock: the
            // origin every simulated deadline is measured from.
            start: madsim::time::Instant::now(),
            clock: Cell::new(0),
            timers: RefCell::default(),
            tasks: RefCell::default(),
            next_task: Cell::new(0),
            shutting_down: Cell::new(false),
            decisions: RefCell::new(Decisions::new(config.seed, 1)),
            trace: RefCell::new(Vec::new()),
            history: RefCell::new(Vec::new()),
            violations: RefCell::new(Vec::new()),
            objects: RefCell::new(Vec::new()),
            namespaces: RefCell::new(BTreeMap::new()),
            extensions: RefCell::new(Vec::new()),
            stats: RefCell::new(Stats::default()),
            alarms: RefCell::new(Vec::new()),
            calm: std::cell::Cell::new(false),
            next_strand: Cell::new(1),
            stopped: Cell::new(false),
            stop_waker: RefCell::new(None),
            abandon,
            trace_overflow: RefCell::new(None),
            strand_depth: RefCell::new(BTreeMap::new()),
            overruns: Cell::new(0),
            config,
        }))
    }

    /// The run's value of type `T`, if one was set (hosts of other languages keep their
    /// per-run tables here: which class a binding runs, compiled code).
    pub fn extension<T: 'static>(&self) -> Option<Rc<T>> {
        self.0.extensions.borrow().iter().find_map(|e| e.clone().downcast::<T>().ok())
    }

    /// Sets the run's value of type `T`, replacing an earlier one.
    pub fn set_extension<T: 'static>(&self, value: Rc<T>) {
        let mut all = self.0.extensions.borrow_mut();
        all.retain(|e| !e.is::<T>());
        all.push(value);
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.0.config.seed
    }

    /// The run's configuration.
    pub fn config(&self) -> &SimConfig {
        &self.0.config
    }

    /// The fault plan in force: the run's plan, or none once the liveness phase began.
    pub fn fault_plan(&self) -> FaultPlan {
        if self.0.calm.get() {
            FaultPlan::NONE
        } else {
            self.0.plan
        }
    }

    /// Ends the chaos phase: no fault is injected from now on.
    pub fn calm(&self) {
        if !self.0.calm.replace(true) {
            self.0.calm_at.set(Some(self.now().as_millis()));
            self.trace("world", "liveness phase: faults stop");
        }
    }

    /// Whether the liveness phase began (no fault is injected any more).
    pub fn calmed(&self) -> bool {
        self.0.calm.get()
    }

    /// Under PCT: the waker task `task` should use (it marks the task ready).
    pub(crate) fn pct_waker(&self, task: u64, inner: &std::task::Waker) -> Option<std::task::Waker> {
        self.0.pct.borrow_mut().as_mut().map(|p| p.waker(task, inner))
    }

    /// Under PCT: whether `task`, ready to run, lets a higher-priority ready task go first.
    pub(crate) fn pct_defer(&self, task: u64) -> bool {
        self.0.pct.borrow_mut().as_mut().is_some_and(|p| p.defer(task))
    }

    /// Under PCT: `task` ended.
    pub(crate) fn pct_forget(&self, task: u64) {
        if let Some(p) = self.0.pct.borrow_mut().as_mut() {
            p.forget(task);
        }
    }

    /// The PCT scheduler's account of itself, when the run uses it.
    pub(crate) fn pct_description(&self) -> Option<String> {
        self.0.pct.borrow().as_ref().map(crate::schedule::Pct::describe)
    }

    /// When the liveness phase began, once it has.
    pub fn calm_since(&self) -> Option<u64> {
        self.0.calm_at.get()
    }

    /// Whether an outage of `kind` is under way now (never in the liveness phase). Hosts
    /// of what an outage takes away ask this where the work would start: storage commits
    /// and reads, calls between objects, and outbound `fetch`.
    pub fn in_outage(&self, kind: crate::faults::Outage) -> bool {
        if self.0.calm.get() {
            return false;
        }
        let now = self.now().as_millis();
        let hit = self.0.outages.iter().position(|w| w.kind == kind && w.from_ms <= now && now < w.until_ms);
        if let Some(i) = hit {
            if self.0.outages_seen.borrow_mut().insert(i) {
                let w = self.0.outages[i];
                self.trace(
                    "world",
                    format!("{} outage from {}ms until {}ms (injected)", kind.name(), w.from_ms, w.until_ms),
                );
            }
            self.sometimes("work refused by an outage");
        }
        hit.is_some()
    }

    /// The outages of the run.
    pub fn outages(&self) -> &[crate::faults::OutageWindow] {
        &self.0.outages
    }

    /// Until when the chaos phase lasts at least: the plan's horizon and the end of its
    /// last outage (simulated ms).
    pub fn chaos_until(&self) -> u64 {
        let outages = self.0.outages.iter().map(|w| w.until_ms).max().unwrap_or(0);
        self.0.plan.horizon_ms.max(outages)
    }

    /// How late the alarm firing now should be delivered (0 mostly; up to the plan's
    /// `alarm_late_ms` in the chaos phase), from the late-alarm stream.
    pub(crate) fn alarm_delay(&self) -> u64 {
        let max = self.fault_plan().alarm_late_ms;
        if max == 0 {
            return 0;
        }
        let mut d = self.0.alarm_faults.borrow_mut();
        if d.chance(500) {
            d.between(1, max)
        } else {
            0
        }
    }

    /// Whether to reset the object while the alarm handler starting now runs, and after
    /// how many ms (from the alarm-fault stream; never in the liveness phase).
    pub(crate) fn alarm_reset_after(&self) -> Option<u64> {
        let rate = self.fault_plan().alarm_reset;
        let mut d = self.0.alarm_faults.borrow_mut();
        d.chance(rate).then(|| d.between(0, 30))
    }

    /// Records something an object sent out: a call to another object, a `fetch`, a
    /// WebSocket message (hosts of fetch and sockets call this too).
    pub fn record_outgoing(&self, out: crate::report::Outgoing) -> usize {
        let mut all = self.0.outgoing.borrow_mut();
        all.push(out);
        all.len() - 1
    }

    /// Sets how the outgoing item `index` ended.
    pub fn set_outgoing_outcome(&self, index: usize, outcome: impl Into<String>) {
        if let Some(o) = self.0.outgoing.borrow_mut().get_mut(index) {
            o.outcome = outcome.into();
            o.ended_at = Some(self.now());
        }
    }

    /// Notes that the run's objects use `feature` (one of the needs in
    /// [`crate::report::NEEDS`]): the "sometimes" points behind it are within their reach.
    pub fn uses(&self, feature: &'static str) {
        let mut stats = self.0.stats.borrow_mut();
        if !stats.used.contains(feature) {
            stats.used.insert(feature.to_owned());
        }
    }

    /// Counts one visit to the user's own interesting state `label` (a `sometimes` point
    /// of the object's code, `dosim.sometimes("label")` in JavaScript).
    pub fn user_sometimes(&self, label: &str) {
        *self.0.stats.borrow_mut().sometimes.entry(format!("{}{label}", crate::report::USER_POINT)).or_default() += 1;
    }

    pub(crate) fn record_alarm(&self, attempt: crate::alarm::AlarmAttempt) -> usize {
        let mut a = self.0.alarms.borrow_mut();
        a.push(attempt);
        a.len() - 1
    }

    pub(crate) fn set_alarm_outcome(&self, index: usize, outcome: String) {
        self.0.alarms.borrow_mut()[index].outcome = outcome;
    }

    /// The simulated time of the event being delivered.
    pub fn now(&self) -> SimTime {
        SimTime(self.0.clock.get())
    }

    /// Sleeps `d` of simulated time (rounded up to whole ms). Outside an object this is
    /// plain waiting; inside one, the strand wrapper makes the wake-up wait for the gate.
    pub fn sleep(&self, d: Duration) -> impl Future<Output = ()> + 'static {
        let deadline = self.now().after(d);
        self.sleep_until(deadline)
    }

    /// Sleeps until `deadline` on the simulated clock.
    pub fn sleep_until(&self, deadline: SimTime) -> impl Future<Output = ()> + 'static {
        crate::timers::Sleep::new(self.clone(), deadline)
    }

    /// The harness's decision stream.
    pub fn decide(&self) -> RefMut<'_, Decisions> {
        self.0.decisions.borrow_mut()
    }

    /// Appends a line to the runtime trace.
    pub fn trace(&self, actor: &str, what: impl Into<String>) {
        if !self.0.config.record_trace {
            return;
        }
        let line = TraceLine { at: self.now(), actor: actor.to_owned(), what: what.into() };
        let mut trace = self.0.trace.borrow_mut();
        if trace.len() < self.0.config.budgets.trace_lines {
            trace.push(line);
            return;
        }
        // Over the cap: the line is hashed (so `trace_hash` still covers the whole run)
        // but not kept.
        let mut overflow = self.0.trace_overflow.borrow_mut();
        let (hash, dropped) = overflow.get_or_insert_with(|| {
            let mut h = crate::trace::Fnv64::default();
            h.write(crate::trace::render_trace(&trace).0.as_bytes());
            (h, 0)
        });
        let mut text = String::new();
        line.write_to(&mut text);
        text.push('\n');
        hash.write(text.as_bytes());
        *dropped += 1;
    }

    /// The trace's hash and the number of lines not kept, once it went over its cap.
    pub(crate) fn trace_overflow(&self) -> Option<(String, u64)> {
        self.0.trace_overflow.borrow().map(|(h, n)| (format!("{:016x}", h.finish()), n))
    }

    /// Stops the run: a budget ran out (or the watchdog fired). The finding is recorded,
    /// object code runs no more, and the run ends with the verdict so far.
    pub fn stop(&self, checker: &str, message: impl Into<String>) {
        if self.0.stopped.replace(true) {
            return;
        }
        self.violation(checker, message);
        if let Some(w) = self.0.stop_waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Whether the run was stopped.
    pub fn stopped(&self) -> bool {
        self.0.stopped.get()
    }

    /// Whether the watchdog asked the run to end (engines poll this to leave a loop).
    pub fn abandoned(&self) -> bool {
        self.0.abandon.load(Ordering::Relaxed)
    }

    /// The watchdog's flag, for engines that check it from inside a loop.
    pub fn abandon_flag(&self) -> Arc<AtomicBool> {
        self.0.abandon.clone()
    }

    /// Resolves once the run is stopped.
    pub(crate) fn until_stopped(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.stopped() {
                return std::task::Poll::Ready(());
            }
            *self.0.stop_waker.borrow_mut() = Some(cx.waker().clone());
            std::task::Poll::Pending
        })
    }

    /// Counts a turn of object code against the run's budget; stops the run past it, and
    /// when the watchdog fired.
    pub(crate) fn count_turn(&self) {
        let turns = {
            let mut stats = self.0.stats.borrow_mut();
            stats.turns += 1;
            stats.turns
        };
        let limit = self.0.config.budgets.run_turns;
        if turns > limit {
            self.stop(
                "budget",
                format!(
                    "the run took more than {limit} turns of object code (budget run-turns): an endless \
                     chain of timers or events; the run was stopped"
                ),
            );
        } else if self.abandoned() {
            self.stop_by_watchdog();
        }
    }

    /// Stops the run for the watchdog (a `harness` finding).
    pub fn stop_by_watchdog(&self) {
        let secs = self.0.config.budgets.watchdog_secs;
        self.stop(
            "harness",
            format!(
                "the run did not end within {secs} s of wall-clock time (watchdog; the verdict is not reproducible)"
            ),
        );
    }

    /// How many objects deep `strand`'s request is.
    pub(crate) fn depth_of(&self, strand: Option<u64>) -> u32 {
        strand.and_then(|s| self.0.strand_depth.borrow().get(&s).copied()).unwrap_or(0)
    }

    pub(crate) fn forget_depth(&self, strand: u64) {
        self.0.strand_depth.borrow_mut().remove(&strand);
    }

    /// Records how deep `strand`'s request is (kept only when above 0).
    pub(crate) fn set_depth(&self, strand: u64, depth: u32) {
        if depth > 0 {
            self.0.strand_depth.borrow_mut().insert(strand, depth);
        }
    }

    /// Records that a checker found a violation.
    pub fn violation(&self, checker: &str, message: impl Into<String>) {
        let message = message.into();
        self.trace("world", format!("VIOLATION {checker}: {message}"));
        let mut v = self.0.violations.borrow_mut();
        let n = v.iter().filter(|x| x.checker == checker).count();
        if n < MAX_VIOLATIONS_PER_CHECKER {
            v.push(Violation { checker: checker.to_owned(), message, at: self.now() });
        }
    }

    /// A costly budget ran out (`message` says which, where): a `budget` finding. Each
    /// such overrun costs a whole budget of work, so past `overruns` of them the run has
    /// said what it has to say and stops (or a fuzz run over such an object would crawl).
    pub fn overran(&self, message: impl Into<String>) {
        self.violation("budget", message);
        let count = self.0.overruns.get() + 1;
        self.0.overruns.set(count);
        let limit = self.0.config.budgets.overruns;
        if count >= limit {
            self.stop("budget", format!("the run stopped after {limit} budget overruns (budget overruns)"));
        }
    }

    /// Counters of what the run did.
    pub fn stats(&self) -> RefMut<'_, Stats> {
        self.0.stats.borrow_mut()
    }

    /// Counts one visit to the interesting state `point` (one of [`crate::report::SOMETIMES`]).
    pub fn sometimes(&self, point: &'static str) {
        debug_assert!(crate::report::SOMETIMES.contains(&point), "unknown sometimes point {point:?}");
        *self.0.stats.borrow_mut().sometimes.entry(point.to_owned()).or_default() += 1;
    }

    pub(crate) fn next_strand(&self) -> u64 {
        let s = self.0.next_strand.get();
        self.0.next_strand.set(s + 1);
        s
    }

    pub(crate) fn invoke(&self, client: usize, object: &str, request: serde_json::Value) -> usize {
        let mut h = self.0.history.borrow_mut();
        let index = h.len();
        h.push(Op {
            index,
            client,
            object: object.to_owned(),
            request,
            invoked_at: self.now(),
            completed_at: None,
            completion: Completion::Pending,
        });
        index
    }

    pub(crate) fn complete(&self, index: usize, completion: Completion) {
        let mut h = self.0.history.borrow_mut();
        h[index].completed_at = Some(self.now());
        h[index].completion = completion;
    }

    /// Every object created so far, in creation order (labels).
    pub fn objects(&self) -> Vec<String> {
        self.0.objects.borrow().iter().map(|o| o.label.clone()).collect()
    }

    /// Crashes the object with this label now (no effect if it is not in memory).
    pub fn crash(&self, label: &str, reason: &str) {
        let target = self.0.objects.borrow().iter().find(|o| o.label == label).cloned();
        if let Some(core) = target {
            core.crash(reason);
        }
    }

    /// Breaks the reference cycles between the world and its objects at the end of a run.
    pub(crate) fn teardown(&self) {
        for o in self.0.objects.borrow().iter() {
            o.teardown();
        }
        self.0.objects.borrow_mut().clear();
        self.0.namespaces.borrow_mut().clear();
        self.0.timers.borrow_mut().clear();
    }
}
