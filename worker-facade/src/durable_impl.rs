//! The Durable Object types of `worker::durable`: the `DurableObject` trait, `State`,
//! `Storage`, `Transaction`, `ListOptions`, alarm times and options, `ObjectNamespace`,
//! `ObjectId` and `Stub`, each a thin layer over dosim's own (so the gates, coalescing,
//! crashes and checkers are the runtime's). Storage methods are `async fn`s, as in
//! workers-rs: a call takes effect when its future is first polled.

use crate::dosim::{bindings, Bound, HttpRequest};
use crate::js_sys::{JsValue, Map};
use crate::{Env, Error, Request, Response, Result, SqlStorage, WebSocket};
use dosim_sim::WriteOptions;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::ops::Deref;
use std::rc::Rc;
use std::time::Duration;

/// A Durable Object class. Implement it with `impl DurableObject for X` and mark the
/// struct with `#[durable_object]`, as with workers-rs.
#[allow(async_fn_in_trait)] // as in workers-rs: objects run on one thread, nothing is Send
pub trait DurableObject: has_durable_object_attribute {
    /// The constructor, on every (re)start.
    fn new(state: State, env: Env) -> Self;

    /// An HTTP request to the object (`stub.fetch`).
    async fn fetch(&self, req: Request) -> Result<Response>;

    /// The alarm handler.
    async fn alarm(&self) -> Result<Response> {
        Err(Error::from("alarm() handler not implemented"))
    }

    /// A message on an accepted WebSocket.
    #[allow(unused_variables)]
    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        Err(Error::from("websocket_message() handler not implemented"))
    }

    /// An accepted WebSocket closed.
    #[allow(unused_variables)]
    async fn websocket_close(&self, ws: WebSocket, code: usize, reason: String, was_clean: bool) -> Result<()> {
        Err(Error::from("websocket_close() handler not implemented"))
    }

    /// An accepted WebSocket failed.
    #[allow(unused_variables)]
    async fn websocket_error(&self, ws: WebSocket, error: Error) -> Result<()> {
        Err(Error::from("websocket_error() handler not implemented"))
    }
}

/// Added by `#[durable_object]`: the trait is only for marked structs, as in workers-rs.
#[doc(hidden)]
#[allow(non_camel_case_types)]
pub trait has_durable_object_attribute {}

/// A message on a WebSocket.
#[derive(Debug)]
pub enum WebSocketIncomingMessage {
    /// Text.
    String(String),
    /// Bytes.
    Binary(Vec<u8>),
}

/// `ctx`: the object's handle on the runtime.
#[derive(Clone)]
pub struct State {
    inner: dosim_sim::State,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("id", &self.inner.id().hex()).finish()
    }
}

impl State {
    pub(crate) fn new(inner: dosim_sim::State) -> State {
        State { inner }
    }

    /// The object's id.
    pub fn id(&self) -> ObjectId<'_> {
        ObjectId { inner: self.inner.id().clone(), namespace: None }
    }

    /// Its storage.
    pub fn storage(&self) -> Storage {
        Storage { inner: self.inner.clone() }
    }

    /// Work that goes on after the handler returned.
    pub fn wait_until<F>(&self, future: F)
    where
        F: Future<Output = ()> + 'static,
    {
        self.inner.wait_until(async move {
            future.await;
            Ok(())
        })
    }

    /// Accepts a hibernatable WebSocket (the server end of a pair made in `fetch`).
    pub fn accept_web_socket(&self, ws: &WebSocket) {
        self.accept_websocket_with_tags(ws, &[]);
    }

    /// Accepts a hibernatable WebSocket with tags.
    pub fn accept_websocket_with_tags(&self, ws: &WebSocket, tags: &[&str]) {
        if let Some(inner) = ws.inner() {
            if let Err(e) = self.inner.accept_web_socket(inner, tags) {
                self.inner.log(&format!("error: accept_web_socket: {}", e.message));
            }
        }
    }

    /// The accepted WebSockets.
    pub fn get_websockets(&self) -> Vec<WebSocket> {
        self.inner.get_web_sockets(None).into_iter().map(WebSocket::server).collect()
    }

    /// The accepted WebSockets with `tag`.
    pub fn get_websockets_with_tag(&self, tag: &str) -> Vec<WebSocket> {
        self.inner.get_web_sockets(Some(tag)).into_iter().map(WebSocket::server).collect()
    }

    /// The tags of an accepted WebSocket.
    pub fn get_tags(&self, websocket: &WebSocket) -> Vec<String> {
        websocket.inner().map(|w| w.tags()).unwrap_or_default()
    }

    /// dosim's own state of the object (for what the `worker` API does not have).
    pub fn dosim(&self) -> &dosim_sim::State {
        &self.inner
    }
}

