//! The glue between workers-rs objects and dosim: [`Hosted`] runs a `worker::DurableObject`
//! as a dosim object (a `fetch` is one call, its request and response crossing the
//! simulated network as [`HttpRequest`] / [`HttpResponse`]), [`bind`] registers a class
//! under its binding so that `env.durable_object(BINDING)` finds it, [`set_var`] gives
//! `env.var`/`env.secret` their values, and the current object's state is tracked per
//! poll so that `console_log!` and `Date::now()` know where and when they are.

use crate::durable_impl::{State, WebSocketIncomingMessage};
use crate::{DurableObject, Env, Request};
use dosim_sim::{Backend, Namespace, ObjectId, World};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// A request on the wire: what a client call carries and the history records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The full URL.
    pub url: String,
    /// Header pairs, names in lower case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

impl HttpRequest {
    /// `GET url`.
    pub fn get(url: &str) -> HttpRequest {
        HttpRequest { method: "GET".into(), url: url.into(), headers: Vec::new(), body: String::new() }
    }

    /// `POST url` with `body`.
    pub fn post(url: &str, body: impl Into<String>) -> HttpRequest {
        HttpRequest { method: "POST".into(), url: url.into(), headers: Vec::new(), body: body.into() }
    }

    /// With a header.
    pub fn header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
}

/// A response on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    #[serde(default)]
    pub body: String,
}

/// A workers-rs Durable Object class `T`, hosted by dosim.
pub struct Hosted<T> {
    object: T,
    state: dosim_sim::State,
}

impl<T> Hosted<T> {
    /// The object itself.
    pub fn object(&self) -> &T {
        &self.object
    }
}

#[dosim_sim::async_trait(?Send)]
impl<T: DurableObject + 'static> dosim_sim::DurableObject for Hosted<T> {
    type Request = HttpRequest;
    type Response = HttpResponse;

    fn new(state: dosim_sim::State, env: dosim_sim::Env) -> Self {
        let _ = env;
        let object = within(&state, || T::new(State::new(state.clone()), Env::new(state.world().clone())));
        Hosted { object, state }
    }

    async fn call(&self, request: HttpRequest) -> dosim_sim::Result<HttpResponse> {
        let request = Request::from_wire(request)?;
        let response = InObject::new(&self.state, self.object.fetch(request)).await?;
        Ok(response.into_wire())
    }

    async fn alarm(&self, _info: dosim_sim::AlarmInfo) -> dosim_sim::Result<()> {
        InObject::new(&self.state, self.object.alarm()).await?;
        Ok(())
    }

    async fn web_socket_connect(&self, ws: dosim_sim::WebSocket) -> dosim_sim::Result<()> {
        // workers-rs accepts a WebSocket in `fetch`: an upgrade request, a
        // `WebSocketPair` whose server end it accepts, a 101 response with the client end.
        // The pair made during this fetch is the connection being opened.
        let queued =
            bindings(self.state.world()).upgrades.borrow_mut().get_mut(&self.state.label()).and_then(|q| q.pop_front());
        let wire = queued
            .unwrap_or_else(|| HttpRequest::get("https://dosim.invalid/websocket").header("upgrade", "websocket"));
        let request = Request::from_wire(wire)?;
        let response = crate::websocket::upgrading(ws, InObject::new(&self.state, self.object.fetch(request))).await?;
        if response.status_code() != 101 {
            return Err(dosim_sim::Error::app(format!(
                "the WebSocket upgrade was answered with status {}",
                response.status_code()
            )));
        }
        Ok(())
    }

    async fn web_socket_message(&self, ws: dosim_sim::WebSocket, message: String) -> dosim_sim::Result<()> {
        let ws = crate::WebSocket::server(ws);
        let message = WebSocketIncomingMessage::String(message);
        InObject::new(&self.state, self.object.websocket_message(ws, message)).await?;
        Ok(())
    }

    async fn web_socket_close(&self, ws: dosim_sim::WebSocket, code: u16, reason: String) -> dosim_sim::Result<()> {
        let ws = crate::WebSocket::server(ws);
        InObject::new(&self.state, self.object.websocket_close(ws, usize::from(code), reason, true)).await?;
        Ok(())
    }
}

/// A type-erased namespace: what `env.durable_object(BINDING)` needs of a bound class.
pub(crate) trait Bound {
    fn binding(&self) -> String;
    fn id_from_name(&self, name: &str) -> ObjectId;
    fn id_from_string(&self, hex: &str) -> dosim_sim::Result<ObjectId>;
    fn new_unique_id(&self) -> ObjectId;
    fn fetch(
        &self,
        id: &ObjectId,
        request: HttpRequest,
    ) -> Pin<Box<dyn Future<Output = dosim_sim::Result<HttpResponse>>>>;
}

