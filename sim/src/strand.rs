//! Strands: how object code runs. Every way into an object (an event, a critical section,
//! the continuation of non-storage I/O) is a strand future that asks the input gate before
//! each turn. A turn is one poll: madsim runs one task at a time, so a turn is atomic, and
//! the strand knows exactly where it ends (when its code returns `Pending`). The strand
//! also catches panics and draws the "crash at an await" fault.

use crate::config::GatePolicy;
use crate::error::{Error, Result};
use crate::gate::{Blocker, Entry, StrandId};
use crate::host::ObjectCore;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

thread_local! {
    static CURRENT: Cell<Option<StrandId>> = const { Cell::new(None) };
    static CURRENT_OBJECT: RefCell<Option<std::rc::Weak<ObjectCore>>> = const { RefCell::new(None) };
    static CONSTRUCTING: Cell<Option<StrandId>> = const { Cell::new(None) };
}

/// Clears what a run left in this thread's strand state (a run host starts each run so,
/// as a fresh thread would).
pub(crate) fn clear_thread_state() {
    CURRENT.with(|c| c.set(None));
    CURRENT_OBJECT.with(|c| *c.borrow_mut() = None);
    CONSTRUCTING.with(|c| c.set(None));
}

/// Where a constructor's storage holds are kept while it runs: a number of its own per
/// instance, outside the strand numbers, so that the event that woke the object does not
/// own them (workerd runs the constructor as a turn of its own and delivers that event
/// through the input gate afterwards, SEMANTICS.md §1).
const CONSTRUCTOR_HOLDS: StrandId = 1 << 62;