/// `ctx.storage`.
#[derive(Clone)]
pub struct Storage {
    inner: dosim_sim::State,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").finish()
    }
}

fn to_map(entries: impl IntoIterator<Item = (String, serde_json::Value)>) -> Map {
    let mut m = Map::new();
    for (k, v) in entries {
        m.set(&JsValue::from(k), &JsValue::from(v));
    }
    m
}

fn object_entries<T: Serialize>(values: &T) -> Result<Vec<(String, serde_json::Value)>> {
    match serde_json::to_value(values)? {
        serde_json::Value::Object(m) => Ok(m.into_iter().collect()),
        _ => Err(Error::from("Must pass in a struct type")),
    }
}

impl Storage {
    fn kv(&self) -> &dosim_sim::Storage {
        self.inner.storage()
    }

    /// The value of `key`, or `None`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.kv().get::<serde_json::Value>(key).await? {
            Some(v) => Ok(Some(serde_json::from_value(v)?)),
            None => Ok(None),
        }
    }

    /// The values of `keys` that exist, in a map.
    pub async fn get_multiple(&self, keys: Vec<impl Deref<Target = str>>) -> Result<Map> {
        let keys: Vec<&str> = keys.iter().map(|k| k.deref()).collect();
        let found = self.kv().get_many::<serde_json::Value>(&keys).await?;
        Ok(to_map(found))
    }

    /// Stores `value` under `key`.
    pub async fn put<T: Serialize>(&self, key: &str, value: T) -> Result<()> {
        Ok(self.kv().put(key, &value).await?)
    }

    /// Stores a raw value.
    pub async fn put_raw(&self, key: &str, value: impl Into<JsValue>) -> Result<()> {
        let v: JsValue = value.into();
        Ok(self.kv().put(key, &v.as_json().cloned().unwrap_or(serde_json::Value::Null)).await?)
    }

    /// Stores each field of `values` (a struct or map) under its name.
    pub async fn put_multiple<T: Serialize>(&self, values: T) -> Result<()> {
        let entries = object_entries(&values)?;
        let refs: Vec<(&str, &serde_json::Value)> = entries.iter().map(|(k, v)| (k.as_str(), v)).collect();
        Ok(self.kv().put_many(&refs).await?)
    }

    /// Deletes `key`: whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        Ok(self.kv().delete(key).await?)
    }

    /// Deletes `keys`: how many existed.
    pub async fn delete_multiple(&self, keys: Vec<impl Deref<Target = str>>) -> Result<usize> {
        let keys: Vec<&str> = keys.iter().map(|k| k.deref()).collect();
        Ok(self.kv().delete_many(&keys).await?)
    }

    /// Deletes everything.
    pub async fn delete_all(&self) -> Result<()> {
        Ok(self.kv().delete_all().await?)
    }

    /// Every entry, in key order.
    pub async fn list(&self) -> Result<Map> {
        self.list_with_options(ListOptions::new()).await
    }

    /// The entries `opts` selects.
    pub async fn list_with_options(&self, opts: ListOptions<'_>) -> Result<Map> {
        let found = self.kv().list_ordered::<serde_json::Value>(&opts.to_dosim()).await?;
        Ok(to_map(found))
    }

    /// The alarm's time in ms, if one is set.
    pub async fn get_alarm(&self) -> Result<Option<i64>> {
        Ok(self.kv().get_alarm().await?.map(|t| t as i64))
    }

    /// [`get_alarm`](Self::get_alarm) with options.
    pub async fn get_alarm_with_options(&self, options: GetAlarmOptions) -> Result<Option<i64>> {
        let _ = options;
        self.get_alarm().await
    }

    /// Sets the alarm (an offset from now, or a time).
    pub async fn set_alarm(&self, scheduled_time: impl Into<ScheduledTime>) -> Result<()> {
        self.set_alarm_with_options(scheduled_time, SetAlarmOptions::default()).await
    }

    /// [`set_alarm`](Self::set_alarm) with options.
    pub async fn set_alarm_with_options(
        &self,
        scheduled_time: impl Into<ScheduledTime>,
        options: SetAlarmOptions,
    ) -> Result<()> {
        let at = scheduled_time.into().at(self.inner.now().as_millis());
        let w = WriteOptions { allow_unconfirmed: options.allow_unconfirmed.unwrap_or(false), ..Default::default() };
        Ok(self.kv().set_alarm_with(at, w).await?)
    }

    /// Deletes the alarm.
    pub async fn delete_alarm(&self) -> Result<()> {
        Ok(self.kv().delete_alarm().await?)
    }

    /// [`delete_alarm`](Self::delete_alarm) with options.
    pub async fn delete_alarm_with_options(&self, options: SetAlarmOptions) -> Result<()> {
        let _ = options;
        self.delete_alarm().await
    }

    /// Runs `closure` in a transaction: committed if it returns `Ok`, rolled back if not.
    pub async fn transaction<F, Fut>(&self, closure: F) -> Result<()>
    where
        F: FnOnce(Transaction) -> Fut + 'static,
        Fut: Future<Output = Result<()>> + 'static,
    {
        let run = self.kv().transaction(move |txn| async move {
            closure(Transaction { inner: txn }).await.map_err(dosim_sim::Error::from)
        });
        Ok(run.await?)
    }

    /// The SQL API (SQLite-backed objects).
    pub fn sql(&self) -> SqlStorage {
        SqlStorage::new(self.kv().sql())
    }
}

