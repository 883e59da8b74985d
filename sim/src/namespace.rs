//! Namespaces, object ids and stubs (SEMANTICS.md §7). A namespace hosts objects of one
//! class; `id_from_name` is a pure function of the namespace and name, `new_unique_id` a
//! draw from the run's stream; a stub call crosses a simulated network both ways.

use crate::error::{Error, Result};
use crate::host::ObjectCore;
use crate::object::{DurableObject, Env, State};
use crate::storage::Backend;
use crate::strand::{checkpoint, Strand};
use crate::trace::Fnv64;
use crate::world::World;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::Duration;

/// An object id: 64 hex digits, like the real runtime's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    hex: String,
    name: Option<String>,
}

impl ObjectId {
    /// The id as 64 hex digits (`id.toString()`).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The name it was derived from, for ids made by `id_from_name`.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex)
    }
}

/// A namespace (a Durable Object binding) of class `O`.
pub struct Namespace<O> {
    inner: Rc<NamespaceInner>,
    _class: PhantomData<fn() -> O>,
}

impl<O> Clone for Namespace<O> {
    fn clone(&self) -> Self {
        Namespace { inner: self.inner.clone(), _class: PhantomData }
    }
}

struct NamespaceInner {
    world: World,
    binding: String,
    backend: Backend,
    hosts: RefCell<BTreeMap<String, Rc<ObjectCore>>>,
}

impl<O: DurableObject> Namespace<O> {
    /// The namespace bound as `binding`, created on first use.
    pub fn register(world: &World, binding: &str, backend: Backend) -> Namespace<O> {
        if let Some(ns) = Self::lookup(world, binding) {
            return ns;
        }
        let inner = Rc::new(NamespaceInner {
            world: world.clone(),
            binding: binding.to_owned(),
            backend,
            hosts: RefCell::default(),
        });
        let typed: Rc<Namespace<O>> = Rc::new(Namespace { inner, _class: PhantomData });
        world.0.namespaces.borrow_mut().insert(binding.to_owned(), typed.clone());
        (*typed).clone()
    }

    pub(crate) fn lookup(world: &World, binding: &str) -> Option<Namespace<O>> {
        let any = world.0.namespaces.borrow().get(binding).cloned()?;
        any.downcast::<Namespace<O>>().ok().map(|ns| (*ns).clone())
    }

    /// The storage back-end of its objects.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The binding name.
    pub fn binding(&self) -> &str {
        &self.inner.binding
    }

    /// `idFromName(name)`: the same name always gives the same id.
    pub fn id_from_name(&self, name: &str) -> ObjectId {
        let mut hex = String::with_capacity(64);
        for salt in 0u8..4 {
            let mut h = Fnv64::default();
            h.write(&[salt]);
            h.write(self.inner.binding.as_bytes());
            h.write(&[0]);
            h.write(name.as_bytes());
            hex.push_str(&format!("{:016x}", h.finish()));
        }
        ObjectId { hex, name: Some(name.to_owned()) }
    }

    /// `idFromString(hex)`: the id whose `toString()` is `hex` (64 hex digits).
    pub fn id_from_string(&self, hex: &str) -> Result<ObjectId> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::usage("Invalid Durable Object ID: must be 64 hex digits"));
        }
        Ok(ObjectId { hex: hex.to_ascii_lowercase(), name: None })
    }

    /// `newUniqueId()`: a fresh id drawn from the run's stream.
    pub fn new_unique_id(&self) -> ObjectId {
        let mut d = self.inner.world.decide();
        let hex = (0..4).map(|_| format!("{:016x}", d.bits())).collect();
        ObjectId { hex, name: None }
    }

    /// `get(id)`: a stub. Creating it does not construct the object.
    pub fn get(&self, id: &ObjectId) -> Stub<O> {
        Stub { ns: self.clone(), id: id.clone(), broken: Rc::default() }
    }

    /// How traces and reports name the object `id`: `BINDING:name`, or `BINDING:#hex8`.
    fn label_of(&self, id: &ObjectId) -> String {
        match id.name() {
            Some(n) if n.len() <= 24 && !n.contains(char::is_whitespace) => format!("{}:{n}", self.inner.binding),
            _ => format!("{}:#{}", self.inner.binding, &id.hex[..8]),
        }
    }

    fn host(&self, id: &ObjectId) -> Result<Rc<ObjectCore>> {
        if let Some(core) = self.inner.hosts.borrow().get(&id.hex) {
            return Ok(core.clone());
        }
        let core = ObjectCore::new(&self.inner.world, self.label_of(id), self.inner.backend)?;
        *core.alarm_driver.borrow_mut() = Some(alarm_driver::<O>(id.clone()));
        *core.socket_driver.borrow_mut() = Some(socket_driver::<O>(id.clone()));
        self.inner.hosts.borrow_mut().insert(id.hex.clone(), core.clone());
        Ok(core)
    }
}

