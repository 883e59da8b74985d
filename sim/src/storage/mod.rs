//! The storage API an object sees (`state.storage()`), over two back-ends chosen per
//! namespace (SEMANTICS.md §3–4): SQLite-backed (the default; every call completes at
//! once, writes join an implicit transaction) and KV-backed (a write-back cache; cache
//! misses, `list` and counted deletes go to storage and hold the input gate). Every call
//! takes effect when made and returns a [`StorageOp`] that may be awaited or dropped.

mod alarm_api;
mod kv;
pub(crate) mod kv_ops;
pub mod sql;
mod sql_api;
pub(crate) mod sqlite;
mod txn;

use crate::config::GatePolicy;
use crate::error::{Error, Result};
use crate::host::ObjectCore;
use crate::strand::hold_owner;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

pub(crate) use kv::KvStore;
pub use sql::{Cursor, Row, SqlValue};
pub use sql_api::Sql;
use sqlite::{Range, SqliteStore};
pub use txn::Txn;

/// Which storage back-end a namespace uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// SQLite-backed (the default, and what local workerd runs).
    #[default]
    Sqlite,
    /// KV-backed ("legacy"): a write-back cache in front of remote storage.
    Kv,
}

pub(crate) enum Store {
    Sqlite(SqliteStore),
    Kv(KvStore),
}

impl Store {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Kv(_) => Backend::Kv,
        }
    }
}

/// Options of reads (`get`, `list`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Let other events in while this read is outstanding (the gate is not held).
    pub allow_concurrency: bool,
    /// Do not keep what was read in the cache (KV back-end; never changes results).
    pub no_cache: bool,
}

/// Options of writes (`put`, `delete`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Let other events in while the write is outstanding (only matters for a counted
    /// delete on the KV back-end).
    pub allow_concurrency: bool,
    /// Do not hold replies back for this write (output gate, SEMANTICS.md §2.5). A batch
    /// with any confirmed write still holds them; a failure still resets the object.
    pub allow_unconfirmed: bool,
    /// Do not keep the written value in the cache once it is flushed (KV back-end).
    pub no_cache: bool,
}

/// Options of [`Storage::list`] (SEMANTICS.md §4.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// First key included.
    pub start: Option<String>,
    /// Keys after this one (exclusive); not together with `start`.
    pub start_after: Option<String>,
    /// First key excluded.
    pub end: Option<String>,
    /// Only keys with this prefix.
    pub prefix: Option<String>,
    /// Descending order (start and end keep their meaning).
    pub reverse: bool,
    /// At most this many entries; must be positive.
    pub limit: Option<u64>,
    /// Read options.
    pub read: ReadOptions,
}

impl ListOptions {
    /// Only keys starting with `p`.
    pub fn prefix(p: impl Into<String>) -> Self {
        ListOptions { prefix: Some(p.into()), ..Default::default() }
    }

    /// Compiles to a byte range as workerd's `compileListOptions` does; `None` = empty.
    pub(crate) fn compile(&self) -> Result<Option<Range>> {
        if self.start.is_some() && self.start_after.is_some() {
            return Err(Error::usage("list() cannot be called with both start and startAfter values."));
        }
        if self.limit == Some(0) {
            return Err(Error::usage("List limit must be positive."));
        }
        let mut start = self.start.as_ref().map(|s| s.as_bytes().to_vec());
        if let Some(after) = &self.start_after {
            let mut k = after.as_bytes().to_vec();
            k.push(0);
            start = Some(k);
        }
        let mut end = self.end.as_ref().map(|s| s.as_bytes().to_vec());
        if let Some(p) = &self.prefix {
            let p = p.as_bytes().to_vec();
            if start.as_ref().is_none_or(|s| *s < p) {
                start = Some(p.clone());
            }
            if let Some(succ) = prefix_successor(&p) {
                if end.as_ref().is_none_or(|e| *e > succ) {
                    end = Some(succ);
                }
            }
        }
        if let (Some(s), Some(e)) = (&start, &end) {
            if e <= s {
                return Ok(None);
            }
        }
        Ok(Some(Range { start, end, reverse: self.reverse, limit: self.limit }))
    }
}

/// The smallest key greater than every key with prefix `p`, if any.
fn prefix_successor(p: &[u8]) -> Option<Vec<u8>> {
    let mut s = p.to_vec();
    while s.last() == Some(&0xff) {
        s.pop();
    }
    let last = s.last_mut()?;
    *last += 1;
    Some(s)
}