/// A transaction's view of storage.
pub struct Transaction {
    inner: dosim_sim::Txn,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction").finish()
    }
}

impl Transaction {
    /// The value of `key` (an error if it has none).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        match self.inner.get::<serde_json::Value>(key).await? {
            Some(v) => Ok(serde_json::from_value(v)?),
            None => Err(Error::JsError("No such value in storage.".into())),
        }
    }

    /// The values of `keys` that exist.
    pub async fn get_multiple(&self, keys: Vec<impl Deref<Target = str>>) -> Result<Map> {
        let mut found = Vec::new();
        for k in &keys {
            if let Some(v) = self.inner.get::<serde_json::Value>(k).await? {
                found.push((k.deref().to_owned(), v));
            }
        }
        Ok(to_map(found))
    }

    /// Stores `value` under `key`.
    pub async fn put<T: Serialize>(&self, key: &str, value: T) -> Result<()> {
        Ok(self.inner.put(key, &value).await?)
    }

    /// Stores each field of `values`.
    pub async fn put_multiple<T: Serialize>(&self, values: T) -> Result<()> {
        for (k, v) in object_entries(&values)? {
            self.inner.put(&k, &v).await?;
        }
        Ok(())
    }

    /// Deletes `key`.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        Ok(self.inner.delete(key).await?)
    }

    /// Deletes `keys`: how many existed.
    pub async fn delete_multiple(&self, keys: Vec<impl Deref<Target = str>>) -> Result<usize> {
        let mut n = 0;
        for k in &keys {
            n += usize::from(self.inner.delete(k).await?);
        }
        Ok(n)
    }

    /// Not allowed inside a transaction (workerd's words).
    pub async fn delete_all(&self) -> Result<()> {
        Err(Error::JsError("Cannot call deleteAll() within a transaction".into()))
    }

    /// Every entry.
    pub async fn list(&self) -> Result<Map> {
        self.list_with_options(ListOptions::new()).await
    }

    /// The entries `opts` selects.
    pub async fn list_with_options(&self, opts: ListOptions<'_>) -> Result<Map> {
        let found = self.inner.list::<serde_json::Value>(&opts.to_dosim()).await?;
        let mut entries: Vec<_> = found.into_iter().collect();
        if opts.reverse == Some(true) {
            entries.reverse();
        }
        Ok(to_map(entries))
    }

    /// Rolls the transaction back.
    pub fn rollback(&self) -> Result<()> {
        Ok(self.inner.rollback()?)
    }
}