/// A stub: calls one object of class `O`.
pub struct Stub<O> {
    ns: Namespace<O>,
    id: ObjectId,
    /// Set once a call through this stub saw its target reset: the stub stays broken,
    /// and a new stub (`namespace.get(id)`) reaches the fresh instance (§2.4).
    broken: Rc<RefCell<Option<Error>>>,
}

impl<O> Clone for Stub<O> {
    fn clone(&self) -> Self {
        Stub { ns: self.ns.clone(), id: self.id.clone(), broken: self.broken.clone() }
    }
}

/// One-way network latency of a stub call, drawn per call (whole milliseconds).
const LATENCY_MS: (u64, u64) = (1, 3);

impl<O: DurableObject> Stub<O> {
    /// The id this stub calls.
    pub fn id(&self) -> &ObjectId {
        &self.id
    }

    /// Opens a WebSocket connection to the object (a simulated client's).
    pub async fn connect(&self) -> Result<crate::socket::Connection> {
        let core = self.ns.host(&self.id)?;
        crate::socket::Connection::open(core, None).await
    }

    /// Opens a WebSocket connection with an upgrade request (in whatever form the object's
    /// host language reads it: the JavaScript host passes the `Request` as tagged JSON).
    pub async fn connect_with(&self, request: String) -> Result<crate::socket::Connection> {
        let core = self.ns.host(&self.id)?;
        crate::socket::Connection::open(core, Some(request)).await
    }

    /// The label the trace and history use for the target object.
    pub fn label(&self) -> String {
        self.ns.label_of(&self.id)
    }

    /// Calls the object: latency, delivery through the input gate, the handler, the
    /// output gate, latency back.
    pub async fn call(&self, request: O::Request) -> Result<O::Response> {
        self.call_as(request, "request".into()).await
    }

    pub(crate) async fn call_as(&self, request: O::Request, what: String) -> Result<O::Response> {
        if let Some(e) = self.broken.borrow().clone() {
            return Err(e);
        }
        let world = self.ns.inner.world.clone();
        // Each object a request passes through adds one to its depth; production refuses
        // to go deeper than its limit (so an object that calls itself ends, with an error).
        let depth = world.depth_of(crate::strand::current_strand()) + 1;
        let limit = world.config().budgets.call_depth;
        if depth > limit {
            world.violation(
                "budget",
                format!(
                    "{what} to {} would be {depth} objects deep, over the limit of {limit} (budget call-depth): \
                     objects calling each other without end",
                    self.label()
                ),
            );
            return Err(Error::usage(
                "Subrequest depth limit exceeded. This request recursed through Workers too many times. This can \
                 happen e.g. if you have a Worker or Durable Object that calls other Workers or objects recursively.",
            ));
        }
        // From inside an object, an outgoing call waits for the caller's output gate: it
        // leaves only once the writes made before it are durable (§2.3).
        if let Some(caller) = crate::strand::current_object() {
            let needed = caller.output.borrow().last_written;
            caller.wait_durable(caller.incarnation(), needed).await?;
        }
        let plan = world.fault_plan();
        let (refused, reset, lost) = {
            let mut d = world.decide();
            (d.chance(plan.call_refused), d.chance(plan.call_reset), d.chance(plan.reply_lost))
        };
        // From here the request has left its caller: it travels and runs on its own task,
        // so a caller that resets meanwhile does not cancel it (measured on workerd: a call
        // that reached its callee runs to its end after the caller's `ctx.abort()`; one the
        // caller dropped in the same turn never arrives). The caller waits for the reply.
        let caller = crate::strand::current_object().map(|c| c.label.clone());
        if caller.is_some() {
            world.uses("call between objects");
        }
        let outgoing = caller.as_ref().map(|from| {
            world.record_outgoing(crate::report::Outgoing {
                kind: "call".into(),
                from: from.clone(),
                to: self.label(),
                request: serde_json::to_value(&request).unwrap_or(serde_json::Value::Null),
                sent_at: world.now(),
                ended_at: None,
                outcome: "pending".into(),
            })
        });
        let waiting = Rc::new(std::cell::Cell::new(true));
        let flight = Flight { refused, reset, lost, from_object: caller.is_some(), outgoing, waiting: waiting.clone() };
        let task = world.spawn(self.clone().fly(request, what, depth, flight));
        let _waiting = StillWaiting(waiting);
        task.await.unwrap_or_else(|_| Err(Error::network_lost()))
    }

