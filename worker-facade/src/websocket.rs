//! `WebSocket` and `WebSocketPair` over dosim's hibernatable sockets. workers-rs accepts
//! a connection inside `fetch`: it makes a pair, accepts the server end and returns the
//! client end in a 101 response. Under dosim a connection opens as a `web_socket_connect`
//! event; the facade runs `fetch` with an upgrade request then, and the pair made during
//! that fetch has the connection being opened as its server end.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::RefCell;
use std::future::Future;

thread_local! {
    /// The connection a running upgrade `fetch` is opening (one run per thread).
    static OPENING: RefCell<Option<dosim_sim::WebSocket>> = const { RefCell::new(None) };
}

/// Runs `fetch` with `ws` as the connection its `WebSocketPair::new()` gets.
pub(crate) async fn upgrading<F: Future>(ws: dosim_sim::WebSocket, fetch: F) -> F::Output {
    OPENING.with(|o| *o.borrow_mut() = Some(ws));
    let out = fetch.await;
    OPENING.with(|o| *o.borrow_mut() = None);
    out
}

/// One end of a WebSocket.
#[derive(Debug, Clone)]
pub struct WebSocket {
    /// The object's end of a connection; `None` for a client end (which lives in the
    /// caller) or a pair made outside an upgrade.
    inner: Option<dosim_sim::WebSocket>,
}

impl WebSocket {
    pub(crate) fn server(ws: dosim_sim::WebSocket) -> WebSocket {
        WebSocket { inner: Some(ws) }
    }

    pub(crate) fn inner(&self) -> Option<&dosim_sim::WebSocket> {
        self.inner.as_ref()
    }

    fn open(&self) -> Result<&dosim_sim::WebSocket> {
        self.inner.as_ref().ok_or_else(|| Error::from("this WebSocket end is not connected under dosim"))
    }

    /// `accept()`: for a socket the Worker itself handles; hibernatable sockets are
    /// accepted with `state.accept_web_socket`.
    pub fn accept(&self) -> Result<()> {
        Ok(())
    }

    /// Sends `data` as JSON text.
    pub fn send<T: Serialize>(&self, data: &T) -> Result<()> {
        self.send_with_str(serde_json::to_string(data)?)
    }

    /// Sends a text message.
    pub fn send_with_str<S: AsRef<str>>(&self, data: S) -> Result<()> {
        Ok(self.open()?.send(data.as_ref())?)
    }

    /// Sends a binary message: dosim's sockets carry text, so only UTF-8 bytes can go.
    pub fn send_with_bytes<D: AsRef<[u8]>>(&self, bytes: D) -> Result<()> {
        let text = std::str::from_utf8(bytes.as_ref())?;
        self.send_with_str(text)
    }

    /// Closes the connection.
    pub fn close<S: AsRef<str>>(&self, code: Option<u16>, reason: Option<S>) -> Result<()> {
        let reason = reason.as_ref().map(|r| r.as_ref().to_owned()).unwrap_or_default();
        Ok(self.open()?.close(code.unwrap_or(1000), &reason)?)
    }

    /// Keeps `value` with the connection across hibernation.
    pub fn serialize_attachment<T: Serialize>(&self, value: T) -> Result<()> {
        Ok(self.open()?.serialize_attachment(&value)?)
    }

    /// The value kept with the connection.
    pub fn deserialize_attachment<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        Ok(self.open()?.deserialize_attachment()?)
    }
}

/// A connected pair: `client` goes back in the 101 response, `server` is accepted.
#[derive(Debug)]
pub struct WebSocketPair {
    /// The caller's end.
    pub client: WebSocket,
    /// The object's end.
    pub server: WebSocket,
}

impl WebSocketPair {
    /// A pair; inside an upgrade `fetch` its server end is the connection being opened.
    pub fn new() -> Result<Self> {
        let server = OPENING.with(|o| o.borrow_mut().take());
        Ok(WebSocketPair { client: WebSocket { inner: None }, server: WebSocket { inner: server } })
    }
}

/// The events of a WebSocket a Worker handles itself (`WebSocket::events`).
pub mod ws_events {
    use serde::de::DeserializeOwned;

    /// A message or the close.
    #[derive(Debug, Clone)]
    pub enum WebsocketEvent {
        /// A message arrived.
        Message(MessageEvent),
        /// The socket closed.
        Close(CloseEvent),
    }

    /// A message.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MessageEvent {
        pub(crate) text: Option<String>,
        pub(crate) bytes: Option<Vec<u8>>,
    }

    impl MessageEvent {
        /// The text of a text message.
        pub fn text(&self) -> Option<String> {
            self.text.clone()
        }

        /// The bytes of a binary message.
        pub fn bytes(&self) -> Option<Vec<u8>> {
            self.bytes.clone()
        }

        /// The text parsed as JSON.
        pub fn json<T: DeserializeOwned>(&self) -> crate::Result<T> {
            let text = self.text.as_deref().ok_or_else(|| crate::Error::from("data of message event is not text"))?;
            Ok(serde_json::from_str(text)?)
        }
    }

    /// A close.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CloseEvent {
        pub(crate) code: u16,
        pub(crate) reason: String,
        pub(crate) was_clean: bool,
    }

    impl CloseEvent {
        /// The reason given.
        pub fn reason(&self) -> String {
            self.reason.clone()
        }

        /// The close code.
        pub fn code(&self) -> u16 {
            self.code
        }

        /// Whether it closed cleanly.
        pub fn was_clean(&self) -> bool {
            self.was_clean
        }
    }
}

/// The stream of a Worker-handled socket's events. dosim simulates Durable Objects, not
/// the Worker in front of them, so no such socket ever has events: see
/// [`WebSocket::events`].
#[derive(Debug)]
pub struct EventStream<'ws> {
    _ws: &'ws WebSocket,
}

impl futures_core::Stream for EventStream<'_> {
    type Item = Result<ws_events::WebsocketEvent>;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(None)
    }
}

impl WebSocket {
    /// The events of a socket the Worker handles itself (not a hibernatable one). Not
    /// simulated: an error saying so, so that code relying on it fails loudly.
    pub fn events(&self) -> Result<EventStream<'_>> {
        Err(Error::from("WebSocket::events() serves sockets a Worker handles itself, which dosim does not simulate"))
    }
}
