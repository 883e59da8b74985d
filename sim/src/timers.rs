//! The run's timers: every simulated sleep registers here, and one ticker task waits on
//! madsim's clock for the earliest deadline and wakes what is due. madsim's own timer
//! wheel keeps a sleeping task alive through a reference cycle (its callback holds the
//! task's waker, the task's sleep holds the wheel), so every task asleep when a run ended
//! would leak; here the end of a run drops every waker, and the tasks with them.

use crate::time::SimTime;
use crate::world::{World, WorldInner};
use std::collections::{BTreeMap, BTreeSet};
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::rc::Weak;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Pending timers of one run.
#[derive(Default)]
pub(crate) struct Timers {
    pending: BTreeMap<(u64, u64), Waker>,
    fired: BTreeSet<u64>,
    next_seq: u64,
    ticker: Option<Waker>,
    ticker_running: bool,
    planned: Option<u64>,
}

impl Timers {
    /// Drops every pending timer (end of run): their tasks are freed with their wakers.
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
        self.fired.clear();
        self.ticker = None;
    }
}

/// A sleep until `deadline` (simulated ms).
pub(crate) struct Sleep {
    world: World,
    deadline: u64,
    seq: Option<u64>,
}

impl Sleep {
    pub(crate) fn new(world: World, deadline: SimTime) -> Sleep {
        Sleep { world, deadline: deadline.0, seq: None }
    }
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let clock = this.world.now().as_millis();
        let mut timers = this.world.0.timers.borrow_mut();
        match this.seq {
            None if this.deadline <= clock => Poll::Ready(()),
            None => {
                let seq = timers.next_seq;
                timers.next_seq += 1;
                timers.pending.insert((this.deadline, seq), cx.waker().clone());
                this.seq = Some(seq);
                // The ticker must look again if this deadline is earlier than its plan.
                if timers.planned.is_none_or(|p| this.deadline < p) {
                    if let Some(t) = timers.ticker.take() {
                        t.wake();
                    }
                }
                let start = !std::mem::replace(&mut timers.ticker_running, true);
                drop(timers);
                if start {
                    crate::task::spawn(&this.world, ticker(std::rc::Rc::downgrade(&this.world.0)));
                }
                Poll::Pending
            }
            Some(seq) => {
                if timers.fired.remove(&seq) {
                    drop(timers);
                    let c = &this.world.0.clock;
                    c.set(c.get().max(this.deadline));
                    this.seq = None;
                    this.deadline = 0; // done: a later poll is ready at once
                    return Poll::Ready(());
                }
                if let Some(w) = timers.pending.get_mut(&(this.deadline, seq)) {
                    w.clone_from(cx.waker());
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(seq) = self.seq {
            let mut timers = self.world.0.timers.borrow_mut();
            timers.pending.remove(&(self.deadline, seq));
            timers.fired.remove(&seq);
        }
    }
}

/// The one task that waits on madsim's clock. It holds the world weakly, so a finished
/// run is not kept alive by it.
async fn ticker(world: Weak<WorldInner>) {
    loop {
        let Some(w) = world.upgrade() else { return };
        let next = w.timers.borrow().pending.keys().next().map(|(d, _)| *d);
        let start = w.start;
        w.timers.borrow_mut().planned = next;
        drop(w);
        let due = match next {
            Some(d) => d,
            None => {
                // Nothing to wait for: park until a sleep registers.
                let parked = world.clone();
                let mut asked = false;
                poll_fn(|cx| match parked.upgrade() {
                    Some(w) if !asked || w.timers.borrow().pending.is_empty() => {
                        asked = true;
                        w.timers.borrow_mut().ticker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                    _ => Poll::Ready(()),
                })
                .await;
                continue;
            }
        };
        let mut sleep = pin!(madsim::time::sleep_until(start + Duration::from_millis(due)));
        let watched = world.clone();
        let fired = poll_fn(|cx| {
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            let Some(w) = watched.upgrade() else { return Poll::Ready(false) };
            let mut t = w.timers.borrow_mut();
            // Woken for a new, earlier deadline: plan again.
            if t.pending.keys().next().is_some_and(|(d, _)| *d < due) {
                return Poll::Ready(false);
            }
            t.ticker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        if !fired {
            continue;
        }
        let Some(w) = world.upgrade() else { return };
        let mut t = w.timers.borrow_mut();
        let later = t.pending.split_off(&(due + 1, 0));
        let now_due = std::mem::replace(&mut t.pending, later);
        for ((_, seq), waker) in now_due {
            t.fired.insert(seq);
            waker.wake();
        }
    }
}
