//! What object code sees: the [`DurableObject`] trait, and [`State`] (`ctx`) with its
//! storage, id, clock, timers and critical sections; [`Env`] gives stubs to namespaces.

use crate::error::Result;
use crate::host::ObjectCore;
use crate::namespace::{Namespace, ObjectId};
use crate::storage::Storage;
use crate::strand::{block_concurrency_while, CriticalSection};
use crate::time::SimTime;
use crate::world::World;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::future::Future;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// A Durable Object class. Handlers take `&self`: keep in-memory state in `Cell`s and
/// `RefCell`s, as with the `worker` crate. Every call is a strand that enters through
/// the input gate; its reply leaves through the output gate.
#[async_trait::async_trait(?Send)]
pub trait DurableObject: Sized + 'static {
    /// An RPC call to the object.
    type Request: Serialize + DeserializeOwned + Debug + 'static;
    /// Its answer.
    type Response: Serialize + DeserializeOwned + Debug + 'static;

    /// The constructor: runs on the first event after every (re)start, under the input
    /// gate. A `block_concurrency_while` started here delays every event until it is done.
    fn new(state: State, env: Env) -> Self;

    /// Handles one call.
    async fn call(&self, request: Self::Request) -> Result<Self::Response>;

    /// The alarm handler: runs when the alarm set with `storage().set_alarm` is due.
    /// An error (or a reset during it) makes the runtime retry it.
    async fn alarm(&self, info: crate::alarm::AlarmInfo) -> Result<()> {
        let _ = info;
        Ok(())
    }

    /// A client opened a WebSocket: call `state.accept_web_socket(&ws, tags)` to accept it
    /// (hibernatable); returning without accepting, or an error, refuses it.
    async fn web_socket_connect(&self, ws: crate::socket::WebSocket) -> Result<()> {
        let _ = ws;
        Err(crate::error::Error::app("this Durable Object does not accept WebSockets"))
    }

    /// A message arrived on an accepted connection.
    async fn web_socket_message(&self, ws: crate::socket::WebSocket, message: String) -> Result<()> {
        let _ = (ws, message);
        Ok(())
    }

    /// The client closed an accepted connection.
    async fn web_socket_close(&self, ws: crate::socket::WebSocket, code: u16, reason: String) -> Result<()> {
        let _ = (ws, code, reason);
        Ok(())
    }
}

/// `ctx`: the object's handle on the runtime, for one instance (one incarnation).
#[derive(Clone)]
pub struct State {
    core: Weak<ObjectCore>,
    world: World,
    id: ObjectId,
    storage: Storage,
    /// Which instance of the object this is (1 for the first; see `ObjectCore::next_instance`).
    instance: u64,
}

impl State {
    pub(crate) fn new(core: &Rc<ObjectCore>, id: ObjectId, instance: u64) -> State {
        State { core: Rc::downgrade(core), world: core.world.clone(), id, storage: Storage::new(core), instance }
    }

    /// `ctx.id`.
    pub fn id(&self) -> &ObjectId {
        &self.id
    }

    /// `ctx.storage`.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// `Date.now()`: the simulated time of the event being handled. It moves only when an
    /// event is delivered, never during a turn.
    pub fn now(&self) -> SimTime {
        self.world.now()
    }