/// Runs `construct` (an object's constructor, instance number `instance`) with the storage
/// holds it takes kept apart; after it, the holds left are handed to the waking strand
/// unless [`crate::State::spawn_event_with_holds`] gave them to an event the constructor
/// started.
pub(crate) fn constructing<R>(core: &ObjectCore, instance: u64, construct: impl FnOnce() -> R) -> R {
    let me = CONSTRUCTOR_HOLDS + instance;
    let previous = CONSTRUCTING.with(|c| c.replace(Some(me)));
    let made = catch_unwind(AssertUnwindSafe(construct));
    CONSTRUCTING.with(|c| c.set(previous));
    let mut gate = core.gate.borrow_mut();
    if let (false, Some(waking)) = (gate.handed(me), current_strand()) {
        gate.hand_holds(me, waking);
    }
    drop(gate);
    match made {
        Ok(r) => r,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// The strand a storage hold taken now belongs to: the constructor's while one runs, else
/// the strand whose turn is running.
pub(crate) fn hold_owner() -> Option<StrandId> {
    CONSTRUCTING.with(Cell::get).or_else(current_strand)
}

/// The strand whose turn is running, if any.
pub(crate) fn current_strand() -> Option<StrandId> {
    CURRENT.with(Cell::get)
}

/// The object whose code is running, if any (outgoing calls wait for its output gate).
pub(crate) fn current_object() -> Option<Rc<ObjectCore>> {
    CURRENT_OBJECT.with(|c| c.borrow().as_ref().and_then(std::rc::Weak::upgrade))
}

type Body<T> = Pin<Box<dyn Future<Output = Result<T>>>>;

/// A strand of work inside one object incarnation.
pub(crate) struct Strand<T> {
    core: Rc<ObjectCore>,
    id: StrandId,
    incarnation: u64,
    body: Option<Body<T>>,
    waiting: bool,
    what: String,
}

impl<T> Strand<T> {
    pub(crate) fn new(core: Rc<ObjectCore>, id: StrandId, what: String, body: Body<T>) -> Self {
        let incarnation = core.incarnation();
        Strand { core, id, incarnation, body: Some(body), waiting: false, what }
    }

    fn end(&mut self) {
        if self.body.take().is_some() {
            self.core.forget(self.id);
        }
    }

    fn killed(&mut self) -> Poll<Result<T>> {
        self.end();
        Poll::Ready(Err(self.core.reset_error()))
    }
}

impl<T> Drop for Strand<T> {
    fn drop(&mut self) {
        self.end();
    }
}

impl<T> Unpin for Strand<T> {}

impl<T> Future for Strand<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = &mut *self;
        if this.core.world.stopped() {
            // A budget stopped the run: object code runs no more, and nothing wakes this.
            return Poll::Pending;
        }
        if this.body.is_none() || this.core.incarnation() != this.incarnation {
            return this.killed();
        }
        let entry = this.core.gate.borrow_mut().try_enter(this.id, cx.waker());
        match entry {
            Entry::Wait(blocker) => {
                this.core.set_live(this.id, cx.waker());
                if !this.waiting {
                    this.waiting = true;
                    this.core.world.stats().gate_waits += 1;
                    this.core.world.sometimes(match blocker {
                        Blocker::CriticalSection(_) | Blocker::HandBack(_) => "event queued behind a critical section",
                        Blocker::Storage(_) | Blocker::Queue(_) => "event queued behind a closed input gate",
                    });
                    this.core.world.trace(
                        &this.core.label,
                        format!("s{} ({}) waits at the input gate: {blocker}", this.id, this.what),
                    );
                }
                return Poll::Pending;
            }
            Entry::Enter { overridden } => {
                if this.waiting {
                    this.waiting = false;
                    this.core.world.trace(&this.core.label, format!("s{} ({}) enters", this.id, this.what));
                }
                if let Some(b) = overridden {
                    this.core.world.violation(
                        "input-gate",
                        format!(
                            "{}: s{} ({}) entered while the gate was held by the {b}",
                            this.core.label, this.id, this.what
                        ),
                    );
                }
            }
        }
        this.core.world.count_turn();
        if this.core.world.stopped() {
            return Poll::Pending;
        }
        let body = this.body.as_mut().expect("checked above");
        let previous = CURRENT.with(|c| c.replace(Some(this.id)));
        let previous_object = CURRENT_OBJECT.with(|c| c.replace(Some(Rc::downgrade(&this.core))));
        let polled = catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(cx)));
        CURRENT.with(|c| c.set(previous));
        CURRENT_OBJECT.with(|c| *c.borrow_mut() = previous_object);
        match polled {
            Err(payload) => {
                let msg = panic_text(payload.as_ref());
                this.end();
                let world = this.core.world.clone();
                world
                    .violation("panic", format!("{} panicked in s{} ({}): {msg}", this.core.label, this.id, this.what));
                if this.core.incarnation() == this.incarnation {
                    this.core.reset("object panicked", Error::panic(format!("Durable Object panicked: {msg}")));
                }
                Poll::Ready(Err(Error::panic(msg)))
            }
            Ok(Poll::Ready(v)) => {
                this.end();
                if this.core.incarnation() != this.incarnation {
                    return Poll::Ready(Err(this.core.reset_error()));
                }
                Poll::Ready(v)
            }
            Ok(Poll::Pending) => {
                if this.core.incarnation() != this.incarnation {
                    return this.killed();
                }
                this.core.set_live(this.id, cx.waker());
                this.core.gate.borrow().wake_next();
                let p = this.core.world.fault_plan().crash_at_await;
                if p > 0 && this.core.world.decide().chance(p) {
                    this.core.crash(&format!("injected: while s{} ({}) was suspended at an await", this.id, this.what));
                    return this.killed();
                }
                Poll::Pending
            }
        }
    }
}

/// Text of a panic payload.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// A point inside a strand where it must ask the gate again (after constructing the
/// instance, whose constructor may have opened a critical section).
pub(crate) struct Checkpoint {
    core: Rc<ObjectCore>,
}

pub(crate) fn checkpoint(core: &Rc<ObjectCore>) -> Checkpoint {
    Checkpoint { core: core.clone() }
}