/// Options of `list_with_options`.
#[derive(Default, Serialize, Debug)]
pub struct ListOptions<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reverse: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<usize>,
}

impl<'a> ListOptions<'a> {
    /// No options.
    pub fn new() -> Self {
        Default::default()
    }

    /// First key, inclusive.
    pub fn start(mut self, val: &'a str) -> Self {
        self.start = Some(val);
        self
    }

    /// Last key, exclusive.
    pub fn end(mut self, val: &'a str) -> Self {
        self.end = Some(val);
        self
    }

    /// Only keys with this prefix.
    pub fn prefix(mut self, val: &'a str) -> Self {
        self.prefix = Some(val);
        self
    }

    /// Descending order.
    pub fn reverse(mut self, val: bool) -> Self {
        self.reverse = Some(val);
        self
    }

    /// At most this many entries.
    pub fn limit(mut self, val: usize) -> Self {
        self.limit = Some(val);
        self
    }

    fn to_dosim(&self) -> dosim_sim::ListOptions {
        dosim_sim::ListOptions {
            start: self.start.map(str::to_owned),
            end: self.end.map(str::to_owned),
            prefix: self.prefix.map(str::to_owned),
            reverse: self.reverse.unwrap_or(false),
            limit: self.limit.map(|l| l as u64),
            ..Default::default()
        }
    }
}

/// When an alarm fires: an offset from now (`i64` ms, `Duration`) or a time.
#[derive(Debug)]
pub struct ScheduledTime {
    init: Scheduled,
}

#[derive(Debug)]
enum Scheduled {
    Offset(f64),
    At(u64),
}

impl ScheduledTime {
    /// At `date`.
    pub fn new(date: crate::Date) -> Self {
        ScheduledTime { init: Scheduled::At(date.as_millis()) }
    }

    fn at(self, now_ms: u64) -> u64 {
        match self.init {
            Scheduled::At(t) => t,
            Scheduled::Offset(ms) => (now_ms as f64 + ms).max(0.0) as u64,
        }
    }
}

impl From<i64> for ScheduledTime {
    fn from(offset_ms: i64) -> Self {
        ScheduledTime { init: Scheduled::Offset(offset_ms as f64) }
    }
}

impl From<Duration> for ScheduledTime {
    fn from(offset: Duration) -> Self {
        ScheduledTime { init: Scheduled::Offset(offset.as_millis() as f64) }
    }
}

impl From<crate::Date> for ScheduledTime {
    fn from(date: crate::Date) -> Self {
        ScheduledTime::new(date)
    }
}

/// Options of `get_alarm_with_options`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GetAlarmOptions {
    /// Let other events in while the read is outstanding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_concurrency: Option<bool>,
}

/// Options of `set_alarm_with_options` / `delete_alarm_with_options`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SetAlarmOptions {
    /// Let other events in while the write is outstanding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_concurrency: Option<bool>,
    /// Do not hold replies back for this write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_unconfirmed: Option<bool>,
}

