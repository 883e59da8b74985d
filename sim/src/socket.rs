//! Hibernatable WebSockets (SEMANTICS.md §2.3, §7): simulated clients hold connections to
//! an object; the object accepts them with tags and per-connection attachments that live
//! in the runtime, not in the instance, so they survive hibernation. Client messages and
//! closes are events through the input gate (constructing the object if it hibernated);
//! the object's sends are held by its output gate. A crash closes every connection.

use crate::error::{Error, Result};
use crate::host::ObjectCore;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

/// What a client receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A message the object sent.
    Message(String),
    /// The connection closed (1006 when the object crashed).
    Closed {
        /// Close code.
        code: u16,
        /// Reason.
        reason: String,
    },
}

/// The client's end of one connection.
#[derive(Default)]
struct Inbox {
    queue: VecDeque<Received>,
    waker: Option<Waker>,
    closed: bool,
    /// A connection is ordered, as TCP is: what the object sends gets a number, and
    /// arrives only after everything numbered before it (each has its own latency).
    next_sent: u64,
    next_arrival: u64,
    /// Arrived out of order, waiting for earlier ones (`None`: lost in a crash).
    held: BTreeMap<u64, Option<Received>>,
}

impl Inbox {
    /// Numbers the next thing the object sends.
    fn number(&mut self) -> u64 {
        self.next_sent += 1;
        self.next_sent - 1
    }

    /// `r`, numbered `n`, reached the client: it is delivered with every later one that
    /// was only waiting for it.
    fn arrive(&mut self, n: u64, r: Option<Received>) {
        self.held.insert(n, r);
        while let Some(r) = self.held.remove(&self.next_arrival) {
            self.next_arrival += 1;
            if let Some(r) = r {
                self.push(r);
            }
        }
    }

    fn push(&mut self, r: Received) {
        if self.closed {
            return;
        }
        if matches!(r, Received::Closed { .. }) {
            self.closed = true;
        }
        self.queue.push_back(r);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// One connection as the runtime keeps it.
pub(crate) struct Socket {
    accepted: bool,
    tags: Vec<String>,
    attachment: Option<Vec<u8>>,
    inbox: Rc<RefCell<Inbox>>,
    /// The upgrade request the client opened it with, as the host language wrote it.
    request: Option<String>,
    /// When the runtime last answered this connection's auto-response request (ms).
    auto_responded_at: Option<u64>,
}

/// All connections of one object.
#[derive(Default)]
pub(crate) struct Sockets {
    next: u64,
    open: BTreeMap<u64, Socket>,
    /// `setWebSocketAutoResponse`: a request the runtime answers itself, without waking
    /// the object (kept by the runtime, like the connections).
    auto_response: Option<(String, String)>,
}

impl Sockets {
    /// Forgets every connection (end of run).
    pub(crate) fn clear(&mut self) {
        self.open.clear();
    }
}

/// Events a client sends to an object.
pub(crate) enum SocketEvent {
    Open,
    Message(String),
    Close(u16, String),
}

/// Runs the class's socket handlers as a strand (set up per class by the namespace).
pub(crate) type SocketDriver =
    Rc<dyn Fn(Rc<ObjectCore>, WebSocket, SocketEvent) -> Pin<Box<dyn Future<Output = Result<()>>>>>;

/// The object's handle on one connection (`WebSocket` in a handler).
#[derive(Clone)]
pub struct WebSocket {
    core: Weak<ObjectCore>,
    id: u64,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebSocket#{}", self.id)
    }
}

/// One-way network latency of a socket message (ms).
const LATENCY_MS: (u64, u64) = (1, 3);

impl WebSocket {
    /// The connection's number within its object.
    pub fn id(&self) -> u64 {
        self.id
    }

    fn with<R>(&self, f: impl FnOnce(&Rc<ObjectCore>, &mut Socket) -> Result<R>) -> Result<R> {
        let core = self.core.upgrade().ok_or_else(|| Error::app("WebSocket is closed"))?;
        let mut sockets = core.sockets.borrow_mut();
        let socket = sockets.open.get_mut(&self.id).ok_or_else(|| Error::app("WebSocket is closed"))?;
        f(&core, socket)
    }

    /// `ws.send(message)`: delivered once the writes made before it are durable (§2.3).
    pub fn send(&self, message: impl Into<String>) -> Result<()> {
        let message = message.into();
        let (core, inbox) = self.with(|core, s| Ok((core.clone(), s.inbox.clone())))?;
        let needed = core.output.borrow().last_written;
        let wait = core.wait_durable(core.incarnation(), needed);
        let latency = core.world.decide().between(LATENCY_MS.0, LATENCY_MS.1);
        let (world, label, id) = (core.world.clone(), core.label.clone(), self.id);
        let n = inbox.borrow_mut().number();
        crate::task::spawn(&core.world, async move {
            // A crash first: the message never leaves (the connection closes instead).
            if wait.await.is_ok() {
                world.trace(&label, format!("ws#{id} message leaves the output gate"));
                world.sleep(Duration::from_millis(latency)).await;
                inbox.borrow_mut().arrive(n, Some(Received::Message(message)));
            } else {
                inbox.borrow_mut().arrive(n, None);
            }
        });
        Ok(())
    }