    /// A timer (`setTimeout`/`scheduler.wait`): not a storage wait, so other events may
    /// enter the object before it fires; the continuation then waits for the gate.
    pub fn sleep(&self, d: Duration) -> impl Future<Output = ()> + 'static {
        if let (Some(core), Some(s)) = (self.core.upgrade(), crate::strand::current_strand()) {
            let ms = crate::time::millis_ceil(d);
            self.world.trace(&core.label, format!("s{s} waits on a {ms} ms timer (not storage: the input gate opens)"));
        }
        self.world.sleep(d)
    }

    /// Outbound `fetch(request)`: like every message that leaves the object, it waits for
    /// the writes made before it to be durable (the output gate, SEMANTICS.md §2), then
    /// crosses the simulated network (see [`crate::network`]). Not a storage wait: other
    /// events may enter the object while it is in flight.
    pub fn fetch(
        &self,
        request: crate::network::HttpRequest,
    ) -> impl Future<Output = Result<crate::network::HttpResponse>> + 'static {
        let (core, world) = (self.core.upgrade(), self.world.clone());
        async move {
            let core = core.ok_or_else(crate::error::Error::stale_storage)?;
            let needed = core.output.borrow().last_written;
            core.wait_durable(core.incarnation(), needed).await?;
            let label = core.label.clone();
            drop(core);
            world.send_request(&label, request).await
        }
    }

    /// `ctx.acceptWebSocket(ws, tags)`: hibernatable; the runtime keeps the connection
    /// (and its attachment) while the instance hibernates.
    pub fn accept_web_socket(&self, ws: &crate::socket::WebSocket, tags: &[&str]) -> Result<()> {
        let core = self.core.upgrade().ok_or_else(crate::error::Error::stale_storage)?;
        core.accept_socket(ws, tags)
    }

    /// `ctx.getWebSockets(tag)`.
    pub fn get_web_sockets(&self, tag: Option<&str>) -> Vec<crate::socket::WebSocket> {
        self.core.upgrade().map(|c| c.sockets_tagged(tag)).unwrap_or_default()
    }

    /// The open connection numbered `id` ([`crate::socket::WebSocket::id`]), if any.
    pub fn web_socket(&self, id: u64) -> Option<crate::socket::WebSocket> {
        self.core.upgrade().and_then(|c| c.socket(id))
    }

    /// `ctx.setWebSocketAutoResponse(pair)`: the runtime answers a message equal to the
    /// pair's request with its response, without waking the object; `None` removes it.
    pub fn set_web_socket_auto_response(&self, pair: Option<(String, String)>) {
        if let Some(core) = self.core.upgrade() {
            core.set_auto_response(pair);
        }
    }

    /// `ctx.getWebSocketAutoResponse()`.
    pub fn web_socket_auto_response(&self) -> Option<(String, String)> {
        self.core.upgrade().and_then(|c| c.auto_response())
    }

    /// `ctx.waitUntil(promise)`: work that goes on after the handler returned. It runs as
    /// a strand of the object (through the input gate), keeps the object from hibernating,
    /// and dies with the instance in a crash.
    pub fn wait_until<F>(&self, work: F)
    where
        F: Future<Output = Result<()>> + 'static,
    {
        self.spawn_event("wait_until", work);
    }

    /// A new event of the object's own, named `what` in the trace (a timer callback, the
    /// continuation of a `waitUntil`): a strand that enters through the input gate at
    /// every turn and dies with the instance. Hosts of other languages build timers on it.
    pub fn spawn_event<F>(&self, what: &str, work: F)
    where
        F: Future<Output = Result<()>> + 'static,
    {
        self.spawn_strand(what, work, false);
    }

    /// Whether storage operations started by the code running now (the constructor, or
    /// the current event) are in flight and hold the input gate.
    pub fn holds_gate(&self) -> bool {
        match (self.core.upgrade(), crate::strand::hold_owner()) {
            (Some(core), Some(owner)) => core.gate.borrow().holds(owner),
            _ => false,
        }
    }

    /// [`State::spawn_event`] for the work that delivers the storage operations the code
    /// running now left in flight (see [`State::holds_gate`]): the new event takes over
    /// their holds, so the gate lets it in while they keep every other event out. Hosts
    /// of other languages use it for what a constructor started and did not wait for
    /// (workerd runs the constructor as a turn of its own, and a storage read it starts
    /// keeps even the event that woke the object out until it completes), and for what a
    /// critical section left running when its callback settled.
    pub fn spawn_event_with_holds<F>(&self, what: &str, work: F)
    where
        F: Future<Output = Result<()>> + 'static,
    {
        self.spawn_strand(what, work, true);
    }

    fn spawn_strand<F>(&self, what: &str, work: F, take_holds: bool)
    where
        F: Future<Output = Result<()>> + 'static,
    {
        let Some(core) = self.core.upgrade() else { return };
        let id = self.world.next_strand();
        if let (true, Some(owner)) = (take_holds, crate::strand::hold_owner()) {
            let held = core.gate.borrow().holds(owner);
            core.gate.borrow_mut().hand_holds(owner, id);
            if held {
                self.world.trace(&core.label, format!("s{id} ({what}) takes over the storage operations in flight"));
            }
        }
        // Work an event starts belongs to its request: calls it makes are as deep.
        self.world.set_depth(id, self.world.depth_of(crate::strand::current_strand()));
        let strand = crate::strand::Strand::new(core.clone(), id, what.into(), Box::pin(work));
        let weak = Rc::downgrade(&core);
        let what = what.to_owned();
        crate::task::spawn(&self.world, async move {
            if let Err(e) = strand.await {
                if let Some(core) = weak.upgrade() {
                    core.world.trace(&core.label, format!("s{id} ({what}) ended with an error: {}", e.message));
                }
            }
        });
    }

    /// How traces and reports name this object: `BINDING:name`.
    pub fn label(&self) -> String {
        self.core.upgrade().map(|c| c.label.clone()).unwrap_or_default()
    }

    /// The binding of the object's namespace (`BINDING` of its label).
    pub fn binding(&self) -> String {
        let label = self.label();
        label.split_once(':').map_or(label.clone(), |(b, _)| b.to_owned())
    }

    /// `console.log`: a line in the run's trace, under the object's label.
    pub fn log(&self, line: &str) {
        if let Some(core) = self.core.upgrade() {
            self.world.trace(&core.label, format!("console: {line}"));
        }
    }

    /// A seed for this instance's own randomness (`Math.random`, `crypto.randomUUID`):
    /// fixed by the run's seed, the object's id and which instance of the object this is.
    /// Each instance after a crash or hibernation gets a stream of its own: a restarted
    /// object that drew the same numbers again would hand out the same "random" ids twice,
    /// which a real runtime practically never does. It is a hash, not a draw from the
    /// run's stream, so asking for it changes none of the harness's own decisions.
    pub fn entropy_seed(&self) -> u64 {
        let mut h = crate::trace::Fnv64::default();
        h.write(&self.world.seed().to_le_bytes());
        h.write(self.id.hex().as_bytes());
        h.write(&self.instance.to_le_bytes());
        h.finish()
    }

    /// The run's world (its clock, trace and registered extensions).
    pub fn world(&self) -> &World {
        &self.world
    }

    /// `ctx.abort(reason)`: resets the object at once; every call in flight fails with
    /// `durable_object_reset`, and nothing not yet durable survives. Return the error it
    /// gives from the handler (`return Err(state.abort(None))`): in JavaScript `abort()`
    /// throws, and code after it never runs.
    pub fn abort(&self, reason: Option<&str>) -> crate::error::Error {
        self.abort_with(reason, AbortOptions::default())
    }

    /// `ctx.abort(reason, options)`: with `retry_alarm: false` inside an alarm handler,
    /// the alarm is abandoned instead of retried (SEMANTICS.md §6.4).
    pub fn abort_with(&self, reason: Option<&str>, options: AbortOptions) -> crate::error::Error {
        let message = reason.unwrap_or("Application called abort() to reset Durable Object.");
        let error = crate::error::Error::reset(message);
        if let Some(core) = self.core.upgrade() {
            if core.incarnation() == self.storage.incarnation() {
                if !options.retry_alarm {
                    core.alarm.borrow_mut().abandon_requested = true;
                }
                core.reset("abort() called", error.clone());
            }
        }
        error
    }

    /// The object's code overran one of the run's budgets (`budget`, by its `--limit`
    /// name): a `budget` finding naming the object and `event`, and the object is reset,
    /// as workerd resets an isolate that goes over its limits. Calls in flight fail with
    /// the error it returns; the run goes on.
    pub fn overran(&self, budget: &str, event: &str, detail: &str, error_text: &str) -> crate::error::Error {
        let mut error = crate::error::Error::reset(error_text);
        error.overloaded = true;
        if let Some(core) = self.core.upgrade() {
            self.world.overran(format!("{}: {event} {detail} (budget {budget})", core.label));
            if core.incarnation() == self.storage.incarnation() {
                core.reset(&format!("over budget {budget}"), error.clone());
            }
        }
        error
    }

    /// The object crashes as if its machine did (`reason` names why, e.g. its isolate
    /// was restarted): in-flight calls fail with the reset error and writes not yet
    /// committed are lost. Nothing happens if this instance is already gone.
    pub fn crash(&self, reason: &str) {
        if let Some(core) = self.core.upgrade() {
            if core.incarnation() == self.storage.incarnation() {
                core.crash(reason);
            }
        }
    }

    /// `ctx.blockConcurrencyWhile(callback)`: starts `body` at once as a critical
    /// section. Until it settles no other event enters; if it fails, the object resets.
    /// Awaiting the result is optional (a constructor usually does not).
    pub fn block_concurrency_while<T, F>(&self, body: F) -> CriticalSection<T>
    where
        T: 'static,
        F: Future<Output = Result<T>> + 'static,
    {
        match self.core.upgrade() {
            Some(core) => block_concurrency_while(&core, Box::pin(body)),
            None => block_concurrency_while_dead(),
        }
    }
}

fn block_concurrency_while_dead<T: 'static>() -> CriticalSection<T> {
    // The object is gone (end of run): a section that never opens fails like stale storage.
    CriticalSection::failed(crate::error::Error::stale_storage())
}

/// Options of [`State::abort_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortOptions {
    /// Retry a running alarm after the reset (the default, `true`).
    pub retry_alarm: bool,
}

impl Default for AbortOptions {
    fn default() -> Self {
        AbortOptions { retry_alarm: true }
    }
}

/// `env`: bindings to namespaces.
#[derive(Clone)]
pub struct Env {
    world: World,
}

impl Env {
    pub(crate) fn new(world: &World) -> Env {
        Env { world: world.clone() }
    }

    /// The namespace bound as `binding` (it must have been registered by the scenario).
    pub fn namespace<O: DurableObject>(&self, binding: &str) -> Option<Namespace<O>> {
        Namespace::lookup(&self.world, binding)
    }
}
