//! Tasks: how JavaScript runs inside a strand. A [`JsTask`] starts an event (a method
//! call, the alarm, a callback) and then, at every turn of its strand, settles the host
//! promises its code created whose storage or call finished, running every microtask after
//! each. It is done when the event's promise settled and none of its host promises is left.

use crate::convert::Helpers;
use crate::instance::{drain, Instance};
use dosim_sim::{Error, StorageOp};
use rquickjs::function::This;
use rquickjs::{Ctx, Function, Object, Persistent, Value};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Number of a task within its instance (0: code run outside any task, the constructor).
pub(crate) type TaskKey = u64;

/// How a finished host operation becomes a JavaScript value.
pub(crate) type Deliver = Box<dyn for<'js> FnOnce(&Ctx<'js>, &Helpers<'js>, &Instance) -> rquickjs::Result<Value<'js>>>;

/// Where a failed transaction keeps the exception its closure threw (kept value number).
pub(crate) type Thrown = Rc<Cell<Option<u64>>>;

/// A host promise not yet settled: the Rust operation behind it and its resolvers; or a
/// timer, which has no promise (its delivery calls the callback).
pub(crate) struct Pending {
    work: Pin<Box<dyn Future<Output = Result<Deliver, Error>>>>,
    resolvers: Option<(Persistent<Function<'static>>, Persistent<Function<'static>>)>,
    thrown: Option<Thrown>,
    /// A timer's id: it does not keep its task alive (see [`JsTask`]).
    timer: Option<u64>,
}

impl Pending {
    /// A timer `id` that fires when `work` finishes.
    pub(crate) fn timer(id: u64, work: impl Future<Output = Result<Deliver, Error>> + 'static) -> Pending {
        Pending { work: Box::pin(work), resolvers: None, thrown: None, timer: Some(id) }
    }

    fn settle(self, ctx: &Ctx<'_>, inst: &Instance, outcome: Result<Deliver, Error>) {
        let Some(h) = inst.helpers(ctx) else { return };
        match self.resolvers {
            Some((resolve, reject)) => {
                let (Ok(resolve), Ok(reject)) = (resolve.restore(ctx), reject.restore(ctx)) else { return };
                let thrown = self.thrown.and_then(|t| t.take()).and_then(|n| inst.take_kept(ctx, n));
                settle_now(ctx, &h, inst, &resolve, &reject, outcome, thrown);
            }
            None => {
                if let Ok(deliver) = outcome {
                    if let Err(rquickjs::Error::Exception) = deliver(ctx, &h, inst) {
                        ctx.catch();
                    }
                }
            }
        }
        drain(ctx);
    }

    /// Whether it keeps its task alive: a host promise does, a live timer does not, and a
    /// cleared timer is dropped.
    fn live(&self, inst: &Instance) -> bool {
        self.timer.is_none_or(|id| inst.timers.borrow().contains_key(&id))
    }
}

fn settle_now<'js>(
    ctx: &Ctx<'js>,
    h: &Helpers<'js>,
    inst: &Instance,
    resolve: &Function<'js>,
    reject: &Function<'js>,
    outcome: Result<Deliver, Error>,
    thrown: Option<Value<'js>>,
) {
    let value = match outcome {
        Ok(deliver) => match deliver(ctx, h, inst) {
            Ok(v) => {
                let _ = resolve.call::<_, ()>((v,));
                return;
            }
            Err(rquickjs::Error::Exception) => ctx.catch(),
            Err(e) => h.error(&Error::app(e.to_string())).unwrap_or_else(|_| Value::new_undefined(ctx.clone())),
        },
        Err(e) => match thrown {
            Some(t) => t,
            None => h.error(&e).unwrap_or_else(|_| Value::new_undefined(ctx.clone())),
        },
    };
    let _ = reject.call::<_, ()>((value,));
}