    /// `ws.close(code, reason)`.
    pub fn close(&self, code: u16, reason: &str) -> Result<()> {
        let core = self.core.upgrade().ok_or_else(|| Error::app("WebSocket is closed"))?;
        let socket = core.sockets.borrow_mut().open.remove(&self.id);
        if let Some(s) = socket {
            // After the messages sent before it.
            let mut inbox = s.inbox.borrow_mut();
            let n = inbox.number();
            inbox.arrive(n, Some(Received::Closed { code, reason: reason.to_owned() }));
        }
        Ok(())
    }

    /// `ws.serializeAttachment(value)`: kept by the runtime, so it survives hibernation.
    pub fn serialize_attachment<T: Serialize>(&self, value: &T) -> Result<()> {
        let bytes = crate::storage::encode(value)?;
        self.with(|_, s| {
            s.attachment = Some(bytes);
            Ok(())
        })
    }

    /// `ws.deserializeAttachment()`.
    pub fn deserialize_attachment<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        let bytes = self.with(|_, s| Ok(s.attachment.clone()))?;
        bytes.map(|b| crate::storage::decode(&b)).transpose()
    }

    /// The tags it was accepted with.
    pub fn tags(&self) -> Vec<String> {
        self.with(|_, s| Ok(s.tags.clone())).unwrap_or_default()
    }

    /// The attachment as the runtime keeps it (bytes a host language encoded).
    pub fn attachment_bytes(&self) -> Result<Option<Vec<u8>>> {
        self.with(|_, s| Ok(s.attachment.clone()))
    }

    /// Sets (or, with `None`, removes) the attachment as raw bytes.
    pub fn set_attachment_bytes(&self, bytes: Option<Vec<u8>>) -> Result<()> {
        self.with(|_, s| {
            s.attachment = bytes;
            Ok(())
        })
    }

    /// The upgrade request the client opened the connection with, if it gave one.
    pub fn request(&self) -> Option<String> {
        self.with(|_, s| Ok(s.request.clone())).ok().flatten()
    }

    /// `ctx.getWebSocketAutoResponseTimestamp(ws)`: when the runtime last answered this
    /// connection's auto-response request (ms), if ever.
    pub fn auto_response_timestamp(&self) -> Option<u64> {
        self.with(|_, s| Ok(s.auto_responded_at)).ok().flatten()
    }
}

impl ObjectCore {
    /// `ctx.acceptWebSocket(ws, tags)`.
    pub(crate) fn accept_socket(&self, ws: &WebSocket, tags: &[&str]) -> Result<()> {
        let mut sockets = self.sockets.borrow_mut();
        let s = sockets.open.get_mut(&ws.id).ok_or_else(|| Error::app("WebSocket is closed"))?;
        s.accepted = true;
        s.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        Ok(())
    }

    /// `ctx.getWebSockets(tag)`: accepted connections (with `tag`, if given), in order.
    pub(crate) fn sockets_tagged(self: &Rc<Self>, tag: Option<&str>) -> Vec<WebSocket> {
        let sockets = self.sockets.borrow();
        sockets
            .open
            .iter()
            .filter(|(_, s)| s.accepted && tag.is_none_or(|t| s.tags.iter().any(|x| x == t)))
            .map(|(id, _)| WebSocket { core: Rc::downgrade(self), id: *id })
            .collect()
    }

    /// The open connection numbered `id`, if it is still open.
    pub(crate) fn socket(self: &Rc<Self>, id: u64) -> Option<WebSocket> {
        self.sockets.borrow().open.contains_key(&id).then(|| WebSocket { core: Rc::downgrade(self), id })
    }

    /// `ctx.setWebSocketAutoResponse(pair)` (`None` removes it).
    pub(crate) fn set_auto_response(&self, pair: Option<(String, String)>) {
        self.sockets.borrow_mut().auto_response = pair;
    }

    /// `ctx.getWebSocketAutoResponse()`.
    pub(crate) fn auto_response(&self) -> Option<(String, String)> {
        self.sockets.borrow().auto_response.clone()
    }

    /// Whether any connection is open (a hibernated object keeps them).
    pub(crate) fn has_sockets(&self) -> bool {
        !self.sockets.borrow().open.is_empty()
    }