impl<T: DurableObject + 'static> Bound for Namespace<Hosted<T>> {
    fn binding(&self) -> String {
        Namespace::binding(self).to_owned()
    }

    fn id_from_name(&self, name: &str) -> ObjectId {
        Namespace::id_from_name(self, name)
    }

    fn id_from_string(&self, hex: &str) -> dosim_sim::Result<ObjectId> {
        Namespace::id_from_string(self, hex)
    }

    fn new_unique_id(&self) -> ObjectId {
        Namespace::new_unique_id(self)
    }

    fn fetch(
        &self,
        id: &ObjectId,
        request: HttpRequest,
    ) -> Pin<Box<dyn Future<Output = dosim_sim::Result<HttpResponse>>>> {
        let stub = self.get(id);
        Box::pin(async move { stub.call(request).await })
    }
}

/// The run's bindings and variables, kept in its world.
#[derive(Default)]
pub(crate) struct Bindings {
    pub(crate) namespaces: RefCell<BTreeMap<String, Rc<dyn Bound>>>,
    pub(crate) vars: RefCell<BTreeMap<String, String>>,
    /// Upgrade requests of connections being opened, per object label, in order.
    pub(crate) upgrades: RefCell<BTreeMap<String, std::collections::VecDeque<HttpRequest>>>,
}

pub(crate) fn bindings(world: &World) -> Rc<Bindings> {
    if let Some(b) = world.extension::<Bindings>() {
        return b;
    }
    let b = Rc::new(Bindings::default());
    world.set_extension(b.clone());
    b
}

/// Registers the workers-rs class `T` as `binding` (SQLite-backed, as new classes are)
/// in this run: clients call it through the returned namespace, and objects reach it
/// with `env.durable_object(binding)`.
pub fn bind<T: DurableObject + 'static>(world: &World, binding: &str) -> Namespace<Hosted<T>> {
    bind_with::<T>(world, binding, Backend::Sqlite)
}

/// [`bind`] with a chosen storage back-end.
pub fn bind_with<T: DurableObject + 'static>(world: &World, binding: &str, backend: Backend) -> Namespace<Hosted<T>> {
    let ns = world.namespace_with::<Hosted<T>>(binding, backend);
    bindings(world).namespaces.borrow_mut().insert(binding.to_owned(), Rc::new(ns.clone()));
    ns
}

/// Opens a WebSocket to the object of `stub` as a client whose upgrade request is
/// `request` (its URL and headers reach the object's `fetch`; `upgrade: websocket` is
/// added). Connections to one object open in the order they are asked for.
pub async fn connect<T: DurableObject + 'static>(
    world: &World,
    stub: &dosim_sim::Stub<Hosted<T>>,
    request: HttpRequest,
) -> dosim_sim::Result<dosim_sim::Connection> {
    let request = if request.headers.iter().any(|(k, _)| k == "upgrade") {
        request
    } else {
        request.header("upgrade", "websocket")
    };
    bindings(world).upgrades.borrow_mut().entry(stub.label()).or_default().push_back(request);
    stub.connect().await
}

/// Sets the plain variable or secret `name` that `env.var(name)` / `env.secret(name)`
/// return in this run.
pub fn set_var(world: &World, name: &str, value: &str) {
    bindings(world).vars.borrow_mut().insert(name.to_owned(), value.to_owned());
}

thread_local! {
    /// The object whose code is being polled (a run lives on one thread).
    static CURRENT: RefCell<Vec<dosim_sim::State>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` as code of the object `state`.
fn within<R>(state: &dosim_sim::State, f: impl FnOnce() -> R) -> R {
    CURRENT.with(|c| c.borrow_mut().push(state.clone()));
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            CURRENT.with(|c| c.borrow_mut().pop());
        }
    }
    let _pop = Pop;
    f()
}

/// A future whose every poll runs as code of one object.
pub(crate) struct InObject<'a, F> {
    state: &'a dosim_sim::State,
    inner: Pin<Box<F>>,
}

impl<'a, F: Future> InObject<'a, F> {
    pub(crate) fn new(state: &'a dosim_sim::State, inner: F) -> Self {
        InObject { state, inner: Box::pin(inner) }
    }
}

impl<F: Future> Future for InObject<'_, F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let state = self.state.clone();
        within(&state, || self.inner.as_mut().poll(cx))
    }
}

/// The dosim state of the object whose code is running, if any.
pub fn current() -> Option<dosim_sim::State> {
    CURRENT.with(|c| c.borrow().last().cloned())
}

/// `console.*` of the running object: a trace line under its label.
pub fn console(level: &str, line: &str) {
    match current() {
        Some(state) if level == "log" => state.log(line),
        Some(state) => state.log(&format!("{level}: {line}")),
        None => {}
    }
}

/// The simulated time of the event the running object handles (0 outside objects).
pub fn now_ms() -> u64 {
    current().map_or(0, |s| s.now().as_millis())
}