/// A promise for `work`, settled with `deliver(value)` when it finishes (at the turn of
/// the task that created it), or with its error.
pub(crate) fn promise<'js, T: 'static>(
    ctx: &Ctx<'js>,
    inst: &Instance,
    work: impl Future<Output = Result<T, Error>> + 'static,
    deliver: impl FnOnce(T) -> Deliver + 'static,
    thrown: Option<Thrown>,
) -> rquickjs::Result<Value<'js>> {
    let (promise, resolve, reject) = ctx.promise()?;
    inst.add_pending(Pending {
        work: Box::pin(async move { work.await.map(deliver) }),
        resolvers: Some((Persistent::save(ctx, resolve), Persistent::save(ctx, reject))),
        thrown,
        timer: None,
    });
    Ok(promise.into_value())
}

/// A promise for a storage call: settled at once when its outcome is already decided (an
/// `await` on it then resumes in the same turn), else when the storage round trip ends.
pub(crate) fn storage_promise<'js, T: 'static>(
    ctx: &Ctx<'js>,
    h: &Helpers<'js>,
    inst: &Instance,
    mut op: StorageOp<T>,
    deliver: impl FnOnce(T) -> Deliver + 'static,
) -> rquickjs::Result<Value<'js>> {
    match op.ready() {
        Some(outcome) => {
            let (promise, resolve, reject) = ctx.promise()?;
            settle_now(ctx, h, inst, &resolve, &reject, outcome.map(deliver), None);
            Ok(promise.into_value())
        }
        None => promise(ctx, inst, op, deliver, None),
    }
}

/// A value delivered as is.
pub(crate) fn deliver_value<T>(v: T) -> Deliver
where
    T: for<'js> rquickjs::IntoJs<'js> + 'static,
{
    Box::new(move |ctx, _, _| v.into_js(ctx))
}

/// What a task starts.
pub(crate) enum Start {
    /// `object[method](...args)`, the arguments as tagged JSON text.
    Call { method: String, args: String },
    /// `object.alarm({ scheduledTime, retryCount, isRetry })`.
    Alarm { retry_count: u32, is_retry: bool, scheduled_ms: f64 },
    /// A kept function (taken), called with an optional number (a transaction's id).
    Callback { kept: u64, arg: Option<u64> },
    /// A kept promise, awaited (`waitUntil`).
    Await { kept: u64 },
    /// Nothing: the task only delivers the timers a finished task handed over.
    Timers,
}

/// How a task hands back its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// As tagged JSON (the reply of a call, which leaves the object).
    Json,
    /// Kept inside the engine (a callback's value, handed to the promise that awaits it).
    Keep,
}

/// A task's result.
#[derive(Debug)]
pub(crate) enum Settled {
    Json(serde_json::Value),
    Kept(u64),
}

#[derive(Default)]
struct Slot {
    result: Option<Result<Settled, Error>>,
    waker: Option<Waker>,
}

/// An event of a JavaScript object, as a future its strand polls.
///
/// A timer set during the task's turns is one of its host promises, so its callback runs
/// in the task's strand: inside a critical section (`blockConcurrencyWhile`, a
/// transaction) it runs in the section, as workerd's timers carry the critical section
/// they were set in. But a timer does not keep its task alive: when the task is done, the
/// timers it still has are handed to a new event of the object, which delivers them. A
/// `blockConcurrencyWhile` callback's task hands over everything it still has when its
/// promise settles (see [`JsTask::ending_when_settled`]).
pub(crate) struct JsTask {
    key: TaskKey,
    start: Option<Start>,
    reply: Reply,
    slot: Rc<RefCell<Slot>>,
    thrown: Option<Thrown>,
    /// It started with [`Start::Timers`]: its timers keep it alive.
    delivers_timers: bool,
    /// Done when its promise settles: what it started and did not wait for goes on in a
    /// new event (a `blockConcurrencyWhile` callback, see [`JsTask::ending_when_settled`]).
    ends_when_settled: bool,
    inst: Rc<Instance>,
}