    /// A crash closes every connection; clients see code 1006.
    pub(crate) fn close_all_sockets(&self) {
        let open = std::mem::take(&mut self.sockets.borrow_mut().open);
        for (_, s) in open {
            s.inbox.borrow_mut().push(Received::Closed { code: 1006, reason: "Durable Object reset".into() });
        }
    }
}

/// The client's end of a connection.
pub struct Connection {
    core: Rc<ObjectCore>,
    id: u64,
    inbox: Rc<RefCell<Inbox>>,
}

impl Connection {
    /// Opens a connection to the object behind `core`; the object's `connect` handler
    /// decides whether to accept it (an error refuses it).
    pub(crate) async fn open(core: Rc<ObjectCore>, request: Option<String>) -> Result<Connection> {
        let inbox = Rc::new(RefCell::new(Inbox::default()));
        let id = {
            let mut sockets = core.sockets.borrow_mut();
            sockets.next += 1;
            let id = sockets.next;
            sockets.open.insert(
                id,
                Socket {
                    accepted: false,
                    tags: Vec::new(),
                    attachment: None,
                    inbox: inbox.clone(),
                    request,
                    auto_responded_at: None,
                },
            );
            id
        };
        let conn = Connection { core, id, inbox };
        conn.deliver(SocketEvent::Open).await?;
        let accepted = conn.core.sockets.borrow().open.get(&id).is_some_and(|s| s.accepted);
        if !accepted {
            conn.core.sockets.borrow_mut().open.remove(&id);
            return Err(Error::app("the Durable Object did not accept the WebSocket"));
        }
        Ok(conn)
    }

    async fn deliver(&self, event: SocketEvent) -> Result<()> {
        let world = self.core.world.clone();
        let latency = world.decide().between(LATENCY_MS.0, LATENCY_MS.1);
        world.sleep(Duration::from_millis(latency)).await;
        let driver = self.core.socket_driver.borrow().clone().ok_or_else(|| Error::app("no socket handlers"))?;
        let ws = WebSocket { core: Rc::downgrade(&self.core), id: self.id };
        driver(self.core.clone(), ws, event).await
    }

    /// Sends a message to the object (its `web_socket_message` handler runs).
    pub async fn send(&self, message: impl Into<String>) -> Result<()> {
        if self.inbox.borrow().closed {
            return Err(Error::app("WebSocket is closed"));
        }
        let message = message.into();
        let auto = self.core.sockets.borrow().auto_response.clone();
        if let Some((_, response)) = auto.filter(|(request, _)| *request == message) {
            return self.auto_respond(response).await;
        }
        self.deliver(SocketEvent::Message(message)).await
    }

    /// The runtime answers an auto-response request itself: the object is not woken
    /// (nor constructed, if it hibernated), and the time is kept for the object to read.
    async fn auto_respond(&self, response: String) -> Result<()> {
        let world = self.core.world.clone();
        let latency = world.decide().between(LATENCY_MS.0, LATENCY_MS.1);
        world.sleep(Duration::from_millis(latency)).await;
        let now = world.now().as_millis();
        let open = match self.core.sockets.borrow_mut().open.get_mut(&self.id) {
            Some(s) => {
                s.auto_responded_at = Some(now);
                true
            }
            None => false,
        };
        if !open {
            return Err(Error::app("WebSocket is closed"));
        }
        world.trace(&self.core.label, format!("ws#{} auto-response sent by the runtime", self.id));
        let n = self.inbox.borrow_mut().number();
        world.sleep(Duration::from_millis(latency)).await;
        self.inbox.borrow_mut().arrive(n, Some(Received::Message(response)));
        Ok(())
    }

    /// Closes the connection (the object's `web_socket_close` handler runs).
    pub async fn close(&self, code: u16, reason: &str) -> Result<()> {
        self.inbox.borrow_mut().closed = true;
        let r = self.deliver(SocketEvent::Close(code, reason.to_owned())).await;
        self.core.sockets.borrow_mut().open.remove(&self.id);
        r
    }

    /// The next thing the object sent, or its close; `None` once closed and drained.
    pub async fn recv(&self) -> Option<Received> {
        let inbox = self.inbox.clone();
        poll_fn(move |cx| {
            let mut i = inbox.borrow_mut();
            match i.queue.pop_front() {
                Some(r) => Poll::Ready(Some(r)),
                None if i.closed => Poll::Ready(None),
                None => {
                    i.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Whether the connection is closed (by either end, or a crash).
    pub fn is_closed(&self) -> bool {
        self.inbox.borrow().closed
    }

    /// Everything received so far, without waiting.
    pub fn drain(&self) -> Vec<Received> {
        self.inbox.borrow_mut().queue.drain(..).collect()
    }
}
