//! The Durable Object surface of the `worker` crate (workers-rs) on dosim's simulated
//! runtime: `#[durable_object]`, `DurableObject` (`new`, `fetch`, `alarm`, the WebSocket
//! handlers), `State`, `Storage` (KV, SQL, transactions, alarms), `Env`,
//! `ObjectNamespace`, `Stub`, `Request`, `Response`, `Headers`, `Error` and
//! `console_log!`, with the signatures of `worker` 0.8. A workers-rs project swaps this
//! crate in for the real one and its objects run unmodified; [`dosim`] binds them into a
//! run. Everything else of `worker` (KV namespaces, R2, D1, queues, the router, streams)
//! is not here: this is what a Durable Object module touches.

mod durable_impl;
mod env;
mod error;
mod http;
mod sql;
mod websocket;

pub mod dosim;
pub mod js_sys;

/// `worker::durable`: the Durable Object types, as the real crate names the module.
pub mod durable {
    pub use crate::durable_impl::*;
}

pub use durable::*;
pub use env::{Env, Secret, StringBinding, Var};
pub use error::Error;
pub use http::{Date, DateInit, Headers, Method, Request, RequestInit, Response, ResponseBody, ResponseBuilder};
pub use sql::{SqlCursor, SqlCursorIterator, SqlCursorRawIterator, SqlStorage, SqlStorageValue};
pub use websocket::ws_events::{self, CloseEvent, MessageEvent, WebsocketEvent};
pub use websocket::{EventStream, WebSocket, WebSocketPair};

pub use dosim_macros::{durable_object, event, send};
pub use url;
pub use url::Url;

/// The context of a Worker's handler (`#[event(fetch)] fn(req, env, ctx)`): dosim runs
/// Durable Objects, not the Worker in front of them, so this only lets such handlers
/// compile.
#[derive(Debug, Default)]
pub struct Context {
    _private: (),
}

impl Context {
    /// `ctx.waitUntil`: the future is dropped (no Worker runs under dosim).
    pub fn wait_until<F: std::future::Future<Output = ()> + 'static>(&self, future: F) {
        drop(future);
    }

    /// `ctx.passThroughOnException()`: nothing to do.
    pub fn pass_through_on_exception(&self) {}
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `worker::wasm_bindgen`: imported by `#[durable_object]` modules; nothing of it is
/// needed under dosim, where no JavaScript glue is generated.
pub mod wasm_bindgen {
    pub use crate::js_sys::JsValue;
    /// `wasm_bindgen::prelude`.
    pub mod prelude {
        pub use crate::js_sys::JsValue;
    }
}

/// `console.log`: a line in the run's trace, under the object that logged it.
#[macro_export]
macro_rules! console_log {
    ($($t:tt)*) => { $crate::dosim::console("log", &format!($($t)*)) };
}

/// `console.error`, into the trace.
#[macro_export]
macro_rules! console_error {
    ($($t:tt)*) => { $crate::dosim::console("error", &format!($($t)*)) };
}

/// `console.warn`, into the trace.
#[macro_export]
macro_rules! console_warn {
    ($($t:tt)*) => { $crate::dosim::console("warn", &format!($($t)*)) };
}

/// `console.debug`, into the trace.
#[macro_export]
macro_rules! console_debug {
    ($($t:tt)*) => { $crate::dosim::console("debug", &format!($($t)*)) };
}

/// `worker::Delay`: a timer (`setTimeout`) on the simulated clock. A timer is not
/// storage: while it runs, other events may enter the object.
pub struct Delay {
    inner: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
}

impl From<std::time::Duration> for Delay {
    fn from(d: std::time::Duration) -> Self {
        let inner: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> = match dosim::current() {
            Some(state) => Box::pin(state.sleep(d)),
            // Outside any object there is no clock to wait on: it is over at once.
            None => Box::pin(std::future::ready(())),
        };
        Delay { inner }
    }
}

impl std::future::Future for Delay {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}