impl JsTask {
    pub(crate) fn new(inst: Rc<Instance>, start: Start, reply: Reply) -> JsTask {
        let delivers_timers = matches!(start, Start::Timers);
        let key = inst.fresh();
        let event = match &start {
            Start::Call { method, .. } => format!("call {method}"),
            Start::Alarm { .. } => "alarm".to_owned(),
            Start::Callback { .. } => "a callback (blockConcurrencyWhile, transaction, waitUntil)".to_owned(),
            Start::Await { .. } => "waitUntil".to_owned(),
            Start::Timers => "a timer".to_owned(),
        };
        inst.events.borrow_mut().insert(key, event);
        JsTask {
            key,
            start: Some(start),
            reply,
            slot: Rc::default(),
            thrown: None,
            delivers_timers,
            ends_when_settled: false,
            inst,
        }
    }

    /// Hands `left` (timers, or all a finished task still waits for) to a new event of
    /// the object, which takes over their storage holds when `with_holds`.
    fn hand_over(inst: &Rc<Instance>, left: Vec<Pending>, what: &str, with_holds: bool) {
        let task = JsTask::new(inst.clone(), Start::Timers, Reply::Keep);
        inst.pending.borrow_mut().insert(task.key, left);
        let me = inst.clone();
        let work = async move {
            if let Settled::Kept(n) = task.await? {
                me.kept.borrow_mut().remove(&n);
            }
            Ok(())
        };
        if with_holds {
            inst.state.spawn_event_with_holds(what, work);
        } else {
            inst.state.spawn_event(what, work);
        }
    }

    /// What the constructor started and did not wait for, when a storage read among it
    /// holds the input gate (KV back-end): workerd runs the constructor as a turn of its
    /// own, and the read keeps every event out, the one that woke the object included,
    /// until it is delivered (SEMANTICS.md §1). So it is delivered by an event of
    /// its own that takes over the holds, not by the waking event (which would run past
    /// it). Without a hold the first event settles it, as before.
    pub(crate) fn continue_constructor(inst: &Rc<Instance>) {
        if !inst.state.holds_gate() {
            return;
        }
        let orphans = inst.pending.borrow_mut().remove(&0).unwrap_or_default();
        if !orphans.is_empty() {
            JsTask::hand_over(inst, orphans, "constructor", true);
        }
    }

    /// Done when the callback's promise settles, as workerd ends a critical section
    /// (SEMANTICS.md §1): calls, timers and reads it started and did not wait for are
    /// delivered later by a new event, through the input gate like any other.
    pub(crate) fn ending_when_settled(mut self) -> JsTask {
        self.ends_when_settled = true;
        self
    }

    /// Keeps the exception the callback throws in `thrown` (a transaction rejects with it).
    pub(crate) fn keeping_exception(mut self, thrown: Thrown) -> JsTask {
        self.thrown = Some(thrown);
        self
    }

    fn begin(&mut self, start: Start) {
        let inst = self.inst.clone();
        // Host promises made by the constructor are settled by the first event's task (not
        // by a callback's: the constructor's critical section would then wait for itself).
        if matches!(start, Start::Call { .. } | Start::Alarm { .. }) {
            let orphans = inst.pending.borrow_mut().remove(&0);
            if let Some(orphans) = orphans {
                inst.pending.borrow_mut().entry(self.key).or_default().extend(orphans);
            }
        }
        let (slot, reply, thrown) = (self.slot.clone(), self.reply, self.thrown.clone());
        inst.enter(self.key, |ctx| {
            let Some((object, h)) = inst.parts(&ctx) else {
                let e = inst.constructor_error.borrow().clone();
                slot.borrow_mut().result = Some(Err(e.unwrap_or_else(|| Error::app("the object was not constructed"))));
                return;
            };
            let called = call_start(&ctx, &inst, &object, &h, start);
            match called {
                Ok(v) => hook(&ctx, &inst, &slot, reply, thrown, v),
                Err(rquickjs::Error::Exception) => fail(&ctx, &inst, &slot, reply, thrown, ctx.catch()),
                Err(e) => slot.borrow_mut().result = Some(Err(Error::app(e.to_string()))),
            }
            drain(&ctx);
        });
    }
}