/// A storage call's outcome. Calls take effect when made; on the SQLite back-end the
/// outcome is already decided too, while a KV-backed read that misses the cache settles
/// after a storage round trip, holding the input gate for its strand meanwhile. Await it
/// for the value, or drop it ("put without await").
pub struct StorageOp<T> {
    state: OpState<T>,
}

enum OpState<T> {
    Ready(Option<Result<T>>),
    Waiting { wait: Pin<Box<dyn Future<Output = Result<T>>>>, _hold: Option<GateHold> },
}

/// A hold on the object's input gate for one strand, released when dropped.
pub(crate) struct GateHold {
    core: Weak<ObjectCore>,
    strand: u64,
}

impl GateHold {
    /// Holds the gate for the current strand (none outside any strand).
    pub(crate) fn take(core: &Rc<ObjectCore>) -> Option<GateHold> {
        let strand = hold_owner()?;
        core.gate.borrow_mut().hold(strand);
        Some(GateHold { core: Rc::downgrade(core), strand })
    }
}

impl Drop for GateHold {
    fn drop(&mut self) {
        if let Some(core) = self.core.upgrade() {
            core.gate.borrow_mut().release(self.strand);
        }
    }
}

impl<T: 'static> StorageOp<T> {
    /// An outcome known now. With the input gate disabled (the tester's switch) it is
    /// delivered after a 1 ms wait that lets other events in, with the hold recorded so
    /// the input-gate checker reports them.
    fn settled(core: Option<&Rc<ObjectCore>>, result: Result<T>) -> Self {
        match core.filter(|c| c.world.config().input_gate == GatePolicy::Disabled) {
            None => StorageOp { state: OpState::Ready(Some(result)) },
            Some(c) => {
                let hold = GateHold::take(c);
                let sleep = c.world.sleep(Duration::from_millis(1));
                StorageOp::waiting(
                    async move {
                        sleep.await;
                        result
                    },
                    hold,
                )
            }
        }
    }

    pub(crate) fn waiting(wait: impl Future<Output = Result<T>> + 'static, hold: Option<GateHold>) -> Self {
        StorageOp { state: OpState::Waiting { wait: Box::pin(wait), _hold: hold } }
    }

    fn failed(e: Error) -> Self {
        StorageOp { state: OpState::Ready(Some(Err(e))) }
    }

    /// The outcome, if it is already decided (no storage round trip, no held gate); the
    /// op is then spent. Hosts of other languages settle their promises from it at once.
    pub fn ready(&mut self) -> Option<Result<T>> {
        match &mut self.state {
            OpState::Ready(r) => r.take(),
            OpState::Waiting { .. } => None,
        }
    }

    /// Whether the outcome is already known to be an error (without awaiting it).
    pub fn is_err(&self) -> bool {
        matches!(self.state, OpState::Ready(Some(Err(_))))
    }
}

impl<T> Unpin for StorageOp<T> {}

impl<T> Future for StorageOp<T> {
    type Output = Result<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        match &mut self.state {
            OpState::Ready(r) => Poll::Ready(r.take().expect("dosim: StorageOp polled after completion")),
            OpState::Waiting { wait, .. } => {
                let r = std::task::ready!(wait.as_mut().poll(cx));
                // Release the gate hold now: the rest of this turn is the continuation.
                self.state = OpState::Ready(None);
                Poll::Ready(r)
            }
        }
    }
}

/// `ctx.storage` of one object instance.
#[derive(Clone)]
pub struct Storage {
    core: Weak<ObjectCore>,
    incarnation: u64,
}

pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(value)?)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::usage(format!("stored value does not have the requested type: {e}")))
}

/// Limits of the KV-backed back-end (SEMANTICS.md §4.1); the SQLite back-end only has
/// SQLite's own length limit.
pub(crate) mod limits {
    use crate::error::{Error, Result};
    pub const MAX_KEY_BYTES: usize = 2048;
    pub const MAX_VALUE_BYTES: usize = 128 * 1024;
    pub const MAX_KEYS: usize = 128;

    pub fn key(k: &str) -> Result<()> {
        if k.len() > MAX_KEY_BYTES {
            return Err(Error::usage(format!(
                "Keys cannot be larger than {MAX_KEY_BYTES} bytes. A key of size {} was provided.",
                k.len()
            )));
        }
        Ok(())
    }

    pub fn value(v: &[u8]) -> Result<()> {
        if v.len() > MAX_VALUE_BYTES {
            return Err(Error::usage(format!(
                "Values cannot be larger than {MAX_VALUE_BYTES} bytes. A value of size {} was provided.",
                v.len()
            )));
        }
        Ok(())
    }

