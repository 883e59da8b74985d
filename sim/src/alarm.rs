//! Alarms (SEMANTICS.md §6): the per-object alarm scheduler. It lives outside the object
//! (it survives crashes and eviction) and follows the *committed* alarm: a commit that
//! sets, moves or deletes the alarm re-arms it. When it fires, the handler runs as an
//! event through the input gate (constructing the object first if needed); success is
//! reported only once the output gate clears; failures are retried after 2, 4, 8, 16, 32,
//! 64 s plus up to 25% jitter, and abandoned after 6 counted retries. A reset during the
//! handler (crash, broken gate) is retried without counting, as workerd does.

use crate::error::Result;
use crate::host::ObjectCore;
use crate::time::SimTime;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

/// What `alarm()` is told (`alarmInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmInfo {
    /// Retries so far (0 on the first attempt).
    pub retry_count: u32,
    /// `retry_count > 0`.
    pub is_retry: bool,
    /// The time the alarm was set for.
    pub scheduled_time: SimTime,
}

/// One attempt to run an alarm, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmAttempt {
    /// The object's label.
    pub object: String,
    /// The time the alarm was set for.
    pub scheduled: SimTime,
    /// When the handler started.
    pub at: SimTime,
    /// `alarmInfo.retryCount` of this attempt.
    pub retry_count: u32,
    /// How it ended: `ok`, `failed: <message>`, `reset: <message>`, or `running`.
    pub outcome: String,
}

/// Runs the object's `alarm()` handler as a strand (set up per class by the namespace).
pub(crate) type AlarmDriver = Rc<dyn Fn(Rc<ObjectCore>, AlarmInfo) -> Pin<Box<dyn Future<Output = Result<()>>>>>;

/// Counted retries after which an alarm is abandoned.
pub const MAX_RETRIES: u32 = 6;

/// The scheduler's state for one object.
#[derive(Default)]
pub(crate) struct AlarmState {
    /// The committed alarm.
    pub persisted: Option<u64>,
    /// The alarm whose handler is running.
    pub running: Option<u64>,
    /// The running handler called `set_alarm`/`delete_alarm` itself.
    pub set_in_handler: bool,
    /// Counted retries of the current alarm.
    pub retry_count: u32,
    /// Bumped whenever the timer is re-armed, so older timers fall silent.
    epoch: u64,
    /// A retry is waiting for its timer.
    pub retry_pending: bool,
    /// The running handler called `abort` with `retry_alarm: false`.
    pub abandon_requested: bool,
}

/// The committed alarm changed: re-arm (unless a handler is running; it re-arms after).
pub(crate) fn persisted(core: &Rc<ObjectCore>, value: Option<u64>) {
    let mut st = core.alarm.borrow_mut();
    if st.persisted != value {
        st.retry_count = 0;
        st.retry_pending = false;
    }
    st.persisted = value;
    if value.is_some() {
        core.world.uses("alarm");
    }
    let idle = st.running.is_none();
    drop(st);
    if idle {
        arm(core);
    }
}

/// Arms the timer for the committed alarm (and silences any older timer).
fn arm(core: &Rc<ObjectCore>) {
    let (epoch, at) = {
        let mut st = core.alarm.borrow_mut();
        st.epoch += 1;
        (st.epoch, st.persisted)
    };
    let Some(t) = at else { return };
    let weak = Rc::downgrade(core);
    // The real scheduler may deliver an alarm late; the plan draws by how much.
    let late = core.world.alarm_delay();
    if late > 0 {
        core.world.trace(&core.label, format!("the alarm set for {t}ms will fire {late} ms late (injected)"));
    }
    let sleep = core.world.sleep_until(SimTime(t.max(core.world.now().as_millis()) + late));
    crate::task::spawn(&core.world, async move {
        sleep.await;
        let Some(core) = weak.upgrade() else { return };
        if core.alarm.borrow().epoch == epoch {
            if late > 0 {
                core.world.sometimes("alarm delivered late");
            }
            run(core, t).await;
        }
    });
}

