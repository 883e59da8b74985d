//! Tasks of a run. madsim keeps every task that has not finished alive after its runtime
//! is dropped, with everything the task holds (the world, objects, databases), so a long
//! fuzz run would grow without bound. Every task of a run is therefore spawned here: it
//! is registered with the world, and when the run ends the world cancels what is left
//! (each task drops its future and finishes) before the runtime goes.

use crate::world::{World, WorldInner};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

/// A task of the run, cancelled when the run ends.
struct Guarded {
    inner: Option<Pin<Box<dyn Future<Output = ()>>>>,
    world: Weak<WorldInner>,
    id: u64,
}

impl Future for Guarded {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let Some(world) = this.world.upgrade() else {
            this.inner = None;
            return Poll::Ready(());
        };
        if world.shutting_down.get() {
            this.inner = None;
            world.tasks.borrow_mut().remove(&this.id);
            return Poll::Ready(());
        }
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(()) };
        // Under PCT every wake of this task marks it ready, and a ready task defers to a
        // ready task of higher priority (what madsim's random pick could also have done).
        let handle = World(world.clone());
        let pct_waker = handle.pct_waker(this.id, cx.waker());
        let polled = match &pct_waker {
            Some(w) if handle.pct_defer(this.id) => {
                w.wake_by_ref();
                world.tasks.borrow_mut().insert(this.id, cx.waker().clone());
                return Poll::Pending;
            }
            Some(w) => inner.as_mut().poll(&mut Context::from_waker(w)),
            None => inner.as_mut().poll(cx),
        };
        match polled {
            Poll::Ready(()) => {
                this.inner = None;
                world.tasks.borrow_mut().remove(&this.id);
                handle.pct_forget(this.id);
                Poll::Ready(())
            }
            Poll::Pending => {
                world.tasks.borrow_mut().insert(this.id, cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Spawns `fut` as a task of `world`'s run.
pub(crate) fn spawn(world: &World, fut: impl Future<Output = ()> + 'static) {
    let id = world.0.next_task.get();
    world.0.next_task.set(id + 1);
    let guarded = Guarded { inner: Some(Box::pin(fut)), world: Rc::downgrade(&world.0), id };
    drop(madsim::task::spawn_local(guarded));
}

/// The task ended with its run before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the task was cancelled when its run ended")
    }
}

impl std::error::Error for Cancelled {}

enum Slot<T> {
    Running(Option<Waker>),
    Done(T),
    Cancelled,
    Taken,
}

/// Marks the slot cancelled if the task's future is dropped before it finished.
struct Unfinished<T>(Rc<RefCell<Slot<T>>>);

impl<T> Drop for Unfinished<T> {
    fn drop(&mut self) {
        let mut slot = self.0.borrow_mut();
        if let Slot::Running(waker) = &mut *slot {
            let waker = waker.take();
            *slot = Slot::Cancelled;
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// Handle of a task spawned with [`World::spawn`]: await it for the task's output.
pub struct Task<T> {
    slot: Rc<RefCell<Slot<T>>>,
}

impl<T> Future for Task<T> {
    type Output = Result<T, Cancelled>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Cancelled>> {
        let mut slot = self.slot.borrow_mut();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Done(v) => Poll::Ready(Ok(v)),
            Slot::Running(_) => {
                *slot = Slot::Running(Some(cx.waker().clone()));
                Poll::Pending
            }
            Slot::Cancelled | Slot::Taken => Poll::Ready(Err(Cancelled)),
        }
    }
}

impl World {
    /// Spawns a task in the run (not inside any object). It is cancelled if the run ends
    /// first.
    pub fn spawn<F>(&self, fut: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let slot = Rc::new(RefCell::new(Slot::Running(None)));
        let guard = Unfinished(slot.clone());
        spawn(self, async move {
            let v = fut.await;
            let previous = std::mem::replace(&mut *guard.0.borrow_mut(), Slot::Done(v));
            if let Slot::Running(Some(w)) = previous {
                w.wake();
            }
        });
        Task { slot }
    }

    /// Ends the run's tasks: each drops its future at its next poll. Returns how many
    /// were woken for it.
    pub(crate) fn cancel_tasks(&self) -> usize {
        self.0.shutting_down.set(true);
        let wakers: Vec<Waker> = std::mem::take(&mut *self.0.tasks.borrow_mut()).into_values().collect();
        let n = wakers.len();
        for w in wakers {
            w.wake();
        }
        n
    }
}