/// A binding to a Durable Object class: ids and stubs.
#[derive(Clone)]
pub struct ObjectNamespace {
    inner: Rc<dyn Bound>,
}

impl std::fmt::Debug for ObjectNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectNamespace").field("binding", &self.inner.binding()).finish()
    }
}

impl ObjectNamespace {
    pub(crate) fn lookup(world: &dosim_sim::World, binding: &str) -> Result<ObjectNamespace> {
        let found = bindings(world).namespaces.borrow().get(binding).cloned();
        found.map(|inner| ObjectNamespace { inner }).ok_or_else(|| Error::BindingError(binding.to_owned()))
    }

    /// The id named `name` (always the same for one name).
    pub fn id_from_name(&self, name: &str) -> Result<ObjectId<'_>> {
        Ok(ObjectId { inner: self.inner.id_from_name(name), namespace: Some(self) })
    }

    /// The id whose `to_string()` is `hex_id`.
    pub fn id_from_string(&self, hex_id: &str) -> Result<ObjectId<'_>> {
        Ok(ObjectId { inner: self.inner.id_from_string(hex_id)?, namespace: Some(self) })
    }

    /// A new, never used id.
    pub fn unique_id(&self) -> Result<ObjectId<'_>> {
        Ok(ObjectId { inner: self.inner.new_unique_id(), namespace: Some(self) })
    }

    /// A new id in a jurisdiction (dosim has one place: the jurisdiction is ignored).
    pub fn unique_id_with_jurisdiction(&self, jd: &str) -> Result<ObjectId<'_>> {
        let _ = jd;
        self.unique_id()
    }

    /// The stub of the object named `name`.
    pub fn get_by_name(&self, name: &str) -> Result<Stub> {
        self.id_from_name(name)?.get_stub()
    }

    /// [`get_by_name`](Self::get_by_name); the location hint is ignored.
    pub fn get_by_name_with_location_hint(&self, name: &str, location_hint: &str) -> Result<Stub> {
        let _ = location_hint;
        self.get_by_name(name)
    }
}

/// An object id.
#[derive(Debug)]
pub struct ObjectId<'a> {
    inner: dosim_sim::ObjectId,
    namespace: Option<&'a ObjectNamespace>,
}

impl ObjectId<'_> {
    /// A stub to the object.
    pub fn get_stub(&self) -> Result<Stub> {
        let ns = self.namespace.ok_or_else(|| Error::JsError("Cannot get stub from within a Durable Object".into()))?;
        Ok(Stub { ns: ns.inner.clone(), id: self.inner.clone() })
    }

    /// [`get_stub`](Self::get_stub); the location hint is ignored.
    pub fn get_stub_with_location_hint(&self, location_hint: &str) -> Result<Stub> {
        let _ = location_hint;
        self.get_stub()
    }

    /// The name it was made from, if any.
    pub fn name(&self) -> Option<String> {
        self.inner.name().map(str::to_owned)
    }
}

impl PartialEq for ObjectId<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl std::fmt::Display for ObjectId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.inner.hex())
    }
}

/// A client of one object.
pub struct Stub {
    ns: Rc<dyn Bound>,
    id: dosim_sim::ObjectId,
}

impl std::fmt::Debug for Stub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stub").field("id", &self.id.hex()).finish()
    }
}

impl Stub {
    /// Sends `req` to the object.
    pub async fn fetch_with_request(&self, req: Request) -> Result<Response> {
        let wire = req.into_wire();
        let response = self.ns.fetch(&self.id, wire).await?;
        Ok(Response::from_wire(response))
    }

    /// Sends a GET for `url` (a full URL) to the object.
    pub async fn fetch_with_str(&self, url: &str) -> Result<Response> {
        let response = self.ns.fetch(&self.id, HttpRequest::get(url)).await?;
        Ok(Response::from_wire(response))
    }
}