/// One attempt at the alarm set for `t`.
async fn run(core: Rc<ObjectCore>, t: u64) {
    let Some(driver) = core.alarm_driver.borrow().clone() else { return };
    let retry_count = {
        let mut st = core.alarm.borrow_mut();
        if st.persisted != Some(t) {
            return; // deleted or moved meanwhile: nothing to run
        }
        st.running = Some(t);
        st.set_in_handler = false;
        st.abandon_requested = false;
        st.retry_pending = false;
        st.retry_count
    };
    let world = core.world.clone();
    world.trace(&core.label, format!("alarm fires (set for {t}ms, retry_count {retry_count})"));
    let attempt = world.record_alarm(AlarmAttempt {
        object: core.label.clone(),
        scheduled: SimTime(t),
        at: world.now(),
        retry_count,
        outcome: "running".into(),
    });
    let incarnation = core.incarnation();
    if let Some(after) = world.alarm_reset_after() {
        let (target, w) = (Rc::downgrade(&core), world.clone());
        let sleep = world.sleep(Duration::from_millis(after));
        crate::task::spawn(&world, async move {
            sleep.await;
            let Some(t) = target.upgrade() else { return };
            if t.incarnation() == incarnation && t.alarm.borrow().running.is_some() {
                w.sometimes("reset while an alarm ran");
                t.crash("injected: reset while the alarm ran");
            }
        });
    }
    let info = AlarmInfo { retry_count, is_retry: retry_count > 0, scheduled_time: SimTime(t) };
    let mut result = driver(core.clone(), info).await;
    if result.is_ok() {
        result = succeed(&core, t, incarnation).await;
    }
    core.alarm.borrow_mut().running = None;
    match result {
        Ok(()) => {
            world.set_alarm_outcome(attempt, "ok".into());
            world.trace(&core.label, format!("alarm set for {t}ms succeeded"));
            core.alarm.borrow_mut().retry_count = 0;
            arm(&core);
        }
        Err(e) if core.incarnation() != incarnation && core.alarm.borrow().abandon_requested => {
            // `abort(reason, { retryAlarm: false })` (T70).
            world.set_alarm_outcome(attempt, format!("reset: {}", e.message));
            world.sometimes("alarm abandoned");
            abandon(&core, t);
        }
        Err(e) if core.incarnation() != incarnation && !core.reset_by_user() => {
            // Not the handler's fault (a crash, a broken output gate): retried without
            // counting (SEMANTICS.md §6.4, T72).
            world.set_alarm_outcome(attempt, format!("reset: {}", e.message));
            world.sometimes("alarm retried after a reset");
            retry_later(&core, t);
        }
        Err(e) => {
            let what = if core.incarnation() != incarnation { "reset" } else { "failed" };
            world.set_alarm_outcome(attempt, format!("{what}: {}", e.message));
            let n = {
                let mut st = core.alarm.borrow_mut();
                st.retry_count += 1;
                st.retry_count
            };
            if n > MAX_RETRIES {
                world.sometimes("alarm abandoned");
                abandon(&core, t);
            } else {
                world.sometimes("alarm retried after a failure");
                retry_later(&core, t);
            }
        }
    }
}

/// After a successful handler: the alarm's deletion (unless the handler set a new one) is
/// written now, and success counts only once the output gate clears.
async fn succeed(core: &Rc<ObjectCore>, t: u64, incarnation: u64) -> Result<()> {
    let set_in_handler = core.alarm.borrow().set_in_handler;
    if !set_in_handler && core.stored_alarm()? == Some(t) {
        core.write_alarm(None, true)?;
    }
    let needed = core.output.borrow().last_written;
    core.wait_durable(incarnation, needed).await
}

/// Schedules the next attempt after the backoff for the current retry count.
fn retry_later(core: &Rc<ObjectCore>, t: u64) {
    let n = core.alarm.borrow().retry_count.max(1);
    let delay_ms = 1000u64 << n.min(10); // 2 s, 4 s, 8 s, ... (workerd caps the exponent)
    let jitter = core.world.decide().between(0, delay_ms / 4);
    let epoch = {
        let mut st = core.alarm.borrow_mut();
        st.epoch += 1;
        st.retry_pending = true;
        st.epoch
    };
    core.world.trace(&core.label, format!("alarm set for {t}ms will be retried in {} ms", delay_ms + jitter));
    let weak = Rc::downgrade(core);
    let sleep = core.world.sleep(Duration::from_millis(delay_ms + jitter));
    crate::task::spawn(&core.world, async move {
        sleep.await;
        let Some(core) = weak.upgrade() else { return };
        let (current, persisted) = {
            let st = core.alarm.borrow();
            (st.epoch == epoch, st.persisted)
        };
        if !current {
            return;
        }
        match persisted {
            Some(p) if p == t => run(core, t).await,
            // A new alarm was set while this one failed: it runs instead of the retry.
            Some(_) => {
                core.alarm.borrow_mut().retry_count = 0;
                arm(&core);
            }
            None => core.alarm.borrow_mut().retry_pending = false,
        }
    });
}

/// Gives up on the alarm set for `t` after its retries: it is cleared.
fn abandon(core: &Rc<ObjectCore>, t: u64) {
    core.world.trace(&core.label, format!("alarm set for {t}ms abandoned after {MAX_RETRIES} retries"));
    {
        // Giving up is the scheduler's decision (it lives outside the object): it stops
        // following this alarm even if the deletion written below is lost to a crash.
        let mut st = core.alarm.borrow_mut();
        st.retry_count = 0;
        st.retry_pending = false;
        if st.persisted == Some(t) {
            st.persisted = None;
        }
    }
    if core.stored_alarm().ok().flatten() == Some(t) {
        let _ = core.write_alarm(None, true);
    }
}

/// Whether an attempt of `core`'s alarm is running or a retry of it is waiting.
pub(crate) fn busy(core: &ObjectCore) -> bool {
    let st = core.alarm.borrow();
    st.running.is_some() || st.retry_pending
}

/// The alarm the scheduler of `core` still owes by `deadline`, if any: one whose attempt
/// is running, or one due by then that has neither run to success nor been abandoned.
pub(crate) fn owes(core: &ObjectCore, deadline: u64) -> Option<u64> {
    let st = core.alarm.borrow();
    st.running.or(st.persisted.filter(|t| *t <= deadline))
}

/// Whether the alarm set for `t` is still owed: an attempt of it is running, or it is still
/// the committed alarm (a success deletes or moves it, and so does abandoning it).
pub(crate) fn still_owes(core: &ObjectCore, t: u64) -> bool {
    let st = core.alarm.borrow();
    st.running == Some(t) || st.persisted == Some(t)
}