    /// The call's journey once it has left the caller: latency there, delivery, the
    /// handler and the output gate, latency back; the injected faults drawn at departure.
    async fn fly(self, request: O::Request, what: String, depth: u32, flight: Flight) -> Result<O::Response> {
        let world = self.ns.inner.world.clone();
        let there = world.decide().between(LATENCY_MS.0, LATENCY_MS.1);
        world.sleep(Duration::from_millis(there)).await;
        let outage = flight.from_object && world.in_outage(crate::faults::Outage::Calls);
        if flight.refused || outage {
            let why = if outage { "a calls outage" } else { "injected" };
            world.trace("world", format!("{what} to {} refused before delivery ({why})", self.label()));
            flight.ended(&world, &what, &self.label(), format!("refused: {why}"));
            return Err(Error::network_lost());
        }
        // The object exists for the runtime once a call reaches it.
        let core = match self.ns.host(&self.id) {
            Ok(c) => c,
            Err(e) => {
                flight.ended(&world, &what, &self.label(), format!("error: {}", e.message));
                return Err(e);
            }
        };
        if flight.reset {
            let delay = world.decide().between(0, 2);
            let (target, w) = (Rc::downgrade(&core), world.clone());
            world.spawn(async move {
                w.sleep(Duration::from_millis(delay)).await;
                if let Some(t) = target.upgrade() {
                    t.crash("injected: reset while a call ran");
                }
            });
        }
        let result = deliver::<O>(&core, &self.id, request, what.clone(), depth).await;
        let back = world.decide().between(LATENCY_MS.0, LATENCY_MS.1);
        world.sleep(Duration::from_millis(back)).await;
        if flight.lost {
            world.trace(&core.label, format!("the reply to {what} was lost (injected)"));
            world.sometimes("reply lost after the call ran");
            flight.ended(&world, &what, &core.label, "lost".into());
            return Err(Error::network_lost());
        }
        if let Err(e) = &result {
            if e.durable_object_reset {
                *self.broken.borrow_mut() = Some(e.clone());
            }
        }
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("error: {}", e.message),
        };
        flight.ended(&world, &what, &core.label, outcome);
        result
    }
}

/// What a call in flight carries besides its request.
struct Flight {
    refused: bool,
    reset: bool,
    lost: bool,
    /// Made from inside an object (so outages of calls between objects apply).
    from_object: bool,
    /// Its entry in the run's outgoing list, for a call an object made.
    outgoing: Option<usize>,
    /// Cleared when the caller stops waiting (its instance reset).
    waiting: Rc<std::cell::Cell<bool>>,
}

impl Flight {
    /// Records how the call ended; says so in the trace when its caller is gone.
    fn ended(&self, world: &World, what: &str, target: &str, outcome: String) {
        let outcome = if self.waiting.get() {
            outcome
        } else {
            world.trace(target, format!("{what} ended ({outcome}) after its caller reset: the reply goes nowhere"));
            world.sometimes("call outlived its caller's reset");
            format!("{outcome} (caller reset)")
        };
        if let Some(i) = self.outgoing {
            world.set_outgoing_outcome(i, outcome);
        }
    }
}