    pub fn key_count(n: usize) -> Result<()> {
        if n > MAX_KEYS {
            return Err(Error::usage(format!(
                "Maximum number of key value pairs is {MAX_KEYS}. {n} pairs were provided."
            )));
        }
        Ok(())
    }
}

impl Storage {
    pub(crate) fn new(core: &Rc<ObjectCore>) -> Storage {
        Storage { core: Rc::downgrade(core), incarnation: core.incarnation() }
    }

    /// The incarnation this handle belongs to.
    pub(crate) fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The live core, if this instance is still the object's current one.
    pub(crate) fn core(&self) -> Result<Rc<ObjectCore>> {
        let core = self.core.upgrade().ok_or_else(Error::stale_storage)?;
        if core.incarnation() != self.incarnation {
            return Err(core.stale_error(self.incarnation));
        }
        core.world.stats().storage_ops += 1;
        Ok(core)
    }

    /// Which back-end this object uses.
    pub fn backend(&self) -> Backend {
        self.core.upgrade().map_or(Backend::Sqlite, |c| c.store.borrow().backend())
    }

    fn with<T: 'static>(&self, f: impl FnOnce(&Rc<ObjectCore>) -> StorageOp<T>) -> StorageOp<T> {
        match self.core() {
            Ok(core) => f(&core),
            Err(e) => StorageOp::failed(e),
        }
    }

    /// `get(key)`: the value, or `None`.
    pub fn get<T: DeserializeOwned + 'static>(&self, key: &str) -> StorageOp<Option<T>> {
        self.get_with(key, ReadOptions::default())
    }

    /// `get(key, options)`.
    pub fn get_with<T: DeserializeOwned + 'static>(&self, key: &str, options: ReadOptions) -> StorageOp<Option<T>> {
        self.with(|c| {
            let raw = self.get_raw(c, &[key], options);
            map_op(raw, |mut m| m.pop_first().map(|(_, v)| decode(&v)).transpose())
        })
    }

    /// `get([keys])`: the keys that exist, in key order.
    pub fn get_many<T: DeserializeOwned + 'static>(&self, keys: &[&str]) -> StorageOp<BTreeMap<String, T>> {
        self.get_many_with(keys, ReadOptions::default())
    }

    /// `get([keys], options)`.
    pub fn get_many_with<T: DeserializeOwned + 'static>(
        &self,
        keys: &[&str],
        options: ReadOptions,
    ) -> StorageOp<BTreeMap<String, T>> {
        self.with(|c| {
            let raw = self.get_raw(c, keys, options);
            map_op(raw, |m| m.into_iter().map(|(k, v)| Ok((k, decode(&v)?))).collect())
        })
    }

    fn get_raw(&self, c: &Rc<ObjectCore>, keys: &[&str], options: ReadOptions) -> StorageOp<BTreeMap<String, Vec<u8>>> {
        let backend = c.store.borrow().backend();
        match backend {
            Backend::Sqlite => {
                let r = (|| {
                    let store = c.store.borrow();
                    let Store::Sqlite(s) = &*store else { unreachable!() };
                    let mut out = BTreeMap::new();
                    for k in keys {
                        if let Some(v) = s.get(k.as_bytes())? {
                            out.insert((*k).to_owned(), v);
                        }
                    }
                    Ok(out)
                })();
                StorageOp::settled(Some(c), r)
            }
            Backend::Kv => {
                if let Err(e) = keys.iter().try_for_each(|k| limits::key(k)).and_then(|_| limits::key_count(keys.len()))
                {
                    return StorageOp::failed(e);
                }
                kv_ops::get(c, keys, options)
            }
        }
    }

    /// `list(options)`: entries in key order (or reverse, see `list_ordered`).
    pub fn list<T: DeserializeOwned + 'static>(&self, options: &ListOptions) -> StorageOp<BTreeMap<String, T>> {
        map_op(self.list_ordered(options), |v| Ok(v.into_iter().collect()))
    }

    /// `list(options)` keeping the order of the result (for `reverse`).
    pub fn list_ordered<T: DeserializeOwned + 'static>(&self, options: &ListOptions) -> StorageOp<Vec<(String, T)>> {
        self.with(|c| {
            let range = match options.compile() {
                Ok(Some(r)) => r,
                Ok(None) => return StorageOp::settled(Some(c), Ok(Vec::new())),
                Err(e) => return StorageOp::failed(e),
            };
            let backend = c.store.borrow().backend();
            let raw = match backend {
                Backend::Sqlite => {
                    let r = match &*c.store.borrow() {
                        Store::Sqlite(s) => s.list(&range),
                        Store::Kv(_) => unreachable!(),
                    };
                    StorageOp::settled(Some(c), r)
                }
                Backend::Kv => kv_ops::list(c, range, options.read),
            };
            map_op(raw, |rows| rows.into_iter().map(|(k, v)| Ok((sqlite::key_text(&k), decode(&v)?))).collect())
        })
    }

    /// `put(key, value)`: written now, durable at the next commit.
    pub fn put<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> StorageOp<()> {
        self.put_with(key, value, WriteOptions::default())
    }

    /// `put(key, value, options)`.
    pub fn put_with<T: Serialize + ?Sized>(&self, key: &str, value: &T, options: WriteOptions) -> StorageOp<()> {
        match encode(value) {
            Ok(v) => self.write_entries(vec![(key.to_owned(), Some(v))], options),
            Err(e) => StorageOp::failed(e),
        }
    }

    /// `put(entries)`: all or none.
    pub fn put_many<T: Serialize>(&self, entries: &[(&str, T)]) -> StorageOp<()> {
        self.put_many_with(entries, WriteOptions::default())
    }

    /// `put(entries, options)`.
    pub fn put_many_with<T: Serialize>(&self, entries: &[(&str, T)], options: WriteOptions) -> StorageOp<()> {
        let rows: Result<Vec<_>> = entries.iter().map(|(k, v)| Ok(((*k).to_owned(), Some(encode(v)?)))).collect();
        match rows {
            Ok(rows) => self.write_entries(rows, options),
            Err(e) => StorageOp::failed(e),
        }
    }

    fn write_entries(&self, rows: Vec<(String, Option<Vec<u8>>)>, options: WriteOptions) -> StorageOp<()> {
        self.with(|c| {
            let backend = c.store.borrow().backend();
            match backend {
                Backend::Sqlite => {
                    let entries: Vec<(Vec<u8>, Vec<u8>)> =
                        rows.into_iter().map(|(k, v)| (k.into_bytes(), v.unwrap_or_default())).collect();
                    let r = c.sqlite_write(!options.allow_unconfirmed, |s| s.put_all(&entries)).map(drop);
                    StorageOp::settled(Some(c), r)
                }
                Backend::Kv => {
                    let checked = rows.iter().try_for_each(|(k, v)| {
                        limits::key(k)?;
                        v.as_deref().map_or(Ok(()), limits::value)
                    });
                    if let Err(e) = checked {
                        return StorageOp::failed(e);
                    }
                    kv_ops::write(c, rows, options);
                    StorageOp::settled(Some(c), Ok(()))
                }
            }
        })
    }

    /// `delete(key)`: whether the key existed.
    pub fn delete(&self, key: &str) -> StorageOp<bool> {
        map_op(self.delete_many_with(&[key], WriteOptions::default()), |n| Ok(n > 0))
    }

    /// `delete(key, options)`.
    pub fn delete_with(&self, key: &str, options: WriteOptions) -> StorageOp<bool> {
        map_op(self.delete_many_with(&[key], options), |n| Ok(n > 0))
    }

    /// `delete([keys])`: how many of the keys existed.
    pub fn delete_many(&self, keys: &[&str]) -> StorageOp<usize> {
        self.delete_many_with(keys, WriteOptions::default())
    }

    /// `delete([keys], options)`.
    pub fn delete_many_with(&self, keys: &[&str], options: WriteOptions) -> StorageOp<usize> {
        self.with(|c| {
            let backend = c.store.borrow().backend();
            match backend {
                Backend::Sqlite => {
                    let keys: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
                    let r = c.sqlite_write(!options.allow_unconfirmed, |s| s.delete_all_of(&keys)).map(|(n, _)| n);
                    StorageOp::settled(Some(c), r)
                }
                Backend::Kv => {
                    if let Err(e) = keys.iter().try_for_each(|k| limits::key(k)) {
                        return StorageOp::failed(e);
                    }
                    kv_ops::delete(c, keys, options)
                }
            }
        })
    }

    /// `deleteAll()`: on SQLite the whole database (every table too) is emptied at once.
    /// Not allowed inside a transaction.
    pub fn delete_all(&self) -> StorageOp<()> {
        self.with(|c| {
            if c.in_transaction() {
                // Inside transactionSync() alone, workerd goes ahead: everything is wiped
                // and committed, and the transactionSync() then fails (txn-sync-delete-all).
                let lost = match &mut *c.store.borrow_mut() {
                    Store::Sqlite(s) if s.only_sync_savepoints() => Some(s.lose_sync_savepoints()),
                    _ => None,
                };
                match lost {
                    Some(Ok(())) => {}
                    Some(Err(e)) => return StorageOp::failed(e),
                    None => return StorageOp::failed(Error::app("Cannot call deleteAll() within a transaction")),
                }
            }
            let backend = c.store.borrow().backend();
            let r = match backend {
                // Always a confirmed write, whatever the options (SEMANTICS.md §4.6).
                Backend::Sqlite => {
                    let delete_alarm = c.world.config().compatibility.delete_all_deletes_alarm();
                    let r = c.sqlite_write(true, |s| s.reset_database(delete_alarm)).map(drop);
                    // workerd resets the database itself, outside the implicit transaction:
                    // the deletion is durable at once, and a reset right after it cannot
                    // undo it (differential program `abort-delete-all-lost`).
                    if r.is_ok() {
                        c.commit_open();
                    }
                    r
                }
                Backend::Kv => {
                    kv_ops::delete_everything(c);
                    if c.world.config().compatibility.delete_all_deletes_alarm() {
                        c.write_alarm(None, true)
                    } else {
                        Ok(())
                    }
                }
            };
            c.world.trace(&c.label, "delete_all");
            StorageOp::settled(Some(c), r)
        })
    }

    /// `sync()`: resolves when every write made before the call is durable. It is not a
    /// storage wait: other events may run meanwhile, even when nothing is pending
    /// (observed on workerd, SEMANTICS.md §1).
    pub fn sync(&self) -> impl Future<Output = Result<()>> + 'static {
        // What to wait for is decided now, at the call: later writes are not waited for.
        let target = self.core().map(|core| {
            let needed = core.output.borrow().last_any;
            let inc = core.incarnation();
            (core, needed, inc)
        });
        async move {
            let (core, needed, inc) = target?;
            crate::time::yield_now().await;
            core.wait_durable(inc, needed).await
        }
    }
}