fn call_start<'js>(
    ctx: &Ctx<'js>,
    inst: &Instance,
    object: &Object<'js>,
    h: &Helpers<'js>,
    start: Start,
) -> rquickjs::Result<Value<'js>> {
    match start {
        Start::Call { method, args } => {
            let invoke: Function = h.0.get("invoke")?;
            invoke.call((object.clone(), method, args))
        }
        Start::Alarm { retry_count, is_retry, scheduled_ms } => {
            let info = Object::new(ctx.clone())?;
            // In workerd's order: the time the alarm was set for, then the retry fields.
            info.set("scheduledTime", scheduled_ms)?;
            info.set("retryCount", retry_count)?;
            info.set("isRetry", is_retry)?;
            let alarm: Function = object.get("alarm")?;
            alarm.call((This(object.clone()), info))
        }
        Start::Callback { kept, arg } => {
            let Some(f) = inst.take_kept(ctx, kept).and_then(|f| f.into_function()) else {
                return Ok(Value::new_undefined(ctx.clone()));
            };
            match arg {
                Some(a) => f.call((a as f64,)),
                None => f.call(()),
            }
        }
        Start::Await { kept } => Ok(inst.take_kept(ctx, kept).unwrap_or_else(|| Value::new_undefined(ctx.clone()))),
        Start::Timers => Ok(Value::new_undefined(ctx.clone())),
    }
}

/// Settles the slot when `v` settles (at once if it is not a promise).
fn hook<'js>(
    ctx: &Ctx<'js>,
    inst: &Instance,
    slot: &Rc<RefCell<Slot>>,
    reply: Reply,
    thrown: Option<Thrown>,
    v: Value<'js>,
) {
    let Some(p) = v.as_promise().cloned() else {
        succeed(ctx, inst, slot, reply, thrown, v);
        return;
    };
    let (s1, s2, w1, w2, t2) = (slot.clone(), slot.clone(), inst.me.clone(), inst.me.clone(), thrown.clone());
    let on_ok = Function::new(ctx.clone(), move |ctx: Ctx<'js>, v: Value<'js>| {
        if let Some(inst) = w1.upgrade() {
            succeed(&ctx, &inst, &s1, reply, thrown.clone(), v);
        }
    });
    let on_err = Function::new(ctx.clone(), move |ctx: Ctx<'js>, e: Value<'js>| {
        if let Some(inst) = w2.upgrade() {
            fail(&ctx, &inst, &s2, reply, t2.clone(), e);
        }
    });
    let hooked = (on_ok, on_err, p.then());
    if let (Ok(ok), Ok(err), Ok(then)) = hooked {
        let _ = then.call::<_, Value>((This(p), ok, err));
    }
}

fn succeed<'js>(
    ctx: &Ctx<'js>,
    inst: &Instance,
    slot: &Rc<RefCell<Slot>>,
    reply: Reply,
    thrown: Option<Thrown>,
    v: Value<'js>,
) {
    let result = match reply {
        Reply::Keep => Ok(Settled::Kept(inst.keep(ctx, v))),
        Reply::Json => {
            let Some(h) = inst.helpers(ctx) else { return };
            match h.encode(v) {
                Ok(text) if text.len() as u64 > inst.state.world().config().budgets.reply_bytes => {
                    let limit = inst.state.world().config().budgets.reply_bytes;
                    let event = inst.events.borrow().get(&inst.current.get()).cloned().unwrap_or_default();
                    inst.state.world().overran(format!(
                        "{}: {event} replied with {} bytes, over the limit of {limit} (budget reply-bytes)",
                        inst.state.label(),
                        text.len()
                    ));
                    Err(Error::app(format!(
                        "RangeError: the reply is {} bytes serialized, over the {limit}-byte limit of a call's \
                         result (budget reply-bytes)",
                        text.len()
                    )))
                }
                Ok(text) => serde_json::from_str(&text).map(Settled::Json).map_err(|e| Error::app(e.to_string())),
                Err(rquickjs::Error::Exception) => return fail(ctx, inst, slot, reply, thrown, ctx.catch()),
                Err(e) => Err(Error::app(e.to_string())),
            }
        }
    };
    finish(slot, result);
}

