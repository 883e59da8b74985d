//! Which task runs first when several are ready: the uniform random order madsim gives,
//! or probabilistic concurrency testing (PCT, Burckhardt et al. 2010, as in Coyote): every
//! task of the run (clients, calls in flight, commits, timers, alarms) gets a random
//! priority, the highest-priority ready task runs first, and at a few drawn change points
//! the running task drops below all others. The seed picks (swarm).

use crate::faults::Decisions;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

/// The scheduler of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheduler {
    /// madsim's uniform random choice among ready tasks.
    Random,
    /// Priorities with drawn change points.
    Pct,
    /// Drawn per seed: half the seeds each.
    #[default]
    Swarm,
}

impl Scheduler {
    /// Parses `random`, `pct` or `swarm`.
    pub fn parse(text: &str) -> Result<Scheduler, String> {
        match text {
            "random" => Ok(Scheduler::Random),
            "pct" => Ok(Scheduler::Pct),
            "swarm" => Ok(Scheduler::Swarm),
            other => Err(format!("unknown scheduler {other:?}: random, pct or swarm")),
        }
    }

    /// Whether a run of `seed` uses PCT.
    pub fn pct_for(self, seed: u64) -> bool {
        match self {
            Scheduler::Random => false,
            Scheduler::Pct => true,
            Scheduler::Swarm => Decisions::new(seed, SCHEDULER_STREAM).chance(500),
        }
    }
}

/// Decision stream of the scheduler's draws.
pub const SCHEDULER_STREAM: u64 = 0x5343_4845_4400;

/// Change points of a PCT run are drawn among its first this many task turns.
const CHANGE_WINDOW: u64 = 1000;

/// A PCT run's state: task priorities, which tasks are ready, the change points.
pub(crate) struct Pct {
    draws: Decisions,
    /// Priority of each live task (higher runs first).
    priority: BTreeMap<u64, u64>,
    /// Set by a task's waker, cleared when the task is polled.
    ready: BTreeMap<u64, Arc<AtomicBool>>,
    /// Turn counts at which the running task drops, each to a lower priority.
    changes: Vec<u64>,
    turns: u64,
    /// Deferrals in a row of each task (bounded, so a ready flag that no poll clears
    /// cannot stall a task for ever).
    deferred: BTreeMap<u64, u32>,
}

/// Deferrals in a row after which a task runs anyway.
const MAX_DEFERRALS: u32 = 16;

impl Pct {
    pub(crate) fn new(seed: u64) -> Pct {
        let mut draws = Decisions::new(seed, SCHEDULER_STREAM ^ 1);
        // A few change points (depth 1 to 3: bugs of depth d need d - 1 of them).
        let n = draws.between(0, 2);
        let mut changes: Vec<u64> = (0..n).map(|_| draws.between(1, CHANGE_WINDOW)).collect();
        changes.sort_unstable();
        Pct { draws, priority: BTreeMap::new(), ready: BTreeMap::new(), changes, turns: 0, deferred: BTreeMap::new() }
    }

    /// The change points, for the trace.
    pub(crate) fn describe(&self) -> String {
        let at: Vec<String> = self.changes.iter().map(u64::to_string).collect();
        format!("scheduler: pct, change points at task turns [{}]", at.join(", "))
    }

    /// A waker for `task` that marks it ready before waking its task.
    pub(crate) fn waker(&mut self, task: u64, inner: &Waker) -> Waker {
        let flag = self.ready.entry(task).or_insert_with(|| Arc::new(AtomicBool::new(false))).clone();
        if !self.priority.contains_key(&task) {
            // Far above the change points' priorities (1, 2, ...).
            let p = self.draws.between(1 << 20, u64::MAX >> 1);
            self.priority.insert(task, p);
        }
        Waker::from(Arc::new(Marking { flag, inner: inner.clone() }))
    }

    /// Whether `task`, about to run a turn, should let a ready task of higher priority
    /// go first. Otherwise counts the turn (and applies a change point that falls on it).
    pub(crate) fn defer(&mut self, task: u64) -> bool {
        if let Some(f) = self.ready.get(&task) {
            f.store(false, Ordering::Relaxed);
        }
        let mine = self.priority.get(&task).copied().unwrap_or(0);
        let higher = self
            .ready
            .iter()
            .any(|(s, f)| *s != task && f.load(Ordering::Relaxed) && self.priority.get(s).copied().unwrap_or(0) > mine);
        let in_a_row = self.deferred.entry(task).or_default();
        if higher && *in_a_row < MAX_DEFERRALS {
            *in_a_row += 1;
            return true;
        }
        *in_a_row = 0;
        self.turns += 1;
        if let Some(i) = self.changes.iter().position(|t| *t == self.turns) {
            self.priority.insert(task, i as u64 + 1);
        }
        false
    }

    /// The task ended.
    pub(crate) fn forget(&mut self, task: u64) {
        self.priority.remove(&task);
        self.ready.remove(&task);
        self.deferred.remove(&task);
    }
}

/// Marks its task ready, then wakes the task.
struct Marking {
    flag: Arc<AtomicBool>,
    inner: Waker,
}

impl Wake for Marking {
    fn wake(self: Arc<Self>) {
        self.flag.store(true, Ordering::Relaxed);
        self.inner.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.flag.store(true, Ordering::Relaxed);
        self.inner.wake_by_ref();
    }
}