/// Maps a storage outcome, keeping its timing and gate hold.
fn map_op<A: 'static, B: 'static>(op: StorageOp<A>, f: impl FnOnce(A) -> Result<B> + 'static) -> StorageOp<B> {
    match op.state {
        OpState::Ready(r) => StorageOp { state: OpState::Ready(r.map(|r| r.and_then(f))) },
        OpState::Waiting { wait, _hold } => {
            StorageOp { state: OpState::Waiting { wait: Box::pin(async move { wait.await.and_then(f) }), _hold } }
        }
    }
}

/// A write's result carries the batch it opened, if any.
pub(crate) trait Opened {
    fn opened(&self) -> Option<u64>;
}

impl Opened for Option<u64> {
    fn opened(&self) -> Option<u64> {
        *self
    }
}

impl Opened for (usize, Option<u64>) {
    fn opened(&self) -> Option<u64> {
        self.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(o: ListOptions) -> Option<(Option<String>, Option<String>)> {
        o.compile().unwrap().map(|r| {
            let t = |b: Option<Vec<u8>>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
            (t(r.start), t(r.end))
        })
    }

    #[test]
    fn list_options_compile_like_workerd() {
        let both = ListOptions { start: Some("a".into()), start_after: Some("b".into()), ..Default::default() };
        assert_eq!(
            both.compile().unwrap_err().message,
            "list() cannot be called with both start and startAfter values."
        );
        let zero = ListOptions { limit: Some(0), ..Default::default() };
        assert_eq!(zero.compile().unwrap_err().message, "List limit must be positive.");
        assert_eq!(compile(ListOptions::prefix("ab")), Some((Some("ab".into()), Some("ac".into()))));
        let after = ListOptions { start_after: Some("k".into()), ..Default::default() };
        assert_eq!(compile(after), Some((Some("k\0".into()), None)));
        let empty = ListOptions { start: Some("z".into()), end: Some("a".into()), ..Default::default() };
        assert_eq!(compile(empty), None);
        let past = ListOptions { start: Some("b".into()), prefix: Some("a".into()), ..Default::default() };
        assert_eq!(compile(past), None);
    }

    #[test]
    fn prefix_successor_strips_ff() {
        assert_eq!(prefix_successor(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
    }

    #[test]
    fn kv_limits_use_workerds_words() {
        assert_eq!(
            limits::key(&"k".repeat(2049)).unwrap_err().message,
            "Keys cannot be larger than 2048 bytes. A key of size 2049 was provided."
        );
        assert!(limits::key(&"k".repeat(2048)).is_ok());
        assert_eq!(
            limits::key_count(129).unwrap_err().message,
            "Maximum number of key value pairs is 128. 129 pairs were provided."
        );
        assert!(limits::value(&vec![0; 131_073]).is_err());
    }
}