fn fail<'js>(
    ctx: &Ctx<'js>,
    inst: &Instance,
    slot: &Rc<RefCell<Slot>>,
    reply: Reply,
    thrown: Option<Thrown>,
    e: Value<'js>,
) {
    let Some(h) = inst.helpers(ctx) else { return };
    let error = h.to_error(e.clone());
    if reply == Reply::Keep {
        if let Some(t) = thrown {
            t.set(Some(inst.keep(ctx, e)));
        }
    }
    finish(slot, Err(error));
}

fn finish(slot: &Rc<RefCell<Slot>>, result: Result<Settled, Error>) {
    let mut s = slot.borrow_mut();
    if s.result.is_none() {
        s.result = Some(result);
    }
    if let Some(w) = s.waker.take() {
        w.wake();
    }
}

/// A task dropped before it finished (its strand was killed) drops the host operations it
/// was waiting for, as a Rust event's future drops its own: a storage read then ends, and
/// releases the input gate, when the event dies, not when the instance is dropped.
impl Drop for JsTask {
    fn drop(&mut self) {
        if let Ok(mut events) = self.inst.events.try_borrow_mut() {
            events.remove(&self.key);
        }
        // Taken out first: dropping them may drop tasks of their own.
        let mine = self.inst.pending.try_borrow_mut().ok().and_then(|mut p| p.remove(&self.key));
        drop(mine);
    }
}

impl Future for JsTask {
    type Output = Result<Settled, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(start) = this.start.take() {
            this.begin(start);
        }
        let (inst, key) = (this.inst.clone(), this.key);
        loop {
            let mut mine = inst.pending.borrow_mut().remove(&key).unwrap_or_default();
            mine.retain(|p| p.live(&inst));
            if mine.is_empty() {
                break;
            }
            let mut waiting = Vec::new();
            let mut progressed = false;
            for mut p in mine {
                match p.work.as_mut().poll(cx) {
                    Poll::Ready(outcome) => {
                        progressed = true;
                        inst.enter(key, |ctx| p.settle(&ctx, &inst, outcome));
                    }
                    Poll::Pending => waiting.push(p),
                }
            }
            // Settling ran code that may have made new host promises: poll those too.
            let added = inst.pending.borrow_mut().remove(&key).unwrap_or_default();
            let more = !added.is_empty();
            waiting.extend(added);
            if !waiting.is_empty() {
                inst.pending.borrow_mut().insert(key, waiting);
            }
            if !progressed && !more {
                break;
            }
        }
        let mut slot = this.slot.borrow_mut();
        // Only the task that delivers handed-over timers waits for them.
        let all = this.delivers_timers;
        let busy = inst.pending.borrow().get(&key).is_some_and(|v| v.iter().any(|p| all || p.timer.is_none()));
        if !busy || (this.ends_when_settled && slot.result.is_some()) {
            if let Some(result) = slot.result.take() {
                let left = inst.pending.borrow_mut().remove(&key).unwrap_or_default();
                if !left.is_empty() {
                    let what = if busy { "after a critical section" } else { "timer" };
                    JsTask::hand_over(&inst, left, what, busy);
                }
                return Poll::Ready(result);
            }
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