impl Future for Checkpoint {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let me = current_strand();
        let gate = self.core.gate.borrow();
        let enforced = self.core.world.config().input_gate == GatePolicy::Enforced;
        match me.and_then(|s| gate.blocker(s)) {
            // Strands queued at the gate are no reason to stop: this strand was admitted
            // already, and yielding to the queue here would send it to the back of it, where
            // the next admitted strand does the same (a livelock once a few strands queue).
            Some(Blocker::Queue(_)) => Poll::Ready(()),
            // Pending with a self-wake: the strand wrapper then queues at the gate.
            Some(_) if enforced => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            _ => Poll::Ready(()),
        }
    }
}

struct SectionSlot<T> {
    result: Option<Result<T>>,
    waiter: Option<Waker>,
}

/// The caller's side of `block_concurrency_while`: resolves with the callback's value.
/// If the callback fails the object is reset, so a caller inside it never sees the error
/// (workerd never rejects this promise either).
pub struct CriticalSection<T> {
    slot: Rc<RefCell<SectionSlot<T>>>,
}

impl<T> CriticalSection<T> {
    pub(crate) fn failed(error: Error) -> Self {
        CriticalSection { slot: Rc::new(RefCell::new(SectionSlot { result: Some(Err(error)), waiter: None })) }
    }
}

impl<T> Future for CriticalSection<T> {
    type Output = Result<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let mut slot = self.slot.borrow_mut();
        match slot.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                slot.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// How long a critical section may run before the object is reset (io-context.h).
const CRITICAL_SECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs `work` until it finishes (`Some`) or `timer` fires first (`None`).
async fn first_of<T>(work: impl Future<Output = T>, timer: impl Future<Output = ()>) -> Option<T> {
    let mut work = std::pin::pin!(work);
    let mut timer = std::pin::pin!(timer);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Starts `body` as a critical section (SEMANTICS.md §1.5): from now until it settles,
/// only its own strand enters the object; on success the caller goes before anyone queued.
pub(crate) fn block_concurrency_while<T: 'static>(core: &Rc<ObjectCore>, body: Body<T>) -> CriticalSection<T> {
    core.world.uses("critical section");
    let parent = current_strand();
    let id = core.world.next_strand();
    core.world.set_depth(id, core.world.depth_of(parent));
    if !core.gate.borrow_mut().open_section(id, parent) {
        return CriticalSection::failed(Error::usage("blockConcurrencyWhile() calls are nested too deeply."));
    }
    let from = parent.map_or_else(|| "outside any strand".to_owned(), |p| format!("s{p}"));
    core.world.trace(&core.label, format!("s{id} critical section opened by {from}"));
    let slot = Rc::new(RefCell::new(SectionSlot { result: None, waiter: None }));
    let strand = Strand::new(core.clone(), id, "critical section".into(), body);
    let incarnation = core.incarnation();
    let weak = Rc::downgrade(core);
    let out = slot.clone();
    let deadline = core.world.sleep(CRITICAL_SECTION_TIMEOUT);
    crate::task::spawn(&core.world, async move {
        let Some(result) = first_of(strand, deadline).await else {
            // Still running after 30 s: the call is cancelled and the object reset (§1.5).
            if let Some(core) = weak.upgrade().filter(|c| c.incarnation() == incarnation) {
                let mut e = Error::reset(
                    "A call to blockConcurrencyWhile() in a Durable Object waited for too long. \
                     The call was canceled and the Durable Object was reset.",
                );
                e.overloaded = true;
                core.reset("blockConcurrencyWhile() timed out after 30 s", e);
            }
            return;
        };
        let Some(core) = weak.upgrade() else { return };
        match result {
            Ok(v) => {
                let mut slot = out.borrow_mut();
                core.gate.borrow_mut().close_section(id, slot.waiter.is_some());
                core.world.trace(&core.label, format!("s{id} critical section closed"));
                slot.result = Some(Ok(v));
                if let Some(w) = slot.waiter.take() {
                    w.wake();
                }
            }
            // Killed by a reset (or a panic, already reported): its caller died with it.
            Err(_) if core.incarnation() != incarnation => {}
            Err(e) => {
                let reason = format!("blockConcurrencyWhile() callback failed: {}", e.message);
                core.reset_by_user_error(&reason, Error::reset(e.message));
            }
        }
    });
    CriticalSection { slot }
}