/// Held by the caller while it waits for a reply; dropped with the caller's future.
struct StillWaiting(Rc<std::cell::Cell<bool>>);

impl Drop for StillWaiting {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Runs one call inside the object and holds its answer (value or error) at the output
/// gate until the writes made before it are durable.
async fn deliver<O: DurableObject>(
    core: &Rc<ObjectCore>,
    id: &ObjectId,
    request: O::Request,
    what: String,
    depth: u32,
) -> Result<O::Response> {
    let world = core.world.clone();
    let strand_id = world.next_strand();
    world.set_depth(strand_id, depth);
    let incarnation = core.incarnation();
    let body_core = core.clone();
    let id = id.clone();
    let body = async move {
        let object = instance::<O>(&body_core, &id)?;
        checkpoint(&body_core).await;
        object.call(request).await
    };
    let result = Strand::new(core.clone(), strand_id, what.clone(), Box::pin(body)).await;
    if core.incarnation() != incarnation {
        return Err(core.reset_error());
    }
    core.release_reply(incarnation, &format!("the reply to s{strand_id} ({what})")).await?;
    result.map_err(Error::into_remote)
}

/// Runs `O`'s alarm handler as a strand of the object (constructing it first if needed).
fn alarm_driver<O: DurableObject>(id: ObjectId) -> crate::alarm::AlarmDriver {
    Rc::new(move |core: Rc<ObjectCore>, info| {
        let id = id.clone();
        Box::pin(async move {
            let strand_id = core.world.next_strand();
            let body_core = core.clone();
            let body = async move {
                let object = instance::<O>(&body_core, &id)?;
                checkpoint(&body_core).await;
                object.alarm(info).await
            };
            Strand::new(core.clone(), strand_id, "alarm".into(), Box::pin(body)).await
        })
    })
}

/// Runs `O`'s WebSocket handlers as strands of the object (constructing it if needed).
fn socket_driver<O: DurableObject>(id: ObjectId) -> crate::socket::SocketDriver {
    use crate::socket::SocketEvent;
    Rc::new(move |core: Rc<ObjectCore>, ws, event| {
        let id = id.clone();
        Box::pin(async move {
            let strand_id = core.world.next_strand();
            let what = match &event {
                SocketEvent::Open => "web_socket_connect",
                SocketEvent::Message(_) => "web_socket_message",
                SocketEvent::Close(..) => "web_socket_close",
            };
            let body_core = core.clone();
            let body = async move {
                let object = instance::<O>(&body_core, &id)?;
                checkpoint(&body_core).await;
                match event {
                    SocketEvent::Open => object.web_socket_connect(ws).await,
                    SocketEvent::Message(m) => object.web_socket_message(ws, m).await,
                    SocketEvent::Close(code, reason) => object.web_socket_close(ws, code, reason).await,
                }
            };
            Strand::new(core.clone(), strand_id, what.into(), Box::pin(body)).await
        })
    })
}

/// The live instance, constructed first if the object is not in memory.
fn instance<O: DurableObject>(core: &Rc<ObjectCore>, id: &ObjectId) -> Result<Rc<O>> {
    let existing = core.instance.borrow().clone();
    if let Some(any) = existing {
        return any.downcast::<O>().map_err(|_| Error::usage("dosim: two classes bound to one object id"));
    }
    core.world.stats().constructions += 1;
    if core.incarnation() > 1 {
        core.world.sometimes("instance rebuilt after a crash");
    }
    core.world.trace(&core.label, format!("construct (incarnation {})", core.incarnation()));
    let instance = core.next_instance();
    let state = State::new(core, id.clone(), instance);
    let object = Rc::new(crate::strand::constructing(core, instance, || O::new(state, Env::new(&core.world))));
    *core.instance.borrow_mut() = Some(object.clone());
    Ok(object)
}
